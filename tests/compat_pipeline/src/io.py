"""Responsible for configuring io operations for input data."""

# ruff: noqa: RUF012  (dynamicio declares schemas as class-level dicts)

# pylint: disable=too-few-public-methods
__all__ = ["InputIO", "StagedBar", "StagedEvents", "StagedFoo"]

from dynio.compat.dynamicio import UnifiedIO, WithLocal, WithPostgres, WithS3File
from dynio.compat.dynamicio.core import SCHEMA_FROM_FILE, DynamicDataIO
from dynio.compat.dynamicio.mixins import WithLocalBatch


class InputIO(UnifiedIO):
    """UnifiedIO subclass for schemas kept in YAML."""

    schema = SCHEMA_FROM_FILE


class StagedFoo(WithS3File, WithLocal, DynamicDataIO):
    """Staged foos: the float readings stored as integers."""

    schema = {
        "column_a": "object",
        "column_b": "object",
        "column_c": "int64",
        "column_d": "int64",
    }
    schema_validations = {
        "column_c": {"is_greater_than": {"apply": True, "options": {"threshold": 1000}}},
    }
    schema_metrics = {"column_d": ["Min", "Max"]}


class StagedBar(WithLocal, WithPostgres, DynamicDataIO):
    """Staged bars."""

    schema = {
        "column_a": "object",
        "column_b": "object",
        "column_c": "float64",
        "column_d": "float64",
        "event_time": "datetime64[ns]",
    }


class StagedEvents(WithLocalBatch, WithLocal, DynamicDataIO):
    """Events of every batch file, staged in one HDF5 file."""

    schema = {"event_id": "int64", "kind": "object", "value": "float64"}
    schema_metrics = {"kind": ["CountsPerLabel"], "value": ["Mean"]}
