"""dynio's pytest plugin: fixtures for testing pipelines against their own catalog.

Active wherever dynio is installed (entry point ``pytest11``); it imports nothing heavy until a
fixture is used. Disable it with ``-p no:dynio``.

Fixtures:
    dynio_catalog: a factory ``dynio_catalog(path, env=..., data={...}, redirect="data")`` giving
        the pipeline's catalog with resources moved to parquet files in the test's ``tmp_path``
        (see :func:`dynio.testing.local_catalog`).
    dynio_sample: a factory ``dynio_sample(schema, rows=20, seed=0, polars=False)`` giving rows
        made from a schema that pass its rules (see :func:`dynio.testing.sample_frame`).

Example::

    def test_summary(dynio_catalog, dynio_sample):
        trips = dynio_sample("schemas/trips.yaml", rows=100)
        cat = dynio_catalog("configs/pipeline", env="sample", data={"trips": trips},
                            redirect="all")
        build_summary(cat)
        assert_valid(cat.read("zone_summary"), "schemas/zone_summary.yaml")
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

__all__ = ["dynio_catalog", "dynio_sample"]


@pytest.fixture
def dynio_catalog(tmp_path: Path) -> Callable[..., Any]:
    """A factory of catalogs whose resources live in this test's temporary folder."""
    from dynio.testing.catalogs import local_catalog

    made = 0

    def make(path: str | os.PathLike[str], **kwargs: Any) -> Any:
        nonlocal made
        made += 1
        return local_catalog(path, tmp_path / f"dynio-{made}", **kwargs)

    return make


@pytest.fixture
def dynio_sample() -> Callable[..., Any]:
    """A factory of sample frames made from a schema (pandas, or Polars with ``polars=True``)."""
    from dynio.testing.samples import sample_frame, sample_polars

    def make(schema: Any, rows: int | None = None, *, seed: int = 0, polars: bool = False) -> Any:
        if polars:
            return sample_polars(schema, rows, seed=seed)
        return sample_frame(schema, rows, seed=seed)

    return make
