"""``dynio.pandas.read_csv`` and ``read_table``."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import polars as pl

from dynio import handoff
from dynio.engine.io.formats import PANDAS_NA_VALUES
from dynio.engine.io.formats.csv import scan_exact
from dynio.pandas._common import (
    _CSV_FLOATS_ROUND_TRIP,
    _NO,
    _Bytes,
    _compression,
    _content,
    _Fallback,
    _fallback,
    _given,
    _local_file,
    _utf8,
)

# ---------------------------------------------------------------------------------------- csv

_STRICT_INT = r"^[+-]?\d+$"
_STRICT_FLOAT = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^(?i:[+-]?(inf|infinity))$"
# what pandas' number parsers accept (blanks around a number too); anything else is text
_LOOSE_NUMBER = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$|^(?i:[+-]?(inf|infinity))$"
_TRUE = ("True", "TRUE", "true")
_FALSE = ("False", "FALSE", "false")
_HEAD_ROWS = 1000
_TEXT_DTYPES = {"str": "str", "object": "object", "string": "string"}
_NUMBER_DTYPES = {"float64": pl.Float64, "int64": pl.Int64, "Int64": pl.Int64, "float": pl.Float64,
                  "int": pl.Int64, "Float64": pl.Float64}  # fmt: skip


def _dtype_name(dtype: Any) -> str:
    if dtype is str:
        return "str"
    if dtype is object:
        return "object"
    if dtype is float:
        return "float64"
    if dtype is int:
        return "int64"
    if isinstance(dtype, str):
        return dtype
    raise _Fallback(f"dtype {dtype!r}")


_LONE_CR = re.compile(rb"\r(?!\n)")


def _check_lines(content: Path | bytes) -> None:
    """Files the fast path would read differently from pandas: empty, lone carriage returns,
    NUL bytes.

    Blank lines (which pandas skips) are found after the read, as rows with every field missing.
    """
    with _Bytes(content) as data:
        if len(data) == 0 or not bytes(data[:65536]).strip():
            raise _Fallback("empty file")
        if data[:1] in (b"\n", b"\r"):
            raise _Fallback("a blank first line")
        if data.find(b"\r") >= 0 and _LONE_CR.search(data):
            raise _Fallback("carriage returns without line feeds")
        if data.find(b"\x00") >= 0:  # pandas 2.x's C parser ends a field at a NUL; 3.x keeps it
            raise _Fallback("NUL bytes")


def _labels(raw: Sequence[Any]) -> list[str]:
    """pandas' column labels for a header row: empty names become ``Unnamed: i``."""
    out = []
    for i, name in enumerate(raw):
        text = "" if name is None else str(name)
        if i == 0:
            text = text.lstrip("\ufeff")
        out.append(text if text else f"Unnamed: {i}")
    if len(set(out)) != len(out):
        raise _Fallback("duplicate column names")
    return out


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
    """An ISO 8601 text column as pandas' ``parse_dates`` gives it (microseconds, naive).

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
    if shape == _ISO_DATE:
        return c.str.to_datetime("%Y-%m-%d", time_unit="us", strict=True)
    # whole seconds parsed strictly, the fraction added as microseconds (faster than %.f)
    seconds = c.str.slice(0, 19).str.to_datetime(
        f"%Y-%m-%d{sep}%H:%M:%S", time_unit="us", strict=True
    )
    if not fraction:
        return seconds.alias(name)
    micros = c.str.slice(20).str.pad_end(6, "0").cast(pl.Int64)
    return (seconds + pl.duration(microseconds=micros, time_unit="us")).alias(name)


_RETRIES = 4  # columns re-read as text, one per parse that a late value breaks, before all are
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


@dataclass(frozen=True)
class _CsvArgs:
    """pandas' CSV arguments, checked and resolved for the fast path."""

    separator: str
    quote: str
    skip: int
    limit: int | None
    nulls: list[str]
    header: int | None


def _csv_args(
    sep: Any,
    delimiter: Any,
    header: Any,
    names: Any,
    skiprows: Any,
    nrows: Any,
    na_values: Any,
    keep_default_na: Any,
    quotechar: Any,
    default_sep: str,
) -> _CsvArgs:
    separator = delimiter if delimiter not in (_NO, None) else sep
    separator = default_sep if separator is _NO else separator
    if not isinstance(separator, str) or len(separator) != 1 or separator in "\r\n\"'":
        raise _Fallback(f"separator {separator!r}")
    quote = '"' if quotechar is _NO else quotechar
    if not isinstance(quote, str) or len(quote) != 1:
        raise _Fallback(f"quotechar {quote!r}")
    skip = 0 if skiprows in (_NO, None) else skiprows
    if not isinstance(skip, int) or isinstance(skip, bool) or skip < 0:
        raise _Fallback("skiprows other than a line count")
    limit = None if nrows in (_NO, None) else nrows
    if limit is not None and (not isinstance(limit, int) or limit <= 0):
        raise _Fallback(f"nrows {nrows!r}")
    keep_na = True if keep_default_na is _NO else bool(keep_default_na)
    extra_na: list[str] = []
    if na_values not in (_NO, None):
        items = [na_values] if isinstance(na_values, str) else na_values
        if isinstance(items, Mapping) or not all(isinstance(v, str) for v in items):
            raise _Fallback("na_values other than text markers")
        extra_na = list(items)
    nulls = sorted({*(PANDAS_NA_VALUES if keep_na else ()), *extra_na})
    if header in (_NO, "infer"):
        header = None if names not in (_NO, None) else 0
    if header not in (0, None):
        raise _Fallback(f"header {header!r}")
    if names not in (_NO, None) and (
        isinstance(names, str) or not all(isinstance(n, str) for n in names)
    ):
        raise _Fallback("names other than text")
    return _CsvArgs(separator, quote, skip, limit, nulls, header)


def _csv_labels(
    content: Path | bytes, base: Mapping[str, Any], names: Any, header: int | None
) -> tuple[list[Any], set[Any]]:
    """The column labels pandas gives, and those of nameless header fields."""
    first = scan_exact(content, has_header=False, n_rows=1, infer_schema_length=0, **base).collect()
    width = first.width
    if names not in (_NO, None):
        labels: list[Any] = list(names)
        if len(labels) != width or len(set(labels)) != len(labels):
            raise _Fallback("names do not match the columns one to one")
        return labels, set()
    if header is None:
        return list(range(width)), set()
    labels = _labels(first.row(0))
    return labels, {x for x, raw in zip(labels, first.row(0), strict=True) if not raw}


def _csv_usecols(usecols: Any, keys: list[str]) -> list[str]:
    """The keys of the columns ``usecols`` selects (all when not given)."""
    width = len(keys)
    selected = list(range(width))
    if usecols not in (_NO, None):
        if callable(usecols) or isinstance(usecols, str):
            raise _Fallback("usecols other than a list")
        wanted = list(usecols)
        if all(isinstance(u, int) and not isinstance(u, bool) for u in wanted):
            selected = sorted(set(wanted))
        elif all(isinstance(u, str) for u in wanted):
            selected = [i for i, key in enumerate(keys) if key in set(wanted)]
            if len(selected) != len(set(wanted)):
                raise _Fallback("usecols names missing from the file")
        else:
            raise _Fallback("usecols mixing names and positions")
        if any(i >= width or i < 0 for i in selected):
            raise _Fallback("usecols out of range")
    return [keys[i] for i in selected]


def _csv_dates_and_dtypes(
    parse_dates: Any, dtype: Any, keys: list[str], chosen: list[str]
) -> tuple[list[str], dict[str, str]]:
    """The columns to parse as dates, and the dtype spelling asked for each column."""
    dates: list[str] = []
    if parse_dates not in (_NO, None, False):
        if parse_dates is True or isinstance(parse_dates, str | Mapping):
            raise _Fallback(f"parse_dates {parse_dates!r}")
        for d in parse_dates:
            position = isinstance(d, int) and not isinstance(d, bool) and d < len(keys)
            key = keys[d] if position else d
            if not isinstance(key, str) or key not in chosen:
                raise _Fallback(f"parse_dates column {d!r}")
            dates.append(key)
    wanted_dtypes: dict[str, str] = {}
    if dtype not in (_NO, None):
        items_ = dtype.items() if isinstance(dtype, Mapping) else ((k, dtype) for k in chosen)
        for key, value in items_:
            if str(key) in chosen:
                wanted_dtypes[str(key)] = _dtype_name(value)
    for key, spelling in wanted_dtypes.items():
        if spelling not in _TEXT_DTYPES and spelling not in _NUMBER_DTYPES:
            raise _Fallback(f"dtype {spelling!r}")
        if key in dates:
            raise _Fallback("a parse_dates column with a dtype")
    return dates, wanted_dtypes


def _csv_frame(
    content: Path | bytes,
    read: dict[str, Any],
    chosen: list[str],
    dates: list[str],
    wanted_dtypes: Mapping[str, str],
    nulls: list[str],
) -> tuple[pl.DataFrame, list[str]]:
    """The Polars frame with pandas' types, and the boolean columns pandas keeps as objects."""
    text = set(dates) | {k for k, s in wanted_dtypes.items() if s in _TEXT_DTYPES}
    numbers = {k: s for k, s in wanted_dtypes.items() if s in _NUMBER_DTYPES}
    if "" not in nulls:
        read["empty_string_is_null"] = False  # pandas keeps "" as text when it is no NA marker
    frame = _read_typed(content, read, chosen, text | set(numbers), nulls)
    if frame.height == 0:
        raise _Fallback("no data rows")
    if frame.select(pl.all_horizontal(pl.all().is_null()).any()).item():
        raise _Fallback("blank lines or rows with every field missing")
    frame, nullable_bool = _csv_types(frame, text | set(numbers))
    if not _CSV_FLOATS_ROUND_TRIP and any(dt.is_float() for dt in frame.dtypes):
        raise _Fallback("decimals, which this pandas parses with its own precision")
    casts = [e for e in (_parse_date_column(frame, d) for d in dates) if e is not None]
    for key, spelling in numbers.items():
        col = frame.get_column(key)
        if col.dtype == pl.String:
            strict = col.drop_nulls().str.contains(
                _STRICT_INT if _NUMBER_DTYPES[spelling] == pl.Int64 else _STRICT_FLOAT
            )
            if not strict.all():
                raise _Fallback(f"column {key!r} does not parse as {spelling} as pandas would")
        if spelling in ("int64", "int") and col.null_count():
            raise _Fallback(f"missing values in {spelling} column {key!r}")
        casts.append(pl.col(key).cast(_NUMBER_DTYPES[spelling], strict=True))
    return (frame.with_columns(casts) if casts else frame), nullable_bool


def _csv_pandas(
    frame: pl.DataFrame, nullable_bool: list[str], wanted_dtypes: Mapping[str, str]
) -> pd.DataFrame:
    """The frame handed to pandas, with the dtypes pandas' reader gives."""
    out = handoff.to_pandas(frame)
    for key in nullable_bool:
        out[key] = out[key].astype(object).where(out[key].notna(), float("nan"))
    for key, spelling in wanted_dtypes.items():
        if spelling == "Int64":
            # straight from Arrow: through float64 large integers beside nulls would round
            arrow = frame.get_column(key).to_arrow()
            out[key] = arrow.to_pandas(types_mapper={arrow.type: pd.Int64Dtype()}.get)
        elif spelling in ("object", "string", "Float64"):
            out[key] = out[key].astype(spelling)  # type: ignore[call-overload]
    return out


def _csv_index(
    out: pd.DataFrame, index_col: Any, positional: bool, unnamed: set[Any]
) -> pd.DataFrame:
    """``index_col`` set as pandas sets it (``positional``: positions are allowed)."""
    if index_col is _NO or index_col is None or index_col is False:
        return out
    cols = index_col if isinstance(index_col, list | tuple) else [index_col]
    index_labels = []
    for c in cols:
        if isinstance(c, int) and not isinstance(c, bool):
            if not positional:
                raise _Fallback("index_col positions without a header")
            if c >= len(out.columns):
                raise _Fallback(f"index_col {c!r}")
            index_labels.append(out.columns[c])
        elif c in out.columns:
            index_labels.append(c)
        else:
            raise _Fallback(f"index_col {c!r}")
    out = out.set_index(index_labels)
    # pandas leaves an index taken from a nameless header field unnamed
    out.index = out.index.set_names([None if n in unnamed else n for n in out.index.names])
    return out


def _csv_fast(
    source: Any,
    *,
    sep: Any,
    delimiter: Any,
    header: Any,
    names: Any,
    index_col: Any,
    usecols: Any,
    dtype: Any,
    parse_dates: Any,
    skiprows: Any,
    nrows: Any,
    na_values: Any,
    keep_default_na: Any,
    quotechar: Any,
    encoding: Any,
    compression: Any,
    dtype_backend: Any,
    default_sep: str,
    rest: Mapping[str, Any],
) -> pd.DataFrame:
    harmless = {"low_memory", "memory_map", "cache_dates", "encoding_errors", "engine"}
    unknown = sorted(k for k in rest if k not in harmless)
    if unknown:
        raise _Fallback(f"arguments {unknown}")
    if rest.get("engine") not in (None, "c"):
        raise _Fallback(f"engine {rest['engine']!r}")
    if dtype_backend is not _NO:
        raise _Fallback("dtype_backend")
    args = _csv_args(sep, delimiter, header, names, skiprows, nrows, na_values,
                     keep_default_na, quotechar, default_sep)  # fmt: skip
    _utf8(encoding)
    file = _local_file(source)
    content = _content(file, _compression(file, compression))
    _check_lines(content)
    base: dict[str, Any] = {"separator": args.separator, "quote_char": args.quote,
                            "skip_rows": args.skip, "encoding": "utf8"}  # fmt: skip
    labels, unnamed = _csv_labels(content, base, names, args.header)
    keys = [str(x) for x in labels]
    chosen = _csv_usecols(usecols, keys)
    dates, wanted_dtypes = _csv_dates_and_dtypes(parse_dates, dtype, keys, chosen)
    read = {**base, "has_header": args.header is not None, "new_columns": keys,
            "n_rows": args.limit}  # fmt: skip
    frame, nullable_bool = _csv_frame(content, read, chosen, dates, wanted_dtypes, args.nulls)
    out = _csv_pandas(frame, nullable_bool, wanted_dtypes)
    out.columns = pd.Index([labels[keys.index(c)] for c in out.columns])
    positional = args.header is not None or names not in (_NO, None)
    return _csv_index(out, index_col, positional, unnamed)


def read_csv(
    filepath_or_buffer: Any,
    *,
    sep: Any = _NO,
    delimiter: Any = _NO,
    header: Any = _NO,
    names: Sequence[Hashable] | None = _NO,
    index_col: Any = _NO,
    usecols: Any = _NO,
    dtype: Any = _NO,
    parse_dates: Any = _NO,
    skiprows: Any = _NO,
    nrows: int | None = _NO,
    na_values: Any = _NO,
    keep_default_na: bool = _NO,
    quotechar: str = _NO,
    encoding: str | None = _NO,
    compression: Any = _NO,
    storage_options: Mapping[str, Any] | None = _NO,
    dtype_backend: Any = _NO,
    **kwargs: Any,
) -> pd.DataFrame:
    """``pandas.read_csv``, parsed by Polars in parallel where that is faster and the result is
    the same.

    Which calls Polars reads is set by :func:`csv_route` (by default: large local files with
    ``parse_dates``, where it wins); :func:`last_read` says which reader served the last call.
    The fast path honours ``sep``/``delimiter``, ``header`` (0, ``None``), ``names``,
    ``index_col``, ``usecols`` (names or positions), ``dtype`` (text, ``float64``, ``int64``,
    ``Int64``, ``Float64``), ``parse_dates`` (ISO 8601 columns), ``skiprows`` (a count),
    ``nrows``, ``na_values`` (text markers), ``keep_default_na``, ``quotechar``, UTF-8
    ``encoding`` and gzip/bz2/xz ``compression``, and types columns as pandas' C parser does.
    Everything else, and files it cannot split as pandas does (blank lines, lone carriage
    returns, ragged rows), is read by pandas.
    """
    return _read_delimited("read_csv", pd.read_csv, ",", filepath_or_buffer, locals(), kwargs)


def read_table(
    filepath_or_buffer: Any,
    *,
    sep: Any = _NO,
    delimiter: Any = _NO,
    header: Any = _NO,
    names: Sequence[Hashable] | None = _NO,
    index_col: Any = _NO,
    usecols: Any = _NO,
    dtype: Any = _NO,
    parse_dates: Any = _NO,
    skiprows: Any = _NO,
    nrows: int | None = _NO,
    na_values: Any = _NO,
    keep_default_na: bool = _NO,
    quotechar: str = _NO,
    encoding: str | None = _NO,
    compression: Any = _NO,
    storage_options: Mapping[str, Any] | None = _NO,
    dtype_backend: Any = _NO,
    **kwargs: Any,
) -> pd.DataFrame:
    """``pandas.read_table`` (tab-separated by default); as :func:`read_csv`."""
    return _read_delimited("read_table", pd.read_table, "\t", filepath_or_buffer, locals(), kwargs)


_CSV_ARGS = ("sep", "delimiter", "header", "names", "index_col", "usecols", "dtype",
             "parse_dates", "skiprows", "nrows", "na_values", "keep_default_na", "quotechar",
             "encoding", "compression", "storage_options", "dtype_backend")  # fmt: skip


# ------------------------------------------------------------------------------ which reader


@dataclass(frozen=True)
class ReadPath:
    """Which reader served a ``read_csv``/``read_table`` call (see :func:`last_read`).

    Attributes:
        function: ``"read_csv"`` or ``"read_table"``.
        reader: ``"polars"`` (the fast path: Polars parsed the file, handed to pandas) or
            ``"pandas"`` (pandas' own reader, with pandas' own arguments).
        reason: Why pandas read it (an argument the fast path does not implement, a file
            shape it would read differently, or the route: pandas is expected to be faster);
            ``None`` when Polars did. Never holds values from the file.
    """

    function: str
    reader: Literal["polars", "pandas"]
    reason: str | None = None


Route = Literal["auto", "polars", "pandas"]
_ROUTES: tuple[Route, ...] = ("auto", "polars", "pandas")
_ROUTE: ContextVar[Route] = ContextVar("dynio_pandas_csv_route", default="auto")
_LAST: ContextVar[ReadPath | None] = ContextVar("dynio_pandas_csv_last", default=None)
# Under "auto", files smaller than this go straight to pandas: below it the fixed costs of a
# Polars read and hand-off (~1-3 ms) outweigh what parallel parsing saves (benchmarks C1)
POLARS_MIN_BYTES = 1 << 20


def last_read() -> ReadPath | None:
    """The reader that served this thread's (or task's) last ``read_csv``/``read_table`` call.

    ``None`` before the first call. Also logged at DEBUG level on the ``dynio.pandas`` logger
    when pandas reads the call.
    """
    return _LAST.get()


@contextmanager
def csv_route(route: Route) -> Iterator[None]:
    """Choose how ``read_csv``/``read_table`` calls in this block are read.

    ``"auto"`` (the default): Polars reads a call only where it is expected to beat pandas'
    own C parser: a local file of at least :data:`POLARS_MIN_BYTES` with ``parse_dates`` (on a
    small file, or without date parsing, pandas' parser is as fast as Polars plus the
    hand-off, so pandas reads it directly, at no cost but a ``stat``). ``"polars"``: the fast
    path is tried for every call it can serve exactly (on machines with many cores, where
    Polars' parallel parse wins more, and in tests). ``"pandas"``: pandas reads every call.
    Whatever the route, the result is what pandas returns.
    """
    if route not in _ROUTES:
        raise ValueError(f"csv_route must be one of {_ROUTES}, got {route!r}")
    token = _ROUTE.set(route)
    try:
        yield
    finally:
        _ROUTE.reset(token)


def _auto_reason(source: Any, parse_dates: Any) -> str | None:
    """Why pandas should read a call under the ``auto`` route (``None``: try Polars)."""
    if parse_dates in (_NO, None, False) or (
        isinstance(parse_dates, list | tuple) and not parse_dates
    ):
        return "no parse_dates: pandas' own parser is as fast"
    if not isinstance(source, str | os.PathLike):
        return "not a file path"
    try:
        size = os.stat(source).st_size
    except (OSError, TypeError, ValueError):
        return "not a local file"
    if size < POLARS_MIN_BYTES:
        return f"a file under {POLARS_MIN_BYTES >> 20} MiB"
    return None


def _why(exc: BaseException) -> str:
    """A fallback's reason, without the file's values that Polars' messages may quote."""
    if isinstance(exc, pl.exceptions.PolarsError | UnicodeDecodeError):
        return f"Polars could not read it exactly ({type(exc).__name__})"
    return str(exc)


def _read_delimited(
    what: str,
    reader: Callable[..., Any],
    default_sep: str,
    source: Any,
    args: Mapping[str, Any],
    kwargs: dict[str, Any],
) -> pd.DataFrame:
    given = _given(**{k: args[k] for k in _CSV_ARGS})
    route = _ROUTE.get()
    reason = "route 'pandas'" if route == "pandas" else None
    if route == "auto":
        reason = _auto_reason(source, args["parse_dates"])
    if reason is None:
        rest = dict(kwargs)
        if given.get("storage_options") is not None:
            rest["storage_options"] = given["storage_options"]
        try:
            out = _csv_fast(
                source,
                **{k: args[k] for k in _CSV_ARGS if k != "storage_options"},
                default_sep=default_sep,
                rest=rest,
            )
            _LAST.set(ReadPath(what, "polars"))
            return out
        except (_Fallback, pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as why:
            reason = _why(why)
    _LAST.set(ReadPath(what, "pandas", reason))
    result: pd.DataFrame = _fallback(
        what, source, reason, lambda: reader(source, **given, **kwargs)
    )
    return result
