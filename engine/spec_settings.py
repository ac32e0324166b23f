"""Typed, frozen settings of the file kinds: the one place that knows their YAML keys.

A file kind's section (``local: {file_path: ...}``, ``s3: {bucket: ..., path_prefix: ...}``,
``file: {uri: ...}``) is read here into a :class:`FileSettings`; the sources, the planner's
template checks and the telemetry's location ask it (:meth:`FileSettings.location`,
:attr:`FileSettings.local_keys`) instead of reading keys from the mapping. File kinds hold no
secret in their sections (credentials live in ``options.storage_options``, whose secret keys
:mod:`dynio.engine.secrets` knows): :data:`SECRET_FIELDS` says so, and the registry's
``Field(secret=True)`` marks the secret keys of the other kinds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dynio.engine.spec import SourceSpec

__all__ = ["FILE_KINDS", "SECRET_FIELDS", "FileSettings", "file_settings"]

# the kinds whose section names files, and the object-store scheme of those that name a bucket
FILE_KINDS: dict[str, str | None] = {
    "local": None,
    "local_batch": None,
    "file": None,
    "s3": "s3",
    "s3_file": "s3",
    "s3_path_prefix": "s3",
    "gcs": "gs",
    "gcs_path_prefix": "gs",
}
_PREFIX_KINDS = frozenset({"s3_path_prefix", "gcs_path_prefix", "local_batch"})
SECRET_FIELDS: tuple[str, ...] = ()
"""Keys of a file kind's section holding secrets: none."""

_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


@dataclass(frozen=True)
class FileSettings:
    """A file kind's section.

    Attributes:
        kind: The source kind.
        key: The key naming the location (``file_path``, ``path_prefix``,
            ``dynamic_file_path`` or ``uri``).
        path: Its text, as written (a ``{placeholder}`` template, a glob, a URI).
        bucket: The bucket of an S3/GCS kind (its scheme stripped), else ``None``.
        both_given: Both ``path_prefix`` and ``dynamic_file_path`` were given (an error where
            the location is used).
    """

    kind: str
    key: str
    path: str
    bucket: str | None = None
    both_given: bool = False

    @property
    def scheme(self) -> str | None:
        """The object store of a bucket kind (``s3``, ``gs``), else ``None``."""
        return FILE_KINDS.get(self.kind)

    @property
    def prefix(self) -> bool:
        """The kind names a set of files (a folder, prefix or pattern) whatever its path."""
        return self.kind in _PREFIX_KINDS

    @property
    def local_keys(self) -> tuple[str, ...]:
        """The keys whose values are local paths (filled templates must stay in their folder)."""
        return () if self.bucket is not None else (self.key,)

    def location(self) -> str:
        """The location as a template: a local path or URI as written, or a bucket's URL."""
        if self.bucket is None:
            return self.path
        path = self.path.lstrip("/")
        url = f"{self.scheme}://{self.bucket}/{path}"
        if self.kind in ("s3_path_prefix", "gcs_path_prefix"):
            # dynamicio's legacy form puts the prefix inside the bucket ("lake/data/in/");
            # joining bucket and path covers it and the usual form alike
            pattern = self.key == "dynamic_file_path" and self.path
            return url if pattern or url.endswith("/") else url + "/"
        return url

    def local_path(self) -> str:
        """The location of a local source as a path template (``file://`` stripped)."""
        return self.path.removeprefix("file://")


def file_settings(spec: SourceSpec) -> FileSettings:
    """The typed settings of a file kind's source.

    Raises:
        ValueError: The kind is not a file kind.
    """
    kind, s = spec.kind, spec.settings
    if kind not in FILE_KINDS:
        raise ValueError(f"{kind!r} is not a file kind")
    both = bool(s.get("path_prefix")) and bool(s.get("dynamic_file_path"))
    if kind == "file":
        key = "uri"
    elif kind in _PREFIX_KINDS:
        key = "path_prefix" if s.get("path_prefix") else "dynamic_file_path"
    else:
        key = "file_path"
    bucket = None
    if FILE_KINDS[kind] is not None:
        bucket = _SCHEME_RE.sub("", str(s["bucket"]).strip()).strip("/")
    return FileSettings(kind, key, str(s.get(key) or ""), bucket, both)
