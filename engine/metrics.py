"""The metric table: every metric compiles to scalar Polars expressions.

Each entry maps a metric name (as dynamicio spells it) to a builder returning named scalar
expressions; :mod:`dynio.engine.quality` evaluates them together with the rules in one ``select``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

__all__ = ["METRICS", "QUANTILES", "MetricDef", "metric_applies"]

QUANTILES = (0.5, 0.9, 0.99)


@dataclass(frozen=True)
class MetricDef:
    """A metric: a builder of ``{suffix: expression}`` and the dtypes it applies to.

    Attributes:
        name: The metric name used in YAML (``Min``, ``CountsPerLabel`` …).
        build: Column expression -> mapping of value name to scalar expression. A single value
            uses the key ``""``; ``Quantiles`` yields ``p50``/``p90``/``p99``.
        numeric_only: Whether the column must be numeric (or boolean).
        per_label: The value is a list of ``{label, count}`` structs (``CountsPerLabel``).
        quantiles: The quantiles the metric gives (``Quantiles``), for evaluators that compute
            them exactly without holding the column (streaming, partitions).
        combine: How values computed on parts of the data make the whole's: ``min``, ``max``,
            ``sum``, ``mean``/``var``/``std`` (from counts, means and sums of squares merged
            with the parallel formula) or ``distinct`` (a distinct count, by hash partitions).
    """

    name: str
    build: Callable[[pl.Expr], dict[str, pl.Expr]]
    numeric_only: bool = False
    per_label: bool = False
    quantiles: tuple[float, ...] = ()
    combine: str = ""


def _single(fn: Callable[[pl.Expr], pl.Expr]) -> Callable[[pl.Expr], dict[str, pl.Expr]]:
    return lambda c: {"": fn(c)}


def _numeric(c: pl.Expr) -> pl.Expr:
    # the evaluator hands float columns over with NaN already turned into null
    return c.cast(pl.Float64)


def _counts_per_label(c: pl.Expr) -> dict[str, pl.Expr]:
    # null is no label (dynamicio's value_counts() leaves NaN out too)
    labels = c.drop_nulls().cast(pl.String).alias("label")
    return {"": labels.value_counts(sort=True, name="count").implode()}


METRICS: dict[str, MetricDef] = {
    d.name: d
    for d in [
        MetricDef("Min", _single(lambda c: c.min()), combine="min"),
        MetricDef("Max", _single(lambda c: c.max()), combine="max"),
        MetricDef("Mean", _single(lambda c: _numeric(c).mean()), numeric_only=True, combine="mean"),
        MetricDef("Std", _single(lambda c: _numeric(c).std()), numeric_only=True, combine="std"),
        MetricDef(
            "Variance", _single(lambda c: _numeric(c).var()), numeric_only=True, combine="var"
        ),
        MetricDef("Counts", _single(lambda c: pl.len()), combine="sum"),
        # null counts as one distinct value, as in dynamicio (len(series.unique()))
        MetricDef("UniqueCounts", _single(lambda c: c.n_unique()), combine="distinct"),
        MetricDef("NullCount", _single(lambda c: c.null_count()), combine="sum"),
        MetricDef(
            "Quantiles",
            lambda c: {
                f"p{round(q * 100)}": _numeric(c).quantile(q, interpolation="linear")
                for q in QUANTILES
            },
            numeric_only=True,
            quantiles=QUANTILES,
        ),
        MetricDef("CountsPerLabel", _counts_per_label, per_label=True),
    ]
}


def metric_applies(metric: MetricDef, dtype: pl.DataType) -> bool:
    """Whether a metric can be computed on a column of this dtype."""
    if not metric.numeric_only:
        return True
    return dtype.is_numeric() or isinstance(dtype, pl.Boolean)
