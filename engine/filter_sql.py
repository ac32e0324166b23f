"""Filters as SQL: the part of a tuple-form filter a database computes exactly, per dialect.

:func:`compile_sql` turns the conditions it can translate faithfully into a ``WHERE`` clause
with placeholders (``$n``, or ``?`` for dialects that number none) and a list of values to bind.
Values are never formatted into the SQL text and identifiers are always quoted, so neither can
change the statement. A condition that cannot be translated exactly (types that compare
differently in SQL, a value that does not fit the column) is left out, which only widens the SQL
result: the planner applies the whole filter again after the scan, so the rows are right either
way, and :attr:`SqlWhere.pushed` says which conditions are in the clause.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from dynio.engine.casts import cast_expr

__all__ = [
    "ATHENA",
    "DUCKDB",
    "POSTGRES",
    "Dialect",
    "SqlWhere",
    "compile_sql",
    "finer_than_microseconds",
    "quote_ident",
]

_SQL_OPS = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_EQUALITY_OPS = frozenset({"==", "!=", "in", "not in"})
_Groups = Sequence[Sequence[tuple[str, str, Any]]]


def quote_ident(name: str) -> str:
    """A SQL identifier in double quotes, embedded quotes doubled (any text is safe inside).

    Raises:
        ValueError: The name is empty or holds a NUL character (no database accepts those).
    """
    if not name or "\x00" in name:
        raise ValueError(f"invalid SQL identifier {name!r}")
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Dialect:
    """How a database spells a filter.

    Attributes:
        name: The database (``postgresql``, ``duckdb``, ``athena``).
        text_collation: Appended to text range comparisons so SQL orders text as Polars does
            (byte order), e.g. ``' COLLATE "C"'`` on PostgreSQL.
        positional: Placeholders are ``?`` (bound in order) instead of ``$n``.
        column_sql: The SQL for a column reference.
    """

    name: str
    text_collation: str = ""
    positional: bool = False
    column_sql: Callable[[str], str] = quote_ident

    def placeholder(self, number: int) -> str:
        """The placeholder of the ``number``-th bound value (from 1)."""
        return "?" if self.positional else f"${number}"


POSTGRES = Dialect("postgresql", text_collation=' COLLATE "C"')
DUCKDB = Dialect("duckdb")
ATHENA = Dialect("athena", positional=True)


@dataclass(frozen=True)
class SqlWhere:
    """A ``WHERE`` clause (without the keyword; empty for none), its values to bind, and which
    conditions of the filter are in it.

    Attributes:
        where: The clause.
        params: The values its placeholders bind, in order.
        exact: The whole filter is in the clause.
        pushed: The conditions in the clause, group by group as the filter has them (empty
            when the clause is empty).
    """

    where: str = ""
    params: tuple[Any, ...] = ()
    exact: bool = True
    pushed: tuple[tuple[tuple[str, str, Any], ...], ...] = ()


def compile_sql(
    groups: _Groups | None,
    dialect: Dialect,
    source: Mapping[str, pl.DataType],
    targets: Mapping[str, pl.DataType],
    *,
    first_param: int = 1,
) -> SqlWhere:
    """Translate tuple-form filters into a ``WHERE`` clause of ``dialect``.

    Args:
        groups: OR of ANDs of ``(column, op, value)`` (see :func:`dynio.engine.filters.normalize`);
            ``None`` (a Polars expression) pushes nothing.
        dialect: The database's spelling.
        source: The source's column dtypes (what SQL compares).
        targets: The schema's dtypes (what the planner compares after its casts).
        first_param: The number of the first placeholder.
    """
    if groups is None:
        return SqlWhere(exact=False)
    if not groups:
        return SqlWhere()
    params: list[Any] = []
    exact = True
    texts: list[str] = []
    taken: list[tuple[tuple[str, str, Any], ...]] = []
    for group in groups:
        parts: list[str] = []
        kept: list[tuple[str, str, Any]] = []
        for column, op, value in group:
            text = _condition(column, op, value, source, targets, params, dialect, first_param)
            if text is None:
                exact = False
            else:
                parts.append(text)
                kept.append((column, op, value))
        if not parts:
            # a group with nothing pushed matches everything: so does the whole OR
            return SqlWhere("", (), False)
        texts.append(" AND ".join(parts))
        taken.append(tuple(kept))
    where = texts[0] if len(texts) == 1 else " OR ".join(f"({g})" for g in texts)
    return SqlWhere(where, tuple(params), exact, tuple(taken))


def _kind(dtype: pl.DataType) -> str:
    if dtype.is_numeric():
        return "numeric"
    if isinstance(dtype, pl.String | pl.Categorical | pl.Enum):
        return "text"
    if isinstance(dtype, pl.Boolean):
        return "bool"
    if isinstance(dtype, pl.Datetime):
        return "datetime_tz" if dtype.time_zone else "datetime"
    if isinstance(dtype, pl.Date):
        return "date"
    return "other"


def finer_than_microseconds(value: Any) -> bool:
    """Whether a filter value is a timestamp with digits finer than a microsecond (a pandas
    ``Timestamp``'s nanoseconds), which a Python ``datetime`` would drop."""
    return bool(getattr(value, "nanosecond", 0))


def _convert(value: Any, source: pl.DataType) -> tuple[bool, Any]:
    """The value as the source column holds it, or ``(False, None)`` when it does not fit."""
    kind = _kind(source)
    if value is None:
        return False, None
    if isinstance(value, str) and kind in ("numeric", "datetime", "datetime_tz", "date"):
        try:
            # the planner converts text literals the same way before comparing
            parsed = pl.select(cast_expr(pl.lit(value), pl.String(), source, strict=True))
            out = parsed.item()
        except (pl.exceptions.PolarsError, ValueError, OverflowError):
            return False, None
        if isinstance(source, pl.Datetime) and source.time_unit == "ns":
            # a Python datetime (the SQL parameter) stops at microseconds: a finer value is
            # compared after the read instead
            nanos = parsed.to_series().to_physical().item()
            if nanos is not None and nanos % 1000:
                return False, None
        return out is not None, out
    if kind == "numeric":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return (ok and not (isinstance(value, float) and math.isnan(value))), value
    if kind == "text":
        return isinstance(value, str), value
    if kind == "bool":
        return isinstance(value, bool), value
    if kind in ("datetime", "datetime_tz"):
        if isinstance(value, dt.datetime):
            if finer_than_microseconds(value):  # a parameter would cut it to µs
                return False, None
            aware = value.tzinfo is not None and value.utcoffset() is not None
            return aware == (kind == "datetime_tz"), value
        return False, None
    if kind == "date":
        ok = isinstance(value, dt.date) and not isinstance(value, dt.datetime)
        return ok, value
    return False, None


def _comparable(source: pl.DataType, target: pl.DataType | None, op: str) -> bool:
    """Whether SQL compares the source column the way the planner compares the cast column."""
    if target is None:
        return _kind(source) != "other"
    s, t = _kind(source), _kind(target)
    if s == "other" or s != t:
        return False
    if isinstance(target, pl.Categorical | pl.Enum):
        return op in _EQUALITY_OPS  # category order is not text order
    return True


def _condition(
    column: str,
    op: str,
    value: Any,
    source: Mapping[str, pl.DataType],
    targets: Mapping[str, pl.DataType],
    params: list[Any],
    dialect: Dialect,
    first_param: int,
) -> str | None:
    src = source.get(column)
    if src is None:
        return None
    col = dialect.column_sql(column)
    if op == "is null":
        return f"{col} IS NULL"
    if op == "is not null":
        return f"{col} IS NOT NULL"
    if not _comparable(src, targets.get(column), op):
        return None

    def bind(v: Any) -> str:
        params.append(v)
        return dialect.placeholder(first_param + len(params) - 1)

    if op in ("in", "not in"):
        if isinstance(value, str | bytes) or not isinstance(value, Iterable):
            return None
        converted = [_convert(v, src) for v in value]
        if not all(ok for ok, _ in converted):
            return None
        if not converted:
            # Polars: nothing is in an empty list, and a null is not "not in" it either
            return "FALSE" if op == "in" else f"{col} IS NOT NULL"
        holders = ", ".join(bind(v) for _, v in converted)
        return f"{col} {'IN' if op == 'in' else 'NOT IN'} ({holders})"
    sql_op = _SQL_OPS.get(op)
    if sql_op is None:
        return None
    ok, converted_value = _convert(value, src)
    if not ok:
        return None
    collate = dialect.text_collation if _kind(src) == "text" and op not in ("==", "!=") else ""
    return f"{col}{collate} {sql_op} {bind(converted_value)}"
