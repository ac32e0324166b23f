"""All-or-nothing dataset writes to object stores: staged objects and a commit record.

A dataset write to a prefix ``ds/`` goes in steps that each leave the dataset readable as a
whole, old or new:

1. every new object is uploaded under a staging prefix beside the dataset
   (``ds.dynio-staging-<id>/``, never listed as part of it);
2. the commit record ``ds/_dynio_commit.json`` (one PUT, atomic) names the staging prefix and its
   files: from that moment readers read the staged objects (the new dataset);
3. the staged objects are copied to their keys under ``ds/``, the old objects the new dataset
   does not have are removed, then the record and the staging prefix are removed.

A writer killed before step 2 leaves the old dataset as it was (its staged objects are
leftovers); killed during step 3, it leaves a record that readers honour (the new dataset), and
the next write, or ``dynio gc``, finishes the commit. The record's name starts with ``_`` so other
readers of the prefix (Spark, pyarrow) skip it; they see the old or the new objects except during
step 3 itself.

Leftovers of killed writers older than :data:`~dynio.engine.io.layout.folders.LEFTOVER_AGE`
(staging prefixes, unfinished multipart uploads) are removed by the next write of the dataset
and by :func:`clean`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from dynio.engine.errors import WriteError
from dynio.engine.io.filesystems.backends import Location, parse_location
from dynio.engine.io.filesystems.store import ObjectInfo, Store, bare, list_objects
from dynio.engine.io.formats import Format
from dynio.engine.io.layout.folders import LEFTOVER_AGE
from dynio.engine.io.layout.listing import data_names, data_objects
from dynio.engine.telemetry import run_in_threads

__all__ = [
    "RECORD",
    "STAGING",
    "clean",
    "commit_staged",
    "finish",
    "pending_objects",
    "read_record",
    "staging_of",
]

RECORD = "_dynio_commit.json"
STAGING = ".dynio-staging-"
_WORKERS = 8


def staging_of(root: Location, staging_id: str) -> Location:
    """The staging prefix of one write, beside the dataset's prefix (never under it)."""
    return parse_location(f"{root.url.rstrip('/')}{STAGING}{staging_id}/")


def read_record(store: Store, root: Location) -> dict[str, Any] | None:
    """The dataset's pending commit record, or ``None`` (the usual case: no commit under way).

    Raises:
        ReadError: The record cannot be read (translated, after retries).
    """
    where = root.child(RECORD)

    def get() -> bytes | None:
        try:
            data: bytes = store.fs.cat_file(where.fs_path)
        except FileNotFoundError:
            return None
        return data

    with contextlib.suppress(Exception):
        store.fs.invalidate_cache(where.fs_path)
    # a step of listing the dataset: a failure is told as one (naming the dataset)
    raw = store.call(get, root, action="list", method="GetObject")
    if raw is None:
        return None
    record: dict[str, Any] = json.loads(raw)
    return record


def _put_record(store: Store, root: Location, record: Mapping[str, Any]) -> None:
    where = root.child(RECORD)
    body = json.dumps(record).encode()
    with store.client("PutObject", where):
        store.retrier.run(
            lambda: store.fs.pipe_file(where.fs_path, body), where.url, action="write"
        )


def _existing(store: Store, root: Location, fmt: Format) -> list[str]:
    """The data objects under the dataset's prefix as they are now."""
    try:
        with store.client("ListObjects", root):
            found = store.retrier.run(lambda: store.fs.find(root.fs_path), root.url, action="list")
    except FileNotFoundError:
        return []
    except Exception as exc:
        raise store.error(exc, root, action="list", error=WriteError) from exc
    return data_names(found, fmt)


def finish(store: Store, root: Location, fmt: Format, record: Mapping[str, Any]) -> None:
    """Step 3 of a commit whose record is in place: copy the staged objects to their keys,
    remove the old objects the new dataset does not have, then the record and the staging
    prefix. Safe to run again (a killed commit is finished by the next writer).

    Raises:
        WriteError: An object could not be copied or removed (the record stays: readers keep
            reading the staged objects, and the next write finishes the commit).
    """
    staging = staging_of(root, str(record["staging"]))
    rels = [str(r) for r in record["files"]]
    old = [] if record.get("append") else _existing(store, root, fmt)

    def copy(rel: str) -> BaseException | None:
        src, dst = staging.child(rel), root.child(rel)
        try:
            store.retrier.run(
                lambda: store.fs.copy(src.fs_path, dst.fs_path), dst.url, action="write"
            )
        except Exception as exc:
            return exc
        return None

    outcomes = run_in_threads(copy, rels, max_workers=_WORKERS)
    failed = [(r, e) for r, e in zip(rels, outcomes, strict=True) if e is not None]
    if failed:
        first = store.error(failed[0][1], root.child(failed[0][0]), action="write")
        raise WriteError(
            f"{len(failed)} of {len(rels)} committed objects could not be moved into place;"
            " readers keep reading the new dataset from its staging prefix and the next write"
            f" finishes the commit. First failure: {first.message}",
            file=store.shown(root.url),
            **store.context,
        ) from failed[0][1]
    new = {bare(root.child(rel).url) for rel in rels}
    stale = [o for o in old if bare(o) not in new]
    try:
        if stale:
            store.retrier.run(lambda: store.fs.rm(stale), root.url, action="delete")
        where = root.child(RECORD)
        store.retrier.run(lambda: store.fs.rm_file(where.fs_path), where.url, action="delete")
    except Exception as exc:
        why = store.error(exc, root, action="delete").message
        raise WriteError(
            f"the new dataset landed, but the old one could not be cleared away: {why}",
            file=store.shown(root.url),
            **store.context,
        ) from exc
    with contextlib.suppress(Exception):
        store.fs.rm(staging.fs_path, recursive=True)


def commit_staged(
    store: Store,
    root: Location,
    fmt: Format,
    staging_id: str,
    staged: Sequence[tuple[str, int]],
    *,
    append: bool = False,
) -> tuple[int, list[str]]:
    """Commit objects uploaded under the staging prefix ``staging_id``: the record, then
    :func:`finish`, then the leftovers of killed writers. Bytes and the objects written."""
    rels = sorted(rel for rel, _ in staged)
    superseded = read_record(store, root)  # a killed writer's commit: this one replaces it
    record = {"staging": staging_id, "files": rels, "append": append, "created": time.time()}
    _put_record(store, root, record)
    finish(store, root, fmt, record)
    if superseded is not None and not superseded.get("append"):
        with contextlib.suppress(Exception):
            store.fs.rm(staging_of(root, str(superseded["staging"])).fs_path, recursive=True)
    with contextlib.suppress(Exception):  # a courtesy: the write itself succeeded
        clean(store, root, fmt)
    return sum(size for _, size in staged), [store.shown(root.child(rel).url) for rel in rels]


def pending_objects(
    store: Store, root: Location, fmt: Format, record: Mapping[str, Any]
) -> list[ObjectInfo]:
    """What a reader reads while a commit is under way: the staged objects (and, for an
    append, the objects already under the prefix that the commit does not replace)."""
    staging = staging_of(root, str(record["staging"]))
    rels = {str(r) for r in record["files"]}
    listed, _ = list_objects(store, staging)
    objects = [o for o in listed if o.relative in rels]
    if record.get("append"):
        current, _ = list_objects(store, root)
        objects += [o for o in current if o.relative not in rels]
    return data_objects(sorted(objects, key=lambda o: o.relative), fmt, by_extension=True)


def _age(info: Mapping[str, Any]) -> float | None:
    """Seconds since an object was last modified (``None``: the store does not say)."""
    stamp = info.get("LastModified") or info.get("mtime") or info.get("updated")
    if isinstance(stamp, datetime):
        return time.time() - stamp.timestamp()
    if isinstance(stamp, int | float):
        return time.time() - float(stamp)
    if isinstance(stamp, str):
        with contextlib.suppress(ValueError):
            return time.time() - datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    return None


def _listed(store: Store, root: Location, fn: Callable[[], Any]) -> Any:
    """``fn()`` (a listing) retried and translated; nothing there is an empty listing."""

    def attempt() -> Any:
        try:
            return fn()
        except FileNotFoundError:
            return []

    return store.call(attempt, root, action="list", error=WriteError)


def _old_staging(store: Store, root: Location, keep: str | None, older_than: float) -> list[str]:
    parent = root.url.rstrip("/").rsplit("/", 1)[0]
    name = root.url.rstrip("/").rsplit("/", 1)[1] + STAGING
    entries = _listed(store, root, lambda: store.fs.ls(parent, detail=False))
    out = []
    for entry in entries:
        base = bare(str(entry)).rstrip("/").rsplit("/", 1)[-1]
        if not base.startswith(name) or base[len(name) :] == keep:
            continue
        url = f"{parent}/{base}/"
        found = _listed(store, root, functools.partial(store.fs.find, url, detail=True))
        ages = [_age(info) for info in dict(found).values()]
        if all(a is not None and a > older_than for a in ages):
            out.append(url)
    return out


def _old_uploads(store: Store, root: Location, older_than: float) -> list[tuple[str, str]]:
    """Unfinished multipart uploads under the dataset or its staging prefixes (S3 only)."""
    lister = getattr(store.fs, "list_multipart_uploads", None)
    if lister is None:
        return []
    stem = root.path.rstrip("/")
    out = []
    for upload in _listed(store, root, lambda: lister(root.bucket)):
        key = str(upload.get("Key", ""))
        if not (key.startswith(stem + "/") or key.startswith(stem + STAGING)):
            continue
        age = _age({"LastModified": upload.get("Initiated")})
        if age is not None and age > older_than:
            out.append((key, str(upload["UploadId"])))
    return out


def clean(
    store: Store,
    root: Location,
    fmt: Format,
    *,
    older_than: float | None = None,
    dry_run: bool = False,
) -> list[str]:
    """Remove what killed writers of the dataset left, once older than ``older_than`` seconds:
    a pending commit is finished, staging prefixes no commit names are removed, unfinished
    multipart uploads aborted. Returns what was (with ``dry_run``: would be) removed or
    finished. ``older_than`` defaults to :data:`LEFTOVER_AGE`."""
    older_than = LEFTOVER_AGE if older_than is None else older_than
    done: list[str] = []
    record = read_record(store, root)
    if record is not None and time.time() - float(record.get("created", 0)) > older_than:
        done.append(f"the unfinished commit of {store.shown(root.url)} (finished)")
        if not dry_run:
            finish(store, root, fmt, record)
        record = None
    keep = str(record["staging"]) if record is not None else None
    for url in _old_staging(store, root, keep, older_than):
        done.append(store.shown(url))
        if not dry_run:
            with contextlib.suppress(Exception):
                store.fs.rm(url, recursive=True)
    for key, upload_id in _old_uploads(store, root, older_than):
        done.append(
            f"the unfinished upload of {store.shown(f'{root.scheme}://{root.bucket}/{key}')}"
        )
        if not dry_run:
            with contextlib.suppress(Exception):
                store.fs.abort_mpu(root.bucket, key, upload_id)
    return done
