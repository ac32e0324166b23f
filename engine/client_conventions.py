"""Names and attributes of CLIENT spans by the OpenTelemetry semantic conventions: the span name
of a call, the convention's attributes per kind of system, and ``server.address``/``server.port``
(parsed from an endpoint, or the cloud service's default endpoint).

Pure functions, no OpenTelemetry state: :func:`dynio.engine.telemetry.client_span` uses them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from dynio.engine.telemetry_values import mask_sql

__all__ = [
    "client_attributes",
    "default_server",
    "server_attributes",
    "server_of",
    "span_name",
]

# where a cloud store is reached when no endpoint is configured
_DEFAULT_SERVERS = {
    "s3": ("s3.amazonaws.com", 443),
    "gcs": ("storage.googleapis.com", 443),
    "azure": ("blob.core.windows.net", 443),
    "athena": ("athena.amazonaws.com", 443),
}
_RPC = {"s3": ("aws-api", "S3"), "gcs": ("gcp-api", "GCS"), "azure": ("azure-api", "AzureBlob")}


def default_server(system: str, region: str | None = None) -> tuple[str, int] | None:
    """``(server.address, server.port)`` of a cloud service reached without an endpoint URL
    (``s3`` in ``eu-west-1`` -> ``("s3.eu-west-1.amazonaws.com", 443)``)."""
    found = _DEFAULT_SERVERS.get(system)
    if found is None:
        return None
    host, port = found
    if region and system in ("s3", "athena"):
        host = host.replace(".amazonaws.com", f".{region}.amazonaws.com")
    return host, port


def span_name(kind: str, system: str, operation: str, target: str | None) -> str:
    if kind == "db":
        return f"{operation} {target}" if target else operation or system
    if kind == "messaging":
        return f"{operation} {target}" if target else operation
    service = _RPC.get(system, ("", system))[1]
    return f"{service}.{operation}"


def client_attributes(
    kind: str, system: str, operation: str, target: str | None, namespace: str | None, query: Any
) -> dict[str, Any]:
    """The convention's attributes of a :func:`client_span` of ``kind``."""
    if kind == "db":
        attrs = {
            "db.system.name": system,
            "db.namespace": namespace,
            "db.collection.name": target,
            "db.operation.name": operation,
            "db.query.text": mask_sql(query) if query is not None else None,
        }
    elif kind == "storage":
        rpc_system, service = _RPC.get(system, (system, system))
        attrs = {"rpc.system": rpc_system, "rpc.service": service, "rpc.method": operation}
        if system == "s3":
            attrs["aws.s3.bucket"] = target
    elif kind == "messaging":
        attrs = {
            "messaging.system": system,
            "messaging.operation.name": operation,
            "messaging.operation.type": "send" if operation in ("send", "publish") else "receive",
            "messaging.destination.name": target,
        }
    else:
        raise ValueError(f"client_span kind must be 'db', 'storage' or 'messaging', not {kind!r}")
    return attrs


def server_of(
    system: str, server: str | None, port: int | None, region: str | None
) -> dict[str, Any]:
    attrs = server_attributes(server) if server else {}
    if port is not None:
        attrs["server.port"] = int(port)
    if "server.address" not in attrs:
        default = default_server(system, region)
        if default is not None:
            attrs["server.address"] = default[0]
            attrs.setdefault("server.port", default[1])
        elif system in ("duckdb", "sqlite", "memory"):  # in process
            attrs["server.address"] = "localhost"
    if "server.address" in attrs and "server.port" not in attrs and server and "://" in server:
        scheme = urlsplit(server).scheme
        if scheme in ("http", "https"):
            attrs["server.port"] = 443 if scheme == "https" else 80
    return attrs


def server_attributes(url: str) -> dict[str, Any]:
    """``server.address``/``server.port`` of an endpoint URL (an object store's, a broker's)."""
    first = url.split(",", 1)[0].strip()  # a broker list: the first one
    parts = urlsplit(first if "://" in first else f"//{first}")
    attrs: dict[str, Any] = {}
    if parts.hostname:
        attrs["server.address"] = parts.hostname
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None:
        attrs["server.port"] = port
    return attrs
