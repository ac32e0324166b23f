"""dynamicio's errors, under their original names, carrying real messages.

Each class keeps dynamicio's contract (``.message`` is the payload it was raised with, so
``SchemaValidationError.message`` is the ``{validation: message}`` dict) and also derives from
the matching dynio error, so ``except DynioError`` (or ``except CastError`` …) catches them too.
``str(error)`` renders the message with the resource, environment and column it concerns.
"""

from __future__ import annotations

from typing import Any

from dynio.engine.errors import (
    CastError,
    ConfigError,
    DynioError,
    ReadError,
    SchemaError,
    UnsupportedError,
    ValidationError,
)

__all__ = [
    "CASTING_WARNING_MSG",
    "NOTICE_MSG",
    "ColumnsDataTypeError",
    "DataSourceError",
    "DynamicIOError",
    "InvalidDatasetTypeError",
    "MissingSchemaDefinition",
    "NonUniqueIdColumnError",
    "NotExpectedCategoricalValue",
    "NullValueInColumnError",
    "SchemaNotFoundError",
    "SchemaValidationError",
]


class DynamicIOError(DynioError):
    """Base class of the dynamicio errors.

    Args:
        message: The payload (text, or a mapping for :class:`SchemaValidationError`); available
            as ``.message`` exactly as given.
        **context: dynio's error context (``resource``, ``env``, ``file``, ``column`` …) and,
            for subclasses of a dynio error with more fields, those fields (``report`` …).
    """

    ERROR_STR: str = ""
    ERROR_STR_DETAILED: str = "{0}"

    def __init__(self, message: Any = None, **context: Any) -> None:
        text = self.ERROR_STR if message is None else self.ERROR_STR_DETAILED.format(message)
        super().__init__(text, **context)
        # dynio's errors keep the rendered text in ``message``; dynamicio's keep the payload
        self.message: Any = message


class SchemaNotFoundError(DynamicIOError, ConfigError):
    """The IO class or the resource definition gives no schema."""

    ERROR_STR = "Schema not specified in the provided source"
    ERROR_STR_DETAILED = "Schema not specified in the provided source: {0} "


class SchemaValidationError(DynamicIOError, ValidationError):
    """Schema validations failed; ``.message`` maps each failed validation to its message.

    A validation failing on several columns appears once per column: the first under its
    name, the others as ``name[column]`` (dynamicio kept only the last one). ``.report`` is
    dynio's :class:`~dynio.ValidationReport` when the failure came from a read or a write.
    """


class MissingSchemaDefinition(DynamicIOError, ConfigError):
    """The resource definition has no schema where one is needed."""

    ERROR_STR = "The resource definition for this class is missing a schema definition"
    ERROR_STR_DETAILED = (
        "The resource definition for this class is missing a schema definition: {0}"
    )


class DataSourceError(DynamicIOError, ReadError):
    """The data source could not be loaded."""


class ColumnsDataTypeError(DynamicIOError, CastError, SchemaError):
    """The data does not have the schema's columns, or values do not fit its dtypes."""


class NonUniqueIdColumnError(DynamicIOError, ValidationError):
    """An id column has duplicate values."""


class NullValueInColumnError(DynamicIOError, ValidationError):
    """A column has null values where none are allowed."""


class NotExpectedCategoricalValue(DynamicIOError, ValidationError):
    """A column has values outside its accepted categories."""


class InvalidDatasetTypeError(DynamicIOError, UnsupportedError):
    """The dataset is not of a supported file type."""

    ERROR_STR = (
        "The dataset provided is not amongst the supported types (parquet, json, csv, h5)"
        " handled by dynamicio."
    )
    ERROR_STR_DETAILED = (
        "Dataset: {0} provided is not amongst the supported types (parquet, json, csv, h5)"
        " handled by dynamicio."
    )


CASTING_WARNING_MSG = (
    "Applying casting column: '{0}' to: 'type:{1}' from 'type:{2}' though not advised, as"
    " `dtypes`>1 for {0}, which may lead to data corruption!"
)
NOTICE_MSG = (
    "Keeping the {0} as is, may anyway cause I/O errors or data corruption issues especially"
    " when using `pandas.DataFrame.to_parquet` or `pandas.DataFrame.to_json`."
)
