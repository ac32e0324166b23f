"""Values must fit the column types of an existing SQL table, as they must fit a schema's.

A write into an existing table whose column types differ from the frame's sends values as text
and lets the database convert them, and databases convert some silently and lossily:
PostgreSQL stores ``2024-01-02 10:30`` in a ``date`` column as ``2024-01-02``, ``1.7`` in an
``integer`` column as ``2``, a zoned timestamp in a ``timestamp`` column without its zone. Before
such a write, :func:`check_table_types` runs the safe cast policy from the frame's types to the
table's and raises a :class:`~dynio.engine.errors.CastError` naming the column and a few
offending values. To write such values on purpose, declare the column with the table's type in
the schema (with ``cast: lossy`` to turn what does not fit into nulls).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from dynio.engine.casts import CastStep, diagnose, needs_cast
from dynio.engine.dtypes import DType
from dynio.engine.errors import CastError, DynioError, cut

__all__ = ["check_parameters", "check_table_types", "sql_dtype"]

# PostgreSQL's ``format_type`` spellings of the types whose conversions can lose values
_SQL_TYPES: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "smallint": pl.Int16(),
    "integer": pl.Int32(),
    "bigint": pl.Int64(),
    "real": pl.Float32(),
    "double precision": pl.Float64(),
    "boolean": pl.Boolean(),
    "timestamp without time zone": pl.Datetime("us"),
    "timestamp with time zone": pl.Datetime("us", "UTC"),
    "time without time zone": pl.Time(),
}


def sql_dtype(type_name: str) -> pl.DataType | None:
    """The Polars type holding exactly what a SQL column type holds, if dynio knows one."""
    base = re.sub(r"\(\d+\)", "", type_name.strip().lower())  # timestamp(3) -> timestamp
    return _SQL_TYPES.get(base.replace("  ", " "))


def check_table_types(
    frame: pl.DataFrame, table: Mapping[str, str] | None, context: Mapping[str, Any]
) -> None:
    """Refuse values the existing table's column types would change (see the module notes).

    Args:
        frame: The rows about to be written.
        table: Column name -> the table's type name (``format_type``); ``None`` for a table
            that does not exist yet (or is replaced), which takes the frame's own types.
        context: ``resource``/``env``/``file`` for the error.

    Raises:
        CastError: A value does not fit its column's type in the table.
    """
    if not table:
        return
    steps = []
    for column, source in frame.schema.items():
        target = sql_dtype(table.get(column, ""))
        if target is not None and needs_cast(source, target):
            steps.append(CastStep(column, source, DType(table[column], target)))
    failures = diagnose(frame.lazy(), steps) if steps else []
    if not failures:
        return
    first = failures[0]
    what = f"{first.count} value(s)" if first.count >= 0 else f"values ({first.reason})"
    raise CastError(
        f"{what} of column {first.step.column!r} ({first.step.source}) do not fit the table's"
        f" column type {first.step.target}, which would change them; declare the column as"
        f" that type in the schema (with 'cast: lossy' to turn such values into nulls)",
        target=str(first.step.target),
        column=first.step.column,
        values=first.sample,
        **context,
    )


_INT64 = (-(2**63), 2**63 - 1)


def check_parameters(
    filters: Sequence[Sequence[tuple[str, str, Any]]] | None,
    params: Sequence[Any],
    context: Mapping[str, Any],
) -> None:
    """Refuse filter values a SQL parameter cannot carry (integers beyond 64 bits).

    The database drivers bind Python integers as 64-bit ones and fail with a bare
    ``OverflowError``; this names the filter instead.

    Raises:
        DynioError: A bound value is an integer outside the 64-bit range.
    """
    for param in params:
        big = isinstance(param, int) and not isinstance(param, bool)
        if big and not _INT64[0] <= param <= _INT64[1]:
            raise DynioError(
                f"invalid filters: {_condition_of(filters, param)} compares with"
                f" {cut(str(param), 60)}, beyond the 64-bit integers a SQL parameter carries",
                **context,
            )


def _condition_of(filters: Sequence[Sequence[tuple[str, str, Any]]] | None, value: int) -> str:
    for group in filters or ():
        for column, op, given in group:
            values = given if isinstance(given, list | tuple | set | frozenset) else [given]
            if any(v == value and not isinstance(v, bool) for v in values):
                return f"the filter ({column!r}, {op!r}, …)"
    return "a filter"
