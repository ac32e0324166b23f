"""What every format shares: the capability record, the format record, the scan hints and the
option names every format accepts.

A format DECLARES what it can do in one frozen :class:`Capabilities` record; code elsewhere asks
that record (``fmt.capabilities.text``, ``capabilities_of(name).footer``) and never compares a
format's name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Literal

import polars as pl

from dynio.engine.dtypes import parse_dtype

__all__ = [
    "NOTHING",
    "NO_EFFECT",
    "PANDAS_NA_VALUES",
    "PLAN_OPTIONS",
    "Capabilities",
    "DuckdbReader",
    "Explainer",
    "Format",
    "Layout",
    "RowGroups",
    "ScanHints",
    "Scanner",
    "Sinker",
    "Writer",
    "dtype_option",
    "hive_paths",
    "pick",
]

# Options every format accepts, handled by the planner rather than the reader
# (``usecols`` is pandas' read_csv name for ``columns``).
PLAN_OPTIONS = frozenset({"columns", "filters", "usecols"})
# pandas options that do not apply here (no index, one engine); accepted so YAML loads unchanged.
# (``use_threads``: Polars always reads in parallel.)
NO_EFFECT = frozenset({"index", "engine", "low_memory", "storage_options", "use_threads"})

# pandas' default missing-value markers for read_csv (keep_default_na=True), so a CSV reads the
# way pandas reads it.
PANDAS_NA_VALUES = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
)


@dataclass(frozen=True)
class ScanHints:
    """What the planner knows that helps a reader.

    Attributes:
        dtypes: Target dtypes of the schema's columns; readers that parse text (CSV) use them to
            parse straight into the right type instead of guessing.
        storage_options: Credentials and endpoint for remote locations.
    """

    dtypes: Mapping[str, pl.DataType] = field(default_factory=dict)
    storage_options: Mapping[str, Any] | None = None


Scanner = Callable[[Sequence[str], Mapping[str, Any], ScanHints], pl.LazyFrame]
Writer = Callable[[pl.DataFrame, IO[bytes], Mapping[str, Any]], None]
# streams a LazyFrame into a local file path, for formats Polars can sink into
Sinker = Callable[[pl.LazyFrame, str, Mapping[str, Any]], None]
# (path, options, the reader's first line) -> what the file itself shows, or None
Explainer = Callable[[str, Mapping[str, Any], str], str | None]
# a local file's row groups: rows and per-column ``(min, max)`` of each
RowGroups = Callable[[str], list[tuple[int, dict[str, tuple[Any, Any]]]]]
# how a resource's files may be laid out: one file, a folder of files, hive ``key=value`` folders
Layout = Literal["file", "dataset", "hive"]
# a DuckDB reader for the format's files (the ``engine: duckdb`` read path)
DuckdbReader = Literal["read_parquet", "read_csv", "read_json", "arrow_dataset"]


@dataclass(frozen=True)
class Capabilities:
    """What a format can do, declared once; the engine decides by these, never by a name.

    Attributes:
        text: The files are text a reader parses into types (CSV, JSON): a reader can fail where
            the cast table would not, the bytes have an encoding, a binary file declared as one
            is refused. ``False``: a binary format carrying its own types.
        footer: Schema and data offsets sit in a footer: a reader plans from the footer and
            reads pages by its offsets, so a file replaced in between reads two versions (the
            reader holds the file open or checks its version); a small remote object is fetched
            whole.
        statistics: The footer holds per-row-group statistics (min/max): row groups can be
            pruned by a filter and a file split into parts by row group.
        columns_by_name: The files of a dataset are matched column by name (else by position).
        native_remote: Polars' object store scans it straight from a URL (else it is fetched
            to a temporary folder first).
        layouts: How a resource in this format may be laid out.
        appendable: Rows can be added at the end of a file without rewriting it (line-based
            text), so a reader may see a file grow under it.
        line_delimited: One record per line (NDJSON).
        read_options: Option names the scanner understands.
        write_options: Option names the writer understands.
        sink_refuses: Write options a streaming sink cannot honour: with one of them set, the
            frame is collected and written by the writer.
        duckdb_reader: How the ``engine: duckdb`` path reads such files (``None``: it cannot).
        local_only_options: Read options that need the file on local disk: with one of them
            set, an object store fetches the objects before scanning them.
    """

    text: bool = False
    footer: bool = False
    statistics: bool = False
    columns_by_name: bool = False
    native_remote: bool = False
    layouts: frozenset[Layout] = frozenset({"file"})
    appendable: bool = False
    line_delimited: bool = False
    read_options: frozenset[str] = frozenset()
    write_options: frozenset[str] = frozenset()
    sink_refuses: frozenset[str] = frozenset()
    duckdb_reader: DuckdbReader | None = None
    local_only_options: frozenset[str] = frozenset()


# what an unknown format (or no format) is credited with: nothing
NOTHING = Capabilities()


@dataclass(frozen=True)
class Format:
    """A file format: what it can do, its scanner, its writer and the hooks the engine asks.

    Attributes:
        name: Canonical name (``parquet``, ``csv`` …).
        extensions: File name endings that identify it (used for batch reads and inference).
        capabilities: What the format can do and which options it accepts.
        scan: Builds a LazyFrame over one or many files.
        write: Writes a frame to an open binary file (``None`` when it writes by path).
        aliases: Other names accepted in ``file_type``.
        write_path: Writes a frame to a file path, for libraries that cannot write to an open
            file (HDF5); used instead of ``write`` when set.
        sink: Streams a LazyFrame into a local file (``None``: collected, then written).
        explain: Says what a local file that failed to read shows (a ragged CSV line, a bad
            JSON line, a truncated parquet file), or ``None``.
        magic: The first bytes of every file of the format (binary formats), to tell a file
            declared as text that is not.
        footer_schema: Reads a local file's schema from its footer alone.
        row_groups: Rows and per-column ``(min, max)`` of each row group of a local file
            (formats whose footer has statistics).
    """

    name: str
    extensions: tuple[str, ...]
    capabilities: Capabilities
    scan: Scanner
    write: Writer | None
    aliases: tuple[str, ...] = ()
    write_path: Callable[[pl.DataFrame, str, Mapping[str, Any]], None] | None = None
    sink: Sinker | None = None
    explain: Explainer | None = None
    magic: bytes = b""
    footer_schema: Callable[[str], pl.Schema] | None = None
    row_groups: RowGroups | None = None

    @property
    def read_options(self) -> frozenset[str]:
        """Option names the scanner understands."""
        return self.capabilities.read_options

    @property
    def write_options(self) -> frozenset[str]:
        """Option names the writer understands."""
        return self.capabilities.write_options

    @property
    def options(self) -> frozenset[str]:
        """Every option name accepted in YAML for this format."""
        return self.read_options | self.write_options | PLAN_OPTIONS | NO_EFFECT


def pick(options: Mapping[str, Any], *names: str) -> Any:
    """The value of the first of ``names`` present in ``options`` (pandas' and Polars' names)."""
    for n in names:
        if n in options:
            return options[n]
    return None


def dtype_option(value: Any, what: str) -> dict[str, pl.DataType]:
    """``dtype: {col: spelling}`` from pandas-style options into Polars dtypes."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must map column names to dtypes, got {value!r}")
    out: dict[str, pl.DataType] = {}
    for col, spelling in value.items():
        dt = parse_dtype(str(spelling))
        if dt is None:
            raise ValueError(f"{what}: unknown dtype {spelling!r} for column {col!r}")
        out[str(col)] = dt.polars
    return out


def hive_paths(paths: Sequence[str]) -> bool:
    """Whether files sit in ``key=value`` folders (Polars detects these only for one folder)."""
    return len(paths) > 0 and all(
        any("=" in part for part in p.replace("\\", "/").split("/")[:-1]) for p in paths
    )
