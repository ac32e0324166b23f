"""Rules and metrics of a read that took the arrow path, with text checked on dictionary codes.

A parquet read into pandas with rules or metrics to run may take pyarrow's reader (the
``arrow`` path of :mod:`dynio.engine.read_path`), as a plain read does. The checks then run on
a Polars frame of the columns they read, made from the Arrow table without copies, while the
hand-off to pandas converts the table beside them:

- **Text on its codes.** A text column whose every check is decided by its distinct values and
  their counts (``is_in``, null and uniqueness rules, ``CountsPerLabel``, counts; see
  :data:`CODE_RULES` and :data:`CODE_METRICS`) and whose file stores it with small dictionaries
  (the writers' default for low-cardinality text) is read as a dictionary: the reader skips
  building a string per row, the checks group and compare codes (the column is a Polars
  ``Categorical``), and the hand-off decodes the dictionary into the very ``large_string``
  column the plain read gives, so pandas gets the dtype its own reader gives.
- **The same results as the polars path.** The table is read with one chunk per row group, as
  Polars' reader gives them, so sums over floats (``Mean``, ``Std``, ``Variance``) add in the
  same order and give the same bits; the report and the metric values equal the polars
  path's (``tests/test_arrow_checks.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from dynio.engine.plan import Plan, PlanInfo
from dynio.engine.quality import active_checks, checked_columns
from dynio.engine.result import Result
from dynio.engine.spec import SchemaSpec

__all__ = [
    "CODE_METRICS",
    "CODE_RULES",
    "SMALL_DICTIONARY_BYTES",
    "CheckedTable",
    "Route",
    "checked",
    "coded_candidates",
    "plain",
    "read_checked",
    "route",
    "split",
    "worthwhile",
]

# rules and metrics that give the same answer on a Categorical column as on its text: they
# depend only on which values occur, how often, and where the nulls are
CODE_RULES = frozenset(
    {"is_in", "has_no_null_values", "has_acceptable_percentage_of_nulls", "has_unique_values"}
)
CODE_METRICS = frozenset({"CountsPerLabel", "Counts", "NullCount", "UniqueCounts"})
# a column read as a dictionary only when each row group's dictionary page is at most this
# big: a writer whose dictionary outgrew its limit fell back to plain pages, and pyarrow would
# then hash every value to build one
SMALL_DICTIONARY_BYTES = 64 * 1024


@dataclass(frozen=True)
class CheckedTable:
    """What the arrow path read for a checked read.

    Attributes:
        table: The columns as read, one chunk per row group; ``coded`` ones are dictionaries.
        coded: The text columns read as dictionaries.
        checked: The columns the rules and metrics read (the check frame's columns).
    """

    table: Any
    coded: tuple[str, ...]
    checked: tuple[str, ...]

    @property
    def num_rows(self) -> int:
        """The rows read."""
        return int(self.table.num_rows)


def coded_candidates(
    schema: SchemaSpec | None,
    source: Mapping[str, pl.DataType],
    *,
    validate: bool,
    metrics: bool,
) -> tuple[list[str], list[str]]:
    """The columns the checks read, and the text ones among them checkable on codes."""
    frame_schema = pl.Schema(dict(source))
    rules, metric_cols = active_checks(schema, frame_schema, rules=validate, metrics=metrics)
    checked = checked_columns(rules, metric_cols, frame_schema)
    framed = {c for r in rules if r.column is None for c in r.options.get("columns", ())}
    coded = []
    for name in checked:
        if not isinstance(frame_schema[name], pl.String) or name in framed:
            continue
        names = [r.name for r in rules if r.column == name]
        names += [m for c, m in metric_cols if c == name]
        if all(n in CODE_RULES or n in CODE_METRICS for n in names):
            coded.append(name)
    return checked, coded


def worthwhile(plan: Plan, schema: SchemaSpec | None, *, validate: bool, metrics: bool) -> bool:
    """Whether a checked read gains by the arrow path: some text column is handed to pandas
    that the checks do not read as a dictionary.

    What the arrow path saves is Polars' text hand-off (its string views copied into the
    ``large_string`` pandas takes); pyarrow reads such text in that form at once. Without
    such a column (numbers, and text checked on its codes) Polars' read is as fast and its
    checks on text the cheaper.
    """
    source = plan.info.source_schema
    names = list(plan.info.columns) if plan.info.columns is not None else list(source)
    read = {n: source[n] for n in names if n in source}
    _, coded = coded_candidates(schema, read, validate=validate, metrics=metrics)
    return any(isinstance(t, pl.String) and n not in coded for n, t in read.items())


def _small_dictionaries(meta: Any, column: str) -> bool:
    """Whether every row group stores ``column`` with a dictionary page of at most
    :data:`SMALL_DICTIONARY_BYTES`."""
    index = meta.schema.names.index(column) if column in meta.schema.names else -1
    if index < 0 or meta.num_row_groups == 0:
        return False
    for g in range(meta.num_row_groups):
        chunk = meta.row_group(g).column(index)
        start = chunk.dictionary_page_offset
        if not chunk.has_dictionary_page or start is None:
            return False
        if chunk.data_page_offset - start > SMALL_DICTIONARY_BYTES:
            return False
    return True


def read_checked(
    plan: Plan, schema: SchemaSpec | None, *, validate: bool, metrics: bool
) -> CheckedTable | None:
    """The plan's file through pyarrow's reader, for a read with checks (see the module docs);
    ``None`` when the file no longer has the columns and types the plan was made for.

    Raises:
        OSError, pyarrow.ArrowException: As pyarrow's reader raises them.
    """
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    info = plan.info
    path = info.files[0]
    source = info.source_schema
    names = list(info.columns) if info.columns is not None else list(source)
    checked, candidates = coded_candidates(
        schema, {n: source[n] for n in names if n in source}, validate=validate, metrics=metrics
    )
    meta = pq.read_metadata(path)
    coded = [c for c in candidates if _small_dictionaries(meta, c)]
    tallest = max((meta.row_group(g).num_rows for g in range(meta.num_row_groups)), default=0)
    fmt = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(dictionary_columns=coded))
    # batches as tall as the row groups: one chunk per row group, as Polars reads them
    table = ds.dataset(path, format=fmt).to_table(columns=names, batch_size=max(tallest, 1))
    if not _as_planned(table, source, names, coded):
        return None
    return CheckedTable(table, tuple(coded), tuple(checked))


def _as_planned(
    table: Any, source: Mapping[str, pl.DataType], names: Sequence[str], coded: Sequence[str]
) -> bool:
    """Whether the table has the planned columns, in types the hand-off takes after
    :func:`plain` (text as string or large_string, coded text as their dictionaries)."""
    import pyarrow as pa

    if table.column_names != list(names):
        return False
    target = _export_schema(tuple((n, source[n]) for n in names))
    for field, kind in zip(target, table.schema.types, strict=True):
        if kind == field.type:
            continue
        text = kind.value_type if pa.types.is_dictionary(kind) else kind
        if pa.types.is_dictionary(kind) and field.name not in coded:
            return False
        if not (
            (pa.types.is_string(text) or pa.types.is_large_string(text))
            and pa.types.is_large_string(field.type)
        ) and not (pa.types.is_binary(kind) and pa.types.is_large_binary(field.type)):
            return False
    return True


_EXPORT: dict[tuple[tuple[str, pl.DataType], ...], Any] = {}


def _export_schema(columns: tuple[tuple[str, pl.DataType], ...]) -> Any:
    """The Arrow schema Polars' export gives a frame of these columns."""
    known = _EXPORT.get(columns)
    if known is None:
        known = pl.DataFrame(schema=dict(columns)).to_arrow().schema
        if len(_EXPORT) < 256:
            _EXPORT[columns] = known
    return known


def plain(read: CheckedTable, source: Mapping[str, pl.DataType]) -> Any:
    """The table with the types Polars' export gives (coded text decoded to ``large_string``),
    which is what the arrow path's hand-off takes."""
    import pyarrow as pa

    table = read.table
    target = _export_schema(tuple((n, source[n]) for n in table.column_names))
    columns = [
        column if column.type == field.type else column.cast(field.type)
        for field, column in zip(target, table.columns, strict=True)
    ]
    return pa.Table.from_arrays(columns, schema=target)


def split(
    read: CheckedTable, source: Mapping[str, pl.DataType], convert_arrow: Callable[[Any], Any]
) -> tuple[pl.DataFrame, Callable[[pl.DataFrame], tuple[Any, Any]]]:
    """The frame the checks run on, and the hand-off of the whole table (to run beside them),
    which gives the table as :func:`plain` makes it and the hand-off's output.

    The frame holds the checked columns without copies (coded ones as ``Categorical``), one
    chunk per row group; with no column to check, the first one (the row count is checked).
    """
    table = read.table
    columns = list(read.checked) or table.column_names[:1]
    frame = pl.from_arrow(table.select(columns), rechunk=False)
    if not isinstance(frame, pl.DataFrame):  # pragma: no cover - a table gives a frame
        raise TypeError("expected a frame")

    def hand_off(_: pl.DataFrame) -> tuple[Any, Any]:
        whole = plain(read, source)
        return whole, convert_arrow(whole)

    return frame, hand_off


def checked(
    read: CheckedTable,
    info: PlanInfo,
    convert_arrow: Callable[[Any], Any],
    check: Callable[[pl.DataFrame, Callable[[pl.DataFrame], Any]], Result],
) -> Result:
    """The arrow path's checked read: ``check(frame, hand_off)`` (the engine's rules and
    metrics with the hand-off beside them) on :func:`split`'s frame, as the read's result."""
    frame, hand_off = split(read, info.source_schema, convert_arrow)
    done = check(frame, hand_off)
    table, converted = done.converted
    return Result(
        report=done.report, metrics=done.metrics, info=info, converted=converted, table=table
    )


@dataclass(frozen=True)
class Route:
    """How a read may take the arrow path (:func:`route`).

    Attributes:
        wanted: Whether the arrow path is wanted for a plan (the caller takes an Arrow table,
            and for a read with checks, :func:`worthwhile`).
        read: The arrow path's reader (:func:`dynio.engine.read_path.read_arrow`, or
            :func:`read_checked` for a read with checks).
        checked: Whether rules or metrics run on the read.
    """

    wanted: Callable[[Plan], bool]
    read: Callable[[Plan], Any]
    checked: bool


def route(schema: SchemaSpec | None, arrow: bool, validate: bool, metrics: bool) -> Route:
    """The arrow path's route for a read whose caller takes an Arrow table (``arrow``)."""
    from dynio.engine import read_path

    checked = schema is not None and (
        (validate and any(r.apply for r in schema.all_rules))
        or (metrics and any(c.metrics for c in schema.columns))
    )
    if not (arrow and checked):
        return Route(lambda _: arrow, read_path.read_arrow, checked)
    return Route(
        lambda p: worthwhile(p, schema, validate=validate, metrics=metrics),
        lambda p: read_checked(p, schema, validate=validate, metrics=metrics),
        checked,
    )
