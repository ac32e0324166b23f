"""File formats: one module per format, each declaring what it can do.

A :class:`Format` bundles a scanner, a writer and a frozen :class:`Capabilities` record (text or
binary, a footer with statistics, columns matched by name, a native remote scan, the layouts it
allows, whether it can be appended to, the options it accepts for reading and for writing). The
engine asks that record, never a format's name. Options are accepted under pandas' names (so
dynamicio YAML keeps working) and under Polars' names; anything a format does not list is
rejected when the catalog loads. A few pandas options have no meaning in this engine (``index``,
``engine``, ``low_memory``) and are accepted without effect, as listed in ``NO_EFFECT``.

Modules: :mod:`.parquet`, :mod:`.csv`, :mod:`.json`, :mod:`.ndjson`, :mod:`.ipc` (HDF5 is
served by the facade's ``dynio.hdf``, since its only reader is pandas); :mod:`.registry` holds
the table, :mod:`.explain` says why a read failed.
"""

from __future__ import annotations

from dynio.engine.io.formats.base import (
    NO_EFFECT,
    NOTHING,
    PANDAS_NA_VALUES,
    PLAN_OPTIONS,
    Capabilities,
    Format,
    Layout,
    RowGroups,
    ScanHints,
)
from dynio.engine.io.formats.csv import csv_write_kwargs
from dynio.engine.io.formats.explain import binary_mismatch, describe_read_failure, looks_like
from dynio.engine.io.formats.parquet import PYARROW_PARQUET_WRITE, parquet_write_kwargs
from dynio.engine.io.formats.registry import (
    FORMATS,
    capabilities_of,
    format_for,
    format_names,
    infer_format,
    register_format,
    registered,
    unregister_format,
)
from dynio.engine.io.formats.text import is_decode_failure, text_encoding_problem

__all__ = [
    "FORMATS",
    "NOTHING",
    "NO_EFFECT",
    "PANDAS_NA_VALUES",
    "PLAN_OPTIONS",
    "PYARROW_PARQUET_WRITE",
    "Capabilities",
    "Format",
    "Layout",
    "RowGroups",
    "ScanHints",
    "binary_mismatch",
    "capabilities_of",
    "csv_write_kwargs",
    "describe_read_failure",
    "format_for",
    "format_names",
    "infer_format",
    "is_decode_failure",
    "looks_like",
    "parquet_write_kwargs",
    "register_format",
    "registered",
    "text_encoding_problem",
    "unregister_format",
]
