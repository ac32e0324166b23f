"""Reports, metric values and results as tables: to_pandas()/to_polars() and _repr_html_."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import polars as pl
import pytest

import dynio
from dynio.engine.display import MetricValues

DEMO = Path(__file__).resolve().parent.parent / "configs" / "demo"


@pytest.fixture
def cat(tmp_path: Path) -> dynio.Catalog:
    return dynio.Catalog.from_yaml(
        DEMO / "resources.yaml", env="sample", vars={"DEMO_OUTPUT": str(tmp_path)}
    )


def test_a_failed_report_is_a_table(cat: dynio.Catalog) -> None:
    zones = cat.read("zones")
    zones.loc[0, "zone_id"] = zones.loc[1, "zone_id"]
    zones.loc[2, "zone_name"] = "<b>x</b>"
    zones.loc[3, "zone_name"] = "  "
    report = dynio.validate(zones, DEMO / "schemas" / "zones.yaml")
    table = report.to_pandas()
    assert isinstance(table, pd.DataFrame)
    assert table["rule"].tolist() == ["has_unique_values", "is_not_empty"]
    assert table["failing_count"].tolist() == [2, 1]
    assert report.to_polars().schema["failing_share"] == pl.Float64
    page = report._repr_html_()
    assert "FAILED" in page
    assert "has_unique_values" in page
    assert "<b>x</b>" not in page  # values are escaped


def test_a_passing_report_says_so(cat: dynio.Catalog) -> None:
    result = cat.read_result("zones")
    assert result.report.to_pandas().empty
    assert "passed" in result.report._repr_html_()
    page = result._repr_html_()
    assert "zones.parquet" in page
    assert "20 row(s)" in page


def test_metric_values_are_a_table(cat: dynio.Catalog) -> None:
    cat.read("trips")
    values = cat.last_metrics
    assert isinstance(values, MetricValues)
    assert isinstance(values, list)
    table = values.to_pandas()
    assert set(table.columns) == {"dataset", "column", "metric", "label", "value"}
    labels = table[table["metric"] == "CountsPerLabel"]
    assert set(labels["label"]) >= {"card", "cash"}
    assert "<table" in values._repr_html_()
    mixed = MetricValues([*values[:1], dynio.MetricValue("d", "c", "Text", "abc")])
    assert mixed.to_polars().schema["value"] == pl.String


def test_a_write_result_shows_where_it_went(cat: dynio.Catalog, tmp_path: Path) -> None:
    summary = pd.DataFrame(
        {
            "zone_name": ["a"],
            "borough": ["North"],
            "trips": [1],
            "revenue": [2.0],
            "avg_fare_per_km": [1.0],
        }
    )
    result = cat.write("zone_summary", summary)
    page = result._repr_html_()
    assert "write" in page
    assert "zone_summary.csv" in page
    assert "metrics" in page
