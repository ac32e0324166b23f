"""Setting up OpenTelemetry for dynio, and showing a run's spans as a tree.

dynio's library code uses ``opentelemetry-api`` only and configures nothing on import. An
application (or the ``dynio`` command) sends dynio's spans, metrics and log records to an OTLP
backend with one call, configured by the standard ``OTEL_*`` environment variables::

    import dynio.telemetry

    dynio.telemetry.configure(service_name="trips-pipeline")
    # OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318  (OTLP over HTTP, the default)
    # OTEL_EXPORTER_OTLP_PROTOCOL=grpc                   (OTLP over gRPC, port 4317)
    # OTEL_TRACES_EXPORTER=console                       (print spans, for debugging)

To see what one piece of code did, without any backend::

    with dynio.telemetry.capture_spans() as captured:
        cat.read("trips")
    print(captured.tree())

Both need the SDK: ``pip install 'dynio[otel]'``.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from opentelemetry import metrics as otel_metrics
from opentelemetry import trace

from dynio.engine.errors import ConfigError, MissingDependencyError
from dynio.engine.telemetry import operation_secrets, redact

if TYPE_CHECKING:
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider

__all__ = ["SpanCapture", "Telemetry", "capture_spans", "configure", "format_tree"]

_SIGNALS = ("traces", "metrics", "logs")
_LOCK = threading.Lock()
_CONFIGURED: Telemetry | None = None


def _sdk() -> None:
    try:
        import opentelemetry.sdk  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            "telemetry set-up needs the OpenTelemetry SDK", extra="otel"
        ) from exc


@dataclass
class Telemetry:
    """What :func:`configure` set up; flush and shut it down at the end of a run.

    Attributes:
        tracer_provider: The SDK tracer provider in use (``None`` when traces are off).
        meter_provider: The SDK meter provider in use (``None`` when metrics are off).
        logger_provider: The SDK logger provider for the ``dynio`` logger's records, if any.
        exporters: The exporter names per signal (``{"traces": ["otlp"], …}``).
    """

    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None
    logger_provider: LoggerProvider | None = None
    exporters: dict[str, list[str]] = field(default_factory=dict)
    _handler: logging.Handler | None = field(default=None, repr=False)
    _owned: list[Any] = field(default_factory=list, repr=False)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export everything pending now; ``False`` if some exporter did not finish in time."""
        ok = True
        for provider in (self.tracer_provider, self.meter_provider, self.logger_provider):
            if provider is not None:
                ok = bool(provider.force_flush(timeout_millis)) and ok
        return ok

    def shutdown(self) -> None:
        """Flush, then stop exporting (the SDK also does this when the process exits).

        Providers the application installed itself are flushed, not shut down.
        """
        global _CONFIGURED
        if self._handler is not None:
            logging.getLogger("dynio").removeHandler(self._handler)
            self._handler = None
        for provider in (self.tracer_provider, self.meter_provider, self.logger_provider):
            if provider is None:
                continue
            if any(provider is p for p in self._owned):
                provider.shutdown()
            else:
                provider.force_flush()
        self._owned.clear()
        with _LOCK:
            if _CONFIGURED is self:
                _CONFIGURED = None


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _exporter_names(signal: str, exporters: str | Sequence[str] | None) -> list[str]:
    if exporters is None:
        raw = _env(f"OTEL_{signal.upper()}_EXPORTER", "otlp")
    elif isinstance(exporters, str):
        raw = exporters
    else:
        raw = ",".join(exporters)
    names = [n.strip().lower() for n in raw.split(",") if n.strip()]
    unknown = [n for n in names if n not in ("otlp", "console", "none")]
    if unknown:
        raise ConfigError(
            f"unknown {signal} exporter(s) {unknown} (OTEL_{signal.upper()}_EXPORTER); dynio"
            " knows otlp, console and none"
        )
    return [n for n in names if n != "none"]


def _protocol(signal: str) -> str:
    value = _env(f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL") or _env(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    if value not in ("grpc", "http/protobuf"):
        raise ConfigError(
            f"OTLP protocol {value!r} is not supported (OTEL_EXPORTER_OTLP_PROTOCOL): use"
            " http/protobuf or grpc"
        )
    return value


def _otlp_exporter(signal: str) -> Any:
    """The OTLP exporter of a signal; it reads its endpoint, headers, timeout from ``OTEL_*``."""
    grpc = _protocol(signal) == "grpc"
    try:
        if signal == "traces":
            if grpc:
                from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                    OTLPSpanExporter as GrpcSpans,
                )

                return GrpcSpans()
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                OTLPSpanExporter as HttpSpans,
            )

            return HttpSpans()
        if signal == "metrics":
            if grpc:
                from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
                    OTLPMetricExporter as GrpcMetrics,
                )

                return GrpcMetrics()
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
                OTLPMetricExporter as HttpMetrics,
            )

            return HttpMetrics()
        if grpc:
            from opentelemetry.exporter.otlp.proto.grpc._log_exporter import (
                OTLPLogExporter as GrpcLogs,
            )

            return GrpcLogs()
        from opentelemetry.exporter.otlp.proto.http._log_exporter import (
            OTLPLogExporter as HttpLogs,
        )

        return HttpLogs()
    except ImportError as exc:
        raise MissingDependencyError(
            f"exporting {signal} over OTLP/{'gRPC' if grpc else 'HTTP'} needs {exc.name!r}",
            extra="otel",
        ) from exc


_SEVERITY = {
    logging.DEBUG: 5,
    logging.INFO: 9,
    logging.WARNING: 13,
    logging.ERROR: 17,
    logging.CRITICAL: 21,
}


class _LogBridge(logging.Handler):
    """Sends the ``dynio`` logger's records to OpenTelemetry, secrets redacted.

    The SDK's own ``LoggingHandler`` is deprecated; this is the few lines dynio needs.
    """

    def __init__(self, provider: LoggerProvider) -> None:
        super().__init__()
        from dynio import __version__

        self._logger = provider.get_logger("dynio", __version__)

    def emit(self, record: logging.LogRecord) -> None:
        from opentelemetry._logs import LogRecord, SeverityNumber

        try:
            body = redact(record.getMessage(), operation_secrets())
            level = max((lv for lv in _SEVERITY if lv <= record.levelno), default=logging.DEBUG)
            self._logger.emit(
                LogRecord(
                    timestamp=int(record.created * 1e9),
                    severity_text=record.levelname,
                    severity_number=SeverityNumber(_SEVERITY[level]),
                    body=body,
                    attributes={
                        "logger.name": record.name,
                        "code.function.name": record.funcName,
                        "code.line.number": record.lineno,
                    },
                )
            )
        except Exception:  # a handler must never break the code that logs
            self.handleError(record)


def configure(
    service_name: str | None = None,
    *,
    traces: bool = True,
    metrics: bool = True,
    logs: bool = True,
    exporters: str | Sequence[str] | None = None,
    resource_attributes: Mapping[str, Any] | None = None,
    console: IO[str] | None = None,
) -> Telemetry:
    """Set up the OpenTelemetry SDK for dynio from the standard ``OTEL_*`` variables.

    Installs a tracer provider, a meter provider and a bridge for the ``dynio`` logger's records,
    each exporting to what ``OTEL_TRACES_EXPORTER``, ``OTEL_METRICS_EXPORTER`` and
    ``OTEL_LOGS_EXPORTER`` name (``otlp`` by default, ``console``, ``none``). OTLP goes over
    HTTP (``http/protobuf``, the default) or gRPC (``OTEL_EXPORTER_OTLP_PROTOCOL=grpc``) to
    ``OTEL_EXPORTER_OTLP_ENDPOINT``; headers, timeouts, batch sizes, the metric export interval
    and the resource (``OTEL_RESOURCE_ATTRIBUTES``) come from their usual variables.
    ``OTEL_SDK_DISABLED=true`` turns it all off. Calling it again returns the first set-up;
    providers an application installed itself are kept (dynio's telemetry goes to them).

    Args:
        service_name: ``service.name`` unless ``OTEL_SERVICE_NAME`` or
            ``OTEL_RESOURCE_ATTRIBUTES`` set one.
        traces: Set up traces.
        metrics: Set up metrics.
        logs: Forward the ``dynio`` logger's records (warnings, metric lines when enabled).
        exporters: Exporter names for every signal, instead of the ``OTEL_*_EXPORTER`` variables.
        resource_attributes: More resource attributes (the environment's take precedence).
        console: Where ``console`` exporters write (default: standard error).

    Raises:
        MissingDependencyError: The SDK or an exporter is not installed (``dynio[otel]``).
        ConfigError: An unknown exporter name or OTLP protocol.
    """
    global _CONFIGURED
    _sdk()
    with _LOCK:
        if _CONFIGURED is not None:
            return _CONFIGURED
        if _env("OTEL_SDK_DISABLED").lower() == "true":
            _CONFIGURED = Telemetry()
            return _CONFIGURED
        _CONFIGURED = _build(
            service_name,
            {"traces": traces, "metrics": metrics, "logs": logs},
            exporters,
            resource_attributes or {},
            console or sys.stderr,
        )
        return _CONFIGURED


def _build(
    service_name: str | None,
    wanted: Mapping[str, bool],
    exporters: str | Sequence[str] | None,
    extra: Mapping[str, Any],
    console: IO[str],
) -> Telemetry:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    names = {s: _exporter_names(s, exporters) if wanted[s] else [] for s in _SIGNALS}
    resource = Resource.create(dict(extra))
    # the environment's service.name wins over the code's default
    if service_name and str(resource.attributes.get("service.name", "")).startswith(
        "unknown_service"
    ):
        resource = resource.merge(Resource({"service.name": service_name}))
    out = Telemetry(exporters=names)

    if wanted["traces"]:
        current = trace.get_tracer_provider()
        if isinstance(current, TracerProvider):
            out.tracer_provider = current
        else:
            from opentelemetry.sdk.trace.export import (
                BatchSpanProcessor,
                ConsoleSpanExporter,
                SimpleSpanProcessor,
            )

            provider = TracerProvider(resource=resource)
            for name in names["traces"]:
                if name == "console":
                    provider.add_span_processor(
                        SimpleSpanProcessor(ConsoleSpanExporter(out=console))
                    )
                else:
                    provider.add_span_processor(BatchSpanProcessor(_otlp_exporter("traces")))
            trace.set_tracer_provider(provider)
            out.tracer_provider = provider
            out._owned.append(provider)

    if wanted["metrics"]:
        current_meters = otel_metrics.get_meter_provider()
        if isinstance(current_meters, MeterProvider):
            out.meter_provider = current_meters
        else:
            from opentelemetry.sdk.metrics.export import (
                ConsoleMetricExporter,
                PeriodicExportingMetricReader,
            )

            readers = [
                PeriodicExportingMetricReader(
                    ConsoleMetricExporter(out=console)
                    if name == "console"
                    else _otlp_exporter("metrics")
                )
                for name in names["metrics"]
            ]
            meter_provider = MeterProvider(resource=resource, metric_readers=readers)
            otel_metrics.set_meter_provider(meter_provider)
            out.meter_provider = meter_provider
            out._owned.append(meter_provider)

    if wanted["logs"] and names["logs"]:
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import (
            BatchLogRecordProcessor,
            ConsoleLogRecordExporter,
            SimpleLogRecordProcessor,
        )

        log_provider = LoggerProvider(resource=resource)
        for name in names["logs"]:
            if name == "console":
                log_provider.add_log_record_processor(
                    SimpleLogRecordProcessor(ConsoleLogRecordExporter(out=console))
                )
            else:
                log_provider.add_log_record_processor(
                    BatchLogRecordProcessor(_otlp_exporter("logs"))
                )
        out.logger_provider = log_provider
        out._owned.append(log_provider)
        # only dynio's own logger: the application's logging set-up stays its own
        out._handler = _LogBridge(log_provider)
        logging.getLogger("dynio").addHandler(out._handler)
    return out


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
        ├─ plan  1.2 ms
        ├─ scan  6.0 ms  csv, 1,000 rows
        ├─ validate  2.1 ms  4 rules, passed
        ├─ metrics  0.4 ms  12 values
        └─ to_pandas  1.1 ms
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
