"""DuckDB databases and SQL over files: the ``duckdb`` kind, and ``engine: duckdb`` on file kinds.

YAML examples::

    trips:
      warehouse:
        type: duckdb
        duckdb: {database: data/warehouse.duckdb, table: trips}   # relative to this YAML file
        options: {write_mode: upsert, key: [trip_id]}             # same modes as postgres
      adhoc:
        type: duckdb
        duckdb:
          database: ":memory:"
          sql_query: "SELECT * FROM read_parquet('data/trips/*.parquet') WHERE fare > 0"
      sample:
        type: local
        local: {file_path: data/trips.csv, file_type: csv}
        options: {engine: duckdb}          # this file's scan runs in DuckDB instead of Polars

Reads run the SQL when the frame is collected and return Arrow, with the columns the plan needs
and the ``filters=`` conditions in the SQL (identifiers quoted, values bound as parameters).
Relative file paths inside ``sql_query`` resolve against the YAML file's folder. ``table``
defaults to the schema's name. Writes run in one transaction (``replace`` by default,
``append``, ``truncate_and_append``, ``upsert`` with ``key``), so a failed write leaves the
table as it was. An in-memory database cannot be written (it would vanish with the write).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from dynio.engine.errors import (
    ConfigError,
    MissingDependencyError,
    ReadError,
    UnsupportedError,
    WriteError,
    first_line,
)
from dynio.engine.filter_sql import DUCKDB
from dynio.engine.io.filesystems import is_remote
from dynio.engine.io.formats import NO_EFFECT, PANDAS_NA_VALUES, PLAN_OPTIONS, capabilities_of
from dynio.engine.placeholders import fill_template
from dynio.engine.sources import (
    Scan,
    ScanRequest,
    WriteInfo,
    WriteRequest,
    kind_for,
    load_module,
)
from dynio.engine.sources.local import location as local_location
from dynio.engine.sources.local import resolve_files
from dynio.engine.sources.sql import (
    check_key,
    normalize_arrow,
    polars_schema,
    quote_ident,
    table_name,
    write_plan,
)
from dynio.engine.sources.sql_base import (
    RelationScan,
    merge_sql,
    missing_columns,
    query_relation,
    relation_scan,
)
from dynio.engine.spec import SourceSpec
from dynio.engine.spec_settings import file_settings
from dynio.engine.telemetry import client_span

__all__ = ["query", "query_batches", "scan", "scan_files", "write"]

MEMORY = ":memory:"


def _duckdb(context: Mapping[str, Any]) -> Any:
    try:
        import duckdb
    except ImportError as exc:
        raise MissingDependencyError(
            "DuckDB sources need 'duckdb'", extra="duckdb", **context
        ) from exc
    return duckdb


def _literal(text: str) -> str:
    # a SQL string literal for a setting; SET takes no bound parameters
    return "'" + text.replace("'", "''") + "'"


def _connect(
    database: str, base_dir: str | None, *, read_only: bool, context: Mapping[str, Any]
) -> Any:
    duckdb = _duckdb(context)
    con = duckdb.connect(database, read_only=read_only and database != MEMORY)
    if base_dir:
        try:
            # relative paths in SQL (read_parquet('data/x.parquet')) resolve beside the YAML file
            con.execute(f"SET file_search_path = {_literal(base_dir)}")
        except BaseException:
            con.close()
            raise
    return con


def _database(spec: SourceSpec, request: ScanRequest | WriteRequest) -> str:
    raw = str(spec.settings["database"])
    if raw == MEMORY:
        return raw
    where = {**request.context, "key_path": "duckdb.database"}
    filled = request.filled.get("database") if isinstance(request, ScanRequest) else None
    text = filled or fill_template(raw, request.template_args, where)  # filled once per read
    path = Path(text).expanduser()
    if not path.is_absolute() and spec.base_dir is not None:
        path = Path(spec.base_dir) / path
    return str(path)


def _setting(spec: SourceSpec, name: str, context: Mapping[str, Any]) -> str | None:
    in_section, in_options = spec.settings.get(name), spec.options.get(name)
    if in_section is not None and in_options is not None:
        raise ConfigError(
            f"{name} is given both in the duckdb section and in options",
            key_path=f"options.{name}",
            **context,
        )
    value = in_section if in_section is not None else in_options
    return None if value is None else str(value)


def _call(database: str, operation: str, location: str, sql: str | None = None) -> Any:
    """The CLIENT span of one statement (DuckDB runs in process: ``server.address`` is
    ``localhost``); the namespace is the database file's name."""
    target = location.split("?table=", 1)[1] if "?table=" in location else None
    namespace = database if database == MEMORY else Path(database).stem
    return client_span(
        "db", system="duckdb", operation=operation, target=target, namespace=namespace, query=sql
    )


def _fetch(
    database: str,
    base_dir: str | None,
    sql: str,
    params: Sequence[Any] | Mapping[str, Any],
    location: str,
    context: Mapping[str, Any],
    *,
    views: Mapping[str, Any] | None = None,
) -> pa.Table:
    duckdb = _duckdb(context)
    try:
        con = _connect(database, base_dir, read_only=True, context=context)
        try:
            for name, data in (views or {}).items():
                con.register(name, data)
            bound = params if isinstance(params, Mapping) else (list(params) or None)
            with _call(database, "SELECT", location, sql):
                table: pa.Table = con.sql(sql, params=bound).to_arrow_table()
            return table
        finally:
            con.close()
    except duckdb.Error as exc:
        raise ReadError(
            f"cannot read with DuckDB: {first_line(exc)}", file=location, **context
        ) from exc


def _deferred(
    *,
    database: str,
    base_dir: str | None,
    relation: str,
    relation_params: Sequence[Any],
    request: ScanRequest,
    location: str,
    views: Mapping[str, Any] | None = None,
    **details: Any,
) -> RelationScan:
    """The lazy frame over a relation (:func:`~dynio.engine.sources.sql_base.relation_scan`)."""
    context = request.context

    def run(sql: str, params: Sequence[Any]) -> pa.Table:
        return _fetch(database, base_dir, sql, params, location, context, views=views)

    probe = run(f"SELECT * FROM {relation} LIMIT 0", relation_params)
    try:
        source = polars_schema(probe.schema)
    except ValueError as exc:
        raise ReadError(str(exc), file=location, **context) from exc
    return relation_scan(
        relation,
        source,
        request,
        DUCKDB,
        run,
        location=location,
        relation_params=relation_params,
        **details,
    )


def scan(spec: SourceSpec, request: ScanRequest) -> Scan:
    """A LazyFrame over a DuckDB table or query; the SQL runs when the frame is collected."""
    context = request.context
    database = _database(spec, request)
    sql_query = _setting(spec, "sql_query", context)
    table = _setting(spec, "table", context)
    if sql_query is not None and table is not None:
        raise ConfigError(
            "give either table or sql_query, not both", key_path="duckdb.table", **context
        )
    if database != MEMORY and not Path(database).is_file():
        raise ReadError("database file does not exist", file=database, **context)
    if sql_query is not None:
        relation = query_relation(sql_query, "duckdb.sql_query", context)
        location = f"{database}?sql_query"
    else:
        name = table if table is not None else table_name(spec, request)
        try:
            relation = quote_ident(name)
        except ValueError as exc:
            raise ConfigError(str(exc), key_path="duckdb.table", **context) from exc
        location = f"{database}?table={name}"
    scanned = _deferred(
        database=database,
        base_dir=spec.base_dir,
        relation=relation,
        relation_params=(),
        request=request,
        location=location,
    )
    return Scan(frame=scanned.frame, location=location, pushdown=scanned.pushdown)


def query(database: str, sql: str, params: Any = None) -> pa.Table:
    """Run one query (``?``/``$n``/``$name`` parameters) and return its rows as Arrow.

    Raises:
        ReadError: The query failed.
    """
    return normalize_arrow(_fetch(database, None, sql, params or (), database, {}))


def query_batches(
    database: str, sql: str, params: Any = None, rows: int = 100_000
) -> Iterator[pa.Table]:
    """Like :func:`query`, streaming Arrow batches of about ``rows`` rows."""
    duckdb = _duckdb({})
    try:
        con = _connect(database, None, read_only=True, context={})
        try:
            reader = con.sql(sql, params=params or None).fetch_arrow_reader(rows)
            empty = True
            for batch in reader:
                empty = False
                yield normalize_arrow(pa.Table.from_batches([batch]))
            if empty:  # the columns, still
                yield normalize_arrow(reader.schema.empty_table())
        finally:
            con.close()
    except duckdb.Error as exc:
        raise ReadError(f"cannot read with DuckDB: {first_line(exc)}", file=database) from exc


# ------------------------------------------------------------------------------ files via DuckDB

_CSV_ARGS: dict[str, str] = {
    "sep": "delim",
    "delimiter": "delim",
    "separator": "delim",
    "quotechar": "quote",
    "quote_char": "quote",
    "comment": "comment",
    "comment_prefix": "comment",
    "skiprows": "skip",
    "skip_rows": "skip",
    "names": "names",
    "new_columns": "names",
    "infer_schema_length": "sample_size",
    "ignore_errors": "ignore_errors",
    "truncate_ragged_lines": "null_padding",
}
# options that change nothing when DuckDB reads (DuckDB finds dates itself; sinks' options)
_NO_EFFECT_READ = (
    frozenset(
        {
            "try_parse_dates",
            "parse_dates",
            "use_statistics",
            "parallel",
            "use_threads",
            "lines",
            "low_memory",
        }
    )
    | NO_EFFECT
    | PLAN_OPTIONS
)
_ENCODINGS = {
    "utf8": "utf-8",
    "utf-8": "utf-8",
    "utf-16": "utf-16",
    "latin-1": "latin-1",
    "latin1": "latin-1",
    "iso-8859-1": "latin-1",
}


def _unsupported(name: str, fmt: str, context: Mapping[str, Any]) -> UnsupportedError:
    return UnsupportedError(
        f"option {name!r} of {fmt} is not supported with engine: duckdb (drop the engine option"
        " to read with Polars)",
        key_path=f"options.{name}",
        **context,
    )


def _csv_args(
    options: Mapping[str, Any], hints: Mapping[str, pl.DataType], context: Mapping[str, Any]
) -> dict[str, Any]:
    args: dict[str, Any] = {}
    for name, value in options.items():
        if name in _CSV_ARGS:
            args[_CSV_ARGS[name]] = list(value) if name in ("names", "new_columns") else value
        elif name in ("header", "has_header"):
            if name == "header" and value not in (None, 0, "infer"):
                raise _unsupported(name, "csv", context)
            args["header"] = bool(value) if name == "has_header" else value is not None
        elif name == "decimal":
            args["decimal_separator"] = str(value)
        elif name == "decimal_comma":
            args["decimal_separator"] = "," if value else "."
        elif name == "encoding":
            enc = _ENCODINGS.get(str(value).lower().replace("_", "-"))
            if enc is None:
                raise _unsupported(name, "csv", context)
            args["encoding"] = enc
        elif name in (
            "na_values",
            "null_values",
            "keep_default_na",
            "nrows",
            "n_rows",
            "dtype",
            "schema_overrides",
        ):
            continue  # below
        elif name not in _NO_EFFECT_READ:
            raise _unsupported(name, "csv", context)
    nulls: list[str] = []
    if options.get("keep_default_na", True) and "null_values" not in options:
        nulls.extend(PANDAS_NA_VALUES)
    extra = options.get("null_values", options.get("na_values"))
    if extra is not None:
        nulls.extend([extra] if isinstance(extra, str) else [str(v) for v in extra])
    args["nullstr"] = sorted(set(nulls)) if nulls else [""]
    text_cols = [c for c, dt in hints.items() if isinstance(dt, pl.String | pl.Categorical)]
    for opt in ("dtype", "schema_overrides"):
        spelled = options.get(opt) or {}
        if not isinstance(spelled, Mapping):
            raise ConfigError(
                f"{opt} must map columns to dtypes", key_path=f"options.{opt}", **context
            )
        text_cols += [
            str(c)
            for c, t in spelled.items()
            if str(t) in ("str", "object", "string", "String", "Utf8")
        ]
    if hints and all(isinstance(dt, pl.String) for dt in hints.values()):
        args["all_varchar"] = True  # the planner's re-read as text
    elif text_cols:
        # text stays text (leading zeros, codes): DuckDB would otherwise guess numbers
        args["types"] = dict.fromkeys(dict.fromkeys(text_cols), "VARCHAR")
    return args


def _limit(options: Mapping[str, Any]) -> int | None:
    for name in ("nrows", "n_rows"):
        if options.get(name) is not None:
            return int(options[name])
    return None


def _file_relation(
    fmt: str,
    files: list[str],
    options: Mapping[str, Any],
    hints: Mapping[str, pl.DataType],
    context: Mapping[str, Any],
) -> tuple[str, list[Any], dict[str, Any]]:
    """The DuckDB table expression reading the files, its parameters and any Arrow views."""
    params: list[Any] = [files]
    named: dict[str, Any] = {}
    views: dict[str, Any] = {}
    many = len(files) > 1
    caps = capabilities_of(fmt)  # the format says which DuckDB reader takes its files
    if caps.duckdb_reader == "read_parquet":
        for name in options:
            if name == "hive_partitioning":
                named["hive_partitioning"] = bool(options[name])
            elif name not in _NO_EFFECT_READ | {"n_rows"} and name not in _PARQUET_WRITE:
                raise _unsupported(name, fmt, context)
        if many:
            named["union_by_name"] = True
        func = "read_parquet"
    elif caps.duckdb_reader == "read_csv":
        named = _csv_args(options, hints, context)
        if many:
            named["union_by_name"] = True
        func = "read_csv"
    elif caps.duckdb_reader == "read_json":
        orient = options.get("orient")
        if not caps.line_delimited and orient not in (None, "records"):
            raise _unsupported("orient", fmt, context)
        lines = caps.line_delimited or bool(options.get("lines"))
        for name in options:
            if name == "infer_schema_length":
                named["sample_size"] = options[name]
            elif name == "ignore_errors":
                named["ignore_errors"] = bool(options[name])
            elif name not in _NO_EFFECT_READ | {"orient", "n_rows", "nrows", "indent"}:
                raise _unsupported(name, fmt, context)
        named["format"] = "newline_delimited" if lines else "array"
        if many:
            named["union_by_name"] = True
        func = "read_json"
    elif caps.duckdb_reader == "arrow_dataset":
        import pyarrow.dataset as ds

        for name in options:
            if name not in _NO_EFFECT_READ | {"n_rows", "hive_partitioning", "compression"}:
                raise _unsupported(name, fmt, context)
        partitioning = "hive" if options.get("hive_partitioning") else None
        views["dynio_files"] = ds.dataset(files, format="ipc", partitioning=partitioning)
        relation = quote_ident("dynio_files")
        limit = _limit(options)
        if limit is not None:
            relation = f"(SELECT * FROM {relation} LIMIT {limit}) AS {quote_ident('f')}"
        return relation, [], views
    else:
        raise UnsupportedError(
            f"engine: duckdb cannot read {fmt} files", key_path="options.engine", **context
        )
    args = ["$1"]
    for name, value in named.items():
        params.append(value)
        args.append(f"{name} = ${len(params)}")
    relation = f"{func}({', '.join(args)})"
    limit = _limit(options)
    if limit is not None:
        relation = f"(SELECT * FROM {relation} LIMIT {limit}) AS {quote_ident('f')}"
    return relation, params, views


_PARQUET_WRITE = frozenset(
    {
        "compression",
        "compression_level",
        "row_group_size",
        "statistics",
        "data_page_size",
        "partition_cols",
        "use_deprecated_int96_timestamps",
        "coerce_timestamps",
        "allow_truncated_timestamps",
        "version",
        "use_dictionary",
        "write_statistics",
        "data_page_version",
    }
)


def scan_files(spec: SourceSpec, request: ScanRequest) -> Scan:
    """A file resource's scan run by DuckDB (``options: {engine: duckdb}``), with the same
    contract as the Polars scan: the planner's columns and filters pushed into DuckDB's SQL.

    The registry picks it for ``options: {engine: duckdb}`` on the file kinds
    (:attr:`~dynio.engine.sources.SourceKind.engines`). DuckDB reads local files: a ``file``
    URI of a remote store is read by the kind's own module, as without the option.
    """
    if spec.kind == "file" and is_remote(file_settings(spec).location()):
        kind = kind_for(spec.kind)
        if kind is not None:
            return load_module(kind, request.context).scan(spec, request)
    context = request.context
    fmt = spec.format or ""
    path = local_location(spec, request.template_args, context)
    files = [str(f) for f in resolve_files(spec, path, context)]
    options = {k: v for k, v in spec.options.items() if k != "engine"}
    relation, params, views = _file_relation(fmt, files, options, request.hints.dtypes, context)
    where = files[0] if len(files) == 1 else str(path)
    scanned = _deferred(
        database=MEMORY,
        base_dir=spec.base_dir,
        relation=relation,
        relation_params=params,
        request=request,
        location=where,
        views=views,
        engine="duckdb",
    )
    return Scan(
        frame=scanned.frame,
        location=str(path),
        files=tuple(files),
        format=fmt,
        pushdown=scanned.pushdown,
    )


# --------------------------------------------------------------------------------------- writing


def _table_columns(con: Any, table: str) -> list[str] | None:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_name = $1 AND table_schema = current_schema() ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [r[0] for r in rows] or None


def write(frame: pl.DataFrame, spec: SourceSpec, request: WriteRequest) -> WriteInfo:
    """Write a frame to a DuckDB table in one transaction."""
    context = request.context
    database = _database(spec, request)
    if _setting(spec, "sql_query", context) is not None:
        raise ConfigError(
            "a resource defined by sql_query cannot be written: give a table",
            key_path="duckdb.sql_query",
            **context,
        )
    if database == MEMORY:
        raise WriteError(
            "cannot write to an in-memory DuckDB database: give a database file", **context
        )
    table = _setting(spec, "table", context) or table_name(spec, request)
    location = f"{database}?table={table}"
    plan = write_plan(spec, request, frame.columns, context)
    if plan.mode == "upsert":
        check_key(frame, plan.key, {**context, "file": location})
    duckdb = _duckdb(context)
    target = quote_ident(table)
    view = quote_ident(f"dynio_frame_{uuid.uuid4().hex}")
    cols = ", ".join(quote_ident(c) for c in frame.columns)
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    try:
        con = _connect(database, None, read_only=False, context=context)
    except duckdb.Error as exc:
        raise WriteError(
            f"cannot open the DuckDB database: {first_line(exc)}", file=database, **context
        ) from exc
    try:
        con.register(view.strip('"'), frame.to_arrow())
        with _call(database, "MERGE" if plan.mode == "upsert" else "INSERT", location):
            con.begin()
            try:
                existing = _table_columns(con, table)
                missing_columns(frame.columns, existing, plan.mode, {**context, "file": location})
                insert = f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {view}"
                if plan.mode == "replace":
                    con.execute(f"DROP TABLE IF EXISTS {target}")
                    con.execute(f"CREATE TABLE {target} AS SELECT {cols} FROM {view}")
                elif existing is None and plan.mode != "upsert":
                    con.execute(f"CREATE TABLE {target} AS SELECT {cols} FROM {view}")
                elif plan.mode == "truncate_and_append":
                    con.execute(f"DELETE FROM {target}")
                    con.execute(insert)
                elif plan.mode == "append":
                    con.execute(insert)
                else:
                    if existing is None:
                        types = con.execute(f"DESCRIBE SELECT {cols} FROM {view}").fetchall()
                        defs = [f"{quote_ident(r[0])} {r[1]}" for r in types]
                        key = ", ".join(quote_ident(k) for k in plan.key)
                        con.execute(
                            f"CREATE TABLE {target} ({', '.join(defs)}, PRIMARY KEY ({key}))"
                        )
                    con.execute(merge_sql(target, view, frame.columns, plan.key))
                con.commit()
            except BaseException:
                con.rollback()
                raise
    except duckdb.Error as exc:
        raise WriteError(
            f"cannot write with DuckDB: {first_line(exc)}", file=location, **context
        ) from exc
    finally:
        con.close()
    return WriteInfo(location=location, rows=frame.height)
