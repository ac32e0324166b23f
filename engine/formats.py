"""Moved to :mod:`dynio.engine.io.formats` (one module per format).

This module only re-exports the old names for importers being restructured in parallel
(execute, plan, the local/object-store/dataset/duckdb sources, the compat layer); new code
imports from ``dynio.engine.io.formats``.
"""

from __future__ import annotations

from dynio.engine.io.formats import (
    FORMATS,
    NO_EFFECT,
    PANDAS_NA_VALUES,
    PLAN_OPTIONS,
    PYARROW_PARQUET_WRITE,
    Capabilities,
    Format,
    ScanHints,
    binary_mismatch,
    capabilities_of,
    csv_write_kwargs,
    describe_read_failure,
    format_for,
    format_names,
    infer_format,
    is_decode_failure,
    looks_like,
    parquet_write_kwargs,
    register_format,
    text_encoding_problem,
)

__all__ = [
    "FORMATS",
    "NO_EFFECT",
    "PANDAS_NA_VALUES",
    "PLAN_OPTIONS",
    "PYARROW_PARQUET_WRITE",
    "Capabilities",
    "Format",
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
    "text_encoding_problem",
]
