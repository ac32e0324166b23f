"""A catalog for tests: the pipeline's own YAML, with chosen resources moved to temporary files.

A pipeline test keeps its resource YAML (names, schemas, rules) and swaps where data lives:
``local_catalog`` loads the catalog, points the named resources (or all of them) at parquet files
in a folder of the test's, and writes the frames it is given there, cast and validated as a real
write would. Reads and writes of the pipeline then run against those files, with no mocks.

Example::

    from dynio.testing import local_catalog

    cat = local_catalog("configs/pipeline", tmp_path, env="sample",
                        data={"trips": trips_df}, redirect="all")
    run_pipeline(cat)
    assert len(cat.read("zone_summary")) == 3
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from dynio.catalog import Catalog
from dynio.engine.errors import ResourceNotFoundError
from dynio.engine.placeholders import VarSource
from dynio.engine.spec import CatalogSpec, ResourceSpec, SourceSpec

__all__ = ["local_catalog", "redirect_to_files"]

Redirect = Literal["data", "all"] | Iterable[str]


def redirect_to_files(
    catalog: Catalog, folder: str | os.PathLike[str], names: Iterable[str]
) -> Catalog:
    """A copy of the catalog whose named resources live in ``folder/<name>.parquet``.

    Schemas, rules and metrics stay as the YAML says; only the location changes, and only in the
    catalog's environment.
    """
    spec: CatalogSpec = catalog._spec
    root = Path(folder)
    resources = dict(spec.resources)
    for name in names:
        res = resources.get(name)
        if res is None:
            raise ResourceNotFoundError(
                f"no resource {name!r} in the catalog; it has {catalog.resources}",
                resource=name,
                env=catalog.env,
            )
        resources[name] = _moved(res, catalog.env, root / f"{name}.parquet")
    return Catalog(replace(spec, resources=resources), catalog.env)


def _moved(res: ResourceSpec, env: str, path: Path) -> ResourceSpec:
    current = res.env(env)  # raises the resource's own error for an unknown environment
    source = SourceSpec(
        kind="local",
        settings={"file_path": str(path), "file_type": "parquet"},
        format="parquet",
        base_dir=str(path.parent),
    )
    envs = dict(res.envs)
    envs[current.name] = replace(current, source=source)
    return replace(res, envs=envs)


def local_catalog(
    path: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    folder: str | os.PathLike[str],
    *,
    env: str | None = None,
    vars: VarSource = None,
    data: Mapping[str, Any] | None = None,
    redirect: Redirect = "data",
) -> Catalog:
    """Load a catalog and move resources to parquet files under ``folder``.

    Args:
        path: The pipeline's resource YAML (file, folder or several).
        folder: Where the files go (pytest's ``tmp_path``).
        env: The environment (default ``DYNIO_ENV``).
        vars: ``[[ VAR ]]`` values, as for :meth:`dynio.Catalog.from_yaml`.
        data: Frames (pandas, Polars or Arrow) to write to the named resources first; each is
            cast and validated against the resource's schema, as a real write would be.
        redirect: Which resources move: ``"data"`` (those given data), ``"all"`` (every one, so
            the pipeline's outputs land in ``folder`` too), or a list of names (plus those given
            data).
    """
    catalog = Catalog.from_yaml(path, env=env, vars=vars)
    frames = dict(data or {})
    if redirect == "all":
        names = list(catalog.resources)
    elif redirect == "data":
        names = list(frames)
    else:
        names = list(dict.fromkeys([*redirect, *frames]))
    Path(folder).mkdir(parents=True, exist_ok=True)
    moved = redirect_to_files(catalog, folder, names)
    for name, frame in frames.items():
        moved.write(name, frame)
    return moved
