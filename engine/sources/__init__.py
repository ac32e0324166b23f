"""The source registry: what each source kind's YAML section holds and which module serves it.

Every kind is one :class:`SourceKind` entry: the keys of its YAML section (checked when a catalog
loads), the dotted path of the module that reads and writes it (imported on first use), and the
extra to install when that module needs an optional dependency. Every source module has the same
shape (:class:`SourceModule`): ``scan(spec, request) -> Scan`` and
``write(frame, spec, request) -> WriteInfo``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import polars as pl

from dynio.engine.errors import MissingDependencyError, UnsupportedError
from dynio.engine.formats import ScanHints
from dynio.engine.spec import SourceSpec

__all__ = [
    "KINDS",
    "Field",
    "Scan",
    "ScanRequest",
    "SourceKind",
    "SourceModule",
    "WriteInfo",
    "WriteRequest",
    "kind_for",
    "load_module",
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

    Pushdown is a negotiation: the planner always applies ``predicate`` after the scan (so a
    source may push all, part or none of it), and the source says in :attr:`Scan.pushed` what it
    took.
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
        pushed: What the source took over, for the plan's record: ``projection`` (bool) and
            ``predicates`` (bool: the whole filter was applied in the source or its scan).
        changed: Whether the data was replaced since the scan was made (``None``: the source
            cannot tell). A reader holds on to a file's footer between planning and reading, so
            a file replaced in between is read inconsistently; the engine reads again when this
            says the files changed under a read.
        release: Called once the frame was collected (or the read failed): a source may hold
            the version it planned on (an open file) until then. Only for reads, never for a
            streaming scan (see :attr:`ScanRequest.streaming`).
    """

    frame: pl.LazyFrame
    location: str
    files: tuple[str, ...] = ()
    format: str | None = None
    pushed: Mapping[str, Any] = field(default_factory=dict)
    changed: Callable[[], bool] | None = field(default=None, repr=False, compare=False)
    release: Callable[[], None] | None = field(default=None, repr=False, compare=False)


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

    @property
    def sections(self) -> tuple[str, ...]:
        """The section names accepted in YAML, the dynamicio one first."""
        return tuple(dict.fromkeys([self.section or self.name, self.name]))


_S = Field(str)
_S_REQ = Field(str, required=True)

KINDS: dict[str, SourceKind] = {
    k.name: k
    for k in [
        SourceKind(
            "local",
            {"file_path": _S_REQ, "file_type": _S},
            "dynio.engine.sources.local",
        ),
        SourceKind(
            "local_batch",
            {"path_prefix": _S, "dynamic_file_path": _S, "file_type": _S_REQ},
            "dynio.engine.sources.local",
            one_of=(("path_prefix", "dynamic_file_path"),),
            section="local",
        ),
        SourceKind(
            "file",
            {"uri": _S_REQ, "format": _S},
            "dynio.engine.sources.local",
        ),
        SourceKind(
            "s3",
            {"bucket": _S_REQ, "file_path": _S_REQ, "file_type": _S},
            "dynio.engine.sources.objectstore",
            extra="s3",
        ),
        SourceKind(
            "s3_file",
            {"bucket": _S_REQ, "file_path": _S_REQ, "file_type": _S},
            "dynio.engine.sources.objectstore",
            extra="s3",
            section="s3",
        ),
        # path_prefix or dynamic_file_path, or neither in dynamicio's legacy form where the
        # prefix sits inside the bucket ("bucket: lake/data/in/")
        SourceKind(
            "s3_path_prefix",
            {"bucket": _S_REQ, "path_prefix": _S, "dynamic_file_path": _S, "file_type": _S_REQ},
            "dynio.engine.sources.objectstore",
            extra="s3",
            section="s3",
        ),
        SourceKind(
            "gcs",
            {"bucket": _S_REQ, "file_path": _S_REQ, "file_type": _S},
            "dynio.engine.sources.objectstore",
            extra="gcs",
        ),
        SourceKind(
            "gcs_path_prefix",
            {"bucket": _S_REQ, "path_prefix": _S, "dynamic_file_path": _S, "file_type": _S_REQ},
            "dynio.engine.sources.objectstore",
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
            "kafka",
            {"kafka_server": _S_REQ, "kafka_topic": _S_REQ},
            None,
            file_based=False,
            options=None,  # producer settings go to the Kafka client as they are
            planned="a later release",
        ),
        SourceKind(
            "athena",
            {"s3_output": _S_REQ, "database": _S, "workgroup": _S, "region_name": _S, "query": _S},
            None,
            file_based=False,
            options=None,  # query settings go to the Athena client as they are
            planned="a later release",
        ),
    ]
}


def kind_for(name: str) -> SourceKind | None:
    """The source kind of that ``type`` name (case-insensitive), or ``None``."""
    return KINDS.get(name.strip().lower())


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
