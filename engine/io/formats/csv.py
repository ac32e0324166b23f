"""CSV: delimited text, read under pandas' ``read_csv`` option names and Polars' own."""

from __future__ import annotations

import codecs
import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import polars as pl
import polars.selectors as cs

from dynio.engine.casts import finite
from dynio.engine.io.formats.base import (
    PANDAS_NA_VALUES,
    Capabilities,
    Format,
    ScanHints,
    dtype_option,
    pick,
)
from dynio.engine.io.formats.text import head, transcode

__all__ = ["CSV", "csv_write_kwargs", "scan_exact"]


def _layout_kwargs(options: Mapping[str, Any]) -> dict[str, Any]:
    """Separator, header, names, rows to skip or read, quoting, comments, decimals."""
    kwargs: dict[str, Any] = {}
    sep = pick(options, "separator", "sep", "delimiter")
    if sep is not None:
        kwargs["separator"] = sep
    header = pick(options, "has_header", "header")
    names = pick(options, "new_columns", "names")
    if "has_header" in options:
        kwargs["has_header"] = bool(options["has_header"])
    elif "header" in options:
        if header not in (None, 0, "infer"):
            raise ValueError(f"header must be 0, 'infer' or null, got {header!r}")
        kwargs["has_header"] = header is not None
    if names is not None:
        kwargs["new_columns"] = [str(n) for n in names]
        if "header" not in options and "has_header" not in options:
            kwargs["has_header"] = False  # pandas: names without header means no header row
    skip = pick(options, "skip_rows", "skiprows")
    if skip is not None:
        if not isinstance(skip, int):
            raise ValueError(f"skiprows must be a number of lines, got {skip!r}")
        kwargs["skip_rows"] = skip
    n_rows = pick(options, "n_rows", "nrows")
    if n_rows is not None:
        kwargs["n_rows"] = int(n_rows)
    quote = pick(options, "quote_char", "quotechar")
    if quote is not None:
        kwargs["quote_char"] = quote
    comment = pick(options, "comment_prefix", "comment")
    if comment is not None:
        kwargs["comment_prefix"] = comment
    decimal = options.get("decimal")
    if decimal == ",":
        kwargs["decimal_comma"] = True
    elif decimal not in (None, "."):
        raise ValueError(f"decimal must be '.' or ',', got {decimal!r}")
    if "decimal_comma" in options:
        kwargs["decimal_comma"] = bool(options["decimal_comma"])
    for name in (
        "infer_schema_length",
        "truncate_ragged_lines",
        "ignore_errors",
        "eol_char",
        "try_parse_dates",
    ):
        if name in options:
            kwargs[name] = options[name]
    if "lineterminator" in options:
        kwargs["eol_char"] = options["lineterminator"]
    return kwargs


def _null_kwargs(options: Mapping[str, Any]) -> dict[str, Any]:
    """Missing-value markers: pandas' defaults unless told otherwise, plus the resource's."""
    kwargs: dict[str, Any] = {}
    nulls: list[str] = []
    if options.get("keep_default_na", True) and "null_values" not in options:
        nulls.extend(PANDAS_NA_VALUES)
    extra_nulls = pick(options, "null_values", "na_values")
    if extra_nulls is not None:
        nulls.extend(
            [extra_nulls] if isinstance(extra_nulls, str) else [str(v) for v in extra_nulls]
        )
    if nulls:
        kwargs["null_values"] = sorted(set(nulls))
    if options.get("keep_default_na") is False and "" not in nulls:
        kwargs["empty_string_is_null"] = False  # as pandas: "" stays text
    return kwargs


def _overrides(
    options: Mapping[str, Any], hints: ScanHints, decimal_comma: bool
) -> tuple[dict[str, pl.DataType], list[str]]:
    """The types the parser reads columns into, and the integer columns read as text because
    their decimal separator is a comma."""
    overrides: dict[str, pl.DataType] = {}
    for col, dt in hints.dtypes.items():
        # the CSV parser reads these types directly from text; others are cast after the scan
        # (timestamps are read as text and parsed by the cast table: faster than the reader's
        # own parsing, and it refuses years the ns unit cannot hold instead of wrapping them)
        if dt.is_numeric() or isinstance(dt, pl.String | pl.Boolean | pl.Date):
            overrides[col] = dt
        elif isinstance(dt, pl.Datetime):
            overrides[col] = pl.String()
    comma_ints: list[str] = []
    if decimal_comma:
        # "8,0" is a number but not an integer literal: number columns are read as text with
        # the comma made a point, and the safe cast then takes digits exactly and "8.0" as 8
        # (and refuses a float that overflows)
        comma_ints = [c for c, dt in overrides.items() if dt.is_integer() or dt.is_float()]
        overrides = {c: pl.String() if c in comma_ints else dt for c, dt in overrides.items()}
    if "dtype" in options:
        overrides.update(dtype_option(options["dtype"], "dtype"))
    if "schema_overrides" in options:
        overrides.update(dtype_option(options["schema_overrides"], "schema_overrides"))
    parse_dates = options.get("parse_dates")
    if parse_dates:
        if not isinstance(parse_dates, list | tuple):
            raise ValueError(f"parse_dates must be a list of column names, got {parse_dates!r}")
        for col in parse_dates:
            overrides.setdefault(str(col), pl.Datetime("ns"))
    return overrides, comma_ints


def _scan_csv(paths: Sequence[str], options: Mapping[str, Any], hints: ScanHints) -> pl.LazyFrame:
    kwargs = _layout_kwargs(options)
    kwargs.update(_null_kwargs(options))
    overrides, comma_ints = _overrides(options, hints, bool(kwargs.get("decimal_comma")))
    if overrides:
        kwargs["schema_overrides"] = overrides
    if hints.storage_options:
        kwargs["storage_options"] = dict(hints.storage_options)

    encoding = str(pick(options, "encoding") or "utf8").lower().replace("_", "-")
    if encoding in ("utf8", "utf-8", "utf-8-sig", "utf8-lossy"):
        kwargs["encoding"] = "utf8-lossy" if encoding == "utf8-lossy" else "utf8"
        sources: Any = list(paths)
    else:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValueError(
                f"unknown encoding {encoding!r} in options.encoding (Python's codec names:"
                " utf-8, latin-1, utf-16, cp1252 …)"
            ) from None
        sources = [transcode(p, encoding) for p in paths]
    frame = pl.scan_csv(sources, glob=False, **kwargs)
    if comma_ints:
        present = set(frame.collect_schema().names())
        frame = frame.with_columns(
            pl.col(c).str.replace_all(",", ".", literal=True) for c in comma_ints if c in present
        )
    floats = [c for c, dt in overrides.items() if dt.is_float() and c not in comma_ints]
    if floats:  # "1e309" parses as inf: re-read as text, where the cast table refuses it
        frame = frame.with_columns(finite(cs.by_name(*floats, require_all=False)))
    return frame


def scan_exact(source: str | Path | bytes, **polars_options: Any) -> pl.LazyFrame:
    """One CSV file (a local path, or its decompressed bytes) under Polars' own option names,
    nothing added: no NA markers, no casts, no encoding translation.

    The scan the drop-in ``dynio.pandas.read_csv`` builds its exact reads on: it decides every
    option itself (which markers are missing, which columns are read as text) to give what
    pandas gives, where :data:`CSV`'s scanner applies a resource's options and schema.
    """
    return pl.scan_csv(source, **polars_options)


def _write_csv(df: pl.DataFrame, out: IO[bytes], options: Mapping[str, Any]) -> None:
    df.write_csv(out, **csv_write_kwargs(options))


def csv_write_kwargs(options: Mapping[str, Any]) -> dict[str, Any]:
    """Polars' ``write_csv``/``sink_csv`` arguments for a resource's CSV options."""
    kwargs: dict[str, Any] = {}
    sep = pick(options, "separator", "sep", "delimiter")
    if sep is not None:
        kwargs["separator"] = sep
    header = pick(options, "include_header", "header")
    if header is not None:
        kwargs["include_header"] = bool(header)
    null = pick(options, "null_value", "na_rep")
    if null is not None:
        kwargs["null_value"] = str(null)
    quote = pick(options, "quote_char", "quotechar")
    if quote is not None:
        kwargs["quote_char"] = quote
    dfmt = pick(options, "datetime_format", "date_format")
    if dfmt is not None:
        kwargs["datetime_format"] = dfmt
    term = pick(options, "line_terminator", "lineterminator")
    if term is not None:
        kwargs["line_terminator"] = term
    if "float_precision" in options:
        kwargs["float_precision"] = int(options["float_precision"])
    return kwargs


def _ragged_row(path: str, options: Mapping[str, Any], reason: str) -> str | None:
    """The first data row with more fields than the first row, as a sentence."""
    if "more fields" not in reason.lower():
        return None
    return _ragged_csv_row(path, options) or (
        "a row has more fields than the header; set options.truncate_ragged_lines:"
        " true to drop the extra fields"
    )


def _ragged_csv_row(path: str, options: Mapping[str, Any]) -> str | None:
    sep = str(pick(options, "separator", "sep", "delimiter") or ",")
    quote = str(pick(options, "quote_char", "quotechar") or '"')
    skip = pick(options, "skip_rows", "skiprows")
    encoding = str(pick(options, "encoding") or "utf-8")
    if len(sep) != 1 or len(quote) != 1:
        return None
    try:
        text = head(path).decode(encoding, errors="replace")
    except LookupError:
        return None
    lines = text.splitlines(keepends=True)[skip if isinstance(skip, int) else 0 :]
    reader = csv.reader(lines, delimiter=sep, quotechar=quote)
    width: int | None = None
    for row in reader:
        if width is None:
            width = len(row)
        elif len(row) > width:
            line = reader.line_num + (skip if isinstance(skip, int) else 0)
            return (
                f"line {line} has {len(row)} fields where the header has {width}; fix the row"
                " or set options.truncate_ragged_lines: true to drop the extra fields"
            )
    return None


_READ = frozenset(
    {
        "sep",
        "delimiter",
        "separator",
        "header",
        "has_header",
        "names",
        "new_columns",
        "skiprows",
        "skip_rows",
        "nrows",
        "n_rows",
        "na_values",
        "null_values",
        "keep_default_na",
        "quotechar",
        "quote_char",
        "comment",
        "comment_prefix",
        "decimal",
        "decimal_comma",
        "dtype",
        "schema_overrides",
        "parse_dates",
        "encoding",
        "infer_schema_length",
        "truncate_ragged_lines",
        "ignore_errors",
        "eol_char",
        "lineterminator",
        "try_parse_dates",
    }
)
_WRITE = frozenset(
    {
        "sep",
        "delimiter",
        "separator",
        "header",
        "include_header",
        "na_rep",
        "null_value",
        "quotechar",
        "quote_char",
        "date_format",
        "datetime_format",
        "lineterminator",
        "line_terminator",
        "float_precision",
    }
)


CSV = Format(
    "csv",
    (".csv", ".csv.gz", ".csv.zst", ".tsv"),
    Capabilities(
        text=True,
        native_remote=True,
        layouts=frozenset({"file", "dataset"}),
        appendable=True,
        read_options=_READ,
        write_options=_WRITE,
        duckdb_reader="read_csv",
    ),
    _scan_csv,
    _write_csv,
    sink=lambda lf, path, o: lf.sink_csv(path, **csv_write_kwargs(o)),
    explain=_ragged_row,
)
