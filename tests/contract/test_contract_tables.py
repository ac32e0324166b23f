"""The source contract (:mod:`dynio.testing.contract`) for the table formats (Delta Lake, and
Iceberg with a SQLite catalog) on local disk and on S3 (moto), and for Kafka topics (a Tansu
broker on loopback, ``tests/fixtures/kafka.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fixtures.objectstores import Bucket

from dynio.testing.contract import (
    SMALL_TIMEOUTS,
    Capabilities,
    Place,
    SilentServer,
    SourceContract,
)


class DeltaPlace(Place):
    """``type: delta``: one table per resource under a folder or a bucket."""

    def __init__(self, base: str, storage_options: dict[str, Any] | None = None) -> None:
        self.base, self.storage_options = base, storage_options
        self.secrets = (storage_options["secret"],) if storage_options else ()

    def env(self, name: str, *, template: bool = False) -> dict[str, Any]:
        uri = f"{self.base}/{name}/{{day}}" if template else f"{self.base}/{name}"
        env: dict[str, Any] = {"type": "delta", "delta": {"uri": uri}}
        if self.storage_options:
            env["options"] = {"storage_options": dict(self.storage_options)}
        return env

    def refused(self, name: str, port: int) -> dict[str, Any] | None:
        if not self.storage_options:
            return None
        env = self.env(name)
        env["options"]["storage_options"]["endpoint_url"] = f"http://127.0.0.1:{port}"
        return env


class TestDelta(SourceContract):
    capabilities = Capabilities(
        pushdown=True, replaces=False, modes=frozenset({"append", "overwrite"})
    )

    @pytest.fixture(params=["local", "s3"])
    def place(self, request: pytest.FixtureRequest, tmp_path: Path) -> Place:
        pytest.importorskip("deltalake")
        if request.param == "local":
            return DeltaPlace(str(tmp_path / "tables"))
        bucket: Bucket = request.getfixturevalue("s3")
        return DeltaPlace(bucket.url("tables").rstrip("/"), dict(bucket.storage_options))


class IcebergPlace(Place):
    """``type: iceberg``: one table per resource in a SQLite catalog."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def env(self, name: str, *, template: bool = False) -> dict[str, Any]:
        catalog = {"type": "sql", "uri": f"sqlite:///{self.root}/catalog.db", "warehouse": "wh"}
        return {"type": "iceberg", "iceberg": {"table": f"lake.{name}", "catalog": catalog}}


class TestIceberg(SourceContract):
    capabilities = Capabilities(
        replaces=False,
        pushdown=True,
        modes=frozenset({"append", "overwrite"}),
        templates=False,
        skip={"templates": "an Iceberg table is named in its catalog, not by a path"},
    )

    @pytest.fixture
    def place(self, tmp_path: Path) -> Place:
        pytest.importorskip("pyiceberg")
        return IcebergPlace(tmp_path)


# Kafka takes its own limit options rather than ``timeouts``
LIMITS = {"connect_timeout": 1, "read_timeout": 0.5, "flush_timeout": 2}


class KafkaPlace(Place):
    """``type: kafka``: one topic per resource on the broker."""

    def __init__(self, server: str) -> None:
        self.server = server

    def env(self, name: str, *, template: bool = False) -> dict[str, Any]:
        return {"type": "kafka", "kafka": {"kafka_server": self.server, "kafka_topic": name}}

    def refused(self, name: str, port: int) -> dict[str, Any] | None:
        env = self.env(name)
        env["kafka"]["kafka_server"] = f"127.0.0.1:{port}"
        env["options"] = dict(LIMITS)
        return env

    def silent(self, name: str, server: SilentServer) -> dict[str, Any] | None:
        env = self.env(name)
        env["kafka"]["kafka_server"] = f"{server.host}:{server.port}"
        env["options"] = dict(LIMITS)
        return env


class TestKafka(SourceContract):
    capabilities = Capabilities(
        networked=True,
        replaces=False,
        templates=False,
        skip={"templates": "a topic name is checked when the catalog loads: no {placeholders}"},
    )

    @pytest.fixture
    def place(self, kafka_broker: str) -> Place:
        return KafkaPlace(kafka_broker)


class AthenaPlace(Place):
    """``type: athena`` on moto's Athena: a query whose results land in the bucket."""

    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket
        self.secrets = (bucket.storage_options["secret"],)

    def env(self, name: str, *, template: bool = False) -> dict[str, Any]:
        return self._env(dict(self.bucket.storage_options))

    def _env(self, storage: dict[str, Any]) -> dict[str, Any]:
        section = {"s3_output": self.bucket.url("results/"), "database": "analytics"}
        options = {"storage_options": storage, "poll_interval": 0.05, "sql_query": "SELECT 1"}
        return {"type": "athena", "athena": section, "options": options}

    def missing(self, name: str) -> dict[str, Any] | None:
        return None  # moto answers any query

    def refused(self, name: str, port: int) -> dict[str, Any] | None:
        storage = {**self.bucket.storage_options, "endpoint_url": f"http://127.0.0.1:{port}"}
        return self._env({**storage, "timeouts": dict(SMALL_TIMEOUTS)})

    def silent(self, name: str, server: SilentServer) -> dict[str, Any] | None:
        storage = {**self.bucket.storage_options, "endpoint_url": server.url}
        return self._env({**storage, "timeouts": dict(SMALL_TIMEOUTS)})


# moto's Athena returns results queued beforehand, whatever the SQL: the data promises need a
# query engine behind it; the connection promises run
_NEEDS_ENGINE = "moto's Athena answers queued results, not the query: no data to read back"


class TestAthena(SourceContract):
    capabilities = Capabilities(
        writes=False,
        networked=True,
        skip=dict.fromkeys(
            [
                "round_trip_keeps_values_and_dtypes",
                "reading_twice_gives_the_same_frame",
                "projection",
                "filters_and_their_record",
                "filter_matching_nothing_keeps_dtypes",
                "templates",
            ],
            _NEEDS_ENGINE,
        ),
    )

    @pytest.fixture
    def place(self, s3: Bucket) -> Place:
        pytest.importorskip("boto3")
        return AthenaPlace(s3)
