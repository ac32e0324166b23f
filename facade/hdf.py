"""The ``hdf`` file type (HDF5 through pandas and PyTables), for existing dynamicio pipelines.

YAML::

    foo:
      sample:
        type: local
        local: {file_path: data/foo.h5, file_type: hdf}
        options: {key: df}          # the HDF5 key; "df" as dynamicio wrote it

HDF5 has no Arrow reader, so this format lives in the facade: files are read with
``pandas.read_hdf`` and handed to the engine as Polars frames; writes go through
``DataFrame.to_hdf``. PyTables is not thread-safe, so every HDF5 call holds one lock. Object
columns are pickled with protocol 4, as dynamicio wrote them (readable by any Python 3.4+), or
with the write option ``protocol``.
Install it with ``pip install 'dynio[hdf]'``.
"""

from __future__ import annotations

import pickle
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import polars as pl

from dynio.engine.errors import MissingDependencyError
from dynio.engine.io.formats import Capabilities, Format, ScanHints, register_format

__all__ = ["HDF"]

_LOCK = threading.Lock()
DEFAULT_KEY = "df"
PICKLE_PROTOCOL = 4  # dynamicio's; PyTables pickles object columns with pickle.HIGHEST_PROTOCOL


def _require_tables() -> None:
    try:
        import tables  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError("the hdf file type needs PyTables", extra="hdf") from exc


def _scan(paths: Sequence[str], options: Mapping[str, Any], hints: ScanHints) -> pl.LazyFrame:
    _require_tables()
    key = str(options.get("key", DEFAULT_KEY))
    frames = []
    with _LOCK:
        for path in paths:
            pdf = pd.read_hdf(path, key=key)
            if not isinstance(pdf, pd.DataFrame):
                raise ValueError(f"{path}: key {key!r} holds a {type(pdf).__name__}, not a frame")
            frames.append(pl.from_pandas(pdf))
    frame = pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0]
    return frame.lazy()


def _write(df: pl.DataFrame, path: str, options: Mapping[str, Any]) -> None:
    _require_tables()
    from dynio.handoff import to_pandas

    kwargs: dict[str, Any] = {"key": str(options.get("key", DEFAULT_KEY)), "mode": "w"}
    for name in ("format", "complevel", "complib", "data_columns", "min_itemsize"):
        if name in options:
            kwargs[name] = options[name]
    pdf = to_pandas(df)
    with _LOCK:
        highest = pickle.HIGHEST_PROTOCOL
        pickle.HIGHEST_PROTOCOL = int(options.get("protocol") or PICKLE_PROTOCOL)  # type: ignore[misc]
        try:
            pdf.to_hdf(path, **kwargs)
        finally:
            pickle.HIGHEST_PROTOCOL = highest  # type: ignore[misc]


HDF = Format(
    "hdf",
    (".h5", ".hdf", ".hdf5"),
    Capabilities(
        # one file holding keyed tables; pandas reads it whole, from a local path only
        layouts=frozenset({"file"}),
        columns_by_name=True,
        read_options=frozenset({"key"}),
        write_options=frozenset(
            {"key", "format", "complevel", "complib", "data_columns", "min_itemsize", "protocol"}
        ),
    ),
    _scan,
    None,
    aliases=("h5", "hdf5"),
    write_path=_write,
    magic=b"\x89HDF\r\n\x1a\n",
)

register_format(HDF)
