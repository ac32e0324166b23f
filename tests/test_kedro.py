"""dynio.kedro.DynioDataset inside a real Kedro DataCatalog and a Kedro pipeline run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

pytest.importorskip("kedro")

from kedro.io import DataCatalog, DatasetError
from kedro.pipeline import node, pipeline
from kedro.runner import SequentialRunner

from dynio.demo import transform
from dynio.engine.errors import ValidationError

DEMO = Path(__file__).resolve().parent.parent / "configs" / "demo"


def _entry(resource: str, **extra: object) -> dict[str, object]:
    return {
        "type": "dynio.kedro.DynioDataset",
        "catalog": str(DEMO / "resources.yaml"),
        "resource": resource,
        "env": "sample",
        **extra,
    }


@pytest.fixture
def kedro_catalog(tmp_path: Path) -> DataCatalog:
    creds = {"demo_out": {"DEMO_OUTPUT": str(tmp_path / "out")}}
    return DataCatalog.from_config(
        {
            "trips": _entry("trips", credentials="demo_out"),
            "zones": _entry("zones", credentials="demo_out"),
            "zones_polars": _entry("zones", credentials="demo_out", output="polars"),
            "zones_lazy": _entry(
                "zones",
                credentials="demo_out",
                output="lazy",
                load_args={"columns": ["zone_id"], "filters": [("zone_id", "<=", 3)]},
            ),
            "trips_clean": _entry("trips_clean", credentials="demo_out"),
            "zone_summary": _entry("zone_summary", credentials="demo_out"),
        },
        credentials=creds,
    )


def test_loads_come_back_cast_and_in_every_output(kedro_catalog: DataCatalog) -> None:
    zones = kedro_catalog.load("zones")
    assert isinstance(zones, pd.DataFrame)
    assert str(zones["zone_id"].dtype) == "int32"
    polars_zones = kedro_catalog.load("zones_polars")
    assert isinstance(polars_zones, pl.DataFrame)
    lazy = kedro_catalog.load("zones_lazy")
    assert isinstance(lazy, pl.LazyFrame)
    assert lazy.collect()["zone_id"].to_list() == [1, 2, 3]


def test_a_kedro_pipeline_runs_on_dynio_resources(
    kedro_catalog: DataCatalog, tmp_path: Path
) -> None:
    assert not kedro_catalog.exists("zone_summary")
    flow = pipeline(
        [node(transform, inputs=["trips", "zones"], outputs=["trips_clean", "zone_summary"])]
    )
    SequentialRunner().run(flow, kedro_catalog)
    summary = kedro_catalog.load("zone_summary")
    assert summary["trips"].sum() > 0
    assert kedro_catalog.exists("zone_summary")
    assert (tmp_path / "out" / "zone_summary.csv").exists()


def test_a_failed_rule_saves_nothing_and_says_why(
    kedro_catalog: DataCatalog, tmp_path: Path
) -> None:
    bad = pd.DataFrame(
        {
            "zone_name": ["a", "a"],
            "borough": ["North", "North"],
            "trips": [1, 2],
            "revenue": [1.0, 2.0],
            "avg_fare_per_km": [1.0, 1.0],
        }
    )
    with pytest.raises(DatasetError) as info:
        kedro_catalog.save("zone_summary", bad)
    cause = info.value.__cause__
    while cause is not None and not isinstance(cause, ValidationError):
        cause = cause.__cause__
    assert isinstance(cause, ValidationError)
    assert "has_unique_values" in str(cause)
    assert not (tmp_path / "out" / "zone_summary.csv").exists()


def test_describe_shows_no_credentials(tmp_path: Path) -> None:
    from dynio.kedro import DynioDataset

    ds = DynioDataset(
        catalog=str(DEMO / "resources.yaml"),
        resource="zones",
        env="sample",
        credentials={"DEMO_OUTPUT": "s3cr3t-value"},
    )
    assert "s3cr3t-value" not in repr(ds)
    assert ds.load()["zone_id"].is_unique
    with pytest.raises(DatasetError, match="output must be"):
        DynioDataset(catalog="x.yaml", resource="zones", output="arrow")  # type: ignore[arg-type]


def test_exists_is_false_for_a_missing_file(tmp_path: Path) -> None:
    from dynio.kedro import DynioDataset

    shutil.copytree(DEMO, tmp_path / "demo")
    (tmp_path / "demo" / "data" / "zones.parquet").unlink()
    ds = DynioDataset(
        catalog=str(tmp_path / "demo" / "resources.yaml"),
        resource="zones",
        env="sample",
        vars={"DEMO_OUTPUT": str(tmp_path)},
    )
    assert not ds.exists()
