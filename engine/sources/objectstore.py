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
completes and is aborted otherwise. A dataset write is all or nothing: its objects are staged
beside the dataset and committed at once (see :mod:`dynio.engine.io.layout.commits`); when an
upload fails nothing is committed and the error names the partitions that did and did not land.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from dynio.engine.errors import ConfigError, ReadError, UnsupportedError, WriteError, first_line
from dynio.engine.filters import columns_of
from dynio.engine.io.filesystems import Location, parse_location
from dynio.engine.io.filesystems.store import (
    ObjectInfo,
    Store,
    http_get,
    http_head,
    list_objects,
    not_found,
    version_of,
)
from dynio.engine.io.formats import Format, format_for
from dynio.engine.io.layout import commits, prune_partitions, write_dataset
from dynio.engine.io.layout import objects as object_layout
from dynio.engine.io.layout.commits import pending_objects, read_record
from dynio.engine.io.layout.listing import data_objects
from dynio.engine.io.layout.objects import ObjectCommit, check_writable, write_object
from dynio.engine.placeholders import fill_template
from dynio.engine.progress import progress
from dynio.engine.sources import Pushdown, Scan, ScanRequest, WriteInfo, WriteRequest
from dynio.engine.sources.dataset import scan_files
from dynio.engine.spec import SourceSpec, thaw
from dynio.engine.spec_settings import file_settings
from dynio.engine.telemetry import redact, run_in_threads

__all__ = [
    "commit_staged",
    "discard_staged",
    "gc",
    "scan",
    "stage_part",
    "target_of",
    "write",
]

_UTF8 = ("utf8", "utf-8", "utf-8-sig", "utf8-lossy")
_PLAN_ONLY = ("columns", "filters", "usecols", "storage_options")


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


def target_of(spec: SourceSpec, args: Mapping[str, Any], context: Mapping[str, Any]) -> Target:
    """The filled location of an object-store source and whether it names many objects."""
    settings = file_settings(spec)
    if settings.both_given:
        raise ConfigError(
            "give either path_prefix or dynamic_file_path, not both",
            key_path=f"{spec.kind}.dynamic_file_path",
            **context,
        )
    text = fill_template(settings.location(), args, {**context, "key_path": spec.kind})
    try:
        location = parse_location(text)
    except ValueError as exc:
        raise ConfigError(str(exc), key_path=spec.kind, **context) from exc
    dataset = settings.prefix or location.is_glob or location.is_prefix
    return Target(location, dataset)


# ----------------------------------------------------------------------------------------- stores


def _store(spec: SourceSpec, location: Location, context: Mapping[str, Any]) -> Store:
    raw = spec.options.get("storage_options")
    return Store(thaw(raw) if raw else None, location, context)


def _listing(store: Store, target: Target, fmt: Format) -> list[ObjectInfo]:
    """The data objects of a prefix or glob, sorted, empty ones left out."""
    loc = target.location
    if loc.backend.name == "http":
        raise UnsupportedError(
            "an HTTP location names one file; it cannot be listed as a prefix or glob",
            file=store.shown(loc.url),
            **store.context,
        )
    record = None if loc.is_glob else read_record(store, loc)
    if record is not None:  # a commit under way: the new dataset is the staged one
        objects = pending_objects(store, loc, fmt, record)
        found = True
    else:
        listed, found = list_objects(store, loc)
        objects = data_objects(listed, fmt, by_extension=not loc.is_glob)
    if not objects:
        kind = "objects matching" if loc.is_glob else "objects under"
        raise ReadError(
            f"no {fmt.name} {kind} {store.shown(loc.url)}"
            + ("" if found else " (nothing is there)"),
            file=store.shown(loc.url),
            **store.context,
        )
    return objects


# a single object up to this size read by a footer (parquet, IPC) is fetched whole in one GET
WHOLE_OBJECT_BYTES = 16 * 2**20


def _whole(obj: ObjectInfo, fmt: Format) -> bool:
    return fmt.capabilities.footer and obj.size is not None and obj.size <= WHOLE_OBJECT_BYTES


def _head(store: Store, target: Target) -> tuple[ObjectInfo | None, bool]:
    """The single object a target names (size checked), or ``None`` when it is a prefix.

    Also says whether Polars can read it in place (for HTTP: whether the server does ranges).
    """
    loc = target.location
    if loc.backend.name == "http":
        size, ranges = http_head(store, loc)
        obj = ObjectInfo(loc.url, size, loc.path.rsplit("/", 1)[-1])
        ranged = ranges and not store.options.get("headers")
    else:
        info = store.call(lambda: store.fs.info(loc.fs_path), loc, method="HeadObject")
        if info.get("type") == "directory":
            return None, True
        obj = ObjectInfo(loc.url, info.get("size"), loc.path.rsplit("/", 1)[-1], version_of(info))
        ranged = loc.backend.polars
    if obj.size == 0:
        raise ReadError(
            f"object {store.shown(loc.url)} is empty", file=store.shown(loc.url), **store.context
        )
    return obj, ranged


# ------------------------------------------------------------------------------------------ reads


def _native(fmt: Format, options: Mapping[str, Any]) -> bool:
    if not fmt.capabilities.native_remote:  # the others are fetched first
        return False
    if any(options.get(name) for name in fmt.capabilities.local_only_options):
        return False
    if fmt.capabilities.text:
        encoding = str(options.get("encoding") or "utf8").lower().replace("_", "-")
        return encoding in _UTF8
    return True


def _download(store: Store, objects: Sequence[ObjectInfo], folder: Path) -> list[str]:
    """Fetch objects into ``folder`` (keeping their relative paths), in parallel."""
    with progress(len(objects), f"fetching {len(objects)} files") as bar:

        def one(obj: ObjectInfo) -> str:
            dest = folder / (obj.relative or "data")
            dest.parent.mkdir(parents=True, exist_ok=True)
            where = parse_location(obj.url)

            def fetch() -> int:
                if store.backend.name == "http":
                    return http_get(store, obj.url, dest)
                store.fs.get_file(where.fs_path, str(dest), **store.transfer_kwargs())
                return dest.stat().st_size

            size = store.call(fetch, where)
            bar.update(1, size)
            return str(dest)

        return run_in_threads(one, objects, max_workers=16)


def _read_local_copies(
    store: Store,
    objects: Sequence[ObjectInfo],
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
        predicate = request.predicate
        if predicate is not None and _typed_as_filtered(predicate, request.hints.dtypes, have):
            lazy = lazy.filter(predicate)
        try:
            return lazy.collect().lazy()
        except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
            text = first_line(exc)
            raise ReadError(
                f"cannot read {fmt.name}: {text}", file=label, **request.context
            ) from exc
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _typed_as_filtered(
    predicate: pl.Expr, wanted: Mapping[str, pl.DataType], have: pl.Schema
) -> bool:
    """Whether ``predicate`` can run on the copies as read, before the plan's casts: every
    column it names is there, in the schema's dtype where the schema casts it (the filter's
    values are in those types). A text format may read as text a column the casts make a
    timestamp: the planner then filters after them, as it filters every scan."""
    names = set(columns_of(predicate))
    return names <= set(have) and all(c not in wanted or have[c] == wanted[c] for c in names)


def scan(spec: SourceSpec, request: ScanRequest) -> Scan:
    """A LazyFrame over the object(s) of a resource."""
    fmt = _format(spec)
    target = target_of(spec, request.template_args, request.context)
    store = _store(spec, target.location, request.context)
    options = {k: v for k, v in thaw(spec.options).items() if k != "storage_options"}
    label = store.shown(target.location.url)
    native = _native(fmt, options) and target.location.backend.polars
    polars_storage = store.polars(native_retries=request.streaming)
    hints = dataclasses.replace(request.hints, storage_options=polars_storage or None)
    objects: list[ObjectInfo]
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
    if native and not dataset and not request.streaming and fmt.capabilities.footer:
        changed = _version_check(store, target.location, objects[0].version)
    return Scan(
        frame=frame,
        location=label,
        files=tuple(shown[o.url] for o in objects),
        format=fmt.name,
        # the listing was pruned by the filter; Polars pushes the projection and the filter into
        # its scan of the objects (or of their local copies)
        pushdown=Pushdown.whole(request.filter, projection=True),
        changed=changed,
    )


def _version_check(
    store: Store, location: Location, version: str | None
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
            if not_found(exc):  # removed since: read again (and say what is there now)
                return True
            raise store.error(exc, location) from exc
        return version_of(info) != version

    return changed


def write(frame: pl.DataFrame, spec: SourceSpec, request: WriteRequest) -> WriteInfo:
    """Write a frame to the object (or dataset prefix) of a resource, atomically per object."""
    fmt = _format(spec)
    target = target_of(spec, request.template_args, request.context)
    store = _store(spec, target.location, request.context)
    options = {k: v for k, v in thaw(spec.options).items() if k not in _PLAN_ONLY}
    loc = target.location
    check_writable(store, loc)
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
        size = write_object(store, frame, fmt, options, loc)
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


def _write_dataset(
    store: Store,
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
    append = mode == "append"
    name = f"part-{uuid.uuid4().hex[:12] if append else '00000'}"
    commit = ObjectCommit(store, root, fmt, append=append)
    size, files = write_dataset(frame, fmt, options, commit, name)
    return WriteInfo(store.shown(root.url), frame.height, size, tuple(files))


# ------------------------------------------------------------------ staged writes (from Dask)


def _staged_root(
    spec: SourceSpec, args: Mapping[str, Any], context: Mapping[str, Any]
) -> tuple[Store, Location]:
    target = target_of(spec, args, context)
    if not target.dataset or target.location.is_glob:
        raise UnsupportedError(
            "a frame written partition by partition needs a dataset prefix"
            f" (type {spec.kind.split('_')[0]}_path_prefix or a URI ending with '/')",
            **context,
        )
    root = target.location if target.location.path.endswith("/") else target.location.child("")
    store = _store(spec, root, context)
    check_writable(store, root)
    return store, root


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
    options = {k: v for k, v in thaw(spec.options).items() if k not in _PLAN_ONLY}
    return object_layout.stage_part(store, root, frame, _format(spec), options, staging_id, name)


def discard_staged(
    spec: SourceSpec, args: Mapping[str, Any], context: Mapping[str, Any], staging_id: str
) -> None:
    """Remove a staging prefix (a write that did not commit); best effort."""
    store, root = _staged_root(spec, args, context)
    object_layout.discard_staged(store, root, staging_id)


def commit_staged(
    spec: SourceSpec,
    args: Mapping[str, Any],
    context: Mapping[str, Any],
    staging_id: str,
    staged: Sequence[tuple[str, int]],
    rows: int,
) -> WriteInfo:
    """Commit the staged objects as the dataset, all at once (see
    :mod:`dynio.engine.io.layout.commits`)."""
    store, root = _staged_root(spec, args, context)
    size, files = commits.commit_staged(store, root, _format(spec), staging_id, staged)
    return WriteInfo(store.shown(root.url), rows, size, tuple(files))


def gc(
    spec: SourceSpec, context: Mapping[str, Any], *, older_than: float, dry_run: bool = False
) -> list[str]:
    """Clean what killed writers of the resource's dataset left (see
    :func:`dynio.engine.io.layout.commits.clean`); what was removed or finished."""
    target = target_of(spec, {}, context)
    loc = target.location
    if not target.dataset or loc.is_glob or loc.backend.name == "http":
        return []  # a single object is put in one step: nothing is staged for it
    root = loc if loc.path.endswith("/") else loc.child("")
    store = _store(spec, root, context)
    return commits.clean(store, root, _format(spec), older_than=older_than, dry_run=dry_run)
