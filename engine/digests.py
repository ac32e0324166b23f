"""Per-column digests that decide several rules and metrics for less than their expressions.

:func:`dynio.engine.quality.evaluate` runs every rule and metric as scalar expressions in one
``select``. A few of them cost far more there than the answer needs, and are taken out of the
``select`` and answered from a digest of their column instead, with the same results:

- **labels**: the column's distinct values with their row counts (one ``group_by``, run beside
  the ``select``). ``CountsPerLabel`` is read from it, and an ``is_in`` rule on the same column
  (or on a categorical column, whose grouping is over its codes) is decided on the distinct
  values alone: a value outside the categories fails some row exactly when it is a distinct
  value. Without the digest, ``CountsPerLabel`` and ``is_in`` each hash every row again. A text
  column with ``is_in`` of a few categories is counted per category by equality in the
  ``select`` instead; only when some value is none of them is it grouped after all.
- **distinct**: the number of distinct non-null values of an integer or temporal column, for
  ``has_unique_values`` and ``UniqueCounts``. A sorted column is counted by its runs, a slice
  of each chunk at a time (no copy of the column); values within a range up to a few times the
  row count are counted by marking them in a bitmap over the range; only other columns pay
  for a hash table.

Which rows fail, and which values to show, are still found by the rules' own expressions (only
for rules that failed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from dynio.engine import rules as rules_module
from dynio.engine.rules import RuleExprs
from dynio.engine.spec import RuleSpec

__all__ = ["DIRECT_SPAN_FACTOR", "Digests", "distinct_count", "plan_digests"]

# a bitmap over at most this many slots per non-null value (and at least 64 Ki slots) counts
# distinct integers; a wider range goes to a hash table
DIRECT_SPAN_FACTOR = 4
_MIN_SPAN = 1 << 16
_MAX_SPAN = 1 << 31  # scatter indices stay within Polars' index type
_COUNT = "__dynio_count"
# values offset and marked (or compared with their neighbours) at a time: the temporaries of a
# slice this small come back from the allocator's free lists, where a column-tall one is fresh
# memory and costs a page fault per page on a fresh process (20k faults for 5 M rows)
_SLICE = 1 << 16


def _labelled(dtype: pl.DataType) -> bool:
    """Whether a column's distinct values group exactly as its labels (floats do not: NaN)."""
    return not dtype.is_float() and not isinstance(
        dtype, pl.List | pl.Array | pl.Struct | pl.Object | pl.Null
    )


def _categorical(dtype: pl.DataType) -> bool:
    return isinstance(dtype, pl.Categorical | pl.Enum)


def _countable(dtype: pl.DataType) -> bool:
    return dtype.is_integer() or dtype.is_temporal()


@dataclass
class Digests:
    """The rules and metrics taken out of the fused ``select``, and how each is answered.

    Attributes:
        label_columns: Columns whose distinct values and counts are grouped beside the select.
        distinct_columns: Columns whose distinct non-null count is computed after it.
        rules: Rule index -> the rule's name and the column whose digest decides it.
        metrics: Metric index -> the column whose digest gives it.
    """

    label_columns: list[str] = field(default_factory=list)
    counted: dict[str, tuple[str, ...]] = field(default_factory=dict)
    distinct_columns: list[str] = field(default_factory=list)
    rules: dict[int, tuple[str, str]] = field(default_factory=dict)
    metrics: dict[int, str] = field(default_factory=dict)

    def queries(self, lazy: pl.LazyFrame) -> list[pl.LazyFrame]:
        """One ``group_by`` per label column (null is a group of its own)."""
        return [lazy.group_by(c).agg(pl.len().alias(_COUNT)) for c in self.label_columns]

    def exprs(self) -> list[pl.Expr]:
        """For the select: each counted column's rows per category, and its nulls."""
        out: list[pl.Expr] = []
        for k, (column, cats) in enumerate(self.counted.items()):
            c = pl.col(column)
            out += [(c == v).sum().alias(f"__dl{k}_{n}") for n, v in enumerate(cats)]
            out.append(c.null_count().alias(f"__dl{k}_nulls"))
        return out

    def _counted_labels(
        self, data: pl.DataFrame, row: Mapping[str, Any]
    ) -> dict[str, pl.DataFrame]:
        """The counted columns' labels with counts; grouped after all when a value is not one
        of the categories (the ``is_in`` rule fails then, and every label is wanted)."""
        out: dict[str, pl.DataFrame] = {}
        for k, (column, cats) in enumerate(self.counted.items()):
            counts = [int(row[f"__dl{k}_{n}"]) for n in range(len(cats))]
            if sum(counts) + int(row[f"__dl{k}_nulls"]) != int(row["__rows"]):
                grouped = data.lazy().group_by(column).agg(pl.len().alias(_COUNT))
                out[column] = grouped.collect(engine="in-memory")
                continue
            present = [(v, n) for v, n in zip(cats, counts, strict=True) if n]
            out[column] = pl.DataFrame(
                {column: [v for v, _ in present], _COUNT: [n for _, n in present]},
                schema={column: data.schema[column], _COUNT: pl.get_index_type()},
            )
        return out

    def answer(
        self,
        data: pl.DataFrame,
        row: Mapping[str, Any],
        labels: Sequence[pl.DataFrame],
        built: Sequence[RuleExprs],
        metric_cols: Sequence[tuple[str, str]],
        label_cap: int,
    ) -> tuple[dict[int, bool], dict[int, Any]]:
        """Rule verdicts and metric values (in the form the fused select gives them)."""
        by_column = dict(zip(self.label_columns, labels, strict=True))
        by_column.update(self._counted_labels(data, row))
        distinct = {c: distinct_count(data.get_column(c)) for c in self.distinct_columns}
        verdicts: dict[int, bool] = {}
        for i, (name, column) in self.rules.items():
            if name == "is_in":  # decided on the distinct values
                verdicts[i] = bool(by_column[column].select(built[i].passed).item())
            else:  # has_unique_values
                s = data.get_column(column)
                verdicts[i] = distinct[column] == s.len() - s.null_count()
        values: dict[int, Any] = {}
        for j, column in self.metrics.items():
            if metric_cols[j][1] == "CountsPerLabel":
                values[j] = _label_counts(by_column[column], column, label_cap)
            else:  # UniqueCounts: null counts as one value, as in dynamicio
                values[j] = distinct[column] + (1 if data.get_column(column).has_nulls() else 0)
        return verdicts, values


# at most this many distinct values are ranked in Python (a lazy query's fixed cost, ~0.3 ms,
# is more than the sort of a few thousand pairs)
_FEW_LABELS = 4096


def _label_counts(grouped: pl.DataFrame, column: str, label_cap: int) -> list[dict[str, Any]]:
    """``[{label, count}]``, most frequent first (ties by label), at most ``label_cap``
    (a negative cap keeps them all here)."""
    if grouped.height <= _FEW_LABELS:
        labels = grouped.get_column(column).cast(pl.String).to_list()
        counts = grouped.get_column(_COUNT).to_list()
        # text sorts by code point, which is the order of its UTF-8 bytes (Polars' order)
        ranked_pairs = sorted(
            ((n, label) for label, n in zip(labels, counts, strict=True) if label is not None),
            key=lambda pair: (-pair[0], pair[1]),
        )
        kept = ranked_pairs if label_cap < 0 else ranked_pairs[:label_cap]
        return [{"label": label, "count": n} for n, label in kept]
    ranked = (
        grouped.lazy()
        .filter(pl.col(column).is_not_null())
        .select(pl.col(column).cast(pl.String).alias("label"), pl.col(_COUNT).alias("count"))
        .sort(["count", "label"], descending=[True, False])
    )
    # only the labels kept become Python objects (a negative cap keeps them all: the caller
    # slices from the end)
    return (ranked.head(label_cap) if label_cap >= 0 else ranked).collect().to_dicts()


def plan_digests(
    rules: Sequence[RuleSpec], metric_cols: Sequence[tuple[str, str]], schema: pl.Schema
) -> Digests:
    """Which rules and metrics to answer from digests (see the module docs)."""
    plan = Digests()
    labels = {c for c, m in metric_cols if m == "CountsPerLabel" and _labelled(schema[c])}
    labels |= {
        r.column
        for r in rules
        if r.name == "is_in" and r.column is not None and _categorical(schema[r.column])
    }
    distinct = {c for c, m in metric_cols if m == "UniqueCounts" and _countable(schema[c])} | {
        r.column
        for r in rules
        if r.name == "has_unique_values" and r.column is not None and _countable(schema[r.column])
    }
    counted = _counted(rules, labels, schema)
    plan.counted = {c: counted[c] for c in schema.names() if c in counted}
    plan.label_columns = [c for c in schema.names() if c in labels and c not in counted]
    plan.distinct_columns = [c for c in schema.names() if c in distinct]
    for i, r in enumerate(rules):
        if r.column is None:
            continue
        if (r.name == "is_in" and r.column in labels) or (
            r.name == "has_unique_values" and r.column in distinct
        ):
            plan.rules[i] = (r.name, r.column)
    for j, (c, m) in enumerate(metric_cols):
        if (m == "CountsPerLabel" and c in labels) or (m == "UniqueCounts" and c in distinct):
            plan.metrics[j] = c
    return plan


def _counted(
    rules: Sequence[RuleSpec], labels: set[str], schema: pl.Schema
) -> dict[str, tuple[str, ...]]:
    """Text label columns with an ``is_in`` rule of a few categories: counted by equality.

    When every non-null value is one of the categories (the rule holds), the counts per
    category are the labels' counts, for a few comparisons where grouping hashes every row.
    """
    out: dict[str, tuple[str, ...]] = {}
    for r in rules:
        if r.name != "is_in" or r.column not in labels:
            continue
        if not isinstance(schema[r.column], pl.String):
            continue
        values = list(r.options.get("categorical_values", ()))
        # compared as text, as the rule does (YAML 1 is "1"); a null category never matches
        cats = tuple(dict.fromkeys(str(v) for v in values if v is not None))
        if None not in values and 0 < len(cats) <= rules_module.EQUALITY_CHAIN_MAX:
            out[r.column] = cats
    return out


def distinct_count(series: pl.Series) -> int:
    """The number of distinct non-null values of an integer or temporal series."""
    s = series.drop_nulls() if series.has_nulls() else series
    if s.len() == 0:
        return 0
    if s.dtype.is_temporal():
        s = s.to_physical()
    if s.is_sorted():  # counted as runs
        return _runs(s)
    lo, hi = s.min(), s.max()
    if not isinstance(lo, int) or not isinstance(hi, int):  # pragma: no cover - ints only
        return int(s.n_unique())
    span = hi - lo + 1
    if span > min(max(DIRECT_SPAN_FACTOR * s.len(), _MIN_SPAN), _MAX_SPAN):
        return int(s.n_unique())
    # offsets from the minimum, in a type that holds every value (the narrow ones overflow),
    # made and marked a slice at a time: one column of offsets as tall as the series would be
    # fresh memory, and on a fresh process each of its pages costs a page fault
    own = s.dtype in (pl.UInt64, pl.Int128, pl.UInt128)
    low = pl.Series([lo], dtype=s.dtype if own else pl.Int64)
    seen = pl.zeros(span, dtype=pl.Boolean, eager=True)
    for start in range(0, s.len(), _SLICE):
        part = s.slice(start, _SLICE)
        seen.scatter((part if own else part.cast(pl.Int64)) - low, True)
    return int(seen.sum())


def _runs(s: pl.Series) -> int:
    """The number of runs of equal values of a non-null numeric series (its distinct values,
    when it is sorted), from zero-copy views of its chunks; Polars' own count of a sorted
    column makes it one chunk first, a copy of the whole column."""
    if s.dtype in (pl.Int128, pl.UInt128):  # no numpy type holds them
        return int(s.set_sorted().n_unique())
    runs = 0
    last: Any = None
    for chunk in s.get_chunks():
        values = chunk.to_numpy()
        if not len(values):
            continue
        if last is None or values[0] != last:
            runs += 1
        for start in range(0, len(values), _SLICE):
            piece = values[start : start + _SLICE + 1]  # overlaps the next slice by one
            runs += int(np.count_nonzero(piece[1:] != piece[:-1]))
        last = values[-1]
    return runs
