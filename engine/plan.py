"""Planning a read: scan + projection + predicates + casts, as one Polars LazyFrame.

:func:`plan_read` asks the resource's source for a scan of the columns the request needs, checks
them against the schema, and adds the casts and the filter to the lazy plan. What the source took
over (projection, predicates) is recorded on the :class:`Plan` for the result and the spans.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import polars as pl

from dynio.engine.casts import CastStep, is_widening, plan_casts
from dynio.engine.errors import DynioError, ReadError, SchemaError, TemplateError
from dynio.engine.filters import Filter, FilterLike
from dynio.engine.io.filesystems import is_remote
from dynio.engine.io.formats import (
    ScanHints,
    capabilities_of,
    describe_read_failure,
    text_encoding_problem,
)
from dynio.engine.placeholders import (
    EscapeAllowed,
    check_template_root,
    check_template_value,
    fill_template,
    template_fields,
)
from dynio.engine.sources import (
    Pushdown,
    Scan,
    ScanFunction,
    ScanRequest,
    SourceKind,
    SourceModule,
    TimeTravel,
    kind_for,
    load_module,
    scan_function,
)
from dynio.engine.spec import EnvSpec, ResourceSpec, SchemaSpec
from dynio.engine.spec_settings import FILE_KINDS, file_settings

__all__ = [
    "Bound",
    "Plan",
    "PlanInfo",
    "bind",
    "check_template_args",
    "plan_read",
    "source_module",
    "template_fields_of",
]


@dataclass(frozen=True)
class PlanInfo:
    """What a read did, for results, spans and logs.

    Attributes:
        resource: Resource name.
        env: Environment name.
        kind: Source kind.
        format: Data format, if any.
        location: Where it read from (secrets redacted).
        files: Files matched.
        columns: Columns projected (``None``: all).
        filters_pushed: The filter handed to the source's scan, as text.
        filters_residual: The filter applied after the scan, as text.
        casts: ``column: source -> target`` for every cast in the plan.
        pushed: The mapping form of ``pushdown`` (``projection``, ``predicates``: the whole
            filter was pushed, and the source's details such as the version of a table read and
            the files pruned).
        pushdown: What the source took over (:class:`~dynio.engine.sources.Pushdown`):
            projection, the part of the filter pushed and the part the engine applied.
        source_schema: The data's columns and dtypes as the source gives them, in the source's
            order (the frame has the schema's order and dtypes).
        read_path: The reader the read ran (:mod:`dynio.engine.read_path`): ``polars`` (the
            lazy scan), ``polars-split`` (the scan's column groups collected at once, for large
            parquet reads with no filter), ``mixed`` (text by pyarrow and the other columns by
            Polars at once, for large parquet reads into pandas) or ``arrow`` (pyarrow's
            reader, for a plain parquet read into pandas); ``None`` until the read ran (a plan
            not yet collected, a lazy scan).
    """

    resource: str
    env: str
    kind: str
    format: str | None
    location: str
    files: tuple[str, ...] = ()
    columns: tuple[str, ...] | None = None
    filters_pushed: str | None = None
    filters_residual: str | None = None
    casts: tuple[str, ...] = ()
    pushed: Mapping[str, Any] = field(default_factory=dict)
    pushdown: Pushdown = field(default_factory=Pushdown)
    source_schema: Mapping[str, pl.DataType] = field(default_factory=dict)
    read_path: str | None = None

    def attributes(self) -> dict[str, Any]:
        """Span attributes by short name (see :data:`dynio.engine.telemetry.ATTR`)."""
        return {
            "resource": self.resource,
            "env": self.env,
            "kind": self.kind,
            "format": self.format,
            "location": self.location,
            "files": len(self.files),
            "columns": list(self.columns) if self.columns is not None else None,
            "filters_pushed": self.filters_pushed,
            "filters_residual": self.filters_residual,
            "pushdown_projection": self.pushdown.projection,
            "casts": list(self.casts) if self.casts else None,
            "read_path": self.read_path,
            "files_pruned": self.files_pruned,
        }

    @property
    def files_pruned(self) -> int | None:
        """Files the source left out before its scan, by their footers' statistics or a table
        format's manifests (the details ``files`` and ``files_kept`` of :attr:`pushed`);
        ``None`` when it did not judge them."""
        files, kept = self.pushed.get("files"), self.pushed.get("files_kept")
        return files - kept if isinstance(files, int) and isinstance(kept, int) else None


@dataclass(frozen=True)
class Plan:
    """A planned read: the lazy frame and how to explain or diagnose it.

    Attributes:
        frame: The LazyFrame with projection, casts and filter in its plan.
        info: What the plan does.
        schema: The schema it casts to, if any.
        env: The environment spec.
        casts: The cast steps in the plan.
        rescan: Scans the source again with text kept as text (``() -> (frame, schema)``).
        build: Adds projection, casts and filter to a raw scan (``(frame, schema) -> (frame,
            steps)``); with ``rescan`` it gives the fallback plan when a reader's own parsing
            fails.
        changed: The source's :attr:`~dynio.engine.sources.Scan.changed`: were the files
            replaced since planning.
        release: The source's :attr:`~dynio.engine.sources.Scan.release`, to call once the
            frame was collected (``None``: nothing held).
        read_paths: The source's :attr:`~dynio.engine.sources.Scan.read_paths`: what another
            reader of this read opens to read the version the frame reads (empty: the files).
    """

    frame: pl.LazyFrame
    info: PlanInfo
    schema: SchemaSpec | None
    env: EnvSpec
    casts: tuple[CastStep, ...] = ()
    rescan: Callable[[], tuple[pl.LazyFrame, pl.Schema]] | None = field(default=None, repr=False)
    build: Callable[[pl.LazyFrame, pl.Schema], tuple[pl.LazyFrame, list[CastStep]]] | None = field(
        default=None, repr=False
    )
    changed: Callable[[], bool] | None = field(default=None, repr=False)
    release: Callable[[], None] | None = field(default=None, repr=False)
    read_paths: tuple[str, ...] = field(default=(), repr=False)


def source_module(env: EnvSpec, context: Mapping[str, Any]) -> SourceModule:
    """The module serving an environment's source kind."""
    kind = kind_for(env.source.kind)
    if kind is None:  # the loader only admits known kinds
        raise DynioError(f"unknown source kind {env.source.kind!r}", **context)
    return load_module(kind, context)


def _templates(
    env: EnvSpec, context: Mapping[str, Any], kind: SourceKind | None = None
) -> dict[str, list[str]]:
    """The source settings holding ``{placeholders}``, with their field names.

    Secret fields (passwords, URIs holding them) are never templates: ``{`` is a valid password
    character.

    Raises:
        TemplateError: A setting is a malformed template.
    """
    out: dict[str, list[str]] = {}
    kind = kind if kind is not None else kind_for(env.source.kind)
    secret = {n for n, f in kind.fields.items() if f.secret} if kind is not None else set()
    for key, value in env.source.settings.items():
        if isinstance(value, str) and key not in secret:
            try:
                names = template_fields(value)
            except ValueError as exc:
                raise TemplateError(f"malformed path template {value!r}: {exc}", **context) from exc
            if names:
                out[key] = names
    return out


def template_fields_of(env: EnvSpec, context: Mapping[str, Any]) -> set[str]:
    """The ``{placeholder}`` names of an environment's source settings (secret fields aside).

    Raises:
        TemplateError: A setting is a malformed template.
    """
    return {name for names in _templates(env, context).values() for name in names}


# Settings of the other kinds holding a local path, whose filled templates must stay under
# their fixed leading folder once symlinks are resolved (object-store keys have no symlinks);
# the file kinds' settings say theirs (FileSettings.local_keys)
_LOCAL_PATHS: dict[str, tuple[str, ...]] = {
    "duckdb": ("database",),
    "delta": ("uri",),
}


def check_template_args(
    env: EnvSpec,
    args: Mapping[str, Any],
    context: Mapping[str, Any],
    *,
    kind: SourceKind | None = None,
    filled_out: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Check call arguments against the source's ``{placeholder}`` templates.

    Refused: arguments that fill no placeholder (likely typos); values with ``..`` segments,
    absolute paths or glob characters; values leading out of a local template's fixed leading
    folder through a symlink (``data/{day}/x.csv`` with ``day="link"`` where ``data/link``
    leads elsewhere); NUL bytes. A source with ``options: {allow_template_escape: true}``
    accepts all of these but NUL bytes.

    ``kind`` is the source's kind when the caller looked it up already; ``filled_out``, when
    given, receives the local path settings this check filled (key -> text), for the source.

    Returns:
        The arguments to hand to the source: as given, or for a source allowing escapes, as
        :class:`~dynio.engine.placeholders.EscapeAllowed` text its ``fill_template`` accepts.

    Raises:
        TemplateError: An argument is unused or a value is refused; names the field and value.
    """
    templates = _templates(env, context, kind)
    fields = {name for names in templates.values() for name in names}
    unused = sorted(set(args) - fields)
    if unused:
        known = ", ".join("{" + f + "}" for f in sorted(fields)) or "none"
        raise TemplateError(
            f"unexpected argument(s) {unused}: the source's templates take {known}", **context
        )
    source = env.source
    escape = source.allow_template_escape
    for name, value in args.items():
        key = next(k for k, names in templates.items() if name in names)
        where = {**context, "key_path": f"{source.kind}.{key}"}
        check_template_value(name, value, where, allow_escape=escape)
    if escape:
        return {name: EscapeAllowed(value) for name, value in args.items()}
    local_keys = (
        file_settings(source).local_keys
        if source.kind in FILE_KINDS
        else _LOCAL_PATHS.get(source.kind, ())
    )
    for key in local_keys:
        if key not in templates or any(f not in args for f in templates[key]):
            continue  # no template, or the source says which value is missing
        text = str(source.settings[key])
        if is_remote(text):
            continue
        where = {**context, "key_path": f"{source.kind}.{key}"}
        filled = fill_template(text.removeprefix("file://"), args, where)
        check_template_root(text.removeprefix("file://"), filled, source.base_dir, args, where)
        if filled_out is not None and text == text.removeprefix("file://"):
            filled_out[key] = filled
    return dict(args)


def _projection(
    env: EnvSpec, columns: Sequence[str] | None, context: Mapping[str, Any]
) -> list[str] | None:
    schema = env.schema
    option_cols = env.source.options.get("columns", env.source.options.get("usecols"))
    if columns is not None:
        wanted = [str(c) for c in columns]
        if isinstance(columns, str):
            raise SchemaError(f"columns must be a list of names, got {columns!r}", **context)
    elif option_cols is not None:
        wanted = [str(c) for c in option_cols]
    elif schema is not None:
        return schema.column_names
    else:
        return None
    if len(set(wanted)) != len(wanted):
        dups = sorted({c for c in wanted if wanted.count(c) > 1})
        raise SchemaError(f"columns requested twice: {dups}", **context)
    if schema is not None:
        unknown = [c for c in wanted if schema.column(c) is None]
        if unknown:
            raise SchemaError(
                f"column(s) {unknown} are not in the schema; it has {schema.column_names}",
                column=unknown[0],
                **context,
            )
    return wanted


@dataclass(frozen=True)
class Bound:
    """A read's resolved parts, made once per read (:func:`bind`) and kept across its attempts.

    Attributes:
        resource: The resource spec.
        env: Its environment spec (resolved once).
        kind: The source kind (looked up once).
        scan: The function scanning the source, as the registry gives it for the environment
            (:func:`~dynio.engine.sources.scan_function`).
        args: The checked ``{placeholder}`` values.
        as_of: The table version asked for, if any.
        filter: The row filter (parsed once), in the schema's dtypes.
        filled: The path settings whose templates the check of ``args`` filled (key -> text).
    """

    resource: ResourceSpec
    env: EnvSpec
    kind: SourceKind
    scan: ScanFunction = field(repr=False)
    args: Mapping[str, Any] = field(default_factory=dict)
    as_of: TimeTravel | None = None
    filter: Filter | None = None
    filled: Mapping[str, str] = field(default_factory=dict)

    @property
    def context(self) -> dict[str, Any]:
        """Error context naming resource and environment."""
        return {"resource": self.resource.name, "env": self.env.name}


def bind(
    resource: ResourceSpec,
    env: str | EnvSpec,
    *,
    filters: FilterLike | Filter = None,
    template_args: Mapping[str, Any] | None = None,
    kind: SourceKind | None = None,
) -> Bound:
    """Resolve a read's environment, kind, scan function, template values and filter, once
    (``env`` and ``kind`` may be given resolved already).

    Raises:
        TemplateError: A path template lacks a value or an argument fills none.
        DynioError: The filter is malformed.
    """
    spec = resource.env(env) if isinstance(env, str) else env
    context = {"resource": resource.name, "env": spec.name}
    kind = kind if kind is not None else kind_for(spec.source.kind)
    if kind is None:  # the loader only admits known kinds
        raise DynioError(f"unknown source kind {spec.source.kind!r}", **context)
    given = dict(template_args or {})
    as_of = TimeTravel.from_args(given, kind.call_args, context)
    plain = {k: v for k, v in given.items() if k not in kind.call_args}
    filled: dict[str, str] = {}
    args = check_template_args(spec, plain, context, kind=kind, filled_out=filled)
    scan = scan_function(kind, spec.source, context)
    schema = spec.schema
    target = {c.name: c.dtype.polars for c in schema.columns} if schema else {}
    filters = filters if filters is not None else spec.source.options.get("filters")
    try:
        parsed = Filter.parse(filters, target)
    except (ValueError, TypeError, pl.exceptions.PolarsError) as exc:
        raise DynioError(f"invalid filters: {exc}", **context) from exc
    return Bound(resource, spec, kind, scan, args, as_of, parsed, filled)


def plan_read(
    resource: ResourceSpec,
    env_name: str,
    *,
    columns: Sequence[str] | None = None,
    filters: FilterLike = None,
    template_args: Mapping[str, Any] | None = None,
    streaming: bool = True,
    files: Sequence[str] | None = None,
    rows: tuple[int, int] | None = None,
    bound: Bound | None = None,
) -> Plan:
    """Plan a read of ``resource`` in ``env_name``.

    Args:
        resource: The resource spec.
        env_name: The environment to read.
        columns: Columns to return (a subset of the schema's); default: the schema's, else all.
        filters: Row filter (Polars expression or the pyarrow ``filters`` convention).
        template_args: Values for ``{placeholder}`` fields in the source's paths, and the call
            arguments of kinds that take some (time travel: ``version``, ``as_of``).
        streaming: The plan's frame is handed to the caller lazy (see
            :attr:`~dynio.engine.sources.ScanRequest.streaming`). ``False`` only for a caller
            that collects the frame at once and then calls :attr:`Plan.release` (the engine's
            read): sources may hold files open until then, and the frame must not be collected
            after the release.
        files: Read only these of the source's files (one partition of a dataset); the
            source must take them (a source that cannot is an error, never a wrong read).
        rows: ``(offset, length)``: read only these rows of the scan, before the casts and the
            filter (a group of row groups of one file).
        bound: The read's parts already resolved by :func:`bind` (then ``filters`` and
            ``template_args`` are not used): a read planned again reuses them.

    Raises:
        SchemaError: Unknown columns requested, or schema columns missing from the data.
        TemplateError: A path template lacks a value or an argument fills none.
        ReadError: The source cannot be read.
    """
    if bound is None:
        bound = bind(resource, env_name, filters=filters, template_args=template_args)
    env, context = bound.env, bound.context
    projection = _projection(env, columns, context)
    filter_cols = bound.filter.columns if bound.filter is not None else []
    needed = None
    if projection is not None:
        needed = projection + [c for c in filter_cols if c not in projection]
    schema = env.schema
    target = {c.name: c.dtype.polars for c in schema.columns} if schema else {}
    hints = ScanHints(dtypes={c: dt for c, dt in target.items() if needed is None or c in needed})

    def request(h: ScanHints) -> ScanRequest:
        return ScanRequest(
            resource=resource.name,
            env=env.name,
            template_args=bound.args,
            columns=tuple(needed) if needed is not None else None,
            hints=h,
            predicate=bound.filter.expr if bound.filter is not None else None,
            filters=bound.filter.groups if bound.filter is not None else None,
            schema_name=schema.name if schema else None,
            streaming=streaming,
            as_of=bound.as_of,
            files=tuple(files) if files is not None else None,
            filter=bound.filter,
            filled=bound.filled,
        )

    scan = bound.scan(env.source, request(hints))
    if rows is not None:
        scan = replace(scan, frame=scan.frame.slice(*rows))
    try:
        return _planned(bound, scan, request, projection, needed, files, rows)
    except BaseException:
        if scan.release is not None:  # nothing is left held when planning fails
            scan.release()
        raise


def _planned(
    bound: Bound,
    scan: Scan,
    request: Callable[[ScanHints], ScanRequest],
    projection: list[str] | None,
    needed: list[str] | None,
    files: Sequence[str] | None,
    rows: tuple[int, int] | None,
) -> Plan:
    """The plan over a source's scan: columns checked, then casts and the filter added."""
    env, context, schema = bound.env, bound.context, bound.env.schema
    if files is not None and sorted(scan.files) != sorted(files):
        raise DynioError(f"the {env.source.kind} source cannot read a part of its files", **context)
    src_schema = _collect_schema(scan, env.source.options, context)
    available = src_schema.names()
    missing = [c for c in (needed or []) if c not in src_schema]
    if missing:
        _check_text(scan, env.source.options, context)
        raise SchemaError(
            f"column(s) {missing} missing from the data; it has {available}",
            column=missing[0],
            file=scan.files[0] if len(scan.files) == 1 else scan.location,
            **context,
        )
    wanted = needed or available
    targets = (
        [(c.name, c.dtype, c.lossy_cast) for c in schema.columns if c.name in wanted]
        if schema
        else []
    )
    build = _builder(targets, bound.filter, needed, projection)
    frame, steps = build(scan.frame, src_schema)

    def rescan() -> tuple[pl.LazyFrame, pl.Schema]:
        # text formats re-read as text, so values the reader could not parse go through the
        # cast table (which knows more spellings) and, failing that, can be shown
        raw_hints = ScanHints(dtypes={c: pl.String() for c in (needed or available)})
        # (never holding a file open: nothing would release it)
        raw = bound.scan(env.source, replace(request(raw_hints), streaming=True)).frame
        raw = raw.slice(*rows) if rows is not None else raw
        return raw, raw.collect_schema()

    pushdown = scan.pushdown_for(bound.filter)
    info = PlanInfo(
        resource=bound.resource.name,
        env=env.name,
        kind=env.source.kind,
        format=scan.format,
        location=scan.location,
        files=scan.files,
        columns=tuple(projection) if projection is not None else None,
        filters_pushed=pushdown.pushed.describe() if pushdown.pushed is not None else None,
        filters_residual=pushdown.residual.describe() if pushdown.residual is not None else None,
        casts=tuple(f"{s.column}: {s.source} -> {s.target}" for s in steps),
        pushed=pushdown.as_dict(),
        pushdown=pushdown,
        source_schema=dict(src_schema),
    )
    return Plan(
        frame=frame,
        info=info,
        schema=schema,
        env=env,
        casts=tuple(steps),
        rescan=rescan,
        build=build,
        changed=scan.changed,
        release=scan.release,
        read_paths=scan.read_paths,
    )


def _builder(
    targets: list[tuple[str, Any, bool]],
    filter: Filter | None,
    needed: list[str] | None,
    projection: list[str] | None,
) -> Callable[[pl.LazyFrame, pl.Schema], tuple[pl.LazyFrame, list[CastStep]]]:
    """What adds projection, casts and the filter to a raw scan (see :attr:`Plan.build`)."""
    predicate = filter.expr if filter is not None else None
    filter_cols = filter.columns if filter is not None else []

    def build(raw: pl.LazyFrame, raw_schema: pl.Schema) -> tuple[pl.LazyFrame, list[CastStep]]:
        steps = plan_casts(raw_schema, targets)
        frame = raw
        if needed is not None:
            frame = frame.select(needed)
        # a filter on columns that are uncast or only widened (us -> ns, int32 -> int64) runs
        # before the casts, where the scan can prune row groups with it
        cast_of = {s.column: s for s in steps}
        early = predicate is not None and all(
            c not in cast_of or is_widening(cast_of[c].source, cast_of[c].target.polars)
            for c in filter_cols
        )
        if early and predicate is not None:
            frame = frame.filter(predicate)
        if steps:
            frame = frame.with_columns([s.expr() for s in steps])
        if predicate is not None and not early:
            frame = frame.filter(predicate)
        if needed is not None and projection is not None and len(needed) != len(projection):
            frame = frame.select(projection)
        return frame, steps

    return build


def _collect_schema(
    scan: Scan, options: Mapping[str, Any], context: Mapping[str, Any]
) -> pl.Schema:
    try:
        return scan.frame.collect_schema()
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        where = scan.files[0] if len(scan.files) == 1 else scan.location
        why = describe_read_failure(scan.format, where, options, exc)
        raise ReadError(
            f"cannot read {scan.format or 'data'}: {why}", file=where, **context
        ) from exc


def _check_text(scan: Scan, options: Mapping[str, Any], context: Mapping[str, Any]) -> None:
    """Refuse a text file in another encoding than declared, whose header then reads as noise.

    A UTF-16 CSV read as UTF-8 has columns such as ``'\\x00t\\x00r...'``; saying the expected
    columns are missing would send the user looking in the wrong place.
    """
    if not capabilities_of(scan.format).text:
        return
    encoding = str(options.get("encoding") or "utf-8")
    for file in scan.files[:1]:
        problem = text_encoding_problem(file, encoding)
        if problem is not None:
            raise ReadError(f"cannot read {scan.format}: {problem}", file=file, **context)
