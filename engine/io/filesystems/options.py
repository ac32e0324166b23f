"""Storage options and the clients built from them.

One storage-options mapping per environment says how to reach a store; its keys are fsspec's
names, and the names Polars/object_store and pandas use are accepted too. Each client gets the
mapping in the form it needs: :func:`polars_options` for Polars' native cloud scans,
:func:`fsspec_options` and :func:`filesystem` for listing, writes and formats Polars cannot read
remotely, :func:`duckdb_register` and :func:`duckdb_secret_sql` for DuckDB.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from dynio.engine import telemetry
from dynio.engine.deadlines import Timeouts, parse_timeouts
from dynio.engine.errors import MissingDependencyError
from dynio.engine.io.filesystems.backends import (
    BACKENDS,
    SCHEME_RE,
    SECRET_HEADERS,
    SECRET_KEYS,
    Backend,
    Location,
    backend_for,
)
from dynio.engine.io.filesystems.retries import retry_policy

__all__ = [
    "check_storage_options",
    "duckdb_register",
    "duckdb_secret_sql",
    "filesystem",
    "fsspec_options",
    "normalize_storage_options",
    "polars_options",
    "polars_timeouts",
    "secret_values",
]


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
    match = SCHEME_RE.match(url_or_kind)
    return backend_for(match.group(1)) if match else None


def secret_values(options: Mapping[str, Any]) -> tuple[str, ...]:
    """Every secret in a (canonical) storage-options mapping, in every spelling a message may
    show, longest first (for :func:`dynio.engine.telemetry.redact`).

    :func:`dynio.engine.telemetry.secrets_in` finds and spells them; this adds what only the
    storage options say: the values under their secret keys whatever the key's name looks like,
    a whole Azure connection string and the key or signature inside it (echoed on their own),
    and secret HTTP headers (``Cookie``).
    """
    known: list[Any] = [options[key] for key in sorted(SECRET_KEYS) if key in options]
    found = set(telemetry.secrets_in(options))
    if "connection_string" in options:
        conn = str(options["connection_string"])
        # secrets_in keeps a whole text holding a URI (BlobEndpoint=http://…): spell it here
        found.update(telemetry.secret_spellings(conn))
        known += [v for k, v in _azure_connection(conn).items() if k.endswith(("_key", "_token"))]
    headers = options.get("headers")
    if isinstance(headers, Mapping):
        known += [v for k, v in headers.items() if str(k).lower() in SECRET_HEADERS]
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
