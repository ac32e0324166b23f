"""Telemetry: the spans, attributes and metrics of dynio operations, via the SDK's in-memory
exporters; redaction of secrets; context across ``read_async`` and worker threads; the set-up
(``dynio.telemetry.configure``) and ``--trace`` output.

The OTLP wire path to real backends is in ``test_telemetry_otlp.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import write_text
from fixtures.otel import ForbiddingS3, OtelCapture, free_port
from opentelemetry import trace

import dynio
from dynio.engine import telemetry as t
from dynio.engine.errors import ReadError, ValidationError
from dynio.engine.loader import load_catalog

ROOT = Path(__file__).resolve().parent.parent

ORDERS = pl.DataFrame(
    {
        "id": [1, 2, 3, 4, 5, 6],
        "amount": [10.0, 20.5, -1.0, 7.25, None, 3.0],
        "status": ["a", "b", "a", "a", "b", "a"],
    }
)

CATALOG = """
orders:
  local:
    type: local
    local: {file_path: data/orders.parquet, file_type: parquet}
  schema:
    name: orders
    columns:
      id:
        type: int64
        validations: {has_unique_values: {apply: true, options: {}}}
      amount:
        type: float64
        validations:
          is_greater_than_or_equal: {apply: true, options: {threshold: 0}, severity: warn}
        metrics: [Mean, Max, NullCount, Quantiles]
      status:
        type: str
        validations: {is_in: {apply: true, options: {categorical_values: [a, b]}}}
        metrics: [CountsPerLabel]
batch:
  local:
    type: local_batch
    local: {path_prefix: data/parts/, file_type: parquet}
  schema:
    columns:
      id: {type: int64}
      amount: {type: float64}
      status: {type: str}
strict:
  local:
    type: local
    local: {file_path: data/orders.parquet, file_type: parquet}
  schema:
    columns:
      id: {type: int64}
      amount:
        type: float64
        validations: {is_greater_than: {apply: true, options: {threshold: 0}}}
      status: {type: str}
orders_out:
  local:
    type: local
    local: {file_path: out/orders.parquet, file_type: parquet}
  schema:
    columns:
      id: {type: int64}
      amount:
        type: float64
        metrics: [Max]
      status: {type: str}
missing:
  local:
    type: local
    local: {file_path: data/nope.parquet, file_type: parquet}
"""


@pytest.fixture
def cat(tmp_path: Path) -> dynio.Catalog:
    (tmp_path / "data" / "parts").mkdir(parents=True)
    ORDERS.write_parquet(tmp_path / "data" / "orders.parquet")
    for i in range(3):
        ORDERS.slice(2 * i, 2).write_parquet(tmp_path / "data" / "parts" / f"p{i}.parquet")
    path = write_text(tmp_path / "resources.yaml", CATALOG)
    return dynio.Catalog.from_yaml(path, env="local")


def _attrs(span: Any) -> dict[str, Any]:
    return dict(span.attributes or {})


def _by_name(points: list[Any], name: str) -> list[Any]:
    return [p for p in points if p.name == name]


# ------------------------------------------------------------------------------------- span tree


def test_read_span_tree_and_attributes(
    cat: dynio.Catalog, otel: OtelCapture, tmp_path: Path
) -> None:
    df = cat.read("orders", columns=["id", "amount"], filters=[("id", ">", 1)])
    assert len(df) == 5
    top = otel.span("dynio.read")
    assert top.parent is None
    assert otel.children(top) == [
        "dynio.plan",
        "dynio.scan",
        "dynio.validate",
        "dynio.metrics",
        "dynio.to_pandas",
    ]
    assert {s.context.trace_id for s in otel.spans()} == {top.context.trace_id}
    a = _attrs(top)
    data = tmp_path / "data" / "orders.parquet"
    assert a["dynio.operation"] == "read"  # one vocabulary: the same on the duration metric
    assert a["dynio.resource"] == "orders"
    assert a["dynio.env"] == "local"
    assert a["dynio.source.kind"] == "local"
    assert a["dynio.format"] == "parquet"
    assert a["dynio.location"] == str(data)
    assert a["dynio.files.matched"] == 1
    assert a["dynio.rows"] == 5
    assert a["dynio.bytes"] == data.stat().st_size
    assert list(a["dynio.columns.projected"]) == ["id", "amount"]
    # column names stay, literals are data values: out unless the catalog includes values
    assert a["dynio.filters.pushed"] == '[(col("id")) > (?)]'
    assert "dynio.filters.residual" not in a  # the local scan takes the whole filter
    assert a["dynio.validation.outcome"] == "warned"  # -1.0 breaks a warn-severity rule
    assert a["dynio.validation.failed_rules"] == 1
    assert top.status.status_code.name == "UNSET"

    validate = otel.span("dynio.validate")
    v = _attrs(validate)
    assert v["dynio.validation.rules_checked"] == 2  # is_in is on a column not read
    assert v["dynio.validation.failed_rules"] == 1
    [event] = [e for e in validate.events if e.name == "dynio.rule.failed"]
    assert event.attributes["dynio.rule"] == "is_greater_than_or_equal"
    assert event.attributes["dynio.column"] == "amount"
    assert event.attributes["dynio.rule.severity"] == "warn"
    assert event.attributes["dynio.rule.failing_count"] == 1
    assert _attrs(otel.span("dynio.scan"))["dynio.rows"] == 5
    assert _attrs(otel.span("dynio.metrics"))["dynio.metrics.values"] > 0
    assert _attrs(otel.span("dynio.to_pandas"))["dynio.handoff.dtype_backend"] == "numpy"


def test_read_polars_has_no_handoff_and_no_metrics_span_without_metrics(
    cat: dynio.Catalog, otel: OtelCapture
) -> None:
    cat.read_polars("orders", metrics=False)
    assert otel.children(otel.span("dynio.read")) == ["dynio.plan", "dynio.scan", "dynio.validate"]
    otel.clear()
    cat.read_polars("orders", validate=False)
    assert otel.children(otel.span("dynio.read")) == ["dynio.plan", "dynio.scan", "dynio.metrics"]


def test_multi_file_read_counts_files_and_bytes(
    cat: dynio.Catalog, otel: OtelCapture, tmp_path: Path
) -> None:
    cat.read("batch")
    a = _attrs(otel.span("dynio.read"))
    parts = sorted((tmp_path / "data" / "parts").iterdir())
    assert a["dynio.files.matched"] == 3
    assert a["dynio.bytes"] == sum(p.stat().st_size for p in parts)
    assert a["dynio.rows"] == 6


def test_scan_span(cat: dynio.Catalog, otel: OtelCapture) -> None:
    lazy = cat.scan("orders", filters=[("status", "=", "b")])
    assert isinstance(lazy, pl.LazyFrame)
    top = otel.span("dynio.scan")
    assert otel.children(top) == ["dynio.plan"]
    a = _attrs(top)
    assert a["dynio.resource"] == "orders"
    assert a["dynio.format"] == "parquet"
    assert "status" in a["dynio.filters.pushed"]


def test_write_span_tree_and_attributes(
    cat: dynio.Catalog, otel: OtelCapture, tmp_path: Path
) -> None:
    frame = ORDERS.with_columns(pl.col("id").cast(pl.Int32))  # the schema casts it back
    result = cat.write("orders_out", frame.to_pandas())
    top = otel.span("dynio.write")
    assert otel.children(top) == [
        "dynio.to_polars",
        "dynio.cast",
        "dynio.validate",
        "dynio.metrics",
        "dynio.sink",
    ]
    out = tmp_path / "out" / "orders.parquet"
    a = _attrs(top)
    assert a["dynio.resource"] == "orders_out"
    assert a["dynio.location"] == str(out)
    assert a["dynio.rows"] == 6
    assert a["dynio.bytes"] == result.info.bytes == out.stat().st_size
    assert a["dynio.validation.outcome"] == "passed"
    assert list(_attrs(otel.span("dynio.cast"))["dynio.casts"]) == ["id: Int32 -> int64"]
    sink = _attrs(otel.span("dynio.sink"))
    assert sink["dynio.format"] == "parquet"
    assert sink["dynio.rows"] == 6
    assert _attrs(otel.span("dynio.to_polars"))["dynio.handoff.input"] == "pandas"


# ---------------------------------------------------------------------------------------- errors


def test_failed_read_is_an_error_span_with_the_exception(
    cat: dynio.Catalog, otel: OtelCapture, tmp_path: Path
) -> None:
    with pytest.raises(ReadError):
        cat.read("missing")
    top = otel.span("dynio.read")
    plan = otel.span("dynio.plan")
    for sp in (top, plan):
        assert sp.status.status_code.name == "ERROR"
        assert "ReadError" in sp.status.description
        assert _attrs(sp)["error.type"] == "dynio.errors.ReadError"  # fully qualified
    # recorded once, on the operation the error ended, without the deprecated escaped flag
    assert not [e for e in plan.events if e.name == "exception"]
    [event] = [e for e in top.events if e.name == "exception"]
    assert event.attributes["exception.type"] == "dynio.errors.ReadError"
    assert "does not exist" in event.attributes["exception.message"]
    assert "Traceback" in event.attributes["exception.stacktrace"]
    assert "exception.escaped" not in event.attributes
    # the location is known from the spec before planning failed
    assert _attrs(top)["dynio.location"] == str(tmp_path / "data" / "nope.parquet")
    [duration] = _by_name(otel.points(), "dynio.operation.duration")
    assert duration.attributes["error.type"] == "dynio.errors.ReadError"


def test_failed_validation_marks_the_read(cat: dynio.Catalog, otel: OtelCapture) -> None:
    with pytest.raises(ValidationError) as info:
        cat.read("strict")
    assert "-1.0" in str(info.value)  # the caller's error keeps its samples
    top = otel.span("dynio.read")
    assert top.status.status_code.name == "ERROR"
    a = _attrs(top)
    assert a["dynio.validation.outcome"] == "failed"
    assert a["dynio.validation.failed_rules"] == 1
    assert otel.span("dynio.validate").status.status_code.name == "UNSET"  # the rules ran fine
    # the span tells which rules failed, never the failing values (samples stay in the error)
    assert "-1.0" not in top.status.description
    assert "is_greater_than on amount: 1 failing" in top.status.description
    failures = _by_name(otel.points(), "dynio.validation.failures")
    assert [(p.attributes["dynio.rule"], p.attributes["dynio.rule.severity"], p.value)
            for p in failures] == [("is_greater_than", "error", 1)]  # fmt: skip
    assert failures[0].attributes["dynio.column"] == "amount"
    assert failures[0].attributes["dynio.operation"] == "read"


def test_unknown_resource_is_recorded(cat: dynio.Catalog, otel: OtelCapture) -> None:
    with pytest.raises(dynio.DynioError):
        cat.read("nobody")
    top = otel.span("dynio.read")
    assert top.status.status_code.name == "ERROR"
    assert _attrs(top)["error.type"] == "dynio.errors.ResourceNotFoundError"


# --------------------------------------------------------------------------------------- metrics


def test_read_and_write_metrics(cat: dynio.Catalog, otel: OtelCapture) -> None:
    cat.read("orders")
    cat.read("orders", filters=[("status", "=", "a")])
    cat.write("orders_out", ORDERS)
    points = otel.points()
    base = {"dynio.resource": "orders", "dynio.env": "local", "dynio.source.kind": "local"}
    rows = {p.attributes["dynio.io.direction"]: p for p in _by_name(points, "dynio.io.rows")}
    assert rows["read"].attributes == {**base, "dynio.io.direction": "read"}
    assert rows["read"].value == 6 + 4
    assert rows["write"].attributes["dynio.resource"] == "orders_out"
    assert rows["write"].value == 6
    size = {p.attributes["dynio.io.direction"]: p.value for p in _by_name(points, "dynio.io.size")}
    assert size["read"] > 0
    assert size["write"] > 0
    durations = {
        (p.attributes["dynio.operation"], p.attributes["dynio.resource"]): p.count
        for p in _by_name(points, "dynio.operation.duration")
    }
    assert durations == {("read", "orders"): 2, ("write", "orders_out"): 1}


_KIND_GAUGES = {
    "Mean": "dynio.quality.mean",
    "Max": "dynio.quality.max",
    "NullCount": "dynio.quality.null_count",
    "Quantiles": "dynio.quality.quantile",
    "CountsPerLabel": "dynio.quality.label_count",
}


def _gauges(points: list[Any], resource: str = "orders") -> dict[tuple[str, str, Any], Any]:
    out = {}
    for p in points:
        if not p.name.startswith("dynio.quality.") or p.attributes["dynio.resource"] != resource:
            continue
        metric = p.attributes["dynio.metric"]
        assert _KIND_GAUGES[metric] == p.name  # one instrument per metric kind
        label = p.attributes.get("dynio.metric.quantile", p.attributes.get("dynio.metric.label"))
        out[(p.attributes["dynio.column"], metric, label)] = p.value
    return out


def test_quality_metrics_are_gauges_one_per_kind(tmp_path: Path, otel: OtelCapture) -> None:
    # a resource of its own: gauges keep the last value other tests' reads of "orders" set
    (tmp_path / "data").mkdir()
    ORDERS.write_parquet(tmp_path / "data" / "orders.parquet")
    text = CATALOG.replace("\norders:\n", "\ngauged:\n", 1)
    cat = dynio.Catalog.from_yaml(write_text(tmp_path / "r.yaml", text), env="local")
    cat.read("gauged")
    expected = {
        (m.column, m.metric, m.label): m.value
        for m in cat.last_metrics
        if isinstance(m.value, int | float) and m.metric != "CountsPerLabel"
    }
    gauges = _gauges(otel.points(), "gauged")
    assert gauges == pytest.approx(expected)
    assert gauges[("amount", "Max", None)] == 20.5
    assert gauges[("amount", "NullCount", None)] == 1
    assert ("amount", "Quantiles", "p50") in gauges
    # CountsPerLabel labels are data values: only when the catalog includes values
    assert not [k for k in gauges if k[1] == "CountsPerLabel"]


def test_include_values_lets_labels_and_literals_in(tmp_path: Path, otel: OtelCapture) -> None:
    (tmp_path / "data" / "parts").mkdir(parents=True)
    ORDERS.write_parquet(tmp_path / "data" / "orders.parquet")
    path = write_text(tmp_path / "resources.yaml", CATALOG)
    cat = dynio.Catalog.from_yaml(path, env="local", telemetry={"include_values": True})
    cat.read("orders", filters=[("status", "=", "zz-literal")])
    assert "zz-literal" in _attrs(otel.span("dynio.read"))["dynio.filters.pushed"]
    otel.clear()
    cat.read("orders")
    gauges = _gauges(otel.points())
    assert gauges[("status", "CountsPerLabel", "a")] == 4


def test_scan_has_a_duration(cat: dynio.Catalog, otel: OtelCapture) -> None:
    cat.scan("orders")
    [d] = _by_name(otel.points(), "dynio.operation.duration")
    assert d.attributes["dynio.operation"] == "scan"
    assert d.count == 1


# ------------------------------------------------------------------------------ context handling


def test_read_async_keeps_the_callers_trace(cat: dynio.Catalog, otel: OtelCapture) -> None:
    tracer = trace.get_tracer("test")

    async def both() -> None:
        with tracer.start_as_current_span("pipeline step"):
            await asyncio.gather(cat.read_async("orders"), cat.read_async("batch"))

    asyncio.run(both())
    step = otel.span("pipeline step")
    reads = [s for s in otel.spans() if s.name == "dynio.read"]
    assert len(reads) == 2
    for read in reads:
        assert read.parent.span_id == step.context.span_id
        assert read.context.trace_id == step.context.trace_id
        # each read's stages stay under their own read, even while the reads overlap
        assert otel.children(read)[:2] == ["dynio.plan", "dynio.scan"]
    assert sorted(_attrs(r)["dynio.resource"] for r in reads) == ["batch", "orders"]


def test_write_async_keeps_the_callers_trace(cat: dynio.Catalog, otel: OtelCapture) -> None:
    tracer = trace.get_tracer("test")

    async def write() -> None:
        with tracer.start_as_current_span("pipeline step"):
            await cat.write_async("orders_out", ORDERS)

    asyncio.run(write())
    assert otel.span("dynio.write").parent.span_id == otel.span("pipeline step").context.span_id


def _fetch(name: str) -> str:
    with t.span("fetch", location=name):
        return threading.current_thread().name


def test_run_in_threads_keeps_spans_under_the_caller(otel: OtelCapture) -> None:
    with t.operation("dynio.read", resource="r", env="e") as top:
        threads = t.run_in_threads(_fetch, [f"part-{i}" for i in range(6)], max_workers=3)
    assert any(name != threading.current_thread().name for name in threads)
    fetches = [s for s in otel.spans() if s.name == "dynio.fetch"]
    assert len(fetches) == 6
    assert {f.parent.span_id for f in fetches} == {top.get_span_context().span_id}
    locations = sorted(_attrs(f)["dynio.location"] for f in fetches)
    assert locations == [f"part-{i}" for i in range(6)]


def test_run_in_threads_keeps_order_and_raises() -> None:
    assert t.run_in_threads(lambda x: x * 2, range(10)) == [x * 2 for x in range(10)]

    def boom(x: int) -> int:
        if x == 3:
            raise ValueError("three")
        return x

    with pytest.raises(ValueError, match="three"):
        t.run_in_threads(boom, range(5))


def test_plain_threads_would_lose_the_trace(otel: OtelCapture) -> None:
    # the reason for the helper: a bare pool starts each task with an empty context
    with t.operation("dynio.read", resource="r", env="e") as top:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(_fetch, ["a", "b"]))
        with t.ContextThreadPoolExecutor(2) as pool:
            list(pool.map(_fetch, ["c", "d"]))
    parents = {
        _attrs(s)["dynio.location"]: s.parent.span_id if s.parent else None
        for s in otel.spans()
        if s.name == "dynio.fetch"
    }
    top_id = top.get_span_context().span_id
    assert parents["a"] is None
    assert parents["b"] is None
    assert parents["c"] == parents["d"] == top_id


def test_annotate_reaches_stage_and_operation(otel: OtelCapture) -> None:
    with t.operation("dynio.read", resource="r", env="e"), t.span("plan"):
        t.annotate({"bytes": 1234, "dynio.retries": 2})
        assert t.reported("bytes") == 1234
    for name in ("dynio.read", "dynio.plan"):
        a = _attrs(otel.span(name))
        assert a["dynio.bytes"] == 1234
        assert a["dynio.retries"] == 2


def test_nested_operation_of_the_same_resource_is_joined(otel: OtelCapture) -> None:
    with t.operation("dynio.read", resource="r", env="e"):
        with t.operation("dynio.read", resource="r", env="e", rows=3):
            pass
        with t.operation("dynio.read", resource="other", env="e"):
            pass
    reads = [s for s in otel.spans() if s.name == "dynio.read"]
    assert sorted(_attrs(s)["dynio.resource"] for s in reads) == ["other", "r"]
    assert _attrs(next(s for s in reads if _attrs(s)["dynio.resource"] == "r"))["dynio.rows"] == 3
    durations = _by_name(otel.points(), "dynio.operation.duration")
    assert sorted(p.attributes["dynio.resource"] for p in durations) == ["other", "r"]


# ------------------------------------------------------------------------------------- redaction


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://app:hunter2@db:5432/shop", "postgresql://app:***@db:5432/shop"),
        ("see postgresql://app:p%40ss@db/shop now", "see postgresql://app:***@db/shop now"),
        ("postgresql://app@db/shop", "postgresql://app@db/shop"),
        ("https://acct.blob.core/c/f.parquet?sv=2024&sig=abc%2Fdef&se=1",
         "https://acct.blob.core/c/f.parquet?sv=2024&sig=***&se=1"),
        ("s3://b/k?X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA/x",
         "s3://b/k?X-Amz-Signature=***&X-Amz-Credential=***"),
        ("host=db password=hunter2 user=app", "host=db password=*** user=app"),
        ("{'aws_secret_access_key': 'wJalrXUt', 'region': 'eu'}",
         "{'aws_secret_access_key': '***', 'region': 'eu'}"),
        ("http://host:8080/path", "http://host:8080/path"),
        ("/data/trips_2024.parquet", "/data/trips_2024.parquet"),
    ],
)  # fmt: skip
def test_redact_shapes(text: str, expected: str) -> None:
    assert t.redact(text) == expected


def test_redact_known_values() -> None:
    assert t.redact("login failed with s3cr3t-value!", {"s3cr3t-value"}) == "login failed with ***!"
    assert t.redact("", {"x"}) == ""
    # a known value goes whole, before a key: value pattern could take only its first word
    key = "-----BEGIN PRIVATE KEY-----\nMIIEabc\n-----END PRIVATE KEY-----"
    text = t.redact(f"bad key file: {{'private_key': '{key}'}}", {key})
    assert text == "bad key file: {'private_key': '***'}"


def test_secrets_of_a_spec_come_from_the_registry_and_option_names(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "r.yaml",
        """
        pg:
          prod:
            type: postgres
            postgres:
              db_host: db.internal
              db_user: app
              db_password: "[[ PG_PASSWORD ]]"
              uri: "postgresql://app:Uri-Pass%2Fword@db.internal:5432/shop?sslpassword=Ssl-Pass-1"
        lake:
          prod:
            type: s3
            s3: {bucket: lake, file_path: trips.parquet, file_type: parquet}
            options:
              storage_options:
                aws_access_key_id: AKIAEXAMPLE
                aws_secret_access_key: "[[ S3_SECRET ]]"
                client_kwargs: {endpoint_url: "http://127.0.0.1:9", token: Tok-en-123}
        """,
    )
    spec = load_catalog(
        path, variables={"PG_PASSWORD": "Pg-Pass-123", "S3_SECRET": "S3-Secret-456"}, env="prod"
    )
    pg = spec.resources["pg"].env("prod").source
    expected = {"Pg-Pass-123", "Uri-Pass%2Fword", "Uri-Pass/word", "Ssl-Pass-1"}
    assert expected <= set(t.secrets_of(pg))
    assert "db.internal" not in t.secrets_of(pg)
    lake = spec.resources["lake"].env("prod").source
    assert {"S3-Secret-456", "Tok-en-123"} <= set(t.secrets_of(lake))
    assert "http://127.0.0.1:9" not in t.secrets_of(lake)
    assert t.location_of(pg) == "postgresql://app:***@db.internal:5432/shop?sslpassword=***"
    assert t.location_of(lake) == "s3://lake/trips.parquet"


def test_server_attributes() -> None:
    assert t.server_attributes("http://127.0.0.1:9000/x") == {
        "server.address": "127.0.0.1",
        "server.port": 9000,
    }
    assert t.server_attributes("broker:9092") == {"server.address": "broker", "server.port": 9092}


SECRET_CATALOG = """
pg:
  prod:
    type: postgres
    postgres:
      uri: "postgresql://app:[[ PG_PASSWORD ]]@127.0.0.1:[[ PG_PORT ]]/shop"
    options: {table: orders}
lake:
  prod:
    type: s3
    s3: {bucket: lake, file_path: orders.parquet, file_type: parquet}
    options:
      storage_options:
        aws_access_key_id: testing
        aws_secret_access_key: "[[ S3_SECRET ]]"
        aws_endpoint_url: "[[ S3_ENDPOINT ]]"
        aws_region: us-east-1
signed:
  prod:
    type: file
    file: {uri: "file://[[ DATA ]]/gone.parquet?token=[[ TOKEN ]]", format: parquet}
local_with_options:
  prod:
    type: local
    local: {file_path: "[[ DATA ]]/orders.parquet", file_type: parquet}
    options:
      storage_options: {secret: "[[ S3_SECRET ]]", password: "[[ PG_PASSWORD ]]"}
"""

SECRETS = {"PG_PASSWORD": "Pg-Secret-7781", "S3_SECRET": "S3-Secret-9923", "TOKEN": "Tok-3345x"}


def test_no_secret_in_spans_metrics_logs_or_errors(
    tmp_path: Path,
    otel: OtelCapture,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Reads of resources whose YAML holds secrets: none reaches a span, metric, log or error.

    Postgres points at a closed loopback port, S3 at an endpoint refusing everything, the
    signed ``file`` URI at a missing file: each read fails in its source (or, for kinds this
    version does not serve yet, before it), and a local read with secret storage options works.
    """
    (tmp_path / "data").mkdir()
    ORDERS.write_parquet(tmp_path / "data" / "orders.parquet")
    path = write_text(tmp_path / "secret.yaml", SECRET_CATALOG)
    # no S3 client may look for credentials elsewhere (instance metadata is off-machine)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRETS["S3_SECRET"])
    with ForbiddingS3() as s3_endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
        cat = dynio.Catalog.from_yaml(
            path,
            env="prod",
            vars={
                **SECRETS,
                "PG_PORT": str(free_port()),
                "S3_ENDPOINT": s3_endpoint,
                "DATA": str(tmp_path / "data"),
            },
        )
        caplog.set_level("DEBUG")
        messages: list[str] = []
        for name in ("pg", "lake", "signed"):
            with pytest.raises(dynio.DynioError) as info:
                cat.read(name)
            messages += [str(info.value), repr(info.value), *_chain(info.value)]
        assert len(cat.read("local_with_options")) == 6
        cat.scan("local_with_options")
    dumped = _dump_telemetry(otel)
    assert "dynio.read" in dumped
    assert "Tok-" not in dumped
    for secret in SECRETS.values():
        assert secret not in dumped
        assert secret not in caplog.text
        for message in messages:
            assert secret not in message
    signed = [s for s in otel.spans() if _attrs(s).get("dynio.resource") == "signed"]
    assert signed
    assert "token=***" in _attrs(signed[0])["dynio.location"]


def _chain(exc: BaseException) -> list[str]:
    out = []
    current: BaseException | None = exc
    while current is not None:
        out.append(str(current))
        current = current.__cause__ or current.__context__
    return out


def _dump_telemetry(otel: OtelCapture) -> str:
    spans = [s.to_json() for s in otel.spans()]
    points = [json.dumps([p.name, p.attributes, str(p.value)]) for p in otel.points()]
    return "\n".join(spans + points)


def test_error_messages_are_scrubbed_in_place(otel: OtelCapture) -> None:
    # a backend message quoting its connection string is redacted before anyone sees it
    def fail() -> None:
        with t.operation("dynio.read", resource="r", env="e"):
            try:
                raise OSError("connect to postgresql://app:Pg-Secret-7781@db/shop failed")
            except OSError as exc:
                raise RuntimeError("read failed") from exc

    with pytest.raises(RuntimeError) as info:
        fail()
    cause = info.value.__cause__
    assert cause is not None
    assert "Pg-Secret-7781" not in str(cause)
    assert "postgresql://app:***@db/shop" in str(cause)
    assert "Pg-Secret-7781" not in _dump_telemetry(otel)


# --------------------------------------------------------------------------------- no-SDK costs


def _python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_nothing_is_configured_on_import_or_read() -> None:
    out = _python(
        """
        import sys
        import dynio, dynio.telemetry
        from opentelemetry import metrics, trace
        cat = dynio.Catalog.from_yaml("configs/demo/resources.yaml", env="sample",
                                      vars={"DEMO_OUTPUT": "/tmp/unused"})
        cat.read("zones")
        print(type(trace.get_tracer_provider()).__name__,
              type(metrics.get_meter_provider()).__name__,
              "opentelemetry.sdk" in sys.modules)
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["ProxyTracerProvider", "_ProxyMeterProvider", "False"]


def test_without_an_sdk_spans_record_nothing() -> None:
    # the cost is measured by the benchmark (scenarios_telemetry.py); here: nothing is kept,
    # and work done only for telemetry (file sizes) is skipped
    out = _python(
        """
        from dynio.engine import telemetry as t
        with t.operation("dynio.read", resource="r", env="e") as sp:
            with t.span("plan") as inner:
                print(sp.is_recording(), inner.is_recording(), t.enabled())
        """
    )
    assert out.stdout.split() == ["False", "False", "False"], out.stderr


# ---------------------------------------------------------------------------------- configure()


def test_configure_console_exporter_from_environment() -> None:
    out = _python(
        """
        import dynio, dynio.telemetry
        handle = dynio.telemetry.configure(service_name="from-code")
        assert dynio.telemetry.configure() is handle  # idempotent
        cat = dynio.Catalog.from_yaml("configs/demo/resources.yaml", env="sample",
                                      vars={"DEMO_OUTPUT": "/tmp/unused"})
        cat.read("zones")
        handle.shutdown()
        print(handle.exporters)
        """,
        {
            "OTEL_TRACES_EXPORTER": "console",
            "OTEL_METRICS_EXPORTER": "console",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_SERVICE_NAME": "from-env",
        },
    )
    assert out.returncode == 0, out.stderr
    assert "{'traces': ['console'], 'metrics': ['console'], 'logs': []}" in out.stdout
    assert '"name": "dynio.read"' in out.stderr
    assert '"service.name": "from-env"' in out.stderr  # the environment wins over the code
    assert "dynio.io.rows" in out.stderr  # metrics flushed by shutdown()


def test_configure_uses_the_service_name_given_in_code() -> None:
    out = _python(
        """
        import dynio.telemetry
        from opentelemetry import trace
        dynio.telemetry.configure(service_name="trips-pipeline", exporters="none")
        print(trace.get_tracer_provider().resource.attributes["service.name"])
        """,
        {"OTEL_SERVICE_NAME": ""},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "trips-pipeline"


def test_a_bad_telemetry_setting_is_a_warning_never_a_failed_read() -> None:
    out = _python(
        """
        import logging, sys
        logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format="%(message)s")
        import dynio, dynio.telemetry
        handle = dynio.telemetry.configure()
        cat = dynio.Catalog.from_yaml("configs/demo/resources.yaml", env="sample",
                                      vars={"DEMO_OUTPUT": "/tmp/unused"})
        print("rows:", len(cat.read("zones")))
        handle.shutdown()
        print(handle.exporters)
        """,
        {
            "OTEL_TRACES_EXPORTER": "zipkin_nowhere",
            "OTEL_METRICS_EXPORTER": "console",
            "OTEL_LOGS_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "carrier-pigeon",
        },
    )
    assert out.returncode == 0, out.stderr
    assert "rows: 20" in out.stdout
    assert "no traces exporter named 'zipkin_nowhere' is installed" in out.stdout
    assert "OTLP protocol 'carrier-pigeon' is not supported" in out.stdout
    assert "{'traces': [], 'metrics': ['console'], 'logs': []}" in out.stdout


def test_configure_honours_sdk_disabled() -> None:
    out = _python(
        """
        import dynio.telemetry
        from opentelemetry import trace
        handle = dynio.telemetry.configure()
        print(handle.tracer_provider, type(trace.get_tracer_provider()).__name__)
        """,
        {"OTEL_SDK_DISABLED": "true"},
    )
    assert out.stdout.split() == ["None", "ProxyTracerProvider"], out.stderr


def test_any_installed_exporter_works_by_its_entry_point_name() -> None:
    """``OTEL_METRICS_EXPORTER=prometheus`` (the SDK's entry point) serves dynio's metrics,
    named per the conventions: ``dynio.io.size`` in ``By`` becomes ``dynio_io_size_bytes_total``."""
    pytest.importorskip("opentelemetry.exporter.prometheus")
    port = free_port()
    out = _python(
        f"""
        import urllib.request
        import dynio, dynio.telemetry
        handle = dynio.telemetry.configure()
        cat = dynio.Catalog.from_yaml("configs/demo/resources.yaml", env="sample",
                                      vars={{"DEMO_OUTPUT": "/tmp/unused"}})
        cat.read("zones")
        with urllib.request.urlopen("http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            print(resp.read().decode())
        handle.shutdown()
        """,
        {
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_METRICS_EXPORTER": "prometheus",
            "OTEL_EXPORTER_PROMETHEUS_HOST": "127.0.0.1",
            "OTEL_EXPORTER_PROMETHEUS_PORT": str(port),
        },
    )
    assert out.returncode == 0, out.stderr
    assert 'dynio_io_size_bytes_total{dynio_env="sample",dynio_io_direction="read"' in out.stdout
    assert "dynio_operation_duration_seconds_bucket" in out.stdout
    assert "dynio_bytes_read" not in out.stdout


def test_an_application_logger_provider_is_reused_and_records_go_once() -> None:
    out = _python(
        """
        import logging
        from opentelemetry import _logs
        from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
        from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
        from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
        import warnings
        warnings.simplefilter("ignore")  # the SDK's LoggingHandler is deprecated
        exporter = InMemoryLogRecordExporter()
        provider = LoggerProvider()
        provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
        _logs.set_logger_provider(provider)
        logging.getLogger().addHandler(LoggingHandler(logger_provider=provider))
        import dynio.telemetry
        handle = dynio.telemetry.configure(exporters="none")
        print(handle.logger_provider is provider)
        logging.getLogger("dynio").warning("one record")
        handle.shutdown()
        print(sum(r.log_record.body == "one record" for r in exporter.get_finished_logs()))
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "1"]


@pytest.mark.slow
def test_shutdown_against_a_dead_endpoint_is_bounded() -> None:
    """An OTLP endpoint nobody listens on: the exporters' retries (15 s and more for three
    signals before) are cut at the shutdown budget (2 s by default). A generous bound: this
    guards against waiting on retries, not a timing target."""
    out = _python(
        """
        import time
        import dynio, dynio.telemetry
        handle = dynio.telemetry.configure()
        cat = dynio.Catalog.from_yaml("configs/demo/resources.yaml", env="sample",
                                      vars={"DEMO_OUTPUT": "/tmp/unused"})
        cat.read("zones")
        start = time.monotonic()
        handle.shutdown()
        print(f"shutdown {time.monotonic() - start:.2f}")
        """,
        {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}"},
    )
    assert out.returncode == 0, out.stderr
    seconds = float(out.stdout.split("shutdown ")[1])
    assert seconds < 8, seconds


def test_cli_configures_for_an_exporter_without_an_endpoint() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "dynio.cli", "read", "zones", "--config",
         "configs/demo/resources.yaml", "--env", "sample", "--var", "DEMO_OUTPUT=/tmp/unused"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
             "OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "none",
             "OTEL_LOGS_EXPORTER": "none"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert '"name": "dynio.read"' in out.stderr


def test_configure_keeps_an_application_provider(otel: OtelCapture) -> None:
    # the test process has SDK providers (the otel fixture's): configure() adopts, never replaces
    from dynio import telemetry

    provider = trace.get_tracer_provider()
    handle = telemetry.configure(exporters="none")
    try:
        assert handle.tracer_provider is provider
        assert trace.get_tracer_provider() is provider
    finally:
        handle.shutdown()
    with t.span("still recorded"):
        pass
    assert otel.span("dynio.still recorded")  # stage names are namespaced


# ------------------------------------------------------------------------------------- --trace


def test_cli_read_trace_prints_the_span_tree(
    otel: OtelCapture, capsys: pytest.CaptureFixture[str]
) -> None:
    from dynio import cli

    code = cli.main(
        ["read", "zones", "--config", str(ROOT / "configs/demo/resources.yaml"),
         "--env", "sample", "--var", "DEMO_OUTPUT=/tmp/unused", "--trace"]
    )  # fmt: skip
    assert code == 0
    err = capsys.readouterr().err
    lines = err.splitlines()
    start = lines.index("spans:")
    tree = lines[start + 1 :]
    assert tree[0].startswith("dynio.read  ")
    assert "zones, 10 rows" in tree[0]  # a preview reads only the rows it shows
    assert [line.split()[1] for line in tree[1:]] == ["dynio.plan", "dynio.scan", "dynio.validate"]
    assert tree[-1].startswith("└─ dynio.validate")
    assert all(" ms" in line or " s" in line for line in tree)


def test_demo_trace_shows_every_stage(
    otel: OtelCapture, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dynio import demo

    lines: list[str] = []
    demo.run(out=tmp_path / "out", echo=lines.append, trace=True)
    text = "\n".join(lines)
    tree = text.split("spans of this run (dynio demo --trace):\n", 1)[1].splitlines()
    assert tree[0].startswith("dynio.demo  ")
    names = [line.replace("│", " ").replace("├─", " ").replace("└─", " ").split()[0]
             for line in tree]  # fmt: skip
    assert names.count("dynio.read") == 3
    assert names.count("dynio.write") == 2
    for stage in ("plan", "scan", "validate", "metrics", "to_pandas", "to_polars", "sink"):
        stage = f"dynio.{stage}"
        assert stage in names
    assert any(line.startswith("│  ├─ dynio.plan") for line in tree)  # stages indented under reads
    assert otel.span("dynio.demo")


def test_format_tree_orders_children_and_marks_errors(otel: OtelCapture) -> None:
    from dynio.telemetry import format_tree

    def fail() -> None:
        with t.operation("dynio.read", resource="r", env="e"):
            with t.span("plan"):
                pass
            with t.span("scan", rows=1234):
                raise ValueError("broken file")

    with pytest.raises(ValueError, match="broken file"):
        fail()
    tree = format_tree(otel.spans()).splitlines()
    assert tree[0].startswith("dynio.read  ")
    assert "ERROR ValueError: broken file" in tree[0]
    assert tree[1].startswith("├─ dynio.plan  ")
    assert tree[2].startswith("└─ dynio.scan  ")
    assert "1,234 rows" in tree[2]


# ---------------------------------------------------------------------------------- CLIENT spans


def test_client_span_conventions_for_each_kind(otel: OtelCapture) -> None:
    with t.operation("dynio.read", resource="r", env="e"):
        with t.client_span("storage", system="s3", operation="GetObject", target="lake",
                           region="eu-west-1"):  # fmt: skip
            pass
        with t.client_span("storage", system="gcs", operation="ListObjects", target="b"):
            pass
        with t.client_span("messaging", system="kafka", operation="send", target="trips",
                           server="broker-1:9092,broker-2:9092"):  # fmt: skip
            pass
        with t.client_span("db", system="postgresql", operation="SELECT", target="public.t",
                           namespace="shop", server="db.internal", port=5433,
                           query="SELECT * FROM t WHERE email = 'a@b.c' AND n > 42"):  # fmt: skip
            pass
    top = otel.span("dynio.read")
    calls = {s.name: s for s in otel.spans() if s.kind.name == "CLIENT"}
    assert set(calls) == {"S3.GetObject", "GCS.ListObjects", "send trips", "SELECT public.t"}
    assert {s.parent.span_id for s in calls.values()} == {top.context.span_id}
    s3 = _attrs(calls["S3.GetObject"])
    # AWS without an endpoint_url: the regional endpoint, still a server.address
    assert s3["server.address"] == "s3.eu-west-1.amazonaws.com"
    assert s3["server.port"] == 443
    assert (s3["rpc.system"], s3["rpc.service"], s3["rpc.method"]) == ("aws-api", "S3", "GetObject")
    assert s3["aws.s3.bucket"] == "lake"
    gcs = _attrs(calls["GCS.ListObjects"])
    assert (gcs["server.address"], gcs["server.port"]) == ("storage.googleapis.com", 443)
    kafka = _attrs(calls["send trips"])
    assert kafka["messaging.system"] == "kafka"
    assert kafka["messaging.destination.name"] == "trips"
    assert kafka["messaging.operation.type"] == "send"
    assert (kafka["server.address"], kafka["server.port"]) == ("broker-1", 9092)
    db = _attrs(calls["SELECT public.t"])
    assert db["db.query.text"] == "SELECT * FROM t WHERE email = ? AND n > ?"
    assert (db["server.address"], db["server.port"]) == ("db.internal", 5433)
    assert db["db.namespace"] == "shop"


def _refused() -> None:
    with (
        t.operation("dynio.read", resource="r", env="e"),
        t.client_span("db", system="postgresql", operation="SELECT", server="h"),
    ):
        raise ConnectionRefusedError("refused")


def test_a_failed_call_marks_its_client_span(otel: OtelCapture) -> None:
    with pytest.raises(ConnectionRefusedError):
        _refused()
    [call] = [s for s in otel.spans() if s.kind.name == "CLIENT"]
    assert call.status.status_code.name == "ERROR"
    assert _attrs(call)["error.type"] == "ConnectionRefusedError"
    assert not call.events  # recorded once, on the operation
    assert [e.name for e in otel.span("dynio.read").events] == ["exception"]
