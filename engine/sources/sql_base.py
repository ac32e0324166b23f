"""The relation scan and the write statements PostgreSQL and DuckDB share.

A SQL source names a *relation* (a quoted table, or ``(query) AS "q"``) and a way to run a
statement with bound values; :func:`relation_scan` makes the lazy frame over it: the columns the
plan needs in the ``SELECT``, the part of the filter the dialect computes exactly in the
``WHERE`` (:meth:`dynio.engine.filters.Filter.to_sql`), a count for a scan projecting nothing,
Polars' row limit as ``LIMIT``, and the :class:`~dynio.engine.sources.Pushdown` record saying
which conditions went into the SQL. The write side shares the upsert statement
(:func:`merge_sql`) and the check of an existing table's columns (:func:`missing_columns`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
import pyarrow as pa

from dynio.engine.errors import ConfigError, WriteError
from dynio.engine.filter_sql import Dialect, SqlWhere, compile_sql, quote_ident
from dynio.engine.sources import Pushdown, ScanRequest
from dynio.engine.sources.sql import deferred_frame, empty_columns, to_polars

__all__ = [
    "RelationScan",
    "merge_sql",
    "missing_columns",
    "query_relation",
    "relation_scan",
]

# runs one statement with its bound values and returns its rows
Run = Callable[[str, Sequence[Any]], pa.Table]
# a source's own way to fetch some columns (``(columns, "LIMIT n" or "")``), e.g. in parallel
Select = Callable[[list[str], str], pa.Table]


def query_relation(text: str, key_path: str, context: Mapping[str, Any]) -> str:
    """The relation of a ``sql_query``: the query without its final ``;``, as a subquery.

    Raises:
        ConfigError: The query is empty.
    """
    query = text.strip().rstrip(";").strip()
    if not query:
        raise ConfigError("sql_query is empty", key_path=key_path, **context)
    return f"({query}) AS {quote_ident('q')}"


@dataclass(frozen=True)
class RelationScan:
    """A relation's lazy frame, what was pushed into its SQL, and the function the frame
    fetches with (alive as long as a plan holding the frame is)."""

    frame: pl.LazyFrame
    where: SqlWhere
    pushdown: Pushdown
    fetch: Callable[[list[str], int | None], pl.DataFrame]


def relation_scan(
    relation: str,
    source: pl.Schema,
    request: ScanRequest,
    dialect: Dialect,
    run: Run,
    *,
    location: str,
    relation_params: Sequence[Any] = (),
    select: Callable[[SqlWhere], Select | None] | None = None,
    **details: Any,
) -> RelationScan:
    """The lazy frame over ``relation`` whose columns are ``source``; the SQL runs when the
    frame is collected.

    Args:
        relation: The quoted table or subquery.
        source: The relation's columns as Polars reads them.
        request: The planner's request (columns, filter, target dtypes).
        dialect: How the database spells the filter.
        run: Runs a statement with its bound values.
        location: The redacted location, for the plan's explanation.
        relation_params: Values the relation itself binds (before the filter's).
        select: Given the compiled ``WHERE``, a source's own fetch of the columns (``None``:
            a plain ``SELECT`` through ``run``).
        details: The source's own record for :attr:`Pushdown.details`.
    """
    columns = (
        [c for c in request.columns if c in source]
        if request.columns is not None
        else source.names()
    )
    declared = pl.Schema([(c, source[c]) for c in columns])
    # (a request made without the planner may carry the tuple form only)
    groups = request.filter.groups if request.filter is not None else request.filters
    first = len(relation_params) + 1
    compiled = compile_sql(groups or (), dialect, source, request.hints.dtypes, first_param=first)
    where = f" WHERE {compiled.where}" if compiled.where else ""
    params = [*relation_params, *compiled.params]
    own = select(compiled) if select is not None else None

    def fetch(wanted: list[str], limit: int | None) -> pl.DataFrame:
        tail = f" LIMIT {int(limit)}" if limit is not None else ""
        if not wanted:
            sql = f"SELECT count(*) AS n FROM (SELECT 1 FROM {relation}{where}{tail}) AS c"
            return empty_columns(int(run(sql, params).column(0)[0].as_py()))
        if own is not None:
            table = own(wanted, tail)
        else:
            names = ", ".join(quote_ident(c) for c in wanted)
            table = run(f"SELECT {names} FROM {relation}{where}{tail}", params)
        return to_polars(table, pl.Schema([(c, declared[c]) for c in wanted]))

    frame = deferred_frame(columns, declared, fetch, name=dialect.name, detail=location)
    pushdown = Pushdown.sql(request.filter, compiled, projection=True, **details)
    return RelationScan(frame, compiled, pushdown, fetch)


def merge_sql(target: str, stage: str, columns: Sequence[str], key: Sequence[str]) -> str:
    """The upsert of a staged relation's rows into ``target`` (``INSERT … ON CONFLICT``),
    from quoted identifiers only."""
    cols = ", ".join(quote_ident(c) for c in columns)
    updates = [c for c in columns if c not in key]
    action = (
        "DO UPDATE SET "
        + ", ".join(f"{quote_ident(c)} = EXCLUDED.{quote_ident(c)}" for c in updates)
        if updates
        else "DO NOTHING"
    )
    keys = ", ".join(quote_ident(k) for k in key)
    return f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {stage} ON CONFLICT ({keys}) {action}"


def missing_columns(
    columns: Sequence[str], existing: Collection[str] | None, mode: str, where: Mapping[str, Any]
) -> None:
    """Refuse to add rows with columns an existing table lacks (a ``replace`` makes it anew).

    Raises:
        WriteError: Names the first missing column and the table's columns.
    """
    if existing is None or mode == "replace":
        return
    missing = [c for c in columns if c not in existing]
    if missing:
        raise WriteError(
            f"the table has no column(s) {missing}; it has {list(existing)}",
            column=missing[0],
            **where,
        )
