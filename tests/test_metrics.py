"""Data-quality metrics: each metric against hand-computed answers, and the JSON metric lines.

Metrics compile to Polars expressions evaluated with the rules in one ``select``; they come back
as ``MetricValue`` lists on read/write results and as one JSON line per value on the
``dynio.metrics`` logger (dynamicio's format).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest
from conftest import write_text
from hypothesis import given, settings
from hypothesis import strategies as st

import dynio
from dynio.engine import quality
from dynio.engine.errors import ConfigError
from dynio.engine.loader import parse_schema
from dynio.engine.quality import MetricValue
from dynio.engine.spec import SchemaSpec

ALL_NUMERIC = [
    "Min",
    "Max",
    "Mean",
    "Std",
    "Variance",
    "Counts",
    "UniqueCounts",
    "NullCount",
    "Quantiles",
]

# ----------------------------------------------------------------------------------- helpers


def schema_of(columns: dict[str, Any], name: str | None = "ds") -> SchemaSpec:
    doc: dict[str, Any] = {"columns": columns}
    if name is not None:
        doc["name"] = name
    return parse_schema(doc, resource="res")


def measure(
    frame: pl.DataFrame | pl.LazyFrame,
    columns: dict[str, tuple[str, list[str]]],
    label_cap: int = quality.DEFAULT_LABEL_CAP,
) -> list[MetricValue]:
    """Evaluate ``{column: (dtype, [metrics])}`` and return the metric values."""
    schema = schema_of({c: {"type": t, "metrics": ms} for c, (t, ms) in columns.items()})
    report, values = quality.evaluate(
        frame, schema, resource="res", env="test", label_cap=label_cap
    )
    assert report.checked == 0
    return values


def by_key(values: list[MetricValue]) -> dict[tuple[str, str, str | None], Any]:
    out: dict[tuple[str, str, str | None], Any] = {}
    for v in values:
        key = (v.column, v.metric, v.label)
        assert key not in out, f"duplicate metric value {key}"
        out[key] = v.value
    return out


def one(values: list[MetricValue], column: str, metric: str, label: str | None = None) -> Any:
    return by_key(values)[(column, metric, label)]


def metric_records(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """Every JSON line logged on ``dynio.metrics`` (parsed strictly: NaN is not JSON)."""

    def strict(text: str) -> Any:
        def refuse(token: str) -> Any:
            raise ValueError(f"not JSON: {token}")

        return json.loads(text, parse_constant=refuse)

    out = []
    for record in caplog.records:
        if record.name != "dynio.metrics":
            continue
        assert record.levelno == logging.INFO
        out.append(strict(record.getMessage()))
    return out


# ------------------------------------------------------------------------- numeric metrics


def test_numeric_metrics_hand_computed() -> None:
    frame = pl.DataFrame({"x": [2, 4, None, 4, 4, 5, 5, 7, 9]}, schema={"x": pl.Int64})
    got = by_key(measure(frame, {"x": ("Int64", ALL_NUMERIC)}))
    assert got[("x", "Min", None)] == 2
    assert got[("x", "Max", None)] == 9
    assert got[("x", "Mean", None)] == pytest.approx(5.0)
    assert got[("x", "Variance", None)] == pytest.approx(32 / 7)  # ddof 1
    assert got[("x", "Std", None)] == pytest.approx(math.sqrt(32 / 7))
    assert got[("x", "Counts", None)] == 9  # rows, nulls included
    assert got[("x", "UniqueCounts", None)] == 6  # 2, 4, 5, 7, 9 and null
    assert got[("x", "NullCount", None)] == 1
    # linear interpolation over the 8 values: positions 3.5, 6.3, 6.93
    assert got[("x", "Quantiles", "p50")] == pytest.approx(4.5)
    assert got[("x", "Quantiles", "p90")] == pytest.approx(7 + 0.3 * 2)
    assert got[("x", "Quantiles", "p99")] == pytest.approx(7 + 0.93 * 2)
    assert len(got) == 11


def test_metric_values_come_in_schema_order_with_dataset_name() -> None:
    frame = pl.DataFrame({"a": [1.0, 3.0], "b": [2, 2]})
    values = measure(frame, {"a": ("float64", ["Max", "Min"]), "b": ("int64", ["Counts"])})
    assert values == [
        MetricValue("ds", "a", "Max", 3.0),
        MetricValue("ds", "a", "Min", 1.0),
        MetricValue("ds", "b", "Counts", 2),
    ]


def test_dataset_defaults_to_resource_name() -> None:
    schema = schema_of({"a": {"type": "int64", "metrics": ["Counts"]}}, name=None)
    assert schema.name == "res"
    _, values = quality.evaluate(pl.DataFrame({"a": [1]}), schema)
    assert values == [MetricValue("res", "a", "Counts", 1)]


def test_quantiles_linear_interpolation() -> None:
    frame = pl.DataFrame({"x": [float(i) for i in range(10, 0, -1)]})  # 1..10, unordered
    got = by_key(measure(frame, {"x": ("float64", ["Quantiles"])}))
    assert got == {
        ("x", "Quantiles", "p50"): pytest.approx(5.5),
        ("x", "Quantiles", "p90"): pytest.approx(9.1),
        ("x", "Quantiles", "p99"): pytest.approx(9.91),
    }


def test_std_and_variance_of_a_single_value_are_undefined() -> None:
    got = by_key(
        measure(pl.DataFrame({"x": [3.0]}), {"x": ("float64", ["Std", "Variance", "Mean"])})
    )
    assert got == {
        ("x", "Std", None): None,
        ("x", "Variance", None): None,
        ("x", "Mean", None): 3.0,
    }


def test_nan_is_left_out_of_mean_std_variance_quantiles() -> None:
    nan = float("nan")
    frame = pl.DataFrame({"x": [1.0, nan, 2.0, None, 3.0, nan, 4.0]})
    got = by_key(measure(frame, {"x": ("float64", ["Mean", "Std", "Variance", "Quantiles"])}))
    assert got[("x", "Mean", None)] == pytest.approx(2.5)
    assert got[("x", "Variance", None)] == pytest.approx(5 / 3)
    assert got[("x", "Std", None)] == pytest.approx(math.sqrt(5 / 3))
    assert got[("x", "Quantiles", "p50")] == pytest.approx(2.5)
    assert got[("x", "Quantiles", "p90")] == pytest.approx(3.7)
    assert got[("x", "Quantiles", "p99")] == pytest.approx(3.97)


def test_nan_does_not_hide_min_and_max() -> None:
    nan = float("nan")
    frame = pl.DataFrame({"x": [nan, 5.0, None, -1.5, nan]})
    got = by_key(measure(frame, {"x": ("float64", ["Min", "Max", "Counts"])}))
    assert got == {("x", "Min", None): -1.5, ("x", "Max", None): 5.0, ("x", "Counts", None): 5}


def test_nan_versus_null_counts() -> None:
    frame = pl.DataFrame({"x": [float("nan"), float("nan"), 1.0], "y": [None, None, 1.0]})
    got = by_key(
        measure(
            frame, {"x": ("float64", ["Mean", "Counts"]), "y": ("float64", ["Mean", "NullCount"])}
        )
    )
    assert got[("x", "Mean", None)] == 1.0
    assert got[("x", "Counts", None)] == 3
    assert got[("y", "Mean", None)] == 1.0
    assert got[("y", "NullCount", None)] == 2


def test_only_nan_gives_undefined_statistics() -> None:
    frame = pl.DataFrame({"x": [float("nan"), float("nan")]})
    got = by_key(measure(frame, {"x": ("float64", ["Mean", "Std", "Variance", "Quantiles"])}))
    assert set(got.values()) == {None}
    assert len(got) == 6


def test_inf_values_become_none() -> None:
    frame = pl.DataFrame({"x": [1.0, float("inf")]})
    got = by_key(measure(frame, {"x": ("float64", ["Max", "Mean", "Min"])}))
    assert got == {("x", "Max", None): None, ("x", "Mean", None): None, ("x", "Min", None): 1.0}


def test_boolean_column_metrics() -> None:
    frame = pl.DataFrame({"b": [True, False, None, True]})
    got = by_key(
        measure(frame, {"b": ("bool", ["Mean", "Min", "Max", "NullCount", "UniqueCounts"])})
    )
    assert got[("b", "Mean", None)] == pytest.approx(2 / 3)
    assert got[("b", "Min", None)] is False
    assert got[("b", "Max", None)] is True
    assert got[("b", "NullCount", None)] == 1
    assert got[("b", "UniqueCounts", None)] == 3


# ----------------------------------------------------------------- empty and all-null columns


def test_metrics_on_an_empty_frame() -> None:
    frame = pl.DataFrame({"x": [], "s": []}, schema={"x": pl.Float64, "s": pl.String})
    got = by_key(
        measure(
            frame,
            {
                "x": ("float64", ALL_NUMERIC),
                "s": ("str", ["Min", "Max", "CountsPerLabel", "UniqueCounts"]),
            },
        )
    )
    assert got == {
        ("x", "Min", None): None,
        ("x", "Max", None): None,
        ("x", "Mean", None): None,
        ("x", "Std", None): None,
        ("x", "Variance", None): None,
        ("x", "Counts", None): 0,
        ("x", "UniqueCounts", None): 0,
        ("x", "NullCount", None): 0,
        ("x", "Quantiles", "p50"): None,
        ("x", "Quantiles", "p90"): None,
        ("x", "Quantiles", "p99"): None,
        ("s", "Min", None): None,
        ("s", "Max", None): None,
        ("s", "UniqueCounts", None): 0,
    }  # no CountsPerLabel value: there is no label


def test_metrics_on_an_all_null_column() -> None:
    frame = pl.DataFrame({"x": [None, None, None]}, schema={"x": pl.Int64})
    got = by_key(measure(frame, {"x": ("Int64", ALL_NUMERIC)}))
    assert got[("x", "Counts", None)] == 3
    assert got[("x", "NullCount", None)] == 3
    assert got[("x", "UniqueCounts", None)] == 1  # null is one value, as len(unique()) says
    for name in ["Min", "Max", "Mean", "Std", "Variance"]:
        assert got[("x", name, None)] is None
    for q in ["p50", "p90", "p99"]:
        assert got[("x", "Quantiles", q)] is None


def test_metrics_on_a_null_dtype_column() -> None:
    frame = pl.DataFrame({"x": [None, None]})  # dtype Null
    got = by_key(measure(frame, {"x": ("float64", ["Min", "Mean", "Counts", "NullCount"])}))
    assert got == {
        ("x", "Min", None): None,
        ("x", "Mean", None): None,
        ("x", "Counts", None): 2,
        ("x", "NullCount", None): 2,
    }


# --------------------------------------------------------------- strings, dates, categoricals


def test_string_metrics() -> None:
    frame = pl.DataFrame({"s": ["pear", "apple", None, "fig", "apple"]})
    got = by_key(
        measure(frame, {"s": ("str", ["Min", "Max", "Counts", "UniqueCounts", "NullCount"])})
    )
    assert got == {
        ("s", "Min", None): "apple",
        ("s", "Max", None): "pear",
        ("s", "Counts", None): 5,
        ("s", "UniqueCounts", None): 4,
        ("s", "NullCount", None): 1,
    }


def test_timestamp_metrics() -> None:
    early, late = dt.datetime(2023, 5, 1, 12, 30), dt.datetime(2024, 1, 1)
    frame = pl.DataFrame({"t": [late, None, early, late]})
    got = by_key(
        measure(frame, {"t": ("datetime64[us]", ["Min", "Max", "Counts", "UniqueCounts"])})
    )
    assert got == {
        ("t", "Min", None): early,
        ("t", "Max", None): late,
        ("t", "Counts", None): 4,
        ("t", "UniqueCounts", None): 3,
    }


def test_categorical_metrics() -> None:
    frame = pl.DataFrame({"c": ["b", "a", None, "b"]}, schema={"c": pl.Categorical})
    got = by_key(measure(frame, {"c": ("category", ["Min", "Max", "UniqueCounts", "NullCount"])}))
    assert got[("c", "UniqueCounts", None)] == 3
    assert got[("c", "NullCount", None)] == 1
    assert {got[("c", "Min", None)], got[("c", "Max", None)]} == {"a", "b"}


def test_numeric_only_metric_on_text_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        schema_of({"s": {"type": "str", "metrics": ["Min", "Mean"]}})
    err = info.value
    assert err.column == "s"
    assert err.key_path == "columns.s.metrics[1]"
    assert "Mean" in str(err)


def test_unknown_metric_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        schema_of({"x": {"type": "int64", "metrics": ["Median"]}})
    assert info.value.key_path == "columns.x.metrics[0]"
    assert "Median" in str(info.value)


def test_single_metric_name_is_accepted() -> None:
    schema = schema_of({"x": {"type": "int64", "metrics": "Max"}})
    assert schema.columns[0].metrics == ("Max",)


# ---------------------------------------------------------------------------- CountsPerLabel


def test_counts_per_label_most_frequent_first() -> None:
    frame = pl.DataFrame({"c": ["b", "a", "b", "c", "b", "a"]})
    values = measure(frame, {"c": ("str", ["CountsPerLabel"])})
    assert [(v.label, v.value) for v in values] == [("b", 3), ("a", 2), ("c", 1)]
    assert all(v.metric == "CountsPerLabel" and v.column == "c" for v in values)


def test_counts_per_label_capped() -> None:
    frame = pl.DataFrame({"c": ["b", "a", "b", "c", "b", "a", "d"]})
    values = measure(frame, {"c": ("str", ["CountsPerLabel"])}, label_cap=2)
    assert [(v.label, v.value) for v in values] == [("b", 3), ("a", 2)]


def test_counts_per_label_on_categorical_and_integers() -> None:
    frame = pl.DataFrame(
        {"c": ["x", "y", "x"], "n": [7, 7, 7]}, schema={"c": pl.Categorical, "n": pl.Int64}
    )
    values = measure(
        frame, {"c": ("category", ["CountsPerLabel"]), "n": ("int64", ["CountsPerLabel"])}
    )
    assert [(v.column, v.label, v.value) for v in values] == [
        ("c", "x", 2),
        ("c", "y", 1),
        ("n", "7", 3),
    ]


def test_counts_per_label_lines_always_name_a_label() -> None:
    # a null is not a label (dynamicio's value_counts() leaves it out); every CountsPerLabel line
    # names its label in the column, `col-label`
    frame = pl.DataFrame({"c": [None, "red", None, "blue", None, "red"]})
    values = measure(frame, {"c": ("str", ["CountsPerLabel"])})
    lines = [json.loads(quality.metric_line(v)) for v in values]
    assert all(line["column"].startswith("c-") for line in lines), lines
    assert {line["column"]: line["value"] for line in lines} == {"c-red": 2, "c-blue": 1}


def test_counts_per_label_cap_is_not_used_up_by_nulls() -> None:
    frame = pl.DataFrame({"c": [None, None, None, "a", "a", "b"]})
    values = measure(frame, {"c": ("str", ["CountsPerLabel"])}, label_cap=2)
    assert [(v.label, v.value) for v in values] == [("a", 2), ("b", 1)]


def test_counts_per_label_all_null_column_gives_no_label() -> None:
    frame = pl.DataFrame({"c": [None, None]}, schema={"c": pl.String})
    assert measure(frame, {"c": ("str", ["CountsPerLabel"])}) == []


# ---------------------------------------------------------------------------- metric lines


def test_metric_line_format() -> None:
    line = quality.metric_line(MetricValue("trips", "fare", "Mean", 12.5))
    assert json.loads(line) == {
        "message": "METRIC",
        "dataset": "trips",
        "column": "fare",
        "metric": "Mean",
        "value": 12.5,
    }
    assert json.loads(
        quality.metric_line(MetricValue("trips", "pay", "CountsPerLabel", 3, "card"))
    ) == {
        "message": "METRIC",
        "dataset": "trips",
        "column": "pay-card",
        "metric": "CountsPerLabel",
        "value": 3,
    }
    q = json.loads(quality.metric_line(MetricValue("trips", "fare", "Quantiles", 9.5, "p90")))
    assert (q["column"], q["metric"], q["value"]) == ("fare", "Quantiles-p90", 9.5)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (float("nan"), None),
        (float("inf"), None),
        (float("-inf"), None),
        (None, None),
        (3, 3),
        ("text", "text"),
        (True, True),
    ],
)
def test_metric_line_is_always_valid_json(value: Any, expected: Any) -> None:
    line = quality.metric_line(MetricValue("d", "c", "Max", value))
    assert "NaN" not in line
    assert "Infinity" not in line
    assert json.loads(line)["value"] == expected


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(2024, 1, 2, 3, 4, 5),
        dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        dt.date(2024, 1, 2),
        dt.timedelta(hours=2),
        dt.time(13, 45),
    ],
)
def test_metric_line_of_temporal_value_is_text(value: Any) -> None:
    parsed = json.loads(quality.metric_line(MetricValue("d", "c", "Min", value)))
    assert isinstance(parsed["value"], str)
    assert parsed["value"] == str(value)


def test_log_metric_lines_only_when_info_is_enabled(caplog: pytest.LogCaptureFixture) -> None:
    values = [MetricValue("d", "c", "Counts", 1)]
    with caplog.at_level(logging.WARNING, logger="dynio.metrics"):
        quality.log_metric_lines(values)
    assert metric_records(caplog) == []
    with caplog.at_level(logging.INFO, logger="dynio.metrics"):
        quality.log_metric_lines(values)
    assert metric_records(caplog) == [
        {"message": "METRIC", "dataset": "d", "column": "c", "metric": "Counts", "value": 1}
    ]


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
        metrics: [Counts, UniqueCounts]
      pickup:
        type: "datetime64[us]"
        metrics: [Min, Max]
      zone:
        type: str
        metrics: [Min, Max, NullCount]
      payment:
        type: category
        metrics: [CountsPerLabel]
      fare:
        type: float64
        metrics: [Mean, Std, Quantiles]
"""


def _write_trips(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir(exist_ok=True)
    pl.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "pickup": [
                dt.datetime(2024, 3, 2, 9),
                dt.datetime(2024, 3, 1, 8, 15),
                None,
                dt.datetime(2024, 3, 4),
            ],
            "zone": ["north", None, "east", "west"],
            "payment": ["card", "cash", "card", "card"],
            "fare": [10.0, 20.0, None, 30.0],
        }
    ).write_parquet(tmp_path / "data" / "trips.parquet")


EXPECTED_LINES = [
    ("id", "Counts", 4),
    ("id", "UniqueCounts", 4),
    ("pickup", "Min", "2024-03-01 08:15:00"),
    ("pickup", "Max", "2024-03-04 00:00:00"),
    ("zone", "Min", "east"),
    ("zone", "Max", "west"),
    ("zone", "NullCount", 1),
    ("payment-card", "CountsPerLabel", 3),
    ("payment-cash", "CountsPerLabel", 1),
    ("fare", "Mean", 20.0),
    ("fare", "Std", 10.0),
    ("fare", "Quantiles-p50", 20.0),
    ("fare", "Quantiles-p90", 28.0),
    ("fare", "Quantiles-p99", 29.8),
]


def test_read_logs_one_json_line_per_metric_value(
    tmp_path: Path, catalog_from: Callable[..., dynio.Catalog], caplog: pytest.LogCaptureFixture
) -> None:
    _write_trips(tmp_path)
    cat = catalog_from(RESOURCES)
    with caplog.at_level(logging.INFO, logger="dynio.metrics"):
        df = cat.read("trips")
    assert len(df) == 4
    records = metric_records(caplog)
    assert all(r["message"] == "METRIC" and r["dataset"] == "trips_ds" for r in records)
    got = [(r["column"], r["metric"], r["value"]) for r in records]
    assert [g[:2] for g in got] == [e[:2] for e in EXPECTED_LINES]
    for (_, _, value), (column, metric, expected) in zip(got, EXPECTED_LINES, strict=True):
        if isinstance(expected, float):
            assert value == pytest.approx(expected), (column, metric)
        else:
            assert value == expected, (column, metric)


def test_read_result_and_last_metrics(
    tmp_path: Path, catalog_from: Callable[..., dynio.Catalog]
) -> None:
    _write_trips(tmp_path)
    cat = catalog_from(RESOURCES)
    assert cat.last_metrics == []
    result = cat.read_result("trips")
    got = by_key(result.metrics)
    assert got[("id", "Counts", None)] == 4
    assert got[("pickup", "Min", None)] == dt.datetime(2024, 3, 1, 8, 15)
    assert got[("pickup", "Max", None)] == dt.datetime(2024, 3, 4)
    assert got[("payment", "CountsPerLabel", "card")] == 3
    assert got[("fare", "Quantiles", "p90")] == pytest.approx(28.0)
    assert all(v.dataset == "trips_ds" for v in result.metrics)
    assert len(result.metrics) == len(EXPECTED_LINES)
    assert cat.last_metrics == result.metrics
    cat.read("trips")
    assert cat.last_metrics == result.metrics


def test_read_with_metrics_off(
    tmp_path: Path, catalog_from: Callable[..., dynio.Catalog], caplog: pytest.LogCaptureFixture
) -> None:
    _write_trips(tmp_path)
    cat = catalog_from(RESOURCES)
    with caplog.at_level(logging.INFO, logger="dynio.metrics"):
        result = cat.read_result("trips", metrics=False)
    assert result.metrics == []
    assert metric_records(caplog) == []
    assert cat.last_metrics == []


def test_read_projection_measures_only_read_columns(
    tmp_path: Path, catalog_from: Callable[..., dynio.Catalog]
) -> None:
    _write_trips(tmp_path)
    cat = catalog_from(RESOURCES)
    result = cat.read_result("trips", columns=["id", "fare"])
    assert {v.column for v in result.metrics} == {"id", "fare"}
    assert by_key(result.metrics)[("fare", "Mean", None)] == pytest.approx(20.0)


def test_catalog_label_cap(tmp_path: Path) -> None:
    _write_trips(tmp_path)
    path = write_text(tmp_path / "resources.yaml", RESOURCES)
    cat = dynio.Catalog.from_yaml(path, env="local", label_cap=1)
    labels = [v for v in cat.read_result("trips").metrics if v.metric == "CountsPerLabel"]
    assert [(v.label, v.value) for v in labels] == [("card", 3)]


def test_metrics_on_empty_read_are_valid_json(
    tmp_path: Path, catalog_from: Callable[..., dynio.Catalog], caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "data").mkdir()
    pl.DataFrame(
        {"id": [], "pickup": [], "zone": [], "payment": [], "fare": []},
        schema={
            "id": pl.Int64,
            "pickup": pl.Datetime("us"),
            "zone": pl.String,
            "payment": pl.String,
            "fare": pl.Float64,
        },
    ).write_parquet(tmp_path / "data" / "trips.parquet")
    cat = catalog_from(RESOURCES)
    with caplog.at_level(logging.INFO, logger="dynio.metrics"):
        df = cat.read("trips")
    assert len(df) == 0
    records = metric_records(caplog)
    values = {(r["column"], r["metric"]): r["value"] for r in records}
    assert values[("id", "Counts")] == 0
    assert values[("id", "UniqueCounts")] == 0
    assert values[("fare", "Mean")] is None
    assert values[("pickup", "Min")] is None
    assert values[("fare", "Quantiles-p99")] is None
    assert not any(r["metric"] == "CountsPerLabel" for r in records)


# ----------------------------------------------------------------------- end to end: writes


def test_write_reports_and_logs_metrics(
    tmp_path: Path, catalog_from: Callable[..., dynio.Catalog], caplog: pytest.LogCaptureFixture
) -> None:
    cat = catalog_from(
        """
        out:
          local:
            type: local
            local: {file_path: out/out.parquet}
          schema:
            columns:
              n:
                type: float64
                metrics: [Mean, Max, NullCount]
              tag:
                type: category
                metrics: [CountsPerLabel]
        """
    )
    data = pd.DataFrame({"n": [1, 2, None, 5], "tag": ["x", "y", "y", "y"], "extra": [0, 0, 0, 0]})
    with caplog.at_level(logging.INFO, logger="dynio.metrics"):
        result = cat.write("out", data)
    got = by_key(result.metrics)
    assert got == {
        ("n", "Mean", None): pytest.approx(8 / 3),
        ("n", "Max", None): 5.0,
        ("n", "NullCount", None): 1,
        ("tag", "CountsPerLabel", "y"): 3,
        ("tag", "CountsPerLabel", "x"): 1,
    }
    assert all(v.dataset == "out" for v in result.metrics)  # unnamed schema: resource name
    records = metric_records(caplog)
    assert [(r["dataset"], r["column"], r["metric"]) for r in records] == [
        ("out", "n", "Mean"),
        ("out", "n", "Max"),
        ("out", "n", "NullCount"),
        ("out", "tag-y", "CountsPerLabel"),
        ("out", "tag-x", "CountsPerLabel"),
    ]
    assert cat.last_metrics == result.metrics
    assert pl.read_parquet(tmp_path / "out" / "out.parquet").columns == ["n", "tag"]


_FLOAT_METRICS = ["Mean", "Std", "Variance", "Quantiles"]
_INT_TYPES = {pl.Int8: "int8", pl.Int16: "int16", pl.Int32: "int32", pl.Int64: "int64"}
_INT_TYPES.update({pl.UInt8: "uint8", pl.UInt32: "uint32", pl.UInt64: "uint64"})


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.integers(-(2**63), 2**64 - 1)), max_size=60),
    dtype=st.sampled_from(list(_INT_TYPES)),
    pieces=st.integers(1, 4),
)
def test_float_metrics_of_integers_equal_those_of_their_floats_to_the_bit(
    values: list[int | None], dtype: pl.DataType, pieces: int
) -> None:
    # the fused pass reads an integer column as it is (no cast copy): the same bits as the
    # metrics of the column cast to floats, in one chunk or several
    hi, lo = pl.select(dtype.max().alias("hi"), dtype.min().alias("lo")).row(0)
    fitted = [None if v is None else min(max(v, lo), hi) for v in values]
    series = pl.Series("i", fitted, dtype=dtype)
    step = max(1, len(fitted) // pieces)
    frame = pl.concat(
        [pl.DataFrame({"i": series.slice(k, step)}) for k in range(0, max(len(fitted), 1), step)],
        rechunk=False,
    )
    got = by_key(measure(frame, {"i": (_INT_TYPES[dtype], _FLOAT_METRICS)}))
    floats = frame.with_columns(pl.col("i").cast(pl.Float64))
    want = by_key(measure(floats, {"i": ("float64", _FLOAT_METRICS)}))
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert got[key] is None if value is None else got[key] == value, key
