"""A read with rules or metrics reads through Polars, whatever ``read_path`` says.

Checking pyarrow's table (low-cardinality text read as dictionaries and checked on its codes)
cost more than Polars' read and checks on every file measured (issue 18, round four), so the
arrow path is for plain reads only (:mod:`dynio.engine.read_path`). Files written by pyarrow,
Polars and DuckDB (dictionary-encoded text, and text too varied for a small dictionary), tiny
enough that a plain read takes the arrow path: a checked read under ``auto`` and under
``read_path: arrow`` takes the polars path and gives the very report, metric values and pandas
frame ``read_path: polars`` gives, and pandas' own reader's frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fixtures.writers import read_path_yaml, write_parquet

import dynio
from dynio.engine.errors import ValidationError

CatalogFrom = Callable[..., dynio.Catalog]
ROWS = 6_000

_SCHEMA = """    schema:
      columns:
        order_id:
          type: int64
          validations:
            has_unique_values: {apply: true, options: {}}
            has_no_null_values: {apply: true, options: {}}
          metrics: [Counts, UniqueCounts]
        amount:
          type: float64
          validations:
            has_acceptable_percentage_of_nulls: {apply: true, options: {threshold: 0.2}}
            is_greater_than_or_equal: {apply: true, options: {threshold: 0}}
          metrics: [Min, Max, Mean, Std, Variance]
        country:
          type: object
          validations:
            is_in: {apply: true, options: {categorical_values: [GB, FR, DE, ünï]}}
          metrics: [CountsPerLabel, UniqueCounts]
        status:
          type: object
          validations:
            is_in: {apply: true, options: {categorical_values: [new, paid], match_all: true}}
          metrics: [CountsPerLabel, NullCount]
        grade:
          type: object
          metrics: [CountsPerLabel, Min, Max]
        email:
          type: object
          validations:
            has_unique_values: {apply: true, options: {}}
        note: {type: object}
        is_priority: {type: bool}
"""


def _orders(rows: int = ROWS) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    amount = rng.normal(100, 60, rows)  # some negative: is_greater_than_or_equal fails
    amount[rng.random(rows) < 0.05] = np.nan
    status = rng.choice(["new", "paid", "shipped", None], rows)  # shipped is not allowed
    return pd.DataFrame(
        {
            "order_id": np.arange(rows, dtype="int64"),
            "amount": amount,
            "country": rng.choice(["GB", "FR", "DE", "ünï"], rows),
            "status": pd.array(status, dtype="str"),
            "grade": rng.choice(["a", "b", "c"], rows),
            "email": [f"user{i}@example.com" for i in rng.integers(0, 10**6, rows)],
            "note": [f"note {i}" for i in range(rows)],
            "is_priority": rng.random(rows) < 0.3,
        }
    )


# several row groups each (the float sums add chunk by chunk); "plain": no dictionaries at all
_GROUP_ROWS = {"pyarrow": 2500, "plain": 2000, "polars": 1000, "duckdb": 2048}


def _write(writer: str, path: Path) -> None:
    write_parquet(_orders(), writer, path, _GROUP_ROWS[writer])


PATHS = ("auto", "arrow", "polars")


def _catalog(catalog_from: CatalogFrom, path: Path, schema: str = _SCHEMA) -> dynio.Catalog:
    return catalog_from(read_path_yaml(path, PATHS, schema))


@pytest.fixture(params=["pyarrow", "plain", "polars", "duckdb"])
def written(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    path = tmp_path / f"{request.param}.parquet"
    _write(str(request.param), path)
    return path


def _named(result: Any) -> tuple[Any, list[Any]]:
    """The report and metrics with the resource's name (the path's) taken out."""
    report = replace(result.report, resource=None)
    return report, [replace(m, dataset=None) for m in result.metrics]


@pytest.mark.parametrize("backend", ["numpy", "numpy_nullable", "pyarrow"])
def test_checked_reads_take_the_polars_path_whatever_read_path_says(
    catalog_from: CatalogFrom, written: Path, backend: Any
) -> None:
    cat = _catalog(catalog_from, written)
    results = [
        cat.resource(n)._read_result(dtype_backend=backend, raise_on_error=False) for n in PATHS
    ]
    assert [r.info.read_path for r in results] == ["polars"] * 3
    failed = {(f.rule, f.column) for f in results[0].report.failures}
    assert failed == {
        ("is_greater_than_or_equal", "amount"),
        ("is_in", "status"),
        ("has_unique_values", "email"),  # a few repeated addresses: samples compared too
    }
    for other in results[1:]:
        assert _named(other) == _named(results[0])  # metric floats to the bit
        pd.testing.assert_frame_equal(other.converted, results[0].converted, check_exact=True)
    if backend == "numpy":
        pd.testing.assert_frame_equal(results[0].converted, pd.read_parquet(written))
    # the same file read with no checks takes the arrow path where it may, with the same frame
    plain = cat.resource("auto")._read_result(dtype_backend=backend, validate=False, metrics=False)
    assert plain.info.read_path == "arrow"
    pd.testing.assert_frame_equal(plain.converted, results[0].converted, check_exact=True)


def test_rules_only_or_metrics_only_take_the_polars_path_too(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    path = tmp_path / "o.parquet"
    _write("duckdb", path)
    cat = _catalog(catalog_from, path)
    for kwargs in ({"validate": False}, {"metrics": False}):
        results = [
            cat.resource(n)._read_result(dtype_backend="numpy", raise_on_error=False, **kwargs)
            for n in PATHS
        ]
        assert [r.info.read_path for r in results] == ["polars"] * 3
        assert _named(results[0]) == _named(results[2])


def test_a_failed_rule_raises_the_same_error_whatever_read_path_says(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    path = tmp_path / "o.parquet"
    _write("pyarrow", path)
    cat = _catalog(catalog_from, path)
    messages = []
    for name in PATHS:
        with pytest.raises(ValidationError) as info:
            cat.read(name)
        messages.append(str(info.value).replace(f"'{name}'", "R"))
    assert messages[0] == messages[1] == messages[2]
