"""dynamicio's Postgres mixin: ``type: postgres``.

Reads go through dynio's Postgres source (Arrow, no ORM model needed); writes run in one
transaction, so a failed write leaves the table as it was.
"""

from __future__ import annotations

from typing import ClassVar

from dynio.compat.dynamicio.mixins.base import SourceMixin

__all__ = ["WithPostgres"]


class WithPostgres(SourceMixin):
    """Reads and writes ``type: postgres`` resources (a table, or ``sql_query`` on read)."""

    source_types: ClassVar[frozenset[str]] = frozenset({"postgres"})
