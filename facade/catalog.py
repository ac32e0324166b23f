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
from dynio.engine import execute, loader, stream_io
from dynio.engine.display import MetricValues
from dynio.engine.errors import ConfigError, ResourceNotFoundError, ValidationError
from dynio.engine.filters import FilterLike
from dynio.engine.placeholders import VarSource
from dynio.engine.plan import PlanInfo
from dynio.engine.quality import DEFAULT_LABEL_CAP, MetricValue, ValidationReport
from dynio.engine.spec import CatalogSpec
from dynio.engine.telemetry import include_values, operation
from dynio.resource import Resource

__all__ = ["Catalog", "Resource"]

ENV_VAR = "DYNIO_ENV"


def _telemetry_settings(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    settings = dict(raw or {})
    unknown = sorted(set(settings) - {"include_values"})
    if unknown:
        raise ConfigError(f"unknown telemetry setting(s) {unknown}; known: include_values")
    return settings


class Catalog:
    """Every resource of a set of YAML files, in one environment.

    Build it with :meth:`from_yaml`. A catalog is immutable and thread-safe; the only state it
    keeps is :attr:`last_report`/:attr:`last_metrics` of the calling thread's last synchronous
    read or write, for convenience (:meth:`read_result` returns them with the data).
    """

    def __init__(
        self,
        spec: CatalogSpec,
        env: str,
        *,
        label_cap: int = DEFAULT_LABEL_CAP,
        telemetry: Mapping[str, Any] | None = None,
    ) -> None:
        self._spec = spec
        self._env = env
        self._label_cap = label_cap
        self._telemetry = _telemetry_settings(telemetry)
        self._include_values = bool(self._telemetry.get("include_values", False))
        self._local = threading.local()
        self._resources: dict[str, Resource] = {}

    @classmethod
    def from_yaml(
        cls,
        path: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
        env: str | None = None,
        vars: VarSource = None,
        *,
        label_cap: int = DEFAULT_LABEL_CAP,
        strict: bool = False,
        telemetry: Mapping[str, Any] | None = None,
    ) -> Catalog:
        """Load a catalog from a YAML file, a folder of them, or several.

        Every resource is checked now; a resource's problems (an unknown key, an unset
        ``[[ VAR ]]`` its environment uses, ...) are raised when that resource is used, so one
        broken entry does not stop the others. ``strict=True`` raises every problem of every
        resource here, at once.

        Args:
            path: Resource YAML file(s) or folder(s) (searched recursively; schema files found
                there are left for resources to reference).
            env: The environment to use; defaults to the ``DYNIO_ENV`` environment variable.
            vars: Values for ``[[ VAR ]]`` placeholders: a mapping or a module (e.g. your
                pipeline's ``environment.py``); process environment variables come after them.
            label_cap: At most this many labels per ``CountsPerLabel`` metric.
            strict: Raise every problem now (other environments' unset variables excepted).
            telemetry: ``{"include_values": True}`` lets data values (filter literals, failed
                rules' samples, ``CountsPerLabel`` labels) into spans, events, metrics and
                exported logs; by default telemetry carries counts, column and rule names only.

        Raises:
            ConfigError: A file that cannot be parsed; with ``strict``, every problem
                (:class:`~dynio.errors.ConfigProblems` when there are several).
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
        spec = loader.load_catalog(path, variables=vars, env=env, strict=strict)
        return cls(spec, env, label_cap=label_cap, telemetry=telemetry)

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
        # one Resource per name: it resolves its environment and source kind once, and is
        # immutable (the catalog's spec is frozen), so repeated reads pay that once
        res = self._resources.get(name)
        if res is None or res._spec is not spec:
            res = Resource(spec, self._env, self._label_cap, include_values=self._include_values)
            self._resources[name] = res
        return res

    @property
    def last_report(self) -> ValidationReport | None:
        """The validation report of this thread's last read or write."""
        return getattr(self._local, "report", None)

    @property
    def last_metrics(self) -> list[MetricValue]:
        """The metric values of this thread's last read or write (a list that shows as a table
        in notebooks, with ``to_pandas()``)."""
        return MetricValues(getattr(self._local, "metrics", []))

    @property
    def last_info(self) -> PlanInfo | None:
        """What this thread's last read did (:class:`~dynio.engine.plan.PlanInfo`: location,
        files, pushdown, casts, and ``read_path``, the reader that ran)."""
        return getattr(self._local, "info", None)

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
            **template_args: Values for ``{placeholders}`` in the resource's paths; for Delta
                and Iceberg resources also the version to read: ``version=`` (a Delta version
                or an Iceberg snapshot id, also ``snapshot_id=``) or ``as_of=`` (a datetime or
                ISO-8601 text).
        """
        handoff.check_dtype_backend(dtype_backend, resource=name, env=self._env)
        with (
            include_values(self._include_values),
            operation("dynio.read", resource=name, env=self._env),
        ):
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
        self._local.info = result.info
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

    def head(
        self,
        name: str,
        n: int = 10,
        /,
        columns: Sequence[str] | None = None,
        filters: FilterLike = None,
        *,
        validate: bool = True,
        **template_args: Any,
    ) -> execute.Result:
        """The first ``n`` rows, read lazily: only those rows are read, cast and checked.

        Failed rules (on those rows) are on ``result.report``, never raised.
        """
        from dynio.engine import preview

        return preview.head(
            self.resource(name)._spec,
            self._env,
            n,
            columns=columns,
            filters=filters,
            template_args=template_args,
            validate=validate,
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

    def to_dask(
        self,
        name: str,
        /,
        columns: Sequence[str] | None = None,
        filters: FilterLike = None,
        *,
        index: str | None = None,
        partition_rows: int | None = None,
        dtype_backend: handoff.DtypeBackend = "numpy",
        partition_on: str | None = None,
        partition_num: int | None = None,
        **template_args: Any,
    ) -> Any:
        """A resource as a ``dask.dataframe.DataFrame``, for a Dask cluster.

        One partition per file, or per group of row groups of a large parquet file. The read is
        planned here as :meth:`read` plans it (template, projection, filters, hive partition
        pruning); each partition task applies the same projection, filters and safe casts to
        its part on the worker and gives the pandas dtypes :meth:`read` gives. Needs the
        ``dask`` extra (``pip install 'dynio[dask]'``); Dask is imported by this method only.

        Args:
            name: The resource name (a file-based kind: local, local_batch, object stores; or
                postgres, read in key ranges).
            columns: Columns to read (default: the schema's).
            filters: Rows to keep (as for :meth:`read`); pushed into each partition's scan.
            index: A column to make the index; when the parquet statistics show the parts
                sorted by it, the frame's divisions are known.
            partition_rows: Rows per partition when a parquet file is split by row groups
                (default 1,000,000).
            dtype_backend: As for :meth:`read`.
            partition_on: For a SQL source (postgres): the integer column whose value ranges
                make the partitions (default: the source's ``partition_on`` option).
            partition_num: How many ranges (default: the ``partition_num`` option, else 1).
            **template_args: Values for ``{placeholders}`` in the resource's paths.

        Returns:
            A ``dask.dataframe.DataFrame`` (typed ``Any`` so that Dask stays optional).
        """
        return self.resource(name).to_dask(
            columns=columns,
            filters=filters,
            index=index,
            partition_rows=partition_rows,
            dtype_backend=dtype_backend,
            partition_on=partition_on,
            partition_num=partition_num,
            **template_args,
        )

    def check(
        self,
        name: str,
        /,
        columns: Sequence[str] | None = None,
        filters: FilterLike = None,
        *,
        validate: bool = True,
        metrics: bool = True,
        raise_on_error: bool = True,
        dask: bool = False,
        approximate: bool = False,
        **template_args: Any,
    ) -> stream_io.CheckResult:
        """Validate and measure a resource without loading it: for data larger than memory.

        The schema's rules and metrics run over the resource's scan as aggregations in Polars'
        streaming engine (the global ones, such as ``has_unique_values`` or ``Quantiles``, stay
        exact); the report and metric values equal those of :meth:`read_result` on the same
        data, and the data is never held in memory.

        Args:
            name: The resource name.
            columns: Only check these columns (rules and metrics on others are left out).
            filters: Only check the rows these filters keep (pushed into the scan).
            validate: Run the schema's rules (error-severity failures raise ``ValidationError``).
            metrics: Compute the schema's metrics.
            raise_on_error: With ``False`` failed rules are only reported on the result.
            dask: Run on the Dask cluster instead (the current ``distributed.Client``): one
                pass over the partitions of :meth:`to_dask`, partial aggregates merged in a
                tree and keys hash-partitioned for exact distinct counts and duplicate rules.
            approximate: With ``dask``: distinct counts (``UniqueCounts``) and the duplicate
                rules from HyperLogLog sketches instead (~1 % error, no shuffle); a duplicate
                rule's failing count is then the estimated rows beyond the first of each key.
            **template_args: Values for ``{placeholders}`` in the resource's paths.

        Returns:
            The validation report, the metric values and what the plan read.
        """
        res = self.resource(name)
        try:
            result = res.check(
                columns=columns,
                filters=filters,
                validate=validate,
                metrics=metrics,
                raise_on_error=raise_on_error,
                dask=dask,
                approximate=approximate,
                **template_args,
            )
        except ValidationError as exc:
            self._remember(exc.report, [])
            raise
        self._remember(result.report, result.metrics)
        self._local.info = result.info
        return result

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
            data: A pandas DataFrame, a Polars DataFrame or LazyFrame, or an Arrow table. A
                LazyFrame is checked and written by Polars' streaming engine without being
                collected (a local file in parquet, CSV, NDJSON or IPC is streamed into place),
                so it may be larger than memory. A Dask DataFrame (to a ``local_batch``
                dataset folder) is cast, checked and written by the workers, partition by
                partition into a staging folder swapped in only when the rules pass.
            validate: Run the schema's rules first.
            metrics: Compute the schema's metrics.
            **template_args: Values for ``{placeholders}`` in the resource's paths.
        """
        result = self.resource(name).write(
            data, validate=validate, metrics=metrics, **template_args
        )
        self._remember(result.report, result.metrics)
        self._local.info = result.info
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
