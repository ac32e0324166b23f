"""A Kedro dataset over a dynio catalog: Kedro's pipeline, dynio's I/O.

A Kedro ``catalog.yml`` entry names a dynio resource; dynio's YAML keeps saying where it lives
per environment, its schema, rules and metrics. Loads and saves are dynio reads and writes (cast,
validated, measured, traced); Kedro credentials fill the catalog's ``[[ VAR ]]`` placeholders.

Example ``conf/base/catalog.yml``::

    trips:
      type: dynio.kedro.DynioDataset
      catalog: conf/dynio/resources.yaml     # dynio resource YAML (file or folder)
      resource: trips
      env: sample                            # default: DYNIO_ENV
      load_args: {columns: [trip_id, fare], filters: [[fare, ">", 0]]}
      credentials: warehouse                 # its keys fill [[ VARS ]] of the dynio YAML

``pip install 'dynio[kedro]'``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

from kedro.io import AbstractDataset, DatasetError

from dynio.catalog import Catalog
from dynio.engine.errors import DynioError

__all__ = ["DynioDataset"]

Output = Literal["pandas", "polars", "lazy"]
_CALL_KEYS = frozenset({"columns", "filters", "validate", "metrics", "dtype_backend"})


class DynioDataset(AbstractDataset[Any, Any]):
    """One dynio resource as a Kedro dataset.

    Args:
        catalog: dynio resource YAML: a file, a folder, or a list of them.
        resource: The resource name in that YAML.
        env: The dynio environment (default: the ``DYNIO_ENV`` variable).
        vars: Values for the YAML's ``[[ VAR ]]`` placeholders.
        output: What ``load`` gives: ``"pandas"`` (default), ``"polars"`` or ``"lazy"`` (a
            Polars LazyFrame with the casts in its plan).
        load_args: Keyword arguments of the read (``columns``, ``filters``, ``validate``,
            ``metrics``, ``dtype_backend``, and ``{template}`` values).
        save_args: Keyword arguments of the write (``validate``, ``metrics`` and templates).
        credentials: Kedro credentials; their keys fill ``[[ VAR ]]`` placeholders too.
        metadata: Free-form metadata, as for any Kedro dataset.
    """

    def __init__(
        self,
        *,
        catalog: str | os.PathLike[str] | list[str],
        resource: str,
        env: str | None = None,
        vars: Mapping[str, Any] | None = None,
        output: Output = "pandas",
        load_args: Mapping[str, Any] | None = None,
        save_args: Mapping[str, Any] | None = None,
        credentials: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        if output not in ("pandas", "polars", "lazy"):
            raise DatasetError(
                f"dynio resource {resource!r}: output must be 'pandas', 'polars' or 'lazy',"
                f" not {output!r}"
            )
        self._path = catalog
        self._resource = resource
        self._env = env
        self._vars = {**dict(vars or {}), **dict(credentials or {})}
        self._output = output
        self._load_args = dict(load_args or {})
        self._save_args = dict(save_args or {})
        self.metadata = dict(metadata or {})
        self._loaded: Catalog | None = None

    @property
    def catalog(self) -> Catalog:
        """The dynio catalog, loaded on first use and kept for this dataset."""
        if self._loaded is None:
            self._loaded = Catalog.from_yaml(self._path, env=self._env, vars=self._vars or None)
        return self._loaded

    def load(self) -> Any:
        """Read the resource (pandas by default), cast, validated and measured."""
        args = dict(self._load_args)
        if self._output == "lazy":
            args = {k: v for k, v in args.items() if k not in _CALL_KEYS - {"columns", "filters"}}
            return self.catalog.scan(self._resource, **args)
        if self._output == "polars":
            args.pop("dtype_backend", None)
            return self.catalog.read_polars(self._resource, **args)
        return self.catalog.read(self._resource, **args)

    def save(self, data: Any) -> None:
        """Write pandas, Polars or Arrow data to the resource, atomically and validated."""
        self.catalog.write(self._resource, data, **self._save_args)

    def _exists(self) -> bool:
        try:
            self.catalog.scan(self._resource, **self._templates()).collect_schema()
        except DynioError:
            return False
        return True

    def _templates(self) -> dict[str, Any]:
        return {k: v for k, v in self._load_args.items() if k not in _CALL_KEYS}

    def _describe(self) -> dict[str, Any]:
        # no credentials or variable values: Kedro logs this
        return {
            "catalog": str(self._path),
            "resource": self._resource,
            "env": self._env or os.environ.get("DYNIO_ENV"),
            "output": self._output,
            "load_args": sorted(self._load_args),
            "save_args": sorted(self._save_args),
        }
