"""The registry of remote stores: which URL schemes mean which backend, the storage-option
names each accepts, and :class:`Location` (``scheme://bucket/path``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["BACKENDS", "Backend", "Location", "backend_for", "is_remote", "parse_location"]


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
SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_GLOB_CHARS = ("*", "?", "[")

# Keys whose values are secrets (canonical names); the rest (endpoint, region, project…) are not.
SECRET_KEYS = frozenset(
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
SECRET_HEADERS = frozenset({"authorization", "x-api-key", "cookie"})


def backend_for(scheme: str) -> Backend | None:
    """The backend a URL scheme names, or ``None`` for local paths and unknown schemes."""
    return _BY_SCHEME.get(scheme.lower())


def is_remote(text: str) -> bool:
    """Whether ``text`` is a URL of a remote (or in-memory) store."""
    match = SCHEME_RE.match(text)
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
    match = SCHEME_RE.match(text)
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
