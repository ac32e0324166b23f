"""Large parquet reads with no filter, read as a few column groups at once.

One Polars read of a parquet file keeps about one core busy on files of a few tall row groups
(pyarrow's and pandas' writers by default): measured on a 2-core machine, 5 M rows x 11
columns, ``pl.read_parquet`` took as long as pyarrow's multi-threaded reader, while two reads of
half the columns each, run at once, took 0.6 of that. A read with no filter needs no row of one
column to decide about another's, so its columns can be read in groups, one per thread, and the
groups put side by side (no copy): same rows, same order, same columns. Each group is the same
plan with a projection (casts and all), so a group's failure is the plan's own error.

The groups are balanced by the columns' sizes in the first file's footer (read once per file
version, :mod:`dynio.engine.footers`). Each group's scan opens
the files and reads their footers itself: a split read opens each file once per group, which
is why small files and datasets of small files are read whole.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import polars as pl

__all__ = ["MAX_GROUPS", "MIN_SPLIT_BYTES", "balance", "collect_split", "groups_wanted"]

# data smaller than this is read in one go: a thread costs more than it saves
MIN_SPLIT_BYTES = 8 * 1024 * 1024
# at most this many groups, whatever the core count (each group re-reads the footers)
MAX_GROUPS = 4


def groups_wanted() -> int:
    """How many groups a split read makes: Polars' threads, at most :data:`MAX_GROUPS`."""
    return max(1, min(pl.thread_pool_size(), os.cpu_count() or 1, MAX_GROUPS))


def balance(names: Sequence[str], sizes: Mapping[str, int], count: int) -> list[list[str]]:
    """``names`` in ``count`` groups of about equal size (largest first, each to the lightest
    group), each group in the frame's column order; empty groups are dropped."""
    known = [sizes[n] for n in names if n in sizes]
    default = sorted(known)[len(known) // 2] if known else 1  # a column the footer lacks
    weights = {n: sizes.get(n, default) for n in names}
    bins: list[list[str]] = [[] for _ in range(count)]
    loads = [0] * count
    for name in sorted(names, key=lambda n: -weights[n]):
        lightest = loads.index(min(loads))
        bins[lightest].append(name)
        loads[lightest] += weights[name]
    order = {n: i for i, n in enumerate(names)}
    return [sorted(b, key=order.__getitem__) for b in bins if b]


def collect_split(
    names: Sequence[str],
    groups: Sequence[Sequence[str]],
    collect: Callable[[Sequence[str]], pl.DataFrame],
) -> pl.DataFrame:
    """``collect`` of each group at once, one thread each, put side by side in ``names``'
    order. The first group's error (in group order) is raised, after every group finished."""
    with ThreadPoolExecutor(max_workers=len(groups), thread_name_prefix="dynio-split") as pool:
        futures = [pool.submit(collect, group) for group in groups]
        parts = [f.result() for f in futures]
    frame = pl.concat(parts, how="horizontal")
    return frame if frame.columns == list(names) else frame.select(names)
