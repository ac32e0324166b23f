"""The dtype spelling table (engine/dtypes.py): schema spellings -> Polars dtype + pandas hint."""

from __future__ import annotations

import polars as pl
import pytest

from dynio.engine.dtypes import DType, dtype_names, parse_dtype, schema_spelling

# spelling -> (Polars dtype the engine casts to, pandas dtype the facade hands back or None)
EXPECTED: dict[str, tuple[pl.DataType, str | None]] = {
    # strings
    "object": (pl.String(), None),
    "str": (pl.String(), None),
    "string": (pl.String(), "string"),
    "string[pyarrow]": (pl.String(), "string[pyarrow]"),
    "string[python]": (pl.String(), "string[python]"),
    "utf8": (pl.String(), None),
    "String": (pl.String(), None),
    "Utf8": (pl.String(), None),
    # numpy integers
    "int8": (pl.Int8(), None),
    "int16": (pl.Int16(), None),
    "int32": (pl.Int32(), None),
    "int64": (pl.Int64(), None),
    "int": (pl.Int64(), None),
    "uint8": (pl.UInt8(), None),
    "uint16": (pl.UInt16(), None),
    "uint32": (pl.UInt32(), None),
    "uint64": (pl.UInt64(), None),
    # pandas nullable integers / Polars names
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
    # booleans
    "bool": (pl.Boolean(), None),
    "boolean": (pl.Boolean(), "boolean"),
    "Boolean": (pl.Boolean(), "boolean"),
    # temporal
    "datetime64[ns]": (pl.Datetime("ns"), None),
    "datetime64[us]": (pl.Datetime("us"), None),
    "datetime64[ms]": (pl.Datetime("ms"), None),
    "datetime64[s]": (pl.Datetime("ms"), None),
    "datetime64": (pl.Datetime("ns"), None),
    "datetime": (pl.Datetime("ns"), None),
    "Datetime": (pl.Datetime("us"), None),
    "timestamp": (pl.Datetime("ns"), None),
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


def _same_dtype(a: pl.DataType, b: pl.DataType) -> bool:
    if isinstance(a, pl.Categorical) and isinstance(b, pl.Categorical):
        return True
    return bool(a == b) and type(a) is type(b)


@pytest.mark.parametrize(("spelling", "expected"), list(EXPECTED.items()), ids=list(EXPECTED))
def test_every_table_spelling(spelling: str, expected: tuple[pl.DataType, str | None]) -> None:
    dtype = parse_dtype(spelling)
    assert isinstance(dtype, DType)
    polars_dtype, pandas_hint = expected
    assert _same_dtype(dtype.polars, polars_dtype), (spelling, dtype.polars, polars_dtype)
    assert dtype.pandas == pandas_hint
    assert dtype.spelling == spelling
    assert str(dtype) == spelling


def test_the_expected_table_covers_every_known_spelling() -> None:
    # every plain spelling the module advertises is checked above (the two patterns aside)
    plain = [n for n in dtype_names() if "<" not in n]
    assert sorted(plain) == sorted(EXPECTED)
    assert "datetime64[<unit>, <tz>]" in dtype_names()
    assert "Datetime(<unit>, <tz>)" in dtype_names()


@pytest.mark.parametrize(
    ("spelling", "unit", "tz"),
    [
        ("datetime64[ns, UTC]", "ns", "UTC"),
        ("datetime64[us, Europe/London]", "us", "Europe/London"),
        ("datetime64[ms, America/New_York]", "ms", "America/New_York"),
        ("datetime64[ns,UTC]", "ns", "UTC"),
        ("datetime64[ ns , UTC ]", "ns", "UTC"),
        ("DATETIME64[NS, UTC]", "ns", "UTC"),
        ("timestamp[us, UTC]", "us", "UTC"),
        ("datetime[ms, Asia/Tokyo]", "ms", "Asia/Tokyo"),
        # seconds: Polars has no unit for it, milliseconds hold every second exactly
        ("datetime64[s, UTC]", "ms", "UTC"),
        ("Datetime(ns, UTC)", "ns", "UTC"),
        ("Datetime('us', 'Europe/London')", "us", "Europe/London"),
        ('Datetime(time_unit="ms", time_zone="UTC")', "ms", "UTC"),
        ("Datetime(ns)", "ns", None),
        ('Datetime(time_unit="us")', "us", None),
    ],
)
def test_datetime_with_time_zone_patterns(spelling: str, unit: str, tz: str | None) -> None:
    dtype = parse_dtype(spelling)
    assert dtype is not None
    assert dtype.polars == pl.Datetime(unit, tz)  # type: ignore[arg-type]
    assert dtype.polars.time_zone == tz  # type: ignore[attr-defined]
    assert dtype.pandas is None
    assert dtype.spelling == spelling


def test_seconds_unit_is_accepted_with_and_without_time_zone() -> None:
    # datetime64[s] is a pandas dtype (pandas >= 2); the tz-aware form maps s -> ms, so must the
    # naive form
    aware = parse_dtype("datetime64[s, UTC]")
    naive = parse_dtype("datetime64[s]")
    assert aware is not None
    assert aware.polars == pl.Datetime("ms", "UTC")
    assert naive is not None
    assert naive.polars == pl.Datetime("ms")


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("INT64", "int64"),
        ("INT32", "int32"),
        ("FLOAT64", "float64"),
        ("FLOAT", "float"),
        ("BOOL", "bool"),
        ("BOOLEAN", "boolean"),
        ("OBJECT", "object"),
        ("STR", "str"),
        ("CATEGORY", "category"),
        ("DATE", "date"),
        ("DATETIME64[NS]", "datetime64[ns]"),
        ("UINT8", "uint8"),
        ("Double", "double"),
        ("categorical", "Categorical"),
        ("binary", "Binary"),
        ("duration", "Duration"),
    ],
)
def test_case_insensitive_fallback(spelling: str, canonical: str) -> None:
    dtype = parse_dtype(spelling)
    want = parse_dtype(canonical)
    assert dtype is not None
    assert want is not None
    assert _same_dtype(dtype.polars, want.polars)
    assert dtype.pandas == want.pandas
    assert dtype.spelling == spelling  # the user's text is kept for messages


def test_exact_match_wins_over_case_insensitive() -> None:
    # Int64 (pandas nullable) and int64 (numpy) stay distinct
    nullable, numpy = parse_dtype("Int64"), parse_dtype("int64")
    assert nullable is not None
    assert numpy is not None
    assert nullable.pandas == "Int64"
    assert numpy.pandas is None
    # an upper-case spelling falls back to the first table entry: the numpy one
    upper = parse_dtype("INT64")
    assert upper is not None
    assert upper.pandas is None
    assert upper.polars == pl.Int64()
    # "boolean"/"Boolean" both carry the nullable pandas hint; "bool" does not
    assert parse_dtype("Boolean").pandas == "boolean"  # type: ignore[union-attr]
    assert parse_dtype("bool").pandas is None  # type: ignore[union-attr]


def test_surrounding_whitespace_is_ignored() -> None:
    dtype = parse_dtype("  int64 ")
    assert dtype is not None
    assert dtype.polars == pl.Int64()
    assert dtype.spelling == "int64"


@pytest.mark.parametrize(
    "spelling",
    [
        "",
        "   ",
        "nope",
        "int63",
        "decimal",
        "list",
        "float64[pyarrow]",
        "int64[pyarrow]",
        "datetime64[D]",
        "datetime64[ns, UTC",
        "Datetime(xs, UTC)",
        "intt64",
    ],
)
def test_unknown_spellings_give_none(spelling: str) -> None:
    assert parse_dtype(spelling) is None


@pytest.mark.parametrize("spelling", ["datetime64[ns, Not/AZone]", "datetime64[ns, ]"])
def test_unknown_time_zone_is_an_unknown_spelling(spelling: str) -> None:
    # a zone Polars cannot use would only fail at the first cast, not when the catalog loads
    assert parse_dtype(spelling) is None


def test_dtype_is_frozen_and_hashable() -> None:
    dtype = parse_dtype("int64")
    assert dtype is not None
    with pytest.raises(AttributeError):
        dtype.spelling = "x"  # type: ignore[misc]
    assert parse_dtype("int64") == dtype


# ---------------------------------------------------------------------------- schema_spelling


@pytest.mark.parametrize(
    ("dtype", "spelling"),
    [
        (pl.String(), "str"),
        (pl.Int8(), "int8"),
        (pl.Int16(), "int16"),
        (pl.Int32(), "int32"),
        (pl.Int64(), "int64"),
        (pl.UInt8(), "uint8"),
        (pl.UInt16(), "uint16"),
        (pl.UInt32(), "uint32"),
        (pl.UInt64(), "uint64"),
        (pl.Float32(), "float32"),
        (pl.Float64(), "float64"),
        (pl.Boolean(), "bool"),
        (pl.Date(), "date"),
        (pl.Time(), "time"),
        (pl.Categorical(), "category"),
        (pl.Enum(["a", "b"]), "category"),
        (pl.Binary(), "bytes"),
        (pl.Datetime("ns"), "datetime64[ns]"),
        (pl.Datetime("us"), "datetime64[us]"),
        (pl.Datetime("ms"), "datetime64[ms]"),
        (pl.Datetime("ns", "UTC"), "datetime64[ns, UTC]"),
        (pl.Datetime("us", "Europe/London"), "datetime64[us, Europe/London]"),
        (pl.Duration("ns"), "timedelta64[ns]"),
        (pl.Duration("us"), "timedelta64[us]"),
        (pl.Duration("ms"), "timedelta64[ms]"),
    ],
    ids=str,
)
def test_schema_spelling(dtype: pl.DataType, spelling: str) -> None:
    assert schema_spelling(dtype) == spelling


ROUND_TRIP = [
    pl.String(),
    pl.Int8(),
    pl.Int16(),
    pl.Int32(),
    pl.Int64(),
    pl.UInt8(),
    pl.UInt16(),
    pl.UInt32(),
    pl.UInt64(),
    pl.Float32(),
    pl.Float64(),
    pl.Boolean(),
    pl.Date(),
    pl.Time(),
    pl.Categorical(),
    pl.Binary(),
    pl.Datetime("ns"),
    pl.Datetime("us"),
    pl.Datetime("ms"),
    pl.Datetime("ns", "UTC"),
    pl.Datetime("us", "Europe/London"),
    pl.Datetime("ms", "America/New_York"),
    pl.Duration("ns"),
    pl.Duration("us"),
    pl.Duration("ms"),
]


@pytest.mark.parametrize("dtype", ROUND_TRIP, ids=str)
def test_schema_spelling_round_trips_through_parse_dtype(dtype: pl.DataType) -> None:
    # schema inference writes schema_spelling(dtype); loading that schema must give the dtype back
    spelling = schema_spelling(dtype)
    parsed = parse_dtype(spelling)
    assert parsed is not None, f"schema_spelling({dtype}) = {spelling!r} does not parse"
    assert _same_dtype(parsed.polars, dtype), (dtype, spelling, parsed.polars)


def test_enum_round_trips_to_categorical() -> None:
    parsed = parse_dtype(schema_spelling(pl.Enum(["x"])))
    assert parsed is not None
    assert isinstance(parsed.polars, pl.Categorical)
