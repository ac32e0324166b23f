"""The scenarios of ``../shared/BENCHMARKS.md``, each beside its baseline.

A side is Python source run in a fresh interpreter: ``setup`` (imports, paths; not timed) then
``run`` (timed). ``DATA`` (the data folder), ``OUT`` (a scratch folder), ``CONFIG`` (the bench
catalog) and ``N`` (the row count) are defined for both, plus whatever a topic module's
``prepare`` yields (see :func:`topic_modules`). A side with ``python="dynamicio"`` runs in
the separate environment where dynamicio 9.1.0 is installed (see :mod:`benchmarks.dynamicio_env`).
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

__all__ = ["SCENARIOS", "Scenario", "Side", "all_scenarios", "topic_modules"]

_DYNIO = """
import dynio
import os
cat = dynio.Catalog.from_yaml(
    CONFIG,
    env="local",
    vars={"BENCH_DATA": DATA, "BENCH_OUT": OUT, "BENCH_CONFIG": os.path.dirname(CONFIG)},
)
"""
# V1/V2/W1 load the data-quality resources from a file dynamicio can load too
_DYNIO_QUALITY = _DYNIO.replace("CONFIG,", 'os.path.join(os.path.dirname(CONFIG), "quality.yaml"),')
_PANDAS = "import pandas as pd\n"
_DYNAMICIO = """
import logging, os, types
os.environ["DYNAMICIO_DO_NOT_CONFIGURE_LOGGING"] = "1"
from dynamicio import UnifiedIO
from dynamicio.config import IOConfig
from dynamicio.core import SCHEMA_FROM_FILE
logging.getLogger("dynamicio.metrics").handlers.clear()
logging.getLogger("dynamicio.metrics").addHandler(logging.NullHandler())
logging.getLogger("dynamicio.metrics").setLevel(logging.INFO)
logging.getLogger("dynamicio.metrics").propagate = False
env = types.ModuleType("bench_env")
env.BENCH_DATA = DATA
env.BENCH_OUT = OUT
env.BENCH_CONFIG = os.path.dirname(CONFIG)
cfg = IOConfig(
    path_to_source_yaml=os.path.join(os.path.dirname(CONFIG), "quality.yaml"),
    env_identifier="local",
    dynamic_vars=env,
)

class OrdersIO(UnifiedIO):
    schema = SCHEMA_FROM_FILE
"""
# dynio also sends its metric lines to a logger that formats them, like dynamicio's
_DYNIO_METRIC_LOG = """
import logging
_m = logging.getLogger("dynio.metrics")
_m.addHandler(logging.NullHandler())
_m.setLevel(logging.INFO)
_m.propagate = False
"""


@dataclass(frozen=True)
class Side:
    """One side of a scenario: source run untimed (``setup``) and timed (``run``)."""

    setup: str
    run: str
    python: str = "main"  # or "dynamicio"


@dataclass(frozen=True)
class Scenario:
    """A scenario, its baseline, the target ratio and the CI guard.

    Attributes:
        id: Short id (``R1``…).
        title: What it measures.
        dynio: The dynio side.
        baseline: The baseline side.
        target: The ratio dynio/baseline the design asks for.
        guard: In ``--quick`` runs, fail only when the ratio exceeds this (generous: small data
            and noisy machines).
        metric: ``"time"`` or ``"memory"`` (peak RSS growth during ``run``).
        process: Time the whole interpreter run instead of ``run`` (import scenarios).
        needs: Optional components (``"dynamicio"``).
        quick: Whether ``--quick`` runs it (without ``--only``): off for scenarios too slow or
            too dominated by fixed costs on the small data to guard anything in CI.
    """

    id: str
    title: str
    dynio: Side
    baseline: Side
    target: float
    guard: float
    metric: str = "time"
    process: bool = False
    needs: tuple[str, ...] = field(default_factory=tuple)
    quick: bool = True


_R3_CUTOFF = """
import datetime as dt
CUTOFF = dt.datetime(2024, 1, 1) + dt.timedelta(days=365 * 0.99)
"""

SCENARIOS: list[Scenario] = [
    Scenario(
        "R1",
        "parquet -> pandas, all columns",
        Side(_DYNIO, 'df = cat.read("orders_parquet")'),
        Side(_PANDAS, 'df = pd.read_parquet(DATA + "/orders.parquet")'),
        target=0.7,
        guard=1.3,
    ),
    Scenario(
        "R2",
        "parquet -> pandas, 3 of 11 columns",
        Side(_DYNIO, 'df = cat.read("orders_parquet", columns=["order_id", "amount", "status"])'),
        Side(
            _PANDAS,
            'df = pd.read_parquet(DATA + "/orders.parquet",'
            ' columns=["order_id", "amount", "status"])',
        ),
        target=1.0,
        guard=1.6,
    ),
    Scenario(
        "R3",
        "parquet, 1% of rows by a filter on the sort key (prunable)",
        Side(
            _DYNIO + _R3_CUTOFF, 'df = cat.read("orders_parquet", filters=[("ts", ">=", CUTOFF)])'
        ),
        Side(
            _PANDAS + _R3_CUTOFF,
            'df = pd.read_parquet(DATA + "/orders.parquet", filters=[("ts", ">=", CUTOFF)])',
        ),
        target=0.5,
        guard=1.2,
    ),
    Scenario(
        "R4",
        "parquet, 1% of rows by a filter on another column",
        Side(_DYNIO, 'df = cat.read("orders_parquet", filters=[("customer_id", "<", N // 500)])'),
        Side(
            _PANDAS,
            'df = pd.read_parquet(DATA + "/orders.parquet")\ndf = df[df["customer_id"] < N // 500]',
        ),
        target=0.4,
        guard=1.0,
    ),
    Scenario(
        "R5",
        "CSV -> pandas, all columns, timestamps parsed (dtypes from the schema)",
        Side(_DYNIO, 'df = cat.read("orders_csv")'),
        Side(_PANDAS, 'df = pd.read_csv(DATA + "/orders.csv", parse_dates=["ts"])'),
        target=0.8,
        guard=1.5,
    ),
    Scenario(
        "R6",
        "NDJSON -> pandas",
        Side(_DYNIO, 'df = cat.read("orders_ndjson")'),
        Side(_PANDAS, 'df = pd.read_json(DATA + "/orders.ndjson", lines=True)'),
        target=0.15,
        guard=0.5,
    ),
    Scenario(
        "V1",
        "read + 9 validations + 8 metrics (dynamicio-format schema)",
        Side(_DYNIO_QUALITY + _DYNIO_METRIC_LOG, 'df = cat.read("orders_checked")'),
        Side(
            _DYNAMICIO,
            'df = OrdersIO(source_config=cfg.get(source_key="orders_checked"),'
            " apply_schema_validations=True, log_schema_metrics=True).read()",
            python="dynamicio",
        ),
        target=0.12,
        # quick-mode ratios seen: 0.27-0.40 (dynamicio's fixed costs weigh less on 200 k rows)
        guard=0.6,
        needs=("dynamicio",),
    ),
    Scenario(
        "V2",
        "read + 9 validations + 8 metrics, against a raw pandas read",
        Side(_DYNIO_QUALITY + _DYNIO_METRIC_LOG, 'df = cat.read("orders_checked")'),
        Side(_PANDAS, 'df = pd.read_parquet(DATA + "/orders.parquet")'),
        target=1.5,
        guard=2.5,
    ),
    Scenario(
        "W1",
        "write parquet with validations + metrics",
        Side(
            _DYNIO_QUALITY
            + _DYNIO_METRIC_LOG
            + _PANDAS
            + 'df = pd.read_parquet(DATA + "/orders.parquet")\n',
            'cat.write("orders_out", df)',
        ),
        Side(
            _DYNAMICIO + _PANDAS + 'df = pd.read_parquet(DATA + "/orders.parquet")\n',
            'OrdersIO(source_config=cfg.get(source_key="orders_out"),'
            " apply_schema_validations=True, log_schema_metrics=True).write(df)",
            python="dynamicio",
        ),
        target=0.35,
        guard=0.8,
        needs=("dynamicio",),
    ),
    Scenario(
        "M1",
        "1,000 small parquet files under one prefix -> one frame",
        Side(_DYNIO, 'df = cat.read("orders_small_files")'),
        Side(
            _PANDAS + "import glob\n",
            'files = sorted(glob.glob(DATA + "/small/*.parquet"))\n'
            "df = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)",
        ),
        target=0.25,
        guard=0.7,
    ),
    Scenario(
        "H1",
        "hand-off overhead: read of parquet",
        Side(_DYNIO, 'df = cat.read("orders_parquet")'),
        Side(
            "import polars as pl\nimport pandas as pd\n",
            'df = pl.read_parquet(DATA + "/orders.parquet").to_pandas()',
        ),
        target=1.05,
        guard=1.6,
    ),
    Scenario(
        "I1",
        "python -c 'import dynio' (the package; names load on first use)",
        Side("", "import dynio"),
        Side("", "import pandas"),
        target=1.3,
        guard=1.6,
        process=True,
    ),
    Scenario(
        "I1b",
        "python -c 'import dynio; dynio.Catalog' (the whole facade, pandas included)",
        Side("", "import dynio\ndynio.Catalog"),
        Side("", "import pandas"),
        target=1.3,
        guard=3.0,
        process=True,
    ),
    Scenario(
        "MEM-R1",
        "peak RSS growth of R1",
        Side(_DYNIO, 'df = cat.read("orders_parquet")'),
        Side(_PANDAS, 'df = pd.read_parquet(DATA + "/orders.parquet")'),
        target=1.2,
        guard=2.0,
        metric="memory",
    ),
    Scenario(
        "MEM-R3",
        "peak RSS growth of R3",
        Side(
            _DYNIO + _R3_CUTOFF, 'df = cat.read("orders_parquet", filters=[("ts", ">=", CUTOFF)])'
        ),
        Side(
            _PANDAS + _R3_CUTOFF,
            'df = pd.read_parquet(DATA + "/orders.parquet", filters=[("ts", ">=", CUTOFF)])',
        ),
        target=0.3,
        guard=1.2,  # quick-mode ratios seen: 0.52-0.75
        metric="memory",
    ),
]


def topic_modules() -> list[ModuleType]:
    """Every ``benchmarks/scenarios_<topic>.py`` module (object stores, databases, telemetry…).

    A topic module defines ``SCENARIOS: list[Scenario]`` and may define
    ``prepare(ctx: dict) -> ContextManager[dict]``: the runner enters it once before running the
    module's scenarios (to start a server, load a table…) and the names in the dict it yields
    become globals of both sides (e.g. ``PG_URI``).
    """
    here = str(Path(__file__).resolve().parent)
    return [
        importlib.import_module(f"benchmarks.{info.name}")
        for info in sorted(pkgutil.iter_modules([here]), key=lambda m: m.name)
        if info.name.startswith("scenarios_")
    ]


def all_scenarios() -> list[Scenario]:
    """The core scenarios plus every topic module's."""
    found = list(SCENARIOS)
    for module in topic_modules():
        found.extend(module.SCENARIOS)
    return found
