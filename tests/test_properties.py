"""Property-based tests (hypothesis).

(a) engine filtering (pushed into the scan) equals filtering after collect;
(b) casts round-trip or fail exactly as the safe cast policy says;
(c) the pandas hand-off keeps values and gives the dtypes pandas' own readers give.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import tempfile
import textwrap
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.io import _util as _pandas_io_util  # type: ignore[attr-defined,unused-ignore]
from polars.testing import assert_frame_equal

import dynio
from dynio import handoff
from dynio.engine.casts import cast_expr
from dynio.engine.loader import parse_schema

# When an example fails, hypothesis' pytest plugin imports its patch writer, which imports libcst,
# which warns (DeprecationWarning from mypy_extensions); under ``filterwarnings = error`` that
# turns a failing property into a pytest INTERNALERROR. Import it once here, warnings ignored.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    with contextlib.suppress(ImportError):  # no libcst: the plugin skips patches anyway
        import hypothesis.extra._patching  # noqa: F401

SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

INT53 = 2**53 - 1

# ============================================================ (a) filters: pushed == after collect

INTS = st.integers(-50, 50)
FLOATS = st.floats(-100, 100, allow_nan=False, allow_infinity=False, width=64)
TEXTS = st.text(alphabet="abcAB z", min_size=0, max_size=3)
BOOLS = st.booleans()

COLUMNS: dict[str, tuple[Any, pl.DataType]] = {
    "i": (INTS, pl.Int64()),
    "f": (FLOATS, pl.Float64()),
    "s": (TEXTS, pl.String()),
    "b": (BOOLS, pl.Boolean()),
}
ORDERED_OPS = ["=", "==", "!=", "<", "<=", ">", ">=", "in", "not in", "is null", "is not null"]
BOOL_OPS = ["=", "!=", "in", "not in", "is null", "is not null"]


@st.composite
def frames(draw: st.DrawFn) -> pl.DataFrame:
    n = draw(st.integers(0, 25))
    data: dict[str, pl.Series] = {
        "i": pl.Series("i", draw(st.lists(st.none() | INTS, min_size=n, max_size=n)), pl.Int64),
        "f": pl.Series(
            "f",
            draw(st.lists(st.none() | st.just(math.nan) | FLOATS, min_size=n, max_size=n)),
            pl.Float64,
        ),
        "s": pl.Series("s", draw(st.lists(st.none() | TEXTS, min_size=n, max_size=n)), pl.String),
        "b": pl.Series("b", draw(st.lists(st.none() | BOOLS, min_size=n, max_size=n)), pl.Boolean),
    }
    return pl.DataFrame(list(data.values()))


@st.composite
def conditions(draw: st.DrawFn, frame: pl.DataFrame) -> tuple[Any, ...]:
    column = draw(st.sampled_from(sorted(COLUMNS)))
    values, _ = COLUMNS[column]
    present = [v for v in frame[column].to_list() if v is not None and v == v]
    value_st = st.sampled_from(present) | values if present else values
    op = draw(st.sampled_from(BOOL_OPS if column == "b" else ORDERED_OPS))
    if op in ("is null", "is not null"):
        return (column, op)
    if op in ("in", "not in"):
        return (column, op, draw(st.lists(value_st, max_size=4)))
    return (column, op, draw(value_st))


@st.composite
def filter_specs(draw: st.DrawFn, frame: pl.DataFrame) -> list[Any]:
    if draw(st.booleans()):  # AND list
        return draw(st.lists(conditions(frame), min_size=1, max_size=3))
    groups = st.lists(conditions(frame), min_size=1, max_size=3)
    return draw(st.lists(groups, min_size=1, max_size=3))  # DNF


def _reference_condition(cond: tuple[Any, ...]) -> pl.Expr:
    """The condition written independently of dynio: rows whose cell is null never match a
    comparison or (not) in (SQL semantics); NaN follows Polars' float ordering."""
    col = pl.col(cond[0])
    op = cond[1]
    if op == "is null":
        return col.is_null()
    if op == "is not null":
        return col.is_not_null()
    value = cond[2]
    if op in ("in", "not in"):
        hits = [(col == v) for v in value]
        any_hit = pl.any_horizontal(hits) if hits else pl.lit(False)
        matched = any_hit if op == "in" else ~any_hit
        return col.is_not_null() & matched.fill_null(False)
    expr = {
        "=": col == value,
        "==": col == value,
        "!=": col != value,
        "<": col < value,
        "<=": col <= value,
        ">": col > value,
        ">=": col >= value,
    }[op]
    return expr.fill_null(False)


def _reference(spec: list[Any]) -> pl.Expr:
    if all(isinstance(c, tuple) for c in spec):
        return pl.all_horizontal([_reference_condition(c) for c in spec])
    return pl.any_horizontal(
        [pl.all_horizontal([_reference_condition(c) for c in group]) for group in spec]
    )


def _filter_catalog(root: Path) -> dynio.Catalog:
    schema = "    columns: {i: {type: int64}, f: {type: float64}, s: {type: str}, b: {type: bool}}"
    text = ""
    for fmt in ("parquet", "csv"):
        text += textwrap.dedent(f"""
            r_{fmt}:
              local:
                type: local
                local: {{file_path: data.{fmt}, file_type: {fmt}}}
              schema:
            """)
        text += schema + "\n"
    path = root / "resources.yaml"
    path.write_text(text, encoding="utf-8")
    return dynio.Catalog.from_yaml(path, env="local")


@SETTINGS
@given(data=st.data())
def test_engine_filtering_equals_filtering_after_collect(data: st.DataObject) -> None:
    frame = data.draw(frames(), label="frame")
    spec = data.draw(filter_specs(frame), label="filters")
    with tempfile.TemporaryDirectory() as tmp:
        cat = _filter_catalog(Path(tmp))
        for fmt in ("parquet", "csv"):
            name = f"r_{fmt}"
            cat.write(name, frame)
            everything = cat.read_polars(name)
            assert everything.height == frame.height
            expected = everything.filter(_reference(spec))
            got = cat.read_polars(name, filters=spec)
            assert_frame_equal(got, expected, check_exact=True)
            # the same through scan() and through the pandas facade
            assert_frame_equal(cat.scan(name, filters=spec).collect(), expected, check_exact=True)
            pdf = cat.read(name, filters=spec)
            assert len(pdf) == expected.height
            assert list(pdf.columns) == expected.columns


@SETTINGS
@given(data=st.data())
def test_parquet_filter_equals_filter_after_collect_with_text_literals(
    data: st.DataObject,
) -> None:
    # numbers given as text are converted to the column's dtype before comparing
    frame = data.draw(frames(), label="frame")
    column = data.draw(st.sampled_from(["i", "f"]))
    op = data.draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
    value = data.draw(INTS if column == "i" else FLOATS)
    with tempfile.TemporaryDirectory() as tmp:
        cat = _filter_catalog(Path(tmp))
        cat.write("r_parquet", frame)
        expected = cat.read_polars("r_parquet").filter(_reference_condition((column, op, value)))
        got = cat.read_polars("r_parquet", filters=[(column, op, repr(value))])
        assert_frame_equal(got, expected, check_exact=True)


# ============================================================================= (b) cast policy


def _cast(values: list[Any], source: pl.DataType, target: pl.DataType, strict: bool) -> list[Any]:
    frame = pl.DataFrame({"x": pl.Series("x", values, dtype=source)})
    return frame.select(cast_expr(pl.col("x"), source, target, strict))["x"].to_list()


@SETTINGS
@given(st.lists(st.none() | st.integers(-INT53, INT53), max_size=30))
def test_int64_to_float64_and_back_round_trips(values: list[int | None]) -> None:
    as_float = _cast(values, pl.Int64(), pl.Float64(), True)
    assert as_float == [None if v is None else float(v) for v in values]
    back = _cast(as_float, pl.Float64(), pl.Int64(), True)
    assert back == values


def _fits_int64(v: float) -> bool:
    return math.isfinite(v) and v.is_integer() and -(2**63) <= v < 2**63


FLOAT_VALUES = st.one_of(
    st.none(),
    st.integers(-(2**70), 2**70).map(float),  # whole numbers, some beyond int64
    st.integers(-1000, 1000).map(float),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([2.0**63, -(2.0**63), 2.0**63 - 1024, 0.5, -0.0, math.inf, math.nan]),
)


@SETTINGS
@given(st.lists(FLOAT_VALUES, max_size=20))
def test_float64_to_int64_succeeds_iff_every_value_is_integral_and_in_range(
    values: list[float | None],
) -> None:
    present = [v for v in values if v is not None and not math.isnan(v)]
    should_fit = all(_fits_int64(v) for v in present)
    expected = [None if v is None or math.isnan(v) else v for v in values]
    try:
        got = _cast(values, pl.Float64(), pl.Int64(), True)
    except pl.exceptions.PolarsError:
        assert not should_fit, f"safe cast refused values that fit: {present}"
        return
    assert should_fit, f"safe cast accepted values that do not fit: {values} -> {got}"
    assert got == [None if v is None else int(v) for v in expected]


@SETTINGS
@given(st.lists(FLOAT_VALUES, max_size=20))
def test_lossy_float64_to_int64_nulls_exactly_the_misfits(values: list[float | None]) -> None:
    got = _cast(values, pl.Float64(), pl.Int64(), False)
    assert got == [
        int(v) if v is not None and not math.isnan(v) and _fits_int64(v) else None for v in values
    ]


@SETTINGS
@given(st.lists(st.none() | st.integers(-(2**63), 2**63 - 1), max_size=20))
def test_int64_text_round_trips_exactly(values: list[int | None]) -> None:
    text = [None if v is None else str(v) for v in values]
    assert _cast(text, pl.String(), pl.Int64(), True) == values


NS_RANGE = st.integers(-(2**62), 2**62)


@SETTINGS
@given(
    st.lists(st.none() | NS_RANGE | NS_RANGE.map(lambda v: v - v % 1_000_000), max_size=20),
    st.sampled_from(["us", "ms"]),
)
def test_ns_to_coarser_unit_succeeds_iff_nothing_is_dropped(
    values: list[int | None], unit: str
) -> None:
    step = {"us": 1_000, "ms": 1_000_000}[unit]
    source = pl.Datetime("ns")
    target = pl.Datetime(unit)  # type: ignore[arg-type]
    frame = pl.DataFrame({"x": pl.Series("x", values, pl.Int64).cast(source)})
    should_fit = all(v % step == 0 for v in values if v is not None)
    try:
        out = frame.select(cast_expr(pl.col("x"), source, target, True))["x"]
    except pl.exceptions.PolarsError:
        assert not should_fit
        return
    assert should_fit
    assert out.dtype == target
    assert out.cast(pl.Int64).to_list() == [None if v is None else v // step for v in values]


# ========================================================================= (c) pandas hand-off

SAFE_INTS = st.integers(-INT53, INT53)
DATES = st.dates(dt.date(1900, 1, 1), dt.date(2200, 12, 31))
DATETIMES = st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2200, 12, 31))
HANDOFF_KINDS = ["int", "int_nulls", "float", "str", "bool", "bool_nulls", "date", "dt", "dt_utc"]


@st.composite
def handoff_frames(draw: st.DrawFn, big_ints: bool = False) -> pl.DataFrame:
    n = draw(st.integers(0, 12))
    kinds = draw(st.lists(st.sampled_from(HANDOFF_KINDS), min_size=1, max_size=6))
    ints = st.integers(-(2**63), 2**63 - 1) if big_ints else SAFE_INTS

    def col(elements: Any, nulls: bool) -> list[Any]:
        item = st.none() | elements if nulls else elements
        return draw(st.lists(item, min_size=n, max_size=n))

    series = []
    for k, kind in enumerate(kinds):
        name = f"{kind}_{k}"
        if kind == "int":
            series.append(pl.Series(name, col(ints, False), pl.Int64))
        elif kind == "int_nulls":
            series.append(pl.Series(name, col(ints, True), pl.Int64))
        elif kind == "float":
            floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
            series.append(pl.Series(name, col(floats, True), pl.Float64))
        elif kind == "str":
            series.append(pl.Series(name, col(st.text(max_size=5), True), pl.String))
        elif kind == "bool":
            series.append(pl.Series(name, col(st.booleans(), False), pl.Boolean))
        elif kind == "bool_nulls":
            series.append(pl.Series(name, col(st.booleans(), True), pl.Boolean))
        elif kind == "date":
            series.append(pl.Series(name, col(DATES, True), pl.Date))
        elif kind == "dt":
            series.append(pl.Series(name, col(DATETIMES, True), pl.Datetime("us")))
        else:
            naive = pl.Series(name, col(DATETIMES, True), pl.Datetime("us"))
            series.append(naive.dt.replace_time_zone("UTC"))
    return pl.DataFrame(series)


def _nan_to_null(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col(pl.Float64).fill_nan(None))


@SETTINGS
@given(handoff_frames())
def test_handoff_numpy_gives_pandas_reader_dtypes_and_keeps_values(frame: pl.DataFrame) -> None:
    pdf = handoff.to_pandas(frame)
    reader = frame.to_arrow().to_pandas()
    assert list(pdf.columns) == frame.columns
    assert pdf.dtypes.to_dict() == reader.dtypes.to_dict()
    pd.testing.assert_frame_equal(pdf, reader)
    back = pl.from_pandas(pdf)
    # numpy columns cannot hold null ints (float64) nor tell NaN from null: compare accordingly
    back = back.with_columns([pl.col(c).cast(frame.schema[c], strict=True) for c in frame.columns])
    assert_frame_equal(back, _nan_to_null(frame), check_exact=True)


@SETTINGS
@given(handoff_frames(big_ints=True))
def test_handoff_numpy_nullable_keeps_values_and_dtypes(frame: pl.DataFrame) -> None:
    pdf = handoff.to_pandas(frame, dtype_backend="numpy_nullable")
    for name, dtype in frame.schema.items():
        if dtype == pl.Int64():
            assert pdf[name].dtype == "Int64"
        elif dtype == pl.Boolean():
            assert pdf[name].dtype == "boolean"
        elif dtype == pl.Float64():
            assert pdf[name].dtype == "Float64"
    back = pl.from_pandas(pdf)
    # dates are object columns (as pandas' reader gives them); an empty one reads back as text.
    # pandas 2.2's own nullable mapping leaves Arrow large_string (Polars' text) as object too
    objects = [c for c in frame.columns if pdf[c].dtype == object]
    text_objects = pa.large_string() not in _pandas_io_util._arrow_dtype_mapping()
    dates = [c for c in objects if frame.schema[c] == pl.Date()]
    assert all(c in dates or (text_objects and frame.schema[c] == pl.String()) for c in objects)
    back = back.with_columns([pl.col(c).cast(pl.Date, strict=True) for c in dates])
    back = back.with_columns([pl.col(c).cast(pl.String) for c in objects if c not in dates])
    assert back.schema == frame.schema
    assert_frame_equal(_nan_to_null(back), _nan_to_null(frame), check_exact=True)


@SETTINGS
@given(handoff_frames(big_ints=True))
def test_handoff_pyarrow_keeps_values_and_dtypes_exactly(frame: pl.DataFrame) -> None:
    pdf = handoff.to_pandas(frame, dtype_backend="pyarrow")
    assert all(isinstance(t, pd.ArrowDtype) for t in pdf.dtypes)
    back = pl.from_pandas(pdf)
    assert_frame_equal(back, frame, check_exact=True)


@SETTINGS
@given(handoff_frames())
def test_handoff_with_schema_honours_extension_dtypes(frame: pl.DataFrame) -> None:
    # columns the schema types with a pandas extension dtype get it; the others follow pandas'
    # reader
    spellings = {pl.Int64(): "Int64", pl.Boolean(): "boolean", pl.String(): "string"}
    typed = {
        name: {"type": spellings[dtype]}
        for name, dtype in frame.schema.items()
        if dtype in spellings
    }
    if not typed:
        return
    schema = parse_schema({"columns": typed})
    pdf = handoff.to_pandas(frame, schema)
    reader = frame.to_arrow().to_pandas()
    assert list(pdf.columns) == frame.columns
    for name in frame.columns:
        if name in typed:
            assert str(pdf[name].dtype) == str(typed[name]["type"]), name
            assert pdf[name].isna().tolist() == frame[name].is_null().to_list()
        else:
            assert pdf[name].dtype == reader[name].dtype, name
    back = pl.from_pandas(pdf).with_columns(
        [pl.col(c).cast(frame.schema[c], strict=True) for c in frame.columns]
    )
    assert_frame_equal(back, _nan_to_null(frame), check_exact=True)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(handoff_frames())
def test_catalog_read_matches_pandas_read_parquet(frame: pl.DataFrame) -> None:
    # a resource without a schema reads back exactly as pandas' own reader reads the file
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = root / "resources.yaml"
        path.write_text(
            "r:\n  local:\n    type: local\n"
            "    local: {file_path: r.parquet, file_type: parquet}\n",
            encoding="utf-8",
        )
        cat = dynio.Catalog.from_yaml(path, env="local")
        cat.write("r", frame)
        ours = cat.read("r")
        theirs = pd.read_parquet(root / "r.parquet")
        pd.testing.assert_frame_equal(ours, theirs)
        assert_frame_equal(cat.read_polars("r"), frame, check_exact=True)


def test_handoff_rejects_unknown_backend() -> None:
    with pytest.raises(dynio.DynioError, match="dtype_backend"):
        handoff.to_pandas(pl.DataFrame({"a": [1]}), dtype_backend="arrow")  # type: ignore[arg-type]
