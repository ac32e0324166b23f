"""Rules, metrics and writes over a Dask cluster, exact and in one pass.

:func:`check` validates and measures a resource (or any Dask DataFrame, for :func:`write`) with
one pass over the partitions: each partition task computes its partial aggregates and its keys
hashed into buckets (:mod:`dynio.engine.partials`); the partials are merged in a tree, each
bucket of keys is reduced by its own task, and the client turns the results into the report and
metric values ``read`` gives. Exact quantiles take a few more passes (histograms).

:func:`write` writes a Dask DataFrame to a dataset folder: in the same pass each partition task
casts its rows to the schema, computes its partials and writes its file into a staging folder
beside the destination; the client decides the rules, and only when they pass swaps the staging
folder in (one atomic folder exchange). A failed rule, or any failed task, removes the staging
folder: nothing becomes visible.
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import polars as pl

from dynio import handoff
from dynio.dask import PartReader, _require_dask, trace_carrier, traced
from dynio.engine import partials, partitions
from dynio.engine.errors import UnsupportedError, ValidationError
from dynio.engine.execute import WriteResult, _publish_metrics, conform
from dynio.engine.filters import FilterLike
from dynio.engine.io.formats import format_for
from dynio.engine.plan import check_template_args
from dynio.engine.quality import MetricValue, ValidationReport
from dynio.engine.sources import WriteInfo
from dynio.engine.stream_io import CheckResult
from dynio.engine.streaming import Query
from dynio.engine.telemetry import (
    bind_source,
    operation,
    record_quality,
    record_write,
    set_attributes,
    span,
    validation_outcome,
)

if TYPE_CHECKING:
    from dynio.catalog import Resource

__all__ = ["check", "write"]

# buckets of keys for the exact distinct counts and duplicate rules
MAX_BUCKETS = 32


@dataclass(frozen=True)
class _Job:
    """What every partition task of a check needs (picklable: the spec travels as bytes)."""

    spec: bytes
    env: str
    resource: str
    schema: tuple[tuple[str, pl.DataType], ...]
    validate: bool
    metrics: bool
    buckets: int
    carrier: Mapping[str, str]
    stage: str | None = None  # a staging folder (or, with objects, a staging id) to write into
    objects: bool = False  # the destination is an object-store dataset prefix
    args: tuple[tuple[str, Any], ...] = ()  # the write's template values
    approximate: bool = False  # distinct counts from HyperLogLog sketches, no buckets


@functools.lru_cache(maxsize=16)
def _checks(
    spec: bytes,
    env: str,
    schema: tuple[tuple[str, pl.DataType], ...],
    validate: bool,
    metrics: bool,
    approximate: bool,
) -> partials.Checks:
    res = partitions.load_spec(spec)
    return partials.Checks(
        res.env(env).schema,
        pl.Schema(schema),
        rules=validate,
        metrics=metrics,
        approximate=approximate,
    )


def _job_checks(job: _Job) -> partials.Checks:
    return _checks(job.spec, job.env, job.schema, job.validate, job.metrics, job.approximate)


def _summarize(job: _Job, frame: pl.DataFrame, index: int) -> tuple[Any, Any]:
    checks = _job_checks(job)
    with traced("dynio.partition.check", job.carrier, resource=job.resource, rows=frame.height):
        out = checks.partial(frame, index)
        out["bytes"] = frame.estimated_size()
        pieces = [] if job.approximate else checks.key_pieces(frame, index, job.buckets)
        return out, pieces


def _check_part(job: _Job, reader: PartReader, part: partitions.Part, index: int) -> Any:
    return _summarize(job, reader.polars(part), index)


def _conformed(job: _Job, data: pd.DataFrame) -> pl.DataFrame:
    spec = partitions.load_spec(job.spec).env(job.env)
    frame = handoff.from_any(data, resource=job.resource, env=job.env)
    if spec.schema is None:
        return frame
    return conform(frame, spec.schema, {"resource": job.resource, "env": job.env})


def _write_part(job: _Job, data: pd.DataFrame, index: int) -> Any:
    """Cast one partition, write it into the staging area, and give its partials."""
    from dynio.engine.io.layout import write_parts
    from dynio.engine.sources import objectstore

    with traced("dynio.partition", job.carrier, resource=job.resource, env=job.env) as sp:
        frame = _conformed(job, data)
        spec = partitions.load_spec(job.spec).env(job.env)
        fmt = format_for(spec.source.format or "")
        if fmt is None or job.stage is None:
            raise UnsupportedError("no staging area or format for a partition write")
        name = f"part-{index:05d}"
        context = {"resource": job.resource, "env": job.env}
        if job.objects:
            staged = objectstore.stage_part(
                frame, spec.source, dict(job.args), context, job.stage, name
            )
        else:
            options = {k: v for k, v in spec.source.options.items() if k not in _PLAN_ONLY}
            sizes = write_parts(Path(job.stage), frame, fmt, options, name, durable=True)
            staged = [(str(Path(job.stage) / rel), size) for rel, size in sizes.items()]
        nbytes = sum(size for _, size in staged)
        set_attributes(sp, {"rows": frame.height, "bytes": nbytes, "files": len(staged)})
    summary, pieces = _summarize(job, frame, index)
    summary["bytes"] = nbytes
    summary["staged"] = staged
    return summary, pieces


_PLAN_ONLY = ("columns", "filters", "usecols")


def _query_part(reader: PartReader, part: partitions.Part, query: Query) -> pl.DataFrame:
    return query(reader.polars(part).lazy()).collect()


def _query_pandas(job: _Job, data: pd.DataFrame, query: Query) -> pl.DataFrame:
    return query(_conformed(job, data).lazy()).collect()


def _tree(items: list[Any], fn: Callable[[Any, Any], Any]) -> Any:
    """A binary tree of ``fn`` over delayed ``items`` (neighbours first, so order is kept)."""
    from dask.delayed import delayed

    while len(items) > 1:
        items = [
            delayed(fn)(items[i], items[i + 1]) if i + 1 < len(items) else items[i]
            for i in range(0, len(items), 2)
        ]
    return items[0]


def _one_pass(
    job: _Job, summaries: list[Any], run: Callable[[Query], pl.DataFrame], label_cap: int
) -> tuple[ValidationReport, list[MetricValue], Any]:
    """Merge the partition tasks' partials and key buckets (one compute), then finalize."""
    from dask.base import compute
    from dask.delayed import delayed

    checks = _job_checks(job)
    total = _tree([s[0] for s in summaries], partials.merge)
    buckets = [
        delayed(partials.bucket_result)([s[1][b] for s in summaries], checks.keys)
        for b in range(0 if job.approximate else job.buckets)
    ]
    merged, results = compute(total, buckets)
    keys = checks.approximate_keys(merged) if job.approximate else partials.merge_keys(results)
    report, values = checks.finalize(
        merged,
        keys,
        run,
        resource=job.resource,
        env=job.env,
        label_cap=label_cap,
    )
    return report, values, merged


def _publish(
    sp: Any, job: _Job, report: ValidationReport, values: list[MetricValue], verb: str, nbytes: int
) -> None:
    set_attributes(sp, {"rows": report.rows, "bytes": nbytes})
    if job.validate:
        set_attributes(
            sp,
            {
                "validation": validation_outcome(report),
                "failed_rules": len(report.failures),
                "rules": report.checked,
            },
        )
        record_quality(job.resource, job.env, verb, report, ())
    if job.metrics and values:
        _publish_metrics(sp, job.resource, job.env, verb, values)


def _raise_failed(report: ValidationReport, resource: str, env: str, verb: str) -> None:
    if not report.ok:
        raise ValidationError(
            f"{len(report.errors)} rule(s) failed on {verb}:\n" + report.summary(),
            report=report,
            resource=resource,
            env=env,
        )


def check(
    res: Resource,
    *,
    columns: Sequence[str] | None = None,
    filters: FilterLike = None,
    validate: bool = True,
    metrics: bool = True,
    raise_on_error: bool = True,
    partition_rows: int = partitions.DEFAULT_PARTITION_ROWS,
    template_args: Mapping[str, Any] | None = None,
    approximate: bool = False,
) -> CheckResult:
    """Validate and measure a resource on the Dask cluster (see :meth:`dynio.Catalog.check`)."""
    _require_dask(res.name, res.env)
    from dask.delayed import delayed

    with operation("dynio.check", resource=res.name, env=res.env, engine="dask") as sp:
        bind_source(res.spec.source)
        with span("plan"):
            planned = partitions.plan_parts(
                res._spec,
                res.env,
                columns=columns,
                filters=filters,
                template_args=template_args,
                partition_rows=partition_rows,
            )
        set_attributes(sp, {**planned.info.attributes(), "partitions": len(planned.parts)})
        carrier = trace_carrier()
        spec = partitions.dump_spec(res._spec)
        reader = PartReader(
            spec, res.env, res.name, planned.schema,
            tuple(columns) if columns is not None else None, filters,
            dict(template_args or {}), "numpy", None, carrier,
        )  # fmt: skip
        job = _Job(
            spec, res.env, res.name, tuple(planned.schema.items()), validate, metrics,
            min(MAX_BUCKETS, len(planned.parts)), carrier, approximate=approximate,
        )  # fmt: skip
        parts = list(planned.parts)
        summaries = [delayed(_check_part, nout=2)(job, reader, p, i) for i, p in enumerate(parts)]

        def run(query: Query) -> pl.DataFrame:
            from dask.base import compute

            got = compute(*[delayed(_query_part)(reader, p, query) for p in parts])
            out: pl.DataFrame = pl.concat(got, how="vertical_relaxed")
            return out

        with span("validate" if validate else "metrics", engine="dask") as stage:
            report, values, merged = _one_pass(job, summaries, run, res._label_cap)
            nbytes = int(merged["bytes"])
            _publish(stage, job, report, values, "check", nbytes)
        set_attributes(sp, {"rows": report.rows, "bytes": nbytes})
        if validate and raise_on_error:
            _raise_failed(report, res.name, res.env, "check")
        return CheckResult(report=report, info=planned.info, metrics=values)


def _destination(res: Resource, args: Mapping[str, Any]) -> tuple[bool, str, Any]:
    """Where the partitions are staged: ``(objects, staging, target)``."""
    import uuid

    from dynio.engine.io.layout.folders import staging_folder
    from dynio.engine.sources import files, local

    source = res.spec.source
    context = {"resource": res.name, "env": res.env}
    if files.on_object_store(source):
        return True, uuid.uuid4().hex[:16], None
    if source.kind != "local_batch":
        raise UnsupportedError(
            "a Dask DataFrame is written to a dataset: a local folder (type local_batch) or an"
            f" object-store prefix; this resource is {source.kind!r}",
            **context,
        )
    target = local.location(source, args, context)
    return False, str(staging_folder(target)), target


def write(
    res: Resource,
    ddf: Any,
    *,
    validate: bool = True,
    metrics: bool = True,
    template_args: Mapping[str, Any] | None = None,
) -> WriteResult:
    """Write a Dask DataFrame to a dataset (see :meth:`dynio.Catalog.write`)."""
    _require_dask(res.name, res.env)
    from dask.delayed import delayed

    from dynio.engine.io.layout.folders import commit_folder
    from dynio.engine.sources import objectstore

    spec = res.spec
    context = {"resource": res.name, "env": res.env}
    with operation("dynio.write", resource=res.name, env=res.env, engine="dask") as sp:
        bind_source(spec.source)
        args = check_template_args(spec, dict(template_args or {}), context)
        meta = handoff.from_any(ddf._meta, **context)
        schema = conform(meta, spec.schema, context).schema if spec.schema else meta.schema
        objects, staging, target = _destination(res, args)
        job = _Job(
            partitions.dump_spec(res._spec), res.env, res.name, tuple(schema.items()), validate,
            metrics, min(MAX_BUCKETS, ddf.npartitions), trace_carrier(), staging,
            objects=objects, args=tuple(args.items()),
        )  # fmt: skip

        def discard() -> None:
            if objects:
                objectstore.discard_staged(spec.source, args, context, staging)
            else:
                shutil.rmtree(staging, ignore_errors=True)

        try:
            pieces = ddf.to_delayed()
            summaries = [delayed(_write_part, nout=2)(job, d, i) for i, d in enumerate(pieces)]

            def run(query: Query) -> pl.DataFrame:
                from dask.base import compute

                got = compute(*[delayed(_query_pandas)(job, d, query) for d in pieces])
                out: pl.DataFrame = pl.concat(got, how="vertical_relaxed")
                return out

            with span("validate" if validate else "metrics", engine="dask") as stage:
                report, values, merged = _one_pass(job, summaries, run, res._label_cap)
                _publish(stage, job, report, values, "write", int(merged["bytes"]))
            if validate:
                _raise_failed(report, res.name, res.env, "write")
            with span("commit"):
                if objects:
                    info = objectstore.commit_staged(
                        spec.source, args, context, staging, merged["staged"], report.rows
                    )
                else:
                    size, files = commit_folder(Path(staging), target)
                    info = WriteInfo(str(target), report.rows, size, tuple(map(str, files)))
        except BaseException:
            discard()
            raise
        set_attributes(sp, {"location": info.location, "rows": info.rows, "bytes": info.bytes})
        record_write(res.name, res.env, spec.source.kind, info.rows, info.bytes)
        return WriteResult(info=info, report=report, metrics=values)
