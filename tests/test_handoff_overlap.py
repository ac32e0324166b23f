"""The pandas hand-off of a tall frame runs beside the rules and metrics (engine/execute.read).

What must hold whether it overlaps or not: the same DataFrame, the same report, a failed rule
still raises (and the converted frame is dropped), a failing conversion still raises, and the
``to_pandas`` span still hangs under ``dynio.read``.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from conftest import write_text
from fixtures.otel import OtelCapture
from pandas.testing import assert_frame_equal

import dynio
from dynio.engine import execute
from dynio.engine.errors import ValidationError

ROWS = execute.OVERLAP_ROWS + 5_000

SCHEMA = """
tall_orders:
  local:
    type: local
    local: {{file_path: orders.parquet, file_type: parquet}}
  schema:
    name: orders
    columns:
      id:
        type: int64
        validations: {{has_unique_values: {{apply: true, options: {{}}}}}}
        metrics: [Counts]
      amount:
        type: float64
        validations:
          is_lower_than: {{apply: true, options: {{threshold: {limit}}}}}
        metrics: [Mean, Max]
      status:
        type: object
        metrics: [CountsPerLabel]
"""


def _catalog(tmp_path: Path, limit: float) -> dynio.Catalog:
    frame = pl.DataFrame(
        {
            "id": range(ROWS),
            "amount": [float(i % 1000) for i in range(ROWS)],
            "status": [("new", "paid", "sent")[i % 3] for i in range(ROWS)],
        }
    )
    frame.write_parquet(tmp_path / "orders.parquet")
    path = write_text(tmp_path / "resources.yaml", SCHEMA.format(limit=limit))
    return dynio.Catalog.from_yaml(path, env="local")


def test_overlapped_read_equals_the_plain_read(tmp_path: Path) -> None:
    cat = _catalog(tmp_path, limit=1e9)
    checked = cat.read("tall_orders")
    assert cat.last_report is not None
    assert cat.last_report.ok
    assert {m.metric for m in cat.last_metrics} == {"Counts", "Mean", "Max", "CountsPerLabel"}
    plain = cat.read("tall_orders", validate=False, metrics=False)  # no checks: nothing to overlap
    assert_frame_equal(checked, plain)
    assert_frame_equal(checked, pd.read_parquet(tmp_path / "orders.parquet"))
    for backend in ("numpy_nullable", "pyarrow"):
        assert_frame_equal(
            cat.read("tall_orders", dtype_backend=backend),
            cat.read("tall_orders", dtype_backend=backend, validate=False, metrics=False),
        )


def test_a_failed_rule_still_raises_and_reports(tmp_path: Path) -> None:
    cat = _catalog(tmp_path, limit=500)
    with pytest.raises(ValidationError) as info:
        cat.read("tall_orders")
    [failure] = info.value.report.failures
    assert (failure.rule, failure.column) == ("is_lower_than", "amount")
    assert failure.failing_count == sum(1 for i in range(ROWS) if i % 1000 >= 500)
    assert cat.last_report is info.value.report
    assert info.value.file == str(tmp_path / "orders.parquet")  # where the failing rows are


def test_a_failing_conversion_raises_from_the_read(tmp_path: Path) -> None:
    cat = _catalog(tmp_path, limit=1e9)
    spec = cat.resource("tall_orders")._spec

    def convert(frame: pl.DataFrame) -> None:
        raise RuntimeError(f"cannot convert {frame.height} rows")

    with pytest.raises(RuntimeError, match=f"cannot convert {ROWS} rows"):
        execute.read(spec, "local", convert=convert)
    result = execute.read(spec, "local", convert=lambda frame: frame.height)
    assert result.converted == ROWS


def test_the_handoff_span_stays_under_the_read(tmp_path: Path, otel: OtelCapture) -> None:
    cat = _catalog(tmp_path, limit=1e9)
    cat.read("tall_orders")
    top = otel.span("dynio.read")
    assert top.parent is None
    assert sorted(otel.children(top)) == sorted(
        ["dynio.plan", "dynio.scan", "dynio.validate", "dynio.metrics", "dynio.to_pandas"]
    )
    handoff = otel.span("dynio.to_pandas")
    assert handoff.parent.span_id == top.context.span_id
    assert handoff.context.trace_id == top.context.trace_id


def test_only_a_tall_frame_with_checks_hands_off_on_a_worker(tmp_path: Path) -> None:
    cat = _catalog(tmp_path, limit=1e9)
    spec = cat.resource("tall_orders")._spec

    def where(frame: pl.DataFrame) -> str:
        return threading.current_thread().name

    assert execute.read(spec, "local", convert=where).converted.startswith("dynio-handoff")
    here = threading.current_thread().name
    unchecked = execute.read(spec, "local", convert=where, validate=False, metrics=False)
    assert unchecked.converted == here
    short = execute.read(spec, "local", convert=where, filters=[("id", "<", 100)])
    assert short.converted == here
