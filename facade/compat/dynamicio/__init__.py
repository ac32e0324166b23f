"""dynamicio's API on dynio's engine: migrate a pipeline by changing its imports.

Replace the ``dynamicio`` prefix of a pipeline's imports with ``dynio.compat.dynamicio``::

    from dynio.compat.dynamicio import UnifiedIO, WithLocal, DynamicDataIO
    from dynio.compat.dynamicio.config import IOConfig
    from dynio.compat.dynamicio.core import SCHEMA_FROM_FILE

The resource and schema YAML, the IO classes, the validations and the metric lines keep
dynamicio's behaviour, with its known bugs fixed (``type: s3`` works, ``is_in`` with
``match_all: false`` works, casts never lose data silently, nothing is configured on import,
metric lines are valid JSON). Reads and writes run on dynio's engine (Polars/Arrow).
"""

from __future__ import annotations

from dynio import __version__
from dynio.compat.dynamicio.config import IOConfig, IOEnvironment
from dynio.compat.dynamicio.core import SCHEMA_FROM_FILE, DynamicDataIO, UnifiedIO
from dynio.compat.dynamicio.mixins import (
    WithAthena,
    WithKafka,
    WithLocal,
    WithLocalBatch,
    WithPostgres,
    WithS3File,
    WithS3PathPrefix,
)

__all__ = [
    "SCHEMA_FROM_FILE",
    "DynamicDataIO",
    "IOConfig",
    "IOEnvironment",
    "UnifiedIO",
    "WithAthena",
    "WithKafka",
    "WithLocal",
    "WithLocalBatch",
    "WithPostgres",
    "WithS3File",
    "WithS3PathPrefix",
    "__version__",
]
