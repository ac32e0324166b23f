"""The readers' floor: how fast each available parquet reader alone reads every writer's file.

R1's target (0.75 x ``pandas.read_parquet``) needs a reader at least that much faster than
pyarrow's, which pandas uses. This measures each reader with no hand-off to pandas (pyarrow's
``read_table``, Polars' ``read_parquet``, DuckDB to Arrow), against ``pd.read_parquet`` in the
same process, interleaved, medians over rounds; the ratio is what no hand-off can beat.

``python -m benchmarks.floor [--full|--quick] [--rounds N]`` (the data must exist: ``python -m
benchmarks`` makes it).
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


def _readers(path: str) -> dict[str, Callable[[], Any]]:
    import duckdb
    import pandas as pd
    import polars as pl
    import pyarrow.parquet as pq

    con = duckdb.connect()
    files = f"{path}/**/*.parquet" if Path(path).is_dir() else path
    query = "SELECT * FROM read_parquet('{}')".format(files.replace("'", "''"))
    return {
        "pd.read_parquet": lambda: pd.read_parquet(path),
        "pyarrow read_table": lambda: pq.read_table(path),
        "polars read_parquet": lambda: pl.read_parquet(path),
        "duckdb -> arrow": lambda: con.sql(query).to_arrow_table(),
    }


def _seconds(read: Callable[[], Any]) -> float:
    gc.collect()
    start = time.perf_counter()
    result = read()
    took = time.perf_counter() - start
    del result
    return took


def measure(path: str, rounds: int) -> dict[str, float]:
    """Each reader's median seconds on one file (after one warm-up read each)."""
    readers = _readers(path)
    for read in readers.values():
        _seconds(read)
    times: dict[str, list[float]] = {name: [] for name in readers}
    for _ in range(rounds):
        for name, read in readers.items():
            times[name].append(_seconds(read))
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv: list[str] | None = None) -> int:
    """Print each writer's file's reader times and their ratio to pandas' read."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.floor", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the quick data")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    data: Path = ensure_data(mode)
    print(f"{SIZES[mode]:,} rows, median of {args.rounds} interleaved rounds (seconds, ratio)")
    for layout in LAYOUTS:
        medians = measure(str(data / layout.path), args.rounds)
        base = medians["pd.read_parquet"]
        cells = ", ".join(f"{n} {s:.3f} ({s / base:.2f})" for n, s in medians.items())
        print(f"{layout.label}: {cells}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
