"""DuckDB resources (database files, ``:memory:`` with SQL over files) and ``engine: duckdb``.

Covers: every write mode and its transaction, the type mapping of every schema dtype with NULLs,
``sql_query`` with relative file paths, projection and filters pushed into the SQL (and a
property test that SQL filtering equals Polars filtering), the same results as the Polars engine
for every file format, options DuckDB cannot honour, and injection attempts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_postgres import ALL_TYPES, all_types_frame, schema_yaml

import dynio
from dynio.engine.errors import ConfigError, ReadError, UnsupportedError, WriteError
from dynio.engine.filter_sql import DUCKDB, compile_sql
from dynio.engine.filters import Filter
from dynio.engine.sources import Pushdown, ScanRequest
from dynio.engine.sources import duckdb as duckdb_source

CatalogFrom = Callable[..., dynio.Catalog]


def db_yaml(name: str, columns: dict[str, str] | None, section: str, options: str = "{}") -> str:
    body = f"{name}:\n  db:\n    type: duckdb\n    duckdb: {section}\n    options: {options}\n"
    return body + (schema_yaml(columns, name) + "\n" if columns is not None else "")


@pytest.mark.parametrize("mode", ["replace", "append", "truncate_and_append", "upsert"])
def test_write_modes_round_trip(catalog_from: CatalogFrom, tmp_path: Path, mode: str) -> None:
    cat = catalog_from(
        db_yaml(
            "t",
            {"id": "int64", "v": "str"},
            "{database: wh/x.duckdb}",
            f"{{write_mode: {mode}, key: [id]}}",
        ),
        env="db",
    )
    cat.write("t", pl.DataFrame({"id": [1, 2], "v": ["a", "b"]}))
    cat.write("t", pl.DataFrame({"id": [2, 3], "v": ["B", "c"]}))
    expected = {
        "replace": [(2, "B"), (3, "c")],
        "append": [(1, "a"), (2, "B"), (2, "b"), (3, "c")],
        "truncate_and_append": [(2, "B"), (3, "c")],
        "upsert": [(1, "a"), (2, "B"), (3, "c")],
    }[mode]
    assert cat.read_polars("t").sort("id", "v").rows() == expected
    assert (tmp_path / "wh" / "x.duckdb").is_file()


def test_failed_write_leaves_the_table_as_it_was(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    path = tmp_path / "a.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE t (id BIGINT NOT NULL)")
        con.execute("INSERT INTO t VALUES (1), (2)")
    cat = catalog_from(
        db_yaml("t", None, f"{{database: {path}}}", "{truncate_and_append: true}"), env="db"
    )
    with pytest.raises(WriteError, match="NOT NULL"):
        cat.write("t", pl.DataFrame({"id": [5, None]}))
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT id FROM t ORDER BY id").fetchall() == [(1,), (2,)]


def test_upsert_errors(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    path = tmp_path / "u.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE t (id BIGINT, v VARCHAR)")
    cat = catalog_from(
        db_yaml(
            "t",
            {"id": "int64", "v": "str"},
            f"{{database: {path}}}",
            "{write_mode: upsert, key: [id]}",
        ),
        env="db",
    )
    with pytest.raises(WriteError, match="duplicate"):
        cat.write("t", pl.DataFrame({"id": [1, 1], "v": ["a", "b"]}))
    with pytest.raises(WriteError, match="UNIQUE/PRIMARY KEY"):
        cat.write("t", pl.DataFrame({"id": [1], "v": ["a"]}))


def test_every_schema_dtype_round_trips_with_nulls(catalog_from: CatalogFrom) -> None:
    cat = catalog_from(db_yaml("all_types", ALL_TYPES, "{database: all.duckdb}"), env="db")
    frame = all_types_frame()
    cat.write("all_types", frame)
    back = cat.read_polars("all_types")
    expected = frame.with_columns(
        pl.col("ts", "tsu").dt.cast_time_unit("ns"), pl.col("td").cast(pl.Duration("ns"))
    )
    for name in expected.columns:
        got, want = back[name], expected[name]
        assert got.dtype == want.dtype, name
        if want.dtype == pl.Categorical:
            got, want = got.cast(pl.String), want.cast(pl.String)
        if want.dtype.is_float():
            got, want = got.fill_nan(-1.0), want.fill_nan(-1.0)
        assert got.to_list() == want.to_list(), name


def test_memory_database_with_sql_over_relative_files(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    (tmp_path / "data").mkdir()
    pl.DataFrame({"id": [1, 2, 3], "fare": [5.0, 15.0, 25.0]}).write_parquet(
        tmp_path / "data" / "trips.parquet"
    )
    section = '{database: ":memory:", sql_query: "SELECT * FROM read_parquet(\'data/*.parquet\')"}'
    cat = catalog_from(db_yaml("trips", {"id": "int64", "fare": "float64"}, section), env="db")
    res = cat.read_result("trips", columns=["id"], filters=[("fare", ">", 10)])
    assert res.frame["id"].to_list() == [2, 3]
    assert res.info.filters_pushed is not None
    with pytest.raises(ConfigError, match="sql_query cannot be written"):
        cat.write("trips", pl.DataFrame({"id": [1], "fare": [1.0]}))


def test_memory_database_cannot_be_written(catalog_from: CatalogFrom) -> None:
    cat = catalog_from(db_yaml("t", None, '{database: ":memory:", table: t}'), env="db")
    with pytest.raises(WriteError, match="in-memory"):
        cat.write("t", pl.DataFrame({"a": [1]}))


def test_missing_database_file_is_a_read_error(catalog_from: CatalogFrom) -> None:
    cat = catalog_from(db_yaml("t", None, "{database: nowhere.duckdb}"), env="db")
    with pytest.raises(ReadError, match="does not exist"):
        cat.read("t")


def test_table_in_section_and_options_is_refused(catalog_from: CatalogFrom) -> None:
    cat = catalog_from(
        db_yaml("t", None, '{database: ":memory:", table: a}', "{table: b}"), env="db"
    )
    with pytest.raises(ConfigError, match="both"):
        cat.read("t")


def test_injection_in_values_and_identifiers_is_harmless(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    path = tmp_path / "i.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE victim AS SELECT 1 AS a")
    evil = "x'; DROP TABLE victim; --"
    table = '"t\\"; DROP TABLE victim; --"'
    cat = catalog_from(db_yaml("t", None, f"{{database: {path}, table: {table}}}"), env="db")
    frame = pl.DataFrame({'c"; DROP TABLE victim; --': [1, 2], "v": [evil, "ok"]})
    cat.write("t", frame)
    got = cat.read_polars("t", filters=[("v", "==", evil), ('c"; DROP TABLE victim; --', "<", 5)])
    assert got.equals(frame.head(1))
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT a FROM victim").fetchall() == [(1,)]


# ---------------------------------------------------------------------------- engine: duckdb


def _frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "zip": ["01234", "99999", None, "00001"],
            "fare": [1.5, None, 3.25, 10.0],
            "ts": [dt.datetime(2024, 1, d, 12, 30) for d in (1, 2, 3, 4)],
            "ok": [True, False, None, True],
        }
    )


@pytest.mark.parametrize("fmt", ["parquet", "csv", "json", "ndjson", "ipc"])
def test_engine_duckdb_gives_what_polars_gives(
    catalog_from: CatalogFrom, tmp_path: Path, fmt: str
) -> None:
    frame = _frame()
    ext = {"ipc": "arrow"}.get(fmt, fmt)
    target = tmp_path / f"data.{ext}"
    {
        "parquet": frame.write_parquet,
        "csv": frame.write_csv,
        "json": frame.write_json,
        "ndjson": frame.write_ndjson,
        "ipc": frame.write_ipc,
    }[fmt](target)
    schema = {"id": "int64", "zip": "str", "fare": "float64", "ts": "datetime64[ns]", "ok": "bool"}
    text = "\n".join(
        [
            "trips:",
            "  polars:",
            "    type: local",
            f"    local: {{file_path: data.{ext}, file_type: {fmt}}}",
            "  duck:",
            "    type: local",
            f"    local: {{file_path: data.{ext}, file_type: {fmt}}}",
            "    options: {engine: duckdb}",
            schema_yaml(schema, "trips"),
        ]
    )
    polars_cat = catalog_from(text, env="polars")
    duck_cat = catalog_from(text, env="duck")
    for kwargs in ({}, {"columns": ["zip", "fare"], "filters": [("id", ">=", 2)]}):
        want = polars_cat.read_polars("trips", **kwargs)  # type: ignore[arg-type]
        got = duck_cat.read_result("trips", **kwargs)  # type: ignore[arg-type]
        assert got.frame.equals(want), fmt
    assert got.info.filters_pushed is not None
    assert got.frame["zip"].to_list() == ["99999", None, "00001"]  # text stays text


def test_engine_duckdb_refuses_options_it_cannot_honour(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    _frame().write_csv(tmp_path / "d.csv")
    text = (
        "d:\n  duck:\n    type: local\n    local: {file_path: d.csv, file_type: csv}\n"
        "    options: {engine: duckdb, lineterminator: ';'}\n"
    )
    with pytest.raises(UnsupportedError, match="lineterminator"):
        catalog_from(text, env="duck").read("d")


def test_other_engine_values_have_no_effect(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    _frame().write_parquet(tmp_path / "d.parquet")
    text = (
        "d:\n  x:\n    type: local\n    local: {file_path: d.parquet}\n"
        "    options: {engine: pyarrow}\n"
    )
    assert catalog_from(text, env="x").read_polars("d").equals(_frame())


# ------------------------------------------------------------------ pushdown equals filtering

_VALUES = {
    "i": st.one_of(st.none(), st.integers(-5, 5)),
    "s": st.one_of(st.none(), st.sampled_from(["", "a", "B", "b", "é", "a b", "Z"])),
    "f": st.one_of(st.none(), st.floats(-3, 3, allow_nan=False), st.just(float("nan"))),
    "d": st.one_of(st.none(), st.dates(dt.date(2024, 1, 1), dt.date(2024, 1, 9))),
}
_LITERALS = {
    "i": st.integers(-6, 6),
    "s": st.sampled_from(["", "a", "b", "B", "é", "zz"]),
    "f": st.floats(-3, 3, allow_nan=False),
    "d": st.one_of(
        st.dates(dt.date(2024, 1, 1), dt.date(2024, 1, 9)),
        st.sampled_from(["2024-01-03", "2024-01-05"]),
    ),
}
_OPS = ["==", "!=", "<", "<=", ">", ">=", "in", "not in", "is null", "is not null"]


@st.composite
def _condition(draw: Any) -> tuple[str, str, Any]:
    col = draw(st.sampled_from(sorted(_VALUES)))
    op = draw(st.sampled_from(_OPS))
    if op in ("is null", "is not null"):
        return (col, op, None)
    if op in ("in", "not in"):
        # one kind of literal per list (the planner refuses mixed lists)
        if col == "d" and draw(st.booleans()):
            return (
                col,
                op,
                draw(st.lists(st.sampled_from(["2024-01-03", "2024-01-05"]), max_size=3)),
            )
        if col == "d":
            return (
                col,
                op,
                draw(st.lists(st.dates(dt.date(2024, 1, 1), dt.date(2024, 1, 9)), max_size=3)),
            )
        return (col, op, draw(st.lists(_LITERALS[col], max_size=3)))
    return (col, op, draw(_LITERALS[col]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(st.fixed_dictionaries(_VALUES), min_size=0, max_size=12),
    filters=st.lists(st.lists(_condition(), min_size=1, max_size=3), min_size=1, max_size=3),
)
def test_sql_pushdown_keeps_every_row_polars_keeps(
    rows: list[dict[str, Any]], filters: list[list[tuple[str, str, Any]]]
) -> None:
    from dynio.engine.filters import to_expr

    schema = {"i": pl.Int64(), "s": pl.String(), "f": pl.Float64(), "d": pl.Date()}
    frame = pl.DataFrame(rows, schema=schema).with_row_index("rid")
    predicate = to_expr(filters, schema)
    assert predicate is not None
    wanted = set(frame.filter(predicate)["rid"].to_list())
    parsed = Filter.parse(filters, schema)
    assert parsed is not None
    compiled = parsed.to_sql(DUCKDB, frame.schema)
    con = duckdb.connect()
    try:
        con.register("t", frame.to_arrow())
        where = f" WHERE {compiled.where}" if compiled.where else ""
        found = {
            r[0]
            for r in con.sql(
                f"SELECT rid FROM t{where}", params=list(compiled.params) or None
            ).fetchall()
        }
    finally:
        con.close()
    # the SQL may keep more (what it could not translate); the planner filters again
    assert wanted <= found
    if compiled.exact:
        assert found == wanted


def test_sql_filters_bind_every_value() -> None:
    schema = {"a": pl.String(), "n": pl.Int64()}
    compiled = compile_sql(
        ((("a", "==", "x' OR '1'='1"), ("n", "in", [1, 2])), (("a", "is null", None),)),
        DUCKDB,
        schema,
        schema,
    )
    assert compiled.where == '("a" = $1 AND "n" IN ($2, $3)) OR ("a" IS NULL)'
    assert compiled.params == ("x' OR '1'='1", 1, 2)
    assert compiled.exact


def test_uncomparable_conditions_are_left_to_the_planner() -> None:
    source = {"t": pl.String(), "c": pl.String()}
    targets = {"t": pl.Int64(), "c": pl.Categorical()}
    compiled = compile_sql(
        ((("t", ">", 5), ("c", "<", "m"), ("c", "==", "x")),), DUCKDB, source, targets
    )
    assert compiled.where == '"c" = $1'
    assert not compiled.exact


def test_each_statement_is_a_client_span(catalog_from: CatalogFrom, otel: Any) -> None:
    cat = catalog_from(db_yaml("t", {"id": "int64"}, "{database: wh/x.duckdb}"), env="db")
    cat.write("t", pl.DataFrame({"id": [1, 2]}))
    cat.read_polars("t", filters=[("id", "=", 987654)])
    calls = {s.name: dict(s.attributes) for s in otel.spans() if s.kind.name == "CLIENT"}
    assert set(calls) == {"INSERT t", "SELECT t"}
    for a in calls.values():
        assert a["db.system.name"] == "duckdb"
        assert a["db.namespace"] == "x"
        assert a["server.address"] == "localhost"  # in process
    assert "987654" not in calls["SELECT t"]["db.query.text"]
    assert '"id"' in calls["SELECT t"]["db.query.text"]


# ------------------------------------------------------------------------- pushdown record


def test_a_filter_partly_in_the_where_is_reported_as_partial(catalog_from: CatalogFrom) -> None:
    cat = catalog_from(
        db_yaml("t", {"id": "int64", "c": "category"}, "{database: wh/p.duckdb}"), env="db"
    )
    cat.write("t", pl.DataFrame({"id": [1, 2, 3, 4], "c": ["a", "z", "b", "y"]}))
    # category order is not text order: "c < 'm'" stays with the engine, "id > 1" goes to SQL
    res = cat.read_result("t", filters=[("id", ">", 1), ("c", "<", "m")])
    assert res.frame["id"].to_list() == [3]
    pushdown = res.pushdown
    assert pushdown.partial
    assert pushdown.projection
    assert pushdown.pushed is not None
    assert pushdown.pushed.groups == ((("id", ">", 1),),)
    assert pushdown.residual is not None
    assert pushdown.residual.groups == ((("c", "<", "m"),),)
    # an OR whose groups were only partly pushed leaves the whole filter to the engine
    either = [[("id", ">", 3)], [("id", "==", 1), ("c", "<", "m")]]
    res = cat.read_result("t", filters=either)
    assert sorted(res.frame["id"].to_list()) == [1, 4]
    assert res.pushdown.pushed is not None
    assert res.pushdown.pushed.groups == ((("id", ">", 3),), (("id", "==", 1),))
    assert res.pushdown.residual is not None
    assert res.pushdown.residual.groups == (
        (("id", ">", 3),),
        (("id", "==", 1), ("c", "<", "m")),
    )
    # nothing pushable: nothing pushed, the whole filter applied by the engine
    res = cat.read_result("t", filters=[("c", ">", "x")])
    assert res.pushdown.pushed is None
    assert res.pushdown.residual is not None
    assert res.frame["id"].to_list() == [2, 4]


def test_engine_duckdb_is_chosen_through_the_registry(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    from dynio.engine.sources import kind_for, local, scan_function

    _frame().write_parquet(tmp_path / "d.parquet")
    text = (
        "d:\n  duck:\n    type: local\n    local: {file_path: d.parquet}\n"
        "    options: {engine: duckdb}\n"
    )
    cat = catalog_from(text, env="duck")
    spec = cat.resource("d").spec.source
    kind = kind_for("local")
    assert kind is not None
    assert kind.engines["duckdb"].endswith("duckdb:scan_files")
    assert scan_function(kind, spec, {}) is duckdb_source.scan_files
    res = cat.read_result("d", filters=[("id", ">", 2)])
    assert res.pushdown.details == {"engine": "duckdb"}
    assert res.frame["id"].to_list() == [3, 4]
    # the Polars scan of the local kind hands nothing on: it reads the file itself, the
    # projection and the whole filter pushed into Polars' scan
    parsed = Filter.parse([("id", ">", 2)])
    plain = local.scan(spec, ScanRequest("d", "duck", filter=parsed))
    assert plain.pushdown == Pushdown.whole(parsed, projection=True)
