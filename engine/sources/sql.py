"""What the SQL sources (``postgres``, ``duckdb``) share: quoting, results, write modes.

Filters become ``WHERE`` clauses through :meth:`dynio.engine.filters.Filter.to_sql` (see
:mod:`dynio.engine.filter_sql`: values bound as parameters, identifiers always quoted, only the
conditions SQL computes exactly).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
import pyarrow as pa
from polars.io.plugins import register_io_source

from dynio.engine.errors import ConfigError, WriteError
from dynio.engine.filter_sql import quote_ident
from dynio.engine.sources import ScanRequest, WriteRequest
from dynio.engine.spec import SourceSpec
from dynio.engine.telemetry import carrier

__all__ = [
    "WRITE_MODES",
    "WritePlan",
    "check_key",
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


def table_name(spec: SourceSpec, request: ScanRequest | WriteRequest) -> str:
    """The table a SQL resource names: ``options.table``, else the schema's name, else the
    resource's name (dynamicio names tables after the schema)."""
    table = spec.options.get("table") or spec.settings.get("table")
    if table is not None:
        return str(table)
    schema_name = getattr(request, "schema_name", None)
    return str(schema_name or request.resource)


# ------------------------------------------------------------------------------------- filters


# ----------------------------------------------------------------------------------- deferred


def _interval_to_duration(arr: pa.Array) -> pa.Array:
    # Polars has no month/day/nanosecond interval; a month counts 30 days (as PostgreSQL's
    # EXTRACT(EPOCH) and DuckDB's epoch do)
    values = [
        None if v is None else (v.months * 30 + v.days) * 86_400_000_000 + v.nanoseconds // 1000
        for v in arr.to_pylist()
    ]
    return pa.array(values, type=pa.duration("us"))


# how Arrow's C interface (and so Polars) marks an extension type: field metadata
_EXTENSION_KEYS = (b"ARROW:extension:name", b"ARROW:extension:metadata")


def _extension_name(fld: pa.Field) -> str | None:
    """The Arrow extension a column carries, registered with pyarrow or not.

    pyarrow registers ``arrow.uuid`` and ``arrow.opaque`` from 18 and ``arrow.json`` from 19;
    an older pyarrow hands such a column over as its storage type with the extension in the
    field's metadata, which Polars still reads as an extension type it cannot cast.
    """
    if isinstance(fld.type, pa.BaseExtensionType):
        return str(fld.type.extension_name)
    name = (fld.metadata or {}).get(b"ARROW:extension:name")
    return name.decode() if name else None


def _arrow_type(fld: pa.Field) -> pa.DataType:
    """The Arrow type a column is handed to Polars as."""
    ext = _extension_name(fld)
    typ = fld.type
    if ext == "arrow.uuid":
        return pa.string()
    if ext is not None:
        # numerics, JSON and other database-specific values: their storage (text as a rule)
        storage: pa.DataType = typ.storage_type if isinstance(typ, pa.BaseExtensionType) else typ
        return pa.string() if pa.types.is_large_string(storage) else storage
    if pa.types.is_interval(typ):
        return pa.duration("us")
    return typ


def _plain_metadata(fld: pa.Field) -> dict[bytes, bytes] | None:
    """The field's metadata without the extension keys (the database's own type name stays)."""
    if not fld.metadata:
        return None
    return {k: v for k, v in fld.metadata.items() if k not in _EXTENSION_KEYS} or None


def _uuid_text(chunk: pa.Array) -> pa.Array:
    return pa.array(
        [None if v is None else str(uuid.UUID(bytes=v)) for v in chunk.to_pylist()], pa.string()
    )


def _arrow_column(arr: pa.ChunkedArray, fld: pa.Field) -> pa.ChunkedArray:
    typ = arr.type
    ext = _extension_name(fld)
    if isinstance(typ, pa.BaseExtensionType):
        arr = pa.chunked_array([c.storage for c in arr.chunks], type=typ.storage_type)
    if ext == "arrow.uuid":  # 16 bytes each, as the canonical extension stores them
        return pa.chunked_array([_uuid_text(c) for c in arr.chunks], type=pa.string())
    if ext is not None:
        target = _arrow_type(fld)
        return arr if arr.type == target else arr.cast(target)
    if pa.types.is_interval(typ):
        return pa.chunked_array(
            [_interval_to_duration(c) for c in arr.chunks], type=pa.duration("us")
        )
    return arr


def normalize_arrow(table: pa.Table) -> pa.Table:
    """Database results with types Polars cannot take, converted: extension types (UUIDs,
    numerics, JSON) to text, intervals to microsecond durations."""
    fields = list(table.schema)
    if all(_arrow_type(f) == f.type and _extension_name(f) is None for f in fields):
        return table
    columns = [_arrow_column(table.column(i), f) for i, f in enumerate(fields)]
    # field metadata (the database's own type name) stays for callers that look at it
    plain = [
        pa.field(f.name, c.type, metadata=_plain_metadata(f))
        for f, c in zip(fields, columns, strict=True)
    ]
    return pa.Table.from_arrays(columns, schema=pa.schema(plain))


def polars_schema(schema: pa.Schema) -> pl.Schema:
    """The Polars schema a database result of this Arrow schema reads as.

    Raises:
        ValueError: A column has a type Polars cannot represent (names it).
    """
    out: list[tuple[str, pl.DataType]] = []
    for f in schema:
        typ = _arrow_type(f)
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
    ``fetch`` runs under the operation that planned it (its CLIENT spans join that trace), even
    in Polars' own threads.
    """
    under_operation = carrier()

    def source(
        with_columns: list[str] | None,
        predicate: pl.Expr | None,
        n_rows: int | None,
        batch_size: int | None,
    ) -> Iterator[pl.DataFrame]:
        wanted = list(columns) if with_columns is None else list(with_columns)
        limit = n_rows if predicate is None else None
        frame = under_operation(lambda: fetch(wanted, limit))
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
