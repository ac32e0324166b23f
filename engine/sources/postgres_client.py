"""Reaching a PostgreSQL server: connection settings, redaction, errors, the ADBC session.

:func:`connection` turns a ``postgres`` section (``uri`` or the ``db_*`` fields) into a
:class:`Connection`: the URI with libpq's time limits, a location without the password, and
every spelling of the secrets to redact. :class:`Session` keeps the connection a scan opened
to learn its schema for the read that follows. Driver errors become dynio errors naming the
server and the statement's deadline, never the password (:func:`fail`).
"""

from __future__ import annotations

import contextlib
import importlib
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn
from urllib.parse import parse_qs, parse_qsl, quote, unquote, urlsplit

import pyarrow as pa

from dynio.engine.deadlines import (
    DEFAULT_TIMEOUTS,
    Timeouts,
    parse_timeouts,
    with_libpq_limits,
)
from dynio.engine.errors import ConfigError, MissingDependencyError, ReadError, WriteError
from dynio.engine.spec import SourceSpec
from dynio.engine.telemetry import client_span, redact, secret_spellings, secrets_in

__all__ = [
    "Connection",
    "Session",
    "adbc",
    "connection",
    "fail",
    "fetch_adbc",
    "message",
    "psycopg_module",
    "redacted_uri",
    "uri_secrets",
]

_SCHEMES = ("postgresql", "postgres")
_FIELDS = ("db_host", "db_port", "db_name", "db_user", "db_password")

# how the server's own messages start inside a driver's text
_SERVER_MSG = re.compile(r"(ERROR|FATAL):\s+(.*)$", re.DOTALL)
# the server's words when statement_timeout stops a statement (SQLSTATE 57014)
_STATEMENT_CANCELLED = "canceling statement due to statement timeout"
# no server answered: libpq at connect_timeout ("timeout expired", psycopg's "connection
# timeout expired"), connectorx's pool waiting for a connection
_NO_ANSWER = ("timeout expired", "timed out waiting for connection")


@dataclass(frozen=True)
class Connection:
    """How to reach a server: the URI (secret), a redacted location and what to redact."""

    uri: str = field(repr=False)
    location: str
    secrets: tuple[str, ...] = field(repr=False)
    db_schema: str | None = None
    timeouts: Timeouts = DEFAULT_TIMEOUTS

    def call(self, operation: str, target: str | None, sql: str | None = None) -> Any:
        """The CLIENT span of one call to this server (``SELECT public.trips``)."""
        server, port, namespace = None, None, None
        with contextlib.suppress(ValueError):
            parts = urlsplit(self.uri)
            query = parse_qs(parts.query)
            server = parts.hostname or next(iter(query.get("host") or []), None)
            port = parts.port or int((query.get("port") or ["5432"])[0])
            namespace = unquote(parts.path.lstrip("/")) or None
        if target is not None and self.db_schema and "." not in target:
            target = f"{self.db_schema}.{target}"
        return client_span(
            "db",
            system="postgresql",
            operation=operation,
            target=target,
            namespace=namespace,
            server=server or "localhost",
            port=port,
            query=sql,
        )


def uri_secrets(uri: str) -> tuple[str, ...]:
    """Every spelling of the secrets a ``postgresql://`` URI holds, longest first (for
    :func:`dynio.engine.telemetry.redact`): the URI itself, its password as libpq reads it (a
    raw ``@`` or space included, where the URI pattern of :func:`~dynio.engine.telemetry.secrets_in`
    stops) and ``password`` query parameters, all spelled by
    :func:`dynio.engine.telemetry.secret_spellings`."""
    found = secret_spellings(uri)
    found.update(secrets_in(uri))
    try:
        parts = urlsplit(uri)
        raw = parts.password
    except ValueError:
        return _longest_first(found)
    if raw:
        found.update(secret_spellings(raw, encoded=True))
    for key, value in parse_qsl(parts.query):
        if "password" in key.lower() and value:
            found.update(secret_spellings(value))
    return _longest_first(found)


def _longest_first(secrets: set[str]) -> tuple[str, ...]:
    # short passwords too (the server took them): only the empty text is no secret
    return tuple(sorted((s for s in secrets if s), key=len, reverse=True))


def redacted_uri(uri: str) -> str:
    parts = urlsplit(uri)
    user = f"{parts.username}@" if parts.username else ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


def connection(spec: SourceSpec, context: Mapping[str, Any]) -> Connection:
    """The connection a ``postgres`` source describes, from ``uri`` or the ``db_*`` fields.

    Raises:
        ConfigError: Both forms given, or required fields missing (the message shows no secret).
    """
    settings = spec.settings
    section = "postgres"
    db_schema = settings.get("db_schema")
    try:
        limits = parse_timeouts(spec.options.get("timeouts"), option="options.timeouts")
    except ValueError as exc:
        raise ConfigError(str(exc), key_path="options.timeouts", **context) from exc
    if "uri" in settings:
        given = [k for k in _FIELDS if k in settings]
        if given:
            raise ConfigError(
                f"give either uri or the db_* fields, not both (also given: {given})",
                key_path=f"{section}.uri",
                **context,
            )
        uri = str(settings["uri"])
        try:
            parts = urlsplit(uri)
            parts.port  # noqa: B018  (parsing the port validates it)
        except ValueError:
            # the parser's message may quote the URI, which holds the password
            raise ConfigError(
                "uri is not a valid URI", key_path=f"{section}.uri", **context
            ) from None
        if parts.scheme not in _SCHEMES:
            raise ConfigError(
                f"uri must start with postgresql://, got {parts.scheme or 'no'} scheme",
                key_path=f"{section}.uri",
                **context,
            )
        bounded = with_libpq_limits(uri, limits)
        return Connection(bounded, redacted_uri(uri), uri_secrets(uri), db_schema, limits)
    missing = [k for k in ("db_host", "db_name") if not settings.get(k)]
    if missing:
        raise ConfigError(
            f"missing {missing[0]} (or give a uri)",
            key_path=f"{section}.{missing[0]}",
            **context,
        )
    host = str(settings["db_host"])
    port = int(settings.get("db_port") or 5432)
    user = settings.get("db_user")
    password = settings.get("db_password")
    auth = ""
    if user:
        auth = quote(str(user), safe="")
        if password:
            auth += ":" + quote(str(password), safe="")
        auth += "@"
    name = quote(str(settings["db_name"]), safe="")
    if host.startswith("/"):  # a Unix socket folder goes in the query string
        uri = f"postgresql://{auth}/{name}?host={quote(host, safe='')}&port={port}"
        location = f"postgresql://{user + '@' if user else ''}{host}:{port}/{name}"
    else:
        netloc = f"[{host}]" if ":" in host else host
        uri = f"postgresql://{auth}{netloc}:{port}/{name}"
        location = f"postgresql://{user + '@' if user else ''}{netloc}:{port}/{name}"
    secrets = uri_secrets(uri)
    if password:
        secrets = _longest_first({*secrets, *secret_spellings(str(password))})
    return Connection(with_libpq_limits(uri, limits), location, secrets, db_schema, limits)


def adbc(context: Mapping[str, Any]) -> Any:
    try:
        # through importlib: the driver ships no type information
        dbapi = importlib.import_module("adbc_driver_postgresql.dbapi")
    except ImportError as exc:
        raise MissingDependencyError(
            "PostgreSQL reads need 'adbc-driver-postgresql'", extra="postgres", **context
        ) from exc
    return dbapi


def psycopg_module(context: Mapping[str, Any]) -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise MissingDependencyError(
            "PostgreSQL writes need 'psycopg'", extra="postgres", **context
        ) from exc
    return psycopg


def _server(location: str) -> str:
    """``host:port`` of a redacted location."""
    parts = urlsplit(location)
    return parts.netloc.rpartition("@")[2] or location


def message(exc: BaseException, secrets: tuple[str, ...]) -> str:
    """The server's message from a driver exception, one line, secrets redacted."""
    text = str(exc).strip()
    m = _SERVER_MSG.search(text)
    if m:
        text = m.group(2)
    line = text.splitlines()[0].strip() if text else type(exc).__name__
    return redact(re.sub(r"\s+", " ", line), secrets)


def _ran_out(exc: BaseException) -> str | None:
    """Which limit a driver failure is: ``"deadline"`` when the server cancelled the statement
    at ``statement_timeout``, ``"connect"`` when no server answered in time, else ``None``.

    Only those words count: a server that answered with an error of its own did answer, even
    when its message names a timeout setting (``unrecognized configuration parameter
    "statement_timeout"``).
    """
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    text = " | ".join(str(e) for e in chain)
    if _STATEMENT_CANCELLED in text:
        return "deadline"
    if _SERVER_MSG.search(text):
        return None
    if any(words in text for words in _NO_ANSWER) or any(
        isinstance(e, TimeoutError) for e in chain
    ):
        return "connect"
    return None


def fail(
    cls: type[ReadError] | type[WriteError],
    what: str,
    exc: BaseException,
    conn: Connection,
    location: str,
    context: Mapping[str, Any],
) -> NoReturn:
    said = message(exc, conn.secrets)
    limits = conn.timeouts
    ran_out = _ran_out(exc)
    if ran_out == "deadline":
        said = f"the statement ran past the {limits.deadline:g}s deadline ({said})"
    elif ran_out == "connect":
        said = (
            f"the PostgreSQL server {_server(conn.location)} did not answer within the"
            f" {limits.connect:g}s connect timeout ({said})"
        )
    err = cls(f"{what}: {said}", file=location, **context)
    if redact(str(exc), conn.secrets) != str(exc):
        # a driver that echoed a secret must not pass it on through __cause__
        raise err from None
    raise err from exc


class Session:
    """The ADBC connection a scan opens to learn its schema, kept for the first fetch.

    Opening an ADBC PostgreSQL connection reads the server's type catalogue (tens of
    milliseconds); a read reuses the probe's connection instead of opening a second one. The
    connection is closed after the fetch, or when the lazy frame is dropped uncollected.
    """

    def __init__(
        self,
        conn: Connection,
        location: str,
        context: Mapping[str, Any],
        target: str | None = None,
    ) -> None:
        self.conn = conn
        self.location = location
        self.context = context
        self.target = target
        self._lock = threading.Lock()
        self._kept: Any = None

    def _open(self) -> Any:
        dbapi = adbc(self.context)
        try:
            return dbapi.connect(self.conn.uri)
        except dbapi.Error as exc:
            fail(
                ReadError,
                "cannot read from PostgreSQL",
                exc,
                self.conn,
                self.location,
                self.context,
            )

    def take(self) -> Any:
        """A connection for the caller to close: the kept one, else a new one."""
        with self._lock:
            kept, self._kept = self._kept, None
        return kept if kept is not None else self._open()

    def keep(self, con: Any) -> None:
        with self._lock:
            if self._kept is None:
                self._kept, con = con, None
        if con is not None:
            con.close()

    def close(self) -> None:
        with self._lock:
            kept, self._kept = self._kept, None
        if kept is not None:
            kept.close()

    def probe(self, sql: str) -> pa.Schema:
        """The result schema of a query, without running it; the connection is kept."""
        dbapi = adbc(self.context)
        con = self.take()
        try:
            with self.conn.call("SELECT", self.target, sql), con.cursor() as cur:
                schema: pa.Schema = cur.adbc_execute_schema(sql)
        except dbapi.Error as exc:
            con.close()
            fail(
                ReadError,
                "cannot read from PostgreSQL",
                exc,
                self.conn,
                self.location,
                self.context,
            )
        except BaseException:
            con.close()  # nothing else will: the session keeps only probes that succeeded
            raise
        self.keep(con)
        return schema

    def fetch(self, sql: str, params: Sequence[Any]) -> pa.Table:
        dbapi = adbc(self.context)
        con = self.take()
        try:
            with self.conn.call("SELECT", self.target, sql), con.cursor() as cur:
                cur.execute(sql, parameters=tuple(params) if params else None)
                table: pa.Table = cur.fetch_arrow_table()
                return table
        except dbapi.Error as exc:
            fail(
                ReadError,
                "cannot read from PostgreSQL",
                exc,
                self.conn,
                self.location,
                self.context,
            )
        finally:
            con.close()


def fetch_adbc(
    conn: Connection,
    sql: str,
    params: Sequence[Any],
    location: str,
    context: Mapping[str, Any],
) -> pa.Table:
    return Session(conn, location, context).fetch(sql, params)
