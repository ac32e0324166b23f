"""Checking and writing data larger than memory on one node (Polars' streaming engine).

:func:`check` validates and measures a resource through its scan: the rules and metrics run as
streaming aggregations (:mod:`dynio.engine.streaming`), so the data is never held. :func:`write`
takes a LazyFrame: it is projected and cast lazily, checked the same way, and only when the
rules pass streamed to the destination with ``sink_parquet``/``sink_csv``/``sink_ndjson``/
``sink_ipc`` into a temporary file renamed over the target (the atomicity of every local write).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from dynio.engine.casts import diagnose, plan_casts
from dynio.engine.collect import cast_error
from dynio.engine.errors import CastError, SchemaError, WriteError, first_line
from dynio.engine.execute import _check_report, _publish_metrics, collect
from dynio.engine.filters import FilterLike
from dynio.engine.io.formats import Format, format_for
from dynio.engine.plan import PlanInfo, check_template_args, plan_read, source_module
from dynio.engine.quality import DEFAULT_LABEL_CAP, MetricValue, ValidationReport
from dynio.engine.sources import WriteInfo, WriteRequest
from dynio.engine.spec import EnvSpec, ResourceSpec, SchemaSpec
from dynio.engine.streaming import Query, Runner, evaluate_streaming
from dynio.engine.telemetry import (
    bind_source,
    operation,
    record_quality,
    record_write,
    set_attributes,
    set_operation_attributes,
    span,
    validation_outcome,
)

__all__ = ["CheckResult", "check", "write"]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of :func:`check`: the report, the metric values and what the plan did."""

    report: ValidationReport
    info: PlanInfo
    metrics: list[MetricValue] = field(default_factory=list)


def _checks(
    run: Runner,
    frame_schema: pl.Schema,
    schema: SchemaSpec | None,
    context: Mapping[str, Any],
    *,
    validate: bool,
    metrics: bool,
    label_cap: int,
    verb: str,
    raise_on_error: bool,
) -> tuple[ValidationReport, list[MetricValue]]:
    resource, env = str(context["resource"]), str(context["env"])
    with span("validate" if validate else "metrics", engine="streaming") as sp:
        report, values = evaluate_streaming(
            run,
            frame_schema,
            schema,
            resource=resource,
            env=env,
            rules=validate,
            metrics=metrics,
            label_cap=label_cap,
        )
        set_attributes(sp, {"rows": report.rows})
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
            set_operation_attributes(
                {"validation": validation_outcome(report), "failed_rules": len(report.failures)}
            )
        if metrics and values:
            _publish_metrics(sp, resource, env, verb, values)
    if validate and raise_on_error:
        _check_report(report, context, verb)
    return report, values


def check(
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
) -> CheckResult:
    """Validate and measure a resource over its scan, in bounded memory.

    The report and metric values equal those of :func:`dynio.engine.execute.read` on the same
    data; each query over the scan runs in Polars' streaming engine.

    Raises:
        ValidationError: An error-severity rule failed (unless ``raise_on_error=False``).
        CastError, SchemaError, ReadError, TemplateError: As a read raises them.
    """
    with operation("dynio.check", resource=resource.name, env=env) as top:
        bind_source(resource.env(env).source)
        with span("plan"):
            plan = plan_read(
                resource,
                env,
                columns=columns,
                filters=filters,
                template_args=template_args,
                streaming=True,
            )
        info = plan.info
        set_attributes(
            top,
            {k: v for k, v in info.attributes().items() if k not in ("resource", "env", "kind")},
        )
        where = info.files[0] if len(info.files) == 1 else info.location
        context = {"resource": resource.name, "env": plan.env.name, "file": where}

        def run(query: Query) -> pl.DataFrame:
            return collect(plan, query, engine="streaming")

        try:
            report, values = _checks(
                run,
                plan.frame.collect_schema(),
                plan.schema,
                context,
                validate=validate,
                metrics=metrics,
                label_cap=label_cap,
                verb="check",
                raise_on_error=raise_on_error,
            )
        finally:
            if plan.release is not None:
                plan.release()
        set_attributes(top, {"rows": report.rows})
        return CheckResult(report=report, info=info, metrics=values)


def _conform_lazy(
    lazy: pl.LazyFrame, schema: SchemaSpec, context: Mapping[str, Any]
) -> tuple[pl.LazyFrame, Runner]:
    """The frame projected to the schema and cast (lazily), and how to run queries over it."""
    names = lazy.collect_schema().names()
    missing = [c for c in schema.column_names if c not in names]
    if missing:
        raise SchemaError(
            f"column(s) {missing} required by the schema are missing; the frame has {names}",
            column=missing[0],
            **context,
        )
    raw = lazy.select(schema.column_names)
    steps = plan_casts(
        raw.collect_schema(), [(c.name, c.dtype, c.lossy_cast) for c in schema.columns]
    )
    cast = raw.with_columns([s.expr() for s in steps]) if steps else raw

    def run(query: Query) -> pl.DataFrame:
        try:
            return query(cast).collect(engine="streaming")
        except pl.exceptions.PolarsError as exc:
            failures = diagnose(raw, steps) if steps else []
            if failures:
                raise cast_error(failures, context, None) from exc
            raise CastError(f"cast failed: {first_line(exc)}", **context) from exc

    return cast, run


def _sink_target(spec: EnvSpec, args: Mapping[str, Any], context: Mapping[str, Any]) -> Any:
    """``(path, format, options)`` when the destination is one local file Polars can stream
    into, else ``None``."""
    from dynio.engine.sources import files, local

    source = spec.source
    if source.kind != "local" or files.on_object_store(source):
        return None
    fmt: Format | None = format_for(source.format or "")
    options = dict(source.options)
    for plan_only in ("columns", "filters", "usecols"):
        options.pop(plan_only, None)
    if fmt is None or fmt.sink is None or "partition_cols" in options:
        return None
    if fmt.capabilities.sink_refuses & set(options):
        return None  # options only the writer takes (pyarrow's): collected and written as usual
    return local.location(source, args, context), fmt, options


def _sink(lazy: pl.LazyFrame, target: Path, fmt: Format, options: Mapping[str, Any]) -> int:
    """Stream ``lazy`` into a temporary file beside ``target``, then rename it over ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    try:
        assert fmt.sink is not None  # _sink_target chose a format that streams
        fmt.sink(lazy, str(tmp), options)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        size = tmp.stat().st_size
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return size


def write(
    resource: ResourceSpec,
    env: str,
    lazy: pl.LazyFrame,
    *,
    template_args: Mapping[str, Any] | None = None,
    validate: bool = True,
    metrics: bool = True,
    label_cap: int = DEFAULT_LABEL_CAP,
) -> tuple[WriteInfo, ValidationReport, list[MetricValue]]:
    """Write a LazyFrame: project and cast lazily, check in streaming, then stream to the sink.

    The rules and metrics run over the lazy frame in Polars' streaming engine before anything
    is written; a failed error-severity rule writes nothing. A local single-file destination in
    a format Polars sinks (parquet, CSV, NDJSON, IPC) is streamed into a temporary file renamed
    over it; any other destination receives the frame collected by the streaming engine through
    its source's usual atomic write.

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
        args = check_template_args(spec, dict(template_args or {}), context)
        module = source_module(spec, context)
        if spec.schema is not None:
            lazy, run = _conform_lazy(lazy, spec.schema, context)
        else:
            frame_lazy = lazy

            def run(query: Query) -> pl.DataFrame:
                return query(frame_lazy).collect(engine="streaming")

        report, values = _checks(
            run,
            lazy.collect_schema(),
            spec.schema,
            context,
            validate=validate,
            metrics=metrics,
            label_cap=label_cap,
            verb="write",
            raise_on_error=True,
        )
        target = _sink_target(spec, args, context)
        with span("sink", kind=spec.source.kind, format=spec.source.format) as sp:
            if target is not None:
                path, fmt, options = target
                try:
                    size = _sink(lazy, path, fmt, options)
                except (OSError, ValueError, pl.exceptions.PolarsError) as exc:
                    raise WriteError(
                        f"cannot write {fmt.name}: {first_line(exc)}", file=str(path), **context
                    ) from exc
                info = WriteInfo(str(path), report.rows, size, (str(path),))
                set_attributes(sp, {"streaming": True})
            else:
                frame = run(lambda lf: lf)
                request = WriteRequest(
                    resource.name,
                    spec.name,
                    args,
                    schema_name=spec.schema.name if spec.schema else None,
                )
                info = module.write(frame, spec.source, request)
            set_attributes(sp, {"location": info.location, "rows": info.rows, "bytes": info.bytes})
        set_attributes(top, {"location": info.location, "rows": info.rows, "bytes": info.bytes})
        record_write(resource.name, spec.name, spec.source.kind, info.rows, info.bytes)
        return info, report, values
