"""Load resource and schema YAML into frozen specs, checking everything, blocking nothing.

The layout is dynamicio's, loaded unchanged::

    trips:                          # resource name
      sample:                       # any number of environments, any names
        type: local
        local: {file_path: "data/trips.csv", file_type: csv}
        options: {sep: ","}         # reader/writer options of the format
      actual:
        type: s3
        s3: {bucket: "[[ BUCKET ]]", file_path: "trips/{day}.parquet", file_type: parquet}
      schema:
        file_path: schemas/trips.yaml   # or the schema inline

    credentials:                    # catalog level, in any of the files: named storage options
      lake_reader: {key: "[[ AWS_KEY ]]", secret: "[[ AWS_SECRET ]]", region: eu-west-1}

An environment's ``options: {allow_template_escape: true}`` lets the values filling its
``{name}`` path templates leave the configured location on purpose (``..``, absolute paths,
symlinks leading elsewhere, glob characters; NUL bytes never); it is dynio's own option, checked
to be true or false here and never handed to a reader or writer.

An environment names a ``credentials`` entry (``credentials: lake_reader``) to use it as its
``options.storage_options`` (keys given there win).

Everything is checked when the catalog loads: unknown keys, types and dtypes, rules and metrics,
options, ``[[ VARS ]]``, schema files, environments. Every problem is collected, each a
:class:`ConfigError` naming the file, line and column, the resource and the key path, with a
"did you mean" for a mistyped name. A resource's problems are kept on it and raised when that
resource (in that environment) is used, so one broken entry or one unset variable never blocks
the others; ``strict=True`` raises every problem of every resource at once
(:class:`ConfigProblems`). A file that cannot be parsed at all blocks the catalog.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dynio.engine.errors import (
    ConfigError,
    ConfigProblems,
    MissingVariableError,
    UnknownEnvironmentError,
)
from dynio.engine.placeholders import VarSource, resolve_placeholders, variables_from
from dynio.engine.problems import Problems, did_you_mean
from dynio.engine.resource_yaml import CREDENTIALS, Found, ResourceLoader
from dynio.engine.schema_yaml import (
    SCHEMA_KEYS,
    parse_schema,
)
from dynio.engine.secrets import scrub
from dynio.engine.spec import (
    CatalogSpec,
    ResourceSpec,
    SchemaSpec,
    freeze,
    match_env,
)
from dynio.engine.yamlsource import locate

__all__ = ["ConfigProblems", "check_catalog", "load_catalog", "load_schema", "parse_schema"]

_YAML_SUFFIXES = (".yaml", ".yml")


def _looks_like_schema(doc: Any) -> bool:
    return isinstance(doc, dict) and "columns" in doc and set(doc) <= SCHEMA_KEYS


def _yaml_files(path: Path) -> tuple[list[Path], bool]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in _YAML_SUFFIXES and p.is_file())
        return files, True
    if not path.exists():
        raise ConfigError("catalog path does not exist", file=str(path))
    return [path], False


def load_schema(path: str | os.PathLike[str], *, variables: VarSource = None) -> SchemaSpec:
    """Load one schema YAML file.

    Raises:
        ConfigError: The file is missing or invalid (every problem, with line and column).
    """
    loader = ResourceLoader(variables_from(variables))
    problems = Problems()
    spec = loader.schema_file(Path(path), None, problems)
    for problem in problems.items:
        locate(problem, loader.positions)
    problems.raise_all(f"the schema {str(path)!r}")
    assert spec is not None  # no problems means a spec
    return spec


def _is_credentials(value: Any) -> bool:
    """Whether a top-level ``credentials`` value is the credentials block, not a resource.

    A resource maps environment names to definitions that have a ``type``; the credentials
    block maps names to storage options, which never do.
    """
    return isinstance(value, dict) and not any(
        isinstance(v, dict) and "type" in v for v in value.values()
    )


def _read_files(
    loader: ResourceLoader, paths: Iterable[str | os.PathLike[str]]
) -> tuple[list[tuple[Path, dict[Any, Any], list[ConfigError]]], list[str]]:
    """Parse every file of the catalog (schema files in folders left for their resources)."""
    docs: list[tuple[Path, dict[Any, Any], list[ConfigError]]] = []
    seen_files: list[str] = []
    for root in paths:
        try:
            files, is_dir = _yaml_files(Path(root))
        except ConfigError as exc:
            loader.problems.add(exc)
            continue
        if is_dir and not files:
            loader.problems.add(ConfigError("no YAML files in directory", file=str(root)))
        for file in files:
            seen_files.append(str(file))
            try:
                doc, refused = loader.read(file)
            except ConfigError as exc:
                loader.problems.add(exc)
                continue
            if doc is None or (is_dir and _looks_like_schema(doc)):
                continue
            if not isinstance(doc, dict):
                loader.problems.add(
                    ConfigError(
                        "a resource file must map resource names to definitions,"
                        f" got {type(doc).__name__}",
                        file=str(file),
                    )
                )
                continue
            docs.append((file, doc, refused))
            loader.collect_secrets(doc)
            if _is_credentials(doc.get(CREDENTIALS)):
                loader.add_credentials(doc[CREDENTIALS], file)
    return docs, seen_files


def _route(refused: list[ConfigError], name: str, found: Found, envs: Iterable[str]) -> None:
    """Give a resource the refused (non-text) keys written inside it."""
    env_names = set(envs)
    for problem in refused:
        parts = (problem.key_path or "").split(".")
        if parts[0] != name:
            continue
        problem.resource = name
        if len(parts) > 1 and parts[1] in env_names:
            problem.env = parts[1]
            found.env(parts[1]).add(problem)
        else:
            found.problems.add(problem)
        problem.args = (problem._render(),)


def load_catalog(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    variables: VarSource = None,
    env: str | None = None,
    require_env: bool = True,
    strict: bool = True,
    allow_unset: bool = False,
) -> CatalogSpec:
    """Load every resource from YAML files or directories, checking all of them.

    A directory is searched recursively for ``*.yaml``/``*.yml``; files holding a schema
    (top-level ``columns``) are skipped there, since resources reference them.

    Args:
        paths: A file, a directory, or several of them.
        variables: Values for ``[[ VAR ]]`` placeholders (a mapping or a module); process
            environment variables are consulted after them.
        env: The environment the catalog is for: its unset variables are problems, other
            environments' only when that environment is used.
        require_env: Every resource must define ``env`` (else a resource without it loads and
            raises :class:`UnknownEnvironmentError` when used, as dynamicio does).
        strict: Raise every problem found (:attr:`CatalogSpec.problems`) at once. Without it a
            resource's problems are raised when the resource is used in an environment they
            concern; files that cannot be parsed are still raised here.
        allow_unset: Unset variables are not problems (a structure check without secrets).

    Raises:
        ConfigError: The one problem, or :class:`ConfigProblems` listing all of them.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    loader = ResourceLoader(variables_from(variables))
    docs, seen_files = _read_files(loader, paths)
    resources: dict[str, ResourceSpec] = {}
    report: list[ConfigError] = []
    # credentials may be defined in any file of the catalog, before or after their users
    for file, doc, refused in docs:
        for raw_name, body in doc.items():
            if raw_name == CREDENTIALS and _is_credentials(body):
                continue
            try:
                name = str(
                    resolve_placeholders(str(raw_name), loader.variables, {"file": str(file)})
                )
            except MissingVariableError as exc:
                loader.problems.add(exc)
                continue
            found = Found()
            if name in resources:
                found.problems.add(
                    ConfigError(
                        f"resource defined twice (also in {resources[name].file})",
                        resource=name,
                        file=str(file),
                        key_path=name,
                    )
                )
            _route(refused, str(raw_name), found, body if isinstance(body, dict) else ())
            spec = loader.resource(name, body, file, found)
            if name not in resources:
                resources[name] = spec
            report.extend(_reported(spec, found, env, require_env, allow_unset))
    secrets = tuple(sorted(loader.secrets, key=len, reverse=True))
    for problem in [*loader.problems.items, *report, *_all_errors(resources.values())]:
        locate(problem, loader.positions)
        if secrets:  # a password typed into a number field, a rule option or a name
            scrub(problem, secrets)
    resources = {n: _rendered(r) for n, r in resources.items()}
    if strict:
        report = [*loader.problems.items, *report]
        if report:
            raise report[0] if len(report) == 1 else ConfigProblems(report)
    loader.problems.raise_all()  # a file that cannot be read blocks the catalog
    return CatalogSpec(resources=freeze(resources), files=tuple(seen_files), problems=tuple(report))


def _reported(
    spec: ResourceSpec, found: Found, env: str | None, require_env: bool, allow_unset: bool
) -> list[ConfigError]:
    """The problems of one resource a strict load or ``dynio catalog check`` reports.

    Every problem of every environment, except unset variables when ``allow_unset``, and,
    when the catalog is for one environment, unset variables only other environments use.
    """
    chosen = match_env(env, list(found.envs)) if env is not None else None
    out = [p for p in found.problems.items if not (allow_unset and _unset(p))]
    for env_name, problems in found.envs.items():
        for p in problems.items:
            if _unset(p) and (allow_unset or (env is not None and env_name != chosen)):
                continue
            out.append(p)
    if env is not None and chosen is None and require_env and found.envs:
        out.append(
            UnknownEnvironmentError(
                f"no environment {env!r}{did_you_mean(env, found.envs)}; defined:"
                f" {sorted(found.envs)}",
                resource=spec.name,
                env=env,
                file=spec.file,
                key_path=spec.name,
            )
        )
    return out


def _unset(problem: ConfigError) -> bool:
    return isinstance(problem, MissingVariableError)


def _all_errors(specs: Iterable[ResourceSpec]) -> list[ConfigError]:
    out: list[ConfigError] = []
    for spec in specs:
        out.extend(spec.problems)
        for error in spec.deferred.values():
            if isinstance(error, ConfigProblems):
                out.extend(error.problems)
            elif isinstance(error, ConfigError):
                out.append(error)
    return out


def _rendered(spec: ResourceSpec) -> ResourceSpec:
    """The spec with its several-problem errors re-rendered now their lines are known."""
    import dataclasses

    deferred = {
        e: ConfigProblems(err.problems, f"{spec.name!r} env {e!r}")
        if isinstance(err, ConfigProblems)
        else err
        for e, err in spec.deferred.items()
    }
    return dataclasses.replace(spec, deferred=freeze(deferred))


def check_catalog(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    variables: VarSource = None,
    env: str | None = None,
    allow_unset: bool = False,
) -> list[ConfigError]:
    """Every problem of every resource (empty when the catalog is sound).

    Args:
        paths: The catalog's files or folders.
        variables: Values for ``[[ VAR ]]`` placeholders.
        env: Check for this environment: other environments' unset variables are not problems.
        allow_unset: No unset variable is a problem: checks the structure without secrets.
    """
    try:
        load_catalog(paths, variables=variables, env=env, strict=True, allow_unset=allow_unset)
    except ConfigProblems as exc:
        return list(exc.problems)
    except ConfigError as exc:
        return [exc]
    return []
