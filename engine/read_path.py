"""Which reader a read runs: Polars' scan, whole or as column groups at once, pyarrow's, or
both at once (pyarrow the text, Polars the rest).

Under ``auto`` the first that applies is taken (measured on the 5 M-row orders table written
by pandas, Polars and DuckDB; issue 18, round three):

1. **arrow** for a plain read into pandas of a *tiny* local parquet file (under
   :data:`TINY_FILE_BYTES`): pyarrow's file reader and the hand-off of its table cost less than
   Polars' fixed cost per read (F1). "Plain": one local file, no filter, no cast, no rule or
   metric, plain column types (:func:`_plain`). Also for a plain read of every column of a
   file under :data:`ARROW_MAX_FILE_BYTES` (96 MiB) that has text columns (Polars would read
   them as string views, which the hand-off copies): it does what ``pd.read_parquet`` does,
   and took what pandas' read took (issue 18, round six: 1.03-1.07 of it, paired, on files of
   200 k-3.5 M rows by pandas and Polars), where one Polars scan took 1.04-1.39 and the mixed
   path 1.04-1.27 (its thread and second reader cost more than they save on such files:
   2 M rows of pandas' file 167 ms mixed, 131 ms arrow, 133 ms pandas; 3.5 M rows 254 ms
   against 226 ms; DuckDB's 2 M-row file 118-133 ms against pandas' 137-149). From 20 k to
   100 k rows the three took about the same. Its peak memory is pandas' own (0.98-1.06); the
   mixed path's, 0.89-0.93, is what larger files take it for. A file with no text is read
   better by Polars (2 M rows of numbers: one scan 40 ms, arrow 46 ms, pandas 45-49 ms).
2. **mixed** for a read into pandas with no cast and no filter of large local parquet data
   (at least :data:`dynio.engine.column_split.MIN_SPLIT_BYTES`; one file,
   or a dataset outside hive folders whose first file is 1 MiB or more) that has text columns
   and others (two columns or more; :data:`SPLIT_MIN_PROJECTED` or more when the read
   projects), with two threads or more: pyarrow reads the text columns straight into
   ``large_string``, from the system allocator, while Polars reads the others
   (:func:`dynio.engine.collect.collect_mixed`). A read with rules or metrics reads through
   pyarrow only the text no rule or metric reads (none when a rule is a user's own, which may
   read any column), and its checks run on Polars' part (V2's
   unchecked ``sku`` and ``email``: 0.37-0.38 s against 0.42 s by ``polars-split``, peak
   memory 1,142-1,179 MiB against 1,311-1,330; in one process each, 7 interleaved rounds
   against ``pd.read_parquet``, two processes each way). pyarrow does not check that parquet
   text is UTF-8 (Polars does): the text is checked (:mod:`dynio.engine.utf8`, 0.013 s for
   the table's 345 MiB of ASCII text), and text that is not UTF-8 is read by Polars, whose
   error names the file.
   Polars decodes text into string views (16 bytes a value, plus the long values' bytes) that
   the hand-off must copy again into the ``large_string`` pandas keeps; pyarrow decodes it
   once. Measured on the 5 M-row orders table (issue 18, round five), in one process, 7
   interleaved rounds, the read and hand-off took 0.54-0.59 CPU seconds against 0.74-0.87 by
   ``polars-split`` on the Polars, pandas (both row-group sizes) and DuckDB files, before the
   UTF-8 check (in four full benchmark runs: 0.58-0.74, 0.73-0.75 and 0.63-0.72 s, then
   0.71-0.82 s with the check, against round four's 0.72-0.77 s); the peak memory (MEM-R1)
   fell from 1.07-1.23 of pandas' own read to 0.76-0.94 on every layout, in all four runs.
   The text columns
   are allocated from the system allocator, which returns freed memory at once; pyarrow's
   default pool (mimalloc) kept the read's buffers and took the peak back to ~1.0.
3. **polars-split** for a read of large local parquet data (at least
   :data:`dynio.engine.column_split.MIN_SPLIT_BYTES`) with no filter, two columns or more
   (:data:`SPLIT_MIN_PROJECTED` or more when the read projects) and two threads or more,
   that the mixed path does not take (rules or metrics to run, casts, a Polars frame asked
   for, no text to read): the same scan, its columns in a few groups collected at once
   (:mod:`dynio.engine.column_split`). One Polars scan keeps about one core busy on such
   files; side by side in one process, 15 rounds, on a quiet 2-core machine, R1 took 0.88 /
   1.05 / 0.79 of ``pd.read_parquet`` on pandas', Polars' and DuckDB's files by this path,
   against 0.96 / 1.05 / 1.00 by the arrow path and 1.43 / 1.15 / 0.85 by one scan. A
   projection of 3 columns (R2) is the other way round: one scan took 0.71 / 0.44 / 0.36 /
   0.41 of ``pd.read_parquet(columns=)`` on Polars', pandas' (defaults, 1 M-row groups) and
   DuckDB's files, split 0.91 / 0.50 / 0.49 / 0.54, with 20-30 % less CPU (15 rounds, load
   6-8; two more runs of 7 and 9 rounds agreed), so such reads take one scan. Read mixed,
   R2 was no faster warm (0.73-0.89 against 0.75-0.95) and slower in fresh processes (0.15-
   0.17 s against 0.12-0.14 s: importing ``pyarrow.dataset`` costs 15-30 ms), so it is not.
4. **arrow** for a plain read of every column of a file of tall row groups (pyarrow's and
   pandas' writers), where splitting is not possible (one thread, one column). A read with
   rules or metrics never takes it: checking pyarrow's table (text read as dictionary codes
   and checked on them) cost more than Polars' read and checks on every file measured (issue
   18, round four: 1.3-1.4x the polars path's time on files of 1-15k rows by pandas, Polars
   and DuckDB; 1.1-1.5x its CPU time on their 5 M-row files; no steady winner on one core).
   Reading only such text as codes beside a split read cost more too (a prototype: V2 0.97
   against 0.87 CPU seconds, V3 0.21 against 0.17): pyarrow's dictionary read, Polars'
   categoricals and the decode for pandas cost more than the text checks they save (~0.06 s
   on V2's two text columns);
5. **polars** (one scan) for everything else. A projection reads through Polars: it decodes
   fewer bytes than pyarrow (R2: 0.49-0.98 of pandas' CPU time against 0.54-1.52). So does a
   filter: pyarrow prunes row groups as Polars does but decodes every column of the groups
   kept before filtering, where Polars decodes the predicate's column first (R3, warm: Polars
   6-17 ms against pyarrow's 18-150 ms on the four writers' files, and a fresh process pays
   15-30 ms to import ``pyarrow.dataset``).

The arrow and mixed paths read the columns into the very types Polars' export gives (text as
``large_string``), so the hand-off gives the same pandas frame whichever path ran. Which one
ran is on :attr:`PlanInfo.read_path` and on the ``dynio.read`` and ``dynio.scan`` spans
(``dynio.read.path``).

A parquet source's ``options: {read_path: auto | polars | arrow}`` overrides the choice
(``polars``: one scan, never split; ``arrow``: pyarrow's reader wherever the read is plain,
projections included, otherwise as ``auto``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from dynio.engine.arrow_export import export_schema
from dynio.engine.dtypes import INTEGER_DTYPES
from dynio.engine.errors import DynioError
from dynio.engine.footers import footer
from dynio.engine.io.filesystems import is_remote
from dynio.engine.io.formats import capabilities_of
from dynio.engine.io.formats.base import hive_paths
from dynio.engine.plan import Plan

__all__ = [
    "ARROW",
    "MIXED",
    "POLARS",
    "READ_PATH_OPTION",
    "SPLIT",
    "Choice",
    "ReadPath",
    "choose",
    "decide",
    "read_arrow",
    "read_text",
    "split_groups",
]

ReadPath = Literal["polars", "arrow", "polars-split", "mixed"]
POLARS: ReadPath = "polars"
ARROW: ReadPath = "arrow"
SPLIT: ReadPath = "polars-split"
MIXED: ReadPath = "mixed"
READ_PATH_OPTION = "read_path"
_CHOICES = ("auto", POLARS, ARROW)

# Polars dtypes pyarrow reads into the same Arrow types Polars exports (text and binary aside,
# which are cast to large_string and large_binary); categoricals, decimals and nested types read
# through Polars
_PLAIN = (
    *INTEGER_DTYPES,
    pl.Float32,
    pl.Float64,
    pl.Boolean,
    pl.String,
    pl.Binary,
    pl.Datetime,
    pl.Date,
)
# the local source's kinds: one file, and a folder or glob of files
_LOCAL_KINDS = ("local", "local_batch")
# parquet options only Polars' scan (or the checksum-verifying dataset scan) honours
_SCAN_ONLY = ("hive_partitioning", "use_statistics", "n_rows", "parallel")
# row groups at least this tall on average: a file pyarrow's reader hands to pandas faster
ARROW_MIN_GROUP_ROWS = 512 * 1024


def requested(options: Mapping[str, Any], context: Mapping[str, Any]) -> str:
    """The source's ``read_path`` option (``auto`` when absent).

    Raises:
        DynioError: Not ``auto``, ``polars`` or ``arrow``.
    """
    value = options.get(READ_PATH_OPTION, "auto")
    if value not in _CHOICES:
        raise DynioError(
            f"options.{READ_PATH_OPTION} must be one of {list(_CHOICES)}, got {value!r}",
            key_path=f"options.{READ_PATH_OPTION}",
            **context,
        )
    return str(value)


def _plain(plan: Plan, *, many: bool = False) -> bool:
    """Whether the arrow path can give exactly what the polars path gives for this plan (one
    local file; ``many``: or several, none in hive partition folders)."""
    info, options = plan.info, plan.env.source.options
    return (
        # the format declaring the option is the one pyarrow's parquet reader reads
        info.format is not None
        and READ_PATH_OPTION in capabilities_of(info.format).read_options
        and plan.env.source.kind in (_LOCAL_KINDS if many else _LOCAL_KINDS[:1])
        and (len(info.files) == 1 or many)
        and not (many and hive_paths(info.files))
        and not any(is_remote(f) for f in info.files)
        and info.filters_pushed is None
        and info.filters_residual is None
        and not plan.casts
        and not any(options.get(o) for o in (*_SCAN_ONLY, "page_checksum_verification"))
        and bool(info.source_schema)
        and all(isinstance(t, _PLAIN) for t in info.source_schema.values())
    )


@dataclass(frozen=True)
class Choice:
    """The path a read takes and, for ``polars-split``, the column groups it collects; for
    ``mixed``, the text columns pyarrow reads."""

    path: ReadPath
    groups: list[list[str]] | None = None
    text: list[str] | None = None


def choose(plan: Plan, *, arrow_wanted: bool) -> ReadPath:
    """The path a read takes (see the module docs). ``arrow_wanted``: the caller takes an
    Arrow table (the pandas hand-off with no rules or metrics to run beside it)."""
    return decide(plan, arrow_wanted=arrow_wanted).path


def decide(
    plan: Plan, *, arrow_wanted: bool, checked: Callable[[Plan], frozenset[str]] | None = None
) -> Choice:
    """:func:`choose`'s path with the column groups of a ``polars-split`` read (worked out
    once, for the reader: :func:`dynio.engine.collect.collect_split`) or the text columns of
    a ``mixed`` one. ``checked``: the read goes to pandas and has rules or metrics, which read
    the columns it gives (asked only of a read large enough to be mixed); a mixed read then
    takes only other text columns through pyarrow (its Polars part holds every checked column
    for the checks)."""
    choice = requested(
        plan.env.source.options, {"resource": plan.info.resource, "env": plan.env.name}
    )
    if choice == POLARS:
        return Choice(POLARS)
    first = _first_size(plan)  # the first file's size, looked at once for every test below
    plain = arrow_wanted and _plain(plan)
    if plain and (choice == ARROW or (first is not None and _arrow_sized(plan, first))):
        return Choice(ARROW)
    handed = arrow_wanted or checked is not None
    wants_mixed = handed and choice == "auto" and _plain(plan, many=True)
    text = mixed_text(plan, first, checked) if wants_mixed else None
    if text is not None:
        return Choice(MIXED, text=text)
    groups = split_groups(plan, first)
    if groups is not None:
        return Choice(SPLIT, groups)
    if choice == ARROW or not plain:
        return Choice(POLARS)
    file = plan.info.files[0]
    return Choice(ARROW if _whole(plan) and _tall_groups(file, first) else POLARS)


def _first_size(plan: Plan) -> int | None:
    """The size of the plan's first file (``None``: no file, or it cannot be looked at; the
    reader then reports why)."""
    files = plan.info.files
    if not files or is_remote(files[0]):
        return None
    try:
        return os.stat(files[0]).st_size
    except OSError:
        return None


def _arrow_sized(plan: Plan, first: int) -> bool:
    """Whether a plain read is small enough for the arrow path: a tiny file, or every column of
    a file under :data:`ARROW_MAX_FILE_BYTES` that has text (see the module notes)."""
    if first < TINY_FILE_BYTES:
        return True
    source = plan.info.source_schema
    return (
        first < ARROW_MAX_FILE_BYTES
        and _whole(plan)
        and any(kind == pl.String for kind in source.values())
    )


def _whole(plan: Plan) -> bool:
    """Whether the read takes every column of the file (a projection reads through Polars)."""
    info = plan.info
    return info.columns is None or set(info.source_schema) <= set(info.columns)


# files smaller than this take the arrow path without a look at their footer: pyarrow's file
# reader (one open, no dataset machinery) and the hand-off of its table cost less than Polars'
# fixed costs (F1: ~0.15-0.2 ms of ~1.3 ms per call on a 1,000-row file). Measured on the
# orders table: the arrow path wins up to ~5,000 rows (0.1-0.25 MB), Polars from ~20,000 rows
# of pandas' file (0.9 MB) and ~50,000 of Polars' (1.3 MB)
TINY_FILE_BYTES = 512 * 1024
# a plain read of every column of a file smaller than this takes the arrow path (module notes)
ARROW_MAX_FILE_BYTES = 96 * 1024 * 1024
# a dataset's files smaller than this are not split: each group would re-read every footer
_SPLIT_MIN_FILE_BYTES = 1024 * 1024


def mixed_text(
    plan: Plan, first: int | None = None, checked: Callable[[Plan], frozenset[str]] | None = None
) -> list[str] | None:
    """The text columns a ``mixed`` read takes through pyarrow (the others through Polars,
    at once: :func:`dynio.engine.collect.collect_mixed`), or ``None`` when the read is better
    made otherwise: small data (under :data:`dynio.engine.column_split.MIN_SPLIT_BYTES`), a
    projection of fewer than :data:`SPLIT_MIN_PROJECTED` columns, one thread, no text
    column or nothing but text. Only for a plain read (:func:`_plain`) into pandas. ``first``:
    the first file's size when the caller looked already; ``checked``: the columns the read's
    rules and metrics read (Polars reads them), asked once the read is large enough."""
    from dynio.engine import column_split

    if column_split.groups_wanted() < 2:
        return None
    names = plan.frame.collect_schema().names()
    source = plan.info.source_schema
    if len(names) < (2 if plan.info.columns is None else SPLIT_MIN_PROJECTED) or not all(
        n in source for n in names
    ):
        return None
    files = plan.info.files
    first = _first_size(plan) if first is None else first
    if first is None:
        return None  # the polars path reports it
    # a dataset of small files is read whole, as for polars-split (each reader opens each file)
    if (len(files) > 1 and first < _SPLIT_MIN_FILE_BYTES) or first * len(
        files
    ) < column_split.MIN_SPLIT_BYTES:
        return None
    kept = checked(plan) if checked is not None else frozenset()
    text = [n for n in names if source[n] == pl.String and n not in kept]
    if not 0 < len(text) < len(names):
        return None
    if len(files) > 1:  # every file has the text columns as text (pyarrow would read nulls)
        for file in files:
            facts = footer(file)
            if facts is None or not all(
                n in facts.schema.names and _is_text(facts.schema.field(n).type) for n in text
            ):
                return None
    return text


def _is_text(kind: Any) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
    )


def split_groups(plan: Plan, first: int | None = None) -> list[list[str]] | None:
    """The column groups a ``polars-split`` read collects at once
    (:mod:`dynio.engine.column_split`), or ``None`` when the read is better made whole: a
    filter (rows of one column decide about another's), remote or small files, one column (a
    projection of fewer than :data:`SPLIT_MIN_PROJECTED`), one thread, a format other than the
    one pyarrow's parquet reader reads, Polars' ``parallel`` option set."""
    from dynio.engine import column_split

    info, options = plan.info, plan.env.source.options
    if (
        info.format is None
        or READ_PATH_OPTION not in capabilities_of(info.format).read_options
        or not info.files
        or is_remote(info.files[0])
        or info.filters_pushed is not None
        or info.filters_residual is not None
        or options.get("parallel")
    ):
        return None
    count = column_split.groups_wanted()
    if count < 2:
        return None
    first = _first_size(plan) if first is None else first
    if first is None:
        return None  # the reader reports it
    if first < _SPLIT_MIN_FILE_BYTES or first * len(info.files) < column_split.MIN_SPLIT_BYTES:
        return None
    names = plan.frame.collect_schema().names()
    if len(names) < (2 if info.columns is None else SPLIT_MIN_PROJECTED):
        return None
    facts = footer(info.files[0])
    if facts is None:
        return None
    groups = column_split.balance(names, facts.sizes, count)
    return groups if len(groups) > 1 else None


# a projection of fewer columns than this reads as one scan (see the module notes: R2)
SPLIT_MIN_PROJECTED = 4
# files smaller than this read through Polars without a look at their footer (tiny ones aside):
# the reader costs little either way, and Polars' fixed cost per read is the smaller
SMALL_FILE_BYTES = 8 * 1024 * 1024


def _tall_groups(path: str, size: int | None) -> bool:
    """Whether a file's row groups are tall (see :data:`ARROW_MIN_GROUP_ROWS`), by its footer
    (:func:`dynio.engine.footers.footer`, read once per file version)."""
    if size is None or size < SMALL_FILE_BYTES:
        return False  # (None: the polars path reports it)
    facts = footer(path)
    return bool(facts and facts.groups > 0 and facts.rows / facts.groups >= ARROW_MIN_GROUP_ROWS)


def _read_table(path: str, columns: list[str] | None) -> Any:
    """The file's columns by pyarrow: a tiny file through its file reader (one open, footer
    and data; the dataset reader's set-up costs more than such a read), others through
    ``read_table`` (the dataset reader, pre-buffering its reads)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    large = _large_text()  # text straight into large_string, as for read_text
    if os.stat(path).st_size < TINY_FILE_BYTES:
        with pa.OSFile(path) as handle:
            return pq.ParquetFile(handle, **large).read(columns=columns, use_pandas_metadata=False)
    return pq.read_table(path, columns=columns, use_pandas_metadata=False, **large)


@functools.cache
def _large_text() -> dict[str, Any]:
    """pyarrow's file reader option that decodes text and binary into their large types where
    the file stores no Arrow schema (pyarrow 19 and later; before, they are cast after the
    read). Asked of ``pyarrow.parquet`` itself, which the arrow path imports anyway (its
    ``dataset`` module would cost a tiny file's first read 15-30 ms more)."""
    import inspect

    import pyarrow as pa
    import pyarrow.parquet as pq

    takes = (inspect.signature(f).parameters for f in (pq.read_table, pq.ParquetFile))
    return {"binary_type": pa.large_binary()} if all("binary_type" in p for p in takes) else {}


def read_arrow(plan: Plan) -> Any:
    """The plan's file through pyarrow's reader, as a ``pyarrow.Table`` with the types Polars'
    export gives (text as ``large_string``); ``None`` when the file no longer has the columns
    and types the plan was made for (replaced since: the caller reads it through Polars).

    The file is opened once, footer and data: a writer renaming a new version over it is read
    whole, old or new.

    Raises:
        OSError, pyarrow.ArrowException: As pyarrow's reader raises them.
    """
    import pyarrow as pa

    from dynio.engine.utf8 import check_text

    info = plan.info
    columns = list(info.columns) if info.columns is not None else None
    table = _read_table(info.files[0], columns)
    source = info.source_schema
    names = columns if columns is not None else list(source)
    target = export_schema(tuple((n, source[n]) for n in names if n in source))
    if table.column_names != target.names:
        return None
    out = []
    for field, column in zip(target, table.columns, strict=True):
        kind = column.type
        if _is_text(kind):  # not UTF-8: ArrowInvalid, and Polars reads it (and says where)
            check_text(column)
        if kind != field.type:
            if not (
                (pa.types.is_string(kind) and pa.types.is_large_string(field.type))
                or (pa.types.is_binary(kind) and pa.types.is_large_binary(field.type))
            ):
                return None
            column = column.cast(field.type)
        out.append(column)
    return pa.Table.from_arrays(out, schema=target)


@functools.cache
def _text_format() -> Any:
    """The parquet format ``read_text`` reads with: text straight into ``large_string`` where
    the file stores no Arrow schema (Polars' and DuckDB's files; pyarrow 19 and later), which
    saves a copy of the text (DuckDB's file on the orders table: 0.22 s -> 0.15 s)."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    try:
        options = ds.ParquetReadOptions(binary_type=pa.large_binary())
    except TypeError:  # pyarrow before 19: read as stored, then cast
        return ds.ParquetFileFormat()
    return ds.ParquetFileFormat(read_options=options)


def read_text(plan: Plan, text: list[str]) -> Any:
    """The ``mixed`` read's ``text`` columns of the plan's files, by pyarrow, as
    ``large_string`` (the type Polars' export gives text), allocated from the system allocator
    (see the module notes); ``None`` when the files no longer have them as text. A file the
    plan holds open is read through the plan's own handle (:attr:`Plan.read_paths`), so both
    readers of a mixed read read one version of it.

    Raises:
        OSError, pyarrow.ArrowException: As pyarrow's reader raises them (``ArrowInvalid``
            for text that is not UTF-8).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    from dynio.engine.utf8 import check_text

    pool = pa.system_memory_pool()
    # the version the frame reads: a file held open since planning by its /proc/self/fd path
    files = plan.read_paths or plan.info.files
    dataset = ds.dataset(files[0] if len(files) == 1 else list(files), format=_text_format())
    if not all(n in dataset.schema.names and _is_text(dataset.schema.field(n).type) for n in text):
        return None
    scanner = dataset.scanner(columns=text, memory_pool=pool)
    batches = []
    for batch in scanner.to_batches():  # in order, decoded ahead on pyarrow's threads
        # pyarrow's parquet reader does not check that text is UTF-8 (Polars' does, and says
        # which file is bad): invalid text raises here, and the read goes through Polars.
        # Checked batch by batch while the next ones decode (dynio.engine.utf8: on the 5 M-row
        # orders table's 345 MiB of ASCII text 0.013 s, 0.16-0.20 s to read it)
        for column in batch.columns:
            check_text(column)
        batches.append(batch)
    table = pa.Table.from_batches(batches, schema=scanner.projected_schema)
    out = []
    for column in table.columns:
        # text read as ``string``: a file whose stored Arrow schema says so, or any file where
        # pyarrow has no ``binary_type`` option (before 19)
        if not pa.types.is_large_string(column.type):
            column = pc.cast(column, pa.large_string(), memory_pool=pool)
        out.append(column)
    return pa.Table.from_arrays(out, names=text)
