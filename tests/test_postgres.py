"""PostgreSQL resources against a real server (tests/fixtures/postgres.py starts one).

Covers: both connection forms (dynamicio's ``db_*`` fields and ``uri``), ``db_schema``, every
write mode and its transaction (a write killed half-way leaves the table intact), the type
mapping of every schema dtype with NULLs, timestamps with zones, large text, a 1M-row read,
projection and ``filters=`` pushed into the SQL with bound values, connectorx partitioned reads,
``sql_query``, upsert errors, SQL injection attempts in values and identifiers, and the password
kept out of errors and spans.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl
import psycopg
import pytest
from conftest import write_text
from fixtures.postgres import PostgresServer

import dynio
from dynio.engine.errors import ConfigError, ReadError, WriteError
from dynio.engine.sources import ScanRequest, WriteRequest
from dynio.engine.sources.postgres import connection, pg_type
from dynio.engine.sources.sql import table_name
from dynio.engine.spec import SourceSpec, freeze

CatalogFrom = Callable[..., dynio.Catalog]

# every dtype family a schema can name, with values and NULLs
ALL_TYPES: dict[str, str] = {
    "s": "str",
    "sn": "string",
    "i8": "int8",
    "i16": "int16",
    "i32": "int32",
    "i64": "int64",
    "u8": "uint8",
    "u16": "uint16",
    "u32": "uint32",
    "u64": "uint64",
    "n64": "Int64",
    "f32": "float32",
    "f64": "float64",
    "b": "bool",
    "bn": "boolean",
    "ts": "datetime64[ns]",
    "tsu": "datetime64[ns, UTC]",
    "tsl": "datetime64[us, Europe/London]",
    "d": "date",
    "td": "timedelta64[ns]",
    "t": "time",
    "c": "category",
    "by": "bytes",
}
PG_TYPES = {
    "s": "text",
    "sn": "text",
    "i8": "smallint",
    "i16": "smallint",
    "i32": "integer",
    "i64": "bigint",
    "u8": "smallint",
    "u16": "integer",
    "u32": "bigint",
    "u64": "numeric",
    "n64": "bigint",
    "f32": "real",
    "f64": "double precision",
    "b": "boolean",
    "bn": "boolean",
    "ts": "timestamp without time zone",
    "tsu": "timestamp with time zone",
    "tsl": "timestamp with time zone",
    "d": "date",
    "td": "interval",
    "t": "time without time zone",
    "c": "text",
    "by": "bytea",
}


def all_types_frame() -> pl.DataFrame:
    london = dt.timezone(dt.timedelta(hours=1))
    return pl.DataFrame(
        {
            "s": ["a", "", None, "ünïcødé ✓"],
            "sn": ["x", None, "y", "z"],
            "i8": [-128, 127, None, 0],
            "i16": [-32768, 32767, None, 1],
            "i32": [-(2**31), 2**31 - 1, None, 2],
            "i64": [-(2**63), 2**63 - 1, None, 3],
            "u8": [0, 255, None, 4],
            "u16": [0, 65535, None, 5],
            "u32": [0, 2**32 - 1, None, 6],
            "u64": [0, 2**64 - 1, None, 7],
            "n64": [1, None, 3, 4],
            "f32": [0.1, -1.5, None, float("inf")],
            "f64": [0.1, 1e300, None, float("nan")],
            "b": [True, False, None, True],
            "bn": [None, True, False, True],
            "ts": [
                dt.datetime(2024, 3, 31, 0, 59, 59, 123456),
                None,
                dt.datetime(1970, 1, 1),
                dt.datetime(2262, 4, 11),
            ],
            "tsu": [
                dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
                None,
                dt.datetime(2024, 6, 1, 12, tzinfo=dt.UTC),
                dt.datetime(1900, 1, 1, tzinfo=dt.UTC),
            ],
            "tsl": [
                dt.datetime(2024, 3, 31, 0, 30, tzinfo=dt.UTC),
                dt.datetime(2024, 3, 31, 3, 30, tzinfo=london),
                None,
                dt.datetime(2024, 10, 27, 1, 30, tzinfo=dt.UTC),
            ],
            "d": [dt.date(2024, 2, 29), None, dt.date(1, 1, 1), dt.date(9999, 12, 31)],
            "td": [
                dt.timedelta(days=3, microseconds=7),
                None,
                dt.timedelta(0),
                -dt.timedelta(hours=5),
            ],
            "t": [dt.time(0, 0), dt.time(23, 59, 59, 999999), None, dt.time(12, 0, 0, 1)],
            "c": ["low", "high", None, "low"],
            "by": [b"\x00\x01\xff", b"", None, b"\\x"],
        },
        schema_overrides={
            "i8": pl.Int8,
            "i16": pl.Int16,
            "i32": pl.Int32,
            "u8": pl.UInt8,
            "u16": pl.UInt16,
            "u32": pl.UInt32,
            "u64": pl.UInt64,
            "f32": pl.Float32,
        },
    ).with_columns(
        pl.col("tsl").dt.convert_time_zone("Europe/London").dt.cast_time_unit("us"),
        pl.col("c").cast(pl.Categorical),
    )


def schema_yaml(columns: dict[str, str], name: str, indent: int = 2) -> str:
    pad = " " * indent
    lines = [f"{pad}schema:", f"{pad}  name: {name}", f"{pad}  columns:"]
    lines += [f"{pad}    {c}: {{type: '{t}'}}" for c, t in columns.items()]
    return "\n".join(lines)


def pg_yaml(
    name: str,
    columns: dict[str, str] | None,
    options: str = "{}",
    *,
    section: str = 'postgres: {uri: "[[ PG_URI ]]"}',
    table: str | None = None,
) -> str:
    opts = options if table is None else options.replace("{", "{table: " + table + ", ", 1)
    if opts.endswith(", }"):
        opts = opts[:-3] + "}"
    body = f"{name}:\n  pg:\n    type: postgres\n    {section}\n    options: {opts}\n"
    if columns is not None:
        body += schema_yaml(columns, name) + "\n"
    return body


@pytest.fixture
def pg(postgres: PostgresServer) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to the test server, for setting up and checking tables."""
    with psycopg.connect(postgres.uri, autocommit=True) as con:
        yield con


@pytest.fixture
def pg_catalog(
    catalog_from: CatalogFrom, postgres: PostgresServer
) -> Callable[[str], dynio.Catalog]:
    def make(text: str) -> dynio.Catalog:
        return catalog_from(text, env="pg", vars={"PG_URI": postgres.uri})

    return make


def rows(con: psycopg.Connection[Any], sql: str) -> list[tuple[Any, ...]]:
    return con.execute(sql).fetchall()  # type: ignore[arg-type]


# ------------------------------------------------------------------------------- connections


def test_db_fields_and_uri_forms_read_the_same_table(
    pg: psycopg.Connection[Any], catalog_from: CatalogFrom, postgres: PostgresServer
) -> None:
    pg.execute("DROP TABLE IF EXISTS conn_forms; CREATE TABLE conn_forms AS SELECT 1::bigint AS a")
    text = textwrap.dedent(
        """
        conn_forms:
          fields:
            type: postgres
            postgres:
              db_host: "[[ H ]]"
              db_port: "[[ P ]]"
              db_name: postgres
              db_user: "[[ U ]]"
              db_password: "[[ PW ]]"
          native:
            type: postgres
            postgres: {uri: "[[ URI ]]"}
        """
    )
    vars = {
        "H": postgres.host,
        "P": postgres.port,
        "U": postgres.user,
        "PW": postgres.password,
        "URI": postgres.uri,
    }
    for env in ("fields", "native"):
        cat = catalog_from(text, env=env, vars=vars)
        assert cat.read_polars("conn_forms").to_dicts() == [{"a": 1}]


def test_db_schema_places_the_table(pg: psycopg.Connection[Any], pg_catalog: Any) -> None:
    pg.execute("DROP SCHEMA IF EXISTS sales CASCADE; CREATE SCHEMA sales")
    cat = pg_catalog(
        pg_yaml(
            "in_schema", {"a": "int64"}, section='postgres: {uri: "[[ PG_URI ]]", db_schema: sales}'
        )
    )
    cat.write("in_schema", pl.DataFrame({"a": [1, 2]}))
    assert rows(pg, "SELECT a FROM sales.in_schema ORDER BY a") == [(1,), (2,)]
    assert cat.read_polars("in_schema")["a"].to_list() == [1, 2]


def test_both_connection_forms_is_a_config_error() -> None:
    spec = SourceSpec("postgres", freeze({"uri": "postgresql://h/db", "db_host": "h"}))
    with pytest.raises(ConfigError, match="either uri or the db_"):
        connection(spec, {})


def test_table_defaults_to_the_schema_name_then_the_resource() -> None:
    spec = SourceSpec("postgres", freeze({"uri": "postgresql://h/db"}))
    assert table_name(spec, ScanRequest("res", "env")) == "res"

    named = WriteRequest("res", "env", schema_name="from_schema")
    assert table_name(spec, named) == "from_schema"
    assert table_name(spec, ScanRequest("res", "env", schema_name="from_schema")) == "from_schema"
    with_option = SourceSpec("postgres", spec.settings, freeze({"table": "given"}))
    assert table_name(with_option, named) == "given"


# ------------------------------------------------------------------------------- write modes


@pytest.mark.parametrize("mode", ["replace", "append", "truncate_and_append", "upsert"])
def test_write_modes_round_trip(pg: psycopg.Connection[Any], pg_catalog: Any, mode: str) -> None:
    table = f"modes_{mode}"
    pg.execute(f"DROP TABLE IF EXISTS {table}")
    cat = pg_catalog(
        pg_yaml(table, {"id": "int64", "v": "str"}, f"{{write_mode: {mode}, key: [id]}}")
    )
    first = pl.DataFrame({"id": [1, 2], "v": ["a", "b"]})
    second = pl.DataFrame({"id": [2, 3], "v": ["B", "c"]})
    cat.write(table, first)  # creates the table (with a primary key for upsert)
    cat.write(table, second)
    got = cat.read_polars(table).sort("id", "v").rows()
    expected = {
        "replace": [(2, "B"), (3, "c")],
        "append": [(1, "a"), (2, "B"), (2, "b"), (3, "c")],
        "truncate_and_append": [(2, "B"), (3, "c")],
        "upsert": [(1, "a"), (2, "B"), (3, "c")],
    }[mode]
    assert got == expected


def test_truncate_and_append_keeps_the_table_definition(
    pg: psycopg.Connection[Any], pg_catalog: Any
) -> None:
    pg.execute(
        "DROP TABLE IF EXISTS keep_def;"
        " CREATE TABLE keep_def (id integer PRIMARY KEY, v varchar(10), extra text DEFAULT 'd')"
    )
    pg.execute("INSERT INTO keep_def VALUES (9, 'old', 'x')")
    cat = pg_catalog(
        pg_yaml("keep_def", {"id": "int64", "v": "str"}, "{truncate_and_append: true}")
    )
    cat.write("keep_def", pl.DataFrame({"id": [1], "v": ["new"]}))
    assert rows(pg, "SELECT id, v, extra FROM keep_def") == [(1, "new", "d")]
    kinds = rows(
        pg,
        "SELECT data_type FROM information_schema.columns"
        " WHERE table_name = 'keep_def' ORDER BY ordinal_position",
    )
    assert kinds == [("integer",), ("character varying",), ("text",)]


def test_append_to_a_table_with_other_column_order_and_types(
    pg: psycopg.Connection[Any], pg_catalog: Any
) -> None:
    pg.execute("DROP TABLE IF EXISTS reorder; CREATE TABLE reorder (v text, id numeric(10, 0))")
    cat = pg_catalog(pg_yaml("reorder", {"id": "int64", "v": "str"}, "{write_mode: append}"))
    cat.write("reorder", pl.DataFrame({"id": [5], "v": ["x"]}))
    assert rows(pg, "SELECT v, id::int FROM reorder") == [("x", 5)]


def test_append_with_a_column_the_table_lacks_fails_and_writes_nothing(
    pg: psycopg.Connection[Any], pg_catalog: Any
) -> None:
    pg.execute("DROP TABLE IF EXISTS lacks; CREATE TABLE lacks (id bigint)")
    cat = pg_catalog(pg_yaml("lacks", {"id": "int64", "v": "str"}, "{write_mode: append}"))
    with pytest.raises(WriteError, match=r"no column\(s\) \['v'\]") as err:
        cat.write("lacks", pl.DataFrame({"id": [1], "v": ["x"]}))
    assert err.value.column == "v"
    assert rows(pg, "SELECT count(*) FROM lacks") == [(0,)]


def test_upsert_refuses_duplicate_keys_and_tables_without_a_key(
    pg: psycopg.Connection[Any], pg_catalog: Any
) -> None:
    pg.execute("DROP TABLE IF EXISTS nokey; CREATE TABLE nokey (id bigint, v text)")
    pg.execute("INSERT INTO nokey VALUES (1, 'keep')")
    cat = pg_catalog(
        pg_yaml("nokey", {"id": "int64", "v": "str"}, "{write_mode: upsert, key: [id]}")
    )
    with pytest.raises(WriteError, match="duplicate") as err:
        cat.write("nokey", pl.DataFrame({"id": [1, 1], "v": ["a", "b"]}))
    assert err.value.values == [1]
    with pytest.raises(WriteError, match="primary key or unique index"):
        cat.write("nokey", pl.DataFrame({"id": [1], "v": ["a"]}))
    assert rows(pg, "SELECT * FROM nokey") == [(1, "keep")]


def test_upsert_into_a_table_of_other_column_types(
    pg: psycopg.Connection[Any], pg_catalog: Any
) -> None:
    pg.execute(
        "DROP TABLE IF EXISTS other_types;"
        " CREATE TABLE other_types (id integer PRIMARY KEY, v varchar(10), at timestamptz)"
    )
    pg.execute("INSERT INTO other_types VALUES (1, 'old', '2024-01-01Z'), (2, 'keep', NULL)")
    cat = pg_catalog(
        pg_yaml(
            "other_types",
            {"id": "int64", "v": "str", "at": "datetime64[ns, UTC]"},
            "{write_mode: upsert, key: [id]}",
        )
    )
    at = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
    cat.write("other_types", pl.DataFrame({"id": [1, 3], "v": ["new", "added"], "at": [at, None]}))
    assert rows(pg, "SELECT id, v, at FROM other_types ORDER BY id") == [
        (1, "new", at),
        (2, "keep", None),
        (3, "added", None),
    ]
    with pytest.raises(WriteError, match="too long"):
        cat.write("other_types", pl.DataFrame({"id": [4], "v": ["x" * 11], "at": [at]}))
    assert rows(pg, "SELECT count(*) FROM other_types") == [(3,)]


def test_upsert_without_key_is_a_config_error_when_the_catalog_loads(pg_catalog: Any) -> None:
    with pytest.raises(ConfigError, match="key") as info:
        pg_catalog(pg_yaml("nokey2", {"id": "int64"}, "{write_mode: upsert}"))
    assert info.value.key_path is not None
    assert info.value.key_path.endswith("options.key")
    with pytest.raises(ConfigError, match="write_mode") as info:
        pg_catalog(pg_yaml("badmode", {"id": "int64"}, "{write_mode: upsrt}"))
    assert info.value.key_path is not None
    assert info.value.key_path.endswith("options.write_mode")
    with pytest.raises(ConfigError, match="partition_num"):
        pg_catalog(pg_yaml("badpart", {"id": "int64"}, "{partition_on: id, partition_num: 0}"))


def test_failed_write_leaves_the_table_as_it_was(
    pg: psycopg.Connection[Any], pg_catalog: Any
) -> None:
    pg.execute("DROP TABLE IF EXISTS atomic_t; CREATE TABLE atomic_t (id bigint NOT NULL)")
    pg.execute("INSERT INTO atomic_t VALUES (1), (2)")
    cat = pg_catalog(pg_yaml("atomic_t", None, "{truncate_and_append: true}"))
    # the NOT NULL violation comes after TRUNCATE and part of the COPY, in the same transaction
    bad = pl.DataFrame({"id": [*range(10, 250_010), None]})
    with pytest.raises(WriteError, match="null value"):
        cat.write("atomic_t", bad)
    assert rows(pg, "SELECT id FROM atomic_t ORDER BY id") == [(1,), (2,)]


_KILLED_WRITER = """
import sys
import polars as pl
import dynio
cat = dynio.Catalog.from_yaml(sys.argv[1], env="pg", vars={"PG_URI": sys.argv[2]})
n = 3_000_000
frame = pl.DataFrame({"id": pl.int_range(n, eager=True), "v": ["x" * 40] * n})
cat.write("killed", frame)
"""


# binary COPY (the table has dynio's column types) and CSV COPY (varchar: other types)
@pytest.mark.parametrize(
    ("mode", "text_type"), [("replace", "text"), ("append", "text"), ("append", "varchar(100)")]
)
def test_write_killed_half_way_leaves_the_table_intact(
    pg: psycopg.Connection[Any], postgres: PostgresServer, tmp_path: Path, mode: str, text_type: str
) -> None:
    pg.execute(f"DROP TABLE IF EXISTS killed; CREATE TABLE killed (id bigint, v {text_type})")
    pg.execute("INSERT INTO killed VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    config = write_text(
        tmp_path / "r.yaml",
        pg_yaml("killed", {"id": "int64", "v": "str"}, f"{{write_mode: {mode}}}"),
    )
    script = write_text(tmp_path / "writer.py", _KILLED_WRITER)
    child = subprocess.Popen([sys.executable, str(script), str(config), postgres.uri])
    try:
        deadline = time.monotonic() + 300
        while True:  # wait until the COPY has sent rows, then kill the writer outright
            progress = rows(pg, "SELECT tuples_processed FROM pg_stat_progress_copy")
            if progress and progress[0][0] > 0:
                break
            assert child.poll() is None, "the writer ended before it was killed"
            assert time.monotonic() < deadline, "the COPY never started"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    deadline = time.monotonic() + 60
    while rows(pg, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%'")[0][0]:
        assert time.monotonic() < deadline, "the killed writer's session never ended"
        time.sleep(0.05)
    assert rows(pg, "SELECT id, v FROM killed ORDER BY id") == [(1, "a"), (2, "b"), (3, "c")]


# ------------------------------------------------------------------------------ type mapping


def test_every_schema_dtype_round_trips_with_nulls(
    pg: psycopg.Connection[Any], pg_catalog: Any
) -> None:
    pg.execute("DROP TABLE IF EXISTS all_types")
    cat = pg_catalog(pg_yaml("all_types", ALL_TYPES))
    frame = all_types_frame()
    cat.write("all_types", frame)
    created = dict(
        rows(
            pg,
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_name = 'all_types'",
        )
    )
    assert created == PG_TYPES
    back = cat.read_polars("all_types")
    expected = frame.with_columns(
        pl.col("ts", "tsu").dt.cast_time_unit("ns"), pl.col("td").cast(pl.Duration("ns"))
    )
    assert back.columns == expected.columns
    for name in back.columns:
        got, want = back[name], expected[name]
        assert got.dtype == want.dtype, name
        if want.dtype == pl.Categorical:
            got, want = got.cast(pl.String), want.cast(pl.String)
        assert got.to_list() == want.to_list() or (
            want.dtype.is_float()
            and got.is_nan().eq_missing(want.is_nan()).all()
            and got.fill_nan(0).to_list() == want.fill_nan(0).to_list()
        ), name


def test_pandas_round_trip_gives_the_schema_dtypes(pg_catalog: Any) -> None:
    cat = pg_catalog(
        pg_yaml(
            "pd_types",
            {"i": "Int64", "f": "float64", "s": "str", "t": "datetime64[ns, UTC]", "c": "category"},
        )
    )
    import pandas as pd

    df = pd.DataFrame(
        {
            "i": pd.array([1, None], dtype="Int64"),
            "f": [1.5, None],
            "s": ["a", None],
            "t": pd.to_datetime(["2024-01-01T10:00Z", None], utc=True),
            "c": pd.Categorical(["x", "y"]),
        }
    )
    cat.write("pd_types", df)
    back = cat.read("pd_types")
    assert str(back["i"].dtype) == "Int64"
    assert str(back["t"].dtype) == "datetime64[ns, UTC]"
    assert str(back["c"].dtype) == "category"
    df["t"] = df["t"].astype("datetime64[ns, UTC]")
    pd.testing.assert_frame_equal(back, df, check_categorical=False, check_dtype=False)


def test_pg_type_covers_every_dtype_the_schema_table_knows() -> None:
    from dynio.engine.dtypes import _TABLE

    missing = [s for s, (dtype, _) in _TABLE.items() if pg_type(dtype) is None]
    assert missing == []


def test_timestamps_with_zones_keep_the_instant_and_the_schema_zone(pg_catalog: Any) -> None:
    cat = pg_catalog(pg_yaml("zones", {"t": "datetime64[ns, America/New_York]"}))
    instants = [
        dt.datetime(2024, 3, 10, 6, 59, tzinfo=dt.UTC),  # just before the DST jump
        dt.datetime(2024, 3, 10, 7, 1, tzinfo=dt.UTC),
        dt.datetime(2024, 11, 3, 5, 30, tzinfo=dt.UTC),  # the repeated hour
        dt.datetime(2024, 11, 3, 6, 30, tzinfo=dt.UTC),
    ]
    frame = pl.DataFrame({"t": instants}).with_columns(
        pl.col("t").dt.convert_time_zone("America/New_York")
    )
    cat.write("zones", frame)
    back = cat.read_polars("zones")["t"]
    assert back.dtype == pl.Datetime("ns", "America/New_York")
    assert back.dt.convert_time_zone("UTC").to_list() == instants


def test_large_text(pg_catalog: Any) -> None:
    cat = pg_catalog(pg_yaml("big_text", {"id": "int64", "body": "str"}))
    big = "".join(chr(32 + i % 90) for i in range(5_000_000)) + '"\n,\\.\t'
    frame = pl.DataFrame({"id": [1, 2, 3], "body": [big, "\\.", big[::-1]]})
    cat.write("big_text", frame)
    back = cat.read_polars("big_text").sort("id")
    assert back["body"].to_list() == frame["body"].to_list()


def test_million_row_read(pg: psycopg.Connection[Any], pg_catalog: Any) -> None:
    pg.execute(
        "DROP TABLE IF EXISTS million; CREATE TABLE million AS"
        " SELECT g AS id, g * 0.5 AS x, 'row ' || g AS label, g % 3 = 0 AS flag"
        " FROM generate_series(1, 1000000) g"
    )
    cat = pg_catalog(
        pg_yaml("million", {"id": "int64", "x": "float64", "label": "str", "flag": "bool"})
    )
    frame = cat.read_polars("million")
    assert frame.height == 1_000_000
    assert frame["id"].sum() == 500_000_500_000
    assert frame["x"].sum() == pytest.approx(250_000_250_000)
    assert frame["flag"].sum() == 333_333
    assert frame.filter(pl.col("id") == 777)["label"].item() == "row 777"


def test_database_types_arrive_as_plain_text(pg: psycopg.Connection[Any], pg_catalog: Any) -> None:
    """numeric, uuid, json and jsonb come out of ADBC as Arrow extension types; they reach Polars
    as text on every pyarrow we allow (before 18/19 pyarrow leaves them as metadata only)."""
    uid = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    pg.execute(
        "DROP TABLE IF EXISTS ext_types; CREATE TABLE ext_types AS"
        f" SELECT 1 AS id, 1.25::numeric AS n, '{uid}'::uuid AS u, '{{\"a\": 1}}'::json AS j,"
        " '[1]'::jsonb AS jb UNION ALL SELECT 2, NULL, NULL, NULL, NULL"
    )
    cat = pg_catalog(pg_yaml("ext_types", None))
    back = cat.read_polars("ext_types").sort("id")
    assert back.schema == pl.Schema(
        {"id": pl.Int32, "n": pl.String, "u": pl.String, "j": pl.String, "jb": pl.String}
    )
    assert back.row(0) == (1, "1.25", uid, '{"a": 1}', "[1]")
    assert back.row(1) == (2, None, None, None, None)


def test_extension_types_given_as_field_metadata_become_plain() -> None:
    """What ADBC hands a pyarrow older than 18: the storage type, the extension in metadata."""
    import uuid

    import pyarrow as pa

    from dynio.engine.sources.sql import normalize_arrow, polars_schema

    def ext(name: str) -> dict[bytes, bytes]:
        return {b"ARROW:extension:name": name.encode(), b"POSTGRESQL:type": b"x"}

    uid = uuid.uuid4()
    schema = pa.schema(
        [
            pa.field("n", pa.string(), metadata=ext("arrow.opaque")),
            pa.field("u", pa.binary(16), metadata=ext("arrow.uuid")),
        ]
    )
    table = pa.table(
        [pa.array(["1.5", None]), pa.array([uid.bytes, None], pa.binary(16))], schema=schema
    )
    plain = normalize_arrow(table)
    assert all(f.metadata == {b"POSTGRESQL:type": b"x"} for f in plain.schema)
    frame = pl.from_arrow(plain)
    assert isinstance(frame, pl.DataFrame)
    assert frame.rows() == [("1.5", str(uid)), (None, None)]
    assert polars_schema(schema) == frame.schema


# ---------------------------------------------------------------------------------- pushdown


@pytest.fixture
def filtered(pg: psycopg.Connection[Any], pg_catalog: Any) -> dynio.Catalog:
    pg.execute(
        "DROP TABLE IF EXISTS filtered; CREATE TABLE filtered AS"
        " SELECT g AS id, chr(97 + g % 5) AS cat, timestamp '2024-01-01' + g * interval '1 hour'"
        " AS ts, CASE WHEN g % 7 = 0 THEN NULL ELSE g / 10.0 END::float8 AS x"
        " FROM generate_series(1, 1000) g"
    )
    return pg_catalog(
        pg_yaml(
            "filtered", {"id": "int64", "cat": "category", "ts": "datetime64[ns]", "x": "float64"}
        )
    )


def test_filters_and_projection_are_pushed_into_the_sql(filtered: dynio.Catalog) -> None:
    filters = [
        [("id", "<", 50), ("cat", "in", ["a", "b"])],
        [("ts", ">=", "2024-02-10")],
        [("x", "is null")],
    ]
    res = filtered.read_result("filtered", columns=["id", "x"], filters=filters)
    full = filtered.read_polars("filtered")
    want = full.filter(
        ((pl.col("id") < 50) & pl.col("cat").cast(pl.String).is_in(["a", "b"]))
        | (pl.col("ts") >= dt.datetime(2024, 2, 10))
        | pl.col("x").is_null()
    ).select("id", "x")
    assert res.frame.sort("id").equals(want.sort("id"))
    assert res.info.filters_pushed is not None
    assert res.info.filters_residual is None
    assert res.frame.columns == ["id", "x"]


def test_a_polars_expression_filter_is_applied_after_the_scan(filtered: dynio.Catalog) -> None:
    res = filtered.read_result("filtered", filters=pl.col("id") % 100 == 0)
    assert res.frame["id"].to_list() == list(range(100, 1001, 100))
    assert res.info.filters_residual is not None


def test_text_order_comparisons_match_polars(pg: psycopg.Connection[Any], pg_catalog: Any) -> None:
    words = ["apple", "Banana", "banana", "éclair", "Zebra", "zebra", "", "a b", "a-b"]
    # a linguistic collation, where SQL's text order is not Polars' byte order
    pg.execute('DROP TABLE IF EXISTS words; CREATE TABLE words (w text COLLATE "und-x-icu")')
    with pg.cursor().copy("COPY words (w) FROM STDIN") as copy:
        for w in words:
            copy.write_row((w,))
    cat = pg_catalog(pg_yaml("words", {"w": "str"}))
    for op, value in [("<", "b"), (">=", "Z"), (">", "a b"), ("<=", "éclair")]:
        got = cat.read_polars("words", filters=[("w", op, value)])["w"].sort().to_list()
        want = (
            pl.DataFrame({"w": words})
            .filter(
                {
                    "<": pl.col("w") < value,
                    ">=": pl.col("w") >= value,
                    ">": pl.col("w") > value,
                    "<=": pl.col("w") <= value,
                }[op]
            )["w"]
            .sort()
            .to_list()
        )
        assert got == want, (op, value)


def test_partitioned_read_through_connectorx(filtered: dynio.Catalog, pg_catalog: Any) -> None:
    cat = pg_catalog(
        pg_yaml(
            "filtered",
            {"id": "int64", "cat": "category", "ts": "datetime64[ns]", "x": "float64"},
            "{partition_on: id, partition_num: 3}",
        )
    )
    from dynio.engine.sources import postgres

    source = cat.resource("filtered").spec.source
    scanned = postgres.scan(source, ScanRequest("filtered", "pg"))
    assert scanned.pushdown is not None
    assert scanned.pushdown.details["path"] == "connectorx"
    parted = cat.read_polars("filtered", columns=["cat", "x"]).sort("cat", "x")
    plain = filtered.read_polars("filtered", columns=["cat", "x"]).sort("cat", "x")
    assert parted.equals(plain)
    # a filtered read binds its values, so it goes through ADBC with the filter in the SQL
    res = cat.read_result("filtered", filters=[("id", "<=", 10)])
    assert res.frame["id"].to_list() == list(range(1, 11))
    assert res.info.filters_pushed is not None


def test_sql_query_with_projection_and_filters(filtered: dynio.Catalog, pg_catalog: Any) -> None:
    cat = pg_catalog(pg_yaml("q", None, '{sql_query: "SELECT id, id * 2 AS twice FROM filtered;"}'))
    res = cat.read_result("q", columns=["twice"], filters=[("id", ">", 995)])
    assert res.frame["twice"].to_list() == [1992, 1994, 1996, 1998, 2000]
    with pytest.raises(ConfigError, match="sql_query cannot be written"):
        cat.write("q", pl.DataFrame({"id": [1], "twice": [2]}))


def test_scan_is_lazy_and_counts_without_columns(filtered: dynio.Catalog) -> None:
    lazy = filtered.scan("filtered", filters=[("id", "<=", 10)])
    assert lazy.select(pl.len()).collect().item() == 10
    assert lazy.head(3).collect()["id"].to_list() == [1, 2, 3]


def test_missing_table_is_a_read_error(pg_catalog: Any) -> None:
    cat = pg_catalog(pg_yaml("nowhere", {"a": "int64"}))
    with pytest.raises(ReadError, match='relation "nowhere" does not exist') as err:
        cat.read("nowhere")
    assert err.value.resource == "nowhere"
    assert err.value.env == "pg"


# ------------------------------------------------------------------------ injection, secrets


def test_injection_in_filter_values_and_identifiers_is_harmless(
    pg: psycopg.Connection[Any], pg_catalog: Any
) -> None:
    pg.execute("DROP TABLE IF EXISTS victim; CREATE TABLE victim AS SELECT 1 AS a")
    evil = "x'; DROP TABLE victim; --"
    cat = pg_catalog(pg_yaml("names", {"id": "int64", "name": "str"}))
    cat.write("names", pl.DataFrame({"id": [1, 2], "name": [evil, "ok"]}))
    assert cat.read_polars("names", filters=[("name", "==", evil)])["id"].to_list() == [1]
    assert cat.read_polars("names", filters=[("name", "in", [evil, "')--"])]).height == 1
    # identifiers: a hostile table and hostile column names are quoted, never spliced
    odd = pg_catalog(pg_yaml("odd", None, table='"victim\\"; DROP TABLE victim; --"'))
    frame = pl.DataFrame({'a"; DROP TABLE victim; --': [1], "b) --": ["x"]})
    odd.write("odd", frame)
    back = odd.read_polars("odd", filters=[('a"; DROP TABLE victim; --', "==", 1)])
    assert back.equals(frame)
    assert rows(pg, "SELECT a FROM victim") == [(1,)]


def test_the_password_is_never_in_errors_or_spans(
    catalog_from: CatalogFrom, postgres: PostgresServer, otel: Any
) -> None:
    text = textwrap.dedent(
        """
        secretive:
          pg:
            type: postgres
            postgres: {db_host: "[[ H ]]", db_port: "[[ P ]]", db_name: postgres,
                       db_user: "[[ U ]]", db_password: "[[ PW ]]"}
            options: {table: no_such_table}
          wrong:
            type: postgres
            postgres: {uri: "[[ WRONG ]]"}
        """
    )
    wrong = postgres.uri.replace(postgres.uri.split("@")[0].split(":")[-1], "bad%20pw%3A")
    vars = {
        "H": postgres.host,
        "P": postgres.port,
        "U": postgres.user,
        "PW": postgres.password,
        "WRONG": wrong,
    }
    messages = []
    for env in ("pg", "wrong"):
        cat = catalog_from(text, env=env, vars=vars)
        with pytest.raises(ReadError) as err:
            cat.read("secretive")
        messages.append(str(err.value))
        with pytest.raises(WriteError) as werr:
            cat.write("secretive", pl.DataFrame({"a": ["NUL \x00 is refused by PostgreSQL"]}))
        messages.append(str(werr.value))
        chain: BaseException | None = err.value
        while chain is not None:
            messages.append(str(chain))
            chain = chain.__cause__ or chain.__context__
    assert any("password authentication failed" in m for m in messages)
    assert "no_such_table" in messages[0]
    spans = otel.spans()
    texts = [*messages]
    for s in spans:
        texts += [str(v) for v in s.attributes.values()]
        texts += [str(e.attributes) for e in s.events]
        texts.append(str(s.status.description))
    for secret in (postgres.password, "bad pw:", "bad%20pw%3A", "s3cr3t"):
        assert not [t for t in texts if secret in t], secret


@pytest.mark.parametrize(
    ("password_part", "echoed"),
    [
        # libpq quotes the password as the URI spells it: percent-encoded, a broken escape kept
        ("?password=wr0ng%20pw%3Ax%zz", "wr0ng%20pw%3Ax%zz"),
        # a raw space, which libpq refuses and quotes: the URI pattern of redact stops at it
        (":wr0ng pw:x@", "wr0ng pw:x"),
    ],
)
def test_a_wrong_password_the_driver_echoes_is_redacted_in_every_spelling(
    catalog_from: CatalogFrom, postgres: PostgresServer, otel: Any, password_part: str, echoed: str
) -> None:
    host = f"{postgres.host}:{postgres.port}/{postgres.dbname}"
    if password_part.startswith("?"):
        uri = f"postgresql://{postgres.user}@{host}{password_part}"
    else:
        uri = f"postgresql://{postgres.user}{password_part}{host}"
    text = 'echoed:\n  pg:\n    type: postgres\n    postgres: {uri: "[[ URI ]]"}\n'
    cat = catalog_from(text, env="pg", vars={"URI": uri})
    # the driver's own error holds the password as the URI spells it
    with pytest.raises(psycopg.Error) as raw:
        psycopg.connect(uri)
    if echoed not in str(raw.value):  # the libpq of older psycopg-binary wheels does not echo it
        pytest.skip("this libpq does not echo the password: nothing to redact")
    messages = []
    with pytest.raises(ReadError) as err:
        cat.read("echoed")
    with pytest.raises(WriteError) as werr:
        cat.write("echoed", pl.DataFrame({"a": [1]}))
    for top in (err.value, werr.value):
        chain: BaseException | None = top
        while chain is not None:  # as a traceback shows it: a suppressed context is not shown
            messages.append(str(chain))
            chain = chain.__cause__ or (None if chain.__suppress_context__ else chain.__context__)
    assert any("***" in m for m in messages)
    spellings = (echoed, "wr0ng pw", "wr0ng%20pw", "wr0ng+pw", "pw:x", "pw%3Ax")
    for spelling in spellings:
        assert not [m for m in messages if spelling in m], spelling
    spans: list[str] = []
    for s in otel.spans():
        spans += [str(v) for v in s.attributes.values()]
        spans += [str(e.attributes) for e in s.events]
        spans.append(str(s.status.description))
    leaked = [t for t in spans for spelling in spellings if spelling in t]
    assert not leaked


def test_each_call_is_a_client_span_with_the_database_conventions(
    filtered: dynio.Catalog, pg: psycopg.Connection[Any], otel: Any
) -> None:
    """Reads and writes open CLIENT spans named as the database conventions say, under the
    operation, with the server, the database, the table and the statement without literals."""
    filtered.read_polars("filtered", filters=[("cat", "=", "secret-literal-x")], validate=False)
    read = otel.span("dynio.read")
    calls = [s for s in otel.spans() if s.kind.name == "CLIENT"]
    assert calls
    info = pg.info
    for call in calls:
        a = dict(call.attributes)
        assert call.name == "SELECT filtered"
        assert call.context.trace_id == read.context.trace_id
        assert a["db.system.name"] == "postgresql"
        assert a["db.operation.name"] == "SELECT"
        assert a["db.collection.name"] == "filtered"
        assert a["db.namespace"] == info.dbname
        assert a["server.address"] == info.host
        assert a["server.port"] == int(info.port)
        assert "db.user" not in a
        assert "secret-literal-x" not in a["db.query.text"]
    otel.clear()
    filtered.write("filtered", filtered.read_polars("filtered", validate=False))
    writes = [s for s in otel.spans() if s.kind.name == "CLIENT" and s.name != "SELECT filtered"]
    assert [s.name for s in writes] == ["COPY filtered"]


def test_a_filter_partly_in_the_where_is_reported_as_partial(
    filtered: dynio.Catalog, otel: Any
) -> None:
    # category order is not text order: "cat < 'c'" stays with the engine, "id < 50" goes to SQL
    filters = [("id", "<", 50), ("cat", "<", "c")]
    want = filtered.read_polars("filtered").filter(
        (pl.col("id") < 50) & (pl.col("cat").cast(pl.String) < "c")
    )
    otel.clear()
    res = filtered.read_result("filtered", filters=filters)
    assert res.frame.sort("id").equals(want.sort("id"))
    pushdown = res.pushdown
    assert pushdown.partial
    assert pushdown.projection
    assert pushdown.pushed is not None
    assert pushdown.residual is not None
    assert pushdown.pushed.groups == ((("id", "<", 50),),)
    assert pushdown.residual.groups == ((("cat", "<", "c"),),)
    assert pushdown.details == {"path": "adbc"}
    assert res.info.filters_pushed is not None
    assert "id" in res.info.filters_pushed
    assert "cat" not in res.info.filters_pushed
    assert res.info.filters_residual is not None
    assert "cat" in res.info.filters_residual
    assert res.info.pushed["predicates"] is False
    for name in ("dynio.read", "dynio.scan"):
        attrs = dict(otel.span(name).attributes)
        assert "id" in attrs["dynio.filters.pushed"], name
        assert "cat" in attrs["dynio.filters.residual"], name
        assert attrs["dynio.pushdown.projection"] is True, name
    where = [
        dict(s.attributes)["db.query.text"]
        for s in otel.spans()
        if s.kind.name == "CLIENT" and "WHERE" in dict(s.attributes).get("db.query.text", "")
    ]
    assert where
    for q in where:
        assert '"id" <' in q
        assert '"cat"' not in q.split("WHERE")[1]


def test_a_filter_wholly_in_the_where_has_no_residual(filtered: dynio.Catalog) -> None:
    res = filtered.read_result("filtered", filters=[("id", "<", 50), ("cat", "==", "a")])
    assert res.pushdown.pushed is not None
    assert res.pushdown.residual is None
    assert not res.pushdown.partial
    assert res.frame["id"].to_list() == [i for i in range(1, 50) if i % 5 == 0]
