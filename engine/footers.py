"""What the read path remembers of a local parquet file's footer, per file version.

The choice between read paths (:mod:`dynio.engine.read_path`, :mod:`dynio.engine.column_split`)
looks at a file's row groups and its columns' sizes; the pruning of a dataset's files
(:mod:`dynio.engine.io.layout.pruning`) at its columns' statistics. A footer is read once per
file identity (device, inode, size, modification time): a file replaced or rewritten since is
read again.

Footers are parsed by pyarrow (:func:`read_metadata`), not read through ``pyarrow.parquet``,
whose import brings ``pyarrow.fs`` with its S3, GCS and SSL modules: 6-8 ms of a fresh
process's first read, for files that are local.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import polars as pl

__all__ = [
    "ColumnStatistics",
    "FileStatistics",
    "Footer",
    "file_statistics",
    "footer",
    "read_metadata",
]

_SEEN = 256  # files remembered (the least recently added go first)
_Identity = tuple[int, int, int, int]
_lock = threading.Lock()
T = TypeVar("T")


@dataclass(frozen=True)
class Footer:
    """A parquet footer's facts the read-path choice uses.

    Attributes:
        rows: Rows in the file.
        groups: Row groups in the file.
        sizes: Each top-level column's uncompressed bytes over all row groups.
        schema: The file's Arrow schema, with its metadata (``pyarrow.parquet.read_schema``'s;
            ``dynio.pandas.read_parquet`` plans by it).
    """

    rows: int
    groups: int
    sizes: dict[str, int]
    schema: Any = None


@dataclass(frozen=True)
class ColumnStatistics:
    """One column's statistics, row group by row group, as the footer stores them.

    Attributes:
        dtype: The Polars type the values are of (Polars reads the column as this type).
        minimum: Each row group's smallest value (raw: an integer), ``None`` where not stored.
        maximum: Each row group's largest value, ``None`` where not stored.
        nulls: Each row group's count of nulls, ``None`` where not stored.
    """

    dtype: pl.DataType
    minimum: tuple[int | None, ...]
    maximum: tuple[int | None, ...]
    nulls: tuple[int | None, ...]


@dataclass(frozen=True)
class FileStatistics:
    """A parquet file's row groups and the statistics of the columns asked for.

    Attributes:
        group_rows: Each row group's row count.
        schema: Which of the parquet schemas seen the file has (files with the same number
            have the same columns of the same types); ``None``: too many schemas seen to tell.
        columns: Per column asked for, its statistics; ``None`` for a column the file lacks,
            nested, or of a type whose raw statistics are not compared (see :func:`_dtype`).
    """

    group_rows: tuple[int, ...]
    schema: int | None
    columns: Mapping[str, ColumnStatistics | None]

    def agrees(self, other: FileStatistics) -> bool:
        """Whether the two files have the same parquet schema (Polars reads them alike)."""
        return self.schema is not None and self.schema == other.schema


_footers: dict[str, tuple[_Identity, Footer]] = {}
_statistics: dict[str, tuple[_Identity, FileStatistics]] = {}


def read_metadata(path: str) -> Any:
    """A local parquet file's footer (``pyarrow.parquet.FileMetaData``).

    The footer's bytes are read by two ``pread`` calls (its length and the ``PAR1`` magic end
    the file) and parsed by pyarrow's own footer parser, the one its pickling of a footer uses:
    ~25 µs a file, against ~70 µs through ``ParquetReader`` (the class
    ``pyarrow.parquet.ParquetFile`` opens files with) and 6-8 ms more for the first through
    ``pyarrow.parquet`` (see the module notes). A file this does not read (an encrypted footer,
    a pyarrow without that parser) is read by ``ParquetReader``, else by
    ``pyarrow.parquet.read_metadata``.

    Raises:
        OSError, ValueError, pyarrow.ArrowException: The file cannot be read as parquet.
    """
    import pyarrow as pa

    meta = _parsed_footer(path)
    if meta is not None:
        return meta
    try:
        from pyarrow._parquet import ParquetReader

        with pa.OSFile(path) as handle:
            reader = ParquetReader()
            reader.open(handle)
            return reader.metadata
    except (ImportError, AttributeError, TypeError):  # pragma: no cover - pyarrow moved it
        pass
    import pyarrow.parquet as pq  # pragma: no cover

    return pq.read_metadata(path)  # pragma: no cover


_MAGIC = b"PAR1"
_TAIL = 8  # the footer's length (4 bytes, little-endian) and the magic


def _parsed_footer(path: str) -> Any:
    """The footer of a plain (unencrypted) parquet file by its bytes; ``None`` when the file
    does not end as one or pyarrow lacks the parser (the caller reads it by pyarrow's reader,
    which says what is wrong).

    Raises:
        OSError: The file cannot be read.
    """
    import pyarrow as pa

    try:
        from pyarrow._parquet import _reconstruct_filemetadata
    except ImportError:  # pragma: no cover - pyarrow moved it
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        tail = os.pread(fd, _TAIL, size - _TAIL) if size >= len(_MAGIC) + _TAIL else b""
        length = int.from_bytes(tail[:4], "little") if tail[4:] == _MAGIC else -1
        if length <= 0 or length > size - len(_MAGIC) - _TAIL:
            return None
        body = os.pread(fd, length, size - _TAIL - length)
    finally:
        os.close(fd)
    if len(body) != length:
        return None  # the file shrank under the read
    try:
        return _reconstruct_filemetadata(pa.py_buffer(body))
    except (TypeError, ValueError, pa.ArrowException):
        return None


def _identity(path: str) -> _Identity | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _remember(known: dict[str, tuple[_Identity, T]], path: str, value: tuple[_Identity, T]) -> None:
    with _lock:
        if path not in known and len(known) >= _SEEN:
            known.pop(next(iter(known)))
        known[path] = value


def _metadata_or_none(path: str) -> Any:
    import pyarrow as pa

    try:
        return read_metadata(path)
    except (OSError, ValueError, pa.ArrowException):
        return None


def footer(path: str) -> Footer | None:
    """The facts of a local parquet file's footer (``None``: the file cannot be looked at;
    the reader then reports why)."""
    identity = _identity(path)
    if identity is None:
        return None
    with _lock:
        known = _footers.get(path)
    if known is not None and known[0] == identity:
        return known[1]
    meta = _metadata_or_none(path)
    if meta is None:
        return None
    sizes: dict[str, int] = {}
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            chunk = group.column(c)
            top = chunk.path_in_schema.split(".", 1)[0]
            sizes[top] = sizes.get(top, 0) + chunk.total_uncompressed_size
    facts = Footer(meta.num_rows, meta.num_row_groups, sizes, meta.schema.to_arrow_schema())
    _remember(_footers, path, (identity, facts))
    return facts


def file_statistics(path: str, columns: Iterable[str]) -> FileStatistics | None:
    """A local parquet file's row groups and the statistics of ``columns`` (``None``: the file
    cannot be read as parquet; the reader then reports why).

    Remembered per file version, with the columns asked for so far.
    """
    wanted = list(dict.fromkeys(columns))
    identity = _identity(path)
    if identity is None:
        return None
    with _lock:
        known = _statistics.get(path)
    had = known[1] if known is not None and known[0] == identity else None
    if had is not None and all(c in had.columns for c in wanted):
        return had
    meta = _metadata_or_none(path)
    if meta is None:
        return None
    schema = _schema_of(meta.schema, meta.serialized_size)
    found = dict(had.columns) if had is not None else {}
    for name in wanted:
        if name not in found:
            found[name] = _column(meta, schema.leaf(name))
    rows = tuple(meta.row_group(g).num_rows for g in range(meta.num_row_groups))
    facts = FileStatistics(rows, schema.number, found)
    _remember(_statistics, path, (identity, facts))
    return facts


class _Schema:
    """A parquet schema seen (see :func:`_schema_of`), numbered, with its columns' places and
    types worked out once."""

    def __init__(self, schema: Any, number: int) -> None:
        self.schema = schema
        self.number = number
        self.leaves: dict[str, tuple[int, pl.DataType] | None] = {}

    def leaf(self, name: str) -> tuple[int, pl.DataType] | None:
        """A top-level column's place among the leaves and its type (see :func:`_dtype`),
        ``None`` when the file lacks it, it is nested or of another type."""
        if name not in self.leaves:
            names = self.schema.names
            index = names.index(name) if name in names else -1
            dtype = None
            if index >= 0:
                leaf = self.schema.column(index)
                flat = leaf.max_repetition_level == 0 and leaf.max_definition_level <= 1
                if flat and leaf.path == name:
                    dtype = _dtype(leaf.physical_type, leaf.logical_type)
            self.leaves[name] = None if dtype is None else (index, dtype)
        return self.leaves[name]


# the schemas seen, each keeping one footer alive (a ParquetSchema holds its file's metadata,
# row groups and all): at most this many, of footers up to this size, the oldest dropped first;
# numbers are never given again, so a file of a schema dropped agrees only with files read while
# it was kept, and one whose footer is larger (not kept) with none
_SCHEMAS = 16
_SCHEMA_FOOTER_BYTES = 1024 * 1024
_schemas: list[_Schema] = []
_numbers = itertools.count(1)


def _schema_of(schema: Any, footer_bytes: int) -> _Schema:
    """The schema seen that equals ``schema``, else ``schema`` numbered (and kept, from a footer
    of at most :data:`_SCHEMA_FOOTER_BYTES`)."""
    with _lock:
        for seen in _schemas:
            if seen.schema.equals(schema):
                return seen
        new = _Schema(schema, next(_numbers))
        if footer_bytes > _SCHEMA_FOOTER_BYTES:
            return new
        if len(_schemas) >= _SCHEMAS:
            _schemas.pop(0)
        _schemas.append(new)
        return new


def _column(meta: Any, leaf: tuple[int, pl.DataType] | None) -> ColumnStatistics | None:
    """A column's statistics per row group, for a column whose raw values compare as Polars'
    values of it (``leaf``: its place and type)."""
    if leaf is None:
        return None
    index, dtype = leaf
    low: list[int | None] = []
    high: list[int | None] = []
    nulls: list[int | None] = []
    for g in range(meta.num_row_groups):
        stats = meta.row_group(g).column(index).statistics
        known = stats is not None and stats.has_min_max
        low.append(stats.min_raw if known else None)
        high.append(stats.max_raw if known else None)
        nulls.append(stats.null_count if stats is not None and stats.has_null_count else None)
    return ColumnStatistics(dtype, tuple(low), tuple(high), tuple(nulls))


_UNITS = {"milliseconds": "ms", "microseconds": "us", "nanoseconds": "ns"}
_WIDTHS = {8: pl.Int8, 16: pl.Int16, 32: pl.Int32, 64: pl.Int64}


def _dtype(physical: str, logical: Any) -> pl.DataType | None:
    """The Polars type of a column whose raw statistics (integers) are its values: signed
    integers, dates and timestamps without a time zone. Floats are left out (the footer's
    bounds leave NaN out, Polars orders it above every number), text too (bounds may be cut
    short), and so is every other type."""
    if physical not in ("INT32", "INT64"):
        return None
    kind = logical.type
    if kind == "NONE":
        return pl.Int32() if physical == "INT32" else pl.Int64()
    if kind not in ("INT", "DATE", "TIMESTAMP"):
        return None
    if kind == "DATE":
        return pl.Date()
    facts = json.loads(logical.to_json())
    if kind == "INT":
        width = _WIDTHS.get(facts.get("bitWidth", 0))
        return width() if width is not None and facts.get("isSigned") else None
    unit = _UNITS.get(facts.get("timeUnit", ""))
    if unit is None or facts.get("isAdjustedToUTC"):
        return None
    return pl.Datetime(unit)  # type: ignore[arg-type]
