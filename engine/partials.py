"""Rules and metrics merged from the parts of a frame (Dask partitions), exactly, in one pass.

Each part gives a :data:`Partial`: its row count, the null counts, each row rule's failing count
and first failing values, the categories it lacks, the min/max/sums of the metrics, the count,
mean and sum of squared deviations of each numeric column (merged with the parallel formula of
Chan et al.), its label counts and, for quantiles, the count and range. :func:`merge` is
associative, so the partials reduce in a tree. Rules on duplicates and distinct counts need all
the data at once: each part also gives its keys, counted and hashed into buckets
(:meth:`Checks.key_pieces`); each bucket is reduced on its own (:func:`bucket_result`), so no
task ever holds more than one bucket of keys. :meth:`Checks.finalize` turns the merged partial
and the bucket results into the :class:`~dynio.engine.quality.ValidationReport` and metric
values :func:`~dynio.engine.quality.evaluate` gives on the whole frame. Exact quantiles take a
few extra passes (histograms, as in :mod:`dynio.engine.streaming`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from dynio.engine.errors import DynioError
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
from dynio.engine.streaming import Runner, exact_quantiles
from dynio.engine.telemetry import operation_secrets

__all__ = ["Checks", "KeyResult", "Partial", "bucket_result", "merge", "merge_keys"]

Partial = dict[str, Any]
# rows of a part are ordered by (part << 32 | row): first failing values come out in data order
_ROW_BITS = 32


@dataclass(frozen=True)
class _Key:
    """Keys whose distinct values are counted: one column read as rules read it (NaN is null),
    or several raw columns."""

    columns: tuple[str, ...]
    single: bool


@dataclass(frozen=True)
class KeyResult:
    """One key over all the data: distinct values, rows whose (non-null) key repeats, and the
    first repeated keys as ``(order, value)``."""

    distinct: int
    failing: int
    sample: tuple[tuple[int, Any], ...]


def _first(items: Sequence[tuple[int, Any]]) -> list[tuple[int, Any]]:
    return sorted(items, key=lambda t: t[0])[:SAMPLE_SIZE]


def _combine_value(kind: str, a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    if kind == "min":
        return a if a <= b else b
    if kind == "max":
        return a if a >= b else b
    return a + b


def _chan(a: tuple[int, float, float], b: tuple[int, float, float]) -> tuple[int, float, float]:
    """Counts, means and sums of squared deviations of two parts, merged (Chan et al.)."""
    na, ma, m2a = a
    nb, mb, m2b = b
    if na == 0:
        return b
    if nb == 0:
        return a
    n = na + nb
    delta = mb - ma
    return n, ma + delta * nb / n, m2a + m2b + delta * delta * na * nb / n


def merge(a: Partial, b: Partial) -> Partial:
    """Two partials as one (associative; samples keep data order by their row order keys)."""
    out: Partial = {"rows": a["rows"] + b["rows"], "bytes": a.get("bytes", 0) + b.get("bytes", 0)}
    out["staged"] = a.get("staged", []) + b.get("staged", [])  # what the parts wrote, if any
    out["nulls"] = {k: a["nulls"][k] + b["nulls"][k] for k in a["nulls"]}
    out["fail"] = {k: a["fail"][k] + b["fail"][k] for k in a["fail"]}
    out["sample"] = {k: _first(a["sample"][k] + b["sample"][k]) for k in a["sample"]}
    out["missing"] = {k: [v for v in a["missing"][k] if v in b["missing"][k]] for k in a["missing"]}
    out["m"] = {k: (kind, _combine_value(kind, v, b["m"][k][1])) for k, (kind, v) in a["m"].items()}
    out["mom"] = {k: _chan(a["mom"][k], b["mom"][k]) for k in a["mom"]}
    out["hll"] = {
        k: (n + b["hll"][k][0], np.maximum(regs, b["hll"][k][1]))
        for k, (n, regs) in a.get("hll", {}).items()
    }
    labels: dict[int, dict[str, int]] = {}
    for k, counts in a["labels"].items():
        merged = dict(counts)
        for label, n in b["labels"][k].items():
            merged[label] = merged.get(label, 0) + n
        labels[k] = merged
    out["labels"] = labels
    out["qs"] = {
        k: (
            n + b["qs"][k][0],
            _combine_value("min", lo, b["qs"][k][1]),
            _combine_value("max", hi, b["qs"][k][2]),
        )
        for k, (n, lo, hi) in a["qs"].items()
    }
    return out


def bucket_result(
    pieces: Sequence[Sequence[pl.DataFrame]], keys: Sequence[_Key]
) -> list[KeyResult]:
    """One hash bucket of every key, from the pieces each part gave (``pieces[part][key]``)."""
    out = []
    for s, key in enumerate(keys):
        frames = [p[s] for p in pieces if p[s].height]
        if not frames:
            out.append(KeyResult(0, 0, ()))
            continue
        cols = list(key.columns)
        groups = pl.concat(frames).group_by(cols).agg(pl.col("__n").sum(), pl.col("__order").min())
        dups = groups.filter(pl.col("__n") > 1)
        if key.single:
            dups = dups.filter(pl.col(cols[0]).is_not_null())
        first = dups.sort("__order").head(SAMPLE_SIZE)
        values = first[cols[0]].to_list() if key.single else first.select(cols).to_dicts()
        out.append(
            KeyResult(
                groups.height,
                int(dups["__n"].sum() or 0),
                tuple(zip(first["__order"].to_list(), values, strict=True)),
            )
        )
    return out


def merge_keys(results: Sequence[Sequence[KeyResult]]) -> list[KeyResult]:
    """The results of every bucket (``results[bucket][key]``) as one per key."""
    if not results:
        return []
    out = []
    for s in range(len(results[0])):
        parts = [r[s] for r in results]
        out.append(
            KeyResult(
                sum(p.distinct for p in parts),
                sum(p.failing for p in parts),
                tuple(_first([x for p in parts for x in p.sample])),
            )
        )
    return out


# HyperLogLog (approximate mode): 2**14 registers, ~0.8 % standard error
_HLL_BITS = 14


def _hll(hashes: Any) -> Any:
    """The HyperLogLog registers of 64-bit hashes (a uint8 array of ``2**_HLL_BITS``)."""
    h = np.asarray(hashes, dtype=np.uint64)
    registers = np.zeros(1 << _HLL_BITS, dtype=np.uint8)
    if not len(h):
        return registers
    index = (h >> np.uint64(64 - _HLL_BITS)).astype(np.int64)
    rest = h << np.uint64(_HLL_BITS)
    width = 64 - _HLL_BITS
    # the position of the first 1 bit of the remaining bits (their leading zeros + 1)
    top = np.floor(np.log2(np.maximum(rest, 1).astype(np.float64))).astype(np.int64)
    rank = np.where(rest == 0, width + 1, 64 - top).clip(1, width + 1).astype(np.uint8)
    np.maximum.at(registers, index, rank)
    return registers


def _hll_estimate(registers: Any) -> int:
    m = float(len(registers))
    alpha = 0.7213 / (1 + 1.079 / m)
    estimate = alpha * m * m / float(np.sum(np.power(2.0, -registers.astype(np.float64))))
    zeros = int(np.count_nonzero(registers == 0))
    if estimate <= 2.5 * m and zeros:
        estimate = m * math.log(m / zeros)  # small counts: linear counting
    return round(estimate)


@dataclass(frozen=True)
class _Rule:
    index: int
    spec: RuleSpec
    exprs: RuleExprs


class Checks:
    """A schema's rules and metrics compiled for a frame schema, as partials to merge.

    Built the same on the client and on every worker (from the same spec and frame schema).
    With ``approximate``, distinct counts come from HyperLogLog sketches merged with the other
    partials (no bucket tasks, no shuffle; about 1 % error) and the duplicate rules fail on an
    estimate: only when the rows beyond the first of each key exceed the sketch's error (about
    2.5 % of the rows); ``failing_count`` is then that estimate, and there is no sample.
    """

    def __init__(
        self,
        schema: SchemaSpec | None,
        frame_schema: pl.Schema,
        *,
        rules: bool = True,
        metrics: bool = True,
        approximate: bool = False,
    ) -> None:
        active, metric_cols = active_checks(schema, frame_schema, rules=rules, metrics=metrics)
        self.approximate = approximate
        self.schema = schema
        self.frame_schema = frame_schema
        self.rules = [_Rule(i, r, _built(r, frame_schema)) for i, r in enumerate(active)]
        self.metric_cols = metric_cols
        keys: list[_Key] = []
        for r in self.rules:
            if r.exprs.key:
                keys.append(_Key(r.exprs.key, r.spec.column is not None))
            elif r.exprs.mask is None and r.exprs.from_counts is None:
                raise DynioError(
                    f"rule {r.spec.name!r} cannot be merged from partitions", column=r.spec.column
                )
        for column, metric in metric_cols:
            if METRICS[metric].combine == "distinct":
                keys.append(_Key((column,), True))
        self.keys = list(dict.fromkeys(keys))

    def _c(self, column: str) -> pl.Expr:
        return _column(column, self.frame_schema[column])

    def _null_columns(self) -> list[str]:
        cols = [r.spec.column for r in self.rules if r.exprs.from_counts and r.spec.column]
        return list(dict.fromkeys(c for c in cols if c is not None))

    def _exprs(self) -> list[pl.Expr]:
        exprs = [pl.len().alias("rows")]
        exprs += [self._c(c).null_count().alias(f"nulls:{c}") for c in self._null_columns()]
        for r in self.rules:
            if r.exprs.mask is not None:
                exprs.append(r.exprs.mask.sum().alias(f"fail:{r.index}"))
                if r.exprs.detail is not None:
                    exprs.append(r.exprs.detail.alias(f"missing:{r.index}"))
        for j, (column, metric) in enumerate(self.metric_cols):
            mdef, c = METRICS[metric], self._c(column)
            if mdef.combine in ("min", "max", "sum"):
                exprs.append(mdef.build(c)[""].alias(f"m:{j}"))
            elif mdef.combine in ("mean", "var", "std"):
                x = c.cast(pl.Float64)
                exprs += [
                    x.count().alias(f"n:{j}"),
                    x.mean().alias(f"mean:{j}"),
                    x.var().alias(f"var:{j}"),
                ]
            elif mdef.quantiles:
                x = c.cast(pl.Float64)
                exprs += [
                    x.count().alias(f"qn:{j}"),
                    x.min().alias(f"qlo:{j}"),
                    x.max().alias(f"qhi:{j}"),
                ]
        return exprs

    def partial(self, frame: pl.DataFrame, part: int) -> Partial:
        """The partial aggregates of one part (the ``part``-th, for the order of samples)."""
        row = frame.select(self._exprs()).row(0, named=True)
        base = part << _ROW_BITS
        indexed = frame.with_row_index("__row")
        sample: dict[int, list[tuple[int, Any]]] = {}
        for r in self.rules:
            if r.exprs.mask is not None and r.exprs.value is not None:
                got = (
                    indexed.filter(r.exprs.mask)
                    .select("__row", r.exprs.value.alias("v"))
                    .head(SAMPLE_SIZE)
                )
                sample[r.index] = [(base + i, v) for i, v in got.iter_rows()]
        moments: dict[int, tuple[int, float, float]] = {}
        labels: dict[int, dict[str, int]] = {}
        for j, (column, metric) in enumerate(self.metric_cols):
            mdef = METRICS[metric]
            if mdef.combine in ("mean", "var", "std"):
                n = int(row[f"n:{j}"])
                var = row[f"var:{j}"]
                m2 = float(var) * (n - 1) if var is not None and n > 1 else 0.0
                moments[j] = (n, float(row[f"mean:{j}"] or 0.0), m2)
            elif mdef.per_label:
                counts = (
                    frame.select(self._c(column).cast(pl.String).alias("l"))
                    .drop_nulls()
                    .group_by("l")
                    .len()
                )
                labels[j] = dict(counts.iter_rows())
        sketches = {
            k: (int(keyrows), _hll(hashes)) for k, (keyrows, hashes) in self._hashes(frame).items()
        }
        return {
            "hll": sketches,
            "rows": int(row["rows"]),
            "nulls": {c: int(row[f"nulls:{c}"]) for c in self._null_columns()},
            "fail": {
                r.index: int(row[f"fail:{r.index}"] or 0)
                for r in self.rules
                if r.exprs.mask is not None
            },
            "sample": sample,
            "missing": {
                r.index: list(row[f"missing:{r.index}"] or [])
                for r in self.rules
                if r.exprs.mask is not None and r.exprs.detail is not None
            },
            "m": {
                j: (METRICS[m].combine, row[f"m:{j}"])
                for j, (_, m) in enumerate(self.metric_cols)
                if METRICS[m].combine in ("min", "max", "sum")
            },
            "mom": moments,
            "labels": labels,
            "qs": {
                j: (int(row[f"qn:{j}"]), row[f"qlo:{j}"], row[f"qhi:{j}"])
                for j, (_, m) in enumerate(self.metric_cols)
                if METRICS[m].quantiles
            },
        }

    def _hashes(self, frame: pl.DataFrame) -> dict[int, tuple[int, Any]]:
        """(approximate mode) Per key: the rows it counts and the hashes of their keys."""
        if not self.approximate:
            return {}
        out = {}
        for k, key in enumerate(self.keys):
            cols = list(key.columns)
            if key.single:
                values = frame.select(self._c(cols[0]).alias("k")).drop_nulls()
                hashed = values.select(pl.col("k").hash(seed=17))
            else:
                hashed = frame.select(pl.struct(cols).hash(seed=17))
            out[k] = (hashed.height, hashed.to_series().to_numpy())
        return out

    def approximate_keys(self, total: Partial) -> list[KeyResult]:
        """(approximate mode) Each key's estimated distinct count and repeated rows."""
        out = []
        for k, key in enumerate(self.keys):
            counted, registers = total["hll"][k]
            distinct = min(counted, _hll_estimate(registers))
            nulls = total["rows"] - counted if key.single else 0
            surplus = counted - distinct
            # a surplus within three standard errors of the sketch may be its error alone
            noise = 3 * 1.04 / math.sqrt(len(registers)) * counted
            failing = surplus if surplus > noise else 0
            out.append(KeyResult(distinct + (1 if nulls else 0), failing, ()))
        return out

    def key_pieces(self, frame: pl.DataFrame, part: int, buckets: int) -> list[list[pl.DataFrame]]:
        """Each key's distinct values in this part, counted, split by hash: ``[bucket][key]``."""
        out: list[list[pl.DataFrame]] = [[] for _ in range(buckets)]
        base = part << _ROW_BITS
        for key in self.keys:
            cols = list(key.columns)
            exprs = [self._c(c).alias(c) for c in cols] if key.single else [pl.col(c) for c in cols]
            counted = (
                frame.select(exprs)
                .with_row_index("__row")
                .group_by(cols)
                .agg(
                    pl.len().cast(pl.Int64).alias("__n"),
                    (pl.col("__row").min().cast(pl.Int64) + base).alias("__order"),
                )
                .with_columns((pl.struct(cols).hash(seed=17) % buckets).alias("__bucket"))
            )
            split = counted.partition_by("__bucket", as_dict=True, include_key=False)
            empty = counted.drop("__bucket").clear()
            for b in range(buckets):
                out[b].append(split.get((b,), empty))
        return out

    def _key_of(self, columns: tuple[str, ...], single: bool) -> int:
        return self.keys.index(_Key(columns, single))

    def _failure(self, r: _Rule, total: Partial, keys: Sequence[KeyResult]) -> RuleFailure | None:
        b = r.exprs
        sample: list[Any] = []
        detail: list[Any] = []
        if b.key:
            found = keys[self._key_of(b.key, r.spec.column is not None)]
            count, sample = found.failing, [v for _, v in found.sample]
            failed = count > 0
        elif b.mask is not None:
            count = total["fail"][r.index]
            sample = [v for _, v in total["sample"].get(r.index, [])]
            detail = list(total["missing"].get(r.index, []))
            failed = count > 0 or bool(detail)
        elif b.from_counts is not None:
            decide = b.from_counts
            nulls = total["nulls"].get(r.spec.column, 0) if r.spec.column else 0
            passed, count = decide(total["rows"], nulls)
            failed = not passed
        else:  # never: Checks refuses such rules when built
            return None
        if not failed:
            return None
        secrets = operation_secrets()
        rows = total["rows"]
        return RuleFailure(
            rule=r.spec.name,
            column=r.spec.column,
            severity=r.spec.severity,
            failing_count=count,
            failing_share=(count / rows) if rows else 0.0,
            sample=_scrubbed(sample, secrets),
            detail=_scrubbed(detail, secrets),
            options=dict(r.spec.options),
        )

    def _metric(
        self, j: int, total: Partial, keys: Sequence[KeyResult], run: Runner, label_cap: int
    ) -> list[tuple[Any, str | None]]:
        """``(value, label)`` pairs of the ``j``-th metric."""
        column, metric = self.metric_cols[j]
        mdef = METRICS[metric]
        if mdef.per_label:
            ranked = sorted(total["labels"][j].items(), key=lambda t: (-t[1], t[0]))
            return [(n, label) for label, n in ranked[:label_cap]]
        if mdef.quantiles:
            x = self._c(column).cast(pl.Float64)
            got = exact_quantiles(run, x, total["qs"][j], mdef.quantiles)
            return [(v, f"p{round(q * 100)}") for q, v in zip(mdef.quantiles, got, strict=True)]
        if mdef.combine == "distinct":
            return [(keys[self._key_of((column,), True)].distinct, None)]
        if mdef.combine in ("mean", "var", "std"):
            n, mean, m2 = total["mom"][j]
            var = m2 / (n - 1) if n > 1 else None
            value = {
                "mean": mean if n > 0 else None,
                "var": var,
                "std": math.sqrt(var) if var is not None else None,
            }[mdef.combine]
            return [(value, None)]
        return [(total["m"][j][1], None)]

    def finalize(
        self,
        total: Partial,
        keys: Sequence[KeyResult],
        run: Runner,
        *,
        resource: str | None = None,
        env: str | None = None,
        label_cap: int = DEFAULT_LABEL_CAP,
    ) -> tuple[ValidationReport, list[MetricValue]]:
        """The report and metric values of the whole data, from the merged partial, the keys'
        results and ``run`` (a query over every part, for exact quantiles)."""
        failures = [f for r in self.rules if (f := self._failure(r, total, keys)) is not None]
        report = ValidationReport(resource, env, total["rows"], len(self.rules), tuple(failures))
        dataset = self.schema.name if self.schema else resource
        secrets = operation_secrets()
        values: list[MetricValue] = []
        for j, (column, metric) in enumerate(self.metric_cols):
            for raw, label in self._metric(j, total, keys, run, label_cap):
                if isinstance(raw, float) and not math.isfinite(raw):
                    raw = None
                elif isinstance(raw, str):
                    raw = _scrubbed((raw,), secrets)[0]
                if label is not None and METRICS[metric].per_label:
                    label = _scrubbed((label,), secrets)[0]
                values.append(MetricValue(dataset, column, metric, raw, label))
        return report, values
