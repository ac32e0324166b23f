"""Tracing for every dynio operation, on ``opentelemetry-api`` only.

Library code never configures an SDK: with none installed or configured, the API's no-op tracer
makes these spans nearly free. Applications (or the CLI) set one up with
:func:`dynio.telemetry.configure`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode

__all__ = ["ATTR", "set_attributes", "span", "tracer"]

tracer = trace.get_tracer("dynio")

# The dynio.* attribute names, in one place (documented in the README).
ATTR = {
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
    "path": "dynio.handoff.path",
}


def _clean(value: Any) -> Any:
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return str(value)


def set_attributes(sp: Span, attrs: Mapping[str, Any]) -> None:
    """Set ``dynio.*`` attributes by short name (see :data:`ATTR`), skipping ``None`` values."""
    if not sp.is_recording():
        return
    for key, value in attrs.items():
        if value is not None:
            sp.set_attribute(ATTR.get(key, key), _clean(value))


@contextmanager
def span(name: str, **attrs: Any) -> Iterator[Span]:
    """A span named ``name``; an exception marks it ERROR and is recorded, then re-raised."""
    with tracer.start_as_current_span(
        name, record_exception=False, set_status_on_exception=False
    ) as sp:
        set_attributes(sp, attrs)
        try:
            yield sp
        except BaseException as exc:
            if sp.is_recording():
                sp.record_exception(exc)
                sp.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            raise
