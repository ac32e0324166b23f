"""Row filters: Polars expressions or the pyarrow/pandas ``filters`` convention.

Accepted forms::

    pl.col("fare") > 3                                   # a Polars expression
    [("fare", ">", 3), ("zone", "in", ["a", "b"])]       # AND of conditions
    [[("fare", ">", 3)], [("zone", "==", "a")]]          # OR of ANDs (disjunctive normal form)

Operators: ``=``/``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``in``, ``not in``, ``is null``,
``is not null``. Literal values are converted to the column's schema dtype (so a timestamp
column can be compared with ``"2024-01-01"``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import polars as pl

from dynio.engine.casts import cast_expr

__all__ = [
    "COMPARISONS",
    "Condition",
    "FilterLike",
    "columns_of",
    "describe",
    "normalize",
    "to_expr",
]

FilterLike = pl.Expr | Sequence[Any] | None

COMPARISONS: dict[str, Callable[[pl.Expr, Any], pl.Expr]] = {
    "=": lambda c, v: c == v,
    "==": lambda c, v: c == v,
    "!=": lambda c, v: c != v,
    "<": lambda c, v: c < v,
    "<=": lambda c, v: c <= v,
    ">": lambda c, v: c > v,
    ">=": lambda c, v: c >= v,
}
_OPS: dict[str, Callable[[pl.Expr, Any], pl.Expr]] = {
    **COMPARISONS,
    "in": lambda c, v: c.is_in(v),
    "not in": lambda c, v: ~c.is_in(v),
}
_UNARY: dict[str, Callable[[pl.Expr], pl.Expr]] = {
    "is null": lambda c: c.is_null(),
    "is not null": lambda c: c.is_not_null(),
}


def _literal(value: Any, dtype: pl.DataType | None, column: str = "") -> Any:
    """Bring a literal to the column's dtype, so strings compare with timestamps and dates.

    Raises:
        ValueError: The value cannot be of the column's dtype (named in the message).
    """
    if dtype is None or isinstance(value, pl.Expr):
        return value
    if isinstance(value, str) and (dtype.is_temporal() or dtype.is_numeric()):
        try:
            converted = pl.select(cast_expr(pl.lit(value), pl.String(), dtype, strict=True)).item()
        except pl.exceptions.PolarsError as exc:
            raise ValueError(
                f"filter value {value!r} for column {column!r} is not a valid {dtype}"
            ) from exc
        return pl.lit(converted, dtype=dtype)
    return value


def _condition(item: Any, dtypes: Mapping[str, pl.DataType]) -> pl.Expr:
    if isinstance(item, pl.Expr):
        return item
    if not isinstance(item, list | tuple) or len(item) not in (2, 3):
        raise ValueError(f"a filter condition is (column, op, value), got {item!r}")
    column, op = str(item[0]), str(item[1]).strip().lower()
    col = pl.col(column)
    if op in _UNARY:
        if len(item) != 2 and item[2] is not None:
            raise ValueError(f"operator {op!r} takes no value: {item!r}")
        return _UNARY[op](col)
    if len(item) != 3:
        raise ValueError(f"a filter condition is (column, op, value), got {item!r}")
    fn = _OPS.get(op)
    if fn is None:
        raise ValueError(f"unknown filter operator {item[1]!r}; known: {[*_OPS, *_UNARY]}")
    value = item[2]
    dtype = dtypes.get(column)
    if op in ("in", "not in"):
        if isinstance(value, str) or not isinstance(value, Sequence | set | frozenset):
            raise ValueError(f"operator {op!r} needs a list of values: {item!r}")
        values = list(value)
        texts = values and all(isinstance(v, str) for v in values)
        if texts and dtype is not None and (dtype.is_temporal() or dtype.is_numeric()):
            # one literal at a time: each may be spelled differently ("2024-01-02" and
            # "2024-01-03T00:00:00+00:00")
            exprs = [_literal(v, dtype, column).alias(f"v{i}") for i, v in enumerate(values)]
            converted = pl.select(exprs).row(0)
            return fn(col, pl.Series(list(converted), dtype=dtype).implode())
        try:
            series = pl.Series(values, dtype=dtype if values else None)
        except (TypeError, ValueError, pl.exceptions.PolarsError) as exc:
            raise ValueError(
                f"filter values {values!r} for column {column!r} are not all {dtype}"
            ) from exc
        return fn(col, series.implode())
    if value is None:
        raise ValueError(f"use 'is null' / 'is not null' to compare with null: {item!r}")
    return fn(col, _literal(value, dtype, column))


def _is_condition(item: Any) -> bool:
    return isinstance(item, pl.Expr) or (
        isinstance(item, list | tuple)
        and len(item) in (2, 3)
        and isinstance(item[0], str)
        and isinstance(item[1], str)
    )


def _check_group(group: Sequence[Any]) -> None:
    if not group:
        # an empty AND group would match every row (or none, by another reading): say so
        raise ValueError(
            "filters hold an empty group of conditions ([]): each group of the OR form needs at"
            " least one (column, op, value)"
        )


def to_expr(filters: FilterLike, dtypes: Mapping[str, pl.DataType] | None = None) -> pl.Expr | None:
    """Turn any accepted filter form into one Polars expression (``None`` for no filter).

    Args:
        filters: A Polars expression, a list of conditions (AND), or a list of lists (OR of ANDs).
        dtypes: Column dtypes, used to convert literal values.

    Raises:
        ValueError: The filter is malformed (unknown operator, wrong shape).
    """
    if filters is None:
        return None
    if isinstance(filters, pl.Expr):
        return filters
    dtypes = dtypes or {}
    if isinstance(filters, str) or not isinstance(filters, Sequence):
        raise ValueError(
            f"filters must be a Polars expression or a list of conditions, got {filters!r}"
        )
    items = list(filters)
    if not items:
        return None
    if all(_is_condition(i) for i in items):
        conds = [_condition(i, dtypes) for i in items]
        return pl.all_horizontal(conds) if len(conds) > 1 else conds[0]
    groups = []
    for group in items:
        if not isinstance(group, list | tuple) or not all(_is_condition(i) for i in group):
            raise ValueError(f"filters in DNF form are lists of (column, op, value): {group!r}")
        _check_group(group)
        conds = [_condition(i, dtypes) for i in group]
        groups.append(pl.all_horizontal(conds) if len(conds) > 1 else conds[0])
    return pl.any_horizontal(groups) if len(groups) > 1 else groups[0]


Condition = tuple[str, str, Any]


def normalize(filters: FilterLike) -> tuple[tuple[Condition, ...], ...] | None:
    """The tuple form as OR-of-ANDs: ``((cond, cond), (cond,))``; ``None`` for a Polars expression.

    Sources that build queries (SQL) push these conditions into their ``WHERE`` clause; values
    are the caller's literals (bind them as parameters, never format them into the text).
    Operators are lower-cased and ``=`` becomes ``==``.

    Raises:
        ValueError: The filter is malformed.
    """
    if filters is None or isinstance(filters, pl.Expr):
        return None
    items = list(filters)
    if not items:
        return None
    if any(isinstance(i, pl.Expr) for i in items):
        return None

    def cond(item: Any) -> Condition:
        op = str(item[1]).strip().lower()
        op = "==" if op == "=" else op
        if op not in _OPS and op not in _UNARY:
            raise ValueError(f"unknown filter operator {item[1]!r}")
        return (str(item[0]), op, item[2] if len(item) == 3 else None)

    if all(_is_condition(i) for i in items):
        return (tuple(cond(i) for i in items),)
    groups = []
    for group in items:
        if not isinstance(group, list | tuple) or not all(_is_condition(i) for i in group):
            raise ValueError(f"filters in DNF form are lists of (column, op, value): {group!r}")
        _check_group(group)
        if any(isinstance(i, pl.Expr) for i in group):
            return None
        groups.append(tuple(cond(i) for i in group))
    return tuple(groups)


def columns_of(expr: pl.Expr | None) -> list[str]:
    """The columns an expression reads."""
    return [] if expr is None else list(dict.fromkeys(expr.meta.root_names()))


def describe(expr: pl.Expr | None) -> str | None:
    """A readable text of a filter expression (for span attributes and result records)."""
    return None if expr is None else str(expr)
