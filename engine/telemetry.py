"""Tracing and metrics for every dynio operation, on ``opentelemetry-api`` only.

Library code never configures an SDK: with none configured, the API's no-op tracer and meter make
these calls nearly free. Applications (or the CLI) set one up with
:func:`dynio.telemetry.configure`. Every name emitted is in :mod:`dynio.engine.conventions`.

What is here:

- :func:`operation` opens the span of one operation (``dynio.read``, ``dynio.scan``,
  ``dynio.write``) and records its duration; :func:`span` opens a stage under it
  (``dynio.plan``, ``dynio.scan``, ``dynio.validate``…). An error sets status ERROR and
  ``error.type`` (fully qualified) on every span it ends, and is recorded as an ``exception``
  event once, on the operation's span, redacted and without data values.
- :func:`client_span` opens the CLIENT span of one call to a database, object store, broker or
  catalog, with the semantic conventions' attributes: **sources call it around each call**.
- :func:`annotate`, :func:`add_event` and :func:`set_attributes` add to the running spans,
  redacting secrets (:mod:`dynio.engine.secrets`) and, unless the catalog opted in with
  ``include_values``, keeping data values (filter literals, samples, labels) out.
- :func:`run_in_threads` and :class:`ContextThreadPoolExecutor` run work in threads under the
  caller's span.
- :func:`record_read`, :func:`record_write` and :func:`record_quality` feed the counters,
  histogram and data-quality gauges.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from dynio.engine.client_conventions import (
    client_attributes,
    default_server,
    server_attributes,
    server_of,
    span_name,
)
from dynio.engine.instruments import (
    VERSION,
    enabled,
    file_bytes,
    record_quality_metrics,
    record_read,
    record_write,
    validation_outcome,
)
from dynio.engine.instruments import (
    duration as _duration,
)
from dynio.engine.secrets import (
    REDACTED,
    location_of,
    redact,
    replace_secrets,
    scrub,
    secret_spellings,
    secrets_in,
    secrets_of,
)
from dynio.engine.telemetry_values import (
    include_values,
    mask_literals,
    mask_sql,
    values_included,
)
from dynio.engine.threads import ContextThreadPoolExecutor, run_in_threads

if TYPE_CHECKING:
    from dynio.engine.quality import MetricValue, ValidationReport
    from dynio.engine.sources import SourceKind
    from dynio.engine.spec import SourceSpec

__all__ = [
    "ATTR",
    "REDACTED",
    "ContextThreadPoolExecutor",
    "add_event",
    "annotate",
    "bind_source",
    "carrier",
    "client_span",
    "current_operation",
    "default_server",
    "enabled",
    "error_type",
    "file_bytes",
    "include_values",
    "location_of",
    "mask_literals",
    "mask_sql",
    "meter",
    "operation",
    "operation_secrets",
    "record_quality",
    "record_read",
    "record_write",
    "redact",
    "replace_secrets",
    "reported",
    "run_in_threads",
    "safe_message",
    "secret_spellings",
    "secrets_in",
    "secrets_of",
    "server_attributes",
    "set_attributes",
    "set_operation_attributes",
    "span",
    "tracer",
    "validation_outcome",
    "values_included",
]

T = TypeVar("T")
R = TypeVar("R")

tracer = trace.get_tracer("dynio", VERSION)
meter = metrics.get_meter("dynio", VERSION)  # the instruments: dynio.engine.instruments

# short names of the dynio.* attributes (the full table: dynio.engine.conventions.ATTRIBUTES)
ATTR = {
    "operation": "dynio.operation",
    "resource": "dynio.resource",
    "env": "dynio.env",
    "kind": "dynio.source.kind",
    "format": "dynio.format",
    "location": "dynio.location",
    "files": "dynio.files.matched",
    "files_pruned": "dynio.files.pruned",
    "rows": "dynio.rows",
    "bytes": "dynio.bytes",
    "columns": "dynio.columns.projected",
    "filters_pushed": "dynio.filters.pushed",
    "filters_residual": "dynio.filters.residual",
    "pushdown_projection": "dynio.pushdown.projection",
    "casts": "dynio.casts",
    "read_path": "dynio.read.path",
    "validation": "dynio.validation.outcome",
    "failed_rules": "dynio.validation.failed_rules",
    "rules": "dynio.validation.rules_checked",
    "metric_values": "dynio.metrics.values",
    "dtype_backend": "dynio.handoff.dtype_backend",
    "input": "dynio.handoff.input",
    "direction": "dynio.io.direction",
    "column": "dynio.column",
    "metric": "dynio.metric",
    "quantile": "dynio.metric.quantile",
    "label": "dynio.metric.label",
    "rule": "dynio.rule",
    "severity": "dynio.rule.severity",
    "failing": "dynio.rule.failing_count",
}
# attributes whose text holds data values (filter literals): masked unless values are included
_VALUE_ATTRS = frozenset({"dynio.filters.pushed", "dynio.filters.residual"})

# ---------------------------------------------------------------------------------------------
# spans


@dataclass
class _Operation:
    """The running operation: its span, the secrets to redact, what sources reported."""

    name: str
    resource: str | None
    span: Span
    source: SourceSpec | None = None
    reported: dict[str, Any] = field(default_factory=dict)
    _secrets: tuple[str, ...] | None = None
    kind: SourceKind | None = None

    @property
    def secrets(self) -> tuple[str, ...]:
        if self._secrets is None:
            self._secrets = secrets_of(self.source, self.kind) if self.source is not None else ()
        return self._secrets


_OPERATION: contextvars.ContextVar[_Operation | None] = contextvars.ContextVar(
    "dynio_operation", default=None
)


def operation_secrets() -> tuple[str, ...]:
    """The secrets of the running operation's source, longest first (empty outside one)."""
    op = _OPERATION.get()
    return op.secrets if op is not None else ()


def _clean(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, list | tuple):
        return [redact(str(v), secrets) for v in value]
    return redact(str(value), secrets)


def _attributes(attrs: Mapping[str, Any]) -> dict[str, Any]:
    secrets = operation_secrets()
    values = values_included()
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if value is None:
            continue
        name = ATTR.get(key, key)
        if name in _VALUE_ATTRS and not values:
            value = mask_literals(str(value))
        out[name] = _clean(value, secrets)
    return out


def set_attributes(sp: Span, attrs: Mapping[str, Any]) -> None:
    """Set attributes by short name (see :data:`ATTR`) or full name, skipping ``None`` values.

    Text is redacted with the secrets of the running operation's source; filter literals are
    masked unless values are included (:func:`include_values`).
    """
    if sp.is_recording():
        sp.set_attributes(_attributes(attrs))


def error_type(exc: BaseException) -> str:
    """``error.type`` of an exception: its fully qualified class name (``dynio.errors.ReadError``;
    built-ins by their name, ``ValueError``)."""
    cls = type(exc)
    module = cls.__module__
    if module == "builtins":
        return cls.__qualname__
    if module == "dynio.engine.errors":  # the public home of dynio's errors
        module = "dynio.errors"
    return f"{module}.{cls.__qualname__}"


def safe_message(exc: BaseException, secrets: tuple[str, ...] = ()) -> str:
    """An exception's message for telemetry: redacted and, unless values are included, without
    the data values dynio errors quote (rule samples, offending cast values)."""
    from dynio.engine.errors import CastError, DynioError, ValidationError

    if values_included() or not isinstance(exc, DynioError):
        return redact(str(exc), secrets)
    message = exc.message if isinstance(exc.message, str) else type(exc).__name__
    if isinstance(exc, ValidationError) and exc.report is not None:
        failures = getattr(exc.report, "failures", ())
        message = f"{len(failures)} rule(s) failed:" + "".join(
            f" {f.rule} on {f.column or 'the frame'}: {f.failing_count} failing [{f.severity}];"
            for f in failures
        )
    elif isinstance(exc, CastError):
        message = message.split("; column ", 1)[0]
    if exc.values:
        message += f"; {len(exc.values)} offending value(s) not shown"
    where = {"resource": exc.resource, "env": exc.env, "file": exc.file, "column": exc.column}
    context = ", ".join(f"{k} {v!r}" for k, v in where.items() if v is not None)
    return redact(f"{message} ({context})" if context else message, secrets)


_RECORDED = "__dynio_recorded__"


def _record_error(sp: Span, exc: BaseException, *, event: bool) -> None:
    secrets = operation_secrets()
    scrub(exc, secrets)
    if not sp.is_recording():
        return
    kind = error_type(exc)
    message = safe_message(exc, secrets)
    if event and not getattr(exc, _RECORDED, False):
        sp.add_event(
            "exception",
            {
                "exception.type": kind,
                "exception.message": message,
                "exception.stacktrace": redact(
                    "".join(traceback.format_exception(exc)).replace(str(exc), message), secrets
                ),
            },
        )
        with contextlib.suppress(AttributeError):  # an exception type with __slots__
            setattr(exc, _RECORDED, True)
    sp.set_attribute("error.type", kind)
    sp.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {message}"))


@contextmanager
def span(name: str, **attrs: Any) -> Iterator[Span]:
    """A stage span: ``plan`` becomes ``dynio.plan`` (a name with a dot is kept as given).

    An exception marks it ERROR (with ``error.type``) and is re-raised; its ``exception``
    event goes on the operation's span (on this one when no operation runs).
    """
    full = name if "." in name else f"dynio.{name}"
    with tracer.start_as_current_span(
        full, record_exception=False, set_status_on_exception=False
    ) as sp:
        if attrs:
            set_attributes(sp, attrs)
        try:
            yield sp
        except BaseException as exc:
            _record_error(sp, exc, event=_OPERATION.get() is None)
            raise


@contextmanager
def operation(name: str, *, resource: str | None, env: str | None, **attrs: Any) -> Iterator[Span]:
    """The span of one operation (``dynio.read`` …), its duration and its error accounting.

    ``dynio.operation`` is the name without its prefix (``read``, ``scan``, ``write``), on the
    span and on ``dynio.operation.duration`` alike. An operation of the same name and resource
    already running in this context is joined instead of nested: the facade opens
    ``dynio.read`` so that the hand-off falls under it, and the engine's own then adds to it.
    """
    current = _OPERATION.get()
    if current is not None and current.name == name and current.resource == resource:
        set_attributes(current.span, attrs)
        yield current.span
        return
    start = time.perf_counter()
    error: str | None = None
    verb = name.removeprefix("dynio.")
    with tracer.start_as_current_span(
        name, record_exception=False, set_status_on_exception=False
    ) as sp:
        op = _Operation(name, resource, sp)
        token = _OPERATION.set(op)
        try:
            set_attributes(sp, {"operation": verb, "resource": resource, "env": env, **attrs})
            yield sp
        except BaseException as exc:
            error = error_type(exc)
            _record_error(sp, exc, event=True)
            raise
        finally:
            _OPERATION.reset(token)
            measured = {
                ATTR["operation"]: verb,
                ATTR["resource"]: resource or "",
                ATTR["env"]: env or "",
            }
            if error is not None:
                measured["error.type"] = error
            _duration.record(time.perf_counter() - start, measured)


def current_operation(name: str, resource: str | None) -> Span | None:
    """The span of the operation of that name and resource running in this context, if any
    (the one :func:`operation` would join)."""
    current = _OPERATION.get()
    if current is not None and current.name == name and current.resource == resource:
        return current.span
    return None


def bind_source(source: SourceSpec, kind: SourceKind | None = None) -> None:
    """Tell the running operation which source it uses: its secrets are redacted from then on,
    and its kind, format and (redacted) location go on the operation's span. ``kind`` is the
    source's kind when the caller looked it up already."""
    op = _OPERATION.get()
    if op is None:
        return
    op.source = source
    op.kind = kind
    op._secrets = None
    if op.span.is_recording():
        set_attributes(
            op.span,
            {
                "kind": source.kind,
                "format": source.format,
                "location": location_of(source, op.secrets),
            },
        )


def add_event(name: str, attrs: Mapping[str, Any]) -> None:
    """Add an event to the current span, or to the running operation's span when the stage has
    ended (work Polars does when a frame is collected after its stage), redacted."""
    current = trace.get_current_span()
    if not current.is_recording():
        op = _OPERATION.get()
        current = op.span if op is not None else current
    if current.is_recording():
        current.add_event(name, _attributes(attrs))


def record_quality(
    resource: str,
    env: str,
    operation: str,
    report: ValidationReport | None,
    values: Sequence[MetricValue],
) -> None:
    """Data-quality metric values as gauges (one per kind), failed rules as counts and events
    (counts only: failing values may be personal data)."""
    for attrs in record_quality_metrics(resource, env, operation, report, values):
        add_event("dynio.rule.failed", attrs)


def annotate(attrs: Mapping[str, Any]) -> None:
    """Add attributes to the current span and to the running operation's span.

    For sources: ``annotate({"bytes": n})`` when the bytes fetched are known (they feed
    ``dynio.io.size``). Short names of :data:`ATTR` or full names. Standard ``db.*``,
    ``server.*`` attributes belong on the CLIENT span (:func:`client_span`), not here.
    """
    op = _OPERATION.get()
    current = trace.get_current_span()
    set_attributes(current, attrs)
    if op is not None:
        op.reported.update({ATTR.get(k, k): v for k, v in attrs.items() if v is not None})
        if op.span is not current:
            set_attributes(op.span, attrs)


def set_operation_attributes(attrs: Mapping[str, Any]) -> None:
    """Set attributes on the running operation's span (see :func:`set_attributes`)."""
    op = _OPERATION.get()
    if op is not None:
        set_attributes(op.span, attrs)


def reported(name: str) -> Any:
    """What a source reported through :func:`annotate` for the running operation, or ``None``."""
    op = _OPERATION.get()
    return op.reported.get(ATTR.get(name, name)) if op is not None else None


# ---------------------------------------------------------------------------------------------
# CLIENT spans: one per call to a database, object store, broker or catalog


@contextmanager
def client_span(
    kind: str,
    *,
    system: str,
    operation: str,
    target: str | None = None,
    namespace: str | None = None,
    server: str | None = None,
    port: int | None = None,
    region: str | None = None,
    query: str | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[Span]:
    """The CLIENT span of one call to a database, object store, broker or catalog.

    Sources wrap each call to the system they integrate with in it, so tracing backends draw
    the database or the store as a node of the service graph. Named and attributed as the
    OpenTelemetry semantic conventions say; errors set ``error.type`` and status ERROR (the
    ``exception`` event goes on the operation's span); secrets and literals never get in.

    ``kind`` picks the convention:

    - ``"db"`` (PostgreSQL, DuckDB, Athena, a SQL catalog): named ``"{operation} {target}"``
      (``SELECT shop.orders``); ``db.system.name`` = ``system``, ``db.operation.name`` =
      ``operation``, ``db.collection.name`` = ``target``, ``db.namespace`` = ``namespace``,
      ``db.query.text`` = ``query`` with its literals replaced by ``?``.
    - ``"storage"`` (object stores; table catalogs' metadata calls): named
      ``"{service}.{operation}"`` (``S3.GetObject``); ``rpc.system``/``rpc.service`` from
      ``system`` (``s3``, ``gcs``, ``azure``, or any other name), ``rpc.method`` =
      ``operation``, ``aws.s3.bucket`` = ``target`` for ``s3``.
    - ``"messaging"`` (Kafka): named ``"{operation} {target}"`` (``send trips``);
      ``messaging.system`` = ``system``, ``messaging.operation.name`` = ``operation``
      (``send``, ``poll``…), ``messaging.operation.type`` (``send`` or ``receive``),
      ``messaging.destination.name`` = ``target``.

    ``server.address``/``server.port`` are always set: from ``server``/``port`` (a URL or
    ``host:port`` is parsed), else the cloud service's default endpoint for ``system`` (and
    ``region``), e.g. ``s3.eu-west-1.amazonaws.com:443`` for S3 without ``endpoint_url``.

    Example (a source's read)::

        with client_span("db", system="postgresql", operation="SELECT", target="public.trips",
                         namespace="shop", server=host, port=5432, query=sql):
            table = cursor.fetch_arrow_table()
        with client_span("storage", system="s3", operation="GetObject", target=bucket,
                         server=endpoint_url, region=region):
            data = fs.cat_file(path)
        with client_span("messaging", system="kafka", operation="send", target=topic,
                         server=bootstrap_servers):
            producer.flush(timeout)

    ``attributes`` adds more (standard names only; see :mod:`dynio.engine.conventions`).
    """
    attrs = client_attributes(kind, system, operation, target, namespace, query)
    attrs.update(server_of(system, server, port, region))
    attrs.update(attributes or {})
    with tracer.start_as_current_span(
        span_name(kind, system, operation, target),
        kind=SpanKind.CLIENT,
        record_exception=False,
        set_status_on_exception=False,
    ) as sp:
        set_attributes(sp, attrs)
        try:
            yield sp
        except BaseException as exc:
            _record_error(sp, exc, event=_OPERATION.get() is None)
            raise


# ---------------------------------------------------------------------------------------------
# context across threads


def carrier() -> Callable[[Callable[[], R]], R]:
    """A runner that calls a function under the running operation, from any thread.

    Take one when planning; Polars later runs the planned reads in threads of its own, where
    no span is current: ``runner(fn)`` then runs ``fn`` in a copy of the planning context with
    the operation's span current, so the source's CLIENT spans join the operation's trace. In a
    thread with a recording span, ``fn`` just runs there.
    """
    ctx = contextvars.copy_context()
    op = _OPERATION.get()

    def run(fn: Callable[[], R]) -> R:
        if op is None or trace.get_current_span().is_recording():
            return fn()

        def inner() -> R:
            token = otel_context.attach(trace.set_span_in_context(op.span))
            try:
                return fn()
            finally:
                otel_context.detach(token)

        return ctx.copy().run(inner)

    return run
