"""What the SQL sources (``postgres``, ``duckdb``) share: quoting, filter pushdown, write modes.

Filters arrive in tuple form (OR of ANDs of ``(column, op, value)``); :func:`compile_filters`
turns the conditions it can translate faithfully into a ``WHERE`` clause with ``$n`` placeholders
and a list of values to bind. Values are never formatted into the SQL text and identifiers are
always quoted, so neither can change the statement. A condition that cannot be translated
exactly (types that compare differently in SQL, a value that does not fit the column) is left
out, which only widens the SQL result: the planner applies the whole filter again after the
scan, so the rows are right either way and :attr:`Compiled.exact` says whether all was pushed.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
import pyarrow as pa
from polars.io.plugins import register_io_source

from dynio.engine.casts import cast_expr
from dynio.engine.errors import ConfigError, WriteError
from dynio.engine.sources import ScanRequest, WriteRequest
from dynio.engine.spec import SourceSpec

__all__ = [
    "WRITE_MODES",
    "Compiled",
    "WritePlan",
    "check_key",
    "compile_filters",
    "deferred_frame",
    "empty_columns",
    "normalize_arrow",
    "polars_schema",
    "quote_ident",
    "table_name",
    "to_polars",
    "write_plan",
]

WRITE_MODES = ("replace", "append", "truncate_and_append", "upsert")

_SQL_OPS = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_EQUALITY_OPS = frozenset({"==", "!=", "in", "not in"})


def quote_ident(name: str) -> str:
    """A SQL identifier in double quotes, embedded quotes doubled (any text is safe inside).

    Raises:
        ValueError: The name is empty or holds a NUL character (no database accepts those).
    """
    if not name or "\x00" in name:
        raise ValueError(f"invalid SQL identifier {name!r}")
    return '"' + name.replace('"', '""') + '"'


def table_name(spec: SourceSpec, request: ScanRequest | WriteRequest) -> str:
    """The table a SQL resource names: ``options.table``, else the schema's name, else the
    resource's name (dynamicio names tables after the schema)."""
    table = spec.options.get("table") or spec.settings.get("table")
    if table is not None:
        return str(table)
    schema_name = getattr(request, "schema_name", None)
    return str(schema_name or request.resource)


# ------------------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class Compiled:
    """A ``WHERE`` clause (without the keyword; empty for none), its values, and whether the
    whole filter is in it."""

    where: str = ""
    params: tuple[Any, ...] = ()
    exact: bool = True


def _kind(dtype: pl.DataType) -> str:
    if dtype.is_numeric():
        return "numeric"
    if isinstance(dtype, pl.String | pl.Categorical | pl.Enum):
        return "text"
    if isinstance(dtype, pl.Boolean):
        return "bool"
    if isinstance(dtype, pl.Datetime):
        return "datetime_tz" if dtype.time_zone else "datetime"
    if isinstance(dtype, pl.Date):
        return "date"
    return "other"


def _convert(value: Any, source: pl.DataType) -> tuple[bool, Any]:
    """The value as the source column holds it, or ``(False, None)`` when it does not fit."""
    kind = _kind(source)
    if value is None:
        return False, None
    if isinstance(value, str) and kind in ("numeric", "datetime", "datetime_tz", "date"):
        try:
            # the planner converts text literals the same way before comparing
            out = pl.select(cast_expr(pl.lit(value), pl.String(), source, strict=True)).item()
        except (pl.exceptions.PolarsError, ValueError, OverflowError):
            return False, None
        return out is not None, out
    if kind == "numeric":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return (ok and not (isinstance(value, float) and math.isnan(value))), value
    if kind == "text":
        return isinstance(value, str), value
    if kind == "bool":
        return isinstance(value, bool), value
    if kind in ("datetime", "datetime_tz"):
        if isinstance(value, dt.datetime):
            aware = value.tzinfo is not None and value.utcoffset() is not None
            return aware == (kind == "datetime_tz"), value
        return False, None
    if kind == "date":
        ok = isinstance(value, dt.date) and not isinstance(value, dt.datetime)
        return ok, value
    return False, None


def _comparable(source: pl.DataType, target: pl.DataType | None, op: str) -> bool:
    """Whether SQL compares the source column the way the planner compares the cast column."""
    if target is None:
        return _kind(source) != "other"
    s, t = _kind(source), _kind(target)
    if s == "other" or s != t:
        return False
    if isinstance(target, pl.Categorical | pl.Enum):
        return op in _EQUALITY_OPS  # category order is not text order
    return True


def compile_filters(
    filters: Sequence[Sequence[tuple[str, str, Any]]] | None,
    source: Mapping[str, pl.DataType],
    targets: Mapping[str, pl.DataType],
    *,
    text_collation: str = "",
    column_sql: Callable[[str], str] = quote_ident,
    first_param: int = 1,
) -> Compiled:
    """Translate tuple-form filters into a ``WHERE`` clause with ``$n`` placeholders.

    Args:
        filters: OR of ANDs of ``(column, op, value)`` (see :func:`dynio.engine.filters.normalize`).
        source: The source's column dtypes (what SQL compares).
        targets: The schema's dtypes (what the planner compares after its casts).
        text_collation: Appended to text range comparisons so SQL orders text as Polars does
            (byte order), e.g. ``' COLLATE "C"'`` on PostgreSQL.
        column_sql: The SQL for a column reference.
        first_param: The number of the first placeholder.
    """
    if not filters:
        return Compiled()
    params: list[Any] = []
    exact = True
    groups: list[str] = []
    for group in filters:
        parts: list[str] = []
        for column, op, value in group:
            text = _condition(
                column, op, value, source, targets, params, text_collation, column_sql, first_param
            )
            if text is None:
                exact = False
            else:
                parts.append(text)
        if not parts:
            # a group with nothing pushed matches everything: so does the whole OR
            return Compiled("", (), False)
        groups.append(" AND ".join(parts))
    where = groups[0] if len(groups) == 1 else " OR ".join(f"({g})" for g in groups)
    return Compiled(where, tuple(params), exact)


def _condition(
    column: str,
    op: str,
    value: Any,
    source: Mapping[str, pl.DataType],
    targets: Mapping[str, pl.DataType],
    params: list[Any],
    text_collation: str,
    column_sql: Callable[[str], str],
    first_param: int,
) -> str | None:
    src = source.get(column)
    if src is None:
        return None
    col = column_sql(column)
    if op == "is null":
        return f"{col} IS NULL"
    if op == "is not null":
        return f"{col} IS NOT NULL"
    if not _comparable(src, targets.get(column), op):
        return None

    def bind(v: Any) -> str:
        params.append(v)
        return f"${first_param + len(params) - 1}"

    if op in ("in", "not in"):
        if isinstance(value, str | bytes) or not isinstance(value, Iterable):
            return None
        converted = [_convert(v, src) for v in value]
        if not all(ok for ok, _ in converted):
            return None
        if not converted:
            # Polars: nothing is in an empty list, and a null is not "not in" it either
            return "FALSE" if op == "in" else f"{col} IS NOT NULL"
        holders = ", ".join(bind(v) for _, v in converted)
        return f"{col} {'IN' if op == 'in' else 'NOT IN'} ({holders})"
    sql_op = _SQL_OPS.get(op)
    if sql_op is None:
        return None
    ok, converted_value = _convert(value, src)
    if not ok:
        return None
    collate = text_collation if _kind(src) == "text" and op not in ("==", "!=") else ""
    return f"{col}{collate} {sql_op} {bind(converted_value)}"


# ----------------------------------------------------------------------------------- deferred


def _interval_to_duration(arr: pa.Array) -> pa.Array:
    # Polars has no month/day/nanosecond interval; a month counts 30 days (as PostgreSQL's
    # EXTRACT(EPOCH) and DuckDB's epoch do)
    values = [
        None if v is None else (v.months * 30 + v.days) * 86_400_000_000 + v.nanoseconds // 1000
        for v in arr.to_pylist()
    ]
    return pa.array(values, type=pa.duration("us"))


def _arrow_type(typ: pa.DataType) -> pa.DataType:
    """The Arrow type a column is handed to Polars as."""
    if isinstance(typ, pa.BaseExtensionType):
        if typ.extension_name == "arrow.uuid":
            return pa.string()
        # numerics, JSON and other database-specific values: their storage (text as a rule)
        storage: pa.DataType = typ.storage_type
        return pa.string() if pa.types.is_large_string(storage) else storage
    if pa.types.is_interval(typ):
        return pa.duration("us")
    return typ


def _arrow_column(arr: pa.ChunkedArray) -> pa.ChunkedArray:
    typ = arr.type
    if isinstance(typ, pa.BaseExtensionType):
        if typ.extension_name == "arrow.uuid":
            return pa.chunked_array(
                [
                    pa.array([None if v is None else str(v) for v in c.to_pylist()], pa.string())
                    for c in arr.chunks
                ],
                type=pa.string(),
            )
        storage = pa.chunked_array([c.storage for c in arr.chunks], type=typ.storage_type)
        target = _arrow_type(typ)
        return storage if storage.type == target else storage.cast(target)
    if pa.types.is_interval(typ):
        return pa.chunked_array(
            [_interval_to_duration(c) for c in arr.chunks], type=pa.duration("us")
        )
    return arr


def normalize_arrow(table: pa.Table) -> pa.Table:
    """Database results with types Polars cannot take, converted: extension types (UUIDs,
    numerics, JSON) to text, intervals to microsecond durations."""
    if all(_arrow_type(f.type) == f.type for f in table.schema):
        return table
    columns = [_arrow_column(table.column(i)) for i in range(table.num_columns)]
    # field metadata (the database's own type name) stays for callers that look at it
    fields = [
        pa.field(f.name, c.type, metadata=f.metadata)
        for f, c in zip(table.schema, columns, strict=True)
    ]
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def polars_schema(schema: pa.Schema) -> pl.Schema:
    """The Polars schema a database result of this Arrow schema reads as.

    Raises:
        ValueError: A column has a type Polars cannot represent (names it).
    """
    out: list[tuple[str, pl.DataType]] = []
    for f in schema:
        typ = _arrow_type(f.type)
        try:
            empty = pl.from_arrow(pa.table([pa.array([], type=typ)], names=[f.name]))
        except (pl.exceptions.PolarsError, pa.ArrowException, TypeError, ValueError) as exc:
            raise ValueError(
                f"column {f.name!r} has type {f.type} that Polars cannot read"
            ) from exc
        if not isinstance(empty, pl.DataFrame):  # a table always gives a frame
            raise TypeError("expected a table")
        out.append((f.name, empty.schema[f.name]))
    return pl.Schema(out)


def to_polars(table: pa.Table, schema: pl.Schema) -> pl.DataFrame:
    """A fetched Arrow table as a Polars frame of exactly ``schema``'s dtypes."""
    frame = pl.from_arrow(normalize_arrow(table))
    if not isinstance(frame, pl.DataFrame):  # a table always gives a frame
        raise TypeError("expected a table")
    wrong = [c for c in frame.columns if frame.schema[c] != schema[c]]
    if wrong:
        frame = frame.with_columns([pl.col(c).cast(schema[c]) for c in wrong])
    return frame


def deferred_frame(
    columns: Sequence[str],
    schema: pl.Schema,
    fetch: Callable[[list[str], int | None], pl.DataFrame],
    *,
    name: str,
    detail: str,
) -> pl.LazyFrame:
    """A LazyFrame that runs ``fetch(columns, limit)`` when collected.

    Polars hands the scan the columns its plan needs and, when it can, a row limit and a filter
    (which the scan must apply: it is the planner's predicate, applied here to what SQL returned).
    """

    def source(
        with_columns: list[str] | None,
        predicate: pl.Expr | None,
        n_rows: int | None,
        batch_size: int | None,
    ) -> Iterator[pl.DataFrame]:
        wanted = list(columns) if with_columns is None else list(with_columns)
        frame = fetch(wanted, n_rows if predicate is None else None)
        if predicate is not None:
            frame = frame.filter(predicate)
        if n_rows is not None:
            frame = frame.head(n_rows)
        yield frame

    return register_io_source(
        source, schema=schema, validate_schema=True, explain_name=name, explain_detail=detail
    )


def empty_columns(height: int) -> pl.DataFrame:
    """A frame with ``height`` rows and no columns (what a scan projecting nothing yields)."""
    return pl.DataFrame({"_": pl.repeat(None, height, dtype=pl.Null, eager=True)}).drop("_")


# ------------------------------------------------------------------------------------ writing


@dataclass(frozen=True)
class WritePlan:
    """How a write goes: the mode and, for ``upsert``, the key columns."""

    mode: str
    key: tuple[str, ...] = ()


_IDENT_OK = re.compile(r"^[^\x00]+$")


def write_plan(
    spec: SourceSpec, request: WriteRequest, columns: Sequence[str], context: Mapping[str, Any]
) -> WritePlan:
    """The write mode from ``options`` (``write_mode``, dynamicio's ``truncate_and_append``).

    Without either, a write replaces the table (dynamicio's behaviour), or appends when the
    caller asked for ``mode="append"``.

    Raises:
        ConfigError: An unknown mode, ``upsert`` without ``key``, or key columns not in the data.
    """
    options = spec.options
    mode = options.get("write_mode")
    tna = options.get("truncate_and_append")
    if tna is not None and not isinstance(tna, bool):
        raise ConfigError(
            f"truncate_and_append must be true or false, got {tna!r}",
            key_path="options.truncate_and_append",
            **context,
        )
    if mode is None and tna:
        mode = "truncate_and_append"
    elif mode is None:
        mode = "append" if request.mode == "append" else "replace"
    elif tna and mode != "truncate_and_append":
        raise ConfigError(
            f"truncate_and_append: true contradicts write_mode: {mode}",
            key_path="options.write_mode",
            **context,
        )
    if mode not in WRITE_MODES:
        raise ConfigError(
            f"write_mode must be one of {list(WRITE_MODES)}, got {mode!r}",
            key_path="options.write_mode",
            **context,
        )
    raw_key = options.get("key")
    key: tuple[str, ...] = ()
    if raw_key is not None:
        items = [raw_key] if isinstance(raw_key, str) else raw_key
        if not isinstance(items, Sequence) or not all(
            isinstance(k, str) and _IDENT_OK.match(k) for k in items
        ):
            raise ConfigError(
                f"key must be a list of column names, got {raw_key!r}",
                key_path="options.key",
                **context,
            )
        key = tuple(items)
    if mode == "upsert":
        if not key:
            raise ConfigError(
                "write_mode upsert needs key: [columns] (the columns that identify a row)",
                key_path="options.key",
                **context,
            )
        missing = [k for k in key if k not in columns]
        if missing:
            raise ConfigError(
                f"key column(s) {missing} are not columns of the data {list(columns)}",
                key_path="options.key",
                **context,
            )
    return WritePlan(str(mode), key)


def check_spec(spec: SourceSpec, columns: Sequence[str] | None, context: Mapping[str, Any]) -> None:
    """Check a database source's option values when the catalog loads.

    Args:
        spec: The source spec.
        columns: The schema's columns, when the resource has a schema.
        context: Error context.

    Raises:
        ConfigError: An unknown write mode, a bad key (key paths are relative to the env).
    """
    known = list(columns) if columns else [str(k) for k in _as_list(spec.options.get("key"))]
    write_plan(spec, WriteRequest(str(context.get("resource")), str(context.get("env"))), known,
               context)  # fmt: skip


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return (
        [value]
        if isinstance(value, str)
        else list(value)
        if isinstance(value, list | tuple)
        else []
    )


def check_key(frame: pl.DataFrame, key: Sequence[str], context: Mapping[str, Any]) -> None:
    """Refuse upsert data whose key columns hold nulls or repeat (no row to pick).

    Raises:
        WriteError: Names the column and a few duplicate keys.
    """
    nulls = [k for k in key if frame[k].null_count()]
    if nulls:
        raise WriteError("upsert key column has null values", column=nulls[0], **context)
    dup = frame.select(key).filter(pl.struct(key).is_duplicated())
    if dup.height:
        sample = dup.unique(maintain_order=True).head(5).rows()
        raise WriteError(
            f"upsert key {list(key)} has duplicate values in the data",
            column=key[0],
            values=[r[0] if len(r) == 1 else r for r in sample],
            **context,
        )
