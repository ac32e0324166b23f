"""Explaining a failed read: what the file itself shows, asked of its format."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from dynio.engine.errors import first_line
from dynio.engine.io.formats.base import pick
from dynio.engine.io.formats.registry import FACADE_MAGIC, FORMATS, capabilities_of, registered
from dynio.engine.io.formats.text import is_decode_failure, text_encoding_problem

__all__ = ["binary_mismatch", "describe_read_failure", "looks_like"]


def looks_like(path: str) -> str | None:
    """The binary format a local file's first bytes announce (``parquet``, ``ipc``, ``hdf``)."""
    try:
        with open(path, "rb") as fh:
            start = fh.read(8)
    except OSError:
        return None
    magic = [(f.magic, f.name) for f in FORMATS.values() if f.magic]
    known = {name for _, name in magic}
    magic += [(m, name) for m, name in FACADE_MAGIC if name not in known]
    return next((name for m, name in magic if start.startswith(m)), None)


def binary_mismatch(fmt: str | None, path: str) -> str | None:
    """Why a local file declared as a text format is not one (it starts as parquet, IPC, HDF)."""
    if not capabilities_of(fmt).text or "://" in path:
        return None
    other = looks_like(path)
    if other is None:
        return None
    return (
        f"the file looks like {other}, not {fmt} (it starts with {other}'s magic bytes);"
        f" declare file_type: {other}"
    )


def describe_read_failure(
    fmt: str | None, path: str, options: Mapping[str, Any], exc: BaseException
) -> str:
    """Why a file could not be read, as one sentence.

    Readers' own messages often say little (``found more fields than defined in 'Schema'``,
    ``Syntax at character 21``); for a local file this looks at the file to say what is wrong
    and where: an empty file, the ragged CSV line, the bad JSON line, the undecodable byte, a
    truncated or corrupted parquet file (each format's ``explain``). Otherwise it is the
    reader's first line. It runs only after a read failed.
    """
    reason = first_line(exc)
    if "://" in path or not os.path.isfile(path):
        return reason
    try:
        if os.path.getsize(path) == 0:
            return "the file is empty (0 bytes)"
        mismatch = binary_mismatch(fmt, path)
        if mismatch is not None:
            return mismatch
        if capabilities_of(fmt).text and is_decode_failure(exc):
            encoding = str(pick(options, "encoding") or "utf-8")
            found = text_encoding_problem(path, encoding)
            if found is not None:
                return found
        format_ = registered(fmt)
        if format_ is not None and format_.explain is not None:
            return format_.explain(path, options, reason) or reason
    except OSError:
        pass  # the file went away meanwhile: the reader's message is all there is
    return reason
