"""Planning a read as partitions, for a distributed engine (``Catalog.to_dask``).

:func:`plan_parts` plans the whole read once on the client (template, projection, filter,
partition pruning: the same :func:`~dynio.engine.plan.plan_read` as ``read``) and splits the
files it kept into :class:`Part` objects: one per file, or per group of row groups of a large
parquet file. :func:`read_part` runs on a worker: it plans the same read restricted to its part
(so projection, filters, pruning and safe casts are applied inside the task) and collects it.
Nothing here imports a distributed engine; the facade hands the parts to Dask.
"""

from __future__ import annotations

import copyreg
import functools
import io
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import polars as pl

from dynio.engine.errors import DynioError
from dynio.engine.execute import collect
from dynio.engine.filters import FilterLike, normalize
from dynio.engine.io.filesystems import is_remote
from dynio.engine.io.formats import RowGroups, registered
from dynio.engine.plan import PlanInfo, check_template_args, plan_read, source_module
from dynio.engine.sources import ScanRequest
from dynio.engine.spec import ResourceSpec, freeze

__all__ = [
    "DEFAULT_PARTITION_ROWS",
    "Part",
    "PartsPlan",
    "dump_spec",
    "load_spec",
    "plan_parts",
    "read_part",
]

# a large parquet file is split into groups of row groups of about this many rows
DEFAULT_PARTITION_ROWS = 1_000_000


@dataclass(frozen=True)
class Part:
    """One partition: some files of the read, or some rows (row groups) of one file.

    Attributes:
        files: The files (as the plan names them).
        rows: ``(offset, length)`` within the one file, or ``None`` for the whole files.
        bounds: ``(min, max)`` of the index column in this part, from parquet statistics.
        key: ``(column, low, high)``: the rows of a SQL source with ``low <= column < high``
            (a key range; ``files`` is then empty).
    """

    files: tuple[str, ...]
    rows: tuple[int, int] | None = None
    bounds: tuple[Any, Any] | None = None
    key: tuple[str, Any, Any] | None = None


@dataclass(frozen=True)
class PartsPlan:
    """A read split into parts: what the plan did, the frame's schema and the parts."""

    info: PlanInfo
    schema: pl.Schema
    parts: tuple[Part, ...]


def _frozen(value: dict[str, Any]) -> Any:
    return freeze(value)


def dump_spec(spec: ResourceSpec) -> bytes:
    """A resource spec as bytes for a worker (its frozen mappings pickled as mappings)."""
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {
        **copyreg.dispatch_table,
        MappingProxyType: lambda m: (_frozen, (dict(m),)),
    }
    pickler.dump(spec)
    return buf.getvalue()


@functools.lru_cache(maxsize=32)
def load_spec(data: bytes) -> ResourceSpec:
    """The resource spec of :func:`dump_spec` (once per worker and spec)."""
    spec = pickle.loads(data)
    if not isinstance(spec, ResourceSpec):
        raise DynioError("the partition task was not given a resource spec")
    return spec


def _split(path: str, row_groups: RowGroups, target_rows: int, index: str | None) -> list[Part]:
    """One file as parts of consecutive row groups of about ``target_rows`` rows, each with
    the index column's bounds when every row group has statistics for it."""
    parts: list[Part] = []
    start = taken = 0
    lo: Any = None
    hi: Any = None
    known = index is not None
    for n, stats in row_groups(path):
        bounds = stats.get(index) if index is not None else None
        known = known and bounds is not None
        if bounds is not None:
            lo = bounds[0] if lo is None else min(lo, bounds[0])
            hi = bounds[1] if hi is None else max(hi, bounds[1])
        taken += n
        if taken >= target_rows:
            parts.append(Part((path,), (start, taken), (lo, hi) if known else None))
            start, taken, lo, hi = start + taken, 0, None, None
    if taken or not parts:
        parts.append(Part((path,), (start, taken), (lo, hi) if known and lo is not None else None))
    if not known:
        parts = [Part(p.files, p.rows) for p in parts]
    # a file in one part is read whole (no slice to push down)
    return [Part(p.files, None, p.bounds) for p in parts] if len(parts) == 1 else parts


def plan_parts(
    resource: ResourceSpec,
    env: str,
    *,
    columns: Sequence[str] | None = None,
    filters: FilterLike = None,
    template_args: Mapping[str, Any] | None = None,
    partition_rows: int = DEFAULT_PARTITION_ROWS,
    index: str | None = None,
    partition_on: str | None = None,
    partition_num: int | None = None,
) -> PartsPlan:
    """Plan a read and split it into parts (see the module's docstring).

    A SQL source is split into ``partition_num`` ranges of the integer column ``partition_on``
    (default: the source's options of those names), between its minimum and maximum over the
    filtered rows (one query); each part reads its range with the filters in its ``WHERE``.

    Raises:
        DynioError: Neither files nor a key range to split the read by.
        SchemaError, ReadError, TemplateError: As planning a read raises them.
    """
    plan = plan_read(resource, env, columns=columns, filters=filters, template_args=template_args)
    try:
        schema = plan.frame.collect_schema()
    finally:
        if plan.release is not None:
            plan.release()
    info = plan.info
    if not info.files:
        ranges = _key_ranges(resource, env, filters, template_args, partition_on, partition_num)
        return PartsPlan(info, schema, ranges)
    parts: list[Part] = []
    fmt = registered(info.format)
    row_groups = fmt.row_groups if fmt is not None else None
    for file in info.files:
        if row_groups is not None and not is_remote(file):
            parts += _split(file, row_groups, partition_rows, index)
        else:
            parts.append(Part((file,)))
    return PartsPlan(info, schema, tuple(parts))


def _key_ranges(
    resource: ResourceSpec,
    env: str,
    filters: FilterLike,
    template_args: Mapping[str, Any] | None,
    column: str | None,
    num: int | None,
) -> tuple[Part, ...]:
    """Parts of a SQL source by ranges of an integer key column."""
    spec = resource.env(env)
    context = {"resource": resource.name, "env": spec.name}
    column = column or spec.source.options.get("partition_on")
    num = num or spec.source.options.get("partition_num") or 1
    module = source_module(spec, context)
    key_range = getattr(module, "key_range", None)
    if column is None or key_range is None:
        raise DynioError(
            f"a {spec.source.kind} source has no files to partition; give partition_on (an"
            " integer column) to read it in key ranges",
            **context,
        )
    try:
        conditions = normalize(
            filters if filters is not None else spec.source.options.get("filters")
        )
    except ValueError as exc:
        raise DynioError(f"invalid filters: {exc}", **context) from exc
    if filters is not None and conditions is None:
        raise DynioError(
            "a read in key ranges takes filters in the tuple form (pushed into the SQL)",
            **context,
        )
    request = ScanRequest(
        resource.name, spec.name, check_template_args(spec, template_args or {}, context),
        filters=conditions,
    )  # fmt: skip
    low, high = key_range(spec.source, request, column)
    if low is None or high is None:
        return (Part((), key=(column, 0, 0)),)
    if not isinstance(low, int) or not isinstance(high, int):
        raise DynioError(f"partition_on column {column!r} is not an integer column", **context)
    step = max(1, -(-(high - low + 1) // int(num)))
    return tuple(
        Part((), bounds=(a, min(a + step, high + 1) - 1), key=(column, a, min(a + step, high + 1)))
        for a in range(low, high + 1, step)
    )


def _in_range(filters: FilterLike, key: tuple[str, Any, Any]) -> FilterLike:
    """The filters (tuple form) with the key range added to every OR branch."""
    column, low, high = key
    bounds = [(column, ">=", low), (column, "<", high)]
    branches = normalize(filters) or ((),)
    return [[*branch, *bounds] for branch in branches]


def read_part(
    spec: bytes,
    env: str,
    part: Part,
    schema: pl.Schema,
    *,
    columns: Sequence[str] | None = None,
    filters: FilterLike = None,
    template_args: Mapping[str, Any] | None = None,
) -> pl.DataFrame:
    """Read one part: the read planned as ``read`` plans it, restricted to the part's files
    (and rows), collected, in the dtypes of the whole read's ``schema``.

    Raises:
        CastError, ReadError: As a read raises them (naming the part's file).
    """
    resource = load_spec(spec)
    if part.key is not None:
        base = filters if filters is not None else resource.env(env).source.options.get("filters")
        filters = _in_range(base, part.key)
    plan = plan_read(
        resource,
        env,
        columns=columns,
        filters=filters,
        template_args=template_args,
        streaming=True,
        files=part.files if part.key is None else None,
        rows=part.rows,
    )
    frame = collect(plan)
    # hive partition values are typed from one folder's names here: the whole read's dtypes
    return frame.select([pl.col(c).cast(t) for c, t in schema.items()])
