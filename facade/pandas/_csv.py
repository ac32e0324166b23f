"""``dynio.pandas.read_csv`` and ``read_table``."""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    _local_file,
    _utf8,
)
from dynio.pandas._csv_route import _ROUTE, ReadPath, _auto_reason, _record, _why
from dynio.pandas._csv_typing import _HEAD_ROWS as _HEAD_ROWS  # dynio.pandas._json uses it
from dynio.pandas._csv_typing import (
    _STRICT_FLOAT,
    _STRICT_INT,
    _csv_types,
    _dates_worth_it,
    _parse_date_column,
    _read_typed,
)

# ---------------------------------------------------------------------------------------- csv

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
    auto: bool = False,
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
    compressed = _compression(file, compression)
    if auto:
        if compressed is not None:
            raise _Fallback("compressed: pandas decompresses and parses as fast")
        dated = list(parse_dates) if isinstance(parse_dates, list | tuple) else []
        given_names = None if names in (_NO, None) else [str(n) for n in names]
        layout = (args.separator, args.quote, args.skip)
        cache = bool(rest.get("cache_dates", True))
        _dates_worth_it(file, layout, given_names, dated, args.nulls, cache)
    content = _content(file, compressed)
    base: dict[str, Any] = {"separator": args.separator, "quote_char": args.quote,
                            "skip_rows": args.skip, "encoding": "utf8"}  # fmt: skip
    labels, unnamed = _csv_labels(content, base, names, args.header)
    keys = [str(x) for x in labels]
    chosen = _csv_usecols(usecols, keys)
    dates, wanted_dtypes = _csv_dates_and_dtypes(parse_dates, dtype, keys, chosen)
    read = {**base, "has_header": args.header is not None, "new_columns": keys,
            "n_rows": args.limit}  # fmt: skip
    _check_lines(content)
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


def _read_delimited(
    what: str,
    reader: Callable[..., Any],
    default_sep: str,
    source: Any,
    args: Mapping[str, Any],
    kwargs: dict[str, Any],
) -> pd.DataFrame:
    given = {k: args[k] for k in _CSV_ARGS if args[k] is not _NO}  # what pandas gets
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
                auto=route == "auto",
            )
            _record(ReadPath(what, "polars"))
            return out
        except (_Fallback, pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as why:
            reason = _why(why)
    _record(ReadPath(what, "pandas", reason))
    result: pd.DataFrame = _fallback(
        what, source, reason, lambda: reader(source, **given, **kwargs)
    )
    return result
