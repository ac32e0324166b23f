"""Casts to the schema's dtypes, safe by default.

A safe cast never changes a value silently: ``1.7`` does not become ``1``, ``"x"`` does not
become null, ``None`` does not become ``False``, a timestamp with a time of day does not become a
date. Casts are built as strict Polars expressions inside the lazy plan (so they cost nothing
when the file already has the schema's types); when one fails, :func:`diagnose` re-runs the casts
leniently on the raw data to name the column and a few offending values.

What counts as not fitting: a fraction or an out-of-range number for an integer type; text
whose digits go beyond what an integer holds exactly (``1.0000000000000001`` is not ``1``); an
integer a float type cannot hold exactly (above 2**53 for float64); a finite number (or numeral
such as ``1e309``) that overflows to infinity in a float type; a timestamp with a time zone (or
text with an offset) for a naive timestamp type, since pandas refuses that too; a time of day for
a date; digits finer than a timestamp's unit.

A column declared ``cast: lossy`` in the schema takes the lenient form instead: values that do not
fit become null.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from dynio.engine.dtypes import DType

__all__ = [
    "CastStep",
    "cast_expr",
    "diagnose",
    "finite",
    "is_widening",
    "json_float",
    "needs_cast",
    "plan_casts",
]

# A value outside Int64's range: routing a failing row to it makes the final strict cast raise,
# which is how an expression "raises" inside a lazy plan.
_SENTINEL = 2**100
_TRUE_TEXT = {
    "true": True,
    "false": False,
    "t": True,
    "f": False,
    "1": True,
    "0": False,
    "yes": True,
    "no": False,
    "y": True,
    "n": False,
}


@dataclass(frozen=True)
class CastStep:
    """A column whose source dtype differs from the schema's.

    Attributes:
        column: Column name.
        source: The dtype the source yields.
        target: The schema dtype.
        lossy: Whether values that do not fit become null instead of raising.
    """

    column: str
    source: pl.DataType
    target: DType
    lossy: bool = False

    def expr(self, *, strict: bool | None = None) -> pl.Expr:
        """The cast expression (strict unless the column is lossy or ``strict=False``)."""
        use_strict = (not self.lossy) if strict is None else strict
        return cast_expr(pl.col(self.column), self.source, self.target.polars, use_strict).alias(
            self.column
        )


def _same(a: pl.DataType, b: pl.DataType) -> bool:
    if isinstance(a, pl.Categorical) and isinstance(b, pl.Categorical):
        return True
    if isinstance(a, pl.String) and isinstance(b, pl.String):
        return True
    return bool(a == b)


def needs_cast(source: pl.DataType, target: pl.DataType) -> bool:
    """Whether a column of ``source`` dtype needs a cast to become ``target``."""
    return not _same(source, target)


_UNIT_RANK = {"ms": 0, "us": 1, "ns": 2}


def is_widening(source: pl.DataType, target: pl.DataType) -> bool:
    """Whether every ``source`` value maps exactly and in order to ``target`` (no failure).

    Filters may then run on the source values before the cast, where a scan can prune with them.
    """
    if source.is_integer() and target.is_integer():
        if source.is_signed_integer() and target.is_unsigned_integer():
            return False
        if source.is_unsigned_integer() and target.is_signed_integer():
            return _bits(target) > _bits(source)
        return _bits(target) >= _bits(source)
    if isinstance(source, pl.Float32) and isinstance(target, pl.Float64):
        return True
    if isinstance(source, pl.Datetime) and isinstance(target, pl.Datetime):
        return (
            source.time_zone == target.time_zone
            and _UNIT_RANK[target.time_unit] >= _UNIT_RANK[source.time_unit]
        )
    return isinstance(source, pl.Date) and isinstance(target, pl.Datetime)


def _bits(dtype: pl.DataType) -> int:
    names = {pl.Int8: 8, pl.Int16: 16, pl.Int32: 32, pl.Int64: 64, pl.Int128: 128,
             pl.UInt8: 8, pl.UInt16: 16, pl.UInt32: 32, pl.UInt64: 64}  # fmt: skip
    for cls, bits in names.items():
        if isinstance(dtype, cls):
            return bits
    return 0


def _guard_int(ok: pl.Expr, value: pl.Expr, target: pl.DataType, strict: bool) -> pl.Expr:
    """Cast an integer-backed value, failing (strict) or nulling (lenient) where ``ok`` is false."""
    bad: Any = pl.lit(_SENTINEL, dtype=pl.Int128) if strict else pl.lit(None, dtype=pl.Int128)
    return (
        pl.when(ok.fill_null(True))
        .then(value.cast(pl.Int128, strict=False))
        .otherwise(bad)
        .cast(target, strict=strict)
    )


def _checked(ok: pl.Expr, value: pl.Expr, strict: bool) -> pl.Expr:
    """``value`` where ``ok``; elsewhere fail (strict) or null (lenient). Any value dtype."""
    if not strict:
        return pl.when(ok.fill_null(True)).then(value).otherwise(None)
    one = pl.when(ok.fill_null(True)).then(pl.lit(0, dtype=pl.Int128))
    fail = one.otherwise(pl.lit(_SENTINEL, dtype=pl.Int128)).cast(pl.Int64, strict=True)
    # ``fail`` is always 0 when it does not raise: this keeps ``value`` and puts the strict cast
    # (the raise) into the plan
    return pl.when(fail == 0).then(value).otherwise(None)


def finite(x: pl.Expr) -> pl.Expr:
    """``x`` (a float column), failing when collected if a value is infinite.

    A text reader that parses floats itself makes ``inf`` of ``1e309``; this sends such a read
    through the cast table, which tells an overflow from a written ``inf``.
    """
    return _checked(~x.is_infinite(), x, strict=True)


def json_float(text: str) -> float:
    """A JSON number as a float, refusing one that overflows to infinity (``1e309``).

    For ``json.loads(..., parse_float=json_float)``: the ValueError names the number.
    """
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text[:40]} is beyond the range of a float64")
    return value


def _float_to_int(
    f: pl.Expr, target: pl.DataType, strict: bool, limit: float = 2.0**127
) -> pl.Expr:
    f = f.fill_nan(None)
    whole = f.is_finite() & (f.abs() < limit) & (f == f.round(0))
    return _guard_int(f.is_null() | whole, f, target, strict)


def _to_int(x: pl.Expr, source: pl.DataType, target: pl.DataType, strict: bool) -> pl.Expr:
    if source.is_float():
        return _float_to_int(x, target, strict)
    if isinstance(source, pl.String | pl.Categorical):
        # digits convert exactly ("12.000" too); other numerals ("1e3") go through float, where
        # they must be whole and below 2**53 (beyond that float cannot tell 2**53 + 1 apart), and
        # their digits must be whole too ("1.0000000000000001" is 1 as a float, but not whole)
        text = x.cast(pl.String).str.strip_chars().str.replace(r"^([+-]?\d+)\.0*$", "${1}")
        exact = text.cast(target, strict=False)
        as_float = text.cast(pl.Float64, strict=strict)
        as_float = pl.when(_whole_numeral(text)).then(as_float).otherwise(pl.lit(0.5))
        via_float = _float_to_int(as_float, target, strict, limit=2.0**53)
        return pl.when(exact.is_not_null()).then(exact).otherwise(via_float)
    return x.cast(target, strict=strict)


_NUMERAL = r"^[+-]?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$"


def _whole_numeral(text: pl.Expr) -> pl.Expr:
    """Whether a decimal numeral's digits denote a whole number (true for non-numerals, which
    the float parse refuses on its own)."""
    parts = text.str.extract_groups(_NUMERAL)
    whole_part = parts.struct.field("1").fill_null("")
    digits = whole_part + parts.struct.field("2").fill_null("")
    exponent = parts.struct.field("3").cast(pl.Int64, strict=False).fill_null(0)
    point = whole_part.str.len_chars().cast(pl.Int64) + exponent.clip(-400, 400)
    # digits after the point, once the exponent has moved it, must all be zeros
    after = digits.str.slice(point.clip(0, None))
    fraction = pl.when(point < 0).then(digits).otherwise(after)
    whole = fraction.str.strip_chars("0").str.len_chars() == 0
    return parts.struct.field("1").is_null() | whole


def _to_float(x: pl.Expr, source: pl.DataType, target: pl.DataType, strict: bool) -> pl.Expr:
    """Numbers and numerals into a float type, refusing what it cannot hold.

    A finite value or a numeral other than ``inf``/``infinity`` that becomes infinite overflowed
    (``1e309`` into float64, ``1e300`` into float32); an integer the float cannot hold exactly
    (``2**53 + 1`` into float64) would be rounded.
    """
    if isinstance(source, pl.String | pl.Categorical):
        text = x.cast(pl.String).str.strip_chars()
        out = text.cast(target, strict=strict)
        infinite = text.str.to_lowercase().str.contains(r"^[+-]?inf(inity)?$")
        return _checked(~out.is_infinite() | infinite, out, strict)
    out = x.cast(target, strict=strict)
    if source.is_float():
        return _checked(~out.is_infinite() | x.is_infinite(), out, strict)
    if source.is_integer():
        back = out.cast(pl.Int128, strict=False)
        return _checked(back == x.cast(pl.Int128), out, strict)
    return out


def _to_bool(x: pl.Expr, source: pl.DataType, strict: bool) -> pl.Expr:
    if isinstance(source, pl.String | pl.Categorical):
        text = x.cast(pl.String).str.strip_chars().str.to_lowercase()
        if strict:
            return text.replace_strict(_TRUE_TEXT, return_dtype=pl.Boolean)
        return text.replace_strict(_TRUE_TEXT, default=None, return_dtype=pl.Boolean)
    if source.is_numeric():
        v = x.fill_nan(None) if source.is_float() else x
        mapping = {0: False, 1: True}
        if strict:
            return v.replace_strict(mapping, return_dtype=pl.Boolean)
        return v.replace_strict(mapping, default=None, return_dtype=pl.Boolean)
    return x.cast(pl.Boolean, strict=strict)


_FRACTION_DIGITS = {"ms": 3, "us": 6, "ns": 9}
_OFFSET = r"\d{2}:\d{2}(?::\d{2})?(?:[.,]\d+)?\s*(?:[zZ]|(?:UTC|GMT)?[+-]\d{2}(?::?\d{2})?)$"


def _text_to_datetime(x: pl.Expr, unit: str, tz: str | None, strict: bool) -> pl.Expr:
    """Parse ISO-like text, refusing what does not fit the unit.

    Text with an offset converts to the target zone; for a naive target it does not fit. A
    year outside the nanosecond range (1677-2262) would wrap silently, and digits finer than the
    unit would be dropped silently: both fail instead. Each input is referenced once, so the
    parse runs once (common-subexpression elimination does not reach inside ``when``).
    """
    text = x.cast(pl.String)
    if tz is None:  # an offset for a naive type is a zone dropped (pandas refuses)
        text = _checked(~text.str.contains(_OFFSET), text, strict)
    parsed = text.str.to_datetime(time_unit=unit, time_zone=tz or "UTC", strict=strict)  # type: ignore[arg-type]
    if unit == "ns":
        ok = text.str.head(4).is_between(pl.lit("1677"), pl.lit("2262"))
    else:
        fraction = text.str.extract(r"\d{2}:\d{2}:\d{2}[.,](\d+)", 1)
        ok = fraction.str.slice(_FRACTION_DIGITS[unit]).str.strip_chars("0").str.len_bytes() == 0
    out = _guard_int(ok, parsed.cast(pl.Int64), pl.Int64(), strict).cast(
        pl.Datetime(unit, tz or "UTC")  # type: ignore[arg-type]
    )
    return out if tz else out.dt.replace_time_zone(None)


def _to_datetime(x: pl.Expr, source: pl.DataType, target: pl.Datetime, strict: bool) -> pl.Expr:
    unit = target.time_unit
    tz = target.time_zone
    if isinstance(source, pl.String | pl.Categorical):
        return _text_to_datetime(x, unit, tz, strict)
    if isinstance(source, pl.Datetime):
        src_unit = source.time_unit
        v = x
        if source.time_zone is None and tz is not None:
            v = v.dt.replace_time_zone(tz)  # naive values are wall-clock times in the target zone
        elif source.time_zone is not None and tz is None:
            # pandas refuses to drop a zone: a zoned value does not fit a naive type
            v = _checked(
                x.is_null(), v.dt.convert_time_zone("UTC").dt.replace_time_zone(None), strict
            )
        elif source.time_zone != tz and tz is not None:
            v = v.dt.convert_time_zone(tz)
        if src_unit == unit:
            return v
        factor = {"ns": 1, "us": 1_000, "ms": 1_000_000}
        if factor[unit] > factor[src_unit]:  # coarser unit: refuse to drop sub-unit precision
            step = factor[unit] // factor[src_unit]
            raw = v.cast(pl.Int64)  # the UTC epoch, so no wall time is ever ambiguous
            ok = (raw % step) == 0
            as_target_unit = _guard_int(ok, raw // step, pl.Int64(), strict)
            return as_target_unit.cast(pl.Datetime(unit, tz))
        return v.dt.cast_time_unit(unit)
    if isinstance(source, pl.Date):
        out = x.cast(pl.Datetime(unit))
        return out.dt.replace_time_zone(tz) if tz else out
    return x.cast(target, strict=strict)


def _to_date(x: pl.Expr, source: pl.DataType, strict: bool) -> pl.Expr:
    if isinstance(source, pl.String | pl.Categorical):
        return x.cast(pl.String).str.to_date(strict=strict)
    if isinstance(source, pl.Datetime):
        ok = x.dt.truncate("1d") == x
        return _guard_int(ok, x.dt.date().cast(pl.Int32), pl.Int32(), strict).cast(pl.Date)
    return x.cast(pl.Date, strict=strict)


def cast_expr(x: pl.Expr, source: pl.DataType, target: pl.DataType, strict: bool) -> pl.Expr:
    """An expression casting ``x`` from ``source`` to ``target`` under the cast policy.

    Args:
        x: The column expression.
        source: Its current dtype.
        target: The schema dtype.
        strict: Raise on values that do not fit (safe) rather than nulling them (lossy).
    """
    if _same(source, target):
        return x
    if isinstance(source, pl.Null):
        return x.cast(target)
    if isinstance(target, pl.String):
        return x.cast(pl.String)
    if isinstance(target, pl.Categorical):
        return x.cast(pl.String).cast(pl.Categorical)
    if target.is_integer():
        return _to_int(x, source, target, strict)
    if target.is_float():
        return _to_float(x, source, target, strict)
    if isinstance(target, pl.Boolean):
        return _to_bool(x, source, strict)
    if isinstance(target, pl.Datetime):
        return _to_datetime(x, source, target, strict)
    if isinstance(target, pl.Date):
        return _to_date(x, source, strict)
    if isinstance(target, pl.Time) and isinstance(source, pl.String):
        return x.str.to_time(strict=strict)
    return x.cast(target, strict=strict)


def plan_casts(
    source_schema: pl.Schema, targets: Sequence[tuple[str, DType, bool]]
) -> list[CastStep]:
    """The cast steps needed to bring ``source_schema`` to the targets.

    Args:
        source_schema: What the scan yields.
        targets: ``(column, dtype, lossy)`` for each schema column present in the scan.
    """
    steps = []
    for column, dtype, lossy in targets:
        source = source_schema.get(column)
        if source is not None and needs_cast(source, dtype.polars):
            steps.append(CastStep(column, source, dtype, lossy))
    return steps


@dataclass(frozen=True)
class CastFailure:
    """A column whose values do not fit: how many and a few of them."""

    step: CastStep
    count: int
    sample: list[Any]
    reason: str | None = None


def diagnose(raw: pl.LazyFrame, steps: Sequence[CastStep], limit: int = 5) -> list[CastFailure]:
    """Find which casts fail on the raw (uncast) data and show offending values.

    Runs each cast leniently and compares null-ness with the input: a value that was present
    and became null did not fit.
    """
    failures = []
    for step in steps:
        if step.lossy:  # lossy columns turn misfits into nulls; they never fail
            continue
        col = pl.col(step.column)
        lenient = step.expr(strict=False)
        present = col.is_not_null()
        if step.source.is_float():
            present = present & ~col.is_nan()
        bad = present & lenient.is_null()
        try:
            found = raw.select(
                bad.sum().alias("n"),
                col.filter(bad).unique(maintain_order=True).head(limit).implode().alias("s"),
            ).collect()
        except pl.exceptions.PolarsError as exc:
            failures.append(CastFailure(step, -1, [], reason=str(exc).splitlines()[0]))
            continue
        n = int(found["n"][0] or 0)
        if n:
            failures.append(CastFailure(step, n, list(found["s"][0])))
    return failures
