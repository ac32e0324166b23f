"""``dynio.pandas.read_parquet``."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from dynio.engine import api, footers
from dynio.engine.errors import DynioError
from dynio.engine.filters import COMPARISONS, to_expr
from dynio.handoff import to_arrow as _frame_to_arrow
from dynio.pandas._common import (
    _NO,
    _NULLABLE_TEXT_WIDTHS_ALIKE,
    _arrow_to_pandas,
    _Fallback,
    _fallback,
    _given,
    _local_file,
    _located,
)
from dynio.pandas._csv_route import ReadPath, _record, _why

# ------------------------------------------------------------------------------------ parquet


# Arrow types Polars reads back as the very same Arrow type (strings and binaries in another
# width, which pandas converts identically)
def _polars_safe(t: pa.DataType) -> bool:
    return (
        pa.types.is_integer(t)
        or pa.types.is_float32(t)
        or pa.types.is_float64(t)
        or pa.types.is_boolean(t)
        or pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_date32(t)
        or pa.types.is_null(t)
        or (pa.types.is_timestamp(t) and t.unit in ("ms", "us", "ns"))
    )


def _flavour(t: pa.DataType) -> Any:
    """A type with text and binary widths folded together (pandas converts them alike)."""
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "text"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return "binary"
    return t


_FILTER_VALUE = (bool, int, float, str, bytes, pd.Timestamp)

# the plans of plain reads (the arrow path) by file and columns, used again while the file keeps
# its identity: a file read again and again (a small one in a loop) is planned once
_PLANS = api.PlanCache(size=64)


def _filter_value(value: Any, field: pa.Field) -> Any:
    import datetime as dt

    if isinstance(value, float) and math.isnan(value):
        raise _Fallback("NaN in filters")
    if isinstance(value, dt.date | dt.datetime) and not isinstance(value, pd.Timestamp):
        return value
    if not isinstance(value, _FILTER_VALUE) or value is None:
        raise _Fallback(f"filter value {value!r}")
    if isinstance(value, str) and not (
        pa.types.is_string(field.type) or pa.types.is_large_string(field.type)
    ):
        raise _Fallback("text compared with a column that is not text (pyarrow decides)")
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def _condition(item: Any, schema: pa.Schema) -> tuple[str, str, Any] | pl.Expr:
    """One ``(column, op, value)`` checked for pyarrow's semantics, as the engine's compiler
    (:func:`dynio.engine.filters.to_expr`) takes it.

    Where Polars and Arrow differ, the condition becomes an expression of the engine's own
    with the difference made up: Arrow's ordered comparisons are false on NaN (Polars orders
    NaN last), and its ``not in`` is true on a null cell.
    """
    if not isinstance(item, list | tuple) or len(item) != 3:
        raise _Fallback(f"filter {item!r}")
    name, op, value = item
    if not isinstance(name, str) or schema.get_field_index(name) < 0:
        raise _Fallback(f"filter column {name!r}")
    field = schema.field(name)
    if pa.types.is_timestamp(field.type) and field.type.tz is not None:
        raise _Fallback("filter on a time-zone-aware column")
    op = str(op).strip().lower()
    if op in ("in", "not in"):
        if isinstance(value, str | bytes) or not isinstance(value, Iterable):
            raise _Fallback(f"filter {item!r}")
        values = list(value)
        nulls = any(v is None for v in values)  # then a null cell is in the set
        plain = [_filter_value(v, field) for v in values if v is not None]
        col = pl.col(name)
        if not plain:
            inside = col.is_null() if nulls else pl.lit(False)
            return inside if op == "in" else ~inside
        cond: tuple[str, str, Any] = (name, op, plain)
        if op == "in":
            return _compiled(cond).fill_null(False) | col.is_null() if nulls else cond
        return _compiled(cond) & col.is_not_null() if nulls else _compiled(cond) | col.is_null()
    if op not in COMPARISONS:
        raise _Fallback(f"filter operator {op!r}")
    cond = (name, op, _filter_value(value, field))
    if pa.types.is_floating(field.type) and op in (">", ">="):
        return _compiled(cond) & pl.col(name).is_not_nan()
    return cond


def _compiled(cond: tuple[str, str, Any]) -> pl.Expr:
    expr = to_expr([cond])
    if expr is None:  # never for one condition; kept for the type checker
        raise _Fallback(f"filter {cond!r}")
    return expr


def _filters_expr(filters: Any, schema: pa.Schema) -> pl.Expr | None:
    """pyarrow's DNF ``filters`` as one Polars expression, compiled by the engine's compiler."""
    if filters is None:
        return None
    if not isinstance(filters, list | tuple) or not filters:
        raise _Fallback("filters form")
    groups = filters if all(isinstance(f, list) for f in filters) else [filters]
    checked = []
    for group in groups:
        if not group:
            raise _Fallback("empty filter group")
        checked.append([_condition(item, schema) for item in group])
    try:
        return to_expr(checked)
    except ValueError as exc:
        raise _Fallback(f"filters: {exc}") from exc


def _parquet_fast(
    path: Any, engine: Any, columns: Any, filters: Any, dtype_backend: Any, rest: dict[str, Any]
) -> pd.DataFrame:
    if rest:
        raise _Fallback(f"arguments {sorted(rest)}")
    if engine not in (_NO, "auto", "pyarrow"):
        raise _Fallback(f"engine {engine!r}")
    file = _local_file(path)
    if any("=" in part for part in file.parent.parts):
        raise _Fallback("a file inside hive partition folders")
    # the footer remembered per file version (read once, ~2 µs after; read_schema: ~70 µs)
    facts = footers.footer(str(file))
    schema = facts.schema if facts is not None else pq.read_schema(file)
    meta = schema.pandas_metadata or {}
    index_cols = [c for c in meta.get("index_columns", []) if isinstance(c, str)]
    if columns is None or columns is _NO:
        names = list(schema.names)
    else:
        if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
            raise _Fallback("columns not a list of names")
        names = list(dict.fromkeys([*columns, *index_cols]))
    if len(set(schema.names)) != len(schema.names):
        raise _Fallback("duplicate column names")
    fields = []
    for name in names:
        i = schema.get_field_index(name)
        if i < 0:
            raise _Fallback(f"no column {name!r}")
        fields.append(schema.field(i))
    unsafe = [f.name for f in fields if not _polars_safe(f.type)]
    if unsafe:
        raise _Fallback(f"column types Polars would not give back as they are: {unsafe}")
    predicate = _filters_expr(None if filters is _NO else filters, schema)
    # read through the engine's read contract: the registry's local source (the parquet
    # format, one file), projection and filter pushed into its scan (or, with nothing pushed
    # down; a plain read may take pyarrow's reader, the read path a catalog read would take)
    request = api.ReadRequest(columns=names, filters=predicate)
    bound = api.bind(_located(file, "parquet"), request=request)
    loaded = api.load(bound, request, arrow=True, plans=_PLANS)
    # Polars' own export copies its text one string at a time; the hand-off's is threaded
    table = loaded.table if loaded.table is not None else _frame_to_arrow(loaded.frame)
    # either reader gives Polars' export types, text and binary in its own widths; pandas' own
    # dtypes are the same for all widths, so only other differences are cast back to the
    # file's types (a copy). Arrow dtypes show the width: then every difference is cast back.
    exact = dtype_backend == "pyarrow" or (
        dtype_backend == "numpy_nullable" and not _NULLABLE_TEXT_WIDTHS_ALIKE
    )
    fixes = [
        (i, f)
        for i, f in enumerate(fields)
        if (table.schema.field(i).type != f.type)
        if exact or _flavour(table.schema.field(i).type) != _flavour(f.type)
    ]
    for i, f in fixes:
        table = table.set_column(i, f.name, table.column(i).cast(f.type))
    table = table.replace_schema_metadata(schema.metadata)
    frame = _arrow_to_pandas(table, dtype_backend)
    attrs = (schema.metadata or {}).get(b"PANDAS_ATTRS")
    if attrs is not None:
        frame.attrs = json.loads(attrs)
    ran = loaded.info.read_path
    _record(
        ReadPath(
            "read_parquet", "arrow" if ran == "arrow" else "mixed" if ran == "mixed" else "polars"
        )
    )
    return frame


def read_parquet(
    path: Any,
    engine: Any = _NO,
    columns: list[str] | None = None,
    storage_options: Mapping[str, Any] | None = None,
    dtype_backend: Any = _NO,
    filesystem: Any = None,
    filters: Any = None,
    to_pandas_kwargs: dict[str, Any] | None = _NO,
    **kwargs: Any,
) -> pd.DataFrame:
    """``pandas.read_parquet``, read by Polars (parallel, projection and filters pushed down)
    or, for a plain read, by the reader a catalog read would take.

    Takes pandas' arguments. A local file read with the pyarrow engine, ``columns``,
    ``filters`` (the DNF list form; rows kept exactly as pyarrow keeps them) and
    ``dtype_backend`` takes the fast path; other calls (remote paths, ``filesystem``,
    ``storage_options``, ``to_pandas_kwargs``, the fastparquet engine, column types Polars does
    not read back unchanged such as categoricals or decimals) are read by pandas.

    On the fast path a read with no filter takes the engine's read-path choice
    (:mod:`dynio.engine.read_path`): pyarrow's reader for a tiny file or every column of a
    file under 96 MiB with text, pyarrow for the text columns and Polars for the others at
    once for a larger file (``mixed``), Polars' scan otherwise. :func:`dynio.pandas.last_read`
    says which reader served the call (``polars``, ``arrow``, ``mixed`` or ``pandas``, with the
    reason pandas read it), as does the caller's current span.
    """
    given = _given(
        engine=engine,
        columns=columns,
        storage_options=storage_options,
        dtype_backend=dtype_backend,
        filesystem=filesystem,
        filters=filters,
        to_pandas_kwargs=to_pandas_kwargs,
    )
    rest = dict(kwargs)
    for name, default in (("storage_options", None), ("filesystem", None),
                          ("to_pandas_kwargs", None)):  # fmt: skip
        if given.get(name, default) is not None:
            rest[name] = given[name]
    try:
        return _parquet_fast(path, engine, columns, filters, dtype_backend, rest)
    except (_Fallback, DynioError, pl.exceptions.PolarsError, pa.ArrowException, OSError) as why:
        reason = str(why) if isinstance(why, _Fallback) else _why(why)
        _record(ReadPath("read_parquet", "pandas", reason))
        result: pd.DataFrame = _fallback(
            "read_parquet", path, why, lambda: pd.read_parquet(path, **given, **kwargs)
        )
        return result
