"""Arrow IPC (Feather v2): a binary format with a footer; columns matched by name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import IO, Any

import polars as pl

from dynio.engine.io.formats.base import Capabilities, Format, ScanHints, hive_paths

__all__ = ["IPC"]


def _scan_ipc(paths: Sequence[str], options: Mapping[str, Any], hints: ScanHints) -> pl.LazyFrame:
    kwargs: dict[str, Any] = {}
    for name in ("n_rows", "hive_partitioning"):
        if name in options:
            kwargs[name] = options[name]
    if "hive_partitioning" not in kwargs and hive_paths(paths):
        kwargs["hive_partitioning"] = True
    if hints.storage_options:
        kwargs["storage_options"] = dict(hints.storage_options)
    return pl.scan_ipc(list(paths), glob=False, **kwargs)


def _write_ipc(df: pl.DataFrame, out: IO[bytes], options: Mapping[str, Any]) -> None:
    compression = options.get("compression", "uncompressed")
    df.write_ipc(out, compression=compression or "uncompressed")


IPC = Format(
    "ipc",
    (".arrow", ".feather", ".ipc"),
    Capabilities(
        footer=True,
        columns_by_name=True,
        native_remote=True,
        layouts=frozenset({"file", "dataset", "hive"}),
        read_options=frozenset({"n_rows", "hive_partitioning"}),
        write_options=frozenset({"compression"}),
        duckdb_reader="arrow_dataset",
    ),
    _scan_ipc,
    _write_ipc,
    aliases=("feather", "arrow"),
    sink=lambda lf, path, o: lf.sink_ipc(path, compression=o.get("compression") or None),
    magic=b"ARROW1",
)
