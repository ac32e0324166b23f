"""Schema inference: a schema YAML document from data.

One ``select`` gathers each column's null count, distinct count and range; the dtypes come from
the scan and are written in the schema vocabulary (:func:`dynio.engine.dtypes.schema_spelling`).
With ``suggest=True`` the schema also proposes rules the data satisfies today: not-null, unique,
ranges for numbers and small category sets.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from dynio.engine.dtypes import schema_spelling

__all__ = ["infer_schema"]


def _spelling(dtype: pl.DataType, has_nulls: bool) -> str:
    # nullable pandas dtypes keep integers and booleans exact when nulls are present
    if has_nulls and dtype.is_integer():
        return schema_spelling(dtype).capitalize().replace("Uint", "UInt")
    if has_nulls and isinstance(dtype, pl.Boolean):
        return "boolean"
    return schema_spelling(dtype)


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def infer_schema(
    frame: pl.LazyFrame,
    name: str,
    *,
    suggest: bool = False,
    category_limit: int = 20,
) -> dict[str, Any]:
    """Infer a dynio/dynamicio schema document from a frame.

    Args:
        frame: The data (lazy; scanned once).
        name: The schema's ``name``.
        suggest: Also propose rules the data satisfies.
        category_limit: Text columns with at most this many distinct values get an ``is_in``
            suggestion (and a ``category`` note is left to the user).

    Returns:
        A mapping ready for ``yaml.safe_dump``: ``{name, columns: {col: {type, validations,
        metrics}}}``, columns in file order.
    """
    schema = frame.collect_schema()
    exprs: list[pl.Expr] = [pl.len().alias("__rows")]
    for i, (col, dtype) in enumerate(schema.items()):
        c = pl.col(col)
        exprs += [c.null_count().alias(f"n{i}"), c.n_unique().alias(f"u{i}")]
        if dtype.is_numeric() or dtype.is_temporal():
            exprs += [c.min().alias(f"lo{i}"), c.max().alias(f"hi{i}")]
        if isinstance(dtype, pl.String | pl.Categorical | pl.Enum):
            values = c.cast(pl.String).drop_nulls().unique().sort().head(category_limit + 1)
            exprs.append(values.implode().alias(f"v{i}"))
    stats = frame.select(exprs).collect().row(0, named=True)
    rows = int(stats["__rows"])

    columns: dict[str, Any] = {}
    for i, (col, dtype) in enumerate(schema.items()):
        nulls = int(stats[f"n{i}"])
        entry: dict[str, Any] = {"type": _spelling(dtype, nulls > 0)}
        validations: dict[str, Any] = {}
        if suggest and rows:
            distinct = int(stats[f"u{i}"]) - (1 if nulls else 0)
            if nulls == 0:
                validations["has_no_null_values"] = {"apply": True, "options": {}}
            if rows > 1 and distinct == rows - nulls and not isinstance(dtype, pl.Boolean):
                validations["has_unique_values"] = {"apply": True, "options": {}}
            if dtype.is_numeric() and stats.get(f"lo{i}") is not None:
                validations["is_between"] = {
                    "apply": True,
                    "options": {
                        "lower": _plain(stats[f"lo{i}"]),
                        "upper": _plain(stats[f"hi{i}"]),
                        "include_left": True,
                        "include_right": True,
                    },
                }
            seen = stats.get(f"v{i}")
            if seen is not None and 0 < len(seen) <= category_limit and distinct < rows:
                validations["is_in"] = {
                    "apply": True,
                    "options": {"categorical_values": list(seen)},
                }
        entry["validations"] = validations
        entry["metrics"] = []
        columns[col] = entry
    return {"name": name, "columns": columns}
