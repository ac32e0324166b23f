"""dynamicio's validators, evaluated by dynio's rule table.

Every validator keeps dynamicio's signature and result::

    result = is_greater_than("FOO", df, "column_c", threshold=1000)
    result.valid, result.message, result.value

The verdict comes from dynio's rule table (:mod:`dynio.engine.rules`, the same code a read or a
write runs), so a schema behaves the same whichever way it is checked; this module only renders
dynamicio's messages and values. ``df`` may be pandas, Polars or Arrow.

``is_in``'s ``match_all`` keeps dynamicio's documented meaning here: true (the default) asks
for a subset of the categories, false for exactly the categories (which crashed in dynamicio
when the list came from YAML). dynio's own catalogs read ``match_all: true`` the other way
round (exactly the categories); :func:`dynamicio_semantics` translates a schema between the two.

Deliberate differences from dynamicio: NaN counts as a missing value everywhere (as pandas'
``isnull``); ``is_in`` ignores nulls when counting unacceptable cells.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

import polars as pl

from dynio.compat.dynamicio.errors import ColumnsDataTypeError
from dynio.engine.api import evaluate
from dynio.engine.dtypes import DType
from dynio.engine.quality import RuleFailure
from dynio.engine.rules import RULES, option_error
from dynio.engine.spec import ColumnSpec, RuleSpec, SchemaSpec, freeze
from dynio.handoff import from_any

__all__ = [
    "ALL_VALIDATORS",
    "ValidationResult",
    "dynamicio_semantics",
    "has_acceptable_percentage_of_nulls",
    "has_no_null_values",
    "has_unique_values",
    "is_between",
    "is_greater_than",
    "is_greater_than_or_equal",
    "is_in",
    "is_lower_than",
    "is_lower_than_or_equal",
    "render",
]


class ValidationResult(NamedTuple):
    """The outcome of one validation: whether it held, a message and a value."""

    valid: bool
    message: str
    value: float


def _frame(df: Any, column: str, dataset: str) -> pl.DataFrame:
    if isinstance(df, pl.LazyFrame):
        df = df.collect()
    names = df.columns if hasattr(df, "columns") else []
    if column not in list(names):
        raise ColumnsDataTypeError(
            f"column {column!r} is not in the data; it has {list(names)}",
            resource=dataset,
            column=column,
        )
    if isinstance(df, pl.DataFrame):
        return df.select(column)
    return from_any(df[[column]], resource=dataset)


def _column(frame: pl.DataFrame, column: str) -> pl.Series:
    series = frame.get_column(column)
    # NaN is a missing value, as pandas' isnull() says (and dynio's rules agree)
    return series.fill_nan(None) if series.dtype.is_float() else series


def _check(
    name: str, dataset: str, frame: pl.DataFrame, column: str, options: Mapping[str, Any]
) -> RuleFailure | None:
    """Run one rule of dynio's table on a column; the failure, or ``None`` when it held."""
    problem = option_error(RULES[name], options)
    if problem is not None:
        raise ValueError(problem)
    dtype = frame.schema[column]
    schema = SchemaSpec(
        name=dataset,
        columns=(
            ColumnSpec(
                column,
                DType(str(dtype), dtype),
                rules=(RuleSpec(name, column, True, freeze(dict(options))),),
            ),
        ),
    )
    report, _ = evaluate(frame, schema, resource=dataset, metrics=False)
    return report.failures[0] if report.failures else None


def _set_text(values: Iterable[Any]) -> str:
    items = sorted(set(values), key=lambda v: (str(type(v)), str(v)))
    return "{" + ", ".join(repr(v) for v in items) + "}" if items else "set()"


def _text_values(values: Iterable[Any]) -> list[Any]:
    return [v.item() if hasattr(v, "item") else v for v in values]


def _unacceptable(series: pl.Series, categories: Iterable[Any]) -> pl.Series:
    """The distinct non-null values not among the categories (compared as the rule does)."""
    cats = list(categories)
    values = series.drop_nulls()
    if isinstance(values.dtype, pl.String | pl.Categorical | pl.Enum | pl.Null):
        text = values.cast(pl.String)
        accepted = pl.Series([None if c is None else str(c) for c in cats], dtype=pl.String)
        return text.filter(~text.is_in(accepted.implode())).unique(maintain_order=True)
    accepted = pl.Series(cats, strict=False).cast(values.dtype, strict=False)
    return values.filter(~values.is_in(accepted.drop_nulls().implode())).unique(maintain_order=True)


def render(
    name: str,
    dataset: str,
    frame: pl.DataFrame,
    column: str,
    options: Mapping[str, Any],
    failure: RuleFailure | None,
) -> ValidationResult:
    """dynamicio's result for a rule's verdict on a column (``failure`` ``None``: it held).

    Raises:
        KeyError: ``name`` is not one of dynamicio's validations.
    """
    where = f"{dataset}[{column}]"
    series = _column(frame, column)
    if name == "has_unique_values":
        if failure is None:
            return ValidationResult(True, f"{where} has unique values", 0)
        counts = series.drop_nulls().value_counts(sort=True, name="n")
        dups = _text_values(counts.filter(pl.col("n") > 1).get_column(series.name).to_list())
        return ValidationResult(False, f"Values {dups} for {where} are duplicated!", len(dups))
    if name == "has_no_null_values":
        nulls = series.null_count()
        return ValidationResult(failure is None, f"{where} has {nulls} nulls", nulls)
    if name == "has_acceptable_percentage_of_nulls":
        threshold = options["threshold"]
        pct = series.null_count() / len(series) if len(series) else 0.0
        text = f"Percentage of nulls of for {where} is {pct}"
        if failure is None:
            return ValidationResult(True, text, pct)
        return ValidationResult(False, f"{text} which exceeds threshold: {threshold}", pct)
    if name == "is_in":
        cats = list(options["categorical_values"])
        bad = _text_values(_unacceptable(series, cats).to_list())
        if failure is None:
            if options.get("match_all"):
                message = f"All acceptable categorical values for {where} are present"
            else:
                message = f"Categorical values for {where} are acceptable"
            return ValidationResult(True, message, 0)
        if not bad:
            missing = list(failure.detail)
            return ValidationResult(
                False,
                f"Missing categorical values for {where}: {_set_text(missing)}",
                len(missing),
            )
        count = failure.failing_count
        return ValidationResult(
            False,
            f"Values {_set_text(bad)} for {where} are not acceptable for {count} cells",
            count,
        )
    if name in _COMPARISONS:
        above, below = _COMPARISONS[name]
        threshold = options["threshold"]
        if failure is None:
            return ValidationResult(True, f"All values of {where} are {above} {threshold}", 0)
        n = failure.failing_count
        share = n / (len(series) - series.null_count())
        return ValidationResult(
            False, f"{n} cell values for {where} are {below} {threshold}", share
        )
    if name == "is_between":
        lower, upper = options["lower"], options["upper"]
        if failure is None:
            return ValidationResult(
                True, f"All values of {where} is between {lower} and {upper} thresholds", 0
            )
        n = failure.failing_count
        share = n / (len(series) - series.null_count())
        return ValidationResult(
            False, f"{n} cell values for {where} are either below {lower} or above {upper}", share
        )
    raise KeyError(name)


_COMPARISONS = {
    "is_greater_than": ("above", "below"),
    "is_greater_than_or_equal": ("above", "below"),
    "is_lower_than": ("below", "above"),
    "is_lower_than_or_equal": ("below", "above"),
}


def _validate(name: str, dataset: str, df: Any, column: str, **options: Any) -> ValidationResult:
    frame = _frame(df, column, dataset)
    failure = _check(name, dataset, frame, column, options)
    return render(name, dataset, frame, column, options, failure)


def has_unique_values(dataset: str, df: Any, column: str) -> ValidationResult:
    """No non-null value appears twice; the value is the number of duplicated values."""
    return _validate("has_unique_values", dataset, df, column)


def has_no_null_values(dataset: str, df: Any, column: str) -> ValidationResult:
    """No nulls (NaN and NaT included); the value is the number of nulls."""
    return _validate("has_no_null_values", dataset, df, column)


def has_acceptable_percentage_of_nulls(
    dataset: str, df: Any, column: str, threshold: float
) -> ValidationResult:
    """The share of nulls is strictly below ``threshold`` (a fraction in (0, 1)).

    Raises:
        ValueError: The threshold is not strictly between 0 and 1.
    """
    return _validate("has_acceptable_percentage_of_nulls", dataset, df, column, threshold=threshold)


def is_in(
    dataset: str,
    df: Any,
    column: str,
    categorical_values: Iterable[Any],
    match_all: bool | None = None,
) -> ValidationResult:
    """Non-null values are among ``categorical_values``; with ``match_all=True`` all appear too.

    The value is the number of unacceptable cells (or of missing categories).
    """
    options: dict[str, Any] = {"categorical_values": list(categorical_values)}
    if match_all is not None:
        options["match_all"] = bool(match_all)
    return _validate("is_in", dataset, df, column, **_engine_is_in(options))


def _engine_is_in(options: Mapping[str, Any]) -> dict[str, Any]:
    """dynamicio's ``is_in`` options in dynio's terms: its ``match_all`` means the opposite."""
    out = {k: v for k, v in options.items() if k != "match_all"}
    if options.get("match_all") is False:  # dynamicio: false = exactly the categories
        out["match_all"] = True
    return out


def dynamicio_semantics(schema: SchemaSpec) -> SchemaSpec:
    """The schema with ``is_in`` rules read the way dynamicio documents them.

    dynamicio's ``match_all: true`` (its default) means "a subset of the categories" and
    ``false`` "exactly the categories"; dynio's catalogs mean the opposite by ``true``.
    """

    def rule(r: RuleSpec) -> RuleSpec:
        if r.name != "is_in":
            return r
        return dataclasses.replace(r, options=freeze(_engine_is_in(r.options)))

    columns = tuple(
        dataclasses.replace(c, rules=tuple(rule(r) for r in c.rules)) for c in schema.columns
    )
    return dataclasses.replace(schema, columns=columns)


def is_greater_than(dataset: str, df: Any, column: str, threshold: float) -> ValidationResult:
    """Non-null values are ``> threshold``; the value is the failing share of non-null cells."""
    return _validate("is_greater_than", dataset, df, column, threshold=threshold)


def is_greater_than_or_equal(
    dataset: str, df: Any, column: str, threshold: float
) -> ValidationResult:
    """Non-null values are ``>= threshold``; the value is the failing share of non-null cells."""
    return _validate("is_greater_than_or_equal", dataset, df, column, threshold=threshold)


def is_lower_than(dataset: str, df: Any, column: str, threshold: float) -> ValidationResult:
    """Non-null values are ``< threshold``; the value is the failing share of non-null cells."""
    return _validate("is_lower_than", dataset, df, column, threshold=threshold)


def is_lower_than_or_equal(
    dataset: str, df: Any, column: str, threshold: float
) -> ValidationResult:
    """Non-null values are ``<= threshold``; the value is the failing share of non-null cells."""
    return _validate("is_lower_than_or_equal", dataset, df, column, threshold=threshold)


def is_between(
    dataset: str,
    df: Any,
    column: str,
    lower: float,
    upper: float,
    include_left: bool = False,
    include_right: bool = False,
) -> ValidationResult:
    """Non-null values lie between the bounds (exclusive unless included)."""
    return _validate(
        "is_between",
        dataset,
        df,
        column,
        lower=lower,
        upper=upper,
        include_left=include_left,
        include_right=include_right,
    )


ALL_VALIDATORS: dict[str, Callable[..., ValidationResult]] = {
    f.__name__: f
    for f in (
        has_unique_values,
        has_no_null_values,
        has_acceptable_percentage_of_nulls,
        is_in,
        is_greater_than,
        is_greater_than_or_equal,
        is_lower_than,
        is_lower_than_or_equal,
        is_between,
    )
}
