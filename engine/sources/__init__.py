"""The source registry: what each source kind's YAML section holds and which module serves it.

Every kind is one :class:`SourceKind` entry: the keys of its YAML section (checked when a catalog
loads), the dotted path of the module that reads and writes it (imported on first use), and the
extra to install when that module needs an optional dependency. Every source module has the same
shape (:class:`SourceModule`): ``scan(spec, request) -> Scan`` and
``write(frame, spec, request) -> WriteInfo``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import polars as pl

from dynio.engine.errors import MissingDependencyError, UnsupportedError
from dynio.engine.filters import Filter
from dynio.engine.io.formats import ScanHints
from dynio.engine.sources.base import Pushdown, TimeTravel
from dynio.engine.spec import SourceSpec

__all__ = [
    "KINDS",
    "Field",
    "Pushdown",
    "Scan",
    "ScanFunction",
    "ScanRequest",
    "SourceKind",
    "SourceModule",
    "TimeTravel",
    "WriteInfo",
    "WriteRequest",
    "all_kinds",
    "kind_for",
    "load_module",
    "register_kind",
    "scan_function",
    "unregister_kind",
]


@dataclass(frozen=True)
class Field:
    """One key of a source section: its type and whether it must be present."""

    type: type
    required: bool = False
    secret: bool = False


@dataclass(frozen=True)
class ScanRequest:
    """What the planner asks a source for.

    Attributes:
        resource: Resource name (for errors).
        env: Environment name (for errors).
        template_args: Values for ``{name}`` fields in paths.
        columns: Columns the plan needs from the source, or ``None`` for all.
        hints: Target dtypes and storage options that help readers.
        predicate: The row filter as a Polars expression (already in the schema's dtypes).
        filters: The same filter in tuple form, OR of ANDs of ``(column, op, value)``, when the
            caller gave it that way (``None`` for a Polars expression); what SQL sources push
            into ``WHERE``.
        schema_name: The schema's ``name``; SQL sources name their table after it by default.
        streaming: The frame stays lazy with the caller (``Catalog.scan``), who may stream it
            larger than memory: a source keeps its native scan as it is (reading collected in
            steps under dynio's retries would hold a step in memory) and leaves transient
            retries of the reading to the reader's own client.
        as_of: The version of a table-format table to read (``version=``/``as_of=`` call
            arguments of the kinds that take them, see :attr:`SourceKind.call_args`).
        files: Only these of the files the source matches (as :attr:`Scan.files` names them),
            for a read of one partition of a dataset (``Catalog.to_dask``); ``None``: all.
        filter: The row filter, parsed once by the planner: ``predicate`` and ``filters`` are
            its Polars and tuple forms, :meth:`~dynio.engine.filters.Filter.to_sql` its SQL.
        filled: Settings whose ``{placeholder}`` template the planner filled already (key ->
            text; local paths, which it checks for symlinks out of their folder): a source
            takes these instead of filling its template again.

    Pushdown is a negotiation: the planner always applies ``predicate`` after the scan (so a
    source may push all, part or none of it), and the source says in :attr:`Scan.pushdown` what
    it took.
    """

    resource: str
    env: str
    template_args: Mapping[str, Any] = field(default_factory=dict)
    columns: tuple[str, ...] | None = None
    hints: ScanHints = field(default_factory=ScanHints)
    predicate: pl.Expr | None = None
    filters: tuple[tuple[tuple[str, str, Any], ...], ...] | None = None
    schema_name: str | None = None
    streaming: bool = False
    as_of: TimeTravel | None = None
    files: tuple[str, ...] | None = None
    filter: Filter | None = None
    filled: Mapping[str, str] = field(default_factory=dict)

    @property
    def context(self) -> dict[str, Any]:
        """Error context naming resource and environment."""
        return {"resource": self.resource, "env": self.env}


@dataclass(frozen=True)
class Scan:
    """What a source returns: the lazy frame and what it did.

    Attributes:
        frame: The LazyFrame over the source (no casts yet).
        location: Where it reads from, with any secret redacted.
        files: The files matched (empty for non-file sources).
        format: The data format name, if any.
        pushdown: What the source took over (:class:`Pushdown`: projection, the part of the
            filter pushed and the part left to the engine, the source's details); ``None``:
            nothing (the engine applies the projection and the whole filter).
        changed: Whether the data was replaced since the scan was made (``None``: the source
            cannot tell). A reader holds on to a file's footer between planning and reading, so
            a file replaced in between is read inconsistently; the engine reads again when this
            says the files changed under a read.
        release: Called once the frame was collected (or the read failed): a source may hold
            the version it planned on (an open file) until then. Only for reads, never for a
            streaming scan (see :attr:`ScanRequest.streaming`).
        read_paths: The paths the frame reads when they are not :attr:`files` themselves (a
            local file held open since planning is read through its ``/proc/self/fd`` path,
            the very version planned on); empty: :attr:`files`. Another reader of the same
            read (the mixed read path's pyarrow) opens these, so both read one version.
    """

    frame: pl.LazyFrame
    location: str
    files: tuple[str, ...] = ()
    format: str | None = None
    pushdown: Pushdown | None = None
    changed: Callable[[], bool] | None = field(default=None, repr=False, compare=False)
    release: Callable[[], None] | None = field(default=None, repr=False, compare=False)
    read_paths: tuple[str, ...] = field(default=(), repr=False, compare=False)

    def pushdown_for(self, filter: Filter | None) -> Pushdown:
        """The source's record; a source that gave none took nothing of the read."""
        if self.pushdown is not None:
            return self.pushdown
        return Pushdown.nothing(filter, projection=False)


@dataclass(frozen=True)
class WriteRequest:
    """What the engine asks a source to write."""

    resource: str
    env: str
    template_args: Mapping[str, Any] = field(default_factory=dict)
    mode: str = "overwrite"
    schema_name: str | None = None

    @property
    def context(self) -> dict[str, Any]:
        """Error context naming resource and environment."""
        return {"resource": self.resource, "env": self.env}


@dataclass(frozen=True)
class WriteInfo:
    """What a write did: where it went, rows and bytes written, files created."""

    location: str
    rows: int
    bytes: int | None = None
    files: tuple[str, ...] = ()


ScanFunction = Callable[[SourceSpec, ScanRequest], Scan]


class SourceModule(Protocol):
    """The contract every source module fulfils."""

    def scan(self, spec: SourceSpec, request: ScanRequest) -> Scan:
        """Build a LazyFrame over the source for the request."""
        ...

    def write(self, frame: pl.DataFrame, spec: SourceSpec, request: WriteRequest) -> WriteInfo:
        """Write the frame to the source atomically."""
        ...


@dataclass(frozen=True)
class SourceKind:
    """A source kind of the YAML.

    Attributes:
        name: The ``type`` value in YAML.
        fields: Keys of the kind's section.
        one_of: Groups of keys of which exactly one must be present.
        module: Dotted path of the module serving it, or ``None`` when not available yet.
        section: The YAML section holding its keys (dynamicio names ``local_batch``'s ``local``
            and ``s3_file``/``s3_path_prefix``'s ``s3``); the kind's own name is accepted too.
        extra: The ``dynio[...]`` extra its module needs, if any.
        file_based: Whether it reads files (its section names a ``file_type``/format).
        options: Option names accepted for non-file kinds (file kinds take their format's);
            ``None`` accepts any (kinds whose options go straight to a client library).
        planned: For kinds without a module: which release brings them (for the error).
        check: ``"module:function"`` checking option values when the catalog loads, called as
            ``function(spec, schema_columns, context)``; the module must import no driver.
        storage: For non-file kinds that reach an object store and take its options
            (``options.storage_options``, ``credentials:``): the storage backend (``"s3"`` for
            Athena's results), or ``"uri"`` when the kind's ``uri`` setting names it (Delta).
        call_args: Call arguments the kind takes besides ``{placeholder}`` values (time travel:
            ``version``, ``as_of``); they reach the source as :attr:`ScanRequest.as_of`.
        engines: Other scans of the kind, chosen by ``options: {engine: <name>}``: name ->
            ``"module:function"`` with the ``scan`` signature (:func:`scan_function`).
    """

    name: str
    fields: Mapping[str, Field]
    module: str | None
    one_of: tuple[tuple[str, ...], ...] = ()
    extra: str | None = None
    file_based: bool = True
    options: frozenset[str] | None = frozenset()
    planned: str = "a later release"
    section: str = ""
    check: str | None = None
    storage: str | None = None
    call_args: frozenset[str] = frozenset()
    engines: Mapping[str, str] = field(default_factory=dict)

    @property
    def sections(self) -> tuple[str, ...]:
        """The section names accepted in YAML, the dynamicio one first."""
        return tuple(dict.fromkeys([self.section or self.name, self.name]))


_S = Field(str)
_S_REQ = Field(str, required=True)
_FILE_ENGINES = {"duckdb": "dynio.engine.sources.duckdb:scan_files"}  # options: {engine: duckdb}

KINDS: dict[str, SourceKind] = {
    k.name: k
    for k in [
        SourceKind(
            "local",
            {"file_path": _S_REQ, "file_type": _S},
            "dynio.engine.sources.files",
            engines=_FILE_ENGINES,
        ),
        SourceKind(
            "local_batch",
            {"path_prefix": _S, "dynamic_file_path": _S, "file_type": _S_REQ},
            "dynio.engine.sources.files",
            one_of=(("path_prefix", "dynamic_file_path"),),
            section="local",
            engines=_FILE_ENGINES,
        ),
        SourceKind(
            "file",
            {"uri": _S_REQ, "format": _S},
            "dynio.engine.sources.files",
            engines=_FILE_ENGINES,
        ),
        SourceKind(
            "s3",
            {"bucket": _S_REQ, "file_path": _S_REQ, "file_type": _S},
            "dynio.engine.sources.files",
            extra="s3",
        ),
        SourceKind(
            "s3_file",
            {"bucket": _S_REQ, "file_path": _S_REQ, "file_type": _S},
            "dynio.engine.sources.files",
            extra="s3",
            section="s3",
        ),
        # path_prefix or dynamic_file_path, or neither in dynamicio's legacy form where the
        # prefix sits inside the bucket ("bucket: lake/data/in/")
        SourceKind(
            "s3_path_prefix",
            {"bucket": _S_REQ, "path_prefix": _S, "dynamic_file_path": _S, "file_type": _S_REQ},
            "dynio.engine.sources.files",
            extra="s3",
            section="s3",
        ),
        SourceKind(
            "gcs",
            {"bucket": _S_REQ, "file_path": _S_REQ, "file_type": _S},
            "dynio.engine.sources.files",
            extra="gcs",
        ),
        SourceKind(
            "gcs_path_prefix",
            {"bucket": _S_REQ, "path_prefix": _S, "dynamic_file_path": _S, "file_type": _S_REQ},
            "dynio.engine.sources.files",
            extra="gcs",
            section="gcs",
        ),
        SourceKind(
            "postgres",
            {
                "db_host": _S,
                "db_port": Field(int),
                "db_name": _S,
                "db_user": _S,
                "db_password": Field(str, secret=True),
                "db_schema": _S,
                "uri": Field(str, secret=True),
            },
            "dynio.engine.sources.postgres",
            extra="postgres",
            check="dynio.engine.sources.postgres:check_spec",
            file_based=False,
            options=frozenset(
                {
                    "table",
                    "sql_query",
                    "truncate_and_append",
                    "write_mode",
                    "key",
                    "partition_on",
                    "partition_num",
                    "chunksize",  # dynamicio passed it to pandas.read_sql; no effect here
                    "columns",
                    "filters",
                    "timeouts",  # dynio.engine.deadlines: connect, read, deadline
                }
            ),
        ),
        SourceKind(
            "duckdb",
            {"database": _S_REQ, "table": _S, "sql_query": _S},
            "dynio.engine.sources.duckdb",
            extra="duckdb",
            check="dynio.engine.sources.sql:check_spec",
            file_based=False,
            options=frozenset(
                {
                    "table",
                    "sql_query",
                    "truncate_and_append",
                    "write_mode",
                    "key",
                    "columns",
                    "filters",
                }
            ),
        ),
        SourceKind(
            "delta",
            {"uri": _S_REQ},
            "dynio.engine.sources.delta",
            extra="delta",
            check="dynio.engine.sources.tableformat:check_spec",
            file_based=False,
            storage="uri",
            call_args=frozenset({"version", "as_of"}),
            options=frozenset(
                {
                    "write_mode",
                    "key",
                    "partition_by",
                    "schema_evolution",
                    "commit_retries",
                    "storage_options",
                    "columns",
                    "filters",
                }
            ),
        ),
        SourceKind(
            "iceberg",
            {"table": _S_REQ, "catalog": Field(dict, required=True)},
            "dynio.engine.sources.iceberg",
            extra="iceberg",
            check="dynio.engine.sources.tableformat:check_spec",
            file_based=False,
            call_args=frozenset({"version", "snapshot_id", "as_of"}),
            options=frozenset(
                {
                    "write_mode",
                    "key",
                    "partition_by",
                    "schema_evolution",
                    "commit_retries",
                    "columns",
                    "filters",
                }
            ),
        ),
        SourceKind(
            "kafka",
            {"kafka_server": _S_REQ, "kafka_topic": _S_REQ},
            "dynio.engine.sources.kafka",
            extra="kafka",
            check="dynio.engine.sources.kafka_settings:check_spec",
            file_based=False,
            options=None,  # dynio's own names and librdkafka's; kafka.check_spec checks them
        ),
        SourceKind(
            "athena",
            {
                "s3_output": _S,  # required; athena.check_spec says so (after s3_staging_dir)
                "s3_staging_dir": _S,  # dynamicio 8's name: refused with the rename to make
                "database": _S,
                "workgroup": _S,
                "region_name": _S,
                "query": _S,
            },
            "dynio.engine.sources.athena",
            extra="athena",
            check="dynio.engine.sources.athena:check_spec",
            file_based=False,
            options=frozenset(
                {
                    "query",
                    "sql_query",
                    "parameters",
                    "table",
                    "database",
                    "workgroup",
                    "work_group",  # pyathena's spelling
                    "columns",
                    "filters",
                    "storage_options",
                    "timeout",
                    "poll_interval",
                    "unload",
                    "ctas_approach",  # dynamicio's (awswrangler's) name for unload
                    "chunksize",  # refused by check_spec, as dynamicio does
                }
            ),
            storage="s3",
        ),
    ]
}


ENTRY_POINT_GROUP = "dynio.sources"
_BUILTIN = frozenset(KINDS)
_REGISTRY_LOCK = threading.Lock()
_entry_points_loaded: list[bool] = []


def register_kind(kind: SourceKind, *, replace: bool = False) -> SourceKind:
    """Register a source kind: YAML ``type: <kind.name>`` then reads and writes through it.

    The kind's module (``kind.module``, a dotted path) is imported on first use and must have
    the :class:`SourceModule` shape (``scan`` and ``write``). Third-party packages can register
    kinds without being imported by the user, through the ``dynio.sources`` entry-point group
    (each entry point names a :class:`SourceKind`, or a callable returning one or several)::

        [project.entry-points."dynio.sources"]
        sheets = "dynio_sheets:KIND"

    Args:
        kind: The kind: its ``type`` name, its section's keys, its module, its extra.
        replace: Replace a registered kind of the same name (never a built-in one).

    Returns:
        The kind, so it can be used as a module-level constant.

    Raises:
        ValueError: The name is taken (and ``replace`` is false) or is a built-in kind's.
    """
    name = kind.name.strip().lower()
    if name != kind.name:
        raise ValueError(f"source kind names are lower case without spaces: {kind.name!r}")
    with _REGISTRY_LOCK:
        if name in _BUILTIN:
            raise ValueError(f"{name!r} is a built-in source kind and cannot be replaced")
        if name in KINDS and not replace:
            raise ValueError(f"a source kind named {name!r} is already registered")
        KINDS[name] = kind
    return kind


def unregister_kind(name: str) -> None:
    """Remove a registered source kind (built-in kinds stay)."""
    with _REGISTRY_LOCK:
        if name in _BUILTIN:
            raise ValueError(f"{name!r} is a built-in source kind and cannot be removed")
        KINDS.pop(name, None)


def _load_entry_points() -> None:
    """Register the kinds of the ``dynio.sources`` entry points, once per process."""
    with _REGISTRY_LOCK:
        if _entry_points_loaded:
            return
        _entry_points_loaded.append(True)
    for point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            found = point.load()
            made = found() if callable(found) and not isinstance(found, SourceKind) else found
            kinds: Iterable[Any] = [made] if isinstance(made, SourceKind) else made
            for kind in kinds:
                if not isinstance(kind, SourceKind):
                    raise TypeError(f"{type(kind).__name__} is not a SourceKind")
                if kind.name not in KINDS:
                    register_kind(kind)
        except Exception as exc:  # a broken plugin must not break every catalog
            import warnings

            warnings.warn(
                f"dynio: the source kind entry point {point.name!r} ({point.value}) could not"
                f" be loaded: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )


def all_kinds() -> Mapping[str, SourceKind]:
    """Every source kind: built-in, registered, and those of installed entry points."""
    _load_entry_points()
    return KINDS


def kind_for(name: str) -> SourceKind | None:
    """The source kind of that ``type`` name (case-insensitive), or ``None``."""
    key = name.strip().lower()
    found = KINDS.get(key)
    if found is None and not _entry_points_loaded:
        _load_entry_points()
        found = KINDS.get(key)
    return found


def load_module(kind: SourceKind, context: Mapping[str, Any]) -> SourceModule:
    """Import the module serving a source kind, on first use.

    Raises:
        UnsupportedError: The kind is recognised but not served by this version.
        MissingDependencyError: Its optional dependency is missing; names the extra.
    """
    if kind.module is None:
        raise UnsupportedError(
            f"source type {kind.name!r} is recognised but not supported yet by this version of"
            f" dynio (it arrives with {kind.planned})",
            **context,
        )
    try:
        module: Any = importlib.import_module(kind.module)
    except ImportError as exc:
        if kind.extra is None or (exc.name or "").startswith("dynio"):
            raise
        raise MissingDependencyError(
            f"source type {kind.name!r} needs {exc.name!r}", extra=kind.extra, **context
        ) from exc
    result: SourceModule = module
    return result


def scan_function(kind: SourceKind, spec: SourceSpec, context: Mapping[str, Any]) -> ScanFunction:
    """The function scanning a source: its kind module's ``scan``, or the one of the kind's
    :attr:`~SourceKind.engines` its ``options.engine`` names (imported on first use).

    Raises:
        UnsupportedError, MissingDependencyError: As :func:`load_module`.
    """
    engine = spec.options.get("engine")
    target = kind.engines.get(engine) if isinstance(engine, str) else None
    if target is None:
        return load_module(kind, context).scan
    name, _, function = target.partition(":")
    engine_kind = SourceKind(kind.name, kind.fields, name, extra=engine)
    found: ScanFunction = getattr(load_module(engine_kind, context), function)
    return found
