"""dynamicio's Athena mixin: ``type: athena``, handled by dynio's ``athena`` source kind."""

from __future__ import annotations

from typing import ClassVar

from dynio.compat.dynamicio.mixins.base import SourceMixin

__all__ = ["WithAthena"]


class WithAthena(SourceMixin):
    """Reads ``type: athena`` resources through the engine like any other kind."""

    source_types: ClassVar[frozenset[str]] = frozenset({"athena"})
