"""Many files read as one frame: parallel scans, schema drift, hive partitions, progress.

Files written over months rarely agree exactly: a column added later is missing from the old
files, an integer column became a float one, one writer used ``int32`` and another ``int64``.
:func:`scan_files` reads such a set as one frame:

- when every file has the same columns and types (the usual case), one Polars scan over all of
  them, in parallel, with projection and predicates pushed down;
- otherwise each file is scanned and the scans are stacked with reconciled types: a column
  missing from some files is null there, integers read with floats become floats, narrower
  integers and coarser timestamps widen. A :class:`SchemaDriftWarning` names the files that lack
  columns or hold integers where others hold floats; types that do not reconcile (text in one
  file, numbers in another) are a :class:`~dynio.engine.errors.ReadError` naming the files. A
  column the schema needs that no file has is the planner's
  :class:`~dynio.engine.errors.SchemaError`.

Finding out whether the files agree costs one schema read per file. That is cheap on a local
disk but a request per object on a remote store, so there :func:`scan_files` can be
*optimistic*: it reads the first file's schema only and scans the files strictly, a step of up
to 256 files at a time (smaller under a visible progress bar); from the first step whose files
disagree it reads their schemas and reconciles (with the warning).

Hive-partitioned folders (``key=value/``) become columns;
:func:`~dynio.engine.io.layout.hive.prune_partitions` drops files whose partition values a
filter excludes before anything is opened.

Remote reads pass a :class:`Retry`: each request made while planning (a schema) is retried on
its own, and the reading itself, which Polars does when the frame is collected, is retried a
step of files at a time (the whole scan when it is one step), so a failure after some steps were
read does not read them twice.
"""

from __future__ import annotations

import math
import re
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, BinaryIO, TypeVar

import polars as pl

from dynio.engine.casts import cast_expr, needs_cast
from dynio.engine.errors import CastError, DynioError, SchemaError
from dynio.engine.io.formats import Format, ScanHints
from dynio.engine.io.layout.hive import hive_values
from dynio.engine.io.layout.schemas import Retry, read_schemas
from dynio.engine.io.layout.schemas import names as _names
from dynio.engine.io.layout.schemas import once as _once
from dynio.engine.io.layout.schemas import reconcile as _reconcile
from dynio.engine.progress import progress

__all__ = [
    "Retry",
    "SchemaDriftWarning",
    "read_schemas",
    "scan_files",
]

_CHUNKS = 20  # a visible progress bar moves in about this many steps
_STEP = 256  # at most this many files are read (and held) at once by an optimistic scan


T = TypeVar("T")


class SchemaDriftWarning(UserWarning):
    """Files of one dataset disagree on columns or types; they were reconciled (see the text)."""


# ------------------------------------------------------------------------------- schemas, drift


def _stack(
    files: Sequence[str],
    unified: Mapping[str, pl.DataType],
    schemas: Sequence[pl.Schema],
    scan_one: Callable[[str], pl.LazyFrame],
    targets: Mapping[str, pl.DataType],
) -> pl.LazyFrame:
    parts = []
    for path, schema in zip(files, schemas, strict=True):
        frame = scan_one(path)
        casts = [
            cast_expr(pl.col(c), d, unified[c], strict=True).alias(c)
            if c in targets
            else pl.col(c).cast(unified[c])
            for c, d in schema.items()
            if c in unified and needs_cast(d, unified[c])
        ]
        missing = [pl.lit(None, dtype=unified[c]).alias(c) for c in unified if c not in schema]
        if casts or missing:
            frame = frame.with_columns(casts + missing)
        parts.append(frame.select(list(unified)))
    return pl.concat(parts, how="vertical")


def _same(schemas: Sequence[pl.Schema], ordered: bool, columns: Sequence[str] | None) -> bool:
    first = schemas[0]
    if ordered:
        return all(list(s.items()) == list(first.items()) for s in schemas[1:])
    if columns is not None:
        # scans by name read the needed columns alike whatever else the files hold
        return all(all(s.get(c) == first.get(c) for c in columns) for s in schemas[1:])
    return all(dict(s) == dict(first) for s in schemas[1:])


def _eager(
    files: Sequence[str],
    fmt: Format,
    options: Mapping[str, Any],
    hints: ScanHints,
    *,
    label: str,
    context: Mapping[str, Any],
    shown: Callable[[str], str],
    columns: Sequence[str] | None = None,
    retry: Retry | None = None,
    stream: bool = False,
) -> pl.LazyFrame:
    kwargs: dict[str, Any] = {"label": label, "context": context, "shown": shown}
    guard = None if stream else retry
    if retry is not None:
        kwargs["retry"] = retry
    schemas = read_schemas(files, fmt, options, hints, footers=True, **kwargs)
    # parquet and IPC scans match columns by name; text formats by position
    if _same(schemas, not fmt.capabilities.columns_by_name, columns):
        return _guarded(fmt.scan(files, options, hints), guard, label)
    if fmt.footer_schema is not None and "://" not in files[0]:
        schemas = read_schemas(files, fmt, options, hints, **kwargs)  # with partition columns
    unified, notes = _reconcile(
        files, schemas, label=label, context=context, shown=shown, columns=columns,
        targets=hints.dtypes,
    )  # fmt: skip
    if notes:
        warnings.warn(
            f"schema drift across the {len(files)} files under {label}: " + "; ".join(notes),
            SchemaDriftWarning,
            stacklevel=4,
        )
    stacked = _stack(files, unified, schemas, lambda p: fmt.scan([p], options, hints), hints.dtypes)
    return _guarded(stacked, guard, label)


def _guarded(lazy: pl.LazyFrame, retry: Retry | None, what: str) -> pl.LazyFrame:
    """``lazy`` with the reading it does when collected retried as one request.

    Without a ``retry`` (local files) the frame is returned as it is.
    """
    if retry is None:
        return lazy
    from polars.io.plugins import register_io_source

    schema = retry(lazy.collect_schema, what)

    def source(
        with_columns: list[str] | None,
        predicate: pl.Expr | None,
        n_rows: int | None,
        batch_size: int | None,
    ) -> Iterator[pl.DataFrame]:
        inner = lazy.select(with_columns) if with_columns is not None else lazy
        yield retry(_narrow(inner, predicate, n_rows).collect, what)

    return register_io_source(source, schema=schema, explain_detail=what)


def scan_files(
    files: Sequence[str],
    fmt: Format,
    options: Mapping[str, Any],
    hints: ScanHints,
    *,
    label: str,
    context: Mapping[str, Any],
    columns: Sequence[str] | None = None,
    optimistic: bool = False,
    shown: Callable[[str], str] = str,
    retry: Retry | None = None,
    stream: bool = False,
    held: BinaryIO | None = None,
    handles: Sequence[BinaryIO] | None = None,
) -> pl.LazyFrame:
    """One LazyFrame over many files of one format, drift reconciled (see the module notes).

    Args:
        files: Paths or URLs, non-empty; the format's scanner opens them.
        fmt: Their format.
        options: Reader options.
        hints: Target dtypes and storage options.
        label: The dataset's location, for messages and the progress bar.
        context: ``resource``/``env`` for errors.
        columns: The columns the plan needs (``None``: all).
        optimistic: Read one schema and scan strictly; reconcile only when files disagree, so
            that each file is opened once (remote stores: each schema read is a request).
            Needs ``columns`` and parquet files.
        shown: How a file is named in messages (redacted, relative).
        retry: For remote files: how requests are retried (see :class:`Retry`); ``None``: once.
        stream: The caller may stream the frame: schema reads are retried, but the reading is
            left to the scan as it is (not collected whole under ``retry``).
        held: The first file, open (a local file the caller closes after the read): an
            optimistic scan reads its footer and its data through it, never opening it again.
        handles: Every file, open (local parquet files without partition folders, which the
            caller closes after the read), for a read of all columns: their footers are read
            through them and, when the files agree, their data too, so each file is opened
            once. Files that disagree are read by their paths, reconciled.
    """
    if len(files) == 1:
        return _guarded(fmt.scan(files, options, hints), None if stream else retry, files[0])
    if handles is not None:
        frame = _through_handles(handles, options)
        if frame is not None:
            return frame
    if optimistic and columns is not None and fmt.capabilities.statistics:
        frame = _optimistic(
            files, fmt, options, hints, label=label, context=context, columns=columns,
            shown=shown, retry=retry, held=held,
        )  # fmt: skip
        if frame is not None:
            return frame
    return _eager(
        files, fmt, options, hints, label=label, context=context, shown=shown, columns=columns,
        retry=retry, stream=stream,
    )  # fmt: skip


def _through_handles(
    handles: Sequence[BinaryIO], options: Mapping[str, Any]
) -> pl.LazyFrame | None:
    """A scan of open parquet files through their handles when their footers (read through the
    same handles) agree exactly; ``None`` when they do not, or one cannot be read (the caller
    reads the files by their paths, reconciling them or naming the broken one)."""
    schemas = []
    try:
        for handle in handles:
            handle.seek(0)
            schemas.append(pl.Schema(pl.read_parquet_schema(handle)))
            handle.seek(0)
    except (pl.exceptions.PolarsError, OSError, ValueError):
        return None
    if not _same(schemas, True, None):
        return None
    kwargs = {k: options[k] for k in ("use_statistics", "parallel") if k in options}
    return pl.scan_parquet(
        list(handles),  # type: ignore[arg-type]
        schema=schemas[0],
        hive_partitioning=False,
        glob=False,
        **kwargs,
    )


# ------------------------------------------------------------------------------ optimistic scans


def _strict_kwargs(
    files: Sequence[str], options: Mapping[str, Any], hints: ScanHints
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for name in ("use_statistics", "parallel"):
        if name in options:
            kwargs[name] = options[name]
    if hints.storage_options:
        kwargs["storage_options"] = dict(hints.storage_options)
    hive = options.get("hive_partitioning")
    if hive is None:
        hive = all(hive_values(f.split("://", 1)[-1]) for f in files)
    kwargs["hive_partitioning"] = bool(hive)
    return kwargs


_CAST_OPTIONS: list[pl.ScanCastOptions] = []
_CAST_OPTIONS_LOCK = threading.Lock()


def _scan_cast_options() -> pl.ScanCastOptions:
    """Narrower integers in some files (int32 here, int64 there) are not drift worth a warning.

    Made once: ``warnings.catch_warnings`` swaps the process-wide filter list, which is not
    thread-safe, and this is called from the IO-plugin generators of concurrent reads.
    """
    with _CAST_OPTIONS_LOCK:
        if not _CAST_OPTIONS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", pl.exceptions.UnstableWarning)
                _CAST_OPTIONS.append(pl.ScanCastOptions(integer_cast="upcast"))
        return _CAST_OPTIONS[0]


def _declared(
    first: pl.Schema, columns: Sequence[str], hints: ScanHints
) -> dict[str, pl.DataType] | None:
    """The types a scan promises for ``columns`` from the first file's schema, or ``None``
    when a needed column is not in it and the schema gives no type for it."""
    declared: dict[str, pl.DataType] = {}
    for col in columns:
        found, target = first.get(col), hints.dtypes.get(col)
        if found is None:
            if target is None:
                return None
            declared[col] = target
        elif target is not None and found.is_integer() and target.is_float():
            declared[col] = target  # the schema wants floats anyway: other files may hold them
        else:
            declared[col] = found
    return declared


class _Optimist:
    """The reading of an optimistic scan: strict steps of files, reconciled from the first step
    whose files disagree. With ``held`` (a local first file open since planning, whose footer
    gave the promised schema) that file is read through the same open file."""

    def __init__(
        self,
        files: Sequence[str],
        fmt: Format,
        options: Mapping[str, Any],
        hints: ScanHints,
        first: pl.Schema,
        *,
        label: str,
        context: Mapping[str, Any],
        shown: Callable[[str], str],
        retry: Retry | None,
        held: BinaryIO | None,
    ) -> None:
        self.files, self.fmt, self.options, self.hints = files, fmt, options, hints
        self.label, self.context, self.shown, self.retry = label, context, shown, retry
        self.held = held
        self.kwargs = _strict_kwargs(files, options, hints)
        hive = self.kwargs["hive_partitioning"]
        hive_keys = list(hive_values(files[0].split("://", 1)[-1])) if hive else []
        self.file_schema = {c: first[c] for c in first if c not in hive_keys}
        self.hive_schema = {k: first[k] for k in hive_keys if k in first}

    def strict(self, paths: Sequence[str | BinaryIO]) -> pl.LazyFrame:
        by_handle = not isinstance(paths[0], str)
        kwargs = {**self.kwargs, "hive_partitioning": False} if by_handle else self.kwargs
        return pl.scan_parquet(
            list(paths),  # type: ignore[arg-type]
            schema=self.file_schema,
            hive_schema=None if by_handle else self.hive_schema or None,
            missing_columns="raise",
            extra_columns="ignore",
            cast_options=_scan_cast_options(),
            glob=False,  # the paths were listed: each names one file, brackets and all
            **kwargs,
        )

    def step(self, start: int, chunk: Sequence[str]) -> pl.LazyFrame:
        if start > 0 or self.held is None:
            return self.strict(chunk)
        self.held.seek(0)
        first = self.strict([self.held])
        if self.hive_schema:
            # a file read through its handle has no path: its partition values are added from
            # its folders (of the plain spellings :func:`_held_partitions` admits)
            values = hive_values(self.files[0].split("://", 1)[-1])
            order = [*self.file_schema, *self.hive_schema]
            first = first.with_columns(
                _partition_value(values[k], t).alias(k) for k, t in self.hive_schema.items()
            ).select(order)
            rest = self.strict(chunk[1:]).select(order) if len(chunk) > 1 else None
        else:
            rest = self.strict(chunk[1:]) if len(chunk) > 1 else None
        return pl.concat([first, rest]) if rest is not None else first

    def read(
        self, wanted: list[str], promised: Mapping[str, pl.DataType], predicate: pl.Expr | None,
        n_rows: int | None,
    ) -> Iterator[pl.DataFrame]:  # fmt: skip
        files, attempt = self.files, self.retry or _once
        left = n_rows
        with progress(len(files), f"reading {len(files)} files under {self.label}") as bar:
            # a few files at a time, so a streaming collect holds one step in memory and a
            # visible bar moves; files that disagree are reconciled from there on
            step = min(_STEP, max(16, math.ceil(len(files) / _CHUNKS))) if bar.enabled else _STEP
            start = 0
            while start < len(files) and (left is None or left > 0):
                chunk = files[start : start + step]
                try:
                    lazy = _narrow(self.step(start, chunk).select(wanted), predicate, left)
                    frame = attempt(lazy.collect, self.label)
                except (pl.exceptions.SchemaError, pl.exceptions.ColumnNotFoundError):
                    chunk = files[start:]
                    frame = self.reconciled(chunk, start == 0, wanted, promised, predicate, left)
                yield _conform(frame, promised, self.label, self.context)
                bar.update(len(chunk))
                start += len(chunk)
                left = None if left is None else left - frame.height

    def reconciled(
        self, rest: Sequence[str], first_step: bool, wanted: Sequence[str],
        promised: Mapping[str, pl.DataType], predicate: pl.Expr | None, n_rows: int | None,
    ) -> pl.DataFrame:  # fmt: skip
        lazy = _eager(
            rest, self.fmt, self.options, self.hints, label=self.label, context=self.context,
            shown=self.shown, columns=wanted, retry=self.retry,
        )  # fmt: skip
        have = lazy.collect_schema()
        absent = [c for c in wanted if c not in have]
        if absent and first_step:
            raise SchemaError(
                f"column(s) {absent} missing from every file under {self.label}; they have"
                f" {have.names()}",
                column=absent[0],
                file=self.label,
                **self.context,
            )
        if absent:  # earlier files had them: null here, as for any column some files lack
            names = [self.shown(f) for f in rest]
            warnings.warn(
                f"schema drift across the files under {self.label}: column(s) {absent} are"
                f" missing from {len(rest)} files (read as null there): {_names(names)}",
                SchemaDriftWarning,
                stacklevel=2,
            )
            lazy = lazy.with_columns(pl.lit(None, dtype=promised[c]).alias(c) for c in absent)
        return _narrow(lazy.select(wanted), predicate, n_rows).collect()


def _first_schema(
    files: Sequence[str],
    fmt: Format,
    options: Mapping[str, Any],
    hints: ScanHints,
    *,
    hive: bool,
    retry: Retry | None,
    held: BinaryIO | None,
) -> pl.Schema:
    """The first file's schema, partition columns included, from one read of its footer."""
    if held is not None:
        held.seek(0)
        footer = pl.read_parquet_schema(held)
        if not hive:
            return pl.Schema(footer)
        # the partition columns' types as Polars infers them from the path, opening nothing
        scan = pl.scan_parquet([files[0]], schema=footer, hive_partitioning=True, glob=False)
        return scan.collect_schema()
    if "://" in files[0]:
        return (retry or _once)(fmt.scan([files[0]], options, hints).collect_schema, files[0])
    # Polars' own scan would open the file twice to plan; given the footer's schema it opens
    # nothing, and adds the partition columns from the path
    footer = pl.read_parquet_schema(files[0])
    lazy = pl.scan_parquet([files[0]], schema=footer, hive_partitioning=hive, glob=False)
    return lazy.collect_schema()


# partition values whose spelling Polars' hive scan and a cast of the text read alike (no
# percent-encoding, no null partition); of the types below
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_.\-]+")
_HELD_TYPES = (pl.Int64, pl.Float64, pl.String, pl.Date)


def _held_partitions(file: str) -> bool:
    """Whether a file read through its handle can have its partition values added from its
    path (see :meth:`_Optimist.step`)."""
    values = hive_values(file.split("://", 1)[-1])
    return all(
        _PLAIN_VALUE.fullmatch(v) and v != "__HIVE_DEFAULT_PARTITION__" for v in values.values()
    )


def _partition_value(text: str, dtype: pl.DataType) -> pl.Expr:
    """A partition value of a path, as the type Polars' hive scan gives it."""
    if isinstance(dtype, pl.Date):
        return pl.lit(text).str.to_date("%Y-%m-%d")
    return pl.lit(text).cast(dtype)


def _held_types(first: pl.Schema, file: str) -> bool:
    keys = hive_values(file.split("://", 1)[-1])
    return all(isinstance(first.get(k), _HELD_TYPES) for k in keys)


def _optimistic(
    files: Sequence[str],
    fmt: Format,
    options: Mapping[str, Any],
    hints: ScanHints,
    *,
    label: str,
    context: Mapping[str, Any],
    columns: Sequence[str],
    shown: Callable[[str], str],
    retry: Retry | None = None,
    held: BinaryIO | None = None,
) -> pl.LazyFrame | None:
    """A scan promising ``columns`` from the first file's schema, checked when collected.

    The first file's footer is the only one read while planning (from ``held`` when given, so
    that the file is opened once for the whole read); each file is opened once when reading.
    Returns ``None`` when the promise cannot be made (a needed column is not in the first file
    and the schema gives no type for it); the caller then reads every schema up front.
    """
    from polars.io.plugins import register_io_source

    hive = _strict_kwargs(files, options, hints)["hive_partitioning"]
    if hive and not _held_partitions(files[0]):
        held = None  # its partition values are read from its path by Polars' own hive scan
    first = _first_schema(files, fmt, options, hints, hive=hive, retry=retry, held=held)
    if held is not None and hive and not _held_types(first, files[0]):
        held = None
    declared = _declared(first, columns, hints)
    if declared is None:
        return None
    reader = _Optimist(
        files, fmt, options, hints, first, label=label, context=context, shown=shown,
        retry=retry, held=held,
    )  # fmt: skip

    def source(
        with_columns: list[str] | None,
        predicate: pl.Expr | None,
        n_rows: int | None,
        batch_size: int | None,
    ) -> Iterator[pl.DataFrame]:
        wanted = list(with_columns) if with_columns is not None else list(declared)
        yield from reader.read(wanted, {c: declared[c] for c in wanted}, predicate, n_rows)

    return register_io_source(
        source,
        schema=declared,
        explain_name=f"{fmt.name.upper()} SCAN",
        explain_detail=f"{len(files)} files under {label}",
    )


def _narrow(lazy: pl.LazyFrame, predicate: pl.Expr | None, n_rows: int | None) -> pl.LazyFrame:
    if predicate is not None:
        lazy = lazy.filter(predicate)
    return lazy.head(n_rows) if n_rows is not None else lazy


def _conform(
    frame: pl.DataFrame, declared: Mapping[str, pl.DataType], label: str, context: Mapping[str, Any]
) -> pl.DataFrame:
    """Bring reconciled columns to the promised types, safely (``1.0`` fits an int, ``1.5`` not)."""
    casts = [(c, frame.schema[c], t) for c, t in declared.items() if needs_cast(frame.schema[c], t)]
    if not casts:
        return frame
    try:
        return frame.with_columns(
            cast_expr(pl.col(c), s, t, strict=True).alias(c) for c, s, t in casts
        )
    except pl.exceptions.PolarsError as exc:
        for col, source, target in casts:
            loose = frame.select(cast_expr(pl.col(col), source, target, strict=False))[col]
            bad = frame[col].filter(loose.is_null() & frame[col].is_not_null())
            if len(bad):
                raise CastError(
                    f"{len(bad)} value(s) do not fit {target} (from {source}, as some files"
                    f" under {label} hold them)",
                    target=str(target),
                    column=col,
                    values=bad.head(5).to_list(),
                    file=label,
                    **context,
                ) from exc
        raise DynioError(f"cast failed: {exc}", file=label, **context) from exc
