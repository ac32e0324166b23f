"""Security: YAML loaded safely, SQL identifiers quoted and values bound, secrets kept out of
everything dynio emits, and ``{template}`` values kept inside the configured location.

Secret redaction is checked by capturing *everything* emitted while failures are provoked on
every path — exception ``str``/``repr`` and their whole ``__cause__``/``__context__`` chain
(``OSError.filename``/``filename2`` and notes included) and formatted tracebacks, every log
record (root and ``dynio`` loggers at DEBUG), every span (name, attributes, events, status),
every metric data point, every OTel log record, and the CLI's stdout/stderr — and grepping it
for each secret.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import polars as pl
import pytest
import yaml
from conftest import write_text
from fixtures.otel import ForbiddingS3, OtelCapture, free_port

import dynio
from dynio.engine.errors import ConfigError, DynioError, ReadError, TemplateError

ROOT = Path(__file__).resolve().parent.parent
CatalogFrom = Callable[..., dynio.Catalog]


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False)


# ----------------------------------------------------------------------------------- (a) YAML

PYTHON_TAGS = [
    "!!python/object/apply:os.system ['touch {marker}']",
    "!!python/object/new:os.system ['touch {marker}']",
    "!!python/name:os.system",
    "!!python/module:os",
    "!!python/object:__main__.Evil {{x: 1}}",
    "!!python/tuple [1, 2]",
]


@pytest.mark.parametrize("tag", PYTHON_TAGS)
@pytest.mark.parametrize("where", ["resource", "schema"])
def test_python_yaml_tags_are_refused_and_nothing_runs(
    tmp_path: Path, tag: str, where: str
) -> None:
    marker = tmp_path / "pwned"
    value = tag.format(marker=marker)
    (tmp_path / "data").mkdir()
    if where == "resource":
        path = write_text(
            tmp_path / "res.yaml",
            f"""
            r:
              local:
                type: local
                local: {{file_path: {value}}}
            """,
        )
        bad = path
    else:
        bad = write_text(
            tmp_path / "schemas" / "r.yaml", f"name: r\ncolumns:\n  a: {{type: {value}}}\n"
        )
        path = write_text(
            tmp_path / "res.yaml",
            """
            r:
              local:
                type: local
                local: {file_path: data/r.parquet}
              schema: {file_path: schemas/r.yaml}
            """,
        )
    with pytest.raises(ConfigError) as info:
        dynio.Catalog.from_yaml(path, env="local", strict=True)
    assert str(bad) in str(info.value)
    assert info.value.file == str(bad)
    assert not marker.exists()


def test_python_tags_through_the_cli_are_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = write_text(
        tmp_path / "res.yaml",
        f"""
        r:
          local:
            type: local
            local: {{file_path: !!python/object/apply:os.system ['touch {marker}']}}
        """,
    )
    out = _cli("catalog", "check", "-c", str(path), "-e", "local")
    assert out.returncode == 3  # a configuration error
    assert "res.yaml" in out.stderr
    assert not marker.exists()


def test_placeholder_values_are_not_parsed_as_yaml(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    """A ``[[ VAR ]]`` value that looks like a YAML tag stays text: variables are substituted
    after parsing, never parsed themselves."""
    marker = tmp_path / "pwned"
    cat = catalog_from(
        """
        r:
          local:
            type: local
            local: {file_path: "[[ EVIL ]]", file_type: parquet}
        """,
        vars={"EVIL": f"!!python/object/apply:os.system ['touch {marker}']"},
    )
    assert cat.resource("r").spec.source.settings["file_path"].startswith("!!python")
    assert not marker.exists()


def test_unknown_custom_tags_are_refused(catalog_from: CatalogFrom) -> None:
    with pytest.raises(ConfigError, match=r"resources\.yaml"):
        catalog_from(
            """
            r:
              local:
                type: local
                local: {file_path: !include /etc/passwd}
            """
        )


def test_yaml_alias_bombs_are_refused(catalog_from: CatalogFrom) -> None:
    levels = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    levels += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 4)]
    body = "\n".join(f"        {line}" for line in levels)
    with pytest.raises(ConfigError) as info:
        catalog_from(
            "r:\n  local:\n    type: local\n    local: {file_path: x.parquet}\n"
            f"    options:\n      bomb:\n{body}\n"
        )
    assert "alias" in info.value.message  # refused for its aliases, before any walk


# ------------------------------------------------------------------------------------ (b) SQL

HOSTILE_TABLE = 'x"; DROP TABLE victim; --'
HOSTILE_COLUMNS = ["select", "a b", "c;d", 'q"uote', "from", "e'--"]
HOSTILE_VALUES = ["' OR 1=1 --", "'; DROP TABLE victim; --", "\\' OR ''='", '" OR ""="']


def _hostile_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "select": [1, 2, 3],
            "a b": ["ok", "fine", "good"],
            "c;d": [1.5, 2.5, 3.5],
            'q"uote': ["x", "y", "z"],
            "from": [True, False, True],
            "e'--": ["m", "n", "o"],
        }
    )


def _hostile_schema() -> dict[str, Any]:
    types = {"select": "int64", "a b": "str", "c;d": "float64", 'q"uote': "str", "from": "bool"}
    return {"columns": {c: {"type": types.get(c, "str")} for c in HOSTILE_COLUMNS}}


def _check_hostile_reads(cat: dynio.Catalog, name: str) -> None:
    frame = _hostile_frame()
    assert cat.read_polars(name).equals(frame)
    # every hostile value binds as a value: it matches no row instead of all of them
    for value in HOSTILE_VALUES:
        for column in ("a b", 'q"uote', "e'--"):
            assert cat.read_polars(name, filters=[(column, "==", value)]).height == 0, value
            assert cat.read_polars(name, filters=[(column, "in", [value])]).height == 0, value
            assert cat.read_polars(name, filters=[(column, "!=", value)]).height == 3, value
    got = cat.read_polars(name, columns=["select", "c;d"], filters=[("select", ">=", 2)])
    assert got.equals(frame.filter(pl.col("select") >= 2).select("select", "c;d"))


@pytest.fixture
def pg_conn(request: pytest.FixtureRequest) -> Iterator[Any]:
    server = request.getfixturevalue("postgres")
    import psycopg

    with psycopg.connect(
        host=server.host,
        port=server.port,
        user=server.user,
        password=server.password,
        dbname=server.dbname,
        autocommit=True,
    ) as conn:
        conn.execute("DROP TABLE IF EXISTS victim; CREATE TABLE victim AS SELECT 1 AS a")
        yield conn


@pytest.mark.parametrize("db_schema", [None, 'we"ird; schema'])
def test_postgres_identifiers_are_quoted_and_values_bound(
    catalog_from: CatalogFrom, request: pytest.FixtureRequest, pg_conn: Any, db_schema: str | None
) -> None:
    server = request.getfixturevalue("postgres")
    settings = dict(server.settings)
    if db_schema is not None:
        pg_conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{db_schema.replace(chr(34), chr(34) * 2)}"')
        settings["db_schema"] = db_schema
    env = {"type": "postgres", "postgres": settings, "options": {"table": HOSTILE_TABLE}}
    text = _dump({"hostile": {"pg": env, "schema": _hostile_schema()}})
    cat = catalog_from(text, env="pg")
    cat.write("hostile", _hostile_frame())
    _check_hostile_reads(cat, "hostile")
    for mode in ("append", "truncate_and_append"):
        write = {**env, "options": {"table": HOSTILE_TABLE, "write_mode": mode}}
        again = catalog_from(
            _dump({"hostile": {"pg": write, "schema": _hostile_schema()}}),
            env="pg",
            name=f"{mode}.yaml",
        )
        again.write("hostile", _hostile_frame())
        assert cat.read_polars("hostile").height == (6 if mode == "append" else 3)
    # the table exists under its literal name, and the victim survived
    found = pg_conn.execute(
        "SELECT table_schema FROM information_schema.tables WHERE table_name = %s",
        [HOSTILE_TABLE],
    ).fetchall()
    assert (db_schema or "public") in {r[0] for r in found}
    assert pg_conn.execute("SELECT a FROM victim").fetchall() == [(1,)]


def test_postgres_hostile_sql_query_values_are_bound(
    catalog_from: CatalogFrom, request: pytest.FixtureRequest, pg_conn: Any
) -> None:
    """Filters on a ``sql_query`` resource go into a WHERE around it, values bound."""
    server = request.getfixturevalue("postgres")
    pg_conn.execute("DROP TABLE IF EXISTS people; CREATE TABLE people (name text, age int)")
    pg_conn.execute("INSERT INTO people VALUES ('ann', 30), ('bob', 40)")
    env = {
        "type": "postgres",
        "postgres": dict(server.settings),
        "options": {"sql_query": "SELECT name, age FROM people"},
    }
    cat = catalog_from(_dump({"people": {"pg": env}}), env="pg")
    for value in HOSTILE_VALUES:
        assert cat.read_polars("people", filters=[("name", "==", value)]).height == 0
    assert cat.read_polars("people", filters=[("name", "==", "ann")])["age"].to_list() == [30]
    assert pg_conn.execute("SELECT a FROM victim").fetchall() == [(1,)]


def test_duckdb_identifiers_are_quoted_and_values_bound(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    import duckdb

    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE victim AS SELECT 1 AS a")
    env = {"type": "duckdb", "duckdb": {"database": str(db), "table": HOSTILE_TABLE}}
    text = _dump({"hostile": {"duck": env, "schema": _hostile_schema()}})
    cat = catalog_from(text, env="duck")
    cat.write("hostile", _hostile_frame())
    _check_hostile_reads(cat, "hostile")
    for mode in ("append", "truncate_and_append"):
        write = {**env, "options": {"write_mode": mode}}
        again = catalog_from(
            _dump({"hostile": {"duck": write, "schema": _hostile_schema()}}),
            env="duck",
            name=f"{mode}.yaml",
        )
        again.write("hostile", _hostile_frame())
        assert cat.read_polars("hostile").height == (6 if mode == "append" else 3)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT a FROM victim").fetchall() == [(1,)]
        tables = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
    assert HOSTILE_TABLE in tables


def test_duckdb_table_names_with_a_nul_are_refused(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    import duckdb

    db = tmp_path / "w.duckdb"
    duckdb.connect(str(db)).close()
    env = {"type": "duckdb", "duckdb": {"database": str(db), "table": "a\x00b"}}
    cat = catalog_from(_dump({"t": {"duck": env}}), env="duck")
    with pytest.raises(DynioError, match="invalid SQL identifier"):
        cat.read("t")


# --------------------------------------------------------------------------- (c) secret capture


@dataclass
class Emitted:
    """Everything dynio emitted during a test, as text to grep."""

    texts: list[str] = field(default_factory=list)

    def exception(self, exc: BaseException) -> None:
        """An exception, its chain, attributes and formatted traceback."""
        self.texts.append("".join(traceback.format_exception(exc)))
        seen: set[int] = set()
        current: BaseException | None = exc
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            self.texts += [str(current), repr(current), repr(current.args)]
            self.texts += [str(n) for n in getattr(current, "__notes__", [])]
            if isinstance(current, OSError):
                self.texts += [str(current.filename), str(current.filename2)]
                self.texts += [str(current.strerror)]
            if isinstance(current, DynioError):
                self.texts += [repr(vars(current))]
            current = current.__cause__ or current.__context__

    def run(self, fn: Callable[[], Any]) -> BaseException | None:
        """Call ``fn``; keep what it raised (any exception)."""
        try:
            fn()
        except BaseException as exc:
            self.exception(exc)
            return exc
        return None

    def telemetry(self, otel: OtelCapture) -> None:
        for s in otel.spans():
            self.texts.append(s.to_json())
            self.texts.append(s.name)
            self.texts.append(repr(dict(s.attributes or {})))
            for e in s.events:
                self.texts.append(repr((e.name, dict(e.attributes or {}))))
            self.texts.append(str(s.status.description))
        for p in otel.points():
            self.texts.append(json.dumps([p.name, p.attributes, str(p.value)]))

    def logs(self, caplog: pytest.LogCaptureFixture) -> None:
        """Log records: every level of dynio's loggers; INFO and up of everyone else.

        Third-party DEBUG output is left out on purpose: botocore logs its signed request
        headers (the session token among them) at DEBUG, which is botocore's documented
        behaviour and the application's choice to turn on; dynio configures no logger.
        """
        handler = logging.Formatter("%(levelname)s %(name)s %(message)s")
        for r in caplog.records:
            if r.name == "dynio" or r.name.startswith("dynio.") or r.levelno >= logging.INFO:
                self.texts += [handler.format(r), repr(r.args), str(r.exc_text or "")]

    def assert_clean(self, secrets: list[str]) -> None:
        for secret in secrets:
            leaks = [t for t in self.texts if secret in t]
            assert not leaks, f"{secret!r} leaked in: {leaks[0][:2000]}"


def _spellings(*secrets: str) -> list[str]:
    out: list[str] = []
    for s in secrets:
        out += [s, quote(s, safe=""), quote_plus(s), json.dumps(s)[1:-1], repr(s)[1:-1]]
    return sorted(set(out))


@pytest.fixture
def otel_logs() -> Iterator[Any]:
    """The OTel log records of the ``dynio`` logger, through dynio's own bridge."""
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

    from dynio.telemetry import _LogBridge

    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    bridge = _LogBridge(provider)
    logger = logging.getLogger("dynio")
    logger.addHandler(bridge)
    try:
        yield exporter
    finally:
        logger.removeHandler(bridge)
        provider.shutdown()


def _otel_log_texts(exporter: Any) -> list[str]:
    out = []
    for item in exporter.get_finished_logs():
        record = getattr(item, "log_record", item)
        out.append(repr((record.body, dict(record.attributes or {}))))
    return out


def _capture(
    emitted: Emitted, otel: OtelCapture, caplog: pytest.LogCaptureFixture, otel_logs: Any
) -> None:
    emitted.telemetry(otel)
    emitted.logs(caplog)
    emitted.texts += _otel_log_texts(otel_logs)


INLINE = "Inline-Secret-3390"
VAR_SECRET = "Var-Secret-8812"
TOKEN = "Tok-Secret-7734"
URI_PW = "Uri:Secret/5521@x"  # needs quoting in a URI
AWS_SECRET = "wJalr-Aws-Secret-4471"


LOCAL_SECRETS = f"""
signed:
  prod:
    type: file
    file: {{uri: "file://[[ DATA ]]/gone.parquet?token=[[ TOKEN ]]", format: parquet}}
signed_inline:
  prod:
    type: file
    file: {{uri: "file://[[ DATA ]]/gone.parquet?sig={INLINE}&x=1", format: parquet}}
rules:
  prod:
    type: local
    local: {{file_path: "[[ DATA ]]/notes.parquet", file_type: parquet}}
    options:
      storage_options: {{password: "[[ VAR_SECRET ]]", token: {INLINE}}}
  schema:
    columns:
      id: {{type: int64}}
      note:
        type: str
        validations:
          is_in: {{apply: true, options: {{categorical_values: [ok]}}, severity: warn}}
        metrics: [CountsPerLabel, UniqueCounts]
strict_rules:
  prod:
    type: local
    local: {{file_path: "[[ DATA ]]/notes.parquet", file_type: parquet}}
    options:
      storage_options: {{password: "[[ VAR_SECRET ]]", token: {INLINE}}}
  schema:
    columns:
      id: {{type: int64}}
      note:
        type: str
        validations: {{is_in: {{apply: true, options: {{categorical_values: [ok]}}}}}}
casts:
  prod:
    type: local
    local: {{file_path: "[[ DATA ]]/casts.csv", file_type: csv}}
    options:
      storage_options: {{password: "[[ VAR_SECRET ]]", token: {INLINE}}}
  schema:
    columns:
      id: {{type: int64}}
      n: {{type: int64}}
missing_local:
  prod:
    type: local
    local: {{file_path: "[[ DATA ]]/nope/[[ VAR_SECRET ]].parquet", file_type: parquet}}
    options:
      storage_options: {{password: "[[ VAR_SECRET ]]"}}
"""


def test_no_secret_leaks_from_local_failures(
    tmp_path: Path,
    otel: OtelCapture,
    otel_logs: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Signed URIs to missing files, failing rules and casts over values equal to a configured
    secret, a missing path holding a secret: no secret in anything emitted."""
    data = tmp_path / "data"
    data.mkdir()
    # data that happens to hold the configured secrets (a failing value, a metric label)
    pl.DataFrame({"id": [1, 2, 3], "note": ["ok", VAR_SECRET, f"x {INLINE} y"]}).write_parquet(
        data / "notes.parquet"
    )
    (data / "casts.csv").write_text(f"id,n\n1,2\n2,{INLINE}\n3,{VAR_SECRET}\n")
    path = write_text(tmp_path / "secret.yaml", LOCAL_SECRETS)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="dynio")
    logging.getLogger("dynio.metrics").setLevel(logging.DEBUG)
    emitted = Emitted()
    try:
        cat = dynio.Catalog.from_yaml(
            path, env="prod", vars={"DATA": str(data), "TOKEN": TOKEN, "VAR_SECRET": VAR_SECRET}
        )
        raised = [
            emitted.run(lambda: cat.read("signed")),
            emitted.run(lambda: cat.read("signed_inline")),
            emitted.run(lambda: cat.read("strict_rules")),
            emitted.run(lambda: cat.read("casts")),
            emitted.run(lambda: cat.read("missing_local")),
            emitted.run(lambda: cat.write("strict_rules", pl.read_parquet(data / "notes.parquet"))),
        ]
        assert [type(e).__name__ for e in raised] == [
            "ReadError",
            "ReadError",
            "ValidationError",
            "CastError",
            "ReadError",
            "ValidationError",
        ]
        frame = cat.read("rules")  # warns, and measures labels equal to the secrets
        assert len(frame) == 3
        assert cat.last_report is not None
        assert len(cat.last_report.failures) == 1
        emitted.texts.append(cat.last_report.summary())
        emitted.texts += [str(m) for m in cat.last_metrics]
        emitted.run(lambda: cat.scan("signed").collect())
    finally:
        logging.getLogger("dynio.metrics").setLevel(logging.NOTSET)
    _capture(emitted, otel, caplog, otel_logs)
    assert any("is_in" in t for t in emitted.texts)  # the warning was logged, redacted
    assert any("dynio.read" in t for t in emitted.texts)
    emitted.assert_clean(_spellings(INLINE, VAR_SECRET, TOKEN))


def test_oserror_filenames_are_scrubbed(otel: OtelCapture) -> None:
    """A backend ``OSError`` naming a file whose path holds a secret: ``filename``/``filename2``
    and the message are scrubbed, not only ``args``."""
    from dynio.engine import telemetry as t

    def fail() -> None:
        with t.operation("dynio.read", resource="r", env="e"), t.span("scan"):
            raise FileNotFoundError(
                2, "No such file", f"/data/x.parquet?token={TOKEN}", f"/b/sig={TOKEN}"
            )

    emitted = Emitted()
    exc = emitted.run(fail)
    assert isinstance(exc, FileNotFoundError)
    assert exc.filename == "/data/x.parquet?token=***"
    emitted.telemetry(otel)
    emitted.assert_clean([TOKEN])


def test_secrets_in_offending_values_are_scrubbed_from_re_rendered_errors(
    otel: OtelCapture,
) -> None:
    """A dynio error whose offending values hold a secret stays clean once scrubbed, and so do
    errors that render their text on demand (``ResourceNotFoundError``)."""
    from dynio.engine import telemetry as t
    from dynio.engine.errors import CastError, ResourceNotFoundError

    for error in (
        CastError(f"cannot cast {INLINE}", column="n", values=[INLINE, 3]),
        ResourceNotFoundError(f"no resource postgresql://u:{INLINE}@h/db", values=[INLINE]),
    ):

        def fail(error: DynioError = error) -> None:
            with t.span("scan"):
                raise error

        emitted = Emitted()
        exc = emitted.run(lambda: _with_secrets([INLINE], fail))
        assert exc is error
        emitted.assert_clean([INLINE])


def _with_secrets(secrets: list[str], fn: Callable[[], None]) -> None:
    """Run ``fn`` inside an operation whose source holds ``secrets``."""
    from dynio.engine import telemetry as t
    from dynio.engine.spec import SourceSpec, freeze

    source = SourceSpec(
        kind="local",
        settings=freeze({"file_path": "x.parquet"}),
        options=freeze({"storage_options": {"password": secrets[0]}}),
        format="parquet",
    )
    with t.operation("dynio.read", resource="r", env="e"):
        t.bind_source(source)
        fn()


@pytest.mark.parametrize("form", ["fields_var", "fields_inline", "uri"])
def test_no_postgres_secret_leaks(
    catalog_from: CatalogFrom,
    request: pytest.FixtureRequest,
    otel: OtelCapture,
    otel_logs: Any,
    caplog: pytest.LogCaptureFixture,
    form: str,
) -> None:
    """Auth failure, refused connection, unknown host, missing table, a validation and a cast
    failure on a real table, and a failed write — with the password in ``[[ VAR ]]``, inline,
    or in a ``postgresql://`` URI."""
    server = request.getfixturevalue("postgres")
    import psycopg

    with psycopg.connect(server.uri, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS sec_t; CREATE TABLE sec_t (id bigint, v text)")
        conn.execute("INSERT INTO sec_t VALUES (1, 'a'), (2, 'not-a-number')")
    wrong = f"Wr0ng/{INLINE}:@"
    caplog.set_level(logging.DEBUG)

    def env_for(
        password: str, host: str, port: int, table: str, schema: str = ""
    ) -> dict[str, Any]:
        if form == "uri":
            pg = {
                "uri": f"postgresql://{server.user}:{quote(password, safe='')}@{host}:{port}/"
                f"{server.dbname}?sslmode=disable"
            }
        else:
            pg = {
                "db_host": host,
                "db_port": port,
                "db_name": server.dbname,
                "db_user": server.user,
                "db_password": "[[ PW ]]" if form == "fields_var" else password,
            }
        body: dict[str, Any] = {"type": "postgres", "postgres": pg, "options": {"table": table}}
        return body

    closed = free_port()
    cases = {
        "auth": env_for(wrong, server.host, server.port, "sec_t"),
        "refused": env_for(wrong, "127.0.0.1", closed, "sec_t"),
        "unknown_host": env_for(wrong, "no-such-host.invalid", server.port, "sec_t"),
        "missing": env_for(server.password, server.host, server.port, "no_such_table"),
        "checked": env_for(server.password, server.host, server.port, "sec_t"),
    }
    text = ""
    schemas = {
        "checked": {
            "columns": {
                "id": {
                    "type": "int64",
                    "validations": {
                        "is_greater_than": {"apply": True, "options": {"threshold": 5}}
                    },
                },
                "v": {"type": "str"},
            }
        },
        "casted": {"columns": {"id": {"type": "int64"}, "v": {"type": "int64"}}},
    }
    for name, env in cases.items():
        text += _dump({name: {"pg": env, **({"schema": schemas[name]} if name in schemas else {})}})
    text += _dump({"casted": {"pg": cases["checked"], "schema": schemas["casted"]}})
    pw_for = {"PW": wrong}
    emitted = Emitted()
    secrets = [wrong, INLINE, server.password]
    cat = catalog_from(text, env="pg", vars=pw_for)
    if form == "fields_var":
        # the right password through a variable too, for the resources that log in
        right = catalog_from(text, env="pg", vars={"PW": server.password}, name="right.yaml")
    else:
        right = cat
    raised = [
        emitted.run(lambda: cat.read("auth")),
        emitted.run(lambda: cat.read("refused")),
        emitted.run(lambda: cat.read("unknown_host")),
        emitted.run(lambda: right.read("missing")),
        emitted.run(lambda: right.read("checked")),
        emitted.run(lambda: right.read("casted")),
        emitted.run(lambda: cat.write("auth", pl.DataFrame({"id": [1], "v": ["x"]}))),
        emitted.run(lambda: right.write("missing", pl.DataFrame({"id": [1], "v": ["\x00"]}))),
        emitted.run(lambda: cat.scan("refused").collect()),
    ]
    assert all(isinstance(e, DynioError) for e in raised), [type(e) for e in raised]
    assert "password authentication failed" in str(raised[0])
    _capture(emitted, otel, caplog, otel_logs)
    emitted.assert_clean(_spellings(*secrets))


def test_no_s3_secret_leaks(
    catalog_from: CatalogFrom,
    request: pytest.FixtureRequest,
    otel: OtelCapture,
    otel_logs: Any,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A missing object on moto, an endpoint refusing every request, a closed endpoint: the
    secret key and session token (inline and through ``[[ VARS ]]``) appear nowhere."""
    bucket = request.getfixturevalue("s3")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    caplog.set_level(logging.DEBUG)

    def env_for(endpoint: str, path: str, secret: str) -> dict[str, Any]:
        return {
            "type": "s3",
            "s3": {"bucket": bucket.name, "file_path": path, "file_type": "parquet"},
            "options": {
                "storage_options": {
                    "aws_access_key_id": "testing",
                    "aws_secret_access_key": secret,
                    "aws_session_token": TOKEN,
                    "aws_endpoint_url": endpoint,
                    "aws_region": "us-east-1",
                }
            },
        }

    emitted = Emitted()
    with ForbiddingS3() as denied:
        text = _dump(
            {
                "missing": {"prod": env_for(bucket.endpoint, "nope.parquet", "[[ AWS ]]")},
                "denied": {"prod": env_for(denied, "x.parquet", AWS_SECRET)},
                "ok": {
                    "prod": env_for(bucket.endpoint, "ok.parquet", "[[ AWS ]]"),
                    "schema": {
                        "columns": {
                            "a": {
                                "type": "int64",
                                "validations": {
                                    "is_greater_than": {"apply": True, "options": {"threshold": 5}}
                                },
                            }
                        }
                    },
                },
            }
        )
        cat = catalog_from(text, env="prod", vars={"AWS": AWS_SECRET})
        raised = [
            emitted.run(lambda: cat.read("missing")),
            emitted.run(lambda: cat.read("denied")),
            emitted.run(lambda: cat.write("ok", pl.DataFrame({"a": [1]}))),
        ]
    # writes refused by a server enforcing authentication (the loopback stand-in above answers
    # reads only)
    locked = request.getfixturevalue("s3_denied_server")
    text = _dump({"locked": {"prod": env_for(locked.endpoint, "x.parquet", AWS_SECRET)}})
    cat = catalog_from(text, env="prod", name="locked.yaml")
    raised.append(emitted.run(lambda: cat.write("locked", pl.DataFrame({"a": [1]}))))
    assert all(isinstance(e, DynioError) for e in raised), [type(e) for e in raised]
    _capture(emitted, otel, caplog, otel_logs)
    emitted.assert_clean(_spellings(AWS_SECRET, TOKEN))


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dynio", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_no_secret_in_cli_output(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """``dynio read``/``validate``/``catalog check`` failing (with ``--trace`` and with the
    console exporters): the secrets reach neither stdout nor stderr."""
    data = tmp_path / "data"
    data.mkdir()
    pl.DataFrame({"id": [1, 2, 3], "note": ["ok", VAR_SECRET, "x"]}).write_parquet(
        data / "notes.parquet"
    )
    (data / "casts.csv").write_text(f"id,n\n1,2\n2,{INLINE}\n")
    path = write_text(tmp_path / "secret.yaml", LOCAL_SECRETS)
    port = free_port()
    pg = write_text(
        tmp_path / "pg.yaml",
        f"""
        pg:
          prod:
            type: postgres
            postgres: {{uri: "postgresql://app:[[ URI_PW ]]@127.0.0.1:{port}/shop"}}
            options: {{table: t}}
        """,
    )
    env = {
        "DATA": str(data),
        "TOKEN": TOKEN,
        "VAR_SECRET": VAR_SECRET,
        "URI_PW": quote(URI_PW, safe=""),
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "console",
        "OTEL_LOGS_EXPORTER": "console",
    }
    outputs = []
    for args in (
        ("read", "signed", "-c", str(path), "-e", "prod"),
        ("read", "signed_inline", "-c", str(path), "-e", "prod", "--trace"),
        ("validate", "strict_rules", "-c", str(path), "-e", "prod", "--trace"),
        ("validate", "strict_rules", "-c", str(path), "-e", "prod", "--json"),
        ("read", "casts", "-c", str(path), "-e", "prod", "--trace"),
        ("read", "missing_local", "-c", str(path), "-e", "prod"),
        ("read", "pg", "-c", str(pg), "-e", "prod", "--trace"),
        ("catalog", "check", "-c", str(pg)),
    ):
        for extra in ({}, {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}"}):
            if extra and "--trace" not in args:
                continue
            out = _cli(*args, env={**env, **extra})
            outputs.append((args, out.returncode, out.stdout, out.stderr))
    # every failing command failed (and so printed its error)
    assert all(o[1] != 0 for o in outputs if o[0][0] in ("read", "validate"))
    emitted = Emitted(texts=[o[2] + o[3] for o in outputs])
    emitted.assert_clean(_spellings(INLINE, VAR_SECRET, TOKEN, URI_PW))


# ------------------------------------------------------------------------- (d) template escape

ESCAPES = [
    "../outside",
    "a/../../outside",
    "..",
    "/etc/passwd",
    "//server/share",
    "\\\\server\\share",
    "..\\outside",
    "C:\\Windows",
    "c:/windows",
    "ok\x00.parquet",
]


@pytest.fixture
def rooted(catalog_from: CatalogFrom, tmp_path: Path) -> dynio.Catalog:
    root = tmp_path / "root"
    (root / "in").mkdir(parents=True)
    pl.DataFrame({"a": [1]}).write_parquet(root / "in" / "ok.parquet")
    (tmp_path / "outside").mkdir()
    pl.DataFrame({"a": [666]}).write_parquet(tmp_path / "outside" / "x.parquet")
    pl.DataFrame({"a": [666]}).write_parquet(tmp_path / "outside.parquet")
    return catalog_from(
        """
        t:
          local:
            type: local
            local: {file_path: "root/in/{x}.parquet"}
        d:
          local:
            type: local
            local: {file_path: "root/in/{x}/x.parquet"}
        """
    )


@pytest.mark.parametrize("value", ESCAPES)
def test_template_values_cannot_escape_the_location(rooted: dynio.Catalog, value: str) -> None:
    for name in ("t", "d"):
        with pytest.raises(TemplateError, match="would leave the configured location"):
            rooted.read(name, x=value)
        with pytest.raises(TemplateError):
            rooted.write(name, pl.DataFrame({"a": [1]}), x=value)
        with pytest.raises(TemplateError):
            rooted.scan(name, x=value)


@pytest.mark.parametrize("value", ["%2e%2e/outside", "%2e%2e%2foutside", "..%2foutside", "%2E%2E"])
def test_url_encoded_traversal_stays_a_literal_name(rooted: dynio.Catalog, value: str) -> None:
    """Local paths are not URL-decoded: ``%2e%2e`` names a folder called that, inside the root."""
    with pytest.raises((ReadError, TemplateError)) as info:
        rooted.read("d", x=value)
    assert "666" not in str(info.value)


def test_a_template_value_is_never_parsed_as_a_template(rooted: dynio.Catalog) -> None:
    with pytest.raises(DynioError):
        rooted.read("t", x="{x}")
    assert rooted.read("t", x="ok")["a"].tolist() == [1]


# A value may not point through a symlink inside the root to a place outside it, nor widen a
# read with glob characters to files the template did not name (a resource may allow both with
# ``options: {allow_template_escape: true}``; see tests/test_placeholders.py).


def test_a_symlink_inside_the_root_cannot_lead_outside(
    rooted: dynio.Catalog, tmp_path: Path
) -> None:
    (tmp_path / "root" / "in" / "link").symlink_to(tmp_path / "outside", target_is_directory=True)
    with pytest.raises((TemplateError, ReadError)):
        rooted.read("d", x="link")


@pytest.mark.parametrize("value", ["*", "[o]k", "o?"])
def test_glob_characters_in_a_value_do_not_widen_the_read(
    rooted: dynio.Catalog, tmp_path: Path, value: str
) -> None:
    pl.DataFrame({"a": [2]}).write_parquet(tmp_path / "root" / "in" / "other.parquet")
    with pytest.raises((TemplateError, ReadError)):
        rooted.read("t", x=value)
