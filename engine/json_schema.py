"""JSON Schemas of resource YAML and schema YAML, generated from the registries.

Kinds and their section fields, formats and their options, rules and their options, metrics and
dtype spellings all come from the tables the loader checks against, so the schemas cannot drift
from what loads. ``dynio catalog json-schema`` prints them; editors with the YAML language
server complete and check a catalog that names one on its first line::

    # yaml-language-server: $schema=https://.../resource.schema.json

The schemas hold what is registered when they are made: ``dynio catalog json-schema`` registers
the facade's formats (``hdf``) first; rules registered with :func:`dynio.register_rule` before
the call are included.

A value may always be a ``[[ VAR ]]`` placeholder (text), so fields that take numbers or
booleans accept text too; the loader checks the value once the variable is set.
"""

from __future__ import annotations

from typing import Any

from dynio.engine.dtypes import dtype_names
from dynio.engine.io.formats import FORMATS, NO_EFFECT, PLAN_OPTIONS, format_names
from dynio.engine.metrics import METRICS
from dynio.engine.rules import RULES, RuleDef
from dynio.engine.schema_yaml import CASTS, SEVERITIES
from dynio.engine.sources import SourceKind, all_kinds

__all__ = ["resource_schema", "schema_file_schema"]

DRAFT = "https://json-schema.org/draft/2020-12/schema"
_TYPES = {int: "integer", float: "number", bool: "boolean", str: "string", list: "array"}
_TYPES.update({dict: "object", tuple: "array"})


def _json_type(types: tuple[type, ...]) -> dict[str, Any]:
    if object in types:
        return {}
    names = sorted({_TYPES.get(t, "string") for t in types} | {"string"})  # or [[ VAR ]]
    return {"type": names}


def _rule(rule: RuleDef) -> dict[str, Any]:
    options = {name: _json_type(opt.types) for name, opt in rule.options.items()}
    body: dict[str, Any] = {
        "type": ["object", "null"],
        "additionalProperties": False,
        "properties": {
            "apply": {"type": ["boolean", "string"]},
            "severity": {"enum": list(SEVERITIES)},
            "options": {
                "type": ["object", "null"],
                "additionalProperties": False,
                "properties": options,
            },
        },
    }
    if rule.description:
        body["description"] = rule.description
    return body


def _rules(frame: bool) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {n: _rule(r) for n, r in RULES.items() if r.frame_level == frame},
    }


def _dtype() -> dict[str, Any]:
    exact = [n for n in dtype_names() if "<" not in n]
    return {
        "anyOf": [
            {"enum": exact},
            {"type": "string", "pattern": r"^\s*(datetime64\[|Datetime\()"},
        ],
        "description": "a pandas dtype string or a Polars type name",
    }


def schema_file_schema() -> dict[str, Any]:
    """The JSON Schema of a schema file (``name``, ``columns``, frame-level ``validations``)."""
    return {"$schema": DRAFT, "$id": "dynio-schema", **_schema_body()}


def _schema_body() -> dict[str, Any]:
    column = {
        "type": "object",
        "additionalProperties": False,
        "required": ["type"],
        "properties": {
            "type": _dtype(),
            "description": {"type": "string"},
            "cast": {"enum": list(CASTS)},
            "nullable": {"type": "boolean"},
            "validations": _rules(frame=False),
            "metrics": {
                "anyOf": [
                    {"type": "array", "items": {"enum": list(METRICS)}},
                    {"enum": list(METRICS)},
                ]
            },
        },
    }
    return {
        "title": "dynio schema",
        "type": "object",
        "additionalProperties": False,
        "required": ["columns"],
        "properties": {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "metrics": {},
            "columns": {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": {"anyOf": [column, _dtype()]},
            },
            "validations": _rules(frame=True),
        },
    }


def _options(kind: SourceKind) -> dict[str, Any]:
    if kind.file_based:
        names = set(PLAN_OPTIONS) | set(NO_EFFECT) | {"storage_options"}
        for fmt in FORMATS.values():
            names |= fmt.options
    elif kind.options is None:
        return {"type": "object"}
    else:
        names = set(kind.options)
    props: dict[str, Any] = {name: {} for name in sorted(names)}
    props["allow_template_escape"] = {"type": ["boolean", "string"]}
    return {"type": "object", "additionalProperties": False, "properties": props}


def _kind(kind: SourceKind) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, fld in kind.fields.items():
        fields[name] = _json_type((fld.type,))
        if name in ("file_type", "format"):
            fields[name] = {"enum": format_names()}
    section = {
        "type": "object",
        "additionalProperties": False,
        "properties": fields,
        "required": [n for n, f in kind.fields.items() if f.required],
    }
    props: dict[str, Any] = {
        "type": {"const": kind.name},
        "options": _options(kind),
        "schema": {"$ref": "#/$defs/schema_ref"},
        "credentials": {"type": "string"},
    }
    for name in kind.sections:
        props[name] = section
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["type"],
        "properties": props,
    }


def resource_schema() -> dict[str, Any]:
    """The JSON Schema of a resource file: resources, their environments, a credentials block."""
    envs = [
        {"if": {"properties": {"type": {"const": k.name}}, "required": ["type"]}, "then": _kind(k)}
        for k in all_kinds().values()
    ]
    environment = {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"enum": list(all_kinds())}},
        "allOf": envs,
    }
    resource = {
        "type": "object",
        "properties": {"schema": {"$ref": "#/$defs/schema_ref"}},
        "additionalProperties": {"$ref": "#/$defs/environment"},
        "minProperties": 1,
    }
    return {
        "$schema": DRAFT,
        "$id": "dynio-resources",
        "title": "dynio resources",
        "type": "object",
        "properties": {
            "credentials": {
                "type": "object",
                "additionalProperties": {"type": "object"},
                "description": "named storage options an environment uses with credentials:",
            }
        },
        "additionalProperties": {"$ref": "#/$defs/resource"},
        "$defs": {
            "resource": resource,
            "environment": environment,
            "schema_ref": {
                "anyOf": [
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["file_path"],
                        "properties": {"file_path": {"type": "string"}},
                    },
                    {"$ref": "#/$defs/schema"},
                ]
            },
            "schema": _schema_body(),
        },
    }
