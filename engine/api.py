"""The engine's read contract: what the facade calls to read, whoever names the data.

A read takes the same three steps whether a catalog's YAML names the data (``Catalog``) or a
call names a file (``dynio.pandas``):

1. **A resource**: a :class:`~dynio.engine.spec.ResourceSpec` loaded from YAML, or one made by
   :func:`located` for a path and a format a call names (a one-environment resource of the
   ``local`` kind, or ``file`` for a URI; its options are the format's read options, and an
   optional schema gives the dtypes a text reader parses to).
2. **Bind** (:func:`bind`): the environment, the source kind (from the registry, the only
   dispatch point), its scan function, the ``{placeholder}`` values and the filter resolved
   once, into a :data:`BoundResource`.
3. **Read**: :func:`read` for a catalog (plan, collect, rules and metrics, the ``dynio.read``
   span; a :class:`Result`), or :func:`load` for a drop-in reader that runs no rules, metrics
   or spans (plan and collect; a :class:`Loaded`). Both plan through
   :func:`dynio.engine.plan.plan_read`: the source (for files: a filesystem × a format × a
   layout, :mod:`dynio.engine.sources.files`) scans with the projection and the filter pushed
   down, says what it took in a :class:`~dynio.engine.sources.Pushdown`, and the plan applies
   the rest.

Example (what ``dynio.pandas.read_parquet`` does with a local file)::

    from dynio.engine import api

    resource = api.located("/data/orders.parquet", "parquet")
    request = api.ReadRequest(columns=("order_id", "amount"), filters=[("amount", ">", 10)])
    loaded = api.load(api.bind(resource, request=request), request)
    loaded.frame        # a Polars DataFrame, the file's own dtypes (no schema: no casts)
    loaded.pushdown     # Pushdown(projection=True, pushed=<the filter>, residual=None, ...)

A caller taking Arrow (``dynio.pandas.read_parquet`` hands the data to pandas) passes
``arrow=True`` and reads :meth:`Loaded.to_arrow`: a plain parquet read then takes the reader
:mod:`dynio.engine.read_path` chooses, as a catalog read into pandas does, and
``loaded.info.read_path`` says which (``"polars"`` or ``"arrow"``).

A CSV reader passes the format's read options (``separator``, ``encoding``, ...; see
:attr:`~dynio.engine.io.formats.Capabilities.read_options`) as ``options`` and, to parse columns
to given dtypes, a :class:`~dynio.engine.spec.SchemaSpec` as ``schema``. Errors are
:class:`~dynio.engine.errors.DynioError`\\ s naming the resource (the path) and the environment.

``dynio.compat.dynamicio``'s single validators and metrics check a frame the caller already
holds (no read): :func:`evaluate` is the engine's one-pass check of rules and metrics, the same
function a read runs after collecting.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

import polars as pl

from dynio.engine import read_path
from dynio.engine.collect import MixedRead, collect_chosen
from dynio.engine.errors import ReadError
from dynio.engine.execute import Result, collect_arrow, read
from dynio.engine.filters import Filter, FilterLike
from dynio.engine.io.filesystems import is_remote
from dynio.engine.io.formats import format_for
from dynio.engine.plan import Bound, Plan, PlanInfo, plan_read
from dynio.engine.plan import bind as _bind
from dynio.engine.plan_cache import PlanCache
from dynio.engine.quality import evaluate
from dynio.engine.sources import Pushdown
from dynio.engine.spec import EnvSpec, ResourceSpec, SchemaSpec, SourceSpec, freeze

__all__ = [
    "LOCATED_ENV",
    "BoundResource",
    "Loaded",
    "PlanCache",
    "ReadRequest",
    "Result",
    "bind",
    "evaluate",
    "load",
    "located",
    "read",
]

BoundResource = Bound
"""A read's resolved parts: environment, kind, scan function, template values, filter."""

LOCATED_ENV = "located"
"""The environment name of a resource made by :func:`located`."""

# characters a literal path cannot hold in a ``local`` source: template braces and glob patterns
_NOT_LITERAL = ("{", "}", "*", "?")


@dataclass(frozen=True)
class ReadRequest:
    """What a read asks for.

    Attributes:
        columns: The columns to return, in this order (``None``: all, or the schema's).
        filters: The row filter (the pyarrow DNF tuples, or a Polars expression, or a
            :class:`~dynio.engine.filters.Filter` parsed already).
        template_args: Values for the source's ``{placeholder}`` fields.
    """

    columns: Sequence[str] | None = None
    filters: FilterLike | Filter = None
    template_args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Loaded:
    """A read without rules or metrics: the data and what the plan did.

    Attributes:
        polars: The data as Polars collected it (the ``polars`` read path), else ``None``.
        info: What the plan did (location, files, projection, filters, casts, and
            ``read_path``: which reader ran).
        table: The data as pyarrow read it (the ``arrow`` read path, see
            :mod:`dynio.engine.read_path`), in the types Polars' export gives, else ``None``.
    """

    polars: pl.DataFrame | None
    info: PlanInfo
    table: Any = None

    @property
    def frame(self) -> pl.DataFrame:
        """The data as a Polars frame, in the schema's dtypes when the resource has one (made
        from :attr:`table` when the arrow path ran)."""
        if self.polars is not None:
            return self.polars
        return cast(pl.DataFrame, pl.from_arrow(self.table))  # a table gives a frame

    def to_arrow(self) -> Any:
        """The data as a ``pyarrow.Table`` in the types Polars' export gives (text as
        ``large_string``), whichever reader ran."""
        if self.table is not None:
            return self.table
        return self.frame.to_arrow()

    @property
    def pushdown(self) -> Pushdown:
        """What the source took over of the read."""
        return self.info.pushdown


def located(
    location: str | os.PathLike[str],
    format: str,
    *,
    options: Mapping[str, Any] | None = None,
    schema: SchemaSpec | None = None,
    name: str | None = None,
) -> ResourceSpec:
    """A one-environment resource (:data:`LOCATED_ENV`) for data a call names by its location.

    A local path is a ``local`` source (one file); a URI (``s3://``, ``file://``, ...) is a
    ``file`` source, a file or, ending in ``/``, a dataset.

    Args:
        location: A local path (absolute, or relative to the working directory) or a URI.
        format: A registered format's name (``parquet``, ``csv``, ``ndjson``, ...).
        options: The format's read options, as a YAML ``options:`` section holds them.
        schema: Columns and dtypes to read to (text formats parse to them); ``None``: the
            data's own.
        name: The resource's name in errors (default: the location).

    Raises:
        ValueError: An unknown format, or a local path holding ``{``, ``}``, ``*`` or ``?``
            (which a ``local`` source reads as a template or a pattern).
    """
    text = os.fspath(location)
    fmt = format_for(format)
    if fmt is None:
        raise ValueError(f"unknown format {format!r}")
    if is_remote(text):
        kind, settings = "file", {"uri": text, "format": fmt.name}
    else:
        if any(c in text for c in _NOT_LITERAL):
            raise ValueError(f"a path with template or pattern characters: {text!r}")
        kind, settings = "local", {"file_path": text, "file_type": fmt.name}
    source = SourceSpec(kind, freeze(settings), freeze(dict(options or {})), fmt.name)
    env = EnvSpec(LOCATED_ENV, source, schema)
    return ResourceSpec(name or text, text, {LOCATED_ENV: env}, schema)


def bind(
    resource: ResourceSpec,
    env: str | EnvSpec = LOCATED_ENV,
    *,
    request: ReadRequest | None = None,
) -> BoundResource:
    """Resolve a read's environment, kind, scan function, template values and filter once.

    Raises:
        TemplateError: A path template lacks a value or an argument fills none.
        DynioError: The filter is malformed.
    """
    asked = request if request is not None else ReadRequest()
    return _bind(resource, env, filters=asked.filters, template_args=asked.template_args)


def load(
    bound: BoundResource,
    request: ReadRequest | None = None,
    *,
    arrow: bool = False,
    plans: PlanCache | None = None,
) -> Loaded:
    """Plan and collect a bound read, with no rules, metrics or spans (a drop-in reader's).

    ``request`` gives the columns (its filter and template values were bound already). With
    ``arrow`` the caller takes the data as Arrow (:meth:`Loaded.to_arrow`, e.g. to hand it to
    pandas): a plain parquet read may then take the arrow path, as a catalog read into pandas
    does (:func:`dynio.engine.read_path.choose`). ``Loaded.info.read_path`` says which ran.
    ``plans`` keeps the plans of reads that took the arrow path (by resource, source, columns
    and template values; see :mod:`dynio.engine.plan_cache`), so that reading the same file
    again plans once while it is unchanged.

    Raises:
        SchemaError: Columns asked for are not in the data.
        ReadError, CastError: The data cannot be read, or does not fit the schema.
    """
    columns = request.columns if request is not None else None
    key = _plan_key(bound, columns) if plans is not None and arrow else None
    remembered = plans.get(key) if plans is not None and key is not None else None
    path = read_path.choose(remembered, arrow_wanted=True) if remembered is not None else None
    if remembered is not None and path == read_path.ARROW:
        table = collect_arrow(remembered)
        if table is not None:  # else the file no longer fits the plan: planned anew
            return Loaded(None, replace(remembered.info, read_path=read_path.ARROW), table)
    done = _load(bound, columns, arrow)
    if plans is not None and done.result.info.read_path == read_path.ARROW:
        plans.put(key, replace(done.plan, info=done.result.info))
    return done.result


def _plan_key(bound: BoundResource, columns: Sequence[str] | None) -> Hashable | None:
    """A read's key in a :class:`PlanCache` shared by resources (their name and source are in
    it); ``None``: not kept (a filter, arguments that cannot be compared)."""
    asked = PlanCache.key(columns, None if bound.filter is None else bound.filter, bound.args)
    if asked is None:
        return None
    source = bound.env.source
    # (text forms: the settings' frozen mappings do not hash)
    where = (source.kind, source.format, repr(sorted(source.settings.items())))
    return (bound.resource.name, bound.env.name, where, repr(sorted(source.options.items())), asked)


@dataclass(frozen=True)
class _Done:
    result: Loaded
    plan: Plan


def _load(bound: BoundResource, columns: Sequence[str] | None, arrow: bool) -> _Done:
    plan = plan_read(bound.resource, bound.env.name, columns=columns, streaming=False, bound=bound)
    frame = table = None
    try:
        path, data = collect_chosen(plan, read_path.decide(plan, arrow_wanted=arrow))
        if isinstance(data, MixedRead):
            table = data.table()
        elif isinstance(data, pl.DataFrame):
            frame = data
        else:
            table = data
    finally:
        if plan.release is not None:
            plan.release()
    if plan.changed is not None and plan.changed():
        where = plan.info.files[0] if len(plan.info.files) == 1 else plan.info.location
        raise ReadError("the data was replaced during the read", file=where, **bound.context)
    ran = path
    return _Done(Loaded(frame, replace(plan.info, read_path=ran), table), plan)
