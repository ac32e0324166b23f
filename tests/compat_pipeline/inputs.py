"""The pipeline's input files, written into a data folder (the ``sample`` environment's)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
RUN_DAY = "2024-03-01"


def bar() -> pd.DataFrame:
    """The BAR input table."""
    return pd.DataFrame(
        {
            "column_a": [f"b{i}" for i in range(1, 9)],
            "column_b": ["x", "y", "z", "x", "y", "x", "z", "y"],
            "column_c": [1.5, None, 30.0, 99.9, 0.0, 12.0, 50.0, 7.25],
            "column_d": [10.0, 200.0, 999.5, 3.0, 42.0, 500.0, 0.5, 77.0],
            "event_time": pd.date_range("2024-03-01 08:00", periods=8, freq="90min").astype(
                "datetime64[ns]"
            ),
        }
    )


def events() -> list[pd.DataFrame]:
    """The EVENTS batch files, in name order."""
    return [
        pd.DataFrame(
            {
                "event_id": [1, 2, 3, 4, 5],
                "kind": ["x", "y", "x", "w", "y"],
                "value": [1.0, 2.5, 3.25, 10.0, 0.0],
            }
        ),
        pd.DataFrame(
            {"event_id": [6, 7, 8, 9], "kind": ["z", "x", "w", "y"], "value": [4.0, 5.0, 6.5, 7.0]}
        ),
    ]


def daily() -> pd.DataFrame:
    """The DAILY table of ``RUN_DAY``."""
    return pd.DataFrame(
        {"column_a": ["b1", "b2", "b4", "b6", "b8"], "amount": [10.0, 20.5, 30.0, 99.0, 100.0]}
    )


def write_inputs(root: Path) -> Path:
    """Write every input file under ``root/input`` and return ``root``.

    The output folders are made too: dynamicio does not create them (dynio does).
    """
    folder = root / "input"
    (root / "raw").mkdir(parents=True, exist_ok=True)
    (root / "processed").mkdir(parents=True, exist_ok=True)
    (folder / "events").mkdir(parents=True, exist_ok=True)
    (folder / "daily").mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "data" / "input" / "foo.csv", folder / "foo.csv")
    bar().to_parquet(folder / "bar.parquet")
    for i, part in enumerate(events()):
        part.to_parquet(folder / "events" / f"part-{i}.parquet")
    daily().to_json(folder / "daily" / f"{RUN_DAY}.json", orient="records")
    return root
