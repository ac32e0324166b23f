"""What differs between the Polars versions dynio supports, in one place.

Polars 2.x names IO-plugin scans in ``explain()`` output (``explain_name``/``explain_detail``);
Polars 1.x has no such arguments, and its plans show the plugin as ``PYTHON SCAN``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import polars as pl
from polars.io.plugins import register_io_source

__all__ = ["io_source"]

_EXPLAIN_NAMES = "explain_name" in inspect.signature(register_io_source).parameters


def io_source(
    source: Callable[..., Iterator[pl.DataFrame]],
    *,
    schema: Any,
    validate_schema: bool = False,
    explain_name: str | None = None,
    explain_detail: str | None = None,
) -> pl.LazyFrame:
    """``polars.io.plugins.register_io_source``, with the plan's names where Polars takes them."""
    names: dict[str, Any] = (
        {"explain_name": explain_name, "explain_detail": explain_detail} if _EXPLAIN_NAMES else {}
    )
    return register_io_source(source, schema=schema, validate_schema=validate_schema, **names)
