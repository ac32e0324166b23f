"""dynamicio's configuration models (``dynamicio.config.pydantic``), on pydantic 2.

They need ``pydantic`` (``pip install 'dynio[dynamicio]'``), as dynamicio did; the rest of
:mod:`dynio.compat.dynamicio` does not.
"""

from __future__ import annotations

from dynio.compat.dynamicio.config.pydantic.config import BindingsYaml
from dynio.compat.dynamicio.config.pydantic.io_resources import (
    AthenaDataEnvironment,
    IOEnvironment,
    KafkaDataEnvironment,
    LocalBatchDataEnvironment,
    LocalDataEnvironment,
    PostgresDataEnvironment,
    S3DataEnvironment,
    S3PathPrefixEnvironment,
)
from dynio.compat.dynamicio.config.pydantic.table_schema import DataframeSchema, SchemaColumn

__all__ = [
    "AthenaDataEnvironment",
    "BindingsYaml",
    "DataframeSchema",
    "IOEnvironment",
    "KafkaDataEnvironment",
    "LocalBatchDataEnvironment",
    "LocalDataEnvironment",
    "PostgresDataEnvironment",
    "S3DataEnvironment",
    "S3PathPrefixEnvironment",
    "SchemaColumn",
]
