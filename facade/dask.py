"""The hand-off to Dask: a resource as a ``dask.dataframe.DataFrame`` (``Catalog.to_dask``).

Imported only by :meth:`dynio.Catalog.to_dask` and the distributed checks and writes; it is the
only module that imports Dask (the ``dask`` extra: ``pip install 'dynio[dask]'``).

The read is planned once on the client (:func:`dynio.engine.partitions.plan_parts`); each
partition task plans the same read restricted to its files or row groups on the worker, so the
projection, filters, partition pruning and safe casts of ``read`` run inside the task, and hands
its rows to pandas with the dtypes ``read`` gives. A span per partition task is parented to the
client's ``dynio.to_dask`` span through the W3C trace context carried by the task.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
import polars as pl

from dynio import handoff
from dynio.engine import partitions
from dynio.engine.errors import MissingDependencyError
from dynio.engine.filters import FilterLike
from dynio.engine.telemetry import bind_source, operation, set_attributes, span

if TYPE_CHECKING:
    import dask.dataframe as dd

    from dynio.catalog import Resource

__all__ = ["PartReader", "to_dask", "trace_carrier", "traced"]


def _require_dask(resource: str, env: str) -> None:
    try:
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            f"Dask is needed for to_dask ({exc.name} is missing)",
            extra="dask",
            resource=resource,
            env=env,
        ) from exc


def trace_carrier() -> dict[str, str]:
    """The current trace context as W3C headers, for tasks that run elsewhere."""
    from opentelemetry import propagate

    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


class traced:
    """A span on a worker, parented to the client's operation by its trace ``carrier``."""

    def __init__(self, name: str, carrier: Mapping[str, str], **attrs: Any) -> None:
        self._name, self._carrier, self._attrs = name, carrier, attrs
        self._token: Any = None
        self._span: Any = None

    def __enter__(self) -> Any:
        from opentelemetry import context, propagate

        self._token = context.attach(propagate.extract(dict(self._carrier)))
        self._span = span(self._name, **self._attrs)
        return self._span.__enter__()

    def __exit__(self, *exc: Any) -> None:
        from opentelemetry import context

        try:
            self._span.__exit__(*exc)
        finally:
            context.detach(self._token)


@dataclass(frozen=True)
class PartReader:
    """Reads one partition on a worker into pandas (picklable: the spec travels as bytes)."""

    spec: bytes
    env: str
    resource: str
    schema: pl.Schema
    columns: tuple[str, ...] | None
    filters: FilterLike
    template_args: Mapping[str, Any]
    dtype_backend: handoff.DtypeBackend
    index: str | None
    carrier: Mapping[str, str]

    def polars(self, part: partitions.Part) -> pl.DataFrame:
        """The partition as a Polars frame (cast as ``read`` casts it), in a span."""
        file = part.files[0] if len(part.files) == 1 else None
        with traced(
            "dynio.partition", self.carrier, resource=self.resource, env=self.env, file=file
        ) as sp:
            frame = partitions.read_part(
                self.spec,
                self.env,
                part,
                self.schema,
                columns=self.columns,
                filters=self.filters,
                template_args=self.template_args,
            )
            set_attributes(sp, {"rows": frame.height, "bytes": frame.estimated_size()})
            return frame

    def __call__(self, part: partitions.Part) -> pd.DataFrame:
        frame = self.polars(part)
        env_spec = partitions.load_spec(self.spec).env(self.env)
        # the source format too: CSV's missing text is NaN under pandas 2, as ``read`` gives it
        out = handoff.to_pandas(
            frame, env_spec.schema, self.dtype_backend, source_format=env_spec.source.format
        )
        return out.set_index(self.index) if self.index is not None else out


def _divisions(parts: Sequence[partitions.Part], meta: pd.DataFrame) -> list[Any] | None:
    """Dask divisions from the parts' index bounds, when they are known and in order."""
    bounds = [p.bounds for p in parts]
    if not bounds or any(b is None for b in bounds):
        return None
    known = [b for b in bounds if b is not None]
    for (_, hi), (lo, _) in itertools.pairwise(known):
        if not hi < lo:  # overlapping or unsorted parts: Dask must not assume an order
            return None
    values = [lo for lo, _ in known] + [known[-1][1]]
    try:
        return list(pd.Series(values).astype(meta.index.dtype))
    except (TypeError, ValueError):
        return None


def to_dask(
    res: Resource,
    *,
    columns: Sequence[str] | None = None,
    filters: FilterLike = None,
    index: str | None = None,
    partition_rows: int | None = None,
    dtype_backend: handoff.DtypeBackend = "numpy",
    partition_on: str | None = None,
    partition_num: int | None = None,
    **template_args: Any,
) -> dd.DataFrame:
    """The resource as a Dask DataFrame (see :meth:`dynio.Catalog.to_dask`)."""
    _require_dask(res.name, res.env)
    import dask
    import dask.dataframe as dd
    from dask.dataframe.utils import clear_known_categories

    handoff.check_dtype_backend(dtype_backend, resource=res.name, env=res.env)
    with operation("dynio.to_dask", resource=res.name, env=res.env) as sp:
        bind_source(res.spec.source)
        with span("plan"):
            planned = partitions.plan_parts(
                res._spec,
                res.env,
                columns=columns,
                filters=filters,
                template_args=template_args,
                partition_rows=partition_rows or partitions.DEFAULT_PARTITION_ROWS,
                index=index,
                partition_on=partition_on,
                partition_num=partition_num,
            )
        set_attributes(sp, {**planned.info.attributes(), "partitions": len(planned.parts)})
        empty = pl.DataFrame(schema=planned.schema)
        # categories are known only once the data is read: Dask's unknown categories
        meta = clear_known_categories(handoff.to_pandas(empty, res.spec.schema, dtype_backend))
        if index is not None:
            meta = meta.set_index(index)
        reader = PartReader(
            spec=partitions.dump_spec(res._spec),
            env=res.env,
            resource=res.name,
            schema=planned.schema,
            columns=tuple(columns) if columns is not None else None,
            filters=filters,
            template_args=template_args,
            dtype_backend=dtype_backend,
            index=index,
            carrier=trace_carrier(),
        )
        divisions = _divisions(planned.parts, meta) if index is not None else None
        # the partitions carry the dtypes read gives (pandas' own text dtype): Dask must not
        # convert them to its choice of string dtype
        with dask.config.set({"dataframe.convert-string": False}):
            return dd.from_map(
                reader,
                list(planned.parts),
                meta=meta,
                divisions=divisions,
                label=f"dynio-{res.name}",
                enforce_metadata=False,
            )
