"""dynio's metric instruments (names, units, attributes: :data:`dynio.engine.conventions.METRICS`).

Bytes and rows moved are one counter each (``dynio.io.size`` in ``By``, ``dynio.io.rows``) with
a ``dynio.io.direction`` attribute; each data-quality metric kind has its own gauge
(``dynio.quality.mean``, ``.null_count``, ``.quantile``…), so one instrument never mixes means
and counts. Label cardinality is bounded: resource, environment, source kind, column, metric kind
and rule come from the catalog (a fixed set per deployment); ``dynio.metric.quantile`` has three
values; ``dynio.metric.label`` (``CountsPerLabel``, data values) is sent only when the catalog
opts in with ``include_values``, and at most ``label_cap`` labels per column.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace
from opentelemetry.trace import Span

from dynio.engine.conventions import METRICS
from dynio.engine.telemetry_values import values_included

if TYPE_CHECKING:
    from dynio.engine.quality import MetricValue, ValidationReport

__all__ = [
    "duration",
    "enabled",
    "file_bytes",
    "record_quality_metrics",
    "record_read",
    "record_write",
    "validation_outcome",
]


def _installed_version() -> str:
    """dynio's version as installed (the engine does not import the facade, which writes it)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dynio")
    except PackageNotFoundError:  # a source tree that is not installed
        return "unknown"


VERSION = _installed_version()
meter = metrics.get_meter("dynio", VERSION)

# seconds, from a cached small read to a long extract
_DURATION_BUCKETS = [
    0.001,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
]


def _counter(name: str) -> Any:
    m = METRICS[name]
    return meter.create_counter(m.name, unit=m.unit, description=m.description)


def _gauge(name: str) -> Any:
    m = METRICS[name]
    return meter.create_gauge(m.name, unit=m.unit, description=m.description)


_rows = _counter("dynio.io.rows")
_size = _counter("dynio.io.size")
_rule_failures = _counter("dynio.validation.failures")
duration = meter.create_histogram(
    "dynio.operation.duration",
    unit=METRICS["dynio.operation.duration"].unit,
    description=METRICS["dynio.operation.duration"].description,
    explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
)
# metric kind (the schema's name) -> its instrument
_KINDS = {
    "Mean": "dynio.quality.mean",
    "Min": "dynio.quality.min",
    "Max": "dynio.quality.max",
    "Std": "dynio.quality.stddev",
    "Variance": "dynio.quality.variance",
    "Counts": "dynio.quality.count",
    "UniqueCounts": "dynio.quality.count",
    "NullCount": "dynio.quality.null_count",
    "Quantiles": "dynio.quality.quantile",
    "CountsPerLabel": "dynio.quality.label_count",
}
_GAUGES = {name: _gauge(name) for name in {*_KINDS.values(), "dynio.quality.value"}}


def enabled(sp: Span | None = None) -> bool:
    """Whether telemetry is being collected: the span records, or an SDK meter is installed.

    Lets callers skip work whose only use is telemetry (e.g. stat-ing files for their size).
    """
    if (sp or trace.get_current_span()).is_recording():
        return True
    # the API's stand-ins when no SDK is installed; an SDK's provider has another class
    return type(metrics.get_meter_provider()).__name__ not in (
        "_ProxyMeterProvider",
        "NoOpMeterProvider",
    )


def file_bytes(files: Sequence[str]) -> int | None:
    """Total size of the local files among ``files`` (``None`` when none is local)."""
    total, found = 0, False
    for name in files:
        try:
            total += os.stat(name).st_size
            found = True
        except (OSError, ValueError):
            continue
    return total if found else None


def _io(resource: str, env: str, kind: str | None, direction: str) -> dict[str, Any]:
    attrs: dict[str, Any] = {"dynio.resource": resource, "dynio.env": env}
    if kind:
        attrs["dynio.source.kind"] = kind
    attrs["dynio.io.direction"] = direction
    return attrs


def record_read(resource: str, env: str, kind: str | None, rows: int, nbytes: int | None) -> None:
    """Count a read's rows and bytes."""
    attrs = _io(resource, env, kind, "read")
    _rows.add(rows, attrs)
    if nbytes is not None:
        _size.add(nbytes, attrs)


def record_write(resource: str, env: str, kind: str | None, rows: int, nbytes: int | None) -> None:
    """Count a write's rows and bytes."""
    attrs = _io(resource, env, kind, "write")
    _rows.add(rows, attrs)
    if nbytes is not None:
        _size.add(nbytes, attrs)


def record_quality_metrics(
    resource: str,
    env: str,
    operation: str,
    report: ValidationReport | None,
    values: Sequence[MetricValue],
) -> list[dict[str, Any]]:
    """Data-quality metric values as gauges (one per kind), failed rules as counts (counts only:
    failing values may be personal data). Returns the attributes of a ``dynio.rule.failed``
    event per failed rule, for :func:`dynio.engine.telemetry.record_quality` to add."""
    labels = values_included()
    for v in values:
        value = v.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue  # min/max of text or dates: not a number a gauge can carry
        name = _KINDS.get(v.metric, "dynio.quality.value")
        attrs = {
            "dynio.resource": resource,
            "dynio.env": env,
            "dynio.column": v.column,
            "dynio.metric": v.metric,
        }
        if name == "dynio.quality.label_count":
            if not labels:
                continue  # a label is a data value
            attrs["dynio.metric.label"] = str(v.label)
        elif name == "dynio.quality.quantile":
            attrs["dynio.metric.quantile"] = str(v.label)
        elif v.label is not None:
            continue  # a labelled kind this table does not know: its labels are unbounded
        _GAUGES[name].set(value, attrs)
    events: list[dict[str, Any]] = []
    for f in report.failures if report is not None else ():
        attrs = {
            "dynio.resource": resource,
            "dynio.env": env,
            "dynio.operation": operation,
            "dynio.rule": f.rule,
            "dynio.rule.severity": f.severity,
        }
        if f.column is not None:
            attrs["dynio.column"] = f.column
        _rule_failures.add(1, attrs)
        events.append({**attrs, "dynio.rule.failing_count": int(f.failing_count)})
    return events


def validation_outcome(report: ValidationReport) -> str:
    """``passed``, ``warned`` (only warn-severity rules failed) or ``failed``."""
    if not report.failures:
        return "passed"
    return "failed" if report.errors else "warned"
