"""How dynamicio's pandas readers shaped what they read, for :mod:`~dynio.compat.dynamicio.core`.

dynamicio read each file with pandas' own reader; dynio reads with its engine. Where the two
differ in ways pipelines see, these helpers give dynamicio's behaviour:

- a ``local_batch`` ``path_prefix`` is the format's files directly in that folder;
- ``orient: records`` on a JSON object is read by the object's shape (pandas built the frame
  from whatever the document held), and a single-record JSON object read without
  ``single_record`` logs dynamicio's warning;
- ``show_casting_warnings``/``strict_dtype_check`` compare with the dtypes pandas would have
  given the source's own types;
- ``bool`` columns of Python objects take ``True``/``False``/``1``/``0`` and nothing else;
- ``object`` columns hold what the data holds: numbers or booleans a file holds in an
  ``object`` column are read as Python numbers (dynamicio's ``astype(object)``), and lists,
  numbers or structs written in one are written as they are.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from dynio.catalog import Resource
from dynio.compat.dynamicio.errors import ColumnsDataTypeError
from dynio.engine.spec import ColumnSpec, EnvSpec, ResourceSpec, SchemaSpec, SourceSpec, freeze

__all__ = [
    "SchemaColumns",
    "booleans",
    "objects_as_read",
    "objects_kept",
    "read_source",
    "single_record_warning",
    "source_dtypes",
]

logger = logging.getLogger("dynio.compat.dynamicio")

# Python types a ``bool`` column may hold and still be written as ``bool`` (0/1 are exact)
_BOOLEAN_TYPES = (bool, int, np.bool_, np.integer)
_SINGLE_RECORD = (
    "[local-json-read] File appears to be a single-record JSON object. Pass"
    " 'single_record=True' in options to handle this case."
)


class SchemaColumns(tuple[ColumnSpec, ...]):
    """A schema's columns in order that also answer as dynamicio's ``{name: column}`` dict
    (``keys()``, ``values()``, ``items()``, ``get(name)``, ``schema.columns[name]``)."""

    def keys(self) -> list[str]:
        """The column names, in order."""
        return [c.name for c in self]

    def values(self) -> list[ColumnSpec]:
        """The columns, in order."""
        return list(self)

    def items(self) -> list[tuple[str, ColumnSpec]]:
        """``(name, column)`` pairs, in order."""
        return [(c.name, c) for c in self]

    def get(self, name: str, default: ColumnSpec | None = None) -> ColumnSpec | None:
        """The column called ``name``, or ``default``."""
        return next((c for c in self if c.name == name), default)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            found = self.get(key)
            if found is None:
                raise KeyError(key)
            return found
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            return self.get(key) is not None
        return super().__contains__(key)


def _local_file(source: SourceSpec, args: Mapping[str, Any]) -> str | None:
    """The local file a ``type: local`` source reads, or ``None`` (another kind, a template
    that does not fill)."""
    path = source.settings.get("file_path")
    if source.kind != "local" or not isinstance(path, str):
        return None
    try:
        path = path.format(**args) if args else path
    except (KeyError, IndexError, ValueError):
        return None
    path = os.path.expanduser(path)
    return path if os.path.isabs(path) else os.path.join(source.base_dir or os.getcwd(), path)


def _first_char(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as stream:
            head = stream.read(4096).lstrip()
    except OSError:
        return None  # the read reports it
    return head[:1] or None


def read_source(source: SourceSpec, args: Mapping[str, Any]) -> SourceSpec:
    """The source as dynamicio's readers read it (see the module's notes)."""
    settings, options = dict(source.settings), dict(source.options)
    prefix = settings.get("path_prefix")
    if source.kind == "local_batch" and isinstance(prefix, str):
        ext = "h5" if source.format == "hdf" else source.format
        del settings["path_prefix"]
        settings["dynamic_file_path"] = f"{prefix.rstrip('/')}/*.{ext}"
    if source.format == "json" and options.get("orient") == "records" and not options.get("lines"):
        path = _local_file(source, args)
        if path is not None and _first_char(path) == "{":
            del options["orient"]  # pandas built the frame from the object's own shape
    return dataclasses.replace(source, settings=freeze(settings), options=freeze(options))


def single_record_warning(frame: pl.DataFrame, source: SourceSpec, args: Mapping[str, Any]) -> None:
    """dynamicio's warning for a JSON object holding one record (``{"data": {"k": 1}}``) read
    without ``single_record``: pandas read it as one column indexed by the record's keys."""
    if source.format != "json" or frame.width != 1 or source.options.get("lines"):
        return
    path = _local_file(source, args)
    if path is None or _first_char(path) != "{":
        return
    try:
        with open(path, encoding="utf-8") as stream:
            doc = json.load(stream)
    except (OSError, ValueError):
        return
    values = next(iter(doc.values()), None) if isinstance(doc, dict) and len(doc) == 1 else None
    scalar = (str, int, float, bool, type(None))
    if isinstance(values, dict) and all(isinstance(v, scalar) for v in values.values()):
        logger.warning(_SINGLE_RECORD)


def source_dtypes(resource: ResourceSpec, env: EnvSpec, args: Mapping[str, Any]) -> dict[str, str]:
    """The pandas dtypes of the source's columns before the schema's casts (only for
    ``show_casting_warnings`` and ``strict_dtype_check``: it plans the read once more,
    without the schema)."""
    raw_env = dataclasses.replace(env, schema=None)
    raw = dataclasses.replace(
        resource, envs=freeze({env.name: raw_env}), schema=None, deferred=freeze({})
    )
    found = Resource(raw, env.name).scan(**args).collect_schema()
    empty = pl.DataFrame(schema=found).to_pandas()
    return {str(c): empty[c].dtype.name for c in empty.columns}


def booleans(df: pd.DataFrame, schema: SchemaSpec, context: Mapping[str, Any]) -> pd.DataFrame:
    """``bool`` columns held as Python objects made ``bool`` where that loses nothing
    (``True``/``False``/``1``/``0``, as dynamicio's cast did); a column with nulls or other
    values raises instead of being coerced (dynamicio made ``None`` False, ``'x'`` True).

    Raises:
        ColumnsDataTypeError: A ``bool`` column holds nulls or values other than booleans.
    """
    out = df
    for col in schema.columns:
        if col.dtype.spelling != "bool" or col.name not in df or df[col.name].dtype == bool:
            continue
        series = df[col.name]
        bad = [v for v in series if not isinstance(v, _BOOLEAN_TYPES) or v not in (0, 1)]
        if bad:
            raise ColumnsDataTypeError(
                f"column {col.name!r} is declared bool but holds nulls or values that are not"
                " booleans; dynio does not coerce them (dynamicio made nulls False and other"
                " values True)",
                column=col.name,
                values=bad[:5],
                **context,
            )
        if out is df:
            out = df.copy(deep=False)
        out[col.name] = series.astype(bool)
    return out


def _text(dtype: pl.DataType) -> bool:
    return dtype in (pl.String, pl.Null, pl.Categorical) or isinstance(dtype, pl.Enum)


def objects_kept(schema: SchemaSpec, dtypes: Mapping[str, pl.DataType]) -> SchemaSpec:
    """The schema with its ``object`` columns of non-text data (``dtypes``) typed as the data
    is, so a write stores them as they are (dynamicio wrote lists, numbers, structs held in an
    ``object`` column as pandas held them)."""
    columns = []
    for col in schema.columns:
        found = dtypes.get(col.name)
        if col.dtype.spelling == "object" and found is not None and not _text(found):
            col = dataclasses.replace(col, dtype=dataclasses.replace(col.dtype, polars=found))
        columns.append(col)
    return dataclasses.replace(schema, columns=tuple(columns))


_INTEGER_TEXT = r"^-?(0|[1-9][0-9]*)$"  # the text str(int) gives: nothing is lost parsing it


def _as_csv_read(series: pl.Series) -> pl.Series:
    """A CSV text column as pandas' reader typed it, where that loses nothing: integers written
    as Python writes them become integers, ``True``/``False`` booleans; anything else (leading
    zeros, ``1.50``, mixed values) stays text."""
    values = series.drop_nulls()
    if values.len() == 0:
        return series
    if bool(values.str.contains(_INTEGER_TEXT).all()):
        numbers = series.cast(pl.Int64, strict=False)
        if numbers.null_count() == series.null_count():  # none beyond int64
            return numbers
    if bool(values.is_in(["True", "False"]).all()):
        return series == "True"
    return series


def objects_as_read(
    frame: pl.DataFrame, schema: SchemaSpec, source: Mapping[str, pl.DataType], fmt: str | None
) -> pl.DataFrame:
    """``object`` columns holding numbers or booleans in the source back to those values, so
    pandas gets the Python numbers dynamicio's ``astype(object)`` gave. ``source``: the
    source's dtypes (the engine's cast of these types to text is exact, so this restores the
    values read); a CSV's text is typed as pandas' reader typed it, where that loses nothing."""
    back = []
    for col in schema.columns:
        found = source.get(col.name)
        if not (
            col.dtype.spelling == "object"
            and found is not None
            and col.name in frame.columns
            and frame.schema[col.name] == pl.String
        ):
            continue
        if found.is_numeric() or found == pl.Boolean:
            back.append(frame[col.name].cast(found))
        elif fmt == "csv":
            back.append(_as_csv_read(frame[col.name]))
    return frame.with_columns(back) if back else frame
