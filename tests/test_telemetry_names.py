"""Every name dynio's telemetry emits is in the table kept in code (``dynio.engine.conventions``),
the README's table is generated from it, and no data value (personal data in a rule's samples, a
filter's literals, ``CountsPerLabel`` labels) reaches any exported span, event, metric point or
log record unless the catalog opts in with ``include_values``."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import write_text
from fixtures.otel import OtelCapture, Point
from opentelemetry import trace

import dynio
import dynio.pandas
from dynio.engine import conventions, instruments
from dynio.engine.errors import ValidationError

ROOT = Path(__file__).resolve().parent.parent
DYNIO_METER = instruments.meter.name


def _personal() -> list[str]:
    """Personal data, new for each test (gauges keep their last points across tests)."""
    token = uuid.uuid4().hex[:8]
    return [f"alice.{token}@example.com", f"bob.{token}@example.org", f"+44 7700 {token}"]


CATALOG = """
people:
  local:
    type: local
    local: {file_path: data/people.parquet, file_type: parquet}
  schema:
    name: people
    columns:
      id: {type: int64, metrics: [Max, Mean]}
      email:
        type: str
        validations:
          is_in: {apply: true, options: {categorical_values: [x@example.com]}, severity: warn}
        metrics: [CountsPerLabel, UniqueCounts]
      phone:
        type: str
        validations:
          has_no_null_values: {apply: true, options: {}}
strict_people:
  local:
    type: local
    local: {file_path: data/people.parquet, file_type: parquet}
  schema:
    columns:
      id: {type: int64}
      email:
        type: str
        validations: {is_in: {apply: true, options: {categorical_values: [x@example.com]}}}
      phone: {type: str}
people_out:
  local:
    type: local
    local: {file_path: out/people.parquet, file_type: parquet}
  schema:
    columns:
      id: {type: int64}
      email: {type: str}
      phone: {type: str, metrics: [CountsPerLabel]}
"""


@pytest.fixture
def log_records() -> Iterator[Any]:
    """dynio's log records as exported to OpenTelemetry (the SDK's in-memory log exporter)."""
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

    from dynio.otel_setup import LogBridge

    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    bridge = LogBridge(provider)
    dynio_logger = logging.getLogger("dynio")
    metrics_logger = logging.getLogger("dynio.metrics")
    level = metrics_logger.level
    metrics_logger.setLevel(logging.INFO)  # the JSON metric lines too
    dynio_logger.addHandler(bridge)
    try:
        yield lambda: [r.log_record for r in exporter.get_finished_logs()]
    finally:
        dynio_logger.removeHandler(bridge)
        metrics_logger.setLevel(level)


def _run(tmp_path: Path, personal: list[str], **catalog_kwargs: Any) -> None:
    (tmp_path / "data").mkdir(exist_ok=True)
    frame = pl.DataFrame({"id": [1, 2, 3], "email": [*personal[:2], "x@example.com"],
                          "phone": [personal[2], "n/a", None]})  # fmt: skip
    frame.write_parquet(tmp_path / "data" / "people.parquet")
    path = write_text(tmp_path / "resources.yaml", CATALOG)
    cat = dynio.Catalog.from_yaml(path, env="local", **catalog_kwargs)
    with pytest.raises(ValidationError) as info:  # has_no_null_values fails on phone
        cat.read("people", filters=[("email", "!=", personal[1]), ("id", "<", 99)])
    with pytest.raises(ValidationError) as strict:
        cat.read("strict_people")
    # the caller's error keeps its samples, whatever the telemetry setting
    assert personal[0] in str(strict.value)
    assert info.value.report.failures
    cat.read("people", validate=False)
    cat.scan("people", filters=[("email", "=", personal[0])])
    cat.write("people_out", frame.fill_null("n/a"))
    # the drop-in readers name the reader that served a call on the caller's span
    frame.write_csv(tmp_path / "data" / "people.csv")
    with trace.get_tracer("caller").start_as_current_span("caller", kind=trace.SpanKind.SERVER):
        dynio.pandas.read_csv(tmp_path / "data" / "people.csv")


def _dump(
    otel: OtelCapture, records: list[Any], points: list[Point] | None = None
) -> tuple[str, list[tuple[str, str]]]:
    """Everything exported (the metric points given, else all points so far), as text, and
    every (where, attribute name) pair."""
    names: list[tuple[str, str]] = []
    parts: list[str] = []
    for s in otel.spans():
        parts.append(s.to_json())
        names += [(f"span {s.name}", k) for k in s.attributes or {}]
        for e in s.events:
            names += [(f"event {e.name}", k) for k in e.attributes or {}]
    for p in otel.points() if points is None else points:
        parts.append(json.dumps([p.name, p.attributes, str(p.value)]))
        names += [(f"metric {p.name}", k) for k in p.attributes]
    for r in records:
        parts.append(json.dumps([str(r.body), dict(r.attributes or {})]))
        names += [("log record", k) for k in r.attributes or {}]
    return "\n".join(parts), names


def test_every_emitted_name_is_in_the_table(
    tmp_path: Path, otel: OtelCapture, log_records: Any
) -> None:
    _run(tmp_path, _personal(), telemetry={"include_values": True})  # the optional names too
    spans = otel.spans()
    every_point = otel.points()
    # dynio's instruments are its meter's; an SDK may add its own (1.40 counts spans as
    # otel.sdk.span.started and otel.sdk.span.live under the meter "opentelemetry-sdk")
    points = [p for p in every_point if p.scope == DYNIO_METER]
    assert {p.scope for p in every_point} - {DYNIO_METER} <= {"opentelemetry-sdk"}
    assert {p.name for p in every_point if p.name.startswith("dynio.")} <= {p.name for p in points}
    assert points
    _, names = _dump(otel, log_records(), points)
    assert ("log record", "logger.name") in names
    unknown = sorted({(w, n) for w, n in names if n not in conventions.ATTRIBUTES})
    assert not unknown, unknown
    known_spans = {*conventions.SPANS, *conventions.STAGES}
    assert {s.name for s in spans if s.kind.name == "INTERNAL"} <= known_spans
    assert {p.name for p in points} <= set(conventions.METRICS)
    for s in spans:
        for e in s.events:
            assert e.name in conventions.EVENTS
            assert set(e.attributes or {}) <= set(conventions.EVENTS[e.name]), e.name
    for p in points:
        assert set(p.attributes) <= set(conventions.METRICS[p.name].attributes), p.name
    # the run did emit the value-carrying names (so the check above saw them)
    assert {"dynio.metric.label", "dynio.filters.pushed", "dynio.pandas.reader"} <= {
        n for _, n in names
    }


def test_no_personal_data_in_any_exported_telemetry_by_default(
    tmp_path: Path, otel: OtelCapture, log_records: Any
) -> None:
    """A personal-data grep over every exported span (attributes, events, status), metric
    point and log record."""
    personal = _personal()
    _run(tmp_path, personal)
    dumped, _ = _dump(otel, log_records())
    assert "dynio.read" in dumped
    assert "is_in failed on column 'email'" in dumped  # the warning went, without its samples
    assert "dynio.quality.count" in dumped
    for value in personal:
        assert value not in dumped


def test_values_go_in_only_when_the_catalog_opts_in(
    tmp_path: Path, otel: OtelCapture, log_records: Any
) -> None:
    personal = _personal()
    _run(tmp_path, personal, telemetry={"include_values": True})
    dumped, _ = _dump(otel, log_records())
    for value in personal:  # filter literals, samples, labels
        assert value in dumped


@pytest.mark.parametrize("page", ["docs/telemetry.md"])
def test_the_documented_tables_are_generated_from_the_code(page: str) -> None:
    readme = (ROOT / page).read_text(encoding="utf-8")
    start = "<!-- conventions: generated from dynio.engine.conventions.readme_section() -->\n"
    end = "<!-- end of generated conventions -->"
    assert start in readme
    assert end in readme
    generated = readme.split(start, 1)[1].split(end, 1)[0]
    assert generated == conventions.readme_section(), (
        "README out of date: paste dynio.engine.conventions.readme_section() between the markers"
    )
