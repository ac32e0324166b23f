"""dynamicio's local-file mixins: ``type: local`` and ``type: local_batch``.

Files are read and written by dynio's engine (Polars/Arrow); a write goes to a temporary file
renamed into place, so a failed write leaves the old file as it was.
"""

from __future__ import annotations

from typing import ClassVar

import pandas as pd  # noqa: F401  (dynamicio code reaches pandas through this module)

from dynio.compat.dynamicio.mixins.base import SourceMixin

__all__ = ["WithLocal", "WithLocalBatch"]


class WithLocal(SourceMixin):
    """Reads and writes ``type: local`` resources (parquet, csv, json, hdf files)."""

    source_types: ClassVar[frozenset[str]] = frozenset({"local"})


class WithLocalBatch(SourceMixin):
    """Reads ``type: local_batch`` resources: every file of a folder (``path_prefix``) or of a
    ``dynamic_file_path`` pattern, concatenated."""

    source_types: ClassVar[frozenset[str]] = frozenset({"local_batch"})
