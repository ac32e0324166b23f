"""The Polars -> pandas hand-off, and pandas/Arrow -> Polars on the way in.

By default a read gives the dtypes pandas' own readers give for the same Arrow data (pandas
converts through ``pyarrow.Table.to_pandas`` too): Arrow-backed ``str`` for text, ``float64`` for
integers with nulls, ``object`` for booleans with nulls and for dates, ``category`` for
categoricals. Columns whose schema type names a pandas extension dtype (``Int64``, ``boolean``,
``string``…) get exactly that dtype. ``dtype_backend="pyarrow"`` gives ``ArrowDtype`` columns
without copies.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
from pandas.io import _util as _pandas_io_util  # type: ignore[attr-defined,unused-ignore]

from dynio.engine.arrow_export import export_schema, to_arrow
from dynio.engine.errors import DynioError, SchemaError
from dynio.engine.spec import SchemaSpec

__all__ = [
    "DtypeBackend",
    "arrow_to_pandas",
    "check_dtype_backend",
    "export_schema",
    "from_any",
    "to_arrow",
    "to_pandas",
]

DtypeBackend = Literal["numpy", "pyarrow", "numpy_nullable"]

_NULLABLE: dict[str, pd.api.extensions.ExtensionDtype] = {
    "Int8": pd.Int8Dtype(),
    "Int16": pd.Int16Dtype(),
    "Int32": pd.Int32Dtype(),
    "Int64": pd.Int64Dtype(),
    "UInt8": pd.UInt8Dtype(),
    "UInt16": pd.UInt16Dtype(),
    "UInt32": pd.UInt32Dtype(),
    "UInt64": pd.UInt64Dtype(),
    "Float32": pd.Float32Dtype(),
    "Float64": pd.Float64Dtype(),
    "boolean": pd.BooleanDtype(),
    "string": pd.StringDtype(),
    "string[python]": pd.StringDtype("python"),
    "string[pyarrow]": pd.StringDtype("pyarrow"),
}

# pyarrow < 23 cannot convert dictionary arrays with unsigned indices (Polars' categoricals)
_UNSIGNED_DICTIONARIES_FAIL = int(pa.__version__.split(".")[0]) < 23

# pandas' dtype_backend="numpy_nullable": each Arrow type to its nullable pandas dtype, from
# pandas itself, so the mapping is the one this pandas version's readers use (pandas 2.2 maps
# ``string`` but not ``large_string`` to StringDtype; 3.x maps both)
_NUMPY_NULLABLE_MAPPER: dict[pa.DataType, Any] = _pandas_io_util._arrow_dtype_mapping()

# formats whose pandas reader gives NaN, not None, for a missing value in an ``object`` text
# column (pandas < 3; pandas 3's ``str`` dtype has NaN for every reader)
_NAN_TEXT_FORMATS = frozenset({"csv"})


def _requested(schema: SchemaSpec | None, columns: list[str]) -> dict[str, Any]:
    if schema is None:
        return {}
    out = {}
    for name in columns:
        col = schema.column(name)
        if col is not None and col.dtype.pandas is not None:
            out[name] = _NULLABLE[col.dtype.pandas]
    return out


def check_dtype_backend(value: str, **context: Any) -> None:
    """Refuse an unknown ``dtype_backend`` before any work is done.

    Raises:
        DynioError: Not ``numpy``, ``numpy_nullable`` or ``pyarrow``.
    """
    if value not in ("numpy", "numpy_nullable", "pyarrow"):
        raise DynioError(
            f"dtype_backend must be 'numpy', 'numpy_nullable' or 'pyarrow', got {value!r}",
            **context,
        )


def to_pandas(
    frame: pl.DataFrame,
    schema: SchemaSpec | None = None,
    dtype_backend: DtypeBackend = "numpy",
    *,
    source_format: str | None = None,
) -> pd.DataFrame:
    """Hand a Polars frame to pandas with the dtypes a pandas reader would give.

    Args:
        frame: The engine's result.
        schema: The resource schema; extension dtypes it names are honoured.
        dtype_backend: ``"numpy"`` (pandas' reader defaults), ``"numpy_nullable"`` (pandas'
            nullable dtypes everywhere) or ``"pyarrow"`` (``ArrowDtype`` columns, no copies).
    """
    check_dtype_backend(dtype_backend)
    if pl.Object in frame.dtypes:
        if dtype_backend == "pyarrow":  # Polars converts its Python objects itself
            return frame.to_pandas(use_pyarrow_extension_array=True)
        table = frame.to_arrow()
    else:
        table = to_arrow(frame)
    return arrow_to_pandas(
        table, schema, dtype_backend, source_format=source_format, self_destruct=True
    )


def arrow_to_pandas(
    table: pa.Table,
    schema: SchemaSpec | None = None,
    dtype_backend: DtypeBackend = "numpy",
    *,
    source_format: str | None = None,
    self_destruct: bool = False,
) -> pd.DataFrame:
    """Hand an Arrow table with the types Polars' export gives (:func:`to_arrow`: text as
    ``large_string``) to pandas, as :func:`to_pandas` hands the frame: the engine's arrow read
    path gives such a table, so both paths give the same pandas frame.

    ``self_destruct``: the table is the caller's to give away (its buffers are freed as they
    are converted, as Polars' own ``to_pandas`` does).
    """
    check_dtype_backend(dtype_backend)
    if dtype_backend == "pyarrow":
        # as polars.DataFrame.to_pandas(use_pyarrow_extension_array=True) converts (with
        # categoricals' codes as int64)
        table = _int64_dictionaries(table)
        arrow_out: pd.DataFrame = table.to_pandas(
            self_destruct=self_destruct, split_blocks=True, types_mapper=pd.ArrowDtype
        )
        return arrow_out
    table = _signed_dictionaries(table)
    mapper = _NUMPY_NULLABLE_MAPPER.get if dtype_backend == "numpy_nullable" else None
    names = table.column_names
    wanted = _requested(schema, names)
    if not wanted:
        out: pd.DataFrame = table.to_pandas(types_mapper=mapper)
    else:
        plain = [c for c in names if c not in wanted]
        out = (
            table.select(plain).to_pandas(types_mapper=mapper)
            if plain
            else pd.DataFrame(index=pd.RangeIndex(table.num_rows))
        )
        for name, dtype in wanted.items():
            arr = table.column(name)
            out[name] = arr.to_pandas(types_mapper={arr.type: dtype}.get)
        out = out[names]
    if source_format in _NAN_TEXT_FORMATS:
        _nan_for_missing_text(out, table)
    return _sorted_categories(out, schema)


def _nan_for_missing_text(out: pd.DataFrame, table: pa.Table) -> None:
    """Missing values of ``object`` text columns as NaN, as pandas' CSV reader gives them.

    pyarrow converts a null to ``None``; pandas' CSV reader (pandas < 3, where text is
    ``object``) gives NaN. pandas 3's ``str`` columns already have NaN.
    """
    for i, field in enumerate(table.schema):
        kind = field.type
        text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
        if not (text or pa.types.is_string_view(kind)) or table.column(i).null_count == 0:
            continue
        values = out[field.name]
        if values.dtype == object:
            out[field.name] = values.where(values.notna(), np.nan)


def _signed_dictionaries(table: pa.Table) -> pa.Table:
    """Categorical columns with signed indices, which every pyarrow converts to pandas.

    Polars gives ``uint32`` dictionary indices; pyarrow before 23 refuses to convert unsigned
    indices to pandas ("not yet supported"). Casting the indices is a copy of the codes only.
    """
    if not _UNSIGNED_DICTIONARIES_FAIL:
        return table
    for i, field in enumerate(table.schema):
        kind = field.type
        if pa.types.is_dictionary(kind) and pa.types.is_unsigned_integer(kind.index_type):
            signed = pa.dictionary(pa.int64(), kind.value_type, kind.ordered)
            table = table.set_column(i, field.with_type(signed), table.column(i).cast(signed))
    return table


def _int64_dictionaries(table: pa.Table) -> pa.Table:
    """Dictionary columns with ``int64`` indices, as Polars' ``to_pandas`` gives them."""
    for i, field in enumerate(table.schema):
        kind = field.type
        if pa.types.is_dictionary(kind) and kind.index_type != pa.int64():
            wide = pa.dictionary(pa.int64(), kind.value_type, kind.ordered)
            table = table.set_column(i, field.with_type(wide), table.column(i).cast(wide))
    return table


def _sorted_categories(out: pd.DataFrame, schema: SchemaSpec | None) -> pd.DataFrame:
    """Categories in sorted order, as ``astype("category")`` and pandas' CSV reader give them.

    Polars keeps categories in the order values first appeared; a pandas Categorical compares
    equal only with the same category order.
    """
    if schema is None:
        return out
    for col in schema.columns:
        if col.dtype.spelling.lower() not in ("category", "categorical") or col.name not in out:
            continue
        series = out[col.name]
        if isinstance(series.dtype, pd.CategoricalDtype):
            cats = list(series.cat.categories)
            ordered = sorted(cats)
            if cats != ordered:
                out[col.name] = series.cat.reorder_categories(ordered)
    return out


def from_any(data: Any, *, resource: str | None = None, env: str | None = None) -> pl.DataFrame:
    """Bring pandas, Polars or Arrow data into the engine as a Polars DataFrame.

    Named pandas index levels are kept as columns (they carry data); an unnamed index is
    dropped, as a file written without an index would have it.

    Raises:
        DynioError: The data is of an unsupported type.
        SchemaError: A pandas column cannot be represented (e.g. mixed Python objects).
    """
    context = {"resource": resource, "env": env}
    if isinstance(data, pl.DataFrame):
        return data
    if isinstance(data, pl.LazyFrame):
        return data.collect()
    if isinstance(data, pa.Table | pa.RecordBatch):
        return pl.DataFrame(data)
    if isinstance(data, pd.DataFrame):
        pdf = data
        named = [n for n in pdf.index.names if n is not None]
        if named:
            pdf = pdf.reset_index(level=named)
        dup = pdf.columns[pdf.columns.duplicated()].tolist()
        if dup:
            raise SchemaError(f"duplicate column names {dup}", **context)
        if any(not isinstance(c, str) for c in pdf.columns):
            pdf = pdf.rename(columns=str)  # a new frame: the caller's keeps its labels
        try:
            # through Arrow: pandas 3 text columns are Arrow already, so this is several times
            # faster than polars.from_pandas
            table = pa.Table.from_pandas(pdf, preserve_index=False)
            frame = pl.DataFrame(table)
            return frame
        except (pa.ArrowException, pl.exceptions.PolarsError, TypeError, ValueError) as exc:
            bad = _unconvertible_column(pdf)
            raise SchemaError(
                f"cannot convert the pandas column to Arrow: {exc}", column=bad, **context
            ) from exc
    raise DynioError(
        f"cannot write a {type(data).__name__}: pass a pandas or Polars DataFrame or an Arrow"
        " table",
        **context,
    )


def _unconvertible_column(pdf: pd.DataFrame) -> str | None:
    for name in pdf.columns:
        try:
            pa.array(pdf[name], from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError):
            return str(name)
    return None
