"""Retries of transient store failures: the policy, what counts as transient, the retrier.

Transient failures (connection refused or reset, timeouts, HTTP 5xx, 429 and S3's ``SlowDown``)
are retried with exponential backoff and jitter by :class:`Retrier`, as the storage option
``retries`` says (:class:`RetryPolicy`; 3 attempts by default), all within the operation's
deadline (:mod:`dynio.engine.deadlines`). dynio is the only layer that retries: botocore's and
s3fs's own retries and those of Polars' object store are turned off, so an attempt is counted
once and every retry is logged and reported on the span. Access denied, missing objects, bad
credentials and unreadable data are never retried.
"""

from __future__ import annotations

import contextvars
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from opentelemetry import trace

from dynio.engine import telemetry
from dynio.engine.deadlines import DEFAULT_TIMEOUTS, Deadline, DeadlineExceeded, Timeouts, within
from dynio.engine.errors import DynioError, first_line
from dynio.engine.telemetry import add_event, annotate, redact

__all__ = [
    "DEFAULT_RETRIES",
    "GaveUp",
    "Retrier",
    "RetryPolicy",
    "chain_of",
    "is_transient",
    "retry_policy",
    "status_of",
]

T = TypeVar("T")
logger = logging.getLogger("dynio")

NO_CREDENTIALS = ("NoCredentialsError", "DefaultCredentialsError", "PartialCredentialsError")


def chain_of(exc: BaseException) -> list[BaseException]:
    """``exc`` and its causes (or contexts), outermost first, each once."""
    out: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in out:
        out.append(current)
        current = current.__cause__ or current.__context__
    return out


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures of a store are retried.

    Attributes:
        attempts: Tries in all, the first included (``1``: no retry).
        backoff: The wait before the first retry, in seconds; it doubles at each retry.
        max_backoff: The longest wait between two tries, in seconds.

    The wait before retry ``n`` is drawn uniformly from ``[d/2, d]`` with
    ``d = min(max_backoff, backoff * 2**(n-1))`` (jitter keeps many readers from retrying in step).
    """

    attempts: int = 3
    backoff: float = 0.2
    max_backoff: float = 5.0

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first)."""
        ceiling = min(self.max_backoff, self.backoff * 2.0 ** (retry - 1))
        spread: float = (rng or random).uniform(0.0, ceiling / 2)
        return ceiling / 2 + spread


DEFAULT_RETRIES = RetryPolicy()
_RETRY_KEYS = ("attempts", "backoff", "max_backoff")


def retry_policy(raw: Any) -> RetryPolicy:
    """The policy a ``retries`` storage option gives (``None``: the default).

    Accepted forms: a whole number of attempts (``retries: 5``), or a mapping with any of
    ``attempts``, ``backoff`` and ``max_backoff`` (the others keep their defaults).

    Raises:
        ValueError: A value that is not one of those; the message names the key.
    """
    if raw is None:
        return DEFAULT_RETRIES
    if isinstance(raw, bool) or not isinstance(raw, int | Mapping):
        raise ValueError(
            "storage option 'retries' must be a number of attempts or a mapping of"
            f" {list(_RETRY_KEYS)}, got {type(raw).__name__}"
        )
    body = {"attempts": raw} if isinstance(raw, int) else dict(raw)
    unknown = sorted(str(k) for k in body if k not in _RETRY_KEYS)
    if unknown:
        raise ValueError(
            f"unknown key(s) {unknown} in storage option 'retries'; accepted: {list(_RETRY_KEYS)}"
        )
    attempts = body.get("attempts", DEFAULT_RETRIES.attempts)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 100:
        raise ValueError(
            f"storage option 'retries.attempts' must be a whole number from 1 to 100, got"
            f" {attempts!r}"
        )
    waits: dict[str, float] = {}
    for key in ("backoff", "max_backoff"):
        value = body.get(key, getattr(DEFAULT_RETRIES, key))
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 600:
            raise ValueError(
                f"storage option 'retries.{key}' must be a number of seconds from 0 to 600,"
                f" got {value!r}"
            )
        waits[key] = float(value)
    if waits["max_backoff"] < waits["backoff"]:
        raise ValueError(
            f"storage option 'retries.max_backoff' ({waits['max_backoff']:g}) is less than"
            f" 'retries.backoff' ({waits['backoff']:g})"
        )
    return RetryPolicy(attempts, waits["backoff"], waits["max_backoff"])


class GaveUp(OSError):
    """A transient failure that lasted through every attempt; the last failure is its cause."""

    def __init__(self, last: BaseException, attempts: int) -> None:
        super().__init__(f"{first_line(last)} (gave up after {attempts} attempts)")
        self.last = last
        self.attempts = attempts


# failures worth another try, by exception name, by HTTP status, by S3 error code and by text
_TRANSIENT_NAMES = frozenset(
    {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ConnectionClosedError",
        "ReadTimeoutError",
        "ProxyConnectionError",
        "ResponseStreamingError",
        "IncompleteReadError",
        "ClientConnectorError",
        "ClientOSError",
        "ServerDisconnectedError",
        "ServerTimeoutError",
        "ClientPayloadError",
        "FSTimeoutError",
        "RemoteDisconnected",
        "IncompleteRead",
    }
)
_TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequests",
        "RequestTimeout",
        "InternalError",
        "ServiceUnavailable",
        "503",
        "500",
        "502",
        "504",
    }
)
_TRANSIENT_TEXT = (
    "error sending request",
    "connection refused",
    "connection reset",
    "connection aborted",
    "connection closed",
    "broken pipe",
    "timed out",
    "timeout",
    "slowdown",
    "slow down",
    "reduce your request rate",
    "service unavailable",
    "internal server error",
    "bad gateway",
    "gateway timeout",
    "too many requests",
    "server disconnected",
    "unexpected eof",
    "incomplete",
    "tcp connect error",
    "error decoding response body",
    "body error",
    "end of file before message length",
)
_TRANSIENT_STATUS = re.compile(r"\b(429|500|502|503|504)\b")
_FINAL_TEXT = (
    "accessdenied",
    "access denied",
    "forbidden",
    "invalidaccesskeyid",
    "signaturedoesnotmatch",
    "nosuchbucket",
    "nosuchkey",
    "not found",
    "does not exist",
    "unable to locate credentials",
)


def status_of(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        meta = response.get("ResponseMetadata") or {}
        status = meta.get("HTTPStatusCode") if isinstance(meta, Mapping) else None
        return int(status) if isinstance(status, int) else None
    code = getattr(exc, "code", None)  # urllib's HTTPError
    if isinstance(code, int) and type(exc).__name__ == "HTTPError":
        return code
    return None


def _code_of(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        error = response.get("Error") or {}
        code = error.get("Code") if isinstance(error, Mapping) else None
        return str(code) if code is not None else None
    return None


def is_transient(exc: BaseException) -> bool:
    """Whether a store failure may go away when tried again.

    Transient: connection refused, reset or closed; timeouts; HTTP 5xx and 429; S3's
    ``SlowDown`` and other throttling codes. Never: access denied, a missing bucket or object,
    missing or refused credentials, data that does not parse, dynio's own errors, or a failure
    that already went through its retries (:class:`GaveUp`).
    """
    chain = chain_of(exc)
    if any(isinstance(e, DynioError | GaveUp) for e in chain):
        return False
    names = {type(e).__name__ for e in chain}
    if names.intersection(NO_CREDENTIALS):
        return False
    if any(isinstance(e, PermissionError | FileNotFoundError | IsADirectoryError) for e in chain):
        return False
    for e in chain:
        # the service's error code first: S3 answers RequestTimeout and throttling with a 4xx
        code = _code_of(e)
        if code is not None:
            return code in _TRANSIENT_CODES
        status = status_of(e)
        if status is not None:
            return status == 429 or status >= 500
    # a broken transfer is transient whatever its text says (aiohttp's ContentLengthError, a
    # ClientPayloadError, reads "400, message=..." for a server gone mid-body)
    lineage = {c.__name__ for e in chain for c in type(e).__mro__}
    if lineage.intersection(_TRANSIENT_NAMES):
        return True
    texts = " | ".join(first_line(e) for e in chain).lower()
    if any(t in texts for t in _FINAL_TEXT) or re.search(r"\b(400|401|403|404)\b", texts):
        return False
    if any(isinstance(e, ConnectionError | TimeoutError) for e in chain):
        return True
    return any(t in texts for t in _TRANSIENT_TEXT) or bool(_TRANSIENT_STATUS.search(texts))


class Retrier:
    """Runs store requests under a :class:`RetryPolicy`, reporting each retry.

    Every retry is a WARNING on the ``dynio`` logger (resource, environment, what was being
    done, the attempt, the failure and the wait), an event ``dynio.retry`` on the current span
    and the attribute ``dynio.retries`` (the retries of the operation so far) on the stage and
    operation spans. Calls from threads Polars runs (a scan collected later) report under the
    context the retrier was made in.
    """

    def __init__(
        self,
        policy: RetryPolicy,
        context: Mapping[str, Any],
        secrets: tuple[str, ...] = (),
        *,
        sleep: Callable[[float], None] = time.sleep,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        server: str = "the store",
    ) -> None:
        self.policy = policy
        self.timeouts = timeouts
        self.server = server
        self.context = dict(context)
        self.secrets = secrets
        self._sleep = sleep
        self._lock = threading.Lock()
        self._ctx = contextvars.copy_context()
        self.retries = 0

    def run(
        self, fn: Callable[[], T], what: str, *, action: str = "read", bounded: bool = True
    ) -> T:
        """``fn()``, tried again on transient failures, all within the ``deadline`` timeout.

        With ``bounded`` (the default) each attempt runs under :func:`~dynio.engine.deadlines.
        within`, so a client that ignores its own timeouts cannot hold the caller past the
        deadline; without it (a Polars collect, whose object store has its own request
        timeouts) only the retrying stops at the deadline.

        Raises:
            GaveUp: The failure was still there at the last attempt, or the deadline left no
                time for another (its cause is that failure).
            DeadlineExceeded: An attempt was still running at the deadline.
            Exception: A failure that is not transient, as ``fn`` raised it (on any attempt).
        """
        deadline = Deadline(self.timeouts.deadline)
        doing = f"{action} {what}"
        attempt = 1
        while True:
            try:
                if bounded:
                    return within(fn, deadline.remaining(), server=self.server, what=doing)
                return fn()
            except DeadlineExceeded as exc:
                # said with the whole deadline, not what was left of it for this attempt
                raise DeadlineExceeded(self.server, deadline.seconds, doing) from exc.__cause__
            except Exception as exc:
                if not is_transient(exc):
                    raise
                wait = self.policy.delay(attempt)
                out_of_time = wait >= deadline.remaining()
                if attempt >= self.policy.attempts or out_of_time:
                    if attempt == 1 and not out_of_time:
                        raise
                    raise GaveUp(exc, attempt) from exc
                self._report(exc, what, action, attempt, wait)
                self._sleep(wait)
                attempt += 1

    def _report(
        self, exc: BaseException, what: str, action: str, attempt: int, wait: float
    ) -> None:
        with self._lock:
            self.retries += 1
            total = self.retries
        shown = redact(what, self.secrets)
        reason = redact(first_line(exc), self.secrets)
        logger.warning(
            "%s %s (env %s): attempt %d of %d failed with a transient error (%s); retrying in"
            " %.2fs",
            action,
            shown,
            self.context.get("env"),
            attempt,
            self.policy.attempts,
            reason,
            wait,
            extra={"dynio_resource": self.context.get("resource")},
        )
        attrs: dict[str, str | int | float] = {
            "dynio.resource": str(self.context.get("resource") or ""),
            "dynio.retry.attempt": attempt,
            "dynio.retry.target": shown,
            "dynio.retry.action": action,
            "dynio.retry.wait_s": round(wait, 3),
            "error.type": telemetry.error_type(exc),
        }

        def report() -> None:
            add_event("dynio.retry", attrs)
            annotate({"dynio.retries": total})

        if trace.get_current_span().is_recording():
            report()
        else:  # a thread of Polars': report under the context the read was planned in
            self._ctx.copy().run(report)
