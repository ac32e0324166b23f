"""``dynio.pandas.read_sql``: :func:`pandas.read_sql` for a connection string, read through Arrow.

Example::

    from dynio.pandas import read_sql

    df = read_sql(
        "SELECT * FROM trips WHERE fare > %(min)s",
        "postgresql://reader:secret@db:5432/analytics",
        params={"min": 10},
        index_col="trip_id",
    )
    big = read_sql("trips", "duckdb:///data/warehouse.duckdb", columns=["trip_id", "fare"])

PostgreSQL rows come through ADBC's driver (``postgresql://``, ``postgres://`` and SQLAlchemy's
``postgresql+psycopg://`` forms, or a SQLAlchemy engine/connection), DuckDB rows through DuckDB
(``duckdb:///path``, ``duckdb:///:memory:``). The result has the dtypes ``pandas.read_sql`` gives
through SQLAlchemy: integers as ``int64`` (``float64`` with nulls), ``real`` as ``float64``,
numerics as ``float64`` (``coerce_float``), text as ``str``, booleans with nulls and dates as
objects, timestamps as ``datetime64[us]`` (``[us, UTC]`` with a zone). Two values differ in type:
UUIDs and JSON come back as text, where psycopg gives ``uuid.UUID`` objects and parsed JSON.
Parameters use the driver's styles: ``%s`` / ``%(name)s`` for PostgreSQL (as psycopg), ``?`` /
``$1`` / ``$name`` for DuckDB.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, overload
from urllib.parse import quote, urlencode

import pandas as pd
import pyarrow as pa

from dynio.engine.errors import DynioError
from dynio.engine.sources.sql import quote_ident
from dynio.handoff import DtypeBackend

__all__ = ["read_sql"]

_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")
_PG_PARAM = re.compile(r"%%|%s|%\((?P<name>[^)]+)\)s")
_PG_SCHEMES = ("postgresql", "postgres")


def _target(con: Any) -> tuple[str, str]:
    """``("postgres", uri)`` or ``("duckdb", database)`` for a connection argument."""
    if not isinstance(con, str):
        url = getattr(con, "url", None) or getattr(getattr(con, "engine", None), "url", None)
        if url is None or not hasattr(url, "render_as_string"):
            raise DynioError(
                f"con must be a connection string or a SQLAlchemy engine, got {type(con).__name__}"
            )
        con = _url_text(url)
    scheme, sep, rest = con.partition("://")
    base = scheme.split("+", 1)[0].lower()
    if sep and base in _PG_SCHEMES:
        return "postgres", f"postgresql://{rest}"
    if sep and base == "duckdb":
        # duckdb:///path (absolute: duckdb:////srv/x.duckdb), duckdb:///:memory:
        path = rest[1:] if rest.startswith("/") else rest
        return "duckdb", path or ":memory:"
    raise DynioError(
        f"con must be a postgresql:// or duckdb:/// connection string, got {scheme!r} scheme"
    )


def _url_text(url: Any) -> str:
    """A SQLAlchemy URL as a connection string libpq parses (every part percent-encoded)."""
    auth = ""
    if url.username:
        auth = quote(str(url.username), safe="")
        if url.password is not None:
            auth += ":" + quote(str(url.password), safe="")
        auth += "@"
    host = str(url.host or "")
    port = f":{url.port}" if url.port else ""
    query = urlencode(dict(url.query), doseq=True)
    database = str(url.database or "")
    if url.drivername.split("+", 1)[0] == "duckdb":
        return f"duckdb:///{database}"
    return f"{url.drivername}://{auth}{host}{port}/{quote(database, safe='')}" + (
        f"?{query}" if query else ""
    )


def _pg_params(sql: str, params: Any) -> tuple[str, list[Any] | None]:
    """psycopg's ``%s`` / ``%(name)s`` placeholders as PostgreSQL's ``$n``."""
    if params is None:
        return sql, None
    named = isinstance(params, Mapping)
    values: list[Any] = []
    slots: dict[str, int] = {}
    positional = iter(params if not named else ())

    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "%%":
            return "%"
        name = m.group("name")
        if name is None:
            if named:
                raise DynioError("params is a mapping but the query uses %s placeholders")
            try:
                values.append(next(positional))
            except StopIteration:
                raise DynioError("the query has more %s placeholders than params") from None
            return f"${len(values)}"
        if not named:
            raise DynioError(f"the query uses %({name})s but params is not a mapping")
        if name not in slots:
            if name not in params:
                raise DynioError(f"params has no value for %({name})s")
            values.append(params[name])
            slots[name] = len(values)
        return f"${slots[name]}"

    return _PG_PARAM.sub(repl, sql), values


def _query(
    sql: str, columns: Sequence[str] | None, index_col: str | Sequence[str] | None
) -> tuple[str, bool]:
    text = sql.strip()
    if _TABLE.match(text):
        if columns:
            # as pandas: the index columns are read as well, ahead of the columns asked for
            idx = [index_col] if isinstance(index_col, str) else list(index_col or [])
            columns = [*[c for c in idx if c not in columns], *columns]
        cols = ", ".join(quote_ident(c) for c in columns) if columns else "*"
        return f"SELECT {cols} FROM {'.'.join(quote_ident(p) for p in text.split('.'))}", True
    return sql, False


# the units pandas infers for Python datetimes and timedeltas, which its SQLAlchemy path builds
# those columns from: ``us`` on pandas 3, ``ns`` on 2.x
_PY_DATETIME_UNIT: str = pd.Series([datetime.datetime(2000, 1, 1)]).dt.unit
_PY_TIMEDELTA_UNIT: str = pd.Series([datetime.timedelta(seconds=1)]).dt.unit


def _like_pandas(table: pa.Table, coerce_float: bool) -> pa.Table:
    """The Arrow types pandas' SQLAlchemy path ends with (it builds frames from Python values)."""
    fields = []
    for f in table.schema:
        typ = f.type
        db_type = (f.metadata or {}).get(b"POSTGRESQL:type", b"").decode()
        if pa.types.is_integer(typ):
            typ = pa.int64()
        elif (
            pa.types.is_floating(typ)
            or (coerce_float and pa.types.is_decimal(typ))
            or (coerce_float and db_type == "numeric")
        ):
            typ = pa.float64()
        elif pa.types.is_timestamp(typ):
            typ = pa.timestamp(_PY_DATETIME_UNIT, typ.tz)
        elif pa.types.is_duration(typ):
            typ = pa.duration(_PY_TIMEDELTA_UNIT)
        fields.append(pa.field(f.name, typ))
    target = pa.schema(fields)
    return table if target == table.schema else table.cast(target)


def _frame(
    table: pa.Table,
    *,
    coerce_float: bool,
    index_col: str | Sequence[str] | None,
    parse_dates: Any,
    dtype: Any,
    dtype_backend: DtypeBackend | None,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    from dynio.handoff import _NUMPY_NULLABLE_MAPPER

    table = _like_pandas(table, coerce_float)
    df: pd.DataFrame
    if dtype_backend == "pyarrow":
        df = table.to_pandas(types_mapper=pd.ArrowDtype)
    elif dtype_backend == "numpy_nullable":
        df = table.to_pandas(types_mapper=_NUMPY_NULLABLE_MAPPER.get)
    else:
        df = table.to_pandas()
    if parse_dates:
        items = (
            parse_dates.items()
            if isinstance(parse_dates, Mapping)
            else (
                (c, None) for c in ([parse_dates] if isinstance(parse_dates, str) else parse_dates)
            )
        )
        for col, fmt in items:
            if col not in df.columns or pd.api.types.is_datetime64_any_dtype(df[col]):
                continue
            kwargs = fmt if isinstance(fmt, Mapping) else ({"format": fmt} if fmt else {})
            df[col] = pd.to_datetime(df[col], **kwargs)
    if table.num_rows == 0 and dtype_backend is None:
        df = df.astype(object)  # pandas builds frames from rows: no rows, no dtypes
    if dtype is not None:
        df = df.astype(dtype)
    if index_col is not None:
        kept = [c for c in columns if c in df.columns] if columns else None
        df = df.set_index(index_col, drop=kept is None)
        if kept is not None:
            df = df[kept]  # pandas keeps asked-for columns that are also the index
    return df


@overload
def read_sql(
    sql: str,
    con: Any,
    index_col: str | Sequence[str] | None = ...,
    coerce_float: bool = ...,
    params: Sequence[Any] | Mapping[str, Any] | None = ...,
    parse_dates: Any = ...,
    columns: Sequence[str] | None = ...,
    chunksize: None = ...,
    dtype: Any = ...,
    dtype_backend: DtypeBackend | None = ...,
) -> pd.DataFrame: ...


@overload
def read_sql(
    sql: str,
    con: Any,
    index_col: str | Sequence[str] | None = ...,
    coerce_float: bool = ...,
    params: Sequence[Any] | Mapping[str, Any] | None = ...,
    parse_dates: Any = ...,
    columns: Sequence[str] | None = ...,
    *,
    chunksize: int,
    dtype: Any = ...,
    dtype_backend: DtypeBackend | None = ...,
) -> Iterator[pd.DataFrame]: ...


def read_sql(
    sql: str,
    con: Any,
    index_col: str | Sequence[str] | None = None,
    coerce_float: bool = True,
    params: Sequence[Any] | Mapping[str, Any] | None = None,
    parse_dates: Any = None,
    columns: Sequence[str] | None = None,
    chunksize: int | None = None,
    dtype: Any = None,
    dtype_backend: DtypeBackend | None = None,
) -> pd.DataFrame | Iterator[pd.DataFrame]:
    """Read a query or a table into pandas, as :func:`pandas.read_sql` does.

    Args:
        sql: A query, or a table name (``trips`` / ``schema.trips``).
        con: A connection string (``postgresql://…``, ``duckdb:///path``) or a SQLAlchemy
            engine or connection (only its URL is used).
        index_col: Column(s) to make the index.
        coerce_float: Numeric (decimal) values as ``float64``.
        params: Query parameters in the driver's style (see the module docs).
        parse_dates: Columns to parse as dates: a list, or ``{column: format or to_datetime
            kwargs}``.
        columns: For a table name: the columns to read.
        chunksize: Return an iterator of frames of this many rows.
        dtype: Passed to ``DataFrame.astype``.
        dtype_backend: ``"numpy_nullable"`` or ``"pyarrow"`` as in pandas.

    Raises:
        DynioError: A bad connection string or parameters; ReadError when the query fails.
    """
    kind, where = _target(con)
    query, is_table = _query(sql, columns, index_col)
    if columns is not None and not is_table:
        raise DynioError("columns applies to a table name, not to a query")
    if chunksize is not None and (not isinstance(chunksize, int) or chunksize < 1):
        raise DynioError(f"chunksize must be a positive number, got {chunksize!r}")
    options: dict[str, Any] = {
        "coerce_float": coerce_float,
        "index_col": index_col,
        "parse_dates": parse_dates,
        "dtype": dtype,
        "dtype_backend": dtype_backend,
        "columns": columns,
    }
    if kind == "postgres":
        from dynio.engine.sources import postgres

        query, values = _pg_params(query, params)
        if chunksize is None:
            return _frame(postgres.query(where, query, values), **options)
        batches = postgres.query_batches(where, query, values)
    else:
        from dynio.engine.sources import duckdb

        if chunksize is None:
            return _frame(duckdb.query(where, query, params), **options)
        batches = duckdb.query_batches(where, query, params)
    return _chunks(batches, chunksize, options)


def _chunks(
    batches: Iterator[pa.Table], size: int, options: Mapping[str, Any]
) -> Iterator[pd.DataFrame]:
    pending: list[pa.Table] = []
    rows = 0
    sent = False
    for batch in batches:
        pending.append(batch)
        rows += batch.num_rows
        while rows >= size:
            table = pa.concat_tables(pending)
            yield _frame(table.slice(0, size), **options)
            sent = True
            rest = table.slice(size)
            pending, rows = [rest], rest.num_rows
    if rows or (not sent and pending):
        # pandas yields one empty frame (with the columns) for a query returning no rows
        yield _frame(pa.concat_tables(pending), **options)
