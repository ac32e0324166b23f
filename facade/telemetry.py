"""Setting up OpenTelemetry for dynio, and showing a run's spans as a tree.

dynio's library code uses ``opentelemetry-api`` only and configures nothing on import. An
application (or the ``dynio`` command) sends dynio's spans, metrics and log records to any
backend with one call, configured by the standard ``OTEL_*`` environment variables::

    import dynio.telemetry

    dynio.telemetry.configure(service_name="trips-pipeline")
    # OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318  (OTLP over HTTP, the default)
    # OTEL_EXPORTER_OTLP_PROTOCOL=grpc                   (OTLP over gRPC, port 4317)
    # OTEL_TRACES_EXPORTER=console                       (print spans, for debugging)
    # OTEL_METRICS_EXPORTER=prometheus                   (any installed exporter, by name)

To see what one piece of code did, without any backend::

    with dynio.telemetry.capture_spans() as captured:
        cat.read("trips")
    print(captured.tree())

Both need the SDK: ``pip install 'dynio[otel]'``.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from opentelemetry import trace

from dynio.engine.errors import MissingDependencyError
from dynio.otel_setup import SHUTDOWN_TIMEOUT, LogBridge, Telemetry, build, logger

_LogBridge = LogBridge  # its former name here

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider

__all__ = ["SpanCapture", "Telemetry", "capture_spans", "configure", "format_tree"]

_LOCK = threading.Lock()
_CONFIGURED: Telemetry | None = None


def _sdk() -> None:
    try:
        import opentelemetry.sdk  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            "telemetry set-up needs the OpenTelemetry SDK", extra="otel"
        ) from exc


def _forget(handle: Telemetry) -> None:
    global _CONFIGURED
    with _LOCK:
        if _CONFIGURED is handle:
            _CONFIGURED = None


def _shutdown_timeout(given: float | None) -> float:
    if given is not None:
        return given
    raw = os.environ.get("DYNIO_OTEL_SHUTDOWN_TIMEOUT", "").strip()
    try:
        return float(raw) if raw else SHUTDOWN_TIMEOUT
    except ValueError:
        logger.warning("telemetry: DYNIO_OTEL_SHUTDOWN_TIMEOUT=%r is not a number", raw)
        return SHUTDOWN_TIMEOUT


def configure(
    service_name: str | None = None,
    *,
    traces: bool = True,
    metrics: bool = True,
    logs: bool = True,
    exporters: str | Sequence[str] | None = None,
    resource_attributes: Mapping[str, Any] | None = None,
    console: IO[str] | None = None,
    shutdown_timeout: float | None = None,
) -> Telemetry:
    """Set up the OpenTelemetry SDK for dynio from the standard ``OTEL_*`` variables.

    Installs a tracer provider, a meter provider and a bridge for the ``dynio`` logger's records,
    each exporting to what ``OTEL_TRACES_EXPORTER``, ``OTEL_METRICS_EXPORTER`` and
    ``OTEL_LOGS_EXPORTER`` name (``otlp`` by default): any exporter installed, by the name of its
    SDK entry point (``otlp``, ``console``, ``prometheus``…; ``none`` for nothing). OTLP goes
    over HTTP (``http/protobuf``, the default) or gRPC (``OTEL_EXPORTER_OTLP_PROTOCOL=grpc``)
    to ``OTEL_EXPORTER_OTLP_ENDPOINT``; headers, timeouts, batch sizes, the metric export
    interval and the resource come from their usual variables. ``OTEL_SDK_DISABLED=true`` turns
    it all off. Calling it again returns the first set-up; providers an application installed
    itself (tracer, meter and logger providers) are used, not replaced, and dynio's log records
    are not bridged again when an OpenTelemetry logging handler already receives them.

    A setting that cannot be honoured (an unknown exporter, one that fails to start, an unknown
    protocol) is a warning on the ``dynio.telemetry`` logger, never an error.

    Args:
        service_name: ``service.name`` unless ``OTEL_SERVICE_NAME`` or
            ``OTEL_RESOURCE_ATTRIBUTES`` set one.
        traces: Set up traces.
        metrics: Set up metrics.
        logs: Forward the ``dynio`` logger's records (warnings; metric lines when the catalog
            includes values).
        exporters: Exporter names for every signal, instead of the ``OTEL_*_EXPORTER`` variables.
        resource_attributes: More resource attributes (the environment's take precedence).
        console: Where ``console`` exporters write (default: standard error).
        shutdown_timeout: Seconds flushing and shutting down may take in all, at
            :meth:`Telemetry.shutdown` and at exit (default 2, or
            ``DYNIO_OTEL_SHUTDOWN_TIMEOUT``); an unreachable backend never holds a job longer.

    Raises:
        MissingDependencyError: The OpenTelemetry SDK is not installed (``dynio[otel]``).
    """
    global _CONFIGURED
    _sdk()
    with _LOCK:
        if _CONFIGURED is not None:
            return _CONFIGURED
        if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            _CONFIGURED = Telemetry()
            return _CONFIGURED
        _CONFIGURED = build(
            service_name,
            {"traces": traces, "metrics": metrics, "logs": logs},
            exporters,
            resource_attributes or {},
            console or sys.stderr,
            _shutdown_timeout(shutdown_timeout),
        )
        _CONFIGURED._on_done = _forget
        return _CONFIGURED


# ---------------------------------------------------------------------------------------------
# capturing spans in-process


class _Collector:
    """Hands finished spans to the captures that are open (fed by an SDK span processor)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sinks: list[list[ReadableSpan]] = []

    def open(self, sink: list[ReadableSpan]) -> None:
        with self._lock:
            self._sinks.append(sink)

    def close(self, sink: list[ReadableSpan]) -> None:
        with self._lock:
            self._sinks = [s for s in self._sinks if s is not sink]

    def on_end(self, span: ReadableSpan) -> None:
        """Keep the finished span in every open capture."""
        with self._lock:
            for sink in self._sinks:
                sink.append(span)


def _install(provider: TracerProvider) -> _Collector:
    from opentelemetry.sdk.trace import SpanProcessor

    collector = _Collector()

    class CaptureProcessor(SpanProcessor):
        def on_end(self, span: ReadableSpan) -> None:
            collector.on_end(span)

    provider.add_span_processor(CaptureProcessor())
    return collector


_COLLECTORS: dict[int, _Collector] = {}


@dataclass
class SpanCapture:
    """The spans that ended while :func:`capture_spans` was open."""

    spans: list[ReadableSpan] = field(default_factory=list)

    def tree(self) -> str:
        """The spans as an indented tree with durations (see :func:`format_tree`)."""
        return format_tree(self.spans)


@contextmanager
def capture_spans() -> Iterator[SpanCapture]:
    """Collect the spans this process ends inside the block (for ``dynio … --trace``).

    Uses the SDK tracer provider already installed (so exporting goes on as configured) or
    installs a bare one.

    Raises:
        MissingDependencyError: The OpenTelemetry SDK is not installed.
    """
    _sdk()
    from opentelemetry.sdk.trace import TracerProvider

    with _LOCK:
        provider = trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            from opentelemetry.sdk.resources import Resource

            provider = TracerProvider(resource=Resource.create({"service.name": "dynio"}))
            trace.set_tracer_provider(provider)
        collector = _COLLECTORS.get(id(provider))
        if collector is None:
            collector = _COLLECTORS[id(provider)] = _install(provider)
    capture = SpanCapture()
    collector.open(capture.spans)
    try:
        yield capture
    finally:
        collector.close(capture.spans)


def _duration(span: ReadableSpan) -> str:
    seconds = ((span.end_time or 0) - (span.start_time or 0)) / 1e9
    if seconds >= 1:
        return f"{seconds:.2f} s"
    return f"{seconds * 1000:.1f} ms"


def _summary(span: ReadableSpan) -> str:
    a: Mapping[str, Any] = span.attributes or {}
    parts: list[str] = []
    if "dynio.operation" in a and "dynio.resource" in a:
        parts.append(str(a["dynio.resource"]))
    if (
        "dynio.format" in a
        and span.name in ("dynio.scan", "dynio.sink")
        and "dynio.operation" not in a
    ):
        parts.append(str(a["dynio.format"]))
    if "dynio.rows" in a:
        parts.append(f"{a['dynio.rows']:,} rows")
    files = a.get("dynio.files.matched")
    if isinstance(files, int) and files > 1:
        parts.append(f"{files} files")
    if "dynio.validation.rules_checked" in a:
        parts.append(f"{a['dynio.validation.rules_checked']} rules")
    if "dynio.validation.outcome" in a and "dynio.operation" not in a:
        outcome = str(a["dynio.validation.outcome"])
        failed = a.get("dynio.validation.failed_rules", 0)
        parts.append(outcome if outcome == "passed" else f"{outcome} ({failed} failed)")
    if "dynio.metrics.values" in a:
        parts.append(f"{a['dynio.metrics.values']} values")
    if "dynio.casts" in a and span.name == "dynio.cast":
        casts = a["dynio.casts"]
        parts.append(f"{len(casts) if isinstance(casts, Sequence) else casts} casts")
    if span.status.status_code.name == "ERROR":
        text = span.status.description or ""
        parts.append(f"ERROR {text[:97] + '...' if len(text) > 100 else text}".strip())
    return ", ".join(parts)


def format_tree(spans: Sequence[ReadableSpan]) -> str:
    """Spans as an indented tree, children in start order, each with its duration.

    For example::

        dynio.read  12.3 ms  trips, 1,000 rows
        ├─ dynio.plan  1.2 ms
        ├─ dynio.scan  6.0 ms  csv, 1,000 rows
        ├─ dynio.validate  2.1 ms  4 rules, passed
        ├─ dynio.metrics  0.4 ms  12 values
        └─ dynio.to_pandas  1.1 ms
    """
    ids = {s.context.span_id for s in spans if s.context is not None}
    children: dict[int | None, list[ReadableSpan]] = {}
    for s in spans:
        parent = s.parent.span_id if s.parent is not None else None
        children.setdefault(parent if parent in ids else None, []).append(s)
    for group in children.values():
        group.sort(key=lambda s: s.start_time or 0)
    lines: list[str] = []

    def walk(span: ReadableSpan, prefix: str, branch: str) -> None:
        summary = _summary(span)
        lines.append(
            f"{prefix}{branch}{span.name}  {_duration(span)}{'  ' + summary if summary else ''}"
        )
        kids = children.get(span.context.span_id if span.context else None, [])
        inner = prefix + ("" if not branch else ("   " if branch == "└─ " else "│  "))
        for i, kid in enumerate(kids):
            walk(kid, inner, "└─ " if i == len(kids) - 1 else "├─ ")

    for root in children.get(None, []):
        walk(root, "", "")
    return "\n".join(lines)
