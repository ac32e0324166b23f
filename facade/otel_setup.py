"""Setting up the OpenTelemetry SDK for dynio (:func:`dynio.telemetry.configure`).

Exporters come from the SDK's own entry points (``opentelemetry_traces_exporter``,
``opentelemetry_metrics_exporter``, ``opentelemetry_logs_exporter``), so every exporter
installed works by its name: ``otlp``, ``console``, ``prometheus``, ``zipkin_json``… A setting
that cannot be honoured (an unknown name, an exporter failing to start, an unknown OTLP
protocol) is logged as a warning on the ``dynio.telemetry`` logger and left out: telemetry never
fails a data job. Flushing and shutting down are bounded (2 s in all by default).
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from opentelemetry import metrics as otel_metrics
from opentelemetry import trace

from dynio.engine.telemetry import operation_secrets, redact, values_included

if TYPE_CHECKING:
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

__all__ = ["SHUTDOWN_TIMEOUT", "Telemetry", "build"]

logger = logging.getLogger("dynio.telemetry")

SIGNALS = ("traces", "metrics", "logs")
# seconds flush + shutdown may take in all; DYNIO_OTEL_SHUTDOWN_TIMEOUT or configure() change it
SHUTDOWN_TIMEOUT = 2.0
_PROTOCOLS = {"grpc": "otlp_proto_grpc", "http/protobuf": "otlp_proto_http"}


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _bounded(fn: Callable[[], Any], seconds: float) -> bool:
    """Run ``fn`` in a daemon thread and wait at most ``seconds`` for it (an exporter retrying
    against a dead endpoint is left behind, not waited for)."""
    done = threading.Event()

    def run() -> None:
        try:
            fn()
        except Exception as exc:  # an exporter's failure must not end the job
            logger.warning("telemetry: %s failed: %s", getattr(fn, "__name__", "export"), exc)
        finally:
            done.set()

    threading.Thread(target=run, name="dynio-otel-shutdown", daemon=True).start()
    return done.wait(max(seconds, 0.0))


@dataclass
class Telemetry:
    """What :func:`dynio.telemetry.configure` set up; flush and shut it down at the end of a run.

    Attributes:
        tracer_provider: The SDK tracer provider in use (``None`` when traces are off).
        meter_provider: The SDK meter provider in use (``None`` when metrics are off).
        logger_provider: The SDK logger provider the ``dynio`` logger's records go to, if any.
        exporters: The exporter names per signal (``{"traces": ["otlp"], …}``).
        shutdown_timeout: Seconds :meth:`shutdown` may take in all.
    """

    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None
    logger_provider: LoggerProvider | None = None
    exporters: dict[str, list[str]] = field(default_factory=dict)
    shutdown_timeout: float = SHUTDOWN_TIMEOUT
    _handler: logging.Handler | None = field(default=None, repr=False)
    _owned: list[Any] = field(default_factory=list, repr=False)
    _done: bool = field(default=False, repr=False)
    _on_done: Callable[[Telemetry], None] | None = field(default=None, repr=False)

    def _providers(self) -> list[Any]:
        found = (self.tracer_provider, self.meter_provider, self.logger_provider)
        return [p for p in found if p is not None]

    def force_flush(self, timeout_millis: int | None = None) -> bool:
        """Export everything pending now, within ``timeout_millis`` in all (default: the
        shutdown timeout); ``False`` if some exporter did not finish in time."""
        seconds = self.shutdown_timeout if timeout_millis is None else timeout_millis / 1000
        deadline = time.monotonic() + seconds
        ok = True
        for provider in self._providers():
            left = deadline - time.monotonic()
            flushed = _bounded(functools.partial(provider.force_flush, int(left * 1000)), left)
            ok = flushed and ok
        return ok

    def shutdown(self, timeout: float | None = None) -> None:
        """Flush, then stop exporting, within ``timeout`` seconds in all (default
        :attr:`shutdown_timeout`, 2 s). Called at exit too. Providers the application installed
        itself are flushed, not shut down."""
        if self._done:
            return
        self._done = True
        if self._handler is not None:
            logging.getLogger("dynio").removeHandler(self._handler)
            self._handler = None
        deadline = time.monotonic() + (self.shutdown_timeout if timeout is None else timeout)
        for provider in self._providers():
            owned = any(provider is p for p in self._owned)
            left = deadline - time.monotonic()
            if owned:
                finished = _bounded(provider.shutdown, left)
            else:
                finished = _bounded(functools.partial(provider.force_flush, int(left * 1000)), left)
            if not finished:
                logger.warning(
                    "telemetry: %s did not finish exporting in time; the rest is dropped",
                    type(provider).__name__,
                )
        self._owned.clear()
        if self._on_done is not None:
            self._on_done(self)


def _exporter_names(signal: str, exporters: str | Sequence[str] | None) -> list[str]:
    if exporters is None:
        raw = _env(f"OTEL_{signal.upper()}_EXPORTER", "otlp")
    elif isinstance(exporters, str):
        raw = exporters
    else:
        raw = ",".join(exporters)
    names = [n.strip().lower() for n in raw.split(",") if n.strip()]
    return [n for n in names if n != "none"]


def _entry_name(signal: str, name: str) -> str | None:
    """The entry-point name of an exporter name (``otlp`` follows the OTLP protocol setting;
    dynio's default protocol is ``http/protobuf``, as the OTLP specification says)."""
    if name != "otlp":
        return name
    protocol = _env(f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL") or _env(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    if protocol not in _PROTOCOLS:
        logger.warning(
            "telemetry: OTLP protocol %r is not supported (OTEL_EXPORTER_OTLP_PROTOCOL: grpc or"
            " http/protobuf); not exporting %s over OTLP",
            protocol,
            signal,
        )
        return None
    return _PROTOCOLS[protocol]


def _exporter(signal: str, name: str, console: IO[str], timeout: float) -> Any:
    """An exporter instance by its name, from the SDK's entry points; ``None`` (and a warning)
    when it cannot be had."""
    from opentelemetry.util._importlib_metadata import entry_points

    entry = _entry_name(signal, name)
    if entry is None:
        return None
    group = f"opentelemetry_{signal}_exporter"
    try:
        cls = next(iter(entry_points(group=group, name=entry))).load()
    except StopIteration:
        logger.warning(
            "telemetry: no %s exporter named %r is installed (OTEL_%s_EXPORTER); left out",
            signal,
            name,
            signal.upper(),
        )
        return None
    except Exception as exc:
        logger.warning("telemetry: the %s exporter %r cannot be loaded: %s", signal, name, exc)
        return None
    kwargs: dict[str, Any] = {}
    if name == "console":
        kwargs["out"] = console
    elif entry.startswith("otlp") and not (
        _env(f"OTEL_EXPORTER_OTLP_{signal.upper()}_TIMEOUT") or _env("OTEL_EXPORTER_OTLP_TIMEOUT")
    ):
        kwargs["timeout"] = timeout  # one export may not outlast the shutdown budget
    try:
        return cls(**kwargs)
    except Exception as exc:
        logger.warning("telemetry: the %s exporter %r failed to start: %s", signal, name, exc)
        return None


_SEVERITY = {
    logging.DEBUG: 5,
    logging.INFO: 9,
    logging.WARNING: 13,
    logging.ERROR: 17,
    logging.CRITICAL: 21,
}


class LogBridge(logging.Handler):
    """Sends the ``dynio`` logger's records to OpenTelemetry, secrets redacted; the JSON metric
    lines (``dynio.metrics``, which hold labels) only when the catalog includes values."""

    def __init__(self, provider: LoggerProvider) -> None:
        super().__init__()
        from dynio import __version__

        self._logger = provider.get_logger("dynio", __version__)

    def emit(self, record: logging.LogRecord) -> None:
        from opentelemetry._logs import LogRecord, SeverityNumber

        if record.name.startswith("dynio.metrics") and not values_included():
            return
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


def _exported_elsewhere() -> bool:
    """Whether an OpenTelemetry logging handler already receives the ``dynio`` logger's
    records (the application's own, on ``dynio`` or an ancestor it propagates to)."""
    current: logging.Logger | None = logging.getLogger("dynio")
    while current is not None:
        if any(type(h).__name__ in ("LoggingHandler", "LogBridge") for h in current.handlers):
            return True
        current = current.parent if current.propagate else None
    return False


def build(
    service_name: str | None,
    wanted: Mapping[str, bool],
    exporters: str | Sequence[str] | None,
    extra: Mapping[str, Any],
    console: IO[str],
    shutdown_timeout: float,
) -> Telemetry:
    """Providers for the wanted signals: an application's own are reused, others made."""
    from opentelemetry.sdk.resources import Resource

    names = {s: _exporter_names(s, exporters) if wanted[s] else [] for s in SIGNALS}
    resource = Resource.create(dict(extra))
    # the environment's service.name wins over the code's default
    if service_name and str(resource.attributes.get("service.name", "")).startswith(
        "unknown_service"
    ):
        resource = resource.merge(Resource({"service.name": service_name}))
    out = Telemetry(exporters=names, shutdown_timeout=shutdown_timeout)
    made = {s: [(n, _exporter(s, n, console, shutdown_timeout)) for n in names[s]] for s in SIGNALS}
    made = {s: [(n, e) for n, e in pairs if e is not None] for s, pairs in made.items()}
    out.exporters = {s: [n for n, _ in pairs] for s, pairs in made.items()}
    if wanted["traces"]:
        _traces(out, resource, made["traces"])
    if wanted["metrics"]:
        _metrics(out, resource, made["metrics"])
    if wanted["logs"]:
        _logs(out, resource, made["logs"])
    atexit.register(out.shutdown)
    return out


def _traces(out: Telemetry, resource: Any, exporters: list[tuple[str, Any]]) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        out.tracer_provider = current
        return
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    for name, exporter in exporters:
        simple = name == "console"
        provider.add_span_processor(
            SimpleSpanProcessor(exporter) if simple else BatchSpanProcessor(exporter)
        )
    trace.set_tracer_provider(provider)
    out.tracer_provider = provider
    out._owned.append(provider)


def _metrics(out: Telemetry, resource: Any, exporters: list[tuple[str, Any]]) -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader

    current = otel_metrics.get_meter_provider()
    if isinstance(current, MeterProvider):
        out.meter_provider = current
        return
    readers = [
        e if isinstance(e, MetricReader) else PeriodicExportingMetricReader(e)  # pull or push
        for _, e in exporters
    ]
    provider = MeterProvider(resource=resource, metric_readers=readers, shutdown_on_exit=False)
    otel_metrics.set_meter_provider(provider)
    out.meter_provider = provider
    out._owned.append(provider)


def _logs(out: Telemetry, resource: Any, exporters: list[tuple[str, Any]]) -> None:
    from opentelemetry import _logs
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, SimpleLogRecordProcessor

    current = _logs.get_logger_provider()
    if isinstance(current, LoggerProvider):
        provider = current  # the application's: dynio's records go there once
    elif exporters:
        provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
        for name, exporter in exporters:
            simple = name == "console"
            provider.add_log_record_processor(
                SimpleLogRecordProcessor(exporter) if simple else BatchLogRecordProcessor(exporter)
            )
        _logs.set_logger_provider(provider)
        out._owned.append(provider)
    else:
        return
    out.logger_provider = provider
    if not _exported_elsewhere():
        # only dynio's own logger: the application's logging set-up stays its own
        out._handler = LogBridge(provider)
        logging.getLogger("dynio").addHandler(out._handler)
