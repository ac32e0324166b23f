"""Remote locations and how to reach them: URLs, storage options, clients, errors.

One storage-options mapping per environment says how to reach a store (YAML
``options.storage_options``, or a catalog-level ``credentials:`` entry the environment names).
Its keys are fsspec's names (``key``, ``secret``, ``token``, ``endpoint_url``, ``region`` …);
the names Polars/object_store and pandas use are accepted too (``aws_access_key_id``,
``aws_endpoint_url``, ``client_kwargs: {endpoint_url: …}`` …). Each backend gets the mapping in
the form it needs: :func:`polars_options` for Polars' native cloud scans, :func:`fsspec_options`
and :func:`filesystem` for listing, writes and formats Polars cannot read remotely,
:func:`duckdb_register` and :func:`duckdb_secret_sql` for DuckDB. With no mapping every client
uses its default credential chain (environment variables, profiles, instance metadata).

Secret values (keys, tokens, SAS tokens, connection strings) never reach an error, a log line or
a span: :func:`secret_values` lists them in every spelling (through
:func:`dynio.engine.telemetry.secrets_in`) and every message goes through
:func:`dynio.engine.telemetry.redact`.

Transient failures (connection refused or reset, timeouts, HTTP 5xx, 429 and S3's ``SlowDown``)
are retried with exponential backoff and jitter by :class:`Retrier`, as the storage option
``retries`` says (:class:`RetryPolicy`; 3 attempts by default). dynio is the only layer that
retries: botocore's and s3fs's own retries and those of Polars' object store are turned off, so
an attempt is counted once and every retry is logged and reported on the span. Access denied,
missing objects, bad credentials and unreadable data are never retried.
"""

from __future__ import annotations

import contextvars
import importlib
import json
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from opentelemetry import trace

from dynio.engine import telemetry
from dynio.engine.deadlines import (
    DEFAULT_TIMEOUTS,
    Deadline,
    DeadlineExceeded,
    Timeouts,
    is_timeout,
    parse_timeouts,
    within,
)
from dynio.engine.errors import DynioError, MissingDependencyError, ReadError, first_line
from dynio.engine.telemetry import add_event, annotate, redact

T = TypeVar("T")
logger = logging.getLogger("dynio")

__all__ = [
    "BACKENDS",
    "DEFAULT_RETRIES",
    "Backend",
    "GaveUp",
    "Location",
    "Retrier",
    "RetryPolicy",
    "backend_for",
    "check_storage_options",
    "duckdb_register",
    "duckdb_secret_sql",
    "endpoint_of",
    "error_for",
    "filesystem",
    "fsspec_options",
    "is_remote",
    "is_transient",
    "normalize_storage_options",
    "parse_location",
    "polars_options",
    "polars_timeouts",
    "retry_policy",
    "secret_values",
]


@dataclass(frozen=True)
class Backend:
    """A kind of remote store.

    Attributes:
        name: ``s3``, ``gcs``, ``azure``, ``http`` or ``memory``.
        label: How messages name it.
        schemes: URL schemes that mean it (the first is the one URLs are rewritten to).
        package: The fsspec implementation it needs (imported on first use).
        extra: The ``dynio[...]`` extra that installs that package (``None``: always there;
            HTTP goes through the standard library, ``memory://`` through fsspec itself).
        polars: Whether Polars scans it natively (ranged reads, pushdown).
        keys: Accepted storage-option names (canonical, fsspec's) and their aliases.
    """

    name: str
    label: str
    schemes: tuple[str, ...]
    package: str
    extra: str | None
    polars: bool
    keys: Mapping[str, str]

    def canonical_scheme(self, scheme: str) -> str:
        """The scheme URLs are handed over with (``gcs`` -> ``gs``, ``s3a`` -> ``s3``)."""
        if self.name in ("s3", "gcs"):
            return self.schemes[0]
        return scheme


_COMMON = {
    "endpoint_url": "endpoint_url",
    "endpoint": "endpoint_url",
    "anon": "anon",
    "skip_signature": "anon",
    "block_size": "block_size",
    "retries": "retries",
    "timeouts": "timeouts",
}
_S3_KEYS = {
    **_COMMON,
    "key": "key",
    "aws_access_key_id": "key",
    "access_key_id": "key",
    "secret": "secret",
    "aws_secret_access_key": "secret",
    "secret_access_key": "secret",
    "token": "token",
    "aws_session_token": "token",
    "session_token": "token",
    "aws_endpoint_url": "endpoint_url",
    "aws_endpoint": "endpoint_url",
    "region": "region",
    "region_name": "region",
    "aws_region": "region",
    "aws_default_region": "region",
    "profile": "profile",
    "aws_profile": "profile",
    "aws_skip_signature": "anon",
    "client_kwargs": "client_kwargs",
    "config_kwargs": "config_kwargs",
}
_GCS_KEYS = {
    **_COMMON,
    "token": "token",
    "google_service_account": "token",
    "google_service_account_path": "token",
    "google_application_credentials": "token",
    "service_account_key": "service_account_key",
    "google_service_account_key": "service_account_key",
    "project": "project",
    "google_skip_signature": "anon",
}
_AZURE_KEYS = {
    **_COMMON,
    "account_name": "account_name",
    "azure_storage_account_name": "account_name",
    "account_key": "account_key",
    "azure_storage_account_key": "account_key",
    "azure_storage_access_key": "account_key",
    "sas_token": "sas_token",
    "azure_storage_sas_token": "sas_token",
    "azure_storage_sas_key": "sas_token",
    "connection_string": "connection_string",
    "azure_storage_connection_string": "connection_string",
    "tenant_id": "tenant_id",
    "azure_storage_tenant_id": "tenant_id",
    "azure_tenant_id": "tenant_id",
    "client_id": "client_id",
    "azure_storage_client_id": "client_id",
    "azure_client_id": "client_id",
    "client_secret": "client_secret",
    "azure_storage_client_secret": "client_secret",
    "azure_client_secret": "client_secret",
    "azure_storage_endpoint": "endpoint_url",
    "azure_skip_signature": "anon",
}
_HTTP_KEYS = {
    "headers": "headers",
    "block_size": "block_size",
    "retries": "retries",
    "timeouts": "timeouts",
}

BACKENDS: dict[str, Backend] = {
    b.name: b
    for b in [
        Backend("s3", "S3", ("s3", "s3a"), "s3fs", "s3", True, _S3_KEYS),
        Backend("gcs", "GCS", ("gs", "gcs"), "gcsfs", "gcs", True, _GCS_KEYS),
        Backend(
            "azure",
            "Azure Blob Storage",
            ("az", "abfs", "abfss", "adl", "azure"),
            "adlfs",
            "azure",
            True,
            _AZURE_KEYS,
        ),
        Backend("http", "HTTP", ("http", "https"), "urllib.request", None, True, _HTTP_KEYS),
        Backend(
            "memory",
            "memory",
            ("memory",),
            "fsspec",
            None,
            False,
            {"retries": "retries", "timeouts": "timeouts"},
        ),
    ]
}
_BY_SCHEME = {scheme: b for b in BACKENDS.values() for scheme in b.schemes}
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_GLOB_CHARS = ("*", "?", "[")

# Keys whose values are secrets (canonical names); the rest (endpoint, region, project…) are not.
_SECRET_KEYS = frozenset(
    {
        "key",
        "secret",
        "token",
        "service_account_key",
        "account_key",
        "sas_token",
        "connection_string",
        "client_secret",
    }
)
_SECRET_HEADERS = frozenset({"authorization", "x-api-key", "cookie"})


def backend_for(scheme: str) -> Backend | None:
    """The backend a URL scheme names, or ``None`` for local paths and unknown schemes."""
    return _BY_SCHEME.get(scheme.lower())


def is_remote(text: str) -> bool:
    """Whether ``text`` is a URL of a remote (or in-memory) store."""
    match = _SCHEME_RE.match(text)
    return match is not None and backend_for(match.group(1)) is not None


@dataclass(frozen=True)
class Location:
    """A place in a remote store: ``scheme://bucket/path``.

    Attributes:
        backend: The store kind.
        scheme: The URL scheme, canonical (``gs`` for ``gcs``, ``s3`` for ``s3a``).
        bucket: Bucket, container (``container@account…`` for abfs) or host[:port] for HTTP.
        path: Key, prefix or glob inside it, without a leading slash.
    """

    backend: Backend
    scheme: str
    bucket: str
    path: str

    @property
    def url(self) -> str:
        """The full URL."""
        return f"{self.scheme}://{self.bucket}/{self.path}"

    @property
    def fs_path(self) -> str:
        """The path fsspec expects (with the scheme, which every implementation accepts)."""
        return self.url

    @property
    def is_glob(self) -> bool:
        """Whether the path holds glob characters (never in HTTP URLs: ``?`` starts a query)."""
        return self.backend.name != "http" and any(c in self.path for c in _GLOB_CHARS)

    @property
    def is_prefix(self) -> bool:
        """Whether the path names a folder-like prefix (ends with ``/`` or is the bucket root)."""
        if self.backend.name == "http":
            return False  # a URL names one document, whatever its shape
        return self.path == "" or self.path.endswith("/")

    def child(self, relative: str) -> Location:
        """The location ``relative`` below this prefix."""
        base = self.path if self.path.endswith("/") or not self.path else self.path + "/"
        return Location(self.backend, self.scheme, self.bucket, base + relative.lstrip("/"))

    def with_path(self, path: str) -> Location:
        """The same bucket with another path."""
        return Location(self.backend, self.scheme, self.bucket, path.lstrip("/"))

    @property
    def glob_root(self) -> str:
        """The part of the path before its first glob character, up to a ``/``."""
        cut = min((self.path.index(c) for c in _GLOB_CHARS if c in self.path), default=None)
        if cut is None:
            return self.path
        return self.path[: self.path.rfind("/", 0, cut) + 1]


def parse_location(text: str) -> Location:
    """Parse ``scheme://bucket/path`` into a :class:`Location`.

    Raises:
        ValueError: Not a URL of a known remote store, or it names no bucket.
    """
    match = _SCHEME_RE.match(text)
    backend = backend_for(match.group(1)) if match else None
    if match is None or backend is None:
        known = ", ".join(f"{s}://" for s in _BY_SCHEME)
        raise ValueError(f"{text!r} is not a URL of a known store ({known})")
    scheme = backend.canonical_scheme(match.group(1).lower())
    rest = text[match.end() :]
    if backend.name == "memory":
        # memory://path has no bucket: the first segment plays that part
        rest = rest.lstrip("/")
    bucket, _, path = rest.partition("/")
    if not bucket:
        raise ValueError(f"{text!r} names no bucket")
    return Location(backend, scheme, bucket, path)


# ----------------------------------------------------------------------------- storage options


def normalize_storage_options(raw: Mapping[str, Any] | None, backend: Backend) -> dict[str, Any]:
    """The storage options under their canonical (fsspec) names for one backend.

    ``client_kwargs`` in pandas/s3fs style (``{endpoint_url, region_name}``) is folded into
    ``endpoint_url`` and ``region``.

    Raises:
        ValueError: An option the backend does not take (the message lists the accepted ones).
    """
    out: dict[str, Any] = {}
    for name, value in (raw or {}).items():
        key = str(name)
        canonical = backend.keys.get(key.lower())
        if canonical is None:
            accepted = sorted(set(backend.keys.values()))
            raise ValueError(
                f"unknown storage option {key!r} for {backend.label}; accepted: {accepted}"
                " (or their Polars/object_store names)"
            )
        if value is None:
            continue
        if canonical == "retries":
            retry_policy(value)  # raises ValueError naming the key
        if canonical == "timeouts":
            parse_timeouts(value, option="storage_options.timeouts")  # names the key
        if canonical == "client_kwargs":
            if not isinstance(value, Mapping):
                raise ValueError("storage option 'client_kwargs' must be a mapping")
            extra = dict(value)
            if "endpoint_url" in extra:
                out.setdefault("endpoint_url", extra.pop("endpoint_url"))
            if "region_name" in extra:
                out.setdefault("region", extra.pop("region_name"))
            if extra:
                out["client_kwargs"] = extra
            continue
        out[canonical] = value
    return out


def check_storage_options(raw: Any, url_or_kind: str) -> str | None:
    """A problem with a storage-options mapping, as text, or ``None`` when it is sound.

    ``url_or_kind`` is a location URL or a source kind (``s3``, ``gcs_path_prefix`` …); for a
    local location anything is accepted (the options are not used).
    """
    if not isinstance(raw, Mapping):
        return f"storage options must be a mapping, got {type(raw).__name__}"
    backend = _backend_of(url_or_kind)
    if backend is None:
        return None
    try:
        normalize_storage_options(raw, backend)
    except ValueError as exc:
        return str(exc)
    return None


def _backend_of(url_or_kind: str) -> Backend | None:
    if url_or_kind.startswith("s3"):
        return BACKENDS["s3"]
    if url_or_kind.startswith("gcs"):
        return BACKENDS["gcs"]
    match = _SCHEME_RE.match(url_or_kind)
    return backend_for(match.group(1)) if match else None


def secret_values(options: Mapping[str, Any]) -> tuple[str, ...]:
    """Every secret in a (canonical) storage-options mapping, in every spelling a message may
    show, longest first (for :func:`dynio.engine.telemetry.redact`).

    :func:`dynio.engine.telemetry.secrets_in` finds and spells them; this adds what only the
    storage options say: the values under their secret keys whatever the key's name looks like,
    a whole Azure connection string and the key or signature inside it (echoed on their own),
    and secret HTTP headers (``Cookie``).
    """
    known: list[Any] = [options[key] for key in sorted(_SECRET_KEYS) if key in options]
    found = set(telemetry.secrets_in(options))
    if "connection_string" in options:
        conn = str(options["connection_string"])
        # secrets_in keeps a whole text holding a URI (BlobEndpoint=http://…): spell it here
        found.update(telemetry.secret_spellings(conn))
        known += [v for k, v in _azure_connection(conn).items() if k.endswith(("_key", "_token"))]
    headers = options.get("headers")
    if isinstance(headers, Mapping):
        known += [v for k, v in headers.items() if str(k).lower() in _SECRET_HEADERS]
    found.update(telemetry.secrets_in(known, secret=True))
    return tuple(sorted((s for s in found if len(s) >= 4), key=len, reverse=True))


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _gcs_key(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    try:
        parsed = json.loads(str(value))
    except ValueError as exc:
        raise ValueError("storage option 'service_account_key' is not JSON") from exc
    if not isinstance(parsed, dict):
        raise ValueError("storage option 'service_account_key' must be a JSON object")
    return parsed


# gcsfs's special token values: none of them is a file path
_GCS_TOKEN_WORDS = frozenset({"anon", "google_default", "cache", "cloud", "browser"})


def _azure_connection(text: str) -> dict[str, str]:
    parts = dict(p.split("=", 1) for p in text.split(";") if "=" in p)
    out: dict[str, str] = {}
    if parts.get("UseDevelopmentStorage", "").lower() == "true":
        out["azure_storage_use_emulator"] = "true"
    if "AccountName" in parts:
        out["azure_storage_account_name"] = parts["AccountName"]
    if "AccountKey" in parts:
        out["azure_storage_account_key"] = parts["AccountKey"]
    if "SharedAccessSignature" in parts:
        out["azure_storage_sas_token"] = parts["SharedAccessSignature"]
    if "BlobEndpoint" in parts:
        out["azure_storage_endpoint"] = parts["BlobEndpoint"]
        if parts["BlobEndpoint"].startswith("http://"):
            out["azure_allow_http"] = "true"
    return out


def polars_options(backend: Backend, options: Mapping[str, Any]) -> dict[str, str]:
    """The storage options in the form Polars' native scans take (object_store keys)."""
    o = options
    out: dict[str, str] = {}
    endpoint = o.get("endpoint_url")
    if backend.name == "s3":
        names = {
            "key": "aws_access_key_id",
            "secret": "aws_secret_access_key",
            "token": "aws_session_token",
            "region": "aws_region",
            "profile": "aws_profile",
        }
        out.update({names[k]: str(v) for k, v in o.items() if k in names})
        if endpoint:
            out["aws_endpoint_url"] = str(endpoint)
            if str(endpoint).startswith("http://"):
                out["aws_allow_http"] = "true"
        if _flag(o.get("anon", False)):
            out["aws_skip_signature"] = "true"
    elif backend.name == "gcs":
        token = o.get("token")
        key: dict[str, Any] | None = None
        if "service_account_key" in o:
            key = _gcs_key(o["service_account_key"])
        elif isinstance(token, Mapping):
            key = dict(token)
        elif isinstance(token, str) and token not in _GCS_TOKEN_WORDS:
            if endpoint:
                with open(os.path.expanduser(token), encoding="utf-8") as fh:
                    key = _gcs_key(fh.read())
            else:
                out["google_service_account"] = os.path.expanduser(token)
        if endpoint:
            # object_store reaches a GCS-compatible endpoint through the key's gcs_base_url;
            # without credentials it must not ask Google for a token
            base = key or {"client_email": "", "private_key": "", "private_key_id": ""}
            key = {**base, "gcs_base_url": str(endpoint).rstrip("/")}
            if not base.get("private_key"):
                key["disable_oauth"] = True
        if key is not None:
            out["google_service_account_key"] = json.dumps(key)
        if _flag(o.get("anon", False)) or token == "anon":
            out["google_skip_signature"] = "true"
    elif backend.name == "azure":
        if "connection_string" in o:
            out.update(_azure_connection(str(o["connection_string"])))
        names = {
            "account_name": "azure_storage_account_name",
            "account_key": "azure_storage_account_key",
            "sas_token": "azure_storage_sas_token",
            "tenant_id": "azure_storage_tenant_id",
            "client_id": "azure_storage_client_id",
            "client_secret": "azure_storage_client_secret",
        }
        out.update({names[k]: str(v) for k, v in o.items() if k in names})
        if endpoint:
            out["azure_storage_endpoint"] = str(endpoint)
            if str(endpoint).startswith("http://"):
                out["azure_allow_http"] = "true"
        if _flag(o.get("anon", False)):
            out["azure_skip_signature"] = "true"
    return out


def polars_timeouts(limits: Timeouts) -> dict[str, str]:
    """Polars' object-store timeouts: ``connect_timeout`` to connect, ``timeout`` for one whole
    request (object_store's own default is the same 30 s as dynio's read timeout)."""
    return {
        "connect_timeout": f"{round(limits.connect * 1000)}ms",
        "timeout": f"{round(limits.read * 1000)}ms",
    }


def fsspec_options(backend: Backend, options: Mapping[str, Any]) -> dict[str, Any]:
    """The storage options in the form the backend's fsspec implementation takes."""
    o = {k: v for k, v in options.items() if k != "block_size"}
    if backend.name == "s3":
        out: dict[str, Any] = {
            k: o[k] for k in ("key", "secret", "token", "endpoint_url", "profile") if k in o
        }
        if "anon" in o:
            out["anon"] = _flag(o["anon"])
        client = dict(o.get("client_kwargs") or {})
        if "region" in o:
            client["region_name"] = o["region"]
        if client:
            out["client_kwargs"] = client
        if "config_kwargs" in o:
            out["config_kwargs"] = dict(o["config_kwargs"])
        return out
    if backend.name == "gcs":
        out = {k: o[k] for k in ("project", "endpoint_url") if k in o}
        token = o.get("token")
        if "service_account_key" in o:
            token = _gcs_key(o["service_account_key"])
        elif isinstance(token, str) and token not in _GCS_TOKEN_WORDS:
            token = os.path.expanduser(token)
        if _flag(o.get("anon", False)) or (token is None and "endpoint_url" in o):
            token = "anon"  # an emulator has no Google credentials to ask for
        if token is not None:
            out["token"] = token
        return out
    if backend.name == "azure":
        keys = (
            "account_name",
            "account_key",
            "sas_token",
            "connection_string",
            "tenant_id",
            "client_id",
            "client_secret",
        )
        out = {k: o[k] for k in keys if k in o}
        if "anon" in o:
            out["anon"] = _flag(o["anon"])
        if "endpoint_url" in o:
            out["account_host"] = urlsplit(str(o["endpoint_url"])).netloc or str(o["endpoint_url"])
        return out
    if backend.name == "http" and "headers" in o:
        return {"headers": dict(o["headers"])}
    return {}


def _aiohttp_timeout(limits: Timeouts) -> Any:
    """aiohttp's timeouts for gcsfs' requests: connect and silence, no cap on a whole transfer
    (a plain number would be one)."""
    try:
        import aiohttp
    except ImportError:  # gcsfs is missing: filesystem() says which extra to install
        return None
    return aiohttp.ClientTimeout(total=None, sock_connect=limits.connect, sock_read=limits.read)


def _import_package(backend: Backend, context: Mapping[str, Any]) -> None:
    try:
        importlib.import_module(backend.package)
    except ImportError as exc:
        if backend.extra is None:
            raise
        raise MissingDependencyError(
            f"{backend.label} locations ({backend.schemes[0]}://) need {backend.package!r}",
            extra=backend.extra,
            **context,
        ) from exc


def filesystem(location: Location, options: Mapping[str, Any], context: Mapping[str, Any]) -> Any:
    """The fsspec filesystem for a location, built from canonical storage options.

    Raises:
        MissingDependencyError: The backend's fsspec package is missing; names the extra.
    """
    _import_package(location.backend, context)
    import fsspec

    kwargs = fsspec_options(location.backend, options)
    limits = parse_timeouts(options.get("timeouts"))
    if location.backend.name == "s3":
        # dynio retries (see RetryPolicy); botocore and s3fs would retry underneath it. A
        # botocore retry or timeout setting given in config_kwargs is the user's choice and
        # stands.
        config = dict(kwargs.get("config_kwargs") or {})
        config.setdefault("retries", {"max_attempts": 1, "mode": "standard"})
        config.setdefault("connect_timeout", limits.connect)
        config.setdefault("read_timeout", limits.read)
        kwargs["config_kwargs"] = config
        fs = fsspec.filesystem(location.scheme, **kwargs)
        fs.retries = 1  # s3fs's own retry loop: one try
        return fs
    if location.backend.name == "gcs":
        kwargs.setdefault("requests_timeout", _aiohttp_timeout(limits))
    if location.backend.name == "gcs" and "endpoint_url" in kwargs:
        # the default gcsfs class probes every bucket for zonal/hierarchical layouts through an
        # API that GCS-compatible endpoints do not serve (each probe waits about a minute);
        # the core class talks plain JSON API
        core: Any = importlib.import_module("gcsfs.core")
        return core.GCSFileSystem(**kwargs)
    return fsspec.filesystem(location.scheme, **kwargs)


# ---------------------------------------------------------------------------------------- retries


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures of a store are retried.

    Attributes:
        attempts: Tries in all, the first included (``1``: no retry).
        backoff: The wait before the first retry, in seconds; it doubles at each retry.
        max_backoff: The longest wait between two tries, in seconds.

    The wait before retry ``n`` is drawn uniformly from ``[d/2, d]`` with
    ``d = min(max_backoff, backoff * 2**(n-1))`` (jitter keeps many readers from retrying in step).
    """

    attempts: int = 3
    backoff: float = 0.2
    max_backoff: float = 5.0

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first)."""
        ceiling = min(self.max_backoff, self.backoff * 2.0 ** (retry - 1))
        spread: float = (rng or random).uniform(0.0, ceiling / 2)
        return ceiling / 2 + spread


DEFAULT_RETRIES = RetryPolicy()
_RETRY_KEYS = ("attempts", "backoff", "max_backoff")


def retry_policy(raw: Any) -> RetryPolicy:
    """The policy a ``retries`` storage option gives (``None``: the default).

    Accepted forms: a whole number of attempts (``retries: 5``), or a mapping with any of
    ``attempts``, ``backoff`` and ``max_backoff`` (the others keep their defaults).

    Raises:
        ValueError: A value that is not one of those; the message names the key.
    """
    if raw is None:
        return DEFAULT_RETRIES
    if isinstance(raw, bool) or not isinstance(raw, int | Mapping):
        raise ValueError(
            "storage option 'retries' must be a number of attempts or a mapping of"
            f" {list(_RETRY_KEYS)}, got {type(raw).__name__}"
        )
    body = {"attempts": raw} if isinstance(raw, int) else dict(raw)
    unknown = sorted(str(k) for k in body if k not in _RETRY_KEYS)
    if unknown:
        raise ValueError(
            f"unknown key(s) {unknown} in storage option 'retries'; accepted: {list(_RETRY_KEYS)}"
        )
    attempts = body.get("attempts", DEFAULT_RETRIES.attempts)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 100:
        raise ValueError(
            f"storage option 'retries.attempts' must be a whole number from 1 to 100, got"
            f" {attempts!r}"
        )
    waits: dict[str, float] = {}
    for key in ("backoff", "max_backoff"):
        value = body.get(key, getattr(DEFAULT_RETRIES, key))
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 600:
            raise ValueError(
                f"storage option 'retries.{key}' must be a number of seconds from 0 to 600,"
                f" got {value!r}"
            )
        waits[key] = float(value)
    if waits["max_backoff"] < waits["backoff"]:
        raise ValueError(
            f"storage option 'retries.max_backoff' ({waits['max_backoff']:g}) is less than"
            f" 'retries.backoff' ({waits['backoff']:g})"
        )
    return RetryPolicy(attempts, waits["backoff"], waits["max_backoff"])


class GaveUp(OSError):
    """A transient failure that lasted through every attempt; the last failure is its cause."""

    def __init__(self, last: BaseException, attempts: int) -> None:
        super().__init__(f"{first_line(last)} (gave up after {attempts} attempts)")
        self.last = last
        self.attempts = attempts


# failures worth another try, by exception name, by HTTP status, by S3 error code and by text
_TRANSIENT_NAMES = frozenset(
    {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ConnectionClosedError",
        "ReadTimeoutError",
        "ProxyConnectionError",
        "ResponseStreamingError",
        "IncompleteReadError",
        "ClientConnectorError",
        "ClientOSError",
        "ServerDisconnectedError",
        "ServerTimeoutError",
        "ClientPayloadError",
        "FSTimeoutError",
        "RemoteDisconnected",
        "IncompleteRead",
    }
)
_TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequests",
        "RequestTimeout",
        "InternalError",
        "ServiceUnavailable",
        "503",
        "500",
        "502",
        "504",
    }
)
_TRANSIENT_TEXT = (
    "error sending request",
    "connection refused",
    "connection reset",
    "connection aborted",
    "connection closed",
    "broken pipe",
    "timed out",
    "timeout",
    "slowdown",
    "slow down",
    "reduce your request rate",
    "service unavailable",
    "internal server error",
    "bad gateway",
    "gateway timeout",
    "too many requests",
    "server disconnected",
    "unexpected eof",
    "incomplete",
    "tcp connect error",
    "error decoding response body",
    "body error",
    "end of file before message length",
)
_TRANSIENT_STATUS = re.compile(r"\b(429|500|502|503|504)\b")
_FINAL_TEXT = (
    "accessdenied",
    "access denied",
    "forbidden",
    "invalidaccesskeyid",
    "signaturedoesnotmatch",
    "nosuchbucket",
    "nosuchkey",
    "not found",
    "does not exist",
    "unable to locate credentials",
)


def _status_of(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        meta = response.get("ResponseMetadata") or {}
        status = meta.get("HTTPStatusCode") if isinstance(meta, Mapping) else None
        return int(status) if isinstance(status, int) else None
    code = getattr(exc, "code", None)  # urllib's HTTPError
    if isinstance(code, int) and type(exc).__name__ == "HTTPError":
        return code
    return None


def _code_of(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        error = response.get("Error") or {}
        code = error.get("Code") if isinstance(error, Mapping) else None
        return str(code) if code is not None else None
    return None


def is_transient(exc: BaseException) -> bool:
    """Whether a store failure may go away when tried again.

    Transient: connection refused, reset or closed; timeouts; HTTP 5xx and 429; S3's
    ``SlowDown`` and other throttling codes. Never: access denied, a missing bucket or object,
    missing or refused credentials, data that does not parse, dynio's own errors, or a failure
    that already went through its retries (:class:`GaveUp`).
    """
    chain = _chain(exc)
    if any(isinstance(e, DynioError | GaveUp) for e in chain):
        return False
    names = {type(e).__name__ for e in chain}
    if names.intersection(_NO_CREDENTIALS):
        return False
    if any(isinstance(e, PermissionError | FileNotFoundError | IsADirectoryError) for e in chain):
        return False
    for e in chain:
        # the service's error code first: S3 answers RequestTimeout and throttling with a 4xx
        code = _code_of(e)
        if code is not None:
            return code in _TRANSIENT_CODES
        status = _status_of(e)
        if status is not None:
            return status == 429 or status >= 500
    # a broken transfer is transient whatever its text says (aiohttp's ContentLengthError, a
    # ClientPayloadError, reads "400, message=..." for a server gone mid-body)
    lineage = {c.__name__ for e in chain for c in type(e).__mro__}
    if lineage.intersection(_TRANSIENT_NAMES):
        return True
    texts = " | ".join(first_line(e) for e in chain).lower()
    if any(t in texts for t in _FINAL_TEXT) or re.search(r"\b(400|401|403|404)\b", texts):
        return False
    if any(isinstance(e, ConnectionError | TimeoutError) for e in chain):
        return True
    return any(t in texts for t in _TRANSIENT_TEXT) or bool(_TRANSIENT_STATUS.search(texts))


class Retrier:
    """Runs store requests under a :class:`RetryPolicy`, reporting each retry.

    Every retry is a WARNING on the ``dynio`` logger (resource, environment, what was being
    done, the attempt, the failure and the wait), an event ``dynio.retry`` on the current span
    and the attribute ``dynio.retries`` (the retries of the operation so far) on the stage and
    operation spans. Calls from threads Polars runs (a scan collected later) report under the
    context the retrier was made in.
    """

    def __init__(
        self,
        policy: RetryPolicy,
        context: Mapping[str, Any],
        secrets: tuple[str, ...] = (),
        *,
        sleep: Callable[[float], None] = time.sleep,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        server: str = "the store",
    ) -> None:
        self.policy = policy
        self.timeouts = timeouts
        self.server = server
        self.context = dict(context)
        self.secrets = secrets
        self._sleep = sleep
        self._lock = threading.Lock()
        self._ctx = contextvars.copy_context()
        self.retries = 0

    def run(
        self, fn: Callable[[], T], what: str, *, action: str = "read", bounded: bool = True
    ) -> T:
        """``fn()``, tried again on transient failures, all within the ``deadline`` timeout.

        With ``bounded`` (the default) each attempt runs under :func:`~dynio.engine.deadlines.
        within`, so a client that ignores its own timeouts cannot hold the caller past the
        deadline; without it (a Polars collect, whose object store has its own request
        timeouts) only the retrying stops at the deadline.

        Raises:
            GaveUp: The failure was still there at the last attempt, or the deadline left no
                time for another (its cause is that failure).
            DeadlineExceeded: An attempt was still running at the deadline.
            Exception: A failure that is not transient, as ``fn`` raised it (on any attempt).
        """
        deadline = Deadline(self.timeouts.deadline)
        doing = f"{action} {what}"
        attempt = 1
        while True:
            try:
                if bounded:
                    return within(fn, deadline.remaining(), server=self.server, what=doing)
                return fn()
            except DeadlineExceeded as exc:
                # said with the whole deadline, not what was left of it for this attempt
                raise DeadlineExceeded(self.server, deadline.seconds, doing) from exc.__cause__
            except Exception as exc:
                if not is_transient(exc):
                    raise
                wait = self.policy.delay(attempt)
                out_of_time = wait >= deadline.remaining()
                if attempt >= self.policy.attempts or out_of_time:
                    if attempt == 1 and not out_of_time:
                        raise
                    raise GaveUp(exc, attempt) from exc
                self._report(exc, what, action, attempt, wait)
                self._sleep(wait)
                attempt += 1

    def _report(
        self, exc: BaseException, what: str, action: str, attempt: int, wait: float
    ) -> None:
        with self._lock:
            self.retries += 1
            total = self.retries
        shown = redact(what, self.secrets)
        reason = redact(first_line(exc), self.secrets)
        logger.warning(
            "%s %s (env %s): attempt %d of %d failed with a transient error (%s); retrying in"
            " %.2fs",
            action,
            shown,
            self.context.get("env"),
            attempt,
            self.policy.attempts,
            reason,
            wait,
            extra={"dynio_resource": self.context.get("resource")},
        )
        attrs: dict[str, str | int | float] = {
            "dynio.resource": str(self.context.get("resource") or ""),
            "dynio.retry.attempt": attempt,
            "dynio.retry.target": shown,
            "dynio.retry.action": action,
            "dynio.retry.wait_s": round(wait, 3),
            "error.type": telemetry.error_type(exc),
        }

        def report() -> None:
            add_event("dynio.retry", attrs)
            annotate({"dynio.retries": total})

        if trace.get_current_span().is_recording():
            report()
        else:  # a thread of Polars': report under the context the read was planned in
            self._ctx.copy().run(report)


# ----------------------------------------------------------------------------------------- DuckDB


def duckdb_register(
    connection: Any, location: Location, options: Mapping[str, Any], context: Mapping[str, Any]
) -> None:
    """Let a DuckDB connection read and write the location's store through fsspec.

    This needs no DuckDB extension (``httpfs`` may be unavailable offline); DuckDB then opens
    ``s3://``/``gs://`` paths with the same credentials as every other dynio access.
    """
    connection.register_filesystem(filesystem(location, options, context))


def _sql_text(value: Any) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def duckdb_secret_sql(backend: Backend, options: Mapping[str, Any], name: str = "dynio") -> str:
    """A ``CREATE OR REPLACE SECRET`` statement for DuckDB's ``httpfs``/``azure`` extensions.

    The statement holds the secret values: run it, never log it. With no credentials it asks
    DuckDB for its credential chain.
    """
    o = options
    parts: list[str] = []
    if backend.name == "s3":
        parts.append("TYPE s3")
        if "key" in o:
            parts += [f"KEY_ID {_sql_text(o['key'])}", f"SECRET {_sql_text(o.get('secret', ''))}"]
            if "token" in o:
                parts.append(f"SESSION_TOKEN {_sql_text(o['token'])}")
        else:
            parts.append("PROVIDER credential_chain")
        if "region" in o:
            parts.append(f"REGION {_sql_text(o['region'])}")
        if "endpoint_url" in o:
            ep = urlsplit(str(o["endpoint_url"]))
            parts += [f"ENDPOINT {_sql_text(ep.netloc or ep.path)}", "URL_STYLE 'path'"]
            parts.append(f"USE_SSL {'false' if ep.scheme == 'http' else 'true'}")
    elif backend.name == "gcs":
        parts += ["TYPE gcs", "PROVIDER credential_chain"]
        if "endpoint_url" in o:
            ep = urlsplit(str(o["endpoint_url"]))
            parts.append(f"ENDPOINT {_sql_text(ep.netloc or ep.path)}")
    elif backend.name == "azure":
        parts.append("TYPE azure")
        if "connection_string" in o:
            parts.append(f"CONNECTION_STRING {_sql_text(o['connection_string'])}")
        else:
            parts.append("PROVIDER credential_chain")
            if "account_name" in o:
                parts.append(f"ACCOUNT_NAME {_sql_text(o['account_name'])}")
    else:
        raise ValueError(f"DuckDB has no secret type for {backend.label}")
    return f"CREATE OR REPLACE SECRET {name} ({', '.join(parts)})"


# ----------------------------------------------------------------------------------------- errors

_UNREACHABLE = (
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ClientConnectorError",
    "ServerDisconnectedError",
    "ConnectionClosedError",
    "ReadTimeoutError",
    "ProxyConnectionError",
)
_UNREACHABLE_TEXT = (
    "error sending request",
    "connection refused",
    "could not connect",
    "cannot connect",
    "dns error",
    "timed out",
    "failed to lookup address",
)


_NO_CREDENTIALS = ("NoCredentialsError", "DefaultCredentialsError", "PartialCredentialsError")
_NO_CREDENTIALS_TEXT = ("unable to locate credentials", "default credentials were not found")


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in out:
        out.append(current)
        current = current.__cause__ or current.__context__
    return out


def endpoint_of(location: Location, options: Mapping[str, Any]) -> str:
    """The server a location is reached at, as messages name it (no secret in it)."""
    if location.backend.name == "http":
        return f"{location.scheme}://{location.bucket}"
    endpoint = options.get("endpoint_url")
    return str(endpoint) if endpoint else f"the default {location.backend.label} endpoint"


def _failure_text(chain: list[BaseException], location: Location) -> str:
    """The chain's messages, lower-cased, with the location's own names taken out.

    A key such as ``reports/403/day.parquet`` is not an HTTP status: what the messages say about
    the failure is searched without the bucket and path they quote.
    """
    text = " | ".join(first_line(e) for e in chain)
    names = sorted({location.url, location.path, location.bucket} - {""}, key=len, reverse=True)
    for name in names:
        text = text.replace(name, " ")
    return text.lower()


def _waited(chain: list[BaseException], options: Mapping[str, Any]) -> str:
    """How long dynio waited for a server that did not answer, in words."""
    for e in chain:
        if isinstance(e, DeadlineExceeded):
            return f"within the {e.seconds:g}s deadline"
    limits = parse_timeouts(options.get("timeouts"))
    names = {c.__name__ for e in chain for c in type(e).__mro__}
    text = " ".join(first_line(e).lower() for e in chain)
    if "ConnectTimeoutError" in names or "connect" in text:
        return f"within the {limits.connect:g}s connect timeout"
    return f"within the {limits.read:g}s read timeout"


def error_for(
    exc: BaseException,
    location: Location,
    options: Mapping[str, Any],
    context: Mapping[str, Any],
    *,
    action: str = "read",
    error: type[DynioError] = ReadError,
    bucket_exists: bool | None = None,
) -> DynioError:
    """A dynio error for a backend failure, naming resource, location and endpoint, no secret.

    A :class:`GaveUp` failure is described by its last failure, and the message says how many
    attempts were made.

    Args:
        exc: The backend's exception.
        location: Where the operation went.
        options: The canonical storage options (their secrets are redacted from the message).
        context: ``resource``/``env`` for the error.
        action: What was being done (``read``, ``list``, ``write`` …).
        error: The error class to raise (:class:`ReadError` or :class:`WriteError`).
        bucket_exists: For a not-found failure, whether the bucket exists (when known); tells a
            missing bucket from a missing key.
    """
    secrets = secret_values(options)
    attempts = 0
    if isinstance(exc, GaveUp):
        attempts, exc = exc.attempts, exc.last
    chain = _chain(exc)
    names = {type(e).__name__ for e in chain}
    texts = _failure_text(chain, location)
    statuses = {s for s in map(_status_of, chain) if s is not None}
    where = location.url
    label = location.backend.label
    bucket_word = "container" if location.backend.name == "azure" else "bucket"
    if names.intersection(_NO_CREDENTIALS) or any(t in texts for t in _NO_CREDENTIALS_TEXT):
        message = (
            f"no credentials found to {action} {where} ({label}): give storage_options (or a"
            " catalog-level credentials entry) to this environment, or set up the default"
            " credential chain (environment variables, profile, instance role)"
        )
    elif (
        any(isinstance(e, PermissionError) for e in chain)
        or 403 in statuses
        or re.search(r"\b403\b", texts)
        or ("accessdenied" in texts.replace(" ", ""))
    ):
        message = (
            f"access denied to {where} ({label}): the credentials of this environment may not"
            f" {action} it ({first_line(exc)})"
        )
    elif (
        "nosuchbucket" in {n.lower() for n in names}
        or "bucket does not exist" in texts
        or bucket_exists is False
    ):
        endpoint = endpoint_of(location, options)
        message = f"{bucket_word} {location.bucket!r} does not exist ({label}, {endpoint})"
    elif (
        any(isinstance(e, FileNotFoundError) for e in chain)
        or 404 in statuses
        or re.search(r"\b404\b", texts)
    ):
        message = f"no object at {where} ({label}): it does not exist"
    elif is_timeout(exc):
        message = (
            f"the {label} endpoint {endpoint_of(location, options)} did not answer"
            f" {_waited(chain, options)} to {action} {where}"
        )
    elif (
        names.intersection(_UNREACHABLE)
        or any(isinstance(e, ConnectionError | TimeoutError) for e in chain)
        or any(t in texts for t in _UNREACHABLE_TEXT)
    ):
        message = (
            f"cannot reach the {label} endpoint {endpoint_of(location, options)} to {action}"
            f" {where} ({first_line(exc)})"
        )
    else:
        message = f"cannot {action} {where} ({label}): {first_line(exc)}"
    if attempts:
        message += f"; gave up after {attempts} attempt{'s' if attempts != 1 else ''}"
    clean = redact(message, secrets)
    return error(clean, file=redact(where, secrets), **context)
