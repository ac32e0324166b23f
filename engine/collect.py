"""Collecting a plan: Polars' scan, or pyarrow's reader on the arrow path, with backend
failures translated into dynio errors that name the file and column.

Used by :mod:`dynio.engine.execute` (which re-exports :func:`collect` and
:func:`collect_arrow`) and the engine's other readers. :func:`collect_split` is the
``polars-split`` path's collect: the plan's column groups at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import polars as pl
from polars._typing import EngineType

from dynio.engine import column_split, read_path
from dynio.engine.arrow_export import to_arrow
from dynio.engine.casts import CastFailure, diagnose
from dynio.engine.errors import CastError, DynioError, ReadError
from dynio.engine.io.formats import (
    binary_mismatch,
    capabilities_of,
    describe_read_failure,
    is_decode_failure,
)
from dynio.engine.plan import Plan
from dynio.engine.telemetry import operation_secrets, replace_secrets
from dynio.engine.threads import ContextThreadPoolExecutor

__all__ = [
    "MixedRead",
    "cast_error",
    "collect",
    "collect_arrow",
    "collect_chosen",
    "collect_mixed",
    "collect_split",
]

logger = logging.getLogger("dynio")


def cast_error(
    failures: Sequence[CastFailure], context: Mapping[str, Any], file: str | None
) -> CastError:
    """The error for values that do not fit a cast: the first failure's column, target and a
    few values (long text cut, secrets masked), the others in the message."""
    secrets = operation_secrets()

    def short(values: Sequence[Any]) -> list[Any]:
        # a 10 MB cell must not become a 10 MB message (nor be scanned by every log redactor);
        # a secret is masked before the cut, since a cut secret no longer matches the redactor
        out = []
        for v in values:
            if isinstance(v, str) and len(v) > 60:
                v = replace_secrets(v, secrets)
                v = f"{v[:40]}… ({len(v):,} characters)" if len(v) > 60 else v
            out.append(v)
        return out

    first = failures[0]
    others = "".join(
        f"; column {f.step.column!r} -> {f.step.target}: {f.count} value(s) {short(f.sample)}"
        for f in failures[1:]
    )
    what = (
        f"{first.count} value(s) do not fit"
        if first.count >= 0
        else f"cast failed ({first.reason})"
    )
    return CastError(
        f"{what} {first.step.target} (from {first.step.source}) under the safe cast policy"
        f"{others}; declare the column 'cast: lossy' to turn such values into nulls",
        target=str(first.step.target),
        column=first.step.column,
        values=short(first.sample),
        file=file,
        **context,
    )


def collect_arrow(plan: Plan) -> Any:
    """The arrow path's read of a plan :func:`dynio.engine.read_path.choose` sent there: a
    ``pyarrow.Table`` in the types Polars' export gives
    (:func:`dynio.engine.read_path.read_arrow`).

    ``None``: the file changed shape since planning, or pyarrow cannot read it (a damaged
    file): the caller reads it through Polars, whose failures :func:`collect` explains (what
    is wrong with the file, and where), so an error is the same on both paths.
    """
    import pyarrow as pa

    return _or_polars(
        plan, read_path.ARROW, lambda: read_path.read_arrow(plan), (OSError, pa.ArrowException)
    )


def _or_polars(
    plan: Plan,
    path: str,
    read: Callable[[], Any],
    failures: tuple[type[BaseException], ...],
) -> Any:
    """``read()``, or ``None`` when it raises one of ``failures`` (logged at debug level, with
    the exception's type only: its message may quote the data); the caller then reads through
    Polars, whose errors say what is wrong."""
    try:
        return read()
    except failures as exc:
        logger.debug(
            "%s: the %s path's read failed (%s); Polars reads it",
            plan.info.resource,
            path,
            type(exc).__name__,
        )
        return None


def collect_split(plan: Plan, groups: Sequence[Sequence[str]]) -> pl.DataFrame:
    """The ``polars-split`` read: the plan's column ``groups`` (from
    :func:`dynio.engine.read_path.decide`) collected at once (:mod:`dynio.engine.column_split`),
    each through :func:`collect` (its errors are the whole read's)."""
    names = plan.frame.collect_schema().names()

    def part(group: Sequence[str]) -> pl.DataFrame:
        return collect(plan, lambda lf: lf.select(group))

    return column_split.collect_split(names, groups, part)


class MixedRead:
    """A ``mixed`` read's data (:func:`collect_mixed`): Polars' frame of the columns it read
    (those rules and metrics check, on a checked read) and pyarrow's table of the text columns
    it read, the same rows in the same order.

    Attributes:
        frame: Polars' columns.
        text: pyarrow's columns (``large_string``).
        names: Every column, in the plan's order.
    """

    __slots__ = ("_lock", "_table", "frame", "names", "text")

    def __init__(self, frame: pl.DataFrame, text: Any, names: Sequence[str]) -> None:
        self.frame = frame
        self.text = text
        self.names = list(names)
        self._table: Any = None
        self._lock = threading.Lock()  # the hand-off's worker and the reader may both ask

    @property
    def rows(self) -> int:
        """The number of rows read."""
        return self.frame.height

    def table(self) -> Any:
        """Both readers' columns as one ``pyarrow.Table`` in the plan's column order, in the
        types Polars' export gives (made once; Polars' numbers are not copied)."""
        with self._lock:
            if self._table is None:
                import pyarrow as pa

                other = to_arrow(self.frame)
                by_name = dict(zip(self.frame.columns, other.columns, strict=True))
                by_name.update(zip(self.text.column_names, self.text.columns, strict=True))
                columns = [by_name[n] for n in self.names]
                self._table = pa.Table.from_arrays(columns, names=self.names)
            return self._table


def collect_mixed(plan: Plan, text: Sequence[str]) -> MixedRead | None:
    """The ``mixed`` read (:func:`dynio.engine.read_path.decide`): the plan's ``text`` columns
    by pyarrow (:func:`dynio.engine.read_path.read_text`) on another thread while Polars
    collects the others through :func:`collect` (its errors are the whole read's).

    Why: Polars decodes text into string views (16 bytes a value, and the long values' bytes)
    which the pandas hand-off must then copy into ``large_string``; pyarrow decodes straight
    into ``large_string``. On the 5 M-row orders table (issue 18, round five) the read's peak
    memory fell below pandas' own read's (MEM-R1 0.76-0.94, from 1.07-1.23), its time about the
    same (the figures are in :mod:`dynio.engine.read_path`'s documentation).

    ``None``: pyarrow could not read the text (a damaged file, or one replaced since planning)
    or the two readers disagree on the rows: the caller reads it through Polars, whose
    failures :func:`collect` explains.
    """
    names = plan.frame.collect_schema().names()
    wanted = list(text)
    rest = [n for n in names if n not in set(wanted)]

    def read() -> Any:  # whatever pyarrow raises: Polars reads it, and explains
        return _or_polars(
            plan, read_path.MIXED, lambda: read_path.read_text(plan, wanted), (Exception,)
        )

    with ContextThreadPoolExecutor(max_workers=1, thread_name_prefix="dynio-text") as pool:
        pending = pool.submit(read)
        try:
            frame = collect(plan, lambda lf: lf.select(rest))
        finally:
            table = pending.result()  # nothing keeps running after the read, failed or not
    if table is None or table.num_rows != frame.height:
        return None
    return MixedRead(frame, table, names)


def collect_chosen(plan: Plan, chosen: read_path.Choice) -> tuple[read_path.ReadPath, Any]:
    """The read by the path :func:`dynio.engine.read_path.decide` chose, and the path that ran:
    a ``pyarrow.Table`` (arrow), a :class:`MixedRead` (mixed) or a Polars frame (polars-split,
    polars). A path that gives nothing (the file changed shape, pyarrow cannot read it) is
    read through Polars, whose failures :func:`collect` explains."""
    data: Any = None
    if chosen.path == read_path.ARROW:
        data = collect_arrow(plan)
    elif chosen.text is not None:
        data = collect_mixed(plan, chosen.text)
    elif chosen.groups is not None:
        data = collect_split(plan, chosen.groups)
    if data is None:
        return read_path.POLARS, collect(plan)
    return chosen.path, data


def collect(
    plan: Plan,
    query: Callable[[pl.LazyFrame], pl.LazyFrame] | None = None,
    engine: EngineType = "auto",
) -> pl.DataFrame:
    """Run a plan (or ``query`` over it, e.g. an aggregation) in ``engine``, translating
    backend failures into dynio errors that name the file and column.

    When a reader's own parsing fails (e.g. ``1.0`` in a CSV column the schema calls ``int64``),
    the source is scanned again as text and cast through the cast table, which accepts every
    value that converts without loss; only values that do not fit raise.

    Raises:
        CastError: Values do not fit the schema's dtypes (names column and offending values).
        ReadError: The data cannot be read.
    """
    info = plan.info
    context = {"resource": info.resource, "env": info.env}
    where = info.files[0] if len(info.files) == 1 else info.location
    options = plan.env.source.options
    mismatch = binary_mismatch(info.format, where) if len(info.files) == 1 else None
    if mismatch is not None:  # a text reader would read the bytes as garbage text
        raise ReadError(f"cannot read {info.format}: {mismatch}", file=where, **context)
    run = query if query is not None else (lambda lf: lf)
    try:
        return run(plan.frame).collect(engine=engine)
    except pl.exceptions.PanicException as exc:  # a BaseException: a reader's bug or bad data
        raise _read_error(exc, info.format, where, context, options) from exc
    except (pl.exceptions.PolarsError, OSError) as exc:
        # an I/O failure, or text that is not in the expected encoding, is reported as it is;
        # only a failure to parse or cast is worth a second look at the data
        undecodable = capabilities_of(info.format).text and is_decode_failure(exc)
        if (
            isinstance(exc, OSError)
            or undecodable
            or plan.schema is None
            or plan.rescan is None
            or plan.build is None
        ):
            raise _read_error(exc, info.format, where, context, options) from exc
        try:
            raw, raw_schema = plan.rescan()
            fallback, steps = plan.build(raw, raw_schema)
        except (pl.exceptions.PolarsError, OSError, DynioError):
            raise _read_error(exc, info.format, where, context, options) from exc
        failed: BaseException = exc
        if capabilities_of(info.format).text:
            # the reader parsed the text itself and gave up: the cast table may not
            try:
                return run(fallback).collect(engine=engine)
            except (pl.exceptions.PolarsError, OSError) as exc2:
                failed = exc2
        try:
            failures = diagnose(raw, steps)
        except (pl.exceptions.PolarsError, OSError):
            failures = []
        if failures:
            raise cast_error(failures, context, where) from failed
        raise _read_error(failed, info.format, where, context, options) from failed


def _read_error(
    exc: BaseException,
    fmt: str | None,
    where: str,
    context: Mapping[str, Any],
    options: Mapping[str, Any] | None = None,
) -> ReadError:
    text = describe_read_failure(fmt, where, options or {}, exc)  # what the file itself shows
    return ReadError(f"cannot read {fmt or 'data'}: {text}", file=where, **context)
