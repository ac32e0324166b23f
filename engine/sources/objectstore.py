"""Object stores: ``s3``, ``s3_file``, ``s3_path_prefix``, ``gcs``, ``gcs_path_prefix`` and remote
``file`` URIs (``s3://``, ``gs://``/``gcs://``, ``az://``/``abfs://``, ``http(s)://``,
``memory://``).

YAML examples (dynamicio's forms load unchanged)::

    trips:
      prod:
        type: s3                                   # or s3_file
        s3: {bucket: "[[ RAW_BUCKET ]]", file_path: "trips/{day}.parquet", file_type: parquet}
        options:
          storage_options: {region: eu-west-1}     # else the default AWS credential chain
      history:
        type: s3_path_prefix                       # every parquet object under the prefix
        s3: {bucket: "[[ RAW_BUCKET ]]", path_prefix: "trips/", file_type: parquet}
        options: {partition_cols: [day]}           # writes day=…/ partitions
      runs:
        type: s3_path_prefix                       # a glob with {templates} and **
        s3: {bucket: lake, dynamic_file_path: "runs/{run}/**/part_*.parquet", file_type: parquet}
      legacy:
        type: s3_path_prefix                       # dynamicio's legacy form: prefix in bucket
        s3: {bucket: "lake/data/in/", file_type: parquet}
      gcs:
        type: gcs
        gcs: {bucket: lake, file_path: "trips.parquet"}
        credentials: gcp_reader                    # a catalog-level credentials entry
      native:
        type: file
        file: {uri: "az://container/trips/*.parquet"}

    credentials:                                   # top level of any catalog file
      gcp_reader: {token: "[[ GCP_KEY_FILE ]]", project: analytics}

Reads go through Polars' native cloud scans where it has one (parquet, CSV, NDJSON, IPC on S3,
GCS, Azure, and HTTP servers that answer range requests): projection and predicates become
ranged reads of only the needed row groups and columns. JSON, HDF, re-encoded CSV, ``memory://``
and HTTP without ranges are fetched through fsspec (or the standard library for HTTP) and read
locally. A prefix or glob reads every object in parallel into one frame (see
:mod:`dynio.engine.sources.dataset` for schema drift and hive partitions); empty objects,
``_SUCCESS``-style markers and objects of other formats are skipped.

Every request (listing, size checks, schema reads, each fetched object, the native reading when
the frame is collected, each upload) is retried on transient failures as the storage option
``retries`` says (see :class:`~dynio.engine.io.filesystems.RetryPolicy`); the error after the
last attempt names the object and the number of attempts. For example::

    options:
      storage_options: {region: eu-west-1, retries: {attempts: 5, backoff: 0.5, max_backoff: 10}}

Writes never leave a half-written object: the frame is serialised to a local temporary file and
uploaded as one PUT, or as a multipart (resumable) upload that only becomes the object when it
completes and is aborted otherwise. A dataset write puts one object per partition (replacing the
previous object of that partition in one step), then removes the objects of the old dataset that
the new one does not have; when an upload fails, the error names the partitions that landed and
those that did not (which keep their old data), and nothing old is removed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import shutil
import tempfile
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from dynio.engine.deadlines import parse_timeouts
from dynio.engine.errors import (
    ConfigError,
    DynioError,
    ReadError,
    UnsupportedError,
    WriteError,
    first_line,
)
from dynio.engine.filters import columns_of
from dynio.engine.formats import Format, format_for
from dynio.engine.io.filesystems import (
    GaveUp,
    Location,
    Retrier,
    endpoint_of,
    error_for,
    filesystem,
    normalize_storage_options,
    parse_location,
    polars_options,
    polars_timeouts,
    retry_policy,
    secret_values,
)
from dynio.engine.placeholders import fill_template
from dynio.engine.progress import progress
from dynio.engine.sources import Scan, ScanRequest, WriteInfo, WriteRequest
from dynio.engine.sources.dataset import prune_partitions, scan_files
from dynio.engine.spec import SourceSpec, thaw
from dynio.engine.telemetry import annotate, carrier, client_span, redact, run_in_threads

__all__ = ["scan", "target_of", "write"]

_PREFIX_KINDS = frozenset({"s3_path_prefix", "gcs_path_prefix"})
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
# formats Polars reads straight from a store; the others are fetched first
_NATIVE = frozenset({"parquet", "csv", "ndjson", "ipc"})
_UTF8 = ("utf8", "utf-8", "utf-8-sig", "utf8-lossy")
_PLAN_ONLY = ("columns", "filters", "usecols", "storage_options")
_UPLOAD_WORKERS = 8
T = TypeVar("T")


def _format(spec: SourceSpec) -> Format:
    fmt = format_for(spec.format or "")
    if fmt is None:  # the loader guarantees a known format for file kinds
        raise ValueError(f"no format for source {spec!r}")
    return fmt


# --------------------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Target:
    """Where a resource lives: one object, or many (a prefix or a glob)."""

    location: Location
    dataset: bool


def _raw_url(spec: SourceSpec) -> str:
    s = spec.settings
    if spec.kind == "file":
        return str(s["uri"])
    scheme = "gs" if spec.kind.startswith("gcs") else "s3"
    bucket = _SCHEME_RE.sub("", str(s["bucket"]).strip()).strip("/")
    if spec.kind in _PREFIX_KINDS:
        # dynamicio's legacy form puts the prefix inside the bucket ("lake/data/in/"); joining
        # bucket and path covers it and the usual form alike
        path = str(s.get("dynamic_file_path") or s.get("path_prefix") or "").lstrip("/")
        url = f"{scheme}://{bucket}/{path}"
        if not s.get("dynamic_file_path") and not url.endswith("/"):
            url += "/"
        return url
    return f"{scheme}://{bucket}/{str(s['file_path']).lstrip('/')}"


def target_of(spec: SourceSpec, args: Mapping[str, Any], context: Mapping[str, Any]) -> Target:
    """The filled location of an object-store source and whether it names many objects."""
    if spec.settings.get("path_prefix") and spec.settings.get("dynamic_file_path"):
        raise ConfigError(
            "give either path_prefix or dynamic_file_path, not both",
            key_path=f"{spec.kind}.dynamic_file_path",
            **context,
        )
    text = fill_template(_raw_url(spec), args, {**context, "key_path": spec.kind})
    try:
        location = parse_location(text)
    except ValueError as exc:
        raise ConfigError(str(exc), key_path=spec.kind, **context) from exc
    dataset = spec.kind in _PREFIX_KINDS or location.is_glob or location.is_prefix
    return Target(location, dataset)


# ----------------------------------------------------------------------------------------- stores


# the object-store call (rpc.method) an action makes
_METHODS = {
    "read": "GetObject",
    "list": "ListObjects",
    "write": "PutObject",
    "delete": "DeleteObjects",
}


class _Store:
    """One location's backend: canonical storage options, the fsspec client, error translation."""

    def __init__(self, spec: SourceSpec, location: Location, context: Mapping[str, Any]) -> None:
        self.location = location
        self.backend = location.backend
        self.context = dict(context)
        raw = spec.options.get("storage_options")
        try:
            self.options = normalize_storage_options(thaw(raw) if raw else None, self.backend)
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
            raise self.error(exc, _where(self.location, what)) from exc

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
        if _not_found(exc) and self.backend.name in ("s3", "gcs", "azure"):
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


def _where(default: Location, what: str) -> Location:
    try:
        return parse_location(what)
    except ValueError:
        return default


def _not_found(exc: BaseException) -> bool:
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, FileNotFoundError):
            return True
        current = current.__cause__
    return False


@dataclass(frozen=True)
class _Object:
    """One object of a listing: its URL, size and path relative to the listed root, and what
    tells its version (ETag, generation) when known."""

    url: str
    size: int | None
    relative: str
    version: str | None = None


# a single object up to this size read by a footer (parquet, IPC) is fetched whole in one GET
WHOLE_OBJECT_BYTES = 16 * 2**20


def _whole(obj: _Object, fmt: Format) -> bool:
    return (
        fmt.name in ("parquet", "ipc") and obj.size is not None and obj.size <= WHOLE_OBJECT_BYTES
    )


def _version_of(info: Mapping[str, Any]) -> str | None:
    for key in ("ETag", "etag", "generation", "VersionId", "LastModified", "mtime", "updated"):
        if info.get(key) is not None:
            return f"{key}={info[key]}"
    return None


# ------------------------------------------------------------------------------------------ HTTP


def _http_request(store: _Store, url: str, method: str) -> urllib.request.Request:
    headers = {str(k): str(v) for k, v in dict(store.options.get("headers") or {}).items()}
    return urllib.request.Request(url, method=method, headers=headers)


def _http_head(store: _Store, location: Location) -> tuple[int | None, bool]:
    """Size and whether the server answers range requests (what Polars' native reader needs)."""

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


def _http_get(store: _Store, url: str, dest: Path) -> int:
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


# --------------------------------------------------------------------------------------- listing


def _bare(name: str) -> str:
    """An fsspec path without scheme or leading slash (``memory`` paths start with one)."""
    return name.split("://", 1)[-1].lstrip("/")


def _is_data(name: str, fmt: Format, by_extension: bool) -> bool:
    base = name.rsplit("/", 1)[-1]
    if not base or base.startswith((".", "_")):  # markers and temporaries: _SUCCESS, .x.tmp
        return False
    return not by_extension or base.lower().endswith(fmt.extensions)


def _listing(store: _Store, target: Target, fmt: Format) -> list[_Object]:
    """The data objects of a prefix or glob, sorted, empty ones left out."""
    loc = target.location
    if loc.backend.name == "http":
        raise UnsupportedError(
            "an HTTP location names one file; it cannot be listed as a prefix or glob",
            file=store.shown(loc.url),
            **store.context,
        )
    if loc.is_glob:
        found = store.call(lambda: store.fs.glob(loc.fs_path, detail=True), loc, action="list")
        root = loc.with_path(loc.glob_root)
    else:
        found = store.call(lambda: store.fs.find(loc.fs_path, detail=True), loc, action="list")
        root = loc
    prefix = f"{root.bucket}/{root.path}"
    objects = []
    for name, info in sorted(dict(found).items()):
        if info.get("type") == "directory" or name.endswith("/"):
            continue
        bare = _bare(name)
        if not _is_data(bare, fmt, by_extension=not loc.is_glob):
            continue
        size = info.get("size")
        if size == 0:
            continue  # an empty object holds no rows and would fail to parse
        relative = bare[len(prefix) :] if bare.startswith(prefix) else bare.rsplit("/", 1)[-1]
        url = f"{loc.scheme}://{bare}" if loc.backend.name != "memory" else f"memory://{bare}"
        objects.append(_Object(url, int(size) if size is not None else None, relative))
    if not objects:
        kind = "objects matching" if loc.is_glob else "objects under"
        raise ReadError(
            f"no {fmt.name} {kind} {store.shown(loc.url)}"
            + ("" if found else " (nothing is there)"),
            file=store.shown(loc.url),
            **store.context,
        )
    return objects


def _head(store: _Store, target: Target) -> tuple[_Object | None, bool]:
    """The single object a target names (size checked), or ``None`` when it is a prefix.

    Also says whether Polars can read it in place (for HTTP: whether the server does ranges).
    """
    loc = target.location
    if loc.backend.name == "http":
        size, ranges = _http_head(store, loc)
        obj = _Object(loc.url, size, loc.path.rsplit("/", 1)[-1])
        ranged = ranges and not store.options.get("headers")
    else:
        info = store.call(lambda: store.fs.info(loc.fs_path), loc, method="HeadObject")
        if info.get("type") == "directory":
            return None, True
        obj = _Object(loc.url, info.get("size"), loc.path.rsplit("/", 1)[-1], _version_of(info))
        ranged = loc.backend.polars
    if obj.size == 0:
        raise ReadError(
            f"object {store.shown(loc.url)} is empty", file=store.shown(loc.url), **store.context
        )
    return obj, ranged


# ------------------------------------------------------------------------------------------ reads


def _native(fmt: Format, options: Mapping[str, Any]) -> bool:
    if fmt.name not in _NATIVE:
        return False
    if fmt.name == "csv":
        encoding = str(options.get("encoding") or "utf8").lower().replace("_", "-")
        return encoding in _UTF8
    return True


def _download(store: _Store, objects: Sequence[_Object], folder: Path) -> list[str]:
    """Fetch objects into ``folder`` (keeping their relative paths), in parallel."""
    with progress(len(objects), f"fetching {len(objects)} files") as bar:

        def one(obj: _Object) -> str:
            dest = folder / (obj.relative or "data")
            dest.parent.mkdir(parents=True, exist_ok=True)
            where = parse_location(obj.url)

            def fetch() -> int:
                if store.backend.name == "http":
                    return _http_get(store, obj.url, dest)
                store.fs.get_file(where.fs_path, str(dest), **store.transfer_kwargs())
                return dest.stat().st_size

            size = store.call(fetch, where)
            bar.update(1, size)
            return str(dest)

        return run_in_threads(one, objects, max_workers=16)


def _read_local_copies(
    store: _Store,
    objects: Sequence[_Object],
    fmt: Format,
    options: Mapping[str, Any],
    request: ScanRequest,
    label: str,
) -> pl.LazyFrame:
    """Fetch the objects, read them locally, and keep the result in memory."""
    folder = Path(tempfile.mkdtemp(prefix="dynio-fetch-"))
    try:
        local = _download(store, objects, folder)
        names = {p: store.shown(o.url) for p, o in zip(local, objects, strict=True)}
        lazy = scan_files(
            local,
            fmt,
            options,
            request.hints,
            label=label,
            context=request.context,
            columns=request.columns,
            shown=lambda p: names.get(p, p),
        )
        have = lazy.collect_schema()
        if request.columns is not None:
            lazy = lazy.select([c for c in request.columns if c in have])
        if request.predicate is not None and set(columns_of(request.predicate)) <= set(have):
            lazy = lazy.filter(request.predicate)
        try:
            return lazy.collect().lazy()
        except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
            text = first_line(exc)
            raise ReadError(
                f"cannot read {fmt.name}: {text}", file=label, **request.context
            ) from exc
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def scan(spec: SourceSpec, request: ScanRequest) -> Scan:
    """A LazyFrame over the object(s) of a resource."""
    fmt = _format(spec)
    target = target_of(spec, request.template_args, request.context)
    store = _Store(spec, target.location, request.context)
    options = {k: v for k, v in thaw(spec.options).items() if k != "storage_options"}
    label = store.shown(target.location.url)
    native = _native(fmt, options) and target.location.backend.polars
    polars_storage = store.polars(native_retries=request.streaming)
    hints = dataclasses.replace(request.hints, storage_options=polars_storage or None)
    objects: list[_Object]
    dataset = target.dataset
    if not dataset:
        obj, ranged = _head(store, target)
        if obj is None:  # a "folder" named without its trailing slash
            dataset = True
            target = Target(target.location.child(""), True)
            label = store.shown(target.location.url)
        else:
            objects = [obj]
            native = native and ranged
            if native and not request.streaming and _whole(obj, fmt):
                native = False  # one GET: one version, and fewer requests than ranged reads
    if dataset:
        objects = _listing(store, target, fmt)
        kept = prune_partitions(
            [o.url for o in objects],
            [o.relative for o in objects],
            request.filters,
            request.hints.dtypes,
        )
        keep = set(kept)
        # when the filter excludes every partition, one object still gives the scan its
        # columns (the filter then yields no row)
        objects = [o for o in objects if o.url in keep] or objects[:1]
    if request.files is not None:  # one partition of the dataset
        objects = [o for o in objects if store.shown(o.url) in request.files]
    shown = {o.url: store.shown(o.url) for o in objects}
    if native:
        try:
            frame = scan_files(
                [o.url for o in objects],
                fmt,
                options,
                hints,
                label=label,
                context=request.context,
                columns=request.columns,
                optimistic=True,
                shown=lambda u: shown.get(u, u),
                retry=store.retry,
                stream=request.streaming,
            )
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise store.error(exc, target.location) from exc
    else:
        frame = _read_local_copies(store, objects, fmt, options, request, label)
    sizes = [o.size for o in objects if o.size is not None]
    store.annotate({"bytes": sum(sizes)} if len(sizes) == len(objects) else {})
    # Polars reads an object's footer when planning and its pages by the footer's offsets when
    # collecting: an object replaced in between is read from two versions. A read checks the
    # object's version afterwards, and the engine reads again when it changed.
    changed = None
    if native and not dataset and not request.streaming and fmt.name in ("parquet", "ipc"):
        changed = _version_check(store, target.location, objects[0].version)
    return Scan(
        frame=frame,
        location=label,
        files=tuple(shown[o.url] for o in objects),
        format=fmt.name,
        pushed={"projection": True, "predicates": True},
        changed=changed,
    )


def _version_check(
    store: _Store, location: Location, version: str | None
) -> Callable[[], bool] | None:
    """Whether the object at ``location`` is no longer at ``version`` (one HEAD request)."""
    if version is None:
        return None

    def changed() -> bool:
        with contextlib.suppress(Exception):
            store.fs.invalidate_cache(location.fs_path)
        try:
            with store.client("HeadObject", location):
                info = store.retrier.run(lambda: store.fs.info(location.fs_path), location.url)
        except Exception as exc:
            if _not_found(exc):  # removed since: read again (and say what is there now)
                return True
            raise store.error(exc, location) from exc
        return _version_of(info) != version

    return changed


# ----------------------------------------------------------------------------------------- writes


def _serialise(frame: pl.DataFrame, fmt: Format, options: Mapping[str, Any], dest: Path) -> int:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if fmt.write_path is not None:
        fmt.write_path(frame, str(dest), options)
    else:
        if fmt.write is None:
            raise WriteError(f"format {fmt.name!r} cannot be written")
        with open(dest, "wb") as fh:
            fmt.write(frame, fh, options)
    return dest.stat().st_size


def _upload(store: _Store, local: Path, location: Location) -> None:
    """One object, atomically: a single PUT, or a multipart upload completed or aborted."""
    kwargs: dict[str, Any] = {}
    block = store.options.get("block_size")
    if block is not None and store.backend.name in ("s3", "gcs"):
        kwargs["chunksize"] = int(block)
    kwargs.update(store.transfer_kwargs())
    with store.client("PutObject", location):
        store.retrier.run(
            lambda: store.fs.put_file(str(local), location.fs_path, **kwargs),
            location.url,
            action="write",
        )


def _check_writable(store: _Store, location: Location) -> None:
    if store.backend.name == "http":
        raise UnsupportedError(
            "HTTP locations are read-only", file=store.shown(location.url), **store.context
        )
    if location.is_glob:
        raise WriteError(
            "cannot write to a glob pattern", file=store.shown(location.url), **store.context
        )


def _part_value(value: Any) -> str:
    text = "__HIVE_DEFAULT_PARTITION__" if value is None else str(value)
    if "/" in text or "\\" in text or text in (".", ".."):
        raise WriteError(f"partition value {text!r} cannot be a folder name")
    return text


def _parts(
    frame: pl.DataFrame, partition_cols: Any, fmt: Format, name: str
) -> list[tuple[str, pl.DataFrame]]:
    if not partition_cols:
        return [(name, frame)]
    cols = [partition_cols] if isinstance(partition_cols, str) else list(partition_cols)
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise WriteError(f"partition_cols {missing} are not columns of the frame")
    out = []
    for key, part in frame.partition_by(cols, as_dict=True, include_key=False).items():
        folder = "/".join(f"{c}={_part_value(v)}" for c, v in zip(cols, key, strict=True))
        out.append((f"{folder}/{name}", part))
    return sorted(out, key=lambda item: item[0])


def _existing(store: _Store, root: Location, fmt: Format) -> list[str]:
    """The data objects of the dataset as it is now (to remove those the new one replaces)."""
    try:
        with store.client("ListObjects", root):
            found = store.retrier.run(lambda: store.fs.find(root.fs_path), root.url, action="list")
    except FileNotFoundError:
        return []
    except Exception as exc:
        raise store.error(exc, root, action="list", error=WriteError) from exc
    return [n for n in found if _is_data(_bare(n), fmt, by_extension=True)]


def _write_dataset(
    store: _Store,
    root: Location,
    frame: pl.DataFrame,
    fmt: Format,
    options: dict[str, Any],
    mode: str,
) -> WriteInfo:
    if not root.path.strip("/"):
        raise WriteError(
            "a dataset needs a prefix inside the bucket, not the bucket root",
            file=store.shown(root.url),
            **store.context,
        )
    root = root if root.path.endswith("/") else root.child("")
    partition_cols = options.pop("partition_cols", None)
    append = mode == "append"
    name = f"part-{uuid.uuid4().hex[:12] if append else '00000'}{fmt.extensions[0]}"
    parts = _parts(frame, partition_cols, fmt, name)
    old = [] if append else _existing(store, root, fmt)
    folder = Path(tempfile.mkdtemp(prefix="dynio-upload-"))
    try:
        sizes = {rel: _serialise(part, fmt, options, folder / rel) for rel, part in parts}
        with progress(len(parts), f"writing {len(parts)} files to {store.shown(root.url)}") as bar:

            def one(rel: str) -> BaseException | None:
                try:
                    _upload(store, folder / rel, root.child(rel))
                except Exception as exc:
                    return exc
                bar.update(1, sizes[rel])
                return None

            outcomes = run_in_threads(one, [rel for rel, _ in parts], max_workers=_UPLOAD_WORKERS)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    failed = [(rel, exc) for (rel, _), exc in zip(parts, outcomes, strict=True) if exc is not None]
    written = [root.child(rel) for rel, _ in parts]
    if failed:
        landed = [rel for (rel, _), exc in zip(parts, outcomes, strict=True) if exc is None]
        first = store.error(
            failed[0][1], root.child(failed[0][0]), action="write", error=WriteError
        )

        def folders(rels: Sequence[str]) -> str:
            shown = [r.rsplit("/", 1)[0] if "/" in r else r for r in rels]
            return ", ".join(shown) or "none"

        raise WriteError(
            f"{len(failed)} of {len(parts)} uploads failed; landed (new data): {folders(landed)};"
            f" not written (old data kept): {folders([r for r, _ in failed])}; no old object was"
            f" removed. First failure: {first.message}",
            file=store.shown(root.url),
            **store.context,
        ) from failed[0][1]
    new = {_bare(w.url) for w in written}
    stale = [o for o in old if _bare(o) not in new]
    if stale:
        try:
            with store.client("DeleteObjects", root):
                store.retrier.run(lambda: store.fs.rm(stale), root.url, action="delete")
        except Exception as exc:
            why = store.error(exc, root, action="delete").message
            raise WriteError(
                f"the new dataset landed, but {len(stale)} object(s) of the old one could not be"
                f" removed and would be read with it: {why}",
                file=store.shown(root.url),
                **store.context,
            ) from exc
    return WriteInfo(
        store.shown(root.url),
        frame.height,
        sum(sizes.values()),
        tuple(store.shown(w.url) for w in written),
    )


def write(frame: pl.DataFrame, spec: SourceSpec, request: WriteRequest) -> WriteInfo:
    """Write a frame to the object (or dataset prefix) of a resource, atomically per object."""
    fmt = _format(spec)
    target = target_of(spec, request.template_args, request.context)
    store = _Store(spec, target.location, request.context)
    options = {k: v for k, v in thaw(spec.options).items() if k not in _PLAN_ONLY}
    loc = target.location
    _check_writable(store, loc)
    store.annotate({})
    try:
        if target.dataset:
            return _write_dataset(store, loc, frame, fmt, options, request.mode)
        if request.mode == "append":
            raise UnsupportedError(
                "appending to one object is not possible; use a prefix (a dataset)",
                file=store.shown(loc.url),
                **store.context,
            )
        if options.get("partition_cols"):
            raise WriteError(
                f"partition_cols needs a prefix: use type {spec.kind.split('_')[0]}_path_prefix"
                " or a URI ending with '/'",
                file=store.shown(loc.url),
                **store.context,
            )
        with tempfile.TemporaryDirectory(prefix="dynio-upload-") as folder:
            local = Path(folder) / (loc.path.rsplit("/", 1)[-1] or "data")
            size = _serialise(frame, fmt, options, local)
            try:
                _upload(store, local, loc)
            except Exception as exc:
                raise store.error(exc, loc, action="write", error=WriteError) from exc
    except WriteError as exc:
        if exc.resource is None:
            raise WriteError(exc.message, file=store.shown(loc.url), **store.context) from exc
        raise
    except (OSError, ValueError, pl.exceptions.PolarsError) as exc:
        text = first_line(exc)
        raise WriteError(
            f"cannot write {fmt.name}: {redact(text, store.secrets)}",
            file=store.shown(loc.url),
            **store.context,
        ) from exc
    return WriteInfo(store.shown(loc.url), frame.height, size, (store.shown(loc.url),))


# ------------------------------------------------------------------ staged writes (from Dask)


def _staged_root(spec: SourceSpec, args: Mapping[str, Any], context: Mapping[str, Any]) -> Any:
    target = target_of(spec, args, context)
    if not target.dataset or target.location.is_glob:
        raise UnsupportedError(
            "a frame written partition by partition needs a dataset prefix"
            f" (type {spec.kind.split('_')[0]}_path_prefix or a URI ending with '/')",
            **context,
        )
    root = target.location if target.location.path.endswith("/") else target.location.child("")
    store = _Store(spec, root, context)
    _check_writable(store, root)
    return store, root


def _staging(root: Location, staging_id: str) -> Location:
    # beside the dataset's prefix, never under it: a reader listing the dataset never sees it
    return parse_location(f"{root.url.rstrip('/')}.dynio-staging-{staging_id}/")


def stage_part(
    frame: pl.DataFrame,
    spec: SourceSpec,
    args: Mapping[str, Any],
    context: Mapping[str, Any],
    staging_id: str,
    name: str,
) -> list[tuple[str, int]]:
    """Upload one part of a dataset (as ``name``, in hive folders when the options say) under
    the staging prefix ``staging_id`` beside the dataset; its relative keys and sizes."""
    store, root = _staged_root(spec, args, context)
    fmt = _format(spec)
    options = {k: v for k, v in thaw(spec.options).items() if k not in _PLAN_ONLY}
    parts = _parts(frame, options.pop("partition_cols", None), fmt, f"{name}{fmt.extensions[0]}")
    staging = _staging(root, staging_id)
    out = []
    with tempfile.TemporaryDirectory(prefix="dynio-upload-") as folder:
        for rel, part in parts:
            size = _serialise(part, fmt, options, Path(folder) / rel)
            try:
                _upload(store, Path(folder) / rel, staging.child(rel))
            except Exception as exc:
                raise store.error(
                    exc, staging.child(rel), action="write", error=WriteError
                ) from exc
            out.append((rel, size))
    return out


def discard_staged(
    spec: SourceSpec, args: Mapping[str, Any], context: Mapping[str, Any], staging_id: str
) -> None:
    """Remove a staging prefix (a write that did not commit); best effort."""
    store, root = _staged_root(spec, args, context)
    staging = _staging(root, staging_id)
    with contextlib.suppress(Exception):
        store.fs.rm(staging.fs_path, recursive=True)


def commit_staged(
    spec: SourceSpec,
    args: Mapping[str, Any],
    context: Mapping[str, Any],
    staging_id: str,
    staged: Sequence[tuple[str, int]],
    rows: int,
) -> WriteInfo:
    """Move the staged objects into the dataset (each copy atomic), then remove the objects of
    the old dataset the new one does not replace, and the staging prefix."""
    store, root = _staged_root(spec, args, context)
    fmt = _format(spec)
    staging = _staging(root, staging_id)
    old = _existing(store, root, fmt)

    def copy(rel: str) -> BaseException | None:
        src, dst = staging.child(rel), root.child(rel)
        try:
            store.retrier.run(
                lambda: store.fs.copy(src.fs_path, dst.fs_path), dst.url, action="write"
            )
        except Exception as exc:
            return exc
        return None

    outcomes = run_in_threads(copy, [rel for rel, _ in staged], max_workers=_UPLOAD_WORKERS)
    failed = [(rel, exc) for (rel, _), exc in zip(staged, outcomes, strict=True) if exc]
    if failed:
        first = store.error(failed[0][1], root.child(failed[0][0]), action="write")
        raise WriteError(
            f"{len(failed)} of {len(staged)} staged objects could not be moved into place; no old"
            f" object was removed. First failure: {first.message}",
            file=store.shown(root.url),
            **store.context,
        ) from failed[0][1]
    new = {_bare(root.child(rel).url) for rel, _ in staged}
    stale = [o for o in old if _bare(o) not in new]
    if stale:
        store.retrier.run(lambda: store.fs.rm(stale), root.url, action="delete")
    with contextlib.suppress(Exception):
        store.fs.rm(staging.fs_path, recursive=True)
    return WriteInfo(
        store.shown(root.url),
        rows,
        sum(size for _, size in staged),
        tuple(store.shown(root.child(rel).url) for rel, _ in staged),
    )
