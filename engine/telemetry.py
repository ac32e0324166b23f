"""Tracing and metrics for every dynio operation, on ``opentelemetry-api`` only.

Library code never configures an SDK: with none configured, the API's no-op tracer and meter make
these calls nearly free. Applications (or the CLI) set one up with
:func:`dynio.telemetry.configure`.

What is here:

- :func:`operation` opens the span of one operation (``dynio.read``, ``dynio.scan``,
  ``dynio.write``) and records its duration; :func:`span` opens a stage under it (``plan``,
  ``scan``, ``cast``, ``validate``, ``metrics``, ``to_pandas``, ``sink``…). Errors are recorded on
  the span with status ERROR, secrets redacted.
- :data:`ATTR` names every ``dynio.*`` attribute (the README's table);
  :func:`db_attributes` and :func:`server_attributes` give the standard ``db.*``/``server.*``
  ones, and :func:`annotate` lets a source add them to the running operation.
- :func:`redact` and :func:`secrets_of` keep passwords, keys and tokens out of spans, metrics,
  logs and error messages.
- :func:`run_in_threads` and :class:`ContextThreadPoolExecutor` run work in threads under the
  caller's span (worker threads start with an empty context otherwise).
- :func:`record_read`, :func:`record_write` and :func:`record_quality` feed the counters,
  histogram and data-quality gauges.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import re
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, quote_plus, unquote, urlsplit

from opentelemetry import metrics, trace
from opentelemetry.trace import Span, Status, StatusCode

from dynio import __version__

if TYPE_CHECKING:
    from dynio.engine.quality import MetricValue, ValidationReport
    from dynio.engine.spec import SourceSpec

__all__ = [
    "ATTR",
    "REDACTED",
    "ContextThreadPoolExecutor",
    "add_event",
    "annotate",
    "bind_source",
    "db_attributes",
    "enabled",
    "file_bytes",
    "location_of",
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
    "secret_spellings",
    "secrets_in",
    "secrets_of",
    "server_attributes",
    "set_attributes",
    "set_operation_attributes",
    "span",
    "tracer",
    "validation_outcome",
]

T = TypeVar("T")
R = TypeVar("R")

tracer = trace.get_tracer("dynio", __version__)
meter = metrics.get_meter("dynio", __version__)

# The dynio.* attribute names by short name, in one place (the README's table lists them).
ATTR = {
    "operation": "dynio.operation",
    "resource": "dynio.resource",
    "env": "dynio.env",
    "kind": "dynio.source.kind",
    "format": "dynio.format",
    "location": "dynio.location",
    "files": "dynio.files.matched",
    "rows": "dynio.rows",
    "bytes": "dynio.bytes",
    "columns": "dynio.columns.projected",
    "filters_pushed": "dynio.filters.pushed",
    "filters_residual": "dynio.filters.residual",
    "casts": "dynio.casts",
    "validation": "dynio.validation.outcome",
    "failed_rules": "dynio.validation.failed_rules",
    "rules": "dynio.validation.rules_checked",
    "metric_values": "dynio.metrics.values",
    "dtype_backend": "dynio.handoff.dtype_backend",
    "input": "dynio.handoff.input",
    "column": "dynio.column",
    "metric": "dynio.metric",
    "label": "dynio.metric.label",
    "rule": "dynio.rule",
    "severity": "dynio.rule.severity",
    "failing": "dynio.rule.failing_count",
}

REDACTED = "***"

# ---------------------------------------------------------------------------------------------
# redaction

# Key names whose values are secrets, in options, storage options, query strings and messages.
_SECRET_KEY = re.compile(
    r"(?i)(passw(or)?d|pwd|secret|token|credential|private[_-]?key|account[_-]?key|api[_-]?key"
    r"|sas|signature|^sig$|^key$|^auth|authorization|service[_-]?account)"
)
# scheme://user:password@ (a password holding "/" or "@" must be percent-encoded in a URI)
_URI_PASSWORD = re.compile(r"(?P<pre>[A-Za-z][A-Za-z0-9+.\-]*://[^:/?#@\s]*):(?P<pw>[^@\s/]*)@")
_QUERY_PARAM = re.compile(r"(?P<pre>[?&;](?P<key>[^=&#\s]+)=)(?P<val>[^&#\s]*)")
# key=value, key: value, 'key': 'value' (DSNs, dict reprs, backend messages). The key starts
# at a word's start and its parts around the secret word are bounded: unbounded runs made the
# search cubic on a long word (a 10 kB cell quoted in an error took a minute to redact)
_KEY_VALUE = re.compile(
    r"(?i)(?P<pre>(?P<key>(?<![\w.-])[\w.-]{0,64}?(?:passw(?:or)?d|pwd|secret|token|credential"
    r"|private_key|account_key|api_key|sas_token)[\w.-]{0,64})['\"]?\s*[:=]\s*(?P<q>['\"]?))"
    r"(?P<val>[^'\"\s,;&})]+)"
)
_WHOLE_URI = re.compile(r"^\s*[A-Za-z][A-Za-z0-9+.\-]*://")
_MIN_SECRET = 4  # shorter literal values would redact ordinary words; URIs are handled by shape


def _is_secret_key(name: str) -> bool:
    return bool(_SECRET_KEY.search(name))


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with credentials replaced by ``***``.

    Removes passwords in URIs (``scheme://user:***@host``), secret query parameters
    (``?sig=***``), ``password=…``-style pairs, and every literal value in ``secrets``.
    """
    # the literal secrets first: a pattern may take only the start of one (a private key's
    # "-----BEGIN" up to its first space), after which the rest no longer matches as a whole
    out = replace_secrets(text, secrets)
    # each pattern needs one of these characters: most attribute values have none
    if "://" in out:
        out = _URI_PASSWORD.sub(rf"\g<pre>:{REDACTED}@", out)
    if "=" in out:
        out = _QUERY_PARAM.sub(
            lambda m: m["pre"] + REDACTED if _is_secret_key(m["key"]) else m[0], out
        )
    if "=" in out or ":" in out:
        out = _KEY_VALUE.sub(lambda m: m["pre"] + REDACTED, out)
    return out


def replace_secrets(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each literal value in ``secrets`` replaced by ``***`` (and nothing else:
    data that merely looks like a credential stays, unlike in :func:`redact`)."""
    if not isinstance(secrets, tuple):  # operation secrets come sorted already
        secrets = tuple(sorted(set(secrets), key=len, reverse=True))
    for secret in secrets:  # longest first, so no part of a longer secret stays visible
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def secret_spellings(value: str, *, encoded: bool = False) -> set[str]:
    """Every way a secret may be spelled in a message: as is, percent-encoded (``quote`` and
    ``quote_plus``), and escaped as in a ``repr`` or JSON text.

    The one place that knows the spellings: sources scrubbing their own messages use it (and
    :func:`redact`) rather than a list of their own. With ``encoded`` the value is taken from a
    URI (still percent-encoded), and the spellings of its decoded text are added too.
    """
    texts = {value, unquote(value)} if encoded else {value}
    out: set[str] = set()
    for text in texts:
        out.update(
            {
                text,
                quote(text, safe=""),
                quote_plus(text),
                repr(text)[1:-1],
                json.dumps(text)[1:-1],
            }
        )
    return out


def _uri_secrets(text: str, out: set[str]) -> None:
    if "://" not in text:
        return
    for match in _URI_PASSWORD.finditer(text):
        if match["pw"]:
            out.update(secret_spellings(match["pw"], encoded=True))
    if _WHOLE_URI.match(text):
        # a configured URI: its password as a driver reads it, a raw space or "@" included
        # (where the pattern above, made for URIs inside free text, stops)
        with contextlib.suppress(ValueError):
            password = urlsplit(text.strip()).password
            if password:
                out.update(secret_spellings(password, encoded=True))
    for match in _QUERY_PARAM.finditer(text):
        if _is_secret_key(match["key"]) and match["val"]:
            out.update(secret_spellings(match["val"], encoded=True))


def _collect(value: Any, secret: bool, out: set[str]) -> None:
    if isinstance(value, str):
        _uri_secrets(value, out)
        if secret and "://" not in value:
            out.update(secret_spellings(value))
            if value.lstrip().startswith("{"):  # a key file's JSON text: its secret fields too
                with contextlib.suppress(ValueError):
                    _collect(json.loads(value), False, out)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _collect(item, secret or _is_secret_key(str(key)), out)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _collect(item, secret, out)
    elif secret and value is not None and not isinstance(value, bool):
        out.add(str(value))


def secrets_of(source: SourceSpec) -> tuple[str, ...]:
    """The secret values a source spec holds, to keep out of spans, logs and messages.

    Secrets are: the kind's fields marked ``secret`` in the registry, values under secret-looking
    keys in the section and in ``options`` (``storage_options`` included: ``secret``,
    ``aws_secret_access_key``, ``token``, ``password``…), and passwords or secret query
    parameters inside any URI.
    """
    from dynio.engine.sources import kind_for  # the registry imports formats and polars

    kind = kind_for(source.kind)
    fields = kind.fields if kind is not None else {}
    out: set[str] = set()
    for name, value in source.settings.items():
        spec = fields.get(name)
        _collect(value, bool(spec is not None and spec.secret) or _is_secret_key(name), out)
    _collect(source.options, False, out)
    return tuple(sorted((s for s in out if len(s) >= _MIN_SECRET), key=len, reverse=True))


def secrets_in(value: Any, *, secret: bool = False) -> tuple[str, ...]:
    """The secret values inside ``value`` (text, a URI, a mapping or a sequence of them), in
    every spelling (see :func:`secret_spellings`), longest first as :func:`redact` wants them.

    What counts is what :func:`secrets_of` counts: values under secret-looking keys, the
    secret fields of a key file's JSON text, passwords and secret query parameters inside any
    URI; with ``secret`` every value in ``value`` too (a whole URI stays, only its secrets go).
    """
    out: set[str] = set()
    _collect(value, secret, out)
    return tuple(sorted((s for s in out if len(s) >= _MIN_SECRET), key=len, reverse=True))


def location_of(source: SourceSpec, secrets: tuple[str, ...] | None = None) -> str | None:
    """Where a source spec points, from its settings alone, redacted (before any planning).

    The source's own :attr:`Scan.location` replaces it once planned; this one names the location
    of operations that fail before (a refused connection, a missing dependency).
    """
    s = source.settings
    if isinstance(s.get("uri"), str):
        text = str(s["uri"])
    elif "bucket" in s:
        scheme = "gs" if source.kind.startswith("gcs") else "s3"
        path = s.get("file_path") or s.get("path_prefix") or s.get("dynamic_file_path") or ""
        text = f"{scheme}://{s['bucket']}/{str(path).lstrip('/')}"
    elif "db_host" in s or "db_name" in s:
        user = f"{s['db_user']}@" if s.get("db_user") else ""
        port = f":{s['db_port']}" if s.get("db_port") else ""
        text = f"{source.kind}://{user}{s.get('db_host', '')}{port}/{s.get('db_name', '')}"
    elif "kafka_server" in s:
        text = f"kafka://{s['kafka_server']}/{s.get('kafka_topic', '')}"
    else:
        keys = ("file_path", "path_prefix", "dynamic_file_path", "database", "s3_output")
        found = next((s[k] for k in keys if s.get(k)), None)
        if found is None:
            return None
        text = str(found)
        if source.base_dir and "://" not in text and not os.path.isabs(text):
            text = os.path.join(source.base_dir, text)
    return redact(text, secrets_of(source) if secrets is None else secrets)


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

    @property
    def secrets(self) -> tuple[str, ...]:
        if self._secrets is None:
            self._secrets = secrets_of(self.source) if self.source is not None else ()
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


def set_attributes(sp: Span, attrs: Mapping[str, Any]) -> None:
    """Set attributes by short name (see :data:`ATTR`) or full name, skipping ``None`` values.

    Text is redacted (see :func:`redact`) with the secrets of the running operation's source.
    """
    if not sp.is_recording():
        return
    secrets = operation_secrets()
    sp.set_attributes(
        {ATTR.get(k, k): _clean(v, secrets) for k, v in attrs.items() if v is not None}
    )


def _scrub(exc: BaseException, secrets: tuple[str, ...]) -> None:
    """Redact secrets from an exception and its causes, in place (the last line of defence)."""
    from dynio.engine.errors import DynioError

    def clean(value: Any) -> Any:
        return redact(value, secrets) if isinstance(value, str) else value

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DynioError):
            current.message = redact(current.message, secrets)
            current.file = clean(current.file)
            if current.values is not None:
                # offending values are rendered into the message again on every str()
                current.values = [_clean_value(v, secrets) for v in current.values]
            current.args = (redact(current._render(), secrets),)
        else:
            current.args = tuple(clean(a) for a in current.args)
        if isinstance(current, OSError):
            # str(OSError) is built from these, not from args; only text is replaced (setting
            # one that was unset, even to None, changes how the error prints)
            for name in ("strerror", "filename", "filename2"):
                value = getattr(current, name)
                if isinstance(value, str) and clean(value) != value:
                    setattr(current, name, clean(value))
        notes = getattr(current, "__notes__", None)
        if isinstance(notes, list):
            current.__notes__ = [clean(n) for n in notes]
        current = current.__cause__ or current.__context__


def _clean_value(value: Any, secrets: tuple[str, ...]) -> Any:
    """An offending value, or its redacted text when its ``repr`` would show a secret."""
    if isinstance(value, bool | int | float) or value is None:
        return value
    text = repr(value)
    cleaned = redact(text, secrets)
    if cleaned == text:
        return value
    return redact(value, secrets) if isinstance(value, str) else cleaned


def _record_error(sp: Span, exc: BaseException) -> None:
    secrets = operation_secrets()
    _scrub(exc, secrets)
    if not sp.is_recording():
        return
    message = redact(str(exc), secrets)
    sp.add_event(
        "exception",
        {
            "exception.type": type(exc).__qualname__,
            "exception.message": message,
            "exception.stacktrace": redact("".join(traceback.format_exception(exc)), secrets),
            "exception.escaped": True,
        },
    )
    sp.set_attribute("error.type", type(exc).__qualname__)
    sp.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {message}"))


@contextmanager
def span(name: str, **attrs: Any) -> Iterator[Span]:
    """A stage span named ``name``; an exception marks it ERROR and is recorded, then re-raised."""
    with tracer.start_as_current_span(
        name, record_exception=False, set_status_on_exception=False
    ) as sp:
        if attrs:
            set_attributes(sp, attrs)
        try:
            yield sp
        except BaseException as exc:
            _record_error(sp, exc)
            raise


@contextmanager
def operation(name: str, *, resource: str | None, env: str | None, **attrs: Any) -> Iterator[Span]:
    """The span of one operation (``dynio.read`` …), its duration and its error accounting.

    An operation of the same name and resource already running in this context is joined
    instead of nested: the facade opens ``dynio.read`` so that ``to_pandas`` falls under it, and
    the engine's own ``dynio.read`` then adds to that span.
    """
    current = _OPERATION.get()
    if current is not None and current.name == name and current.resource == resource:
        set_attributes(current.span, attrs)
        yield current.span
        return
    start = time.perf_counter()
    error: str | None = None
    with tracer.start_as_current_span(
        name, record_exception=False, set_status_on_exception=False
    ) as sp:
        op = _Operation(name, resource, sp)
        token = _OPERATION.set(op)
        try:
            set_attributes(sp, {"operation": name, "resource": resource, "env": env, **attrs})
            yield sp
        except BaseException as exc:
            error = type(exc).__qualname__
            _record_error(sp, exc)
            raise
        finally:
            _OPERATION.reset(token)
            measured = {
                ATTR["operation"]: name.removeprefix("dynio."),
                ATTR["resource"]: resource or "",
                ATTR["env"]: env or "",
            }
            if error is not None:
                measured["error.type"] = error
            _duration.record(time.perf_counter() - start, measured)


def bind_source(source: SourceSpec) -> None:
    """Tell the running operation which source it uses: its secrets are redacted from then on,
    and its kind, format and (redacted) location go on the operation's span."""
    op = _OPERATION.get()
    if op is None:
        return
    op.source = source
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
    """Add an event to the current stage span, or to the running operation's span when the
    stage has ended (work Polars does when a frame is collected after its stage), redacted."""
    current = trace.get_current_span()
    if not current.is_recording():
        op = _OPERATION.get()
        current = op.span if op is not None else current
    if current.is_recording():
        secrets = operation_secrets()
        current.add_event(name, {ATTR.get(k, k): _clean(v, secrets) for k, v in attrs.items()})


def annotate(attrs: Mapping[str, Any]) -> None:
    """Add attributes to the current stage span and to the running operation's span.

    For sources: ``annotate(db_attributes("postgresql", namespace="shop", host=h, port=p))``,
    or ``annotate({"bytes": n})`` when the bytes fetched are known (they feed
    ``dynio.bytes.read``). Short names of :data:`ATTR` or full attribute names.
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


def db_attributes(
    system: str,
    namespace: str | None = None,
    host: str | None = None,
    port: int | None = None,
    user: str | None = None,
    *,
    collection: str | None = None,
    operation: str | None = None,
) -> dict[str, Any]:
    """The standard OpenTelemetry database attributes (``None`` values left out).

    Args:
        system: ``db.system.name``: ``postgresql``, ``duckdb``, ``sqlite``…
        namespace: ``db.namespace``: the database (and schema) name.
        host: ``server.address``.
        port: ``server.port``.
        user: ``db.user`` (from the earlier conventions; never a password).
        collection: ``db.collection.name``: the table.
        operation: ``db.operation.name``: ``SELECT``, ``COPY``…
    """
    attrs = {
        "db.system.name": system,
        "db.namespace": namespace,
        "server.address": host,
        "server.port": int(port) if port is not None else None,
        "db.user": user,
        "db.collection.name": collection,
        "db.operation.name": operation,
    }
    return {k: v for k, v in attrs.items() if v is not None}


def server_attributes(url: str) -> dict[str, Any]:
    """``server.address``/``server.port`` of an endpoint URL (an object store's, a broker's)."""
    parts = urlsplit(url if "://" in url else f"//{url}")
    attrs: dict[str, Any] = {}
    if parts.hostname:
        attrs["server.address"] = parts.hostname
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None:
        attrs["server.port"] = port
    return attrs


# ---------------------------------------------------------------------------------------------
# context across threads


class ContextThreadPoolExecutor(ThreadPoolExecutor):
    """A thread pool whose tasks run in a copy of the submitter's context (so under its span).

    Worker threads otherwise start with an empty context, and spans opened there would begin
    new traces.
    """

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        """Schedule ``fn(*args, **kwargs)`` in a copy of the current context."""
        ctx = contextvars.copy_context()
        return super().submit(ctx.run, fn, *args, **kwargs)


def run_in_threads(
    fn: Callable[[T], R], items: Iterable[T], *, max_workers: int | None = None
) -> list[R]:
    """``[fn(item) for item in items]`` run in threads, each under the caller's span.

    Results keep the order of ``items``; the first exception is re-raised (after the others
    finished). For sources that fetch several files at once.
    """
    todo = list(items)
    if len(todo) <= 1:
        return [fn(item) for item in todo]
    workers = max_workers or min(len(todo), 4 * (os.cpu_count() or 1), 32)
    with ContextThreadPoolExecutor(max_workers=workers, thread_name_prefix="dynio") as pool:
        futures = [pool.submit(fn, item) for item in todo]
        return [f.result() for f in futures]


# ---------------------------------------------------------------------------------------------
# metrics

_rows_read = meter.create_counter(
    "dynio.rows.read", unit="{row}", description="Rows returned by dynio reads."
)
_rows_written = meter.create_counter(
    "dynio.rows.written", unit="{row}", description="Rows written by dynio writes."
)
_bytes_read = meter.create_counter(
    "dynio.bytes.read", unit="By", description="Bytes of the files (or responses) dynio read."
)
_bytes_written = meter.create_counter(
    "dynio.bytes.written", unit="By", description="Bytes dynio wrote."
)
# seconds, from a cached small read to a long extract
_DURATION_BUCKETS = (
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
)
_duration = meter.create_histogram(
    "dynio.operation.duration",
    unit="s",
    description="Duration of dynio operations (read, scan, write).",
    explicit_bucket_boundaries_advisory=list(_DURATION_BUCKETS),
)
_quality = meter.create_gauge(
    "dynio.quality.value",
    description="Data-quality metric values of a resource's schema (Mean, NullCount, Quantiles…).",
)
_rule_failures = meter.create_counter(
    "dynio.validation.failures",
    unit="{rule}",
    description="Data-quality rules that failed, by rule, column and severity.",
)


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


def _base(resource: str, env: str, kind: str | None) -> dict[str, Any]:
    attrs: dict[str, Any] = {ATTR["resource"]: resource, ATTR["env"]: env}
    if kind:
        attrs[ATTR["kind"]] = kind
    return attrs


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


def record_read(resource: str, env: str, kind: str | None, rows: int, nbytes: int | None) -> None:
    """Count a read's rows and bytes."""
    attrs = _base(resource, env, kind)
    _rows_read.add(rows, attrs)
    if nbytes is not None:
        _bytes_read.add(nbytes, attrs)


def record_write(resource: str, env: str, kind: str | None, rows: int, nbytes: int | None) -> None:
    """Count a write's rows and bytes."""
    attrs = _base(resource, env, kind)
    _rows_written.add(rows, attrs)
    if nbytes is not None:
        _bytes_written.add(nbytes, attrs)


def record_quality(
    resource: str,
    env: str,
    operation: str,
    report: ValidationReport | None,
    values: Sequence[MetricValue],
) -> None:
    """Data-quality metric values as gauges, failed rules as counts and span events."""
    for v in values:
        value = v.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue  # min/max of text or dates: not a number a gauge can carry
        attrs = {
            ATTR["resource"]: resource,
            ATTR["env"]: env,
            ATTR["column"]: v.column,
            ATTR["metric"]: v.metric,
        }
        if v.label is not None:
            attrs[ATTR["label"]] = str(v.label)
        _quality.set(value, attrs)
    if report is None or not report.failures:
        return
    current = trace.get_current_span()
    for f in report.failures:
        attrs = {
            ATTR["resource"]: resource,
            ATTR["env"]: env,
            ATTR["operation"]: operation,
            ATTR["rule"]: f.rule,
            ATTR["severity"]: f.severity,
        }
        if f.column is not None:
            attrs[ATTR["column"]] = f.column
        _rule_failures.add(1, attrs)
        if current.is_recording():
            # counts only: failing values may be personal data
            current.add_event("dynio.rule.failed", {**attrs, ATTR["failing"]: int(f.failing_count)})


def validation_outcome(report: ValidationReport) -> str:
    """``passed``, ``warned`` (only warn-severity rules failed) or ``failed``."""
    if not report.failures:
        return "passed"
    return "failed" if report.errors else "warned"
