"""Object-store prefixes: one object put atomically, a dataset's objects uploaded then the old
ones removed, and datasets staged part by part (from Dask) under a prefix beside them.

Writes never leave a half-written object: a file is serialised to a local temporary file and
uploaded as one PUT, or as a multipart (resumable) upload that only becomes the object when it
completes and is aborted otherwise. A dataset write puts one object per partition (replacing the
previous object of that partition in one step), then removes the objects of the old dataset that
the new one does not have; when an upload fails, the error names the partitions that landed and
those that did not (which keep their old data), and nothing old is removed.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from dynio.engine.errors import UnsupportedError, WriteError
from dynio.engine.formats import Format
from dynio.engine.io.filesystems.backends import Location, parse_location
from dynio.engine.io.filesystems.store import Store, bare
from dynio.engine.io.layout.listing import data_names
from dynio.engine.io.layout.write import serialise, write_parts
from dynio.engine.progress import progress
from dynio.engine.telemetry import run_in_threads

__all__ = [
    "ObjectCommit",
    "check_writable",
    "commit_staged",
    "discard_staged",
    "stage_part",
    "upload",
    "write_object",
]

_UPLOAD_WORKERS = 8


def upload(store: Store, local: Path, location: Location) -> None:
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


def check_writable(store: Store, location: Location) -> None:
    """Refuse a write to a read-only store (HTTP) or to a glob."""
    if store.backend.name == "http":
        raise UnsupportedError(
            "HTTP locations are read-only", file=store.shown(location.url), **store.context
        )
    if location.is_glob:
        raise WriteError(
            "cannot write to a glob pattern", file=store.shown(location.url), **store.context
        )


def write_object(
    store: Store, frame: pl.DataFrame, fmt: Format, options: Mapping[str, Any], loc: Location
) -> int:
    """Serialise a frame and put it as one object; its size in bytes."""
    with tempfile.TemporaryDirectory(prefix="dynio-upload-") as folder:
        local = Path(folder) / (loc.path.rsplit("/", 1)[-1] or "data")
        size = serialise(frame, fmt, options, local)
        try:
            upload(store, local, loc)
        except Exception as exc:
            raise store.error(exc, loc, action="write", error=WriteError) from exc
    return size


def _existing(store: Store, root: Location, fmt: Format) -> list[str]:
    """The data objects of the dataset as it is now (to remove those the new one replaces)."""
    try:
        with store.client("ListObjects", root):
            found = store.retrier.run(lambda: store.fs.find(root.fs_path), root.url, action="list")
    except FileNotFoundError:
        return []
    except Exception as exc:
        raise store.error(exc, root, action="list", error=WriteError) from exc
    return data_names(found, fmt)


def _folders(rels: Sequence[str]) -> str:
    shown = [r.rsplit("/", 1)[0] if "/" in r else r for r in rels]
    return ", ".join(shown) or "none"


def _remove_stale(store: Store, root: Location, old: Sequence[str], new: Sequence[str]) -> None:
    """Remove the objects of the old dataset that the new one did not replace."""
    kept = {bare(n) for n in new}
    stale = [o for o in old if bare(o) not in kept]
    if not stale:
        return
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


@dataclass
class ObjectCommit:
    """A dataset prefix's :class:`~dynio.engine.io.layout.write.Commit`: staged in a local
    temporary folder, uploaded in parallel, then the old objects not replaced removed
    (``append`` keeps them)."""

    store: Store
    root: Location
    fmt: Format
    append: bool = False
    durable: bool = False
    _folder: Path | None = field(default=None, init=False)

    def stage(self) -> Path:
        self._folder = Path(tempfile.mkdtemp(prefix="dynio-upload-"))
        return self._folder

    def discard(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)

    def publish(self, sizes: Mapping[str, int]) -> tuple[int, list[str]]:
        store, root, folder = self.store, self.root, self._folder
        if folder is None:
            raise WriteError("nothing was staged", file=store.shown(root.url), **store.context)
        rels = sorted(sizes)
        try:
            old = [] if self.append else _existing(store, root, self.fmt)
            outcomes = self._upload_all(folder, rels, sizes)
        finally:
            self.discard()
        failed = [(rel, exc) for rel, exc in zip(rels, outcomes, strict=True) if exc is not None]
        if failed:
            landed = [rel for rel, exc in zip(rels, outcomes, strict=True) if exc is None]
            rel, cause = failed[0]
            first = store.error(cause, root.child(rel), action="write", error=WriteError)
            raise WriteError(
                f"{len(failed)} of {len(rels)} uploads failed; landed (new data):"
                f" {_folders(landed)}; not written (old data kept):"
                f" {_folders([r for r, _ in failed])}; no old object was removed. First failure:"
                f" {first.message}",
                file=store.shown(root.url),
                **store.context,
            ) from cause
        written = [root.child(rel).url for rel in rels]
        _remove_stale(store, root, old, written)
        return sum(sizes.values()), [store.shown(w) for w in written]

    def _upload_all(
        self, folder: Path, rels: Sequence[str], sizes: Mapping[str, int]
    ) -> list[BaseException | None]:
        store, root = self.store, self.root
        with progress(len(rels), f"writing {len(rels)} files to {store.shown(root.url)}") as bar:

            def one(rel: str) -> BaseException | None:
                try:
                    upload(store, folder / rel, root.child(rel))
                except Exception as exc:
                    return exc
                bar.update(1, sizes[rel])
                return None

            return run_in_threads(one, list(rels), max_workers=_UPLOAD_WORKERS)


# ------------------------------------------------------------------ staged writes (from Dask)


def _staging(root: Location, staging_id: str) -> Location:
    # beside the dataset's prefix, never under it: a reader listing the dataset never sees it
    return parse_location(f"{root.url.rstrip('/')}.dynio-staging-{staging_id}/")


def stage_part(
    store: Store,
    root: Location,
    frame: pl.DataFrame,
    fmt: Format,
    options: Mapping[str, Any],
    staging_id: str,
    name: str,
) -> list[tuple[str, int]]:
    """Upload one part of a dataset (as ``name``, in hive folders when the options say) under
    the staging prefix ``staging_id`` beside the dataset; its relative keys and sizes."""
    staging = _staging(root, staging_id)
    out = []
    with tempfile.TemporaryDirectory(prefix="dynio-upload-") as folder:
        sizes = write_parts(Path(folder), frame, fmt, options, name)
        for rel, size in sorted(sizes.items()):
            try:
                upload(store, Path(folder) / rel, staging.child(rel))
            except Exception as exc:
                raise store.error(
                    exc, staging.child(rel), action="write", error=WriteError
                ) from exc
            out.append((rel, size))
    return out


def discard_staged(store: Store, root: Location, staging_id: str) -> None:
    """Remove a staging prefix (a write that did not commit); best effort."""
    staging = _staging(root, staging_id)
    with contextlib.suppress(Exception):
        store.fs.rm(staging.fs_path, recursive=True)


def commit_staged(
    store: Store,
    root: Location,
    fmt: Format,
    staging_id: str,
    staged: Sequence[tuple[str, int]],
) -> tuple[int, list[str]]:
    """Move the staged objects into the dataset (each copy atomic), then remove the objects of
    the old dataset the new one does not replace, and the staging prefix."""
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
    new = {bare(root.child(rel).url) for rel, _ in staged}
    stale = [o for o in old if bare(o) not in new]
    if stale:
        store.retrier.run(lambda: store.fs.rm(stale), root.url, action="delete")
    with contextlib.suppress(Exception):
        store.fs.rm(staging.fs_path, recursive=True)
    return sum(size for _, size in staged), [store.shown(root.child(rel).url) for rel, _ in staged]
