"""What Delta Lake and Iceberg sources share: write options, stored dtypes, drift, pruning.

This module imports neither ``deltalake`` nor ``pyiceberg`` (the loader calls
:func:`check_spec` when a catalog loads, whether or not the extras are installed).

Stored dtypes: the table formats have fewer types than the schemas may declare. A write stores
each column in the nearest type the format has and a read brings it back through the schema's
casts (or :func:`restore` for the two types with no counterpart):

=====================  ===============================  =====================================
schema dtype           Delta Lake                       Iceberg
=====================  ===============================  =====================================
UInt8/16/32            Int16/32/64                      Int32/Int32/Int64
UInt64                 Int64 (values above 2**63-1      the same
                       refused)
Int8/Int16             as is                            Int32
Categorical            String                           String
Datetime[ns]           Datetime[us] (sub-microsecond    the same
                       values refused, never rounded)
Time                   Int64 nanoseconds since midnight  Time (microseconds; finer refused)
Duration[unit]         Int64 in its unit                Int64 in its unit
=====================  ===============================  =====================================
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from dynio.engine.errors import ConfigError, WriteError
from dynio.engine.filters import to_expr
from dynio.engine.sources.dataset import SchemaDriftWarning
from dynio.engine.spec import SourceSpec

__all__ = [
    "WriteOptions",
    "check_spec",
    "drift",
    "prune",
    "restore",
    "storable",
    "write_options",
]

_MODES = ("append", "overwrite", "merge")
_UPSERT = {"upsert": "merge", "replace": "overwrite"}  # the SQL kinds' spellings
DEFAULT_COMMIT_RETRIES = 5


@dataclass(frozen=True)
class WriteOptions:
    """How a table is written.

    Attributes:
        mode: ``append``, ``overwrite`` or ``merge`` (upsert by ``key``).
        key: The merge key columns.
        partition_by: Partition columns of a table the write creates.
        evolve: Columns the table lacks may be added (``schema_evolution: true``).
        retries: How many times a commit that lost a race is tried again.
    """

    mode: str = "append"
    key: tuple[str, ...] = ()
    partition_by: tuple[str, ...] = ()
    evolve: bool = False
    retries: int = DEFAULT_COMMIT_RETRIES


def _names(value: Any, key: str, context: Mapping[str, Any]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(
        f"{key} must be a column name or a list of them, got {value!r}",
        key_path=f"options.{key}",
        **context,
    )


def write_options(spec: SourceSpec, context: Mapping[str, Any]) -> WriteOptions:
    """The write options of a table source.

    Raises:
        ConfigError: An unknown mode, a merge without a key, a bad value; names the key.
    """
    o = spec.options
    raw = str(o.get("write_mode", "append")).strip().lower()
    mode = _UPSERT.get(raw, raw)
    if mode not in _MODES:
        raise ConfigError(
            f"unknown write_mode {o.get('write_mode')!r}; one of {list(_MODES)}",
            key_path="options.write_mode",
            **context,
        )
    key = _names(o.get("key"), "key", context)
    if mode == "merge" and not key:
        raise ConfigError(
            "write_mode merge needs key: [columns] to match rows on",
            key_path="options.key",
            **context,
        )
    evolve = o.get("schema_evolution", False)
    if not isinstance(evolve, bool):
        raise ConfigError(
            f"schema_evolution must be true or false, got {evolve!r}",
            key_path="options.schema_evolution",
            **context,
        )
    retries = o.get("commit_retries", DEFAULT_COMMIT_RETRIES)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 100:
        raise ConfigError(
            f"commit_retries must be an integer from 0 to 100, got {retries!r}",
            key_path="options.commit_retries",
            **context,
        )
    return WriteOptions(
        mode=mode,
        key=key,
        partition_by=_names(o.get("partition_by"), "partition_by", context),
        evolve=evolve,
        retries=retries,
    )


_CATALOG_TYPES = ("sql", "rest", "glue")


def check_spec(spec: SourceSpec, columns: Sequence[str] | None, context: Mapping[str, Any]) -> None:
    """Check a Delta or Iceberg source's section and options when the catalog loads.

    Raises:
        ConfigError: Names the key (relative to the environment).
    """
    opts = write_options(spec, context)
    if columns is not None:
        for key_name, names in (("key", opts.key), ("partition_by", opts.partition_by)):
            unknown = [c for c in names if c not in columns]
            if unknown:
                raise ConfigError(
                    f"{key_name} column(s) {unknown} are not in the schema; it has {list(columns)}",
                    key_path=f"options.{key_name}",
                    column=unknown[0],
                    **context,
                )
    if spec.kind != "iceberg":
        return
    catalog = spec.settings.get("catalog") or {}
    kind = catalog.get("type")
    if kind not in _CATALOG_TYPES:
        raise ConfigError(
            f"catalog type must be one of {list(_CATALOG_TYPES)}, got {kind!r}",
            key_path="iceberg.catalog.type",
            **context,
        )
    bad = [k for k, v in catalog.items() if not isinstance(v, str | int | float | bool)]
    if bad:
        raise ConfigError(
            f"catalog settings are text or numbers (pyiceberg properties), not {bad[0]!r}",
            key_path=f"iceberg.catalog.{bad[0]}",
            **context,
        )
    if kind in ("sql", "rest") and not catalog.get("uri"):
        raise ConfigError(
            f"an Iceberg {kind} catalog needs a uri",
            key_path="iceberg.catalog.uri",
            **context,
        )
    table = str(spec.settings.get("table", ""))
    if "." not in table.strip(".") or "" in table.split("."):
        raise ConfigError(
            f"table must be namespace.name, got {table!r}",
            key_path="iceberg.table",
            **context,
        )


# ----------------------------------------------------------------------------- stored dtypes

_SIGNED_FOR = {pl.UInt8: pl.Int16, pl.UInt16: pl.Int32, pl.UInt32: pl.Int64, pl.UInt64: pl.Int64}


def _stored(dtype: pl.DataType, fmt: str) -> pl.DataType | None:
    """The dtype ``fmt`` stores ``dtype`` as, or ``None`` when it takes it as it is."""
    base = dtype.base_type()
    if base in _SIGNED_FOR:
        out = _SIGNED_FOR[base]()
        if fmt == "iceberg" and base is pl.UInt8:
            return pl.Int32()
        return out
    if fmt == "iceberg" and base in (pl.Int8, pl.Int16):
        return pl.Int32()
    if base in (pl.Categorical, pl.Enum):
        return pl.String()
    if isinstance(dtype, pl.Datetime) and dtype.time_unit != "us":
        return pl.Datetime("us", dtype.time_zone)  # both formats keep microseconds
    if base is pl.Duration:
        return pl.Int64()
    if base is pl.Time and fmt == "delta":
        return pl.Int64()
    return None


def _lossy(frame: pl.DataFrame, column: str, dtype: pl.DataType) -> pl.Series:
    """The values of ``column`` its stored dtype cannot hold."""
    col = frame[column]
    base = dtype.base_type()
    if base is pl.UInt64:
        return col.filter(col > 2**63 - 1)
    if isinstance(dtype, pl.Datetime) and dtype.time_unit == "ns":
        return col.filter(col.dt.nanosecond() % 1000 != 0)
    if base is pl.Time:
        return col.filter(col.dt.nanosecond() % 1000 != 0)
    return col.clear()


def storable(frame: pl.DataFrame, fmt: str, context: Mapping[str, Any]) -> pl.DataFrame:
    """The frame in the dtypes ``fmt`` (``delta`` or ``iceberg``) can store (see the table).

    Raises:
        WriteError: A value its stored type cannot hold exactly; names column and values.
    """
    casts = []
    for name, dtype in frame.schema.items():
        target = _stored(dtype, fmt)
        if fmt == "iceberg" and dtype.base_type() is pl.Time:
            target = None  # stored as Iceberg's own time (microseconds), checked below
        bad = _lossy(frame, name, dtype)
        if bad.len():
            raise WriteError(
                f"{fmt} cannot store {dtype} values of this column exactly (as {target or dtype})",
                column=name,
                values=bad.head(5).to_list(),
                **context,
            )
        if target is not None:
            casts.append(pl.col(name).to_physical().cast(target) if dtype.base_type() in
                         (pl.Duration, pl.Time) else pl.col(name).cast(target))  # fmt: skip
    return frame.with_columns(casts) if casts else frame


def restore(
    frame: pl.LazyFrame, stored: pl.Schema, wanted: Mapping[str, pl.DataType]
) -> pl.LazyFrame:
    """Bring back the columns stored as integers (times, durations) to the schema's dtype."""
    back = [
        pl.col(name).cast(target)
        for name, target in wanted.items()
        if name in stored
        and target.base_type() in (pl.Time, pl.Duration)
        and stored[name].is_integer()
    ]
    return frame.with_columns(back) if back else frame


def drift(stored: pl.Schema, wanted: Mapping[str, pl.DataType], label: str, fmt: str) -> None:
    """Warn (:class:`SchemaDriftWarning`) when the table's columns disagree with the schema.

    A column whose stored type is not the one dynio stores for the schema's dtype is noted (the
    schema's casts then convert it, or fail naming it). Columns the table has beyond the ones
    read are not drift (other schemas may read them); a schema column missing from the table is
    the planner's :class:`~dynio.engine.errors.SchemaError`.
    """
    if not wanted:
        return
    notes = []
    for name, target in wanted.items():
        if name not in stored:
            continue
        expected = _stored(target, fmt) or target
        have = stored[name]
        if have != expected and have != target and not _same_kind(have, expected):
            notes.append(f"{name} is {have} in the table, {target} in the schema")
    if notes:
        warnings.warn(
            f"schema drift in the {fmt} table {label}: " + "; ".join(notes),
            SchemaDriftWarning,
            stacklevel=4,
        )


def _same_kind(a: pl.DataType, b: pl.DataType) -> bool:
    # time zones and string views are the reader's choice, not the writer's
    if isinstance(a, pl.Datetime) and isinstance(b, pl.Datetime):
        return a.time_unit == b.time_unit
    return a.base_type() == b.base_type()


def prune(
    partitions: pl.DataFrame,
    filters: tuple[tuple[tuple[str, str, Any], ...], ...] | None,
    dtypes: Mapping[str, pl.DataType],
) -> int | None:
    """How many of the files (one row each, a column per partition value) a filter keeps.

    ``None`` when the filter says nothing about partition columns (every file may match).
    Conservative: a condition on another column, or a value that cannot be compared, keeps.
    """
    if not filters or partitions.width == 0:
        return None
    groups = []
    for group in filters:
        conds = [c for c in group if c[0] in partitions.columns]
        if not conds:
            return None
        groups.append(conds)
    try:
        frame = partitions.with_columns(
            pl.col(c).cast(dtypes[c], strict=False) for c in partitions.columns if c in dtypes
        )
        expr = to_expr([list(g) for g in groups], dict(frame.schema))
        if expr is None:
            return None
        return int(frame.select(expr.fill_null(True).sum()).item())
    except (ValueError, TypeError, pl.exceptions.PolarsError):
        return None
