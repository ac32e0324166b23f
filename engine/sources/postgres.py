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

import contextlib
import importlib
import os
import re
import sys
import threading
import uuid
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import parse_qs, parse_qsl, quote, unquote, urlsplit

import polars as pl
import pyarrow as pa

from dynio.engine.casts_sql import check_parameters, check_table_types
from dynio.engine.deadlines import (
    DEFAULT_TIMEOUTS,
    Timeouts,
    is_timeout,
    parse_timeouts,
    with_libpq_limits,
)
from dynio.engine.errors import (
    ConfigError,
    DynioError,
    MissingDependencyError,
    ReadError,
    WriteError,
)
from dynio.engine.sources import Scan, ScanRequest, WriteInfo, WriteRequest
from dynio.engine.sources.sql import (
    WritePlan,
    check_key,
    compile_filters,
    deferred_frame,
    empty_columns,
    normalize_arrow,
    polars_schema,
    quote_ident,
    table_name,
    to_polars,
    write_plan,
)
from dynio.engine.sources.sql import check_spec as sql_check_spec
from dynio.engine.spec import SourceSpec
from dynio.engine.telemetry import client_span, redact, secret_spellings, secrets_in

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

_SCHEMES = ("postgresql", "postgres")
_FIELDS = ("db_host", "db_port", "db_name", "db_user", "db_password")
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
# how the server's own messages start inside a driver's text
_SERVER_MSG = re.compile(r"(ERROR|FATAL):\s+(.*)$", re.DOTALL)


@dataclass(frozen=True)
class Connection:
    """How to reach a server: the URI (secret), a redacted location and what to redact."""

    uri: str = field(repr=False)
    location: str
    secrets: tuple[str, ...] = field(repr=False)
    db_schema: str | None = None
    timeouts: Timeouts = DEFAULT_TIMEOUTS

    def call(self, operation: str, target: str | None, sql: str | None = None) -> Any:
        """The CLIENT span of one call to this server (``SELECT public.trips``)."""
        server, port, namespace = None, None, None
        with contextlib.suppress(ValueError):
            parts = urlsplit(self.uri)
            query = parse_qs(parts.query)
            server = parts.hostname or next(iter(query.get("host") or []), None)
            port = parts.port or int((query.get("port") or ["5432"])[0])
            namespace = unquote(parts.path.lstrip("/")) or None
        if target is not None and self.db_schema and "." not in target:
            target = f"{self.db_schema}.{target}"
        return client_span(
            "db",
            system="postgresql",
            operation=operation,
            target=target,
            namespace=namespace,
            server=server or "localhost",
            port=port,
            query=sql,
        )


def uri_secrets(uri: str) -> tuple[str, ...]:
    """Every spelling of the secrets a ``postgresql://`` URI holds, longest first (for
    :func:`dynio.engine.telemetry.redact`): the URI itself, its password as libpq reads it (a
    raw ``@`` or space included, where the URI pattern of :func:`~dynio.engine.telemetry.secrets_in`
    stops) and ``password`` query parameters, all spelled by
    :func:`dynio.engine.telemetry.secret_spellings`."""
    found = secret_spellings(uri)
    found.update(secrets_in(uri))
    try:
        parts = urlsplit(uri)
        raw = parts.password
    except ValueError:
        return _longest_first(found)
    if raw:
        found.update(secret_spellings(raw, encoded=True))
    for key, value in parse_qsl(parts.query):
        if "password" in key.lower() and value:
            found.update(secret_spellings(value))
    return _longest_first(found)


def _longest_first(secrets: set[str]) -> tuple[str, ...]:
    # short passwords too (the server took them): only the empty text is no secret
    return tuple(sorted((s for s in secrets if s), key=len, reverse=True))


def _redact(uri: str) -> str:
    parts = urlsplit(uri)
    user = f"{parts.username}@" if parts.username else ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


def connection(spec: SourceSpec, context: Mapping[str, Any]) -> Connection:
    """The connection a ``postgres`` source describes, from ``uri`` or the ``db_*`` fields.

    Raises:
        ConfigError: Both forms given, or required fields missing (the message shows no secret).
    """
    settings = spec.settings
    section = "postgres"
    db_schema = settings.get("db_schema")
    try:
        limits = parse_timeouts(spec.options.get("timeouts"), option="options.timeouts")
    except ValueError as exc:
        raise ConfigError(str(exc), key_path="options.timeouts", **context) from exc
    if "uri" in settings:
        given = [k for k in _FIELDS if k in settings]
        if given:
            raise ConfigError(
                f"give either uri or the db_* fields, not both (also given: {given})",
                key_path=f"{section}.uri",
                **context,
            )
        uri = str(settings["uri"])
        try:
            parts = urlsplit(uri)
            parts.port  # noqa: B018  (parsing the port validates it)
        except ValueError:
            # the parser's message may quote the URI, which holds the password
            raise ConfigError(
                "uri is not a valid URI", key_path=f"{section}.uri", **context
            ) from None
        if parts.scheme not in _SCHEMES:
            raise ConfigError(
                f"uri must start with postgresql://, got {parts.scheme or 'no'} scheme",
                key_path=f"{section}.uri",
                **context,
            )
        bounded = with_libpq_limits(uri, limits)
        return Connection(bounded, _redact(uri), uri_secrets(uri), db_schema, limits)
    missing = [k for k in ("db_host", "db_name") if not settings.get(k)]
    if missing:
        raise ConfigError(
            f"missing {missing[0]} (or give a uri)",
            key_path=f"{section}.{missing[0]}",
            **context,
        )
    host = str(settings["db_host"])
    port = int(settings.get("db_port") or 5432)
    user = settings.get("db_user")
    password = settings.get("db_password")
    auth = ""
    if user:
        auth = quote(str(user), safe="")
        if password:
            auth += ":" + quote(str(password), safe="")
        auth += "@"
    name = quote(str(settings["db_name"]), safe="")
    if host.startswith("/"):  # a Unix socket folder goes in the query string
        uri = f"postgresql://{auth}/{name}?host={quote(host, safe='')}&port={port}"
        location = f"postgresql://{user + '@' if user else ''}{host}:{port}/{name}"
    else:
        netloc = f"[{host}]" if ":" in host else host
        uri = f"postgresql://{auth}{netloc}:{port}/{name}"
        location = f"postgresql://{user + '@' if user else ''}{netloc}:{port}/{name}"
    secrets = uri_secrets(uri)
    if password:
        secrets = _longest_first({*secrets, *secret_spellings(str(password))})
    return Connection(with_libpq_limits(uri, limits), location, secrets, db_schema, limits)


def _adbc(context: Mapping[str, Any]) -> Any:
    try:
        # through importlib: the driver ships no type information
        dbapi = importlib.import_module("adbc_driver_postgresql.dbapi")
    except ImportError as exc:
        raise MissingDependencyError(
            "PostgreSQL reads need 'adbc-driver-postgresql'", extra="postgres", **context
        ) from exc
    return dbapi


def _psycopg(context: Mapping[str, Any]) -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise MissingDependencyError(
            "PostgreSQL writes need 'psycopg'", extra="postgres", **context
        ) from exc
    return psycopg


def _server(location: str) -> str:
    """``host:port`` of a redacted location."""
    parts = urlsplit(location)
    return parts.netloc.rpartition("@")[2] or location


def _message(exc: BaseException, secrets: tuple[str, ...]) -> str:
    """The server's message from a driver exception, one line, secrets redacted."""
    text = str(exc).strip()
    m = _SERVER_MSG.search(text)
    if m:
        text = m.group(2)
    line = text.splitlines()[0].strip() if text else type(exc).__name__
    return redact(re.sub(r"\s+", " ", line), secrets)


def _fail(
    cls: type[ReadError] | type[WriteError],
    what: str,
    exc: BaseException,
    conn: Connection,
    location: str,
    context: Mapping[str, Any],
) -> NoReturn:
    said = _message(exc, conn.secrets)
    if is_timeout(exc) or "canceling statement due to statement timeout" in str(exc):
        limits = conn.timeouts
        said = (
            f"the PostgreSQL server {_server(conn.location)} did not answer within the"
            f" {limits.connect:g}s connect timeout ({said})"
            if "statement" not in said
            else f"the statement ran past the {limits.deadline:g}s deadline ({said})"
        )
    err = cls(f"{what}: {said}", file=location, **context)
    if redact(str(exc), conn.secrets) != str(exc):
        # a driver that echoed a secret must not pass it on through __cause__
        raise err from None
    raise err from exc


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


class _Session:
    """The ADBC connection a scan opens to learn its schema, kept for the first fetch.

    Opening an ADBC PostgreSQL connection reads the server's type catalogue (tens of
    milliseconds); a read reuses the probe's connection instead of opening a second one. The
    connection is closed after the fetch, or when the lazy frame is dropped uncollected.
    """

    def __init__(
        self,
        conn: Connection,
        location: str,
        context: Mapping[str, Any],
        target: str | None = None,
    ) -> None:
        self.conn = conn
        self.location = location
        self.context = context
        self.target = target
        self._lock = threading.Lock()
        self._kept: Any = None

    def _open(self) -> Any:
        dbapi = _adbc(self.context)
        try:
            return dbapi.connect(self.conn.uri)
        except dbapi.Error as exc:
            _fail(
                ReadError,
                "cannot read from PostgreSQL",
                exc,
                self.conn,
                self.location,
                self.context,
            )

    def take(self) -> Any:
        """A connection for the caller to close: the kept one, else a new one."""
        with self._lock:
            kept, self._kept = self._kept, None
        return kept if kept is not None else self._open()

    def keep(self, con: Any) -> None:
        with self._lock:
            if self._kept is None:
                self._kept, con = con, None
        if con is not None:
            con.close()

    def close(self) -> None:
        with self._lock:
            kept, self._kept = self._kept, None
        if kept is not None:
            kept.close()

    def probe(self, sql: str) -> pa.Schema:
        """The result schema of a query, without running it; the connection is kept."""
        dbapi = _adbc(self.context)
        con = self.take()
        try:
            with self.conn.call("SELECT", self.target, sql), con.cursor() as cur:
                schema: pa.Schema = cur.adbc_execute_schema(sql)
        except dbapi.Error as exc:
            con.close()
            _fail(
                ReadError,
                "cannot read from PostgreSQL",
                exc,
                self.conn,
                self.location,
                self.context,
            )
        except BaseException:
            con.close()  # nothing else will: the session keeps only probes that succeeded
            raise
        self.keep(con)
        return schema

    def fetch(self, sql: str, params: Sequence[Any]) -> pa.Table:
        dbapi = _adbc(self.context)
        con = self.take()
        try:
            with self.conn.call("SELECT", self.target, sql), con.cursor() as cur:
                cur.execute(sql, parameters=tuple(params) if params else None)
                table: pa.Table = cur.fetch_arrow_table()
                return table
        except dbapi.Error as exc:
            _fail(
                ReadError,
                "cannot read from PostgreSQL",
                exc,
                self.conn,
                self.location,
                self.context,
            )
        finally:
            con.close()


def _fetch_adbc(
    conn: Connection,
    sql: str,
    params: Sequence[Any],
    location: str,
    context: Mapping[str, Any],
) -> pa.Table:
    return _Session(conn, location, context).fetch(sql, params)


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
        _fail(ReadError, "cannot read from PostgreSQL (connectorx)", exc, conn, location, context)


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
        text = str(sql_query).strip().rstrip(";").strip()
        if not text:
            raise ConfigError("sql_query is empty", key_path="options.sql_query", **context)
        return f"({text}) AS {quote_ident('q')}", f"{conn.location}?sql_query", None
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
    session = _Session(conn, location, context, target)
    try:
        source = polars_schema(session.probe(f"SELECT * FROM {relation}"))
        if column not in source:
            raise ReadError(f"partition_on column {column!r} is not in the data", **context)
        compiled = compile_filters(
            request.filters, source, request.hints.dtypes, text_collation=' COLLATE "C"'
        )
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
    session = _Session(conn, location, context, target)
    arrow = session.probe(f"SELECT * FROM {relation}")
    try:
        source = polars_schema(arrow)
    except ValueError as exc:
        session.close()
        raise ReadError(str(exc), file=location, **context) from exc
    names = source.names()
    columns = [c for c in request.columns if c in source] if request.columns is not None else names
    declared = pl.Schema([(c, source[c]) for c in columns])
    compiled = compile_filters(
        request.filters, source, request.hints.dtypes, text_collation=' COLLATE "C"'
    )
    try:
        check_parameters(request.filters, compiled.params, {**context, "file": location})
    except DynioError:
        session.close()
        raise
    where = f" WHERE {compiled.where}" if compiled.where else ""
    use_cx = (
        partition is not None
        and not compiled.where
        and partition[0] in source
        and all(_pg_type_of(f) in _CX_TYPES for f in arrow)
    )

    def fetch(wanted: list[str], limit: int | None) -> pl.DataFrame:
        tail = f" LIMIT {int(limit)}" if limit is not None else ""
        if not wanted:
            sql = f"SELECT count(*) AS n FROM (SELECT 1 FROM {relation}{where}{tail}) AS c"
            counted = session.fetch(sql, compiled.params)
            return empty_columns(int(counted.column(0)[0].as_py()))
        select = ", ".join(quote_ident(c) for c in wanted)
        if use_cx and partition is not None:
            extra = [partition[0]] if partition[0] not in wanted else []
            cols = ", ".join(quote_ident(c) for c in [*wanted, *extra])
            session.close()  # connectorx opens its own connections
            table = _fetch_cx(
                conn, f"SELECT {cols} FROM {relation}{tail}", partition, location, context, target
            )
            table = table.select(wanted)
        else:
            sql = f"SELECT {select} FROM {relation}{where}{tail}"
            table = session.fetch(sql, compiled.params)
        return to_polars(table, pl.Schema([(c, declared[c]) for c in wanted]))

    frame = deferred_frame(columns, declared, fetch, name="postgres", detail=location)
    # the kept connection goes when the plan holding ``fetch`` goes, collected or not
    weakref.finalize(fetch, session.close)
    return Scan(
        frame=frame,
        location=location,
        pushed={
            "projection": True,
            "predicates": request.filters is not None and compiled.exact,
            "path": "connectorx" if use_cx else "adbc",
        },
    )


def query(uri: str, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
    """Run one query with ``$n`` parameters and return its rows as Arrow (types Polars and
    pandas can take: numerics, UUIDs and JSON as text, intervals as durations).

    Raises:
        ReadError: The query failed (the message shows no secret).
    """
    conn = Connection(with_libpq_limits(uri, DEFAULT_TIMEOUTS), _redact(uri), uri_secrets(uri))
    return normalize_arrow(_fetch_adbc(conn, sql, params or (), conn.location, {}))


def query_batches(uri: str, sql: str, params: Sequence[Any] | None = None) -> Iterator[pa.Table]:
    """Like :func:`query`, streaming: the rows in Arrow batches as the server sends them."""
    conn = Connection(with_libpq_limits(uri, DEFAULT_TIMEOUTS), _redact(uri), uri_secrets(uri))
    dbapi = _adbc({})
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
        _fail(ReadError, "cannot read from PostgreSQL", exc, conn, conn.location, {})


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


def _missing_columns(
    frame: pl.DataFrame, existing: Mapping[str, str] | None, mode: str, where: Mapping[str, Any]
) -> None:
    if existing is None or mode == "replace":
        return
    missing = [c for c in frame.columns if c not in existing]
    if missing:
        raise WriteError(
            f"the table has no column(s) {missing}; it has {list(existing)}",
            column=missing[0],
            **where,
        )


def _columns_ddl(frame: pl.DataFrame, key: Sequence[str]) -> str:
    cols = [f"{quote_ident(n)} {pg_type(t) or 'text'}" for n, t in frame.schema.items()]
    if key:
        cols.append(f"PRIMARY KEY ({', '.join(quote_ident(k) for k in key)})")
    return ", ".join(cols)


def _merge_sql(target: str, stage: str, columns: Sequence[str], key: Sequence[str]) -> str:
    cols = ", ".join(quote_ident(c) for c in columns)
    updates = [c for c in columns if c not in key]
    action = (
        "DO UPDATE SET "
        + ", ".join(f"{quote_ident(c)} = EXCLUDED.{quote_ident(c)}" for c in updates)
        if updates
        else "DO NOTHING"
    )
    keys = ", ".join(quote_ident(k) for k in key)
    return f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {stage} ON CONFLICT ({keys}) {action}"


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
    cur.execute(_merge_sql(target, quote_ident(stage), frame.columns, plan.key))


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
    psycopg = _psycopg(context)
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
        # built from quoted identifiers only (see _merge_sql)
        merge = _merge_sql(target.as_string(con), quote_ident(stage), frame.columns, plan.key)
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
    dbapi = _adbc(context)
    operation = {"upsert": "MERGE", "append": "INSERT"}.get(plan.mode, "COPY")
    try:
        with conn.call(operation, table), dbapi.connect(conn.uri) as con:
            with con.cursor() as cur:
                cur.execute(_TABLE_SQL.format("$1", "$2"), parameters=(table, conn.db_schema))
                rows = cur.fetchall()
                existing = {r[0]: r[1] for r in rows} if rows else None
                _missing_columns(frame, existing, plan.mode, where)
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
                f" {_message(exc, conn.secrets)}",
                file=location,
                **context,
            ) from exc
        psycopg = sys.modules.get("psycopg")
        backend = (dbapi.Error,) + ((psycopg.Error,) if psycopg is not None else ())
        if isinstance(exc, backend):
            _fail(WriteError, "cannot write to PostgreSQL", exc, conn, location, context)
        raise
    return WriteInfo(location=location, rows=frame.height)
