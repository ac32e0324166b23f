"""What the read path remembers of a local parquet file's footer, per file version.

The choice between read paths (:mod:`dynio.engine.read_path`, :mod:`dynio.engine.column_split`)
looks at a file's row groups and its columns' sizes; the pruning of a dataset's files
(:mod:`dynio.engine.io.layout.pruning`) at its columns' statistics. A footer is read once per
file identity (device, inode, size, modification time): a file replaced or rewritten since is
read again.

Footers are read by pyarrow's parquet reader itself (:func:`read_metadata`), not through
``pyarrow.parquet``, whose import brings ``pyarrow.fs`` with its S3, GCS and SSL modules: 6-8 ms
of a fresh process's first read, for files that are local.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
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
    """

    rows: int
    groups: int
    sizes: dict[str, int]


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
        schema: The file's schema as pyarrow reads it (``pyarrow.Schema``), to tell files that
            agree; ``None`` when pyarrow cannot say.
        columns: Per column asked for, its statistics; ``None`` for a column the file lacks,
            nested, or of a type whose raw statistics are not compared (see :func:`_dtype`).
    """

    group_rows: tuple[int, ...]
    schema: Any = field(compare=False)
    columns: Mapping[str, ColumnStatistics | None]

    def agrees(self, other: FileStatistics) -> bool:
        """Whether the two files have the same columns of the same types (Polars reads them
        alike), whatever their key-value metadata."""
        if self.schema is None or other.schema is None:
            return False
        return bool(self.schema.equals(other.schema, check_metadata=False))


_footers: dict[str, tuple[_Identity, Footer]] = {}
_statistics: dict[str, tuple[_Identity, FileStatistics]] = {}


def read_metadata(path: str) -> Any:
    """A local parquet file's footer (``pyarrow.parquet.FileMetaData``).

    Read by pyarrow's ``ParquetReader``, the class ``pyarrow.parquet.ParquetFile`` opens files
    with (see the module notes); ``pyarrow.parquet.read_metadata`` should that class move.

    Raises:
        OSError, ValueError, pyarrow.ArrowException: The file cannot be read as parquet.
    """
    import pyarrow as pa

    try:
        from pyarrow._parquet import ParquetReader
    except ImportError:  # pragma: no cover - pyarrow moved its reader
        ParquetReader = None
    if ParquetReader is not None:
        try:
            with pa.OSFile(path) as handle:
                reader = ParquetReader()
                reader.open(handle)
                return reader.metadata
        except (TypeError, AttributeError):  # pragma: no cover - its signature changed
            pass
    import pyarrow.parquet as pq

    return pq.read_metadata(path)


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
    facts = Footer(meta.num_rows, meta.num_row_groups, sizes)
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
    if known is not None and known[0] == identity and all(c in known[1].columns for c in wanted):
        return known[1]
    meta = _metadata_or_none(path)
    if meta is None:
        return None
    had = known[1].columns if known is not None and known[0] == identity else {}
    schema = meta.schema
    leaves = {schema.column(i).path: i for i in range(meta.num_columns)}
    found = dict(had)
    for name in wanted:
        if name not in found:
            index = leaves.get(name)
            found[name] = None if index is None else _column(meta, schema.column(index), index)
    rows = tuple(meta.row_group(g).num_rows for g in range(meta.num_row_groups))
    facts = FileStatistics(rows, _arrow_schema(schema), found)
    _remember(_statistics, path, (identity, facts))
    return facts


def _arrow_schema(schema: Any) -> Any:
    """The Arrow schema of a parquet schema, key-value metadata left out (a footer's own
    ``pyarrow.parquet.ParquetSchema`` keeps the whole footer alive, row groups and all)."""
    import pyarrow as pa

    try:
        return schema.to_arrow_schema().remove_metadata()
    except (ValueError, TypeError, pa.ArrowException):
        return None


def _column(meta: Any, leaf: Any, index: int) -> ColumnStatistics | None:
    """A top-level column's statistics, when its raw values compare as Polars' values of it."""
    if leaf.max_repetition_level > 0 or leaf.max_definition_level > 1:
        return None  # nested
    dtype = _dtype(leaf.physical_type, leaf.logical_type)
    if dtype is None:
        return None
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
