"""Sample data made from a schema: typed as the schema says and passing its rules.

A pipeline's unit test needs rows shaped like production's without production data.
:func:`sample_frame` builds them from the schema alone: every column gets values of its dtype
that satisfy the column's rules (bounds, categories, patterns, lengths, uniqueness, nulls), then
the whole schema is checked once; a rule the generator cannot satisfy (a custom rule, say) is an
error naming it, never a sample that would fail the pipeline's own validation.

Example::

    from dynio.testing import sample_frame

    df = sample_frame("schemas/trips.yaml", rows=50, seed=1)   # pandas, in the schema's dtypes
"""

from __future__ import annotations

import datetime as dt
import math
import os
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from dynio.checks import schema_of
from dynio.engine.errors import DynioError
from dynio.engine.spec import ColumnSpec, SchemaSpec

__all__ = ["SampleError", "sample_frame", "sample_polars"]

_EPOCH = dt.datetime(2024, 1, 1)


class SampleError(DynioError):
    """The schema asks for something the sample generator cannot produce."""


@dataclass
class _Bounds:
    """Numeric bounds a column's rules impose, with openness."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False

    def tighten(self, low: float | None, high: float | None, lo_open: bool, hi_open: bool) -> None:
        if low is not None and (low > self.low or (low == self.low and lo_open)):
            self.low, self.low_open = float(low), lo_open
        if high is not None and (high < self.high or (high == self.high and hi_open)):
            self.high, self.high_open = float(high), hi_open


@dataclass
class _Wants:
    """What the rules of one column ask of its values."""

    unique: bool = False
    nulls: bool = True  # may hold nulls
    categories: tuple[Any, ...] | None = None
    pattern: str | None = None
    min_len: int = 1
    max_len: int = 12
    bounds: _Bounds | None = None


def _wants(col: ColumnSpec) -> _Wants:
    w = _Wants(bounds=_Bounds())
    assert w.bounds is not None  # for mypy: set just above
    for rule in col.rules:
        if not rule.apply:
            continue
        o = rule.options
        if rule.name == "has_unique_values":
            w.unique = True
        elif rule.name in ("has_no_null_values", "has_acceptable_percentage_of_nulls"):
            w.nulls = False  # no nulls satisfies any threshold above 0
        elif rule.name == "is_in":
            w.categories = tuple(o["categorical_values"])
        elif rule.name == "matches_regex":
            w.pattern = str(o["pattern"])
        elif rule.name == "has_length_between":
            w.min_len = max(w.min_len, int(o.get("min") or 0))
            w.max_len = int(o["max"]) if o.get("max") is not None else max(w.max_len, w.min_len)
        elif rule.name in _BOUND_RULES:
            low, high, lo_open, hi_open = _BOUND_RULES[rule.name](o)
            w.bounds.tighten(low, high, lo_open, hi_open)
    return w


_BOUND_RULES: dict[str, Callable[[Mapping[str, Any]], tuple[Any, Any, bool, bool]]] = {
    "is_greater_than": lambda o: (o["threshold"], None, True, False),
    "is_greater_than_or_equal": lambda o: (o["threshold"], None, False, False),
    "is_lower_than": lambda o: (None, o["threshold"], False, True),
    "is_lower_than_or_equal": lambda o: (None, o["threshold"], False, False),
    "is_between": lambda o: (
        o["lower"],
        o["upper"],
        not o.get("include_left", False),
        not o.get("include_right", False),
    ),
}


# -- values from a regular expression ------------------------------------------------------------

_CATEGORY_CHARS = {
    "category_digit": "0123456789",
    "category_word": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_",
    "category_space": " ",
    "category_not_digit": "abcxyz",
    "category_not_word": " -.",
    "category_not_space": "abcxyz019",
}
_PRINTABLE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _regex_text(pattern: str, rng: random.Random) -> str:
    """A string the pattern matches whole (a small generator over Python's regex parser)."""
    from re import _parser as sre  # type: ignore[attr-defined]  # the stdlib's own parser

    def in_set(items: list[tuple[Any, Any]]) -> str:
        chars: list[str] = []
        negate = False
        for op, arg in items:
            name = str(op).lower()
            if name == "negate":
                negate = True
            elif name == "literal":
                chars.append(chr(arg))
            elif name == "range":
                chars.extend(chr(c) for c in range(arg[0], min(arg[1], arg[0] + 60) + 1))
            elif name == "category":
                chars.extend(_CATEGORY_CHARS.get(str(arg).lower(), "a"))
        if negate:
            chars = [c for c in _PRINTABLE if c not in chars]
        return rng.choice(chars or ["a"])

    def gen(parsed: Any) -> str:
        out: list[str] = []
        for op, arg in parsed:
            name = str(op).lower()
            if name == "literal":
                out.append(chr(arg))
            elif name == "not_literal":
                out.append(next(c for c in _PRINTABLE if ord(c) != arg))
            elif name == "any":
                out.append(rng.choice(_PRINTABLE))
            elif name == "in":
                out.append(in_set(list(arg)))
            elif name in ("max_repeat", "min_repeat", "possessive_repeat"):
                low, high, sub = arg
                high = min(high, low + 4) if high != sre.MAXREPEAT else low + 4
                out.extend(gen(sub) for _ in range(rng.randint(low, high)))
            elif name == "subpattern":
                out.append(gen(arg[-1]))
            elif name == "atomic_group":
                out.append(gen(arg))
            elif name == "branch":
                out.append(gen(rng.choice(arg[1])))
            elif name in ("at", "groupref"):
                continue  # anchors take no characters; back-references are rare in schemas
            else:
                raise SampleError(f"cannot make text for the pattern {pattern!r} ({name})")
        return "".join(out)

    flags = re.compile(pattern).flags
    return gen(sre.parse(pattern, flags))


# -- one column ----------------------------------------------------------------------------------


def _numbers(w: _Wants, n: int, integral: bool, rng: random.Random) -> list[Any]:
    assert w.bounds is not None  # always set by _wants
    b = w.bounds
    low = b.low if b.low != -math.inf else (b.high - 1000 if b.high != math.inf else 0.0)
    high = b.high if b.high != math.inf else low + max(1000.0, 2.0 * n)
    if integral:
        lo = math.floor(low) + 1 if b.low_open or low != math.floor(low) else int(low)
        hi = math.ceil(high) - 1 if b.high_open or high != math.ceil(high) else int(high)
        if lo > hi:
            raise SampleError(f"no integer lies within ({b.low}, {b.high})")
        if w.unique:
            if hi - lo + 1 < n:
                raise SampleError(f"fewer than {n} distinct integers within [{lo}, {hi}]")
            return rng.sample(range(lo, hi + 1), n)
        return [rng.randint(lo, hi) for _ in range(n)]
    span = high - low
    # strictly inside open bounds; distinct by construction (a strictly increasing grid + jitter)
    return [low + span * (i + 0.25 + 0.5 * rng.random()) / n for i in range(n)]


def _texts(w: _Wants, n: int, rng: random.Random) -> list[str]:
    values: list[str] = []
    seen: set[str] = set()
    for i in range(n * 50):
        if len(values) == n:
            break
        if w.pattern is not None:
            text = _regex_text(w.pattern, rng)
        else:
            size = rng.randint(w.min_len, max(w.min_len, min(w.max_len, 12)))
            text = "".join(rng.choice(_PRINTABLE) for _ in range(size))
            if w.unique and len(text) < len(str(n)) + 1 <= w.max_len:
                text = f"{text[:1]}{i}"
        if w.unique and text in seen:
            continue
        seen.add(text)
        values.append(text)
    if len(values) < n:
        raise SampleError(f"cannot make {n} distinct values for the pattern {w.pattern!r}")
    return values


def _column_values(col: ColumnSpec, n: int, rng: random.Random) -> pl.Series:
    w = _wants(col)
    dtype = col.dtype.polars
    if w.categories is not None:
        cats = list(w.categories)
        if w.unique and len(cats) < n:
            raise SampleError(f"{n} unique values asked from {len(cats)} categories")
        # every category appears (is_in with match_all), then random ones
        head = rng.sample(cats, len(cats))[:n]
        values: list[Any] = head + [rng.choice(cats) for _ in range(n - len(head))]
        return pl.Series(col.name, values).cast(dtype, strict=False)
    if dtype.is_integer():
        return pl.Series(col.name, _numbers(w, n, True, rng), dtype=dtype)
    if dtype.is_float() or isinstance(dtype, pl.Decimal):
        return pl.Series(col.name, _numbers(w, n, False, rng)).cast(dtype)
    if isinstance(dtype, pl.Boolean):
        if w.unique and n > 2:
            raise SampleError(f"{n} unique values asked of a boolean column")
        return pl.Series(
            col.name, [bool(i % 2) if w.unique else rng.random() < 0.5 for i in range(n)]
        )
    if isinstance(dtype, pl.Datetime | pl.Date):
        steps = rng.sample(range(n * 10), n)
        stamps = [_EPOCH + dt.timedelta(minutes=17 * s) for s in steps]
        return pl.Series(col.name, stamps).cast(dtype)
    if isinstance(dtype, pl.Time):
        return pl.Series(col.name, [dt.time(i % 24, (i * 7) % 60, i % 60) for i in range(n)])
    if dtype.is_nested() or isinstance(dtype, pl.Binary | pl.Object):
        raise SampleError(f"cannot make sample values of dtype {col.dtype.spelling!r}")
    return pl.Series(col.name, _texts(w, n, rng)).cast(dtype)


def _rows_for(schema: SchemaSpec, rows: int | None) -> int:
    n = 20 if rows is None else rows
    for rule in schema.rules:
        if rule.apply and rule.name == "row_count_between":
            low, high = rule.options.get("min"), rule.options.get("max")
            if rows is None:
                n = max(n, low or 0) if high is None else min(max(n, low or 0), high)
    return n


def sample_polars(
    schema: SchemaSpec | str | os.PathLike[str] | Mapping[str, Any],
    rows: int | None = None,
    *,
    seed: int = 0,
) -> pl.DataFrame:
    """A Polars frame of ``rows`` rows in the schema's dtypes that passes its rules.

    Args:
        schema: A schema spec, a schema YAML path, or a schema mapping.
        rows: How many rows (default 20, moved into ``row_count_between`` when it has one).
        seed: The random seed; the same seed gives the same frame.

    Raises:
        SampleError: A rule the generator cannot satisfy (a custom rule, impossible bounds).
    """
    from dynio.checks import validate

    spec = schema_of(schema)
    n = _rows_for(spec, rows)
    rng = random.Random(seed)
    try:
        frame = pl.DataFrame([_column_values(c, n, rng) for c in spec.columns])
    except SampleError as exc:
        raise SampleError(f"schema {spec.name or spec.file!r}: {exc}", file=spec.file) from None
    for rule in spec.rules:
        if rule.apply and rule.name == "unique_together" and frame.height:
            frame = frame.unique(subset=list(rule.options["columns"]), maintain_order=True)
    report = validate(frame, spec)
    if not report.ok:
        failed = ", ".join(sorted({f.rule for f in report.errors}))
        raise SampleError(
            f"schema {spec.name or spec.file!r}: the sample does not pass {failed}; the"
            " generator knows the built-in rules only; pass data of your own for these",
            file=spec.file,
        )
    return frame


def sample_frame(
    schema: SchemaSpec | str | os.PathLike[str] | Mapping[str, Any],
    rows: int | None = None,
    *,
    seed: int = 0,
) -> Any:
    """:func:`sample_polars` as a pandas DataFrame, in the dtypes a dynio read gives."""
    from dynio import handoff

    spec = schema_of(schema)
    frame = sample_polars(spec, rows, seed=seed)
    return handoff.to_pandas(frame, spec, "numpy")
