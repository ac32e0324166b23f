"""One table for every dtype spelling a schema may use.

A schema column's ``type`` may be written the pandas way (``object``, ``int64``, ``Int64``,
``datetime64[ns, UTC]``, ``category`` …) or the Polars way (``String``, ``Int32``,
``Datetime``…). Each spelling maps to exactly one :class:`DType`: the Polars dtype the engine
casts to, plus the pandas dtype the facade hands back (``None`` means "whatever pandas' own
reader gives for that Arrow type", e.g. ``float64`` for an integer column with nulls).
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass

import polars as pl

__all__ = ["INTEGER_DTYPES", "DType", "dtype_names", "parse_dtype", "schema_spelling"]


@dataclass(frozen=True)
class DType:
    """A resolved schema dtype.

    Attributes:
        spelling: The text the schema used (kept for messages).
        polars: The engine dtype values are cast to.
        pandas: The pandas dtype the facade produces, or ``None`` for pandas' reader default.
    """

    spelling: str
    polars: pl.DataType
    pandas: str | None = None

    def __str__(self) -> str:
        return self.spelling


def _dt(unit: str, tz: str | None = None) -> pl.DataType:
    return pl.Datetime(time_unit=unit, time_zone=tz)  # type: ignore[arg-type]


# Polars' integer dtypes (classes: ``isinstance`` and ``in`` match any instance)
INTEGER_DTYPES = (
    pl.Int8,
    pl.Int16,
    pl.Int32,
    pl.Int64,
    pl.UInt8,
    pl.UInt16,
    pl.UInt32,
    pl.UInt64,
)


# spelling -> (polars dtype, pandas dtype or None). Keys are matched exactly first, then
# case-insensitively (so ``INT64`` works, while ``Int64`` and ``int64`` stay distinct).
_TABLE: dict[str, tuple[pl.DataType, str | None]] = {
    # strings: pandas 3 readers give the Arrow-backed ``str`` dtype for all of these
    "object": (pl.String(), None),
    "str": (pl.String(), None),
    # ``string`` is pandas' NA-semantics StringDtype, as ``astype("string")`` gives
    "string": (pl.String(), "string"),
    "string[pyarrow]": (pl.String(), "string[pyarrow]"),
    "string[python]": (pl.String(), "string[python]"),
    "utf8": (pl.String(), None),
    "String": (pl.String(), None),
    "Utf8": (pl.String(), None),
    # numpy integers: nulls make pandas' readers give float64, as they do here
    "int8": (pl.Int8(), None),
    "int16": (pl.Int16(), None),
    "int32": (pl.Int32(), None),
    "int64": (pl.Int64(), None),
    "int": (pl.Int64(), None),
    "uint8": (pl.UInt8(), None),
    "uint16": (pl.UInt16(), None),
    "uint32": (pl.UInt32(), None),
    "uint64": (pl.UInt64(), None),
    # pandas nullable integers (also the Polars names, which agree on the engine side)
    "Int8": (pl.Int8(), "Int8"),
    "Int16": (pl.Int16(), "Int16"),
    "Int32": (pl.Int32(), "Int32"),
    "Int64": (pl.Int64(), "Int64"),
    "UInt8": (pl.UInt8(), "UInt8"),
    "UInt16": (pl.UInt16(), "UInt16"),
    "UInt32": (pl.UInt32(), "UInt32"),
    "UInt64": (pl.UInt64(), "UInt64"),
    # floats
    "float16": (pl.Float32(), None),
    "float32": (pl.Float32(), None),
    "float64": (pl.Float64(), None),
    "float": (pl.Float64(), None),
    "double": (pl.Float64(), None),
    "Float32": (pl.Float32(), "Float32"),
    "Float64": (pl.Float64(), "Float64"),
    # booleans: ``bool`` keeps pandas' reader default (object when nulls are present)
    "bool": (pl.Boolean(), None),
    "boolean": (pl.Boolean(), "boolean"),
    "Boolean": (pl.Boolean(), "boolean"),
    # temporal
    "datetime64[ns]": (_dt("ns"), None),
    "datetime64[us]": (_dt("us"), None),
    "datetime64[ms]": (_dt("ms"), None),
    "datetime64[s]": (_dt("ms"), None),  # Polars has no seconds unit; ms holds every second
    "datetime64": (_dt("ns"), None),
    "datetime": (_dt("ns"), None),
    "Datetime": (_dt("us"), None),
    "timestamp": (_dt("ns"), None),
    "date": (pl.Date(), None),
    "Date": (pl.Date(), None),
    "timedelta64[ns]": (pl.Duration("ns"), None),
    "timedelta64[us]": (pl.Duration("us"), None),
    "timedelta64[ms]": (pl.Duration("ms"), None),
    "Duration": (pl.Duration("us"), None),
    "time": (pl.Time(), None),
    "Time": (pl.Time(), None),
    # categoricals
    "category": (pl.Categorical(), None),
    "Categorical": (pl.Categorical(), None),
    # binary
    "bytes": (pl.Binary(), None),
    "Binary": (pl.Binary(), None),
}

_LOWER: dict[str, str] = {}
for _k in _TABLE:
    _LOWER.setdefault(_k.lower(), _k)

# datetime64[ns, UTC], datetime64[us, Europe/London], Datetime(ns, UTC) …
_TZ_RE = re.compile(
    r"^(?:datetime64|datetime|timestamp)\[\s*(ns|us|ms|s)\s*,\s*([^\]]+?)\s*\]$", re.IGNORECASE
)
_POLARS_DT_RE = re.compile(
    r"^Datetime\(\s*(?:time_unit\s*=\s*)?['\"]?(ns|us|ms)['\"]?"
    r"(?:\s*,\s*(?:time_zone\s*=\s*)?['\"]?([^'\")]+?)['\"]?)?\s*\)$"
)


def parse_dtype(spelling: str) -> DType | None:
    """Resolve a schema dtype spelling, or return ``None`` when it is unknown.

    Args:
        spelling: The ``type`` text from a schema.

    Returns:
        The resolved :class:`DType`, or ``None`` if the spelling is not in the table.
    """
    text = spelling.strip()
    entry = _TABLE.get(text)
    if entry is None:
        key = _LOWER.get(text.lower())
        entry = _TABLE.get(key) if key is not None else None
    if entry is not None:
        return DType(text, entry[0], entry[1])
    m = _TZ_RE.match(text) or _POLARS_DT_RE.match(text)
    if m:
        unit, tz = m.group(1).lower(), (m.group(2) or "").strip() or None
        if unit == "s":  # Polars has no seconds unit; ms holds every second exactly
            unit = "ms"
        if m.group(2) is not None and not _known_zone(tz):
            return None
        return DType(text, _dt(unit, tz), None)
    return None


def _known_zone(tz: str | None) -> bool:
    if not tz:
        return False
    if re.fullmatch(r"[+-]\d{2}:\d{2}", tz):
        return True
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def dtype_names() -> list[str]:
    """Every spelling the table knows (for messages and documentation)."""
    return [*_TABLE, "datetime64[<unit>, <tz>]", "Datetime(<unit>, <tz>)"]


def schema_spelling(dtype: pl.DataType) -> str:
    """The schema spelling dynio writes for a Polars dtype (used by schema inference).

    Prefers the pandas spellings dynamicio users know.
    """
    if isinstance(dtype, pl.Datetime):
        unit = dtype.time_unit
        return (
            f"datetime64[{unit}, {dtype.time_zone}]" if dtype.time_zone else f"datetime64[{unit}]"
        )
    if isinstance(dtype, pl.Duration):
        return f"timedelta64[{dtype.time_unit}]"
    simple: dict[type[pl.DataType], str] = {
        pl.String: "str",
        pl.Int8: "int8",
        pl.Int16: "int16",
        pl.Int32: "int32",
        pl.Int64: "int64",
        pl.UInt8: "uint8",
        pl.UInt16: "uint16",
        pl.UInt32: "uint32",
        pl.UInt64: "uint64",
        pl.Float32: "float32",
        pl.Float64: "float64",
        pl.Boolean: "bool",
        pl.Date: "date",
        pl.Time: "time",
        pl.Categorical: "category",
        pl.Enum: "category",
        pl.Binary: "bytes",
    }
    for cls, name in simple.items():
        if isinstance(dtype, cls):
            return name
    return str(dtype)
