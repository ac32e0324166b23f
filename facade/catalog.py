"""The catalog: resources by name, read and written in one environment.

Example::

    import dynio

    cat = dynio.Catalog.from_yaml("configs/pipeline", env="local")
    trips = cat.read("trips", columns=["id", "fare"], filters=[("fare", ">", 10)])
    lazy = cat.scan("trips")                     # a Polars LazyFrame, casts in the plan
    cat.write("trips_clean", trips, day="2024-01-01")   # fills {day} in the path
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import pandas as pd
import polars as pl

from dynio import handoff
from dynio.engine import execute, loader, plan
from dynio.engine.errors import ConfigError, ResourceNotFoundError, ValidationError
from dynio.engine.filters import FilterLike
from dynio.engine.placeholders import VarSource
from dynio.engine.quality import DEFAULT_LABEL_CAP, MetricValue, ValidationReport
from dynio.engine.spec import CatalogSpec, EnvSpec, ResourceSpec
from dynio.engine.telemetry import bind_source, operation, set_attributes, span

__all__ = ["Catalog", "Resource"]

ENV_VAR = "DYNIO_ENV"


class Resource:
    """One resource in one environment: read, scan and write it.

    Obtained from :meth:`Catalog.resource`. Immutable; safe to share between threads.
    """

    def __init__(self, spec: ResourceSpec, env: str, label_cap: int = DEFAULT_LABEL_CAP) -> None:
        self._spec = spec
        self._env = env
        self._label_cap = label_cap

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
        """The environment's frozen spec (source and schema)."""
        return self._spec.env(self._env)

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
        convert = None
        if dtype_backend is not None:
            backend = dtype_backend

            def convert(frame: pl.DataFrame) -> pd.DataFrame:
                return self._to_pandas(frame, backend)

        return execute.read(
            self._spec,
            self._env,
            columns=columns,
            filters=filters,
            template_args=template_args,
            validate=validate,
            metrics=metrics,
            label_cap=self._label_cap,
            raise_on_error=raise_on_error,
            convert=convert,
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
        with operation("dynio.read", resource=self.name, env=self._env):
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
        with span(
            "to_pandas", rows=frame.height, columns=len(frame.columns), dtype_backend=dtype_backend
        ):
            return handoff.to_pandas(frame, self.spec.schema, dtype_backend)

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
        with operation("dynio.scan", resource=self.name, env=self._env) as sp:
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
            set_attributes(sp, planned.info.attributes())
            return planned.frame

    def write(
        self,
        data: Any,
        *,
        validate: bool = True,
        metrics: bool = True,
        **template_args: Any,
    ) -> execute.WriteResult:
        """Write pandas, Polars or Arrow data (see :meth:`Catalog.write`)."""
        # one dynio.write span over the hand-off from pandas and the engine's stages
        with operation("dynio.write", resource=self.name, env=self._env):
            with span("to_polars", input=type(data).__module__.split(".")[0]):
                frame = handoff.from_any(data, resource=self.name, env=self._env)
            return execute.write(
                self._spec,
                self._env,
                frame,
                template_args=template_args,
                validate=validate,
                metrics=metrics,
                label_cap=self._label_cap,
            )


class Catalog:
    """Every resource of a set of YAML files, in one environment.

    Build it with :meth:`from_yaml`. A catalog is immutable and thread-safe; the only state it
    keeps is :attr:`last_report`/:attr:`last_metrics` of the calling thread's last synchronous
    read or write, for convenience (:meth:`read_result` returns them with the data).
    """

    def __init__(self, spec: CatalogSpec, env: str, *, label_cap: int = DEFAULT_LABEL_CAP) -> None:
        self._spec = spec
        self._env = env
        self._label_cap = label_cap
        self._local = threading.local()

    @classmethod
    def from_yaml(
        cls,
        path: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
        env: str | None = None,
        vars: VarSource = None,
        *,
        label_cap: int = DEFAULT_LABEL_CAP,
    ) -> Catalog:
        """Load a catalog from a YAML file, a folder of them, or several.

        Args:
            path: Resource YAML file(s) or folder(s) (searched recursively; schema files found
                there are left for resources to reference).
            env: The environment to use; defaults to the ``DYNIO_ENV`` environment variable.
            vars: Values for ``[[ VAR ]]`` placeholders: a mapping or a module (e.g. your
                pipeline's ``environment.py``); process environment variables come after them.
            label_cap: At most this many labels per ``CountsPerLabel`` metric.

        Raises:
            ConfigError: Any problem in the YAML (all of them, when there are several).
        """
        env = env if env is not None else os.environ.get(ENV_VAR)
        if env is not None and not isinstance(env, str):
            raise ConfigError(
                f"env must be the name of an environment (text), got {type(env).__name__}",
                file=str(path) if isinstance(path, str | os.PathLike) else None,
            )
        if not env:
            raise ConfigError(
                f"no environment given: pass env= or set {ENV_VAR}",
                file=str(path) if isinstance(path, str | os.PathLike) else None,
            )
        spec = loader.load_catalog(path, variables=vars, env=env)
        return cls(spec, env, label_cap=label_cap)

    @property
    def env(self) -> str:
        """The environment this catalog reads and writes."""
        return self._env

    @property
    def resources(self) -> list[str]:
        """Resource names, in file order."""
        return list(self._spec.resources)

    def __contains__(self, name: object) -> bool:
        return name in self._spec.resources

    def __iter__(self) -> Iterator[str]:
        return iter(self._spec.resources)

    def __len__(self) -> int:
        return len(self._spec.resources)

    def __repr__(self) -> str:
        return f"Catalog(env={self._env!r}, resources={self.resources})"

    def resource(self, name: str) -> Resource:
        """The named resource in this catalog's environment.

        Raises:
            ResourceNotFoundError: No resource of that name.
        """
        spec = self._spec.resources.get(name)
        if spec is None:
            raise ResourceNotFoundError(
                f"no resource {name!r} in the catalog; it has {self.resources}",
                resource=name,
                env=self._env,
            )
        return Resource(spec, self._env, self._label_cap)

    @property
    def last_report(self) -> ValidationReport | None:
        """The validation report of this thread's last read or write."""
        return getattr(self._local, "report", None)

    @property
    def last_metrics(self) -> list[MetricValue]:
        """The metric values of this thread's last read or write."""
        return list(getattr(self._local, "metrics", []))

    def _remember(self, report: ValidationReport, metrics: list[MetricValue]) -> None:
        self._local.report = report
        self._local.metrics = metrics

    def read(
        self,
        name: str,
        /,
        columns: Sequence[str] | None = None,
        filters: FilterLike = None,
        *,
        dtype_backend: handoff.DtypeBackend = "numpy",
        validate: bool = True,
        metrics: bool = True,
        **template_args: Any,
    ) -> pd.DataFrame:
        """Read a resource as a pandas DataFrame: cast, validated and measured in one pass.

        Args:
            name: The resource name.
            columns: Columns to return (default: the schema's).
            filters: Rows to keep: a Polars expression or ``[("col", ">", 3), ...]``; pushed into
                the scan (row-group pruning for parquet).
            dtype_backend: ``"numpy"`` (what pandas' readers give), ``"numpy_nullable"`` or
                ``"pyarrow"``.
            validate: Run the schema's rules (error-severity failures raise ``ValidationError``).
            metrics: Compute the schema's metrics (see :attr:`last_metrics`).
            **template_args: Values for ``{placeholders}`` in the resource's paths.
        """
        handoff.check_dtype_backend(dtype_backend, resource=name, env=self._env)
        with operation("dynio.read", resource=name, env=self._env):
            result = self._read(
                self.resource(name),
                columns=columns,
                filters=filters,
                validate=validate,
                metrics=metrics,
                template_args=template_args,
                dtype_backend=dtype_backend,
            )
            converted: pd.DataFrame = result.converted
            return converted

    def _read(self, res: Resource, **kwargs: Any) -> execute.Result:
        """Read through the resource, remembering the report (a failed one too)."""
        try:
            result = res._read_result(**kwargs)
        except ValidationError as exc:
            self._remember(exc.report, [])
            raise
        self._remember(result.report, result.metrics)
        return result

    def read_result(
        self,
        name: str,
        /,
        columns: Sequence[str] | None = None,
        filters: FilterLike = None,
        *,
        validate: bool = True,
        metrics: bool = True,
        raise_on_error: bool = True,
        **template_args: Any,
    ) -> execute.Result:
        """Read into the engine's result: Polars frame, validation report, metrics and plan info.

        With ``raise_on_error=False`` failed rules are reported on the result, not raised.
        """
        return self._read(
            self.resource(name),
            columns=columns,
            filters=filters,
            validate=validate,
            metrics=metrics,
            raise_on_error=raise_on_error,
            template_args=template_args,
        )

    def read_polars(
        self,
        name: str,
        /,
        columns: Sequence[str] | None = None,
        filters: FilterLike = None,
        *,
        validate: bool = True,
        metrics: bool = True,
        **template_args: Any,
    ) -> pl.DataFrame:
        """Read a resource as a Polars DataFrame (same checks as :meth:`read`)."""
        return self._read(
            self.resource(name),
            columns=columns,
            filters=filters,
            validate=validate,
            metrics=metrics,
            template_args=template_args,
        ).frame

    def scan(
        self,
        name: str,
        /,
        columns: Sequence[str] | None = None,
        filters: FilterLike = None,
        **template_args: Any,
    ) -> pl.LazyFrame:
        """A Polars LazyFrame over the resource with projection, filters and casts in the plan."""
        return self.resource(name).scan(columns=columns, filters=filters, **template_args)

    def write(
        self,
        name: str,
        data: Any,
        /,
        *,
        validate: bool = True,
        metrics: bool = True,
        **template_args: Any,
    ) -> execute.WriteResult:
        """Write pandas, Polars or Arrow data to a resource, atomically.

        The data is projected to the schema's columns, cast safely, validated and measured;
        a failed error-severity rule writes nothing.

        Args:
            name: The resource name.
            data: A pandas DataFrame, a Polars DataFrame or LazyFrame, or an Arrow table.
            validate: Run the schema's rules first.
            metrics: Compute the schema's metrics.
            **template_args: Values for ``{placeholders}`` in the resource's paths.
        """
        result = self.resource(name).write(
            data, validate=validate, metrics=metrics, **template_args
        )
        self._remember(result.report, result.metrics)
        return result

    async def read_async(
        self,
        name: str,
        /,
        columns: Sequence[str] | None = None,
        filters: FilterLike = None,
        **kwargs: Any,
    ) -> pd.DataFrame:
        """:meth:`read` in a worker thread, so reads of several resources overlap."""
        import asyncio  # only async callers pay for it

        return await asyncio.to_thread(self.read, name, columns, filters, **kwargs)

    async def write_async(self, name: str, data: Any, /, **kwargs: Any) -> execute.WriteResult:
        """:meth:`write` in a worker thread, so writes of several resources overlap."""
        import asyncio  # only async callers pay for it

        return await asyncio.to_thread(self.write, name, data, **kwargs)
