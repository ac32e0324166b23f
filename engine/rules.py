"""The rule table: every data-quality rule compiles to Polars expressions.

Each rule is one :class:`RuleDef` entry: its options (types, required, defaults) checked when a
catalog loads, and a builder returning a :class:`RuleExprs` of scalar expressions. All rules and
metrics of a resource are evaluated together in one ``select`` by :mod:`dynio.engine.quality`.

Users add rules with :func:`register_rule`::

    @dynio.register_rule("is_even")
    def is_even(col: pl.Expr) -> pl.Expr:
        return col % 2 == 0          # True where the value passes

and use them by name from YAML (``validations: {is_even: {apply: true}}``).
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

__all__ = [
    "BUILTIN_RULES",
    "RULES",
    "SAMPLE_SIZE",
    "OptionDef",
    "RuleDef",
    "RuleExprs",
    "register_rule",
    "registry_generation",
    "unregister_rule",
]

SAMPLE_SIZE = 5

_Number = (int, float)


@dataclass(frozen=True)
class OptionDef:
    """One option of a rule: accepted Python types, whether required, its default."""

    types: tuple[type, ...]
    required: bool = False
    default: Any = None


@dataclass(frozen=True)
class RuleExprs:
    """Scalar expressions a rule contributes to the fused ``select``.

    Attributes:
        passed: Boolean scalar: did the rule hold. Evaluated for every rule, so keep it cheap.
        failing: Integer scalar: how many rows fail. Evaluated only when the rule failed.
        sample: List scalar: up to :data:`SAMPLE_SIZE` failing values (may be ``None``);
            evaluated only when the rule failed.
        detail: Optional list scalar of extra facts (e.g. expected categories never seen);
            evaluated only when the rule failed. It depends only on the column's distinct
            values, so it may be evaluated on them alone.
        mask: For rules that fail row by row: the boolean (never null) row expression true on
            failing rows; ``failing`` is its sum. Lets evaluators that see the data in parts
            (streaming, partitions) count and sample failures without the whole frame.
        value: The values sampled from failing rows (with ``mask``).
        key: For rules on duplicates: the columns whose repeated values fail (rows with a null
            in a single key column pass).
        from_counts: For rules decided by the frame's row count and the column's null count
            alone: ``(rows, nulls) -> (passed, failing)``, so that counts merged from parts
            decide them.
    """

    passed: pl.Expr
    failing: pl.Expr
    sample: pl.Expr | None = None
    detail: pl.Expr | None = None
    mask: pl.Expr | None = None
    value: pl.Expr | None = None
    key: tuple[str, ...] = ()
    from_counts: Callable[[int, int], tuple[bool, int]] | None = None


# (column expression or None for frame rules, resolved options, the column's dtype) -> exprs
Builder = Callable[[pl.Expr | None, Mapping[str, Any], pl.DataType | None], RuleExprs]


@dataclass(frozen=True)
class RuleDef:
    """A rule: its name, its options, whether it applies to a column or the whole frame."""

    name: str
    build: Builder
    options: Mapping[str, OptionDef] = field(default_factory=dict)
    frame_level: bool = False
    description: str = ""
    builtin: bool = True


def _row_rule(col: pl.Expr, fails: pl.Expr) -> RuleExprs:
    """A rule that fails row by row; ``fails`` is true on failing rows (nulls count as passing)."""
    mask = fails.fill_null(False)
    count = mask.sum()
    return RuleExprs(
        passed=count == 0,
        failing=count,
        sample=col.filter(mask).head(SAMPLE_SIZE).implode(),
        mask=mask,
        value=col,
    )


def _col(col: pl.Expr | None) -> pl.Expr:
    if col is None:  # the loader only builds column rules with a column
        raise ValueError("column rule built without a column")
    return col


def _has_unique_values(
    col: pl.Expr | None, opts: Mapping[str, Any], dtype: pl.DataType | None = None
) -> RuleExprs:
    c = _col(col)
    # deciding needs only a distinct count; which rows repeat is looked up on failure only
    nulls = c.null_count().cast(pl.Int64)
    distinct = c.n_unique().cast(pl.Int64) - (nulls > 0).cast(pl.Int64)
    mask = (c.is_duplicated() & c.is_not_null()).fill_null(False)
    return RuleExprs(
        passed=distinct == pl.len().cast(pl.Int64) - nulls,
        failing=mask.sum(),
        sample=c.filter(mask).unique(maintain_order=True).head(SAMPLE_SIZE).implode(),
        key=tuple(dict.fromkeys(c.meta.root_names())),
    )


def _has_no_null_values(
    col: pl.Expr | None, opts: Mapping[str, Any], dtype: pl.DataType | None = None
) -> RuleExprs:
    c = _col(col)
    count = c.null_count()
    return RuleExprs(passed=count == 0, failing=count, mask=c.is_null())


def _has_acceptable_percentage_of_nulls(
    col: pl.Expr | None, opts: Mapping[str, Any], dtype: pl.DataType | None = None
) -> RuleExprs:
    c = _col(col)
    nulls = c.null_count()
    threshold = float(opts["threshold"])
    share = pl.when(pl.len() > 0).then(nulls / pl.len()).otherwise(0.0)
    passed = share < threshold

    def decide(rows: int, null_count: int) -> tuple[bool, int]:
        ok = (null_count / rows if rows else 0.0) < threshold
        return ok, 0 if ok else null_count

    return RuleExprs(
        passed=passed, failing=pl.when(passed).then(0).otherwise(nulls), from_counts=decide
    )


def _categories(values: list[Any], dtype: pl.DataType | None) -> tuple[pl.Series, bool]:
    """The categories in the column's own dtype, and whether to compare as text.

    Text and categorical columns compare as text (so YAML ``1`` matches ``"1"``); numeric,
    boolean and temporal columns compare in their dtype (so YAML ``1`` matches ``1.0``).
    Categories that cannot be the column's dtype stay as nulls: they can never be present.
    """
    if dtype is None or isinstance(dtype, pl.String | pl.Categorical | pl.Enum | pl.Null):
        return pl.Series([None if v is None else str(v) for v in values], dtype=pl.String), True
    if all(isinstance(v, str) for v in values) and (dtype.is_temporal() or dtype.is_numeric()):
        from dynio.engine.casts import cast_expr

        text = pl.lit(pl.Series(values, dtype=pl.String))
        return pl.select(cast_expr(text, pl.String(), dtype, strict=False)).to_series(), False
    return pl.Series(values, strict=False).cast(dtype, strict=False), False


# a text column is compared with up to this many categories one by one rather than hashed:
# Polars compares short strings inline, where a hash lookup that finds its value costs more
EQUALITY_CHAIN_MAX = 8


def _found(value: pl.Expr, cats: pl.Series, dtype: pl.DataType | None) -> pl.Expr:
    """True where ``value`` is one of ``cats`` (null where ``value`` is null)."""
    if isinstance(dtype, pl.String) and 0 < cats.len() <= EQUALITY_CHAIN_MAX:
        return pl.any_horizontal([value == v for v in cats.unique(maintain_order=True)])
    return value.is_in(cats.implode())


def _is_in(
    col: pl.Expr | None, opts: Mapping[str, Any], dtype: pl.DataType | None = None
) -> RuleExprs:
    c = _col(col)
    cats, as_text = _categories(list(opts["categorical_values"]), dtype)
    value = c.cast(pl.String) if as_text else c
    rows = _row_rule(c, value.is_not_null() & ~_found(value, cats.drop_nulls(), dtype))
    if not opts.get("match_all"):  # omitted or false: a subset is enough (dynamicio's default)
        return rows
    # every category must be present (a category the dtype cannot hold never is)
    labels = pl.lit(pl.Series([str(v) for v in opts["categorical_values"]], dtype=pl.String))
    present = pl.lit(cats).is_in(value.drop_nulls().unique().implode()).fill_null(False)
    missing_list = labels.filter(~present).implode()
    return RuleExprs(
        passed=rows.passed & (missing_list.list.len() == 0),
        failing=rows.failing,
        sample=rows.sample,
        detail=missing_list,
        mask=rows.mask,
        value=rows.value,
    )


def _compare(op: str) -> Builder:
    def build(
        col: pl.Expr | None, opts: Mapping[str, Any], dtype: pl.DataType | None = None
    ) -> RuleExprs:
        c = _col(col)
        t = opts["threshold"]
        passes = {
            ">": c > t,
            ">=": c >= t,
            "<": c < t,
            "<=": c <= t,
        }[op]
        return _row_rule(c, ~passes)

    return build


def _is_between(
    col: pl.Expr | None, opts: Mapping[str, Any], dtype: pl.DataType | None = None
) -> RuleExprs:
    c = _col(col)
    left = c >= opts["lower"] if opts.get("include_left") else c > opts["lower"]
    right = c <= opts["upper"] if opts.get("include_right") else c < opts["upper"]
    return _row_rule(c, ~(left & right))


def _matches_regex(
    col: pl.Expr | None, opts: Mapping[str, Any], dtype: pl.DataType | None = None
) -> RuleExprs:
    c = _col(col)
    pattern = str(opts["pattern"])
    anchored = pattern if opts.get("full_match", True) is False else f"^(?:{pattern})$"
    return _row_rule(c, ~c.cast(pl.String).str.contains(anchored))


def _length(c: pl.Expr) -> pl.Expr:
    return c.cast(pl.String).str.len_chars()


def _has_length_between(
    col: pl.Expr | None, opts: Mapping[str, Any], dtype: pl.DataType | None = None
) -> RuleExprs:
    c = _col(col)
    n = _length(c)
    fails = pl.lit(False)
    if opts.get("min") is not None:
        fails = fails | (n < opts["min"])
    if opts.get("max") is not None:
        fails = fails | (n > opts["max"])
    return _row_rule(c, fails)


def _is_not_empty(
    col: pl.Expr | None, opts: Mapping[str, Any], dtype: pl.DataType | None = None
) -> RuleExprs:
    c = _col(col)
    return _row_rule(c, c.cast(pl.String).str.strip_chars() == "")


def _row_count_between(
    col: pl.Expr | None, opts: Mapping[str, Any], dtype: pl.DataType | None = None
) -> RuleExprs:
    n = pl.len()
    passed = pl.lit(True)
    if opts.get("min") is not None:
        passed = passed & (n >= opts["min"])
    if opts.get("max") is not None:
        passed = passed & (n <= opts["max"])
    low, high = opts.get("min"), opts.get("max")

    def decide(rows: int, null_count: int) -> tuple[bool, int]:
        ok = (low is None or rows >= low) and (high is None or rows <= high)
        return ok, 0 if ok else rows

    return RuleExprs(
        passed=passed, failing=pl.when(passed).then(0).otherwise(n), from_counts=decide
    )


def _unique_together(
    col: pl.Expr | None, opts: Mapping[str, Any], dtype: pl.DataType | None = None
) -> RuleExprs:
    key = pl.struct([pl.col(c) for c in opts["columns"]])
    mask = key.is_duplicated()
    return RuleExprs(
        passed=key.n_unique() == pl.len(),
        failing=mask.sum(),
        sample=key.filter(mask).unique(maintain_order=True).head(SAMPLE_SIZE).implode(),
        key=tuple(str(c) for c in opts["columns"]),
    )


_THRESHOLD = {"threshold": OptionDef(_Number, required=True)}

# register_rule/unregister_rule from several threads: their check-and-set stays one step
_REGISTRY_LOCK = threading.Lock()
# bumped by every change to RULES: what was built from the rules before is stale then
_generation = 0

RULES: dict[str, RuleDef] = {
    d.name: d
    for d in [
        RuleDef(
            "has_unique_values", _has_unique_values, description="no duplicate non-null values"
        ),
        RuleDef("has_no_null_values", _has_no_null_values, description="no nulls"),
        RuleDef(
            "has_acceptable_percentage_of_nulls",
            _has_acceptable_percentage_of_nulls,
            _THRESHOLD,
            description="share of nulls strictly below threshold (a fraction)",
        ),
        RuleDef(
            "is_in",
            _is_in,
            {
                "categorical_values": OptionDef((list, tuple, set, frozenset), required=True),
                "match_all": OptionDef((bool,)),
            },
            description=(
                "non-null values within categorical_values; with match_all: true the distinct"
                " values must equal the set (every category present)"
            ),
        ),
        RuleDef("is_greater_than", _compare(">"), _THRESHOLD, description="value > threshold"),
        RuleDef(
            "is_greater_than_or_equal", _compare(">="), _THRESHOLD, description="value >= threshold"
        ),
        RuleDef("is_lower_than", _compare("<"), _THRESHOLD, description="value < threshold"),
        RuleDef(
            "is_lower_than_or_equal", _compare("<="), _THRESHOLD, description="value <= threshold"
        ),
        RuleDef(
            "is_between",
            _is_between,
            {
                "lower": OptionDef(_Number, required=True),
                "upper": OptionDef(_Number, required=True),
                "include_left": OptionDef((bool,), default=False),
                "include_right": OptionDef((bool,), default=False),
            },
            # bounds are exclusive unless included, as dynamicio's code has always done
            description="lower < value < upper (include_left/include_right make bounds inclusive)",
        ),
        RuleDef(
            "matches_regex",
            _matches_regex,
            {
                "pattern": OptionDef((str,), required=True),
                "full_match": OptionDef((bool,), default=True),
            },
            description="text matches the pattern (whole value unless full_match: false)",
        ),
        RuleDef(
            "has_length_between",
            _has_length_between,
            {"min": OptionDef((int,)), "max": OptionDef((int,))},
            description="text length within [min, max]",
        ),
        RuleDef("is_not_empty", _is_not_empty, description="no empty or blank text values"),
        RuleDef(
            "row_count_between",
            _row_count_between,
            {"min": OptionDef((int,)), "max": OptionDef((int,))},
            frame_level=True,
            description="number of rows within [min, max]",
        ),
        RuleDef(
            "unique_together",
            _unique_together,
            {"columns": OptionDef((list, tuple), required=True)},
            frame_level=True,
            description="no two rows share the same values in these columns",
        ),
    ]
}
# the rules dynio ships (each reads only the columns its expressions name); users' own rules
# (register_rule) may read any column, by pattern or selector
BUILTIN_RULES: frozenset[str] = frozenset(RULES)


def register_rule(
    name: str, *, options: Mapping[str, OptionDef] | None = None, replace: bool = False
) -> Callable[[Callable[..., pl.Expr]], Callable[..., pl.Expr]]:
    """Register a user rule usable by name from schema YAML.

    The decorated function receives the column as a Polars expression and the rule's options as
    keyword arguments, and returns a boolean expression that is true where a value passes. Nulls
    pass (add ``has_no_null_values`` to forbid them). Register rules before loading a catalog
    that uses them.

    The function is called once per schema and column type, not on every read: the expression
    it returns is kept and evaluated on each frame, so it must depend on the column and the
    options alone (a limit read from a global when the function runs is read once). Registering
    or unregistering any rule makes every check build its expressions again.

    Args:
        name: The rule name used in YAML.
        options: The accepted options; when omitted they are taken from the function's keyword
            parameters (those without a default are required).
        replace: Allow replacing a rule of the same name (built-in rules cannot be replaced).

    Raises:
        ValueError: The name is taken and ``replace`` is false, or names a built-in rule.
    """

    def decorate(fn: Callable[..., pl.Expr]) -> Callable[..., pl.Expr]:
        opts = dict(options) if options is not None else _options_from_signature(fn)

        def build(
            col: pl.Expr | None, values: Mapping[str, Any], dtype: pl.DataType | None = None
        ) -> RuleExprs:
            c = _col(col)
            return _row_rule(c, ~fn(c, **dict(values)))

        rule = RuleDef(name, build, opts, description=fn.__doc__ or "", builtin=False)
        with _REGISTRY_LOCK:  # the check and the set as one step, for threads registering
            existing = RULES.get(name)
            if existing is not None and (existing.builtin or not replace):
                raise ValueError(f"a rule named {name!r} is already registered")
            RULES[name] = rule
            _changed()
        return fn

    return decorate


def unregister_rule(name: str) -> None:
    """Remove a user rule (built-in rules stay)."""
    with _REGISTRY_LOCK:
        existing = RULES.get(name)
        if existing is not None and not existing.builtin:
            del RULES[name]
            _changed()


def _changed() -> None:
    global _generation
    _generation += 1


def registry_generation() -> int:
    """A number that changes whenever a rule is registered or unregistered (what was built
    from the rules before, e.g. :mod:`dynio.engine.quality`'s prepared checks, is stale)."""
    return _generation


def _options_from_signature(fn: Callable[..., Any]) -> dict[str, OptionDef]:
    params = list(inspect.signature(fn).parameters.values())[1:]
    return {
        p.name: OptionDef((object,), required=p.default is inspect.Parameter.empty)
        for p in params
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }


def option_error(rule: RuleDef, options: Mapping[str, Any]) -> str | None:
    """Why these options do not suit the rule, or ``None`` when they do."""
    unknown = sorted(set(options) - set(rule.options))
    if unknown:
        return (
            f"unknown option(s) {unknown} for rule {rule.name!r}; accepted: {sorted(rule.options)}"
        )
    for opt_name, opt in rule.options.items():
        if opt_name not in options:
            if opt.required:
                return f"rule {rule.name!r} needs option {opt_name!r}"
            continue
        value = options[opt_name]
        ok_types: Sequence[type] = opt.types
        bool_ok = bool in ok_types or object in ok_types or not isinstance(value, bool)
        if bool_ok and isinstance(value, tuple(ok_types)):
            continue
        return (
            f"option {opt_name!r} of rule {rule.name!r} must be "
            f"{' or '.join(t.__name__ for t in ok_types)}, got {type(value).__name__} {value!r}"
        )
    if rule.name == "matches_regex":
        try:  # Polars' (Rust) regex syntax, checked now rather than at the first read
            pl.select(pl.lit("").str.contains(str(options["pattern"])))
        except pl.exceptions.PolarsError as exc:
            reason = str(exc).strip().splitlines()[0]
            return (
                f"pattern {options['pattern']!r} of rule {rule.name!r} is not a valid regex:"
                f" {reason}"
            )
    if rule.name == "has_acceptable_percentage_of_nulls" and not 0 < options["threshold"] < 1:
        return (
            f"threshold of {rule.name!r} is a fraction between 0 and 1,"
            f" got {options['threshold']!r}"
        )
    for lo, hi in (("lower", "upper"), ("min", "max")):
        if (
            options.get(lo) is not None
            and options.get(hi) is not None
            and options[lo] > options[hi]
        ):
            return f"rule {rule.name!r}: {lo} {options[lo]!r} is above {hi} {options[hi]!r}"
    return None


def resolved_options(rule: RuleDef, options: Mapping[str, Any]) -> dict[str, Any]:
    """The options with defaults filled in."""
    out = {
        k: o.default for k, o in rule.options.items() if not o.required and o.default is not None
    }
    out.update(options)
    return out
