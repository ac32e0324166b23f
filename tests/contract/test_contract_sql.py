"""The source contract (:mod:`dynio.testing.contract`) for the SQL kinds: PostgreSQL (a real
server on loopback, ``tests/fixtures/postgres.py``) and DuckDB (a database file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fixtures.postgres import PostgresServer

from dynio.testing.contract import (
    SMALL_TIMEOUTS,
    Capabilities,
    Place,
    SilentServer,
    SourceContract,
)

NO_TEMPLATES = "a table's name takes no {placeholders}"


class PostgresPlace(Place):
    """``type: postgres``: one table per resource (named after the schema)."""

    def __init__(self, server: PostgresServer) -> None:
        self.server = server
        self.secrets = (server.password,)

    def _env(self, section: dict[str, Any], **options: Any) -> dict[str, Any]:
        return {"type": "postgres", "postgres": section, "options": options}

    def env(self, name: str, *, template: bool = False) -> dict[str, Any]:
        return self._env(dict(self.server.settings))

    def bad_credentials(self, name: str) -> dict[str, Any] | None:
        return self._env({**self.server.settings, "db_password": "wrong-" + self.server.password})

    def refused(self, name: str, port: int) -> dict[str, Any] | None:
        section = {**self.server.settings, "db_host": "127.0.0.1", "db_port": port}
        return self._env(section, timeouts=dict(SMALL_TIMEOUTS))

    def silent(self, name: str, server: SilentServer) -> dict[str, Any] | None:
        section = {**self.server.settings, "db_host": server.host, "db_port": server.port}
        return self._env(section, timeouts=dict(SMALL_TIMEOUTS))


class TestPostgres(SourceContract):
    capabilities = Capabilities(
        networked=True,
        pushdown=True,
        modes=frozenset({"append", "replace"}),
        templates=False,
        skip={"templates": NO_TEMPLATES},
    )

    @pytest.fixture
    def place(self, postgres: PostgresServer) -> Place:
        return PostgresPlace(postgres)


class DuckDbPlace(Place):
    """``type: duckdb``: one table per resource in a database file."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def env(self, name: str, *, template: bool = False) -> dict[str, Any]:
        database = f"{self.root}/{name}-{{day}}.duckdb" if template else f"{self.root}/db.duckdb"
        return {"type": "duckdb", "duckdb": {"database": database, "table": name}}

    def missing(self, name: str) -> dict[str, Any] | None:
        return {"type": "duckdb", "duckdb": {"database": f"{self.root}/none.duckdb"}}


class TestDuckDb(SourceContract):
    capabilities = Capabilities(pushdown=True, modes=frozenset({"append", "replace"}))

    @pytest.fixture
    def place(self, tmp_path: Path) -> Place:
        return DuckDbPlace(tmp_path)
