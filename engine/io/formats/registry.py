"""The format table: every format by name and alias; third parties add theirs with
:func:`register_format`."""

from __future__ import annotations

import importlib

from dynio.engine.io.formats.base import NOTHING, Capabilities, Format
from dynio.engine.io.formats.csv import CSV
from dynio.engine.io.formats.ipc import IPC
from dynio.engine.io.formats.json import JSON
from dynio.engine.io.formats.ndjson import NDJSON
from dynio.engine.io.formats.parquet import PARQUET

__all__ = [
    "FORMATS",
    "capabilities_of",
    "format_for",
    "format_names",
    "infer_format",
    "register_format",
    "registered",
    "unregister_format",
]

FORMATS: dict[str, Format] = {}
_BY_ALIAS: dict[str, str] = {}

# Formats served by facade modules because their only reader is pandas (the engine never
# imports pandas): name -> module that registers it on import.
_FACADE_FORMATS = {"hdf": "dynio.hdf", "h5": "dynio.hdf", "hdf5": "dynio.hdf"}
_FACADE_ENDINGS = {".h5": "hdf", ".hdf": "hdf", ".hdf5": "hdf"}
# the first bytes of those formats, to tell a file declared as text that is not before the
# facade module is imported
FACADE_MAGIC = ((b"\x89HDF\r\n\x1a\n", "hdf"),)


def register_format(fmt: Format) -> None:
    """Add a format to the table (the facade adds those that need pandas, such as ``hdf``).

    A format registered under an existing name replaces it.
    """
    FORMATS[fmt.name] = fmt
    _BY_ALIAS[fmt.name] = fmt.name
    for alias in fmt.aliases:
        _BY_ALIAS[alias] = fmt.name


def unregister_format(name: str) -> None:
    """Remove a format and its aliases from the table (a no-op for an unknown name)."""
    fmt = FORMATS.pop(name, None)
    if fmt is None:
        return
    for alias in (fmt.name, *fmt.aliases):
        if _BY_ALIAS.get(alias) == fmt.name:
            del _BY_ALIAS[alias]


for _f in (PARQUET, CSV, JSON, NDJSON, IPC):
    register_format(_f)


def registered(name: str | None) -> Format | None:
    """The registered format of that name or alias, without importing any module."""
    if not name:
        return None
    key = _BY_ALIAS.get(name.strip().lower().lstrip("."))
    return FORMATS[key] if key is not None else None


def capabilities_of(name: str | None) -> Capabilities:
    """What the registered format of that name can do; an unknown format (or none) is
    credited with nothing (binary, no footer, no native remote scan, one file)."""
    fmt = registered(name)
    return fmt.capabilities if fmt is not None else NOTHING


def format_for(name: str) -> Format | None:
    """The format of that name or alias (case-insensitive), or ``None``.

    Formats served by the facade (``hdf``) are registered on first use, so a catalog naming
    them loads whatever has been imported before.
    """
    text = name.strip().lower().lstrip(".")
    key = _BY_ALIAS.get(text)
    if key is None and text in _FACADE_FORMATS:
        importlib.import_module(_FACADE_FORMATS[text])
        key = _BY_ALIAS.get(text)
    return FORMATS[key] if key is not None else None


def format_names() -> list[str]:
    """Every name ``file_type`` accepts: each format, its aliases, the facade's formats."""
    names: list[str] = []
    for fmt in FORMATS.values():
        names.extend(n for n in (fmt.name, *fmt.aliases) if n not in names)
    names.extend(n for n in _FACADE_FORMATS if n not in names)
    return names


def infer_format(path: str) -> Format | None:
    """The format a path's ending suggests, or ``None``."""
    lower = path.lower()
    for ending, name in _FACADE_ENDINGS.items():
        if lower.endswith(ending):
            return format_for(name)
    best: tuple[int, Format] | None = None
    for fmt in FORMATS.values():
        for ext in fmt.extensions:
            if lower.endswith(ext) and (best is None or len(ext) > best[0]):
                best = (len(ext), fmt)
    return best[1] if best else None
