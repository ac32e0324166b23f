"""OpenLineage run events for dynio's reads and writes, through ``openlineage-python``.

Emitted only when the client is configured its own way: ``OPENLINEAGE_URL`` (HTTP),
``OPENLINEAGE_CONFIG`` or an ``openlineage.yml`` it finds, or ``OPENLINEAGE__TRANSPORT__*``
variables (file, console, Kafka… transports); ``DYNIO_OPENLINEAGE=0`` (or the client's own
``OPENLINEAGE_DISABLED=true``) turns it off. Each operation is one run: ``START``, then
``COMPLETE`` with the dataset's schema facet and data-quality facets (row count, metric values
per column, each rule's outcome), or ``FAIL``. A transport that fails is logged, never raised.

Example (``openlineage.yml``)::

    transport:
      type: file
      log_file_path: /var/log/lineage.ndjson
      append: true
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from dynio import __version__

if TYPE_CHECKING:
    import polars as pl

    from dynio.engine.quality import MetricValue, ValidationReport
    from dynio.engine.spec import SchemaSpec

__all__ = ["dataset_name", "lineage_run"]

logger = logging.getLogger("dynio.lineage")

NAMESPACE = "dynio"
PRODUCER = f"https://github.com/dynio/dynio/tree/{__version__}"
_CLIENTS: dict[tuple[Any, ...], Any] = {}


def _configured() -> tuple[Any, ...] | None:
    """What configures the client (a cache key), or ``None`` when nothing does."""
    if os.environ.get("DYNIO_OPENLINEAGE", "").strip().lower() in ("0", "false", "no", "off"):
        return None
    # the names first, then only their values (every read asks: decoding every value of the
    # environment cost a small read a tenth of a millisecond)
    names = [k for k in os.environ if k.startswith("OPENLINEAGE")]
    settings = tuple(sorted((k, os.environ[k]) for k in names))
    found = [k for k, _ in settings if k in ("OPENLINEAGE_URL", "OPENLINEAGE_CONFIG")]
    found += [k for k, _ in settings if k.startswith("OPENLINEAGE__TRANSPORT")]
    yaml_file = os.path.join(os.getcwd(), "openlineage.yml")
    if not found and not os.path.isfile(yaml_file):
        return None
    return (*settings, os.getcwd())


def _client() -> Any:
    key = _configured()
    if key is None:
        return None
    client = _CLIENTS.get(key)
    if client is None:
        try:
            from openlineage.client import OpenLineageClient
        except ImportError:
            logger.warning(
                "OpenLineage is configured but openlineage-python is not installed"
                " (pip install 'dynio[openlineage]'); no lineage is emitted"
            )
            _CLIENTS[key] = False
            return None
        try:
            client = OpenLineageClient()
        except Exception as exc:  # a bad configuration must not fail the data job
            logger.warning("OpenLineage client cannot start: %s", exc)
            client = False
        _CLIENTS[key] = client
    return client or None


def dataset_name(location: str) -> tuple[str, str]:
    """An OpenLineage dataset (namespace, name) for a dynio location (already redacted).

    ``/data/x.parquet`` -> ``("file", "/data/x.parquet")``; ``s3://b/k`` -> ``("s3://b", "k")``;
    ``postgresql://app@db:5432/shop?table=t`` -> ``("postgres://db:5432", "shop.t")``;
    ``/w/x.duckdb?table=t`` -> ``("duckdb:///w/x.duckdb", "t")``.
    """
    path, _, query = location.partition("?")
    table = query.removeprefix("table=") if query.startswith("table=") else None
    if "://" not in path:
        if table is not None:
            return f"duckdb://{path}", table
        return "file", path
    parts = urlsplit(path)
    scheme = parts.scheme
    if scheme in ("postgresql", "postgres"):
        host = parts.hostname or "localhost"
        database = parts.path.lstrip("/")
        return f"postgres://{host}:{parts.port or 5432}", ".".join(
            p for p in (database, table or query) if p
        )
    netloc = parts.hostname or parts.netloc.rsplit("@", 1)[-1]
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return f"{scheme}://{netloc}", parts.path.lstrip("/") or "/"


def _facets(
    columns_of: Sequence[tuple[str, str]],
    rows: int | None,
    schema: SchemaSpec | None,
    report: ValidationReport | None,
    values: Sequence[MetricValue],
    *,
    output: bool,
    nbytes: int | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(dataset facets, input or output facets) of one dataset."""
    from openlineage.client.facet_v2 import (
        data_quality_assertions_dataset,
        data_quality_metrics_input_dataset,
        output_statistics_output_dataset,
        schema_dataset,
    )

    facets: dict[str, Any] = {}
    io_facets: dict[str, Any] = {}
    if columns_of:
        facets["schema"] = schema_dataset.SchemaDatasetFacet(
            fields=[
                schema_dataset.SchemaDatasetFacetFields(name=name, type=dtype, ordinal_position=i)
                for i, (name, dtype) in enumerate(columns_of, start=1)
            ]
        )
    columns: dict[str, Any] = {}
    for v in values:
        if isinstance(v.value, bool) or not isinstance(v.value, int | float):
            continue
        metrics = columns.setdefault(v.column, data_quality_metrics_input_dataset.ColumnMetrics())
        _set_metric(metrics, v)
    quality = data_quality_metrics_input_dataset.DataQualityMetricsInputDatasetFacet(
        columnMetrics=columns, rowCount=rows, bytes=nbytes
    )
    failed = {(f.rule, f.column): f for f in (report.failures if report is not None else ())}
    assertions = [
        data_quality_assertions_dataset.Assertion(
            assertion=rule.name,
            success=(rule.name, rule.column) not in failed,
            column=rule.column,
            severity=rule.severity,
        )
        for rule in (schema.all_rules if schema is not None and report is not None else ())
        if rule.apply
    ]
    checks = data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
        assertions=assertions
    )
    if output:
        stats = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet
        io_facets["outputStatistics"] = stats(rowCount=rows, size=nbytes)
    io_facets["dataQualityMetrics"] = quality
    io_facets["dataQualityAssertions"] = checks
    return facets, io_facets


def _set_metric(metrics: Any, v: MetricValue) -> None:
    value = v.value
    if v.metric == "NullCount":
        metrics.nullCount = int(value)
    elif v.metric == "UniqueCounts":
        metrics.distinctCount = int(value)
    elif v.metric == "Counts":
        metrics.count = float(value)
    elif v.metric == "Min":
        metrics.min = float(value)
    elif v.metric == "Max":
        metrics.max = float(value)
    elif v.metric == "Quantiles" and v.label:
        metrics.quantiles[str(v.label).removeprefix("p")] = float(value)
    # CountsPerLabel: its labels are data values, and the facet has no place for them


class _Run:
    """What the operation reports for its COMPLETE event."""

    def __init__(self, *, active: bool = False) -> None:
        self.active = active  # lineage is configured: an event will report what ``done`` says
        self.location: str | None = None
        self.columns: Sequence[tuple[str, str]] = ()
        self.rows: int | None = None
        self.schema: SchemaSpec | None = None
        self.report: ValidationReport | None = None
        self.values: Sequence[MetricValue] = ()
        self.nbytes: int | None = None

    def done(
        self,
        location: str,
        frame: pl.DataFrame | None,
        schema: SchemaSpec | None,
        report: ValidationReport | None,
        values: Sequence[MetricValue],
        *,
        rows: int | None = None,
        nbytes: int | None = None,
    ) -> None:
        """Record the outcome (called by the operation once it has its result): the frame
        read (its columns, and rows unless ``rows`` says them: a frame of the columns only), or
        for a write the schema's columns and the rows written."""
        self.location, self.schema = location, schema
        if frame is not None:
            self.columns = [(n, str(t)) for n, t in frame.schema.items()]
            self.rows = frame.height if rows is None else rows
        else:
            cols = schema.columns if schema is not None else ()
            self.columns = [(c.name, str(c.dtype)) for c in cols]
            self.rows = rows
        self.report, self.values, self.nbytes = report, values, nbytes


@contextmanager
def lineage_run(
    operation: str, resource: str, env: str, where: Callable[[], str | None]
) -> Iterator[_Run]:
    """One OpenLineage run around a read or write (nothing when lineage is not configured).

    ``where`` gives the (redacted) location before the operation has its own; it is called
    only when lineage is configured, and a failure in it leaves the START event without one.
    """
    client = _client()
    run = _Run(active=client is not None)
    if client is None:
        yield run
        return
    try:
        location = where()
    except Exception:  # the operation itself raises it, inside its span
        location = None
    run_id = str(uuid.uuid4())
    job = f"{operation}.{resource}"
    _emit(client, "START", run_id, job, env, operation, location, None)
    try:
        yield run
    except BaseException as exc:
        _emit(client, "FAIL", run_id, job, env, operation, run.location or location, None, exc)
        raise
    _emit(client, "COMPLETE", run_id, job, env, operation, run.location or location, run)


def _emit(
    client: Any,
    state: str,
    run_id: str,
    job_name: str,
    env: str,
    operation: str,
    location: str | None,
    run: _Run | None,
    error: BaseException | None = None,
) -> None:
    try:
        event = _event(state, run_id, job_name, env, operation, location, run, error)
        client.emit(event)
    except Exception as exc:  # lineage never fails the data job
        logger.warning("OpenLineage %s event for %s not sent: %s", state, job_name, exc)


def _event(
    state: str,
    run_id: str,
    job_name: str,
    env: str,
    operation: str,
    location: str | None,
    run: _Run | None,
    error: BaseException | None,
) -> Any:
    from openlineage.client.event_v2 import (
        InputDataset,
        Job,
        OutputDataset,
        Run,
        RunEvent,
        RunState,
    )
    from openlineage.client.facet_v2 import error_message_run

    from dynio.engine.telemetry import error_type, operation_secrets, safe_message

    datasets: list[Any] = []
    output = operation == "write"
    if location is not None:
        namespace, name = dataset_name(location)
        facets: dict[str, Any] = {}
        io_facets: dict[str, Any] = {}
        if run is not None:
            facets, io_facets = _facets(
                run.columns,
                run.rows,
                run.schema,
                run.report,
                run.values,
                output=output,
                nbytes=run.nbytes,
            )
        make: Callable[..., Any] = OutputDataset if output else InputDataset
        key = "outputFacets" if output else "inputFacets"
        datasets.append(make(namespace=namespace, name=name, facets=facets, **{key: io_facets}))
    run_facets: dict[str, Any] = {}
    if error is not None:
        run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=f"{error_type(error)}: {safe_message(error, operation_secrets())}",
            programmingLanguage="python",
        )
    return RunEvent(
        eventType=getattr(RunState, state),
        eventTime=dt.datetime.now(dt.UTC).isoformat(),
        run=Run(runId=run_id, facets=run_facets),
        job=Job(namespace=f"{NAMESPACE}/{env}", name=job_name),
        producer=PRODUCER,
        inputs=[] if output else datasets,
        outputs=datasets if output else [],
    )
