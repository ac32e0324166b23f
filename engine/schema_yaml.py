"""Parse schema mappings (``name``, ``columns``, frame-level ``validations``) into specs.

Every problem of a schema is collected, not only the first: each column, rule and metric is
checked on its own, and a mistyped name gets a "did you mean" (``flaot64`` -> ``float64``).
"""

from __future__ import annotations

import re
from typing import Any

from dynio.engine.dtypes import dtype_names, parse_dtype
from dynio.engine.errors import ConfigError, ConfigProblems
from dynio.engine.metrics import METRICS, metric_applies
from dynio.engine.placeholders import EnvText
from dynio.engine.problems import Problems, did_you_mean, unknown_names
from dynio.engine.rules import RULES, option_error
from dynio.engine.spec import ColumnSpec, RuleSpec, SchemaSpec, freeze

__all__ = ["SCHEMA_KEYS", "coerce", "key", "parse_schema", "plain", "schema_problems"]

SCHEMA_KEYS = frozenset({"name", "columns", "validations", "metrics", "description"})
COLUMN_KEYS = frozenset({"type", "validations", "metrics", "cast", "description", "nullable"})
RULE_KEYS = frozenset({"apply", "options", "severity"})
SEVERITIES = ("error", "warn")
CASTS = ("safe", "lossy")

_INT_TEXT = re.compile(r"[+-]?(0|[1-9][0-9]*)")
_FLOAT_TEXT = re.compile(r"[+-]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][+-]?[0-9]+)?")


def key(path: str, name: Any) -> str:
    """``path.name`` (just ``name`` at the top)."""
    return f"{path}.{name}" if path else str(name)


def plain(value: Any) -> Any:
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
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def coerce(value: Any, typ: type, ctx: dict[str, Any]) -> Any:
    """``value`` as ``typ`` (text from a variable converts), else a :class:`ConfigError`."""
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
    elif typ is dict:
        if isinstance(value, dict):
            return value
    elif typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no"):
            return value.strip().lower() in ("true", "yes")
    raise ConfigError(f"expected {typ.__name__}, got {_shown(value)}", **ctx)


def _shown(value: Any) -> str:
    """A value as an error may quote it: never a secret's text, nor a variable's (it may hold
    one), nor an internal type's name."""
    from dynio.engine.placeholders import EnvText
    from dynio.engine.secrets import Secret

    if isinstance(value, Secret):
        return "a secret value (not shown)"
    if isinstance(value, EnvText):
        return "text from an environment variable (not shown)"
    return f"{type(value).__name__} {value!r}"


def unknown_keys(
    found: Any, accepted: frozenset[str], what: str, path: str, ctx: dict[str, Any]
) -> list[ConfigError]:
    """One problem per key of ``found`` not in ``accepted``, each with a suggestion."""
    out = []
    for name in sorted((k for k in found if k not in accepted), key=str):
        hint = did_you_mean(name, accepted) or f"; accepted: {sorted(accepted)}"
        out.append(
            ConfigError(f"unknown key {name!r} in {what}{hint}", key_path=key(path, name), **ctx)
        )
    return out


def parse_schema(
    doc: Any, *, resource: str | None = None, file: str | None = None, key_path: str = ""
) -> SchemaSpec:
    """Parse a schema mapping (``name``, ``columns``, optional frame-level ``validations``).

    Raises:
        ConfigError: Unknown keys, dtypes, rules, metrics or bad rule options, naming the key
            path; :class:`~dynio.engine.errors.ConfigProblems` when there are several.
    """
    problems = Problems()
    spec = schema_problems(doc, problems, resource=resource, file=file, key_path=key_path)
    problems.raise_all(f"the schema of {resource!r}" if resource else "the schema")
    assert spec is not None  # no problems means a spec
    return spec


_KEY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_. -]{0,63}")


def _top_level_keys(
    doc: dict[Any, Any], problems: Problems, key_path: str, ctx: dict[str, Any]
) -> None:
    """Unknown top-level keys of a schema. A key quoted back in an error looks like a name;
    anything else may be a line of some other file (a password hash, a token): only counted."""
    named = {k: v for k, v in doc.items() if _KEY_NAME.fullmatch(str(k))}
    for problem in unknown_keys(named, SCHEMA_KEYS, "the schema", key_path, ctx):
        problems.add(problem)
    others = len(set(doc) - set(named))
    if others:
        problems.add(
            ConfigError(
                f"{others} top-level key(s) of the schema are not names (not shown); accepted:"
                f" {sorted(SCHEMA_KEYS)}",
                key_path=key_path or None,
                **ctx,
            )
        )


def schema_problems(
    doc: Any,
    problems: Problems,
    *,
    resource: str | None = None,
    file: str | None = None,
    key_path: str = "",
) -> SchemaSpec | None:
    """Parse a schema, adding every problem to ``problems``; ``None`` when there were any."""
    ctx = {"resource": resource, "file": file}
    before = len(problems)
    doc = plain(doc)
    if not isinstance(doc, dict):
        problems.add(
            ConfigError(
                f"a schema must be a mapping with 'columns', got {type(doc).__name__}",
                key_path=key_path or None,
                **ctx,
            )
        )
        return None
    if doc and not set(doc) & SCHEMA_KEYS:
        # not a schema at all (a file of passwords?): say so without echoing its lines
        problems.add(
            ConfigError(
                f"the file is not a schema: none of its {len(doc)} top-level key(s) is one of"
                f" {sorted(SCHEMA_KEYS)}",
                key_path=key_path or None,
                **ctx,
            )
        )
        return None
    _top_level_keys(doc, problems, key_path, ctx)
    columns_doc = doc.get("columns")
    if not isinstance(columns_doc, dict) or not columns_doc:
        problems.add(
            ConfigError(
                "a schema needs 'columns': a mapping of column name to {type: ...}",
                key_path=key(key_path, "columns"),
                **ctx,
            )
        )
        columns_doc = {}
    columns = []
    for name, body in columns_doc.items():
        column = _parse_column(str(name), body, ctx, key(key(key_path, "columns"), name), problems)
        if column is not None:
            columns.append(column)
    names = {str(n) for n in columns_doc}
    vpath = key(key_path, "validations")
    frame_rules = _parse_rules(doc.get("validations") or {}, None, ctx, vpath, problems, True)
    for rule in frame_rules:
        missing = [c for c in rule.options.get("columns", ()) if c not in names]
        if missing:
            problems.add(
                ConfigError(
                    f"rule {rule.name!r} names column(s) {missing} the schema does not have"
                    f"{did_you_mean(missing[0], names)}",
                    key_path=key(vpath, rule.name),
                    **ctx,
                )
            )
    if len(problems) > before:
        return None
    name = doc.get("name")
    return SchemaSpec(
        name=str(name) if name is not None else resource,
        columns=tuple(columns),
        rules=frame_rules,
        file=file,
    )


def _parse_column(
    name: str, body: Any, ctx: dict[str, Any], path: str, problems: Problems
) -> ColumnSpec | None:
    cctx = {**ctx, "column": name}
    if isinstance(body, str):  # shorthand: ``col: int64``
        body = {"type": body}
    if not isinstance(body, dict):
        problems.add(
            ConfigError(
                f"column {name!r} must be a mapping with 'type', got {type(body).__name__}",
                key_path=path,
                **cctx,
            )
        )
        return None
    before = len(problems)
    for problem in unknown_keys(body, COLUMN_KEYS, f"column {name!r}", path, cctx):
        problems.add(problem)
    spelling = body.get("type")
    dtype = parse_dtype(str(spelling)) if spelling is not None else None
    if dtype is None:
        hint = did_you_mean(spelling, dtype_names()) if spelling is not None else ""
        what = f"unknown type {spelling!r}" if spelling is not None else "missing 'type'"
        problems.add(
            ConfigError(
                f"{what} for column {name!r}{hint} (the README's Schemas section lists every"
                " spelling; `dynio catalog json-schema` too)",
                key_path=key(path, "type"),
                **cctx,
            )
        )
    cast = body.get("cast", "safe")
    if cast not in CASTS:
        problems.add(
            ConfigError(
                f"cast must be 'safe' or 'lossy', got {cast!r}{did_you_mean(cast, CASTS)}",
                key_path=key(path, "cast"),
                **cctx,
            )
        )
    rules = _parse_rules(
        body.get("validations") or {}, name, ctx, key(path, "validations"), problems
    )
    nullable = body.get("nullable", True)
    if not isinstance(nullable, bool):
        problems.add(
            ConfigError(
                f"nullable must be true or false, got {nullable!r}",
                key_path=key(path, "nullable"),
                **cctx,
            )
        )
    elif not nullable and not any(r.name == "has_no_null_values" and r.apply for r in rules):
        # ``nullable: false`` is the has_no_null_values rule, spelled the schema way
        rules = (*rules, RuleSpec(name="has_no_null_values", column=name))
    metrics = _parse_metrics(body.get("metrics") or [], name, dtype, cctx, path, problems)
    if len(problems) > before or dtype is None:
        return None
    return ColumnSpec(
        name=name, dtype=dtype, rules=rules, metrics=metrics, lossy_cast=cast == "lossy"
    )


def _parse_metrics(
    doc: Any, column: str, dtype: Any, ctx: dict[str, Any], path: str, problems: Problems
) -> tuple[str, ...]:
    if isinstance(doc, str):
        doc = [doc]
    if not isinstance(doc, list):
        problems.add(
            ConfigError(
                f"metrics must be a list of metric names, got {doc!r}",
                key_path=key(path, "metrics"),
                **ctx,
            )
        )
        return ()
    metrics: list[str] = []
    for i, m in enumerate(doc):
        mctx = {**ctx, "key_path": f"{path}.metrics[{i}]"}
        mdef = METRICS.get(str(m))
        if mdef is None:
            problems.add(ConfigError(unknown_names("metric", [m], METRICS), **mctx))
        elif dtype is not None and not metric_applies(mdef, dtype.polars):
            problems.add(
                ConfigError(
                    f"metric {m!r} needs a numeric column, but {column!r} is {dtype.spelling}",
                    **mctx,
                )
            )
        else:
            metrics.append(mdef.name)
    return tuple(metrics)


def _parse_rules(
    doc: Any,
    column: str | None,
    ctx: dict[str, Any],
    path: str,
    problems: Problems,
    frame: bool = False,
) -> tuple[RuleSpec, ...]:
    if not isinstance(doc, dict):
        problems.add(
            ConfigError(
                f"validations must map rule names to {{apply, options}}, got {type(doc).__name__}",
                key_path=path,
                column=column,
                **ctx,
            )
        )
        return ()
    rules = []
    for rule_name, body in doc.items():
        with problems.guard():
            rules.append(
                _parse_rule(str(rule_name), body, column, ctx, key(path, rule_name), frame)
            )
    return tuple(rules)


def _parse_rule(
    rule_name: str, body: Any, column: str | None, ctx: dict[str, Any], rpath: str, frame: bool
) -> RuleSpec:
    rctx = {**ctx, "key_path": rpath, "column": column}
    rdef = RULES.get(rule_name)
    if rdef is None:
        raise ConfigError(unknown_names("rule", [rule_name], RULES), **rctx)
    if rdef.frame_level != frame:
        where = "the schema's top-level 'validations'" if rdef.frame_level else "a column"
        raise ConfigError(f"rule {rule_name!r} belongs under {where}", **rctx)
    body = {} if body is None else body
    if not isinstance(body, dict):
        raise ConfigError(f"rule {rule_name!r} must be a mapping {{apply, options}}", **rctx)
    problems = unknown_keys(
        body, RULE_KEYS, f"rule {rule_name!r}", rpath, {**ctx, "column": column}
    )
    apply = coerce(body.get("apply", True), bool, {**rctx, "key_path": key(rpath, "apply")})
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise ConfigError(f"options of rule {rule_name!r} must be a mapping", **rctx)
    for name in options:
        if name not in rdef.options:
            hint = did_you_mean(name, rdef.options) or f"; accepted: {sorted(rdef.options)}"
            problems.append(
                ConfigError(
                    f"unknown option {name!r} for rule {rule_name!r}{hint}",
                    **{**rctx, "key_path": key(key(rpath, "options"), name)},
                )
            )
    problem = None if problems else option_error(rdef, options)
    if problem is not None:
        problems.append(ConfigError(problem, **{**rctx, "key_path": key(rpath, "options")}))
    severity = body.get("severity", "error")
    if severity not in SEVERITIES:
        problems.append(
            ConfigError(
                f"severity must be one of {list(SEVERITIES)}, got {severity!r}"
                f"{did_you_mean(severity, SEVERITIES)}",
                **{**rctx, "key_path": key(rpath, "severity")},
            )
        )
    if problems:
        raise problems[0] if len(problems) == 1 else ConfigProblems(problems)
    return RuleSpec(
        name=rdef.name, column=column, apply=apply, options=freeze(options), severity=severity
    )
