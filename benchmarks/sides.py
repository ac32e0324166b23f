"""What a scenario is made of: two :class:`Side` objects in a :class:`Scenario`, and the set-up
snippets the core scenarios share (the bench catalog, pandas, the dynamicio 9.1.0 baseline).

A side is Python source run in a fresh interpreter: ``setup`` (imports, paths; not timed), then
``run`` (timed), then ``after`` (not timed). ``DATA`` (the data folder), ``OUT`` (a scratch
folder), ``CONFIG`` (the bench catalog), ``N`` (the row count) and ``MODE`` (``quick`` or
``full``) are defined for both, plus whatever a topic module's ``prepare`` yields (see
:func:`benchmarks.scenarios.topic_modules`).

Which path ran: when a side leaves a global ``PATH_TAKEN`` (set in ``run`` or, better, in
``after``, where it costs nothing), the runner records its ``str()`` for that round and the
result file and table show it beside the scenario (e.g. which parquet reader a read took, or
whether a drop-in reader fell back to pandas).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

__all__ = ["R3_CUTOFF", "Scenario", "Side"]

_DYNIO = """
import dynio
import os
cat = dynio.Catalog.from_yaml(
    CONFIG,
    env="local",
    vars={"BENCH_DATA": DATA, "BENCH_OUT": OUT, "BENCH_CONFIG": os.path.dirname(CONFIG)},
)
"""
# V1/V2/V3/W1 load the data-quality resources from a file dynamicio can load too
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
# R3's filter keeps the rows from here on: the last 1 % of the year the orders' timestamps span
R3_CUTOFF = dt.datetime(2024, 1, 1) + dt.timedelta(days=365 * 0.99)
_R3_CUTOFF = f"""
import datetime as dt
CUTOFF = dt.datetime.fromisoformat({R3_CUTOFF.isoformat()!r})
"""


@dataclass(frozen=True)
class Side:
    """One side of a scenario: source run untimed (``setup``), timed (``run``), untimed (``after``).

    ``after`` may set ``PATH_TAKEN`` (see the module docstring); peak memory is taken before it.
    """

    setup: str
    run: str
    python: str = "main"  # or "dynamicio"
    after: str = ""


@dataclass(frozen=True)
class Scenario:
    """A scenario, its baseline, the target ratio and the CI guard.

    Attributes:
        id: Short id (``R1``, ``R1-pandas``…); unique across the suite.
        title: What it measures.
        dynio: The dynio side.
        baseline: The baseline side.
        target: The ratio dynio/baseline the design asks for.
        guard: With ``--check``, fail only when the ratio exceeds this (generous: ``--quick``'s
            small data and noisy machines).
        metric: ``"time"`` or ``"memory"`` (peak RSS growth during ``run``).
        process: Time the whole interpreter run instead of ``run`` (import scenarios).
        needs: Optional components (``"dynamicio"``).
        quick: Whether ``--quick`` runs it (without ``--only``): off for scenarios too slow or
            too dominated by fixed costs on the small data to guard anything in CI, and for the
            variants CI samples out to keep within its time budget.
        paired: Whether its sides may share one warm process (:mod:`benchmarks.paired`): off
            when a side's ``setup`` changes the process for the other (e.g. configures an
            OpenTelemetry SDK process-wide). Memory, whole-process and cross-environment
            scenarios are measured cold only whatever this says.
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
    paired: bool = True
