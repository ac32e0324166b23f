"""Assertions for pipeline tests: data passes a schema's rules, or has the schema's shape.

Example::

    from dynio.testing import assert_frame_matches_schema, assert_valid

    out = my_step(inputs)
    assert_frame_matches_schema(out, "schemas/zone_summary.yaml")   # columns and dtypes
    assert_valid(out, "schemas/zone_summary.yaml")                  # every error rule holds
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import polars as pl

from dynio.checks import schema_of, validate
from dynio.engine.quality import ValidationReport
from dynio.engine.spec import SchemaSpec
from dynio.handoff import from_any

__all__ = ["assert_frame_matches_schema", "assert_valid"]

SchemaLike = SchemaSpec | str | os.PathLike[str] | Mapping[str, Any]


def assert_valid(data: Any, schema: SchemaLike, *, warnings: bool = False) -> ValidationReport:
    """Fail the test when a rule of the schema fails on the data.

    Args:
        data: A pandas, Polars or Arrow frame.
        schema: A schema spec, a schema YAML path or a schema mapping.
        warnings: Fail on warn-severity rules too.

    Returns:
        The report, for further assertions.
    """
    report = validate(data, schema)
    failed = report.failures if warnings else report.errors
    if failed:
        lines = "\n".join(f"  - {f.message}" for f in failed)
        raise AssertionError(f"{len(failed)} rule(s) of {_name(schema)} failed:\n{lines}")
    return report


def assert_frame_matches_schema(
    data: Any, schema: SchemaLike, *, exact_columns: bool = True, check_order: bool = False
) -> None:
    """Fail the test when the frame lacks a schema column or holds one in another dtype.

    Dtypes are compared on the engine side (a pandas ``int64`` column and a schema ``Int64``
    match; an ``object`` column of text matches ``str``/``string``).

    Args:
        data: A pandas, Polars or Arrow frame.
        schema: A schema spec, a schema YAML path or a schema mapping.
        exact_columns: Fail on columns the schema does not name, too.
        check_order: Fail when the columns are not in the schema's order.
    """
    spec = schema_of(schema)
    frame = from_any(data)
    problems: list[str] = []
    expected = spec.column_names
    missing = [c for c in expected if c not in frame.columns]
    if missing:
        problems.append(f"missing column(s) {missing}")
    extra = [c for c in frame.columns if c not in expected]
    if exact_columns and extra:
        problems.append(f"column(s) the schema does not name {extra}")
    if check_order and not missing and [c for c in frame.columns if c in expected] != expected:
        problems.append(f"columns in order {frame.columns}, the schema's is {expected}")
    for col in spec.columns:
        if col.name in frame.columns and not _same(frame.schema[col.name], col.dtype.polars):
            problems.append(
                f"column {col.name!r} is {frame.schema[col.name]}, the schema says"
                f" {col.dtype.spelling!r}"
            )
    if problems:
        text = "\n".join(f"  - {p}" for p in problems)
        raise AssertionError(f"the frame does not match {_name(schema)}:\n{text}")


def _same(have: pl.DataType, want: pl.DataType) -> bool:
    if isinstance(want, pl.Categorical | pl.Enum):
        return isinstance(have, pl.Categorical | pl.Enum | pl.String)
    if isinstance(want, pl.Datetime) and isinstance(have, pl.Datetime):
        return have.time_zone == want.time_zone  # pandas may hold ns where the schema says us
    if isinstance(want, pl.Null):
        return True
    return bool(have == want)


def _name(schema: SchemaLike) -> str:
    spec = schema_of(schema)
    return f"schema {spec.name or spec.file or '(inline)'!r}"
