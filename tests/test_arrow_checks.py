"""A checked read into pandas that takes the arrow path gives what the polars path gives.

:mod:`dynio.engine.arrow_checks`: low-cardinality text is read as dictionaries and checked on
its codes, the rest of the checked columns are handed to Polars without copies, one chunk per
row group. Files written by pyarrow, Polars and DuckDB (dictionary-encoded text, and text too
varied for a small dictionary) are read by both paths: the same report (failures, counts,
samples, details), the same metric values to the bit, and the same pandas frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import dynio
from dynio.engine import arrow_checks
from dynio.engine.errors import ValidationError
from dynio.engine.spec import SchemaSpec

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


def _write(writer: str, path: Path) -> None:
    df = _orders()
    if writer == "pyarrow":  # several row groups: the float sums add chunk by chunk
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=2500)
    elif writer == "plain":  # no dictionaries at all
        table = pa.Table.from_pandas(df, preserve_index=False)
        pq.write_table(table, path, row_group_size=2000, use_dictionary=False)
    elif writer == "polars":
        pl.from_pandas(df).write_parquet(path, row_group_size=1000)
    else:
        con = duckdb.connect()
        con.register("orders", pa.Table.from_pandas(df, preserve_index=False))
        con.execute(f"COPY orders TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 2048)")
        con.close()


def _catalog(catalog_from: CatalogFrom, path: Path, severity: str = "") -> dynio.Catalog:
    schema = _SCHEMA if not severity else _SCHEMA.replace("{apply: true,", severity)
    return catalog_from(
        "".join(
            f"""{name}:
  local:
    type: local
    local: {{file_path: "{path}", file_type: parquet}}
    options: {{read_path: {name}}}
{schema}"""
            for name in ("polars", "arrow")
        )
    )


@pytest.fixture(params=["pyarrow", "plain", "polars", "duckdb"])
def written(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    path = tmp_path / f"{request.param}.parquet"
    _write(str(request.param), path)
    return path


def _named(result: Any) -> tuple[Any, list[Any]]:
    """The report and metrics with the resource's name (the path's) taken out."""
    report = replace(result.report, resource=None)
    return report, [replace(m, dataset=None) for m in result.metrics]


def _both(cat: dynio.Catalog, backend: Any) -> tuple[Any, Any]:
    by_arrow = cat.resource("arrow")._read_result(dtype_backend=backend, raise_on_error=False)
    by_polars = cat.resource("polars")._read_result(dtype_backend=backend, raise_on_error=False)
    assert (by_arrow.info.read_path, by_polars.info.read_path) == ("arrow", "polars")
    return by_arrow, by_polars


@pytest.mark.parametrize("backend", ["numpy", "numpy_nullable", "pyarrow"])
def test_both_paths_give_the_same_report_metrics_and_frame(
    catalog_from: CatalogFrom, written: Path, backend: Any
) -> None:
    by_arrow, by_polars = _both(_catalog(catalog_from, written), backend)
    assert _named(by_arrow) == _named(by_polars)  # metric floats to the bit
    failed = {(f.rule, f.column) for f in by_arrow.report.failures}
    assert failed == {
        ("is_greater_than_or_equal", "amount"),
        ("is_in", "status"),
        ("has_unique_values", "email"),  # a few repeated addresses: samples compared too
    }
    pd.testing.assert_frame_equal(by_arrow.converted, by_polars.converted, check_exact=True)
    # the engine's frame (made from the table on demand) is the polars path's, text as text
    assert by_arrow.frame.equals(by_polars.frame)
    if backend == "numpy":
        pd.testing.assert_frame_equal(by_arrow.converted, pd.read_parquet(written))


def test_a_failed_rule_raises_the_same_error_on_both_paths(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    path = tmp_path / "o.parquet"
    _write("pyarrow", path)
    cat = _catalog(catalog_from, path)
    messages = []
    for name in ("arrow", "polars"):
        with pytest.raises(ValidationError) as info:
            cat.read(name)
        messages.append(str(info.value).replace(f"'{name}'", "R"))
    assert messages[0] == messages[1]


def test_low_cardinality_text_is_read_as_dictionaries_and_checked_on_codes(
    catalog_from: CatalogFrom, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "o.parquet"
    _write("pyarrow", path)
    cat = _catalog(catalog_from, path)
    seen: list[arrow_checks.CheckedTable] = []
    read_checked = arrow_checks.read_checked

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(read_checked(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(arrow_checks, "read_checked", spy)
    res = cat.resource("arrow")._read_result(dtype_backend="numpy", raise_on_error=False)
    (read,) = seen
    # grade has Min/Max (decided by text order, not codes); note has no checks
    assert read.checked == ("order_id", "amount", "country", "status", "grade", "email")
    assert set(read.coded) <= {"country", "status", "email"}
    assert {"country", "status"} <= set(read.coded)
    for name in read.coded:
        assert pa.types.is_dictionary(read.table.schema.field(name).type)
    # the hand-off was given text, as the plain read gives it
    assert res.table.schema.field("country").type == pa.large_string()
    assert res.converted["country"].dtype == pd.read_parquet(path)["country"].dtype
    meta = pq.read_metadata(path)
    assert arrow_checks._small_dictionaries(meta, "country")
    assert arrow_checks._small_dictionaries(meta, "note")  # 2,500 short notes: 64 KiB hold them
    monkeypatch.setattr(arrow_checks, "SMALL_DICTIONARY_BYTES", 1024)
    assert arrow_checks._small_dictionaries(meta, "country")
    assert not arrow_checks._small_dictionaries(meta, "note")  # too varied for 1 KiB
    plain = tmp_path / "plain.parquet"
    pq.write_table(pq.read_table(path), plain, use_dictionary=False)
    assert not arrow_checks._small_dictionaries(pq.read_metadata(plain), "country")
    schema = cat.resource("arrow").spec.schema
    assert isinstance(schema, SchemaSpec)
    # without rules, only the metrics' columns are checked
    checked, coded = arrow_checks.coded_candidates(
        schema, res.info.source_schema, validate=False, metrics=True
    )
    assert (checked, coded) == (
        ["order_id", "amount", "country", "status", "grade"],
        [
            "country",
            "status",
        ],
    )


def test_rules_only_or_metrics_only_agree_too(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    path = tmp_path / "o.parquet"
    _write("duckdb", path)
    cat = _catalog(catalog_from, path)
    for kwargs in ({"validate": False}, {"metrics": False}):
        results = [
            cat.resource(n)._read_result(dtype_backend="numpy", raise_on_error=False, **kwargs)
            for n in ("arrow", "polars")
        ]
        assert results[0].info.read_path == "arrow"
        assert _named(results[0]) == _named(results[1])


def test_without_text_to_hand_over_the_checked_read_stays_on_polars(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    # numbers and text checked on its codes: Polars' read and checks are the cheaper
    path = tmp_path / "o.parquet"
    _write("pyarrow", path)
    cat = catalog_from(
        f"""narrow:
  local:
    type: local
    local: {{file_path: "{path}", file_type: parquet}}
    options: {{read_path: arrow}}
  schema:
    columns:
      order_id: {{type: int64, validations: {{has_unique_values: {{apply: true, options: {{}}}}}}}}
      country:
        type: object
        validations:
          is_in: {{apply: true, options: {{categorical_values: [GB, FR, DE, ünï]}}}}
        metrics: [CountsPerLabel]
      note: {{type: object}}
"""
    )
    res = cat.resource("narrow")._read_result(
        dtype_backend="numpy", columns=["order_id", "country"]
    )
    assert res.info.read_path == "polars"
    res = cat.resource("narrow")._read_result(dtype_backend="numpy")
    assert res.info.read_path == "arrow"  # note is handed over as text
    assert res.report.checked == 2


def test_frame_rules_agree_and_read_their_columns(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    path = tmp_path / "o.parquet"
    _write("pyarrow", path)
    entries = "".join(
        f"""{name}:
  local:
    type: local
    local: {{file_path: "{path}", file_type: parquet}}
    options: {{read_path: {name}}}
  schema:
    columns:
      country: {{type: object}}
      grade: {{type: object}}
      note: {{type: object}}
    validations:
      unique_together: {{apply: true, options: {{columns: [country, grade]}}}}
      row_count_between: {{apply: true, options: {{min: 1, max: 10}}}}
"""
        for name in ("polars", "arrow")
    )
    by_arrow, by_polars = _both(catalog_from(entries), "numpy")
    assert _named(by_arrow) == _named(by_polars)
    assert {f.rule for f in by_arrow.report.failures} == {"unique_together", "row_count_between"}
    assert by_arrow.report.rows == ROWS
    pd.testing.assert_frame_equal(by_arrow.converted, by_polars.converted, check_exact=True)


def test_a_row_count_alone_is_checked_on_the_rows_read(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    path = tmp_path / "o.parquet"
    _write("pyarrow", path)
    cat = catalog_from(
        f"""o:
  local:
    type: local
    local: {{file_path: "{path}", file_type: parquet}}
    options: {{read_path: arrow}}
  schema:
    columns: {{note: {{type: object}}, grade: {{type: object}}}}
    validations:
      row_count_between: {{apply: true, options: {{min: {ROWS}, max: {ROWS}}}}}
"""
    )
    res = cat.resource("o")._read_result(dtype_backend="numpy")
    assert res.info.read_path == "arrow"
    assert (res.report.rows, res.report.checked, res.report.failures) == (ROWS, 1, ())
