"""Seeded benchmark data: the "orders" table in every format and file shape the scenarios read.

The table has 11 columns mixing int64 ids, float64 values with a few nulls, low- and
high-cardinality strings, timestamps and booleans, sorted by timestamp so that row-group pruning
on it means something. Users' files are not written by us, so the same table is written by
several writers (see :data:`FILES`): Polars (``orders.parquet``, the suite's original file),
pandas' ``to_parquet`` with its defaults and with 1 M-row groups, DuckDB's ``COPY ... (FORMAT
parquet)``, and pyarrow as a dataset of 64 files; beside it a narrow numeric table (unique ids,
floats, a 3-label string) and a 1,000-row file for the fixed cost per call.

Files are generated once per size and reused (``benchmarks/data/<size>/``). The folder's
``manifest.json`` records :data:`DATA_VERSION` and each file's own version: a file missing or
recorded at an older version is (re)written on the next run, the others are kept, so a data
folder from an older checkout catches up by itself.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import functools
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DATA_DIR",
    "DATA_VERSION",
    "FILES",
    "SHAPES",
    "SIZES",
    "DataFile",
    "Shape",
    "ensure_data",
    "narrow",
    "orders",
]

DATA_DIR = Path(__file__).resolve().parent / "data"
# bump with any file's version below (the manifest records both)
DATA_VERSION = 2
COUNTRIES = ["GB", "US", "DE", "FR", "NL", "ES", "IT", "SE", "PL", "IE"]
STATUSES = ["new", "paid", "shipped", "delivered", "returned"]
LABELS = ["low", "mid", "high"]
PARTS = 64  # files of the many-files layout (``orders_parts/``)
LOCK_TIMEOUT_S = 1800.0  # another run generating the same folder: wait at most this long


@dataclass(frozen=True)
class Shape:
    """The sizes of one data folder.

    Attributes:
        rows: Rows of the orders table (and of the narrow table).
        ndjson_rows: Rows of ``orders.ndjson`` (the head of the table).
        small_files: Files under ``small/`` (M1).
        small_file_rows: Rows per file under ``small/``.
        row_group: Row-group size of the Polars-written ``orders.parquet``.
        pandas_row_group: Row-group size of ``orders_pandas1m.parquet`` (1 M rows at full size).
    """

    rows: int
    ndjson_rows: int
    small_files: int
    small_file_rows: int
    row_group: int
    pandas_row_group: int


SHAPES = {
    "quick": Shape(200_000, 100_000, 1_000, 100, 20_000, 40_000),
    "full": Shape(5_000_000, 2_000_000, 1_000, 1_000, 250_000, 1_000_000),
}
SIZES = {name: shape.rows for name, shape in SHAPES.items()}
F1_ROWS = 1_000
# the mid-sized files hold the first 1/MID_FRACTION of the orders table (1 M rows at full size)
MID_FRACTION = 5


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


def narrow(n: int, seed: int = 20261205) -> pd.DataFrame:
    """The narrow numeric table (V3): unique int ids in shuffled order, floats, a 3-label string."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": rng.permutation(np.arange(1, n + 1, dtype=np.int64)),
            "value": np.round(rng.normal(100.0, 15.0, n), 4),
            "label": pd.Series(np.array(LABELS)[rng.integers(0, len(LABELS), n)], dtype="str"),
        }
    )


class _Tables:
    """The in-memory tables a generation needs, each built at most once."""

    def __init__(self, root: Path, shape: Shape) -> None:
        self.root, self.shape = root, shape

    @functools.cached_property
    def orders(self) -> pl.DataFrame:
        return orders(self.shape.rows)

    @functools.cached_property
    def orders_pandas(self) -> pd.DataFrame:
        return self.orders.to_pandas()


# --- the writers: each writes one file (or folder) at ``path`` ---------------------------------


def _polars(path: Path, t: _Tables) -> None:
    t.orders.write_parquet(path, row_group_size=t.shape.row_group, statistics=True)


def _csv(path: Path, t: _Tables) -> None:
    t.orders.write_csv(path, datetime_format="%Y-%m-%d %H:%M:%S%.f")


def _ndjson(path: Path, t: _Tables) -> None:
    t.orders.head(t.shape.ndjson_rows).write_ndjson(path)


def _small(path: Path, t: _Tables) -> None:
    path.mkdir()
    rows = t.shape.small_file_rows
    for i in range(t.shape.small_files):
        t.orders.slice(i * rows, rows).write_parquet(path / f"part-{i:05d}.parquet")


def _pandas(path: Path, t: _Tables) -> None:
    t.orders_pandas.to_parquet(path)  # pyarrow, pandas' defaults (1,048,576-row groups)


def _pandas1m(path: Path, t: _Tables) -> None:
    t.orders_pandas.to_parquet(path, row_group_size=t.shape.pandas_row_group)


def _duckdb(path: Path, t: _Tables) -> None:
    import duckdb

    source = t.root / "orders.parquet"  # written first (FILES' order): the same rows, in order
    with duckdb.connect() as con:
        con.execute("SET enable_progress_bar = false")
        con.execute(f"COPY (SELECT * FROM read_parquet('{source}')) TO '{path}' (FORMAT parquet)")


def _parts(path: Path, t: _Tables) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(t.orders_pandas, preserve_index=False)
    path.mkdir()
    step = -(-table.num_rows // PARTS)
    for i in range(PARTS):  # contiguous slices of the sorted table: files prune on ``ts``
        pq.write_table(table.slice(i * step, step), path / f"part-{i:05d}.parquet")


def _narrow(path: Path, t: _Tables) -> None:
    narrow(t.shape.rows).to_parquet(path)


def _mid_pandas(path: Path, t: _Tables) -> None:
    t.orders_pandas.head(t.shape.rows // MID_FRACTION).to_parquet(path)


def _mid_polars(path: Path, t: _Tables) -> None:
    mid = t.orders.head(t.shape.rows // MID_FRACTION)
    mid.write_parquet(path, row_group_size=t.shape.row_group, statistics=True)


def _one_k(path: Path, t: _Tables) -> None:
    t.orders_pandas.head(F1_ROWS).to_parquet(path)


@dataclass(frozen=True)
class DataFile:
    """One generated file or folder: its name in the data folder, version and writer."""

    name: str
    version: int
    write: Callable[[Path, _Tables], None]
    description: str


FILES: tuple[DataFile, ...] = (
    DataFile("orders.parquet", 1, _polars, "Polars, 250k-row groups (20k quick), statistics"),
    DataFile("orders.csv", 1, _csv, "CSV written by Polars"),
    DataFile("orders.ndjson", 1, _ndjson, "NDJSON written by Polars (first 2 M / 100 k rows)"),
    DataFile("small", 1, _small, "1,000 small parquet files (M1)"),
    DataFile("orders_pandas.parquet", 1, _pandas, "pandas to_parquet, defaults"),
    DataFile("orders_pandas1m.parquet", 1, _pandas1m, "pandas, 1 M-row groups (40k quick)"),
    DataFile("orders_duckdb.parquet", 1, _duckdb, "DuckDB COPY ... (FORMAT parquet)"),
    DataFile("orders_parts", 1, _parts, "64 files of one dataset, pyarrow write_table"),
    DataFile("narrow.parquet", 1, _narrow, "narrow numeric table, pandas to_parquet"),
    DataFile("orders_1k.parquet", 1, _one_k, "1,000 rows of orders, pandas to_parquet (F1)"),
    DataFile("orders_mid_pandas.parquet", 1, _mid_pandas, "the first fifth, pandas defaults"),
    DataFile("orders_mid_polars.parquet", 1, _mid_polars, "the first fifth, Polars"),
)
# files generated before the manifest recorded versions (data version 1)
_LEGACY = ("orders.parquet", "orders.csv", "orders.ndjson", "small")


def _recorded(marker: Path) -> dict[str, int]:
    """The versions of the files a manifest lists (``{}`` without one)."""
    if not marker.exists():
        return {}
    manifest: dict[str, Any] = json.loads(marker.read_text())
    if "files" in manifest:
        return {str(k): int(v) for k, v in manifest["files"].items()}
    return {name: 1 for name in _LEGACY if (marker.parent / name).exists()}


def _replace(tmp: Path, path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    tmp.replace(path)


class _Lock:
    """An exclusive lock on a data folder (two runs may generate the same folder at once)."""

    def __init__(self, root: Path) -> None:
        self.path = root / ".lock"

    def __enter__(self) -> _Lock:
        self.fh = open(self.path, "w")  # closed in __exit__
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        while True:
            try:
                fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError as exc:
                if time.monotonic() > deadline:
                    self.fh.close()
                    raise TimeoutError(
                        f"{self.path} still locked after {LOCK_TIMEOUT_S} s"
                    ) from exc
                time.sleep(0.5)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()


def ensure_data(size: str, root: Path | None = None, shape: Shape | None = None) -> Path:
    """Generate every file the scenarios of a size read, once; returns the folder.

    Args:
        size: ``"quick"`` or ``"full"`` (the folder's name and, unless ``shape``, its sizes).
        root: The folder (default ``benchmarks/data/<size>``).
        shape: Sizes to generate instead of :data:`SHAPES`' (tests use tiny ones).
    """
    root = root or DATA_DIR / size
    shape = shape or SHAPES[size]
    root.mkdir(parents=True, exist_ok=True)
    marker = root / "manifest.json"
    with _Lock(root):
        recorded = _recorded(marker)
        tables = _Tables(root, shape)
        for spec in FILES:
            path = root / spec.name
            if recorded.get(spec.name) == spec.version and path.exists():
                continue
            tmp = root / f".{spec.name}.{os.getpid()}.tmp"
            if tmp.is_dir():
                shutil.rmtree(tmp)
            spec.write(tmp, tables)
            _replace(tmp, path)
            recorded[spec.name] = spec.version
            # recorded per file, so an interrupted generation keeps what it finished
            _write_manifest(marker, shape, recorded)
        if not marker.exists() or json.loads(marker.read_text()).get("version") != DATA_VERSION:
            _write_manifest(marker, shape, recorded)
    return root


def _write_manifest(marker: Path, shape: Shape, files: dict[str, int]) -> None:
    manifest = {
        "version": DATA_VERSION,
        "rows": shape.rows,
        "files": files,
        "updated": dt.datetime.now().isoformat(timespec="seconds"),
    }
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=1))
    tmp.replace(marker)
