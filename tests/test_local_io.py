"""Local file reads and writes through ``dynio.Catalog``.

Covers: round trips per format (parquet, csv, json in every orient, ndjson, ipc/feather) from
pandas, Polars and Arrow; what a write does (projection to the schema, atomic replace, no
temporary files left, pandas index handling); reader and writer options; ``local_batch`` folders,
globs and hive-partitioned datasets; projection, filters and predicate pushdown; ``{template}``
paths; error reporting; repeat and async reads; dtype backends.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import write_text
from pandas_versions import PANDAS4_WARNING, TEXT_DTYPE, csv_text

import dynio
from dynio.errors import CastError, ConfigError, ReadError, SchemaError, ValidationError, WriteError

CatalogFrom = Callable[..., dynio.Catalog]

# --------------------------------------------------------------------------------------- helpers

# Every dtype the round trips cover, as the schema spells it.
FULL_COLUMNS: dict[str, str] = {
    "i": "int64",
    "f": "float64",
    "s": "str",
    "b": "bool",
    "t": "datetime64[ns]",
    "tz": "datetime64[ns, UTC]",
    "c": "category",
    "n": "Int64",
}

FORMAT_EXT = {
    "parquet": "parquet",
    "csv": "csv",
    "json": "json",
    "ndjson": "ndjson",
    "jsonl": "jsonl",
    "ipc": "arrow",
    "feather": "feather",
}


def resource_yaml(
    name: str,
    *,
    kind: str = "local",
    section: dict[str, Any],
    options: dict[str, Any] | None = None,
    columns: dict[str, Any] | None = None,
    env: str = "local",
) -> str:
    """One resource of a catalog as YAML text (dynamicio layout)."""
    body: dict[str, Any] = {"type": kind, "local": section}
    if options is not None:
        body["options"] = options
    res: dict[str, Any] = {env: body}
    if columns is not None:
        res["schema"] = {"columns": columns}
    return yaml.safe_dump({name: res}, sort_keys=False)


def local_yaml(
    name: str,
    path: str,
    file_type: str | None = None,
    *,
    options: dict[str, Any] | None = None,
    columns: dict[str, Any] | None = None,
) -> str:
    section: dict[str, Any] = {"file_path": path}
    if file_type is not None:
        section["file_type"] = file_type
    return resource_yaml(name, section=section, options=options, columns=columns)


def batch_yaml(
    name: str,
    file_type: str,
    *,
    prefix: str | None = None,
    pattern: str | None = None,
    options: dict[str, Any] | None = None,
    columns: dict[str, Any] | None = None,
) -> str:
    section: dict[str, Any] = {"file_type": file_type}
    if prefix is not None:
        section["path_prefix"] = prefix
    if pattern is not None:
        section["dynamic_file_path"] = pattern
    return resource_yaml(
        name, kind="local_batch", section=section, options=options, columns=columns
    )


def full_frame() -> pd.DataFrame:
    """A pandas frame holding every dtype of FULL_COLUMNS, with missing values where allowed."""
    return pd.DataFrame(
        {
            "i": np.array([1, -2, 3_000_000_000, 4], dtype="int64"),
            "f": np.array([1.5, np.nan, -0.25, 1e10], dtype="float64"),
            "s": pd.Series(["alpha", None, "gamma delta", "é ü 漢"], dtype="str"),
            "b": np.array([True, False, True, False]),
            "t": pd.Series(
                pd.to_datetime(
                    [
                        "2024-01-01 00:00:00",
                        "2024-02-29 12:34:56.123456",
                        "1999-12-31 23:59:59",
                        "2030-06-15 08:00:00",
                    ],
                    format="ISO8601",
                )
            ).astype("datetime64[ns]"),
            "tz": pd.Series(
                pd.to_datetime(
                    ["2024-01-01", "2024-01-02 10:00", "2024-03-31 02:30", "2024-12-31 23:59"],
                    format="ISO8601",
                    utc=True,
                )
            ).astype("datetime64[ns, UTC]"),
            # first appearance order = sorted order (see test_category_categories_are_sorted)
            "c": pd.Categorical(["blue", "green", "blue", "red"]),
            "n": pd.array([10, None, 30, None], dtype="Int64"),
        }
    )


def pandas_to_json(df: pd.DataFrame, path: Path, orient: str, date_format: str) -> None:
    """``DataFrame.to_json`` as pipelines have used it (epoch dates are deprecated in pandas 3
    but such files exist everywhere)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PANDAS4_WARNING)
        df.to_json(path, orient=orient, date_format=date_format)  # type: ignore[call-overload]


def full_polars() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "i": pl.Series([1, -2, 3_000_000_000, 4], dtype=pl.Int64),
            "f": pl.Series([1.5, None, -0.25, 1e10], dtype=pl.Float64),
            "s": pl.Series(["alpha", None, "gamma delta", "é ü 漢"], dtype=pl.String),
            "b": pl.Series([True, False, True, False]),
            "t": full_frame()["t"].tolist(),
            "tz": full_frame()["tz"].tolist(),
            "c": pl.Series(["blue", "green", "blue", "red"], dtype=pl.Categorical),
            "n": pl.Series([10, None, 30, None], dtype=pl.Int64),
        }
    ).with_columns(
        pl.col("t").cast(pl.Datetime("ns")),
        pl.col("tz").cast(pl.Datetime("ns", "UTC")),
    )


def tmp_files(root: Path) -> list[Path]:
    """Leftover temporary files or folders (``.name.<hex>.tmp``) anywhere under ``root``."""
    return [p for p in root.rglob(".*") if p.name.endswith((".tmp", ".old"))]


def all_files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative path -> bytes)."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


# ----------------------------------------------------------------------------- round trips


@pytest.mark.parametrize(
    ("file_type", "options"),
    [
        ("parquet", None),
        ("csv", None),
        ("json", None),
        ("json", {"orient": "records"}),
        ("json", {"orient": "columns"}),
        ("json", {"orient": "split"}),
        ("json", {"orient": "index"}),
        ("json", {"lines": True}),
        ("ndjson", None),
        ("jsonl", None),
        ("ipc", None),
        ("feather", None),
    ],
)
def test_round_trip_pandas(
    catalog_from: CatalogFrom, tmp_path: Path, file_type: str, options: dict[str, Any] | None
) -> None:
    path = f"out/data.{FORMAT_EXT[file_type]}"
    cat = catalog_from(local_yaml("t", path, file_type, options=options, columns=FULL_COLUMNS))
    df = full_frame()
    result = cat.write("t", df)
    assert result.info.rows == 4
    assert (tmp_path / path).is_file()
    out = cat.read("t")
    pd.testing.assert_frame_equal(out, csv_text(df) if file_type == "csv" else df)
    assert list(out.columns) == list(FULL_COLUMNS)
    assert str(out["s"].dtype) == TEXT_DTYPE
    assert out["n"].dtype == pd.Int64Dtype()
    assert str(out["tz"].dtype) == "datetime64[ns, UTC]"
    assert out["c"].dtype == pd.CategoricalDtype(["blue", "green", "red"])
    assert not tmp_files(tmp_path)


@pytest.mark.parametrize("file_type", ["parquet", "csv", "json", "ndjson", "ipc"])
def test_round_trip_polars(catalog_from: CatalogFrom, file_type: str) -> None:
    cat = catalog_from(
        local_yaml("t", f"data.{FORMAT_EXT[file_type]}", file_type, columns=FULL_COLUMNS)
    )
    cat.write("t", full_polars())
    expected = csv_text(full_frame()) if file_type == "csv" else full_frame()
    pd.testing.assert_frame_equal(cat.read("t"), expected)
    got = cat.read_polars("t")
    assert got.schema == pl.Schema(
        {
            "i": pl.Int64,
            "f": pl.Float64,
            "s": pl.String,
            "b": pl.Boolean,
            "t": pl.Datetime("ns"),
            "tz": pl.Datetime("ns", "UTC"),
            "c": pl.Categorical(),
            "n": pl.Int64,
        }
    )
    assert got["n"].to_list() == [10, None, 30, None]
    assert got["s"].to_list() == ["alpha", None, "gamma delta", "é ü 漢"]


@pytest.mark.parametrize("file_type", ["parquet", "csv", "json", "ndjson", "ipc"])
def test_round_trip_arrow_table(catalog_from: CatalogFrom, file_type: str) -> None:
    cat = catalog_from(
        local_yaml("t", f"data.{FORMAT_EXT[file_type]}", file_type, columns=FULL_COLUMNS)
    )
    table = pa.Table.from_pandas(full_frame(), preserve_index=False)
    cat.write("t", table)
    expected = csv_text(full_frame()) if file_type == "csv" else full_frame()
    pd.testing.assert_frame_equal(cat.read("t"), expected)


def test_round_trip_lazyframe_and_record_batch(catalog_from: CatalogFrom) -> None:
    cat = catalog_from(
        local_yaml("a", "a.parquet", columns=FULL_COLUMNS)
        + local_yaml("b", "b.parquet", columns=FULL_COLUMNS)
    )
    cat.write("a", full_polars().lazy())
    cat.write("b", pa.RecordBatch.from_pandas(full_frame(), preserve_index=False))
    pd.testing.assert_frame_equal(cat.read("a"), full_frame())
    pd.testing.assert_frame_equal(cat.read("b"), full_frame())


def test_round_trip_keeps_nanoseconds_in_binary_formats(catalog_from: CatalogFrom) -> None:
    cols = {"t": "datetime64[ns]"}
    cat = catalog_from(
        local_yaml("p", "t.parquet", columns=cols) + local_yaml("f", "t.feather", columns=cols)
    )
    df = pd.DataFrame({"t": pd.to_datetime([1_700_000_000_123_456_789, 1], unit="ns")})
    df["t"] = df["t"].astype("datetime64[ns]")
    for name in ("p", "f"):
        cat.write(name, df)
        out = cat.read(name)
        pd.testing.assert_frame_equal(out, df)
        assert out["t"].iloc[0].nanosecond == 789


def test_format_inferred_from_extension(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    cols = {"i": "int64", "s": "str"}
    cat = catalog_from(
        local_yaml("p", "x.parquet", columns=cols)
        + local_yaml("c", "x.csv", columns=cols)
        + local_yaml("j", "x.jsonl", columns=cols)
        + local_yaml("f", "x.feather", columns=cols)
    )
    df = pd.DataFrame({"i": [1, 2], "s": ["a", "b"]})
    for name in ("p", "c", "j", "f"):
        cat.write(name, df)
        pd.testing.assert_frame_equal(cat.read(name), df)
    assert pq.read_table(tmp_path / "x.parquet").num_rows == 2
    assert (tmp_path / "x.csv").read_text().splitlines() == ["i,s", "1,a", "2,b"]
    assert [json.loads(line) for line in (tmp_path / "x.jsonl").read_text().splitlines()] == [
        {"i": 1, "s": "a"},
        {"i": 2, "s": "b"},
    ]
    assert feather.read_table(tmp_path / "x.feather").num_rows == 2


def test_category_categories_are_sorted(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    """A ``category`` column reads with lexically sorted categories, as pandas gives for
    ``read_csv(dtype={"c": "category"})`` and ``astype("category")``; the order of first
    appearance in the file must not leak into the dtype."""
    write_text(tmp_path / "c.csv", "c\nred\ngreen\nred\nblue\n")
    cat = catalog_from(
        local_yaml("c", "c.csv", columns={"c": "category"})
        + local_yaml("p", "c.parquet", columns={"c": "category"})
    )
    out = cat.read("c")
    reference = pd.read_csv(tmp_path / "c.csv", dtype={"c": "category"})
    assert list(reference["c"].cat.categories) == ["blue", "green", "red"]
    pd.testing.assert_frame_equal(out, reference)
    # and a pandas categorical written and read back keeps its (sorted) categories
    df = pd.DataFrame({"c": pd.Categorical(["red", "green", "red", "blue"])})
    cat.write("p", df)
    pd.testing.assert_frame_equal(cat.read("p"), df)


@pytest.mark.parametrize(
    ("file_type", "options"),
    [
        ("parquet", None),
        ("csv", None),
        ("ipc", None),
        ("json", None),
        ("json", {"orient": "split"}),
        ("json", {"orient": "columns"}),
        ("json", {"lines": True}),
        ("ndjson", None),
    ],
)
def test_empty_frame_round_trip(
    catalog_from: CatalogFrom, file_type: str, options: dict[str, Any] | None
) -> None:
    """Writing no rows succeeds, so reading them back must too: an empty frame with the
    schema's columns and dtypes."""
    cat = catalog_from(
        local_yaml(
            "e", f"e.{FORMAT_EXT[file_type]}", file_type, options=options, columns=FULL_COLUMNS
        )
    )
    empty = full_frame().iloc[:0].reset_index(drop=True)
    cat.write("e", empty)
    out = cat.read("e")
    assert out.shape == (0, len(FULL_COLUMNS))
    assert list(out.columns) == list(FULL_COLUMNS)
    pd.testing.assert_frame_equal(out, empty, check_categorical=False, check_index_type=False)


# ------------------------------------------------------------------------------------ json orients


def test_json_write_default_orient_is_records(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    cat = catalog_from(local_yaml("j", "j.json", "json", columns={"a": "int64", "b": "str"}))
    cat.write("j", pd.DataFrame({"a": [1, 2], "b": ["x", None]}))
    assert json.loads((tmp_path / "j.json").read_text()) == [
        {"a": 1, "b": "x"},
        {"a": 2, "b": None},
    ]


@pytest.mark.parametrize(
    ("orient", "expected"),
    [
        ("records", [{"a": 1, "b": "x"}, {"a": 2, "b": None}]),
        ("columns", {"a": {"0": 1, "1": 2}, "b": {"0": "x", "1": None}}),
        ("split", {"columns": ["a", "b"], "index": [0, 1], "data": [[1, "x"], [2, None]]}),
        ("index", {"0": {"a": 1, "b": "x"}, "1": {"a": 2, "b": None}}),
        ("values", [[1, "x"], [2, None]]),
    ],
)
def test_json_write_orient_layout(
    catalog_from: CatalogFrom, tmp_path: Path, orient: str, expected: Any
) -> None:
    """Each orient writes the document pandas' ``to_json(orient=...)`` writes."""
    cat = catalog_from(
        local_yaml(
            "j", "j.json", "json", options={"orient": orient}, columns={"a": "int64", "b": "str"}
        )
    )
    df = pd.DataFrame({"a": [1, 2], "b": ["x", None]})
    cat.write("j", df)
    doc = json.loads((tmp_path / "j.json").read_text())
    assert doc == expected
    assert doc == json.loads(df.to_json(orient=orient))  # type: ignore[call-overload]


def test_json_values_orient_round_trip_positional_names(catalog_from: CatalogFrom) -> None:
    """orient values carries no names: as in pandas, columns read back as "0", "1", …"""
    cols = {"0": "int64", "1": "str", "2": "datetime64[ns]"}
    cat = catalog_from(
        local_yaml("j", "v.json", "json", options={"orient": "values"}, columns=cols)
    )
    df = pd.DataFrame(
        {
            "0": [1, 2],
            "1": ["x", None],
            "2": pd.to_datetime(["2024-01-01", "2024-01-02 03:00"], format="ISO8601").astype(
                "datetime64[ns]"
            ),
        }
    )
    cat.write("j", df)
    pd.testing.assert_frame_equal(cat.read("j"), df)


JSON_FRAME_COLUMNS = {"a": "int64", "f": "float64", "b": "str", "t": "datetime64[ns]"}


def json_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "a": [1, 2, 3],
            "f": [0.5, np.nan, 2.25],
            "b": pd.Series(["x", None, "z"], dtype="str"),
            "t": pd.to_datetime(
                ["2024-01-01", "2024-01-02 12:00", "2024-01-03"], format="ISO8601"
            ).astype("datetime64[ns]"),
        }
    )


@pytest.mark.parametrize("orient", ["records", "columns", "split", "index"])
@pytest.mark.parametrize("date_format", ["epoch", "iso"])
def test_json_read_autodetects_pandas_orient(
    catalog_from: CatalogFrom, tmp_path: Path, orient: str, date_format: str
) -> None:
    """A JSON file written by pandas in any orient reads back without an ``orient`` option.

    ``index`` is told apart from ``columns`` by the schema: its inner keys are the columns.
    """
    df = json_frame()
    pandas_to_json(df, tmp_path / "p.json", orient, date_format)
    cat = catalog_from(local_yaml("j", "p.json", "json", columns=JSON_FRAME_COLUMNS))
    pd.testing.assert_frame_equal(cat.read("j"), df)


@pytest.mark.parametrize("orient", ["records", "columns", "split", "index", "values"])
def test_json_read_with_explicit_orient_of_pandas_file(
    catalog_from: CatalogFrom, tmp_path: Path, orient: str
) -> None:
    df = json_frame()
    if orient == "values":
        df.columns = ["0", "1", "2", "3"]
        cols = dict(zip(df.columns, JSON_FRAME_COLUMNS.values(), strict=True))
    else:
        cols = JSON_FRAME_COLUMNS
    pandas_to_json(df, tmp_path / "p.json", orient, "epoch")
    cat = catalog_from(local_yaml("j", "p.json", "json", options={"orient": orient}, columns=cols))
    pd.testing.assert_frame_equal(cat.read("j"), df)


def test_json_values_autodetected(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    write_text(tmp_path / "v.json", '[[1, "x"], [2, null]]')
    cat = catalog_from(local_yaml("j", "v.json", "json", columns={"0": "int64", "1": "str"}))
    pd.testing.assert_frame_equal(
        cat.read("j"), pd.DataFrame({"0": [1, 2], "1": pd.Series(["x", None], dtype="str")})
    )


def test_json_lines_option_writes_one_object_per_line(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    cat = catalog_from(
        local_yaml(
            "j", "l.json", "json", options={"lines": True}, columns={"a": "int64", "b": "str"}
        )
    )
    cat.write("j", pd.DataFrame({"a": [1, 2], "b": ["x", None]}))
    lines = (tmp_path / "l.json").read_text().splitlines()
    assert [json.loads(x) for x in lines] == [{"a": 1, "b": "x"}, {"a": 2, "b": None}]
    pd.testing.assert_frame_equal(
        pd.read_json(tmp_path / "l.json", lines=True),
        pd.DataFrame({"a": [1, 2], "b": ["x", None]}),
    )


def test_ndjson_reads_pandas_lines_file(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    df = json_frame()
    df.to_json(tmp_path / "p.ndjson", orient="records", lines=True, date_format="iso")
    cat = catalog_from(local_yaml("j", "p.ndjson", "ndjson", columns=JSON_FRAME_COLUMNS))
    pd.testing.assert_frame_equal(cat.read("j"), df)


# -------------------------------------------------------------------------------------- writes


def test_write_projects_to_schema_columns_in_schema_order(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    cat = catalog_from(local_yaml("t", "t.parquet", columns={"b": "str", "a": "int64"}))
    df = pd.DataFrame({"extra": [9, 9], "a": [1, 2], "b": ["x", "y"], "more": ["q", "r"]})
    cat.write("t", df)
    table = pq.read_table(tmp_path / "t.parquet")
    assert table.column_names == ["b", "a"]
    assert table.to_pydict() == {"b": ["x", "y"], "a": [1, 2]}
    assert table.schema.metadata is None or b"pandas" not in table.schema.metadata
    assert list(df.columns) == ["extra", "a", "b", "more"]  # the caller's frame is untouched


def test_write_csv_projects_and_orders(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    cat = catalog_from(local_yaml("t", "t.csv", columns={"b": "str", "a": "int64"}))
    cat.write("t", pl.DataFrame({"a": [1, 2], "zzz": [0.1, 0.2], "b": ["x", "y"]}))
    assert (tmp_path / "t.csv").read_text() == "b,a\nx,1\ny,2\n"


def test_write_missing_schema_column_is_schema_error(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    cat = catalog_from(
        local_yaml("t", "t.parquet", columns={"a": "int64", "needed": "str", "b": "float64"})
    )
    with pytest.raises(SchemaError) as err:
        cat.write("t", pd.DataFrame({"a": [1], "b": [1.0]}))
    assert err.value.column == "needed"
    assert err.value.resource == "t"
    assert "needed" in str(err.value)
    assert "'t'" in str(err.value)
    assert not (tmp_path / "t.parquet").exists()
    assert not tmp_files(tmp_path)


def test_write_creates_missing_parent_folders(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    cat = catalog_from(local_yaml("t", "a/b/c/d/out.parquet", columns={"a": "int64"}))
    assert not (tmp_path / "a").exists()
    info = cat.write("t", pd.DataFrame({"a": [1, 2, 3]})).info
    target = tmp_path / "a/b/c/d/out.parquet"
    assert target.is_file()
    assert Path(info.location) == target
    assert info.rows == 3
    assert info.bytes == target.stat().st_size
    assert info.files == (str(target),)
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.parquet"]


def test_write_replaces_existing_file(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    cat = catalog_from(local_yaml("t", "t.csv", columns={"a": "int64"}))
    cat.write("t", pd.DataFrame({"a": [1, 2, 3]}))
    cat.write("t", pd.DataFrame({"a": [7]}))
    assert (tmp_path / "t.csv").read_text() == "a\n7\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["resources.yaml", "t.csv"]


FAILING_WRITE_SCHEMA = {
    "a": "int64",
    "v": {
        "type": "float64",
        "validations": {
            "is_greater_than": {"apply": True, "options": {"threshold": 0}, "severity": "error"}
        },
    },
}


@pytest.mark.parametrize("file_type", ["parquet", "csv", "json", "ipc"])
@pytest.mark.parametrize(
    ("failing", "error"),
    [
        (pd.DataFrame({"a": [1.5, 2.0], "v": [1.0, 2.0]}), CastError),
        (pd.DataFrame({"a": [1, 2], "v": [1.0, -5.0]}), ValidationError),
        (pd.DataFrame({"v": [1.0, 2.0]}), SchemaError),
    ],
    ids=["cast", "validation", "schema"],
)
def test_failed_write_leaves_destination_unchanged(
    catalog_from: CatalogFrom,
    tmp_path: Path,
    file_type: str,
    failing: pd.DataFrame,
    error: type[Exception],
) -> None:
    path = f"keep/data.{FORMAT_EXT[file_type]}"
    cat = catalog_from(local_yaml("t", path, file_type, columns=FAILING_WRITE_SCHEMA))
    good = pd.DataFrame({"a": [1, 2, 3], "v": [0.5, 1.5, 2.5]})
    cat.write("t", good)
    before = (tmp_path / path).read_bytes()
    with pytest.raises(error) as err:
        cat.write("t", failing)
    assert err.value.resource == "t"  # type: ignore[attr-defined]
    assert (tmp_path / path).read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "keep").iterdir()) == [Path(path).name]
    assert not tmp_files(tmp_path)
    pd.testing.assert_frame_equal(cat.read("t"), good)


def test_cast_error_on_write_names_column_and_values(catalog_from: CatalogFrom) -> None:
    cat = catalog_from(local_yaml("t", "t.parquet", columns={"a": "int64"}))
    with pytest.raises(CastError) as err:
        cat.write("t", pd.DataFrame({"a": [1.0, 2.5, 3.0, 4.75]}))
    assert err.value.column == "a"
    assert err.value.values == [2.5, 4.75]
    assert "'a'" in str(err.value)
    assert "2.5" in str(err.value)


def test_validation_error_on_write_names_rule_and_column(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    cat = catalog_from(local_yaml("t", "t.parquet", columns=FAILING_WRITE_SCHEMA))
    with pytest.raises(ValidationError) as err:
        cat.write("t", pd.DataFrame({"a": [1, 2, 3], "v": [1.0, -1.0, -2.0]}))
    assert err.value.resource == "t"
    assert "is_greater_than" in str(err.value)
    assert "v" in str(err.value)
    assert not (tmp_path / "t.parquet").exists()
    assert not tmp_files(tmp_path)


def test_failing_sink_is_write_error_and_keeps_old_file(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    """A writer failure after the temporary file was opened: WriteError, old file kept."""
    cat = catalog_from(
        local_yaml("ok", "t.parquet", columns={"a": "int64"})
        + local_yaml(
            "bad", "t.parquet", options={"compression": "no-such-codec"}, columns={"a": "int64"}
        )
    )
    cat.write("ok", pd.DataFrame({"a": [1, 2]}))
    before = (tmp_path / "t.parquet").read_bytes()
    with pytest.raises(WriteError) as err:
        cat.write("bad", pd.DataFrame({"a": [3]}))
    assert err.value.resource == "bad"
    assert err.value.file == str(tmp_path / "t.parquet")
    assert (tmp_path / "t.parquet").read_bytes() == before
    assert not tmp_files(tmp_path)


def test_partition_cols_on_single_file_is_write_error(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    cat = catalog_from(
        local_yaml("t", "t.parquet", options={"partition_cols": ["a"]}, columns={"a": "int64"})
    )
    with pytest.raises(WriteError) as err:
        cat.write("t", pd.DataFrame({"a": [1]}))
    assert "local_batch" in str(err.value)
    assert err.value.file == str(tmp_path / "t.parquet")
    assert not (tmp_path / "t.parquet").exists()


def test_named_index_is_kept_as_column(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    cat = catalog_from(local_yaml("t", "t.parquet", columns={"id": "int64", "v": "str"}))
    df = pd.DataFrame({"id": [10, 20], "v": ["a", "b"]}).set_index("id")
    cat.write("t", df)
    assert pq.read_table(tmp_path / "t.parquet").column_names == ["id", "v"]
    pd.testing.assert_frame_equal(cat.read("t"), pd.DataFrame({"id": [10, 20], "v": ["a", "b"]}))
    assert df.index.name == "id"  # the caller's frame keeps its index


def test_named_multiindex_levels_are_kept(catalog_from: CatalogFrom) -> None:
    cat = catalog_from(
        local_yaml("t", "t.csv", columns={"k1": "str", "k2": "int64", "v": "float64"})
    )
    df = pd.DataFrame({"k1": ["a", "b"], "k2": [1, 2], "v": [0.5, 1.5]}).set_index(["k1", "k2"])
    cat.write("t", df)
    pd.testing.assert_frame_equal(cat.read("t"), df.reset_index())


def test_unnamed_index_is_dropped(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    cat = catalog_from(
        local_yaml("p", "t.parquet", columns={"v": "str"})
        + local_yaml("c", "t.csv", columns={"v": "str"})
    )
    df = pd.DataFrame({"v": ["a", "b"]}, index=[100, 200])
    cat.write("p", df)
    cat.write("c", df)
    assert pq.read_table(tmp_path / "t.parquet").column_names == ["v"]
    assert (tmp_path / "t.csv").read_text() == "v\na\nb\n"
    out = cat.read("p")
    assert out.index.equals(pd.RangeIndex(2))
    assert out["v"].tolist() == ["a", "b"]


def test_write_without_schema_writes_every_column(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    cat = catalog_from(local_yaml("t", "t.parquet"))
    cat.write("t", pd.DataFrame({"z": [1], "a": ["x"]}))
    assert pq.read_table(tmp_path / "t.parquet").to_pydict() == {"z": [1], "a": ["x"]}


# ------------------------------------------------------------------------------------ csv options


CSV_COLS = {"a": "int64", "b": "str", "f": "float64"}


def test_csv_sep_semicolon_round_trip(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    cat = catalog_from(local_yaml("c", "c.csv", options={"sep": ";"}, columns=CSV_COLS))
    df = pd.DataFrame({"a": [1, 2], "b": ["x,y", "z"], "f": [0.5, np.nan]})
    cat.write("c", df)
    assert (tmp_path / "c.csv").read_text() == "a;b;f\n1;x,y;0.5\n2;z;\n"
    pd.testing.assert_frame_equal(cat.read("c"), df)


def test_csv_na_values(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    write_text(tmp_path / "c.csv", "a,b,f\n1,missing,missing\n2,y,-\n3,NA,2.5\n")
    cat = catalog_from(
        local_yaml("c", "c.csv", options={"na_values": ["missing", "-"]}, columns=CSV_COLS)
    )
    out = cat.read("c")
    expected = pd.DataFrame(
        {"a": [1, 2, 3], "b": pd.Series([None, "y", None], dtype="str"), "f": [np.nan, np.nan, 2.5]}
    )
    pd.testing.assert_frame_equal(out, csv_text(expected))
    # the same as pandas
    pd.testing.assert_frame_equal(out, pd.read_csv(tmp_path / "c.csv", na_values=["missing", "-"]))


def test_csv_na_values_single_string(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    write_text(tmp_path / "c.csv", "a,b,f\n1,?,1.0\n2,y,?\n")
    cat = catalog_from(local_yaml("c", "c.csv", options={"na_values": "?"}, columns=CSV_COLS))
    out = cat.read("c")
    assert out["b"].isna().tolist() == [True, False]
    assert out["f"].isna().tolist() == [False, True]


def test_csv_header_null_with_names(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    write_text(tmp_path / "c.csv", "1,x,0.5\n2,y,1.5\n")
    cat = catalog_from(
        local_yaml(
            "c", "c.csv", options={"header": None, "names": ["a", "b", "f"]}, columns=CSV_COLS
        )
    )
    pd.testing.assert_frame_equal(
        cat.read("c"), pd.DataFrame({"a": [1, 2], "b": ["x", "y"], "f": [0.5, 1.5]})
    )


def test_csv_names_without_header_option_means_no_header(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    """As in pandas: ``names`` alone means the file has no header row."""
    write_text(tmp_path / "c.csv", "1,x,0.5\n2,y,1.5\n")
    cat = catalog_from(
        local_yaml("c", "c.csv", options={"names": ["a", "b", "f"]}, columns=CSV_COLS)
    )
    assert cat.read("c")["a"].tolist() == [1, 2]


def test_csv_skiprows(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    write_text(tmp_path / "c.csv", "exported by tool\nversion 2\na,b,f\n1,x,0.5\n2,y,1.5\n")
    cat = catalog_from(local_yaml("c", "c.csv", options={"skiprows": 2}, columns=CSV_COLS))
    out = cat.read("c")
    pd.testing.assert_frame_equal(
        out, pd.DataFrame({"a": [1, 2], "b": ["x", "y"], "f": [0.5, 1.5]})
    )
    pd.testing.assert_frame_equal(out, pd.read_csv(tmp_path / "c.csv", skiprows=2))


def test_csv_encoding_latin1(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_bytes("a,b,f\n1,café,0.5\n2,Ærø,1.0\n".encode("latin-1"))
    cat = catalog_from(local_yaml("c", "c.csv", options={"encoding": "latin-1"}, columns=CSV_COLS))
    out = cat.read("c")
    assert out["b"].tolist() == ["café", "Ærø"]
    pd.testing.assert_frame_equal(out, pd.read_csv(tmp_path / "c.csv", encoding="latin-1"))


def test_csv_unknown_encoding_is_read_error(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    write_text(tmp_path / "c.csv", "a,b,f\n1,x,0.5\n")
    cat = catalog_from(
        local_yaml("c", "c.csv", options={"encoding": "no-such-encoding"}, columns=CSV_COLS)
    )
    with pytest.raises(ReadError) as err:
        cat.read("c")
    assert err.value.resource == "c"
    assert err.value.file == str(tmp_path / "c.csv")


def test_csv_decimal_comma(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    write_text(tmp_path / "c.csv", "a;b;f\n1;x;0,5\n2;y;1234,25\n")
    cat = catalog_from(
        local_yaml("c", "c.csv", options={"sep": ";", "decimal": ","}, columns=CSV_COLS)
    )
    out = cat.read("c")
    assert out["f"].tolist() == [0.5, 1234.25]
    pd.testing.assert_frame_equal(out, pd.read_csv(tmp_path / "c.csv", sep=";", decimal=","))


def test_csv_dtype_option_without_schema(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    write_text(tmp_path / "c.csv", "code,n\n007,1\n010,2\n")
    cat = catalog_from(
        local_yaml("typed", "c.csv", options={"dtype": {"code": "str"}})
        + local_yaml("plain", "c.csv")
    )
    typed = cat.read("typed")
    assert typed["code"].tolist() == ["007", "010"]
    pd.testing.assert_frame_equal(typed, pd.read_csv(tmp_path / "c.csv", dtype={"code": "str"}))
    plain = cat.read("plain")
    assert plain["code"].tolist() == [7, 10]
    pd.testing.assert_frame_equal(plain, pd.read_csv(tmp_path / "c.csv"))


def test_csv_schema_str_keeps_leading_zeros(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    write_text(tmp_path / "c.csv", "code,n\n007,1\n010,2\n")
    cat = catalog_from(local_yaml("c", "c.csv", columns={"code": "str", "n": "int64"}))
    assert cat.read("c")["code"].tolist() == ["007", "010"]


def test_csv_parse_dates(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    write_text(tmp_path / "c.csv", "when,v\n2024-01-01 10:00:00,1\n2024-02-03 04:05:06,2\n")
    cat = catalog_from(local_yaml("c", "c.csv", options={"parse_dates": ["when"]}))
    out = cat.read("c")
    assert str(out["when"].dtype).startswith("datetime64[")
    assert out["when"].tolist() == [
        pd.Timestamp("2024-01-01 10:00:00"),
        pd.Timestamp("2024-02-03 04:05:06"),
    ]
    assert out["v"].tolist() == [1, 2]


def test_csv_keep_default_na_false(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    write_text(tmp_path / "c.csv", "a,b,f\n1,NA,1.0\n2,,2.0\n3,null,3.0\n")
    cat = catalog_from(
        local_yaml("c", "c.csv", options={"keep_default_na": False}, columns=CSV_COLS)
        + local_yaml("d", "c.csv", columns=CSV_COLS)
    )
    kept = cat.read("c")
    assert kept["b"].tolist() == ["NA", "", "null"]
    pd.testing.assert_frame_equal(kept, pd.read_csv(tmp_path / "c.csv", keep_default_na=False))
    default = cat.read("d")
    assert default["b"].isna().tolist() == [True, True, True]
    # the schema says b is text: pandas, told so too, gives str with NaN (not all-NaN float64)
    pd.testing.assert_frame_equal(default, pd.read_csv(tmp_path / "c.csv", dtype={"b": "str"}))


def test_csv_nrows_comment_and_quotechar(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    write_text(tmp_path / "c.csv", "a,b,f\n1,'x,y',0.5\n# a comment line\n2,'z',1.5\n3,w,2.5\n")
    options = {"quotechar": "'", "comment": "#", "nrows": 2}
    cat = catalog_from(local_yaml("c", "c.csv", options=options, columns=CSV_COLS))
    out = cat.read("c")
    pd.testing.assert_frame_equal(
        out, pd.DataFrame({"a": [1, 2], "b": ["x,y", "z"], "f": [0.5, 1.5]})
    )
    pd.testing.assert_frame_equal(out, pd.read_csv(tmp_path / "c.csv", **options))


def test_csv_write_options(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    cat = catalog_from(
        local_yaml(
            "c",
            "c.csv",
            options={"sep": "|", "na_rep": "NULL", "date_format": "%Y/%m/%d"},
            columns={"d": "datetime64[ns]", "v": "float64"},
        )
    )
    cat.write(
        "c",
        pd.DataFrame({"d": pd.to_datetime(["2024-01-02", "2024-03-04"]), "v": [1.5, np.nan]}),
    )
    assert (tmp_path / "c.csv").read_text() == "d|v\n2024/01/02|1.5\n2024/03/04|NULL\n"


# -------------------------------------------------------------------------------- parquet options


PQ_COLS = {"a": "int64", "t": "datetime64[ns]", "s": "str"}


def pq_frame(n: int = 10) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "a": np.arange(n, dtype="int64"),
            "t": pd.Series(
                pd.date_range("2024-01-01", periods=n, freq="h") + pd.Timedelta(microseconds=1500)
            ).astype("datetime64[ns]"),
            "s": [f"s{i}" for i in range(n)],
        }
    )


@pytest.mark.parametrize("codec", ["snappy", "zstd", "gzip"])
def test_parquet_compression(catalog_from: CatalogFrom, tmp_path: Path, codec: str) -> None:
    cat = catalog_from(
        local_yaml("p", "p.parquet", options={"compression": codec}, columns=PQ_COLS)
    )
    cat.write("p", pq_frame())
    meta = pq.ParquetFile(tmp_path / "p.parquet").metadata
    assert {meta.row_group(0).column(i).compression for i in range(3)} == {codec.upper()}
    pd.testing.assert_frame_equal(cat.read("p"), pq_frame())


def test_parquet_compression_null_means_uncompressed(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    cat = catalog_from(local_yaml("p", "p.parquet", options={"compression": None}, columns=PQ_COLS))
    cat.write("p", pq_frame())
    meta = pq.ParquetFile(tmp_path / "p.parquet").metadata
    assert meta.row_group(0).column(0).compression == "UNCOMPRESSED"


def test_parquet_row_group_size(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    cat = catalog_from(local_yaml("p", "p.parquet", options={"row_group_size": 3}, columns=PQ_COLS))
    cat.write("p", pq_frame(10))
    meta = pq.ParquetFile(tmp_path / "p.parquet").metadata
    assert meta.num_row_groups == 4
    assert [meta.row_group(i).num_rows for i in range(4)] == [3, 3, 3, 1]
    pd.testing.assert_frame_equal(cat.read("p"), pq_frame(10))


def test_parquet_coerce_timestamps_ms(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    cat = catalog_from(
        local_yaml(
            "p",
            "p.parquet",
            options={
                "coerce_timestamps": "ms",
                "allow_truncated_timestamps": True,
                "compression": "snappy",
                "row_group_size": 4,
            },
            columns=PQ_COLS,
        )
    )
    cat.write("p", pq_frame())
    pf = pq.ParquetFile(tmp_path / "p.parquet")
    assert pf.schema_arrow.field("t").type == pa.timestamp("ms")
    assert pf.metadata.num_row_groups == 3
    assert pf.metadata.row_group(0).column(0).compression == "SNAPPY"
    expected = pq_frame()
    expected["t"] = expected["t"].dt.floor("ms")  # 1.5 ms truncated to 1 ms
    out = cat.read("p")
    assert str(out["t"].dtype) == "datetime64[ns]"
    pd.testing.assert_frame_equal(out, expected)


def test_parquet_coerce_timestamps_without_truncation_flag_fails(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    """pyarrow refuses to drop sub-millisecond data silently: a WriteError, nothing written."""
    cat = catalog_from(
        local_yaml("p", "p.parquet", options={"coerce_timestamps": "ms"}, columns=PQ_COLS)
    )
    with pytest.raises(WriteError) as err:
        cat.write("p", pq_frame())
    assert err.value.resource == "p"
    assert not (tmp_path / "p.parquet").exists()
    assert not tmp_files(tmp_path)


def test_parquet_int96_timestamps(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    cat = catalog_from(
        local_yaml(
            "p", "p.parquet", options={"use_deprecated_int96_timestamps": True}, columns=PQ_COLS
        )
    )
    cat.write("p", pq_frame())
    pf = pq.ParquetFile(tmp_path / "p.parquet")
    assert pf.metadata.schema.column(1).physical_type == "INT96"
    pd.testing.assert_frame_equal(cat.read("p"), pq_frame())


def test_unknown_option_is_config_error_at_load(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        catalog_from(
            local_yaml("p", "p.parquet", options={"compresion": "snappy"}, columns=PQ_COLS)
        )
    assert err.value.resource == "p"
    assert err.value.key_path == "p.local.options.compresion"
    assert err.value.file == str(tmp_path / "resources.yaml")
    assert "compresion" in str(err.value)


def test_csv_only_option_on_parquet_is_config_error(catalog_from: CatalogFrom) -> None:
    with pytest.raises(ConfigError) as err:
        catalog_from(local_yaml("p", "p.parquet", options={"sep": ";"}, columns=PQ_COLS))
    assert err.value.key_path == "p.local.options.sep"


def test_unknown_csv_option_is_config_error(catalog_from: CatalogFrom) -> None:
    with pytest.raises(ConfigError) as err:
        catalog_from(local_yaml("c", "c.csv", options={"seperator": ";"}, columns=CSV_COLS))
    assert err.value.key_path == "c.local.options.seperator"
    assert "seperator" in str(err.value)


def test_pandas_no_effect_options_are_accepted(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    cat = catalog_from(
        local_yaml("p", "p.parquet", options={"index": False, "engine": "pyarrow"}, columns=PQ_COLS)
    )
    cat.write("p", pq_frame())
    pd.testing.assert_frame_equal(cat.read("p"), pq_frame())


# ---------------------------------------------------------------------------------- local_batch


BATCH_COLS = {"id": "int64", "part": "str", "v": "float64"}


def batch_frame(start: int, n: int, part: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": np.arange(start, start + n, dtype="int64"),
            "part": [part] * n,
            "v": np.arange(start, start + n) / 4,
        }
    )


def test_local_batch_folder_of_parquet_files(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    root = tmp_path / "lake"
    frames = []
    for k in range(12):
        frame = batch_frame(k * 5, 5, f"p{k:02d}")
        frames.append(frame)
        sub = root / ("nested/deeper" if k % 3 == 0 else "")
        sub.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(sub / f"part-{k:02d}.parquet", index=False)
    # files that must be ignored
    pd.DataFrame({"id": [999], "part": ["csv"], "v": [0.0]}).to_csv(root / "other.csv", index=False)
    (root / "_SUCCESS").write_bytes(b"")
    (root / "_metadata_marker.parquet").write_bytes(b"not parquet")
    batch_frame(500, 1, "hidden").to_parquet(root / ".hidden.parquet", index=False)
    (root / "empty.parquet").write_bytes(b"")
    (root / "notes.txt").write_text("ignore me")
    cat = catalog_from(batch_yaml("b", "parquet", prefix="lake/", columns=BATCH_COLS))
    result = cat.read_result("b")
    assert len(result.info.files) == 12
    assert all(Path(f).name.startswith("part-") for f in result.info.files)
    out = cat.read("b").sort_values("id", ignore_index=True)
    expected = pd.concat(frames, ignore_index=True)
    pd.testing.assert_frame_equal(out, expected)


def test_local_batch_files_with_differing_physical_types(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    """Files written at different times may store a column as int32 or int64: one frame."""
    root = tmp_path / "lake"
    root.mkdir()
    pq.write_table(
        pa.table({"id": pa.array([1, 2], pa.int32()), "part": ["a", "a"], "v": [0.1, 0.2]}),
        root / "a.parquet",
    )
    pq.write_table(
        pa.table({"id": pa.array([3], pa.int64()), "part": ["b"], "v": [0.3]}),
        root / "b.parquet",
    )
    cat = catalog_from(batch_yaml("b", "parquet", prefix="lake", columns=BATCH_COLS))
    out = cat.read("b").sort_values("id", ignore_index=True)
    pd.testing.assert_frame_equal(
        out, pd.DataFrame({"id": [1, 2, 3], "part": ["a", "a", "b"], "v": [0.1, 0.2, 0.3]})
    )


def test_local_batch_glob_with_template(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    layout = {
        "lake/2024/01/a.parquet": batch_frame(0, 3, "2024-01"),
        "lake/2024/02/x/b.parquet": batch_frame(3, 2, "2024-02"),
        "lake/2024/c.parquet": batch_frame(5, 1, "2024"),
        "lake/2023/01/a.parquet": batch_frame(100, 4, "2023"),
    }
    for rel, frame in layout.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(tmp_path / rel, index=False)
    (tmp_path / "lake/2024/01/a.csv").write_text("id,part,v\n999,csv,0\n")
    (tmp_path / "lake/2024/01/_SUCCESS").write_bytes(b"")
    cat = catalog_from(
        batch_yaml("g", "parquet", pattern="lake/{year}/**/*.parquet", columns=BATCH_COLS)
    )
    out = cat.read("g", year=2024).sort_values("id", ignore_index=True)
    pd.testing.assert_frame_equal(out, pd.concat(list(layout.values())[:3], ignore_index=True))
    old = cat.read("g", year="2023")
    pd.testing.assert_frame_equal(old, layout["lake/2023/01/a.parquet"])


def test_local_batch_glob_without_template(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    for k in range(3):
        (tmp_path / f"d/{k}").mkdir(parents=True)
        batch_frame(k, 1, str(k)).to_parquet(tmp_path / f"d/{k}/f.parquet", index=False)
    cat = catalog_from(batch_yaml("g", "parquet", pattern="d/*/f.parquet", columns=BATCH_COLS))
    assert cat.read("g")["id"].tolist() == [0, 1, 2]


def test_local_batch_csv_folder(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    root = tmp_path / "csvs"
    root.mkdir()
    frames = [batch_frame(k * 2, 2, f"c{k}") for k in range(4)]
    for k, frame in enumerate(frames):
        frame.to_csv(root / f"f{k}.csv", index=False)
    frames[0].to_parquet(root / "ignored.parquet", index=False)
    (root / "_SUCCESS").write_bytes(b"")
    (root / "empty.csv").write_bytes(b"")
    cat = catalog_from(batch_yaml("b", "csv", prefix="csvs/", columns=BATCH_COLS))
    out = cat.read("b").sort_values("id", ignore_index=True)
    pd.testing.assert_frame_equal(out, pd.concat(frames, ignore_index=True))


def test_local_batch_no_files_is_read_error(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    (tmp_path / "empty_lake").mkdir()
    (tmp_path / "empty_lake/_SUCCESS").write_bytes(b"")
    (tmp_path / "empty_lake/data.csv").write_text("id\n1\n")
    cat = catalog_from(
        batch_yaml("b", "parquet", prefix="empty_lake/", columns=BATCH_COLS)
        + batch_yaml("missing", "parquet", prefix="nowhere/", columns=BATCH_COLS)
        + batch_yaml("g", "parquet", pattern="empty_lake/**/*.parquet", columns=BATCH_COLS)
        + batch_yaml("only_empty", "csv", prefix="empty_only/", columns=BATCH_COLS)
    )
    (tmp_path / "empty_only").mkdir()
    (tmp_path / "empty_only/a.csv").write_bytes(b"")
    for name, where in [
        ("b", "empty_lake"),
        ("missing", "nowhere"),
        ("g", "empty_lake/**/*.parquet"),
        ("only_empty", "empty_only"),
    ]:
        with pytest.raises(ReadError) as err:
            cat.read(name)
        assert err.value.resource == name
        assert err.value.file is not None
        assert where in err.value.file
        assert where in str(err.value)


def test_partitioned_write_creates_hive_folders(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    cat = catalog_from(
        batch_yaml(
            "ds", "parquet", prefix="ds/", options={"partition_cols": ["part"]}, columns=BATCH_COLS
        )
    )
    df = pd.concat([batch_frame(0, 3, "a"), batch_frame(3, 2, "b")], ignore_index=True)
    info = cat.write("ds", df).info
    assert sorted(p.name for p in (tmp_path / "ds").iterdir()) == ["part=a", "part=b"]
    assert sorted(str(Path(f).relative_to(tmp_path / "ds")) for f in info.files) == [
        "part=a/part-00000.parquet",
        "part=b/part-00000.parquet",
    ]
    assert info.rows == 5
    # partition values live in folder names, not in the files
    part_a = pq.ParquetFile(tmp_path / "ds/part=a/part-00000.parquet").read()  # the file alone
    assert part_a.column_names == ["id", "v"]
    assert part_a.column("id").to_pylist() == [0, 1, 2]
    assert not tmp_files(tmp_path)


def test_partitioned_write_reads_back_with_partition_column(catalog_from: CatalogFrom) -> None:
    """Reading a hive-partitioned dataset gives the partition column back from folder names."""
    cat = catalog_from(
        batch_yaml(
            "ds", "parquet", prefix="ds/", options={"partition_cols": ["part"]}, columns=BATCH_COLS
        )
    )
    df = pd.concat([batch_frame(0, 3, "a"), batch_frame(3, 2, "b")], ignore_index=True)
    cat.write("ds", df)
    out = cat.read("ds").sort_values("id", ignore_index=True)
    pd.testing.assert_frame_equal(out, df)


def test_partitioned_read_back_with_explicit_hive_partitioning(catalog_from: CatalogFrom) -> None:
    cat = catalog_from(
        batch_yaml(
            "ds",
            "parquet",
            prefix="ds/",
            options={"partition_cols": ["part"], "hive_partitioning": True},
            columns=BATCH_COLS,
        )
    )
    df = pd.concat([batch_frame(0, 3, "a"), batch_frame(3, 2, "b")], ignore_index=True)
    cat.write("ds", df)
    out = cat.read("ds").sort_values("id", ignore_index=True)
    pd.testing.assert_frame_equal(out, df)
    only_b = cat.read("ds", filters=[("part", "==", "b")])
    assert only_b["id"].tolist() == [3, 4]


def test_partitioned_read_back_has_all_rows(catalog_from: CatalogFrom) -> None:
    """Whatever happens to the partition column, no row is lost."""
    cat = catalog_from(
        batch_yaml(
            "ds", "parquet", prefix="ds/", options={"partition_cols": ["part"]}, columns=BATCH_COLS
        )
        + batch_yaml("all", "parquet", prefix="ds/", columns={"id": "int64", "v": "float64"})
    )
    df = pd.concat([batch_frame(0, 3, "a"), batch_frame(3, 2, "b")], ignore_index=True)
    cat.write("ds", df)
    out = cat.read("all").sort_values("id", ignore_index=True)
    pd.testing.assert_frame_equal(out, df[["id", "v"]])


def test_partition_cols_outside_schema_is_write_error(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    cat = catalog_from(
        batch_yaml(
            "ds",
            "parquet",
            prefix="ds/",
            options={"partition_cols": ["part"]},
            columns={"id": "int64", "v": "float64"},
        )
    )
    with pytest.raises(WriteError) as err:
        cat.write("ds", batch_frame(0, 2, "a"))
    assert "part" in str(err.value)
    assert err.value.resource == "ds"
    assert not (tmp_path / "ds").exists()
    assert not tmp_files(tmp_path)


def test_write_to_local_batch_replaces_old_dataset(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    cat = catalog_from(
        batch_yaml(
            "ds", "parquet", prefix="ds/", options={"partition_cols": ["part"]}, columns=BATCH_COLS
        )
        + batch_yaml("flat", "parquet", prefix="flat/", columns=BATCH_COLS)
    )
    cat.write("ds", pd.concat([batch_frame(0, 2, "a"), batch_frame(2, 2, "old")]))
    cat.write("ds", batch_frame(10, 3, "new"))
    assert sorted(p.name for p in (tmp_path / "ds").iterdir()) == ["part=new"]
    cat.write("flat", batch_frame(0, 5, "x"))
    (tmp_path / "flat/stray.parquet").write_bytes(b"junk")
    cat.write("flat", batch_frame(7, 1, "y"))
    assert sorted(p.name for p in (tmp_path / "flat").iterdir()) == ["part-00000.parquet"]
    pd.testing.assert_frame_equal(cat.read("flat"), batch_frame(7, 1, "y"))
    assert not tmp_files(tmp_path)


def test_failed_local_batch_write_keeps_old_dataset(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    cols = {
        **BATCH_COLS,
        "v": {
            "type": "float64",
            "validations": {"is_greater_than_or_equal": {"options": {"threshold": 0}}},
        },
    }
    cat = catalog_from(
        batch_yaml(
            "ds", "parquet", prefix="ds/", options={"partition_cols": ["part"]}, columns=cols
        )
    )
    cat.write("ds", batch_frame(0, 4, "a"))
    before = all_files(tmp_path / "ds")
    bad = batch_frame(10, 2, "b").assign(v=[-1.0, 1.0])
    with pytest.raises(ValidationError):
        cat.write("ds", bad)
    with pytest.raises(CastError):
        cat.write("ds", batch_frame(10, 2, "b").assign(id=[1.5, 2.0]))
    # a partition value that cannot be a folder name fails inside the sink
    with pytest.raises(WriteError) as err:
        cat.write("ds", batch_frame(10, 2, "x/y"))
    assert err.value.resource == "ds"
    assert all_files(tmp_path / "ds") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "resources.yaml"]


def test_local_batch_unpartitioned_round_trip(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    cat = catalog_from(batch_yaml("ds", "csv", prefix="out/ds", columns=BATCH_COLS))
    df = batch_frame(0, 6, "z")
    cat.write("ds", df)
    assert [p.name for p in (tmp_path / "out/ds").iterdir()] == ["part-00000.csv"]
    pd.testing.assert_frame_equal(cat.read("ds"), df)


def test_cannot_write_to_glob(catalog_from: CatalogFrom) -> None:
    cat = catalog_from(batch_yaml("g", "parquet", pattern="d/*.parquet", columns=BATCH_COLS))
    with pytest.raises(WriteError) as err:
        cat.write("g", batch_frame(0, 1, "a"))
    assert err.value.resource == "g"
    assert "glob" in str(err.value)


# ------------------------------------------------------------------------- projection and filters


FILTER_COLS = {
    "id": "int64",
    "name": "str",
    "score": "float64",
    "when": "datetime64[ns]",
    "flag": "bool",
}


def filter_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": np.arange(1, 11, dtype="int64"),
            "name": pd.Series(["a", "b", None, "d", "e", "f", None, "h", "i", "j"], dtype="str"),
            "score": [0.5, 1.5, np.nan, 3.5, 4.5, 5.5, 6.5, np.nan, 8.5, 9.5],
            "when": pd.Series(pd.date_range("2024-01-01", periods=10, freq="D")).astype(
                "datetime64[ns]"
            ),
            "flag": [True, False] * 5,
        }
    )


@pytest.fixture
def filter_cat(catalog_from: CatalogFrom) -> dynio.Catalog:
    cat = catalog_from(
        local_yaml("f", "f.parquet", options={"row_group_size": 2}, columns=FILTER_COLS)
        + local_yaml("c", "f.csv", columns=FILTER_COLS)
    )
    cat.write("f", filter_frame())
    cat.write("c", filter_frame())
    return cat


def expect_rows(mask: Any, columns: list[str] | None = None) -> pd.DataFrame:
    df = filter_frame()
    out = df[mask(df)].reset_index(drop=True)
    return out[columns] if columns is not None else out


@pytest.mark.parametrize("name", ["f", "c"])
def test_projection_subset_in_requested_order(filter_cat: dynio.Catalog, name: str) -> None:
    out = filter_cat.read(name, columns=["score", "id"])
    pd.testing.assert_frame_equal(out, filter_frame()[["score", "id"]])


def test_projection_unknown_column_is_schema_error(filter_cat: dynio.Catalog) -> None:
    with pytest.raises(SchemaError) as err:
        filter_cat.read("f", columns=["id", "nope"])
    assert err.value.column == "nope"
    assert err.value.resource == "f"
    assert "nope" in str(err.value)


def test_projection_columns_must_be_a_list(filter_cat: dynio.Catalog) -> None:
    with pytest.raises(SchemaError):
        filter_cat.read("f", columns="id")


@pytest.mark.parametrize("name", ["f", "c"])
@pytest.mark.parametrize(
    ("filters", "mask"),
    [
        ([("id", ">", 3), ("flag", "==", True)], lambda d: (d.id > 3) & d.flag),
        ([("id", "=", 4)], lambda d: d.id == 4),
        ([("id", "!=", 4), ("id", "<=", 5)], lambda d: (d.id != 4) & (d.id <= 5)),
        ([("id", ">=", 9)], lambda d: d.id >= 9),
        ([[("id", "<", 2)], [("id", ">", 9)]], lambda d: (d.id < 2) | (d.id > 9)),
        (
            [[("id", "<", 4), ("flag", "==", False)], [("name", "==", "h")]],
            lambda d: ((d.id < 4) & ~d.flag) | (d.name == "h"),
        ),
        ([("name", "in", ["a", "d", "zz"])], lambda d: d.name.isin(["a", "d"])),
        ([("id", "not in", [1, 2, 3])], lambda d: ~d.id.isin([1, 2, 3])),
        ([("name", "is null")], lambda d: d.name.isna()),
        (
            [("name", "is not null"), ("score", "is null")],
            lambda d: d.name.notna() & d.score.isna(),
        ),
        ([("when", ">=", "2024-01-08")], lambda d: d.when >= pd.Timestamp("2024-01-08")),
        (
            [("when", ">", "2024-01-03 12:00:00"), ("when", "<", "2024-01-06")],
            lambda d: (
                (d.when > pd.Timestamp("2024-01-03 12:00")) & (d.when < pd.Timestamp("2024-01-06"))
            ),
        ),
        ([("when", "in", ["2024-01-02", "2024-01-05"])], lambda d: d.id.isin([2, 5])),
        ([("score", ">", "5")], lambda d: d.score > 5),
    ],
)
def test_tuple_filters(filter_cat: dynio.Catalog, name: str, filters: Any, mask: Any) -> None:
    expected = csv_text(expect_rows(mask)) if name == "c" else expect_rows(mask)
    pd.testing.assert_frame_equal(filter_cat.read(name, filters=filters), expected)


@pytest.mark.parametrize(
    ("expr", "mask"),
    [
        (pl.col("id") > 7, lambda d: d.id > 7),
        ((pl.col("score") < 2) | pl.col("name").is_null(), lambda d: (d.score < 2) | d.name.isna()),
        (pl.col("when").dt.day() == 3, lambda d: d.id == 3),
        (pl.col("name").str.contains("^[a-d]$"), lambda d: d.name.isin(["a", "b", "d"])),
    ],
)
def test_polars_expression_filters(filter_cat: dynio.Catalog, expr: pl.Expr, mask: Any) -> None:
    pd.testing.assert_frame_equal(filter_cat.read("f", filters=expr), expect_rows(mask))


def test_filter_on_column_outside_projection(filter_cat: dynio.Catalog) -> None:
    out = filter_cat.read("f", columns=["id"], filters=[("score", ">", 5)])
    pd.testing.assert_frame_equal(out, expect_rows(lambda d: d.score > 5, ["id"]))


def test_filter_matching_nothing_keeps_dtypes(filter_cat: dynio.Catalog) -> None:
    out = filter_cat.read("f", filters=[("id", ">", 100)])
    assert len(out) == 0
    pd.testing.assert_frame_equal(out, filter_frame().iloc[:0])


@pytest.mark.parametrize(
    "bad",
    [
        [("id", "~", 3)],
        [("id", "in", 3)],
        [("id", "==", None)],
        "id > 3",
    ],
)
def test_malformed_filters_are_dynio_errors(filter_cat: dynio.Catalog, bad: Any) -> None:
    with pytest.raises(dynio.DynioError) as err:
        filter_cat.read("f", filters=bad)
    assert err.value.resource == "f"


def test_filters_from_yaml_options(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    filter_frame().to_parquet(tmp_path / "f.parquet", index=False)
    cat = catalog_from(
        local_yaml(
            "f",
            "f.parquet",
            options={"columns": ["id", "name"], "filters": [["id", ">", 8]]},
            columns=FILTER_COLS,
        )
    )
    pd.testing.assert_frame_equal(cat.read("f"), expect_rows(lambda d: d.id > 8, ["id", "name"]))
    # call arguments win over the YAML options
    pd.testing.assert_frame_equal(
        cat.read("f", columns=["id"], filters=[("id", "<", 2)]),
        expect_rows(lambda d: d.id < 2, ["id"]),
    )


def test_scan_pushes_predicate_into_parquet_scan(filter_cat: dynio.Catalog) -> None:
    lf = filter_cat.scan("f", columns=["id", "when"], filters=[("id", ">", 4)])
    assert isinstance(lf, pl.LazyFrame)
    plan = lf.explain()
    scan_part = plan[plan.index("Parquet SCAN") :]
    assert "SELECTION" in scan_part
    assert 'col("id")' in scan_part.split("SELECTION", 1)[1]
    assert "FILTER" not in plan
    assert "PROJECT 2/5 COLUMNS" in scan_part
    got = lf.collect()
    assert got.schema == pl.Schema({"id": pl.Int64, "when": pl.Datetime("ns")})
    assert got["id"].to_list() == [5, 6, 7, 8, 9, 10]


def test_scan_pushes_datetime_string_filter(filter_cat: dynio.Catalog) -> None:
    lf = filter_cat.scan("f", filters=[("when", "<", "2024-01-03")])
    plan = lf.explain()
    assert "SELECTION" in plan[plan.index("Parquet SCAN") :]
    assert lf.collect()["id"].to_list() == [1, 2]


def test_scan_collected_has_schema_dtypes(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    # the file stores narrower / different types than the schema asks for
    pq.write_table(
        pa.table(
            {
                "i": pa.array([1, 2], pa.int32()),
                "f": pa.array([1, 2], pa.int16()),
                "s": pa.array(["x", None], pa.large_string()),
                "b": pa.array([True, False]),
                "t": pa.array([1_700_000_000_000_000, 0], pa.timestamp("us")),
                "tz": pa.array([1, 2], pa.timestamp("ms", "UTC")),
                "c": pa.array(["u", "v"]),
                "n": pa.array([1, None], pa.int8()),
            }
        ),
        tmp_path / "s.parquet",
    )
    cat = catalog_from(local_yaml("s", "s.parquet", columns=FULL_COLUMNS))
    lf = cat.scan("s", filters=pl.col("i") >= 1)
    got = lf.collect()
    assert dict(got.schema) == {
        "i": pl.Int64(),
        "f": pl.Float64(),
        "s": pl.String(),
        "b": pl.Boolean(),
        "t": pl.Datetime("ns"),
        "tz": pl.Datetime("ns", "UTC"),
        "c": pl.Categorical(),
        "n": pl.Int64(),
    }
    assert "SELECTION" in lf.explain()[lf.explain().index("Parquet SCAN") :]
    # the pandas read agrees
    out = cat.read("s")
    assert out.dtypes.astype(str).to_dict() == {
        "i": "int64",
        "f": "float64",
        "s": TEXT_DTYPE,
        "b": "bool",
        "t": "datetime64[ns]",
        "tz": "datetime64[ns, UTC]",
        "c": "category",
        "n": "Int64",
    }


def test_datetime_filter_pushed_into_scan_of_pandas_written_file(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    """pandas 3 writes microsecond timestamps; the schema asks for ns. The filter on the
    timestamp column must still reach the parquet scan (row-group pruning), not sit in a
    FILTER above the cast."""
    when = pd.date_range("2024-01-01", periods=6, freq="D").astype("datetime64[us]")
    df = pd.DataFrame({"id": np.arange(6), "when": when})
    df.to_parquet(tmp_path / "p.parquet", index=False, row_group_size=2)
    cat = catalog_from(
        local_yaml("p", "p.parquet", columns={"id": "int64", "when": "datetime64[ns]"})
    )
    lf = cat.scan("p", filters=[("when", ">=", "2024-01-05")])
    plan = lf.explain()
    scan_part = plan[plan.index("Parquet SCAN") :]
    assert "SELECTION" in scan_part
    assert 'col("when")' in scan_part.split("SELECTION", 1)[1]
    assert "FILTER" not in plan
    got = lf.collect()
    assert got["id"].to_list() == [4, 5]
    assert got.schema["when"] == pl.Datetime("ns")


def test_in_filter_with_mixed_datetime_spellings(catalog_from: CatalogFrom) -> None:
    """Each literal of an ``in`` list converts on its own, as a single comparison's does."""
    cat = catalog_from(
        local_yaml("z", "z.parquet", columns={"id": "int64", "tz": "datetime64[ns, UTC]"})
    )
    cat.write(
        "z",
        pd.DataFrame({"id": [1, 2, 3], "tz": pd.date_range("2024-01-01", periods=3, tz="UTC")}),
    )
    assert cat.read("z", filters=[("tz", ">=", "2024-01-03T00:00:00+00:00")])["id"].tolist() == [3]
    assert cat.read("z", filters=[("tz", "==", "2024-01-02")])["id"].tolist() == [2]
    out = cat.read("z", filters=[("tz", "in", ["2024-01-02", "2024-01-03T00:00:00+00:00"])])
    assert out["id"].tolist() == [2, 3]


def test_read_result_records_pushed_filter_and_projection(filter_cat: dynio.Catalog) -> None:
    result = filter_cat.read_result("f", columns=["id"], filters=[("id", ">", 8)])
    assert result.info.columns == ("id",)
    assert result.info.filters_pushed is not None
    assert "id" in result.info.filters_pushed
    assert result.info.filters_residual is None
    assert result.frame["id"].to_list() == [9, 10]


# --------------------------------------------------------------------------------- template paths


def test_template_path_write_and_read(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    cat = catalog_from(local_yaml("d", "data/{day}.parquet", columns={"day": "str", "v": "int64"}))
    for day, v in [("2024-01-01", 1), ("2024-01-02", 2)]:
        cat.write("d", pd.DataFrame({"day": [day], "v": [v]}), day=day)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [
        "2024-01-01.parquet",
        "2024-01-02.parquet",
    ]
    res = cat.resource("d")
    first = res.read(day="2024-01-01")
    second = res.read(day="2024-01-02")
    again = res.read(day="2024-01-01")
    pd.testing.assert_frame_equal(first, pd.DataFrame({"day": ["2024-01-01"], "v": [1]}))
    pd.testing.assert_frame_equal(second, pd.DataFrame({"day": ["2024-01-02"], "v": [2]}))
    pd.testing.assert_frame_equal(again, first)
    pd.testing.assert_frame_equal(cat.read("d", day="2024-01-02"), second)
    # the spec still holds the template
    assert res.spec.source.settings["file_path"] == "data/{day}.parquet"


def test_template_path_several_fields(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    cat = catalog_from(
        local_yaml("d", "{region}/{year}/{region}-{year}.csv", columns={"v": "int64"})
    )
    cat.write("d", pd.DataFrame({"v": [1]}), region="eu", year=2024)
    assert (tmp_path / "eu/2024/eu-2024.csv").read_text() == "v\n1\n"
    assert cat.read("d", region="eu", year=2024)["v"].tolist() == [1]


def test_template_missing_value_is_template_error(catalog_from: CatalogFrom) -> None:
    from dynio.errors import TemplateError

    cat = catalog_from(local_yaml("d", "data/{day}.parquet", columns={"v": "int64"}))
    with pytest.raises(TemplateError) as err:
        cat.read("d")
    assert "{day}" in str(err.value)
    assert err.value.resource == "d"
    with pytest.raises(TemplateError) as err2:
        cat.read("d", day="x", dya="typo")
    assert "dya" in str(err2.value)
    with pytest.raises(TemplateError):
        cat.write("d", pd.DataFrame({"v": [1]}), day="../../escape")


# ------------------------------------------------------------------------------------------ errors


def test_missing_file_is_read_error(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    cat = catalog_from(local_yaml("gone", "nope/missing.parquet", columns={"a": "int64"}))
    with pytest.raises(ReadError) as err:
        cat.read("gone")
    assert err.value.resource == "gone"
    assert err.value.env == "local"
    assert err.value.file == str(tmp_path / "nope/missing.parquet")
    assert "missing.parquet" in str(err.value)
    assert "'gone'" in str(err.value)


def test_folder_instead_of_file_is_read_error(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    (tmp_path / "dir.parquet").mkdir()
    cat = catalog_from(local_yaml("d", "dir.parquet", columns={"a": "int64"}))
    with pytest.raises(ReadError) as err:
        cat.read("d")
    assert "folder" in str(err.value)


@pytest.mark.parametrize("file_type", ["parquet", "csv", "ipc", "json"])
def test_schema_column_missing_from_file(
    catalog_from: CatalogFrom, tmp_path: Path, file_type: str
) -> None:
    ext = FORMAT_EXT[file_type]
    writer = catalog_from(
        local_yaml("w", f"d.{ext}", file_type, columns={"a": "int64", "b": "str"}),
        name="writer.yaml",
    )
    writer.write("w", pd.DataFrame({"a": [1], "b": ["x"]}))
    cat = catalog_from(
        local_yaml(
            "r", f"d.{ext}", file_type, columns={"a": "int64", "b": "str", "zeta": "float64"}
        )
    )
    with pytest.raises(SchemaError) as err:
        cat.read("r")
    assert err.value.column == "zeta"
    assert err.value.resource == "r"
    assert err.value.file == str(tmp_path / f"d.{ext}")
    assert "zeta" in str(err.value)
    assert f"d.{ext}" in str(err.value)


@pytest.mark.parametrize(
    ("ext", "file_type"), [("parquet", "parquet"), ("feather", "ipc"), ("json", "json")]
)
def test_corrupted_file_is_read_error(
    catalog_from: CatalogFrom, tmp_path: Path, ext: str, file_type: str
) -> None:
    rng = np.random.default_rng(7)
    (tmp_path / f"bad.{ext}").write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    cat = catalog_from(local_yaml("bad", f"bad.{ext}", file_type, columns={"a": "int64"}))
    with pytest.raises(ReadError) as err:
        cat.read("bad")
    assert err.value.resource == "bad"
    assert err.value.file == str(tmp_path / f"bad.{ext}")
    assert f"bad.{ext}" in str(err.value)


def test_truncated_parquet_is_read_error(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    cat = catalog_from(local_yaml("t", "t.parquet", columns=FULL_COLUMNS))
    cat.write("t", full_frame())
    data = (tmp_path / "t.parquet").read_bytes()
    (tmp_path / "t.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(ReadError) as err:
        cat.read("t")
    assert err.value.file == str(tmp_path / "t.parquet")


def test_corrupted_file_in_batch_is_read_error(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    root = tmp_path / "lake"
    root.mkdir()
    batch_frame(0, 2, "a").to_parquet(root / "a.parquet", index=False)
    (root / "b.parquet").write_bytes(b"PAR1 definitely not parquet PAR1")
    cat = catalog_from(batch_yaml("b", "parquet", prefix="lake/", columns=BATCH_COLS))
    with pytest.raises(ReadError) as err:
        cat.read("b")
    assert err.value.resource == "b"
    assert err.value.file is not None
    assert "lake" in err.value.file


def test_cast_error_on_read_names_file_column_and_values(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    write_text(tmp_path / "c.csv", "a,b\n1,x\n2.5,y\nabc,z\n")
    cat = catalog_from(local_yaml("c", "c.csv", columns={"a": "int64", "b": "str"}))
    with pytest.raises(CastError) as err:
        cat.read("c")
    assert err.value.column == "a"
    assert err.value.file == str(tmp_path / "c.csv")
    assert err.value.values == ["2.5", "abc"]


def test_csv_whole_floats_read_into_int_schema(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    write_text(tmp_path / "c.csv", "a,b\n1,x\n2.0,y\n")
    cat = catalog_from(local_yaml("c", "c.csv", columns={"a": "int64", "b": "str"}))
    assert cat.read("c")["a"].tolist() == [1, 2]
    assert cat.read("c")["a"].dtype == np.dtype("int64")


# ---------------------------------------------------------------------------- repeat and async


def test_same_resource_read_twice_is_equal(filter_cat: dynio.Catalog) -> None:
    res = filter_cat.resource("f")
    first = res.read(filters=[("id", ">", 3)], columns=["id", "name"])
    second = res.read(filters=[("id", ">", 3)], columns=["id", "name"])
    pd.testing.assert_frame_equal(first, second)
    pd.testing.assert_frame_equal(filter_cat.read("f"), filter_cat.read("f"))
    pd.testing.assert_frame_equal(filter_cat.read("f"), filter_frame())
    # options filters/columns of one call do not stick to the resource
    pd.testing.assert_frame_equal(res.read(), filter_frame())


def test_read_does_not_return_shared_buffers(filter_cat: dynio.Catalog) -> None:
    first = filter_cat.read("f")
    first.loc[0, "id"] = -1
    assert filter_cat.read("f").loc[0, "id"] == 1


def test_async_reads_and_writes_with_gather(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    names = {"p": "parquet", "c": "csv", "j": "json", "n": "ndjson", "i": "ipc"}
    cat = catalog_from(
        "".join(
            local_yaml(n, f"async/{n}.{FORMAT_EXT[ft]}", ft, columns=FULL_COLUMNS)
            for n, ft in names.items()
        )
    )
    frames = {n: full_frame().iloc[k:].reset_index(drop=True) for k, n in enumerate(names)}

    async def run() -> list[pd.DataFrame]:
        results = await asyncio.gather(*(cat.write_async(n, frames[n]) for n in names))
        assert [r.info.rows for r in results] == [4, 3, 2, 1, 0]
        return list(await asyncio.gather(*(cat.read_async(n) for n in names)))

    outs = asyncio.run(run())
    for n, out in zip(names, outs, strict=True):
        expected = frames[n]
        if len(expected) == 0:
            assert len(out) == 0
            assert list(out.columns) == list(FULL_COLUMNS)
            continue
        # categories come back as the values present in that file; their order is the subject
        # of test_category_categories_are_sorted, not of this test
        expected = expected.assign(c=expected["c"].cat.remove_unused_categories())
        if names[n] == "csv":
            expected = csv_text(expected)
        pd.testing.assert_frame_equal(out, expected, check_categorical=False)
    assert not tmp_files(tmp_path)


def test_async_read_with_columns_filters_and_templates(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    cat = catalog_from(local_yaml("d", "d/{day}.parquet", columns={"id": "int64", "v": "str"}))
    for day in range(3):
        cat.write("d", pd.DataFrame({"id": [day, day + 10], "v": ["a", "b"]}), day=day)

    async def run() -> list[pd.DataFrame]:
        return list(
            await asyncio.gather(
                *(cat.read_async("d", ["id"], [("id", ">=", 10)], day=day) for day in range(3))
            )
        )

    outs = asyncio.run(run())
    assert [o["id"].tolist() for o in outs] == [[10], [11], [12]]
    assert all(list(o.columns) == ["id"] for o in outs)


def test_async_read_error_propagates(catalog_from: CatalogFrom) -> None:
    cat = catalog_from(local_yaml("gone", "missing.parquet", columns={"a": "int64"}))
    with pytest.raises(ReadError):
        asyncio.run(cat.read_async("gone"))


# ----------------------------------------------------------------------------------- dtype backends


BACKEND_COLS = {
    "i": "int64",
    "f": "float64",
    "s": "str",
    "b": "bool",
    "t": "datetime64[ns]",
    "n": "int64",
    "nb": "bool",
}


@pytest.fixture
def backend_cat(catalog_from: CatalogFrom) -> dynio.Catalog:
    cat = catalog_from(local_yaml("b", "b.parquet", columns=BACKEND_COLS))
    cat.write(
        "b",
        pl.DataFrame(
            {
                "i": [1, 2, 3],
                "f": [0.5, None, 1.5],
                "s": ["x", None, "z"],
                "b": [True, False, True],
                "t": pl.Series([0, 1, 2]).cast(pl.Datetime("ns")),
                "n": [1, None, 3],
                "nb": [True, None, False],
            }
        ),
    )
    return cat


def test_numpy_backend_follows_pandas_reader(backend_cat: dynio.Catalog, tmp_path: Path) -> None:
    out = backend_cat.read("b")
    assert out.dtypes.astype(str).to_dict() == {
        "i": "int64",
        "f": "float64",
        "s": TEXT_DTYPE,
        "b": "bool",
        "t": "datetime64[ns]",
        "n": "float64",  # an int64 column with nulls reads as float64, as pd.read_parquet gives
        "nb": "object",  # a bool column with nulls reads as object, as pd.read_parquet gives
    }
    pd.testing.assert_frame_equal(out, pd.read_parquet(tmp_path / "b.parquet"))


def test_pyarrow_backend(backend_cat: dynio.Catalog, tmp_path: Path) -> None:
    out = backend_cat.read("b", dtype_backend="pyarrow")
    assert all(isinstance(dt, pd.ArrowDtype) for dt in out.dtypes)
    assert out["i"].dtype == pd.ArrowDtype(pa.int64())
    assert out["f"].dtype == pd.ArrowDtype(pa.float64())
    assert out["b"].dtype == pd.ArrowDtype(pa.bool_())
    assert out["t"].dtype == pd.ArrowDtype(pa.timestamp("ns"))
    assert out["s"].dtype.pyarrow_dtype in (pa.string(), pa.large_string())
    assert out["n"].tolist()[0] == 1
    assert out["n"].isna().tolist() == [False, True, False]
    assert out["nb"].isna().tolist() == [False, True, False]
    reference = pd.read_parquet(tmp_path / "b.parquet", dtype_backend="pyarrow")
    pd.testing.assert_frame_equal(out, reference, check_dtype=False)


def test_numpy_nullable_backend(backend_cat: dynio.Catalog, tmp_path: Path) -> None:
    out = backend_cat.read("b", dtype_backend="numpy_nullable")
    assert out["i"].dtype == pd.Int64Dtype()
    assert out["f"].dtype == pd.Float64Dtype()
    # text: StringDtype on pandas 3; pandas 2.2 maps Arrow large_string (Polars' text) to object,
    # and the comparison with pandas' own read below holds dynio to that
    assert out["b"].dtype == pd.BooleanDtype()
    assert out["t"].dtype == np.dtype("datetime64[ns]")
    assert out["n"].dtype == pd.Int64Dtype()
    assert out["nb"].dtype == pd.BooleanDtype()
    assert out["n"].isna().tolist() == [False, True, False]
    assert out["f"].isna().tolist() == [False, True, False]
    reference = pd.read_parquet(tmp_path / "b.parquet", dtype_backend="numpy_nullable")
    pd.testing.assert_frame_equal(out, reference)


def test_invalid_dtype_backend(backend_cat: dynio.Catalog) -> None:
    # refused before anything is read, naming the resource
    with pytest.raises(dynio.DynioError, match="dtype_backend") as info:
        backend_cat.read("b", dtype_backend="arrow")  # type: ignore[arg-type]
    assert info.value.resource == "b"


def test_schema_extension_dtypes_with_numpy_backend(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    cols = {
        "n": "Int64",
        "n32": "Int32",
        "fl": "Float64",
        "bo": "boolean",
        "st": "string",
        "s": "str",
    }
    pq.write_table(
        pa.table(
            {
                "n": pa.array([1, None, 3], pa.int64()),
                "n32": pa.array([1, 2, None], pa.int32()),
                "fl": pa.array([0.5, None, 1.0]),
                "bo": pa.array([True, None, False]),
                "st": pa.array(["a", None, "c"]),
                "s": pa.array(["a", None, "c"]),
            }
        ),
        tmp_path / "e.parquet",
    )
    cat = catalog_from(local_yaml("e", "e.parquet", columns=cols))
    out = cat.read("e")
    assert out["n"].dtype == pd.Int64Dtype()
    assert out["n32"].dtype == pd.Int32Dtype()
    assert out["fl"].dtype == pd.Float64Dtype()
    assert out["bo"].dtype == pd.BooleanDtype()
    assert out["st"].dtype == pd.StringDtype()
    assert str(out["s"].dtype) == TEXT_DTYPE
    expected = pd.DataFrame(
        {
            "n": pd.array([1, None, 3], dtype="Int64"),
            "n32": pd.array([1, 2, None], dtype="Int32"),
            "fl": pd.array([0.5, None, 1.0], dtype="Float64"),
            "bo": pd.array([True, None, False], dtype="boolean"),
            "st": pd.array(["a", None, "c"], dtype="string"),
            "s": pd.Series(["a", None, "c"], dtype="str"),
        }
    )
    pd.testing.assert_frame_equal(out, expected)
    # the same extension dtypes survive a write and a read back in another format
    cat2 = catalog_from(local_yaml("e2", "e2.csv", columns=cols), name="second.yaml")
    cat2.write("e2", out)
    pd.testing.assert_frame_equal(cat2.read("e2"), csv_text(expected))


def test_json_epoch_dates_round_trip(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    """pandas' ``date_format: epoch`` (integers in ``date_unit``) is written and read back."""
    cat = catalog_from(
        """
        j:
          local:
            type: local
            local: {file_path: j.json, file_type: json}
            options: {date_format: epoch, date_unit: s, orient: columns}
          schema:
            columns: {t: {type: "datetime64[ns]"}, d: {type: date}, x: {type: int64}}
        """
    )
    frame = pd.DataFrame(
        {
            "t": pd.to_datetime(["2024-01-01 10:00:00", "2024-01-02 00:00:05"]).astype(
                "datetime64[ns]"
            ),
            "d": [dt.date(2024, 1, 2), dt.date(2024, 1, 3)],
            "x": [1, 2],
        }
    )
    cat.write("j", frame)
    raw = json.loads((tmp_path / "j.json").read_text())
    assert raw["t"] == {"0": 1704103200, "1": 1704153605}
    assert raw["d"] == {"0": 1704153600, "1": 1704240000}
    pd.testing.assert_frame_equal(cat.read("j"), frame)


def test_a_value_naming_an_encoding_is_still_a_cast_error(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    # "utf8" is data here, not the reader saying the bytes are not UTF-8
    write_text(tmp_path / "c.csv", "a,b,f\n1,x,0.5\nutf8,y,1.5\n")
    cat = catalog_from(local_yaml("c", "c.csv", columns=CSV_COLS))
    with pytest.raises(CastError) as err:
        cat.read("c")
    assert err.value.column == "a"
    assert "utf8" in str(err.value)


def test_json_epoch_dates_of_any_year(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    # 9999-12-31 (a common "no end" sentinel) lies outside nanosecond timestamps
    cat = catalog_from(
        local_yaml("j", "j.json", "json", options={"date_format": "epoch"}, columns={"d": "date"})
    )
    cat.write("j", pd.DataFrame({"d": [dt.date(9999, 12, 31), dt.date(1600, 1, 1)]}))
    assert cat.read("j")["d"].tolist() == [dt.date(9999, 12, 31), dt.date(1600, 1, 1)]
