"""Data values out of telemetry: the per-catalog opt-in, and masking literals in filter and
query texts.

By default spans, events, metrics and exported log records carry counts, column names and rule
names; a catalog built with ``telemetry={"include_values": True}`` lets data values in (filter
literals, failed rules' samples, ``CountsPerLabel`` labels). Errors raised to the caller keep
their values either way.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["include_values", "mask_literals", "mask_sql", "values_included"]


_INCLUDE_VALUES: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "dynio_include_values", default=False
)


@contextmanager
def include_values(flag: bool) -> Iterator[None]:
    """Let data values (filter literals, rule samples, ``CountsPerLabel`` labels) into the
    telemetry of the operations run inside, or keep them out (the default)."""
    token = _INCLUDE_VALUES.set(flag)
    try:
        yield
    finally:
        _INCLUDE_VALUES.reset(token)


def values_included() -> bool:
    """Whether data values may go into spans, events, metrics and exported logs here."""
    return _INCLUDE_VALUES.get()


# a column reference stays, every literal goes: quoted text, Polars' "dyn int: 5", numbers
_LITERALS = re.compile(
    r"(?P<col>col\(\"(?:[^\"\\]|\\.)*\"\))|\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'"
    r"|dyn \w+: [^)\]\s]+|(?<![\w.])[-+]?\d[\w.:+-]*"
)


def mask_literals(text: str) -> str:
    """A Polars filter's text with its literal values replaced by ``?`` (columns stay)."""
    return _LITERALS.sub(lambda m: m["col"] or "?", text)


# SQL: '…' (and E'…', N'…') literals and numbers go; "identifiers" and $1 parameters stay
_SQL_LITERALS = re.compile(
    r"(?P<keep>\"(?:[^\"]|\"\")*\"|\$\d+)|(?:\b[EeNnXxBb])?'(?:[^']|'')*'"
    r"|(?<![\w$.])\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
)


def mask_sql(sql: str) -> str:
    """A SQL statement with its literals replaced by ``?`` (``db.query.text``)."""
    return _SQL_LITERALS.sub(lambda m: m["keep"] or "?", sql)
