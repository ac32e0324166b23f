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

The YAML is loaded by dynio's loader (unknown keys, dtypes, rules, missing ``[[ VARS ]]`` of
this environment are errors naming the file, resource and key). As in dynamicio, a problem in
one resource does not stop the others from being used: it is raised by ``get()`` of that
resource. ``[[ VARS ]]`` come from ``dynamic_vars`` first, then from process environment
variables. ``IOConfig.config`` and ``IOConfig.get(...).dict()`` give dynamicio's pydantic view
of the same YAML (they need ``pydantic``).
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from dynio.engine import loader
from dynio.engine.errors import (
    ConfigError,
    DynioError,
    MissingVariableError,
    ResourceNotFoundError,
    UnknownEnvironmentError,
)
from dynio.engine.sources import kind_for
from dynio.engine.spec import CatalogSpec, EnvSpec, ResourceSpec, SchemaSpec, freeze, thaw

__all__ = ["IOConfig", "IOEnvironment", "SafeDynamicResourceLoader", "SafeDynamicSchemaLoader"]

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
        resource: The resource's frozen spec (every environment), what reads and writes use.
        env: The selected environment's frozen spec.
    """

    def __init__(
        self, resource: ResourceSpec, env: EnvSpec, config: IOConfig | None = None
    ) -> None:
        self.resource = resource
        self.env = env
        self._config = config

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
        """A fresh copy of the YAML ``options``, with those no reader of the format takes
        (dynamicio kept them; the IO class leaves them out of the reader call with a
        warning)."""
        result: dict[str, Any] = thaw(self.env.source.options)
        if self._config is not None:
            result.update(self._config.tolerated.options.get((self.name, self.env.name), {}))
        return result

    @property
    def metric_problems(self) -> list[ConfigError]:
        """Metrics of the resource's schema its columns cannot have (``Mean`` of text),
        left out of :attr:`schema_spec`: dynamicio failed only when it computed them."""
        if self._config is None:
            return []
        return list(self._config.tolerated.metrics.get(self.name, []))

    @property
    def schema_spec(self) -> SchemaSpec | None:
        """The resource's schema as dynio's engine runs it, or ``None``."""
        return self.env.schema

    @property
    def dynamicio_schema(self) -> Any:
        """The resource's schema as dynamicio's pydantic ``DataframeSchema`` (``.dict()``,
        ``.columns``, ``.column_names``), or ``None``."""
        binding = self._parent
        return binding.dynamicio_schema

    @property
    def _parent(self) -> Any:
        # dynamicio's IOBinding of this resource (its pydantic view)
        if self._config is None:
            raise AttributeError("this IOEnvironment was not made by IOConfig.get")
        return self._config.binding(self.name)

    def dict(self) -> dict[str, Any]:
        """dynamicio's view of this environment (``type``, ``options`` and its section)."""
        model = self._parent.get_binding_for_environment(self.env.name)
        result: dict[str, Any] = model.model_dump()
        return result

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


def _variables(dynamic_vars: Any) -> dict[str, Any]:
    if dynamic_vars is None:
        return {}
    if isinstance(dynamic_vars, Mapping):
        found = dict(dynamic_vars)
    elif isinstance(dynamic_vars, ModuleType):
        found = {k: v for k, v in vars(dynamic_vars).items() if not k.startswith("_")}
    else:  # a class (or any object) holding the variables as attributes
        found = {k: getattr(dynamic_vars, k) for k in dir(dynamic_vars) if not k.startswith("_")}
    return found


# ---------------------------------------------------------------------- dynamicio's loaders

_MAX_DEPTH = 10
_PLACEHOLDER = re.compile(r"\[\[\s*(\S+?)\s*\]\]")


def _lookup(module: Any, ref: str, strict: bool) -> Any:
    if isinstance(module, Mapping):
        if ref in module:
            return module[ref]
    elif module is not None and hasattr(module, ref):
        return getattr(module, ref)
    if ref in os.environ:
        return os.environ[ref]
    if not strict:  # another environment's variable: kept as written in the view
        return f"[[ {ref} ]]"
    raise MissingVariableError(ref)


class SafeDynamicResourceLoader(yaml.SafeLoader):
    """dynamicio's YAML loader of resource files: ``[[ VAR ]]`` in text becomes the variable's
    value (from ``module``, then the process environment), as text.

    ``yaml.load(stream, SafeDynamicResourceLoader.with_module(environment))``.
    """

    module: Any = None
    strict = True

    @classmethod
    def with_module(cls, module: Any, strict: bool = True) -> type[SafeDynamicResourceLoader]:
        """A loader class reading variables from ``module`` (a module, class or mapping);
        with ``strict=False`` a placeholder without a value stays as written."""
        name = getattr(module, "__name__", type(module).__name__)
        return type(f"{cls.__name__}_{name}", (cls,), {"module": module, "strict": strict})

    def dyn_str_constructor(self, node: yaml.nodes.ScalarNode) -> Any:
        """The scalar with its placeholders replaced."""
        value = str(node.value)
        for _ in range(_MAX_DEPTH):  # a value may hold placeholders itself
            new = _PLACEHOLDER.sub(
                lambda m: str(_lookup(self.module, m.group(1), self.strict)), value
            )
            if new == value:
                break
            value = new
        return value


class SafeDynamicSchemaLoader(SafeDynamicResourceLoader):
    """dynamicio's YAML loader of schema files: like the resource loader, but a value that
    is a number once its placeholders are replaced becomes a ``float``."""

    def dyn_str_constructor(self, node: yaml.nodes.ScalarNode) -> Any:
        """The scalar with its placeholders replaced, as a float when it is a number."""
        value = str(node.value)
        if not _PLACEHOLDER.search(value):
            return value
        text = super().dyn_str_constructor(node)
        try:
            return float(text)
        except ValueError:
            return text


_STR_TAG = "tag:yaml.org,2002:str"
SafeDynamicResourceLoader.add_constructor(_STR_TAG, SafeDynamicResourceLoader.dyn_str_constructor)
SafeDynamicSchemaLoader.add_constructor(_STR_TAG, SafeDynamicSchemaLoader.dyn_str_constructor)


# ------------------------------------------------------------------------------- loading


def _without(path: Path, broken: set[str]) -> dict[str, Any]:
    """The file's resources but the broken ones, schema file references made absolute."""
    with open(path, encoding="utf-8") as stream:
        doc = yaml.safe_load(stream) or {}
    kept: dict[str, Any] = {}
    for name, body in doc.items():
        if str(name) in broken:
            continue
        schema = body.get("schema") if isinstance(body, dict) else None
        ref = schema.get("file_path") if isinstance(schema, dict) else None
        if (
            schema is not None
            and isinstance(ref, str)
            and "[[" not in ref
            and not os.path.isabs(ref)
        ):
            body = {**body, "schema": {**schema, "file_path": str(path.parent / ref)}}
        kept[name] = body
    return kept


_UNKNOWN_OPTION = re.compile(r"^unknown option '[^']*' for (format|type) ")
# in a schema file: ``columns.baz.metrics[2]``; inline: ``RES.schema.columns…`` (or RES.ENV.schema)
_METRIC_KEY = re.compile(
    r"^(?:(?P<inline>.+)\.schema\.)?columns\.(?P<column>.+)\.metrics\[(?P<index>\d+)\]$"
)
_NON_NUMERIC_METRIC = re.compile(r"^metric '[^']*' needs a numeric column")


@dataclasses.dataclass
class Tolerated:
    """What dynamicio accepted in a file and dynio's loader does not, kept aside by resource.

    Attributes:
        options: ``(resource, env) -> {option: value}``: options no reader of the format takes.
            dynamicio kept them in ``options`` and left them out of the reader call with a
            warning; so does the IO class.
        metrics: ``resource -> problems``: metrics that cannot be computed on their column
            (``Mean`` of text). dynamicio failed only when it computed them; the IO class
            raises the problem when it logs the resource's metrics.
    """

    options: dict[tuple[str, str], dict[str, Any]] = dataclasses.field(default_factory=dict)
    metrics: dict[str, list[ConfigError]] = dataclasses.field(default_factory=dict)


def _substituted(value: Any, variables: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: str(_lookup(variables, m.group(1), False)), value)
    return value


def _drop_option(
    doc: dict[str, Any], problem: ConfigError, kept: Tolerated, variables: Mapping[str, Any]
) -> bool:
    """Take an unknown option out of ``doc`` into ``kept``; whether it was one."""
    if not (problem.key_path and problem.env and _UNKNOWN_OPTION.match(problem.message)):
        return False
    *parents, name = problem.key_path.split(".")
    node: Any = doc
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict) or name not in node:
        return False
    value = _substituted(node.pop(name), variables)
    kept.options.setdefault((str(problem.resource), problem.env), {})[name] = value
    return True


def _drop_metric(
    doc: dict[str, Any],
    path: Path,
    problem: ConfigError,
    kept: Tolerated,
    variables: Mapping[str, Any],
) -> bool:
    """Take a metric its column cannot have out of the resource's schema (inlined in ``doc``)
    into ``kept``; whether it was one."""
    found = _METRIC_KEY.match(problem.key_path or "")
    holder: Any = doc.get(str(problem.resource))
    if not (found and _NON_NUMERIC_METRIC.match(problem.message) and isinstance(holder, dict)):
        return False
    if found["inline"]:
        holder = doc
        for part in found["inline"].split("."):
            holder = holder.get(part) if isinstance(holder, dict) else None
    schema = holder.get("schema") if isinstance(holder, dict) else None
    ref = _substituted(schema.get("file_path"), variables) if isinstance(schema, dict) else None
    if not found["inline"] and isinstance(ref, str):
        with open(path.parent / ref, encoding="utf-8") as stream:  # (an absolute ref wins)
            schema = yaml.safe_load(stream)
    column = schema.get("columns", {}).get(found["column"]) if isinstance(schema, dict) else None
    metrics = column.get("metrics") if isinstance(column, dict) else None
    index = int(found["index"])
    if not isinstance(metrics, list) or index >= len(metrics):
        return False
    metrics[index] = None  # removed below, once every problem of the file is seen
    holder["schema"] = schema
    kept.metrics.setdefault(str(problem.resource), []).append(problem)
    return True


def _without_nulls(node: Any) -> None:
    """Remove the metrics :func:`_drop_metric` marked, wherever their schema is."""
    if isinstance(node, dict):
        if isinstance(node.get("metrics"), list):
            node["metrics"] = [m for m in node["metrics"] if m is not None]
        for value in node.values():
            _without_nulls(value)


def _load(
    path: Path, env: str, variables: Mapping[str, Any]
) -> tuple[CatalogSpec, dict[str, DynioError], Tolerated]:
    """The catalog of the file, the problems of its broken resources, and what was tolerated.

    dynamicio loads a file whose resources do not all define the environment and fails only
    when one of those is asked for; likewise a resource with a problem (an unknown key, an
    unknown metric…) fails only when it is asked for, and the others load. Options no reader
    takes and metrics their column cannot have were accepted by dynamicio: they are kept aside
    (:class:`Tolerated`) and the resource loads.
    """
    try:
        return (
            loader.load_catalog(path, variables=variables, env=env, require_env=False),
            {},
            Tolerated(),
        )
    except ConfigError as exc:
        problems = exc.problems if isinstance(exc, loader.ConfigProblems) else [exc]
        if any(p.resource is None for p in problems):
            raise  # the file itself is broken
    doc = _without(path, set())
    kept = Tolerated()
    broken: dict[str, DynioError] = {}
    for problem in problems:
        if not (
            _drop_option(doc, problem, kept, variables)
            or _drop_metric(doc, path, problem, kept, variables)
        ):
            broken.setdefault(str(problem.resource), problem)
    _without_nulls(doc)
    doc = {name: body for name, body in doc.items() if str(name) not in broken}
    with tempfile.TemporaryDirectory(prefix="dynio-compat-") as tmp:
        copy = Path(tmp) / path.name
        copy.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        try:
            spec = loader.load_catalog(copy, variables=variables, env=env, require_env=False)
        except ConfigError as exc:
            if not isinstance(exc, loader.ConfigProblems) and exc.resource is None:
                raise
            for problem in exc.problems if isinstance(exc, loader.ConfigProblems) else [exc]:
                broken.setdefault(str(problem.resource), problem)
            doc = {name: body for name, body in doc.items() if str(name) not in broken}
            copy.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
            spec = loader.load_catalog(copy, variables=variables, env=env, require_env=False)
    resources = {
        name: dataclasses.replace(res, file=str(path)) for name, res in spec.resources.items()
    }
    return CatalogSpec(resources=freeze(resources), files=(str(path),)), broken, kept


# pydantic error types that dynamicio's load raised for a section's structure (the models'
# own value errors quote no value)
_STRUCTURAL = frozenset({"missing", "enum", "literal_error", "value_error"})


def _ctx(error: Any) -> dict[str, Any]:
    return {"ctx": error["ctx"]} if "ctx" in error else {}


class IOConfig:
    """The resources of one YAML file, in one environment.

    Args:
        path_to_source_yaml: The resource definition file.
        env_identifier: The environment to use (``sample``, ``actual`` …).
        dynamic_vars: Values for ``[[ VAR ]]`` placeholders: a module (your pipeline's
            ``environment.py``), a class holding them as attributes, or a dict. Process
            environment variables are consulted after it.

    Raises:
        ConfigError: A problem of the file itself (a resource's own problems are raised by
            ``get()`` of that resource).
        pydantic.ValidationError: A resource dynamicio's models reject (a section without its
            ``file_path``, an unknown ``file_type``), as dynamicio raised it here.
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
        self.spec, self._broken, self.tolerated = _load(
            Path(path_to_source_yaml), env_identifier, _variables(dynamic_vars)
        )
        self._order = _resource_order(Path(path_to_source_yaml))
        self._check_models(set(self.sources))

    def _check_models(self, names: set[str]) -> None:
        """Raise what dynamicio raised when it loaded the file: its pydantic models' error for
        an environment section they reject for a missing key (``file_path``, ``path_prefix``)
        or an unknown ``file_type``. Other problems are raised by ``get()`` of their resource,
        as dynamicio failed on them only when the resource was used; so are all of them
        without ``pydantic`` installed. The error quotes no value (a misplaced secret)."""
        try:
            import pydantic

            from dynio.compat.dynamicio.config.pydantic import BindingsYaml
        except ImportError:
            return
        try:
            raw = self._raw()
        except (OSError, yaml.YAMLError, DynioError):  # get() of the resource says it
            return
        bindings = {  # the sections only: schemas are dynio's to check
            name: {k: v for k, v in body.items() if k != "schema"}
            for name, body in raw.items()
            if name in names and isinstance(body, dict)
        }
        try:
            BindingsYaml.model_validate({"bindings": bindings})
        except pydantic.ValidationError as exc:
            found = [
                {"type": e["type"], "loc": e["loc"], "input": None, **_ctx(e)}
                for e in exc.errors()
                if e["type"] in _STRUCTURAL
            ]
            if found:
                raise pydantic.ValidationError.from_exception_data(exc.title, found) from None  # type: ignore[arg-type]

    @property
    def sources(self) -> list[str]:
        """The resource names, in file order."""
        known = [*self.spec.resources, *(b for b in self._broken if b not in self.spec.resources)]
        ordered = [name for name in self._order if name in known]
        return ordered + [name for name in known if name not in ordered]

    @cached_property
    def config(self) -> Any:
        """dynamicio's pydantic ``BindingsYaml`` of the file (``.bindings[name]``, ``.dict()``).

        Raises:
            pydantic.ValidationError: The file does not fit dynamicio's models.
        """
        from dynio.compat.dynamicio.config.pydantic import BindingsYaml

        return BindingsYaml(bindings=self._raw()).update_config_refs()

    def binding(self, name: str) -> Any:
        """dynamicio's pydantic ``IOBinding`` of one resource."""
        if "config" in self.__dict__:
            return self.config.bindings[name]
        from dynio.compat.dynamicio.config.pydantic import BindingsYaml

        config = BindingsYaml(bindings={name: self._raw()[name]}).update_config_refs()
        return config.bindings[name]

    def _raw(self) -> dict[str, Any]:
        """The file as dynamicio loaded it: placeholders replaced, schema files read in."""
        with open(self.path_to_source_yaml, encoding="utf-8") as stream:
            data = yaml.load(
                stream, SafeDynamicResourceLoader.with_module(self.dynamic_vars, strict=False)
            )
        for body in data.values():
            schema = body.get("schema") if isinstance(body, dict) else None
            if isinstance(schema, dict) and schema.get("file_path"):
                with open(schema["file_path"], encoding="utf-8") as stream:
                    body["schema"] = yaml.load(
                        stream, SafeDynamicSchemaLoader.with_module(self.dynamic_vars, False)
                    )
        result: dict[str, Any] = data
        return result

    def get(self, source_key: str) -> IOEnvironment:
        """The resource's definition in this environment, for an IO class's ``source_config``.

        Raises:
            ResourceNotFoundError: No such resource (a ``KeyError``, as in dynamicio).
            MissingEnvironmentError: The resource does not define this environment (a
                ``KeyError`` too).
            ConfigError: The resource's definition has a problem (it names file and key).
        """
        if source_key in self._broken:
            raise self._broken[source_key]
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
        return IOEnvironment(resource, env, self)

    def catalog(self) -> Any:
        """A :class:`dynio.Catalog` over the same resources, for code moving to dynio's API."""
        from dynio.catalog import Catalog

        return Catalog(self.spec, self.env_identifier)

    def __repr__(self) -> str:
        return f"IOConfig({self.path_to_source_yaml!r}, env={self.env_identifier!r})"


def _resource_order(path: Path) -> list[str]:
    """The file's top-level keys in order (resolved names are checked against the spec)."""
    with open(path, encoding="utf-8") as stream:
        doc = yaml.safe_load(stream) or {}
    return [str(k) for k in doc] if isinstance(doc, dict) else []
