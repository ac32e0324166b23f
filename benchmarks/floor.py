"""The readers' floor: how fast each available parquet reader alone does a read of R1, R3 or R4.

A target is only reachable if some reader does the read that much faster than pandas' own
(``pandas.read_parquet`` uses pyarrow's reader). This measures each reader alone, with no
hand-off to pandas (pyarrow's ``read_table``, Polars' lazy scan, DuckDB to Arrow), doing the
scenario's read with its own pushdown, against the scenario's baseline in the same process,
interleaved, medians (and best rounds) over rounds; the ratio is what no hand-off can beat:

- R1: every column, every row; baseline ``pd.read_parquet``.
- R3: the rows at or after the cutoff on the sort key (1 %: row groups and files prune by their
  statistics); baseline ``pd.read_parquet(filters=)``.
- R4: the rows whose ``customer_id`` is under ``rows // 500`` (1 %, spread over every row
  group); baseline a whole ``pd.read_parquet`` then a boolean mask (``pd.read_parquet(filters=)``
  is measured too).

Every reader's result must have the baseline's row count, so the figures compare one read.

``python -m benchmarks.floor [--full|--quick] [--read R1,R3,R4] [--rounds N]`` (the data must
exist: ``python -m benchmarks`` makes it).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.data import SIZES, ensure_data
from benchmarks.reads import LAYOUTS
from benchmarks.sides import R3_CUTOFF

__all__ = ["READS", "measure", "readers"]

READS = ("R1", "R3", "R4")


def _where(read: str, rows: int) -> tuple[str, Any, Any]:
    """The read's filter: column, operator and value (``None``: R1 has none)."""
    if read == "R3":
        return "ts", ">=", R3_CUTOFF
    if read == "R4":
        return "customer_id", "<", rows // 500  # as R4's scenarios (benchmarks.reads)
    raise ValueError(f"unknown read {read!r}: one of {', '.join(READS)}")


def readers(path: str, read: str = "R1", rows: int = 0) -> dict[str, Callable[[], Any]]:
    """Each reader doing ``read`` of the file or folder ``path`` (``rows``: the table's rows,
    which R4's filter is relative to); the scenario's baseline first."""
    import duckdb
    import pandas as pd
    import polars as pl
    import pyarrow.parquet as pq

    con = duckdb.connect()
    files = f"{path}/**/*.parquet" if Path(path).is_dir() else path
    query = "SELECT * FROM read_parquet('{}')".format(files.replace("'", "''"))
    if read == "R1":
        return {
            "pd.read_parquet": lambda: pd.read_parquet(path),
            "pyarrow read_table": lambda: pq.read_table(path),
            "polars read_parquet": lambda: pl.read_parquet(files),
            "duckdb -> arrow": lambda: con.sql(query).to_arrow_table(),
        }
    column, op, value = _where(read, rows)
    keep = pl.col(column) >= value if op == ">=" else pl.col(column) < value
    out: dict[str, Callable[[], Any]] = {}
    if read == "R4":
        out["pandas read + mask"] = lambda: _masked(pd.read_parquet(path), column, value)
    out["pd.read_parquet(filters=)"] = lambda: pd.read_parquet(path, filters=[(column, op, value)])
    out["pyarrow read_table(filters=)"] = lambda: pq.read_table(path, filters=[(column, op, value)])
    out["polars scan + filter"] = lambda: pl.scan_parquet(files).filter(keep).collect()
    out["duckdb WHERE -> arrow"] = lambda: con.sql(
        f"{query} WHERE {column} {op} ?", params=[value]
    ).to_arrow_table()
    return out


def _masked(frame: Any, column: str, value: Any) -> Any:
    return frame[frame[column] < value]


def _seconds(read: Callable[[], Any]) -> tuple[float, int]:
    gc.collect()
    start = time.perf_counter()
    result = read()
    took = time.perf_counter() - start
    height = len(result)
    del result
    return took, height


def measure(
    path: str, rounds: int, read: str = "R1", rows: int = 0
) -> dict[str, tuple[float, float]]:
    """Each reader's median and best seconds doing ``read`` of one file or folder (after one
    warm-up read each; the first is the scenario's baseline).

    On a shared 2-core virtual machine a read's time depends on what ran before it (a reader
    that follows another's large free faults its memory in afresh, which can double a 5 M-row
    read), so the best round, the read with the least of that, is reported beside the median.

    Raises:
        RuntimeError: A reader's result has another row count than the baseline's.
    """
    chosen = readers(path, read, rows)
    heights = {name: _seconds(fn)[1] for name, fn in chosen.items()}
    base_name = next(iter(chosen))
    wrong = {n: h for n, h in heights.items() if h != heights[base_name]}
    if wrong:
        raise RuntimeError(
            f"{read} of {path}: {base_name} gave {heights[base_name]} rows, but {wrong}"
        )
    times: dict[str, list[float]] = {name: [] for name in chosen}
    for _ in range(rounds):
        for name, fn in chosen.items():
            times[name].append(_seconds(fn)[0])
    return {name: (statistics.median(t), min(t)) for name, t in times.items()}


def main(argv: list[str] | None = None) -> int:
    """Print, for each read and each writer's file, the readers' times and their ratio to the
    scenario's baseline."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.floor", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the quick data")
    parser.add_argument("--full", action="store_true", help="the full data (the default)")
    parser.add_argument("--read", default="R1", help="R1, R3, R4, or several: R1,R3,R4")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    chosen = [r.strip().upper() for r in args.read.split(",") if r.strip()]
    for read in chosen:
        if read not in READS:
            parser.error(f"--read: unknown read {read!r}: one of {', '.join(READS)}")
    mode = "quick" if args.quick else "full"
    data: Path = ensure_data(mode)
    rows = SIZES[mode]
    print(f"{rows:,} rows, {args.rounds} interleaved rounds: median seconds (ratio) / best (ratio)")
    for read in chosen:
        for layout in LAYOUTS:
            if read not in layout.reads:
                continue
            medians = measure(str(data / layout.path), args.rounds, read, rows)
            base, best = next(iter(medians.values()))
            cells = ", ".join(
                f"{n} {m:.3f} ({m / base:.2f}) / {b:.3f} ({b / best:.2f})"
                for n, (m, b) in medians.items()
            )
            print(f"{read}{layout.suffix} ({layout.label}): {cells}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
