"""Delta Lake tables: the ``delta`` kind.

YAML example::

    trips:
      sample:
        type: local
        local: {file_path: data/trips.parquet, file_type: parquet}
      lake:
        type: delta
        delta: {uri: s3://lake/tables/trips}       # or a local folder, relative to this YAML
        credentials: lake_rw                       # as for the object-store kinds
        options:
          write_mode: merge                        # append (default) | overwrite | merge
          key: [trip_id]                           # merge: update matched rows, insert the rest
          partition_by: [day]                      # when a write creates the table
          schema_evolution: false                  # true: a write may add columns to the table
          commit_retries: 5                        # a commit that lost a race is tried again

Reads go through Polars' ``scan_delta`` on the table's snapshot: the columns and the filter go
into the scan (Polars prunes partitions by their values and row groups by their statistics), and
the plan's pushdown record (``Result.info.pushed``) names the version read and how many of the
table's files the filter's partition conditions keep. ``cat.read("trips", version=3)`` and
``cat.read("trips", as_of="2026-01-31T00:00:00")`` read older versions. A table column whose
type disagrees with the schema is a :class:`~dynio.engine.sources.dataset.SchemaDriftWarning`
(and goes through the schema's casts); a schema column the table lacks is a
:class:`~dynio.engine.errors.SchemaError`.

A write is one Delta commit, made after the engine's casts, rules and metrics passed: the data
files are written first and the commit makes them visible at once, so a writer that dies at any
point leaves the table at its old version or its new one. A commit that loses a race with
another writer is tried again (``commit_retries``), then reported as a
:class:`~dynio.engine.errors.WriteError`. Columns the table lacks are refused unless
``schema_evolution: true``. The dtypes Delta lacks are stored as described in
:mod:`dynio.engine.sources.tableformat`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
import pyarrow as pa

from dynio.engine.errors import (
    ConfigError,
    DynioError,
    MissingDependencyError,
    ReadError,
    SchemaError,
    WriteError,
    first_line,
)
from dynio.engine.io.filesystems import (
    error_for,
    is_remote,
    normalize_storage_options,
    parse_location,
    polars_options,
    secret_values,
)
from dynio.engine.placeholders import fill_template
from dynio.engine.sources import Pushdown, Scan, ScanRequest, TimeTravel, WriteInfo, WriteRequest
from dynio.engine.sources.sql import check_key
from dynio.engine.sources.tableformat import (
    WriteOptions,
    drift,
    prune,
    restore,
    storable,
    write_options,
)
from dynio.engine.spec import SourceSpec, thaw
from dynio.engine.telemetry import annotate, redact

__all__ = ["scan", "write"]

T = TypeVar("T")


def _deltalake(context: Mapping[str, Any]) -> Any:
    try:
        import deltalake
    except ImportError as exc:
        raise MissingDependencyError(
            "Delta tables need 'deltalake'", extra="delta", **context
        ) from exc
    return deltalake


@dataclass(frozen=True)
class _Table:
    """Where a table is and how to reach it."""

    uri: str
    storage: dict[str, str]
    canonical: dict[str, Any]
    shown: str

    def fail(
        self,
        exc: BaseException,
        context: Mapping[str, Any],
        *,
        action: str,
        error: type[DynioError],
    ) -> DynioError:
        if is_remote(self.uri):
            return error_for(
                exc, parse_location(self.uri), self.canonical, context, action=action, error=error
            )
        text = redact(first_line(exc), secret_values(self.canonical))
        return error(f"cannot {action} the Delta table: {text}", file=self.shown, **context)


def _where(spec: SourceSpec, request: ScanRequest | WriteRequest) -> _Table:
    context = request.context
    text = fill_template(
        str(spec.settings["uri"]), request.template_args, {**context, "key_path": "delta.uri"}
    )
    if not is_remote(text):
        path = Path(text.removeprefix("file://")).expanduser()
        if not path.is_absolute() and spec.base_dir is not None:
            path = Path(spec.base_dir) / path
        return _Table(str(path), {}, {}, str(path))
    location = parse_location(text)
    raw = spec.options.get("storage_options")
    try:
        canonical = normalize_storage_options(thaw(raw) if raw else None, location.backend)
    except ValueError as exc:  # the loader checked them against the URI before its templates
        raise ConfigError(str(exc), key_path="options.storage_options", **context) from exc
    storage = polars_options(location.backend, canonical)
    return _Table(location.url, storage, canonical, redact(location.url, secret_values(canonical)))


def _open(
    table: _Table, as_of: TimeTravel | None, context: Mapping[str, Any], *, write: bool
) -> Any:
    """The ``DeltaTable`` (at ``as_of``), or ``None`` for a write to a table not made yet."""
    deltalake = _deltalake(context)
    try:
        dt = deltalake.DeltaTable(table.uri, storage_options=table.storage or None)
        if as_of is not None and as_of.version is not None:
            # asked for a version past the latest, delta-rs searches for minutes
            if not 0 <= as_of.version <= dt.version():
                raise ReadError(
                    f"the Delta table has no version {as_of.version} (the latest is"
                    f" {dt.version()})",
                    file=table.shown,
                    **context,
                )
            dt.load_as_version(as_of.version)
        if as_of is not None and as_of.timestamp is not None:
            stamp = as_of.timestamp
            stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
            dt.load_as_version(stamp)
            if dt.version() == 0 and _created_after(dt, stamp):
                raise ReadError(
                    f"the Delta table did not exist yet at {stamp.isoformat()}",
                    file=table.shown,
                    **context,
                )
        return dt
    except deltalake.exceptions.TableNotFoundError as exc:
        if write:
            return None
        raise ReadError("no Delta table there", file=table.shown, **context) from exc
    except (deltalake.exceptions.DeltaError, OSError, ValueError) as exc:
        if as_of is not None and "version" in str(exc).lower():
            raise ReadError(
                f"the Delta table has no such version ({first_line(exc)})",
                file=table.shown,
                **context,
            ) from exc
        raise table.fail(exc, context, action="read", error=ReadError) from exc


def _created_after(dt: Any, stamp: datetime) -> bool:
    """Whether the table's first commit is later than ``stamp`` (delta-rs then loads version 0
    all the same)."""
    first = dt.history()[-1].get("timestamp")
    return first is not None and int(first) > stamp.timestamp() * 1000


def _files_kept(dt: Any, request: ScanRequest) -> tuple[int, int | None]:
    """``(files, kept)``: how many files the table's snapshot has and how many of them the
    filter's partition conditions keep (``None`` when they say nothing about partitions)."""
    partitions = set(dt.metadata().partition_columns)
    if not partitions or not any(c[0] in partitions for g in request.filters or () for c in g):
        return len(dt.file_uris()), None
    # the partition values alone (the statistics columns would be converted for nothing)
    actions = pa.table(dt.get_add_actions(flatten=False)).select(["partition"])
    values = pl.DataFrame(pl.from_arrow(actions)).unnest("partition")
    return values.height, prune(values, request.filters, request.hints.dtypes)


def scan(spec: SourceSpec, request: ScanRequest) -> Scan:
    """A LazyFrame over the table's snapshot (the latest, or ``request.as_of``)."""
    context = request.context
    table = _where(spec, request)
    dt = _open(table, request.as_of, context, write=False)
    version = int(dt.version())
    frame = pl.scan_delta(dt)
    try:
        stored = frame.collect_schema()
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise ReadError(
            f"cannot read the Delta table's schema: {first_line(exc)}", file=table.shown, **context
        ) from exc
    wanted = request.hints.dtypes
    drift(stored, wanted, table.shown, "delta")
    total, kept = _files_kept(dt, request)
    # Polars pushes the filter into the table's scan (file statistics, partitions)
    pushdown = Pushdown.whole(
        request.filter,
        version=version,
        files=total,
        files_kept=total if kept is None else kept,
        partitions=list(dt.metadata().partition_columns),
    )
    annotate({"dynio.table.version": version, "dynio.table.files": total})
    return Scan(
        frame=restore(frame, stored, wanted),
        location=table.shown,
        format="delta",
        pushdown=pushdown,
    )


# ------------------------------------------------------------------------------------ writes


def _commit_failed(deltalake: Any, exc: BaseException) -> bool:
    if isinstance(exc, deltalake.exceptions.CommitFailedError):
        return True
    # a race: another commit took the version, or another first write made the table
    text = str(exc).lower()
    return any(w in text for w in ("conflict", "already exists", "concurrent"))


def _retrying(
    fn: Callable[[], T], opts: WriteOptions, table: _Table, context: Mapping[str, Any]
) -> T:
    deltalake = _deltalake(context)
    for attempt in range(opts.retries + 1):
        try:
            return fn()
        except DynioError:
            raise
        except Exception as exc:
            if _commit_failed(deltalake, exc) and attempt < opts.retries:
                continue  # another writer committed first: the table is read again
            if _commit_failed(deltalake, exc):
                raise WriteError(
                    f"the Delta commit lost to concurrent writers {opts.retries + 1} times;"
                    f" nothing was committed ({first_line(exc)})",
                    file=table.shown,
                    **context,
                ) from exc
            raise table.fail(exc, context, action="write", error=WriteError) from exc
    raise AssertionError("unreachable")  # pragma: no cover


def _check_columns(dt: Any, frame: pl.DataFrame, opts: WriteOptions, table: _Table,
                   context: Mapping[str, Any]) -> None:  # fmt: skip
    have = [f.name for f in dt.schema().fields]
    new = [c for c in frame.columns if c not in have]
    if new and not opts.evolve:
        raise SchemaError(
            f"column(s) {new} are not in the Delta table (it has {have}); set"
            " options.schema_evolution: true to add them",
            column=new[0],
            file=table.shown,
            **context,
        )
    if opts.partition_by:
        current = list(dt.metadata().partition_columns)
        if current != list(opts.partition_by):
            raise WriteError(
                f"the table is partitioned by {current}, the YAML says {list(opts.partition_by)}",
                key_path="options.partition_by",
                file=table.shown,
                **context,
            )


def _commit_once(frame: pl.DataFrame, table: _Table, opts: WriteOptions,
                 context: Mapping[str, Any]) -> int:  # fmt: skip
    """One attempt: one Delta commit; returns the version committed."""
    deltalake = _deltalake(context)
    dt = _open(table, None, context, write=True)
    data = frame.to_arrow()
    evolve = "merge" if opts.evolve else None
    if dt is None:  # the first write makes the table
        deltalake.write_deltalake(
            table.uri,
            data,
            mode="error",
            partition_by=list(opts.partition_by) or None,
            storage_options=table.storage or None,
        )
        return 0
    _check_columns(dt, frame, opts, table, context)
    if opts.mode == "merge":
        quoted = [k.replace('"', '""') for k in opts.key]
        on = " AND ".join(f't."{k}" = s."{k}"' for k in quoted)
        merger = dt.merge(data, on, source_alias="s", target_alias="t", merge_schema=opts.evolve)
        merger.when_matched_update_all().when_not_matched_insert_all().execute()
    else:
        deltalake.write_deltalake(dt, data, mode=opts.mode, schema_mode=evolve)
    return int(dt.version())


def write(frame: pl.DataFrame, spec: SourceSpec, request: WriteRequest) -> WriteInfo:
    """Write the frame as one Delta commit (``write_mode`` append, overwrite or merge)."""
    context = request.context
    opts = write_options(spec, context)
    table = _where(spec, request)
    if opts.mode == "merge":
        check_key(frame, opts.key, context)
    data = storable(frame, "delta", context)
    version = _retrying(lambda: _commit_once(data, table, opts, context), opts, table, context)
    annotate({"dynio.table.version": version})
    return WriteInfo(location=table.shown, rows=frame.height)
