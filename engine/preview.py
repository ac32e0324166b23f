"""The first rows of a resource, read lazily: only what is shown is read, cast and checked.

``dynio read --limit N`` and :meth:`dynio.Catalog.head` use it. The scan's plan ends in
``head(N)``, so Polars stops reading once it has the rows (a CSV of millions of rows gives its
first ten in milliseconds), and the schema's rules run on those rows only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from dynio.engine.execute import Result, collect
from dynio.engine.filters import FilterLike
from dynio.engine.plan import plan_read
from dynio.engine.quality import evaluate
from dynio.engine.spec import ResourceSpec
from dynio.engine.telemetry import (
    bind_source,
    operation,
    set_attributes,
    set_operation_attributes,
    span,
    validation_outcome,
)

__all__ = ["head"]


def head(
    resource: ResourceSpec,
    env: str,
    n: int,
    *,
    columns: Sequence[str] | None = None,
    filters: FilterLike = None,
    template_args: Mapping[str, Any] | None = None,
    validate: bool = True,
) -> Result:
    """Read the first ``n`` rows (after ``filters``) of a resource, cast to its schema.

    Args:
        resource: The resource spec.
        env: The environment.
        n: How many rows (at least 0).
        columns: Columns to read (default: the schema's).
        filters: Rows to keep, pushed into the scan.
        template_args: Values for ``{placeholders}`` in the resource's paths.
        validate: Run the schema's rules on the rows read (failures are reported on the
            result, never raised: a preview shows the data whatever it holds).

    Raises:
        ValueError: ``n`` is negative.
        ReadError: The data cannot be read.
        CastError: Values of the rows read do not fit the schema.
    """
    if n < 0:
        raise ValueError(f"n must be at least 0, got {n}")
    with operation("dynio.read", resource=resource.name, env=env) as top:
        bind_source(resource.env(env).source)
        with span("plan"):
            planned = plan_read(
                resource,
                env,
                columns=columns,
                filters=filters,
                template_args=template_args,
                streaming=True,
            )
        build = planned.build

        def build_head(frame: pl.LazyFrame, schema: pl.Schema) -> tuple[pl.LazyFrame, Any]:
            assert build is not None  # only set when the plan has a builder
            out, steps = build(frame, schema)
            return out.head(n), steps

        limited = dataclasses.replace(
            planned, frame=planned.frame.head(n), build=build_head if build is not None else None
        )
        try:
            with span("scan"):
                frame = collect(limited)
        finally:
            if planned.release is not None:
                planned.release()
        info = planned.info
        attributes = {k: v for k, v in info.attributes().items() if k not in ("resource", "env")}
        set_attributes(top, {**attributes, "rows": frame.height})
        if not validate or planned.schema is None:
            report, _ = evaluate(frame, None, resource=resource.name, env=env, metrics=False)
            return Result(frame=frame, report=report, info=info)
        with span("validate") as sp:
            report, _ = evaluate(
                frame, planned.schema, resource=resource.name, env=env, metrics=False
            )
            outcome = {
                "validation": validation_outcome(report),
                "failed_rules": len(report.failures),
            }
            set_attributes(sp, {**outcome, "rules": report.checked})
        set_operation_attributes(outcome)
        return Result(frame=frame, report=report, info=info)
