"""Dask: D1 (``Catalog.to_dask(...).compute()`` on a local cluster of 2 workers vs ``read``) and
D1b (the same vs Dask's own ``dd.read_parquet(...).compute()`` on the same cluster).

:func:`prepare` starts a ``distributed.LocalCluster`` of two single-threaded worker processes on
127.0.0.1 once for the module; the dynio side connects a client to it (not timed) and computes
the resource's Dask frame into one pandas frame on the client, the baseline reads the same
resource with ``Catalog.read``. The ratio is the overhead of planning per partition, running
the partitions on the workers and shipping the pandas partitions back to the client. Most of it
is Dask's, not dynio's: ``compute()`` concatenates the partitions on one worker and ships the whole
frame to the client, two copies of the data through the network stack that a ``read`` in the
client never makes (on the 5 M-row data Dask's own reader took as long as ``to_dask``). D1b
measures what dynio adds on top of Dask: the same computation against Dask's own parquet reader,
on the same cluster and file, each with its default partitioning (dynio: 1 M rows per partition;
Dask: row groups joined up to its blocksize).
Skipped (with a note) where the ``dask`` extra is not installed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from benchmarks.scenarios import _DYNIO, Scenario, Side

__all__ = ["SCENARIOS", "prepare"]

# a pipeline on a cluster has Dask loaded and a client connected before it reads
_CLIENT = """
import dask.dataframe
from distributed import Client
client = Client(DASK_SCHEDULER, timeout=60)
"""

SCENARIOS: list[Scenario] = [
    Scenario(
        "D1",
        "to_dask(...).compute() on 2 local workers vs read (parquet, data that fits)",
        Side(
            _DYNIO + _CLIENT, 'df = cat.to_dask("orders_parquet", partition_rows=N // 4).compute()'
        ),
        Side(_DYNIO, 'df = cat.read("orders_parquet")'),
        target=1.5,
        guard=12.0,  # quick data, shared 2-core machine: the ~0.3 s cluster round trip dominates
    ),
    Scenario(
        "D1b",
        "to_dask(...).compute() vs Dask's own read_parquet(...).compute(), same 2 local workers",
        Side(_DYNIO + _CLIENT, 'df = cat.to_dask("orders_parquet").compute()'),
        Side(
            _DYNIO + _CLIENT,
            'df = dask.dataframe.read_parquet(DATA + "/orders.parquet").compute()',
        ),
        target=1.2,
        guard=3.0,
    ),
]


@contextlib.contextmanager
def prepare(ctx: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A local Dask cluster for the module's scenarios: its scheduler address."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        silence_logs=40,
    ) as cluster:
        yield {"DASK_SCHEDULER": cluster.scheduler_address}
