"""dynamicio's Kafka mixin: ``type: kafka``, handled by dynio's ``kafka`` source kind."""

from __future__ import annotations

from typing import ClassVar

from dynio.compat.dynamicio.mixins.base import SourceMixin

__all__ = ["WithKafka"]


class WithKafka(SourceMixin):
    """Reads and writes ``type: kafka`` resources through the engine like any other kind."""

    source_types: ClassVar[frozenset[str]] = frozenset({"kafka"})
