"""dynamicio's S3 mixins: ``type: s3``/``s3_file`` and ``type: s3_path_prefix``.

Objects are read and written by dynio's engine over its object-store layer (one put or a
completed multipart upload per object, retries and deadlines included).
"""

from __future__ import annotations

from typing import ClassVar

from dynio.compat.dynamicio.mixins.base import SourceMixin

__all__ = ["WithS3File", "WithS3PathPrefix"]


class WithS3File(SourceMixin):
    """Reads and writes ``type: s3`` (or ``s3_file``) resources: one object."""

    source_types: ClassVar[frozenset[str]] = frozenset({"s3", "s3_file"})


class WithS3PathPrefix(SourceMixin):
    """Reads and writes ``type: s3_path_prefix`` resources: the objects under a prefix
    (``partition_cols`` writes hive partitions)."""

    source_types: ClassVar[frozenset[str]] = frozenset({"s3_path_prefix"})
