"""Object stores: M1 (1,000 small parquet files under one prefix -> one frame) against S3.

The S3 server is moto in server mode on loopback, started by :func:`prepare`, which uploads the
suite's 1,000 small parquet files (``DATA/small``) under one prefix. Both sides list the prefix
and read every object inside the timed part:

- dynio: ``cat.read`` of an ``s3_path_prefix`` resource (one listing, then one parallel Polars
  scan over all objects with the schema's casts);
- baseline: what a pandas pipeline does: list with s3fs, ``pd.read_parquet`` each object with
  ``storage_options``, ``pd.concat``.

moto serves requests one Python handler at a time, so the absolute times are far above a real
store's; the ratio is what the scenario guards (both sides pay the same server).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.scenarios import Scenario, Side

__all__ = ["SCENARIOS", "prepare"]

_ROOT = Path(__file__).resolve().parent.parent
_BUCKET = "bench"
_PREFIX = "small/"

_DYNIO_S3 = """
import dynio
cat = dynio.Catalog.from_yaml(S3_YAML, env="s3")
"""
_PANDAS_S3 = """
import pandas as pd
import s3fs
OPTS = {"key": "testing", "secret": "testing", "endpoint_url": S3_ENDPOINT}
"""
_PANDAS_LOOP = """
fs = s3fs.S3FileSystem(**OPTS)
files = sorted(f for f in fs.find(S3_PREFIX) if f.endswith(".parquet"))
df = pd.concat(
    [pd.read_parquet("s3://" + f, storage_options=OPTS) for f in files], ignore_index=True
)
"""

SCENARIOS: list[Scenario] = [
    Scenario(
        "M1-S3",
        "1,000 small parquet files under one S3 prefix -> one frame (moto on loopback)",
        Side(_DYNIO_S3, 'df = cat.read("orders_small_files")'),
        Side(_PANDAS_S3, _PANDAS_LOOP),
        target=0.25,
        guard=0.7,
    ),
]

_YAML = """
orders_small_files:
  s3:
    type: s3_path_prefix
    s3: {{bucket: {bucket}, path_prefix: "{prefix}", file_type: parquet}}
    options:
      storage_options:
        key: testing
        secret: testing
        endpoint_url: "{endpoint}"
        region: us-east-1
  schema: {{file_path: "{schema}"}}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("moto_server exited early (is moto[server] installed?)")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise RuntimeError(f"moto_server at {url} did not answer within {timeout:.0f}s")


@contextmanager
def prepare(ctx: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Start moto on a free loopback port, upload the small files, write the catalog."""
    import s3fs

    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    with tempfile.TemporaryDirectory(prefix="dynio-bench-s3-") as tmp:
        log = open(Path(tmp) / "moto.log", "wb")  # noqa: SIM115 - closed below, after the server
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            _wait(f"{endpoint}/moto-api/", proc)
            fs = s3fs.S3FileSystem(
                key="testing", secret="testing", endpoint_url=endpoint, skip_instance_cache=True
            )
            fs.mkdir(_BUCKET)
            small = sorted(Path(ctx["DATA"], "small").glob("*.parquet"))
            fs.put([str(p) for p in small], [f"{_BUCKET}/{_PREFIX}{p.name}" for p in small])
            config = Path(tmp) / "objectstore.yaml"
            config.write_text(
                _YAML.format(
                    bucket=_BUCKET,
                    prefix=_PREFIX,
                    endpoint=endpoint,
                    schema=_ROOT / "configs" / "bench" / "orders.yaml",
                )
            )
            yield {
                "S3_ENDPOINT": endpoint,
                "S3_YAML": str(config),
                "S3_PREFIX": f"{_BUCKET}/{_PREFIX}",
            }
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            log.close()
