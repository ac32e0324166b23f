"""dynamicio's schema models (``dynamicio.config.pydantic.table_schema``), on pydantic 2.

A schema YAML validates into :class:`DataframeSchema`; ``.dict()``/``.model_dump()`` give
dynamicio's shape (``columns -> {name, data_type, validations: [{name, apply, options}],
metrics}``). dynio's engine parses the same YAML into its own frozen spec; these models are
the public view dynamicio code inspects.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any

import pydantic
from pandas.api.types import pandas_dtype

__all__ = ["ColumnValidationBase", "DataframeSchema", "MetricsName", "SchemaColumn"]


@enum.unique
class MetricsName(enum.StrEnum):
    """The metric names a schema may list."""

    min = "Min"
    max = "Max"
    mean = "Mean"
    stddev = "Std"
    variance = "Variance"
    counts = "Counts"
    counts_per_label = "CountsPerLabel"
    unique_counts = "UniqueCounts"


class ColumnValidationBase(pydantic.BaseModel):
    """One validation of a column."""

    name: str
    apply: bool
    options: Mapping[str, object]


class SchemaColumn(pydantic.BaseModel):
    """One column: its dtype (YAML ``type``), validations and metrics."""

    model_config = pydantic.ConfigDict(populate_by_name=True)

    name: str
    data_type: str = pydantic.Field(alias="type")
    validations: Sequence[ColumnValidationBase] = pydantic.Field(default_factory=list)
    metrics: Sequence[MetricsName] = ()

    @pydantic.field_validator("data_type")
    @classmethod
    def _is_pandas_dtype(cls, value: str) -> str:
        try:
            pandas_dtype(value)
        except TypeError:
            raise ValueError(f"Unexpected data type {value}") from None
        return value

    @pydantic.field_validator("validations", mode="before")
    @classmethod
    def _validations_as_list(cls, value: Any) -> list[dict[str, Any]]:
        if not isinstance(value, dict):
            raise ValueError(f"{value!r} should be a dict")
        return [{**params, "name": key} for key, params in value.items()]

    @pydantic.field_validator("metrics", mode="before")
    @classmethod
    def _metrics_or_empty(cls, value: Any) -> Any:
        return value or []


class DataframeSchema(pydantic.BaseModel):
    """A schema: its name and columns (each told its name)."""

    name: str
    columns: Mapping[str, SchemaColumn]

    @pydantic.field_validator("columns", mode="before")
    @classmethod
    def _name_columns(cls, value: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise ValueError(f"{value!r} should be a dict.")
        return {str(k): {"name": str(k), **(v or {})} for k, v in value.items()}

    @property
    def validations(self) -> Mapping[str, Sequence[ColumnValidationBase]]:
        """Each column's validations."""
        return {name: col.validations for name, col in self.columns.items()}

    @property
    def metrics(self) -> Mapping[str, Sequence[MetricsName]]:
        """Each column's metrics."""
        return {name: col.metrics for name, col in self.columns.items()}

    @property
    def column_names(self) -> Sequence[str]:
        """The column names, in schema order."""
        return tuple(self.columns)
