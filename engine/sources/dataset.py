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
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import polars as pl

from dynio.engine.casts import cast_expr, needs_cast
from dynio.engine.errors import CastError, DynioError, ReadError, SchemaError, first_line
from dynio.engine.formats import Format, ScanHints
from dynio.engine.io.layout.hive import hive_values
from dynio.engine.progress import progress
from dynio.engine.telemetry import run_in_threads

__all__ = [
    "Retry",
    "SchemaDriftWarning",
    "read_schemas",
    "scan_files",
]

_SHOWN = 5  # file names listed in a message before "… N more"
_CHUNKS = 20  # a visible progress bar moves in about this many steps
_STEP = 256  # at most this many files are read (and held) at once by an optimistic scan


T = TypeVar("T")


class Retry(Protocol):
    """Runs one remote request (``fn``), trying again on transient failures; ``what`` names the
    file or dataset for messages. It raises what ``fn`` raised when that is not transient."""

    def __call__(self, fn: Callable[[], T], what: str) -> T:
        """``fn()``, retried."""
        ...


def _once(fn: Callable[[], T], what: str) -> T:
    return fn()


class SchemaDriftWarning(UserWarning):
    """Files of one dataset disagree on columns or types; they were reconciled (see the text)."""


def _names(files: Sequence[str]) -> str:
    shown = ", ".join(files[:_SHOWN])
    more = len(files) - _SHOWN
    return shown + (f", … {more} more" if more > 0 else "")


# ------------------------------------------------------------------------------- schemas, drift


def read_schemas(
    files: Sequence[str],
    fmt: Format,
    options: Mapping[str, Any],
    hints: ScanHints,
    *,
    label: str,
    context: Mapping[str, Any],
    shown: Callable[[str], str] = str,
    footers: bool = False,
    retry: Retry = _once,
) -> list[pl.Schema]:
    """Each file's schema (a progress bar on a terminal).

    Remote files are asked in parallel (each is a request); local ones in turn, which is faster
    than threads for reads this small. With ``footers``, local parquet schemas come from the file
    footers alone (no hive partition columns): enough to tell whether the files agree.

    Raises:
        ReadError: A file cannot be read; names it.
    """
    remote = any("://" in f for f in files[:1])
    with progress(len(files), f"checking {len(files)} files under {label}") as bar:

        def one(path: str) -> pl.Schema:
            try:
                if footers and not remote and fmt.name == "parquet":
                    schema = pl.read_parquet_schema(path)
                else:
                    lazy = fmt.scan([path], options, hints)
                    schema = retry(lazy.collect_schema, path)
            except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
                text = first_line(exc)
                raise ReadError(
                    f"cannot read {fmt.name}: {text}", file=shown(path), **context
                ) from exc
            bar.update()
            return pl.Schema(schema)

        if not remote:
            return [one(f) for f in files]
        return run_in_threads(one, files, max_workers=16)


def _family(dtype: pl.DataType) -> str:
    if dtype.is_numeric():
        return "number"
    if isinstance(dtype, pl.String | pl.Categorical | pl.Enum):
        return "text"
    if isinstance(dtype, pl.Datetime):
        return f"datetime[{dtype.time_zone}]"
    return str(dtype)


_UNITS = {"ms": 0, "us": 1, "ns": 2}


def _unify(dtypes: Sequence[pl.DataType]) -> pl.DataType | None:
    """The type every one of ``dtypes`` widens to without loss, or ``None`` if there is none."""
    known = [d for d in dtypes if not isinstance(d, pl.Null)]
    if not known:
        return pl.Null()
    families = {_family(d) for d in known}
    if len(families) > 1:
        return None
    family = families.pop()
    first = known[0]
    if all(d == first for d in known):
        return first
    if family == "number":
        if any(d.is_float() or d.is_decimal() for d in known):
            return pl.Float64()
        if any(isinstance(d, pl.UInt64) for d in known):
            return None  # no integer type holds both every uint64 and negative values
        return pl.Int64()
    if family == "text":
        return pl.String()
    if family.startswith("datetime"):
        return max(known, key=lambda d: _UNITS[getattr(d, "time_unit", None) or "us"])
    return None


def _reconcile(
    files: Sequence[str],
    schemas: Sequence[pl.Schema],
    *,
    label: str,
    context: Mapping[str, Any],
    shown: Callable[[str], str],
    columns: Sequence[str] | None = None,
) -> tuple[dict[str, pl.DataType], list[str]]:
    """The unified schema of differing files and the notes for the drift warning.

    Only the ``columns`` the read needs (all when ``None``) are worth a note.

    Raises:
        ReadError: A column's types do not reconcile; names the files of each type.
    """
    order: list[str] = []
    for schema in schemas:
        order.extend(c for c in schema if c not in order)
    unified: dict[str, pl.DataType] = {}
    notes: list[str] = []
    wanted = None if columns is None else set(columns)
    for col in order:
        needed = wanted is None or col in wanted
        present = [(f, s[col]) for f, s in zip(files, schemas, strict=True) if col in s]
        lacking = [shown(f) for f, s in zip(files, schemas, strict=True) if col not in s]
        target = _unify([d for _, d in present])
        if target is None and not needed:
            continue  # not read, so its disagreement does not matter
        if target is None:
            by_type: dict[str, list[str]] = {}
            for f, d in present:
                by_type.setdefault(str(d), []).append(shown(f))
            detail = "; ".join(f"{t} in {_names(fs)}" for t, fs in by_type.items())
            raise ReadError(
                f"column {col!r} has types that do not reconcile across the files under"
                f" {label}: {detail}",
                column=col,
                file=label,
                **context,
            )
        unified[col] = target
        if not needed:
            continue
        if lacking:
            notes.append(
                f"column {col!r} is missing from {len(lacking)} of {len(files)} files"
                f" (read as null there): {_names(lacking)}"
            )
        ints = [shown(f) for f, d in present if d.is_integer()]
        if target.is_float() and ints:
            notes.append(
                f"column {col!r} holds integers in {len(ints)} files and floats in the others"
                f" (read as {target}): integers in {_names(ints)}"
            )
    return unified, notes


def _stack(
    files: Sequence[str],
    unified: Mapping[str, pl.DataType],
    schemas: Sequence[pl.Schema],
    scan_one: Callable[[str], pl.LazyFrame],
) -> pl.LazyFrame:
    parts = []
    for path, schema in zip(files, schemas, strict=True):
        frame = scan_one(path)
        casts = [
            pl.col(c).cast(unified[c])
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
    if _same(schemas, fmt.name not in ("parquet", "ipc"), columns):
        return _guarded(fmt.scan(files, options, hints), guard, label)
    if fmt.name == "parquet" and "://" not in files[0]:
        schemas = read_schemas(files, fmt, options, hints, **kwargs)  # with partition columns
    unified, notes = _reconcile(
        files, schemas, label=label, context=context, shown=shown, columns=columns
    )
    if notes:
        warnings.warn(
            f"schema drift across the {len(files)} files under {label}: " + "; ".join(notes),
            SchemaDriftWarning,
            stacklevel=4,
        )
    stacked = _stack(files, unified, schemas, lambda p: fmt.scan([p], options, hints))
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
        optimistic: Read one schema and scan strictly; reconcile only when files disagree (for
            remote stores, where each schema read is a request). Needs ``columns``.
        shown: How a file is named in messages (redacted, relative).
        retry: For remote files: how requests are retried (see :class:`Retry`); ``None``: once.
        stream: The caller may stream the frame: schema reads are retried, but the reading is
            left to the scan as it is (not collected whole under ``retry``).
    """
    if len(files) == 1:
        return _guarded(fmt.scan(files, options, hints), None if stream else retry, files[0])
    if optimistic and columns is not None and fmt.name == "parquet":
        frame = _optimistic(
            files, fmt, options, hints, label=label, context=context, columns=columns,
            shown=shown, retry=retry,
        )  # fmt: skip
        if frame is not None:
            return frame
    return _eager(
        files, fmt, options, hints, label=label, context=context, shown=shown, columns=columns,
        retry=retry, stream=stream,
    )  # fmt: skip


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
) -> pl.LazyFrame | None:
    """A scan promising ``columns`` from the first file's schema, checked when collected.

    Returns ``None`` when the promise cannot be made (a needed column is not in the first file
    and the schema gives no type for it); the caller then reads every schema up front.
    """
    from polars.io.plugins import register_io_source

    kwargs = _strict_kwargs(files, options, hints)
    attempt: Retry = retry if retry is not None else _once
    first = attempt(fmt.scan([files[0]], options, hints).collect_schema, files[0])
    hive_keys = (
        list(hive_values(files[0].split("://", 1)[-1])) if kwargs["hive_partitioning"] else []
    )
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
    file_schema = {c: first[c] for c in first if c not in hive_keys}
    hive_schema = {k: first[k] for k in hive_keys if k in first}

    def strict(paths: Sequence[str]) -> pl.LazyFrame:
        return pl.scan_parquet(
            list(paths),
            schema=file_schema,
            hive_schema=hive_schema or None,
            missing_columns="raise",
            extra_columns="ignore",
            cast_options=_scan_cast_options(),
            glob=False,  # the paths were listed: each names one file, brackets and all
            **kwargs,
        )

    def source(
        with_columns: list[str] | None,
        predicate: pl.Expr | None,
        n_rows: int | None,
        batch_size: int | None,
    ) -> Iterator[pl.DataFrame]:
        wanted = list(with_columns) if with_columns is not None else list(declared)
        promised = {c: declared[c] for c in wanted}
        left = n_rows
        with progress(len(files), f"reading {len(files)} files under {label}") as bar:
            # a few files at a time, so a streaming collect holds one step in memory and a
            # visible bar moves; files that disagree are reconciled from there on
            step = min(_STEP, max(16, math.ceil(len(files) / _CHUNKS))) if bar.enabled else _STEP
            start = 0
            while start < len(files) and (left is None or left > 0):
                chunk = files[start : start + step]
                try:
                    step_frame = _narrow(strict(chunk).select(wanted), predicate, left)
                    frame = attempt(step_frame.collect, label)
                except (pl.exceptions.SchemaError, pl.exceptions.ColumnNotFoundError):
                    rest = files[start:]
                    frame = _reconciled_rest(rest, first_step=start == 0, wanted=wanted,
                                             predicate=predicate, n_rows=left)  # fmt: skip
                    chunk = rest
                yield _conform(frame, promised, label, context)
                bar.update(len(chunk))
                start += len(chunk)
                left = None if left is None else left - frame.height

    def _reconciled_rest(
        rest: Sequence[str],
        *,
        first_step: bool,
        wanted: Sequence[str],
        predicate: pl.Expr | None,
        n_rows: int | None,
    ) -> pl.DataFrame:
        lazy = _eager(
            rest, fmt, options, hints, label=label, context=context, shown=shown, columns=wanted,
            retry=retry,
        )  # fmt: skip
        have = lazy.collect_schema()
        absent = [c for c in wanted if c not in have]
        if absent and first_step:
            raise SchemaError(
                f"column(s) {absent} missing from every file under {label}; they have"
                f" {have.names()}",
                column=absent[0],
                file=label,
                **context,
            )
        if absent:  # earlier files had them: null here, as for any column some files lack
            names = [shown(f) for f in rest]
            warnings.warn(
                f"schema drift across the files under {label}: column(s) {absent} are missing"
                f" from {len(rest)} files (read as null there): {_names(names)}",
                SchemaDriftWarning,
                stacklevel=2,
            )
            lazy = lazy.with_columns(pl.lit(None, dtype=declared[c]).alias(c) for c in absent)
        return _narrow(lazy.select(wanted), predicate, n_rows).collect()

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
