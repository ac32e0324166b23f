"""One remote location's client: options, the fsspec filesystem, retries, spans, errors.

:class:`Store` gathers what every request to a store needs (canonical storage options, the
retrier and its deadline, the client span, error translation); :func:`list_objects` lists a
prefix or glob as :class:`ObjectInfo` records, and :func:`http_head`/:func:`http_get` reach
plain HTTP servers through the standard library.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from dynio.engine.deadlines import parse_timeouts
from dynio.engine.errors import ConfigError, DynioError, ReadError
from dynio.engine.io.filesystems.backends import Location, parse_location
from dynio.engine.io.filesystems.errors import endpoint_of, error_for
from dynio.engine.io.filesystems.options import (
    filesystem,
    normalize_storage_options,
    polars_options,
    polars_timeouts,
    secret_values,
)
from dynio.engine.io.filesystems.retries import GaveUp, Retrier, retry_policy
from dynio.engine.telemetry import annotate, carrier, client_span, redact

if TYPE_CHECKING:  # the HTTP client is imported on first use: local reads never need it
    import urllib.request

__all__ = [
    "ObjectInfo",
    "Store",
    "bare",
    "http_get",
    "http_head",
    "list_objects",
    "not_found",
    "version_of",
]

T = TypeVar("T")

# the object-store call (rpc.method) an action makes
_METHODS = {
    "read": "GetObject",
    "list": "ListObjects",
    "write": "PutObject",
    "delete": "DeleteObjects",
}


class Store:
    """One location's client: canonical storage options, the fsspec filesystem, retries,
    client spans, error translation."""

    def __init__(
        self, raw: Mapping[str, Any] | None, location: Location, context: Mapping[str, Any]
    ) -> None:
        self.location = location
        self.backend = location.backend
        self.context = dict(context)
        try:
            self.options = normalize_storage_options(raw, self.backend)
            policy = retry_policy(self.options.get("retries"))
            self.timeouts = parse_timeouts(self.options.get("timeouts"))
        except ValueError as exc:
            raise ConfigError(str(exc), key_path="options.storage_options", **self.context) from exc
        self.secrets = secret_values(self.options)
        self.policy = policy
        server = redact(endpoint_of(location, self.options), self.secrets)
        self.retrier = Retrier(
            policy, self.context, self.secrets, timeouts=self.timeouts, server=server
        )
        self._under_operation = carrier()  # Polars calls retry() from its own threads
        self._fs: Any = None

    @property
    def fs(self) -> Any:
        if self._fs is None:
            self._fs = filesystem(self.location, self.options, self.context)
        return self._fs

    def transfer_kwargs(self) -> dict[str, Any]:
        """Keyword arguments bounding an fsspec transfer: an async filesystem (s3fs, gcsfs)
        cancels its request at the deadline (s3fs's uploads ignore botocore's timeouts)."""
        return {"timeout": self.timeouts.deadline} if getattr(self.fs, "async_impl", False) else {}

    def shown(self, url: str) -> str:
        return redact(url, self.secrets)

    def annotate(self, attrs: Mapping[str, Any]) -> None:
        """Report on the running operation's spans what was moved (bytes)."""
        annotate(attrs)

    def client(self, method: str, location: Location | None = None) -> Any:
        """The CLIENT span of one call to the store (``S3.GetObject``, ``GCS.ListObjects``…),
        with the server it goes to: the endpoint, else the cloud's default one."""
        loc = location or self.location
        endpoint = self.options.get("endpoint_url")
        if self.backend.name == "http":
            endpoint = f"{loc.scheme}://{loc.bucket}"
        elif not endpoint and self.backend.name == "azure" and self.options.get("account_name"):
            endpoint = f"https://{self.options['account_name']}.blob.core.windows.net"
        return client_span(
            "storage",
            system=self.backend.name,
            operation=method,
            target=loc.bucket if self.backend.name != "http" else None,
            server=redact(str(endpoint), self.secrets) if endpoint else None,
            region=self.options.get("region"),
        )

    def polars(self, *, native_retries: bool = False) -> dict[str, Any]:
        """Polars' storage options. Its object store retries only for a streaming scan, which
        dynio cannot retry around (``native_retries``); otherwise dynio retries (Retrier)."""
        out: dict[str, Any] = dict(polars_options(self.backend, self.options))
        if out or self.backend.name in ("s3", "gcs", "azure"):
            out["max_retries"] = self.policy.attempts - 1 if native_retries else 0
            out.update(polars_timeouts(self.timeouts))
        return out

    def call(
        self,
        fn: Callable[[], T],
        location: Location,
        *,
        action: str = "read",
        error: type[DynioError] = ReadError,
        method: str | None = None,
    ) -> T:
        """``fn()`` retried on transient failures; any failure translated into ``error``."""
        method = method or _METHODS.get(action, action)
        try:
            with self.client(method, location):
                return self.retrier.run(fn, location.url, action=action)
        except Exception as exc:
            raise self.error(exc, location, action=action, error=error) from exc

    def retry(self, fn: Callable[[], T], what: str) -> T:
        """``fn()`` retried (a :class:`~dynio.engine.sources.dataset.Retry` for the scans);
        a failure that lasted through every attempt becomes a :class:`ReadError` naming
        ``what``, other failures are raised as they are for the caller to translate."""

        def attempt() -> T:
            with self.client("GetObject"):
                return self.retrier.run(fn, what, bounded=False)

        try:
            return self._under_operation(attempt)
        except GaveUp as exc:
            raise self.error(exc, where_of(self.location, what)) from exc

    def error(
        self,
        exc: BaseException,
        location: Location,
        *,
        action: str = "read",
        error: type[DynioError] = ReadError,
    ) -> DynioError:
        if isinstance(exc, DynioError):
            return exc
        bucket_exists: bool | None = None
        if not_found(exc) and self.backend.name in ("s3", "gcs", "azure"):
            try:
                bucket_exists = bool(self.fs.exists(f"{location.scheme}://{location.bucket}"))
            except Exception:  # the check is a courtesy; the original error stands
                bucket_exists = None
        return error_for(
            exc,
            location,
            self.options,
            self.context,
            action=action,
            error=error,
            bucket_exists=bucket_exists,
        )


def where_of(default: Location, what: str) -> Location:
    try:
        return parse_location(what)
    except ValueError:
        return default


def not_found(exc: BaseException) -> bool:
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, FileNotFoundError):
            return True
        current = current.__cause__
    return False


@dataclass(frozen=True)
class ObjectInfo:
    """One object of a listing: its URL, size and path relative to the listed root, and what
    tells its version (ETag, generation) when known."""

    url: str
    size: int | None
    relative: str
    version: str | None = None


def version_of(info: Mapping[str, Any]) -> str | None:
    for key in ("ETag", "etag", "generation", "VersionId", "LastModified", "mtime", "updated"):
        if info.get(key) is not None:
            return f"{key}={info[key]}"
    return None


def _http_request(store: Store, url: str, method: str) -> urllib.request.Request:
    import urllib.request

    headers = {str(k): str(v) for k, v in dict(store.options.get("headers") or {}).items()}
    return urllib.request.Request(url, method=method, headers=headers)


def http_head(store: Store, location: Location) -> tuple[int | None, bool]:
    """Size and whether the server answers range requests (what Polars' native reader needs)."""
    import urllib.error
    import urllib.request

    def head() -> tuple[int | None, bool]:
        try:
            with urllib.request.urlopen(
                _http_request(store, location.url, "HEAD"), timeout=store.timeouts.read
            ) as resp:
                length = resp.headers.get("Content-Length")
                ranges = resp.headers.get("Accept-Ranges", "").lower() == "bytes"
                return (int(length) if length and length.isdigit() else None), ranges
        except urllib.error.HTTPError as exc:
            if exc.code < 500 and exc.code != 429:
                raise
            exc.close()
            raise OSError(f"HTTP {exc.code} {exc.reason}") from None

    try:
        return store.retrier.run(head, location.url)
    except GaveUp as exc:
        raise store.error(exc, location) from exc
    except urllib.error.HTTPError as exc:
        exc.close()  # it holds the response and its socket
        if exc.code == 404:
            raise store.error(FileNotFoundError(f"HTTP 404 for {location.url}"), location) from exc
        if exc.code in (401, 403):
            raise store.error(PermissionError(f"HTTP {exc.code}"), location) from exc
        if exc.code == 405:  # HEAD not allowed: fetch it whole
            return None, False
        raise store.error(exc, location) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise store.error(ConnectionError(str(getattr(exc, "reason", exc))), location) from exc


def http_get(store: Store, url: str, dest: Path) -> int:
    import urllib.error
    import urllib.request

    request = _http_request(store, url, "GET")
    try:
        with (
            urllib.request.urlopen(request, timeout=store.timeouts.read) as resp,
            open(dest, "wb") as out,
        ):
            shutil.copyfileobj(resp, out, length=1 << 20)
    except urllib.error.HTTPError as exc:
        exc.close()  # it holds the response and its socket
        raise
    return dest.stat().st_size


def bare(name: str) -> str:
    """An fsspec path without scheme or leading slash (``memory`` paths start with one)."""
    return name.split("://", 1)[-1].lstrip("/")


def list_objects(store: Store, location: Location) -> tuple[list[ObjectInfo], bool]:
    """Every object under a prefix (or matching a glob), sorted, empty ones and folders left
    out; and whether the listing found anything at all (empty objects included).

    Raises:
        ReadError: The listing failed (translated, after retries).
    """
    if location.is_glob:
        found = store.call(
            lambda: store.fs.glob(location.fs_path, detail=True), location, action="list"
        )
        root = location.with_path(location.glob_root)
    else:
        found = store.call(
            lambda: store.fs.find(location.fs_path, detail=True), location, action="list"
        )
        root = location
    prefix = f"{root.bucket}/{root.path}"
    objects = []
    for name, info in sorted(dict(found).items()):
        if info.get("type") == "directory" or name.endswith("/"):
            continue
        size = info.get("size")
        if size == 0:
            continue  # an empty object holds no rows and would fail to parse
        path = bare(name)
        relative = path[len(prefix) :] if path.startswith(prefix) else path.rsplit("/", 1)[-1]
        url = (
            f"{location.scheme}://{path}"
            if location.backend.name != "memory"
            else f"memory://{path}"
        )
        objects.append(
            ObjectInfo(url, int(size) if size is not None else None, relative, version_of(info))
        )
    return objects, bool(found)
