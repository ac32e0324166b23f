"""Object-store prefixes: one object put atomically, a dataset written all or nothing.

Writes never leave a half-written object: a file is serialised to a local temporary file and
uploaded as one PUT, or as a multipart (resumable) upload that only becomes the object when it
completes and is aborted otherwise. A dataset write uploads its objects (one per partition)
under a staging prefix beside the dataset, then commits them at once (see
:mod:`~dynio.engine.io.layout.commits`); when an upload fails, nothing is committed, the error
names the partitions that landed (staged, never read) and those that did not, and nothing old is
removed. Dask writes stage their parts the same way, one task each, and commit once.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from dynio.engine.errors import UnsupportedError, WriteError
from dynio.engine.io.filesystems.backends import Location
from dynio.engine.io.filesystems.store import Store
from dynio.engine.io.formats import Format
from dynio.engine.io.layout.commits import commit_staged, staging_of
from dynio.engine.io.layout.write import serialise, write_parts
from dynio.engine.progress import progress
from dynio.engine.telemetry import run_in_threads

__all__ = [
    "ObjectCommit",
    "check_writable",
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


def _folders(rels: Sequence[str]) -> str:
    shown = [r.rsplit("/", 1)[0] if "/" in r else r for r in rels]
    return ", ".join(shown) or "none"


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
        staging_id = uuid.uuid4().hex[:16]
        staging = staging_of(root, staging_id)
        try:
            outcomes = self._upload_all(folder, staging, rels, sizes)
        finally:
            self.discard()
        failed = [(rel, exc) for rel, exc in zip(rels, outcomes, strict=True) if exc is not None]
        if failed:
            with contextlib.suppress(Exception):  # best effort: a later write cleans the rest
                store.fs.rm(staging.fs_path, recursive=True)
            landed = [rel for rel, exc in zip(rels, outcomes, strict=True) if exc is None]
            rel, cause = failed[0]
            first = store.error(cause, root.child(rel), action="write", error=WriteError)
            raise WriteError(
                f"{len(failed)} of {len(rels)} uploads failed; nothing was committed (readers"
                f" keep the old dataset); landed (new data): {_folders(landed)}; not written"
                f" (old data kept): {_folders([r for r, _ in failed])}; no old object was"
                f" removed. First failure: {first.message}",
                file=store.shown(root.url),
                **store.context,
            ) from cause
        staged = [(rel, sizes[rel]) for rel in rels]
        return commit_staged(store, root, self.fmt, staging_id, staged, append=self.append)

    def _upload_all(
        self, folder: Path, staging: Location, rels: Sequence[str], sizes: Mapping[str, int]
    ) -> list[BaseException | None]:
        store, root = self.store, self.root
        with progress(len(rels), f"writing {len(rels)} files to {store.shown(root.url)}") as bar:

            def one(rel: str) -> BaseException | None:
                try:
                    upload(store, folder / rel, staging.child(rel))
                except Exception as exc:
                    return exc
                bar.update(1, sizes[rel])
                return None

            return run_in_threads(one, list(rels), max_workers=_UPLOAD_WORKERS)


# ------------------------------------------------------------------ staged writes (from Dask)


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
    staging = staging_of(root, staging_id)
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
    staging = staging_of(root, staging_id)
    with contextlib.suppress(Exception):
        store.fs.rm(staging.fs_path, recursive=True)
