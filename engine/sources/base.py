"""The pushdown record: what a source took over of a read, and what the engine applies after.

Pushdown is a negotiation. The planner asks a source for the columns it needs and hands it the
read's filter (:attr:`~dynio.engine.sources.ScanRequest.filter`, parsed once); the source takes
what it can (a Parquet scan takes the whole filter, a SQL source the conditions its dialect
computes exactly, a message log none) and answers with a :class:`Pushdown`. The engine always
applies the whole filter again after the scan, so a source that takes part of it reads more
rows, never wrong ones; the record says what went where, on the result
(:attr:`dynio.engine.execute.Result.pushdown`) and on the ``dynio.read``/``dynio.scan`` spans
(``dynio.filters.pushed``, ``dynio.filters.residual``, ``dynio.pushdown.projection``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dynio.engine.errors import TemplateError
from dynio.engine.filter_sql import SqlWhere
from dynio.engine.filters import Filter

__all__ = ["Pushdown", "TimeTravel"]


@dataclass(frozen=True)
class Pushdown:
    """What a source took over of a read.

    Attributes:
        projection: The source reads only the columns the plan asked for.
        pushed: The part of the filter the source applied (``None``: none of it). For a SQL
            source, the conditions in its ``WHERE`` clause.
        residual: The part of the filter the source did not apply, which only the engine's own
            filter after the scan applies (``None``: none is left). A filter partly pushed has
            both.
        details: The source's own record: the version of a table read (``version``), files
            pruned (``files``, ``files_kept``), the partition columns, the fetch path (``path``),
            the engine (``engine``).
    """

    projection: bool = False
    pushed: Filter | None = None
    residual: Filter | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def whole(cls, filter: Filter | None, *, projection: bool = True, **details: Any) -> Pushdown:
        """The source applied all of the filter."""
        return cls(projection, filter, None, details)

    @classmethod
    def nothing(cls, filter: Filter | None, *, projection: bool = True, **details: Any) -> Pushdown:
        """The source applied none of the filter."""
        return cls(projection, None, filter, details)

    @classmethod
    def sql(
        cls, filter: Filter | None, where: SqlWhere, *, projection: bool = True, **details: Any
    ) -> Pushdown:
        """A SQL source's answer: the conditions of its ``WHERE`` clause were pushed."""
        if filter is None:
            return cls(projection, None, None, details)
        pushed, residual = filter.split(where.pushed if where.where else ())
        return cls(projection, pushed, residual, details)

    @property
    def partial(self) -> bool:
        """Part of the filter was pushed and part was not."""
        return self.pushed is not None and self.residual is not None

    def as_dict(self) -> dict[str, Any]:
        """The mapping form: ``projection``, ``predicates`` (the whole filter was pushed) and
        the details."""
        whole = self.pushed is not None and self.residual is None
        return {"projection": self.projection, "predicates": whole, **self.details}


@dataclass(frozen=True)
class TimeTravel:
    """Which version of a table format's table to read (a call argument, never YAML).

    Attributes:
        version: A Delta table version, or an Iceberg snapshot id.
        timestamp: The table as it was at this moment (timezone-naive means UTC).
    """

    version: int | None = None
    timestamp: datetime | None = None

    @classmethod
    def from_args(
        cls, args: Mapping[str, Any], names: frozenset[str], context: Mapping[str, Any]
    ) -> TimeTravel | None:
        """The time travel the call arguments ``names`` (``version``/``snapshot_id``, ``as_of``)
        ask for, or ``None``.

        Raises:
            TemplateError: A value of the wrong type, or both a version and a timestamp.
        """
        given = {k: v for k, v in args.items() if k in names and v is not None}
        if not given:
            return None
        versions = [v for k, v in given.items() if k != "as_of"]
        if len(versions) > 1 or (versions and "as_of" in given):
            raise TemplateError(
                f"give one of {sorted(names)} to travel in time, got {sorted(given)}", **context
            )
        version = versions[0] if versions else None
        if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
            raise TemplateError(f"a table version must be an integer, got {version!r}", **context)
        stamp = given.get("as_of")
        if isinstance(stamp, str):
            try:
                stamp = datetime.fromisoformat(stamp)
            except ValueError as exc:
                raise TemplateError(
                    f"as_of must be a datetime or ISO-8601 text, got {stamp!r}", **context
                ) from exc
        if stamp is not None and not isinstance(stamp, datetime):
            raise TemplateError(
                f"as_of must be a datetime or ISO-8601 text, got {type(stamp).__name__}",
                **context,
            )
        return cls(version=version, timestamp=stamp)
