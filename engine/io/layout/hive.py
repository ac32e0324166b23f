"""Hive partitions (``key=value/`` folders): naming them on write, reading their values and
pruning the files a filter excludes, the same for local folders and object-store prefixes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from dynio.engine.errors import WriteError
from dynio.engine.filters import prune_groups

__all__ = ["hive_values", "part_value", "prune_partitions", "split_partitions"]

HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


def hive_values(relative: str) -> dict[str, str]:
    """The ``key=value`` folder segments of a path relative to its dataset root."""
    parts = relative.replace("\\", "/").split("/")[:-1]
    out: dict[str, str] = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if sep and key:
            out[key] = value
    return out


def prune_partitions(
    files: Sequence[str],
    relatives: Sequence[str],
    filters: tuple[tuple[tuple[str, str, Any], ...], ...] | None,
    dtypes: Mapping[str, pl.DataType],
) -> list[str]:
    """The files a tuple-form filter can match, judged by their hive partition values alone.

    Conditions on other columns are ignored (they cannot exclude a file here); a file is kept
    when any OR-group of partition conditions holds for it. Nothing is dropped when the filter
    has no partition condition or a value cannot be compared.
    """
    if not filters or not files:
        return list(files)
    keep = prune_groups(filters, [hive_values(r) for r in relatives], dtypes)
    return [f for f, k in zip(files, keep, strict=True) if k]


def part_value(value: Any) -> str:
    """A partition value as its folder name (``None`` as Hive's default partition).

    Raises:
        WriteError: The value cannot be one folder's name.
    """
    text = HIVE_NULL if value is None else str(value)
    if "/" in text or "\\" in text or text in (".", ".."):
        raise WriteError(f"partition value {text!r} cannot be a folder name")
    return text


def split_partitions(
    frame: pl.DataFrame, partition_cols: Any, name: str
) -> list[tuple[str, pl.DataFrame]]:
    """The files a dataset write makes: ``(relative path, rows)``, sorted.

    Without ``partition_cols`` one file ``name``; with them one file ``name`` per partition in
    ``col=value/`` folders, the partition columns left out of the files (as Hive does).

    Raises:
        WriteError: A partition column is not a column of the frame, or a value cannot be a
            folder name.
    """
    if not partition_cols:
        return [(name, frame)]
    cols = [partition_cols] if isinstance(partition_cols, str) else list(partition_cols)
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise WriteError(f"partition_cols {missing} are not columns of the frame")
    out = []
    for key, part in frame.partition_by(cols, as_dict=True, include_key=False).items():
        folder = "/".join(f"{c}={part_value(v)}" for c, v in zip(cols, key, strict=True))
        out.append((f"{folder}/{name}", part))
    return sorted(out, key=lambda item: item[0])
