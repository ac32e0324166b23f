"""Rules and metrics over data larger than memory, through Polars' streaming engine.

:func:`evaluate_streaming` gives the same :class:`~dynio.engine.quality.ValidationReport` and
metric values as :func:`~dynio.engine.quality.evaluate`, without ever holding the data: every
query it runs over the scan is one the streaming engine executes in bounded memory.

- One fused ``select`` of aggregates decides the row rules (the sum of each rule's failing-row
  mask), the aggregate rules and the scalar metrics (counts, nulls, min/max, mean, variance,
  distinct counts).
- Rules on duplicates (``has_unique_values``, ``unique_together``) are a ``group_by`` of the key
  with each group's size and first row: exact, holding one entry per distinct key.
- ``CountsPerLabel`` is a ``group_by`` of the labels.
- ``Quantiles`` are exact: histograms narrow down the bucket holding each rank until the few
  values left are collected (a handful of streaming passes, never the column).
- Failing samples are gathered only for failed rules, with a streaming ``filter`` + ``head``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from dynio.engine.metrics import METRICS
from dynio.engine.quality import (
    DEFAULT_LABEL_CAP,
    MetricValue,
    RuleFailure,
    ValidationReport,
    _built,
    _column,
    _scrubbed,
    active_checks,
)
from dynio.engine.rules import SAMPLE_SIZE, RuleExprs
from dynio.engine.spec import RuleSpec, SchemaSpec
from dynio.engine.telemetry import operation_secrets

__all__ = ["Query", "Runner", "evaluate_streaming", "exact_quantiles"]

# a query over the scanned frame (e.g. an aggregation)
Query = Callable[[pl.LazyFrame], pl.LazyFrame]
# runs a query over the scan in the streaming engine and collects its (small) answer; a
# distributed runner may give the answers of the query over each part, concatenated
Runner = Callable[[Query], pl.DataFrame]

# a quantile's candidate values are collected once at most this many are left
_COLLECT_AT_MOST = 1_000_000
_BUCKETS = 4096
_MAX_ROUNDS = 32


@dataclass(frozen=True)
class _Rule:
    index: int
    spec: RuleSpec
    exprs: RuleExprs


def _duplicates(run: Runner, rule: _Rule, schema: pl.Schema) -> tuple[int, list[Any]]:
    """A rule on duplicates: the rows whose key repeats, and the first few such keys.

    One ``group_by`` of the key with each group's size and first row; only the repeated keys
    come back.
    """
    keys = list(rule.exprs.key)
    single = rule.spec.column is not None
    # a column rule reads the column as the rule does (NaN is null), and nulls never repeat
    key_exprs = [_column(k, schema[k]).alias(k) if single else pl.col(k) for k in keys]

    def query(lf: pl.LazyFrame) -> pl.LazyFrame:
        data = lf.select(key_exprs).with_row_index("__dynio_row")
        if single:
            data = data.filter(pl.col(keys[0]).is_not_null())
        return (
            data.group_by(keys)
            .agg(pl.len().alias("__n"), pl.col("__dynio_row").min().alias("__first"))
            .filter(pl.col("__n") > 1)
        )

    dups = run(query)
    failing = int(dups["__n"].sum() or 0)
    first = dups.sort("__first").head(SAMPLE_SIZE)
    sample = first[keys[0]].to_list() if single else first.select(keys).to_dicts()
    return failing, sample


def _sample(run: Runner, b: RuleExprs) -> list[Any]:
    if b.mask is None or b.value is None:
        return []
    mask, value = b.mask, b.value
    out = run(lambda lf: lf.filter(mask).select(value.alias("v")).head(SAMPLE_SIZE))
    return out["v"].to_list()


def _detail(run: Runner, b: RuleExprs) -> list[Any]:
    """A rule's detail, evaluated on the column's distinct values (all it depends on)."""
    if b.detail is None or b.value is None:
        return []
    names = b.value.meta.root_names()
    distinct = run(lambda lf: lf.select(names).unique())
    got = distinct.lazy().select(b.detail.alias("d")).collect()["d"][0]
    return list(got) if got is not None else []


def _rule_failure(
    rule: _Rule,
    row: dict[str, Any],
    run: Runner,
    schema: pl.Schema,
    rows: int,
) -> RuleFailure | None:
    """Decide one rule from the fused row (and its own queries); its failure or ``None``."""
    b, i = rule.exprs, rule.index
    sample: list[Any] = []
    detail: list[Any] = []
    if b.key:
        count, sample = _duplicates(run, rule, schema)
        failed = count > 0
    elif b.mask is not None:
        count = int(row[f"__r{i}"] or 0)
        detail = _detail(run, b)
        failed = count > 0 or bool(detail)
        if count > 0:
            sample = _sample(run, b)
    else:
        failed = not row[f"__r{i}"]
        count = int(row[f"__f{i}"] or 0)
    if not failed:
        return None
    secrets = operation_secrets()
    return RuleFailure(
        rule=rule.spec.name,
        column=rule.spec.column,
        severity=rule.spec.severity,
        failing_count=count,
        failing_share=(count / rows) if rows else 0.0,
        sample=_scrubbed(sample, secrets),
        detail=_scrubbed(detail, secrets),
        options=dict(rule.spec.options),
    )


def _rule_exprs(rules: Sequence[_Rule]) -> list[pl.Expr]:
    exprs: list[pl.Expr] = []
    for r in rules:
        b = r.exprs
        if b.key:
            continue  # a group_by of its own
        if b.mask is not None:
            exprs.append(b.mask.sum().alias(f"__r{r.index}"))
        else:
            exprs += [b.passed.alias(f"__r{r.index}"), b.failing.alias(f"__f{r.index}")]
    return exprs


def _label_counts(run: Runner, expr: pl.Expr, label_cap: int) -> list[tuple[str, int]]:
    labels = expr.cast(pl.String).alias("label")
    out = run(
        lambda lf: lf.select(labels).drop_nulls().group_by("label").agg(pl.len().alias("count"))
    )
    out = out.sort(["count", "label"], descending=[True, False]).head(label_cap)
    return [(str(lab), int(n)) for lab, n in out.iter_rows()]


def _bucketed(x: pl.Expr, lo: float, hi: float) -> pl.Expr:
    # monotone in x, so the values of one bucket are exactly those between its min and max
    return ((x - lo) / (hi - lo) * _BUCKETS).floor().clip(0, _BUCKETS - 1).cast(pl.Int64)


def _histogram(x: pl.Expr, lo: float, hi: float) -> Query:
    """Per bucket of [lo, hi]: how many values, and their min and max."""

    def query(lf: pl.LazyFrame) -> pl.LazyFrame:
        inside = lf.select(x.alias("x")).filter(pl.col("x").is_between(lo, hi))
        return inside.group_by(_bucketed(pl.col("x"), lo, hi).alias("bucket")).agg(
            pl.len().alias("n"), pl.col("x").min().alias("lo"), pl.col("x").max().alias("hi")
        )

    return query


def _kth_pair(run: Runner, x: pl.Expr, k: int, stats: tuple[int, float, float]) -> list[float]:
    """The values of rank ``k`` and ``k + 1`` (0-based, ascending) among the non-null ``x``."""
    count, lo, hi = stats
    below = 0  # values under lo
    inside = count  # values in [lo, hi]
    for _ in range(_MAX_ROUNDS):
        if inside <= _COLLECT_AT_MOST or lo == hi:
            break
        # (answers from parts of the data, as a distributed runner gives, are merged here)
        hist = (
            run(_histogram(x, lo, hi))
            .group_by("bucket")
            .agg(pl.col("n").sum(), pl.col("lo").min(), pl.col("hi").max())
            .sort("bucket")
        )
        seen = below
        for n, blo, bhi in hist.select("n", "lo", "hi").iter_rows():
            if seen + n > k:
                lo, hi, below, inside = blo, bhi, seen, n
                break
            seen += n
    if lo == hi:
        values = [lo] * min(inside, k - below + 2)
    else:
        a, b = lo, hi
        frame = run(lambda lf: lf.select(x.alias("x")).filter(pl.col("x").is_between(a, b)))
        values = sorted(frame["x"].to_list())
    pair = values[k - below : k - below + 2]
    if len(pair) < 2 and k + 1 < count:
        after = hi
        nxt = run(lambda lf: lf.select(x.alias("x")).filter(pl.col("x") > after).min())
        pair.append(float(nxt["x"].min()))  # type: ignore[arg-type]
    return [float(v) for v in pair]


def exact_quantiles(
    run: Runner, x: pl.Expr, stats: tuple[int, float | None, float | None], qs: Sequence[float]
) -> list[float | None]:
    """Exact linear-interpolated quantiles of ``x`` (Float64, nulls ignored), as Polars gives.

    Args:
        run: Runs a query over the data in the streaming engine.
        x: The values, as a Float64 expression.
        stats: The count of non-null values, their minimum and maximum.
        qs: The quantiles wanted, each in [0, 1].
    """
    count, lo, hi = stats
    if count == 0 or lo is None or hi is None:
        return [None for _ in qs]
    out: list[float | None] = []
    for q in qs:
        h = (count - 1) * q
        k = math.floor(h)
        pair = _kth_pair(run, x, k, (count, lo, hi))
        below, above = pair[0], pair[-1]
        out.append(below + (h - k) * (above - below))
    return out


def _metric_values(
    run: Runner,
    row: dict[str, Any],
    metric_cols: Sequence[tuple[str, str]],
    schema: pl.Schema,
    dataset: str | None,
    label_cap: int,
) -> list[MetricValue]:
    secrets = operation_secrets()
    values: list[MetricValue] = []
    for j, (column, metric) in enumerate(metric_cols):
        mdef = METRICS[metric]
        c = _column(column, schema[column])
        if mdef.per_label:
            for label, n in _label_counts(run, c, label_cap):
                values.append(
                    MetricValue(dataset, column, metric, n, _scrubbed((label,), secrets)[0])
                )
        elif mdef.quantiles:
            stats = (row[f"__q{j}_n"], row[f"__q{j}_lo"], row[f"__q{j}_hi"])
            got = exact_quantiles(run, c.cast(pl.Float64), stats, mdef.quantiles)
            for q, v in zip(mdef.quantiles, got, strict=True):
                values.append(MetricValue(dataset, column, metric, v, f"p{round(q * 100)}"))
        else:
            for suffix in mdef.build(c):
                raw = row[f"__m{j}_{suffix or 'v'}"]
                if isinstance(raw, float) and not math.isfinite(raw):
                    raw = None
                elif isinstance(raw, str):
                    raw = _scrubbed((raw,), secrets)[0]
                values.append(MetricValue(dataset, column, metric, raw, suffix or None))
    return values


def _metric_exprs(metric_cols: Sequence[tuple[str, str]], schema: pl.Schema) -> list[pl.Expr]:
    exprs: list[pl.Expr] = []
    for j, (column, metric) in enumerate(metric_cols):
        mdef = METRICS[metric]
        c = _column(column, schema[column])
        if mdef.per_label:
            continue  # a group_by of its own
        if mdef.quantiles:
            x = c.cast(pl.Float64)
            exprs += [
                x.count().alias(f"__q{j}_n"),
                x.min().alias(f"__q{j}_lo"),
                x.max().alias(f"__q{j}_hi"),
            ]
            continue
        exprs += [e.alias(f"__m{j}_{s or 'v'}") for s, e in mdef.build(c).items()]
    return exprs


def evaluate_streaming(
    run: Runner,
    frame_schema: pl.Schema,
    schema: SchemaSpec | None,
    *,
    resource: str | None = None,
    env: str | None = None,
    rules: bool = True,
    metrics: bool = True,
    label_cap: int = DEFAULT_LABEL_CAP,
) -> tuple[ValidationReport, list[MetricValue]]:
    """Evaluate a schema's rules and metrics over a scan without holding its data.

    Args:
        run: Runs a query over the scan (already cast to the schema) in the streaming engine.
        frame_schema: The scan's schema.
        schema: The resource schema; ``None`` means nothing to check.
        resource: Resource name for the report.
        env: Environment name for the report.
        rules: Whether to evaluate rules.
        metrics: Whether to compute metrics.
        label_cap: At most this many labels per ``CountsPerLabel``.

    Returns:
        The same report and metric values :func:`~dynio.engine.quality.evaluate` gives.
    """
    active_rules, metric_cols = active_checks(schema, frame_schema, rules=rules, metrics=metrics)
    built = [_Rule(i, r, _built(r, frame_schema)) for i, r in enumerate(active_rules)]
    exprs = [
        pl.len().alias("__rows"),
        *_rule_exprs(built),
        *_metric_exprs(metric_cols, frame_schema),
    ]
    row = run(lambda lf: lf.select(exprs)).row(0, named=True)
    rows = int(row["__rows"])
    failures = []
    for rule in built:
        failure = _rule_failure(rule, row, run, frame_schema, rows)
        if failure is not None:
            failures.append(failure)
    report = ValidationReport(resource, env, rows, len(built), tuple(failures))
    dataset = schema.name if schema else resource
    values = _metric_values(run, row, metric_cols, frame_schema, dataset, label_cap)
    return report, values
