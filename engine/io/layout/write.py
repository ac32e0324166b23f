"""Writing a dataset, one copy for every filesystem: split into files, serialise, commit.

A dataset write (a folder or prefix of files, in hive folders when ``partition_cols`` says)
always goes the same way: :func:`~dynio.engine.io.layout.hive.split_partitions` names the files,
:func:`serialise` writes each into a local staging folder, and a :class:`Commit` makes them the
dataset in as few visible steps as its filesystem allows (a folder exchange on a local disk,
uploads and the removal of the old objects on an object store). A failure before the commit
leaves the old dataset as it was.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from dynio.engine.errors import WriteError
from dynio.engine.io.formats import Format
from dynio.engine.io.layout.hive import split_partitions

__all__ = ["Commit", "serialise", "write_dataset", "write_parts"]


def serialise(
    frame: pl.DataFrame,
    fmt: Format,
    options: Mapping[str, Any],
    dest: Path,
    *,
    durable: bool = False,
) -> int:
    """Write a frame to a local file in a format; its size in bytes.

    Args:
        durable: Flush the file to the disk before returning (a file that stays on this
            machine; an upload's temporary copy need not be).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    if fmt.write_path is not None:
        fmt.write_path(frame, str(dest), options)
    else:
        if fmt.write is None:
            raise WriteError(f"format {fmt.name!r} cannot be written")
        with open(dest, "wb") as fh:
            fmt.write(frame, fh, options)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
    return dest.stat().st_size


def write_parts(
    folder: Path,
    frame: pl.DataFrame,
    fmt: Format,
    options: Mapping[str, Any],
    name: str,
    *,
    durable: bool = False,
) -> dict[str, int]:
    """Serialise a frame into ``folder`` as file ``name`` (``part-00000``), in hive folders when
    ``options`` has ``partition_cols``; the relative paths written and their sizes."""
    writer_options = {k: v for k, v in options.items() if k != "partition_cols"}
    parts = split_partitions(frame, options.get("partition_cols"), f"{name}{fmt.extensions[0]}")
    return {
        rel: serialise(part, fmt, writer_options, folder / rel, durable=durable)
        for rel, part in parts
    }


class Commit(Protocol):
    """How serialised files become a dataset on one filesystem."""

    durable: bool  # whether the staged files must reach the disk (they stay on it)

    def stage(self) -> Path:
        """A new local folder to serialise the dataset's files into."""
        ...

    def publish(self, sizes: Mapping[str, int]) -> tuple[int, list[str]]:
        """Make the staged files (relative path -> size) the dataset; bytes and names written.

        On failure the old dataset stays (or is told apart in the error) and the staging folder
        is gone.
        """
        ...

    def discard(self) -> None:
        """Remove the staging folder (a write that did not reach :meth:`publish`)."""
        ...


def write_dataset(
    frame: pl.DataFrame, fmt: Format, options: Mapping[str, Any], commit: Commit, name: str
) -> tuple[int, list[str]]:
    """Write a frame as a dataset through ``commit``: bytes and the files written."""
    folder = commit.stage()
    try:
        sizes = write_parts(folder, frame, fmt, options, name, durable=commit.durable)
    except BaseException:
        commit.discard()
        raise
    return commit.publish(sizes)
