"""Apache Iceberg tables: the ``iceberg`` kind.

YAML examples::

    trips:
      lake:                                      # small teams, tests: a SQL catalog
        type: iceberg
        iceberg:
          table: analytics.trips                 # namespace.name
          catalog:                               # pyiceberg catalog properties, as they are
            type: sql
            uri: sqlite:///catalog.db            # relative paths: beside this YAML file
            warehouse: warehouse                 # a folder, or s3://bucket/prefix
        options: {write_mode: upsert, key: [trip_id], partition_by: [day]}
      prod:                                      # production: a REST catalog (or glue)
        type: iceberg
        iceberg:
          table: analytics.trips
          catalog:
            type: rest
            uri: https://catalog.example.com
            credential: "[[ ICEBERG_CREDENTIAL ]]"   # secret-looking keys never reach logs
            warehouse: analytics

``catalog`` holds ``type`` (``sql``, ``rest`` or ``glue``), an optional ``name`` and the
properties pyiceberg's ``load_catalog`` takes (``s3.endpoint``, ``s3.access-key-id``,
``s3.secret-access-key`` … for a warehouse on S3).

Reads go through Polars' ``scan_iceberg`` (the filter goes to Iceberg's file planning and to the
Parquet scan; the columns too); the pushdown record names the snapshot read.
``cat.read("trips", snapshot_id=…)`` (or ``version=``) and ``as_of=<datetime>`` read older
snapshots. A write (``write_mode`` append, overwrite, or merge/upsert by ``key`` through
pyiceberg's upsert) is one catalog commit made after the engine's casts, rules and metrics
passed; a commit that finds the table changed by another writer is made again on the new
metadata, up to ``commit_retries`` times, then reported as a
:class:`~dynio.engine.errors.WriteError`: never lost, never half made. Columns the table lacks
are added only with ``schema_evolution: true`` (in the same commit).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Mapping
from datetime import UTC
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from dynio.engine.errors import (
    DynioError,
    MissingDependencyError,
    ReadError,
    SchemaError,
    WriteError,
    first_line,
)
from dynio.engine.sources import Pushdown, Scan, ScanRequest, TimeTravel, WriteInfo, WriteRequest
from dynio.engine.sources.sql import check_key
from dynio.engine.sources.tableformat import (
    WriteOptions,
    drift,
    restore,
    storable,
    write_options,
)
from dynio.engine.spec import SourceSpec, thaw
from dynio.engine.telemetry import annotate, redact, secrets_in

__all__ = ["scan", "write"]

_OPEN_ATTEMPTS = 3


def _pyiceberg(context: Mapping[str, Any]) -> Any:
    try:
        import pyiceberg.catalog
        import pyiceberg.exceptions
    except ImportError as exc:
        raise MissingDependencyError(
            "Iceberg tables need 'pyiceberg'", extra="iceberg", **context
        ) from exc
    return pyiceberg


def _local(text: str, base_dir: str | None) -> str:
    path = Path(text).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    return str(path)


def _properties(spec: SourceSpec) -> tuple[str, dict[str, str]]:
    """The catalog name and properties; relative SQLite files and warehouses beside the YAML."""
    raw = dict(thaw(spec.settings["catalog"]))
    name = str(raw.pop("name", "dynio"))
    props = {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in raw.items()}
    uri = props.get("uri", "")
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        tail = uri.removeprefix("sqlite:///")
        if tail and tail != ":memory:":
            props["uri"] = "sqlite:///" + _local(tail, spec.base_dir)
    warehouse = props.get("warehouse")
    if warehouse and "://" not in warehouse and props.get("type") == "sql":
        props["warehouse"] = "file://" + _local(warehouse, spec.base_dir)
    return name, props


class _Where:
    """The table's identifier, its catalog, and how errors show them."""

    def __init__(self, spec: SourceSpec, context: Mapping[str, Any]) -> None:
        self.identifier = str(spec.settings["table"])
        self.name, self.props = _properties(spec)
        self.secrets = secrets_in(self.props)
        self.context = context
        self.shown = f"iceberg://{self.name}/{self.identifier}"

    def catalog(self, *, write: bool = False) -> Any:
        pyiceberg = _pyiceberg(self.context)
        for attempt in range(_OPEN_ATTEMPTS):
            try:
                return pyiceberg.catalog.load_catalog(self.name, **self.props)
            except Exception as exc:  # any backend failure: a catalog that cannot be reached
                # a SQL catalog opened for the first time by two writers at once: both create
                # its tables, and the slower one finds them made
                if "already exists" in str(exc) and attempt + 1 < _OPEN_ATTEMPTS:
                    continue
                raise (WriteError if write else ReadError)(
                    f"cannot open the Iceberg catalog: {self.text(exc)}",
                    file=self.shown,
                    **self.context,
                ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def text(self, exc: BaseException) -> str:
        return redact(first_line(exc), self.secrets)

    def load(self, catalog: Any, *, write: bool) -> Any:
        """The table, or ``None`` for a write to a table not made yet."""
        pyiceberg = _pyiceberg(self.context)
        try:
            return catalog.load_table(self.identifier)
        except (
            pyiceberg.exceptions.NoSuchTableError,
            pyiceberg.exceptions.NoSuchNamespaceError,
        ) as exc:
            if write:
                return None
            raise ReadError("no Iceberg table there", file=self.shown, **self.context) from exc
        except Exception as exc:
            error = WriteError if write else ReadError
            raise error(
                f"cannot load the Iceberg table: {self.text(exc)}", file=self.shown, **self.context
            ) from exc


def _snapshot(table: Any, as_of: TimeTravel | None, where: _Where) -> int | None:
    """The snapshot id to read (``None``: the table has none yet)."""
    if as_of is None:
        current = table.current_snapshot()
        return int(current.snapshot_id) if current is not None else None
    if as_of.version is not None:
        if table.snapshot_by_id(as_of.version) is None:
            raise ReadError(
                f"the Iceberg table has no snapshot {as_of.version}",
                file=where.shown,
                **where.context,
            )
        return as_of.version
    stamp = as_of.timestamp
    assert stamp is not None  # TimeTravel holds one of the two
    millis = int((stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp() * 1000)
    found = table.snapshot_as_of_timestamp(millis)
    if found is None:
        raise ReadError(
            f"the Iceberg table has no snapshot at or before {stamp.isoformat()}",
            file=where.shown,
            **where.context,
        )
    return int(found.snapshot_id)


def _conditions() -> dict[str, Callable[..., Any]]:
    from pyiceberg import expressions as ex

    # pyiceberg's predicates take (column name, value) positionally at run time; their
    # annotations name bound terms and keyword values only, hence the plain callables
    in_: Callable[..., Any] = ex.In
    not_in: Callable[..., Any] = ex.NotIn
    is_null: Callable[..., Any] = ex.IsNull
    not_null: Callable[..., Any] = ex.NotNull
    compare: dict[str, Callable[..., Any]] = {
        "=": ex.EqualTo,
        "==": ex.EqualTo,
        "!=": ex.NotEqualTo,
        "<": ex.LessThan,
        "<=": ex.LessThanOrEqual,
        ">": ex.GreaterThan,
        ">=": ex.GreaterThanOrEqual,
    }
    return {
        **compare,
        "in": lambda c, v: in_(c, list(v)),
        "not in": lambda c, v: not_in(c, list(v)),
        "is null": lambda c, _: is_null(c),
        "is not null": lambda c, _: not_null(c),
    }


def _files_kept(table: Any, snapshot: int | None, request: ScanRequest, columns: list[str]) -> Any:
    """``(files, kept)`` of the snapshot for the filter's conditions on partition columns, as
    Iceberg's planning counts them, or ``None`` when they say nothing about partitions."""
    if snapshot is None or not request.filters or not columns:
        return None
    from pyiceberg import expressions as ex

    ops = _conditions()
    groups = []
    for group in request.filters:
        conds = [ops[op](c, v) for c, op, v in group if c in columns and op in ops]
        if not conds:
            return None  # this OR-branch may match any file
        groups.append(functools.reduce(ex.And, conds))
    with contextlib.suppress(Exception):  # a record only: a value Iceberg cannot compare
        total = table.snapshot_by_id(snapshot).summary.get("total-data-files")
        scan = table.scan(row_filter=functools.reduce(ex.Or, groups), snapshot_id=snapshot)
        return int(total) if total is not None else None, len(list(scan.plan_files()))
    return None


def scan(spec: SourceSpec, request: ScanRequest) -> Scan:
    """A LazyFrame over the table's current snapshot (or ``request.as_of``'s)."""
    where = _Where(spec, request.context)
    table = where.load(where.catalog(), write=False)
    snapshot = _snapshot(table, request.as_of, where)
    try:
        frame = pl.scan_iceberg(table, snapshot_id=snapshot)
        stored = frame.collect_schema()
    except Exception as exc:
        raise ReadError(
            f"cannot read the Iceberg table: {where.text(exc)}", file=where.shown, **request.context
        ) from exc
    drift(stored, request.hints.dtypes, where.shown, "iceberg")
    schema = table.schema()
    partitions = [schema.find_column_name(f.source_id) for f in table.spec().fields]
    details: dict[str, Any] = {"snapshot_id": snapshot, "partitions": partitions}
    counted = _files_kept(table, snapshot, request, partitions)
    if counted is not None:
        details["files"], details["files_kept"] = counted
    # Polars pushes the filter into the table's scan (file statistics, partitions)
    pushdown = Pushdown.whole(request.filter, **details)
    annotate({"dynio.table.snapshot_id": snapshot})
    return Scan(
        frame=restore(frame, stored, request.hints.dtypes),
        location=where.shown,
        format="iceberg",
        pushdown=pushdown,
    )


# ------------------------------------------------------------------------------------ writes


def _arrow(frame: pl.DataFrame, context: Mapping[str, Any]) -> pa.Table:
    data = storable(frame, "iceberg", context).to_arrow()
    fields = []
    for f in data.schema:
        typ = f.type
        if pa.types.is_time64(typ):
            typ = pa.time64("us")  # storable refused finer values
        elif pa.types.is_timestamp(typ) and typ.tz is not None:
            typ = pa.timestamp(typ.unit, "UTC")  # Iceberg keeps instants in UTC
        elif pa.types.is_string_view(typ):
            typ = pa.large_string()
        fields.append(pa.field(f.name, typ))
    return data.cast(pa.schema(fields))


def _create(catalog: Any, where: _Where, data: pa.Table, opts: WriteOptions) -> Any:
    """The table made and filled in one commit (the namespace made first when missing)."""
    namespace = where.identifier.rsplit(".", 1)[0]
    try:
        catalog.create_namespace_if_not_exists(namespace)
    except Exception:
        if not catalog.namespace_exists(namespace):
            raise
        # another writer made it between the check and the creation
    tx = catalog.create_table_transaction(where.identifier, schema=data.schema)
    if opts.partition_by:
        with tx.update_spec() as update:
            for column in opts.partition_by:
                update.add_identity(column)
    tx.append(data)
    return tx.commit_transaction()


def _commit_once(data: pa.Table, where: _Where, opts: WriteOptions) -> int:
    """One attempt: one catalog commit; returns the snapshot committed."""
    catalog = where.catalog(write=True)
    table = where.load(catalog, write=True)
    if table is None:
        table = _create(catalog, where, data, opts)
    else:
        have = table.schema().column_names
        new = [c for c in data.column_names if c not in have]
        if new and not opts.evolve:
            raise SchemaError(
                f"column(s) {new} are not in the Iceberg table (it has {have}); set"
                " options.schema_evolution: true to add them",
                column=new[0],
                file=where.shown,
                **where.context,
            )
        with table.transaction() as tx:
            if new:
                with tx.update_schema() as update:
                    update.union_by_name(data.schema)
            if opts.mode == "merge":
                tx.upsert(data, join_cols=list(opts.key))
            elif opts.mode == "overwrite":
                tx.overwrite(data)
            else:
                tx.append(data)
    current = table.current_snapshot()
    return int(current.snapshot_id) if current is not None else 0


def write(frame: pl.DataFrame, spec: SourceSpec, request: WriteRequest) -> WriteInfo:
    """Write the frame as one Iceberg commit (``write_mode`` append, overwrite or merge)."""
    context = request.context
    opts = write_options(spec, context)
    where = _Where(spec, context)
    pyiceberg = _pyiceberg(context)
    if opts.mode == "merge":
        check_key(frame, opts.key, context)
    data = _arrow(frame, context)
    # a concurrent commit: pyiceberg retries plain appends itself; an overwrite or upsert whose
    # rows another writer changed meanwhile fails its validation, and is made again here on
    # the table as it now is
    conflicts = (
        pyiceberg.exceptions.CommitFailedException,
        pyiceberg.exceptions.ValidationException,
        pyiceberg.exceptions.TableAlreadyExistsError,
    )
    for attempt in range(opts.retries + 1):
        try:
            snapshot = _commit_once(data, where, opts)
            break
        except DynioError:
            raise
        except conflicts as exc:
            if attempt < opts.retries:
                continue  # another writer committed first: load the table again and redo
            raise WriteError(
                f"the Iceberg commit lost to concurrent writers {opts.retries + 1} times;"
                f" nothing was committed ({where.text(exc)})",
                file=where.shown,
                **context,
            ) from exc
        except Exception as exc:
            raise WriteError(
                f"cannot write the Iceberg table: {where.text(exc)}", file=where.shown, **context
            ) from exc
    annotate({"dynio.table.snapshot_id": snapshot})
    return WriteInfo(location=where.shown, rows=frame.height)
