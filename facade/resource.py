"""One resource of a catalog in one environment: read, scan, check and write it.

Obtained from :meth:`dynio.Catalog.resource`; the catalog's own methods go through it. Also
importable as ``dynio.Resource`` and ``dynio.catalog.Resource``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd
import polars as pl

from dynio import handoff
from dynio.engine import execute, plan, quality, stream_io
from dynio.engine.filters import FilterLike
from dynio.engine.io.formats import format_for
from dynio.engine.panics import quiet_panics
from dynio.engine.plan_cache import PlanCache
from dynio.engine.quality import DEFAULT_LABEL_CAP, MetricValue, ValidationReport
from dynio.engine.sources import SourceKind, kind_for
from dynio.engine.spec import EnvSpec, ResourceSpec
from dynio.engine.telemetry import (
    bind_source,
    include_values,
    location_of,
    operation,
    secrets_of,
    set_attributes,
    span,
)
from dynio.lineage import lineage_run

__all__ = ["Resource"]


class Resource:
    """One resource in one environment: read, scan and write it.

    Obtained from :meth:`Catalog.resource`. Immutable; safe to share between threads.
    """

    def __init__(
        self,
        spec: ResourceSpec,
        env: str,
        label_cap: int = DEFAULT_LABEL_CAP,
        *,
        include_values: bool = False,
    ) -> None:
        self._spec = spec
        self._env = env
        self._label_cap = label_cap
        self._include_values = include_values
        self._env_spec: EnvSpec | None = None
        self._kind: SourceKind | None = None
        # plans of plain reads, kept while their file is unchanged (repeated reads plan once)
        self._plans = PlanCache()

    @property
    def name(self) -> str:
        """The resource name."""
        return self._spec.name

    @property
    def env(self) -> str:
        """The environment this resource reads and writes."""
        return self._env

    @property
    def spec(self) -> EnvSpec:
        """The environment's frozen spec (source and schema), resolved on first use."""
        if self._env_spec is None:
            self._env_spec = self._spec.env(self._env)
        return self._env_spec

    def _source_kind(self) -> SourceKind | None:
        """The source's kind, looked up on first use."""
        if self._kind is None:
            self._kind = kind_for(self.spec.source.kind)
        return self._kind

    def _location(self) -> str | None:
        """Where the resource lives, redacted (for lineage events)."""
        source = self.spec.source
        return location_of(source, secrets_of(source, self._source_kind()))

    def __repr__(self) -> str:
        src = self.spec.source
        return (
            f"Resource({self.name!r}, env={self._env!r}, type={src.kind!r}, format={src.format!r})"
        )

    def read_result(
        self,
        *,
        columns: Sequence[str] | None = None,
        filters: FilterLike = None,
        validate: bool = True,
        metrics: bool = True,
        raise_on_error: bool = True,
        **template_args: Any,
    ) -> execute.Result:
        """Read into the engine's result: the Polars frame, the report, the metrics, the plan.

        With ``raise_on_error=False`` failed rules are reported on the result, not raised.
        """
        return self._read_result(
            columns=columns,
            filters=filters,
            validate=validate,
            metrics=metrics,
            raise_on_error=raise_on_error,
            template_args=template_args,
        )

    def _read_result(
        self,
        *,
        columns: Sequence[str] | None = None,
        filters: FilterLike = None,
        validate: bool = True,
        metrics: bool = True,
        raise_on_error: bool = True,
        template_args: Mapping[str, Any] | None = None,
        dtype_backend: handoff.DtypeBackend | None = None,
    ) -> execute.Result:
        # with a dtype backend the pandas hand-off runs inside the read (beside the checks) and
        # lands on ``Result.converted``
        convert = convert_arrow = None
        if dtype_backend is not None:
            backend = dtype_backend

            def convert(frame: pl.DataFrame) -> pd.DataFrame:
                return self._to_pandas(frame, backend)

            def convert_arrow(table: Any) -> pd.DataFrame:  # the arrow read path's table
                return self._arrow_to_pandas(table, backend)

        with (
            include_values(self._include_values),
            quiet_panics(),  # dynio handles a reader's panic: its report is not for the terminal
            lineage_run("read", self.name, self._env, self._location) as run,
        ):
            result = self._execute_read(
                columns,
                filters,
                validate,
                metrics,
                raise_on_error,
                template_args,
                convert,
                convert_arrow,
            )
            if run.active:  # (the columns of an Arrow table cost a frame to describe)
                run.done(
                    result.info.location,
                    result.frame
                    if result.table is None
                    else pl.DataFrame(result.table.slice(0, 0)),
                    self.spec.schema,
                    result.report,
                    result.metrics,
                    rows=result.rows,
                )
            return result

    def _execute_read(
        self,
        columns: Sequence[str] | None,
        filters: FilterLike,
        validate: bool,
        metrics: bool,
        raise_on_error: bool,
        template_args: Mapping[str, Any] | None,
        convert: Any,
        convert_arrow: Any = None,
    ) -> execute.Result:
        return execute.read(
            self._spec,
            self._env,
            env_spec=self.spec,
            kind=self._source_kind(),
            columns=columns,
            filters=filters,
            template_args=template_args,
            validate=validate,
            metrics=metrics,
            label_cap=self._label_cap,
            raise_on_error=raise_on_error,
            convert=convert,
            convert_arrow=convert_arrow,
            plans=self._plans,
        )

    def read(
        self,
        *,
        columns: Sequence[str] | None = None,
        filters: FilterLike = None,
        dtype_backend: handoff.DtypeBackend = "numpy",
        validate: bool = True,
        metrics: bool = True,
        **template_args: Any,
    ) -> pd.DataFrame:
        """Read as a pandas DataFrame (see :meth:`Catalog.read`)."""
        handoff.check_dtype_backend(dtype_backend, resource=self.name, env=self._env)
        # one dynio.read span over the engine's stages and the hand-off to pandas
        with (
            include_values(self._include_values),
            operation("dynio.read", resource=self.name, env=self._env),
        ):
            result = self._read_result(
                columns=columns,
                filters=filters,
                validate=validate,
                metrics=metrics,
                template_args=template_args,
                dtype_backend=dtype_backend,
            )
            converted: pd.DataFrame = result.converted
            return converted

    def to_pandas(
        self, result: execute.Result, dtype_backend: handoff.DtypeBackend = "numpy"
    ) -> pd.DataFrame:
        """Hand a read result to pandas with this resource's schema dtypes."""
        return self._to_pandas(result.frame, dtype_backend)

    def _to_pandas(self, frame: pl.DataFrame, dtype_backend: handoff.DtypeBackend) -> pd.DataFrame:
        return self._handed(handoff.to_pandas, frame, frame.height, frame.width, dtype_backend)

    def _arrow_to_pandas(self, table: Any, dtype_backend: handoff.DtypeBackend) -> pd.DataFrame:
        return self._handed(
            handoff.arrow_to_pandas, table, table.num_rows, table.num_columns, dtype_backend
        )

    def _handed(
        self,
        convert: Callable[..., pd.DataFrame],
        data: Any,
        rows: int,
        columns: int,
        dtype_backend: handoff.DtypeBackend,
    ) -> pd.DataFrame:
        """One ``to_pandas`` span around a hand-off (from Polars or from Arrow)."""
        with span(
            "to_pandas", rows=rows, dtype_backend=dtype_backend, **{"dynio.columns": columns}
        ):
            return convert(
                data, self.spec.schema, dtype_backend, source_format=self.spec.source.format
            )

    def read_polars(
        self,
        *,
        columns: Sequence[str] | None = None,
        filters: FilterLike = None,
        validate: bool = True,
        metrics: bool = True,
        **template_args: Any,
    ) -> pl.DataFrame:
        """Read as a Polars DataFrame (cast, validated, measured)."""
        return self.read_result(
            columns=columns, filters=filters, validate=validate, metrics=metrics, **template_args
        ).frame

    def scan(
        self,
        *,
        columns: Sequence[str] | None = None,
        filters: FilterLike = None,
        **template_args: Any,
    ) -> pl.LazyFrame:
        """A Polars LazyFrame with projection, filters and schema casts in its plan.

        Rules and metrics need the whole data and do not run on a scan; call
        :func:`dynio.validate` on a collected frame for them.
        """
        with (
            include_values(self._include_values),
            operation("dynio.scan", resource=self.name, env=self._env) as sp,
        ):
            bind_source(self.spec.source)
            with span("plan"):
                planned = plan.plan_read(
                    self._spec,
                    self._env,
                    columns=columns,
                    filters=filters,
                    template_args=template_args,
                    streaming=True,
                )
            # the span covers planning only: the caller collects the LazyFrame later
            set_attributes(sp, {**planned.info.attributes(), "dynio.scan.lazy": True})
            return planned.frame

    def to_dask(self, **kwargs: Any) -> Any:
        """The resource as a ``dask.dataframe.DataFrame`` (see :meth:`Catalog.to_dask`; the
        same arguments)."""
        from dynio import dask as dynio_dask  # Dask is imported here only

        return dynio_dask.to_dask(self, **kwargs)

    def check(
        self,
        *,
        columns: Sequence[str] | None = None,
        filters: FilterLike = None,
        validate: bool = True,
        metrics: bool = True,
        raise_on_error: bool = True,
        dask: bool = False,
        approximate: bool = False,
        **template_args: Any,
    ) -> stream_io.CheckResult:
        """Validate and measure the resource in bounded memory (see :meth:`Catalog.check`)."""
        if dask:
            from dynio import dask_ops  # Dask is imported here only

            return dask_ops.check(
                self,
                columns=columns,
                filters=filters,
                validate=validate,
                metrics=metrics,
                raise_on_error=raise_on_error,
                template_args=template_args,
                approximate=approximate,
            )
        return stream_io.check(
            self._spec,
            self._env,
            columns=columns,
            filters=filters,
            template_args=template_args,
            validate=validate,
            metrics=metrics,
            label_cap=self._label_cap,
            raise_on_error=raise_on_error,
        )

    # semipublic hooks for facades that run a resource's stages themselves, in their own order
    # (dynio.compat.dynamicio casts, checks and logs the way dynamicio did before writing)

    def template_fields(self) -> set[str]:
        """The ``{placeholder}`` names of the source's settings (secret fields aside): the
        template arguments :meth:`read` and :meth:`write` take.

        Raises:
            TemplateError: A setting is a malformed template.
        """
        return plan.template_fields_of(self.spec, {"resource": self.name, "env": self._env})

    def accepted_options(self) -> frozenset[str] | None:
        """The reader/writer ``options`` the source takes: its format's, or for a kind without
        formats (SQL, Kafka …) the kind's; ``None`` when it takes any."""
        source = self.spec.source
        fmt = format_for(source.format) if source.format else None
        if fmt is not None:
            return frozenset(fmt.options)
        kind = kind_for(source.kind)
        return frozenset(kind.options) if kind is not None and kind.options is not None else None

    def require_source(self) -> None:
        """Check that the source's kind can be read and written here (its module loads).

        Raises:
            UnsupportedError: The kind is not supported yet, or its extra is not installed.
        """
        plan.source_module(self.spec, {"resource": self.name, "env": self._env})

    def conform(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The frame as a write would store it: the schema's columns, safely cast.

        Raises:
            SchemaError: A schema column is missing.
            CastError: Values do not fit the schema's dtypes (the error shows them).
        """
        schema = self.spec.schema
        if schema is None:
            return frame
        return execute.conform(frame, schema, {"resource": self.name, "env": self._env})

    def evaluate(
        self, frame: pl.DataFrame, *, validate: bool = True, metrics: bool = True
    ) -> tuple[ValidationReport, list[MetricValue]]:
        """The schema's rules and metrics on a frame, in one pass, as it is (no casts); nothing
        is raised, logged or published (the caller decides)."""
        return quality.evaluate(
            frame,
            self.spec.schema,
            resource=self.name,
            env=self._env,
            rules=validate,
            metrics=metrics,
            label_cap=self._label_cap,
        )

    def write(
        self,
        data: Any,
        *,
        validate: bool = True,
        metrics: bool = True,
        **template_args: Any,
    ) -> execute.WriteResult:
        """Write pandas, Polars or Arrow data (see :meth:`Catalog.write`)."""
        if type(data).__module__.split(".")[0] == "dask":
            from dynio import dask_ops  # Dask is imported here only

            return dask_ops.write(
                self, data, validate=validate, metrics=metrics, template_args=template_args
            )
        if isinstance(data, pl.LazyFrame):
            # checked and written by the streaming engine, never collected whole
            info, report, values = stream_io.write(
                self._spec,
                self._env,
                data,
                template_args=template_args,
                validate=validate,
                metrics=metrics,
                label_cap=self._label_cap,
            )
            return execute.WriteResult(info=info, report=report, metrics=values)
        # one dynio.write span over the hand-off from pandas and the engine's stages
        with (
            include_values(self._include_values),
            operation("dynio.write", resource=self.name, env=self._env),
        ):
            with span("to_polars", input=type(data).__module__.split(".")[0]):
                frame = handoff.from_any(data, resource=self.name, env=self._env)
            with lineage_run("write", self.name, self._env, self._location) as run:
                result = execute.write(
                    self._spec,
                    self._env,
                    frame,
                    template_args=template_args,
                    validate=validate,
                    metrics=metrics,
                    label_cap=self._label_cap,
                )
                info = result.info
                run.done(
                    info.location,
                    None,
                    self.spec.schema,
                    result.report,
                    result.metrics,
                    rows=info.rows,
                    nbytes=info.bytes,
                )
            return result
