"""Timeouts and deadlines for every network call: nothing dynio does waits forever.

Each client dynio drives over a network gets three limits, from one :class:`Timeouts` value:

- ``connect``: seconds to open a connection (TCP and TLS, or a database's start-up exchange);
- ``read``: seconds a server may stay silent while dynio waits for its answer;
- ``deadline``: seconds one operation on a server may take in all (one object read, upload,
  listing or metadata call, or one database statement), retries and their waits included.

Defaults (:data:`DEFAULT_TIMEOUTS`): connect 10 s, read 30 s, deadline 600 s. Set them per
environment with the storage option (or database option) ``timeouts``:

.. code-block:: yaml

    options:
      storage_options:
        timeouts: {connect: 5, read: 20, deadline: 120}   # or `timeouts: 20` for read only

The client's own timeouts come first (they cancel the request cleanly); :func:`within` is the
backstop for a client that ignores them (s3fs uploads wait on a silent server forever whatever
botocore's ``read_timeout`` says): it runs the call on a helper thread and stops waiting when the
deadline passes, raising :class:`DeadlineExceeded`, which names the server and how long dynio
waited. Sources under construction (Kafka, Athena …) take the same option through
:func:`parse_timeouts` and run each blocking call through :func:`within` or bound their loops
with a :class:`Deadline`.
"""

from __future__ import annotations

import contextvars
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

T = TypeVar("T")

__all__ = [
    "DEFAULT_TIMEOUTS",
    "Deadline",
    "DeadlineExceeded",
    "Timeouts",
    "is_timeout",
    "parse_timeouts",
    "with_libpq_limits",
    "within",
]

_KEYS = ("connect", "read", "deadline")
_MAX_SECONDS = 86_400.0


@dataclass(frozen=True)
class Timeouts:
    """The limits of one client's network calls, in seconds (see the module docstring)."""

    connect: float = 10.0
    read: float = 30.0
    deadline: float = 600.0


DEFAULT_TIMEOUTS = Timeouts()


def parse_timeouts(raw: Any, *, option: str = "timeouts") -> Timeouts:
    """The limits a ``timeouts`` option gives (``None``: :data:`DEFAULT_TIMEOUTS`).

    Accepted forms: a number of seconds (the read timeout; the others keep their defaults), or a
    mapping with any of ``connect``, ``read`` and ``deadline``.

    Raises:
        ValueError: A value that is not one of those; the message names the key.
    """
    if raw is None:
        return DEFAULT_TIMEOUTS
    if isinstance(raw, bool) or not isinstance(raw, int | float | Mapping):
        raise ValueError(
            f"option {option!r} must be a number of seconds or a mapping of {list(_KEYS)},"
            f" got {type(raw).__name__}"
        )
    body = {"read": raw} if isinstance(raw, int | float) else dict(raw)
    unknown = sorted(str(k) for k in body if k not in _KEYS)
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} in option {option!r}; accepted: {list(_KEYS)}")
    values: dict[str, float] = {}
    for key in _KEYS:
        value = body.get(key, getattr(DEFAULT_TIMEOUTS, key))
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 < value <= _MAX_SECONDS
        ):
            raise ValueError(
                f"option '{option}.{key}' must be a number of seconds above 0 and at most"
                f" {_MAX_SECONDS:g}, got {value!r}"
            )
        values[key] = float(value)
    return Timeouts(**values)


class DeadlineExceeded(TimeoutError):
    """A network operation outlived its deadline.

    Attributes:
        server: The server that did not answer (an endpoint URL or ``host:port``).
        seconds: How long dynio waited, in seconds.
        what: What was being done (``read s3://bucket/key`` …).
    """

    def __init__(self, server: str, seconds: float, what: str) -> None:
        super().__init__(
            f"{server} did not answer within {seconds:g}s ({what}); the limit is the"
            " 'timeouts' option"
        )
        self.server = server
        self.seconds = seconds
        self.what = what


class Deadline:
    """A point in time an operation must finish by (monotonic clock)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left (``0.0`` once passed)."""
        return max(0.0, self._end - time.monotonic())

    def expired(self) -> bool:
        """Whether the deadline has passed."""
        return time.monotonic() >= self._end

    def check(self, server: str, what: str) -> None:
        """Raise :class:`DeadlineExceeded` when the deadline has passed."""
        if self.expired():
            raise DeadlineExceeded(server, self.seconds, what)


def within(fn: Callable[[], T], seconds: float, *, server: str, what: str) -> T:
    """``fn()``, or :class:`DeadlineExceeded` once ``seconds`` have passed without its answer.

    The call runs on a daemon thread under the caller's context (spans, context variables); its
    result or exception is handed back as if called directly. A call that outlives the deadline
    is abandoned: the thread ends when its client finally gives up (set the client's own
    timeouts too, so that it does).
    """
    box: dict[str, Any] = {}
    done = threading.Event()
    ctx = contextvars.copy_context()

    def run() -> None:
        try:
            box["value"] = ctx.run(fn)
        except BaseException as exc:  # handed to the caller as it was raised
            box["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=run, name="dynio-deadline", daemon=True)
    thread.start()
    if not done.wait(max(0.0, seconds)):
        raise DeadlineExceeded(server, seconds, what)
    if "error" in box:
        error: BaseException = box["error"]
        raise error
    value: T = box["value"]
    return value


_TIMEOUT_NAMES = frozenset(
    {"ReadTimeoutError", "ConnectTimeoutError", "ServerTimeoutError", "FSTimeoutError"}
)
_TIMEOUT_TEXT = ("timed out", "timeout", "deadline has elapsed", "operation timed out")


def is_timeout(exc: BaseException) -> bool:
    """Whether a failure (or one in its cause chain) is a server that did not answer in time."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    for e in seen:
        if isinstance(e, TimeoutError) or _TIMEOUT_NAMES.intersection(
            c.__name__ for c in type(e).__mro__
        ):
            return True
    text = " | ".join(str(e).splitlines()[0].lower() for e in seen if str(e).strip())
    return any(t in text for t in _TIMEOUT_TEXT)


def with_libpq_limits(uri: str, limits: Timeouts) -> str:
    """A ``postgresql://`` URI that carries the limits, for libpq (ADBC, psycopg) and
    connectorx alike: ``connect_timeout`` (whole seconds, at least 2 as libpq requires) for the
    connection and its start-up exchange, and ``statement_timeout`` (the deadline) for each
    statement. Parameters the URI already sets stand.

    The server option is spelled ``--statement_timeout=N``, the form without a space, which every
    connectorx we allow passes on intact: before 0.4.6 connectorx form-encoded the query string
    (a space became ``+``, sfu-db/connector-x#933), so ``-c statement_timeout=N`` reached the
    server as ``-c+statement_timeout=N`` and it refused the connection (``unrecognized
    configuration parameter "+statement_timeout"``)."""
    parts = urlsplit(uri)
    given = {k for k, _ in parse_qsl(parts.query, keep_blank_values=True)}
    extra: list[tuple[str, str]] = []
    if "connect_timeout" not in given:
        extra.append(("connect_timeout", str(max(2, math.ceil(limits.connect)))))
    if "options" not in given:
        extra.append(("options", f"--statement_timeout={round(limits.deadline * 1000)}"))
    if not extra:
        return uri
    # joined as text: urlunsplit would drop the empty host of postgresql:///db?host=/socket
    base, hash_, fragment = uri.partition("#")
    joiner = "&" if parts.query else ("" if base.endswith("?") else "?")
    return f"{base}{joiner}{urlencode(extra, quote_via=quote)}{hash_}{fragment}"
