"""Telemetry over the wire: dynio runs in a fresh process set up by the standard ``OTEL_*``
variables and sends OTLP to real backends on loopback.

- Arize Phoenix receives the traces over OTLP/HTTP; the test reads them back from its REST API
  (``GET /v1/projects/{project}/spans``) and checks the span tree and attributes.
- The suite's OTLP receiver (``fixtures/otel.py``) takes traces, metrics and logs over OTLP/HTTP
  and OTLP/gRPC, so the counters, the duration histogram, the data-quality gauges and the log
  records are checked as they arrive on the wire, and searched byte by byte for secrets.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import write_text
from fixtures.otel import ForbiddingS3, OtlpReceiver, Phoenix, Received, free_port

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "configs" / "demo" / "resources.yaml"


def _run(
    args: list[str], env: dict[str, str], cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    proc = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**base, **env},
        timeout=300,  # a hang guard, not a timing check
    )
    return proc


def _cli(*args: str, env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return _run(["-m", "dynio.cli", *args], env, cwd)


def _script(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return _run(["-c", textwrap.dedent(code)], env)


# ------------------------------------------------------------------------------------ Phoenix


def _names(spans: Iterable[dict[str, Any]]) -> list[str]:
    return [s["name"] for s in spans]


def _tree_ready(*names: str) -> Any:
    return lambda spans: all(n in _names(spans) for n in names)


def test_cli_read_traces_land_in_phoenix(phoenix: Phoenix) -> None:
    project = f"dynio-cli-{uuid.uuid4().hex[:8]}"
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": phoenix.url,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_RESOURCE_ATTRIBUTES": f"openinference.project.name={project}",
        "OTEL_SERVICE_NAME": "dynio-tests",
        "OTEL_METRICS_EXPORTER": "none",  # Phoenix takes traces only
        "OTEL_LOGS_EXPORTER": "none",
    }
    proc = _cli(
        "read", "trips", "--config", str(DEMO), "--env", "sample",
        "--var", "DEMO_OUTPUT=/tmp/unused", "--columns", "trip_id,fare", "--limit", "0", env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    spans = phoenix.wait_for_spans(project, _tree_ready("dynio.read", "plan", "scan", "validate"))
    by_name = {s["name"]: s for s in spans}
    top = by_name["dynio.read"]
    assert top["parent_id"] is None
    top_id = top["context"]["span_id"]
    for stage in ("plan", "scan", "validate"):
        assert by_name[stage]["parent_id"] == top_id
        assert by_name[stage]["context"]["trace_id"] == top["context"]["trace_id"]
    a = top["attributes"]
    assert a["dynio.resource"] == "trips"
    assert a["dynio.env"] == "sample"
    assert a["dynio.source.kind"] == "local"
    assert a["dynio.format"] == "csv"
    assert a["dynio.rows"] == 600
    assert list(a["dynio.columns.projected"]) == ["trip_id", "fare"]
    assert a["dynio.location"].endswith("configs/demo/data/trips.csv")
    assert a["dynio.validation.outcome"] == "warned"
    assert top["status_code"] in ("UNSET", "OK")


def test_library_configure_sends_errors_to_phoenix(phoenix: Phoenix) -> None:
    project = f"dynio-lib-{uuid.uuid4().hex[:8]}"
    proc = _script(
        f"""
        import dynio, dynio.telemetry
        handle = dynio.telemetry.configure(
            service_name="trips-pipeline",
            resource_attributes={{"openinference.project.name": {project!r}}},
        )
        cat = dynio.Catalog.from_yaml({str(DEMO)!r}, env="sample",
                                      vars={{"DEMO_OUTPUT": "/tmp/unused"}})
        cat.read("zones")
        try:
            cat.read("zones", columns=["no_such_column"])
        except dynio.DynioError as exc:
            print("failed:", type(exc).__name__)
        handle.shutdown()
        """,
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": phoenix.url,
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
        },
    )
    assert proc.returncode == 0, proc.stderr
    assert "failed: SchemaError" in proc.stdout
    spans = phoenix.wait_for_spans(
        project, lambda s: _names(s).count("dynio.read") == 2 and "to_pandas" in _names(s)
    )
    reads = [s for s in spans if s["name"] == "dynio.read"]
    failed = [s for s in reads if s["status_code"] == "ERROR"]
    assert len(failed) == 1
    assert "SchemaError" in failed[0]["status_message"]
    [event] = [e for e in failed[0]["events"] if e["name"] == "exception"]
    assert event["attributes"]["exception.type"] == "SchemaError"
    ok = next(s for s in reads if s["status_code"] != "ERROR")
    children = {s["name"] for s in spans if s["parent_id"] == ok["context"]["span_id"]}
    assert {"plan", "scan", "validate", "to_pandas"} <= children


# ------------------------------------------------------------------------ OTLP receiver helpers


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in any_value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in any_value.kvlist_value.values}
    return getattr(any_value, kind) if kind else None


def _kv(items: Iterable[Any]) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in items}


def _mine(received: list[Received], service: str, attr: str) -> list[tuple[dict[str, Any], Any]]:
    """(resource attributes, resource_* message) pairs of one service."""
    out = []
    for r in received:
        for res in getattr(r.message, attr):
            attrs = _kv(res.resource.attributes)
            if attrs.get("service.name") == service:
                out.append((attrs, res))
    return out


def _spans(receiver: OtlpReceiver, service: str, transport: str) -> list[dict[str, Any]]:
    spans = []
    for _, rs in _mine(receiver.take("traces", transport), service, "resource_spans"):
        for ss in rs.scope_spans:
            for s in ss.spans:
                spans.append(
                    {
                        "name": s.name,
                        "id": s.span_id.hex(),
                        "parent": s.parent_span_id.hex() or None,
                        "attributes": _kv(s.attributes),
                        "scope": ss.scope.name,
                    }
                )
    return spans


def _points(receiver: OtlpReceiver, service: str, transport: str) -> list[dict[str, Any]]:
    points = []
    for _, rm in _mine(receiver.take("metrics", transport), service, "resource_metrics"):
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                kind = m.WhichOneof("data")
                for p in getattr(m, kind).data_points:
                    value = (
                        p.count
                        if kind == "histogram"
                        else getattr(p, p.WhichOneof("value") or "as_int")
                    )
                    points.append(
                        {
                            "name": m.name,
                            "kind": kind,
                            "attributes": _kv(p.attributes),
                            "value": value,
                        }
                    )
    return points


def _logs(receiver: OtlpReceiver, service: str, transport: str) -> list[dict[str, Any]]:
    logs = []
    for _, rl in _mine(receiver.take("logs", transport), service, "resource_logs"):
        for sl in rl.scope_logs:
            for rec in sl.log_records:
                logs.append(
                    {
                        "body": _value(rec.body),
                        "severity": rec.severity_text,
                        "trace_id": rec.trace_id.hex(),
                        "attributes": _kv(rec.attributes),
                    }
                )
    return logs


def _otlp_env(receiver: OtlpReceiver, transport: str, service: str) -> dict[str, str]:
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": (
            receiver.grpc_endpoint if transport == "grpc" else receiver.http_endpoint
        ),
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc" if transport == "grpc" else "http/protobuf",
        "OTEL_SERVICE_NAME": service,
    }


# ------------------------------------------------------------------------------ OTLP receiver


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_demo_sends_traces_metrics_and_logs(
    otlp_receiver: OtlpReceiver, tmp_path: Path, transport: str
) -> None:
    service = f"dynio-demo-{transport}-{uuid.uuid4().hex[:6]}"
    proc = _cli(
        "demo",
        "--out",
        str(tmp_path / "out"),
        "--config",
        str(ROOT / "configs" / "demo"),
        env=_otlp_env(otlp_receiver, transport, service),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr

    spans = _spans(otlp_receiver, service, transport)
    by_id = {s["id"]: s for s in spans}
    [root] = [s for s in spans if s["name"] == "dynio.demo"]
    assert root["parent"] is None
    assert {s["scope"] for s in spans} == {"dynio"}
    ops = [s for s in spans if s["parent"] == root["id"]]
    assert sorted(s["name"] for s in ops) == ["dynio.read"] * 3 + ["dynio.write"] * 2
    stages = {
        (by_id[s["parent"]]["attributes"]["dynio.resource"], s["name"])
        for s in spans
        if s["parent"] in by_id and by_id[s["parent"]]["name"].startswith("dynio.")
        and by_id[s["parent"]]["name"] != "dynio.demo"
    }  # fmt: skip
    assert {("trips", n) for n in ("plan", "scan", "validate", "metrics", "to_pandas")} <= stages
    assert {("trips_clean", n) for n in ("to_polars", "validate", "sink")} <= stages
    write = next(s for s in ops if s["attributes"]["dynio.resource"] == "zone_summary")
    assert write["attributes"]["dynio.rows"] == 20
    assert write["attributes"]["dynio.bytes"] > 0

    points = _points(otlp_receiver, service, transport)

    def total(name: str, **attrs: Any) -> Any:
        return sum(
            p["value"]
            for p in points
            if p["name"] == name and all(p["attributes"].get(k) == v for k, v in attrs.items())
        )

    assert total("dynio.rows.read", **{"dynio.resource": "trips"}) == 600
    assert total("dynio.rows.written", **{"dynio.resource": "trips_clean"}) == 593
    assert total("dynio.bytes.read", **{"dynio.resource": "zones"}) > 0
    durations = [p for p in points if p["name"] == "dynio.operation.duration"]
    assert {p["kind"] for p in durations} == {"histogram"}
    assert total("dynio.operation.duration", **{"dynio.operation": "read"}) == 3
    assert total("dynio.operation.duration", **{"dynio.operation": "write"}) == 2
    gauges = {
        (p["attributes"]["dynio.resource"], p["attributes"]["dynio.column"],
         p["attributes"]["dynio.metric"], p["attributes"].get("dynio.metric.label")): p["value"]
        for p in points
        if p["name"] == "dynio.quality.value"
    }  # fmt: skip
    assert {p["kind"] for p in points if p["name"] == "dynio.quality.value"} == {"gauge"}
    assert gauges[("zone_summary", "revenue", "Max", None)] == pytest.approx(1201.69)
    assert ("trips", "distance_km", "Quantiles", "p50") in gauges
    assert gauges[("trips", "payment", "CountsPerLabel", "card")] > 0
    warned = [
        p
        for p in points
        if p["name"] == "dynio.validation.failures" and p["attributes"]["dynio.resource"] == "trips"
    ]
    assert warned
    assert warned[0]["attributes"]["dynio.rule.severity"] == "warn"

    logs = _logs(otlp_receiver, service, transport)
    warning = [entry for entry in logs if "is_greater_than_or_equal failed" in str(entry["body"])]
    assert warning, logs
    assert warning[0]["severity"] == "WARNING"
    assert warning[0]["attributes"]["logger.name"] == "dynio"
    # a log record made during a read carries that read's trace
    assert warning[0]["trace_id"] == _trace_of(otlp_receiver, service, transport)


def _trace_of(receiver: OtlpReceiver, service: str, transport: str) -> str:
    for _, rs in _mine(receiver.take("traces", transport), service, "resource_spans"):
        for ss in rs.scope_spans:
            for s in ss.spans:
                if s.name == "dynio.demo":
                    return str(s.trace_id.hex())
    raise AssertionError("no dynio.demo span")


def test_cli_without_endpoint_exports_nothing(otlp_receiver: OtlpReceiver) -> None:
    service = f"dynio-quiet-{uuid.uuid4().hex[:6]}"
    env = {"OTEL_SERVICE_NAME": service}
    proc = _cli("read", "zones", "--config", str(DEMO), "--env", "sample",
                "--var", "DEMO_OUTPUT=/tmp/unused", env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert not _spans(otlp_receiver, service, "http")
    assert not _spans(otlp_receiver, service, "grpc")


# ------------------------------------------------------------------------------------- secrets

SECRETS = {"PG_PASSWORD": "Pg-Wire-Secret-5150", "S3_SECRET": "S3-Wire-Secret-8086"}

SECRET_CATALOG = """
pg:
  prod:
    type: postgres
    postgres:
      uri: "postgresql://app:[[ PG_PASSWORD ]]@127.0.0.1:[[ PG_PORT ]]/shop"
    options: {table: orders}
pg_fields:
  prod:
    type: postgres
    postgres:
      db_host: 127.0.0.1
      db_port: "[[ PG_PORT ]]"
      db_name: shop
      db_user: app
      db_password: "[[ PG_PASSWORD ]]"
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
local_with_options:
  prod:
    type: local
    local: {file_path: "[[ DATA ]]/orders.parquet", file_type: parquet}
    options:
      storage_options: {secret: "[[ S3_SECRET ]]", password: "[[ PG_PASSWORD ]]"}
  schema:
    columns:
      id: {type: int64, metrics: [Max]}
      amount:
        type: float64
        validations:
          is_greater_than: {apply: true, options: {threshold: 0}, severity: warn}
"""


def test_no_secret_reaches_the_wire_logs_or_errors(
    otlp_receiver: OtlpReceiver, tmp_path: Path
) -> None:
    """A process reading resources whose YAML holds a Postgres password and an S3 secret key,
    with telemetry exported and every logger at DEBUG: no secret in any exported byte, log line
    or error message."""
    (tmp_path / "data").mkdir()
    pl.DataFrame({"id": [1, 2, 3], "amount": [1.5, -2.0, 3.0]}).write_parquet(
        tmp_path / "data" / "orders.parquet"
    )
    catalog = write_text(tmp_path / "secret.yaml", SECRET_CATALOG)
    service = f"dynio-secrets-{uuid.uuid4().hex[:6]}"
    with ForbiddingS3() as s3_endpoint:
        proc = _secret_run(otlp_receiver, catalog, service, tmp_path, s3_endpoint)
    assert proc.returncode == 0, proc.stderr
    assert "rows: 3" in proc.stdout
    assert proc.stdout.count("error:") == 3
    mine = [
        r
        for r in otlp_receiver.take(transport="http")
        if service.encode() in r.raw  # the resource's service.name is in every request
    ]
    assert {r.signal for r in mine} == {"traces", "metrics", "logs"}
    assert any(b"dynio.metric" in r.raw for r in mine)
    for secret in SECRETS.values():
        assert secret not in proc.stdout
        assert secret not in proc.stderr
        for r in mine:
            assert secret.encode() not in r.raw, f"{secret} sent in {r.signal}"


def _secret_run(
    receiver: OtlpReceiver, catalog: Path, service: str, tmp_path: Path, s3_endpoint: str
) -> subprocess.CompletedProcess[str]:
    variables = {
        **SECRETS,
        "PG_PORT": str(free_port()),  # nothing listens: the connection is refused at once
        "S3_ENDPOINT": s3_endpoint,  # refuses every request with 403
        "DATA": str(tmp_path / "data"),
    }
    return _script(
        f"""
        import logging, sys
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
        import dynio, dynio.telemetry
        handle = dynio.telemetry.configure()
        cat = dynio.Catalog.from_yaml({str(catalog)!r}, env="prod", vars={variables!r})
        for name in ("pg", "pg_fields", "lake"):
            try:
                cat.read(name)
            except Exception as exc:
                print("error:", type(exc).__name__, exc, repr(exc))
                cause = exc.__cause__
                while cause is not None:
                    print("cause:", type(cause).__name__, cause)
                    cause = cause.__cause__
        print("rows:", len(cat.read("local_with_options")))
        cat.write("local_with_options", cat.read("local_with_options"))
        handle.shutdown()
        """,
        {
            **_otlp_env(receiver, "http", service),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": SECRETS["S3_SECRET"],
            "AWS_ENDPOINT_URL": s3_endpoint,
        },
    )
