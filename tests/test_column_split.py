"""The ``polars-split`` read: a large parquet read with no filter, its columns in groups at once.

The split read must give exactly what one Polars read gives (``options.read_path: polars``
forces that), whoever wrote the file, with casts, projections, hive datasets and checks, and
fail as it fails. The size thresholds are lowered here so small files split.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fixtures.otel import OtelCapture
from fixtures.writers import orders, read_path_yaml, split_small_files, write_parquet

import dynio
from dynio.engine import column_split, footers
from dynio.engine.errors import CastError, ValidationError

CatalogFrom = Callable[..., dynio.Catalog]
ROWS = 4_000


@pytest.fixture(autouse=True)
def _small_files_split(monkeypatch: pytest.MonkeyPatch) -> None:
    split_small_files(monkeypatch, 3)


def _orders() -> pd.DataFrame:
    return orders(ROWS, seed=11)


_GROUP_ROWS = {"polars": 700, "duckdb": 1000}


def _write(writer: str, path: Path) -> None:
    write_parquet(_orders(), writer, path, _GROUP_ROWS.get(writer, ROWS))


def _catalog(catalog_from: CatalogFrom, location: str, schema: str = "") -> dynio.Catalog:
    return catalog_from(read_path_yaml(None, ("auto", "polars"), schema, location))


_FILE = 'type: local\n    local: {{file_path: "{path}", file_type: parquet}}'
_SCHEMA = """  schema:
    columns:
      order_id: {type: int64}
      qty: {type: int64}
      ts: {type: "datetime64[ns]"}
      amount: {type: float64}
      email: {type: object}
      country: {type: category}
"""


@pytest.mark.parametrize("writer", ["pandas", "polars", "duckdb"])
@pytest.mark.parametrize("schema", ["", _SCHEMA], ids=["no schema", "casts"])
def test_the_split_read_equals_one_read(
    catalog_from: CatalogFrom, tmp_path: Path, writer: str, schema: str
) -> None:
    path = tmp_path / f"{writer}.parquet"
    _write(writer, path)
    cat = _catalog(catalog_from, _FILE.format(path=path), schema)
    split = cat.read("auto")
    assert cat.last_info is not None
    # a plain read into pandas reads its text by pyarrow (the mixed path, tests/test_mixed_read)
    assert cat.last_info.read_path == ("polars-split" if schema else "mixed")
    whole = cat.read("polars")
    assert cat.last_info is not None
    assert cat.last_info.read_path == "polars"
    pd.testing.assert_frame_equal(split, whole, check_exact=True)
    assert cat.scan("auto").collect().equals(cat.read_polars("polars"))
    polars_split = cat.read_polars("auto")
    assert cat.last_info is not None
    assert cat.last_info.read_path == "polars-split"
    assert polars_split.equals(cat.read_polars("polars"))
    cols = ["email", "order_id", "ts"]
    pd.testing.assert_frame_equal(cat.read("auto", columns=cols), cat.read("polars", columns=cols))


def test_a_projection_of_few_columns_is_made_whole(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    path = tmp_path / "o.parquet"
    _write("polars", path)
    cat = _catalog(catalog_from, _FILE.format(path=path))
    few = ["email", "order_id", "ts"]  # R2's shape: one scan was the faster (read_path's notes)
    out = cat.read("auto", columns=few)
    assert cat.last_info is not None
    assert cat.last_info.read_path == "polars"
    pd.testing.assert_frame_equal(out, cat.read("polars", columns=few), check_exact=True)
    more = ["email", "order_id", "ts", "amount", "qty"]
    out = cat.read("auto", columns=more)
    assert cat.last_info is not None
    assert cat.last_info.read_path == "mixed"  # text and more: tests/test_mixed_read.py
    pd.testing.assert_frame_equal(out, cat.read("polars", columns=more), check_exact=True)
    numbers = ["order_id", "ts", "amount", "qty"]
    out = cat.read("auto", columns=numbers)
    assert cat.last_info is not None
    assert cat.last_info.read_path == "polars-split"
    pd.testing.assert_frame_equal(out, cat.read("polars", columns=numbers), check_exact=True)


def test_a_filtered_read_is_made_whole(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    path = tmp_path / "o.parquet"
    _write("pandas", path)
    cat = _catalog(catalog_from, _FILE.format(path=path))
    out = cat.read("auto", filters=[("qty", ">", 4)])
    assert cat.last_info is not None
    assert cat.last_info.read_path == "polars"
    pd.testing.assert_frame_equal(out, cat.read("polars", filters=[("qty", ">", 4)]))


def test_a_hive_dataset_splits_with_its_partition_columns(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    data = tmp_path / "hive"
    table = pa.Table.from_pandas(_orders().drop(columns=["note"]), preserve_index=False)
    pq.write_to_dataset(table, data, partition_cols=["country"])
    location = f'type: local_batch\n    local_batch: {{path_prefix: "{data}/", file_type: parquet}}'
    cat = _catalog(catalog_from, location)
    split = cat.read_polars("auto")
    assert cat.last_info is not None
    assert cat.last_info.read_path == "polars-split"
    assert split.equals(cat.read_polars("polars"))
    assert "country" in split.columns


def test_the_path_is_on_the_span(
    catalog_from: CatalogFrom, tmp_path: Path, otel: OtelCapture
) -> None:
    path = tmp_path / "o.parquet"
    _write("polars", path)
    cat = _catalog(catalog_from, _FILE.format(path=path))
    cat.read_polars("auto")
    assert (otel.span("dynio.read").attributes or {})["dynio.read.path"] == "polars-split"


def test_a_value_that_does_not_fit_fails_as_one_read_fails(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    path = tmp_path / "o.parquet"
    df = _orders()
    df.loc[17, "amount"] = 0.5  # int64 below cannot hold it
    df.to_parquet(path)
    schema = "  schema:\n    columns:\n      order_id: {type: int64}\n      amount: {type: int64}\n"
    cat = _catalog(catalog_from, _FILE.format(path=path), schema)
    with pytest.raises(CastError) as split:
        cat.read("auto")
    with pytest.raises(CastError) as whole:
        cat.read("polars")
    assert str(split.value).replace("'auto'", "'polars'") == str(whole.value)
    assert split.value.column == "amount"


def test_checks_run_on_the_split_read(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    path = tmp_path / "o.parquet"
    _write("duckdb", path)
    schema = """  schema:
    columns:
      order_id: {type: int64, validations: {has_unique_values: {apply: true, options: {}}}}
      qty: {type: int64, validations: {is_between: {apply: true, options: {lower: 0, upper: 3}}}}
"""
    cat = _catalog(catalog_from, _FILE.format(path=path), schema)
    with pytest.raises(ValidationError) as split:
        cat.read("auto")
    with pytest.raises(ValidationError) as whole:
        cat.read("polars")
    assert str(split.value).replace("'auto'", "'polars'") == str(whole.value)


def test_groups_are_balanced_and_keep_the_column_order() -> None:
    sizes = {"a": 100, "b": 10, "c": 60, "d": 50, "e": 1}
    groups = column_split.balance(["a", "b", "c", "d", "e"], sizes, 2)
    assert sorted(n for g in groups for n in g) == ["a", "b", "c", "d", "e"]
    assert groups == [["a", "b", "e"], ["c", "d"]]  # 111 and 110
    assert column_split.balance(["a", "x"], sizes, 4) == [["a"], ["x"]]  # empty groups dropped


def test_a_footer_is_read_again_when_its_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "o.parquet"
    pl.DataFrame({"a": [1, 2, 3], "s": ["x", "y", "z"]}).write_parquet(path)
    first = footers.footer(str(path))
    assert first is not None
    assert (first.rows, first.groups, set(first.sizes)) == (3, 1, {"a", "s"})
    assert footers.footer(str(path)) is first  # remembered
    pl.DataFrame({"a": list(range(10))}).write_parquet(path)
    os.utime(path, ns=(1, 1))  # a rewrite within the clock's resolution still differs in size
    again = footers.footer(str(path))
    assert again is not None
    assert (again.rows, set(again.sizes)) == (10, {"a"})
    assert footers.footer(str(tmp_path / "missing.parquet")) is None
