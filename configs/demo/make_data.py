"""Regenerate the demo's sample files (seeded, so the committed files never change).

Run from anywhere: ``python configs/demo/make_data.py``.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import polars as pl

HERE = Path(__file__).parent / "data"
BOROUGHS = ["North", "South", "East", "West", "Centre"]


def main() -> None:
    rng = random.Random(20261124)
    HERE.mkdir(exist_ok=True)
    zones = pl.DataFrame(
        {
            "zone_id": list(range(1, 21)),
            "zone_name": [f"Zone {chr(65 + i)}" for i in range(20)],
            "borough": [BOROUGHS[i % 5] for i in range(20)],
        },
        schema={"zone_id": pl.Int32, "zone_name": pl.String, "borough": pl.Categorical},
    )
    zones.write_parquet(HERE / "zones.parquet")

    start = dt.datetime(2024, 3, 1, 6, 0)
    rows = []
    for i in range(600):
        at = start + dt.timedelta(minutes=rng.randint(0, 3 * 24 * 60))
        distance = round(rng.uniform(0.3, 25.0), 2)
        fare = round(3.0 + distance * rng.uniform(1.6, 2.4), 2)
        if i % 97 == 5:
            fare = -fare  # refunds: the pipeline drops them (a warning rule flags them)
        rows.append(
            {
                "trip_id": 100_000 + i,
                "pickup_at": at.strftime("%Y-%m-%d %H:%M:%S"),
                "zone_id": rng.randint(1, 20),
                "passengers": "" if i % 41 == 0 else rng.randint(1, 4),
                "distance_km": distance,
                "fare": fare,
                "payment": rng.choice(["card", "card", "card", "cash", "voucher"]),
                "shared": rng.choice(["True", "False"]),
            }
        )
    rows.sort(key=lambda r: r["pickup_at"])
    pl.DataFrame(rows, schema_overrides={"passengers": pl.String}).write_csv(HERE / "trips.csv")


if __name__ == "__main__":
    main()
