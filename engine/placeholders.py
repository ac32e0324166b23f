"""``[[ VAR ]]`` placeholders in YAML and ``{name}`` templates in paths.

``[[ VAR ]]`` placeholders are resolved once, when a catalog loads, from an explicit mapping or
module given by the caller, then from process environment variables. ``{name}`` templates stay in
the spec and are filled per call (:func:`fill_template`) without mutating anything.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Mapping
from types import ModuleType
from typing import Any
from urllib.parse import unquote

from dynio.engine.errors import MissingVariableError, TemplateError

__all__ = [
    "EnvText",
    "VarSource",
    "fill_template",
    "resolve_placeholders",
    "template_fields",
    "variables_from",
]

VarSource = Mapping[str, Any] | ModuleType | None

PLACEHOLDER_RE = re.compile(r"\[\[\s*([A-Za-z_][A-Za-z0-9_]*)\s*\]\]")


class EnvText(str):
    """A whole value taken from an environment variable: text whose type the field decides.

    A field that expects a number turns ``"5432"`` into ``5432``; a field that expects text keeps
    ``"0123"`` as written.
    """

    __slots__ = ()


def variables_from(source: VarSource) -> dict[str, Any]:
    """Turn a mapping or a module (e.g. a pipeline's ``environment.py``) into a dict."""
    if source is None:
        return {}
    if isinstance(source, ModuleType):
        return {k: v for k, v in vars(source).items() if not k.startswith("_")}
    return dict(source)


class _Missing(Exception):
    """A placeholder with no value, while collecting (the text is kept in place)."""


def _lookup(
    name: str,
    variables: Mapping[str, Any],
    context: Mapping[str, Any],
    missing: list[MissingVariableError] | None = None,
) -> Any:
    # a variable set to None (``DB_HOST = None`` in an environment module) counts as unset
    if variables.get(name) is not None:
        return variables[name]
    if name in os.environ:
        return EnvText(os.environ[name])
    error = MissingVariableError(name, **context)
    if missing is None:
        raise error
    missing.append(error)
    raise _Missing(name)


def _bare_placeholder(value: Any) -> str | None:
    """``key: [[ VAR ]]`` without quotes parses as ``[["VAR"]]``; recognise that shape."""
    if (
        isinstance(value, list)
        and len(value) == 1
        and isinstance(value[0], list)
        and len(value[0]) == 1
        and isinstance(value[0][0], str)
        and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value[0][0].strip())
    ):
        return value[0][0].strip()
    return None


def _resolve_str(
    text: str,
    variables: Mapping[str, Any],
    context: Mapping[str, Any],
    missing: list[MissingVariableError] | None = None,
) -> Any:
    whole = PLACEHOLDER_RE.fullmatch(text.strip())
    if whole:
        try:
            return _lookup(whole.group(1), variables, context, missing)
        except _Missing:
            return text

    def sub(m: re.Match[str]) -> str:
        try:
            return str(_lookup(m.group(1), variables, context, missing))
        except _Missing:
            return m.group(0)

    return PLACEHOLDER_RE.sub(sub, text)


def resolve_placeholders(
    value: Any,
    variables: Mapping[str, Any],
    context: Mapping[str, Any],
    key_path: str = "",
    missing: list[MissingVariableError] | None = None,
) -> Any:
    """Resolve every ``[[ VAR ]]`` in keys and values of a parsed YAML tree.

    A value that is exactly one placeholder takes the variable's value as it is (a number stays
    a number); placeholders inside longer text are substituted as text. Several per string work.

    Args:
        value: The parsed YAML value.
        variables: Explicit variables; process environment variables are consulted after them.
        context: Error context (``resource``, ``file``) for a missing variable.
        key_path: The dotted path of ``value`` (for error messages).
        missing: When given, every missing variable is appended here (each error names its key
            path) and its placeholder text is left in place, instead of raising at the first.

    Raises:
        MissingVariableError: A placeholder has no value (unless ``missing`` collects them).
    """
    ctx = {**context, "key_path": key_path or None}
    bare = _bare_placeholder(value)
    if bare is not None:
        try:
            return _lookup(bare, variables, ctx, missing)
        except _Missing:
            return f"[[ {bare} ]]"
    if isinstance(value, str):
        return _resolve_str(value, variables, ctx, missing)
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            key = _resolve_str(k, variables, ctx, missing) if isinstance(k, str) else k
            key = str(key) if isinstance(key, EnvText) else key
            sub = f"{key_path}.{key}" if key_path else str(key)
            out[key] = resolve_placeholders(v, variables, context, sub, missing)
        return out
    if isinstance(value, list):
        return [
            resolve_placeholders(v, variables, context, f"{key_path}[{i}]", missing)
            for i, v in enumerate(value)
        ]
    return value


_FORMATTER = string.Formatter()


def template_fields(text: str) -> list[str]:
    """The ``{name}`` fields of a path template, in order, without duplicates."""
    names: list[str] = []
    for _, field_name, _, _ in _FORMATTER.parse(text):
        if field_name is not None and field_name not in names:
            names.append(field_name)
    return names


def _escapes(text: str) -> bool:
    """Whether a value could climb out of the folder it is put in: a ``..`` segment, an
    absolute or drive path, a NUL byte."""
    parts = re.split(r"[\\/]", text)
    return (
        "\x00" in text
        or ".." in parts
        or text.startswith(("/", "\\"))
        or re.match(r"^[A-Za-z]:", text) is not None
    )


def _check_value(name: str, value: Any, context: Mapping[str, Any]) -> str:
    text = str(value)
    # object stores and HTTP servers decode %2e%2e%2f into ../: look through the encoding too
    decoded = [text]
    for _ in range(3):
        unquoted = unquote(decoded[-1])
        if unquoted == decoded[-1]:
            break
        decoded.append(unquoted)
    if any(_escapes(t) for t in decoded):
        raise TemplateError(
            f"template value for {{{name}}} would leave the configured location: {text!r}",
            **context,
        )
    return text


def fill_template(text: str, args: Mapping[str, Any], context: Mapping[str, Any]) -> str:
    """Fill ``{name}`` fields of a path from call arguments.

    Values may not climb out of the configured location: ``..`` segments, absolute paths and NUL
    bytes are refused.

    Raises:
        TemplateError: A field has no value, a value is refused, or the template is malformed.
    """
    try:
        fields = template_fields(text)
    except ValueError as exc:
        raise TemplateError(f"malformed path template {text!r}: {exc}", **context) from exc
    missing = [f for f in fields if f not in args]
    if missing:
        raise TemplateError(
            f"path template {text!r} needs a value for {', '.join('{' + m + '}' for m in missing)};"
            f" pass it as a keyword argument",
            **context,
        )
    if not fields:
        return text
    safe = {f: _check_value(f, args[f], context) for f in fields}
    try:
        filled = text.format_map(safe)
    except (ValueError, IndexError, KeyError) as exc:
        raise TemplateError(f"malformed path template {text!r}: {exc}", **context) from exc
    if filled.startswith("~") and not text.startswith("~"):
        # a path starting with ~ is expanded to a home folder: a value must not choose one
        name = next((f for f in fields if safe[f].startswith("~")), fields[0])
        raise TemplateError(
            f"template value for {{{name}}} would put the path in a home folder: {filled!r}",
            **context,
        )
    return filled
