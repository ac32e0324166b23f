"""Secrets are marked by the YAML fields that hold them when a catalog loads, carried as
:class:`~dynio.engine.secrets.Secret` and redacted by value: no error raised while loading (by
the API, ``dynio catalog check`` or the dynamicio compatibility layer) quotes a secret, however
it was misplaced; values that are not secrets (a column named ``key``) stay readable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_text

import dynio
from dynio.engine import telemetry as t
from dynio.engine.errors import ConfigError
from dynio.engine.loader import check_catalog, load_catalog
from dynio.engine.secrets import Secret

PASSWORD = "Pw-Load-Secret-4417"
S3_SECRET = "S3-Load-Secret-9025"

# the same secret misplaced several ways, beside the fields that mark it secret
MISPLACED = """
db_port_typo:
  prod:
    type: postgres
    postgres:
      db_host: db.internal
      db_port: "[[ DB_PASSWORD ]]"
      db_name: shop
      db_user: app
      db_password: "[[ DB_PASSWORD ]]"
    options: {table: orders}
rule_option_typo:
  prod:
    type: local
    local: {file_path: data.parquet, file_type: parquet}
    options:
      storage_options: {secret: "[[ S3_SECRET ]]"}
  schema:
    columns:
      amount:
        type: float64
        validations:
          is_greater_than: {apply: true, options: {threshold: "[[ S3_SECRET ]]"}}
bool_typo:
  prod:
    type: local
    local: {file_path: data.parquet, file_type: parquet}
    options: {allow_template_escape: "[[ DB_PASSWORD ]]"}
"""


def _texts(errors: list[Exception]) -> str:
    return "\n".join(f"{e}\n{e!r}" for e in errors)


@pytest.mark.parametrize("how", ["vars", "environment"])
def test_no_load_error_quotes_a_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    path = write_text(tmp_path / "r.yaml", MISPLACED)
    values = {"DB_PASSWORD": PASSWORD, "S3_SECRET": S3_SECRET}
    if how == "environment":
        for k, v in values.items():
            monkeypatch.setenv(k, v)
    problems = check_catalog(path, variables=values if how == "vars" else None)
    text = _texts(problems)
    assert len(problems) == 3, text
    assert "db_port" in text  # each problem still says where it is
    assert "threshold" in text
    assert PASSWORD not in text
    assert S3_SECRET not in text
    assert "EnvText" not in text  # no internal type names either
    with pytest.raises(ConfigError) as info:
        load_catalog(path, variables=values if how == "vars" else None, env="prod")
    assert PASSWORD not in str(info.value)
    assert S3_SECRET not in str(info.value)


def test_catalog_check_and_compat_quote_no_secret(tmp_path: Path) -> None:
    path = write_text(tmp_path / "r.yaml", MISPLACED)
    env = {**os.environ, "DB_PASSWORD": PASSWORD, "S3_SECRET": S3_SECRET}
    out = subprocess.run(
        [sys.executable, "-m", "dynio.cli", "catalog", "check", "--config", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode != 0
    assert "db_port" in out.stdout + out.stderr
    assert PASSWORD not in out.stdout + out.stderr
    assert S3_SECRET not in out.stdout + out.stderr
    from dynio.compat.dynamicio.config import IOConfig

    # compat raises a resource's problems when that resource is asked for, as dynamicio does
    config = IOConfig(str(path), "prod", {"DB_PASSWORD": PASSWORD, "S3_SECRET": S3_SECRET})
    for name in ("db_port_typo", "rule_option_typo"):
        with pytest.raises(dynio.DynioError) as info:
            config.get(name)
        assert PASSWORD not in str(info.value) + repr(info.value)
        assert S3_SECRET not in str(info.value) + repr(info.value)


def test_secret_fields_are_carried_as_secrets_and_never_shown(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "r.yaml",
        """
        pg:
          prod:
            type: postgres
            postgres: {db_host: h, db_name: shop, db_user: app, db_password: "[[ P ]]"}
            options: {table: zones, write_mode: upsert, key: [zone_id]}
        lake:
          prod:
            type: s3
            s3: {bucket: lake, file_path: x.parquet, file_type: parquet}
            credentials: reader
        credentials:
          reader:
            {aws_access_key_id: AKIA-ID-3, aws_secret_access_key: "[[ S ]]", region: eu-west-1}
        """,
    )
    spec = load_catalog(path, variables={"P": PASSWORD, "S": S3_SECRET}, env="prod")
    pg = spec.resources["pg"].env("prod").source
    assert isinstance(pg.settings["db_password"], Secret)
    assert pg.settings["db_password"] == PASSWORD  # the value itself, for the driver
    assert PASSWORD not in repr(pg)
    assert PASSWORD in t.secrets_of(pg)
    # a column named key is not a secret: it stays readable in messages and spans
    assert "zone_id" not in t.secrets_of(pg)
    assert t.redact("duplicate key values in ['zone_id']", t.secrets_of(pg)) == (
        "duplicate key values in ['zone_id']"
    )
    lake = spec.resources["lake"].env("prod").source
    options = lake.options["storage_options"]
    assert S3_SECRET not in repr(lake)
    assert isinstance(options["aws_secret_access_key"], Secret)
    assert options["region"] == "eu-west-1"
    assert {S3_SECRET, "AKIA-ID-3"} <= set(t.secrets_of(lake))
    assert "eu-west-1" not in t.secrets_of(lake)


def test_upsert_key_column_stays_readable_in_errors_and_spans(
    catalog_from: object, tmp_path: Path, otel: object
) -> None:
    import polars as pl

    cat = dynio.Catalog.from_yaml(
        write_text(
            tmp_path / "r.yaml",
            """
            zones:
              db:
                type: duckdb
                duckdb: {database: wh.duckdb}
                options: {write_mode: upsert, key: [zone_id]}
              schema:
                columns:
                  zone_id: {type: int64}
                  name: {type: str}
            """,
        ),
        env="db",
    )
    with pytest.raises(dynio.DynioError) as info:
        cat.write("zones", pl.DataFrame({"zone_id": [1, 1], "name": ["a", "b"]}))
    assert "zone_id" in str(info.value)
    assert "***" not in str(info.value)


def test_client_settings_passed_as_options_are_secrets_by_their_field(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "r.yaml",
        """
        events:
          prod:
            type: kafka
            kafka: {kafka_server: "broker:9092", kafka_topic: trips}
            options: {sasl.username: app, sasl.password: "[[ K ]]", compression.type: zstd}
        """,
    )
    spec = load_catalog(path, variables={"K": PASSWORD}, env="prod")
    source = spec.resources["events"].env("prod").source
    assert PASSWORD in t.secrets_of(source)
    assert "zstd" not in t.secrets_of(source)
    assert "app" not in t.secrets_of(source)
