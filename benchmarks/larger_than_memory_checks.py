"""L2: rules and metrics over data several times larger than the memory the process may use
(``Catalog.check``), then a copy of it to another resource (``Catalog.write`` of the scan), which
must both complete through Polars' streaming engine, with exact results.

The dataset is ``k`` copies (symbolic links) of the orders file, read as one ``local_batch``
resource, in a child process under the same memory limit as L1 (a memory cgroup, or
``RLIMIT_AS``). The parent reads ONE copy in memory (``read_result``) and derives what the ``k``
copies must give exactly: counts, null counts and label counts times ``k``, the same minimum,
maximum, distinct counts and samples, every id repeated ``k`` times, the variance from the same
sum of squares over ``k * n - 1``, and the quantiles from the sorted values repeated ``k`` times.
The child's answers must equal them (floating sums to 1e-9).
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

from benchmarks.larger_than_memory import _limit, _run, polars_budget_mb

__all__ = ["run_l2"]

# (copies of the orders file, memory limit in MiB) per data size
PLAN = {"quick": (160, 400), "full": (40, 1024)}

_SCHEMA = """
name: orders
columns:
  order_id:
    type: int64
    validations: {has_unique_values: {apply: true}}
    metrics: [Counts, UniqueCounts]
  amount:
    type: float64
    validations: {is_between: {apply: true, options: {lower: 0, upper: 100000}}}
    metrics: [Min, Max, Mean, Variance, NullCount, Quantiles]
  country:
    type: str
    validations:
      is_in: {apply: true, options: {categorical_values: [GB, US, DE, FR, NL, ES, IT, SE, PL]}}
    metrics: [CountsPerLabel]
  quantity:
    type: int64
    validations: {is_between: {apply: true, options: {lower: 1, upper: 19, include_left: true,
                                                       include_right: true}}}
    metrics: [Min, Max]
"""

_YAML = """
orders_ltm:
  local:
    type: local_batch
    local: {{path_prefix: "[[ LTM_DATA ]]/", file_type: parquet}}
    schema: {{file_path: "{schema}"}}
orders_one:
  local:
    type: local
    local: {{file_path: "{one}", file_type: parquet}}
    schema: {{file_path: "{schema}"}}
orders_copy:
  local:
    type: local
    local: {{file_path: "[[ LTM_OUT ]]/copy.parquet", file_type: parquet}}
"""

_CHILD = """
import json, threading, time
anon = [0]
def _sample():  # the kernel keeps no high-water mark of anonymous memory: sample it
    while True:
        with open("/proc/self/status") as fh:
            kb = next(int(l.split()[1]) for l in fh if l.startswith("RssAnon"))
        anon[0] = max(anon[0], kb)
        time.sleep(0.005)
threading.Thread(target=_sample, daemon=True).start()
import dynio
cat = dynio.Catalog.from_yaml(CONFIG, env="local", vars={"LTM_DATA": LTM_DATA, "LTM_OUT": LTM_OUT})
t0 = time.perf_counter()
checked = cat.check("orders_ltm", raise_on_error=False)
t1 = time.perf_counter()
written = cat.write("orders_copy", cat.scan("orders_ltm"))
t2 = time.perf_counter()
with open("/proc/self/status") as fh:
    peak = next(int(l.split()[1]) for l in fh if l.startswith("VmHWM"))
print(json.dumps({"check_seconds": t1 - t0, "write_seconds": t2 - t1, "peak_mb": peak / 1024,
                  "peak_anon_mb": anon[0] / 1024,
                  "report": checked.report.to_dict(), "written_rows": written.info.rows,
                  "metrics": [[m.column, m.metric, m.label, m.value] for m in checked.metrics]}))
"""


def _expected(one: Any, frame: pl.DataFrame, k: int) -> dict[str, Any]:
    """What ``k`` copies must give, derived exactly from one copy read in memory."""
    n = frame.height
    metrics: dict[tuple[str, str, str | None], Any] = {}
    for m in one.metrics:
        key = (m.column, m.metric, m.label)
        if m.metric in ("Counts", "NullCount", "CountsPerLabel"):
            metrics[key] = m.value * k
        elif m.metric in ("Variance", "Quantiles"):
            continue
        else:
            metrics[key] = m.value
    amount = frame["amount"].drop_nulls().sort()
    m2 = float(amount.var() or 0.0) * (amount.len() - 1)
    metrics[("amount", "Variance", None)] = k * m2 / (k * amount.len() - 1)
    values = amount.to_list()
    for q in (0.5, 0.9, 0.99):
        h = (k * len(values) - 1) * q
        lo = math.floor(h)
        below, above = values[lo // k], values[min(lo + 1, k * len(values) - 1) // k]
        metrics[("amount", "Quantiles", f"p{round(q * 100)}")] = below + (h - lo) * (above - below)
    failures = {
        (f.rule, f.column): (f.failing_count * k, list(f.sample)) for f in one.report.failures
    }
    failures[("has_unique_values", "order_id")] = (k * n, frame["order_id"].head(5).to_list())
    return {"rows": k * n, "metrics": metrics, "failures": failures}


def _compare(got: dict[str, Any], want: dict[str, Any]) -> list[str]:
    problems = []
    report = got["report"]
    if report["rows"] != want["rows"] or got["written_rows"] != want["rows"]:
        problems.append(f"rows {report['rows']}/{got['written_rows']} != {want['rows']}")
    failures = {
        (f["rule"], f["column"]): (f["failing_count"], f["sample"]) for f in report["failures"]
    }
    if failures != {k: (c, list(s)) for k, (c, s) in want["failures"].items()}:
        problems.append(f"failures {failures} != {want['failures']}")
    metrics = {(c, m, lab): v for c, m, lab, v in got["metrics"]}
    if set(metrics) != set(want["metrics"]):
        problems.append(f"metric keys differ: {set(metrics) ^ set(want['metrics'])}")
    for key, value in want["metrics"].items():
        mine = metrics.get(key)
        if isinstance(value, float) and isinstance(mine, float):
            if not math.isclose(mine, value, rel_tol=1e-9):
                problems.append(f"{key}: {mine} != {value}")
        elif mine != value:
            problems.append(f"{key}: {mine} != {value}")
    return problems


def run_l2(data: Path, mode: str) -> dict[str, Any]:
    """Run L2 on the generated data of ``mode`` and return its record."""
    import dynio

    copies, limit_mb = PLAN[mode]
    source = (data / "orders.parquet").resolve()
    with tempfile.TemporaryDirectory(prefix="dynio-ltm2-") as tmp:
        folder, out = Path(tmp) / "orders", Path(tmp) / "out"
        folder.mkdir()
        for i in range(copies):
            (folder / f"part-{i:04d}.parquet").symlink_to(source)
        (Path(tmp) / "schema.yaml").write_text(_SCHEMA)
        config = Path(tmp) / "ltm.yaml"
        config.write_text(_YAML.format(schema=Path(tmp) / "schema.yaml", one=source))
        cat = dynio.Catalog.from_yaml(config, env="local", vars={"LTM_DATA": "x", "LTM_OUT": "x"})
        one = cat.read_result("orders_one", raise_on_error=False)
        want = _expected(one, one.frame, copies)
        header = f"CONFIG = {str(config)!r}\nLTM_DATA = {str(folder)!r}\nLTM_OUT = {str(out)!r}\n"
        with _limit(limit_mb) as (how, prefix):
            t0 = time.perf_counter()
            got = _run(prefix, header + _CHILD)
            got["wall_seconds"] = time.perf_counter() - t0
        problems = _compare(got, want) if got["ok"] else []
        if got["ok"]:
            copy = pl.scan_parquet(out / "copy.parquet").select(pl.len()).collect().item()
            problems += [] if copy == want["rows"] else [f"copy has {copy} rows"]
    in_memory_mb = one.frame.estimated_size("mb") * copies
    summary = {k: v for k, v in got.items() if k not in ("report", "metrics")}
    return {
        "id": "L2",
        "title": "check + copy of data larger than memory (streaming rules, metrics and sink)",
        "rows": want["rows"],
        "data_in_memory_mb": round(in_memory_mb),
        "limit": how,
        "limit_mb": limit_mb,
        "polars_budget_mb": polars_budget_mb(limit_mb),
        "streaming": summary,
        "exact": got["ok"] and not problems,
        "problems": problems[:10],
        "status": "ok" if got["ok"] and not problems else "error",
    }


# D2: the same aggregation over data 4x the memory limit, by Dask on 2 local workers (to_dask)
# and by Polars' streaming engine on one node (scan), each in a child under the limit. A local
# Dask cluster (scheduler, 2 nannies, 2 workers, the client) needs ~700 MiB before any data, so
# the limit is 1.5 GiB and the data ~6 GiB: full mode only (the runner skips D2 in quick mode).
D2_PLAN = {"full": (70, 1536), "manual": (1400, 1200)}

_D2_YAML = """
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

_D2_DASK = """
import json, time
import dynio
from distributed import Client, LocalCluster
if __name__ == "__main__":
    cat = dynio.Catalog.from_yaml(CONFIG, env="local", vars={"LTM_DATA": LTM_DATA})
    cluster = LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                           dashboard_address="127.0.0.1:0", silence_logs=40, memory_limit=None)
    with cluster, Client(cluster):
        t0 = time.perf_counter()
        ddf = cat.to_dask("orders_ltm", filters=[("quantity", ">", 3)])
        out = ddf.groupby("country").agg({"amount": "sum", "quantity": "count"}).compute()
        seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "groups": len(out), "rows": int(out["quantity"].sum()),
                      "revenue": float(out["amount"].sum())}))
"""

_D2_POLARS = """
import json, time
import dynio, polars as pl
cat = dynio.Catalog.from_yaml(CONFIG, env="local", vars={"LTM_DATA": LTM_DATA})
t0 = time.perf_counter()
out = (cat.scan("orders_ltm", filters=[("quantity", ">", 3)]).group_by("country")
       .agg(pl.col("amount").sum(), pl.col("quantity").count()).collect(engine="streaming"))
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "groups": out.height, "rows": int(out["quantity"].sum()),
                  "revenue": float(out["amount"].sum())}))
"""


def run_d2(data: Path, mode: str) -> dict[str, Any]:
    """D2: Dask on 2 local workers vs Polars streaming, data 4x the memory limit."""
    copies, limit_mb = D2_PLAN[mode]
    source = (data / "orders.parquet").resolve()
    one = pl.scan_parquet(source).select("country", "amount", "quantity")
    in_memory_mb = one.collect().estimated_size("mb") * copies
    with tempfile.TemporaryDirectory(prefix="dynio-d2-") as tmp:
        folder = Path(tmp) / "orders"
        folder.mkdir()
        for i in range(copies):
            (folder / f"part-{i:04d}.parquet").symlink_to(source)
        config = Path(tmp) / "d2.yaml"
        config.write_text(_D2_YAML)
        header = f"CONFIG = {str(config)!r}\nLTM_DATA = {str(folder)!r}\n"
        with _limit(limit_mb) as (how, prefix):
            dask_side = _run(prefix, header + _D2_DASK)
            polars_side = _run(prefix, header + _D2_POLARS)
    # 4x the limit: the three columns read
    same = (
        dask_side["ok"]
        and polars_side["ok"]
        and dask_side["rows"] == polars_side["rows"]
        and math.isclose(dask_side["revenue"], polars_side["revenue"], rel_tol=1e-9)
    )
    ratio = dask_side["seconds"] / polars_side["seconds"] if same else None
    return {
        "id": "D2",
        "title": "filter + group-by over data 4x the memory limit: Dask on 2 workers vs Polars"
        " streaming on one node",
        "data_in_memory_mb": round(in_memory_mb),
        "limit": how,
        "limit_mb": limit_mb,
        "dask": dask_side,
        "polars_streaming": polars_side,
        "ratio": ratio,
        "status": "ok" if same else "error",
    }
