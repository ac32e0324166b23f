"""Drop-in pandas readers: ``dynio.pandas.read_parquet/read_csv/read_table/read_json/read_sql``.

Change the import, keep the call::

    import dynio.pandas as pd_fast

    df = pd_fast.read_parquet("orders.parquet", columns=["id", "amount"],
                              filters=[("ts", ">=", cutoff)])
    df = pd_fast.read_csv("orders.csv", parse_dates=["ts"])
    df = pd_fast.read_json("events.ndjson", lines=True)

Each reader accepts pandas' signature and returns what pandas returns for the same call (values,
dtypes, index and column labels). Calls it can serve exactly go through Polars and Arrow (parallel
parsing, projection and filters pushed into the scan, row groups pruned by their statistics) and
are handed to pandas by pandas' own Arrow conversion. Anything the fast path cannot honour exactly
(an argument it does not implement, a remote or open file, a file whose contents pandas would read
in a way the fast path does not reproduce) is read by pandas itself; the reason is logged at DEBUG
level on the ``dynio.pandas`` logger. Nothing is ignored.

One deliberate difference: ``read_json`` parses decimal numbers exactly (correctly rounded), as
pandas does with ``precise_float=True``, on both paths; pandas' default parser can be one unit in
the last place off (it reads ``0.3`` as ``0.30000000000000004``). Pass ``precise_float=False`` to
get pandas' default parser (pandas then reads the call).

``read_sql`` is :func:`dynio.pandas_sql.read_sql` (SQL through Arrow; drivers load on first use).
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import itertools
import json
import logging
import lzma
import math
import mmap
import os
import re
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from dynio import handoff
from dynio.engine.filters import COMPARISONS
from dynio.engine.formats import FORMATS, PANDAS_NA_VALUES, ScanHints
from dynio.pandas_sql import read_sql

__all__ = ["read_csv", "read_json", "read_parquet", "read_sql", "read_table"]

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


# ------------------------------------------------------------------------------------ parquet


# Arrow types Polars reads back as the very same Arrow type (strings and binaries in another
# width, which pandas converts identically)
def _polars_safe(t: pa.DataType) -> bool:
    return (
        pa.types.is_integer(t)
        or pa.types.is_float32(t)
        or pa.types.is_float64(t)
        or pa.types.is_boolean(t)
        or pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_date32(t)
        or pa.types.is_null(t)
        or (pa.types.is_timestamp(t) and t.unit in ("ms", "us", "ns"))
    )


def _flavour(t: pa.DataType) -> Any:
    """A type with text and binary widths folded together (pandas converts them alike)."""
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "text"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return "binary"
    return t


_FILTER_VALUE = (bool, int, float, str, bytes, pd.Timestamp)


def _filter_value(value: Any, field: pa.Field) -> Any:
    import datetime as dt

    if isinstance(value, float) and math.isnan(value):
        raise _Fallback("NaN in filters")
    if isinstance(value, dt.date | dt.datetime) and not isinstance(value, pd.Timestamp):
        return value
    if not isinstance(value, _FILTER_VALUE) or value is None:
        raise _Fallback(f"filter value {value!r}")
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def _condition(item: Any, schema: pa.Schema) -> pl.Expr:
    """One ``(column, op, value)`` as a Polars expression with pyarrow's semantics."""
    if not isinstance(item, list | tuple) or len(item) != 3:
        raise _Fallback(f"filter {item!r}")
    name, op, value = item
    if not isinstance(name, str) or schema.get_field_index(name) < 0:
        raise _Fallback(f"filter column {name!r}")
    field = schema.field(name)
    if pa.types.is_timestamp(field.type) and field.type.tz is not None:
        raise _Fallback("filter on a time-zone-aware column")
    col = pl.col(name)
    is_float = pa.types.is_floating(field.type)
    op = str(op).strip().lower()
    if op in ("in", "not in"):
        if isinstance(value, str | bytes) or not isinstance(value, Iterable):
            raise _Fallback(f"filter {item!r}")
        values = list(value)
        keep_null = any(v is None for v in values)
        plain = [_filter_value(v, field) for v in values if v is not None]
        # pyarrow's is_in: false (not null) on a null cell, true there if None is in the set
        inside = col.is_in(pl.Series(plain, dtype=None if plain else pl.Null)).fill_null(False)
        if keep_null:
            inside = inside | col.is_null()
        return inside if op == "in" else ~inside
    fn = COMPARISONS.get(op)
    if fn is None:
        raise _Fallback(f"filter operator {op!r}")
    expr = fn(col, _filter_value(value, field))
    if is_float:
        # IEEE comparisons, as Arrow does: NaN is unequal to everything and unordered
        expr = (expr | col.is_nan()) if op == "!=" else (expr & col.is_not_nan())
    return expr


def _filters_expr(filters: Any, schema: pa.Schema) -> pl.Expr | None:
    if filters is None:
        return None
    if not isinstance(filters, list | tuple) or not filters:
        raise _Fallback("filters form")
    groups = filters if all(isinstance(f, list) for f in filters) else [filters]
    ors = []
    for group in groups:
        ands = [_condition(item, schema) for item in group]
        if not ands:
            raise _Fallback("empty filter group")
        ors.append(pl.all_horizontal(ands) if len(ands) > 1 else ands[0])
    return pl.any_horizontal(ors) if len(ors) > 1 else ors[0]


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


def _parquet_fast(
    path: Any, engine: Any, columns: Any, filters: Any, dtype_backend: Any, rest: dict[str, Any]
) -> pd.DataFrame:
    if rest:
        raise _Fallback(f"arguments {sorted(rest)}")
    if engine not in (_NO, "auto", "pyarrow"):
        raise _Fallback(f"engine {engine!r}")
    file = _local_file(path)
    if any("=" in part for part in file.parent.parts):
        raise _Fallback("a file inside hive partition folders")
    schema = pq.read_schema(file)
    meta = schema.pandas_metadata or {}
    index_cols = [c for c in meta.get("index_columns", []) if isinstance(c, str)]
    if columns is None or columns is _NO:
        names = list(schema.names)
    else:
        if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
            raise _Fallback("columns not a list of names")
        names = list(dict.fromkeys([*columns, *index_cols]))
    if len(set(schema.names)) != len(schema.names):
        raise _Fallback("duplicate column names")
    fields = []
    for name in names:
        i = schema.get_field_index(name)
        if i < 0:
            raise _Fallback(f"no column {name!r}")
        fields.append(schema.field(i))
    unsafe = [f.name for f in fields if not _polars_safe(f.type)]
    if unsafe:
        raise _Fallback(f"column types Polars would not give back as they are: {unsafe}")
    predicate = _filters_expr(None if filters is _NO else filters, schema)
    lazy = FORMATS["parquet"].scan([str(file)], {}, ScanHints())
    lazy = lazy.select(names)
    if predicate is not None:
        lazy = lazy.filter(predicate)
    table = lazy.collect().to_arrow()
    # Polars gives text and binary in its own widths; pandas' own dtypes are the same for all
    # widths, so only other differences are cast back to the file's types (a copy). Arrow
    # dtypes show the width: then every difference is cast back.
    exact = dtype_backend == "pyarrow" or (
        dtype_backend == "numpy_nullable" and not _NULLABLE_TEXT_WIDTHS_ALIKE
    )
    fixes = [
        (i, f)
        for i, f in enumerate(fields)
        if (table.schema.field(i).type != f.type)
        if exact or _flavour(table.schema.field(i).type) != _flavour(f.type)
    ]
    for i, f in fixes:
        table = table.set_column(i, f.name, table.column(i).cast(f.type))
    table = table.replace_schema_metadata(schema.metadata)
    frame = _arrow_to_pandas(table, dtype_backend)
    attrs = (schema.metadata or {}).get(b"PANDAS_ATTRS")
    if attrs is not None:
        frame.attrs = json.loads(attrs)
    return frame


def read_parquet(
    path: Any,
    engine: Any = _NO,
    columns: list[str] | None = None,
    storage_options: Mapping[str, Any] | None = None,
    dtype_backend: Any = _NO,
    filesystem: Any = None,
    filters: Any = None,
    to_pandas_kwargs: dict[str, Any] | None = _NO,
    **kwargs: Any,
) -> pd.DataFrame:
    """``pandas.read_parquet``, read by Polars (parallel, projection and filters pushed down).

    Takes pandas' arguments. A local file read with the pyarrow engine, ``columns``,
    ``filters`` (the DNF list form; rows kept exactly as pyarrow keeps them) and
    ``dtype_backend`` takes the fast path; other calls (remote paths, ``filesystem``,
    ``storage_options``, ``to_pandas_kwargs``, the fastparquet engine, column types Polars does
    not read back unchanged such as categoricals or decimals) are read by pandas.
    """
    given = _given(
        engine=engine,
        columns=columns,
        storage_options=storage_options,
        dtype_backend=dtype_backend,
        filesystem=filesystem,
        filters=filters,
        to_pandas_kwargs=to_pandas_kwargs,
    )
    rest = dict(kwargs)
    for name, default in (("storage_options", None), ("filesystem", None),
                          ("to_pandas_kwargs", None)):  # fmt: skip
        if given.get(name, default) is not None:
            rest[name] = given[name]
    try:
        return _parquet_fast(path, engine, columns, filters, dtype_backend, rest)
    except (_Fallback, pl.exceptions.PolarsError, pa.ArrowException, OSError) as why:
        result: pd.DataFrame = _fallback(
            "read_parquet", path, why, lambda: pd.read_parquet(path, **given, **kwargs)
        )
        return result


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
    and typed by :func:`_csv_types`. When a later row breaks a proposed type, all is text. NA
    markers become nulls in text columns afterwards (matching a list of markers while parsing
    costs Polars more than the whole number parse).
    """
    columns = chosen if len(chosen) != len(read["new_columns"]) else None
    strings = dict.fromkeys(text, pl.String())
    try:
        inferred = pl.scan_csv(_polars_source(content), **read, schema_overrides=strings)
        overrides = {
            c: pl.String()
            for c, t in inferred.collect_schema().items()
            if t not in (pl.Int64, pl.Float64)
        }
        frame = pl.read_csv(
            _polars_source(content),
            **read,
            columns=columns,
            schema_overrides={**overrides, **strings},
            raise_if_empty=True,
        )
    except pl.exceptions.PolarsError:
        frame = pl.read_csv(_polars_source(content), **read, columns=columns, infer_schema_length=0)
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
    separator = delimiter if delimiter not in (_NO, None) else sep
    separator = default_sep if separator is _NO else separator
    if not isinstance(separator, str) or len(separator) != 1 or separator in "\r\n\"'":
        raise _Fallback(f"separator {separator!r}")
    quote = '"' if quotechar is _NO else quotechar
    if not isinstance(quote, str) or len(quote) != 1:
        raise _Fallback(f"quotechar {quote!r}")
    _utf8(encoding)
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

    file = _local_file(source)
    content = _content(file, _compression(file, compression))
    _check_lines(content)

    base: dict[str, Any] = {"separator": separator, "quote_char": quote, "skip_rows": skip,
                            "encoding": "utf8"}  # fmt: skip
    first = pl.read_csv(
        _polars_source(content), has_header=False, n_rows=1, infer_schema_length=0, **base
    )
    width = first.width
    if names not in (_NO, None):
        labels: list[Any] = list(names)
        unnamed: set[Any] = set()
        if len(labels) != width or len(set(labels)) != len(labels):
            raise _Fallback("names do not match the columns one to one")
    elif header is None:
        labels = list(range(width))
        unnamed = set()
    else:
        labels = _labels(first.row(0))
        unnamed = {x for x, raw in zip(labels, first.row(0), strict=True) if not raw}
    keys = [str(x) for x in labels]

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
    chosen = [keys[i] for i in selected]

    dates: list[str] = []
    if parse_dates not in (_NO, None, False):
        if parse_dates is True or isinstance(parse_dates, str | Mapping):
            raise _Fallback(f"parse_dates {parse_dates!r}")
        for d in parse_dates:
            key = keys[d] if isinstance(d, int) and not isinstance(d, bool) and d < width else d
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

    text = set(dates) | {k for k, s in wanted_dtypes.items() if s in _TEXT_DTYPES}
    numbers = {k: s for k, s in wanted_dtypes.items() if s in _NUMBER_DTYPES}
    read: dict[str, Any] = {
        **base,
        "has_header": header is not None,
        "new_columns": keys,
        "n_rows": limit,
    }
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
    if casts:
        frame = frame.with_columns(casts)
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
    out.columns = pd.Index([labels[keys.index(c)] for c in out.columns])
    if index_col is not _NO and index_col is not None and index_col is not False:
        cols = index_col if isinstance(index_col, list | tuple) else [index_col]
        index_labels = []
        for c in cols:
            if isinstance(c, int) and not isinstance(c, bool):
                if header is None and names in (_NO, None):
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
    """``pandas.read_csv``, parsed by Polars in parallel when the result is the same.

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
    given = _given(**{k: args[k] for k in _CSV_ARGS})
    rest = dict(kwargs)
    if given.get("storage_options") is not None:
        rest["storage_options"] = given["storage_options"]
    try:
        return _csv_fast(
            source,
            **{k: args[k] for k in _CSV_ARGS if k != "storage_options"},
            default_sep=default_sep,
            rest=rest,
        )
    except (_Fallback, pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as why:
        result: pd.DataFrame = _fallback(
            what, source, why, lambda: reader(source, **given, **kwargs)
        )
        return result


# --------------------------------------------------------------------------------------- json

# a value Polars may have turned into text from a JSON number, boolean or container
_JSON_SCALAR_TEXT = r"^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$|^(true|false)$|^[\[{]"
# a character no float() spelling uses: such a value keeps its column text in pandas
_NOT_FLOAT = r"[^0-9+\-._eEinftyaINFTYA\s]|^\s*$"
_INT64_BOUND = 2.0**63


def _date_like(name: str) -> bool:
    lower = name.lower()
    return (
        lower.endswith(("_at", "_time"))
        or lower in {"modified", "date", "datetime"}
        or lower.startswith("timestamp")
    )


def _has_missing_text(frame: pl.DataFrame) -> bool:
    return any(t == pl.String and frame.get_column(c).has_nulls() for c, t in frame.schema.items())


def _json_types(frame: pl.DataFrame, convert: bool) -> pl.DataFrame:
    """Type columns as pandas' ``read_json`` does after building the frame.

    With ``convert`` (no ``dtype_backend``) pandas also turns whole-number float columns
    without missing values into ``int64``, booleans with missing values into floats and
    missing-only columns into ``float64``.
    """
    casts: list[pl.Expr] = []
    checks: list[pl.Expr] = []
    strings = [c for c, t in frame.schema.items() if t == pl.String]
    floats = [c for c, t in frame.schema.items() if t == pl.Float64] if convert else []
    for c, t in frame.schema.items():
        if t not in (pl.Int64, pl.Float64, pl.String, pl.Boolean, pl.Null):
            raise _Fallback(f"column {c!r} of type {t}")
        if convert and t == pl.Null:
            casts.append(pl.col(c).cast(pl.Float64))
        if convert and t == pl.Boolean and frame.get_column(c).null_count():
            casts.append(pl.col(c).cast(pl.Float64))
    # one value no float() spelling reads keeps a text column text: the first rows settle most
    settled = (
        frame.head(_HEAD_ROWS)
        .select(pl.col(c).drop_nulls().str.contains(_NOT_FLOAT).any().alias(c) for c in strings)
        .row(0, named=True)
        if convert and strings
        else {}
    )
    for i, c in enumerate(strings):
        present = pl.col(c).drop_nulls()
        checks.append(present.str.contains(_JSON_SCALAR_TEXT).any().alias(f"scalar{i}"))
        if convert and not settled[c]:
            checks.append(present.str.contains(_NOT_FLOAT).any().alias(f"text{i}"))
    for i, c in enumerate(floats):
        v = pl.col(c)
        whole = v.is_not_null().all() & v.is_finite().all() & (v == v.round(0)).all()
        in_range = ((v >= -_INT64_BOUND) & (v < _INT64_BOUND)).all()
        checks.append((whole & in_range & (v.len() > 0)).alias(f"int{i}"))
    facts = frame.select(checks).row(0, named=True) if checks else {}
    for i, c in enumerate(strings):
        text = settled.get(c) or facts.get(f"text{i}", not convert)
        if facts[f"scalar{i}"] or not text:
            raise _Fallback(f"column {c!r} may hold numbers or mixed JSON types")
    for i, c in enumerate(floats):
        if facts[f"int{i}"]:
            casts.append(pl.col(c).cast(pl.Int64))
    return frame.with_columns(casts) if casts else frame


_KEY_ORDER_ROWS = 1000


def _key_order(content: Path | bytes, lines: bool, names: list[str]) -> list[str]:
    """The columns in pandas' order: keys by first appearance, record by record.

    Polars orders the keys of wide records its own way; the first records say pandas' order.
    """
    wanted = set(names)
    order: dict[str, None] = {}
    decoder = json.JSONDecoder()
    with io.BytesIO(content) if isinstance(content, bytes) else open(content, "rb") as fh:
        if lines:
            for _, raw in zip(range(_KEY_ORDER_ROWS), fh, strict=False):
                if raw.strip():
                    order.update(dict.fromkeys(json.loads(raw)))
                if len(order) >= len(wanted):
                    break
        else:
            text = fh.read(1 << 20).decode("utf-8", "replace")
            pos = text.index("[") + 1
            for _ in range(_KEY_ORDER_ROWS):
                while pos < len(text) and text[pos] in " \t\r\n,":
                    pos += 1
                try:
                    record, pos = decoder.raw_decode(text, pos)
                except ValueError:
                    break
                order.update(dict.fromkeys(record))
                if len(order) >= len(wanted):
                    break
    if set(order) != wanted:
        raise _Fallback("key order beyond the first records")
    return list(order)


# JSON lines: the column types are guessed from the first records, then every record is parsed
# against them by Arrow, which refuses (rather than coerces) a record that does not fit
_NDJSON_SAMPLE = 1_000
_NDJSON_PLAIN = {pl.Int64(): pa.int64(), pl.Float64(): pa.float64(), pl.String(): pa.string(),
                 pl.Boolean(): pa.bool_()}  # fmt: skip


def _ndjson_sampled(path: Path) -> pl.DataFrame | None:
    """Read JSON lines typed from a sample, or ``None`` when only reading them all can tell.

    Guessing the types from every record costs Polars a parse of the whole file before the real
    one. Here the first records name the columns and their types; Arrow then parses the file
    against that schema with a key or a value that does not fit (a key first seen later, a
    ``1.5`` in a column of whole numbers, text in a numeric column) raising instead of being
    dropped or converted, and then every record is read to infer the types.
    """
    import pyarrow.json as pj

    with path.open("rb") as fh:
        head = b"".join(itertools.islice(fh, _NDJSON_SAMPLE))
    try:
        sample = pl.read_ndjson(io.BytesIO(head), infer_schema_length=None)
    except pl.exceptions.PolarsError:
        return None
    types = [_NDJSON_PLAIN.get(dtype) for dtype in sample.schema.dtypes()]
    if sample.height < _NDJSON_SAMPLE or not types or any(t is None for t in types):
        return None  # a short file is read whole anyway; nested or all-null columns need it
    schema = pa.schema(list(zip(sample.columns, types, strict=True)))
    options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")
    try:
        table = pj.read_json(path, parse_options=options)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    frame = pl.DataFrame(table)
    return frame if frame.columns == sample.columns else None


def _json_fast(
    source: Any,
    *,
    orient: Any,
    typ: Any,
    dtype: Any,
    convert_axes: Any,
    convert_dates: Any,
    keep_default_dates: Any,
    precise_float: Any,
    lines: Any,
    encoding: Any,
    compression: Any,
    nrows: Any,
    dtype_backend: Any,
    rest: Mapping[str, Any],
) -> pd.DataFrame:
    harmless = {"encoding_errors", "engine"}
    unknown = sorted(k for k in rest if k not in harmless)
    if unknown:
        raise _Fallback(f"arguments {unknown}")
    if rest.get("engine", "ujson") != "ujson":
        raise _Fallback(f"engine {rest['engine']!r}")
    if typ not in (_NO, "frame"):
        raise _Fallback(f"typ {typ!r}")
    if orient not in (_NO, None, "records"):
        raise _Fallback(f"orient {orient!r}")
    if dtype not in (_NO, None, True) or convert_axes not in (_NO, None, True):
        raise _Fallback("dtype or convert_axes")
    if nrows not in (_NO, None):
        raise _Fallback("nrows")
    if precise_float is False:
        raise _Fallback("precise_float=False (pandas' approximate number parser)")
    if convert_dates is not _NO or keep_default_dates is not _NO:
        raise _Fallback("convert_dates or keep_default_dates (deprecated in pandas)")
    _utf8(encoding)
    file = _local_file(source)
    content = _content(file, _compression(file, compression))
    with _Bytes(content) as data:
        head = bytes(data[:4096])
        if head.startswith(b"\xef\xbb\xbf") or not head.strip():
            raise _Fallback("a byte-order mark or an empty document")
        if not lines and not head.lstrip().startswith(b"["):
            raise _Fallback("a JSON document other than a list of records")
    if lines and isinstance(content, Path):
        frame = _ndjson_sampled(content)
        if frame is None:
            frame = (
                FORMATS["ndjson"].scan([str(file)], {"infer_schema_length": None}, ScanHints())
            ).collect()
    elif lines and isinstance(content, bytes):
        frame = pl.read_ndjson(io.BytesIO(content), infer_schema_length=None)
    else:
        frame = pl.read_json(_polars_source(content), infer_schema_length=None)
    if frame.width == 0 or frame.height == 0:
        raise _Fallback("no records")
    if any(_date_like(c) for c in frame.columns):
        raise _Fallback("columns pandas converts to dates by their names")
    # pandas also converts column labels that read as numbers or dates: ask it about the labels
    labels = pd.read_json(
        io.StringIO(json.dumps([dict.fromkeys(frame.columns, 0)])), orient="records"
    ).columns
    if [str(x) for x in labels] != frame.columns or any(not isinstance(x, str) for x in labels):
        raise _Fallback("column labels pandas converts")
    frame = frame.select(_key_order(content, lines, frame.columns))
    frame = _json_types(frame, convert=dtype_backend is _NO)
    # pandas < 3 keeps text as object: None for a null, NaN for a missing key, which the Polars
    # read does not tell apart
    text_is_object = pd.Series(["a"]).dtype == np.dtype(object)
    if dtype_backend is _NO and text_is_object and _has_missing_text(frame):
        raise _Fallback("missing text, which this pandas gives as None or NaN")
    out = handoff.to_pandas(frame)
    if dtype_backend is not _NO:
        with _nan_is_na():
            out = out.convert_dtypes(dtype_backend=dtype_backend)
    return out


def _nan_is_na() -> contextlib.AbstractContextManager[Any]:
    """pandas 3's ``future.distinguish_nan_and_na`` off; older pandas never distinguish."""
    try:
        pd.get_option("future.distinguish_nan_and_na")
    except KeyError:  # pandas' OptionError is a KeyError
        return contextlib.nullcontext()
    return pd.option_context("future.distinguish_nan_and_na", False)


def read_json(
    path_or_buf: Any,
    *,
    orient: str | None = _NO,
    typ: str = _NO,
    dtype: Any = _NO,
    convert_axes: bool | None = _NO,
    convert_dates: Any = _NO,
    keep_default_dates: bool = _NO,
    precise_float: bool = _NO,
    lines: bool = _NO,
    encoding: str | None = _NO,
    compression: Any = _NO,
    nrows: int | None = _NO,
    storage_options: Mapping[str, Any] | None = _NO,
    dtype_backend: Any = _NO,
    **kwargs: Any,
) -> pd.DataFrame:
    """``pandas.read_json``, parsed by Polars when the result is the same.

    The fast path serves JSON lines (``lines=True``) and documents holding a list of records,
    with ``orient`` ``None``/``"records"``, ``compression`` (gzip, bz2, xz), UTF-8 and
    ``dtype_backend``; it types columns as pandas does (whole-number float columns become
    ``int64``, missing-only columns ``float64``). Columns pandas would convert to dates by their
    names (``*_at``, ``*_time``, ``date``…) unless ``convert_dates=False``, text columns that
    hold numbers, mixed JSON types, nested values and other arguments are read by pandas.
    Numbers are parsed exactly (see the module's note on ``precise_float``).
    """
    given = _given(
        orient=orient,
        typ=typ,
        dtype=dtype,
        convert_axes=convert_axes,
        convert_dates=convert_dates,
        keep_default_dates=keep_default_dates,
        precise_float=precise_float,
        lines=lines,
        encoding=encoding,
        compression=compression,
        nrows=nrows,
        storage_options=storage_options,
        dtype_backend=dtype_backend,
    )
    rest = dict(kwargs)
    if given.get("storage_options") is not None:
        rest["storage_options"] = given["storage_options"]
    try:
        return _json_fast(
            path_or_buf,
            orient=orient,
            typ=typ,
            dtype=dtype,
            convert_axes=convert_axes,
            convert_dates=convert_dates,
            keep_default_dates=keep_default_dates,
            precise_float=precise_float,
            lines=lines is True,
            encoding=encoding,
            compression=compression,
            nrows=nrows,
            dtype_backend=dtype_backend,
            rest=rest,
        )
    except (_Fallback, pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as why:

        def pandas_reads() -> pd.DataFrame:
            if "precise_float" in given:
                frame: pd.DataFrame = pd.read_json(path_or_buf, **given, **kwargs)
                return frame
            # numbers are parsed exactly on both paths; pandas' exact parser refuses numbers
            # below the normal range, which its default parser reads
            try:
                frame = pd.read_json(path_or_buf, precise_float=True, **given, **kwargs)
            except ValueError as exc:
                if "Range error" not in str(exc):
                    raise
                if hasattr(path_or_buf, "seek"):
                    path_or_buf.seek(0)
                frame = pd.read_json(path_or_buf, **given, **kwargs)
            return frame

        result: pd.DataFrame = _fallback("read_json", path_or_buf, why, pandas_reads)
        return result
