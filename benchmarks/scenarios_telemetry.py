"""Telemetry cost: the same dynio reads with and without an OpenTelemetry SDK configured.

The SDK side is set up as an application would (``dynio.telemetry.configure()`` from
``OTEL_*`` variables): traces through the batch span processor, metrics through the periodic
reader, log records through the batch log processor, all exporting OTLP over HTTP to a loopback
port where nothing listens, so the export work (encoding, the attempt) is real but no backend
speed enters the measure. The baseline is dynio with no SDK (the API's no-op tracer and meter).

- T1: one parquet read (the H1 read) — the realistic per-operation overhead.
- T2: 100 small reads (a 20-row file each time) — the fixed cost per operation, magnified.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# the core suite's dynio set-up, so both sides load the bench catalog the same way
from benchmarks.scenarios import _DYNIO, Scenario, Side

__all__ = ["SCENARIOS", "prepare"]

_SDK = """
import os
os.environ.update({
    "OTEL_EXPORTER_OTLP_ENDPOINT": OTLP_DEAD,
    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    "OTEL_EXPORTER_OTLP_TIMEOUT": "1",   # the exit flush gives up quickly
    "OTEL_SERVICE_NAME": "dynio-bench",
})
import dynio.telemetry
dynio.telemetry.configure()
"""
_SMALL = """
import polars as pl
SMALL = OUT + "/small_zones.parquet"
zones = pl.DataFrame({"zone_id": list(range(20)), "name": [f"z{i}" for i in range(20)]})
zones.write_parquet(SMALL)
small = dynio.Catalog.from_yaml(SMALL_YAML, env="local", vars={"SMALL": SMALL})
"""
_SMALL_YAML = """
zones:
  local:
    type: local
    local: {file_path: "[[ SMALL ]]", file_type: parquet}
  schema:
    columns:
      zone_id: {type: int64, validations: {has_unique_values: {apply: true}}, metrics: [Max]}
      name: {type: str}
"""
_READ = 'df = cat.read("orders_parquet")'
_MANY = 'for _ in range(100):\n    df = small.read("zones")'

SCENARIOS: list[Scenario] = [
    Scenario(
        "T1",
        "parquet read with the OTel SDK configured (OTLP/HTTP, batch) vs none",
        Side(_SDK + _DYNIO, _READ),
        Side(_DYNIO, _READ),
        target=1.05,
        guard=1.5,  # the cost is ~0.3 ms a read; the rest is the noise of a shared 2-core box
        paired=False,  # the SDK is configured process-wide: the baseline would be traced too
    ),
    Scenario(
        "T2",
        "100 reads of a 20-row file with the OTel SDK configured vs none (fixed cost per read)",
        Side(_SDK + _DYNIO + _SMALL, _MANY),
        Side(_DYNIO + _SMALL, _MANY),
        target=1.3,
        guard=1.8,
        paired=False,
    ),
]


@contextmanager
def prepare(ctx: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A loopback port where nothing listens (the OTLP endpoint), and the small catalog."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # the port is released: connections to it are refused, as to a collector that is down
    small_yaml = f"{ctx['OUT']}/telemetry_small.yaml"
    with open(small_yaml, "w", encoding="utf-8") as fh:
        fh.write(_SMALL_YAML)
    yield {"OTLP_DEAD": f"http://127.0.0.1:{port}", "SMALL_YAML": small_yaml}
