"""Data-quality rules: each rule against hand-computed answers, the report, and end to end.

The rules compile to Polars expressions and run, with the metrics, in one ``select``
(``dynio.engine.quality.evaluate``). Schemas are built from inline dicts with
``dynio.engine.loader.parse_schema``; catalogs from YAML text with the ``catalog_from`` fixture.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from conftest import write_text

import dynio
from dynio.engine import quality
from dynio.engine.errors import ConfigError
from dynio.engine.loader import parse_schema
from dynio.engine.quality import RuleFailure, ValidationReport
from dynio.engine.spec import SchemaSpec
from dynio.errors import DynioError, ValidationError

# ----------------------------------------------------------------------------------- helpers


def schema_of(
    columns: dict[str, Any],
    validations: dict[str, Any] | None = None,
    name: str | None = "ds",
    resource: str | None = "res",
) -> SchemaSpec:
    doc: dict[str, Any] = {"columns": columns}
    if name is not None:
        doc["name"] = name
    if validations is not None:
        doc["validations"] = validations
    return parse_schema(doc, resource=resource)


def col(dtype: str, **rules: Any) -> dict[str, Any]:
    """A column body ``{type, validations}``; each rule value is its body (or options dict)."""
    return {"type": dtype, "validations": rules}


def check(
    frame: pl.DataFrame | pl.LazyFrame,
    columns: dict[str, Any],
    validations: dict[str, Any] | None = None,
) -> ValidationReport:
    report, _ = quality.evaluate(frame, schema_of(columns, validations), resource="res", env="test")
    return report


def failure(report: ValidationReport, rule: str, column: str | None) -> RuleFailure:
    found = [f for f in report.failures if f.rule == rule and f.column == column]
    assert len(found) == 1, f"expected one failure of {rule} on {column}: {report.failures}"
    return found[0]


def failed_rules(report: ValidationReport) -> list[tuple[str, str | None]]:
    return [(f.rule, f.column) for f in report.failures]


def opts(**options: Any) -> dict[str, Any]:
    return {"apply": True, "options": options}


@pytest.fixture
def user_rules() -> Iterator[list[str]]:
    """Names appended here are unregistered after the test."""
    names: list[str] = []
    yield names
    for name in names:
        dynio.unregister_rule(name)


# -------------------------------------------------------------------------- has_unique_values


def test_has_unique_values_counts_every_duplicated_row_and_samples_distinct_values() -> None:
    frame = pl.DataFrame({"id": [1, 2, 2, 3, 3, 3, 4, None, None]})
    report = check(frame, {"id": col("Int64", has_unique_values=opts())})
    f = failure(report, "has_unique_values", "id")
    assert f.failing_count == 5  # rows holding 2, 2, 3, 3, 3 (nulls ignored)
    assert f.failing_share == pytest.approx(5 / 9)
    assert f.sample == (2, 3)
    assert f.severity == "error"
    assert report.rows == 9
    assert report.checked == 1
    assert not report.ok


def test_has_unique_values_ignores_repeated_nulls() -> None:
    frame = pl.DataFrame({"id": [None, 1, None, 2, None]}, schema={"id": pl.Int64})
    report = check(frame, {"id": col("Int64", has_unique_values=opts())})
    assert report.ok
    assert report.failures == ()
    assert report.checked == 1


def test_has_unique_values_on_strings_and_categoricals() -> None:
    frame = pl.DataFrame(
        {"s": ["x", "y", "x", None], "c": ["a", "b", "c", "b"]},
        schema={"s": pl.String, "c": pl.Categorical},
    )
    report = check(
        frame,
        {"s": col("str", has_unique_values={}), "c": col("category", has_unique_values={})},
    )
    assert failure(report, "has_unique_values", "s").sample == ("x",)
    assert failure(report, "has_unique_values", "s").failing_count == 2
    assert failure(report, "has_unique_values", "c").sample == ("b",)
    assert failure(report, "has_unique_values", "c").failing_count == 2


# ---------------------------------------------------------------- nulls: no nulls / percentage


def test_has_no_null_values_counts_nulls() -> None:
    frame = pl.DataFrame({"a": [1.0, None, 3.0, None]})
    report = check(frame, {"a": col("float64", has_no_null_values={})})
    f = failure(report, "has_no_null_values", "a")
    assert (f.failing_count, f.failing_share) == (2, 0.5)
    assert check(pl.DataFrame({"a": [1.0, 2.0]}), {"a": col("float64", has_no_null_values={})}).ok


def test_has_no_null_values_on_all_null_column() -> None:
    frame = pl.DataFrame({"a": [None, None, None]}, schema={"a": pl.String})
    f = failure(check(frame, {"a": col("str", has_no_null_values={})}), "has_no_null_values", "a")
    assert (f.failing_count, f.failing_share) == (3, 1.0)


@pytest.mark.parametrize(
    ("nulls", "rows", "threshold", "passes"),
    [
        (1, 4, 0.5, True),  # 25% < 50%
        (2, 4, 0.5, False),  # 50% is not strictly below 50%
        (3, 4, 0.5, False),
        (1, 10, 0.1, False),  # exactly at the threshold fails
        (1, 10, 0.11, True),
        (0, 5, 0.01, True),
        (5, 5, 0.99, False),  # all nulls
    ],
)
def test_has_acceptable_percentage_of_nulls_is_strictly_below(
    nulls: int, rows: int, threshold: float, passes: bool
) -> None:
    values = [None] * nulls + list(range(rows - nulls))
    frame = pl.DataFrame({"a": values}, schema={"a": pl.Int64})
    rule = {"has_acceptable_percentage_of_nulls": opts(threshold=threshold)}
    report = check(frame, {"a": {"type": "Int64", "validations": rule}})
    assert report.ok is passes
    if not passes:
        f = failure(report, "has_acceptable_percentage_of_nulls", "a")
        assert f.failing_count == nulls
        assert f.failing_share == pytest.approx(nulls / rows)
        assert "has_acceptable_percentage_of_nulls" in f.message
        assert "'a'" in f.message


@pytest.mark.parametrize("threshold", [0, 1, 1.5, -0.2])
def test_percentage_threshold_must_be_a_fraction(threshold: float) -> None:
    with pytest.raises(ConfigError) as info:
        schema_of({"a": col("Int64", has_acceptable_percentage_of_nulls=opts(threshold=threshold))})
    err = info.value
    assert err.column == "a"
    assert err.key_path == "columns.a.validations.has_acceptable_percentage_of_nulls.options"
    assert "threshold" in str(err)


def test_percentage_threshold_is_required() -> None:
    with pytest.raises(ConfigError, match="threshold"):
        schema_of({"a": col("Int64", has_acceptable_percentage_of_nulls={})})


# ------------------------------------------------------------------------------------- is_in


def test_is_in_subset_by_default_and_nulls_ignored() -> None:
    frame = pl.DataFrame({"c": ["red", None, "red", "blue"]})
    cats = ["red", "blue", "green"]
    assert check(frame, {"c": col("str", is_in=opts(categorical_values=cats))}).ok
    assert check(frame, {"c": col("str", is_in=opts(categorical_values=cats, match_all=False))}).ok


def test_is_in_reports_values_outside_the_set() -> None:
    frame = pl.DataFrame({"c": ["red", "pink", "teal", None, "pink", "red"]})
    report = check(frame, {"c": col("str", is_in=opts(categorical_values=["red", "blue"]))})
    f = failure(report, "is_in", "c")
    assert f.failing_count == 3
    assert f.failing_share == pytest.approx(0.5)
    assert f.sample == ("pink", "teal", "pink")


def test_is_in_match_all_requires_every_category_present() -> None:
    frame = pl.DataFrame({"c": ["red", "red", None]})
    report = check(
        frame,
        {"c": col("str", is_in=opts(categorical_values=["red", "blue"], match_all=True))},
    )
    f = failure(report, "is_in", "c")
    assert f.failing_count == 0  # no row is outside the set …
    assert f.detail == ("blue",)  # … but 'blue' never appears
    assert "blue" in f.message


def test_is_in_match_all_requires_no_other_value() -> None:
    frame = pl.DataFrame({"c": ["red", "blue", "green"]})
    report = check(
        frame,
        {"c": col("str", is_in=opts(categorical_values=["red", "blue"], match_all=True))},
    )
    f = failure(report, "is_in", "c")
    assert f.failing_count == 1
    assert f.sample == ("green",)


def test_is_in_match_all_passes_on_exact_set() -> None:
    frame = pl.DataFrame({"c": ["blue", "red", None, "blue"]})
    rule = opts(categorical_values=["red", "blue"], match_all=True)
    assert check(frame, {"c": col("str", is_in=rule)}).ok


def test_is_in_on_categorical_column() -> None:
    frame = pl.DataFrame({"c": ["a", "b", "z", None]}, schema={"c": pl.Categorical})
    report = check(frame, {"c": col("category", is_in=opts(categorical_values=["a", "b"]))})
    f = failure(report, "is_in", "c")
    assert (f.failing_count, f.sample) == (1, ("z",))
    ok = check(
        frame.filter(pl.col("c") != "z"),
        {"c": col("category", is_in=opts(categorical_values=["a", "b"], match_all=True))},
    )
    assert ok.ok


def test_is_in_on_integer_column_with_yaml_numbers() -> None:
    frame = pl.DataFrame({"n": [1, 2, 3, None]}, schema={"n": pl.Int64})
    report = check(frame, {"n": col("Int64", is_in=opts(categorical_values=[1, 2]))})
    f = failure(report, "is_in", "n")
    assert (f.failing_count, f.sample) == (1, (3,))
    assert check(frame, {"n": col("Int64", is_in=opts(categorical_values=[1, 2, 3]))}).ok


def test_is_in_on_float_column_with_yaml_integers() -> None:
    # YAML `categorical_values: [1, 2]` on a float64 column: 1.0 and 2.0 are in the set, as
    # pandas' `isin([1, 2])` (dynamicio) says.
    frame = pl.DataFrame({"f": [1.0, 2.0, None]})
    report = check(frame, {"f": col("float64", is_in=opts(categorical_values=[1, 2]))})
    assert report.ok, report.summary()


def test_is_in_on_boolean_column_with_yaml_booleans() -> None:
    frame = pl.DataFrame({"b": [True, False, None]})
    report = check(frame, {"b": col("bool", is_in=opts(categorical_values=[True, False]))})
    assert report.ok, report.summary()


def test_is_in_on_empty_frame() -> None:
    frame = pl.DataFrame({"c": []}, schema={"c": pl.String})
    assert check(frame, {"c": col("str", is_in=opts(categorical_values=["a"]))}).ok
    report = check(frame, {"c": col("str", is_in=opts(categorical_values=["a"], match_all=True))})
    f = failure(report, "is_in", "c")
    assert f.detail == ("a",)
    assert f.failing_share == 0.0


def test_is_in_categorical_values_must_be_a_list() -> None:
    with pytest.raises(ConfigError) as info:
        schema_of({"c": col("str", is_in=opts(categorical_values="red"))})
    assert info.value.key_path == "columns.c.validations.is_in.options"
    assert "categorical_values" in str(info.value)


# ------------------------------------------------------------------------------- comparisons


@pytest.mark.parametrize(
    ("rule", "threshold", "failing"),
    [
        ("is_greater_than", 2, [1, 2]),
        ("is_greater_than_or_equal", 2, [1]),
        ("is_lower_than", 3, [3, 4]),
        ("is_lower_than_or_equal", 3, [4]),
        ("is_greater_than", 0, []),
        ("is_lower_than", 4.5, []),
        ("is_greater_than", 1.5, [1]),
    ],
)
def test_comparison_rules_ignore_nulls(rule: str, threshold: float, failing: list[int]) -> None:
    frame = pl.DataFrame({"x": [1, None, 2, 3, 4, None]}, schema={"x": pl.Int64})
    report = check(frame, {"x": col("Int64", **{rule: opts(threshold=threshold)})})
    if not failing:
        assert report.ok
        return
    f = failure(report, rule, "x")
    assert f.failing_count == len(failing)
    assert f.failing_share == pytest.approx(len(failing) / 6)
    assert list(f.sample) == failing
    assert f.options == {"threshold": threshold}


def test_comparison_on_float_column() -> None:
    frame = pl.DataFrame({"f": [0.5, -0.25, None, 1e9]})
    report = check(
        frame,
        {
            "f": col(
                "float64",
                is_greater_than_or_equal=opts(threshold=0),
                is_lower_than=opts(threshold=1e6),
            )
        },
    )
    assert failure(report, "is_greater_than_or_equal", "f").sample == (-0.25,)
    assert failure(report, "is_lower_than", "f").sample == (1e9,)


def test_comparison_threshold_is_required_and_numeric() -> None:
    with pytest.raises(ConfigError, match="threshold"):
        schema_of({"x": col("Int64", is_greater_than={})})
    with pytest.raises(ConfigError) as info:
        schema_of({"x": col("Int64", is_greater_than=opts(threshold="ten"))})
    assert info.value.key_path == "columns.x.validations.is_greater_than.options"


def test_sample_holds_at_most_five_values_in_row_order() -> None:
    frame = pl.DataFrame({"x": [*range(-10, 0), 5]})
    f = failure(
        check(frame, {"x": col("int64", is_greater_than=opts(threshold=0))}),
        "is_greater_than",
        "x",
    )
    assert f.failing_count == 10
    assert f.sample == (-10, -9, -8, -7, -6)


# ----------------------------------------------------------------------------------- is_between


@pytest.mark.parametrize(
    ("include", "failing"),
    [
        ({}, [0, 10, -1, 11]),  # both bounds exclusive by default, as dynamicio's code
        ({"include_left": False, "include_right": False}, [0, 10, -1, 11]),
        ({"include_left": True}, [10, -1, 11]),
        ({"include_right": True}, [0, -1, 11]),
        ({"include_left": True, "include_right": True}, [-1, 11]),
    ],
)
def test_is_between_bounds(include: dict[str, bool], failing: list[int]) -> None:
    frame = pl.DataFrame({"x": [0, 5, 10, None, -1, 11, 9]}, schema={"x": pl.Int32})
    report = check(frame, {"x": col("int32", is_between=opts(lower=0, upper=10, **include))})
    f = failure(report, "is_between", "x")
    assert f.failing_count == len(failing)
    assert list(f.sample) == failing


def test_is_between_float_bounds_and_nulls() -> None:
    frame = pl.DataFrame({"x": [0.1, 0.5, None, 0.9]})
    assert check(frame, {"x": col("float64", is_between=opts(lower=0, upper=1))}).ok
    report = check(frame, {"x": col("float64", is_between=opts(lower=0.1, upper=0.9))})
    assert failure(report, "is_between", "x").sample == (0.1, 0.9)


def test_is_between_all_null_and_empty_pass() -> None:
    rule = {"x": col("float64", is_between=opts(lower=0, upper=1))}
    assert check(pl.DataFrame({"x": [None, None]}, schema={"x": pl.Float64}), rule).ok
    assert check(pl.DataFrame({"x": []}, schema={"x": pl.Float64}), rule).ok


def test_is_between_lower_above_upper_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        schema_of({"x": col("int64", is_between=opts(lower=5, upper=1))})
    assert info.value.column == "x"
    assert "lower" in str(info.value)


def test_is_between_needs_both_bounds() -> None:
    with pytest.raises(ConfigError, match="upper"):
        schema_of({"x": col("int64", is_between=opts(lower=5))})


# ------------------------------------------------------------------------- text rules (extras)


def test_matches_regex_full_match_by_default() -> None:
    frame = pl.DataFrame({"s": ["abc", "ab", "abcd", None, "xabc"]})
    f = failure(
        check(frame, {"s": col("str", matches_regex=opts(pattern="abc"))}), "matches_regex", "s"
    )
    assert f.failing_count == 3
    assert f.sample == ("ab", "abcd", "xabc")


def test_matches_regex_search_when_full_match_false() -> None:
    frame = pl.DataFrame({"s": ["abc", "ab", "abcd", None, "xabc"]})
    report = check(frame, {"s": col("str", matches_regex=opts(pattern="abc", full_match=False))})
    f = failure(report, "matches_regex", "s")
    assert (f.failing_count, f.sample) == (1, ("ab",))


def test_matches_regex_alternation_is_anchored_as_a_whole() -> None:
    frame = pl.DataFrame({"s": ["GB", "FR", "GBR", "xFR"]})
    f = failure(
        check(frame, {"s": col("str", matches_regex=opts(pattern="GB|FR"))}), "matches_regex", "s"
    )
    assert f.sample == ("GBR", "xFR")


def test_has_length_between() -> None:
    frame = pl.DataFrame({"s": ["", "a", "abc", "abcd", None, "ééé"]})
    report = check(frame, {"s": col("str", has_length_between=opts(min=1, max=3))})
    f = failure(report, "has_length_between", "s")
    assert f.failing_count == 2
    assert f.sample == ("", "abcd")  # 'ééé' is three characters
    only_max = check(frame, {"s": col("str", has_length_between=opts(max=1))})
    assert failure(only_max, "has_length_between", "s").sample == ("abc", "abcd", "ééé")


def test_is_not_empty_rejects_empty_and_blank_strings_not_nulls() -> None:
    frame = pl.DataFrame({"s": ["a", "", "  ", None, "\t", " b "]})
    f = failure(check(frame, {"s": col("str", is_not_empty={})}), "is_not_empty", "s")
    assert f.failing_count == 3
    assert f.sample == ("", "  ", "\t")


# ------------------------------------------------------------------------ frame-level rules


@pytest.mark.parametrize(
    ("bounds", "rows", "passes"),
    [
        ({"min": 1}, 0, False),
        ({"min": 1}, 1, True),
        ({"max": 3}, 3, True),
        ({"max": 3}, 4, False),
        ({"min": 2, "max": 2}, 2, True),
        ({"min": 2, "max": 2}, 3, False),
    ],
)
def test_row_count_between(bounds: dict[str, int], rows: int, passes: bool) -> None:
    frame = pl.DataFrame({"a": list(range(rows))}, schema={"a": pl.Int64})
    report = check(frame, {"a": "int64"}, {"row_count_between": opts(**bounds)})
    assert report.ok is passes
    assert report.checked == 1
    if not passes:
        f = failure(report, "row_count_between", None)
        assert f.column is None
        assert "the frame" in f.message


def test_unique_together() -> None:
    frame = pl.DataFrame(
        {"a": [1, 1, 2, 1, 2], "b": ["x", "x", "y", "z", "w"], "c": [1, 2, 3, 4, 5]}
    )
    report = check(
        frame,
        {"a": "int64", "b": "str", "c": "int64"},
        {"unique_together": opts(columns=["a", "b"])},
    )
    f = failure(report, "unique_together", None)
    assert f.failing_count == 2
    assert f.sample == ({"a": 1, "b": "x"},)
    assert check(
        frame,
        {"a": "int64", "b": "str", "c": "int64"},
        {"unique_together": opts(columns=["a", "c"])},
    ).ok


def test_unique_together_names_unknown_columns() -> None:
    with pytest.raises(ConfigError) as info:
        schema_of({"a": "int64"}, {"unique_together": opts(columns=["a", "nope"])})
    assert "nope" in str(info.value)
    assert info.value.key_path == "validations.unique_together"


def test_frame_rule_under_a_column_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="row_count_between"):
        schema_of({"a": col("int64", row_count_between=opts(min=1))})
    with pytest.raises(ConfigError, match="has_unique_values"):
        schema_of({"a": "int64"}, {"has_unique_values": {}})


def test_unknown_rule_and_unknown_option_name_key_path() -> None:
    with pytest.raises(ConfigError) as info:
        schema_of({"a": col("int64", is_positive={})})
    assert info.value.key_path == "columns.a.validations.is_positive"
    with pytest.raises(ConfigError) as info:
        schema_of({"a": col("int64", is_greater_than=opts(threshold=1, strict=True))})
    assert "strict" in str(info.value)


# ------------------------------------------------------------------------ apply and severity


def test_apply_false_skips_the_rule() -> None:
    frame = pl.DataFrame({"a": [1, 1, None]})
    report = check(
        frame,
        {
            "a": col(
                "int64",
                has_unique_values={"apply": False},
                has_no_null_values={"apply": "false", "options": {}},
                is_greater_than=opts(threshold=5),
            )
        },
    )
    assert report.checked == 1
    assert failed_rules(report) == [("is_greater_than", "a")]


def test_severity_warn_is_reported_but_ok() -> None:
    frame = pl.DataFrame({"a": [1, 1, -1]})
    report = check(
        frame,
        {
            "a": col(
                "int64",
                has_unique_values={"severity": "warn"},
                is_greater_than={"options": {"threshold": 0}, "severity": "warn"},
            )
        },
    )
    assert report.ok
    assert [f.rule for f in report.warnings] == ["has_unique_values", "is_greater_than"]
    assert report.errors == ()
    assert all(f.severity == "warn" for f in report.failures)


def test_unknown_severity_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        schema_of({"a": col("int64", has_unique_values={"severity": "fatal"})})
    assert info.value.key_path == "columns.a.validations.has_unique_values.severity"


# ------------------------------------------------------------------------------ the report


def _mixed_report() -> ValidationReport:
    frame = pl.DataFrame(
        {
            "colour": ["red", "pink", None],
            "size": ["S", "XXL", "M"],
            "when": [dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 1), None],
            "n": [1, 2, 3],
        }
    )
    return check(
        frame,
        {
            "colour": col("str", is_in=opts(categorical_values=["red"])),
            "size": col(
                "str", is_in={"options": {"categorical_values": ["S", "M"]}, "severity": "warn"}
            ),
            "when": col("datetime64[us]", has_unique_values={}, has_no_null_values={}),
            "n": col("int64", is_greater_than=opts(threshold=0)),
        },
        {"row_count_between": opts(min=5)},
    )


def test_report_lists_every_failure_in_schema_order() -> None:
    report = _mixed_report()
    assert failed_rules(report) == [
        ("is_in", "colour"),
        ("is_in", "size"),
        ("has_unique_values", "when"),
        ("has_no_null_values", "when"),
        ("row_count_between", None),
    ]
    assert report.checked == 6
    assert report.rows == 3
    assert report.resource == "res"
    assert report.env == "test"
    assert [f.rule for f in report.errors] == [
        "is_in",
        "has_unique_values",
        "has_no_null_values",
        "row_count_between",
    ]
    assert [(f.rule, f.column) for f in report.warnings] == [("is_in", "size")]
    assert not report.ok
    assert failure(report, "has_unique_values", "when").sample == (dt.datetime(2024, 1, 1),)


def test_report_to_dict_is_json_serialisable() -> None:
    report = _mixed_report()
    data = json.loads(json.dumps(report.to_dict()))
    assert data["resource"] == "res"
    assert data["env"] == "test"
    assert data["rows"] == 3
    assert data["ok"] is False
    assert len(data["failures"]) == 5
    first = data["failures"][0]
    assert first["rule"] == "is_in"
    assert first["column"] == "colour"
    assert first["severity"] == "error"
    assert first["failing_count"] == 1
    assert first["failing_share"] == pytest.approx(1 / 3)
    assert first["sample"] == ["pink"]
    dup = data["failures"][2]
    assert dup["rule"] == "has_unique_values"
    assert len(dup["sample"]) == 1
    assert "2024-01-01" in dup["sample"][0]  # datetimes become text
    assert data["failures"][4]["column"] is None


def test_report_summary_names_every_failure() -> None:
    text = _mixed_report().summary()
    assert "4 error(s), 1 warning(s)" in text
    for needle in ["is_in", "'colour'", "'size'", "has_unique_values", "has_no_null_values",
                   "row_count_between", "[warn]", "'pink'", "XXL"]:  # fmt: skip
        assert needle in text
    assert len(text.splitlines()) == 6


def test_report_summary_when_all_pass() -> None:
    report = check(pl.DataFrame({"a": [1, 2]}), {"a": col("int64", has_unique_values={})})
    assert report.ok
    assert "1 rules passed on 2 rows" in report.summary()
    assert report.as_dynamicio() == {}
    assert report.to_dict()["failures"] == []


def test_as_dynamicio_keeps_both_failures_of_one_rule() -> None:
    report = _mixed_report()
    view = report.as_dynamicio()
    assert set(view) == {
        "is_in",
        "is_in[size]",
        "has_unique_values",
        "has_no_null_values",
        "row_count_between",
    }
    assert "'colour'" in view["is_in"]
    assert "'size'" in view["is_in[size]"]
    assert all(isinstance(v, str) for v in view.values())


def test_as_dynamicio_three_columns_same_rule() -> None:
    frame = pl.DataFrame(
        {"a": [None], "b": [None], "c": [None]}, schema=dict.fromkeys("abc", pl.Int64)
    )
    report = check(frame, {c: col("Int64", has_no_null_values={}) for c in "abc"})
    assert list(report.as_dynamicio()) == [
        "has_no_null_values",
        "has_no_null_values[b]",
        "has_no_null_values[c]",
    ]


def test_validation_error_carries_report() -> None:
    report = _mixed_report()
    err = ValidationError("rules failed", report=report, resource="res", env="test")
    assert isinstance(err, DynioError)
    assert err.report is report


# ----------------------------------------------------------------- empty and all-null frames


def test_every_rule_on_an_empty_frame() -> None:
    frame = pl.DataFrame(
        {"n": [], "s": [], "c": []}, schema={"n": pl.Int64, "s": pl.String, "c": pl.Categorical}
    )
    report = check(
        frame,
        {
            "n": col(
                "Int64",
                has_unique_values={},
                has_no_null_values={},
                has_acceptable_percentage_of_nulls=opts(threshold=0.1),
                is_greater_than=opts(threshold=0),
                is_lower_than_or_equal=opts(threshold=0),
                is_between=opts(lower=0, upper=1),
            ),
            "s": col(
                "str",
                matches_regex=opts(pattern="x"),
                has_length_between=opts(min=1),
                is_not_empty={},
            ),
            "c": col("category", is_in=opts(categorical_values=["a"])),
        },
        {"unique_together": opts(columns=["n", "s"])},
    )
    assert report.rows == 0
    assert report.checked == 11
    assert report.failures == ()
    failing = check(frame, {"n": "Int64"}, {"row_count_between": opts(min=1)})
    f = failure(failing, "row_count_between", None)
    assert f.failing_share == 0.0


def test_all_null_column_passes_value_rules_and_fails_null_rules() -> None:
    frame = pl.DataFrame({"x": [None] * 4}, schema={"x": pl.Float64})
    report = check(
        frame,
        {
            "x": col(
                "float64",
                has_unique_values={},
                is_greater_than=opts(threshold=0),
                is_between=opts(lower=0, upper=1),
                is_in=opts(categorical_values=[1.5]),
                has_no_null_values={},
                has_acceptable_percentage_of_nulls=opts(threshold=0.9),
            )
        },
    )
    assert failed_rules(report) == [
        ("has_no_null_values", "x"),
        ("has_acceptable_percentage_of_nulls", "x"),
    ]
    assert failure(report, "has_acceptable_percentage_of_nulls", "x").failing_share == 1.0


def test_null_dtype_column() -> None:
    frame = pl.DataFrame({"x": [None, None]})  # dtype Null, e.g. from an all-null source
    report = check(frame, {"x": col("float64", has_unique_values={}, has_no_null_values={})})
    assert failed_rules(report) == [("has_no_null_values", "x")]


def test_timestamps_with_nulls() -> None:
    t = dt.datetime(2024, 3, 1, 8, 30)
    frame = pl.DataFrame({"t": [t, None, t, dt.datetime(2024, 3, 2)]})
    report = check(frame, {"t": col("datetime64[us]", has_unique_values={}, has_no_null_values={})})
    assert failure(report, "has_unique_values", "t").sample == (t,)
    assert failure(report, "has_no_null_values", "t").failing_count == 1


# ------------------------------------------------------------------------ one fused select


def test_rules_and_metrics_run_in_one_pass_over_the_data() -> None:
    passes: list[int] = []

    def counting(df: pl.DataFrame) -> pl.DataFrame:
        passes.append(df.height)
        return df

    base = pl.DataFrame({"x": [1, 2, 2, None], "s": ["a", "b", None, "a"]})
    lazy = base.lazy().map_batches(counting, schema=base.schema)
    schema = schema_of(
        {
            "x": {
                "type": "Int64",
                "validations": {
                    "has_unique_values": {},
                    "is_between": opts(lower=0, upper=5),
                    "is_in": opts(categorical_values=[1, 2], match_all=True),
                    "has_acceptable_percentage_of_nulls": opts(threshold=0.5),
                },
                "metrics": ["Min", "Max", "Mean", "Std", "Quantiles", "CountsPerLabel"],
            },
            "s": {
                "type": "str",
                "validations": {"is_not_empty": {}, "matches_regex": opts(pattern="[ab]")},
                "metrics": ["CountsPerLabel", "UniqueCounts", "NullCount"],
            },
        },
        {"unique_together": opts(columns=["x", "s"]), "row_count_between": opts(min=1)},
    )
    report, metrics = quality.evaluate(lazy, schema, resource="res", env="test")
    assert passes == [4]  # the data was produced exactly once for 8 rules and 10 metrics
    assert report.checked == 8
    assert failed_rules(report) == [("has_unique_values", "x")]
    assert len(metrics) > 10


def test_evaluate_accepts_a_lazy_frame() -> None:
    frame = pl.DataFrame({"x": [3, 1, 3]})
    columns = {"x": {"type": "int64", "validations": {"has_unique_values": {}}, "metrics": ["Max"]}}
    eager = quality.evaluate(frame, schema_of(columns), resource="res", env="test")
    lazy = quality.evaluate(frame.lazy(), schema_of(columns), resource="res", env="test")
    assert eager == lazy
    assert failure(lazy[0], "has_unique_values", "x").failing_count == 2
    assert lazy[1][0].value == 3


def test_evaluate_without_schema_or_with_rules_off() -> None:
    frame = pl.DataFrame({"x": [1, 1]})
    report, metrics = quality.evaluate(frame, None, resource="res", env="test")
    assert (report.ok, report.checked, report.rows, metrics) == (True, 0, 2, [])
    schema = schema_of({"x": {"type": "int64", "validations": {"has_unique_values": {}}}})
    report, _ = quality.evaluate(frame, schema, rules=False)
    assert (report.checked, report.failures) == (0, ())


# --------------------------------------------------------------------------- user rules


def test_register_rule_used_by_name(user_rules: list[str]) -> None:
    @dynio.register_rule("is_even_t")
    def is_even(c: pl.Expr) -> pl.Expr:
        return c % 2 == 0

    user_rules.append("is_even_t")
    frame = pl.DataFrame({"x": [2, 3, None, 4, 5]})
    report = check(frame, {"x": col("Int64", is_even_t={})})
    f = failure(report, "is_even_t", "x")
    assert f.failing_count == 2  # null passes
    assert f.sample == (3, 5)
    assert is_even.__name__ == "is_even"  # the decorator returns the function itself


def test_register_rule_with_options(user_rules: list[str]) -> None:
    @dynio.register_rule("is_multiple_of_t")
    def is_multiple_of(c: pl.Expr, divisor: int) -> pl.Expr:
        return c % divisor == 0

    user_rules.append("is_multiple_of_t")
    frame = pl.DataFrame({"x": [3, 6, 7, 9]})
    report = check(frame, {"x": col("int64", is_multiple_of_t=opts(divisor=3))})
    assert failure(report, "is_multiple_of_t", "x").sample == (7,)
    with pytest.raises(ConfigError, match="divisor"):
        schema_of({"x": col("int64", is_multiple_of_t={})})  # required option missing
    with pytest.raises(ConfigError, match="factor"):
        schema_of({"x": col("int64", is_multiple_of_t=opts(divisor=3, factor=2))})


def test_register_rule_with_boolean_option(user_rules: list[str]) -> None:
    @dynio.register_rule("is_positive_t")
    def is_positive(c: pl.Expr, strict: bool = True) -> pl.Expr:
        return c > 0 if strict else c >= 0

    user_rules.append("is_positive_t")
    frame = pl.DataFrame({"x": [0, 1, -1]})
    strict = check(frame, {"x": col("int64", is_positive_t={})})
    assert failure(strict, "is_positive_t", "x").sample == (0, -1)
    loose = check(frame, {"x": col("int64", is_positive_t=opts(strict=False))})
    assert failure(loose, "is_positive_t", "x").sample == (-1,)


def test_register_rule_with_declared_options(user_rules: list[str]) -> None:
    @dynio.register_rule(
        "starts_with_t", options={"prefix": dynio.OptionDef((str,), required=True)}
    )
    def starts_with(c: pl.Expr, prefix: str) -> pl.Expr:
        return c.str.starts_with(prefix)

    user_rules.append("starts_with_t")
    frame = pl.DataFrame({"s": ["ab", "ba", None]})
    report = check(frame, {"s": col("str", starts_with_t=opts(prefix="a"))})
    assert failure(report, "starts_with_t", "s").sample == ("ba",)
    with pytest.raises(ConfigError, match="prefix"):
        schema_of({"s": col("str", starts_with_t=opts(prefix=1))})


def test_register_rule_refuses_taken_names(user_rules: list[str]) -> None:
    with pytest.raises(ValueError, match="has_unique_values"):
        dynio.register_rule("has_unique_values")(lambda c: c.is_not_null())
    with pytest.raises(ValueError, match="has_unique_values"):
        dynio.register_rule("has_unique_values", replace=True)(lambda c: c.is_not_null())

    dynio.register_rule("dup_t")(lambda c: c > 0)
    user_rules.append("dup_t")
    with pytest.raises(ValueError, match="dup_t"):
        dynio.register_rule("dup_t")(lambda c: c > 1)
    dynio.register_rule("dup_t", replace=True)(lambda c: c > 1)
    report = check(pl.DataFrame({"x": [1, 2]}), {"x": col("int64", dup_t={})})
    assert failure(report, "dup_t", "x").sample == (1,)


def test_unregister_rule(user_rules: list[str]) -> None:
    dynio.register_rule("gone_t")(lambda c: c > 0)
    schema_of({"x": col("int64", gone_t={})})
    dynio.unregister_rule("gone_t")
    with pytest.raises(ConfigError, match="gone_t"):
        schema_of({"x": col("int64", gone_t={})})
    dynio.unregister_rule("has_unique_values")  # built-ins stay
    schema_of({"x": col("int64", has_unique_values={})})


# ------------------------------------------------------------------------ end to end: reads

RESOURCES = """
trips:
  local:
    type: local
    local: {file_path: data/trips.parquet, file_type: parquet}
  schema:
    name: trips_ds
    columns:
      id:
        type: int64
        validations:
          has_unique_values: {apply: true, options: {}}
      colour:
        type: category
        validations:
          is_in:
            apply: true
            severity: warn
            options:
              categorical_values:
                - red
                - blue
      fare:
        type: float64
        validations:
          is_between: {apply: true, options: {lower: 0, upper: 100}}
"""


def _write_trips(
    tmp_path: Path, ids: list[int], colours: list[str | None], fares: list[Any]
) -> None:
    (tmp_path / "data").mkdir(exist_ok=True)
    pl.DataFrame({"id": ids, "colour": colours, "fare": fares}).write_parquet(
        tmp_path / "data" / "trips.parquet"
    )


def test_read_raises_validation_error_with_report(
    tmp_path: Path, catalog_from: Callable[..., dynio.Catalog]
) -> None:
    _write_trips(tmp_path, [1, 1, 2], ["red", "blue", None], [10.0, 150.0, 0.0])
    cat = catalog_from(RESOURCES)
    with pytest.raises(ValidationError) as info:
        cat.read("trips")
    err = info.value
    assert err.resource == "trips"
    assert err.env == "local"
    assert "'trips'" in str(err)
    assert "has_unique_values" in str(err)
    assert "is_between" in str(err)
    report = err.report
    assert isinstance(report, ValidationReport)
    assert failed_rules(report) == [("has_unique_values", "id"), ("is_between", "fare")]
    assert failure(report, "is_between", "fare").sample == (150.0, 0.0)
    assert failure(report, "has_unique_values", "id").sample == (1,)


def test_read_with_only_warnings_logs_and_returns_data(
    tmp_path: Path, catalog_from: Callable[..., dynio.Catalog], caplog: pytest.LogCaptureFixture
) -> None:
    _write_trips(tmp_path, [1, 2, 3], ["red", "green", None], [10.0, 20.0, None])
    cat = catalog_from(RESOURCES)
    with caplog.at_level(logging.WARNING, logger="dynio"):
        df = cat.read("trips")
    assert list(df["id"]) == [1, 2, 3]
    assert str(df["colour"].dtype) == "category"
    warnings = [r for r in caplog.records if r.name == "dynio" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    assert "trips" in text
    assert "is_in" in text
    assert "'colour'" in text
    # the log (exported as telemetry) carries no sample; the report keeps it
    assert "green" not in text
    report = cat.last_report
    assert report is not None
    assert report.ok
    assert report.failures[0].sample == ("green",)
    assert [(f.rule, f.column, f.severity) for f in report.failures] == [
        ("is_in", "colour", "warn")
    ]


def test_read_validate_false_skips_rules(
    tmp_path: Path, catalog_from: Callable[..., dynio.Catalog]
) -> None:
    _write_trips(tmp_path, [1, 1, 2], ["red", "pink", None], [10.0, 150.0, 0.0])
    cat = catalog_from(RESOURCES)
    df = cat.read("trips", validate=False)
    assert len(df) == 3
    result = cat.read_result("trips", validate=False)
    assert result.report.checked == 0
    assert result.report.failures == ()
    assert result.frame.height == 3
    with pytest.raises(ValidationError):
        cat.read_polars("trips")


def test_read_result_report_on_success(
    tmp_path: Path, catalog_from: Callable[..., dynio.Catalog]
) -> None:
    _write_trips(tmp_path, [1, 2], ["red", "blue"], [1.0, 99.5])
    cat = catalog_from(RESOURCES)
    result = cat.read_result("trips")
    assert result.report.ok
    assert result.report.checked == 3
    assert result.report.rows == 2
    assert result.report.resource == "trips"
    assert result.report.env == "local"


def test_read_casts_before_rules(
    tmp_path: Path, catalog_from: Callable[..., dynio.Catalog]
) -> None:
    write_text(
        tmp_path / "data" / "t.csv", "n,when\n5,2024-01-02 00:00:00\n7,2024-01-01 10:00:00\n"
    )
    cat = catalog_from(
        """
        t:
          local:
            type: local
            local: {file_path: data/t.csv, file_type: csv}
          schema:
            columns:
              n:
                type: float64
                validations:
                  is_greater_than: {options: {threshold: 6}}
              when:
                type: "datetime64[ns]"
                validations:
                  has_unique_values: {}
        """
    )
    with pytest.raises(ValidationError) as info:
        cat.read("t")
    sample = failure(info.value.report, "is_greater_than", "n").sample
    assert sample == (5.0,)
    assert isinstance(sample[0], float)


def test_user_rule_from_yaml_catalog(
    tmp_path: Path, catalog_from: Callable[..., dynio.Catalog], user_rules: list[str]
) -> None:
    @dynio.register_rule("is_multiple_of_y")
    def is_multiple_of(c: pl.Expr, divisor: int) -> pl.Expr:
        return c % divisor == 0

    user_rules.append("is_multiple_of_y")
    (tmp_path / "data").mkdir()
    pl.DataFrame({"x": [10, 15, None, 21]}).write_parquet(tmp_path / "data" / "x.parquet")
    cat = catalog_from(
        """
        xs:
          local:
            type: local
            local: {file_path: data/x.parquet}
          schema:
            columns:
              x:
                type: Int64
                validations:
                  is_multiple_of_y: {apply: true, options: {divisor: 5}}
        """
    )
    with pytest.raises(ValidationError) as info:
        cat.read("xs")
    assert failure(info.value.report, "is_multiple_of_y", "x").sample == (21,)


def test_is_in_list_from_yaml_with_match_all(
    tmp_path: Path, catalog_from: Callable[..., dynio.Catalog]
) -> None:
    write_text(tmp_path / "data" / "c.csv", "c,n\nred,1\nred,2\n")
    cat = catalog_from(
        """
        colours:
          local:
            type: local
            local: {file_path: data/c.csv, file_type: csv}
          schema:
            columns:
              c:
                type: category
                validations:
                  is_in:
                    apply: true
                    options:
                      match_all: true
                      categorical_values:
                        - red
                        - blue
              n:
                type: int64
                validations:
                  is_in: {options: {categorical_values: [1, 2, 3]}}
        """
    )
    with pytest.raises(ValidationError) as info:
        cat.read("colours")
    report = info.value.report
    assert failed_rules(report) == [("is_in", "c")]
    assert failure(report, "is_in", "c").detail == ("blue",)


# ----------------------------------------------------------------------- end to end: writes

OUT = """
out:
  local:
    type: local
    local: {file_path: out/out.csv, file_type: csv}
  schema:
    columns:
      id:
        type: int64
        validations:
          is_greater_than: {options: {threshold: 0}}
      fare:
        type: float64
        validations:
          has_no_null_values: {}
          is_lower_than: {options: {threshold: 100}, severity: warn}
"""


def test_write_failing_rule_writes_nothing(
    tmp_path: Path, catalog_from: Callable[..., dynio.Catalog]
) -> None:
    cat = catalog_from(OUT)
    with pytest.raises(ValidationError) as info:
        cat.write("out", pl.DataFrame({"id": [1, -2], "fare": [1.0, 2.0]}))
    assert info.value.resource == "out"
    assert failed_rules(info.value.report) == [("is_greater_than", "id")]
    out_dir = tmp_path / "out"
    assert not (out_dir / "out.csv").exists()
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


def test_write_failing_rule_leaves_existing_file_unchanged(
    tmp_path: Path, catalog_from: Callable[..., dynio.Catalog]
) -> None:
    cat = catalog_from(OUT)
    cat.write("out", pl.DataFrame({"id": [1, 2], "fare": [1.0, 2.0]}))
    target = tmp_path / "out" / "out.csv"
    before = target.read_bytes()
    assert before == b"id,fare\n1,1.0\n2,2.0\n"
    with pytest.raises(ValidationError):
        cat.write(
            "out",
            pl.DataFrame({"id": [3], "fare": [None]}, schema={"id": pl.Int64, "fare": pl.Float64}),
        )
    assert target.read_bytes() == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.csv"]


def test_write_projects_and_casts_before_rules(
    tmp_path: Path, catalog_from: Callable[..., dynio.Catalog]
) -> None:
    cat = catalog_from(OUT)
    data = pd.DataFrame({"extra": ["x", "y"], "fare": [5, 500], "id": [1, 2]})
    result = cat.write("out", data)  # the warn rule fails, the write goes ahead
    assert result.report.ok
    f = failure(result.report, "is_lower_than", "fare")
    assert f.severity == "warn"
    assert f.sample == (500.0,)
    assert isinstance(f.sample[0], float)  # cast to float64 before the rule ran
    assert (tmp_path / "out" / "out.csv").read_text() == "id,fare\n1,5.0\n2,500.0\n"
    assert cat.last_report is result.report


def test_write_pandas_nan_is_a_null(
    tmp_path: Path, catalog_from: Callable[..., dynio.Catalog]
) -> None:
    cat = catalog_from(OUT)
    with pytest.raises(ValidationError) as info:
        cat.write("out", pd.DataFrame({"id": [1, 2], "fare": [1.0, np.nan]}))
    f = failure(info.value.report, "has_no_null_values", "fare")
    assert (f.failing_count, f.failing_share) == (1, 0.5)
    assert not (tmp_path / "out" / "out.csv").exists()


def test_write_validate_false_writes(
    tmp_path: Path, catalog_from: Callable[..., dynio.Catalog]
) -> None:
    cat = catalog_from(OUT)
    result = cat.write("out", pl.DataFrame({"id": [-1], "fare": [1.0]}), validate=False)
    assert result.report.checked == 0
    assert (tmp_path / "out" / "out.csv").read_text() == "id,fare\n-1,1.0\n"
