"""Plans of plain reads remembered per resource: a file read again and again plans once.

A read into pandas of one local parquet file with nothing for the engine to do (no filter, no
cast, no rule or metric; see :mod:`dynio.engine.read_path`) takes the arrow path, which needs of
its plan only what it says: the file, the columns and their types, the options. Planning (the
source's scan, its schema, the casts) costs about as much as reading a 1,000-row file, so a
:class:`PlanCache` (one per :class:`dynio.Resource`, that is per catalog, resource and
environment) keeps such plans, keyed by the columns and template values asked for, and gives
one back only while the file keeps its identity (device, inode, size, modification time). A
read with a filter, a file the plan did not name literally (a pattern, a folder), a file
replaced or rewritten since, or a plan the read-path choice no longer sends to the arrow path
is planned again; so is any read whose file no longer has the plan's columns and types
(:func:`dynio.engine.read_path.read_arrow` checks them on the file it opens).

The plans kept hold no open file and no Polars plan: they are never collected.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import polars as pl

from dynio.engine.plan import Plan

__all__ = ["PlanCache"]

Identity = tuple[int, int, int, int]


def _identity(path: str) -> Identity | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class PlanCache:
    """Plans of a resource's plain reads, by what a read asks for (thread-safe, bounded).

    Args:
        size: How many plans are kept (the least recently used go first).
    """

    def __init__(self, size: int = 32) -> None:
        self._size = size
        self._plans: OrderedDict[Hashable, tuple[Identity, Plan]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(
        columns: Sequence[str] | None, filters: Any, template_args: Mapping[str, Any] | None
    ) -> Hashable | None:
        """What identifies a read for the cache; ``None``: a read the cache does not serve
        (a filter, or arguments that cannot be compared)."""
        if filters is not None or isinstance(columns, str):
            return None
        # a value's type is part of the key: 1, 1.0 and True are equal but fill paths apart
        args = tuple(sorted((k, type(v), v) for k, v in (template_args or {}).items()))
        key = (tuple(columns) if columns is not None else None, args)
        try:
            hash(key)
        except TypeError:
            return None
        return key

    def get(self, key: Hashable | None) -> Plan | None:
        """The plan kept for ``key`` while its file keeps the identity it had (else ``None``)."""
        if key is None:
            return None
        with self._lock:
            entry = self._plans.get(key)
            if entry is not None:
                self._plans.move_to_end(key)
        if entry is None:
            return None
        identity, plan = entry
        if _identity(plan.info.files[0]) != identity:
            with self._lock:
                if self._plans.get(key) is entry:
                    del self._plans[key]
            return None
        return plan

    def put(self, key: Hashable | None, plan: Plan) -> None:
        """Keep a plan the arrow path read with, for a file the plan names literally, with the
        file's identity now (a file replaced since its read keeps a plan that is still right
        for it when its columns and types are the plan's, which each read checks)."""
        info = plan.info
        if key is None or len(info.files) != 1:
            return
        if info.files[0] != info.location:  # a pattern or a folder may match other files
            return
        identity = _identity(info.files[0])
        if identity is None:
            return
        kept = replace(
            plan,
            frame=pl.LazyFrame(),  # the plan's own frame reads a file since closed
            rescan=None,
            build=None,
            changed=None,
            release=None,
        )
        with self._lock:
            self._plans[key] = (identity, kept)
            self._plans.move_to_end(key)
            while len(self._plans) > self._size:
                self._plans.popitem(last=False)
