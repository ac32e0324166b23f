"""Reading a dataset's file schemas (footers) and reconciling files that disagree.

:func:`read_schemas` reads each file's schema once (local parquet from its footer alone; remote
files in parallel, each a request retried on its own); :func:`reconcile` finds the type every
file's column widens to without loss and says which files drifted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import polars as pl

from dynio.engine.errors import ReadError, first_line
from dynio.engine.io.formats import Format, ScanHints
from dynio.engine.progress import progress
from dynio.engine.telemetry import run_in_threads

__all__ = ["Retry", "names", "once", "read_schemas", "reconcile"]

T = TypeVar("T")
_SHOWN = 5  # file names listed in a message before "… N more"


class Retry(Protocol):
    """Runs one remote request (``fn``), trying again on transient failures; ``what`` names the
    file or dataset for messages. It raises what ``fn`` raised when that is not transient."""

    def __call__(self, fn: Callable[[], T], what: str) -> T:
        """``fn()``, retried."""
        ...


def once(fn: Callable[[], T], what: str) -> T:
    return fn()


def names(files: Sequence[str]) -> str:
    shown = ", ".join(files[:_SHOWN])
    more = len(files) - _SHOWN
    return shown + (f", … {more} more" if more > 0 else "")


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
    retry: Retry = once,
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
                if footers and not remote and fmt.footer_schema is not None:
                    schema = fmt.footer_schema(path)
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


def reconcile(
    files: Sequence[str],
    schemas: Sequence[pl.Schema],
    *,
    label: str,
    context: Mapping[str, Any],
    shown: Callable[[str], str],
    columns: Sequence[str] | None = None,
    targets: Mapping[str, pl.DataType] | None = None,
) -> tuple[dict[str, pl.DataType], list[str]]:
    """The unified schema of differing files and the notes for the drift warning.

    Only the ``columns`` the read needs (all when ``None``) are worth a note. A column whose
    files disagree and that has a schema type in ``targets`` is that type: each file is cast to
    it directly and safely, never through a type that loses values (int64 through float64).

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
        if targets and col in targets and len({str(d) for _, d in present}) > 1:
            target = targets[col]
        if target is None and not needed:
            continue  # not read, so its disagreement does not matter
        if target is None:
            by_type: dict[str, list[str]] = {}
            for f, d in present:
                by_type.setdefault(str(d), []).append(shown(f))
            detail = "; ".join(f"{t} in {names(fs)}" for t, fs in by_type.items())
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
                f" (read as null there): {names(lacking)}"
            )
        ints = [shown(f) for f, d in present if d.is_integer()]
        if target.is_float() and ints:
            notes.append(
                f"column {col!r} holds integers in {len(ints)} files and floats in the others"
                f" (read as {target}): integers in {names(ints)}"
            )
    return unified, notes
