"""dynio.dagster.DynioIOManager: assets materialised in process with Dagster's materialize."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

dagster = pytest.importorskip("dagster")

from dagster import (  # noqa: E402
    AssetIn,
    DailyPartitionsDefinition,
    asset,
    materialize,
)

from dynio.dagster import DynioIOManager  # noqa: E402
from dynio.demo import transform  # noqa: E402
from dynio.engine.errors import ValidationError  # noqa: E402

DEMO = Path(__file__).resolve().parent.parent / "configs" / "demo"


@asset(metadata={"dynio_resource": "trips"})
def raw_trips() -> None:
    """Source data already in place: the IO manager writes nothing for None."""


@asset(metadata={"dynio_resource": "zones"})
def raw_zones() -> None:
    """Source data already in place."""


@asset(
    ins={"trips": AssetIn("raw_trips"), "zones": AssetIn("raw_zones")},
    metadata={"dynio_resource": "zone_summary"},
)
def summary(trips: pd.DataFrame, zones: pd.DataFrame) -> pd.DataFrame:
    return transform(trips, zones)[1]


@asset(metadata={"dynio_resource": "zone_summary"})
def broken_summary() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "zone_name": ["a", "a"],
            "borough": ["North", "North"],
            "trips": [1, 1],
            "revenue": [1.0, 1.0],
            "avg_fare_per_km": [1.0, 1.0],
        }
    )


def _manager(out: Path, **extra: object) -> DynioIOManager:
    return DynioIOManager(
        catalog=str(DEMO / "resources.yaml"), env="sample", vars={"DEMO_OUTPUT": str(out)}, **extra
    )


def test_assets_read_and_write_dynio_resources(tmp_path: Path) -> None:
    result = materialize(
        [raw_trips, raw_zones, summary], resources={"io_manager": _manager(tmp_path)}
    )
    assert result.success
    written = pd.read_csv(tmp_path / "zone_summary.csv")
    assert written["trips"].sum() > 0
    meta = result.asset_materializations_for_node("summary")[0].metadata
    assert meta["rows"].value == len(written)
    assert meta["dynio_resource"].value == "zone_summary"
    assert meta["location"].value.endswith("zone_summary.csv")


def test_a_failed_rule_fails_the_run_and_writes_nothing(tmp_path: Path) -> None:
    result = materialize(
        [broken_summary], resources={"io_manager": _manager(tmp_path)}, raise_on_error=False
    )
    assert not result.success
    assert not (tmp_path / "zone_summary.csv").exists()
    with pytest.raises(ValidationError, match="has_unique_values"):
        materialize([broken_summary], resources={"io_manager": _manager(tmp_path)})


def test_partitions_fill_the_resource_template(tmp_path: Path) -> None:
    config = tmp_path / "resources.yaml"
    config.write_text(
        f"""
daily:
  sample:
    type: local
    local: {{file_path: "{tmp_path}/daily/{{day}}.parquet", file_type: parquet}}
  schema:
    name: daily
    columns:
      day: {{type: str}}
      n:
        type: int64
        validations: {{is_greater_than: {{apply: true, options: {{threshold: 0}}}}}}
"""
    )
    parts = DailyPartitionsDefinition(start_date="2024-03-01")

    @asset(partitions_def=parts, metadata={"dynio_partition_arg": "day"})
    def daily(context) -> pd.DataFrame:  # type: ignore[no-untyped-def]  # Dagster reads the hint
        return pd.DataFrame({"day": [context.partition_key], "n": [3]})

    @asset(partitions_def=parts, ins={"daily": AssetIn("daily")})
    def doubled(daily: pd.DataFrame) -> None:
        assert daily["n"].tolist() == [3]

    manager = DynioIOManager(catalog=str(config), env="sample")
    for day in ("2024-03-01", "2024-03-02"):
        assert materialize(
            [daily, doubled], partition_key=day, resources={"io_manager": manager}
        ).success
    assert sorted(p.name for p in (tmp_path / "daily").iterdir()) == [
        "2024-03-01.parquet",
        "2024-03-02.parquet",
    ]
