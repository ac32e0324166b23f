"""R1-R6 through the drop-in readers: ``dynio.pandas.read_*`` against pandas' own ``read_*``.

Each scenario makes the same call on both sides, only the module differs (``import
dynio.pandas as dpd`` against ``import pandas as pd``), on the suite's seeded orders data. The
targets are those of R1-R6 in ``../shared/BENCHMARKS.md``.
"""

from __future__ import annotations

from benchmarks.scenarios import Scenario, Side

__all__ = ["SCENARIOS"]

_DPD = "import dynio.pandas as dpd\n"
_PD = "import pandas as pd\n"
_CUTOFF = """
import datetime as dt
CUTOFF = dt.datetime(2024, 1, 1) + dt.timedelta(days=365 * 0.99)
"""
_COLS = '["order_id", "amount", "status"]'
# which reader served the read_parquet call (polars, arrow, or pandas: the reason)
_PARQUET_TAKEN = """
_last = dpd.last_read()
PATH_TAKEN = _last.reader if _last.reason is None else f"{_last.reader}: {_last.reason}"
"""
_WRITERS = (
    ("pandas", "pandas to_parquet defaults"),
    ("pandas1m", "pandas, 1 M-row groups"),
    ("duckdb", "DuckDB COPY"),
)

SCENARIOS: list[Scenario] = [
    Scenario(
        "R1p",
        "read_parquet, all columns",
        Side(_DPD, 'df = dpd.read_parquet(DATA + "/orders.parquet")', after=_PARQUET_TAKEN),
        Side(_PD, 'df = pd.read_parquet(DATA + "/orders.parquet")'),
        target=0.75,
        guard=1.3,
    ),
    # R1p on the other writers' files: the drop-in reader takes the read-path choice too
    *(
        Scenario(
            f"R1p-{writer}",
            f"read_parquet, all columns ({label})",
            Side(_DPD, f'df = dpd.read_parquet(DATA + "/{file}")', after=_PARQUET_TAKEN),
            Side(_PD, f'df = pd.read_parquet(DATA + "/{file}")'),
            target=1.0,
            guard=1.6,
            quick=writer == "pandas",
        )
        for writer, label in _WRITERS
        for file in (f"orders_{writer}.parquet",)
    ),
    Scenario(
        "R2p",
        "read_parquet, 3 of 11 columns",
        Side(_DPD, f'df = dpd.read_parquet(DATA + "/orders.parquet", columns={_COLS})'),
        Side(_PD, f'df = pd.read_parquet(DATA + "/orders.parquet", columns={_COLS})'),
        target=1.0,
        guard=1.6,
    ),
    Scenario(
        "R3p",
        "read_parquet, 1% of rows by a filter on the sort key (prunable)",
        Side(
            _DPD + _CUTOFF,
            'df = dpd.read_parquet(DATA + "/orders.parquet", filters=[("ts", ">=", CUTOFF)])',
        ),
        Side(
            _PD + _CUTOFF,
            'df = pd.read_parquet(DATA + "/orders.parquet", filters=[("ts", ">=", CUTOFF)])',
        ),
        target=0.5,
        guard=1.2,
    ),
    Scenario(
        "R4p",
        "read_parquet, 1% of rows by a filter on another column",
        Side(
            _DPD,
            'df = dpd.read_parquet(DATA + "/orders.parquet",'
            ' filters=[("customer_id", "<", N // 500)])',
        ),
        Side(
            _PD,
            'df = pd.read_parquet(DATA + "/orders.parquet")\ndf = df[df["customer_id"] < N // 500]',
        ),
        target=0.4,
        guard=1.0,
    ),
    Scenario(
        "R5p",
        "read_csv, all columns, parse_dates=['ts']",
        Side(_DPD, 'df = dpd.read_csv(DATA + "/orders.csv", parse_dates=["ts"])'),
        Side(_PD, 'df = pd.read_csv(DATA + "/orders.csv", parse_dates=["ts"])'),
        target=0.8,
        guard=1.5,
    ),
    Scenario(
        "R6p",
        "read_json(lines=True) of NDJSON",
        Side(_DPD, 'df = dpd.read_json(DATA + "/orders.ndjson", lines=True)'),
        Side(_PD, 'df = pd.read_json(DATA + "/orders.ndjson", lines=True)'),
        target=0.15,
        # looser than R6's: with no schema the columns' types are guessed from the first records
        # and checked by a strict parse (a second, inferring parse when they do not fit), where
        # the catalog read takes them from YAML
        guard=0.8,
    ),
]
