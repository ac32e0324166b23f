"""How a resource's files are laid out, one copy for local folders and object-store prefixes.

A file-based resource is a single file, a dataset of files (a folder, prefix or glob), or a
dataset in hive partitions (``key=value/`` folders). This package knows those layouts whatever
the filesystem:

- :mod:`~dynio.engine.io.layout.listing`: which files of a folder or prefix are data;
- :mod:`~dynio.engine.io.layout.hive`: partition folders named on write, read and pruned;
- :mod:`~dynio.engine.io.layout.write`: a dataset write (split, serialise, commit);
- :mod:`~dynio.engine.io.layout.folders`: the commit on a local disk (atomic file replace,
  staged folder exchanged in);
- :mod:`~dynio.engine.io.layout.objects`: writes to an object store (atomic puts, a dataset's
  objects staged, Dask's parts staged);
- :mod:`~dynio.engine.io.layout.commits`: a staged object-store dataset committed all at once
  (a commit record readers honour), and the cleaning of killed writers' leftovers;
- :mod:`~dynio.engine.io.layout.schemas`: the files' schemas (footers) read once, drift
  reconciled.

Reading the files as one frame (one scan, each file opened once) is
:mod:`dynio.engine.sources.dataset`.
"""

from __future__ import annotations

from dynio.engine.io.layout.hive import hive_values, part_value, prune_partitions, split_partitions
from dynio.engine.io.layout.write import Commit, serialise, write_dataset, write_parts

__all__ = [
    "Commit",
    "hive_values",
    "part_value",
    "prune_partitions",
    "serialise",
    "split_partitions",
    "write_dataset",
    "write_parts",
]
