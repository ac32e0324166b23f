"""``dynio.pandas.read_json``."""

from __future__ import annotations

import contextlib
import io
import itertools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa

from dynio import handoff
from dynio.engine import api
from dynio.engine.errors import DynioError
from dynio.pandas._common import (
    _NO,
    _Bytes,
    _compression,
    _content,
    _Fallback,
    _fallback,
    _given,
    _local_file,
    _located,
    _polars_source,
    _utf8,
)
from dynio.pandas._csv import _HEAD_ROWS

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
            # every record read to infer the types, through the engine's read contract (the
            # registry's local source, the ndjson format)
            options = {"infer_schema_length": None}
            frame = api.load(api.bind(_located(file, "ndjson", options))).frame
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
    except (_Fallback, DynioError, pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as why:
        result: pd.DataFrame = _fallback(
            "read_json", path_or_buf, why, lambda: _pandas_json(path_or_buf, given, kwargs)
        )
        return result


def _pandas_json(
    path_or_buf: Any, given: Mapping[str, Any], kwargs: Mapping[str, Any]
) -> pd.DataFrame:
    """pandas' own ``read_json`` of the call, parsing numbers exactly as the fast path does."""
    if "precise_float" in given:
        frame: pd.DataFrame = pd.read_json(path_or_buf, **given, **kwargs)
        return frame
    # numbers are parsed exactly on both paths; pandas' exact parser refuses numbers below
    # the normal range, which its default parser reads
    try:
        frame = pd.read_json(path_or_buf, precise_float=True, **given, **kwargs)
    except ValueError as exc:
        if "Range error" not in str(exc):
            raise
        if hasattr(path_or_buf, "seek"):
            path_or_buf.seek(0)
        frame = pd.read_json(path_or_buf, **given, **kwargs)
    return frame
