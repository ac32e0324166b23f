"""Polars frames exported to Arrow with the types ``polars.DataFrame.to_arrow()`` gives (text
as ``large_string``), the text cast by pyarrow on several threads: the engine's mixed read path
puts such columns beside pyarrow's, and the pandas hand-off (:mod:`dynio.handoff`) converts them.
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import polars as pl
import pyarrow as pa

__all__ = ["CAST_PARALLEL_ROWS", "CAST_PIECE_ROWS", "export_schema", "to_arrow"]


def to_arrow(frame: pl.DataFrame) -> pa.Table:
    """The frame as ``polars.DataFrame.to_arrow()`` gives it.

    Polars keeps text as Arrow string views, which the ``large_string`` pandas converts must be
    copied from. The views are exported as they are (no copy) and cast by pyarrow to the very
    types Polars' export gives (taken from the empty frame's export); a column pyarrow cannot
    cast goes through Polars' export. The casts of a large frame run on several threads
    (pyarrow releases the GIL), a slice of at most :data:`CAST_PIECE_ROWS` rows each.

    Which is faster depends on the frame (Polars 2.1, 5 M rows, 2 cores): one tall text column
    (R2's ``status``) took 20-22 ms here against 34-41 ms by Polars' own export, which gives
    each column one thread; the orders table's four text columns 87-89 ms here against
    52-57 ms by Polars, which exports columns in parallel with half the CPU. Polars' export of
    slices on threads was 64 ms and 26 ms. No per-frame choice is made yet (the mixed path reads
    the text no check reads by pyarrow, so only checked text is exported here on that path).

    The casts allocate from the system allocator, not pyarrow's default pool: mimalloc, there,
    reserves ~4 MiB per cast (a 50k-row read's hand-off grew the process by 21 MiB for 2 MiB
    of text), and the copies are pandas' to keep, which the system allocator returns whole.
    """
    table = frame.to_arrow(compat_level=pl.CompatLevel.newest())
    names = tuple(frame.schema.items())
    try:
        target = export_schema(names)
    except TypeError:  # a dtype that cannot be hashed: made for this frame only
        target = frame.clear().to_arrow().schema
    if table.schema.equals(target):
        return table
    columns = list(table.columns)
    pending = [i for i, field in enumerate(target) if columns[i].type != field.type]
    cast = _cast_all([columns[i] for i in pending], [target.field(i).type for i in pending])
    for i, done in zip(pending, cast, strict=True):
        # a column pyarrow cannot cast: Polars' own export
        columns[i] = (
            done
            if done is not None
            else pa.chunked_array([frame.to_series(i).to_arrow()], target.field(i).type)
        )
    return pa.Table.from_arrays(columns, schema=target)


# casts of fewer rows than this run on the calling thread (a pool costs ~0.1 ms to start)
CAST_PARALLEL_ROWS = 256 * 1024
# the largest slice one cast task takes: tasks of even size keep the threads equally busy
CAST_PIECE_ROWS = 1024 * 1024


def _cast_all(
    columns: list[pa.ChunkedArray], types: list[pa.DataType]
) -> list[pa.ChunkedArray | None]:
    """Each column cast to its type (``None``: pyarrow cannot cast it), on several threads when
    the columns are large. The result holds the same values, in the same order."""
    threads = min(os.cpu_count() or 1, 8)
    rows = sum(len(c) for c in columns)
    if threads < 2 or rows < CAST_PARALLEL_ROWS:
        return [_cast_one(c, t) for c, t in zip(columns, types, strict=True)]
    tasks = [(i, batch) for i, column in enumerate(columns) for batch in _batches(column)]

    def cast(task: tuple[int, pa.ChunkedArray]) -> pa.ChunkedArray | None:
        try:
            return _cast(task[1], types[task[0]])
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
            return None

    with ThreadPoolExecutor(
        max_workers=min(threads, len(tasks)), thread_name_prefix="dynio-cast"
    ) as pool:
        pieces = list(pool.map(cast, tasks))
    out: list[list[pa.Array] | None] = [[] for _ in columns]
    for (i, _), piece in zip(tasks, pieces, strict=True):
        held = out[i]
        if held is None:
            continue
        if piece is None:
            out[i] = None
        else:
            held.extend(piece.chunks)
    return [
        None if held is None else pa.chunked_array(held, types[i]) for i, held in enumerate(out)
    ]


def _batches(column: pa.ChunkedArray) -> list[pa.ChunkedArray]:
    """A column's chunks in consecutive batches of at most :data:`CAST_PIECE_ROWS` rows (a
    chunk taller than that cut into slices): one cast task each, so that a frame of many small
    chunks (one per file of a dataset) is not cast a chunk per task."""
    out: list[pa.ChunkedArray] = []
    batch: list[pa.Array] = []
    rows = 0
    for chunk in column.chunks:
        for start in range(0, len(chunk), CAST_PIECE_ROWS):
            piece = chunk.slice(start, CAST_PIECE_ROWS)
            if batch and rows + len(piece) > CAST_PIECE_ROWS:
                out.append(pa.chunked_array(batch, column.type))
                batch, rows = [], 0
            batch.append(piece)
            rows += len(piece)
    if batch:
        out.append(pa.chunked_array(batch, column.type))
    return out


def _cast_one(column: pa.ChunkedArray, kind: pa.DataType) -> pa.ChunkedArray | None:
    try:
        return _cast(column, kind)
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        return None


def _cast(values: Any, kind: pa.DataType) -> Any:
    """``values`` cast to ``kind``, allocated from the system allocator (see :func:`to_arrow`)."""
    import pyarrow.compute as pc

    return pc.cast(values, kind, memory_pool=pa.system_memory_pool())


@functools.lru_cache(maxsize=256)
def export_schema(columns: tuple[tuple[str, pl.DataType], ...]) -> pa.Schema:
    """The Arrow schema ``polars.DataFrame.to_arrow()`` gives a frame of these columns (made
    once per schema: an export costs a fraction of a millisecond, which small reads notice)."""
    return pl.DataFrame(schema=dict(columns)).to_arrow().schema
