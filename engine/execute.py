"""Executing reads and writes: collect, cast, validate, measure, sink.

The facade calls :func:`read` and :func:`write`; both take and give Polars frames only. Every
stage runs in its own span under ``dynio.read`` / ``dynio.write``.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import polars as pl
from opentelemetry.trace import Span

from dynio.engine import read_path
from dynio.engine.casts import diagnose, plan_casts
from dynio.engine.collect import MixedRead, cast_error, collect, collect_arrow, collect_chosen
from dynio.engine.errors import (
    CastError,
    DynioError,
    ReadError,
    SchemaError,
    ValidationError,
)
from dynio.engine.filters import FilterLike
from dynio.engine.plan import (
    Bound,
    Plan,
    PlanInfo,
    bind,
    check_template_args,
    plan_read,
    source_module,
)
from dynio.engine.plan_cache import PlanCache
from dynio.engine.quality import (
    DEFAULT_LABEL_CAP,
    MetricValue,
    RuleFailure,
    ValidationReport,
    active_checks,
    checked_columns,
    evaluate,
    log_metric_lines,
)
from dynio.engine.result import Result
from dynio.engine.rules import BUILTIN_RULES
from dynio.engine.sources import SourceKind, WriteInfo, WriteRequest, kind_for
from dynio.engine.spec import EnvSpec, ResourceSpec, SchemaSpec
from dynio.engine.telemetry import (
    bind_source,
    current_operation,
    enabled,
    file_bytes,
    operation,
    record_quality,
    record_read,
    record_write,
    reported,
    set_attributes,
    set_operation_attributes,
    span,
    validation_outcome,
    values_included,
)

__all__ = ["Result", "WriteResult", "collect", "collect_arrow", "conform", "read", "write"]

logger = logging.getLogger("dynio")


# the hand-off (e.g. to pandas) of frames at least this tall runs beside the rules and metrics
OVERLAP_ROWS = 20_000
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _handoff_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="dynio-handoff"
            )
        return _pool


def _has_checks(schema: SchemaSpec | None, *, validate: bool, metrics: bool) -> bool:
    """Whether the schema gives rules or metrics to run."""
    if schema is None:
        return False
    return (validate and any(r.apply for r in schema.all_rules)) or (
        metrics and any(c.metrics for c in schema.columns)
    )


def _start_handoff(convert: Callable[[pl.DataFrame], Any], frame: pl.DataFrame) -> Future[Any]:
    """Run ``convert(frame)`` on a worker, in a copy of this context (so its spans nest here)."""
    ctx = contextvars.copy_context()
    return _handoff_pool().submit(ctx.run, convert, frame)


@dataclass(frozen=True)
class WriteResult:
    """The outcome of a write: what was written, where, and what the checks found."""

    info: WriteInfo
    report: ValidationReport
    metrics: list[MetricValue] = field(default_factory=list)

    def _repr_html_(self) -> str:
        from dynio.engine.display import result_html

        return result_html("write", self.info.location, self.info.rows, self.report, self.metrics)


# reads of files replaced while they were read are made again, at most this many times in all
READ_ATTEMPTS = 5


def _read_consistently(
    planned: Callable[[], Plan],
    arrow_wanted: bool,
    checked: Callable[[Plan], frozenset[str]] | None = None,
) -> tuple[Plan, Any]:
    """Plan and collect, again when the source says its files were replaced under the read.

    A reader keeps a file's footer from planning to reading: a file replaced in between (a
    writer renaming a new version over it) is read half from each version, which fails or,
    worse, does not. The source's :attr:`Plan.changed` tells; such a read is planned and made
    again, and data is only returned from a read the files did not change under.

    A plain parquet read may take the arrow path (:mod:`dynio.engine.read_path`) when
    ``arrow_wanted``; the data is then a ``pyarrow.Table``. It may take the mixed path when
    ``arrow_wanted`` or, for a read whose rules and metrics check the columns ``checked``
    names, when ``checked`` is given; the data is then a :class:`MixedRead`. The plan
    returned records the path that ran (:attr:`PlanInfo.read_path`).

    Raises:
        ReadError: The files were replaced during every one of :data:`READ_ATTEMPTS` reads.
    """
    for attempt in range(1, READ_ATTEMPTS + 1):
        plan = planned()
        info = plan.info
        chosen = read_path.decide(plan, arrow_wanted=arrow_wanted, checked=checked)
        path = chosen.path
        with _scan_span(info) as sp:
            data: Any = None
            try:
                path, data = collect_chosen(plan, chosen)
            except DynioError:
                if plan.changed is None or not plan.changed():
                    raise
                data = None
            finally:
                if plan.release is not None:
                    plan.release()
            set_attributes(sp, {"read_path": path})
            if data is not None and (plan.changed is None or not plan.changed()):
                rows = _rows(data)
                set_attributes(sp, {"rows": rows})
                if attempt > 1:
                    set_operation_attributes({"dynio.read.attempts": attempt})
                return replace(plan, info=replace(info, read_path=path)), data
            set_attributes(sp, {"dynio.read.replaced": True})
        logger.debug("read %s again: its files were replaced during the read", info.resource)
    where = info.files[0] if len(info.files) == 1 else info.location
    raise ReadError(
        f"the data was replaced during each of {READ_ATTEMPTS} reads; no consistent version"
        " could be read",
        file=where,
        resource=info.resource,
        env=info.env,
    )


def _rows(data: Any) -> int:
    """The rows of a read's data: a Polars frame, a ``pyarrow.Table`` or a :class:`MixedRead`."""
    if isinstance(data, pl.DataFrame):
        return data.height
    return int(data.rows if isinstance(data, MixedRead) else data.num_rows)


def _checked_names(
    schema: SchemaSpec | None, validate: bool, metrics: bool
) -> Callable[[Plan], frozenset[str]]:
    """The columns a plan's rules and metrics read (a mixed read's Polars part holds them)."""

    def of(plan: Plan) -> frozenset[str]:
        frame_schema = plan.frame.collect_schema()
        rules, _ = active_checks(schema, frame_schema, rules=validate, metrics=metrics)
        if any(r.name not in BUILTIN_RULES for r in rules):
            return frozenset(frame_schema.names())  # a user's rule may read any column
        if schema is None or not (validate or metrics):
            return frozenset()
        return frozenset(checked_columns(schema, frame_schema, rules=validate, metrics=metrics))

    return of


def _scan_span(info: PlanInfo) -> contextlib.AbstractContextManager[Span]:
    return span(
        "scan",
        format=info.format,
        files=len(info.files),
        casts=info.casts,
        filters_pushed=info.filters_pushed,
        filters_residual=info.filters_residual,
        pushdown_projection=info.pushdown.projection,
    )


def _read_kept(
    planned: Callable[[], Plan],
    arrow_wanted: bool,
    plans: PlanCache | None,
    key: Hashable | None,
    checked: Callable[[Plan], frozenset[str]] | None = None,
) -> tuple[Plan, Any]:
    """The read by a plan ``plans`` keeps for ``key``, else planned and read (and its plan
    kept when it took the arrow path)."""
    done = _read_remembered(plans, key) if plans is not None and key is not None else None
    if done is None:
        done = _read_consistently(planned, arrow_wanted, checked)
        if plans is not None and done[0].info.read_path == read_path.ARROW:
            plans.put(key, done[0])
    return done


def _read_remembered(plans: PlanCache, key: Hashable) -> tuple[Plan, Any] | None:
    """A plain read by the plan remembered for it (:mod:`dynio.engine.plan_cache`), on the
    arrow path; ``None``: none remembered, or it no longer fits (the read is planned anew)."""
    remembered = plans.get(key)
    if remembered is None:
        return None
    with span("plan"):  # the read-path choice made again (a file may have grown past small)
        path = read_path.choose(remembered, arrow_wanted=True)
    if path != read_path.ARROW:
        return None
    with _scan_span(remembered.info) as sp:
        data = collect_arrow(remembered)
        if data is None:  # the file no longer has the plan's columns and types
            return None
        set_attributes(sp, {"read_path": path, "rows": data.num_rows})
    return replace(remembered, info=replace(remembered.info, read_path=path)), data


def _rule_text(failure: RuleFailure) -> str:
    """A failed rule for the log: its samples only when the catalog includes values (log
    records are exported as telemetry); the error raised to the caller keeps them."""
    if values_included():
        return failure.message
    return replace(failure, sample=(), detail=()).message


def _check_report(report: ValidationReport, context: Mapping[str, Any], verb: str) -> None:
    for warning in report.warnings:
        logger.warning("%s %s: %s", verb, context.get("resource"), _rule_text(warning))
    if not report.ok:
        raise ValidationError(
            f"{len(report.errors)} rule(s) failed on {verb}:\n" + report.summary(),
            report=report,
            **context,
        )


def _publish_metrics(
    sp: Span, resource: str, env: str, verb: str, values: list[MetricValue]
) -> None:
    """Metric values out: JSON log lines (dynamicio's) and OTel gauges."""
    set_attributes(sp, {"metric_values": len(values)})
    log_metric_lines(values)
    record_quality(resource, env, verb, None, values)


def _quality(
    frame: pl.DataFrame,
    schema: SchemaSpec | None,
    context: Mapping[str, Any],
    *,
    validate: bool,
    metrics: bool,
    label_cap: int,
    verb: str,
    raise_on_error: bool = True,
) -> tuple[ValidationReport, list[MetricValue]]:
    resource, env = str(context.get("resource")), str(context.get("env"))
    if schema is None or not (validate or metrics):
        return evaluate(frame, None, resource=resource, env=env, rules=False, metrics=False)
    # rules and metrics run in one pass: the span is "validate" when rules ran, else "metrics"
    with span("validate" if validate else "metrics") as sp:
        report, values = evaluate(
            frame,
            schema,
            resource=resource,
            env=env,
            rules=validate,
            metrics=metrics,
            label_cap=label_cap,
        )
        if validate:
            set_attributes(
                sp,
                {
                    "validation": validation_outcome(report),
                    "failed_rules": len(report.failures),
                    "rules": report.checked,
                },
            )
            record_quality(resource, env, verb, report, ())
        if metrics and not validate:
            _publish_metrics(sp, resource, env, verb, values)
    if metrics and validate and values:
        with span("metrics") as sp:
            _publish_metrics(sp, resource, env, verb, values)
    if validate:
        set_operation_attributes(
            {"validation": validation_outcome(report), "failed_rules": len(report.failures)}
        )
    if validate and raise_on_error:
        _check_report(report, context, verb)
    return report, values


def read(
    resource: ResourceSpec,
    env: str,
    *,
    columns: Sequence[str] | None = None,
    filters: FilterLike = None,
    template_args: Mapping[str, Any] | None = None,
    validate: bool = True,
    metrics: bool = True,
    label_cap: int = DEFAULT_LABEL_CAP,
    raise_on_error: bool = True,
    convert: Callable[[pl.DataFrame], Any] | None = None,
    env_spec: EnvSpec | None = None,
    kind: SourceKind | None = None,
    convert_arrow: Callable[[Any], Any] | None = None,
    plans: PlanCache | None = None,
) -> Result:
    """Read a resource: plan, collect, then rules and metrics in one pass.

    With ``raise_on_error=False`` failed rules are only reported on the result.

    ``convert`` (the facade's hand-off, e.g. to pandas) is applied to the collected frame and its
    output returned as ``Result.converted``. Both only read the frame, so on a tall frame with
    rules or metrics to run the conversion runs on a worker thread beside them (Polars and Arrow
    release the GIL); when a rule fails the converted frame is dropped. ``convert_arrow`` is the
    same hand-off from a ``pyarrow.Table`` with the types Polars' export gives; given, a plain
    parquet read with no rule or metric to run may take the arrow path
    (:mod:`dynio.engine.read_path`), whose table it converts (``Result.table``). A read with
    rules or metrics reads through Polars, whole or split, and runs them on its frame: checks
    on pyarrow's table (text as dictionary codes) cost more than Polars' read and checks on
    every file measured (the figures are in :mod:`dynio.engine.read_path`'s documentation).
    Into pandas, such a read may take the mixed path: pyarrow reads the text no check reads,
    the checks run on Polars' part, and ``convert_arrow`` converts both parts' table.

    The environment, the source kind, the template values and the filter are resolved once
    (:func:`~dynio.engine.plan.bind`; ``env_spec`` and ``kind`` are the environment and its
    source kind when the caller resolved them already), and the ``dynio.read`` operation is
    opened once: a caller that opened it already (the facade, so its hand-off falls under it)
    has it used as it is. ``plans`` (the resource's :class:`~dynio.engine.plan_cache.PlanCache`)
    keeps the plans of reads that took the arrow path, so that reading the same file again
    with the same columns and template values skips planning while the file is unchanged.

    Raises:
        ValidationError: An error-severity rule failed (the report is attached).
        CastError, SchemaError, ReadError, TemplateError: As raised by planning and collecting.
    """
    running = current_operation("dynio.read", resource.name)
    with (
        operation("dynio.read", resource=resource.name, env=env)
        if running is None
        else contextlib.nullcontext(running)
    ) as top:
        spec = env_spec if env_spec is not None else resource.env(env)
        kind = kind if kind is not None else kind_for(spec.source.kind)
        bind_source(spec.source, kind)
        bound: list[Bound] = []  # resolved in the first plan, kept for the reads made again

        def planned() -> Plan:
            with span("plan"):
                if not bound:
                    args = template_args
                    bound.append(
                        bind(resource, spec, filters=filters, template_args=args, kind=kind)
                    )
                # collected at once, then released (_read_consistently)
                return plan_read(resource, env, columns=columns, streaming=False, bound=bound[0])

        checks = _has_checks(spec.schema, validate=validate, metrics=metrics)
        arrow_wanted = convert_arrow is not None and not checks
        key = PlanCache.key(columns, filters, template_args) if plans and arrow_wanted else None
        # a checked read into pandas may read its unchecked text by pyarrow (the mixed path)
        checked = (
            _checked_names(spec.schema, validate, metrics)
            if convert_arrow is not None and checks
            else None
        )
        plan, data = _read_kept(planned, arrow_wanted, plans, key, checked)
        _record_plan(top, plan, _rows(data))
        quality = (validate, metrics, label_cap, raise_on_error)
        return _result(plan, data, checks, convert, convert_arrow, quality)


def _result(
    plan: Plan,
    data: Any,
    checks: bool,
    convert: Callable[[pl.DataFrame], Any] | None,
    convert_arrow: Callable[[Any], Any] | None,
    quality: tuple[bool, bool, int, bool],
) -> Result:
    """The read's result from its data (a Polars frame, an arrow path's table or a mixed
    read), checked and handed over."""
    if isinstance(data, MixedRead) and checks and convert_arrow is not None:
        mixed, hand = data, convert_arrow  # the table of both readers' columns, beside checks

        def mixed_convert(_: pl.DataFrame) -> Any:
            return hand(mixed.table())

        return _checked(plan, data.frame, mixed_convert, *quality, mixed=data)
    if isinstance(data, MixedRead):
        data = data.table()
    if not isinstance(data, pl.DataFrame) and convert_arrow is not None:
        # the arrow path's table, or a mixed read's (a read with rules or metrics never takes
        # the arrow path; a mixed one is above)
        report = ValidationReport(plan.info.resource, plan.env.name, data.num_rows, 0)
        return Result(report=report, info=plan.info, converted=convert_arrow(data), table=data)
    return _checked(plan, data, convert, *quality)


def _checked(
    plan: Plan,
    frame: pl.DataFrame,
    convert: Callable[[pl.DataFrame], Any] | None,
    validate: bool,
    metrics: bool,
    label_cap: int,
    raise_on_error: bool,
    *,
    mixed: MixedRead | None = None,
) -> Result:
    """The read's rules and metrics, with the hand-off beside them on a tall frame. ``mixed``:
    the read was mixed, ``frame`` is its Polars part (every checked column), and the result
    holds both parts' table."""
    # a failed rule names the file (or location) the rows came from
    info = plan.info
    where = info.files[0] if len(info.files) == 1 else info.location
    context = {"resource": info.resource, "env": plan.env.name, "file": where}
    checks = _has_checks(plan.schema, validate=validate, metrics=metrics)
    pending = (
        _start_handoff(convert, frame)
        if convert is not None and checks and frame.height >= OVERLAP_ROWS
        else None
    )
    try:
        report, values = _quality(
            frame,
            plan.schema,
            context,
            validate=validate,
            metrics=metrics,
            label_cap=label_cap,
            verb="read",
            raise_on_error=raise_on_error,
        )
    except BaseException:
        if pending is not None and not pending.cancel():
            pending.exception()  # wait: nothing keeps running after the read has failed
        raise
    if pending is not None:
        converted = pending.result()
    else:
        converted = convert(frame) if convert is not None else None
    if mixed is not None:
        table = mixed.table()
        return Result(report=report, metrics=values, info=info, converted=converted, table=table)
    return Result(frame=frame, report=report, metrics=values, info=info, converted=converted)


def _record_plan(top: Span, plan: Plan, rows: int) -> None:
    """What the read did, on its operation's span and in the I/O metrics."""
    info = plan.info
    # resource, env and kind are on the span already; the plan knows the real location
    set_attributes(
        top,
        {k: v for k, v in info.attributes().items() if k not in ("resource", "env", "kind")},
    )
    nbytes = reported("bytes")
    if nbytes is None and enabled(top):
        nbytes = file_bytes(info.files)
    set_attributes(top, {"rows": rows, "bytes": nbytes})
    record_read(info.resource, plan.env.name, info.kind, rows, nbytes)


def conform(frame: pl.DataFrame, schema: SchemaSpec, context: Mapping[str, Any]) -> pl.DataFrame:
    """Project a frame to the schema's columns and cast it, safely."""
    missing = [c for c in schema.column_names if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"column(s) {missing} required by the schema are missing; the frame has"
            f" {frame.columns}",
            column=missing[0],
            **context,
        )
    frame = frame.select(schema.column_names)
    steps = plan_casts(frame.schema, [(c.name, c.dtype, c.lossy_cast) for c in schema.columns])
    if not steps:
        return frame
    with span("cast", casts=[f"{s.column}: {s.source} -> {s.target}" for s in steps]):
        try:
            return frame.with_columns([s.expr() for s in steps])
        except pl.exceptions.PolarsError as exc:
            failures = diagnose(frame.lazy(), steps)
            if failures:
                raise cast_error(failures, context, None) from exc
            raise CastError(f"cast failed: {exc}", **context) from exc


def write(
    resource: ResourceSpec,
    env: str,
    frame: pl.DataFrame,
    *,
    template_args: Mapping[str, Any] | None = None,
    validate: bool = True,
    metrics: bool = True,
    label_cap: int = DEFAULT_LABEL_CAP,
) -> WriteResult:
    """Write a frame: project -> cast -> rules -> metrics -> sink (atomic).

    A failed error-severity rule writes nothing.

    Raises:
        SchemaError: Schema columns are missing from the frame.
        CastError: Values do not fit the schema's dtypes.
        ValidationError: An error-severity rule failed; nothing was written.
        WriteError: The sink failed; the destination is unchanged.
    """
    with operation("dynio.write", resource=resource.name, env=env) as top:
        spec = resource.env(env)
        bind_source(spec.source)
        context = {"resource": resource.name, "env": spec.name}
        # the checked values (marked when the environment lets them leave its root)
        args = check_template_args(spec, dict(template_args or {}), context)
        module = source_module(spec, context)
        if spec.schema is not None:
            frame = conform(frame, spec.schema, context)
        report, values = _quality(
            frame,
            spec.schema,
            context,
            validate=validate,
            metrics=metrics,
            label_cap=label_cap,
            verb="write",
        )
        with span("sink", kind=spec.source.kind, format=spec.source.format) as sp:
            info = module.write(
                frame,
                spec.source,
                WriteRequest(
                    resource.name,
                    spec.name,
                    args,
                    schema_name=spec.schema.name if spec.schema else None,
                ),
            )
            set_attributes(sp, {"location": info.location, "rows": info.rows, "bytes": info.bytes})
        set_attributes(top, {"location": info.location, "rows": info.rows, "bytes": info.bytes})
        record_write(resource.name, spec.name, spec.source.kind, info.rows, info.bytes)
        return WriteResult(info=info, report=report, metrics=values)
