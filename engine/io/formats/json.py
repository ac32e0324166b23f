"""JSON documents in pandas' orients (``records``, ``split``, ``values``, ``columns``,
``index``, ``table``); ``lines: true`` reads and writes JSON lines as NDJSON does."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import IO, Any, Literal

import polars as pl

from dynio.engine.casts import json_float
from dynio.engine.io.formats.base import Capabilities, Format, ScanHints
from dynio.engine.io.formats.ndjson import bad_json_line, scan_ndjson
from dynio.engine.io.formats.text import undecodable

__all__ = ["JSON"]


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


def _guess_orient(data: Any, expected: Sequence[str]) -> str:
    """The orient a document's shape says: an object of objects is ``columns`` (pandas'
    default for ``DataFrame.to_json``) unless its inner keys, not its outer ones, are the
    expected columns (then ``index``)."""
    if not isinstance(data, list | dict):
        raise ValueError(
            f"the JSON document is {_json_kind(data)}, not a list of records or an object of"
            " columns"
        )
    if isinstance(data, list):
        if data and not isinstance(data[0], dict | list):
            raise ValueError(
                f"the JSON document is a list of {_json_kind(data[0])} and the like, not a"
                " list of records (objects) or of rows (lists)"
            )
        return "records" if not data or isinstance(data[0], dict) else "values"
    if "schema" in data and "data" in data:
        return "table"
    if "columns" in data and "data" in data:
        return "split"
    first = next(iter(data.values()), None)
    if expected and isinstance(first, dict):
        outer, inner = set(data), set(first)
        wanted = set(expected)
        if not (wanted & outer) and wanted <= inner:
            return "index"
    return "columns"


def _json_frame(data: Any, orient: str | None, expected: Sequence[str] = ()) -> pl.DataFrame:
    """Build a frame from parsed JSON in one of pandas' orients.

    Without an ``orient`` the shape decides (see :func:`_guess_orient`). A document of another
    shape is a ``ValueError`` saying what was found.
    """
    if orient is None:
        orient = _guess_orient(data, expected)
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
        return _keyed_frame(data, orient)
    raise ValueError(f"unknown JSON orient {orient!r}")


def _keyed_frame(data: Any, orient: str) -> pl.DataFrame:
    """A frame from an object of columns (``columns``) or of rows (``index``)."""
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
        raise ValueError(undecodable(raw, exc, encoding)) from exc
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
        return scan_ndjson(paths, options, hints)
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


def _bad_line(path: str, options: Mapping[str, Any], reason: str) -> str | None:
    return bad_json_line(path) if options.get("lines") else None


JSON = Format(
    "json",
    (".json",),
    Capabilities(
        text=True,
        layouts=frozenset({"file", "dataset"}),
        read_options=frozenset({"orient", "lines", "date_unit", "encoding"}),
        write_options=frozenset({"orient", "lines", "indent", "date_format", "date_unit"}),
        duckdb_reader="read_json",
    ),
    _scan_json,
    _write_json,
    explain=_bad_line,
)
