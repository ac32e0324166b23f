"""dynamicio's mixins: which source types an IO class may read and write.

In dynamicio each mixin added ``_read_from_<type>``/``_write_to_<type>`` methods. Here a mixin
only declares the source types it stands for; every type is read and written by dynio's engine
through its source registry, the same path :class:`dynio.Catalog` takes. As in dynamicio, a
class must list a mixin for the type of the environment it is given (``UnifiedIO`` lists all)::

    class StagedFoo(WithS3File, WithLocal, DynamicDataIO):
        schema = {"column_a": "object", "column_b": "int64"}

The mixins live in dynamicio's modules (``mixins.with_local``, ``with_s3``, ``with_postgres``,
``with_kafka``, ``with_athena``); ``mixins.utils`` holds dynamicio's public helpers.
"""

from __future__ import annotations

from dynio.compat.dynamicio.mixins.with_athena import WithAthena
from dynio.compat.dynamicio.mixins.with_kafka import WithKafka
from dynio.compat.dynamicio.mixins.with_local import WithLocal, WithLocalBatch
from dynio.compat.dynamicio.mixins.with_postgres import WithPostgres
from dynio.compat.dynamicio.mixins.with_s3 import WithS3File, WithS3PathPrefix

__all__ = [
    "WithAthena",
    "WithKafka",
    "WithLocal",
    "WithLocalBatch",
    "WithPostgres",
    "WithS3File",
    "WithS3PathPrefix",
]
