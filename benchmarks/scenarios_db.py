"""Database scenarios P1/P2 of ``../shared/BENCHMARKS.md``: PostgreSQL reads and writes.

:func:`prepare` starts a throwaway PostgreSQL server (the test suite's own starter,
``tests/fixtures/postgres.py``), loads the first ``PG_ROWS`` orders into a table and writes a
catalog for it; both sides then see ``PG_URI``, ``PG_CONFIG`` and ``PG_ROWS``. Full runs use 2 M
rows, ``--quick`` runs 200 k. The baselines are pandas through SQLAlchemy + psycopg:
``pandas.read_sql`` and ``DataFrame.to_sql`` with its default method.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks.scenarios import Scenario, Side

__all__ = ["SCENARIOS", "prepare"]

ROOT = Path(__file__).resolve().parent.parent
ROWS = {"quick": 200_000, "full": 2_000_000}

_DYNIO = """
import dynio
cat = dynio.Catalog.from_yaml(PG_CONFIG, env="pg", vars={"PG_URI": PG_URI})
"""
_PANDAS = """
import pandas as pd
import sqlalchemy as sa
engine = sa.create_engine(PG_URI.replace("postgresql://", "postgresql+psycopg://", 1))
"""
_FRAME = """
import pyarrow.parquet as pq
df = pq.read_table(DATA + "/orders.parquet").slice(0, PG_ROWS).to_pandas()
"""

SCENARIOS: list[Scenario] = [
    Scenario(
        "P1",
        "Postgres table -> pandas (2 M rows; 200 k quick)",
        Side(_DYNIO, 'df = cat.read("orders_pg")'),
        Side(_PANDAS, 'df = pd.read_sql("SELECT * FROM orders", engine)'),
        target=0.25,
        # at 200 k rows connection set-up weighs more (0.5-0.6 seen; 0.29 at 2 M rows)
        guard=0.8,
    ),
    Scenario(
        "P2",
        "pandas -> Postgres table (2 M rows; 200 k quick)",
        Side(_DYNIO + _FRAME, 'cat.write("orders_pg_out", df)'),
        Side(
            _PANDAS + _FRAME,
            'df.to_sql("orders_to_sql", engine, if_exists="replace", index=False)',
        ),
        target=0.1,
        guard=0.3,
    ),
]

_CATALOG = """
orders_pg:
  pg:
    type: postgres
    postgres: {{uri: "[[ PG_URI ]]"}}
    options: {{table: orders}}
  schema: {{file_path: {schema}}}

orders_pg_out:
  pg:
    type: postgres
    postgres: {{uri: "[[ PG_URI ]]"}}
    options: {{table: orders_out, write_mode: replace}}
  schema: {{file_path: {schema}}}
"""


def _server_module() -> ModuleType:
    path = ROOT / "tests" / "fixtures" / "postgres.py"
    spec = importlib.util.spec_from_file_location("dynio_bench_postgres", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def prepare(ctx: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Start PostgreSQL, load the orders table, write the catalog; stop it all on exit."""
    import polars as pl

    import dynio

    server_mod = _server_module()
    bin_dir = server_mod.find_bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed: run `bash .ci/install`")
    rows = ROWS.get(str(ctx.get("MODE")), ROWS["full"])
    with (
        server_mod.start_postgres(bin_dir) as server,
        tempfile.TemporaryDirectory(prefix="dynio-bench-db-") as tmp,
    ):
        config = Path(tmp) / "db.yaml"
        schema = ROOT / "configs" / "bench" / "orders.yaml"
        config.write_text(_CATALOG.format(schema=schema))
        cat = dynio.Catalog.from_yaml(config, env="pg", vars={"PG_URI": server.uri})
        frame = pl.scan_parquet(Path(str(ctx["DATA"])) / "orders.parquet").head(rows).collect()
        cat.write("orders_pg", frame, validate=False, metrics=False)
        yield {"PG_URI": server.uri, "PG_CONFIG": str(config), "PG_ROWS": frame.height}
