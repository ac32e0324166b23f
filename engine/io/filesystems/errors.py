"""Translation of store failures into dynio errors naming resource, location and endpoint."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dynio.engine.deadlines import DeadlineExceeded, is_timeout, parse_timeouts
from dynio.engine.errors import DynioError, ReadError, first_line
from dynio.engine.io.filesystems.backends import Location
from dynio.engine.io.filesystems.options import secret_values
from dynio.engine.io.filesystems.retries import NO_CREDENTIALS, GaveUp, chain_of, status_of
from dynio.engine.telemetry import redact

__all__ = ["endpoint_of", "error_for"]


_UNREACHABLE = (
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ClientConnectorError",
    "ServerDisconnectedError",
    "ConnectionClosedError",
    "ReadTimeoutError",
    "ProxyConnectionError",
)
_UNREACHABLE_TEXT = (
    "error sending request",
    "connection refused",
    "could not connect",
    "cannot connect",
    "dns error",
    "timed out",
    "failed to lookup address",
)


_NO_CREDENTIALS_TEXT = ("unable to locate credentials", "default credentials were not found")


def endpoint_of(location: Location, options: Mapping[str, Any]) -> str:
    """The server a location is reached at, as messages name it (no secret in it)."""
    if location.backend.name == "http":
        return f"{location.scheme}://{location.bucket}"
    endpoint = options.get("endpoint_url")
    return str(endpoint) if endpoint else f"the default {location.backend.label} endpoint"


def _failure_text(chain: list[BaseException], location: Location) -> str:
    """The chain's messages, lower-cased, with the location's own names taken out.

    A key such as ``reports/403/day.parquet`` is not an HTTP status: what the messages say about
    the failure is searched without the bucket and path they quote.
    """
    text = " | ".join(first_line(e) for e in chain)
    names = sorted({location.url, location.path, location.bucket} - {""}, key=len, reverse=True)
    for name in names:
        text = text.replace(name, " ")
    return text.lower()


def _waited(chain: list[BaseException], options: Mapping[str, Any]) -> str:
    """How long dynio waited for a server that did not answer, in words."""
    for e in chain:
        if isinstance(e, DeadlineExceeded):
            return f"within the {e.seconds:g}s deadline"
    limits = parse_timeouts(options.get("timeouts"))
    names = {c.__name__ for e in chain for c in type(e).__mro__}
    text = " ".join(first_line(e).lower() for e in chain)
    if "ConnectTimeoutError" in names or "connect" in text:
        return f"within the {limits.connect:g}s connect timeout"
    return f"within the {limits.read:g}s read timeout"


def _denied(chain: list[BaseException], statuses: set[int], texts: str) -> bool:
    return (
        any(isinstance(e, PermissionError) for e in chain)
        or 403 in statuses
        or re.search(r"\b403\b", texts) is not None
        or "accessdenied" in texts.replace(" ", "")
    )


def _missing_bucket(names: set[str], texts: str, bucket_exists: bool | None) -> bool:
    return (
        "nosuchbucket" in {n.lower() for n in names}
        or "bucket does not exist" in texts
        or bucket_exists is False
    )


def _missing_object(chain: list[BaseException], statuses: set[int], texts: str) -> bool:
    return (
        any(isinstance(e, FileNotFoundError) for e in chain)
        or 404 in statuses
        or re.search(r"\b404\b", texts) is not None
    )


def _unreachable(chain: list[BaseException], names: set[str], texts: str) -> bool:
    return (
        bool(names.intersection(_UNREACHABLE))
        or any(isinstance(e, ConnectionError | TimeoutError) for e in chain)
        or any(t in texts for t in _UNREACHABLE_TEXT)
    )


def _message(
    exc: BaseException,
    location: Location,
    options: Mapping[str, Any],
    action: str,
    bucket_exists: bool | None,
) -> str:
    """What a failure means, in a sentence naming the location (secrets not yet redacted)."""
    chain = chain_of(exc)
    names = {type(e).__name__ for e in chain}
    texts = _failure_text(chain, location)
    statuses = {s for s in map(status_of, chain) if s is not None}
    where = location.url
    label = location.backend.label
    if names.intersection(NO_CREDENTIALS) or any(t in texts for t in _NO_CREDENTIALS_TEXT):
        return (
            f"no credentials found to {action} {where} ({label}): give storage_options (or a"
            " catalog-level credentials entry) to this environment, or set up the default"
            " credential chain (environment variables, profile, instance role)"
        )
    if _denied(chain, statuses, texts):
        return (
            f"access denied to {where} ({label}): the credentials of this environment may not"
            f" {action} it ({first_line(exc)})"
        )
    if _missing_bucket(names, texts, bucket_exists):
        bucket_word = "container" if location.backend.name == "azure" else "bucket"
        endpoint = endpoint_of(location, options)
        return f"{bucket_word} {location.bucket!r} does not exist ({label}, {endpoint})"
    if _missing_object(chain, statuses, texts):
        return f"no object at {where} ({label}): it does not exist"
    if is_timeout(exc):
        return (
            f"the {label} endpoint {endpoint_of(location, options)} did not answer"
            f" {_waited(chain, options)} to {action} {where}"
        )
    if _unreachable(chain, names, texts):
        return (
            f"cannot reach the {label} endpoint {endpoint_of(location, options)} to {action}"
            f" {where} ({first_line(exc)})"
        )
    return f"cannot {action} {where} ({label}): {first_line(exc)}"


def error_for(
    exc: BaseException,
    location: Location,
    options: Mapping[str, Any],
    context: Mapping[str, Any],
    *,
    action: str = "read",
    error: type[DynioError] = ReadError,
    bucket_exists: bool | None = None,
) -> DynioError:
    """A dynio error for a backend failure, naming resource, location and endpoint, no secret.

    A :class:`~dynio.engine.io.filesystems.retries.GaveUp` failure is described by its last
    failure, and the message says how many attempts were made.

    Args:
        exc: The backend's exception.
        location: Where the operation went.
        options: The canonical storage options (their secrets are redacted from the message).
        context: ``resource``/``env`` for the error.
        action: What was being done (``read``, ``list``, ``write`` …).
        error: The error class to raise (:class:`ReadError` or :class:`WriteError`).
        bucket_exists: For a not-found failure, whether the bucket exists (when known); tells a
            missing bucket from a missing key.
    """
    secrets = secret_values(options)
    attempts = 0
    if isinstance(exc, GaveUp):
        attempts, exc = exc.attempts, exc.last
    message = _message(exc, location, options, action, bucket_exists)
    if attempts:
        message += f"; gave up after {attempts} attempt{'s' if attempts != 1 else ''}"
    clean = redact(message, secrets)
    return error(clean, file=redact(location.url, secrets), **context)
