"""PostgreSQL tables and queries: ``postgres``.

YAML examples::

    trips:
      prod:
        type: postgres
        postgres:                          # dynamicio's section
          db_host: "[[ DB_HOST ]]"
          db_port: 5432
          db_name: analytics
          db_user: "[[ DB_USER ]]"
          db_password: "[[ DB_PASSWORD ]]"
          db_schema: public                # optional: the server's search_path otherwise
        options:
          table: trips                     # default: the schema's name
          write_mode: upsert               # replace (default), append, truncate_and_append
          key: [trip_id]                   # upsert: the columns that identify a row
      staging:
        type: postgres
        postgres: {uri: "postgresql://reader:[[ PW ]]@db.internal:5432/analytics"}
        options:
          sql_query: "SELECT * FROM trips WHERE day >= current_date - 7"
          partition_on: trip_id            # an integer column: read in parallel ranges
          partition_num: 4

Reads go to Arrow through ADBC's PostgreSQL driver (measured faster than connectorx for a single
stream), with the columns the plan needs and the ``filters=`` conditions in the generated SQL:
identifiers quoted, values bound as parameters. ``partition_on`` reads unfiltered data in
parallel ranges through connectorx. Writes run in one transaction, so a failed or killed write
leaves the table as it was: rows go as binary ``COPY`` through ADBC (into a new table, or one
whose columns have the types dynio creates), or as CSV ``COPY`` through psycopg into a table of
other column types, which PostgreSQL converts value by value. A missing table is created from
the schema's dtypes; ``upsert`` stages the rows in a temporary table and merges them with
``INSERT … ON CONFLICT``. The password never appears in errors, logs or spans. ``chunksize``
(which dynamicio handed to ``pandas.read_sql``) is accepted and has no effect.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import uuid
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from dynio.engine.casts_sql import check_parameters, check_table_types
from dynio.engine.deadlines import DEFAULT_TIMEOUTS, with_libpq_limits
from dynio.engine.errors import (
    ConfigError,
    DynioError,
    MissingDependencyError,
    ReadError,
    WriteError,
)
from dynio.engine.filter_sql import POSTGRES, SqlWhere, compile_sql
from dynio.engine.sources import Scan, ScanRequest, WriteInfo, WriteRequest
from dynio.engine.sources.postgres_client import (
    Connection,
    Session,
    adbc,
    connection,
    fail,
    fetch_adbc,
    message,
    psycopg_module,
    redacted_uri,
    uri_secrets,
)
from dynio.engine.sources.sql import (
    WritePlan,
    check_key,
    normalize_arrow,
    polars_schema,
    quote_ident,
    table_name,
    write_plan,
)
from dynio.engine.sources.sql import check_spec as sql_check_spec
from dynio.engine.sources.sql_base import (
    Select,
    merge_sql,
    missing_columns,
    query_relation,
    relation_scan,
)
from dynio.engine.spec import SourceSpec

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "Connection",
    "connection",
    "pg_type",
    "query",
    "query_batches",
    "scan",
    "uri_secrets",
    "write",
]

# rows per CSV chunk handed to COPY: large enough to amortise calls, small enough to stream
_COPY_CHUNK = 100_000
# PostgreSQL types connectorx reads as ADBC does; other types go through ADBC
_CX_TYPES = frozenset(
    {
        "int2",
        "int4",
        "int8",
        "float4",
        "float8",
        "bool",
        "text",
        "varchar",
        "bpchar",
        "date",
        "timestamp",
        "timestamptz",
        "bytea",
        "name",
    }
)
# --------------------------------------------------------------------------------------- reading


def _relation(spec: SourceSpec, request: ScanRequest | WriteRequest, conn: Connection) -> str:
    table = table_name(spec, request)
    if conn.db_schema:
        return f"{quote_ident(conn.db_schema)}.{quote_ident(table)}"
    return quote_ident(table)


def check_spec(spec: SourceSpec, columns: Sequence[str] | None, context: Mapping[str, Any]) -> None:
    """Check the option values when the catalog loads (write mode, key, partitions)."""
    sql_check_spec(spec, columns, context)
    _partition(spec, context)


def _partition(spec: SourceSpec, context: Mapping[str, Any]) -> tuple[str, int] | None:
    column = spec.options.get("partition_on")
    num = spec.options.get("partition_num")
    if column is None:
        if num is not None:
            raise ConfigError(
                "partition_num needs partition_on", key_path="options.partition_num", **context
            )
        return None
    if not isinstance(column, str) or not column:
        raise ConfigError(
            f"partition_on must be a column name, got {column!r}",
            key_path="options.partition_on",
            **context,
        )
    if num is None:
        num = os.cpu_count() or 2
    if not isinstance(num, int) or isinstance(num, bool) or num < 1:
        raise ConfigError(
            f"partition_num must be a positive number, got {num!r}",
            key_path="options.partition_num",
            **context,
        )
    return column, num


def _fetch_cx(
    conn: Connection,
    sql: str,
    partition: tuple[str, int],
    location: str,
    context: Mapping[str, Any],
    target: str | None = None,
) -> pa.Table:
    try:
        import connectorx as cx
    except ImportError as exc:
        raise MissingDependencyError(
            "partitioned PostgreSQL reads need 'connectorx'", extra="postgres", **context
        ) from exc
    uri = conn.uri.replace("postgres://", "postgresql://", 1)
    try:
        # no helper thread here: connectorx holds the interpreter while its pool waits for a
        # connection (30 s at most, its pool's limit); a silent server has already failed the
        # ADBC probe every scan makes first, within connect_timeout
        with conn.call("SELECT", target, sql):
            table: pa.Table = cx.read_sql(
                uri,
                sql,
                return_type="arrow",
                partition_on=partition[0],
                partition_num=partition[1],
            )
        return table
    except BaseException as exc:
        # connectorx reports some failures as Rust panics, which are BaseExceptions
        if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
            raise
        fail(ReadError, "cannot read from PostgreSQL (connectorx)", exc, conn, location, context)


def _pg_type_of(fld: pa.Field) -> str:
    meta = fld.metadata or {}
    return str(meta.get(b"POSTGRESQL:type", b"").decode())


def _source_relation(
    spec: SourceSpec, request: ScanRequest, conn: Connection
) -> tuple[str, str, str | None]:
    """The SQL relation a resource reads (its table or its query), its shown location, and the
    table it names (``None`` for a query)."""
    context = request.context
    sql_query = spec.options.get("sql_query")
    if sql_query is not None:
        relation = query_relation(str(sql_query), "options.sql_query", context)
        return relation, f"{conn.location}?sql_query", None
    try:
        relation = _relation(spec, request, conn)
    except ValueError as exc:
        raise ConfigError(str(exc), key_path="options.table", **context) from exc
    target = table_name(spec, request)
    return relation, f"{conn.location}?table={target}", target


def key_range(spec: SourceSpec, request: ScanRequest, column: str) -> tuple[Any, Any]:
    """The minimum and maximum of ``column`` over the rows the request's filters keep, in one
    query (what a partitioned read by key ranges plans with)."""
    context = request.context
    conn = connection(spec, context)
    relation, location, target = _source_relation(spec, request, conn)
    session = Session(conn, location, context, target)
    try:
        source = polars_schema(session.probe(f"SELECT * FROM {relation}"))
        if column not in source:
            raise ReadError(f"partition_on column {column!r} is not in the data", **context)
        groups = request.filter.groups if request.filter is not None else request.filters
        compiled = compile_sql(groups or (), POSTGRES, source, request.hints.dtypes)
        where = f" WHERE {compiled.where}" if compiled.where else ""
        c = quote_ident(column)
        got = session.fetch(f"SELECT min({c}), max({c}) FROM {relation}{where}", compiled.params)
    finally:
        session.close()
    return got.column(0)[0].as_py(), got.column(1)[0].as_py()


def scan(spec: SourceSpec, request: ScanRequest) -> Scan:
    """A LazyFrame over a table or query; the SQL runs when the frame is collected."""
    context = request.context
    conn = connection(spec, context)
    relation, location, target = _source_relation(spec, request, conn)
    partition = _partition(spec, context)
    session = Session(conn, location, context, target)
    arrow = session.probe(f"SELECT * FROM {relation}")
    try:
        source = polars_schema(arrow)
    except ValueError as exc:
        session.close()
        raise ReadError(str(exc), file=location, **context) from exc
    # connectorx reads unfiltered tables of the types it reads as ADBC does, in parallel
    parallel = (
        partition is not None
        and partition[0] in source
        and all(_pg_type_of(f) in _CX_TYPES for f in arrow)
    )

    def select(compiled: SqlWhere) -> Select | None:
        if not parallel or compiled.where or partition is None:
            return None
        on = partition

        def through_cx(wanted: list[str], tail: str) -> pa.Table:
            extra = [on[0]] if on[0] not in wanted else []
            cols = ", ".join(quote_ident(c) for c in [*wanted, *extra])
            session.close()  # connectorx opens its own connections
            sql = f"SELECT {cols} FROM {relation}{tail}"
            return _fetch_cx(conn, sql, on, location, context, target).select(wanted)

        return through_cx

    scanned = relation_scan(
        relation, source, request, POSTGRES, session.fetch, location=location, select=select
    )
    try:  # (nothing has run yet: the frame is lazy)
        groups = request.filter.groups if request.filter is not None else request.filters
        check_parameters(groups, scanned.where.params, {**context, "file": location})
    except DynioError:
        session.close()
        raise
    path = "connectorx" if parallel and not scanned.where.where else "adbc"
    # the kept connection goes when the plan holding the frame goes, collected or not
    weakref.finalize(scanned.fetch, session.close)
    pushdown = dataclasses.replace(scanned.pushdown, details={"path": path})
    return Scan(frame=scanned.frame, location=location, pushdown=pushdown)


def query(uri: str, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
    """Run one query with ``$n`` parameters and return its rows as Arrow (types Polars and
    pandas can take: numerics, UUIDs and JSON as text, intervals as durations).

    Raises:
        ReadError: The query failed (the message shows no secret).
    """
    conn = Connection(with_libpq_limits(uri, DEFAULT_TIMEOUTS), redacted_uri(uri), uri_secrets(uri))
    return normalize_arrow(fetch_adbc(conn, sql, params or (), conn.location, {}))


def query_batches(uri: str, sql: str, params: Sequence[Any] | None = None) -> Iterator[pa.Table]:
    """Like :func:`query`, streaming: the rows in Arrow batches as the server sends them."""
    conn = Connection(with_libpq_limits(uri, DEFAULT_TIMEOUTS), redacted_uri(uri), uri_secrets(uri))
    dbapi = adbc({})
    try:
        with dbapi.connect(conn.uri) as con, con.cursor() as cur:
            cur.execute(sql, parameters=tuple(params) if params else None)
            reader = cur.fetch_record_batch()
            empty = True
            for batch in reader:
                empty = False
                yield normalize_arrow(pa.Table.from_batches([batch]))
            if empty:  # the columns, still
                yield normalize_arrow(reader.schema.empty_table())
    except dbapi.Error as exc:
        fail(ReadError, "cannot read from PostgreSQL", exc, conn, conn.location, {})


# --------------------------------------------------------------------------------------- writing


def pg_type(dtype: pl.DataType) -> str | None:
    """The PostgreSQL column type a Polars dtype is stored as (``None``: not storable)."""
    if isinstance(dtype, pl.Datetime):
        return "timestamp with time zone" if dtype.time_zone else "timestamp"
    if isinstance(dtype, pl.Decimal):
        return f"numeric({dtype.precision},{dtype.scale})" if dtype.precision else "numeric"
    simple: list[tuple[type[pl.DataType], str]] = [
        (pl.String, "text"),
        (pl.Categorical, "text"),
        (pl.Enum, "text"),
        (pl.Null, "text"),
        (pl.Int8, "smallint"),
        (pl.Int16, "smallint"),
        (pl.Int32, "integer"),
        (pl.Int64, "bigint"),
        (pl.UInt8, "smallint"),
        (pl.UInt16, "integer"),
        (pl.UInt32, "bigint"),
        (pl.UInt64, "numeric(20,0)"),
        (pl.Float32, "real"),
        (pl.Float64, "double precision"),
        (pl.Boolean, "boolean"),
        (pl.Date, "date"),
        (pl.Time, "time"),
        (pl.Duration, "interval"),
        (pl.Binary, "bytea"),
    ]
    for cls, name in simple:
        if isinstance(dtype, cls):
            return name
    return None


def _check_storable(frame: pl.DataFrame, context: Mapping[str, Any]) -> None:
    for name, dtype in frame.schema.items():
        if pg_type(dtype) is None:
            raise WriteError(
                f"column type {dtype} cannot be written to PostgreSQL", column=name, **context
            )


def _canonical(type_name: str) -> str:
    """A type as ``format_type`` spells it (``timestamp`` -> ``timestamp without time zone``)."""
    return {"timestamp": "timestamp without time zone", "time": "time without time zone"}.get(
        type_name, type_name
    )


_TABLE_SQL = (
    "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a"
    " WHERE a.attrelid = (SELECT c.oid FROM pg_catalog.pg_class c"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relname = {0} AND c.relkind IN ('r', 'p')"
    " AND (n.nspname = {1} OR ({1}::text IS NULL AND n.nspname = ANY (current_schemas(false))))"
    " ORDER BY array_position(current_schemas(false), n.nspname) NULLS LAST LIMIT 1)"
    " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
)


def _columns_ddl(frame: pl.DataFrame, key: Sequence[str]) -> str:
    cols = [f"{quote_ident(n)} {pg_type(t) or 'text'}" for n, t in frame.schema.items()]
    if key:
        cols.append(f"PRIMARY KEY ({', '.join(quote_ident(k) for k in key)})")
    return ", ".join(cols)


# ------------------------------------------------------- binary COPY through ADBC (the fast path)


def _arrow_for_copy(frame: pl.DataFrame) -> pa.Table:
    """The frame as Arrow in the types of the columns :func:`pg_type` creates."""
    cats = [n for n, t in frame.schema.items() if isinstance(t, pl.Categorical | pl.Enum)]
    if cats:
        frame = frame.with_columns(pl.col(cats).cast(pl.String))
    return frame.to_arrow()


def _write_binary(
    cur: Any,
    frame: pl.DataFrame,
    plan: WritePlan,
    conn: Connection,
    table: str,
    existing: Mapping[str, str] | None,
) -> None:
    """One transaction's statements on an ADBC cursor, the rows sent as binary COPY."""
    target = (
        f"{quote_ident(conn.db_schema)}.{quote_ident(table)}"
        if conn.db_schema
        else quote_ident(table)
    )
    data = _arrow_for_copy(frame)

    def ingest(name: str, *, temporary: bool = False) -> None:
        cur.adbc_ingest(
            name,
            data,
            mode="append",
            db_schema_name=None if temporary else conn.db_schema,
            temporary=temporary,
        )

    if plan.mode == "replace" or existing is None:
        if plan.mode == "replace":
            cur.execute(f"DROP TABLE IF EXISTS {target}")
        key = plan.key if plan.mode == "upsert" else ()
        cur.execute(f"CREATE TABLE {target} ({_columns_ddl(frame, key)})")
        if plan.mode != "upsert":
            ingest(table)
            return
    elif plan.mode == "truncate_and_append":
        cur.execute(f"TRUNCATE TABLE {target}")
    if plan.mode != "upsert":
        ingest(table)
        return
    stage = f"dynio_stage_{uuid.uuid4().hex}"
    cols = ", ".join(quote_ident(c) for c in frame.columns)
    cur.execute(
        f"CREATE TEMP TABLE {quote_ident(stage)} ON COMMIT DROP AS"
        f" SELECT {cols} FROM {target} WITH NO DATA"
    )
    ingest(stage, temporary=True)
    cur.execute(merge_sql(target, quote_ident(stage), frame.columns, plan.key))


# ---------------------------------------- CSV COPY through psycopg (tables of other column types)


def _csv_ready(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with every column in a form PostgreSQL's CSV input parses exactly."""
    fixes: list[pl.Expr] = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.Duration):
            us = col.dt.total_microseconds().cast(pl.String)
            fixes.append((us + pl.lit(" microseconds")).alias(name))
        elif isinstance(dtype, pl.Binary):
            fixes.append((pl.lit("\\x") + col.bin.encode("hex")).alias(name))
        elif isinstance(dtype, pl.Datetime) and dtype.time_zone:
            # written as UTC with an explicit offset: no ambiguity around clock changes
            fixes.append(col.dt.convert_time_zone("UTC").alias(name))
        elif isinstance(dtype, pl.Categorical | pl.Enum):
            fixes.append(col.cast(pl.String).alias(name))
    return frame.with_columns(fixes) if fixes else frame


def _write_csv(
    frame: pl.DataFrame,
    plan: WritePlan,
    conn: Connection,
    table: str,
    context: Mapping[str, Any],
) -> None:
    """The same statements through psycopg, the rows sent as CSV: PostgreSQL converts each
    value to the existing column's type (``varchar(10)``, ``numeric``, ``integer`` …)."""
    psycopg = psycopg_module(context)
    from psycopg import sql

    target = sql.Identifier(conn.db_schema, table) if conn.db_schema else sql.Identifier(table)
    data = _csv_ready(frame)
    with (
        psycopg.connect(conn.uri, autocommit=False, client_encoding="UTF8") as con,
        con.cursor() as cur,
    ):
        if plan.mode == "truncate_and_append":
            cur.execute(sql.SQL("TRUNCATE TABLE {}").format(target))
        if plan.mode != "upsert":
            _copy_csv(cur, target, data, freeze=plan.mode == "truncate_and_append")
            return
        stage = f"dynio_stage_{uuid.uuid4().hex}"
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in frame.columns)
        cur.execute(
            sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
                sql.Identifier(stage), cols, target
            )
        )
        _copy_csv(cur, sql.Identifier(stage), data, freeze=True)
        # built from quoted identifiers only (see merge_sql)
        merge = merge_sql(target.as_string(con), quote_ident(stage), frame.columns, plan.key)
        cur.execute(sql.SQL(merge))


def _copy_csv(cur: psycopg.Cursor[Any], target: Any, frame: pl.DataFrame, freeze: bool) -> None:
    from psycopg import sql

    cols = sql.SQL(", ").join(sql.Identifier(c) for c in frame.columns)
    stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv{})").format(
        target, cols, sql.SQL(", FREEZE") if freeze else sql.SQL("")
    )
    with cur.copy(stmt) as copy:
        for offset in range(0, frame.height, _COPY_CHUNK):
            # non_numeric quoting: text is always quoted, so a value such as \. or an empty
            # string is never read as the end-of-data marker or as NULL
            chunk = frame.slice(offset, _COPY_CHUNK).write_csv(
                include_header=False, quote_style="non_numeric"
            )
            copy.write(chunk.encode("utf-8"))


# ------------------------------------------------------------------------------------ the write


def write(frame: pl.DataFrame, spec: SourceSpec, request: WriteRequest) -> WriteInfo:
    """Write a frame to a table in one transaction (see the module docs for the modes).

    Rows go as binary ``COPY`` through ADBC (measured faster than text ``COPY``: nothing is
    formatted or parsed as text) when the table is new or its columns have the types dynio
    would create; into an existing table of other column types, as CSV through psycopg, which
    lets PostgreSQL convert each value.
    """
    context = request.context
    conn = connection(spec, context)
    if spec.options.get("sql_query") is not None:
        raise ConfigError(
            "a resource defined by sql_query cannot be written: give a table",
            key_path="options.sql_query",
            **context,
        )
    table = table_name(spec, request)
    location = f"{conn.location}?table={table}"
    where = {**context, "file": location}
    plan = write_plan(spec, request, frame.columns, context)
    _check_storable(frame, where)
    if plan.mode == "upsert":
        check_key(frame, plan.key, where)
    dbapi = adbc(context)
    operation = {"upsert": "MERGE", "append": "INSERT"}.get(plan.mode, "COPY")
    try:
        with conn.call(operation, table), dbapi.connect(conn.uri) as con:
            with con.cursor() as cur:
                cur.execute(_TABLE_SQL.format("$1", "$2"), parameters=(table, conn.db_schema))
                rows = cur.fetchall()
                existing = {r[0]: r[1] for r in rows} if rows else None
                missing_columns(frame.columns, existing, plan.mode, where)
                check_table_types(frame, None if plan.mode == "replace" else existing, where)
                binary = (
                    existing is None
                    or plan.mode == "replace"
                    or all(
                        existing[c] == _canonical(pg_type(t) or "") for c, t in frame.schema.items()
                    )
                )
                if binary:
                    _write_binary(cur, frame, plan, conn, table, existing)
            if binary:
                con.commit()
        if not binary:
            with conn.call(operation, table):
                _write_csv(frame, plan, conn, table, context)
    except WriteError:
        raise
    except Exception as exc:
        if getattr(exc, "sqlstate", None) == "42P10":  # no unique index for ON CONFLICT
            raise WriteError(
                f"upsert needs a primary key or unique index on {list(plan.key)}:"
                f" {message(exc, conn.secrets)}",
                file=location,
                **context,
            ) from exc
        psycopg = sys.modules.get("psycopg")
        backend = (dbapi.Error,) + ((psycopg.Error,) if psycopg is not None else ())
        if isinstance(exc, backend):
            fail(WriteError, "cannot write to PostgreSQL", exc, conn, location, context)
        raise
    return WriteInfo(location=location, rows=frame.height)
