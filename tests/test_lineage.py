"""OpenLineage run events of reads and writes, through openlineage-python's own transports: its
file transport, and its HTTP transport against a receiver on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import write_text

import dynio
from dynio.engine.errors import ValidationError
from dynio.lineage import dataset_name

pytest.importorskip("openlineage.client", reason="pip install 'dynio[openlineage]'")

CATALOG = """
orders:
  local:
    type: local
    local: {file_path: data/orders.parquet, file_type: parquet}
  schema:
    columns:
      id:
        type: int64
        validations: {has_unique_values: {apply: true, options: {}}}
        metrics: [Max, NullCount, Quantiles]
      email:
        type: str
        validations:
          is_in: {apply: true, options: {categorical_values: [a@x.org]}, severity: warn}
        metrics: [CountsPerLabel]
orders_out:
  local:
    type: local
    local: {file_path: out/orders.parquet, file_type: parquet}
  schema:
    columns:
      id: {type: int64, validations: {is_greater_than: {apply: true, options: {threshold: 1}}}}
      email: {type: str}
"""
PERSONAL = "carol.lineage@example.net"


@pytest.fixture
def cat(tmp_path: Path) -> dynio.Catalog:
    (tmp_path / "data").mkdir()
    pl.DataFrame({"id": [1, 2, 3], "email": ["a@x.org", PERSONAL, "a@x.org"]}).write_parquet(
        tmp_path / "data" / "orders.parquet"
    )
    return dynio.Catalog.from_yaml(write_text(tmp_path / "r.yaml", CATALOG), env="local")


def _file_transport(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__TYPE", "file")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__LOG_FILE_PATH", str(path))
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__APPEND", "true")


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_read_and_write_runs_through_the_file_transport(
    cat: dynio.Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "lineage.ndjson"
    _file_transport(monkeypatch, log)
    frame = cat.read_polars("orders")
    cat.write("orders_out", frame.filter(pl.col("id") > 1))
    events = _events(log)
    assert [(e["eventType"], e["job"]["name"]) for e in events] == [
        ("START", "read.orders"),
        ("COMPLETE", "read.orders"),
        ("START", "write.orders_out"),
        ("COMPLETE", "write.orders_out"),
    ]
    assert {e["job"]["namespace"] for e in events} == {"dynio/local"}
    assert events[0]["run"]["runId"] == events[1]["run"]["runId"]
    [read] = events[1]["inputs"]
    assert (read["namespace"], read["name"]) == ("file", str(tmp_path / "data/orders.parquet"))
    fields = read["facets"]["schema"]["fields"]
    assert [(f["name"], f["type"]) for f in fields] == [("id", "Int64"), ("email", "String")]
    quality = read["inputFacets"]["dataQualityMetrics"]
    assert quality["rowCount"] == 3
    assert quality["columnMetrics"]["id"]["max"] == 3
    assert quality["columnMetrics"]["id"]["nullCount"] == 0
    assert quality["columnMetrics"]["id"]["quantiles"]["50"] == 2
    assertions = read["inputFacets"]["dataQualityAssertions"]["assertions"]
    outcome = {(a["assertion"], a["column"]): a["success"] for a in assertions}
    assert outcome == {("has_unique_values", "id"): True, ("is_in", "email"): False}
    [written] = events[3]["outputs"]
    assert written["name"] == str(tmp_path / "out/orders.parquet")
    assert written["outputFacets"]["outputStatistics"]["rowCount"] == 2
    assert written["outputFacets"]["outputStatistics"]["size"] > 0
    # personal data (the is_in rule's failing value, a label) stays out
    assert PERSONAL not in log.read_text()


def test_a_failed_run_is_a_fail_event(
    cat: dynio.Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "lineage.ndjson"
    _file_transport(monkeypatch, log)
    with pytest.raises(ValidationError):
        cat.write("orders_out", pl.DataFrame({"id": [1, 2], "email": [PERSONAL, "b"]}))
    events = _events(log)
    assert [e["eventType"] for e in events] == ["START", "FAIL"]
    message = events[1]["run"]["facets"]["errorMessage"]["message"]
    assert message.startswith("dynio.errors.ValidationError: 1 rule(s) failed")
    assert PERSONAL not in log.read_text()


def test_nothing_is_emitted_unless_configured(
    cat: dynio.Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("OPENLINEAGE"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    cat.read_polars("orders")  # no transport configured: no event, no console output
    log = tmp_path / "lineage.ndjson"
    _file_transport(monkeypatch, log)
    monkeypatch.setenv("DYNIO_OPENLINEAGE", "0")
    cat.read_polars("orders")
    assert not log.exists()


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An OpenLineage HTTP endpoint on loopback (``POST /api/v1/lineage``) keeping each event."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/api/v1/lineage":
                received.append(json.loads(body))
            self.send_response(200 if self.path == "/api/v1/lineage" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def test_runs_reach_an_http_receiver(
    cat: dynio.Catalog,
    receiver: tuple[str, list[dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, received = receiver
    monkeypatch.setenv("OPENLINEAGE_URL", url)
    cat.read_polars("orders", columns=["id"])
    assert [e["eventType"] for e in received] == ["START", "COMPLETE"]
    assert received[1]["inputs"][0]["facets"]["schema"]["fields"][0]["name"] == "id"


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("/data/x.parquet", ("file", "/data/x.parquet")),
        ("s3://lake/trips/2024.parquet", ("s3://lake", "trips/2024.parquet")),
        ("gs://b/k.csv", ("gs://b", "k.csv")),
        ("postgresql://app:***@db:5433/shop?table=orders", ("postgres://db:5433", "shop.orders")),
        ("/w/x.duckdb?table=t", ("duckdb:///w/x.duckdb", "t")),
    ],
)
def test_dataset_names_follow_openlineage_naming(location: str, expected: tuple[str, str]) -> None:
    assert dataset_name(location) == expected
