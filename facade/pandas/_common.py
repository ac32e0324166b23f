"""What the ``dynio.pandas`` readers share: falling back to pandas, sources, Arrow to pandas."""

from __future__ import annotations

import bz2
import gzip
import io
import logging
import lzma
import mmap
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa

from dynio import handoff
from dynio.engine import api
from dynio.engine.spec import ResourceSpec

logger = logging.getLogger("dynio.pandas")

_ARROW_TO_PANDAS: Callable[..., pd.DataFrame] | None
try:  # pandas' Arrow -> pandas conversion, shared by its readers (pandas >= 2.3)
    from pandas.io import _util as _pandas_util  # type: ignore[attr-defined,unused-ignore]

    _ARROW_TO_PANDAS = _pandas_util.arrow_table_to_pandas
except (ImportError, AttributeError):  # pandas 2.2: its parquet reader's own steps, below
    _ARROW_TO_PANDAS = None

# whether pandas' nullable mapping treats both Arrow text widths alike (pandas 2.2 maps only
# ``string`` to StringDtype, so a ``large_string`` column from Polars must be cast back)
_NULLABLE_TEXT_WIDTHS_ALIKE = pa.large_string() in handoff._NUMPY_NULLABLE_MAPPER

# pandas >= 3.1 parses CSV decimals correctly rounded, as Polars does; the default ("high"
# precision) parser of older pandas can be an ulp off, so there pandas reads files with decimals
_CSV_FLOATS_ROUND_TRIP = tuple(int(x) for x in pd.__version__.split(".")[:2]) >= (3, 1)
# the unit of pandas' parse_dates columns: microseconds from pandas 3, nanoseconds before
_CSV_DATES_UNIT: Literal["us", "ns"] = "us" if int(pd.__version__.split(".")[0]) >= 3 else "ns"


class _Fallback(Exception):
    """The fast path cannot give exactly what pandas would: pandas reads the call itself."""


class _Missing:
    """An argument the caller did not pass (so pandas sees its own default)."""

    def __repr__(self) -> str:
        return "<not given>"


_NO: Any = _Missing()


def _given(**kwargs: Any) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if v is not _NO}


def _fallback(what: str, source: Any, reason: object, call: Callable[[], Any]) -> Any:
    logger.debug("%s(%r): pandas reads it (%s)", what, source, reason)
    return call()


# ------------------------------------------------------------------------------------ sources

_COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zip": "zip", ".zst": "zstd",
                 ".tar": "tar", ".tgz": "tar"}  # fmt: skip
_DECOMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.decompress,
    "bz2": bz2.decompress,
    "xz": lzma.decompress,
}


def _local_file(source: Any) -> Path:
    """The local file a pandas ``filepath_or_buffer`` names, or fall back."""
    if not isinstance(source, str | os.PathLike):
        raise _Fallback("not a file path")
    text = os.fspath(source)
    if not isinstance(text, str):
        raise _Fallback("not a text path")
    if text.startswith("file://"):
        text = text[len("file://") :]
    if "://" in text:
        raise _Fallback("remote location")
    path = Path(os.path.expanduser(text))
    if not path.is_file():
        raise _Fallback("not an existing file")
    return path


def _located(file: Path, format: str, options: dict[str, Any] | None = None) -> ResourceSpec:
    """A local file as a resource of the engine's read contract (:mod:`dynio.engine.api`):
    read with ``api.load(api.bind(resource, request=...))``, by the registry's local source."""
    try:
        return api.located(file, format, options=options)
    except ValueError as exc:  # a name the local source would read as a template or pattern
        raise _Fallback(str(exc)) from exc


def _compression(path: Path, compression: Any) -> str | None:
    if compression is _NO or compression == "infer":
        for suffix, name in _COMPRESSIONS.items():
            if path.name.lower().endswith(suffix):
                return name
        return None
    if compression is None or isinstance(compression, str):
        return compression
    raise _Fallback("compression options")


def _content(path: Path, compression: str | None) -> Path | bytes:
    """The file itself, or its decompressed bytes (gzip, bz2, xz)."""
    if compression is None:
        return path
    decompress = _DECOMPRESS.get(compression)
    if decompress is None:
        raise _Fallback(f"{compression} compression")
    return decompress(path.read_bytes())


class _Bytes:
    """Byte searches over a file (memory-mapped) or a buffer, without reading it into Python."""

    def __init__(self, content: Path | bytes) -> None:
        self._content = content

    def __enter__(self) -> Any:
        if isinstance(self._content, bytes):
            return self._content
        if self._content.stat().st_size == 0:
            return b""
        # closed in __exit__: the map must outlive this call
        self._fh = open(self._content, "rb")
        self._mm = mmap.mmap(self._fh.fileno(), 0, access=mmap.ACCESS_READ)
        return self._mm

    def __exit__(self, *exc: object) -> None:
        if hasattr(self, "_mm"):
            self._mm.close()
            self._fh.close()


def _polars_source(content: Path | bytes) -> Any:
    return io.BytesIO(content) if isinstance(content, bytes) else str(content)


def _utf8(encoding: Any) -> None:
    if encoding in (_NO, None):
        return
    if str(encoding).lower().replace("_", "-") not in ("utf-8", "utf8", "utf-8-sig"):
        raise _Fallback(f"encoding {encoding!r}")


def _arrow_to_pandas(table: pa.Table, dtype_backend: Any) -> pd.DataFrame:
    """pandas' own Arrow -> pandas conversion (the one its readers use)."""
    kwargs: dict[str, Any] = {} if dtype_backend is _NO else {"dtype_backend": dtype_backend}
    frame: pd.DataFrame
    if _ARROW_TO_PANDAS is not None:
        frame = _ARROW_TO_PANDAS(table, **kwargs)
        return frame
    # pandas 2.2: the steps of its pyarrow parquet reader (pandas/io/parquet.py)
    from pandas.util._validators import (  # type: ignore[import-not-found,unused-ignore]
        check_dtype_backend,
    )

    if dtype_backend is not _NO:
        check_dtype_backend(dtype_backend)
    if dtype_backend == "numpy_nullable":
        frame = table.to_pandas(types_mapper=handoff._NUMPY_NULLABLE_MAPPER.get)
    elif dtype_backend == "pyarrow":
        frame = table.to_pandas(types_mapper=pd.ArrowDtype)
    elif pd.get_option("future.infer_string"):
        frame = table.to_pandas(types_mapper=_pandas_util.arrow_string_types_mapper())
    else:
        frame = table.to_pandas()
    return frame
