"""Casts that would change a value silently are refused (issue 20, "casts that are really safe").

Each class of silent change is tried in several spellings, on reads and writes: numerals that
overflow a float type, floats that overflow a narrower float, integers a float cannot hold
exactly, numerals whose digits are not whole for an integer type, zoned timestamps for a naive
type. Each is a ``CastError`` naming resource, column and the offending values; ``cast: lossy``
turns such values into nulls.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest
import yaml

import dynio
from dynio.engine.casts import cast_expr
from dynio.engine.errors import CastError, DynioError
from dynio.engine.sources.dataset import SchemaDriftWarning

CatalogFrom = Callable[..., dynio.Catalog]


def _catalog(catalog_from: CatalogFrom, file: str, column: Any) -> dynio.Catalog:
    doc = {"r": {"local": {"type": "local", "local": {"file_path": file}},
                 "schema": {"columns": {"x": column}}}}  # fmt: skip
    return catalog_from(yaml.safe_dump(doc))


def _refused(err: CastError, values: list[Any]) -> None:
    assert err.resource == "r"
    assert err.env == "local"
    assert err.column == "x"
    assert err.values == values
    assert "resource 'r'" in str(err)
    assert "column 'x'" in str(err)


def _cast(values: list[Any], source: pl.DataType, target: pl.DataType, strict: bool) -> list[Any]:
    frame = pl.DataFrame({"x": pl.Series(values, dtype=source)})
    return frame.select(cast_expr(pl.col("x"), source, target, strict)).to_series().to_list()


# ----------------------------------------------------------------- numerals overflowing floats


@pytest.mark.parametrize(
    ("numeral", "type_"),
    [
        ("1e309", "float64"),
        ("-1e309", "float64"),
        ("2E+400", "float64"),
        ("1.8e308", "float64"),
        ("1e309", "float32"),
        ("1e39", "float32"),
        ("-3.5e38", "float32"),
    ],
)
def test_csv_numeral_overflowing_a_float_is_refused(
    tmp_path: Path, catalog_from: CatalogFrom, numeral: str, type_: str
) -> None:
    (tmp_path / "r.csv").write_text(f"x\n1.5\n{numeral}\n", encoding="utf-8")
    cat = _catalog(catalog_from, "r.csv", type_)
    with pytest.raises(CastError) as info:
        cat.read("r")
    _refused(info.value, [numeral])
    assert str(info.value.file).endswith("r.csv")
    lossy = _catalog(catalog_from, "r.csv", {"type": type_, "cast": "lossy"})
    assert lossy.read_polars("r")["x"].to_list() == [1.5, None]


@pytest.mark.parametrize("spelling", ["inf", "-inf", "Infinity", "-INF", "+inf"])
def test_written_infinity_still_reads(
    tmp_path: Path, catalog_from: CatalogFrom, spelling: str
) -> None:
    (tmp_path / "r.csv").write_text(f"x\n1.5\n{spelling}\n", encoding="utf-8")
    got = _catalog(catalog_from, "r.csv", "float64").read_polars("r")["x"].to_list()
    assert got[0] == 1.5
    assert abs(got[1]) == float("inf")


@pytest.mark.parametrize("big", [1e300, -1e300, 3.5e38, float.fromhex("0x1.fffffffffffffp+1023")])
@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_float_overflowing_float32_on_write_is_refused(
    tmp_path: Path, catalog_from: CatalogFrom, big: float, suffix: str
) -> None:
    cat = _catalog(catalog_from, f"r.{suffix}", "float32")
    with pytest.raises(CastError) as info:
        cat.write("r", pd.DataFrame({"x": [1.0, big, float("inf"), None]}))
    _refused(info.value, [big])
    assert not (tmp_path / f"r.{suffix}").exists()


def test_float32_keeps_infinities_and_nan_written_as_such() -> None:
    got = _cast([float("inf"), float("-inf"), 1.0], pl.Float64(), pl.Float32(), True)
    assert got == [float("inf"), float("-inf"), 1.0]
    assert _cast([1e300, 2.0], pl.Float64(), pl.Float32(), False) == [None, 2.0]


# ------------------------------------------------------------ integers a float cannot hold


@pytest.mark.parametrize(
    ("value", "target"),
    [
        (2**53 + 1, pl.Float64()),
        (-(2**53) - 1, pl.Float64()),
        (2**63 - 1, pl.Float64()),
        (2**24 + 1, pl.Float32()),
    ],
)
def test_integer_a_float_cannot_hold_is_refused(value: int, target: pl.DataType) -> None:
    with pytest.raises(pl.exceptions.PolarsError):
        _cast([1, value], pl.Int64(), target, True)
    assert _cast([1, value], pl.Int64(), target, False) == [1.0, None]
    assert _cast([2**53, -(2**53)], pl.Int64(), pl.Float64(), True) == [2.0**53, -(2.0**53)]


def test_integer_a_float_cannot_hold_on_write(tmp_path: Path, catalog_from: CatalogFrom) -> None:
    cat = _catalog(catalog_from, "r.parquet", "float64")
    with pytest.raises(CastError) as info:
        cat.write("r", pl.DataFrame({"x": [1, 2**53 + 1]}))
    _refused(info.value, [2**53 + 1])


# ------------------------------------------------------- numerals whose digits are not whole


@pytest.mark.parametrize(
    "numeral",
    [
        "1.0000000000000001",
        "1.00000000000000000001",
        "9007199254740992.5",
        "1e-1",
        "0.5e0",
        "12.5E0",
        "1.0000000000000001e0",
        ".5",
    ],
)
def test_text_not_whole_into_int_is_refused(
    tmp_path: Path, catalog_from: CatalogFrom, numeral: str
) -> None:
    (tmp_path / "r.csv").write_text(f"x\n1\n{numeral}\n", encoding="utf-8")
    cat = _catalog(catalog_from, "r.csv", "int64")
    with pytest.raises(CastError) as info:
        cat.read("r")
    _refused(info.value, [numeral])


@pytest.mark.parametrize(
    ("numeral", "value"),
    [
        ("1e3", 1000),
        ("1.5e1", 15),
        ("1.000", 1),
        ("-2.50e1", -25),
        ("0e-5", 0),
        ("12.30E1", 123),
        ("+7", 7),
    ],
)
def test_whole_numerals_into_int_read(numeral: str, value: int) -> None:
    assert _cast([numeral], pl.String(), pl.Int64(), True) == [value]


# ------------------------------------------------------------ zoned timestamps, naive column


@pytest.mark.parametrize("zone", ["Europe/Athens", "UTC", "America/Los_Angeles"])
@pytest.mark.parametrize("suffix", ["parquet", "csv", "json"])
def test_zoned_timestamp_written_into_naive_column_is_refused(
    tmp_path: Path, catalog_from: CatalogFrom, zone: str, suffix: str
) -> None:
    cat = _catalog(catalog_from, f"r.{suffix}", "datetime64[ns]")
    zoned = pd.to_datetime(["2024-01-01 10:00", None]).tz_localize(zone)
    with pytest.raises(CastError) as info:
        cat.write("r", pd.DataFrame({"x": zoned}))
    assert info.value.column == "x"
    assert len(info.value.values) == 1
    assert not (tmp_path / f"r.{suffix}").exists()


def test_zoned_timestamp_into_naive_lossy_is_null(
    tmp_path: Path, catalog_from: CatalogFrom
) -> None:
    cat = _catalog(catalog_from, "r.parquet", {"type": "datetime64[ns]", "cast": "lossy"})
    cat.write("r", pl.DataFrame({"x": [dt.datetime(2024, 1, 1, 10, tzinfo=dt.UTC)]}))
    assert pl.read_parquet(tmp_path / "r.parquet")["x"].to_list() == [None]


def test_naive_timestamps_and_zoned_columns_still_write(
    tmp_path: Path, catalog_from: CatalogFrom
) -> None:
    naive = _catalog(catalog_from, "n.parquet", "datetime64[ns]")
    naive.write("r", pd.DataFrame({"x": pd.to_datetime(["2024-01-01 10:00"])}))
    zoned = _catalog(catalog_from, "z.parquet", "datetime64[ns, UTC]")
    zoned.write("r", pd.DataFrame({"x": pd.to_datetime(["2024-01-01 10:00"]).tz_localize("UTC")}))
    assert pl.read_parquet(tmp_path / "z.parquet")["x"].dtype == pl.Datetime("ns", "UTC")


# ------------------------------------------------- files of one dataset that disagree on types


def _dataset(catalog_from: CatalogFrom, column: Any, file_type: str = "parquet") -> dynio.Catalog:
    local = {"path_prefix": "ds/", "file_type": file_type}
    doc = {"r": {"local": {"type": "local_batch", "local": local},
                 "schema": {"columns": {"x": column}}}}  # fmt: skip
    return catalog_from(yaml.safe_dump(doc))


BIG = 2**53 + 1


@pytest.mark.parametrize(
    ("other", "target", "expected"),
    [
        (pl.Series("x", [1.0, 2.0]), "int64", [BIG, -BIG, 1, 2]),
        (pl.Series("x", [1.0, 2.0], dtype=pl.Float32), "Int64", [BIG, -BIG, 1, 2]),
        (pl.Series("x", ["1", "2"]), "int64", [BIG, -BIG, 1, 2]),
        (pl.Series("x", [1, 2], dtype=pl.Int32), "int64", [BIG, -BIG, 1, 2]),
        (pl.Series("x", [1, 2], dtype=pl.UInt64), "int64", [BIG, -BIG, 1, 2]),
    ],
)
def test_dataset_of_disagreeing_files_reconciles_to_the_schema_type(
    tmp_path: Path, catalog_from: CatalogFrom, other: pl.Series, target: str, expected: list[int]
) -> None:
    (tmp_path / "ds").mkdir()
    pl.DataFrame({"x": [BIG, -BIG]}).write_parquet(tmp_path / "ds" / "a.parquet")
    pl.DataFrame([other]).write_parquet(tmp_path / "ds" / "b.parquet")
    got = _dataset(catalog_from, target).read_polars("r")["x"]
    assert got.dtype == pl.Int64
    assert sorted(got.to_list()) == sorted(expected)


@pytest.mark.parametrize("bad", [1.5, 1e30, 2.0**63, -0.25])
def test_dataset_value_that_does_not_fit_the_schema_type_is_refused(
    tmp_path: Path, catalog_from: CatalogFrom, bad: float
) -> None:
    (tmp_path / "ds").mkdir()
    pl.DataFrame({"x": [BIG]}).write_parquet(tmp_path / "ds" / "a.parquet")
    pl.DataFrame({"x": [2.0, bad]}).write_parquet(tmp_path / "ds" / "b.parquet")
    with pytest.raises(CastError) as info:
        _dataset(catalog_from, "int64").read_polars("r")
    assert info.value.resource == "r"
    assert info.value.column == "x"
    assert str(info.value.file).endswith("ds")
    assert len(info.value.values) == 1


def test_dataset_float_schema_keeps_the_float_reconciliation(
    tmp_path: Path, catalog_from: CatalogFrom
) -> None:
    (tmp_path / "ds").mkdir()
    pl.DataFrame({"x": [3]}).write_parquet(tmp_path / "ds" / "a.parquet")
    pl.DataFrame({"x": [0.5]}).write_parquet(tmp_path / "ds" / "b.parquet")
    with pytest.warns(SchemaDriftWarning, match="integers"):
        got = _dataset(catalog_from, "float64").read_polars("r")["x"]
    assert sorted(got.to_list()) == [0.5, 3.0]


@pytest.mark.parametrize(
    ("name", "text"),
    [("r.json", '[{"x": 1.5}, {"x": 1e309}]'), ("r.json", '{"x": {"0": 1.5, "1": -2e400}}'),
     ("r.ndjson", '{"x": 1.5}\n{"x": 1e309}\n')],
)  # fmt: skip
def test_json_number_overflowing_a_float_is_a_dynio_error(
    tmp_path: Path, catalog_from: CatalogFrom, name: str, text: str
) -> None:
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(DynioError) as info:
        _catalog(catalog_from, name, "float64").read("r")
    assert info.value.resource == "r"
    assert str(info.value.file).endswith(name)
