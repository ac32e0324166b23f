"""Load resource and schema YAML into frozen specs, checking everything up front.

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

YAML anchors, aliases and ``<<`` merge keys work; a file whose aliases expand past 10,000 nodes
(an "alias bomb") or refer to the node they are in is refused before it is built.

An environment names a ``credentials`` entry (``credentials: lake_reader``) to use it as its
``options.storage_options`` (keys given there win). Its ``[[ VARS ]]`` resolve when an environment
uses it, so an unset variable only matters to the environments that need it.

Everything that can be wrong is found when the catalog loads, not at first use: YAML syntax,
unknown keys, unknown types and dtypes, unknown rules and metrics, missing ``[[ VARS ]]``,
missing schema files, missing environments. Each problem is a :class:`ConfigError` naming the
file, the resource and the key path; several problems are reported together.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from dynio.engine.dtypes import dtype_names, parse_dtype
from dynio.engine.errors import (
    ConfigError,
    DynioError,
    MissingVariableError,
    UnknownEnvironmentError,
)
from dynio.engine.formats import FORMATS, PLAN_OPTIONS, format_for, infer_format
from dynio.engine.metrics import METRICS, metric_applies
from dynio.engine.placeholders import EnvText, VarSource, resolve_placeholders, variables_from
from dynio.engine.rules import RULES, option_error
from dynio.engine.sources import KINDS, SourceKind, kind_for
from dynio.engine.sources.storage import check_storage_options
from dynio.engine.spec import (
    CatalogSpec,
    ColumnSpec,
    EnvSpec,
    ResourceSpec,
    RuleSpec,
    SchemaSpec,
    SourceSpec,
    freeze,
    match_env,
)

__all__ = ["ConfigProblems", "load_catalog", "load_schema", "parse_schema"]

_YAML_SUFFIXES = (".yaml", ".yml")
_ENV_KEYS = {"type", "options", "schema", "credentials"}
_CREDENTIALS = "credentials"  # the top-level key of named storage-options mappings
# ``options: {allow_template_escape: true}``: {template} values may leave the configured location
_ESCAPE_OPTION = "allow_template_escape"
_SCHEMA_KEYS = {"name", "columns", "validations", "metrics", "description"}
_COLUMN_KEYS = {"type", "validations", "metrics", "cast", "description", "nullable"}
_RULE_KEYS = {"apply", "options", "severity"}
_SEVERITIES = ("error", "warn")


class ConfigProblems(ConfigError):
    """Several configuration problems found in one load; ``problems`` lists each."""

    def __init__(self, problems: list[ConfigError]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problems in the catalog:\n{lines}")


# Nodes a document may reach through its aliases (each ``*alias`` counts the nodes under its
# anchor, nested aliases expanded). Catalogs merging a few ``&defaults`` stay far below it; a
# "billion laughs" file (aliases of aliases, 10 wide and 9 deep) passes it within a few lines.
_ALIAS_BUDGET = 10_000
_ALIAS_RATIO = 100  # aliases may expand to this many times the nodes written out
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _AliasBudgetError(Exception):
    """A document whose aliases expand past :data:`_ALIAS_BUDGET` nodes, or refer to themselves."""

    def __init__(self, problem: str, event: yaml.Event) -> None:
        super().__init__(problem)
        self.problem = problem
        mark = event.start_mark  # the parser always sets it
        self.where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key written twice in one mapping, and alias bombs.

    Plain PyYAML keeps the last of two same-named resources or keys silently; a definition that
    disappears without a word is exactly what a catalog must not allow.

    Aliases are counted while the node graph is composed, before any Python object is built:
    each anchor's expanded size is known when its node is complete (the nodes composed in
    between, aliases counted at their own expanded size), so an alias costs one lookup and no
    walk. A document whose aliases expand past :data:`_ALIAS_BUDGET` nodes, and past
    :data:`_ALIAS_RATIO` times the nodes it writes out, is refused (a bomb expands far beyond
    its text; a large catalog merging a defaults block into each resource does not), and so is
    an alias inside the node it names (a structure that contains itself).
    """

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._composed = 0  # nodes composed so far, an alias counted at its expanded size
        self._aliased = 0  # of which reached through aliases
        self._own = 0  # nodes written out in the document (not reached through an alias)
        self._sizes: dict[Any, int] = {}  # anchor -> expanded size of its (complete) node

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]  # (in the stubs)
        anchor = getattr(event, "anchor", None)
        if isinstance(event, yaml.AliasEvent):
            size = self._sizes.get(anchor)
            if size is None and anchor in self.anchors:
                raise _AliasBudgetError(
                    f"alias *{anchor} is inside the node it refers to (a structure containing"
                    " itself)",
                    event,
                )
            node = super().compose_node(parent, index)  # refuses an undefined alias
            self._aliased += size or 0
            self._composed += size or 0
            # a bomb expands far beyond what is written; a large catalog reusing a defaults
            # block per resource expands in proportion to its own size
            limit = max(_ALIAS_BUDGET, _ALIAS_RATIO * self._own)
            if self._aliased > limit:
                raise _AliasBudgetError(
                    f"its aliases expand to more than {limit:,} nodes (alias *{anchor}"
                    " passes the limit); write the repeated values out or nest fewer aliases",
                    event,
                )
            return node
        before = self._composed
        node = super().compose_node(parent, index)
        self._composed += 1
        self._own += 1
        if anchor is not None:
            self._sizes[anchor] = self._composed - before
        return node

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue  # ``<<: *defaults``: its keys are defaults the mapping's own override
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str | int | float | bool) and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found key {key!r} twice (first at line {seen[key].line + 1})",
                    key_node.start_mark,
                )
            if isinstance(key, str | int | float | bool):
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def _construct_map(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    return loader.construct_mapping(node, deep=True)


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)


def _read_yaml(path: Path, resource: str | None = None) -> Any:
    """Parse one YAML file; ``resource`` names the resource a schema file is read for."""
    ctx = {"file": str(path), "resource": resource}
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError("file not found", **ctx) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror}", **ctx) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"not UTF-8 text: byte 0x{raw[exc.start]:02x} on line {line} does not decode"
            " (save the file as UTF-8)",
            **ctx,
        ) from exc
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except _AliasBudgetError as exc:
        raise ConfigError(f"YAML aliases refused{exc.where}: {exc.problem}", **ctx) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if "'\\t'" in problem:
            problem += " (YAML indents with spaces, not tabs)"
        raise ConfigError(f"invalid YAML{where}: {problem}", **ctx) from exc


def _looks_like_schema(doc: Any) -> bool:
    return isinstance(doc, dict) and "columns" in doc and set(doc) <= _SCHEMA_KEYS


def _yaml_files(path: Path) -> tuple[list[Path], bool]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in _YAML_SUFFIXES and p.is_file())
        return files, True
    if not path.exists():
        raise ConfigError("catalog path does not exist", file=str(path))
    return [path], False


_INT_TEXT = re.compile(r"[+-]?(0|[1-9][0-9]*)")
_FLOAT_TEXT = re.compile(r"[+-]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][+-]?[0-9]+)?")


def _plain(value: Any) -> Any:
    """Turn whole-value environment text into the number or boolean it spells (``"5"`` -> 5).

    Only plain decimal numbers and true/false convert; ``"0123"`` stays text (YAML 1.1 would
    read it as octal 83).
    """
    if isinstance(value, EnvText):
        text = str(value).strip()
        if _INT_TEXT.fullmatch(text):
            return int(text)
        if _FLOAT_TEXT.fullmatch(text):
            return float(text)
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _coerce(value: Any, typ: type, ctx: dict[str, Any]) -> Any:
    if typ is str:
        if isinstance(value, str):
            return str(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
    elif typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
    elif typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no"):
            return value.strip().lower() in ("true", "yes")
    raise ConfigError(f"expected {typ.__name__}, got {type(value).__name__} {value!r}", **ctx)


def _key(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


class _Loader:
    def __init__(self, variables: dict[str, Any], require_env: bool = True) -> None:
        self.variables = variables
        self.require_env = require_env
        self.problems: list[ConfigError] = []
        self.credentials: dict[str, tuple[dict[str, Any], Path]] = {}

    # -------------------------------------------------------------------------- credentials

    def add_credentials(self, block: dict[str, Any], file: Path) -> None:
        """Keep a file's ``credentials:`` entries (resolved when an environment uses one)."""
        for name, entry in block.items():
            ctx = {"file": str(file), "key_path": _key(_CREDENTIALS, name)}
            if not isinstance(entry, dict):
                self.problems.append(
                    ConfigError(
                        f"credentials {name!r} must be a mapping of storage options, got"
                        f" {type(entry).__name__}",
                        **ctx,
                    )
                )
            elif str(name) in self.credentials:
                other = self.credentials[str(name)][1]
                self.problems.append(
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
        if not kind.file_based:
            raise ConfigError(
                f"type {kind.name!r} takes no credentials (they are storage options of files)",
                key_path=path,
                **ctx,
            )
        if not isinstance(ref, str) or ref not in self.credentials:
            known = ", ".join(sorted(self.credentials)) or "none defined"
            raise ConfigError(
                f"unknown credentials {ref!r}; defined: {known}", key_path=path, **ctx
            )
        raw, file = self.credentials[ref]
        missing: list[MissingVariableError] = []
        where = {**ctx, "file": str(file)}
        entry = resolve_placeholders(
            raw, self.variables, where, key_path=_key(_CREDENTIALS, ref), missing=missing
        )
        if missing:
            raise missing[0]
        out: dict[str, Any] = _plain(entry)
        return out

    # ---------------------------------------------------------------------------- resources

    def resource(
        self, name: str, body: Any, file: Path, selected: str | None = None
    ) -> ResourceSpec:
        ctx = {"resource": name, "file": str(file)}
        if not isinstance(body, dict):
            raise ConfigError(
                f"a resource must map environment names to definitions, got {type(body).__name__}",
                key_path=name,
                **ctx,
            )
        base_dir = str(file.parent.resolve())
        schema = None
        if "schema" in body:
            raw_schema = resolve_placeholders(
                body["schema"], self.variables, ctx, key_path=_key(name, "schema")
            )
            schema = self.schema_ref(raw_schema, name, file, _key(name, "schema"))
        env_bodies: dict[str, Any] = {}
        for key, env_body in body.items():
            if key == "schema":
                continue
            try:  # environment names may hold placeholders too
                env_key = str(resolve_placeholders(str(key), self.variables, ctx, key_path=name))
            except MissingVariableError as exc:
                self.problems.append(exc)
                continue
            if env_key in env_bodies:
                self.problems.append(
                    ConfigError(f"environment {env_key!r} defined twice", key_path=name, **ctx)
                )
            env_bodies[env_key] = env_body
        if not env_bodies:
            raise ConfigError("the resource defines no environment", key_path=name, **ctx)
        chosen = match_env(selected, list(env_bodies)) if selected is not None else None
        if selected is not None and chosen is None and self.require_env:
            self.problems.append(
                UnknownEnvironmentError(
                    f"no environment {selected!r}; defined: {sorted(env_bodies)}",
                    resource=name,
                    env=selected,
                    file=str(file),
                    key_path=name,
                )
            )
        envs: dict[str, EnvSpec] = {}
        deferred: dict[str, Exception] = {}
        for raw_env, env_body in env_bodies.items():
            env_ctx = {**ctx, "env": raw_env}
            missing: list[MissingVariableError] = []
            resolved = resolve_placeholders(
                env_body, self.variables, env_ctx, key_path=_key(name, raw_env), missing=missing
            )
            if not missing:
                try:
                    envs[raw_env] = self.env(name, raw_env, resolved, file, base_dir, schema)
                except MissingVariableError as exc:  # in the credentials the environment uses
                    if selected is None or raw_env == chosen:
                        self.problems.append(exc)
                    else:
                        deferred[raw_env] = exc
                except ConfigError as exc:
                    self.problems.append(exc)
                continue
            if selected is None or raw_env == chosen:
                self.problems.extend(missing)
                continue
            # another environment's unset variables must not stop this one from loading; the
            # environment is still checked for everything its unset variables do not explain
            deferred[raw_env] = missing[0] if len(missing) == 1 else ConfigProblems(list(missing))
            explained = {m.key_path for m in missing}
            try:
                self.env(name, raw_env, resolved, file, base_dir, schema)
            except MissingVariableError:
                pass  # the environment is deferred already
            except ConfigError as exc:
                if exc.key_path not in explained:
                    self.problems.append(exc)
        return ResourceSpec(
            name=name, file=str(file), envs=freeze(envs), schema=schema, deferred=freeze(deferred)
        )

    def env(
        self,
        resource: str,
        env: str,
        body: Any,
        file: Path,
        base_dir: str,
        schema: SchemaSpec | None,
    ) -> EnvSpec:
        path = _key(resource, env)
        ctx = {"resource": resource, "env": env, "file": str(file)}
        if not isinstance(body, dict):
            raise ConfigError(
                f"an environment must be a mapping with a 'type', got {type(body).__name__}",
                key_path=path,
                **ctx,
            )
        if "type" not in body:
            raise ConfigError(
                "missing 'type' (one of: " + ", ".join(KINDS) + ")",
                key_path=_key(path, "type"),
                **ctx,
            )
        type_name = body["type"]
        kind = kind_for(type_name) if isinstance(type_name, str) else None
        if kind is None:
            raise ConfigError(
                f"unknown source type {type_name!r}; known: {', '.join(KINDS)}",
                key_path=_key(path, "type"),
                **ctx,
            )
        sections = [s for s in kind.sections if s in body]
        unknown = sorted(set(body) - _ENV_KEYS - set(kind.sections))
        if unknown:
            raise ConfigError(
                f"unknown key(s) {unknown}; an environment of type {kind.name!r} takes"
                f" 'type', {kind.sections[0]!r}, 'options' and 'schema'",
                key_path=_key(path, unknown[0]),
                **ctx,
            )
        if len(sections) != 1:
            raise ConfigError(
                f"type {kind.name!r} needs one {kind.sections[0]!r} section with"
                f" {', '.join(kind.fields)}",
                key_path=_key(path, kind.sections[0]),
                **ctx,
            )
        section_path = _key(path, sections[0])
        settings = self.section(kind, body[sections[0]], section_path, ctx)
        fmt_name = self.format_name(kind, settings, section_path, ctx)
        options = _plain(body.get("options") or {})
        if not isinstance(options, dict):
            raise ConfigError(
                f"options must be a mapping, got {type(options).__name__}",
                key_path=_key(path, "options"),
                **ctx,
            )
        escape = options.pop(_ESCAPE_OPTION, False)  # dynio's own: never handed to a reader
        escape = _coerce(escape, bool, {**ctx, "key_path": _key(path, f"options.{_ESCAPE_OPTION}")})
        self.check_options(kind, fmt_name, options, _key(path, "options"), ctx)
        if _CREDENTIALS in body:
            named = self.storage_options(body[_CREDENTIALS], kind, _key(path, _CREDENTIALS), ctx)
            options["storage_options"] = {**named, **(options.get("storage_options") or {})}
        if "storage_options" in options:
            where = str(settings.get("uri") or kind.name)
            problem = check_storage_options(options["storage_options"], where)
            if problem is not None:
                raise ConfigError(problem, key_path=_key(path, "options.storage_options"), **ctx)
        if "schema" in body:
            schema = self.schema_ref(body["schema"], resource, file, _key(path, "schema"))
        source = SourceSpec(
            kind=kind.name,
            settings=freeze(settings),
            options=freeze(options),
            format=fmt_name,
            base_dir=base_dir,
            allow_template_escape=escape,
        )
        if kind.check is not None:
            module, _, func = kind.check.partition(":")
            check = getattr(importlib.import_module(module), func)
            try:
                check(source, schema.column_names if schema else None, ctx)
            except ConfigError as exc:
                raise ConfigError(
                    exc.message, key_path=_key(path, exc.key_path or "options"), **ctx
                ) from exc
        return EnvSpec(name=env, source=source, schema=schema)

    def section(
        self, kind: SourceKind, body: Any, path: str, ctx: dict[str, Any]
    ) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ConfigError(
                f"the {kind.name!r} section must be a mapping, got {type(body).__name__}",
                key_path=path,
                **ctx,
            )
        unknown = sorted(set(body) - set(kind.fields))
        if unknown:
            raise ConfigError(
                f"unknown key(s) {unknown} in {kind.name!r}; accepted: {sorted(kind.fields)}",
                key_path=_key(path, unknown[0]),
                **ctx,
            )
        out: dict[str, Any] = {}
        for key, fld in kind.fields.items():
            if key not in body or body[key] is None:
                if fld.required:
                    raise ConfigError(
                        f"missing required key {key!r} for type {kind.name!r}",
                        key_path=_key(path, key),
                        **ctx,
                    )
                continue
            out[key] = _coerce(body[key], fld.type, {**ctx, "key_path": _key(path, key)})
        for group in kind.one_of:
            present = [k for k in group if k in out]
            if len(present) != 1:
                raise ConfigError(
                    f"type {kind.name!r} needs exactly one of {list(group)},"
                    f" got {present or 'none'}",
                    key_path=path,
                    **ctx,
                )
        return out

    def format_name(
        self, kind: SourceKind, settings: dict[str, Any], path: str, ctx: dict[str, Any]
    ) -> str | None:
        if not kind.file_based:
            return None
        declared = settings.get("file_type", settings.get("format"))
        if declared is not None:
            fmt = format_for(declared)
            if fmt is None:
                key = "file_type" if "file_type" in settings else "format"
                raise ConfigError(
                    f"unknown file type {declared!r}; known: {', '.join(FORMATS)}",
                    key_path=_key(path, key),
                    **ctx,
                )
            return fmt.name
        location = settings.get("file_path") or settings.get("uri") or ""
        fmt = infer_format(str(location))
        if fmt is None:
            raise ConfigError(
                f"no file_type given and none can be told from {location!r}",
                key_path=_key(path, "file_type"),
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
    ) -> None:
        if fmt_name is not None:
            fmt = format_for(fmt_name)
            accepted = fmt.options if fmt is not None else PLAN_OPTIONS
            what = f"format {fmt_name!r}"
        elif kind.options is None:
            return
        else:
            accepted = kind.options
            what = f"type {kind.name!r}"
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            raise ConfigError(
                f"unknown option(s) {unknown} for {what}; accepted: {sorted(accepted)}",
                key_path=_key(path, unknown[0]),
                **ctx,
            )
        cols = options.get("columns")
        if cols is not None and not (
            isinstance(cols, list) and all(isinstance(c, str) for c in cols)
        ):
            raise ConfigError(
                f"options.columns must be a list of column names, got {cols!r}",
                key_path=_key(path, "columns"),
                **ctx,
            )

    # ------------------------------------------------------------------------------- schemas

    def schema_ref(self, value: Any, resource: str, file: Path, path: str) -> SchemaSpec:
        ctx = {"resource": resource, "file": str(file)}
        if isinstance(value, dict) and set(value) == {"file_path"}:
            ref = value["file_path"]
            if not isinstance(ref, str):
                raise ConfigError(
                    f"schema file_path must be text, got {ref!r}", key_path=path, **ctx
                )
            schema_file = _resolve_path(ref, file.parent)
            if schema_file is None:
                raise ConfigError(
                    f"schema file {ref!r} not found (looked beside {file.name} and in the"
                    " working directory)",
                    key_path=_key(path, "file_path"),
                    **ctx,
                )
            return self.schema_file(schema_file, resource)
        if isinstance(value, dict):
            inline = parse_schema(value, resource=resource, file=str(file), key_path=path)
            return dataclasses.replace(inline, file=None)  # errors named the file; specs say inline
        raise ConfigError(
            f"schema must be {{file_path: ...}} or an inline schema, got {type(value).__name__}",
            key_path=path,
            **ctx,
        )

    def schema_file(self, path: Path, resource: str) -> SchemaSpec:
        doc = _read_yaml(path, resource)
        ctx = {"resource": resource, "file": str(path)}
        doc = resolve_placeholders(doc, self.variables, ctx)
        return parse_schema(doc, resource=resource, file=str(path))


def _resolve_path(ref: str, base: Path) -> Path | None:
    candidate = Path(ref)
    if candidate.is_absolute():
        return candidate if candidate.is_file() else None
    for root in (base, Path.cwd()):
        if (root / candidate).is_file():
            return root / candidate
    return None


# a key quoted back in an error looks like a name; anything else may be a line of some other
# file (a password hash, a token) and is only counted
_KEY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_. -]{0,63}")


def parse_schema(
    doc: Any, *, resource: str | None = None, file: str | None = None, key_path: str = ""
) -> SchemaSpec:
    """Parse a schema mapping (``name``, ``columns``, optional frame-level ``validations``).

    Raises:
        ConfigError: Unknown keys, dtypes, rules, metrics or bad rule options; names the key path.
    """
    ctx = {"resource": resource, "file": file}
    doc = _plain(doc)
    if not isinstance(doc, dict):
        raise ConfigError(
            f"a schema must be a mapping with 'columns', got {type(doc).__name__}",
            key_path=key_path or None,
            **ctx,
        )
    unknown = sorted(set(doc) - _SCHEMA_KEYS, key=str)
    if unknown and not set(doc) & _SCHEMA_KEYS:
        # not a schema at all (a file of passwords?): say so without echoing its lines
        raise ConfigError(
            f"the file is not a schema: none of its {len(doc)} top-level key(s) is one of"
            f" {sorted(_SCHEMA_KEYS)}",
            key_path=key_path or None,
            **ctx,
        )
    if unknown:
        named = [str(k) for k in unknown if _KEY_NAME.fullmatch(str(k))]
        others = len(unknown) - len(named)
        told = f"{named}" + (f" and {others} key(s) that are not names" if others else "")
        raise ConfigError(
            f"unknown schema key(s) {told}; accepted: {sorted(_SCHEMA_KEYS)}",
            key_path=_key(key_path, named[0]) if named else key_path or None,
            **ctx,
        )
    columns_doc = doc.get("columns")
    if not isinstance(columns_doc, dict) or not columns_doc:
        raise ConfigError(
            "a schema needs 'columns': a mapping of column name to {type: ...}",
            key_path=_key(key_path, "columns"),
            **ctx,
        )
    columns = tuple(
        _parse_column(str(name), body, ctx, _key(_key(key_path, "columns"), name))
        for name, body in columns_doc.items()
    )
    names = {c.name for c in columns}
    frame_rules = _parse_rules(
        doc.get("validations") or {}, None, ctx, _key(key_path, "validations"), frame=True
    )
    for rule in frame_rules:
        missing = [c for c in rule.options.get("columns", ()) if c not in names]
        if missing:
            raise ConfigError(
                f"rule {rule.name!r} names column(s) {missing} the schema does not have",
                key_path=_key(_key(key_path, "validations"), rule.name),
                **ctx,
            )
    name = doc.get("name")
    return SchemaSpec(
        name=str(name) if name is not None else resource,
        columns=columns,
        rules=frame_rules,
        file=file,
    )


def load_schema(path: str | os.PathLike[str], *, variables: VarSource = None) -> SchemaSpec:
    """Load one schema YAML file.

    Raises:
        ConfigError: The file is missing or invalid.
    """
    loader = _Loader(variables_from(variables))
    return loader.schema_file(Path(path), resource=None)  # type: ignore[arg-type]


def _parse_column(name: str, body: Any, ctx: dict[str, Any], path: str) -> ColumnSpec:
    if isinstance(body, str):  # shorthand: ``col: int64``
        body = {"type": body}
    if not isinstance(body, dict):
        raise ConfigError(
            f"column {name!r} must be a mapping with 'type', got {type(body).__name__}",
            key_path=path,
            column=name,
            **ctx,
        )
    unknown = sorted(set(body) - _COLUMN_KEYS)
    if unknown:
        raise ConfigError(
            f"unknown key(s) {unknown} in column {name!r}; accepted: {sorted(_COLUMN_KEYS)}",
            key_path=_key(path, unknown[0]),
            column=name,
            **ctx,
        )
    spelling = body.get("type")
    dtype = parse_dtype(str(spelling)) if spelling is not None else None
    if dtype is None:
        known = ", ".join(dtype_names())
        raise ConfigError(
            f"unknown or missing type {spelling!r} for column {name!r}; known: {known}",
            key_path=_key(path, "type"),
            column=name,
            **ctx,
        )
    cast = body.get("cast", "safe")
    if cast not in ("safe", "lossy"):
        raise ConfigError(
            f"cast must be 'safe' or 'lossy', got {cast!r}",
            key_path=_key(path, "cast"),
            column=name,
            **ctx,
        )
    rules = _parse_rules(body.get("validations") or {}, name, ctx, _key(path, "validations"))
    nullable = body.get("nullable", True)
    if not isinstance(nullable, bool):
        raise ConfigError(
            f"nullable must be true or false, got {nullable!r}",
            key_path=_key(path, "nullable"),
            column=name,
            **ctx,
        )
    if not nullable and not any(r.name == "has_no_null_values" and r.apply for r in rules):
        # ``nullable: false`` is the has_no_null_values rule, spelled the schema way
        rules = (*rules, RuleSpec(name="has_no_null_values", column=name))
    metrics_doc = body.get("metrics") or []
    if isinstance(metrics_doc, str):
        metrics_doc = [metrics_doc]
    if not isinstance(metrics_doc, list):
        raise ConfigError(
            f"metrics must be a list of metric names, got {metrics_doc!r}",
            key_path=_key(path, "metrics"),
            column=name,
            **ctx,
        )
    metrics: list[str] = []
    for i, m in enumerate(metrics_doc):
        mdef = METRICS.get(str(m))
        if mdef is None:
            raise ConfigError(
                f"unknown metric {m!r}; known: {', '.join(METRICS)}",
                key_path=f"{path}.metrics[{i}]",
                column=name,
                **ctx,
            )
        if not metric_applies(mdef, dtype.polars):
            raise ConfigError(
                f"metric {m!r} needs a numeric column, but {name!r} is {dtype.spelling}",
                key_path=f"{path}.metrics[{i}]",
                column=name,
                **ctx,
            )
        metrics.append(mdef.name)
    return ColumnSpec(
        name=name,
        dtype=dtype,
        rules=rules,
        metrics=tuple(metrics),
        lossy_cast=cast == "lossy",
    )


def _parse_rules(
    doc: Any, column: str | None, ctx: dict[str, Any], path: str, frame: bool = False
) -> tuple[RuleSpec, ...]:
    if not isinstance(doc, dict):
        raise ConfigError(
            f"validations must map rule names to {{apply, options}}, got {type(doc).__name__}",
            key_path=path,
            column=column,
            **ctx,
        )
    rules = []
    for rule_name, body in doc.items():
        rpath = _key(path, rule_name)
        rctx = {**ctx, "key_path": rpath, "column": column}
        rdef = RULES.get(str(rule_name))
        if rdef is None:
            raise ConfigError(f"unknown rule {rule_name!r}; known: {', '.join(RULES)}", **rctx)
        if rdef.frame_level != frame:
            where = "the schema's top-level 'validations'" if rdef.frame_level else "a column"
            raise ConfigError(f"rule {rule_name!r} belongs under {where}", **rctx)
        body = {} if body is None else body
        if not isinstance(body, dict):
            raise ConfigError(f"rule {rule_name!r} must be a mapping {{apply, options}}", **rctx)
        unknown = sorted(set(body) - _RULE_KEYS)
        if unknown:
            raise ConfigError(
                f"unknown key(s) {unknown} in rule {rule_name!r}; accepted: {sorted(_RULE_KEYS)}",
                **{**rctx, "key_path": _key(rpath, unknown[0])},
            )
        apply = _coerce(body.get("apply", True), bool, {**rctx, "key_path": _key(rpath, "apply")})
        options = body.get("options") or {}
        if not isinstance(options, dict):
            raise ConfigError(f"options of rule {rule_name!r} must be a mapping", **rctx)
        problem = option_error(rdef, options)
        if problem is not None:
            raise ConfigError(problem, **{**rctx, "key_path": _key(rpath, "options")})
        severity = body.get("severity", "error")
        if severity not in _SEVERITIES:
            raise ConfigError(
                f"severity must be one of {list(_SEVERITIES)}, got {severity!r}",
                **{**rctx, "key_path": _key(rpath, "severity")},
            )
        rules.append(
            RuleSpec(
                name=rdef.name,
                column=column,
                apply=apply,
                options=freeze(options),
                severity=severity,
            )
        )
    return tuple(rules)


def _is_credentials(value: Any) -> bool:
    """Whether a top-level ``credentials`` value is the credentials block, not a resource.

    A resource maps environment names to definitions that have a ``type``; the credentials
    block maps names to storage options, which never do.
    """
    return isinstance(value, dict) and not any(
        isinstance(v, dict) and "type" in v for v in value.values()
    )


def load_catalog(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    variables: VarSource = None,
    env: str | None = None,
    require_env: bool = True,
) -> CatalogSpec:
    """Load every resource from YAML files or directories.

    A directory is searched recursively for ``*.yaml``/``*.yml``; files holding a schema
    (top-level ``columns``) are skipped there, since resources reference them.

    Args:
        paths: A file, a directory, or several of them.
        variables: Values for ``[[ VAR ]]`` placeholders (a mapping or a module); process
            environment variables are consulted after them.
        env: The environment the catalog is for: its unset variables are errors, other
            environments' are deferred to their first use.
        require_env: Every resource must define ``env`` (else a resource without it loads and
            raises :class:`UnknownEnvironmentError` when used, as dynamicio does).

    Raises:
        ConfigError: The first problem, or :class:`ConfigProblems` listing all when several.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    loader = _Loader(variables_from(variables), require_env=require_env)
    resources: dict[str, ResourceSpec] = {}
    seen_files: list[str] = []
    docs: list[tuple[Path, dict[Any, Any]]] = []
    for root in paths:
        try:
            files, is_dir = _yaml_files(Path(root))
        except ConfigError as exc:
            loader.problems.append(exc)
            continue
        if is_dir and not files:
            loader.problems.append(ConfigError("no YAML files in directory", file=str(root)))
        for file in files:
            seen_files.append(str(file))
            try:
                doc = _read_yaml(file)
            except ConfigError as exc:
                loader.problems.append(exc)
                continue
            if doc is None or (is_dir and _looks_like_schema(doc)):
                continue
            if not isinstance(doc, dict):
                loader.problems.append(
                    ConfigError(
                        f"a resource file must map resource names to definitions,"
                        f" got {type(doc).__name__}",
                        file=str(file),
                    )
                )
                continue
            docs.append((file, doc))
            if _is_credentials(doc.get(_CREDENTIALS)):
                loader.add_credentials(doc[_CREDENTIALS], file)
    # credentials may be defined in any file of the catalog, before or after their users
    for file, doc in docs:
        for raw_name, body in doc.items():
            if raw_name == _CREDENTIALS and _is_credentials(body):
                continue
            try:
                name = str(
                    resolve_placeholders(str(raw_name), loader.variables, {"file": str(file)})
                )
                if name in resources:
                    raise ConfigError(
                        f"resource defined twice (also in {resources[name].file})",
                        resource=name,
                        file=str(file),
                    )
                resources[name] = loader.resource(name, body, file, env)
            except ConfigError as exc:
                loader.problems.append(exc)
    if loader.problems:
        if len(loader.problems) == 1:
            raise loader.problems[0]
        raise ConfigProblems(loader.problems)
    return CatalogSpec(resources=freeze(resources), files=tuple(seen_files))


def check_catalog(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    variables: VarSource = None,
) -> list[DynioError]:
    """Every problem found when loading, as a list (empty when the catalog is sound)."""
    try:
        load_catalog(paths, variables=variables)
    except ConfigProblems as exc:
        return list(exc.problems)
    except DynioError as exc:
        return [exc]
    return []
