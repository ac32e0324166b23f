"""The compat API on other source kinds, against real servers: S3 (moto) and PostgreSQL.

dynamicio refused ``type: s3`` (only ``s3_file`` had a mixin); here both work, and a Postgres
resource keeps dynamicio's conventions (the table is named after the schema, ``db_port`` may be
text, ``sql_query`` in the options).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from fixtures.objectstores import Bucket
from fixtures.postgres import PostgresServer

from dynio.compat.dynamicio import SCHEMA_FROM_FILE, UnifiedIO
from dynio.compat.dynamicio.config import IOConfig


class IO(UnifiedIO):
    schema = SCHEMA_FROM_FILE


SCHEMA = {
    "name": "sales",
    "columns": {
        "id": {
            "type": "int64",
            "validations": {"has_unique_values": {"apply": True, "options": {}}},
        },
        "region": {"type": "object", "metrics": ["CountsPerLabel"]},
        "amount": {"type": "float64"},
    },
}


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"id": [1, 2, 3], "region": ["north", "south", "north"], "amount": [1.5, 2.0, 3.25]}
    )


def expected() -> pd.DataFrame:
    return frame().astype({"region": object})


def config(tmp_path: Path, resources: dict[str, Any], env: str = "cloud") -> IOConfig:
    path = tmp_path / "resources.yaml"
    path.write_text(yaml.safe_dump(resources, sort_keys=False))
    return IOConfig(path, env)


@pytest.mark.parametrize("kind", ["s3", "s3_file"])
def test_s3_kinds_write_and_read(
    kind: str, tmp_path: Path, s3: Bucket, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = config(
        tmp_path,
        {
            "SALES": {
                "cloud": {
                    "type": kind,
                    "s3": {
                        "bucket": s3.name,
                        "file_path": "sales/{day}.parquet",
                        "file_type": "parquet",
                    },
                    "options": {"storage_options": dict(s3.storage_options)},
                },
                "schema": SCHEMA,
            }
        },
    )
    io = IO(cfg.get("SALES"), apply_schema_validations=True, log_schema_metrics=True,
            day="2024-03-01")  # fmt: skip
    io.write(frame())
    assert s3.keys() == ["sales/2024-03-01.parquet"]
    with caplog.at_level(logging.INFO, "dynio.metrics"):
        got = io.read()
    pd.testing.assert_frame_equal(got, expected())
    assert '"column": "region-north"' in caplog.text


def test_postgres_table_named_after_the_schema(tmp_path: Path, postgres: PostgresServer) -> None:
    section = {k: str(v) for k, v in postgres.settings.items()}  # dynamicio quotes the port
    cfg = config(
        tmp_path,
        {
            "SALES": {"cloud": {"type": "postgres", "postgres": section}, "schema": SCHEMA},
            "NORTH": {
                "cloud": {
                    "type": "postgres",
                    "postgres": section,
                    "options": {"sql_query": "SELECT * FROM sales WHERE region = 'north'"},
                },
                "schema": SCHEMA,
            },
        },
    )
    IO(cfg.get("SALES"), apply_schema_validations=True).write(frame())
    pd.testing.assert_frame_equal(IO(cfg.get("SALES")).read(), expected())
    north = IO(cfg.get("NORTH")).read()
    assert list(north["id"]) == [1, 3]
    # a second write replaces the rows, as dynamicio's DELETE + COPY did
    IO(cfg.get("SALES")).write(frame().head(1))
    assert list(IO(cfg.get("SALES")).read()["id"]) == [1]
