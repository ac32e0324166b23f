"""Rules and metrics answered from per-column digests equal the same rules and metrics evaluated
as expressions in the fused select.

``quality.evaluate`` takes ``is_in``/``CountsPerLabel`` (one ``group_by`` per column) and
``has_unique_values``/``UniqueCounts`` on integer and temporal columns (a run count or a bitmap
over the range) out of the select; ``is_in`` on text compares a few categories one by one. Here
each result is compared with the plain path (digests planned away, every ``is_in`` hashed), on
random frames with nulls, empty frames, categoricals, labels absent from the data, sorted and
shuffled ids, narrow and wide ranges.
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynio.engine import digests, quality, rules
from dynio.engine.digests import Digests, distinct_count, plan_digests
from dynio.engine.loader import parse_schema
from dynio.engine.quality import MetricValue, ValidationReport

SETTINGS = settings(deadline=None, max_examples=40)
LABELS = ["GB", "US", "DE", "a-rather-long-label", ""]


@contextmanager
def plain_path() -> Iterator[None]:
    """Every rule and metric as an expression in the fused select (no digest, no chain)."""
    with pytest.MonkeyPatch.context() as m:
        m.setattr(quality, "plan_digests", lambda *args: Digests())
        m.setattr(rules, "EQUALITY_CHAIN_MAX", 0)
        # what the fast path prepared for the schema is not reused, nor is this kept
        m.setattr(quality, "_PREPARED", type(quality._PREPARED)())
        m.setattr(quality, "_PREPARED_MAX", 0)
        yield


def both(
    frame: pl.DataFrame, doc: dict[str, Any]
) -> tuple[tuple[ValidationReport, list[MetricValue]], tuple[ValidationReport, list[MetricValue]]]:
    schema = parse_schema(doc, resource="res")
    fast = quality.evaluate(frame, schema, resource="res", env="test")
    with plain_path():
        plain = quality.evaluate(frame, schema, resource="res", env="test")
    return fast, plain


def assert_same(
    fast: tuple[ValidationReport, list[MetricValue]],
    plain: tuple[ValidationReport, list[MetricValue]],
) -> None:
    """Same report (verdicts, counts, samples, messages) and the same metric values.

    Labels of equal count come in any order from the plain path (a hash grouping), by label
    from the digest: they are compared as a set, and the counts as a non-increasing sequence.
    """
    assert fast[0] == plain[0]
    assert [f.message for f in fast[0].failures] == [f.message for f in plain[0].failures]

    def split(values: list[MetricValue]) -> tuple[list[MetricValue], set[Any], list[Any]]:
        labelled = [v for v in values if v.metric == "CountsPerLabel"]
        other = [v for v in values if v.metric != "CountsPerLabel"]
        return other, {(v.column, v.label, v.value) for v in labelled}, labelled

    f_other, f_labels, f_list = split(fast[1])
    p_other, p_labels, _ = split(plain[1])
    assert f_other == p_other
    assert f_labels == p_labels
    for column in {v.column for v in f_list}:
        counts = [v.value for v in f_list if v.column == column]
        assert counts == sorted(counts, reverse=True)
        labels = [v.label for v in f_list if v.column == column]
        ranked = sorted(zip(counts, labels, strict=True), key=lambda p: (-p[0], p[1]))
        assert list(zip(counts, labels, strict=True)) == ranked


def text_doc(dtype: str, cats: list[str], match_all: bool | None) -> dict[str, Any]:
    options: dict[str, Any] = {"categorical_values": cats}
    if match_all is not None:
        options["match_all"] = match_all
    return {
        "name": "ds",
        "columns": {
            "s": {
                "type": dtype,
                "validations": {"is_in": {"options": options}, "has_no_null_values": {}},
                "metrics": ["CountsPerLabel", "UniqueCounts", "NullCount"],
            },
            "t": {
                "type": dtype,
                "validations": {"is_in": {"options": options}},
            },
        },
    }


labels = st.one_of(st.none(), st.sampled_from([*LABELS, "FR", "zz"]))


@SETTINGS
@given(
    n=st.integers(0, 40),
    data=st.data(),
    cats=st.lists(st.sampled_from(LABELS), min_size=1, max_size=5, unique=True),
    match_all=st.one_of(st.none(), st.booleans()),
    kind=st.sampled_from(["str", "category", "enum"]),
)
def test_is_in_and_label_counts_equal_the_plain_path(
    n: int,
    data: st.DataObject,
    cats: list[str],
    match_all: bool | None,
    kind: str,
) -> None:
    s = data.draw(st.lists(labels, min_size=n, max_size=n))
    t = data.draw(st.lists(labels, min_size=n, max_size=n))
    frame = pl.DataFrame({"s": s, "t": t}, schema={"s": pl.String, "t": pl.String})
    dtype = "str"
    if kind == "category":
        frame = frame.cast(pl.Categorical)
        dtype = "category"
    elif kind == "enum":
        frame = frame.cast(pl.Enum([*LABELS, "FR", "zz"]))
        dtype = "category"
    fast, plain = both(frame, text_doc(dtype, cats, match_all))
    assert_same(fast, plain)


def test_is_in_of_many_categories_and_high_cardinality() -> None:
    # more categories than the equality chain takes, and a column with a value per row
    values = [f"v{i % 97}" if i % 11 else None for i in range(2_000)]
    frame = pl.DataFrame({"s": values, "t": [f"w{i}" for i in range(2_000)]})
    cats = [f"v{i}" for i in range(90)]
    fast, plain = both(frame, text_doc("str", cats, True))
    assert_same(fast, plain)
    assert {f.column for f in fast[0].failures} == {"s", "t"}


ids = st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1))
BOUNDS: dict[Any, tuple[int, int]] = {
    pl.Int64: (-(2**63), 2**63 - 1),
    pl.Int32: (-(2**31), 2**31 - 1),
    pl.Int8: (-128, 127),
    pl.UInt64: (0, 2**64 - 1),
    pl.UInt8: (0, 255),
    pl.Int128: (-(2**127), 2**127 - 1),
}
# the schema's spelling (evaluate checks the frame as it is; Int128 has no pandas spelling)
TYPES = {pl.Int64: "int64", pl.Int32: "int32", pl.Int8: "int8", pl.UInt64: "uint64"}
TYPES |= {pl.UInt8: "uint8", pl.Int128: "int64"}


@SETTINGS
@given(
    values=st.one_of(
        st.lists(st.one_of(st.none(), st.integers(-30, 30)), max_size=40),
        st.lists(ids, max_size=40),
        st.lists(st.integers(0, 10**6), max_size=40, unique=True).map(sorted),
        st.lists(st.one_of(st.none(), st.integers(5, 9)), max_size=40).map(
            lambda v: sorted(v, key=lambda x: (x is not None, x or 0))
        ),
    ),
    dtype=st.sampled_from([pl.Int64, pl.Int8, pl.UInt64, pl.UInt8, pl.Int32, pl.Int128]),
)
def test_uniqueness_and_distinct_counts_equal_the_plain_path(
    values: list[int | None], dtype: pl.DataType
) -> None:
    lo, hi = BOUNDS[dtype]
    # into the dtype's range: shifted for the unsigned ones, clipped for the narrow ones
    shift = 2**63 if dtype == pl.UInt64 else 0
    fitted = [None if v is None else min(max(v + shift, lo), hi) for v in values]
    series = pl.Series("i", fitted, dtype=dtype)
    frame = pl.DataFrame({"i": series})
    doc = {
        "name": "ds",
        "columns": {
            "i": {
                "type": TYPES[dtype],
                "validations": {"has_unique_values": {}, "has_no_null_values": {}},
                "metrics": ["UniqueCounts", "Counts", "Min", "Max"],
            }
        },
    }
    fast, plain = both(frame, doc)
    assert_same(fast, plain)


def test_distinct_count_of_temporal_columns() -> None:
    start = dt.datetime(2024, 1, 1)
    stamps = [start + dt.timedelta(seconds=s) for s in (5, 1, 5, 9, 2)] + [None]
    frame = pl.DataFrame(
        {
            "ts": stamps,
            "d": [dt.date(2024, 1, 1 + i % 3) for i in range(6)],
            "sorted": [start + dt.timedelta(hours=h) for h in range(6)],
        }
    ).with_columns(pl.col("ts").cast(pl.Datetime("ns", "UTC")))
    columns = {
        c: {"type": t, "validations": {"has_unique_values": {}}, "metrics": ["UniqueCounts"]}
        for c, t in (("ts", "datetime64[ns, UTC]"), ("d", "date"), ("sorted", "datetime64[us]"))
    }
    fast, plain = both(frame, {"name": "ds", "columns": columns})
    assert_same(fast, plain)
    assert {f.column for f in fast[0].failures} == {"ts", "d"}
    assert {v.column: v.value for v in fast[1]} == {"ts": 5, "d": 3, "sorted": 6}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], 0),
        ([None, None], 0),
        ([3, 1, 3, None, 2], 3),
        (list(range(10)), 10),  # sorted: run count
        ([0, 10**12, 5], 3),  # a range too wide for a bitmap: hashed
        ([2**63 - 1, -(2**63), 0, 0], 3),
    ],
)
def test_distinct_count(values: list[int | None], expected: int) -> None:
    series = pl.Series("x", values, dtype=pl.Int64)
    assert distinct_count(series) == expected
    assert distinct_count(series.reverse()) == expected


def test_wide_ranges_use_the_hash_table(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[int] = []
    zeros = pl.zeros

    def counting(n: int, *args: Any, **kwargs: Any) -> Any:
        made.append(n)
        return zeros(n, *args, **kwargs)

    monkeypatch.setattr(digests.pl, "zeros", counting)
    assert distinct_count(pl.Series([5, 1, 5, 3])) == 3
    assert made == [5]  # a bitmap of the range 1..5
    assert distinct_count(pl.Series([10**15, 1, 10**15, 3])) == 3
    assert made == [5]  # no bitmap of 10**15 slots


def test_plan_takes_only_what_digests_answer() -> None:
    schema = parse_schema(
        {
            "columns": {
                "f": {
                    "type": "float64",
                    "validations": {"has_unique_values": {}},
                    "metrics": ["CountsPerLabel", "UniqueCounts"],
                },
                "s": {
                    "type": "str",
                    "validations": {"is_in": {"options": {"categorical_values": ["a"]}}},
                },
                "c": {
                    "type": "category",
                    "validations": {"is_in": {"options": {"categorical_values": ["a"]}}},
                },
                "i": {
                    "type": "int64",
                    "validations": {"has_unique_values": {}},
                    "metrics": ["CountsPerLabel"],
                },
            }
        },
        resource="res",
    )
    frame_schema = pl.Schema(
        {"f": pl.Float64(), "s": pl.String(), "c": pl.Categorical(), "i": pl.Int64()}
    )
    active, metric_cols = quality.active_checks(schema, frame_schema, rules=True, metrics=True)
    plan = plan_digests(active, metric_cols, frame_schema)
    # floats keep their expressions (NaN is null there); a text is_in alone keeps its own
    assert plan.label_columns == ["c", "i"]
    assert plan.distinct_columns == ["i"]
    assert sorted(plan.rules.values()) == [("has_unique_values", "i"), ("is_in", "c")]
    assert [metric_cols[j] for j in plan.metrics] == [("i", "CountsPerLabel")]


@SETTINGS
@given(
    values=st.lists(st.one_of(st.none(), st.text(max_size=3), st.integers(-3, 3)), max_size=60),
    cap=st.integers(-2, 8),
    kind=st.sampled_from(["str", "int", "bool", "date", "category", "enum"]),
)
def test_few_labels_rank_as_the_lazy_query_does(values: list[Any], cap: int, kind: str) -> None:
    ints = [v if isinstance(v, int) else None for v in values]
    texts = [v if not isinstance(v, int) else str(v) for v in values]
    if kind == "int":
        column = pl.Series("c", ints, pl.Int64)
    elif kind == "bool":
        column = pl.Series("c", [None if v is None else v > 0 for v in ints], pl.Boolean)
    elif kind == "date":
        day = dt.date(2024, 1, 1)
        column = pl.Series("c", [None if v is None else day + dt.timedelta(v) for v in ints])
    elif kind == "category":
        column = pl.Series("c", texts, pl.Categorical)
    elif kind == "enum":
        column = pl.Series("c", texts, pl.Enum(sorted({t for t in texts if t is not None})))
    else:
        column = pl.Series("c", texts, pl.String)
    grouped = column.to_frame().group_by("c").agg(pl.len().alias(digests._COUNT))
    few = digests._label_counts(grouped, "c", cap)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(digests, "_FEW_LABELS", -1)  # every grouping through the lazy query
        assert few == digests._label_counts(grouped, "c", cap)


def test_checks_are_prepared_once_per_schema_and_column_types() -> None:
    schema = parse_schema(
        {"columns": {"x": {"type": "int64", "validations": {"is_between": {
            "options": {"lower": 0, "upper": 10}}}, "metrics": ["Min"]}}},
        resource="res",
    )  # fmt: skip
    frame = pl.DataFrame({"x": [1, 2, 30]})
    first = quality._prepared(schema, frame.schema, True, True)
    assert quality._prepared(schema, frame.schema, True, True) is first
    # other column types, rules or metrics alone, another schema of the same text: their own
    as_int32 = pl.Schema({"x": pl.Int32})
    assert quality._prepared(schema, as_int32, True, True) is not first
    assert quality._prepared(schema, frame.schema, True, False) is not first
    twin = parse_schema({"columns": {"x": {"type": "int64"}}}, resource="res")
    assert quality._prepared(twin, frame.schema, True, True) is not first
    report, values = quality.evaluate(frame, schema)
    assert [f.rule for f in report.failures] == ["is_between"]
    assert [v.value for v in values] == [1]
    assert quality.evaluate(frame.cast(pl.Int32), schema)[1][0].value == 1


def test_a_rule_registered_again_is_used_by_the_next_check() -> None:
    name = "prepared_again_t"
    rules.register_rule(name)(lambda c: c > 0)
    try:
        schema = parse_schema({"columns": {"x": {"type": "int64", "validations": {name: {}}}}})
        frame = pl.DataFrame({"x": [1, 2]})
        assert quality.evaluate(frame, schema)[0].ok
        rules.register_rule(name, replace=True)(lambda c: c > 1)
        assert not quality.evaluate(frame, schema)[0].ok
        rules.unregister_rule(name)
        with pytest.raises(quality.DynioError, match="no longer registered"):
            quality.evaluate(frame, schema)
    finally:
        rules.unregister_rule(name)


def test_a_schema_gone_takes_its_prepared_checks_with_it() -> None:
    frame = pl.DataFrame({"x": [1, 2]})
    doc = {"columns": {"x": {"type": "int64", "validations": {"is_in": {"options": {
        "categorical_values": list(range(1000))}}}}}}  # fmt: skip
    keep = parse_schema(doc)
    quality.evaluate(frame, keep)
    gone: set[int] = set()
    for _ in range(5):  # as dynio.validate(frame, mapping) does: a schema made for each call
        once = parse_schema(doc)
        assert quality.evaluate(frame, once)[0].ok
        gone.add(id(once))
        assert [k for k in quality._PREPARED if k[0] == id(once)]
        del once
    gc.collect()
    quality.evaluate(frame, keep)  # drops the entries of the schemas gone since
    assert not [k for k in quality._PREPARED if k[0] in gone]
    assert [k for k in quality._PREPARED if k[0] == id(keep)]


def test_the_equality_chain_bound_is_part_of_what_is_prepared(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    schema = parse_schema(text_doc("str", ["GB", "US"], None))
    frame = pl.DataFrame({"s": ["GB", "FR"], "t": ["US", None]})
    chained = quality._prepared(schema, frame.schema, True, True)
    monkeypatch.setattr(rules, "EQUALITY_CHAIN_MAX", 0)
    looked_up = quality._prepared(schema, frame.schema, True, True)
    assert looked_up is not chained
    assert str(looked_up.built[0].passed) != str(chained.built[0].passed)


def test_prepared_checks_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quality, "_PREPARED", type(quality._PREPARED)())
    monkeypatch.setattr(quality, "_PREPARED_MAX", 3)
    frame = pl.DataFrame({"x": [1]})
    schemas = [parse_schema({"columns": {"x": {"type": "int64", "metrics": ["Max"]}}})]
    for _ in range(4):
        schemas.append(parse_schema({"columns": {"x": {"type": "int64", "metrics": ["Max"]}}}))
        quality.evaluate(frame, schemas[-1])
    assert [k[0] for k in quality._PREPARED] == [id(s) for s in schemas[-3:]]


def test_label_cap_keeps_the_most_frequent_then_by_label() -> None:
    frame = pl.DataFrame({"c": ["b", "a", "c", "a", "b", "d", None, None, None]})
    schema = parse_schema({"columns": {"c": {"type": "str", "metrics": ["CountsPerLabel"]}}})
    _, values = quality.evaluate(frame, schema, label_cap=3)
    assert [(v.label, v.value) for v in values] == [("a", 2), ("b", 2), ("c", 1)]


def test_is_in_equality_chain_equals_hash_lookup() -> None:
    frame = pl.DataFrame({"s": ["GB", None, "US", "", "a-rather-long-label", "gb", "US"]})
    cats = pl.Series(["US", "", "a-rather-long-label", "US"])
    chained = frame.select(rules._found(pl.col("s"), cats, pl.String())).to_series()
    hashed = frame.select(pl.col("s").is_in(cats.implode())).to_series()
    assert chained.to_list() == [False, None, True, True, True, False, True]
    assert hashed.fill_null(False).to_list() == chained.fill_null(False).to_list()


@pytest.mark.parametrize(
    ("values", "cats", "match_all"),
    [
        (["1", "2", None, "2"], [1, 2], False),  # YAML numbers compare as text
        (["1", "2", None, "2"], [1, 2, 3], True),  # a category absent from the data
        (["1", "2", "x", "2"], [1, 2], False),  # a value outside: grouped after all
        (["a", None], ["a", None], True),  # a null category is never present
        ([], ["a"], True),  # an empty frame
        ([None, None], ["a", "b"], False),  # no value at all
    ],
)
def test_counted_categories_equal_the_plain_path(
    values: list[str | None], cats: list[Any], match_all: bool
) -> None:
    frame = pl.DataFrame({"s": values, "t": values}, schema={"s": pl.String, "t": pl.String})
    schema = parse_schema(text_doc("str", cats, match_all), resource="res")
    active, metric_cols = quality.active_checks(schema, frame.schema, rules=True, metrics=True)
    plan = plan_digests(active, metric_cols, frame.schema)
    assert ("s" in plan.counted) is (None not in cats)
    fast, plain = both(frame, text_doc("str", cats, match_all))
    assert_same(fast, plain)


@pytest.mark.parametrize("dtype", [pl.Int64, pl.Int8, pl.UInt64, pl.Int128, pl.Date])
def test_sorted_columns_are_counted_by_runs_across_chunks_and_slices(
    dtype: pl.DataType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(digests, "_SLICE", 3)  # runs that cross slices as well as chunks
    values = [1, 1, 2, 2, 2, 3, 4, 4, 5, 6, 6, 6, 6, 7, 9, 9]
    chunks = [values[:5], values[5:6], [], values[6:13], values[13:]]
    parts = [pl.Series("x", c, dtype=pl.Int64).cast(dtype) for c in chunks]
    series = parts[0]
    for part in parts[1:]:
        series = series.append(part)  # appends keep the chunks
    assert series.n_chunks() > 1
    with_nulls = pl.concat([series, pl.Series("x", [None], dtype=dtype)], rechunk=False)
    for s in (series, with_nulls):
        assert distinct_count(s) == len(set(values)) == s.drop_nulls().n_unique()
