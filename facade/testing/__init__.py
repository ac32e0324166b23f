"""Helpers for testing pipelines built on dynio, and its pytest plugin.

- :func:`local_catalog` / :func:`redirect_to_files`: the pipeline's own catalog with resources
  moved to temporary parquet files (and frames written there first).
- :func:`sample_frame` / :func:`sample_polars`: rows made from a schema, typed and passing its
  rules, so a pipeline runs in a unit test with no production data.
- :func:`assert_valid`, :func:`assert_frame_matches_schema`: assertions on a step's output.

:mod:`dynio.testing.contract` holds the tests every source kind passes (``SourceContract``),
for a new kind's test module to subclass; it is imported only by such a module.

The pytest plugin (registered under the ``pytest11`` entry point, so it is active wherever dynio
is installed) adds the fixtures ``dynio_catalog`` and ``dynio_sample``; see
:mod:`dynio.testing.plugin`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "SampleError",
    "assert_frame_matches_schema",
    "assert_valid",
    "local_catalog",
    "redirect_to_files",
    "sample_frame",
    "sample_polars",
]

# imported on first use: the pytest plugin imports this package in every test session
_LAZY = {
    "SampleError": "dynio.testing.samples",
    "sample_frame": "dynio.testing.samples",
    "sample_polars": "dynio.testing.samples",
    "assert_valid": "dynio.testing.asserts",
    "assert_frame_matches_schema": "dynio.testing.asserts",
    "local_catalog": "dynio.testing.catalogs",
    "redirect_to_files": "dynio.testing.catalogs",
}

if TYPE_CHECKING:
    from dynio.testing.asserts import assert_frame_matches_schema, assert_valid
    from dynio.testing.catalogs import local_catalog, redirect_to_files
    from dynio.testing.samples import SampleError, sample_frame, sample_polars


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dynio.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
