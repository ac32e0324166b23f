"""Rules and metrics on data you already hold (outside a catalog read or write).

Example::

    report = dynio.validate(df, "schemas/trips.yaml")
    if not report.ok:
        print(report.summary())
    values = dynio.measure(df, "schemas/trips.yaml")
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from dynio.engine.errors import ValidationError
from dynio.engine.loader import load_schema, parse_schema
from dynio.engine.quality import MetricValue, ValidationReport, evaluate
from dynio.engine.spec import SchemaSpec
from dynio.handoff import from_any

__all__ = ["measure", "schema_of", "validate"]


def schema_of(schema: SchemaSpec | str | os.PathLike[str] | Mapping[str, Any]) -> SchemaSpec:
    """A schema from a spec, a schema YAML path, or a schema mapping."""
    if isinstance(schema, SchemaSpec):
        return schema
    if isinstance(schema, Mapping):
        return parse_schema(dict(schema))
    return load_schema(schema)


def validate(
    data: Any,
    schema: SchemaSpec | str | os.PathLike[str] | Mapping[str, Any],
    *,
    raise_on_error: bool = False,
    resource: str | None = None,
) -> ValidationReport:
    """Evaluate a schema's rules on pandas, Polars or Arrow data, in one pass.

    The data is checked as it is (no casts); columns the schema names but the data lacks are
    skipped.

    Args:
        data: The frame.
        schema: A schema spec, a path to schema YAML, or a schema mapping.
        raise_on_error: Raise :class:`ValidationError` when an error-severity rule fails.
        resource: A name for the report and errors.
    """
    spec = schema_of(schema)
    frame = from_any(data, resource=resource)
    report, _ = evaluate(frame, spec, resource=resource or spec.name, metrics=False)
    if raise_on_error and not report.ok:
        raise ValidationError(
            f"{len(report.errors)} rule(s) failed:\n" + report.summary(),
            report=report,
            resource=resource or spec.name,
        )
    return report


def measure(
    data: Any, schema: SchemaSpec | str | os.PathLike[str] | Mapping[str, Any]
) -> list[MetricValue]:
    """Compute a schema's metrics on pandas, Polars or Arrow data, in one pass."""
    spec = schema_of(schema)
    _, values = evaluate(from_any(data), spec, rules=False)
    return values
