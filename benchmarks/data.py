"""Seeded benchmark data: the "orders" table in every format the scenarios read.

The table has 11 columns mixing int64 ids, float64 values with a few nulls, low- and
high-cardinality strings, timestamps and booleans, sorted by timestamp so that row-group pruning
on it means something. Files are generated once per size and reused (``benchmarks/data/``).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import polars as pl

__all__ = ["DATA_DIR", "SIZES", "ensure_data", "orders"]

DATA_DIR = Path(__file__).resolve().parent / "data"
SIZES = {"quick": 200_000, "full": 5_000_000}
NDJSON_ROWS = {"quick": 100_000, "full": 2_000_000}
SMALL_FILES = 1_000
SMALL_FILE_ROWS = {"quick": 100, "full": 1_000}
ROW_GROUP = {"quick": 20_000, "full": 250_000}
COUNTRIES = ["GB", "US", "DE", "FR", "NL", "ES", "IT", "SE", "PL", "IE"]
STATUSES = ["new", "paid", "shipped", "delivered", "returned"]


def orders(n: int, seed: int = 20261124) -> pl.DataFrame:
    """The orders table: ``n`` rows, deterministic for a seed, sorted by ``ts``."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-01-01T00:00:00", "us")
    ts = start + np.sort(rng.integers(0, 365 * 24 * 3600 * 1_000_000, n)).astype("timedelta64[us]")
    amount = np.round(rng.gamma(2.0, 40.0, n), 2)
    amount_nulls = rng.random(n) < 0.01
    discount = np.round(rng.random(n) * 0.3, 3)
    discount_nulls = rng.random(n) < 0.05
    return pl.DataFrame(
        {
            "order_id": np.arange(1, n + 1, dtype=np.int64),
            "customer_id": rng.integers(1, max(n // 5, 2), n, dtype=np.int64),
            "ts": ts,
            "amount": pl.Series(amount).set(pl.Series(amount_nulls), None),
            "discount": pl.Series(discount).set(pl.Series(discount_nulls), None),
            "quantity": rng.integers(1, 20, n, dtype=np.int64),
            "country": np.array(COUNTRIES)[rng.integers(0, len(COUNTRIES), n)],
            "status": np.array(STATUSES)[rng.integers(0, len(STATUSES), n)],
            "sku": np.char.add("SKU-", rng.integers(0, 500_000, n).astype(str)),
            "email": np.char.add(
                np.char.add("user", rng.integers(0, n, n).astype(str)), "@example.com"
            ),
            "is_priority": rng.random(n) < 0.1,
        }
    ).with_columns(pl.col("ts").cast(pl.Datetime("ns")))


def _write_if_missing(path: Path, write: object) -> None:
    if not path.exists():
        tmp = path.with_suffix(path.suffix + ".tmp")
        write(tmp)  # type: ignore[operator]
        tmp.replace(path)


def ensure_data(size: str) -> Path:
    """Generate (once) every file the scenarios of a size read; returns the folder."""
    root = DATA_DIR / size
    root.mkdir(parents=True, exist_ok=True)
    marker = root / "manifest.json"
    if marker.exists():
        return root
    n = SIZES[size]
    frame = orders(n)
    frame.write_parquet(root / "orders.parquet", row_group_size=ROW_GROUP[size], statistics=True)
    frame.write_csv(root / "orders.csv", datetime_format="%Y-%m-%d %H:%M:%S%.f")
    frame.head(NDJSON_ROWS[size]).write_ndjson(root / "orders.ndjson")
    small = root / "small"
    small.mkdir(exist_ok=True)
    rows = SMALL_FILE_ROWS[size]
    for i in range(SMALL_FILES):
        frame.slice(i * rows, rows).write_parquet(small / f"part-{i:05d}.parquet")
    marker.write_text(json.dumps({"rows": n, "created": dt.datetime.now().isoformat()}))
    return root
