"""A dataset's files a filter keeps no row of are left out before the scan, by their footers.

:mod:`dynio.engine.io.layout.pruning` judges each file of a local parquet dataset by its row
groups' statistics. Every read here is compared with the same read with statistics turned off
(``use_statistics: false``: every file scanned, nothing judged) and, where pandas filters the
same way, with ``pd.read_parquet(filters=)``; and the files kept are pinned, so a pruner that
keeps every file fails as surely as one that drops a file it should keep.
"""

from __future__ import annotations

import datetime as dt
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
from fixtures.writers import orders, write_parquet

import dynio
from dynio.engine import footers
from dynio.engine.filters import Filter
from dynio.engine.io.layout.pruning import prune_files
from dynio.engine.plan import plan_read

CatalogFrom = Callable[..., dynio.Catalog]
PARTS = 6
ROWS = 600  # per file; each file's timestamps follow the previous file's
_SCHEMA = """  schema:
    name: orders
    columns:
      order_id: {type: int64}
      qty: {type: int32}
      ts: {type: "datetime64[ns]"}
      amount: {type: float64}
      country: {type: object}
      email: {type: object}
      note: {type: object}
      is_priority: {type: bool}
"""


def _dataset(folder: Path, writer: str, rows: int = ROWS) -> pd.DataFrame:
    """The orders table in ``PARTS`` files by ``writer`` (row groups of 200 rows, pandas' own
    aside), sorted by ``ts`` and ``order_id`` across the files; the whole table."""
    folder.mkdir()
    whole = orders(rows * PARTS, seed=11)
    for i in range(PARTS):
        part = whole.iloc[i * rows : (i + 1) * rows].reset_index(drop=True)
        write_parquet(part, writer, folder / f"part-{i:05d}.parquet", 200)
    return whole


def _catalog(
    catalog_from: CatalogFrom, folder: Path, options: str = "", schema: str | None = None
) -> dynio.Catalog:
    """Two resources over ``folder``: ``judged`` (statistics pruning on, with ``options``) and
    ``unjudged`` (``use_statistics: false``), with ``schema`` (the orders schema unless given)."""
    entries = ""
    for name, extra in (("judged", options), ("unjudged", "use_statistics: false")):
        opts = f"\n    options: {{{extra}}}" if extra else ""
        entries += f"""{name}:
  local:
    type: local_batch
    local: {{path_prefix: "{folder}", file_type: parquet}}{opts}
{_SCHEMA if schema is None else schema}"""
    return catalog_from(entries)


def _kept(cat: dynio.Catalog) -> tuple[int, int] | None:
    info = cat.last_info
    assert info is not None
    if "files_kept" not in info.pushed:
        return None
    return info.pushed["files"], info.pushed["files_kept"]


def _t(minutes: int) -> pd.Timestamp:
    return pd.Timestamp("2024-01-01") + pd.Timedelta(minutes=minutes)


# (filters, files kept of PARTS): the table's minute n is in file n // ROWS
_FILTERS: list[tuple[str, Any, int]] = [
    ("sort-key", [("ts", ">=", _t(PARTS * ROWS - 50))], 1),
    ("range", [("ts", ">=", _t(ROWS + 10)), ("ts", "<", _t(3 * ROWS - 10))], 2),
    ("equal", [("order_id", "==", 2 * ROWS + 7)], 1),
    ("or", [[("ts", "<", _t(5))], [("order_id", ">", PARTS * ROWS - 3)]], 2),
    ("text", [("ts", ">=", str(_t(4 * ROWS)))], 2),  # converted to the column's type
    ("and-other", [("ts", "<", _t(ROWS)), ("country", "==", "GB")], 1),
    ("none", [("ts", ">", _t(PARTS * ROWS + 5))], 1),  # one file still gives the columns
    ("not-judged", [("country", "in", ["GB", "DE"])], PARTS),
]


@pytest.mark.parametrize("writer", ["pandas", "pyarrow", "plain", "polars", "duckdb"])
@pytest.mark.parametrize(
    ("filters", "kept"), [f[1:] for f in _FILTERS], ids=[f[0] for f in _FILTERS]
)
def test_pruned_reads_equal_unpruned_ones_for_every_writer(
    catalog_from: CatalogFrom, tmp_path: Path, writer: str, filters: Any, kept: int
) -> None:
    folder = tmp_path / "orders"
    _dataset(folder, writer)
    cat = _catalog(catalog_from, folder)
    got = cat.read("judged", filters=filters)
    judged = _kept(cat)
    expected = cat.read("unjudged", filters=filters)
    assert _kept(cat) is None  # statistics turned off: nothing judged
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    if kept == PARTS:
        assert judged is None or judged == (PARTS, PARTS)
    else:
        assert judged == (PARTS, kept)
    if filters[0][0] != "ts" or isinstance(filters[0][2], pd.Timestamp):
        reference = pd.read_parquet(folder, filters=filters).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, reference, check_exact=True, check_dtype=False)
    # projected: the filter's column need not be among those returned
    cols = ["email", "amount"]
    pd.testing.assert_frame_equal(
        cat.read("judged", columns=cols, filters=filters), expected[cols], check_exact=True
    )


def test_files_written_without_statistics_are_all_read(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    folder = tmp_path / "orders"
    folder.mkdir()
    whole = orders(PARTS * ROWS, seed=3)
    for i in range(PARTS):
        table = pa.Table.from_pandas(whole.iloc[i * ROWS : (i + 1) * ROWS], preserve_index=False)
        # one file with statistics, the others without: none can be left out safely unless
        # its own statistics say so
        pq.write_table(table, folder / f"part-{i}.parquet", write_statistics=i == 0)
    cat = _catalog(catalog_from, folder)
    filters = [("ts", ">=", _t(PARTS * ROWS - 50))]
    got = cat.read("judged", filters=filters)
    assert _kept(cat) == (PARTS, PARTS - 1)  # only the first file's bounds exclude it
    pd.testing.assert_frame_equal(got, cat.read("unjudged", filters=filters), check_exact=True)
    assert len(got) == 50


def _nullable_parts(folder: Path) -> None:
    """Three files of an int column ``v``: all null, some null (1, 2, null), none null (5, 6)."""
    folder.mkdir()
    parts = [[None, None, None], [1, 2, None], [5, 6, 7]]
    for i, values in enumerate(parts):
        table = pa.table({"v": pa.array(values, pa.int64()), "i": pa.array([i] * 3, pa.int64())})
        pq.write_table(table, folder / f"part-{i}.parquet")


_NULLS: list[tuple[Any, int]] = [
    ([("v", ">", 0)], 2),  # the all-null file has no bounds, but no row > 0 either
    ([("v", "is null")], 2),  # the file without nulls is left out
    ([("v", "is not null")], 2),  # the all-null file is left out
    ([("v", "<", 3)], 1),
    ([("v", "==", 6)], 1),
]


@pytest.mark.parametrize(("filters", "kept"), _NULLS, ids=["gt", "null", "not-null", "lt", "eq"])
def test_null_statistics_decide_as_the_filter_does(
    catalog_from: CatalogFrom, tmp_path: Path, filters: Any, kept: int
) -> None:
    folder = tmp_path / "v"
    _nullable_parts(folder)
    schema = (
        "  schema:\n    name: v\n    columns:\n      v: {type: Int64}\n      i: {type: int64}\n"
    )
    cat = _catalog(catalog_from, folder, schema=schema)
    got = cat.read("judged", filters=filters)
    assert _kept(cat) == (3, kept)
    pd.testing.assert_frame_equal(got, cat.read("unjudged", filters=filters), check_exact=True)


def test_time_units_compare_as_polars_compares_them(tmp_path: Path) -> None:
    """A microsecond literal against nanosecond values: Polars compares in microseconds (it
    truncates the values), so 1,500 ns <= 1 µs holds. Bounds judged in exact nanoseconds would
    leave that file out."""
    files = []
    for i, nanos in enumerate([[1_500, 1_900], [2_500, 3_000]]):
        path = tmp_path / f"p{i}.parquet"
        pl.DataFrame(
            {"ts": pl.Series(nanos, dtype=pl.Int64).cast(pl.Datetime("ns"))}
        ).write_parquet(path)
        files.append(str(path))
    one_us = dt.datetime(1970, 1, 1, 0, 0, 0, 1)
    dtypes = {"ts": pl.Datetime("ns")}
    flt = Filter.parse([("ts", "<=", one_us)], dtypes)
    assert flt is not None
    kept = prune_files(files, flt, dtypes)
    expected = pl.scan_parquet(files).filter(flt.expr).collect()
    assert expected.height == 2  # both values of the first file
    assert kept == files[:1]


@pytest.mark.parametrize(
    ("op", "literal", "kept_files"),
    [
        ("<", "1970-01-01T00:00:00.000000500", [0]),
        (">=", "1970-01-01T00:00:00.000000500", [1]),
        (">", pd.Timestamp("1970-01-01 00:00:00.000000400"), [1]),
    ],
)
def test_a_literal_finer_than_a_microsecond_is_judged_in_nanoseconds(
    tmp_path: Path, op: str, literal: object, kept_files: list[int]
) -> None:
    # one file of 400 ns, one of 500 ns: a literal cut to microseconds (0) would leave out the
    # first file for "<" (and keep both for ">=" and ">")
    files = []
    for i, nanos in enumerate([[400], [500]]):
        path = tmp_path / f"p{i}.parquet"
        pl.DataFrame(
            {"ts": pl.Series(nanos, dtype=pl.Int64).cast(pl.Datetime("ns"))}
        ).write_parquet(path)
        files.append(str(path))
    dtypes = {"ts": pl.Datetime("ns")}
    flt = Filter.parse([("ts", op, literal)], dtypes)
    assert flt is not None
    assert prune_files(files, flt, dtypes) == [files[i] for i in kept_files]
    kept = pl.scan_parquet(files).filter(flt.expr).collect()
    assert kept.height == 1


def test_a_partition_column_is_judged_by_its_folders_only(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    """A hive dataset whose files hold a column named as the partition key, with other values:
    the folders give the key's values, so the files' statistics of it must not decide."""
    root = tmp_path / "events"
    for day in (1, 2, 3):
        (root / f"day={day}").mkdir(parents=True)
        table = pa.table(
            {
                "day": pa.array([day * 10] * 4, pa.int64()),  # not the folder's value
                "n": pa.array(range(day * 100, day * 100 + 4), pa.int64()),
            }
        )
        pq.write_table(table, root / f"day={day}" / "part-0.parquet")
    schema = (
        "  schema:\n    name: e\n    columns:\n      day: {type: int64}\n      n: {type: int64}\n"
    )
    cat = _catalog(catalog_from, root, schema=schema)
    for filters, kept, rows in (
        # the folders pruned it to one file: nothing left to judge
        ([("day", "==", 2)], None, [200, 201, 202, 203]),
        # the folders first (days 2 and 3), then n's bounds
        ([("day", ">=", 2), ("n", "<", 300)], (2, 1), [200, 201, 202, 203]),
        # the files' own day (10, 20, 30) would leave every file out
        ([("day", "<=", 3), ("n", ">=", 302)], (3, 1), [302, 303]),
        ([("day", "==", 20)], None, []),
    ):
        got = cat.read("judged", filters=filters)
        assert _kept(cat) == kept, filters
        pd.testing.assert_frame_equal(got, cat.read("unjudged", filters=filters), check_exact=True)
        assert got["n"].tolist() == rows


def test_files_that_disagree_on_their_schema_are_not_judged(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    folder = tmp_path / "drift"
    folder.mkdir()
    pq.write_table(pa.table({"k": pa.array([1, 2], pa.int64())}), folder / "a.parquet")
    pq.write_table(
        pa.table({"k": pa.array([10, 20], pa.int64()), "x": pa.array([1.5, 2.5])}),
        folder / "b.parquet",
    )
    cat = catalog_from(
        f"""d:
  local:
    type: local_batch
    local: {{path_prefix: "{folder}", file_type: parquet}}
  schema:
    name: d
    columns:
      k: {{type: int64}}
      x: {{type: float64}}
"""
    )
    # read whole, the first file's missing x is reconciled (nulls, a warning), as without a
    # filter; judged apart, the second file alone would read without either
    with pytest.warns(UserWarning, match="schema drift"):
        got = cat.read("d", filters=[("k", ">", 5)])
    assert _kept(cat) is None
    assert got["k"].tolist() == [10, 20]
    assert got["x"].tolist() == [1.5, 2.5]


def test_a_column_the_plan_casts_is_judged_only_when_widened(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    folder = tmp_path / "cast"
    folder.mkdir()
    for i in range(3):
        table = pa.table({"k": pa.array([i * 10, i * 10 + 1], pa.int32())})
        pq.write_table(table, folder / f"p{i}.parquet")
    entries = ""
    for name, dtype in (("same", "int32"), ("wider", "int64"), ("text", "object")):
        entries += f"""{name}:
  local:
    type: local_batch
    local: {{path_prefix: "{folder}", file_type: parquet}}
  schema:
    name: {name}
    columns:
      k: {{type: {dtype}}}
"""
    cat = catalog_from(entries)
    assert cat.read("same", filters=[("k", ">=", 20)])["k"].tolist() == [20, 21]
    assert _kept(cat) == (3, 1)
    assert cat.read("wider", filters=[("k", ">=", 20)])["k"].tolist() == [20, 21]
    assert _kept(cat) == (3, 1)
    # as text, "2" > "10": the cast changes the order of the values, so nothing is judged
    assert sorted(cat.read("text", filters=[("k", ">=", "2")])["k"]) == ["20", "21"]
    assert _kept(cat) is None


_NS_1500 = np.datetime64(1_500, "ns")  # 1.5 µs


def test_widened_time_units_keep_a_file_either_comparison_keeps(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    """Microsecond values the plan widens to nanoseconds, against a nanosecond literal. The plan
    filters before the cast when it only widens the filter's columns: Polars then compares in
    microseconds, 1 µs >= 1.5 µs holds and 1 µs < 1.5 µs does not. A filter column the plan
    narrows makes it filter after the casts, in nanoseconds, where it is the other way round.
    A file is kept when either comparison keeps it."""
    folder = tmp_path / "us"
    folder.mkdir()
    for name, micros in (("p0", [5, 6]), ("p1", [0, 1]), ("p2", [1, 2])):
        frame = pl.DataFrame(
            {
                "ts": pl.Series(micros, dtype=pl.Int64).cast(pl.Datetime("us")),
                "k": pl.Series([0, 1], dtype=pl.Int64),
            }
        )
        frame.write_parquet(folder / f"{name}.parquet")
    schema = """  schema:
    name: t
    columns:
      ts: {type: "datetime64[ns]"}
      k: {type: int32}
"""
    cat = _catalog(catalog_from, folder, schema=schema)
    early = [("ts", ">=", _NS_1500)]  # before the casts: 1 µs >= 1 µs (p1 kept)
    late = [("ts", "<", _NS_1500), ("k", ">=", 0)]  # after them (k narrowed): 1000 < 1500 ns
    for filters, micros, kept in ((early, [5, 6, 1, 1, 2], 3), (late, [0, 1, 1], 2)):
        got = cat.read("judged", filters=filters)
        assert _kept(cat) == (3, kept)
        pd.testing.assert_frame_equal(got, cat.read("unjudged", filters=filters), check_exact=True)
        assert (got["ts"] - pd.Timestamp(0)).dt.total_seconds().mul(1e6).tolist() == micros


def test_statistics_are_read_again_when_a_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"k": pa.array([1, 5], pa.int64())}), path)
    first = footers.file_statistics(str(path), ["k", "missing"])
    assert first is not None
    k = first.columns["k"]
    assert k is not None
    assert (k.minimum, k.maximum, k.nulls) == ((1,), (5,), (0,))
    assert first.columns["missing"] is None
    assert footers.file_statistics(str(path), ["k"]) is first  # remembered
    pq.write_table(pa.table({"k": pa.array([7, 9, None], pa.int64())}), path)
    os.utime(path, ns=(1, 1))
    again = footers.file_statistics(str(path), ["k"])
    assert again is not None
    k = again.columns["k"]
    assert k is not None
    assert (k.minimum, k.nulls) == ((7,), (1,))
    assert footers.file_statistics(str(tmp_path / "gone.parquet"), ["k"]) is None
    (tmp_path / "not.parquet").write_bytes(b"PAR1 but not a footer PAR1")
    assert footers.file_statistics(str(tmp_path / "not.parquet"), ["k"]) is None


def test_footers_read_from_their_bytes_equal_pyarrows(tmp_path: Path) -> None:
    for writer in ("pandas", "polars", "duckdb"):
        path = tmp_path / f"{writer}.parquet"
        write_parquet(orders(500), writer, path, 100)
        ours = footers.read_metadata(str(path))
        assert ours.equals(pq.read_metadata(path))
        assert ours.num_row_groups == pq.ParquetFile(path).num_row_groups


def test_a_file_left_out_and_replaced_during_the_read_is_noticed(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    folder = tmp_path / "orders"
    _dataset(folder, "pyarrow", rows=50)
    cat = _catalog(catalog_from, folder)
    planned = plan_read(
        cat.resource("judged")._spec,
        "local",
        filters=[("ts", ">=", _t(PARTS * 50 - 5))],
        streaming=False,
    )
    try:
        assert planned.info.pushed["files_kept"] == 1
        assert planned.changed is not None
        assert not planned.changed()
        first = folder / "part-00000.parquet"  # left out, then rewritten with rows it keeps
        late = orders(50, seed=1).assign(ts=_t(PARTS * 50 + 100))
        tmp = folder / ".tmp.parquet"
        late.to_parquet(tmp)
        os.replace(tmp, first)
        assert planned.changed()
    finally:
        if planned.release is not None:
            planned.release()


def test_the_files_left_out_are_on_the_read_span(
    catalog_from: CatalogFrom, tmp_path: Path, otel: OtelCapture
) -> None:
    folder = tmp_path / "orders"
    _dataset(folder, "polars", rows=50)
    cat = _catalog(catalog_from, folder)
    cat.read("judged", filters=[("ts", ">=", _t(PARTS * 50 - 5))])
    assert cat.last_info is not None
    assert cat.last_info.files_pruned == PARTS - 1
    spans = [s for s in otel.spans() if s.name == "dynio.read"]
    attrs = spans[-1].attributes or {}
    assert attrs["dynio.files.pruned"] == PARTS - 1
    assert attrs["dynio.files.matched"] == 1


def test_a_schema_is_kept_only_from_a_small_footer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kept schema keeps its whole footer alive: from a large footer none is kept, and its
    files are then left unjudged rather than compared with a schema held at that cost."""
    files = []
    for i in range(3):
        path = tmp_path / f"p{i}.parquet"
        pq.write_table(pa.table({"k": pa.array([i * 10, i * 10 + 1], pa.int64())}), path)
        files.append(str(path))
    dtypes = {"k": pl.Int64()}
    flt = Filter.parse([("k", ">=", 20)], dtypes)
    assert prune_files(files, flt, dtypes) == files[2:]
    monkeypatch.setattr(footers, "_SCHEMA_FOOTER_BYTES", 0)
    monkeypatch.setattr(footers, "_schemas", [])
    monkeypatch.setattr(footers, "_statistics", {})
    assert prune_files(files, flt, dtypes) is None
