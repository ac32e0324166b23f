"""dynamicio's ``IOConfig``: a resource YAML file in one environment.

::

    from dynio.compat.dynamicio.config import IOConfig

    input_config = IOConfig(
        path_to_source_yaml="resources/definitions/input.yaml",
        env_identifier="sample",
        dynamic_vars=environment,          # a module, a class or a dict for [[ VARS ]]
    )
    input_config.sources                   # ["FOO", "BAR"], in file order
    input_config.get(source_key="FOO")     # what an IO class takes as source_config

The YAML is loaded by dynio's loader, so everything is checked when the ``IOConfig`` is built
(unknown keys, dtypes, rules, missing ``[[ VARS ]]`` of this environment) and each problem names
the file, resource and key. ``[[ VARS ]]`` come from ``dynamic_vars`` first, then from process
environment variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from dynio.engine import loader
from dynio.engine.errors import ResourceNotFoundError, UnknownEnvironmentError
from dynio.engine.sources import kind_for
from dynio.engine.spec import CatalogSpec, EnvSpec, ResourceSpec, SchemaSpec, thaw

__all__ = ["IOConfig", "IOEnvironment"]

# settings holding local paths, shown resolved the way a read resolves them
_PATH_KEYS = ("file_path", "path_prefix", "dynamic_file_path")


class _Named(str):
    """Text that also answers ``.value``, as dynamicio's enums (``file_type.value``) did."""

    __slots__ = ()

    @property
    def value(self) -> str:
        """The text itself."""
        return str(self)


class MissingEnvironmentError(UnknownEnvironmentError, KeyError):
    """The resource has no definition for the environment (a ``KeyError``, as in dynamicio)."""

    def __str__(self) -> str:  # KeyError would quote the message again
        return self._render()


class _Section:
    """Read-only attribute view of a source section (``env.local.file_path``)."""

    def __init__(self, settings: Mapping[str, Any], local: bool, base_dir: str) -> None:
        self._settings = settings
        self._local = local
        self._base_dir = base_dir

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_") or key not in self._settings:
            if key in ("path_prefix", "dynamic_file_path", "file_type", "format"):
                return None
            raise AttributeError(key)
        value = self._settings[key]
        if key in ("file_type", "format") and isinstance(value, str):
            return _Named(value)
        if self._local and key in _PATH_KEYS and isinstance(value, str):
            path = os.path.expanduser(value)
            return path if os.path.isabs(path) else os.path.join(self._base_dir, path)
        return value

    def __repr__(self) -> str:
        return f"{dict(self._settings)!r}"


class IOEnvironment:
    """One resource in one environment, as :meth:`IOConfig.get` gives it.

    Attributes:
        resource: The resource's frozen spec (every environment).
        env: The selected environment's frozen spec.
    """

    def __init__(self, resource: ResourceSpec, env: EnvSpec) -> None:
        self.resource = resource
        self.env = env

    @property
    def name(self) -> str:
        """The resource name (the YAML key)."""
        return self.resource.name

    @property
    def env_identifier(self) -> str:
        """The environment name."""
        return self.env.name

    @property
    def data_backend_type(self) -> _Named:
        """The source type (``local``, ``s3``, ``postgres`` …); ``.value`` gives the text."""
        return _Named(self.env.source.kind)

    @property
    def options(self) -> dict[str, Any]:
        """A fresh copy of the YAML ``options``."""
        result: dict[str, Any] = thaw(self.env.source.options)
        return result

    @property
    def dynamicio_schema(self) -> SchemaSpec | None:
        """The resource's schema, or ``None``."""
        return self.env.schema

    def __getattr__(self, key: str) -> Any:
        # the source section under its YAML name: env.local, env.s3, env.postgres …
        if key.startswith("_"):
            raise AttributeError(key)
        kind = kind_for(self.env.source.kind)
        if kind is not None and key in kind.sections:
            local = kind.name in ("local", "local_batch")
            return _Section(self.env.source.settings, local, os.getcwd())
        raise AttributeError(
            f"{type(self).__name__} of {self.name!r} ({self.env.source.kind}) has no {key!r}"
        )

    def __repr__(self) -> str:
        return (
            f"IOEnvironment({self.name!r}, env={self.env.name!r}, type={self.env.source.kind!r},"
            f" format={self.env.source.format!r})"
        )


def _variables(dynamic_vars: Any) -> Mapping[str, Any] | ModuleType | None:
    if dynamic_vars is None or isinstance(dynamic_vars, Mapping | ModuleType):
        return dynamic_vars
    # a class (or any object) holding the variables as attributes
    return {k: getattr(dynamic_vars, k) for k in dir(dynamic_vars) if not k.startswith("_")}


def _load(path: Path, env: str, variables: Mapping[str, Any] | ModuleType | None) -> CatalogSpec:
    # dynamicio loads a file whose resources do not all define the environment, and fails only
    # when one of those is asked for: the missing ones raise in get()
    return loader.load_catalog(path, variables=variables, env=env, require_env=False)


class IOConfig:
    """The resources of one YAML file, in one environment.

    Args:
        path_to_source_yaml: The resource definition file.
        env_identifier: The environment to use (``sample``, ``actual`` …).
        dynamic_vars: Values for ``[[ VAR ]]`` placeholders: a module (your pipeline's
            ``environment.py``), a class holding them as attributes, or a dict. Process
            environment variables are consulted after it.

    Raises:
        ConfigError: Any problem in the YAML or its schemas (all of them, when several).
    """

    def __init__(
        self,
        path_to_source_yaml: str | os.PathLike[str],
        env_identifier: str,
        dynamic_vars: Any = None,
    ) -> None:
        self.path_to_source_yaml = str(path_to_source_yaml)
        self.env_identifier = env_identifier
        self.dynamic_vars = dynamic_vars
        self.spec = _load(Path(path_to_source_yaml), env_identifier, _variables(dynamic_vars))

    @property
    def sources(self) -> list[str]:
        """The resource names, in file order."""
        return list(self.spec.resources)

    def get(self, source_key: str) -> IOEnvironment:
        """The resource's definition in this environment, for an IO class's ``source_config``.

        Raises:
            ResourceNotFoundError: No such resource (a ``KeyError``, as in dynamicio).
            MissingEnvironmentError: The resource does not define this environment (a
                ``KeyError`` too).
            MissingVariableError: A ``[[ VAR ]]`` this environment uses has no value.
        """
        resource = self.spec.resources.get(source_key)
        if resource is None:
            raise ResourceNotFoundError(
                f"no resource {source_key!r} in {self.path_to_source_yaml}; it has {self.sources}",
                resource=source_key,
                env=self.env_identifier,
                file=self.path_to_source_yaml,
            )
        try:
            env = resource.env(self.env_identifier)
        except UnknownEnvironmentError as exc:
            raise MissingEnvironmentError(
                exc.message, resource=exc.resource, env=exc.env, file=exc.file
            ) from exc
        return IOEnvironment(resource, env)

    def catalog(self) -> Any:
        """A :class:`dynio.Catalog` over the same resources, for code moving to dynio's API."""
        from dynio.catalog import Catalog

        return Catalog(self.spec, self.env_identifier)

    def __repr__(self) -> str:
        return f"IOConfig({self.path_to_source_yaml!r}, env={self.env_identifier!r})"
