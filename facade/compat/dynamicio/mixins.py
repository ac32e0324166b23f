"""dynamicio's mixin names, kept so existing class declarations import and work.

In dynamicio each mixin added ``_read_from_<type>``/``_write_to_<type>`` methods and a class
could only use the source types of the mixins it listed. Here they are plain markers with no
behaviour: the environment's ``type`` alone decides how a resource is read and written (by dynio's
source registry), so a class works with any source type and the mixins can be listed in any
order::

    class StagedFoo(WithS3File, WithLocal, DynamicDataIO):
        schema = {"column_a": "object", "column_b": "int64"}
"""

from __future__ import annotations

__all__ = [
    "WithAthena",
    "WithKafka",
    "WithLocal",
    "WithLocalBatch",
    "WithPostgres",
    "WithS3File",
    "WithS3PathPrefix",
]


class WithLocal:
    """Marker for classes that use ``type: local`` resources."""


class WithLocalBatch:
    """Marker for classes that use ``type: local_batch`` resources."""


class WithS3File:
    """Marker for classes that use ``type: s3`` / ``s3_file`` resources."""


class WithS3PathPrefix:
    """Marker for classes that use ``type: s3_path_prefix`` resources."""


class WithPostgres:
    """Marker for classes that use ``type: postgres`` resources."""


class WithKafka:
    """Marker for classes that use ``type: kafka`` resources."""


class WithAthena:
    """Marker for classes that use ``type: athena`` resources."""
