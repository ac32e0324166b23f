"""Typing CSV columns as pandas' C parser does, over Polars reads through the engine's CSV
format (numbers, booleans, text, ISO 8601 dates), for ``dynio.pandas.read_csv``."""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from dynio.engine.io.formats.csv import scan_exact
from dynio.pandas._common import _CSV_DATES_UNIT, _Fallback

_STRICT_INT = r"^[+-]?\d+$"
_STRICT_FLOAT = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^(?i:[+-]?(inf|infinity))$"
# what pandas' number parsers accept (blanks around a number too); anything else is text
_LOOSE_NUMBER = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$|^(?i:[+-]?(inf|infinity))$"
_TRUE = ("True", "TRUE", "true")
_FALSE = ("False", "FALSE", "false")
_HEAD_ROWS = 1000


def _csv_types(frame: pl.DataFrame, text: set[str]) -> tuple[pl.DataFrame, list[str]]:
    """Type text columns as pandas' C parser does (int, float, bool, else text).

    One value that no number or boolean spelling matches makes a column text for pandas, so
    the first rows settle most text columns; the others are checked whole. Returns the
    converted frame and the boolean columns with missing values (pandas gives those as object
    columns holding ``nan``).
    """
    candidates = [c for c, t in frame.schema.items() if t == pl.String and c not in text]
    if not candidates:
        return frame, []

    def is_text(c: str) -> pl.Expr:
        present = pl.col(c).drop_nulls()
        return (~present.str.contains(_LOOSE_NUMBER) & ~present.is_in([*_TRUE, *_FALSE])).any()

    head = frame.head(_HEAD_ROWS).select([is_text(c).alias(c) for c in candidates]).row(0)
    undecided = [c for c, found in zip(candidates, head, strict=True) if not found]
    if not undecided:
        return frame, []
    # booleans first (cheap), then the number patterns for what is left
    bools = frame.select(
        pl.col(c).drop_nulls().is_in([*_TRUE, *_FALSE]).all().alias(c) for c in undecided
    ).row(0, named=True)
    casts: list[pl.Expr] = []
    nullable_bool: list[str] = []
    counts = frame.select(pl.col(c).drop_nulls().len().alias(c) for c in undecided).row(
        0, named=True
    )
    for name in undecided:
        col = pl.col(name)
        if counts[name] and bools[name]:
            truth = col.is_in(list(_TRUE))
            casts.append(pl.when(col.is_null()).then(None).otherwise(truth).alias(name))
            if frame.get_column(name).null_count():
                nullable_bool.append(name)
    rest = [c for c in undecided if not (counts[c] and bools[c])]
    checks: list[pl.Expr] = []
    for i, name in enumerate(rest):
        present = pl.col(name).drop_nulls()
        checks += [
            present.str.contains(_STRICT_INT).all().alias(f"int{i}"),
            present.str.len_chars().max().alias(f"len{i}"),
            present.str.contains(_STRICT_FLOAT).all().alias(f"float{i}"),
            is_text(name).alias(f"text{i}"),
        ]
    facts = frame.select(checks).row(0, named=True) if checks else {}
    for i, name in enumerate(rest):
        col = pl.col(name)
        if counts[name] == 0:
            casts.append(col.cast(pl.Float64))  # all missing: float NaN, as pandas
        elif facts[f"int{i}"]:
            if (facts[f"len{i}"] or 0) >= 19:
                raise _Fallback(f"column {name!r} may hold integers beyond int64")
            casts.append(col.cast(pl.Int64, strict=True))
        elif facts[f"float{i}"]:
            casts.append(col.cast(pl.Float64, strict=True))
        elif not facts[f"text{i}"]:
            raise _Fallback(f"column {name!r} may hold numbers pandas parses differently")
    return (frame.with_columns(casts) if casts else frame), nullable_bool


_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
_ISO_TIME = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?$"


def _parse_date_column(frame: pl.DataFrame, name: str) -> pl.Expr | None:
    """An ISO 8601 text column as pandas' ``parse_dates`` gives it (naive, in pandas' unit:
    microseconds, nanoseconds before pandas 3; a value beyond nanoseconds' range fails the cast,
    and pandas reads the file).

    pandas infers a format from the first value and parses the column with it, or leaves the
    column as text when a value does not fit. The fast path takes columns whose values all have
    the first value's shape (date, or date and time with one separator, all with or all without
    1-6 fractional digits) and parses them strictly; when the other values differ from it only
    by a part pandas' format cannot skip or add (a time, a fraction, the separator), the column
    stays text as in pandas (``None``). Anything else is read by pandas.
    """
    col = frame.get_column(name)
    if col.dtype != pl.String:
        raise _Fallback(f"parse_dates column {name!r} is not text")
    values = col.drop_nulls()
    if values.len() == 0:
        raise _Fallback(f"parse_dates column {name!r} is empty")
    first = values[0]
    c = pl.col(name)
    day = r"^\d{4}-\d{2}-\d{2}"
    if re.match(_ISO_DATE, first):
        shape = _ISO_DATE
        others = rf"{day}[ T]\d{{2}}:\d{{2}}:\d{{2}}(\.\d{{1,9}})?$"
    elif re.match(_ISO_TIME, first):
        sep = first[10]
        fraction = len(first) > 19
        whole = rf"{day}{sep}\d{{2}}:\d{{2}}:\d{{2}}"
        shape = whole + (r"\.\d{1,6}$" if fraction else "$")
        other_sep = "T" if sep == " " else " "
        others = rf"{_ISO_DATE}|{day}{other_sep}\d{{2}}:\d{{2}}:\d{{2}}(\.\d{{1,9}})?$|" + (
            whole + "$" if fraction else whole + r"\.\d{1,9}$"
        )
    else:
        raise _Fallback(f"parse_dates column {name!r} is not plain ISO 8601")
    fits = values.str.contains(shape)
    if not fits.all():
        if values.filter(~fits).str.contains(others).all():
            return None
        raise _Fallback(f"parse_dates column {name!r} mixes formats")
    unit = pl.Datetime(_CSV_DATES_UNIT)
    if shape == _ISO_DATE:
        return c.str.to_datetime("%Y-%m-%d", time_unit="us", strict=True).cast(unit)
    # whole seconds parsed strictly, the fraction added as microseconds (faster than %.f)
    seconds = c.str.slice(0, 19).str.to_datetime(
        f"%Y-%m-%d{sep}%H:%M:%S", time_unit="us", strict=True
    )
    if not fraction:
        return seconds.cast(unit).alias(name)
    micros = c.str.slice(20).str.pad_end(6, "0").cast(pl.Int64)
    return (seconds + pl.duration(microseconds=micros, time_unit="us")).cast(unit).alias(name)


_RETRIES = 8  # columns re-read as text, one per parse that a late value breaks, before all are
_FAILED_COLUMN = re.compile(r"at column '(.*)' \(column number \d+\)")


def _failed_column(exc: pl.exceptions.PolarsError, keys: Sequence[str]) -> str | None:
    """The column a value broke the proposed type of, as Polars' parse error names it."""
    found = _FAILED_COLUMN.search(str(exc))
    return found.group(1) if found and found.group(1) in keys else None


def _read(
    content: Path | bytes, read: Mapping[str, Any], columns: list[str] | None, **options: Any
) -> pl.DataFrame:
    """One read through the engine's CSV format (``scan_exact``), projected to ``columns``."""
    scan = scan_exact(content, **read, **options)
    return (scan if columns is None else scan.select(columns)).collect()


def _read_typed(
    content: Path | bytes,
    read: dict[str, Any],
    chosen: list[str],
    text: set[str],
    markers: list[str],
) -> pl.DataFrame:
    """Read the chosen columns, numbers parsed by Polars where pandas parses them the same.

    Polars' inference over the first rows proposes integer and float columns; everything else
    (booleans, whose spellings Polars accepts more widely than pandas, and text) is read as text
    and typed by :func:`_csv_types`. When a later row breaks a proposed type (an ``NA`` or a
    decimal after the first rows of an integer column), only that column is read again as text
    (and typed by :func:`_csv_types`); past a few such columns, all are. NA markers become nulls
    in text columns afterwards (matching a list of markers while parsing costs Polars more than
    the whole number parse).
    """
    keys: list[str] = read["new_columns"]
    columns = chosen if len(chosen) != len(keys) else None
    strings = dict.fromkeys(text, pl.String())
    frame: pl.DataFrame | None = None
    try:
        inferred = scan_exact(content, **read, schema_overrides=strings).collect_schema()
        overrides: dict[str, pl.DataType] = {
            c: pl.String() for c, t in inferred.items() if t not in (pl.Int64, pl.Float64)
        }
        for _ in range(_RETRIES):
            try:
                frame = _read(content, read, columns, schema_overrides={**overrides, **strings})
                break
            except pl.exceptions.ComputeError as exc:
                failed = _failed_column(exc, keys)
                if failed is None or failed in overrides or failed in strings:
                    break
                overrides[failed] = pl.String()
    except pl.exceptions.PolarsError:
        frame = None
    if frame is None:
        frame = _read(content, read, columns, infer_schema_length=0)
    floats = [c for c, t in frame.schema.items() if t == pl.Float64]
    if floats and frame.select(pl.any_horizontal(pl.col(floats).is_nan().any())).item():
        # a NaN spelling: pandas reads it as NA or keeps the column as text, by spelling
        raise _Fallback("NaN spelled in a number column")
    texts = [c for c, t in frame.schema.items() if t == pl.String]
    if markers and texts:
        frame = frame.with_columns(
            pl.when(pl.col(c).is_in(markers)).then(None).otherwise(pl.col(c)).alias(c)
            for c in texts
        )
    return frame


_FRACTION = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}\.\d{1,6}")
_HEAD_BYTES = 1 << 18
_CACHE_SAMPLE = 500  # pandas' ``should_cache``: the first 500 values of a long column …
_CACHE_SHARE = 0.7  # … cached when at most 70 % of them are distinct


def _dates_worth_it(
    path: Path,
    layout: tuple[str, str, int],
    names: Sequence[str] | None,
    parse_dates: Sequence[Any],
    nulls: Sequence[str],
    cache: bool,
) -> None:
    """Fall back unless Polars is expected to win the date parsing (the ``auto`` route).

    pandas parses a date column whose first values repeat once per distinct value (its
    ``cache_dates``), and whole-second ISO 8601 timestamps on a fast path of its own, both as
    fast as Polars plus the hand-off on 2 cores (benchmarks C1); only columns of mostly distinct
    ISO 8601 timestamps with fractional seconds are worth it. Judged on the first rows, as
    pandas judges its cache (``cache``: whether the call lets pandas cache), read from the
    file's first 256 KiB by Python's csv module: a fraction of a millisecond, before any Polars
    work. ``layout`` is (separator, quote character, lines to skip); ``names`` the labels when
    the file has no header row.
    """
    with open(path, "rb") as fh:
        head = fh.read(_HEAD_BYTES)
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    if len(head) == _HEAD_BYTES:
        text = text[: text.rfind("\n") + 1]  # whole lines only
    separator, quote, skip = layout
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=separator, quotechar=quote)
    for _ in range(skip):
        next(rows, None)
    labels = list(names) if names is not None else next(rows, [])
    sample = list(itertools.islice(rows, _CACHE_SAMPLE))
    missing = {"", *nulls}
    for d in parse_dates:
        at = d if isinstance(d, int) and not isinstance(d, bool) else None
        if at is None and d in labels:
            at = labels.index(d)
        if at is None:
            continue
        values = [row[at] for row in sample if at < len(row) and row[at] not in missing]
        distinct = len(set(values))
        if (
            values
            and (distinct > _CACHE_SAMPLE * _CACHE_SHARE or not cache)
            and all(_FRACTION.fullmatch(v) for v in values)
        ):
            return
    raise _Fallback("dates pandas parses as fast (repeated, or whole seconds)")
