"""File-based kinds as one source: a filesystem × a format × a layout.

Every file kind (``local``, ``local_batch``, ``file``, ``s3``/``s3_file``/``s3_path_prefix``,
``gcs``/``gcs_path_prefix``) is served by this module, the registry's one entry point for
files. Which filesystem holds the data decides who reads and writes it: the local disk
(:mod:`dynio.engine.sources.local`) or an object store reached through
:mod:`dynio.engine.io.filesystems` (:mod:`dynio.engine.sources.objectstore`; S3, GCS, Azure,
HTTP(S), ``memory://``). A ``file`` URI is told by its scheme, through the filesystems'
registry (:func:`~dynio.engine.io.filesystems.is_remote`). Both share the layouts of
:mod:`dynio.engine.io.layout` (single file, dataset, hive partitions) and the formats of
:mod:`dynio.engine.io.formats`.

YAML examples::

    trips:
      local:
        type: file
        file: {uri: "file:///srv/data/trips.parquet"}
      remote:
        type: file
        file: {uri: "s3://lake/trips/"}       # a prefix: a dataset
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, cast

import polars as pl

from dynio.engine.io.filesystems import is_remote
from dynio.engine.sources import Scan, ScanRequest, SourceModule, WriteInfo, WriteRequest
from dynio.engine.spec import SourceSpec
from dynio.engine.spec_settings import file_settings

__all__ = [
    "OBJECT_STORE_KINDS",
    "filesystem_module",
    "gc",
    "on_object_store",
    "scan",
    "write",
]

# kinds whose data always lives in an object store (their YAML names a bucket)
OBJECT_STORE_KINDS = frozenset({"s3", "s3_file", "s3_path_prefix", "gcs", "gcs_path_prefix"})

_LOCAL = "dynio.engine.sources.local"
_OBJECTS = "dynio.engine.sources.objectstore"


def on_object_store(spec: SourceSpec) -> bool:
    """Whether a file source's data lives in an object store (else on the local disk)."""
    if spec.kind in OBJECT_STORE_KINDS:
        return True
    return spec.kind == "file" and is_remote(file_settings(spec).location())


def filesystem_module(spec: SourceSpec) -> SourceModule:
    """The module reading and writing a file source on its filesystem (imported on first use)."""
    return cast(
        SourceModule, importlib.import_module(_OBJECTS if on_object_store(spec) else _LOCAL)
    )


def scan(spec: SourceSpec, request: ScanRequest) -> Scan:
    """A LazyFrame over the file(s) of a resource, on whichever filesystem holds them."""
    return filesystem_module(spec).scan(spec, request)


def write(frame: pl.DataFrame, spec: SourceSpec, request: WriteRequest) -> WriteInfo:
    """Write a frame to the file (or dataset) of a resource, atomically, on its filesystem."""
    return filesystem_module(spec).write(frame, spec, request)


def gc(
    spec: SourceSpec, context: Mapping[str, Any], *, older_than: float, dry_run: bool = False
) -> list[str]:
    """Remove what killed writers of a file source left (older than ``older_than`` seconds):
    hidden temporary files and folders on a disk; staging prefixes, unfinished commits and
    multipart uploads on an object store. What was (``dry_run``: would be) removed."""
    if on_object_store(spec):
        from dynio.engine.sources import objectstore

        return objectstore.gc(spec, context, older_than=older_than, dry_run=dry_run)
    from dynio.engine.sources import local

    return local.gc(spec, context, older_than=older_than, dry_run=dry_run)
