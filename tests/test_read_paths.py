"""The two read paths of a parquet read into pandas give the same frame, for every writer.

A plain read of one local parquet file into pandas may take pyarrow's reader (the ``arrow``
path, :mod:`dynio.engine.read_path`) instead of Polars' scan (the ``polars`` path). Files
written by pandas, pyarrow, Polars and DuckDB are read by both paths (``options.read_path``
forces one) in each ``dtype_backend``; the frames must be equal to each other, and with the
default backend to ``pd.read_parquet``'s, values, dtypes, index and column order.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fixtures.otel import OtelCapture
from fixtures.writers import orders, read_path_yaml, write_orders, write_parquet

import dynio
from dynio import handoff
from dynio.engine import arrow_export, read_path
from dynio.engine.errors import DynioError

CatalogFrom = Callable[..., dynio.Catalog]
ROWS = 3_000
BACKENDS = ("numpy", "numpy_nullable", "pyarrow")


# each writer's own row groups: pyarrow's tall (one group), Polars' and DuckDB's short
_GROUP_ROWS = {"pyarrow": ROWS, "polars": 500, "duckdb": 1000}


def _write(writer: str, path: Path) -> None:
    write_parquet(orders(ROWS, seed=7), writer, path, _GROUP_ROWS.get(writer, ROWS))


def _catalog(catalog_from: CatalogFrom, path: Path, extra: str = "") -> dynio.Catalog:
    return catalog_from(read_path_yaml(path, ("auto", "polars", "arrow"), extra))


@pytest.fixture(params=["pandas", "pyarrow", "polars", "duckdb"])
def written(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    writer = str(request.param)
    return write_orders(tmp_path, writer, ROWS, 7, _GROUP_ROWS.get(writer, ROWS))


@pytest.mark.parametrize("backend", BACKENDS)
def test_both_paths_give_the_same_frame_for_every_writer(
    catalog_from: CatalogFrom, written: Path, backend: Any
) -> None:
    cat = _catalog(catalog_from, written)
    by_polars = cat.read("polars", dtype_backend=backend)
    by_arrow = cat.read("arrow", dtype_backend=backend)
    pd.testing.assert_frame_equal(by_arrow, by_polars, check_exact=True)
    assert cat.read_result("polars").info.read_path == "polars"
    if backend == "numpy":
        pd.testing.assert_frame_equal(by_arrow, pd.read_parquet(written), check_exact=True)
    else:
        reference = pd.read_parquet(written, dtype_backend=backend)
        # pandas keeps the file's ``string`` where Polars' export (and dynio) gives large_string
        pd.testing.assert_frame_equal(by_arrow, reference, check_dtype=False, check_exact=True)


def test_columns_keep_the_requested_order_on_both_paths(
    catalog_from: CatalogFrom, written: Path
) -> None:
    cat = _catalog(catalog_from, written)
    cols = ["email", "order_id", "ts"]
    by_arrow = cat.read("arrow", columns=cols)
    pd.testing.assert_frame_equal(by_arrow, cat.read("polars", columns=cols))
    pd.testing.assert_frame_equal(by_arrow, pd.read_parquet(written, columns=cols))


def _path_of(cat: dynio.Catalog, name: str, otel: OtelCapture, **kwargs: Any) -> Any:
    otel.clear()
    cat.read(name, **kwargs)
    top = dict(otel.span("dynio.read").attributes or {})
    scan = dict(otel.span("dynio.scan").attributes or {})
    assert top["dynio.read.path"] == scan["dynio.read.path"]
    return top["dynio.read.path"]


def test_the_path_is_on_the_result_and_the_spans(
    catalog_from: CatalogFrom, tmp_path: Path, otel: OtelCapture
) -> None:
    path = tmp_path / "o.parquet"
    _write("pyarrow", path)
    cat = _catalog(catalog_from, path)
    assert _path_of(cat, "arrow", otel) == "arrow"
    assert cat.last_info is not None
    assert cat.last_info.read_path == "arrow"
    assert _path_of(cat, "polars", otel) == "polars"
    # a filter needs the engine: the polars path, whatever the option says
    assert _path_of(cat, "arrow", otel, filters=[("qty", ">", 3)]) == "polars"
    res = cat.resource("arrow")._read_result(dtype_backend="numpy")
    assert res.info.read_path == "arrow"
    assert res.table is not None
    # the engine's frame is made from the table on demand, the same as the polars path's
    assert res.frame.equals(cat.read_result("polars").frame)
    assert res.rows == ROWS


def test_checks_and_casts_take_the_polars_path(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    path = tmp_path / "o.parquet"
    _write("pyarrow", path)
    schema = """    schema:
      columns:
        order_id: {type: int64, validations: {has_unique_values: {apply: true, options: {}}}}
        qty: {type: int64}
"""
    cat = _catalog(catalog_from, path, schema)
    res = cat.resource("arrow")._read_result(dtype_backend="numpy")
    assert res.info.read_path == "polars"  # a rule to run (and qty is cast int32 -> int64)
    res = cat.resource("arrow")._read_result(dtype_backend="numpy", validate=False)
    assert res.info.read_path == "polars"  # the cast alone needs the engine
    assert res.converted["qty"].dtype == np.int64


@pytest.mark.parametrize("writer", ["pyarrow", "polars", "duckdb"])
def test_auto_reads_every_column_of_a_mid_sized_file_by_the_arrow_path(
    catalog_from: CatalogFrom, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writer: str
) -> None:
    # whatever its row groups (round six: pyarrow's read matched pandas' own on such files,
    # where Polars' and the mixed read took longer); not a projection, not a larger file
    monkeypatch.setattr(read_path, "TINY_FILE_BYTES", 0)
    path = tmp_path / "o.parquet"
    _write(writer, path)
    cat = _catalog(catalog_from, path)

    def auto(**kwargs: Any) -> Any:
        return cat.resource("auto")._read_result(dtype_backend="numpy", **kwargs)

    whole = auto()
    assert whole.info.read_path == "arrow"
    pd.testing.assert_frame_equal(whole.converted, cat.read("polars"))
    assert auto(columns=["qty", "note"]).info.read_path == "polars"
    monkeypatch.setattr(read_path, "ARROW_MAX_FILE_BYTES", path.stat().st_size)
    assert auto().info.read_path != "arrow"  # as large as the bound: Polars or mixed


def test_auto_takes_the_arrow_path_for_tiny_files_and_tall_row_groups(
    catalog_from: CatalogFrom, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the thresholds scaled down to the test's file: tall groups are ROWS, short ones 500; the
    # file counts as larger than ARROW_MAX_FILE_BYTES (whose own rule is tested below)
    monkeypatch.setattr(read_path, "TINY_FILE_BYTES", 0)
    monkeypatch.setattr(read_path, "ARROW_MAX_FILE_BYTES", 0)
    monkeypatch.setattr(read_path, "SMALL_FILE_BYTES", 0)
    monkeypatch.setattr(read_path, "ARROW_MIN_GROUP_ROWS", ROWS)
    path = tmp_path / "o.parquet"
    _write("pyarrow", path)
    cat = _catalog(catalog_from, path)

    def auto() -> Any:
        return cat.resource("auto")._read_result(dtype_backend="numpy").info.read_path

    assert auto() == "arrow"
    # a projection reads through Polars (faster there, see the module docs); forced, arrow
    projected = cat.resource("auto")._read_result(dtype_backend="numpy", columns=["qty", "note"])
    assert projected.info.read_path == "polars"
    forced = cat.resource("arrow")._read_result(dtype_backend="numpy", columns=["qty"])
    assert forced.info.read_path == "arrow"
    # every column named, in another order: still a whole read
    names = list(pd.read_parquet(path).columns)[::-1]
    whole = cat.resource("auto")._read_result(dtype_backend="numpy", columns=names)
    assert whole.info.read_path == "arrow"
    pd.testing.assert_frame_equal(whole.converted, pd.read_parquet(path, columns=names))
    # the file rewritten with short row groups: the remembered shape is not used again
    pq.write_table(pq.read_table(path), str(path) + ".new", row_group_size=500)
    os.replace(str(path) + ".new", path)
    assert auto() == "polars"
    # a small file reads through Polars without a footer look, a tiny one through pyarrow's
    # file reader (which costs less than Polars' fixed costs there), whatever their row groups
    pq.write_table(pq.read_table(path), str(path) + ".new", row_group_size=ROWS)
    os.replace(str(path) + ".new", path)
    monkeypatch.setattr(read_path, "SMALL_FILE_BYTES", 10**12)
    assert auto() == "polars"
    monkeypatch.setattr(read_path, "TINY_FILE_BYTES", 10**12)
    assert auto() == "arrow"


# R3's shape (a range of the sort key, prunable), R4's (another column), a column with nulls
_FILTERS = [
    [("ts", ">=", pd.Timestamp("2024-01-02 20:00"))],
    [("qty", "<", 2)],
    [("amount", ">", 120.0)],
    [("ts", "<", pd.Timestamp("2024-01-01 03:00")), ("note", "!=", "note 5")],
]


@pytest.mark.parametrize("filters", _FILTERS, ids=["sort-key", "other", "nulls", "and"])
def test_filtered_reads_equal_pandas_filtered_read_for_every_writer(
    catalog_from: CatalogFrom, written: Path, filters: Any
) -> None:
    cat = _catalog(catalog_from, written)
    expected = pd.read_parquet(written, filters=filters).reset_index(drop=True)
    assert 0 < len(expected) < ROWS
    for name in ("auto", "polars", "arrow"):
        got = cat.read(name, filters=filters)
        assert cat.last_info is not None
        assert cat.last_info.read_path == "polars"  # a filter always reads through Polars
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
    # projected and filtered: the columns asked for, in their order
    cols = ["note", "ts", "amount"]
    got = cat.read("auto", columns=cols, filters=filters)
    pd.testing.assert_frame_equal(got, expected[cols], check_exact=True)


def test_an_unknown_read_path_is_refused(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    path = tmp_path / "o.parquet"
    _write("pyarrow", path)
    cat = catalog_from(
        f"""o:
  local:
    type: local
    local: {{file_path: "{path}", file_type: parquet}}
    options: {{read_path: fast}}
"""
    )
    with pytest.raises(DynioError, match="read_path"):
        cat.read("o")


def test_repeated_reads_resolve_the_resource_once(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    path = tmp_path / "o.parquet"
    _write("polars", path)
    cat = _catalog(catalog_from, path)
    assert cat.resource("auto") is cat.resource("auto")
    first = cat.read("auto")
    # the file replaced by one of other columns: the next read sees it
    pl.DataFrame({"x": [1, 2]}).write_parquet(str(path) + ".new")
    os.replace(str(path) + ".new", path)
    second = cat.read("auto")
    assert list(first.columns) != list(second.columns)
    pd.testing.assert_frame_equal(second, pd.read_parquet(path))
    # and template values are not kept from one read to the next
    (tmp_path / "d1").mkdir()
    (tmp_path / "d2").mkdir()
    pl.DataFrame({"v": [1]}).write_parquet(tmp_path / "d1" / "f.parquet")
    pl.DataFrame({"v": [2, 3]}).write_parquet(tmp_path / "d2" / "f.parquet")
    cat = catalog_from(
        f"""t:
  local:
    type: local
    local: {{file_path: "{tmp_path}/{{day}}/f.parquet", file_type: parquet}}
"""
    )
    assert cat.read("t", day="d1")["v"].tolist() == [1]
    assert cat.read("t", day="d2")["v"].tolist() == [2, 3]


@pytest.mark.parametrize(
    "series",
    [
        pl.Series("s", ["a", None, "a long text of more than twelve bytes"]),
        pl.Series("c", ["x", "y", None], dtype=pl.Categorical),
        pl.Series("e", ["x", "y", None], dtype=pl.Enum(["y", "x"])),
        pl.Series("l", [["a"], None, ["b", "c"]]),
        pl.Series("b", [b"x", None, b"y"]),
        pl.Series("st", [{"a": "x"}, None, {"a": "z"}]),
        pl.Series("n", [None, None, None], dtype=pl.Null),
        pl.Series("i", [1, None, 3]),
    ],
    ids=lambda s: s.name,
)
def test_the_fast_export_equals_polars_own(series: pl.Series) -> None:
    frame = series.to_frame()
    ours = handoff.to_arrow(frame)
    assert ours.equals(frame.to_arrow())
    assert ours.schema.equals(frame.to_arrow().schema)
    pd.testing.assert_frame_equal(
        handoff.to_pandas(frame, dtype_backend="pyarrow"),
        frame.to_pandas(use_pyarrow_extension_array=True),
    )


def test_the_text_casts_do_not_allocate_from_pyarrows_default_pool() -> None:
    # mimalloc (pyarrow's default pool) reserved ~4 MiB of resident memory per cast: the
    # copies pandas keeps come from the system allocator (MEM-R3)
    frame = pl.DataFrame({"s": [f"text number {i}" for i in range(10_000)], "i": range(10_000)})
    pool = pa.default_memory_pool()
    before = pool.bytes_allocated()
    out = handoff.to_arrow(frame)
    assert out.schema.field("s").type == pa.large_string()
    assert pool.bytes_allocated() == before
    assert out.equals(frame.to_arrow())


@pytest.mark.parametrize("piece", [arrow_export.CAST_PIECE_ROWS, 10_000])
def test_the_fast_export_of_a_large_frame_equals_polars_own(
    piece: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # large enough for the threaded casts, in several chunks of uneven size (each cut into
    # slices when the slice size is small), with nulls, a list column (text nested in a list)
    # and a column that needs no cast between them
    monkeypatch.setattr(arrow_export, "CAST_PIECE_ROWS", piece)
    rows = arrow_export.CAST_PARALLEL_ROWS + 12_345
    part = pl.DataFrame(
        {
            "s": [None if i % 97 == 0 else f"text number {i}" for i in range(rows)],
            "i": list(range(rows)),
            "l": [[f"v{i}"] if i % 5 else None for i in range(rows)],
            "b": [str(i).encode() for i in range(rows)],
        }
    )
    frame = pl.concat([part, part.head(1_000), part.slice(7, 50_000)])
    assert frame.n_chunks("all") != [1] * frame.width  # several chunks reach the casts
    ours = handoff.to_arrow(frame)
    theirs = frame.to_arrow()
    assert ours.schema.equals(theirs.schema)
    assert ours.equals(theirs)
