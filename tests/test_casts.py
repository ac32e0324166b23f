"""The safe cast policy (engine/casts.py), directly and end to end through Catalog reads/writes.

A safe cast never changes a value silently: values that do not fit raise ``CastError`` naming the
resource, column, target type and a few offending values; ``cast: lossy`` turns them into nulls.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
import yaml

import dynio
from dynio.engine.casts import CastStep, cast_expr, diagnose, needs_cast, plan_casts
from dynio.engine.dtypes import parse_dtype
from dynio.engine.errors import CastError, DynioError

CatalogFrom = Callable[..., dynio.Catalog]

# ------------------------------------------------------------------------------------ helpers


def _dtype(spelling: str) -> Any:
    parsed = parse_dtype(spelling)
    assert parsed is not None, spelling
    return parsed


def cast(series: pl.Series, target: pl.DataType, *, strict: bool = True) -> list[Any]:
    """Run ``cast_expr`` on one series and return the values."""
    frame = pl.DataFrame([series])
    out = frame.select(cast_expr(pl.col(series.name), series.dtype, target, strict))
    return out.to_series().to_list()


def cast_dtype(series: pl.Series, target: pl.DataType, *, strict: bool = True) -> pl.DataType:
    frame = pl.DataFrame([series])
    return frame.select(cast_expr(pl.col(series.name), series.dtype, target, strict)).schema[
        series.name
    ]


def s(values: list[Any], dtype: Any = None) -> pl.Series:
    return pl.Series("x", values, dtype=dtype)


def resource_yaml(
    name: str, file: str, columns: dict[str, Any], file_type: str | None = None
) -> str:
    """One local resource in env ``local`` with an inline schema."""
    local: dict[str, Any] = {"file_path": file}
    if file_type is not None:
        local["file_type"] = file_type
    doc = {
        name: {
            "local": {"type": "local", "local": local},
            "schema": {"columns": columns},
        }
    }
    return yaml.safe_dump(doc, sort_keys=False)


def catalog_for(
    catalog_from: CatalogFrom, name: str, file: str, columns: dict[str, Any]
) -> dynio.Catalog:
    return catalog_from(resource_yaml(name, file, columns))


def write_csv_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


# ============================================================================ cast_expr directly


class TestSafeDirect:
    """Strict ``cast_expr``: values that fit convert exactly; the others raise."""

    def test_float_with_fraction_to_int_fails(self) -> None:
        with pytest.raises(pl.exceptions.PolarsError):
            cast(s([1.0, 1.7]), pl.Int64())

    def test_whole_floats_to_int_convert(self) -> None:
        assert cast(s([1.0, -2.0, 0.0, None]), pl.Int64()) == [1, -2, 0, None]
        assert cast_dtype(s([1.0]), pl.Int64()) == pl.Int64()

    def test_nan_to_int_becomes_null(self) -> None:
        assert cast(s([1.0, math.nan, None, 3.0]), pl.Int64()) == [1, None, None, 3]

    def test_float32_with_fraction_to_int_fails(self) -> None:
        with pytest.raises(pl.exceptions.PolarsError):
            cast(s([1.0, 2.5], pl.Float32), pl.Int32())
        assert cast(s([1.0, 2.0], pl.Float32), pl.Int32()) == [1, 2]

    @pytest.mark.parametrize("value", [2.0**63, -(2.0**64), 1e20])
    def test_float_out_of_int64_range_fails(self, value: float) -> None:
        with pytest.raises(pl.exceptions.PolarsError):
            cast(s([1.0, value]), pl.Int64())

    @pytest.mark.parametrize("value", [math.inf, -math.inf, 1e300])
    def test_infinite_or_huge_float_to_int_fails(self, value: float) -> None:
        # these do not fit any integer type either: they must not become null silently
        with pytest.raises(pl.exceptions.PolarsError):
            cast(s([1.0, value]), pl.Int64())

    def test_int_overflow_fails(self) -> None:
        with pytest.raises(pl.exceptions.PolarsError):
            cast(s([1, 300]), pl.Int8())
        with pytest.raises(pl.exceptions.PolarsError):
            cast(s([1, -129]), pl.Int8())
        assert cast(s([127, -128, None]), pl.Int8()) == [127, -128, None]

    def test_negative_to_unsigned_fails(self) -> None:
        with pytest.raises(pl.exceptions.PolarsError):
            cast(s([1, -1]), pl.UInt8())
        with pytest.raises(pl.exceptions.PolarsError):
            cast(s([-1.0]), pl.UInt8())

    def test_uint64_beyond_int64_fails(self) -> None:
        with pytest.raises(pl.exceptions.PolarsError):
            cast(s([2**64 - 1], pl.UInt64), pl.Int64())

    def test_text_to_int(self) -> None:
        assert cast(s(["1", " 2 ", "-3", None]), pl.Int64()) == [1, 2, -3, None]
        # other numerals go through float and must be whole numbers
        assert cast(s(["1.0", "1e3"]), pl.Int64()) == [1, 1000]
        assert cast(s(["9223372036854775807"]), pl.Int64()) == [2**63 - 1]

    @pytest.mark.parametrize("bad", ["x", "1.5", "1,000", "9223372036854775808", "300"])
    def test_text_that_is_not_a_fitting_int_fails(self, bad: str) -> None:
        target = pl.Int8() if bad == "300" else pl.Int64()
        with pytest.raises(pl.exceptions.PolarsError):
            cast(s(["1", bad]), target)

    def test_text_integral_float_beyond_2_53_is_not_rounded(self) -> None:
        # "9007199254740993.0" is the whole number 2**53 + 1; going through float64 would give
        # 2**53 silently -- a safe cast must give the exact value or refuse
        try:
            got = cast(s(["9007199254740993.0"]), pl.Int64())
        except pl.exceptions.PolarsError:
            return
        assert got == [9007199254740993]

    def test_categorical_text_to_int(self) -> None:
        assert cast(s(["1", "2.0", None], pl.Categorical), pl.Int64()) == [1, 2, None]

    def test_text_to_float(self) -> None:
        assert cast(s([" 1.5", "2", None]), pl.Float64()) == [1.5, 2.0, None]
        with pytest.raises(pl.exceptions.PolarsError):
            cast(s(["1.5", "abc"]), pl.Float64())

    def test_int_to_float_exact_below_2_53(self) -> None:
        values = [0, 1, -1, 2**53 - 1, -(2**53 - 1)]
        assert cast(s(values), pl.Float64()) == [float(v) for v in values]

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("true", True),
            ("False", False),
            ("TRUE", True),
            (" false ", False),
            ("1", True),
            ("0", False),
            ("t", True),
            ("f", False),
            ("yes", True),
            ("No", False),
            ("y", True),
            ("n", False),
        ],
    )
    def test_text_to_bool(self, text: str, expected: bool) -> None:
        assert cast(s([text, None]), pl.Boolean()) == [expected, None]

    @pytest.mark.parametrize("bad", ["maybe", "2", "", "tru", "nan"])
    def test_unknown_text_to_bool_fails(self, bad: str) -> None:
        with pytest.raises(pl.exceptions.PolarsError):
            cast(s(["true", bad]), pl.Boolean())

    def test_numbers_to_bool(self) -> None:
        assert cast(s([1, 0, None]), pl.Boolean()) == [True, False, None]
        assert cast(s([1.0, 0.0, None, math.nan]), pl.Boolean()) == [True, False, None, None]
        with pytest.raises(pl.exceptions.PolarsError):
            cast(s([0, 2]), pl.Boolean())
        with pytest.raises(pl.exceptions.PolarsError):
            cast(s([0.5]), pl.Boolean())

    def test_null_never_becomes_false(self) -> None:
        assert cast(s([None, None], pl.String), pl.Boolean()) == [None, None]
        assert cast(s([None, 1], pl.Int64), pl.Boolean()) == [None, True]
        assert cast(s([None, None], pl.Null), pl.Boolean()) == [None, None]

    def test_bool_to_int(self) -> None:
        assert cast(s([True, False, None]), pl.Int64()) == [1, 0, None]

    def test_datetime_with_time_of_day_to_date_fails(self) -> None:
        with pytest.raises(pl.exceptions.PolarsError):
            cast(s([dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2, 12, 30)]), pl.Date())

    def test_midnight_datetimes_to_date(self) -> None:
        values = [dt.datetime(2024, 1, 1), None, dt.datetime(2024, 2, 29)]
        assert cast(s(values), pl.Date()) == [dt.date(2024, 1, 1), None, dt.date(2024, 2, 29)]

    def test_aware_datetime_to_date_uses_local_day(self) -> None:
        # 2024-07-01 23:30 UTC is 00:30 on 2 July in London: not midnight there
        aware = s([dt.datetime(2024, 7, 1, 23, 0)]).dt.replace_time_zone("UTC")
        london = aware.dt.convert_time_zone("Europe/London")
        assert cast(london, pl.Date()) == [dt.date(2024, 7, 2)]
        with pytest.raises(pl.exceptions.PolarsError):
            cast(aware.dt.convert_time_zone("Europe/Paris"), pl.Date())

    def test_ns_to_ms_with_sub_ms_precision_fails(self) -> None:
        ns = s([1_704_067_200_000_000_000, 1_704_067_200_000_001_500]).cast(pl.Datetime("ns"))
        with pytest.raises(pl.exceptions.PolarsError):
            cast(ns, pl.Datetime("ms"))
        with pytest.raises(pl.exceptions.PolarsError):
            cast(ns, pl.Datetime("us"))

    def test_ns_to_ms_on_whole_ms(self) -> None:
        ns = s([1_704_067_200_001_000_000, None]).cast(pl.Datetime("ns"))
        assert cast(ns, pl.Datetime("ms")) == [dt.datetime(2024, 1, 1, 0, 0, 0, 1000), None]
        assert cast_dtype(ns, pl.Datetime("ms")) == pl.Datetime("ms")

    def test_us_to_ns_out_of_range_fails(self) -> None:
        far = s([dt.datetime(3000, 1, 1)], pl.Datetime("us"))
        with pytest.raises(pl.exceptions.PolarsError):
            cast(far, pl.Datetime("ns"))

    def test_naive_to_utc_localizes(self) -> None:
        naive = s([dt.datetime(2024, 1, 1, 12), None], pl.Datetime("us"))
        got = cast(naive, pl.Datetime("ns", "UTC"))
        assert got[0] == dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC)
        assert got[1] is None
        assert cast_dtype(naive, pl.Datetime("ns", "UTC")) == pl.Datetime("ns", "UTC")

    def test_naive_to_zone_localizes_wall_time(self) -> None:
        naive = s([dt.datetime(2024, 7, 1, 12)], pl.Datetime("us"))
        got = cast(naive, pl.Datetime("us", "Europe/London"))
        assert got[0].replace(tzinfo=None) == dt.datetime(2024, 7, 1, 12)
        assert got[0].utcoffset() == dt.timedelta(hours=1)

    @pytest.mark.parametrize("zone", ["Europe/London", "UTC", "Asia/Kolkata", "+05:00"])
    def test_aware_to_naive_fails_as_in_pandas(self, zone: str) -> None:
        aware = s([dt.datetime(2024, 7, 1, 12), None]).dt.replace_time_zone(zone)
        with pytest.raises(pl.exceptions.PolarsError):
            cast(aware, pl.Datetime("ns"))
        with pytest.raises(pl.exceptions.PolarsError):
            cast(aware, pl.Datetime("us"))
        assert cast(aware, pl.Datetime("ns"), strict=False) == [None, None]

    def test_zone_to_zone_converts(self) -> None:
        utc = s([dt.datetime(2024, 7, 1, 12)]).dt.replace_time_zone("UTC")
        got = cast(utc, pl.Datetime("us", "Europe/London"))
        assert got[0].replace(tzinfo=None) == dt.datetime(2024, 7, 1, 13)

    def test_aware_unit_change_at_ambiguous_local_time(self) -> None:
        # 00:30 UTC on 27 Oct 2024 is 01:30 BST, a wall time London sees twice; it is one instant
        # and a whole millisecond, so us -> ms in the same zone must simply work
        instant = s([dt.datetime(2024, 10, 27, 0, 30)], pl.Datetime("us")).dt.replace_time_zone(
            "UTC"
        )
        london = instant.dt.convert_time_zone("Europe/London")
        got = cast(london, pl.Datetime("ms", "Europe/London"))
        assert got[0].astimezone(dt.UTC) == dt.datetime(2024, 10, 27, 0, 30, tzinfo=dt.UTC)

    def test_iso_text_to_datetime(self) -> None:
        text = s(["2024-01-01T10:00:00", "2024-01-02 11:30:00", None])
        assert cast(text, pl.Datetime("ns")) == [
            dt.datetime(2024, 1, 1, 10),
            dt.datetime(2024, 1, 2, 11, 30),
            None,
        ]
        assert cast(s(["2024-01-01"]), pl.Datetime("us")) == [dt.datetime(2024, 1, 1)]

    def test_iso_text_keeps_nanoseconds(self) -> None:
        text = s(["2024-01-02T11:00:00.123456789"])
        frame = pl.DataFrame([text]).select(
            cast_expr(pl.col("x"), pl.String(), pl.Datetime("ns"), True)
        )
        assert frame["x"].dt.nanosecond().to_list() == [123_456_789]

    def test_iso_text_with_z_to_utc(self) -> None:
        got = cast(s(["2024-01-01T10:00:00Z"]), pl.Datetime("ns", "UTC"))
        assert got == [dt.datetime(2024, 1, 1, 10, tzinfo=dt.UTC)]

    @pytest.mark.parametrize(
        "text",
        [
            "2024-01-01T10:00:00+02:00",
            "2024-01-01T12:00:00+00:00",
            "2024-01-01 12:00:00Z",
            "2024-01-01T12:00:00.123-0530",
            "2024-01-01T12:00+01",
        ],
    )
    def test_iso_text_with_offset_to_naive_fails(self, text: str) -> None:
        # as for zoned datetimes: a naive type cannot hold the zone, and pandas refuses too
        with pytest.raises(pl.exceptions.PolarsError):
            cast(s(["2024-01-01T10:00:00", text]), pl.Datetime("ns"))
        assert cast(s([text]), pl.Datetime("us"), strict=False) == [None]
        assert cast(s([text]), pl.Datetime("ns", "UTC"))[0] is not None

    def test_iso_text_with_sub_unit_precision_to_coarser_unit_fails(self) -> None:
        # same rule as ns -> ms: digits the target unit cannot hold are not dropped silently
        with pytest.raises(pl.exceptions.PolarsError):
            cast(s(["2024-01-02T11:00:00.1234567"]), pl.Datetime("ms"))
        with pytest.raises(pl.exceptions.PolarsError):
            cast(s(["2024-01-02T11:00:00.123456789"]), pl.Datetime("us"))

    def test_iso_text_outside_the_ns_range_fails(self) -> None:
        # datetime64[ns] covers 1677-2262; "9999-12-31" (a common "open end" marker) must not
        # wrap around to some date in the 19th century
        with pytest.raises(pl.exceptions.PolarsError):
            cast(s(["2024-01-01", "9999-12-31"]), pl.Datetime("ns"))

    def test_bad_text_to_datetime_fails(self) -> None:
        with pytest.raises(pl.exceptions.PolarsError):
            cast(s(["2024-01-01", "not a date"]), pl.Datetime("ns"))
        with pytest.raises(pl.exceptions.PolarsError):
            cast(s(["2024-13-01"]), pl.Datetime("ns"))

    def test_text_to_date(self) -> None:
        assert cast(s(["2024-01-01", None]), pl.Date()) == [dt.date(2024, 1, 1), None]
        with pytest.raises(pl.exceptions.PolarsError):
            cast(s(["2024-01-01 10:00:00"]), pl.Date())

    def test_date_to_datetime(self) -> None:
        got = cast(s([dt.date(2024, 1, 1)]), pl.Datetime("ns", "UTC"))
        assert got == [dt.datetime(2024, 1, 1, tzinfo=dt.UTC)]
        assert cast(s([dt.date(2024, 1, 1)]), pl.Datetime("ms")) == [dt.datetime(2024, 1, 1)]

    def test_text_to_time(self) -> None:
        assert cast(s(["10:30:00"]), pl.Time()) == [dt.time(10, 30)]

    def test_anything_to_string_and_category(self) -> None:
        assert cast(s([1, None]), pl.String()) == ["1", None]
        assert cast(s(["a", None, "b"]), pl.Categorical()) == ["a", None, "b"]
        assert isinstance(cast_dtype(s([1, 2]), pl.Categorical()), pl.Categorical)

    def test_same_dtype_is_untouched(self) -> None:
        expr = pl.col("x")
        assert cast_expr(expr, pl.Int64(), pl.Int64(), True) is expr
        assert cast_expr(expr, pl.String(), pl.String(), True) is expr
        assert cast_expr(expr, pl.Categorical(), pl.Categorical(), True) is expr

    def test_all_null_column_casts_to_anything(self) -> None:
        for target in (pl.Int64(), pl.Boolean(), pl.Datetime("ns"), pl.Date(), pl.String()):
            assert cast(s([None, None], pl.Null), target) == [None, None]
            assert cast_dtype(s([None], pl.Null), target) == target


class TestLossyDirect:
    """Lenient ``cast_expr`` (``strict=False``): what does not fit becomes null."""

    def test_float_fraction_becomes_null(self) -> None:
        assert cast(s([1.0, 1.7, None, math.nan]), pl.Int64(), strict=False) == [
            1,
            None,
            None,
            None,
        ]

    def test_overflow_becomes_null(self) -> None:
        assert cast(s([1, 300, -129]), pl.Int8(), strict=False) == [1, None, None]
        assert cast(s([1.0, 1e30]), pl.Int64(), strict=False) == [1, None]

    def test_bad_text_becomes_null(self) -> None:
        assert cast(s(["1", "x", "1.5", "2.0"]), pl.Int64(), strict=False) == [1, None, None, 2]
        assert cast(s(["true", "maybe", None]), pl.Boolean(), strict=False) == [True, None, None]
        assert cast(s(["2024-01-01", "nope"]), pl.Datetime("ns"), strict=False) == [
            dt.datetime(2024, 1, 1),
            None,
        ]

    def test_time_of_day_to_date_becomes_null(self) -> None:
        values = [dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2, 5)]
        assert cast(s(values), pl.Date(), strict=False) == [dt.date(2024, 1, 1), None]

    def test_sub_ms_becomes_null(self) -> None:
        ns = s([1_704_067_200_000_000_000, 1_704_067_200_000_000_001]).cast(pl.Datetime("ns"))
        assert cast(ns, pl.Datetime("ms"), strict=False) == [dt.datetime(2024, 1, 1), None]


# ============================================================= needs_cast, plan_casts, CastStep


def test_needs_cast() -> None:
    assert not needs_cast(pl.Int64(), pl.Int64())
    assert not needs_cast(pl.String(), pl.String())
    assert not needs_cast(pl.Categorical(), pl.Categorical())
    assert needs_cast(pl.Int32(), pl.Int64())
    assert needs_cast(pl.Datetime("ns"), pl.Datetime("us"))
    assert needs_cast(pl.Datetime("ns"), pl.Datetime("ns", "UTC"))
    assert needs_cast(pl.String(), pl.Categorical())


def test_plan_casts_lists_only_columns_that_differ() -> None:
    source = pl.Schema(
        {"a": pl.Float64(), "b": pl.Int64(), "c": pl.String(), "d": pl.Datetime("ns")}
    )
    targets = [
        ("a", _dtype("int64"), False),
        ("b", _dtype("int64"), False),  # already right: no step
        ("c", _dtype("bool"), True),
        ("d", _dtype("datetime64[ns, UTC]"), False),
        ("zz", _dtype("int64"), False),  # not in the source: no step
    ]
    steps = plan_casts(source, targets)
    assert [st.column for st in steps] == ["a", "c", "d"]
    a, c, d = steps
    assert a == CastStep("a", pl.Float64(), _dtype("int64"), False)
    assert a.source == pl.Float64()
    assert a.target.polars == pl.Int64()
    assert not a.lossy
    assert c.lossy
    assert d.target.polars == pl.Datetime("ns", "UTC")


def test_plan_casts_nothing_to_do() -> None:
    source = pl.Schema({"a": pl.Int64(), "s": pl.String()})
    assert plan_casts(source, [("a", _dtype("Int64"), False), ("s", _dtype("object"), False)]) == []


def test_cast_step_expr_is_strict_unless_lossy() -> None:
    frame = pl.DataFrame({"a": [1.0, 1.5]})
    safe = CastStep("a", pl.Float64(), _dtype("int64"))
    lossy = CastStep("a", pl.Float64(), _dtype("int64"), lossy=True)
    with pytest.raises(pl.exceptions.PolarsError):
        frame.select(safe.expr())
    assert frame.select(lossy.expr())["a"].to_list() == [1, None]
    assert frame.select(safe.expr(strict=False))["a"].to_list() == [1, None]
    with pytest.raises(pl.exceptions.PolarsError):
        frame.select(lossy.expr(strict=True))
    # the expression keeps the column name
    assert frame.select(lossy.expr()).columns == ["a"]


def test_cast_step_is_frozen() -> None:
    step = CastStep("a", pl.Float64(), _dtype("int64"))
    with pytest.raises(AttributeError):
        step.column = "b"  # type: ignore[misc]


# ====================================================================================== diagnose


def test_diagnose_names_column_count_and_values() -> None:
    raw = pl.LazyFrame(
        {
            "a": [1.0, 1.7, None, math.nan, 2.5, 1.7, 3.0],
            "b": ["true", "maybe", "no", None, "x", "1", "0"],
            "c": [1, 2, 3, 4, 5, 6, 7],
        }
    )
    steps = plan_casts(
        raw.collect_schema(),
        [
            ("a", _dtype("int64"), False),
            ("b", _dtype("bool"), False),
            ("c", _dtype("int8"), False),
        ],
    )
    failures = diagnose(raw, steps)
    assert [f.step.column for f in failures] == ["a", "b"]  # c fits: not reported
    fa, fb = failures
    assert fa.count == 3  # 1.7 twice and 2.5; null and NaN are not offending
    assert fa.sample == [1.7, 2.5]
    assert fa.reason is None
    assert fb.count == 2
    assert fb.sample == ["maybe", "x"]


def test_diagnose_limits_the_sample() -> None:
    raw = pl.LazyFrame({"a": [f"bad{i}" for i in range(10)] + ["1"]})
    steps = plan_casts(raw.collect_schema(), [("a", _dtype("int64"), False)])
    (failure,) = diagnose(raw, steps, limit=3)
    assert failure.count == 10
    assert failure.sample == ["bad0", "bad1", "bad2"]


def test_diagnose_finds_nothing_when_values_fit() -> None:
    raw = pl.LazyFrame({"a": [1.0, 2.0, None], "t": ["2024-01-01", None, "2024-01-02"]})
    steps = plan_casts(
        raw.collect_schema(),
        [("a", _dtype("int64"), False), ("t", _dtype("datetime64[ns]"), False)],
    )
    assert len(steps) == 2
    assert diagnose(raw, steps) == []


# =================================================================== end to end through Catalog


def _check_cast_error(
    err: CastError, *, resource: str, column: str, target: str, values: list[Any]
) -> None:
    assert isinstance(err, DynioError)
    assert err.resource == resource
    assert err.env == "local"
    assert err.column == column
    assert err.target == target
    assert err.values == values
    text = str(err)
    assert f"resource {resource!r}" in text
    assert f"column {column!r}" in text
    assert target in text
    for v in values:
        assert repr(v) in text
    assert "cast: lossy" in text  # says how to opt out


class TestReads:
    def test_float_with_fraction_into_int_column(
        self, tmp_path: Path, catalog_from: CatalogFrom
    ) -> None:
        pl.DataFrame({"a": [1.0, 1.7, 2.5, 1.7], "b": [1, 2, 3, 4]}).write_parquet(
            tmp_path / "t.parquet"
        )
        cat = catalog_for(catalog_from, "t", "t.parquet", {"a": "int64", "b": "int64"})
        with pytest.raises(CastError) as info:
            cat.read("t")
        _check_cast_error(info.value, resource="t", column="a", target="int64", values=[1.7, 2.5])
        assert info.value.file is not None
        assert info.value.file.endswith("t.parquet")
        # read_polars and scan+collect go through the same policy
        with pytest.raises(CastError):
            cat.read_polars("t")

    def test_whole_floats_into_int_column(self, tmp_path: Path, catalog_from: CatalogFrom) -> None:
        pl.DataFrame({"a": [1.0, 2.0, 3.0]}).write_parquet(tmp_path / "t.parquet")
        cat = catalog_for(catalog_from, "t", "t.parquet", {"a": "int64"})
        df = cat.read("t")
        assert df["a"].dtype == "int64"
        assert df["a"].tolist() == [1, 2, 3]
        assert cat.read_polars("t").schema["a"] == pl.Int64()

    def test_int_with_nulls_gives_float64_like_pandas_reader(
        self, tmp_path: Path, catalog_from: CatalogFrom
    ) -> None:
        pl.DataFrame({"a": [1.0, None, 3.0]}).write_parquet(tmp_path / "t.parquet")
        cat = catalog_for(catalog_from, "t", "t.parquet", {"a": "int64"})
        assert cat.read_polars("t")["a"].to_list() == [1, None, 3]
        df = cat.read("t")
        assert df["a"].dtype == "float64"
        assert df["a"].tolist()[0] == 1.0
        assert math.isnan(df["a"].tolist()[1])

    def test_csv_float_text_into_int_column(
        self, tmp_path: Path, catalog_from: CatalogFrom
    ) -> None:
        write_csv_text(tmp_path / "t.csv", "a,b\n1,x\n1.0,y\n2,z\n")
        cat = catalog_for(catalog_from, "t", "t.csv", {"a": "int64", "b": "str"})
        df = cat.read("t")
        assert df["a"].dtype == "int64"
        assert df["a"].tolist() == [1, 1, 2]
        assert df["b"].tolist() == ["x", "y", "z"]

    def test_csv_fraction_and_text_in_int_column(
        self, tmp_path: Path, catalog_from: CatalogFrom
    ) -> None:
        write_csv_text(tmp_path / "t.csv", "a\n1\n1.5\nx\n2\n")
        cat = catalog_for(catalog_from, "t", "t.csv", {"a": "int64"})
        with pytest.raises(CastError) as info:
            cat.read("t")
        _check_cast_error(info.value, resource="t", column="a", target="int64", values=["1.5", "x"])
        assert info.value.file is not None
        assert info.value.file.endswith("t.csv")

    def test_text_into_int_column_parquet(self, tmp_path: Path, catalog_from: CatalogFrom) -> None:
        pl.DataFrame({"a": ["1", "x", "2"]}).write_parquet(tmp_path / "t.parquet")
        cat = catalog_for(catalog_from, "t", "t.parquet", {"a": "int64"})
        with pytest.raises(CastError) as info:
            cat.read("t")
        _check_cast_error(info.value, resource="t", column="a", target="int64", values=["x"])

    def test_int_overflow(self, tmp_path: Path, catalog_from: CatalogFrom) -> None:
        pl.DataFrame({"a": [1, 300, -200, 5]}).write_parquet(tmp_path / "t.parquet")
        cat = catalog_for(catalog_from, "t", "t.parquet", {"a": "int8"})
        with pytest.raises(CastError) as info:
            cat.read("t")
        _check_cast_error(info.value, resource="t", column="a", target="int8", values=[300, -200])

    def test_int_narrowing_that_fits(self, tmp_path: Path, catalog_from: CatalogFrom) -> None:
        pl.DataFrame({"a": [1, 127, -128]}).write_parquet(tmp_path / "t.parquet")
        cat = catalog_for(catalog_from, "t", "t.parquet", {"a": "int8"})
        df = cat.read("t")
        assert df["a"].dtype == "int8"
        assert df["a"].tolist() == [1, 127, -128]

    def test_bool_with_nulls_keeps_nulls(self, tmp_path: Path, catalog_from: CatalogFrom) -> None:
        table = pa.table({"b": pa.array([True, None, False], pa.bool_())})
        pl.DataFrame(table).write_parquet(tmp_path / "t.parquet")
        cat = catalog_for(catalog_from, "t", "t.parquet", {"b": "bool"})
        assert cat.read_polars("t")["b"].to_list() == [True, None, False]
        df = cat.read("t")
        # pandas' reader gives object with None for booleans with nulls
        assert df["b"].dtype == table.to_pandas()["b"].dtype == object
        assert df["b"].tolist() == [True, None, False]
        assert df["b"][1] is None

    def test_bool_without_nulls_is_numpy_bool(
        self, tmp_path: Path, catalog_from: CatalogFrom
    ) -> None:
        pl.DataFrame({"b": [True, False]}).write_parquet(tmp_path / "t.parquet")
        cat = catalog_for(catalog_from, "t", "t.parquet", {"b": "bool"})
        assert cat.read("t")["b"].dtype == "bool"

    def test_nullable_boolean_schema(self, tmp_path: Path, catalog_from: CatalogFrom) -> None:
        pl.DataFrame({"b": [True, None, False]}).write_parquet(tmp_path / "t.parquet")
        cat = catalog_for(catalog_from, "t", "t.parquet", {"b": "boolean"})
        df = cat.read("t")
        assert df["b"].dtype == "boolean"
        assert df["b"].isna().tolist() == [False, True, False]
        assert bool(df["b"][0]) is True
        assert bool(df["b"][2]) is False

    def test_csv_bool_text_with_empty_cells(
        self, tmp_path: Path, catalog_from: CatalogFrom
    ) -> None:
        write_csv_text(tmp_path / "t.csv", "b\ntrue\n\nFalse\n1\n0\n")
        cat = catalog_for(catalog_from, "t", "t.csv", {"b": "bool"})
        assert cat.read_polars("t")["b"].to_list() == [True, None, False, True, False]

    def test_float_with_nulls_into_bool_keeps_nulls(
        self, tmp_path: Path, catalog_from: CatalogFrom
    ) -> None:
        pl.DataFrame({"b": [1.0, None, 0.0]}).write_parquet(tmp_path / "t.parquet")
        cat = catalog_for(catalog_from, "t", "t.parquet", {"b": "bool"})
        assert cat.read_polars("t")["b"].to_list() == [True, None, False]

    def test_text_into_bool_column(self, tmp_path: Path, catalog_from: CatalogFrom) -> None:
        pl.DataFrame({"b": ["true", "False", "1", "0", None]}).write_parquet(tmp_path / "t.parquet")
        cat = catalog_for(catalog_from, "t", "t.parquet", {"b": "bool"})
        assert cat.read_polars("t")["b"].to_list() == [True, False, True, False, None]

    def test_maybe_into_bool_column(self, tmp_path: Path, catalog_from: CatalogFrom) -> None:
        pl.DataFrame({"b": ["true", "maybe", "False"]}).write_parquet(tmp_path / "t.parquet")
        cat = catalog_for(catalog_from, "t", "t.parquet", {"b": "bool"})
        with pytest.raises(CastError) as info:
            cat.read("t")
        _check_cast_error(info.value, resource="t", column="b", target="bool", values=["maybe"])

    def test_csv_maybe_into_bool_column(self, tmp_path: Path, catalog_from: CatalogFrom) -> None:
        write_csv_text(tmp_path / "t.csv", "b\ntrue\nmaybe\n")
        cat = catalog_for(catalog_from, "t", "t.csv", {"b": "bool"})
        with pytest.raises(CastError) as info:
            cat.read("t")
        _check_cast_error(info.value, resource="t", column="b", target="bool", values=["maybe"])

    def test_datetime_with_time_of_day_into_date(
        self, tmp_path: Path, catalog_from: CatalogFrom
    ) -> None:
        pl.DataFrame(
            {
                "d": [
                    dt.datetime(2024, 1, 1),
                    dt.datetime(2024, 1, 2, 5, 30),
                    dt.datetime(2024, 1, 3),
                ]
            }
        ).write_parquet(tmp_path / "t.parquet")
        cat = catalog_for(catalog_from, "t", "t.parquet", {"d": "date"})
        with pytest.raises(CastError) as info:
            cat.read("t")
        _check_cast_error(
            info.value,
            resource="t",
            column="d",
            target="date",
            values=[dt.datetime(2024, 1, 2, 5, 30)],
        )

    def test_midnight_datetimes_into_date(self, tmp_path: Path, catalog_from: CatalogFrom) -> None:
        pl.DataFrame({"d": [dt.datetime(2024, 1, 1), None]}).write_parquet(tmp_path / "t.parquet")
        cat = catalog_for(catalog_from, "t", "t.parquet", {"d": "date"})
        df = cat.read("t")
        assert df["d"].dtype == object  # pandas' reader gives datetime.date objects
        assert df["d"].tolist() == [dt.date(2024, 1, 1), None]

    def test_ns_into_ms_with_sub_ms_precision(
        self, tmp_path: Path, catalog_from: CatalogFrom
    ) -> None:
        ns = pl.Series("t", [1_704_067_200_000_000_000, 1_704_067_200_000_000_500]).cast(
            pl.Datetime("ns")
        )
        pl.DataFrame([ns]).write_parquet(tmp_path / "t.parquet")
        cat = catalog_for(catalog_from, "t", "t.parquet", {"t": "datetime64[ms]"})
        with pytest.raises(CastError) as info:
            cat.read("t")
        err = info.value
        assert err.column == "t"
        assert err.target == "datetime64[ms]"
        assert err.values is not None
        assert len(err.values) == 1
        assert "datetime64[ms]" in str(err)

    def test_ns_into_ms_whole_ms(self, tmp_path: Path, catalog_from: CatalogFrom) -> None:
        ns = pl.Series("t", [1_704_067_200_000_000_000, 1_704_067_200_005_000_000]).cast(
            pl.Datetime("ns")
        )
        pl.DataFrame([ns]).write_parquet(tmp_path / "t.parquet")
        cat = catalog_for(catalog_from, "t", "t.parquet", {"t": "datetime64[ms]"})
        df = cat.read("t")
        assert df["t"].dtype == "datetime64[ms]"
        assert df["t"].tolist() == [
            pd.Timestamp("2024-01-01 00:00:00"),
            pd.Timestamp("2024-01-01 00:00:00.005"),
        ]

    def test_naive_into_utc_localizes(self, tmp_path: Path, catalog_from: CatalogFrom) -> None:
        pl.DataFrame({"t": [dt.datetime(2024, 1, 1, 12), None]}).write_parquet(
            tmp_path / "t.parquet"
        )
        cat = catalog_for(catalog_from, "t", "t.parquet", {"t": "datetime64[ns, UTC]"})
        df = cat.read("t")
        assert str(df["t"].dtype) == "datetime64[ns, UTC]"
        assert df["t"][0] == pd.Timestamp("2024-01-01 12:00", tz="UTC")
        assert pd.isna(df["t"][1])

    @pytest.mark.parametrize("zone", ["Europe/London", "UTC", "America/New_York"])
    def test_aware_into_naive_fails(
        self, tmp_path: Path, catalog_from: CatalogFrom, zone: str
    ) -> None:
        aware = pl.Series("t", [dt.datetime(2024, 7, 1, 12)]).dt.replace_time_zone(zone)
        pl.DataFrame([aware]).write_parquet(tmp_path / "t.parquet")
        cat = catalog_for(catalog_from, "t", "t.parquet", {"t": "datetime64[ns]"})
        with pytest.raises(CastError) as info:
            cat.read("t")
        assert info.value.column == "t"
        assert info.value.resource == "t"
        assert len(info.value.values) == 1

    def test_aware_into_other_zone(self, tmp_path: Path, catalog_from: CatalogFrom) -> None:
        utc = pl.Series("t", [dt.datetime(2024, 7, 1, 12)]).dt.replace_time_zone("UTC")
        pl.DataFrame([utc]).write_parquet(tmp_path / "t.parquet")
        cat = catalog_for(catalog_from, "t", "t.parquet", {"t": "datetime64[us, Europe/London]"})
        df = cat.read("t")
        assert str(df["t"].dtype) == "datetime64[us, Europe/London]"
        assert df["t"][0] == pd.Timestamp("2024-07-01 13:00", tz="Europe/London")

    def test_iso_text_into_datetime(self, tmp_path: Path, catalog_from: CatalogFrom) -> None:
        pl.DataFrame({"t": ["2024-01-01T10:00:00", "2024-01-02 11:30:00", None]}).write_parquet(
            tmp_path / "t.parquet"
        )
        cat = catalog_for(catalog_from, "t", "t.parquet", {"t": "datetime64[ns]"})
        df = cat.read("t")
        assert str(df["t"].dtype) == "datetime64[ns]"
        assert df["t"].tolist()[:2] == [
            pd.Timestamp("2024-01-01 10:00"),
            pd.Timestamp("2024-01-02 11:30"),
        ]
        assert pd.isna(df["t"][2])

    def test_csv_iso_text_into_datetime(self, tmp_path: Path, catalog_from: CatalogFrom) -> None:
        write_csv_text(tmp_path / "t.csv", "t\n2024-01-01T10:00:00\n2024-01-02 11:30:00\n\n")
        cat = catalog_for(catalog_from, "t", "t.csv", {"t": "datetime64[ns]"})
        got = cat.read_polars("t")["t"]
        assert got.dtype == pl.Datetime("ns")
        assert got.to_list() == [
            dt.datetime(2024, 1, 1, 10),
            dt.datetime(2024, 1, 2, 11, 30),
            None,
        ]

    @pytest.mark.parametrize("suffix", ["parquet", "csv"])
    def test_iso_text_with_offsets_into_naive_datetime_fails(
        self, tmp_path: Path, catalog_from: CatalogFrom, suffix: str
    ) -> None:
        frame = pl.DataFrame({"t": ["2024-01-01T10:00:00", "2024-01-01T10:00:00+02:00"]})
        path = tmp_path / f"t.{suffix}"
        frame.write_parquet(path) if suffix == "parquet" else frame.write_csv(path)
        cat = catalog_for(catalog_from, "t", path.name, {"t": "datetime64[ns]"})
        with pytest.raises(CastError) as info:
            cat.read_polars("t")
        assert info.value.values == ["2024-01-01T10:00:00+02:00"]
        lossy = catalog_for(
            catalog_from, "t", path.name, {"t": {"type": "datetime64[ns]", "cast": "lossy"}}
        )
        assert lossy.read_polars("t")["t"].to_list() == [dt.datetime(2024, 1, 1, 10), None]

    def test_csv_date_outside_ns_range(self, tmp_path: Path, catalog_from: CatalogFrom) -> None:
        # "9999-12-31" does not fit datetime64[ns]: a CastError, never a wrapped-around date
        write_csv_text(tmp_path / "t.csv", "t\n2024-01-01\n9999-12-31\n")
        cat = catalog_for(catalog_from, "t", "t.csv", {"t": "datetime64[ns]"})
        with pytest.raises(CastError) as info:
            cat.read_polars("t")
        assert info.value.column == "t"
        assert info.value.values == ["9999-12-31"]

    def test_csv_sub_ms_text_into_ms_column(
        self, tmp_path: Path, catalog_from: CatalogFrom
    ) -> None:
        write_csv_text(
            tmp_path / "t.csv", "t\n2024-01-01T00:00:00.001\n2024-01-01T00:00:00.123456\n"
        )
        cat = catalog_for(catalog_from, "t", "t.csv", {"t": "datetime64[ms]"})
        with pytest.raises(CastError) as info:
            cat.read_polars("t")
        assert info.value.column == "t"
        assert info.value.values == ["2024-01-01T00:00:00.123456"]

    def test_nan_float_into_nullable_int(self, tmp_path: Path, catalog_from: CatalogFrom) -> None:
        pl.DataFrame({"n": [1.0, math.nan, None, 3.0]}).write_parquet(tmp_path / "t.parquet")
        cat = catalog_for(catalog_from, "t", "t.parquet", {"n": "Int64"})
        assert cat.read_polars("t")["n"].to_list() == [1, None, None, 3]
        df = cat.read("t")
        assert df["n"].dtype == "Int64"
        assert df["n"].isna().tolist() == [False, True, True, False]
        assert df["n"][0] == 1
        assert df["n"][3] == 3

    def test_several_failing_columns_are_all_named(
        self, tmp_path: Path, catalog_from: CatalogFrom
    ) -> None:
        pl.DataFrame({"a": [1.5, 2.0], "b": ["true", "maybe"], "c": [1, 2]}).write_parquet(
            tmp_path / "t.parquet"
        )
        cat = catalog_for(catalog_from, "t", "t.parquet", {"a": "int64", "b": "bool", "c": "int64"})
        with pytest.raises(CastError) as info:
            cat.read("t")
        text = str(info.value)
        assert info.value.column == "a"
        assert info.value.values == [1.5]
        assert "'b'" in text
        assert "'maybe'" in text

    def test_many_offending_values_are_cut_short(
        self, tmp_path: Path, catalog_from: CatalogFrom
    ) -> None:
        pl.DataFrame({"a": [i + 0.5 for i in range(20)]}).write_parquet(tmp_path / "t.parquet")
        cat = catalog_for(catalog_from, "t", "t.parquet", {"a": "int64"})
        with pytest.raises(CastError) as info:
            cat.read("t")
        assert info.value.values == [0.5, 1.5, 2.5, 3.5, 4.5]
        assert "20 value(s)" in str(info.value)

    def test_scan_fails_on_collect(self, tmp_path: Path, catalog_from: CatalogFrom) -> None:
        pl.DataFrame({"a": [1.0, 1.5]}).write_parquet(tmp_path / "t.parquet")
        cat = catalog_for(catalog_from, "t", "t.parquet", {"a": "int64"})
        lazy = cat.scan("t")
        assert lazy.collect_schema()["a"] == pl.Int64()
        with pytest.raises(pl.exceptions.PolarsError):
            lazy.collect()


class TestLossyReads:
    def test_lossy_columns_turn_misfits_into_nulls(
        self, tmp_path: Path, catalog_from: CatalogFrom
    ) -> None:
        pl.DataFrame(
            {
                "i": [1.0, 1.7, None],
                "s": [1, 300, 2],
                "b": ["true", "maybe", None],
                "d": [dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2, 5), None],
                "safe": [1, 2, 3],
            }
        ).write_parquet(tmp_path / "t.parquet")
        columns = {
            "i": {"type": "Int64", "cast": "lossy"},
            "s": {"type": "int8", "cast": "lossy"},
            "b": {"type": "boolean", "cast": "lossy"},
            "d": {"type": "date", "cast": "lossy"},
            "safe": {"type": "int64", "cast": "safe"},
        }
        cat = catalog_for(catalog_from, "t", "t.parquet", columns)
        got = cat.read_polars("t")
        assert got["i"].to_list() == [1, None, None]
        assert got["s"].to_list() == [1, None, 2]
        assert got["b"].to_list() == [True, None, None]
        assert got["d"].to_list() == [dt.date(2024, 1, 1), None, None]
        assert got.schema["s"] == pl.Int8()
        df = cat.read("t")
        assert df["i"].dtype == "Int64"
        assert df["b"].dtype == "boolean"

    def test_lossy_csv(self, tmp_path: Path, catalog_from: CatalogFrom) -> None:
        write_csv_text(tmp_path / "t.csv", "i,b\n1,maybe\nx,true\n1.5,\n2.0,0\n")
        columns = {"i": {"type": "Int64", "cast": "lossy"}, "b": {"type": "bool", "cast": "lossy"}}
        cat = catalog_for(catalog_from, "t", "t.csv", columns)
        got = cat.read_polars("t")
        assert got["i"].to_list() == [1, None, None, 2]
        assert got["b"].to_list() == [None, True, None, False]

    def test_lossy_only_applies_to_its_column(
        self, tmp_path: Path, catalog_from: CatalogFrom
    ) -> None:
        pl.DataFrame({"a": [1.5], "b": [2.5]}).write_parquet(tmp_path / "t.parquet")
        columns = {"a": {"type": "int64", "cast": "lossy"}, "b": "int64"}
        cat = catalog_for(catalog_from, "t", "t.parquet", columns)
        with pytest.raises(CastError) as info:
            cat.read("t")
        assert info.value.column == "b"
        assert info.value.values == [2.5]


class TestWrites:
    COLUMNS: dict[str, Any] = {"a": "int64", "b": "bool"}  # noqa: RUF012

    def test_write_with_fraction_into_int_fails_and_writes_nothing(
        self, tmp_path: Path, catalog_from: CatalogFrom
    ) -> None:
        cat = catalog_for(catalog_from, "w", "out/w.parquet", self.COLUMNS)
        data = pd.DataFrame({"a": [1.0, 1.5, 2.0], "b": [True, False, True]})
        with pytest.raises(CastError) as info:
            cat.write("w", data)
        _check_cast_error(info.value, resource="w", column="a", target="int64", values=[1.5])
        assert not (tmp_path / "out" / "w.parquet").exists()
        leftovers = list((tmp_path / "out").iterdir()) if (tmp_path / "out").exists() else []
        assert leftovers == []

    def test_failed_write_leaves_existing_file_unchanged(
        self, tmp_path: Path, catalog_from: CatalogFrom
    ) -> None:
        cat = catalog_for(catalog_from, "w", "out/w.parquet", self.COLUMNS)
        cat.write("w", pd.DataFrame({"a": [1.0, 2.0], "b": [True, None]}))
        path = tmp_path / "out" / "w.parquet"
        before = path.read_bytes()
        with pytest.raises(CastError):
            cat.write("w", pd.DataFrame({"a": [7.25], "b": [False]}))
        assert path.read_bytes() == before
        assert sorted(p.name for p in path.parent.iterdir()) == ["w.parquet"]

    def test_write_casts_whole_floats_and_keeps_bool_nulls(
        self, tmp_path: Path, catalog_from: CatalogFrom
    ) -> None:
        cat = catalog_for(catalog_from, "w", "out/w.parquet", self.COLUMNS)
        cat.write("w", pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [True, None, False]}))
        written = pl.read_parquet(tmp_path / "out" / "w.parquet")
        assert written.schema == pl.Schema({"a": pl.Int64(), "b": pl.Boolean()})
        assert written["a"].to_list() == [1, 2, 3]
        assert written["b"].to_list() == [True, None, False]

    def test_write_text_into_int_and_bool(self, tmp_path: Path, catalog_from: CatalogFrom) -> None:
        cat = catalog_for(catalog_from, "w", "out/w.csv", self.COLUMNS)
        with pytest.raises(CastError) as info:
            cat.write("w", pd.DataFrame({"a": ["1", "2"], "b": ["yes", "perhaps"]}))
        _check_cast_error(info.value, resource="w", column="b", target="bool", values=["perhaps"])
        assert not (tmp_path / "out" / "w.csv").exists()

    def test_write_int_overflow(self, tmp_path: Path, catalog_from: CatalogFrom) -> None:
        cat = catalog_for(catalog_from, "w", "w.parquet", {"a": "int8"})
        with pytest.raises(CastError) as info:
            cat.write("w", pl.DataFrame({"a": [1, 1000]}))
        _check_cast_error(info.value, resource="w", column="a", target="int8", values=[1000])
        assert not (tmp_path / "w.parquet").exists()

    def test_write_lossy_column_nulls_misfits(
        self, tmp_path: Path, catalog_from: CatalogFrom
    ) -> None:
        cat = catalog_for(
            catalog_from, "w", "w.parquet", {"a": {"type": "Int64", "cast": "lossy"}, "b": "bool"}
        )
        cat.write("w", pd.DataFrame({"a": [1.0, 1.5], "b": [True, False]}))
        written = pl.read_parquet(tmp_path / "w.parquet")
        assert written["a"].to_list() == [1, None]

    def test_write_then_read_round_trips(self, tmp_path: Path, catalog_from: CatalogFrom) -> None:
        columns = {
            "i": "Int64",
            "t": "datetime64[ns, UTC]",
            "d": "date",
            "c": "category",
        }
        cat = catalog_for(catalog_from, "w", "w.parquet", columns)
        data = pd.DataFrame(
            {
                "i": pd.array([1, None, 3], dtype="Int64"),
                # naive timestamps are localized to UTC
                "t": pd.Series(
                    [pd.Timestamp("2024-01-01 10:00"), pd.Timestamp("2024-01-02"), None]
                ),
                "d": ["2024-01-01", "2024-01-02", None],
                "c": ["x", "y", "x"],
            }
        )
        cat.write("w", data)
        back = cat.read("w")
        assert back["i"].dtype == "Int64"
        assert back["i"].isna().tolist() == [False, True, False]
        assert str(back["t"].dtype) == "datetime64[ns, UTC]"
        assert back["t"][0] == pd.Timestamp("2024-01-01 10:00", tz="UTC")
        assert back["d"].tolist() == [dt.date(2024, 1, 1), dt.date(2024, 1, 2), None]
        assert back["c"].dtype == "category"
        assert back["c"].tolist() == ["x", "y", "x"]
