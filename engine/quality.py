"""Rules and metrics of a resource, evaluated together in ONE ``select`` over the frame.

:func:`evaluate` compiles every applied rule (:mod:`dynio.engine.rules`) and every metric
(:mod:`dynio.engine.metrics`) of a schema into scalar expressions, runs them in a single
``select``, and turns the one-row answer into a :class:`ValidationReport` and a list of
:class:`MetricValue`. Label counts, ``is_in`` and distinct counts are answered from one digest
per column instead (:mod:`dynio.engine.digests`: a grouping run beside the ``select``, counts
per category, a bitmap of integers), with the same results for less work. Failing rows and
sample values are gathered in a second ``select`` only for the rules that failed.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import weakref
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from dynio.engine import rules as rules_module
from dynio.engine.digests import Digests, plan_digests
from dynio.engine.display import MetricValues
from dynio.engine.errors import DynioError, first_line
from dynio.engine.metrics import METRICS
from dynio.engine.rules import RULES, RuleExprs, registry_generation, resolved_options
from dynio.engine.spec import RuleSpec, SchemaSpec
from dynio.engine.telemetry import operation_secrets, replace_secrets

__all__ = [
    "DEFAULT_LABEL_CAP",
    "MetricValue",
    "RuleFailure",
    "ValidationReport",
    "active_checks",
    "checked_columns",
    "evaluate",
    "log_metric_lines",
    "metric_line",
]

DEFAULT_LABEL_CAP = 100
METRICS_LOGGER = logging.getLogger("dynio.metrics")


@dataclass(frozen=True)
class RuleFailure:
    """One failed rule.

    Attributes:
        rule: Rule name.
        column: Column name, or ``None`` for a frame-level rule.
        severity: ``error`` or ``warn``.
        failing_count: Rows failing (or, for aggregate rules, the count that breached).
        failing_share: ``failing_count / rows`` (0 for an empty frame).
        sample: Up to five failing values.
        detail: Extra facts, e.g. expected categories that never appear.
        options: The rule's options, for the message.
    """

    rule: str
    column: str | None
    severity: str
    failing_count: int
    failing_share: float
    sample: tuple[Any, ...] = ()
    detail: tuple[Any, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        """A one-line explanation."""
        where = f"column {self.column!r}" if self.column else "the frame"
        text = (
            f"{self.rule} failed on {where}: {self.failing_count} failing"
            f" ({self.failing_share:.2%})"
        )
        if self.options:
            text += f", options {self.options}"
        if self.sample:
            text += f", e.g. {list(self.sample)}"
        if self.detail:
            text += f", expected but absent: {list(self.detail)}"
        return text


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of a resource's rules.

    Attributes:
        resource: Resource name.
        env: Environment name.
        rows: Rows checked.
        checked: Rules evaluated.
        failures: Every failed rule, errors and warnings, in schema order.
    """

    resource: str | None
    env: str | None
    rows: int
    checked: int
    failures: tuple[RuleFailure, ...] = ()

    @property
    def errors(self) -> tuple[RuleFailure, ...]:
        """Failed rules of severity ``error``."""
        return tuple(f for f in self.failures if f.severity == "error")

    @property
    def warnings(self) -> tuple[RuleFailure, ...]:
        """Failed rules of severity ``warn``."""
        return tuple(f for f in self.failures if f.severity == "warn")

    @property
    def ok(self) -> bool:
        """True when no error-severity rule failed."""
        return not self.errors

    def as_dynamicio(self) -> dict[str, str]:
        """The dynamicio-style view ``{rule_name: message}``.

        Two failures of one rule on two columns are both kept: the second key is suffixed with
        the column (``is_in[colour]``).
        """
        out: dict[str, str] = {}
        for f in self.failures:
            key = f.rule if f.rule not in out else f"{f.rule}[{f.column}]"
            out[key] = f.message
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form of the report."""
        return {
            "resource": self.resource,
            "env": self.env,
            "rows": self.rows,
            "checked": self.checked,
            "ok": self.ok,
            "failures": [
                {
                    "rule": f.rule,
                    "column": f.column,
                    "severity": f.severity,
                    "failing_count": f.failing_count,
                    "failing_share": f.failing_share,
                    "sample": [_jsonable(v) for v in f.sample],
                    "detail": [_jsonable(v) for v in f.detail],
                    "message": f.message,
                }
                for f in self.failures
            ],
        }

    def to_polars(self) -> pl.DataFrame:
        """One row per failed rule (rule, column, severity, counts, sample) as Polars."""
        from dynio.engine.display import report_frame

        return report_frame(self)

    def to_pandas(self) -> Any:
        """:meth:`to_polars` as a pandas DataFrame."""
        return self.to_polars().to_pandas()

    def _repr_html_(self) -> str:
        from dynio.engine.display import report_html

        return report_html(self)

    def summary(self) -> str:
        """A multi-line text listing every failure."""
        if not self.failures:
            return f"{self.checked} rules passed on {self.rows} rows"
        lines = [
            f"{len(self.errors)} error(s), {len(self.warnings)} warning(s) in {self.checked}"
            f" rules on {self.rows} rows:"
        ]
        lines += [f"  [{f.severity}] {f.message}" for f in self.failures]
        return "\n".join(lines)


@dataclass(frozen=True)
class MetricValue:
    """One metric value.

    Attributes:
        dataset: The schema's name.
        column: Column name.
        metric: Metric name (``Min``, ``Quantiles`` …).
        value: The value (``None`` when undefined, e.g. the mean of no values).
        label: For ``CountsPerLabel`` the label, for ``Quantiles`` ``p50``/``p90``/``p99``.
    """

    dataset: str | None
    column: str
    metric: str
    value: Any
    label: str | None = None


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def _scrubbed(values: Iterable[Any], secrets: tuple[str, ...]) -> tuple[Any, ...]:
    """``values`` with every configured secret in their text replaced by ``***``.

    Only the literal secrets go: other data is left as it is, whatever it looks like.
    """
    if not secrets:
        return tuple(values)
    out: list[Any] = []
    for v in values:
        if v is None or isinstance(v, bool | int | float):
            out.append(v)
            continue
        text = str(v)
        cleaned = replace_secrets(text, secrets)
        out.append(cleaned if isinstance(v, str) or cleaned != text else v)
    return tuple(out)


def _column(name: str, dtype: pl.DataType) -> pl.Expr:
    # NaN is a missing value in pandas pipelines (dynamicio's checks use isnull/notna): rules
    # and metrics treat it as null
    return pl.col(name).fill_nan(None) if dtype.is_float() else pl.col(name)


def _collect_row(
    lazy: pl.LazyFrame, exprs: list[pl.Expr], resource: str | None, env: str | None
) -> dict[str, Any]:
    return _collect_with(lazy, exprs, [], resource, env)[0]


def _collect_with(
    lazy: pl.LazyFrame,
    exprs: list[pl.Expr],
    beside: list[pl.LazyFrame],
    resource: str | None,
    env: str | None,
) -> tuple[dict[str, Any], list[pl.DataFrame]]:
    """The one-row answer of ``exprs``, and the frames of ``beside`` computed alongside.

    The data is in memory already: Polars' in-memory engine evaluates these aggregations in
    one pass, where the streaming engine (what ``engine="auto"`` picks) costs about half as
    much again and forgoes the shortcuts it has for sorted columns.
    """
    try:
        frames = pl.collect_all([lazy.select(exprs), *beside], engine="in-memory")
    except pl.exceptions.PolarsError as exc:
        raise _evaluation_error(exc, resource, env) from exc
    return frames[0].row(0, named=True), frames[1:]


def _evaluation_error(exc: Exception, resource: str | None, env: str | None) -> DynioError:
    text = first_line(exc)
    message = f"rules or metrics could not be evaluated: {text}"
    return DynioError(message, resource=resource, env=env)


def _built(rule: RuleSpec, schema: pl.Schema) -> RuleExprs:
    rdef = RULES.get(rule.name)
    if rdef is None:  # unregistered (unregister_rule) after the catalog loaded
        raise DynioError(f"rule {rule.name!r} is no longer registered", column=rule.column)
    dtype = schema.get(rule.column) if rule.column is not None else None
    col = _column(rule.column, dtype) if rule.column is not None and dtype is not None else None
    return rdef.build(col, resolved_options(rdef, rule.options), dtype)


def active_checks(
    schema: SchemaSpec | None, frame_schema: pl.Schema, *, rules: bool, metrics: bool
) -> tuple[list[RuleSpec], list[tuple[str, str]]]:
    """The applied rules and the ``(column, metric)`` pairs to evaluate on a frame.

    Rules and metrics on columns the frame lacks (a projected read) are left out.
    """
    active_rules = [r for r in schema.all_rules if r.apply] if (schema and rules) else []
    metric_cols = (
        [(c.name, m) for c in schema.columns for m in c.metrics] if (schema and metrics) else []
    )
    present = set(frame_schema.names())
    active_rules = [
        r
        for r in active_rules
        if (r.column is None or r.column in present)
        and set(r.options.get("columns", ()) if r.column is None else ()) <= present
    ]
    return active_rules, [(c, m) for c, m in metric_cols if c in present]


def checked_columns(
    schema: SchemaSpec, frame_schema: pl.Schema, *, rules: bool, metrics: bool
) -> list[str]:
    """The columns the applied rules and the metrics read (in the frame's order): every column
    their expressions name, so a frame of these alone gives :func:`evaluate` the same answers.
    From the checks as :func:`evaluate` prepares them (made once per schema)."""
    prepared = _prepared(schema, frame_schema, rules, metrics)
    named = {column for column, _ in prepared.metric_cols}
    exprs = list(prepared.exprs)
    for rule, b in zip(prepared.active_rules, prepared.built, strict=True):
        exprs += [
            e for e in (b.passed, b.failing, b.sample, b.detail, b.mask, b.value) if e is not None
        ]
        named.update(b.key)
        if rule.column is not None:
            named.add(rule.column)
    for e in exprs:
        named.update(e.meta.root_names())
    return [c for c in frame_schema.names() if c in named]


def evaluate(
    frame: pl.DataFrame | pl.LazyFrame,
    schema: SchemaSpec | None,
    *,
    resource: str | None = None,
    env: str | None = None,
    rules: bool = True,
    metrics: bool = True,
    label_cap: int = DEFAULT_LABEL_CAP,
) -> tuple[ValidationReport, list[MetricValue]]:
    """Evaluate a schema's applied rules and its metrics.

    One ``select`` (and the column digests of :mod:`dynio.engine.digests`, run beside it)
    decides every rule and computes every metric. Only when some rules fail does
    a second ``select`` gather, for those rules alone, their failing counts and sample values
    (finding which rows repeat costs far more than knowing that some do).

    Args:
        frame: The data, already cast to the schema (a LazyFrame is collected once).
        schema: The schema; ``None`` means nothing to check.
        resource: Resource name for the report.
        env: Environment name for the report.
        rules: Whether to evaluate rules.
        metrics: Whether to compute metrics.
        label_cap: At most this many labels per ``CountsPerLabel`` (most frequent first).

    Returns:
        The validation report and the metric values.
    """
    # a lazy input is produced once: the second select (failures only) reads the collected frame
    data = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
    lazy = data.lazy()
    if schema is None or not (rules or metrics):
        return ValidationReport(resource, env, data.height, 0), []
    prepared = _prepared(schema, data.schema, rules, metrics)
    active_rules, metric_cols = prepared.active_rules, prepared.metric_cols
    if not active_rules and not metric_cols:
        return ValidationReport(resource, env, data.height, 0), []
    built, digests, metric_names = prepared.built, prepared.digests, prepared.metric_names
    row, labels = _collect_with(lazy, prepared.exprs, digests.queries(lazy), resource, env)
    try:
        verdicts, digested = digests.answer(data, row, labels, built, metric_cols, label_cap)
    except pl.exceptions.PolarsError as exc:
        raise _evaluation_error(exc, resource, env) from exc
    row.update({f"__r{i}": ok for i, ok in verdicts.items()})
    row.update({metric_names[j][2][""]: value for j, value in digested.items()})
    rows = int(row["__rows"])
    dataset = schema.name if schema else resource

    failed = [i for i in range(len(built)) if not row[f"__r{i}"]]
    # data may hold a configured secret (a password pasted into a column): it must not reach
    # the messages, logs and metric attributes made of failing values and labels
    secrets = operation_secrets()
    failures = _failures(lazy, built, active_rules, failed, rows, secrets, resource, env)
    report = ValidationReport(resource, env, rows, len(active_rules), tuple(failures))
    return report, _metric_values(row, metric_names, dataset, label_cap, secrets)


@dataclass(frozen=True)
class _Prepared:
    """What :func:`evaluate` makes of a schema for a frame's columns before it looks at data:
    the applied rules and metrics, their expressions, the digests and the fused ``select``."""

    active_rules: list[RuleSpec]
    metric_cols: list[tuple[str, str]]
    built: list[RuleExprs]
    digests: Digests
    exprs: list[pl.Expr]
    metric_names: list[tuple[str, str, dict[str, str]]]


# Prepared checks by (schema, the frame's columns, rules?, metrics?, what the builders read
# besides: the rule registry's generation and the equality-chain bound). A resource read again
# (small files, a pipeline's every batch) builds its ~100 expressions once, where building
# them cost more than checking a 1,000-row frame. A schema is held weakly: its entries go with
# it (a schema made for one call, as ``dynio.validate`` makes, holds no memory after it), and
# the oldest entries go beyond _PREPARED_MAX.
_Key = tuple[int, tuple[tuple[str, pl.DataType], ...], bool, bool, int, int]
_PREPARED: OrderedDict[_Key, tuple[weakref.ref[SchemaSpec], _Prepared]] = OrderedDict()
_PREPARED_MAX = 256
_PREPARED_LOCK = threading.Lock()
_WATCHED: set[int] = set()  # ids of the schemas whose entries go when they do
# ids of schemas gone since: appended by their finalizers, which may run anywhere (inside this
# module's lock too), and dropped from the cache by the next _prepared
_GONE: deque[int] = deque()


def _prepared(schema: SchemaSpec, frame_schema: pl.Schema, rules: bool, metrics: bool) -> _Prepared:
    """The checks prepared for these columns, made once per schema and column types."""
    key: _Key = (
        id(schema),
        tuple(frame_schema.items()),
        rules,
        metrics,
        registry_generation(),
        rules_module.EQUALITY_CHAIN_MAX,
    )
    try:
        with _PREPARED_LOCK:
            _drop_gone()
            hit = _PREPARED.get(key)
            if hit is not None and hit[0]() is schema:
                _PREPARED.move_to_end(key)
                return hit[1]
    except TypeError:  # a dtype that cannot be hashed: prepared for this frame only
        return _prepare(schema, frame_schema, rules, metrics)
    made = _prepare(schema, frame_schema, rules, metrics)
    with _PREPARED_LOCK:
        if id(schema) not in _WATCHED:
            _WATCHED.add(id(schema))
            weakref.finalize(schema, _GONE.append, id(schema))
        _PREPARED[key] = (weakref.ref(schema), made)
        _PREPARED.move_to_end(key)
        while len(_PREPARED) > _PREPARED_MAX:
            _PREPARED.popitem(last=False)
    return made


def _drop_gone() -> None:
    """Drop the entries of the schemas gone since the last call (under the lock)."""
    if not _GONE:
        return
    gone = set()
    while _GONE:
        gone.add(_GONE.popleft())
    _WATCHED.difference_update(gone)
    for key in [k for k in _PREPARED if k[0] in gone]:
        del _PREPARED[key]


def _prepare(schema: SchemaSpec, frame_schema: pl.Schema, rules: bool, metrics: bool) -> _Prepared:
    active_rules, metric_cols = active_checks(schema, frame_schema, rules=rules, metrics=metrics)
    built = [_built(rule, frame_schema) for rule in active_rules]
    # rules and metrics answered from per-column digests rather than in the select
    digests = plan_digests(active_rules, metric_cols, frame_schema)
    exprs: list[pl.Expr] = [pl.len().alias("__rows")]
    exprs += [b.passed.alias(f"__r{i}") for i, b in enumerate(built) if i not in digests.rules]
    metric_names: list[tuple[str, str, dict[str, str]]] = []
    for j, (column, metric) in enumerate(metric_cols):
        dtype = frame_schema[column]
        parts = METRICS[metric].build(_column(column, dtype), dtype)
        names = {suffix: f"__m{j}_{suffix or 'v'}" for suffix in parts}
        if j not in digests.metrics:
            exprs += [expr.alias(names[s]) for s, expr in parts.items()]
        metric_names.append((column, metric, names))
    exprs += digests.exprs()
    return _Prepared(active_rules, metric_cols, built, digests, exprs, metric_names)


def _failures(
    lazy: pl.LazyFrame,
    built: Sequence[RuleExprs],
    active_rules: Sequence[RuleSpec],
    failed: Sequence[int],
    rows: int,
    secrets: tuple[str, ...],
    resource: str | None,
    env: str | None,
) -> list[RuleFailure]:
    """The failed rules, with failing counts and samples from one more ``select``."""
    if not failed:
        return []
    more: list[pl.Expr] = []
    for i in failed:
        sample, detail = built[i].sample, built[i].detail
        more.append(built[i].failing.alias(f"__f{i}"))
        if sample is not None:
            more.append(sample.alias(f"__s{i}"))
        if detail is not None:
            more.append(detail.alias(f"__d{i}"))
    details = _collect_row(lazy, more, resource, env)
    failures = []
    for i in failed:
        rule = active_rules[i]
        count = int(details[f"__f{i}"] or 0)
        failures.append(
            RuleFailure(
                rule=rule.name,
                column=rule.column,
                severity=rule.severity,
                failing_count=count,
                failing_share=(count / rows) if rows else 0.0,
                sample=_scrubbed(details.get(f"__s{i}") or (), secrets),
                detail=_scrubbed(details.get(f"__d{i}") or (), secrets),
                options=dict(rule.options),
            )
        )
    return failures


def _metric_values(
    row: Mapping[str, Any],
    metric_names: Sequence[tuple[str, str, dict[str, str]]],
    dataset: str | None,
    label_cap: int,
    secrets: tuple[str, ...],
) -> list[MetricValue]:
    """The metric values read from the first ``select``'s row, secrets scrubbed."""
    values: list[MetricValue] = MetricValues()
    for column, metric, names in metric_names:
        if METRICS[metric].per_label:
            counts = row[names[""]] or []
            for item in counts[:label_cap]:
                label = _scrubbed((item["label"],), secrets)[0]
                values.append(MetricValue(dataset, column, metric, item["count"], label))
            continue
        for suffix, alias in names.items():
            raw = row[alias]
            if isinstance(raw, float) and not math.isfinite(raw):
                raw = None  # NaN/inf: no defined value
            elif isinstance(raw, str):
                raw = _scrubbed((raw,), secrets)[0]  # Min/Max of a text column
            values.append(MetricValue(dataset, column, metric, raw, suffix or None))
    return values


def metric_line(value: MetricValue) -> str:
    """The dynamicio-compatible JSON line for one metric value (always valid JSON).

    As in dynamicio, ``CountsPerLabel`` names the label in the column (``colour-red``);
    ``Quantiles`` names the quantile in the metric (``Quantiles-p90``).
    """
    column, metric = value.column, value.metric
    if value.label is not None:
        if metric == "CountsPerLabel":
            column = f"{column}-{value.label}"
        else:
            metric = f"{metric}-{value.label}"
    return json.dumps(
        {
            "message": "METRIC",
            "dataset": value.dataset,
            "column": column,
            "metric": metric,
            "value": _jsonable(value.value),
        },
        allow_nan=False,
    )


def log_metric_lines(
    values: Iterable[MetricValue], logger: logging.Logger = METRICS_LOGGER
) -> None:
    """Log one JSON line per metric value on the ``dynio.metrics`` logger (level INFO)."""
    if not logger.isEnabledFor(logging.INFO):
        return
    for v in values:
        logger.info(metric_line(v))
