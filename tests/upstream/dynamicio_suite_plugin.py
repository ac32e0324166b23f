"""pytest plugin of the dynamicio suite runner: writes each test's outcome to a JSON file.

Loaded with ``-p dynamicio_suite_plugin`` by ``run_dynamicio_suite.py``; the file named by
``DYNIO_SUITE_REPORT`` gets ``{"tests": {test id: passed|failed|skipped}, "collect_errors":
[file, ...]}``. A test whose setup, call or teardown failed counts as failed.
"""

from __future__ import annotations

import json
import os
from typing import Any

_TESTS: dict[str, str] = {}
_COLLECT_ERRORS: list[str] = []


def pytest_runtest_logreport(report: Any) -> None:
    """Record the worst outcome of a test's phases."""
    if report.failed:
        _TESTS[report.nodeid] = "failed"
    elif report.skipped and _TESTS.get(report.nodeid) != "failed":
        _TESTS[report.nodeid] = "skipped"
    elif report.when == "call" and report.passed and report.nodeid not in _TESTS:
        _TESTS[report.nodeid] = "passed"


def pytest_collectreport(report: Any) -> None:
    """Record the files that cannot be collected."""
    if report.failed:
        _COLLECT_ERRORS.append(report.nodeid.split("::")[0])


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    """Write the report."""
    path = os.environ["DYNIO_SUITE_REPORT"]
    with open(path, "w", encoding="utf-8") as out:
        json.dump({"tests": _TESTS, "collect_errors": sorted(set(_COLLECT_ERRORS))}, out)
