"""Check one resource of a catalog: its environments, sources, options and schema.

Every problem is collected (not only the first), each naming file, resource, environment and
key path; the loader (:mod:`dynio.engine.loader`) adds lines and columns and decides which are
raised when.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dynio.engine.errors import (
    ConfigError,
    ConfigProblems,
    DynioError,
    MissingVariableError,
)
from dynio.engine.io.filesystems import check_storage_options
from dynio.engine.io.formats import PLAN_OPTIONS, format_for, format_names, infer_format
from dynio.engine.placeholders import resolve_placeholders
from dynio.engine.problems import Problems, did_you_mean, unknown_names
from dynio.engine.schema_yaml import (
    coerce,
    key,
    plain,
    schema_problems,
    unknown_keys,
)
from dynio.engine.secrets import Secret, mark_storage_options, secrets_of_body, storage_secrets
from dynio.engine.sources import SourceKind, all_kinds, kind_for
from dynio.engine.spec import (
    EnvSpec,
    ResourceSpec,
    SchemaSpec,
    SourceSpec,
    freeze,
)
from dynio.engine.yamlsource import Positions, read_yaml

__all__ = ["Found", "ResourceLoader"]

_ENV_KEYS = frozenset({"type", "options", "schema", "credentials"})
CREDENTIALS = "credentials"  # the top-level key of named storage-options mappings
_UNRESOLVED = re.compile(r"\[\[|%5B%5B|\\\[\\\[", re.IGNORECASE)
# ``options: {allow_template_escape: true}``: {template} values may leave the configured location
_ESCAPE_OPTION = "allow_template_escape"


@dataclass
class Found:
    """What checking one resource found: its own problems and each environment's."""

    problems: Problems = field(default_factory=Problems)  # the resource's, whatever the env
    envs: dict[str, Problems] = field(default_factory=dict)  # environment -> its problems

    def env(self, name: str) -> Problems:
        return self.envs.setdefault(name, Problems())


class ResourceLoader:
    def __init__(self, variables: dict[str, Any]) -> None:
        self.variables = variables
        self.problems = Problems()  # problems of files, not of one resource
        self.credentials: dict[str, tuple[dict[str, Any], Path]] = {}
        # every secret value met, to clean every error of this load of them (by value)
        self.secrets: set[str] = set()
        self.positions: dict[str, Positions] = {}

    def read(self, file: Path, resource: str | None = None) -> tuple[Any, list[ConfigError]]:
        """Parse a YAML file, keeping its key positions; returns the data and refused keys."""
        doc = read_yaml(file, resource)
        self.positions[str(file)] = doc.positions
        return doc.data, doc.key_problems

    # -------------------------------------------------------------------------- credentials

    def add_credentials(self, block: dict[str, Any], file: Path) -> None:
        """Keep a file's ``credentials:`` entries (resolved when an environment uses one)."""
        for name, entry in block.items():
            ctx = {"file": str(file), "key_path": key(CREDENTIALS, name)}
            if not isinstance(entry, dict):
                self.problems.add(
                    ConfigError(
                        f"credentials {name!r} must be a mapping of storage options, got"
                        f" {type(entry).__name__}",
                        **ctx,
                    )
                )
            elif str(name) in self.credentials:
                other = self.credentials[str(name)][1]
                self.problems.add(
                    ConfigError(f"credentials {name!r} defined twice (also in {other})", **ctx)
                )
            else:
                self.credentials[str(name)] = (entry, file)

    def storage_options(
        self, ref: Any, kind: SourceKind, path: str, ctx: dict[str, Any]
    ) -> dict[str, Any]:
        """The storage options of the ``credentials`` entry an environment names.

        Raises:
            ConfigError: Unknown name, or the kind takes no storage options.
            MissingVariableError: A ``[[ VAR ]]`` of the entry has no value.
        """
        if not kind.file_based and kind.storage is None:
            raise ConfigError(
                f"type {kind.name!r} takes no credentials (they are storage options of files)",
                key_path=path,
                **ctx,
            )
        if not isinstance(ref, str) or ref not in self.credentials:
            hint = did_you_mean(ref, self.credentials)
            known = ", ".join(sorted(self.credentials)) or "none defined"
            raise ConfigError(
                f"unknown credentials {ref!r}{hint or '; defined: ' + known}", key_path=path, **ctx
            )
        raw, file = self.credentials[ref]
        missing: list[MissingVariableError] = []
        where = {**ctx, "file": str(file)}
        entry = resolve_placeholders(
            raw, self.variables, where, key_path=key(CREDENTIALS, ref), missing=missing
        )
        if missing:
            raise missing[0] if len(missing) == 1 else ConfigProblems(missing)
        out: dict[str, Any] = plain(entry)
        return out

    def collect_secrets(self, doc: dict[Any, Any]) -> None:
        """Note the secret values of a document's environments and credentials (placeholders
        resolved), before anything is checked: every error of the load is cleaned of them."""
        for name, body in doc.items():
            if not isinstance(body, dict):
                continue
            for env_body in body.values():
                missing: list[MissingVariableError] = []
                try:
                    resolved = resolve_placeholders(env_body, self.variables, {}, missing=missing)
                except DynioError:
                    continue
                found = (storage_secrets if name == CREDENTIALS else secrets_of_body)(resolved)
                # an unset placeholder's own text is no secret (errors name it)
                self.secrets.update(v for v in found if not _UNRESOLVED.search(v))

    # ---------------------------------------------------------------------------- resources

    def resource(self, name: str, body: Any, file: Path, found: Found) -> ResourceSpec:
        """Check a resource in every environment; its problems land in ``found``."""
        ctx = {"resource": name, "file": str(file)}
        empty = ResourceSpec(name=name, file=str(file), envs=freeze({}))
        if not isinstance(body, dict):
            found.problems.add(
                ConfigError(
                    "a resource must map environment names to definitions, got"
                    f" {type(body).__name__}",
                    key_path=name,
                    **ctx,
                )
            )
            return empty
        schema = None
        if "schema" in body:
            missing: list[MissingVariableError] = []
            raw_schema = resolve_placeholders(
                body["schema"], self.variables, ctx, key(name, "schema"), missing
            )
            for m in missing:
                found.problems.add(m)
            if not missing:
                schema = self.schema_ref(
                    raw_schema, name, file, key(name, "schema"), found.problems
                )
        env_bodies: dict[str, Any] = {}
        for env_name, env_body in body.items():
            if env_name == "schema":
                continue
            try:  # environment names may hold placeholders too
                env_key = str(resolve_placeholders(str(env_name), self.variables, ctx, name))
            except MissingVariableError as exc:
                found.problems.add(exc)
                continue
            if env_key in env_bodies:
                found.problems.add(
                    ConfigError(f"environment {env_key!r} defined twice", key_path=name, **ctx)
                )
            env_bodies[env_key] = env_body
        if not env_bodies and not found.problems:
            found.problems.add(
                ConfigError("the resource defines no environment", key_path=name, **ctx)
            )
        envs: dict[str, EnvSpec] = {}
        for env_name, env_body in env_bodies.items():
            spec = self.checked_env(name, env_name, env_body, file, schema, found.env(env_name))
            if spec is not None:
                envs[env_name] = spec
        deferred = {e: p.items for e, p in found.envs.items() if p}
        return ResourceSpec(
            name=name,
            file=str(file),
            envs=freeze(envs),
            schema=schema,
            deferred=freeze({e: _one(items, name, e) for e, items in deferred.items()}),
            problems=tuple(found.problems.items),
        )

    def checked_env(
        self,
        resource: str,
        env: str,
        body: Any,
        file: Path,
        schema: SchemaSpec | None,
        problems: Problems,
    ) -> EnvSpec | None:
        """Resolve an environment's variables and check it; ``None`` when it has problems.

        An unset variable is one problem; what it leaves unexplained is still checked (a
        misspelt key beside an unset variable is found in the same run).
        """
        env_ctx = {"resource": resource, "env": env, "file": str(file)}
        missing: list[MissingVariableError] = []
        resolved = resolve_placeholders(
            body, self.variables, env_ctx, key_path=key(resource, env), missing=missing
        )
        found = Problems()
        spec = self.env(resource, env, resolved, file, schema, found)
        _add_unexplained(problems, missing, found)
        return spec if not problems else None

    def env(
        self,
        resource: str,
        env: str,
        body: Any,
        file: Path,
        schema: SchemaSpec | None,
        problems: Problems,
    ) -> EnvSpec | None:
        """Check one environment, adding every problem found; ``None`` when there were any."""
        path = key(resource, env)
        ctx = {"resource": resource, "env": env, "file": str(file)}
        if not isinstance(body, dict):
            problems.add(
                ConfigError(
                    f"an environment must be a mapping with a 'type', got {type(body).__name__}",
                    key_path=path,
                    **ctx,
                )
            )
            return None
        kind = self.kind(body, path, ctx, problems)
        if kind is None:
            return None
        before = len(problems)
        for problem in unknown_keys(
            body, _ENV_KEYS | set(kind.sections), f"an environment of type {kind.name!r}", path, ctx
        ):
            problems.add(problem)
        sections = [s for s in kind.sections if s in body]
        if len(sections) != 1:
            if len(problems) > before and not sections:
                return None  # the misspelt section is reported (with its "did you mean")
            problems.add(
                ConfigError(
                    f"type {kind.name!r} needs one {kind.sections[0]!r} section with"
                    f" {', '.join(kind.fields)}",
                    key_path=key(path, kind.sections[0]),
                    **ctx,
                )
            )
            return None
        section_path = key(path, sections[0])
        settings = self.section(kind, body[sections[0]], section_path, ctx, problems)
        fmt_name = None
        if settings is not None:
            with problems.guard():
                fmt_name = self.format_name(kind, settings, section_path, ctx)
        uri = str((settings or {}).get("uri") or "")
        options, escape = self.options(kind, fmt_name, body, path, ctx, problems, uri)
        if "schema" in body:
            schema = self.schema_ref(body["schema"], resource, file, key(path, "schema"), problems)
        if len(problems) > before or settings is None:
            return None
        source = SourceSpec(
            kind=kind.name,
            settings=freeze(settings),
            options=freeze(options),
            format=fmt_name,
            base_dir=str(file.parent.resolve()),
            allow_template_escape=escape,
        )
        if kind.check is not None:
            module, _, func = kind.check.partition(":")
            check = getattr(importlib.import_module(module), func)
            try:
                check(source, schema.column_names if schema else None, ctx)
            except ConfigError as exc:
                problems.add(
                    ConfigError(exc.message, key_path=key(path, exc.key_path or "options"), **ctx)
                )
                return None
        return EnvSpec(name=env, source=source, schema=schema)

    def kind(
        self, body: dict[str, Any], path: str, ctx: dict[str, Any], problems: Problems
    ) -> SourceKind | None:
        if "type" not in body:
            problems.add(
                ConfigError(
                    "missing 'type' (one of: " + ", ".join(all_kinds()) + ")",
                    key_path=key(path, "type"),
                    **ctx,
                )
            )
            return None
        type_name = body["type"]
        kind = kind_for(type_name) if isinstance(type_name, str) else None
        if kind is None:
            problems.add(
                ConfigError(
                    unknown_names("source type", [type_name], all_kinds()),
                    key_path=key(path, "type"),
                    **ctx,
                )
            )
        return kind

    def options(
        self,
        kind: SourceKind,
        fmt_name: str | None,
        body: dict[str, Any],
        path: str,
        ctx: dict[str, Any],
        problems: Problems,
        location: str = "",
    ) -> tuple[dict[str, Any], bool]:
        """The environment's options (credentials merged in) and its template-escape flag."""
        options = plain(body.get("options") or {})
        opath = key(path, "options")
        if not isinstance(options, dict):
            problems.add(
                ConfigError(
                    f"options must be a mapping, got {type(options).__name__}",
                    key_path=opath,
                    **ctx,
                )
            )
            return {}, False
        escape = False
        with problems.guard():
            raw = options.pop(_ESCAPE_OPTION, False)  # dynio's own: never handed to a reader
            escape = coerce(raw, bool, {**ctx, "key_path": key(opath, _ESCAPE_OPTION)})
        for problem in self.check_options(kind, fmt_name, options, opath, ctx):
            problems.add(problem)
        if CREDENTIALS in body:
            with problems.guard():
                named = self.storage_options(body[CREDENTIALS], kind, key(path, CREDENTIALS), ctx)
                options["storage_options"] = {**named, **(options.get("storage_options") or {})}
        if isinstance(options.get("storage_options"), dict):
            options["storage_options"] = mark_storage_options(options["storage_options"])
        if "storage_options" in options:
            text = check_storage_options(
                options["storage_options"], location or kind.storage or kind.name
            )
            if text is not None:
                problems.add(ConfigError(text, key_path=key(opath, "storage_options"), **ctx))
        return options, escape

    def section(
        self, kind: SourceKind, body: Any, path: str, ctx: dict[str, Any], problems: Problems
    ) -> dict[str, Any] | None:
        if not isinstance(body, dict):
            problems.add(
                ConfigError(
                    f"the {kind.name!r} section must be a mapping, got {type(body).__name__}",
                    key_path=path,
                    **ctx,
                )
            )
            return None
        before = len(problems)
        for problem in unknown_keys(body, frozenset(kind.fields), repr(kind.name), path, ctx):
            problems.add(problem)
        out: dict[str, Any] = {}
        suggested = {p.message for p in problems.items[before:]}
        for name, fld in kind.fields.items():
            if name not in body or body[name] is None:
                if fld.required and not any(f"mean {name!r}" in m for m in suggested):
                    problems.add(
                        ConfigError(
                            f"missing required key {name!r} for type {kind.name!r}",
                            key_path=key(path, name),
                            **ctx,
                        )
                    )
                continue
            value = body[name]
            if fld.secret and isinstance(value, str):
                value = Secret(value)  # shown as '***' in any message about it
            with problems.guard():
                out[name] = coerce(value, fld.type, {**ctx, "key_path": key(path, name)})
                if fld.secret and isinstance(out[name], str):
                    out[name] = Secret(out[name])
        for group in kind.one_of:
            present = [k for k in group if k in body and body[k] is not None]
            if len(present) != 1:
                problems.add(
                    ConfigError(
                        f"type {kind.name!r} needs exactly one of {list(group)},"
                        f" got {present or 'none'}",
                        key_path=path,
                        **ctx,
                    )
                )
        return out if len(problems) == before else None

    def format_name(
        self, kind: SourceKind, settings: dict[str, Any], path: str, ctx: dict[str, Any]
    ) -> str | None:
        if not kind.file_based:
            return None
        declared = settings.get("file_type", settings.get("format"))
        if declared is not None:
            fmt = format_for(declared)
            if fmt is None:
                name = "file_type" if "file_type" in settings else "format"
                raise ConfigError(
                    unknown_names("file type", [declared], format_names()),
                    key_path=key(path, name),
                    **ctx,
                )
            return fmt.name
        location = settings.get("file_path") or settings.get("uri") or ""
        fmt = infer_format(str(location))
        if fmt is None:
            raise ConfigError(
                f"no file_type given and none can be told from {location!r}; give one of"
                f" {', '.join(format_names())}",
                key_path=key(path, "file_type"),
                **ctx,
            )
        return fmt.name

    def check_options(
        self,
        kind: SourceKind,
        fmt_name: str | None,
        options: dict[str, Any],
        path: str,
        ctx: dict[str, Any],
    ) -> list[ConfigError]:
        if fmt_name is not None:
            fmt = format_for(fmt_name)
            accepted = fmt.options if fmt is not None else PLAN_OPTIONS
            what = f"format {fmt_name!r}"
        elif kind.options is None or kind.file_based:
            return []  # a file kind whose format is unknown: that is the problem reported
        else:
            accepted = kind.options
            what = f"type {kind.name!r}"
        out = []
        for name in sorted((o for o in options if o not in accepted), key=str):
            hint = did_you_mean(name, accepted) or f"; accepted: {sorted(accepted)}"
            out.append(
                ConfigError(
                    f"unknown option {name!r} for {what}{hint}", key_path=key(path, name), **ctx
                )
            )
        cols = options.get("columns")
        if cols is not None and not (
            isinstance(cols, list) and all(isinstance(c, str) for c in cols)
        ):
            out.append(
                ConfigError(
                    f"options.columns must be a list of column names, got {cols!r}",
                    key_path=key(path, "columns"),
                    **ctx,
                )
            )
        return out

    # ------------------------------------------------------------------------------- schemas

    def schema_ref(
        self, value: Any, resource: str, file: Path, path: str, problems: Problems
    ) -> SchemaSpec | None:
        """The schema a resource or environment names (file) or writes out (inline)."""
        ctx = {"resource": resource, "file": str(file)}
        if isinstance(value, dict) and set(value) == {"file_path"}:
            ref = value["file_path"]
            if not isinstance(ref, str):
                problems.add(
                    ConfigError(f"schema file_path must be text, got {ref!r}", key_path=path, **ctx)
                )
                return None
            schema_file = _resolve_path(ref, file.parent)
            if schema_file is None:
                problems.add(
                    ConfigError(
                        f"schema file {ref!r} not found (looked beside {file.name} and in the"
                        " working directory)",
                        key_path=key(path, "file_path"),
                        **ctx,
                    )
                )
                return None
            return self.schema_file(schema_file, resource, problems)
        if isinstance(value, dict):
            inline = schema_problems(
                value, problems, resource=resource, file=str(file), key_path=path
            )
            # errors named the file; the spec says inline
            return None if inline is None else _inline(inline)
        problems.add(
            ConfigError(
                "schema must be {file_path: ...} or an inline schema, got"
                f" {type(value).__name__}",
                key_path=path,
                **ctx,
            )
        )
        return None

    def schema_file(
        self, path: Path, resource: str | None, problems: Problems
    ) -> SchemaSpec | None:
        try:
            doc, refused = self.read(path, resource)
        except ConfigError as exc:
            problems.add(exc)
            return None
        for problem in refused:
            problems.add(problem)
        ctx = {"resource": resource, "file": str(path)}
        missing: list[MissingVariableError] = []
        doc = resolve_placeholders(doc, self.variables, ctx, missing=missing)
        found = Problems()
        spec = schema_problems(doc, found, resource=resource, file=str(path))
        _add_unexplained(problems, missing, found)
        return None if refused or missing else spec


def _add_unexplained(
    problems: Problems, missing: list[MissingVariableError], found: Problems
) -> None:
    """Add the unset variables, and the problems found that they do not explain.

    A value left as ``[[ VAR ]]`` text may fail its own check (a port that is not a number,
    a rule option that is not a number): that problem is the unset variable's, reported once.
    """
    for m in missing:
        problems.add(m)
    paths = [m.key_path or "" for m in missing]
    for problem in found.items:
        at = problem.key_path or ""
        if not any(p == at or p.startswith(at + ".") for p in paths):
            problems.add(problem)


def _inline(schema: SchemaSpec) -> SchemaSpec:
    import dataclasses

    return dataclasses.replace(schema, file=None)


def _one(items: list[ConfigError], resource: str, env: str) -> ConfigError:
    return items[0] if len(items) == 1 else ConfigProblems(items, f"{resource!r} env {env!r}")


def _resolve_path(ref: str, base: Path) -> Path | None:
    candidate = Path(ref)
    if candidate.is_absolute():
        return candidate if candidate.is_file() else None
    for root in (base, Path.cwd()):
        if (root / candidate).is_file():
            return root / candidate
    return None
