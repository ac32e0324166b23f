"""Properties: the fused one-select evaluation equals a naive per-column computation.

For random frames (nulls, empty frames, all-null columns, NaN in floats, strings and
categoricals) every rule outcome, failing count, failing share and sample, and the Min, Max,
Mean, Counts, UniqueCounts and NullCount metrics, are recomputed in plain Python and compared.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynio.engine import quality
from dynio.engine.loader import parse_schema
from dynio.engine.quality import MetricValue, ValidationReport

SETTINGS = settings(deadline=None, max_examples=75)
SAMPLE = 5
LETTERS = ["a", "b", "c", "d"]

# ------------------------------------------------------------------------------- strategies

ints = st.one_of(st.none(), st.integers(-20, 20))
finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, allow_subnormal=False)
floats = st.one_of(st.none(), finite)
floats_with_nan = st.one_of(st.none(), finite, st.just(math.nan))
letters = st.one_of(st.none(), st.sampled_from(LETTERS))
threshold = st.one_of(
    st.integers(-25, 25), st.floats(-25, 25, allow_nan=False).map(lambda x: round(x, 2))
)


@dataclass
class Data:
    i: list[int | None]
    f: list[float | None]
    g: list[float | None]
    s: list[str | None]
    categorical: bool

    @property
    def rows(self) -> int:
        return len(self.i)

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(
            {"i": self.i, "f": self.f, "g": self.g, "s": self.s},
            schema={
                "i": pl.Int64,
                "f": pl.Float64,
                "g": pl.Float64,
                "s": pl.Categorical if self.categorical else pl.String,
            },
        )


@st.composite
def data(draw: st.DrawFn) -> Data:
    n = draw(st.integers(0, 30))

    def column(elements: st.SearchStrategy[Any]) -> list[Any]:
        if draw(st.integers(0, 9)) == 0:  # now and then a column with no value at all
            return [None] * n
        return draw(st.lists(elements, min_size=n, max_size=n))

    return Data(
        i=column(ints),
        f=column(floats),
        g=column(floats_with_nan),
        s=column(letters),
        categorical=draw(st.booleans()),
    )


@dataclass
class NumericRules:
    pct: float
    threshold: float
    lower: float
    upper: float
    include_left: bool | None
    include_right: bool | None


@st.composite
def numeric_rules(draw: st.DrawFn) -> NumericRules:
    a, b = draw(threshold), draw(threshold)
    return NumericRules(
        pct=draw(st.floats(0.01, 0.99)),
        threshold=draw(threshold),
        lower=min(a, b),
        upper=max(a, b),
        include_left=draw(st.one_of(st.none(), st.booleans())),
        include_right=draw(st.one_of(st.none(), st.booleans())),
    )


# ------------------------------------------------------------------------- naive reference

Outcome = tuple[int, tuple[Any, ...]]  # failing count, sample; absent when the rule passes


def row_rule(values: Sequence[Any], fails: Callable[[Any], bool]) -> Outcome | None:
    bad = [v for v in values if v is not None and fails(v)]
    return (len(bad), tuple(bad[:SAMPLE])) if bad else None


def unique_rule(values: Sequence[Any]) -> Outcome | None:
    counts = Counter(v for v in values if v is not None)
    dup_rows = sum(c for c in counts.values() if c > 1)
    if not dup_rows:
        return None
    seen: list[Any] = []
    for v in values:
        if v is not None and counts[v] > 1 and v not in seen:
            seen.append(v)
    return dup_rows, tuple(seen[:SAMPLE])


def null_rule(values: Sequence[Any]) -> Outcome | None:
    nulls = sum(v is None for v in values)
    return (nulls, ()) if nulls else None


def pct_rule(values: Sequence[Any], threshold: float) -> Outcome | None:
    nulls = sum(v is None for v in values)
    if not values or nulls / len(values) < threshold:
        return None
    return nulls, ()


def between_fails(rules: NumericRules) -> Callable[[Any], bool]:
    def fails(v: Any) -> bool:
        left = v >= rules.lower if rules.include_left else v > rules.lower
        right = v <= rules.upper if rules.include_right else v < rules.upper
        return not (left and right)

    return fails


def expected_numeric(values: Sequence[Any], r: NumericRules) -> dict[str, Outcome | None]:
    t = r.threshold
    return {
        "has_unique_values": unique_rule(values),
        "has_no_null_values": null_rule(values),
        "has_acceptable_percentage_of_nulls": pct_rule(values, r.pct),
        "is_greater_than": row_rule(values, lambda v: not v > t),
        "is_greater_than_or_equal": row_rule(values, lambda v: not v >= t),
        "is_lower_than": row_rule(values, lambda v: not v < t),
        "is_lower_than_or_equal": row_rule(values, lambda v: not v <= t),
        "is_between": row_rule(values, between_fails(r)),
    }


def numeric_validations(r: NumericRules) -> dict[str, Any]:
    between: dict[str, Any] = {"lower": r.lower, "upper": r.upper}
    if r.include_left is not None:
        between["include_left"] = r.include_left
    if r.include_right is not None:
        between["include_right"] = r.include_right
    t = {"threshold": r.threshold}
    return {
        "has_unique_values": {"apply": True, "options": {}},
        "has_no_null_values": {},
        "has_acceptable_percentage_of_nulls": {"options": {"threshold": r.pct}},
        "is_greater_than": {"options": t},
        "is_greater_than_or_equal": {"options": t},
        "is_lower_than": {"options": t},
        "is_lower_than_or_equal": {"options": t},
        "is_between": {"options": between},
    }


def outcomes(report: ValidationReport) -> dict[tuple[str, str | None], Outcome]:
    out: dict[tuple[str, str | None], Outcome] = {}
    for f in report.failures:
        out[(f.rule, f.column)] = (f.failing_count, f.sample)
        assert f.failing_share == (f.failing_count / report.rows if report.rows else 0.0)
        assert f.severity == "error"
    return out


def present(values: Sequence[Any]) -> list[Any]:
    """Values a statistic sees: not null, not NaN."""
    return [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]


def naive_metrics(values: Sequence[Any], names: Sequence[str]) -> dict[str, Any]:
    seen = present(values)
    out: dict[str, Any] = {}
    for name in names:
        if name == "Min":
            out[name] = min(seen) if seen else None
        elif name == "Max":
            out[name] = max(seen) if seen else None
        elif name == "Mean":
            out[name] = math.fsum(seen) / len(seen) if seen else None
        elif name == "Counts":
            out[name] = len(values)
        elif name == "UniqueCounts":
            out[name] = len(set(values))  # null is one value, as len(unique())
        elif name == "NullCount":
            out[name] = sum(v is None for v in values)
    return out


def assert_metric(column: str, name: str, got: Any, want: Any) -> None:
    if want is None or got is None:
        assert got == want, (column, name)
    elif name == "Mean":
        assert got == pytest.approx(want, rel=1e-9, abs=1e-9), (column, name)
    else:
        assert got == want, (column, name)
        assert type(got) is type(want), (column, name, type(got))


# ----------------------------------------------------------------------------------- the tests


@SETTINGS
@given(d=data(), ri=numeric_rules(), rf=numeric_rules())
def test_numeric_rules_equal_naive_computation(d: Data, ri: NumericRules, rf: NumericRules) -> None:
    schema = parse_schema(
        {
            "columns": {
                "i": {"type": "Int64", "validations": numeric_validations(ri)},
                "f": {"type": "float64", "validations": numeric_validations(rf)},
            }
        },
        resource="prop",
    )
    report, _ = quality.evaluate(d.frame(), schema, resource="prop", env="test")
    expected: dict[tuple[str, str | None], Outcome] = {}
    for column, values, r in (("i", d.i, ri), ("f", d.f, rf)):
        for rule, outcome in expected_numeric(values, r).items():
            if outcome is not None:
                expected[(rule, column)] = outcome
    assert report.rows == d.rows
    assert report.checked == 16
    assert outcomes(report) == expected
    assert report.ok is (not expected)


@SETTINGS
@given(
    d=data(),
    cats=st.lists(st.sampled_from(LETTERS), min_size=1, max_size=4, unique=True),
    match_all=st.one_of(st.none(), st.booleans()),
)
def test_is_in_equals_naive_computation(d: Data, cats: list[str], match_all: bool | None) -> None:
    options: dict[str, Any] = {"categorical_values": cats}
    if match_all is not None:
        options["match_all"] = match_all
    dtype = "category" if d.categorical else "str"
    schema = parse_schema(
        {
            "columns": {
                "s": {
                    "type": dtype,
                    "validations": {
                        "is_in": {"apply": True, "options": options},
                        "has_unique_values": {},
                        "has_no_null_values": {},
                    },
                }
            }
        },
        resource="prop",
    )
    report, _ = quality.evaluate(d.frame(), schema, resource="prop", env="test")

    outside = row_rule(d.s, lambda v: v not in cats)
    distinct = {v for v in d.s if v is not None}
    missing = tuple(c for c in cats if c not in distinct)
    is_in_passes = outside is None and (not match_all or not missing)
    expected = {
        ("has_unique_values", "s"): unique_rule(d.s),
        ("has_no_null_values", "s"): null_rule(d.s),
    }
    got = outcomes(report)
    for key, outcome in expected.items():
        assert got.get(key) == outcome, key
    if is_in_passes:
        assert ("is_in", "s") not in got
    else:
        count, sample = outside if outside is not None else (0, ())
        assert got[("is_in", "s")] == (count, sample)
        (f,) = [x for x in report.failures if x.rule == "is_in"]
        if match_all:
            assert f.detail == missing
        if match_all and not outside:
            assert missing  # failing only because a category is absent
    if match_all:
        # with match_all the distinct non-null values must equal the set
        assert is_in_passes is (distinct == set(cats))
    else:
        assert is_in_passes is distinct.issubset(cats)


@SETTINGS
@given(d=data())
def test_metrics_equal_naive_computation(d: Data) -> None:
    numeric = ["Min", "Max", "Mean", "Counts", "UniqueCounts", "NullCount"]
    text = ["Counts", "UniqueCounts", "NullCount"] + ([] if d.categorical else ["Min", "Max"])
    with_nan = ["Min", "Max", "Mean", "Counts"]
    columns = {
        "i": ("Int64", numeric, d.i),
        "f": ("float64", numeric, d.f),
        "g": ("float64", with_nan, d.g),
        "s": ("category" if d.categorical else "str", text, d.s),
    }
    schema = parse_schema(
        {
            "name": "prop_ds",
            "columns": {c: {"type": t, "metrics": m} for c, (t, m, _) in columns.items()},
        }
    )
    report, values = quality.evaluate(d.frame(), schema)
    assert report.checked == 0
    got: dict[tuple[str, str], Any] = {}
    for v in values:
        assert isinstance(v, MetricValue)
        assert v.dataset == "prop_ds"
        assert v.label is None
        got[(v.column, v.metric)] = v.value
    assert len(got) == len(values) == sum(len(m) for _, m, _ in columns.values())
    for column, (_, names, column_values) in columns.items():
        for name, want in naive_metrics(column_values, names).items():
            if column == "i" and name == "Mean" and want is not None:
                assert isinstance(got[(column, name)], float)
            assert_metric(column, name, got[(column, name)], want)


@SETTINGS
@given(d=data(), r=numeric_rules())
def test_lazy_and_eager_evaluation_agree(d: Data, r: NumericRules) -> None:
    schema = parse_schema(
        {
            "columns": {
                "i": {
                    "type": "Int64",
                    "validations": numeric_validations(r),
                    "metrics": ["Min", "Max", "Mean", "Counts", "UniqueCounts", "NullCount"],
                },
                "s": {"type": "str", "metrics": ["CountsPerLabel"]},
            },
            "validations": {"unique_together": {"options": {"columns": ["i", "s"]}}},
        },
        resource="prop",
    )
    frame = d.frame().with_columns(pl.col("s").cast(pl.String))
    eager = quality.evaluate(frame, schema, resource="prop", env="test")
    lazy = quality.evaluate(frame.lazy(), schema, resource="prop", env="test")
    assert eager == lazy
    report, values = eager
    pairs = Counter((a, b) for a, b in zip(d.i, d.s, strict=True))
    dup_rows = sum(c for c in pairs.values() if c > 1)
    ut = [f for f in report.failures if f.rule == "unique_together"]
    assert [f.failing_count for f in ut] == ([dup_rows] if dup_rows else [])
    # (null labels are covered by test_metrics.py; here only the labelled counts)
    labels = [(v.label, v.value) for v in values if v.metric == "CountsPerLabel" and v.label]
    counts = Counter(v for v in d.s if v is not None)
    assert dict(labels) == dict(counts)
    assert [c for _, c in labels] == sorted((c for _, c in labels), reverse=True)
