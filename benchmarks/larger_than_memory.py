"""L1: a scan with filters and an aggregation over data several times larger than the memory the
process may use, which must complete through Polars' streaming engine.

The dataset is many copies (symbolic links) of the orders file, read as one ``local_batch``
resource. The process runs in a memory cgroup (cgroup v1 or v2, where this machine lets root
create one) or, failing that, under ``RLIMIT_AS``. The same query with the in-memory engine runs
under the same limit too: it is expected to fail, which shows the limit really binds.

Polars sizes its streaming engine's memory from the machine, not from a cgroup: without
``POLARS_OOC_MEMORY_BUDGET_MB`` the check in L2 peaked at 480-640 MiB and was killed under a
400 MiB limit in 4 runs of 6. Every child here runs with a budget (:func:`polars_budget_mb`), as a
deployment under a memory limit should (docs/howto/beyond-one-machine.md): half of what the limit
leaves after the process's own footprint. Half the whole limit (200 MiB under 400) left L2 at
399 MiB resident (307 MiB anonymous) in one CI run; 125 MiB peaked at 330-360 (245-260).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

__all__ = ["polars_budget_mb", "run_l1"]

# (copies of the orders file, memory limit in MiB) per data size
PLAN = {"quick": (100, 400), "full": (12, 1024)}

# Polars' out-of-core memory budget, which children under a limit are given
POLARS_BUDGET_VAR = "POLARS_OOC_MEMORY_BUDGET_MB"
# what a child holds before reading anything: Python with dynio, Polars and pyarrow imported
# (~132 MiB resident, 72 MiB of it anonymous), rounded up
PROCESS_FOOTPRINT_MB = 150


def polars_budget_mb(limit_mb: int) -> int:
    """The streaming engine's budget under a memory limit of ``limit_mb``: half of what the
    limit leaves after the process's own footprint (the engine overshoots its budget by tens
    of MiB, and the file pages it maps count against the limit too)."""
    return max(32, (limit_mb - PROCESS_FOOTPRINT_MB) // 2)


_QUERY = """
import json, sys, time
import dynio, polars as pl
cat = dynio.Catalog.from_yaml(CONFIG, env="local", vars={{"LTM_DATA": LTM_DATA}})
lazy = (
    cat.scan("orders_ltm", filters=[("quantity", ">", 3)])
    .group_by("country")
    .agg(pl.col("amount").sum().alias("revenue"), pl.len().alias("orders"))
)
t0 = time.perf_counter()
out = lazy.collect(engine={engine!r})
seconds = time.perf_counter() - t0
with open("/proc/self/status") as fh:
    peak = next(int(l.split()[1]) for l in fh if l.startswith("VmHWM"))
print(json.dumps({{"seconds": seconds, "groups": out.height, "rows": int(out["orders"].sum()),
                  "peak_mb": peak / 1024}}))
"""

_YAML = """
orders_ltm:
  local:
    type: local_batch
    local: {path_prefix: "[[ LTM_DATA ]]/", file_type: parquet}
  schema:
    columns:
      country: {type: str}
      amount: {type: float64}
      quantity: {type: int64}
"""


def _cgroup_v1(limit_mb: int) -> Iterator[str | None]:
    root = Path("/sys/fs/cgroup/memory")
    if not (root / "cgroup.procs").exists():
        yield None
        return
    group = root / f"dynio-ltm-{os.getpid()}"
    try:
        group.mkdir()
        (group / "memory.limit_in_bytes").write_text(str(limit_mb * 1024 * 1024))
        with contextlib.suppress(OSError):  # no swap accounting on some kernels
            (group / "memory.memsw.limit_in_bytes").write_text(str(limit_mb * 1024 * 1024))
    except OSError:
        yield None
        return
    try:
        yield str(group / "cgroup.procs")
    finally:
        with contextlib.suppress(OSError):
            group.rmdir()


@contextlib.contextmanager
def _limit(limit_mb: int) -> Iterator[tuple[str, list[str]]]:
    """How to start a child under the limit: a description and a command prefix."""
    gen = _cgroup_v1(limit_mb)
    procs = next(gen)
    # Polars sizes its streaming engine from the machine's memory, not the cgroup's: a deployment
    # under a memory limit tells it the budget (Polars' own setting), as this child does
    budget = ["env", f"{POLARS_BUDGET_VAR}={polars_budget_mb(limit_mb)}"]
    try:
        if procs is not None:
            # the child joins the cgroup itself before doing anything else
            prefix = ["sh", "-c", f'echo $$ > {procs} && exec "$0" "$@"']
            yield f"memory cgroup limit {limit_mb} MiB", [*budget, *prefix]
        else:
            kib = limit_mb * 1024 * 4  # address space, not RSS: leave room for mappings
            yield (
                f"RLIMIT_AS {kib // 1024} MiB",
                [*budget, "prlimit", f"--as={kib * 1024}", "--"],
            )
    finally:
        with contextlib.suppress(StopIteration):
            next(gen)


def _run(prefix: list[str], code: str) -> dict[str, Any]:
    proc = subprocess.run([*prefix, sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or [""])[-1]
        return {"ok": False, "returncode": proc.returncode, "error": tail[:300]}
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    out["ok"] = True
    return out


def run_l1(data: Path, mode: str) -> dict[str, Any]:
    """Run L1 on the generated data of ``mode`` and return its record."""
    copies, limit_mb = PLAN[mode]
    source = (data / "orders.parquet").resolve()
    one = pl.scan_parquet(source).select("country", "amount", "quantity")
    in_memory_mb = pl.read_parquet(source).estimated_size("mb") * copies
    with tempfile.TemporaryDirectory(prefix="dynio-ltm-") as tmp:
        folder = Path(tmp) / "orders"
        folder.mkdir()
        for i in range(copies):
            (folder / f"part-{i:04d}.parquet").symlink_to(source)
        config = Path(tmp) / "ltm.yaml"
        config.write_text(_YAML)
        rows = one.select(pl.len()).collect().item() * copies
        header = f"CONFIG = {str(config)!r}\nLTM_DATA = {str(folder)!r}\n"
        with _limit(limit_mb) as (how, prefix):
            t0 = time.perf_counter()
            streaming = _run(prefix, header + _QUERY.format(engine="streaming"))
            streaming["wall_seconds"] = time.perf_counter() - t0
            in_memory = _run(prefix, header + _QUERY.format(engine="in-memory"))
    return {
        "id": "L1",
        "title": "scan + filter + aggregate over data larger than memory (streaming engine)",
        "rows": rows,
        "data_in_memory_mb": round(in_memory_mb),
        "limit": how,
        "limit_mb": limit_mb,
        "streaming": streaming,
        "in_memory_engine": in_memory,
        "status": "ok" if streaming["ok"] else "error",
        "limit_binds": not in_memory["ok"],
    }
