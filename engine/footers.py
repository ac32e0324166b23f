"""What the read-path choice remembers of a local parquet file's footer, per file version.

The choice between read paths (:mod:`dynio.engine.read_path`, :mod:`dynio.engine.column_split`)
looks at a file's row groups and its columns' sizes. A footer is read once per file identity
(device, inode, size, modification time): a file replaced or rewritten since is read again.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

__all__ = ["Footer", "footer"]

_SEEN = 256  # files remembered (the least recently added go first)
_known: dict[str, tuple[tuple[int, int, int, int], Footer]] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Footer:
    """A parquet footer's facts the read-path choice uses.

    Attributes:
        rows: Rows in the file.
        groups: Row groups in the file.
        sizes: Each top-level column's uncompressed bytes over all row groups.
    """

    rows: int
    groups: int
    sizes: dict[str, int]


def footer(path: str) -> Footer | None:
    """The facts of a local parquet file's footer (``None``: the file cannot be looked at;
    the reader then reports why)."""
    import pyarrow.parquet as pq

    try:
        st = os.stat(path)
    except OSError:
        return None
    identity = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    with _lock:
        known = _known.get(path)
    if known is not None and known[0] == identity:
        return known[1]
    try:
        meta = pq.read_metadata(path)
    except (OSError, ValueError):
        return None
    sizes: dict[str, int] = {}
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            chunk = group.column(c)
            top = chunk.path_in_schema.split(".", 1)[0]
            sizes[top] = sizes.get(top, 0) + chunk.total_uncompressed_size
    facts = Footer(meta.num_rows, meta.num_row_groups, sizes)
    with _lock:
        if len(_known) >= _SEEN:
            _known.pop(next(iter(_known)))
        _known[path] = (identity, facts)
    return facts
