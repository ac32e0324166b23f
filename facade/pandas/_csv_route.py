"""Which reader serves a ``dynio.pandas.read_csv`` call: the route, and the record of it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl
from opentelemetry import trace

from dynio.engine import telemetry
from dynio.pandas._common import _NO


@dataclass(frozen=True)
class ReadPath:
    """Which reader served a ``read_csv``/``read_table``/``read_parquet`` call (see
    :func:`last_read`).

    Attributes:
        function: ``"read_csv"``, ``"read_table"`` or ``"read_parquet"``.
        reader: ``"polars"`` (the fast path: Polars read the file, handed to pandas),
            ``"arrow"`` (``read_parquet``'s fast path through pyarrow's reader, the engine's
            arrow read path), ``"mixed"`` (the engine's mixed read path: text columns by
            pyarrow, the others by Polars, at once) or ``"pandas"`` (pandas' own reader, with
            pandas' own arguments).
        reason: Why pandas read it (an argument the fast path does not implement, a file
            shape it would read differently, or the route: pandas is expected to be faster);
            ``None`` when Polars did. Never holds values from the file.
    """

    function: str
    reader: Literal["polars", "arrow", "mixed", "pandas"]
    reason: str | None = None


Route = Literal["auto", "polars", "pandas"]
_ROUTES: tuple[Route, ...] = ("auto", "polars", "pandas")
_ROUTE: ContextVar[Route] = ContextVar("dynio_pandas_csv_route", default="auto")
_LAST: ContextVar[ReadPath | None] = ContextVar("dynio_pandas_csv_last", default=None)
# Under "auto", files smaller than this go straight to pandas: below it the fixed costs of a
# Polars read and hand-off outweigh what parallel parsing saves on 2 cores (benchmarks C1, R5p:
# 0.98 at 4 MB, 0.78 at 20 MB for timestamps with fractional seconds)
POLARS_MIN_BYTES = 8 << 20


def last_read() -> ReadPath | None:
    """The reader that served this thread's (or task's) last ``read_csv``/``read_table``/
    ``read_parquet`` call.

    ``None`` before the first call. The same is set on the caller's current OpenTelemetry span
    (attributes ``dynio.pandas.function``, ``dynio.pandas.reader``, ``dynio.pandas.reason``)
    and, when pandas reads the call, logged at DEBUG level on the ``dynio.pandas`` logger.
    """
    return _LAST.get()


@contextmanager
def csv_route(route: Route) -> Iterator[None]:
    """Choose how ``read_csv``/``read_table`` calls in this block are read.

    ``"auto"`` (the default): Polars reads a call only where it is expected to beat pandas'
    own C parser: a local file of at least :data:`POLARS_MIN_BYTES` with ``parse_dates`` (on a
    small file, or without date parsing, pandas' parser is as fast as Polars plus the
    hand-off, so pandas reads it directly, at no cost but a ``stat``). ``"polars"``: the fast
    path is tried for every call it can serve exactly (on machines with many cores, where
    Polars' parallel parse wins more, and in tests). ``"pandas"``: pandas reads every call.
    Whatever the route, the result is what pandas returns.
    """
    if route not in _ROUTES:
        raise ValueError(f"csv_route must be one of {_ROUTES}, got {route!r}")
    token = _ROUTE.set(route)
    try:
        yield
    finally:
        _ROUTE.reset(token)


def _auto_reason(source: Any, parse_dates: Any) -> str | None:
    """Why pandas should read a call under the ``auto`` route (``None``: try Polars)."""
    if parse_dates in (_NO, None, False) or (
        isinstance(parse_dates, list | tuple) and not parse_dates
    ):
        return "no parse_dates: pandas' own parser is as fast"
    if not isinstance(source, str | os.PathLike):
        return "not a file path"
    try:
        size = os.stat(source).st_size
    except (OSError, TypeError, ValueError):
        return "not a local file"
    if size < POLARS_MIN_BYTES:
        return f"a file under {POLARS_MIN_BYTES >> 20} MiB"
    return None


def _record(read: ReadPath) -> None:
    """Keep ``read`` for :func:`last_read` and set it on the caller's current span, if any
    (``dynio.pandas.reader``, ``dynio.pandas.reason``)."""
    _LAST.set(read)
    telemetry.set_attributes(
        trace.get_current_span(),
        {"dynio.pandas.function": read.function, "dynio.pandas.reader": read.reader,
         "dynio.pandas.reason": read.reason},
    )  # fmt: skip


def _why(exc: BaseException) -> str:
    """A fallback's reason, without the file's values that Polars' messages may quote."""
    if isinstance(exc, pl.exceptions.PolarsError | UnicodeDecodeError):
        return f"Polars could not read it exactly ({type(exc).__name__})"
    return str(exc)
