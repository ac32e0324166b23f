"""What every mixin shares: the source types it stands for."""

from __future__ import annotations

from typing import ClassVar

__all__ = ["DYNAMICIO_TYPES", "SourceMixin", "mixin_types"]

# the source types dynamicio's mixins covered; other types (dynio's own kinds) need no mixin
DYNAMICIO_TYPES = frozenset(
    {"local", "local_batch", "s3", "s3_file", "s3_path_prefix", "postgres", "kafka", "athena"}
)


class SourceMixin:
    """Base of the mixins: ``source_types`` names the YAML ``type`` values a mixin covers."""

    source_types: ClassVar[frozenset[str]] = frozenset()


def mixin_types(cls: type) -> frozenset[str]:
    """Every source type the mixins of ``cls`` cover."""
    covered: set[str] = set()
    for klass in cls.__mro__:
        if issubclass(klass, SourceMixin):
            covered |= klass.__dict__.get("source_types", frozenset())
    return frozenset(covered)
