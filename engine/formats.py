"""The format table: how each file format is scanned and written, and which options it takes.

Options are accepted under pandas' names (so dynamicio YAML keeps working) and under Polars'
names. Every option a format accepts is listed here; anything else is rejected when the catalog
loads. A few pandas options have no meaning in this engine (``index``, ``engine``, ``low_memory``)
and are accepted without effect, as listed in ``NO_EFFECT``.
"""

from __future__ import annotations

import codecs
import csv
import importlib
import io
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Literal

import polars as pl
import polars.selectors as cs

from dynio.engine.casts import finite, json_float
from dynio.engine.dtypes import parse_dtype
from dynio.engine.errors import first_line

__all__ = [
    "FORMATS",
    "NO_EFFECT",
    "PLAN_OPTIONS",
    "Format",
    "ScanHints",
    "describe_read_failure",
    "format_for",
    "infer_format",
    "is_decode_failure",
    "register_format",
    "text_encoding_problem",
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


@dataclass(frozen=True)
class Format:
    """A file format: its scanner, its writer and the options each accepts.

    Attributes:
        name: Canonical name (``parquet``, ``csv`` …).
        extensions: File name endings that identify it (used for batch reads and inference).
        read_options: Option names the scanner understands.
        write_options: Option names the writer understands.
        scan: Builds a LazyFrame over one or many files.
        write: Writes a frame to an open binary file (``None`` when it writes by path).
        aliases: Other names accepted in ``file_type``.
        write_path: Writes a frame to a file path, for libraries that cannot write to an open
            file (HDF5); used instead of ``write`` when set.
    """

    name: str
    extensions: tuple[str, ...]
    read_options: frozenset[str]
    write_options: frozenset[str]
    scan: Scanner
    write: Writer | None
    aliases: tuple[str, ...] = ()
    write_path: Callable[[pl.DataFrame, str, Mapping[str, Any]], None] | None = None

    @property
    def options(self) -> frozenset[str]:
        """Every option name accepted in YAML for this format."""
        return self.read_options | self.write_options | PLAN_OPTIONS | NO_EFFECT


def _pick(options: Mapping[str, Any], *names: str) -> Any:
    for n in names:
        if n in options:
            return options[n]
    return None


def _dtype_option(value: Any, what: str) -> dict[str, pl.DataType]:
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


# ----------------------------------------------------------------------------------------- parquet


def _hive_paths(paths: Sequence[str]) -> bool:
    """Whether files sit in ``key=value`` folders (Polars detects these only for one folder)."""
    return len(paths) > 0 and all(
        any("=" in part for part in p.replace("\\", "/").split("/")[:-1]) for p in paths
    )


def _scan_parquet(
    paths: Sequence[str], options: Mapping[str, Any], hints: ScanHints
) -> pl.LazyFrame:
    kwargs: dict[str, Any] = {}
    for name in ("hive_partitioning", "use_statistics", "n_rows", "parallel"):
        if name in options:
            kwargs[name] = options[name]
    if hints.storage_options:
        kwargs["storage_options"] = dict(hints.storage_options)
    # files written at different times may lack a column: it reads as null (drift is checked
    # by the planner against the schema)
    kwargs["missing_columns"] = "insert" if len(paths) > 1 else "raise"
    kwargs["extra_columns"] = "ignore"
    if "hive_partitioning" not in kwargs and _hive_paths(paths):
        kwargs["hive_partitioning"] = True
    return pl.scan_parquet(list(paths), glob=False, **kwargs)


# pyarrow.parquet.write_table options pandas pipelines pass (dynamicio hands them to pyarrow);
# when one is present the frame is written through pyarrow, which honours them.
_PYARROW_PARQUET_WRITE = frozenset(
    {
        "use_deprecated_int96_timestamps",
        "coerce_timestamps",
        "allow_truncated_timestamps",
        "version",
        "use_dictionary",
        "write_statistics",
        "data_page_version",
    }
)


def _write_parquet(df: pl.DataFrame, out: IO[bytes], options: Mapping[str, Any]) -> None:
    compression = _pick(options, "compression")
    if compression is None and "compression" in options:
        compression = "uncompressed"  # pandas' compression=None
    if compression == "none":
        compression = "uncompressed"
    if _PYARROW_PARQUET_WRITE & set(options):
        import pyarrow.parquet as pq

        pa_kwargs: dict[str, Any] = {k: options[k] for k in _PYARROW_PARQUET_WRITE if k in options}
        for name in ("row_group_size", "data_page_size", "compression_level"):
            if name in options:
                pa_kwargs[name] = options[name]
        if compression is not None:
            pa_kwargs["compression"] = "none" if compression == "uncompressed" else compression
        pq.write_table(df.to_arrow(), out, **pa_kwargs)
        return
    df.write_parquet(out, **parquet_write_kwargs(options))


def parquet_write_kwargs(options: Mapping[str, Any]) -> dict[str, Any]:
    """Polars' ``write_parquet``/``sink_parquet`` arguments for a resource's parquet options
    (those only pyarrow's writer takes are left out: see ``_PYARROW_PARQUET_WRITE``)."""
    compression = _pick(options, "compression")
    if (compression is None and "compression" in options) or compression == "none":
        compression = "uncompressed"  # pandas' compression=None
    # snappy, as pandas and pyarrow write by default: a third of the time of Polars' zstd
    kwargs: dict[str, Any] = {"compression": compression or "snappy"}
    for name in ("compression_level", "row_group_size", "statistics", "data_page_size"):
        if name in options:
            kwargs[name] = options[name]
    return kwargs


# --------------------------------------------------------------------------------------------- csv


def _transcode(path: str, encoding: str) -> io.BytesIO:
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ValueError(_undecodable(raw, exc, encoding)) from exc
    except UnicodeError as exc:  # e.g. UTF-16 without a byte-order mark
        raise ValueError(f"the file is not {encoding} text ({exc})") from exc
    return io.BytesIO(text.encode("utf-8"))


def _scan_csv(paths: Sequence[str], options: Mapping[str, Any], hints: ScanHints) -> pl.LazyFrame:
    kwargs: dict[str, Any] = {}
    sep = _pick(options, "separator", "sep", "delimiter")
    if sep is not None:
        kwargs["separator"] = sep
    header = _pick(options, "has_header", "header")
    names = _pick(options, "new_columns", "names")
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
    skip = _pick(options, "skip_rows", "skiprows")
    if skip is not None:
        if not isinstance(skip, int):
            raise ValueError(f"skiprows must be a number of lines, got {skip!r}")
        kwargs["skip_rows"] = skip
    n_rows = _pick(options, "n_rows", "nrows")
    if n_rows is not None:
        kwargs["n_rows"] = int(n_rows)
    nulls: list[str] = []
    if options.get("keep_default_na", True) and "null_values" not in options:
        nulls.extend(PANDAS_NA_VALUES)
    extra_nulls = _pick(options, "null_values", "na_values")
    if extra_nulls is not None:
        nulls.extend(
            [extra_nulls] if isinstance(extra_nulls, str) else [str(v) for v in extra_nulls]
        )
    if nulls:
        kwargs["null_values"] = sorted(set(nulls))
    if options.get("keep_default_na") is False and "" not in nulls:
        kwargs["empty_string_is_null"] = False  # as pandas: "" stays text
    quote = _pick(options, "quote_char", "quotechar")
    if quote is not None:
        kwargs["quote_char"] = quote
    comment = _pick(options, "comment_prefix", "comment")
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
    if kwargs.get("decimal_comma"):
        # "8,0" is a number but not an integer literal: number columns are read as text with
        # the comma made a point, and the safe cast then takes digits exactly and "8.0" as 8
        # (and refuses a float that overflows)
        comma_ints = [c for c, dt in overrides.items() if dt.is_integer() or dt.is_float()]
        overrides = {c: pl.String() if c in comma_ints else dt for c, dt in overrides.items()}
    if "dtype" in options:
        overrides.update(_dtype_option(options["dtype"], "dtype"))
    if "schema_overrides" in options:
        overrides.update(_dtype_option(options["schema_overrides"], "schema_overrides"))
    parse_dates = options.get("parse_dates")
    if parse_dates:
        if not isinstance(parse_dates, list | tuple):
            raise ValueError(f"parse_dates must be a list of column names, got {parse_dates!r}")
        for col in parse_dates:
            overrides.setdefault(str(col), pl.Datetime("ns"))
    if overrides:
        kwargs["schema_overrides"] = overrides
    if hints.storage_options:
        kwargs["storage_options"] = dict(hints.storage_options)

    encoding = str(_pick(options, "encoding") or "utf8").lower().replace("_", "-")
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
        sources = [_transcode(p, encoding) for p in paths]
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


def _write_csv(df: pl.DataFrame, out: IO[bytes], options: Mapping[str, Any]) -> None:
    df.write_csv(out, **csv_write_kwargs(options))


def csv_write_kwargs(options: Mapping[str, Any]) -> dict[str, Any]:
    """Polars' ``write_csv``/``sink_csv`` arguments for a resource's CSV options."""
    kwargs: dict[str, Any] = {}
    sep = _pick(options, "separator", "sep", "delimiter")
    if sep is not None:
        kwargs["separator"] = sep
    header = _pick(options, "include_header", "header")
    if header is not None:
        kwargs["include_header"] = bool(header)
    null = _pick(options, "null_value", "na_rep")
    if null is not None:
        kwargs["null_value"] = str(null)
    quote = _pick(options, "quote_char", "quotechar")
    if quote is not None:
        kwargs["quote_char"] = quote
    dfmt = _pick(options, "datetime_format", "date_format")
    if dfmt is not None:
        kwargs["datetime_format"] = dfmt
    term = _pick(options, "line_terminator", "lineterminator")
    if term is not None:
        kwargs["line_terminator"] = term
    if "float_precision" in options:
        kwargs["float_precision"] = int(options["float_precision"])
    return kwargs


# -------------------------------------------------------------------------------------------- json


def _records(rows: Any, orient: str) -> list[dict[str, Any]]:
    """The rows of a records-like orient, each checked to be an object."""
    if not isinstance(rows, list):
        raise ValueError(f"orient {orient!r} expects a list of records, got {_json_kind(rows)}")
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ValueError(
                f"orient {orient!r} expects a list of records (objects), but item {i} is"
                f" {_json_kind(row)}"
            )
    return rows


def _columns_of_rows(rows: Any, width: int | None, orient: str) -> list[tuple[Any, ...]]:
    """The columns of a list of equally long rows (``values``, ``split``)."""
    if not isinstance(rows, list):
        raise ValueError(f"orient {orient!r} expects a list of rows, got {_json_kind(rows)}")
    for i, row in enumerate(rows):
        if not isinstance(row, list):
            raise ValueError(
                f"orient {orient!r} expects a list of rows (lists), but item {i} is"
                f" {_json_kind(row)}"
            )
        width = len(row) if width is None else width
        if len(row) != width:
            raise ValueError(f"row {i} has {len(row)} values where the others have {width}")
    return list(zip(*rows, strict=True)) if rows else [()] * (width or 0)


def _json_frame(data: Any, orient: str | None, expected: Sequence[str] = ()) -> pl.DataFrame:
    """Build a frame from parsed JSON in one of pandas' orients.

    Without an ``orient`` the shape decides; an object of objects is ``columns`` (pandas'
    default for ``DataFrame.to_json``) unless its inner keys, not its outer ones, are the
    expected columns (then ``index``). A document of another shape is a ``ValueError`` saying
    what was found.
    """
    if orient is None and not isinstance(data, list | dict):
        raise ValueError(
            f"the JSON document is {_json_kind(data)}, not a list of records or an object of"
            " columns"
        )
    if orient is None:
        if isinstance(data, list):
            if data and not isinstance(data[0], dict | list):
                raise ValueError(
                    f"the JSON document is a list of {_json_kind(data[0])} and the like, not a"
                    " list of records (objects) or of rows (lists)"
                )
            orient = "records" if not data or isinstance(data[0], dict) else "values"
        elif isinstance(data, dict) and "schema" in data and "data" in data:
            orient = "table"
        elif isinstance(data, dict) and "columns" in data and "data" in data:
            orient = "split"
        else:
            orient = "columns"
            first = next(iter(data.values()), None) if isinstance(data, dict) else None
            if expected and isinstance(first, dict):
                outer, inner = set(data), set(first)
                wanted = set(expected)
                if not (wanted & outer) and wanted <= inner:
                    orient = "index"
    if orient in ("table", "split") and not (
        isinstance(data, dict) and "data" in data and (orient == "table" or "columns" in data)
    ):
        keys = "'schema' and 'data'" if orient == "table" else "'columns' and 'data'"
        raise ValueError(f"orient {orient!r} expects an object with {keys}")
    if orient in ("records", "table"):
        rows = _records(data["data"] if orient == "table" else data, orient)
        if orient == "table":
            schema = data.get("schema")
            keys = schema.get("primaryKey", []) if isinstance(schema, dict) else []
            idx_names = set(keys or [])
            rows = [{k: v for k, v in r.items() if k not in idx_names} for r in rows]
        return pl.from_dicts(rows, infer_schema_length=None) if rows else pl.DataFrame()
    if orient == "split":
        names = data["columns"]
        if not isinstance(names, list):
            raise ValueError(f"orient 'split' expects 'columns' as a list, got {_json_kind(names)}")
        columns = [str(c) for c in names]
        cols = _columns_of_rows(data["data"], len(columns), orient)
        return pl.DataFrame({c: list(v) for c, v in zip(columns, cols, strict=True)}, strict=False)
    if orient == "values":
        cols = _columns_of_rows(data, None, orient)
        return pl.DataFrame({str(i): list(col) for i, col in enumerate(cols)}, strict=False)
    if orient in ("columns", "index"):
        if not isinstance(data, dict):
            raise ValueError(f"orient {orient!r} expects an object, got {_json_kind(data)}")
        if orient == "index":
            for key, row in data.items():
                if not isinstance(row, dict):
                    raise ValueError(
                        f"orient 'index' expects {{index: {{column: value}}}}, but {key!r}"
                        f" holds {_json_kind(row)}"
                    )
            rows = [dict(v) for v in data.values()]
            return pl.from_dicts(rows, infer_schema_length=None) if rows else pl.DataFrame()
        index: list[str] = []
        for c, values in data.items():
            if not isinstance(values, dict):
                raise ValueError(
                    f"orient 'columns' expects {{column: {{index: value}}}}, but column"
                    f" {c!r} holds {_json_kind(values)}; one record belongs in a list"
                    " (orient 'records')"
                )
            for k in values:
                if k not in index:
                    index.append(k)
        return pl.DataFrame(
            {str(c): [vals.get(i) for i in index] for c, vals in data.items()}, strict=False
        )
    raise ValueError(f"unknown JSON orient {orient!r}")


def _json_kind(value: Any) -> str:
    """What a parsed JSON value is, for messages: ``a number (42)``, ``an object``."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    kind = {bool: "a boolean", str: "a string", int: "a number", float: "a number"}
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    return f"{kind.get(type(value), type(value).__name__)} ({shown})"


def _load_json(raw: bytes, encoding: str) -> Any:
    """Parse one JSON document; the error says what is wrong and where (line, column)."""
    if not raw.strip():
        raise ValueError(
            "the file is empty (0 bytes)" if not raw else "the file holds no JSON, only spaces"
        )
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ValueError(_undecodable(raw, exc, encoding)) from exc
    except UnicodeError as exc:  # e.g. UTF-16 without a byte-order mark
        raise ValueError(f"the file is not {encoding} text ({exc})") from exc
    try:
        return json.loads(text, parse_float=json_float)  # 1e309 is no float: refused
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc


_DATE_UNITS = {"s": 1_000, "ms": 1, "us": None, "ns": None}


def _scan_json(paths: Sequence[str], options: Mapping[str, Any], hints: ScanHints) -> pl.LazyFrame:
    if options.get("lines"):
        return _scan_ndjson(paths, options, hints)
    orient = options.get("orient")
    unit = str(options.get("date_unit", "ms"))
    if unit not in _DATE_UNITS:
        raise ValueError(f"date_unit must be one of s, ms, us, ns, got {unit!r}")
    frames = []
    for path in paths:
        with open(path, "rb") as fh:
            raw = fh.read()
        encoding = str(options.get("encoding") or "utf-8")
        frames.append(_json_frame(_load_json(raw, encoding), orient, list(hints.dtypes)))
    frame = pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0]
    if frame.width == 0 and frame.height == 0 and hints.dtypes:
        # an empty document has no columns to infer: it is an empty frame of the schema
        frame = pl.DataFrame(schema=dict(hints.dtypes))
    # pandas writes datetimes as epoch milliseconds by default: read them back as such
    fixes = []
    for col, dt in hints.dtypes.items():
        temporal = isinstance(dt, pl.Datetime | pl.Date)
        if col in frame.columns and temporal and frame[col].dtype.is_integer():
            time_unit: Literal["ns", "us", "ms"] = "ms" if unit == "s" else unit  # type: ignore[assignment]
            scaled = pl.col(col) * 1000 if unit == "s" else pl.col(col)
            stamp = pl.from_epoch(scaled, time_unit=time_unit)
            # a date comes back through the safe cast, which refuses a time of day
            fixes.append(stamp.alias(col))
    if fixes:
        frame = frame.with_columns(fixes)
    return frame.lazy()


def _json_value(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float) and value != value:
        return None
    return value


def _epoch_dates(df: pl.DataFrame, options: Mapping[str, Any]) -> pl.DataFrame:
    """pandas' ``date_format: epoch``: timestamps and dates as integers in ``date_unit``."""
    date_format = options.get("date_format", "iso")
    if date_format not in ("iso", "epoch"):
        raise ValueError(f"date_format must be 'iso' or 'epoch', got {date_format!r}")
    if date_format == "iso":
        return df
    unit = str(options.get("date_unit", "ms"))
    if unit not in _DATE_UNITS:
        raise ValueError(f"date_unit must be one of s, ms, us, ns, got {unit!r}")
    temporal = [c for c, dt in df.schema.items() if isinstance(dt, pl.Datetime | pl.Date)]
    return df.with_columns(
        pl.col(c).dt.epoch(unit).alias(c)  # type: ignore[arg-type]  # Date too, any year
        for c in temporal
    )


def _write_json(df: pl.DataFrame, out: IO[bytes], options: Mapping[str, Any]) -> None:
    df = _epoch_dates(df, options)
    if options.get("lines"):
        df.write_ndjson(out)
        return
    orient = options.get("orient", "records")
    indent = options.get("indent")
    if orient == "records" and indent is None:
        out.write(df.write_json().encode("utf-8"))
        return
    rows = [[_json_value(v) for v in r] for r in df.iter_rows()]
    cols = df.columns
    doc: Any
    if orient == "records":
        doc = [dict(zip(cols, r, strict=True)) for r in rows]
    elif orient == "split":
        doc = {"columns": cols, "index": list(range(len(rows))), "data": rows}
    elif orient == "values":
        doc = rows
    elif orient == "columns":
        doc = {c: {str(i): r[j] for i, r in enumerate(rows)} for j, c in enumerate(cols)}
    elif orient == "index":
        doc = {str(i): dict(zip(cols, r, strict=True)) for i, r in enumerate(rows)}
    else:
        raise ValueError(f"orient must be records, split, values, columns or index, got {orient!r}")
    out.write(json.dumps(doc, indent=indent, ensure_ascii=False).encode("utf-8"))


# ------------------------------------------------------------------------------------------ ndjson


def _scan_ndjson(
    paths: Sequence[str], options: Mapping[str, Any], hints: ScanHints
) -> pl.LazyFrame:
    kwargs: dict[str, Any] = {}
    for name in ("infer_schema_length", "ignore_errors", "n_rows"):
        if name in options:
            kwargs[name] = options[name]
    if "nrows" in options:
        kwargs["n_rows"] = int(options["nrows"])
    if hints.storage_options:
        kwargs["storage_options"] = dict(hints.storage_options)
    local = [p for p in paths if "://" not in p]
    if hints.dtypes and len(local) == len(paths) and all(_blank(p) for p in paths):
        # nothing to infer types from: an empty frame of the schema
        return pl.LazyFrame(schema=dict(hints.dtypes))
    # scan_ndjson has no glob=False: each listed path is escaped to match only itself
    return pl.scan_ndjson([_literal(p) for p in paths], **kwargs)


def _literal(path: str) -> str:
    """A glob pattern matching only the local ``path`` (its ``[``, ``*`` and ``?`` as
    letters); a URL stays as it is (``?`` starts its query)."""
    if "://" in path:
        return path
    return "".join(f"[{c}]" if c in "[*?" else c for c in path)


def _blank(path: str) -> bool:
    with open(path, "rb") as fh:
        return not fh.read(4096).strip()


def _write_ndjson(df: pl.DataFrame, out: IO[bytes], options: Mapping[str, Any]) -> None:
    df.write_ndjson(out)


# --------------------------------------------------------------------------------------------- ipc


def _scan_ipc(paths: Sequence[str], options: Mapping[str, Any], hints: ScanHints) -> pl.LazyFrame:
    kwargs: dict[str, Any] = {}
    for name in ("n_rows", "hive_partitioning"):
        if name in options:
            kwargs[name] = options[name]
    if "hive_partitioning" not in kwargs and _hive_paths(paths):
        kwargs["hive_partitioning"] = True
    if hints.storage_options:
        kwargs["storage_options"] = dict(hints.storage_options)
    return pl.scan_ipc(list(paths), glob=False, **kwargs)


def _write_ipc(df: pl.DataFrame, out: IO[bytes], options: Mapping[str, Any]) -> None:
    compression = options.get("compression", "uncompressed")
    df.write_ipc(out, compression=compression or "uncompressed")


# ------------------------------------------------------------------------ explaining failures

# how much of a file a failure's explanation may look at: it runs only once a read has failed,
# but a multi-gigabyte file must not keep the user waiting for a sentence
_EXPLAIN_BYTES = 64 * 1024 * 1024
_BOMS = {
    codecs.BOM_UTF32_LE: "UTF-32",
    codecs.BOM_UTF32_BE: "UTF-32",
    codecs.BOM_UTF16_LE: "UTF-16",
    codecs.BOM_UTF16_BE: "UTF-16",
}


def _head(path: str, size: int = _EXPLAIN_BYTES) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(size)


# how Polars' text readers say the bytes are not UTF-8 (CSV, NDJSON, JSON), at the start of
# their message: a message quoting a value (which may be any text) is not one of these
_DECODE_FAILURE = re.compile(
    r"^(invalid utf-?8|stream did not contain valid utf-?8|invalidutf8)", re.IGNORECASE
)


def is_decode_failure(exc: BaseException) -> bool:
    """Whether a reader failed because its text is not UTF-8."""
    return bool(_DECODE_FAILURE.match(first_line(exc)))


def text_encoding_problem(path: str, encoding: str = "utf-8") -> str | None:
    """Why a local text file is not ``encoding`` text (a byte-order mark, NUL bytes, a byte
    that does not decode), or ``None`` when its start decodes cleanly or it cannot be opened.
    """
    if "://" in path or not os.path.isfile(path):
        return None
    raw = _head(path)
    enc = encoding.lower().replace("_", "-")
    if enc in ("utf8", "utf-8", "utf-8-sig"):
        for bom, name in _BOMS.items():  # UTF-32's mark begins with UTF-16's: longest first
            if raw.startswith(bom):
                return (
                    f"the file is {name} text (it starts with a {name} byte-order mark), not"
                    f" UTF-8; set options.encoding: {name.lower()}"
                )
        if b"\x00" in raw[:4096]:
            return (
                "the file holds NUL bytes: it is UTF-16/32 text or binary, not UTF-8 text;"
                " set options.encoding to the file's encoding"
            )
    try:
        codec = codecs.lookup(enc)
    except LookupError:
        return None
    try:
        if len(raw) < _EXPLAIN_BYTES:
            raw.decode(codec.name)
        else:  # only the start was read: a character may be cut at the end
            codec.incrementaldecoder().decode(raw, final=False)
    except UnicodeDecodeError as exc:
        return _undecodable(raw, exc, codec.name)
    except UnicodeError as exc:  # e.g. UTF-16 without a byte-order mark
        return f"the file is not {codec.name} text ({exc}); set options.encoding to its encoding"
    return None


def _undecodable(raw: bytes, exc: UnicodeDecodeError, encoding: str) -> str:
    line = raw.count(b"\n", 0, exc.start) + 1
    return (
        f"the file is not {encoding} text (byte 0x{raw[exc.start]:02x} on line {line} does not"
        " decode); set options.encoding to the file's encoding, e.g. latin-1"
    )


def _ragged_csv_row(path: str, options: Mapping[str, Any]) -> str | None:
    """The first data row with more fields than the first row, as a sentence."""
    sep = str(_pick(options, "separator", "sep", "delimiter") or ",")
    quote = str(_pick(options, "quote_char", "quotechar") or '"')
    skip = _pick(options, "skip_rows", "skiprows")
    encoding = str(_pick(options, "encoding") or "utf-8")
    if len(sep) != 1 or len(quote) != 1:
        return None
    try:
        text = _head(path).decode(encoding, errors="replace")
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


def _bad_json_line(path: str) -> str | None:
    """The first line of a JSON-lines file that is not one JSON value, as a sentence."""
    for number, line in enumerate(_head(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            json.loads(line)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError alike
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8 text"
            return f"line {number} is not valid JSON: {reason}"
    return None


def _parquet_damage(path: str, reason: str) -> str | None:
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        start = fh.read(4)
        fh.seek(max(size - 4, 0))
        end = fh.read(4)
    if start != b"PAR1":
        return "not a parquet file: it does not start with the PAR1 marker parquet files begin with"
    if end != b"PAR1":
        return (
            "the parquet file is truncated: it starts as parquet but lacks the footer (PAR1)"
            " a complete file ends with"
        )
    lowered = reason.lower()
    if any(w in lowered for w in ("out of specification", "thrift", "decompress", "snappy")):
        return f"the parquet file is corrupted: its pages or their headers do not decode ({reason})"
    return None


# the first bytes of binary formats, to tell a file declared as text that is not
_MAGIC = ((b"PAR1", "parquet"), (b"ARROW1", "ipc"), (b"\x89HDF\r\n\x1a\n", "hdf"))


def looks_like(path: str) -> str | None:
    """The binary format a local file's first bytes announce (``parquet``, ``ipc``, ``hdf``)."""
    try:
        with open(path, "rb") as fh:
            start = fh.read(8)
    except OSError:
        return None
    return next((name for magic, name in _MAGIC if start.startswith(magic)), None)


def binary_mismatch(fmt: str | None, path: str) -> str | None:
    """Why a local file declared as a text format is not one (it starts as parquet, IPC, HDF)."""
    if fmt not in ("csv", "json", "ndjson") or "://" in path:
        return None
    other = looks_like(path)
    if other is None:
        return None
    return (
        f"the file looks like {other}, not {fmt} (it starts with {other}'s magic bytes);"
        f" declare file_type: {other}"
    )


def describe_read_failure(
    fmt: str | None, path: str, options: Mapping[str, Any], exc: BaseException
) -> str:
    """Why a file could not be read, as one sentence.

    Readers' own messages often say little (``found more fields than defined in 'Schema'``,
    ``Syntax at character 21``); for a local file this looks at the file to say what is wrong
    and where: an empty file, the ragged CSV line, the bad JSON line, the undecodable byte, a
    truncated or corrupted parquet file. Otherwise it is the reader's first line. It runs only
    after a read failed.
    """
    reason = first_line(exc)
    if "://" in path or not os.path.isfile(path):
        return reason
    try:
        if os.path.getsize(path) == 0:
            return "the file is empty (0 bytes)"
        mismatch = binary_mismatch(fmt, path)
        if mismatch is not None:
            return mismatch
        lowered = reason.lower()
        if fmt in ("csv", "json", "ndjson") and is_decode_failure(exc):
            encoding = str(_pick(options, "encoding") or "utf-8")
            found = text_encoding_problem(path, encoding)
            if found is not None:
                return found
        if fmt == "csv" and "more fields" in lowered:
            return _ragged_csv_row(path, options) or (
                "a row has more fields than the header; set options.truncate_ragged_lines:"
                " true to drop the extra fields"
            )
        if fmt == "ndjson" or (fmt == "json" and options.get("lines")):
            found = _bad_json_line(path)
            if found is not None:
                return found
        if fmt == "parquet":
            return _parquet_damage(path, reason) or reason
    except OSError:
        pass  # the file went away meanwhile: the reader's message is all there is
    return reason


_CSV_READ = frozenset(
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
_CSV_WRITE = frozenset(
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

FORMATS: dict[str, Format] = {
    f.name: f
    for f in [
        Format(
            "parquet",
            (".parquet", ".pq", ".parq"),
            frozenset({"hive_partitioning", "use_statistics", "n_rows", "parallel"}),
            frozenset(
                {
                    "compression",
                    "compression_level",
                    "row_group_size",
                    "statistics",
                    "data_page_size",
                    "partition_cols",
                }
            )
            | _PYARROW_PARQUET_WRITE,
            _scan_parquet,
            _write_parquet,
        ),
        Format(
            "csv",
            (".csv", ".csv.gz", ".csv.zst", ".tsv"),
            _CSV_READ,
            _CSV_WRITE,
            _scan_csv,
            _write_csv,
        ),
        Format(
            "json",
            (".json",),
            frozenset({"orient", "lines", "date_unit", "encoding"}),
            frozenset({"orient", "lines", "indent", "date_format", "date_unit"}),
            _scan_json,
            _write_json,
        ),
        Format(
            "ndjson",
            (".ndjson", ".jsonl"),
            frozenset({"infer_schema_length", "ignore_errors", "n_rows", "nrows", "lines"}),
            frozenset({"lines"}),
            _scan_ndjson,
            _write_ndjson,
            aliases=("jsonl", "jsonlines", "json_lines"),
        ),
        Format(
            "ipc",
            (".arrow", ".feather", ".ipc"),
            frozenset({"n_rows", "hive_partitioning"}),
            frozenset({"compression"}),
            _scan_ipc,
            _write_ipc,
            aliases=("feather", "arrow"),
        ),
    ]
}

_BY_ALIAS: dict[str, str] = {}


def register_format(fmt: Format) -> None:
    """Add a format to the table (the facade adds those that need pandas, such as ``hdf``)."""
    FORMATS[fmt.name] = fmt
    _BY_ALIAS[fmt.name] = fmt.name
    for alias in fmt.aliases:
        _BY_ALIAS[alias] = fmt.name


for _f in list(FORMATS.values()):
    register_format(_f)


# Formats served by facade modules because their only reader is pandas (the engine never
# imports pandas): name -> module that registers it on import.
_FACADE_FORMATS = {"hdf": "dynio.hdf", "h5": "dynio.hdf", "hdf5": "dynio.hdf"}


def format_for(name: str) -> Format | None:
    """The format of that name or alias (case-insensitive), or ``None``.

    Formats served by the facade (``hdf``) are registered on first use, so a catalog naming
    them loads whatever has been imported before.
    """
    text = name.strip().lower().lstrip(".")
    key = _BY_ALIAS.get(text)
    if key is None and text in _FACADE_FORMATS:
        importlib.import_module(_FACADE_FORMATS[text])
        key = _BY_ALIAS.get(text)
    return FORMATS[key] if key is not None else None


def format_names() -> list[str]:
    """Every name ``file_type`` accepts: each format, its aliases, the facade's formats."""
    names: list[str] = []
    for fmt in FORMATS.values():
        names.extend(n for n in (fmt.name, *fmt.aliases) if n not in names)
    names.extend(n for n in _FACADE_FORMATS if n not in names)
    return names


def infer_format(path: str) -> Format | None:
    """The format a path's ending suggests, or ``None``."""
    lower = path.lower()
    if lower.endswith((".h5", ".hdf", ".hdf5")):
        return format_for("hdf")
    best: tuple[int, Format] | None = None
    for fmt in FORMATS.values():
        for ext in fmt.extensions:
            if lower.endswith(ext) and (best is None or len(ext) > best[0]):
                best = (len(ext), fmt)
    return best[1] if best else None
