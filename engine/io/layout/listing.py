"""Which files of a folder or prefix are a dataset's data.

Hidden and ``_``-prefixed names are never data: markers (``_SUCCESS``), writers' temporary files
(``.name.*.tmp``) and other writers' staging folders (``_temporary/``). In a folder or under a
prefix only files of the format's extensions are read; a glob names its files itself.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from dynio.engine.io.filesystems.store import ObjectInfo, bare
from dynio.engine.io.formats import Format

__all__ = ["data_objects", "is_data_name", "local_files"]


def is_data_name(name: str, extensions: tuple[str, ...] | None) -> bool:
    """Whether a file's name (its last segment is what counts) may hold a dataset's data.

    Args:
        name: The file's path or key.
        extensions: The format's extensions, or ``None`` to take any (a glob's matches).
    """
    base = name.rsplit("/", 1)[-1]
    if not base or base.startswith((".", "_")):
        return False
    return extensions is None or base.lower().endswith(extensions)


def local_files(root: Path, fmt: Format) -> list[tuple[Path, int]]:
    """The format's files under a local folder with their sizes, sorted (one directory pass,
    one stat per file); hidden and ``_``-prefixed files and folders are left out."""
    found: list[tuple[Path, int]] = []
    pending = [str(root)]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.name.startswith((".", "_")):
                    continue
                if entry.is_dir():
                    pending.append(entry.path)
                elif entry.is_file() and is_data_name(entry.name, fmt.extensions):
                    found.append((Path(entry.path), entry.stat().st_size))
    return sorted(found)


def data_objects(
    objects: Sequence[ObjectInfo], fmt: Format, *, by_extension: bool
) -> list[ObjectInfo]:
    """The objects of a listing that hold data (``by_extension``: of the format's extensions)."""
    extensions = fmt.extensions if by_extension else None
    return [o for o in objects if is_data_name(bare(o.url), extensions)]


def data_names(names: Sequence[str], fmt: Format) -> list[str]:
    """The data files among fsspec names (an object store's keys), by the format's extensions."""
    return [n for n in names if is_data_name(bare(n), fmt.extensions)]
