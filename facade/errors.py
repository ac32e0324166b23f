"""The dynio error hierarchy, rooted at :class:`DynioError` (re-exported from the engine)."""

from dynio.engine.errors import (
    CastError,
    ConfigError,
    DynioError,
    MissingDependencyError,
    MissingVariableError,
    NestedPlaceholderError,
    ReadError,
    ResourceNotFoundError,
    SchemaError,
    TemplateError,
    UnknownEnvironmentError,
    UnsupportedError,
    ValidationError,
    WriteError,
)
from dynio.engine.loader import ConfigProblems
from dynio.engine.sources.dataset import SchemaDriftWarning

__all__ = [
    "CastError",
    "ConfigError",
    "ConfigProblems",
    "DynioError",
    "MissingDependencyError",
    "MissingVariableError",
    "NestedPlaceholderError",
    "ReadError",
    "ResourceNotFoundError",
    "SchemaDriftWarning",
    "SchemaError",
    "TemplateError",
    "UnknownEnvironmentError",
    "UnsupportedError",
    "ValidationError",
    "WriteError",
]
