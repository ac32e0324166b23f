"""Never hang: every network operation gives up at its timeouts or deadline, and says which
server did not answer and after how long.

The servers here accept connections and never answer (``silent_server``); every operation is
run with small limits (``timeouts: {connect: 1, read: 0.5, deadline: 2}``) and must come back with
a dynio error naming that server and the limit that ran out.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import gcsfs  # noqa: F401  (imported here, so that importing it is not counted in a deadline)
import pandas as pd
import polars as pl
import pytest
import s3fs  # noqa: F401
import yaml
from fixtures.objectstores import S3_KEYS
from fixtures.postgres import PostgresServer
from fixtures.silent import SilentServer

import dynio
from dynio.engine.deadlines import (
    DEFAULT_TIMEOUTS,
    Deadline,
    DeadlineExceeded,
    Timeouts,
    parse_timeouts,
    with_libpq_limits,
    within,
)
from dynio.engine.io.filesystems import BACKENDS, polars_options, polars_timeouts
from dynio.errors import ConfigError, DynioError, ReadError, WriteError

CatalogFrom = Callable[..., dynio.Catalog]
LIMITS = {"connect": 1, "read": 0.5, "deadline": 2}
SECRET = S3_KEYS["secret"]


def one(kind: str, section: dict[str, Any], options: dict[str, Any]) -> str:
    body = {"r": {"env": {"type": kind, **section, "options": options}}}
    body["r"]["schema"] = {"columns": {"id": "int64"}}  # type: ignore[index]
    return yaml.safe_dump(body, sort_keys=False)


def said_silence(err: DynioError, server: SilentServer) -> None:
    text = str(err)
    assert server.url in text or f"{server.host}:{server.port}" in text, text
    assert "did not answer within" in text, text
    assert SECRET not in text
    assert "pw-secret" not in text


# ------------------------------------------------------------------------- the option itself


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, DEFAULT_TIMEOUTS),
        (5, Timeouts(read=5.0)),
        (2.5, Timeouts(read=2.5)),
        ({"connect": 1}, Timeouts(connect=1.0)),
        ({"deadline": 90, "read": 4}, Timeouts(read=4.0, deadline=90.0)),
        ({"connect": 2, "read": 3, "deadline": 4}, Timeouts(2.0, 3.0, 4.0)),
    ],
)
def test_timeouts_spellings(raw: Any, expected: Timeouts) -> None:
    assert parse_timeouts(raw) == expected


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        (True, "must be a number"),
        ("30s", "must be a number"),
        ([1, 2], "must be a number"),
        (0, "above 0"),
        (-1, "above 0"),
        ({"read": "fast"}, "'timeouts.read'"),
        ({"deadline": 10**9}, "'timeouts.deadline'"),
        ({"write": 3}, "unknown key(s) ['write']"),
    ],
)
def test_bad_timeouts_are_refused(raw: Any, said: str) -> None:
    with pytest.raises(ValueError, match=re.escape(said)):
        parse_timeouts(raw)


@pytest.mark.parametrize("kind", ["s3", "gcs", "postgres"])
def test_bad_timeouts_in_a_catalog_are_a_config_error(kind: str, catalog_from: CatalogFrom) -> None:
    if kind == "postgres":
        section = {"postgres": {"db_host": "127.0.0.1", "db_name": "x"}}
        options: dict[str, Any] = {"timeouts": {"read": -3}}
    else:
        section = {kind: {"bucket": "b", "file_path": "k.csv", "file_type": "csv"}}
        options = {"storage_options": {"timeouts": {"read": -3}}}
    with pytest.raises(ConfigError) as err:  # when the catalog loads, or at the latest on use
        catalog_from(one(kind, section, options), env="env").read("r")
    assert "timeouts.read" in str(err.value)


def test_within_hands_back_results_and_errors() -> None:
    assert within(lambda: 42, 5, server="s", what="w") == 42

    def boom() -> None:
        raise KeyError("inner")

    with pytest.raises(KeyError, match="inner"):
        within(boom, 5, server="s", what="w")


def test_within_stops_waiting_at_the_deadline() -> None:
    release = threading.Event()
    try:
        with pytest.raises(DeadlineExceeded) as err:
            within(release.wait, 0.2, server="http://10.0.0.1:9", what="read s3://b/k")
    finally:
        release.set()
    assert err.value.server == "http://10.0.0.1:9"
    assert err.value.seconds == 0.2
    assert "http://10.0.0.1:9 did not answer within 0.2s (read s3://b/k)" in str(err.value)


def test_deadline_counts_down() -> None:
    gone = Deadline(0.0)
    assert gone.expired()
    assert gone.remaining() == 0.0
    with pytest.raises(DeadlineExceeded):
        gone.check("db:5432", "query")
    assert not Deadline(60).expired()


def test_libpq_limits_join_the_uri() -> None:
    limits = Timeouts(connect=0.5, read=1, deadline=2.5)
    plain = with_libpq_limits("postgresql://u:p@h:5/db", limits)
    assert plain == "postgresql://u:p@h:5/db?connect_timeout=2&options=--statement_timeout%3D2500"
    socketed = with_libpq_limits("postgresql:///db?host=%2Ftmp&port=5", Timeouts(connect=7))
    assert socketed.startswith("postgresql:///db?host=%2Ftmp&port=5&connect_timeout=7&")
    mine = "postgresql://h/db?connect_timeout=30&options=-c%20search_path%3Dx"
    assert with_libpq_limits(mine, limits) == mine


# -------------------------------------------------------------------- object stores and HTTP


def s3_resource(server: SilentServer, kind: str, where: dict[str, Any], fmt: str) -> str:
    opts = {**S3_KEYS, "endpoint_url": server.url, "timeouts": LIMITS}
    section = {"s3": {"bucket": "lake", **where, "file_type": fmt}}
    return one(kind, section, {"storage_options": opts})


@pytest.mark.parametrize(
    ("kind", "where", "fmt", "action"),
    [
        ("s3", {"file_path": "t.parquet"}, "parquet", "read"),  # metadata, then Polars
        ("s3", {"file_path": "t.csv"}, "csv", "read"),
        ("s3", {"file_path": "t.json"}, "json", "read"),  # downloaded through s3fs
        ("s3_path_prefix", {"path_prefix": "p/"}, "parquet", "list"),
        ("s3_path_prefix", {"dynamic_file_path": "p/*/x.csv"}, "csv", "list"),
    ],
)
def test_s3_reads_give_up(
    silent_server: SilentServer,
    catalog_from: CatalogFrom,
    kind: str,
    where: dict[str, Any],
    fmt: str,
    action: str,
) -> None:
    cat = catalog_from(s3_resource(silent_server, kind, where, fmt), env="env")
    with pytest.raises(ReadError) as err:
        cat.read("r")
    said_silence(err.value, silent_server)
    assert f"to {action} s3://lake/" in str(err.value)


@pytest.mark.parametrize(
    ("kind", "where", "fmt", "options"),
    [
        ("s3", {"file_path": "t.parquet"}, "parquet", {}),
        ("s3", {"file_path": "t.csv"}, "csv", {}),
        ("s3", {"file_path": "big.parquet"}, "parquet", {"block_size": 5 * 2**20}),
        ("s3_path_prefix", {"path_prefix": "p/"}, "parquet", {}),
    ],
)
def test_s3_writes_give_up(
    silent_server: SilentServer,
    catalog_from: CatalogFrom,
    kind: str,
    where: dict[str, Any],
    fmt: str,
    options: dict[str, Any],
) -> None:
    """s3fs's uploads wait on a silent server whatever botocore's timeouts say: the deadline
    ends them."""
    text = s3_resource(silent_server, kind, where, fmt)
    if options:
        body = yaml.safe_load(text)
        body["r"]["env"]["options"]["storage_options"].update(options)
        text = yaml.safe_dump(body)
    cat = catalog_from(text, env="env")
    rows = 300_000 if options else 3
    with pytest.raises(WriteError) as err:
        cat.write("r", pd.DataFrame({"id": range(rows)}))
    said_silence(err.value, silent_server)
    assert "2s deadline" in str(err.value) or "0.5s read timeout" in str(err.value)


def test_s3_upload_alone_gives_up(silent_server: SilentServer, catalog_from: CatalogFrom) -> None:
    """The upload itself (not the listing before it): a single-object write does no listing."""
    cat = catalog_from(s3_resource(silent_server, "s3", {"file_path": "u.ndjson"}, "json"), "env")
    with pytest.raises(WriteError) as err:
        cat.write("r", pd.DataFrame({"id": [1, 2]}))
    said_silence(err.value, silent_server)
    assert "to write s3://lake/u.ndjson" in str(err.value)


@pytest.mark.parametrize("op", ["read", "write", "list"])
def test_gcs_gives_up(silent_server: SilentServer, catalog_from: CatalogFrom, op: str) -> None:
    kind = "gcs_path_prefix" if op == "list" else "gcs"
    where = {"path_prefix": "p/"} if op == "list" else {"file_path": "t.csv"}
    section = {"gcs": {"bucket": "geo", **where, "file_type": "csv"}}
    opts = {"endpoint_url": silent_server.url, "timeouts": LIMITS}
    cat = catalog_from(one(kind, section, {"storage_options": opts}), env="env")

    def act() -> None:
        if op == "write":
            cat.write("r", pd.DataFrame({"id": [1]}))
        else:
            cat.read("r")

    with pytest.raises(ReadError if op != "write" else WriteError) as err:
        act()
    said_silence(err.value, silent_server)


@pytest.mark.parametrize("path", ["t.csv", "t.parquet", "t.json"])
def test_http_gives_up(silent_server: SilentServer, catalog_from: CatalogFrom, path: str) -> None:
    section = {"file": {"uri": f"{silent_server.url}/{path}"}}
    cat = catalog_from(one("file", section, {"storage_options": {"timeouts": LIMITS}}), "env")
    with pytest.raises(ReadError) as err:
        cat.read("r")
    said_silence(err.value, silent_server)


@pytest.mark.parametrize("scan", [pl.scan_parquet, pl.scan_csv, pl.scan_ndjson])
def test_polars_object_store_takes_the_timeouts(
    silent_server: SilentServer, scan: Callable[..., pl.LazyFrame]
) -> None:
    """Polars' own client, with the options dynio gives it, gives up at the read timeout."""
    opts = {**S3_KEYS, "endpoint_url": silent_server.url}
    storage = {
        **polars_options(BACKENDS["s3"], opts),
        **polars_timeouts(Timeouts(connect=1, read=0.5, deadline=2)),
        "max_retries": 0,
    }
    with pytest.raises(Exception, match=r"(?i)timed out|timeout"):
        scan("s3://lake/t.x", storage_options=storage).collect()


# ------------------------------------------------------------------------------- PostgreSQL


def pg_resource(host: str, port: int, **options: Any) -> str:
    section = {
        "postgres": {
            "db_host": host,
            "db_port": port,
            "db_name": "x",
            "db_user": "u",
            "db_password": "pw-secret",
        }
    }
    return one("postgres", section, {"timeouts": LIMITS, **options})


@pytest.mark.parametrize(
    "options",
    [{}, {"partition_on": "id", "partition_num": 2}, {"sql_query": "SELECT 1 AS id"}],
)
def test_postgres_read_gives_up(
    silent_server: SilentServer, catalog_from: CatalogFrom, options: dict[str, Any]
) -> None:
    cat = catalog_from(pg_resource(silent_server.host, silent_server.port, **options), "env")
    with pytest.raises(ReadError) as err:
        cat.read("r")
    said_silence(err.value, silent_server)
    assert "2s connect timeout" not in str(err.value)  # connect: 1 is libpq's 2 s at least
    assert "1s connect timeout" in str(err.value)


@pytest.mark.parametrize("mode", ["replace", "append", "upsert"])
def test_postgres_write_gives_up(
    silent_server: SilentServer, catalog_from: CatalogFrom, mode: str
) -> None:
    extra: dict[str, Any] = {"write_mode": mode}
    if mode == "upsert":
        extra["key"] = ["id"]
    cat = catalog_from(pg_resource(silent_server.host, silent_server.port, **extra), "env")
    with pytest.raises(WriteError) as err:
        cat.write("r", pd.DataFrame({"id": [1]}))
    said_silence(err.value, silent_server)


@pytest.mark.parametrize(
    ("options", "driver"),
    [({}, "PostgreSQL:"), ({"partition_on": "id", "partition_num": 2}, "PostgreSQL (connectorx):")],
)
def test_postgres_statement_deadline(
    postgres: PostgresServer, catalog_from: CatalogFrom, options: dict[str, Any], driver: str
) -> None:
    """A statement that runs past the deadline is stopped by the server and said so, through
    ADBC and through connectorx (whose versions before 0.4.6 mangled a space in the URI)."""
    body = {
        "r": {
            "env": {
                "type": "postgres",
                "postgres": dict(postgres.settings),
                "options": {
                    "sql_query": "SELECT 1 AS id FROM pg_sleep(5)",
                    "timeouts": {"deadline": 1},
                    **options,
                },
            },
        }
    }
    cat = catalog_from(yaml.safe_dump(body), env="env")
    with pytest.raises(ReadError) as err:
        cat.read("r")
    said = "the statement ran past the 1s deadline (canceling statement due to statement timeout)"
    assert f"cannot read from {driver} {said}" in str(err.value)


def test_a_server_error_naming_a_timeout_is_not_a_timeout(
    postgres: PostgresServer, catalog_from: CatalogFrom
) -> None:
    """Only the server's own cancellation (or no answer at all) is reported as a limit that ran
    out; a refusal that merely names a timeout setting is passed on as the server said it."""
    uri = f"{postgres.uri}?options=-c%20no_such_timeout%3D5"
    body = {"r": {"env": {"type": "postgres", "postgres": {"uri": uri}}}}
    cat = catalog_from(yaml.safe_dump(body), env="env")
    with pytest.raises(ReadError) as err:
        cat.read("r")
    text = str(err.value)
    assert 'unrecognized configuration parameter "no_such_timeout"' in text, text
    assert "deadline" not in text, text
    assert "did not answer" not in text, text
