"""``[[ VAR ]]`` placeholders in YAML and ``{name}`` templates in paths.

``[[ VAR ]]`` placeholders are resolved once, when a catalog loads, from an explicit mapping or
module given by the caller, then from process environment variables. ``{name}`` templates stay in
the spec and are filled per call (:func:`fill_template`) without mutating anything.

A ``{name}`` value stays inside the location the template configures: ``..`` segments, absolute
and home paths, glob characters (``* ? [ ] { }``) and, for local paths, symlinks leading out of
the template's fixed leading folder are refused, unless the resource sets
``options: {allow_template_escape: true}``. NUL bytes are always refused.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Mapping
from types import ModuleType
from typing import Any
from urllib.parse import unquote

from dynio.engine.errors import MissingVariableError, NestedPlaceholderError, TemplateError

__all__ = [
    "EnvText",
    "EscapeAllowed",
    "VarSource",
    "check_template_root",
    "check_template_value",
    "fill_template",
    "resolve_placeholders",
    "template_fields",
    "template_root",
    "variables_from",
]

VarSource = Mapping[str, Any] | ModuleType | None

# ``[[ VAR ]]`` or ``[[ VAR | default ]]`` (the default is text up to the closing brackets)
PLACEHOLDER_RE = re.compile(r"\[\[\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|\s*(.*?)\s*)?\]\]")

# a placeholder opened before another one closes: ``[[ A_[[ B ]] ]]``, ``[[ A | [[ B ]] ]]``
NESTED_RE = re.compile(r"\[\[(?:(?!\]\]).)*?\[\[\s*[A-Za-z_][A-Za-z0-9_]*\s*(?:\|.*?)?\]\]")


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
    default: str | None = None,
) -> Any:
    # a variable set to None (``DB_HOST = None`` in an environment module) counts as unset
    if variables.get(name) is not None:
        return variables[name]
    if name in os.environ:
        return EnvText(os.environ[name])
    if default is not None:  # ``[[ VAR | default ]]``: text, typed like an environment variable
        return EnvText(default)
    error = MissingVariableError(name, **context)
    if missing is None:
        raise error
    missing.append(error)
    raise _Missing(name)


def _bare_placeholder(value: Any) -> str | None:
    """``key: [[ VAR ]]`` without quotes parses as ``[["VAR"]]``; the placeholder it spells."""
    if (
        isinstance(value, list)
        and len(value) == 1
        and isinstance(value[0], list)
        and len(value[0]) == 1
        and isinstance(value[0][0], str)
        and PLACEHOLDER_RE.fullmatch(f"[[{value[0][0]}]]")
    ):
        return f"[[{value[0][0]}]]"
    return None


def _resolve_str(
    text: str,
    variables: Mapping[str, Any],
    context: Mapping[str, Any],
    missing: list[MissingVariableError] | None = None,
) -> Any:
    nested = NESTED_RE.search(text)
    if nested:  # resolving the inner one would leave the outer as literal text, silently
        end = text.find("]]", nested.end())
        error = NestedPlaceholderError(
            text[nested.start() : end + 2 if end >= 0 else None], **context
        )
        if missing is None:
            raise error
        missing.append(error)
        return text
    whole = PLACEHOLDER_RE.fullmatch(text.strip())
    if whole:
        try:
            return _lookup(whole.group(1), variables, context, missing, whole.group(2))
        except _Missing:
            return text

    def sub(m: re.Match[str]) -> str:
        try:
            return str(_lookup(m.group(1), variables, context, missing, m.group(2)))
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
        return _resolve_str(bare, variables, ctx, missing)
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


# glob characters (and brace expansion) in a value would widen a read to files the template
# does not name: ``*`` instead of a day reads every day
_GLOB_CHARS = frozenset("*?[]{}")


class EscapeAllowed(str):
    """A template value its resource lets leave the configured location on purpose.

    Made by the planner for a source with ``options: {allow_template_escape: true}``, after the
    value was checked there; :func:`fill_template` then takes it as it is (NUL bytes aside).
    """

    __slots__ = ()


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


def check_template_value(
    name: str, value: Any, context: Mapping[str, Any], *, allow_escape: bool = False
) -> str:
    """The text a ``{name}`` value puts into a path, or a refusal.

    Refused: NUL bytes (always); unless ``allow_escape``, also ``..`` segments, absolute and
    drive paths (also URL-encoded, which object stores and HTTP servers decode) and glob
    characters ``* ? [ ] { }``.

    Raises:
        TemplateError: The value is refused; names the field and the value.
    """
    text = str(value)
    if "\x00" in text:
        raise TemplateError(
            f"template value for {{{name}}} would leave the configured location (a NUL byte"
            f" ends a path early): {text!r}",
            **context,
        )
    if allow_escape or isinstance(value, EscapeAllowed):
        return text
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
    globs = sorted(_GLOB_CHARS.intersection(text))
    if globs:
        raise TemplateError(
            f"template value for {{{name}}} holds glob character(s) {' '.join(globs)}, which"
            f" would widen the path to other files: {text!r} (a resource allows them with"
            " options: {allow_template_escape: true})",
            **context,
        )
    return text


def _literal_ends(text: str) -> tuple[str, str]:
    """A template's fixed text before its first field and after its last one."""
    head: list[str] = []
    tail: list[str] = []
    seen = False
    for literal, field_name, _, _ in _FORMATTER.parse(text):
        if field_name is None:
            (tail if seen else head).append(literal)
        elif not seen:
            head.append(literal)
            seen = True
        else:
            tail.clear()  # text between two fields is neither
    return "".join(head), "".join(tail)


def template_root(text: str) -> str:
    """The fixed leading folder of a path template: the text before its first ``{``, up to
    the last ``/`` there (``data/in/day={day}/x.csv`` -> ``data/in``; ``{x}.csv`` -> ``""``).
    """
    head, _ = _literal_ends(text)
    cut = max(head.rfind("/"), head.rfind(os.sep))
    if cut < 0:
        return ""
    return head[:cut] or head[: cut + 1]  # "/{x}" -> "/"


def check_template_root(
    text: str,
    filled: str,
    base_dir: str | None,
    args: Mapping[str, Any],
    context: Mapping[str, Any],
) -> None:
    """Refuse a filled local path that leaves its template's fixed leading folder once symlinks
    are resolved (``data/{x}/f.csv`` with ``x="link"`` where ``data/link`` leads elsewhere).

    Only the part of the path the values reach is resolved: fixed segments after the last field
    (``f.csv`` above) and the leading folder itself may be symlinks of the operator's choosing.

    Args:
        text: The template as configured (local, ``~`` allowed; no URL scheme).
        filled: The template filled with ``args``.
        base_dir: The folder a relative path resolves against (``None``: the working directory).
        args: The values filled in (named in the error).
        context: Error context (``resource``, ``env``, ``key_path``).

    Raises:
        TemplateError: The resolved path leaves the leading folder; names the field and value.
    """
    _, tail = _literal_ends(text)
    reached = filled
    cut = min((i for i in (tail.find("/"), tail.find(os.sep)) if i >= 0), default=-1)
    if cut >= 0:
        reached = filled[: len(filled) - len(tail) + cut]

    def real(path: str) -> str:
        path = os.path.expanduser(path) if path.startswith("~") else path
        if not os.path.isabs(path):
            path = os.path.join(base_dir or os.getcwd(), path)
        return os.path.realpath(path)

    root = real(template_root(text))
    resolved = real(reached)
    if resolved == root or resolved.startswith(root.rstrip(os.sep) + os.sep):
        return
    shown = ", ".join(f"{{{f}}}={str(args.get(f, ''))!r}" for f in template_fields(text))
    raise TemplateError(
        f"template value(s) {shown} lead outside {template_root(text) or '.'!r} through a"
        " symlink; a resource allows this with options: {allow_template_escape: true}",
        **context,
    )


def fill_template(
    text: str, args: Mapping[str, Any], context: Mapping[str, Any], *, allow_escape: bool = False
) -> str:
    """Fill ``{name}`` fields of a path from call arguments.

    Values may not climb out of the configured location nor widen it: ``..`` segments,
    absolute and home paths and glob characters are refused (see
    :func:`check_template_value`), unless ``allow_escape`` (the resource's
    ``options: {allow_template_escape: true}``) or the value is :class:`EscapeAllowed`. NUL
    bytes are always refused. Symlinks are the planner's to check
    (:func:`check_template_root`): only it knows the folder a relative path resolves against.

    Raises:
        TemplateError: A field has no value, a value is refused, or the template is malformed.
    """
    try:
        fields = template_fields(text)
    except ValueError as exc:
        raise TemplateError(f"malformed path template {text!r}: {exc}", **context) from exc
    missing = [f for f in fields if f not in args]
    if missing:
        python = ", ".join(f"{m}=..." for m in missing)
        cli = " ".join(f"--arg {m}=..." for m in missing)
        raise TemplateError(
            f"path template {text!r} needs a value for {', '.join('{' + m + '}' for m in missing)};"
            f" pass {python} in Python (cat.read(name, {python})) or {cli} on the command line",
            **context,
        )
    if not fields:
        return text
    safe = {f: check_template_value(f, args[f], context, allow_escape=allow_escape) for f in fields}
    try:
        filled = text.format_map(safe)
    except (ValueError, IndexError, KeyError) as exc:
        raise TemplateError(f"malformed path template {text!r}: {exc}", **context) from exc
    escaping = allow_escape or all(isinstance(args[f], EscapeAllowed) for f in fields)
    if filled.startswith("~") and not text.startswith("~") and not escaping:
        # a path starting with ~ is expanded to a home folder: a value must not choose one
        name = next((f for f in fields if safe[f].startswith("~")), fields[0])
        raise TemplateError(
            f"template value for {{{name}}} would put the path in a home folder: {filled!r}",
            **context,
        )
    return filled
