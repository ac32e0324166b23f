"""A dataset's files a filter keeps no row of, left out before the scan, by their footers.

Polars prunes a parquet file's row groups by their statistics itself, but over many files it
reads every file's footer to do so, when the read is collected, after the planner read them
once already for their schemas (64 files of the benchmark's dataset: ~7 ms each way, against
~11 ms for the one file a 1 % filter on the sort key keeps). :func:`prune_files` reads each
footer once (:func:`dynio.engine.footers.file_statistics`, remembered per file version) and
hands the scan only the files whose row groups' bounds may hold rows the filter keeps.

It leaves every file in when it cannot tell exactly: a filter not in the tuple form, files whose
schemas differ (Polars reconciles those, and a subset could reconcile to other types), columns
whose raw statistics do not compare as Polars' values (floats, text, see
:func:`dynio.engine.footers._dtype`), a column the plan casts other than by widening it (int32
to int64, microseconds to nanoseconds: every value exactly and in order), a partition column
(its values are in the folder names, not the file).

Each bound is compared with the filter's literal by Polars, as the filter itself compares it
(:func:`dynio.engine.filters.may_match`): a comparison is monotonic in the column's value, so
a row group whose bounds fail it holds no row that passes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import polars as pl

from dynio.engine.casts import is_widening
from dynio.engine.filters import Filter, may_match, range_columns
from dynio.engine.footers import ColumnStatistics, FileStatistics, file_statistics

__all__ = ["prune_files"]

_FILE = "\0file"
_KEEP = "\0keep"
_NONE = ColumnStatistics(pl.Null(), (), (), ())  # a file without a column's statistics


def prune_files(
    files: Sequence[str],
    filter: Filter | None,
    dtypes: Mapping[str, pl.DataType],
    *,
    skip: Collection[str] = (),
) -> list[str] | None:
    """The local parquet ``files`` whose footers' statistics show the filter may keep rows of,
    in their order (empty when none); ``None`` when the statistics cannot tell (keep all).

    Args:
        files: The dataset's files.
        filter: The read's filter; only its tuple form (:attr:`Filter.groups`) is judged.
        dtypes: The types the plan casts the columns to: a column of another type in the
            files, unless one the plan widens to it, is not judged (its cast may change the
            order of its values, or fail).
        skip: Columns not judged (partition columns, whose values the folders give).
    """
    if filter is None or not filter.groups or len(files) < 2:
        return None
    wanted = [
        c for g in filter.groups for c, _, _ in g if c not in skip and dtypes.get(c) is not None
    ]
    if not wanted:
        return None
    facts: list[FileStatistics] = []
    for file in files:
        found = file_statistics(file, wanted)
        if found is None or (facts and not facts[0].agrees(found)):
            return None
        facts.append(found)
    usable = [c for c in dict.fromkeys(wanted) if _comparable(facts, c, dtypes[c])]
    test = may_match(filter.groups, usable, dtypes)
    if test is None:
        return None
    try:
        raw = _ranges(facts, usable)
        keep = raw.select(test.alias(_KEEP))[_KEEP]
        widened = _widened(raw, facts[0], usable, dtypes)
        if widened is not None:
            keep = keep | widened.select(test.alias(_KEEP))[_KEEP]
    except (pl.exceptions.PolarsError, ValueError, TypeError):
        return None  # a literal the statistics' type does not compare with: the scan says so
    kept = raw[_FILE].filter(keep).unique(maintain_order=True)
    return [files[i] for i in kept.to_list()]


def _comparable(facts: Sequence[FileStatistics], column: str, dtype: pl.DataType) -> bool:
    """Whether every file has statistics of ``column``, of the type the plan keeps it in or
    one it widens to it (each value exactly and in order)."""
    first = facts[0].columns.get(column)
    if first is None or not (first.dtype == dtype or is_widening(first.dtype, dtype)):
        return False
    return all((f.columns.get(column) or _NONE).dtype == first.dtype for f in facts[1:])


def _widened(
    raw: pl.DataFrame,
    first: FileStatistics,
    columns: Sequence[str],
    dtypes: Mapping[str, pl.DataType],
) -> pl.DataFrame | None:
    """The bounds of the columns the plan widens, in the plan's types (``None``: none is).

    The plan filters before its casts when it only widens the filter's columns, else after
    them; a comparison may decide otherwise in the two types (a nanosecond literal against
    microsecond values compares in microseconds), so a file is kept when either says so.
    """
    casts = []
    for column in columns:
        stats = first.columns[column]
        if stats is not None and stats.dtype != dtypes[column]:
            low, high, _, _ = range_columns(column)
            casts += [pl.col(low).cast(dtypes[column]), pl.col(high).cast(dtypes[column])]
    return raw.with_columns(casts) if casts else None


def _ranges(facts: Sequence[FileStatistics], columns: Sequence[str]) -> pl.DataFrame:
    """One row per row group of every file: its file's index and, per column, the
    :func:`~dynio.engine.filters.range_columns` the filter's test reads."""
    data: dict[str, pl.Series] = {
        _FILE: pl.Series(_FILE, [i for i, f in enumerate(facts) for _ in f.group_rows], pl.Int64)
    }
    rows = [r for f in facts for r in f.group_rows]
    for column in columns:
        low, high, all_null, any_null = range_columns(column)
        stats = [f.columns[column] for f in facts]
        dtype = stats[0].dtype  # type: ignore[union-attr]
        mins = [v for s in stats for v in s.minimum]  # type: ignore[union-attr]
        maxs = [v for s in stats for v in s.maximum]  # type: ignore[union-attr]
        nulls = [n for s in stats for n in s.nulls]  # type: ignore[union-attr]
        data[low] = pl.Series(low, mins, pl.Int64).cast(dtype)
        data[high] = pl.Series(high, maxs, pl.Int64).cast(dtype)
        data[all_null] = pl.Series(
            all_null, [n is not None and n == r for n, r in zip(nulls, rows, strict=True)]
        )
        data[any_null] = pl.Series(any_null, [n is None or n > 0 for n in nulls])
    return pl.DataFrame(list(data.values()))
