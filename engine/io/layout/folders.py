"""Local folders: one file replaced atomically, a dataset folder built aside and swapped in.

A file is written to a hidden temporary file beside it (``.NAME.<id>.tmp``), flushed, and
renamed over it. A dataset folder is built in a hidden staging folder beside it and exchanged
with the old one in one step where the system can (Linux ``renameat2(RENAME_EXCHANGE)``), else
with two renames. What a killed writer leaves (temporary files and folders) is removed by the
next write of the same target once it is older than :data:`LEFTOVER_AGE`.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import glob
import os
import shutil
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from dynio.engine.errors import WriteError
from dynio.engine.io.formats import Format
from dynio.engine.io.layout.write import serialise

__all__ = [
    "LEFTOVER_AGE",
    "FolderCommit",
    "atomic_write_file",
    "clean_leftovers",
    "commit_folder",
    "staging_folder",
]


def _fsync_dir(path: Path) -> None:
    # make the rename durable; not every platform lets a folder be opened
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_file(
    target: Path, frame: pl.DataFrame, fmt: Format, options: Mapping[str, Any]
) -> int:
    """Write a frame to ``target`` through a temporary file in the same folder, then rename.

    Returns:
        The number of bytes written.
    """
    if target.is_dir():
        raise WriteError(
            "the file is a folder: a write would replace a folder with a file; remove or rename"
            " the folder first"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(target)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    try:
        size = serialise(frame, fmt, options, tmp, durable=True)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(target.parent)
    return size


LEFTOVER_AGE = 3600.0  # seconds: a temporary file this old belongs to no running writer


def _remove(leftover: Path) -> None:
    if leftover.is_dir() and not leftover.is_symlink():
        shutil.rmtree(leftover)
    else:
        leftover.unlink()


def clean_leftovers(
    target: Path, older_than: float = LEFTOVER_AGE, *, dry_run: bool = False
) -> list[Path]:
    """Remove what killed writers of ``target`` left beside it: hidden ``.NAME.*.tmp`` files or
    folders and ``.NAME.*.old`` folders not modified for ``older_than`` seconds (a running
    writer's are younger). Returns what was (``dry_run``: would be) removed; a leftover that
    cannot be removed stays.
    """
    removed: list[Path] = []
    if not target.parent.is_dir():
        return removed
    cutoff = time.time() - older_than
    for pattern in (f".{glob.escape(target.name)}.*.tmp", f".{glob.escape(target.name)}.*.old"):
        for leftover in target.parent.glob(pattern):
            try:
                if leftover.lstat().st_mtime > cutoff:
                    continue
                if not dry_run:
                    _remove(leftover)
            except OSError:
                continue
            removed.append(leftover)
    return removed


def staging_folder(target: Path) -> Path:
    """A new empty folder beside ``target`` to build its next version in (killed writers'
    old leftovers beside it are cleaned first).

    Raises:
        WriteError: ``target`` is a file: a dataset write never turns a file into a folder.
    """
    if target.exists() and not target.is_dir():
        raise WriteError(
            "the dataset folder is a file: a write would turn it into a folder; remove or"
            " rename the file first"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(target)
    staging = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    staging.mkdir()
    return staging


def commit_folder(staging: Path, target: Path) -> tuple[int, list[Path]]:
    """Swap a staged folder in as ``target`` (one exchange where the system has it); on any
    failure the old dataset stays (or goes back) and the staging folder is removed."""
    old: Path | None = None
    try:
        if target.exists() and _exchange(staging, target):
            shutil.rmtree(staging, ignore_errors=True)  # it holds the old dataset now
        else:
            if target.exists():
                # without an atomic exchange the folder is missing between these two renames
                old = target.parent / f".{target.name}.{uuid.uuid4().hex}.old"
                os.replace(target, old)
            os.replace(staging, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        if old is not None and not target.exists():
            os.replace(old, target)  # the swap failed half-way: the old dataset goes back
        shutil.rmtree(staging, ignore_errors=True)
        raise
    files = sorted(p for p in target.rglob("*") if p.is_file())
    return sum(p.stat().st_size for p in files), files


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one step (Linux ``renameat2(RENAME_EXCHANGE)``), so a reader or a
    killed writer never sees the destination missing; ``False`` where the system cannot."""
    if sys.platform != "linux":
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False  # an old kernel or a file system without it
    raise OSError(code, os.strerror(code), str(b))


@dataclass
class FolderCommit:
    """A dataset folder's :class:`~dynio.engine.io.layout.write.Commit`: staged beside it,
    exchanged with it."""

    target: Path
    durable: bool = True
    _staging: Path | None = field(default=None, init=False)

    def stage(self) -> Path:
        self._staging = staging_folder(self.target)
        return self._staging

    def publish(self, sizes: Mapping[str, int]) -> tuple[int, list[str]]:
        if self._staging is None:
            raise WriteError("nothing was staged")
        size, files = commit_folder(self._staging, self.target)
        return size, [str(f) for f in files]

    def discard(self) -> None:
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
