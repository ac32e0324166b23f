"""The parsed, immutable form of resource and schema definitions.

YAML is parsed once (see :mod:`dynio.engine.loader`) into these frozen objects; execution never
mutates them, so one :class:`ResourceSpec` can serve any number of concurrent reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from dynio.engine.dtypes import DType
from dynio.engine.errors import ConfigError, ConfigProblems, UnknownEnvironmentError
from dynio.engine.problems import did_you_mean

__all__ = [
    "CatalogSpec",
    "ColumnSpec",
    "EnvSpec",
    "ResourceSpec",
    "RuleSpec",
    "SchemaSpec",
    "SourceSpec",
    "freeze",
    "match_env",
    "thaw",
]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def freeze(value: Any) -> Any:
    """Return a deeply immutable copy: mappings become read-only proxies, lists tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, set | frozenset):
        return frozenset(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """A fresh mutable copy of a frozen value (dicts and lists), safe to hand to a backend."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    if isinstance(value, frozenset):
        return {thaw(v) for v in value}
    return value


def _fresh(error: Exception) -> Exception:
    """A new instance of a stored error, so each raise has its own traceback (no shared state
    between threads, nothing kept alive by the stored one)."""
    new = error.__class__.__new__(error.__class__)
    new.__dict__.update(error.__dict__)
    new.args = error.args
    return new


def match_env(name: object, names: list[str]) -> str | None:
    """The environment name ``name`` selects: exact match first, then case-insensitive."""
    if not isinstance(name, str):  # env=True and the like name no environment
        return None
    if name in names:
        return name
    lowered = [n for n in names if n.lower() == name.lower()]
    return lowered[0] if len(lowered) == 1 else None


@dataclass(frozen=True)
class RuleSpec:
    """One data-quality rule declared in a schema.

    Attributes:
        name: The rule name (``has_unique_values``, ``is_between`` …).
        column: The column it applies to; ``None`` for frame-level rules.
        apply: Whether the rule runs.
        options: The rule's options, validated against the rule table at load.
        severity: ``"error"`` (fails the operation) or ``"warn"`` (reported only).
    """

    name: str
    column: str | None
    apply: bool = True
    options: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    severity: str = "error"


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a schema.

    Attributes:
        name: Column name.
        dtype: The resolved dtype values are cast to.
        rules: Rules on this column.
        metrics: Metric names to compute on this column.
        lossy_cast: When true, values that do not fit become null instead of raising.
    """

    name: str
    dtype: DType
    rules: tuple[RuleSpec, ...] = ()
    metrics: tuple[str, ...] = ()
    lossy_cast: bool = False


@dataclass(frozen=True)
class SchemaSpec:
    """The schema of a resource: its columns (in order), rules and metrics.

    Attributes:
        name: The dataset name (used in metric lines); may be ``None``.
        columns: The columns in order.
        rules: Frame-level rules (``row_count_between``, ``unique_together`` …).
        file: The schema file it came from, or ``None`` when inline.
    """

    name: str | None
    columns: tuple[ColumnSpec, ...]
    rules: tuple[RuleSpec, ...] = ()
    file: str | None = None

    @property
    def column_names(self) -> list[str]:
        """Column names in schema order."""
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnSpec | None:
        """The column spec of that name, or ``None``."""
        for col in self.columns:
            if col.name == name:
                return col
        return None

    @property
    def all_rules(self) -> tuple[RuleSpec, ...]:
        """Every rule, column rules first, in declaration order."""
        return tuple(r for c in self.columns for r in c.rules) + self.rules


@dataclass(frozen=True)
class SourceSpec:
    """Where a resource lives in one environment.

    Attributes:
        kind: The source kind (``local``, ``local_batch``, ``s3``, ``postgres`` …).
        settings: The kind's own section (``file_path``, ``file_type`` …), validated at load.
        options: Reader/writer options (validated against the format or kind at load).
        format: The data format name for file kinds (``parquet``, ``csv`` …), else ``None``.
        base_dir: Directory relative paths are resolved against (the YAML file's directory).
        allow_template_escape: ``options: {allow_template_escape: true}`` in the YAML: values
            filling ``{name}`` templates may leave the configured location on purpose (``..``
            segments, absolute and home paths, symlinks leading elsewhere, glob characters).
            NUL bytes are refused regardless. Off by default; not passed to readers or writers.
    """

    kind: str
    settings: Mapping[str, Any]
    options: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    format: str | None = None
    base_dir: str | None = None
    allow_template_escape: bool = False


@dataclass(frozen=True)
class EnvSpec:
    """One environment of a resource: its source and its schema."""

    name: str
    source: SourceSpec
    schema: SchemaSpec | None


@dataclass(frozen=True)
class ResourceSpec:
    """A named resource with its environments.

    Attributes:
        name: The resource name, as code refers to it.
        file: The YAML file that defines it.
        envs: Environment name -> :class:`EnvSpec`, for the environments without problems.
        schema: The schema shared by every environment, if any.
        deferred: Environments with problems (an unset ``[[ VAR ]]``, an unknown key, ...):
            using one raises the stored error (a :class:`ConfigProblems` when several).
        problems: Problems of the resource whatever the environment (its schema, its layout):
            using it in any environment raises them.
    """

    name: str
    file: str
    envs: Mapping[str, EnvSpec]
    schema: SchemaSpec | None = None
    deferred: Mapping[str, Exception] = field(default_factory=lambda: _EMPTY)
    problems: tuple[ConfigError, ...] = ()

    def env_names(self) -> list[str]:
        """Every environment name, resolved or deferred."""
        return [*self.envs, *(e for e in self.deferred if e not in self.envs)]

    def env(self, name: str) -> EnvSpec:
        """The environment of that name (exact match first, then case-insensitive).

        Raises:
            ConfigError: The resource's problems and the environment's, all of them.
            UnknownEnvironmentError: The resource has no such environment.
        """
        key = match_env(name, self.env_names())
        errors: list[Exception] = [_fresh(p) for p in self.problems]
        if key is not None and key in self.deferred:
            errors.append(_fresh(self.deferred[key]))
        if len(errors) == 1:
            raise errors[0]
        if errors:
            flat: list[ConfigError] = []
            for error in errors:
                if isinstance(error, ConfigProblems):
                    flat.extend(error.problems)
                elif isinstance(error, ConfigError):
                    flat.append(error)
            raise ConfigProblems(flat, f"resource {self.name!r}")
        found = self.envs.get(key) if key is not None else None
        if found is None:
            names = self.env_names()
            raise UnknownEnvironmentError(
                f"no environment {name!r}{did_you_mean(name, names)}; defined: {sorted(names)}",
                resource=self.name,
                env=name,
                file=self.file,
            )
        return found


@dataclass(frozen=True)
class CatalogSpec:
    """Every resource loaded from a set of YAML files."""

    resources: Mapping[str, ResourceSpec]
    files: tuple[str, ...] = ()
    problems: tuple[ConfigError, ...] = ()  # every problem a strict load reports
