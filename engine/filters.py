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

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from dynio.engine.casts import cast_expr
from dynio.engine.filter_sql import Dialect, SqlWhere, compile_sql, finer_than_microseconds

__all__ = [
    "COMPARISONS",
    "Condition",
    "Filter",
    "FilterLike",
    "Groups",
    "columns_of",
    "describe",
    "may_match",
    "normalize",
    "prune_groups",
    "range_columns",
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
        parsed = cast_expr(pl.lit(value), pl.String(), dtype, strict=True)
        try:
            if dtype.is_temporal():
                # its physical value (nanoseconds, days…), cast back: a Python datetime would
                # drop anything finer than a microsecond
                return pl.lit(pl.select(parsed.to_physical()).item()).cast(dtype)
            return pl.lit(pl.select(parsed).item(), dtype=dtype)
        except pl.exceptions.PolarsError as exc:
            raise ValueError(
                f"filter value {value!r} for column {column!r} is not a valid {dtype}"
            ) from exc
    if (
        finer_than_microseconds(value)  # a pandas Timestamp's nanoseconds
        and isinstance(dtype, pl.Datetime)
        and isinstance(value, datetime)
        and (value.tzinfo is None) == (dtype.time_zone is None)
    ):
        # Polars would take it as a Python datetime (microseconds): its nanoseconds since the
        # epoch (UTC for an aware one), as the column's type
        stamp: Any = value  # (pandas' Timestamp: ``value`` is its nanoseconds since the epoch)
        return pl.lit(int(stamp.value)).cast(pl.Datetime("ns", dtype.time_zone))
    return value


def _as_expr(value: Any) -> pl.Expr:
    return value if isinstance(value, pl.Expr) else pl.lit(value)


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
        # pandas Timestamps finer than a microsecond: all of them kept as nanoseconds
        fine = isinstance(dtype, pl.Datetime) and any(map(finer_than_microseconds, values))
        if fine or (texts and dtype is not None and (dtype.is_temporal() or dtype.is_numeric())):
            # one literal at a time: each may be spelled differently ("2024-01-02" and
            # "2024-01-03T00:00:00+00:00")
            exprs = [_as_expr(_literal(v, dtype, column)) for v in values]
            if isinstance(dtype, pl.Datetime) and fine:
                exprs = [e.cast(pl.Datetime("ns", dtype.time_zone)) for e in exprs]
            converted = pl.select(e.alias(f"v{i}") for i, e in enumerate(exprs))
            # kept in Polars: Python datetimes stop at µs
            return fn(col, pl.concat(converted.get_columns()).implode())
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
Groups = tuple[tuple[Condition, ...], ...]


def normalize(filters: FilterLike) -> Groups | None:
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


@dataclass(frozen=True, eq=False)
class Filter:
    """A row filter, parsed once per read, that compiles to every form a read needs.

    Attributes:
        expr: The filter as one Polars expression, literals in the schema's dtypes
            (:meth:`to_polars`).
        groups: The same filter as OR of ANDs of ``(column, op, value)`` with the caller's
            literals, when it was given in the tuple form (``None`` for a Polars expression):
            what SQL sources push into ``WHERE`` (:meth:`to_sql`) and what the partition
            pruner judges hive folders by (:meth:`prune`).
        dtypes: The column dtypes the literals were converted to.
    """

    expr: pl.Expr
    groups: Groups | None = None
    dtypes: Mapping[str, pl.DataType] = field(default_factory=dict, repr=False)

    @classmethod
    def parse(
        cls, filters: FilterLike | Filter, dtypes: Mapping[str, pl.DataType] | None = None
    ) -> Filter | None:
        """Parse any accepted filter form (``None`` for no filter).

        Raises:
            ValueError: The filter is malformed (unknown operator, wrong shape, a literal that
                is not of its column's dtype).
        """
        if isinstance(filters, Filter):
            return filters
        expr = to_expr(filters, dtypes)
        if expr is None:
            return None
        return cls(expr, normalize(filters), dict(dtypes or {}))

    def to_polars(self) -> pl.Expr:
        """The filter as one Polars expression."""
        return self.expr

    @property
    def columns(self) -> list[str]:
        """The columns the filter reads, in first-seen order."""
        return columns_of(self.expr)

    def describe(self) -> str:
        """A readable text of the filter (for span attributes and result records)."""
        return str(self.expr)

    def subset(self, groups: Groups) -> Filter:
        """The filter made of these groups of this filter's conditions."""
        expr = to_expr([list(g) for g in groups], self.dtypes)
        if expr is None:  # callers pass at least one condition
            raise ValueError("a filter subset needs at least one condition")
        return Filter(expr, groups, self.dtypes)

    def split(self, taken: Groups) -> tuple[Filter | None, Filter | None]:
        """What a source took of this filter and what is left for the engine to apply.

        Args:
            taken: The conditions the source applied, group by group (one group per group of
                this filter, each a subset of it; no group when it took nothing).

        Returns:
            ``(pushed, residual)``: ``pushed`` is ``None`` when nothing was taken, ``residual``
            ``None`` when all was. Of one AND group, the residual is the conditions left out;
            of an OR whose groups were only partly taken, it is the whole filter (an OR cannot
            be split into parts applied apart).
        """
        if self.groups is None or not taken or not any(taken):
            return None, self
        if tuple(taken) == self.groups:
            return self, None
        pushed = self.subset(tuple(taken))
        if len(self.groups) == 1:
            left = tuple(c for c in self.groups[0] if c not in taken[0])
            return pushed, self.subset((left,))
        return pushed, self

    def to_sql(
        self,
        dialect: Dialect,
        source: Mapping[str, pl.DataType],
        targets: Mapping[str, pl.DataType] | None = None,
        *,
        first_param: int = 1,
    ) -> SqlWhere:
        """The part of the filter SQL computes exactly, as a ``WHERE`` clause in ``dialect``.

        See :func:`dynio.engine.filter_sql.compile_sql`; a Polars expression gives an empty
        clause (nothing pushed).
        """
        targets = self.dtypes if targets is None else targets
        return compile_sql(self.groups, dialect, source, targets, first_param=first_param)

    def prune(
        self, partitions: Sequence[Mapping[str, str]], dtypes: Mapping[str, pl.DataType]
    ) -> list[bool]:
        """Which hive partitions (``{key: value}`` of their folders) the filter can match (see
        :func:`prune_groups`)."""
        return prune_groups(self.groups, partitions, dtypes)


def prune_groups(
    groups: Groups | None,
    partitions: Sequence[Mapping[str, str]],
    dtypes: Mapping[str, pl.DataType],
) -> list[bool]:
    """Which hive partitions (``{key: value}`` of their folders) a tuple-form filter can match.

    Conditions on other columns are ignored (they cannot exclude a partition); a partition is
    kept when any OR group of partition conditions holds for it, or when the filter has none or
    a value cannot be compared. Values convert to ``dtypes`` (else integers when they all are,
    as Polars reads hive values).
    """
    if groups is None or not partitions:
        return [True] * len(partitions)
    keys = sorted({k for p in partitions for k in p})
    kept = []
    for group in groups:
        conds = [c for c in group if c[0] in keys]
        if not conds:
            return [True] * len(partitions)  # this OR branch may match any partition
        kept.append(conds)
    frame = _partition_frame(partitions, keys, dtypes)
    if frame is None:
        return [True] * len(partitions)
    try:
        expr = to_expr(kept, dict(frame.schema))
        if expr is None:
            return [True] * len(partitions)
        keep: list[bool] = frame.select(expr.fill_null(True).alias("k"))["k"].to_list()
    except (ValueError, TypeError, pl.exceptions.PolarsError):
        return [True] * len(partitions)
    return keep


def _partition_frame(
    values: Sequence[Mapping[str, str]], keys: Sequence[str], dtypes: Mapping[str, pl.DataType]
) -> pl.DataFrame | None:
    """The partition values as a frame, each key in its dtype (``None``: one does not fit)."""
    frame = pl.DataFrame(
        {k: [v.get(k) for v in values] for k in keys}, schema=dict.fromkeys(keys, pl.String)
    )
    casts = []
    for key in keys:
        target = dtypes.get(key)
        if target is not None:
            casts.append(cast_expr(pl.col(key), pl.String(), target, strict=True).alias(key))
        else:
            # as Polars reads hive values: numbers when they all are
            as_int = frame[key].str.to_integer(strict=False)
            if as_int.null_count() == frame[key].null_count():
                casts.append(pl.col(key).str.to_integer(strict=False))
    if casts:
        try:
            frame = frame.with_columns(casts)
        except pl.exceptions.PolarsError:
            return None
    return frame


def range_columns(column: str) -> tuple[str, str, str, str]:
    """The columns of a statistics frame (see :func:`may_match`) for one data column: its
    smallest and largest value in a row group (null: not known), whether every row of the group
    is null there, and whether any may be."""
    return (f"{column}\0min", f"{column}\0max", f"{column}\0all_null", f"{column}\0any_null")


def _range_test(cond: Condition, dtypes: Mapping[str, pl.DataType]) -> pl.Expr | None:
    """False only where a row group's bounds show no row satisfies the condition; ``None``
    for an operator bounds do not decide (``!=``, ``in``, ``not in``)."""
    column, op, value = cond
    low, high, all_null, any_null = (pl.col(n) for n in range_columns(column))
    if op == "is null":
        return any_null
    if op == "is not null":
        return ~all_null
    if op not in COMPARISONS or op == "!=":
        return None
    # the literal as the filter has it, compared by Polars' rules (units of time included):
    # a comparison is monotonic in the column's value, so a group's bounds decide it
    lit = _literal(value, dtypes.get(column), column)
    if op in (">", ">="):
        test = COMPARISONS[op](high, lit).fill_null(True)
    elif op in ("<", "<="):
        test = COMPARISONS[op](low, lit).fill_null(True)
    else:
        test = (low <= lit).fill_null(True) & (high >= lit).fill_null(True)
    return test & ~all_null


def may_match(
    groups: Groups | None, columns: Collection[str], dtypes: Mapping[str, pl.DataType]
) -> pl.Expr | None:
    """An expression over a frame of row groups' statistics (:func:`range_columns` of each of
    ``columns``, in the data's types), false only for a group none of whose rows a tuple-form
    filter keeps; ``None`` when the statistics cannot exclude any group (no filter in the tuple
    form, or an OR branch with no condition on ``columns`` that bounds decide).

    Conditions on other columns are left out (they may hold for any group); the literals are
    converted to ``dtypes`` as :func:`to_expr` converts them.
    """
    if not groups:
        return None
    branches = []
    for group in groups:
        tests = [
            t for c in group if c[0] in columns for t in [_range_test(c, dtypes)] if t is not None
        ]
        if not tests:
            return None  # this branch may keep rows of any group
        branches.append(pl.all_horizontal(tests) if len(tests) > 1 else tests[0])
    return pl.any_horizontal(branches) if len(branches) > 1 else branches[0]
