"""The dynio error hierarchy.

Every error dynio raises derives from :class:`DynioError` and carries the context a user needs to
act on it: the resource and environment, and where relevant the file, the key path inside it, the
column and a few offending values. Backend exceptions are translated at the boundary with
``raise ... from exc`` so the original stays available as ``__cause__``.

Context is kept as attributes (``resource``, ``env``, ``file``, ``key_path``, ``column``,
``values``) and rendered into the message, so both people and code can use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "CastError",
    "ConfigError",
    "ConfigProblems",
    "DynioError",
    "MissingDependencyError",
    "MissingVariableError",
    "ReadError",
    "ResourceNotFoundError",
    "SchemaError",
    "TemplateError",
    "UnknownEnvironmentError",
    "UnsupportedError",
    "ValidationError",
    "WriteError",
    "cut",
    "first_line",
]

_MAX_VALUES = 5
# longest text of each part an error shows (a 100 MB path must not make a 100 MB message)
_MAX_NAME = 300
_MAX_MESSAGE = 10_000
_MAX_VALUE = 80


def cut(text: str, limit: int = _MAX_NAME) -> str:
    """``text`` whole when short, else its start and end around a note of what was left out."""
    if len(text) <= limit:
        return text
    head = max(1, limit * 2 // 3)
    tail = max(1, limit - head - 40)
    return f"{text[:head]}…[{len(text) - head - tail} characters cut]…{text[-tail:]}"


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text (its class name when it has none).

    Backend messages run to many lines of hints; a dynio error quotes only what went wrong.
    """
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _fmt_values(values: Sequence[Any]) -> str:
    shown = ", ".join(cut(repr(v), _MAX_VALUE) for v in list(values)[:_MAX_VALUES])
    more = len(values) - _MAX_VALUES
    return f"[{shown}{f', … {more} more' if more > 0 else ''}]"


class DynioError(Exception):
    """Root of every error dynio raises.

    Args:
        message: What went wrong, in a sentence.
        resource: The resource name, when known.
        env: The environment name, when known.
        file: The file (YAML or data) concerned, when known.
        key_path: The dotted key path inside a YAML file, when relevant.
        column: The column concerned, when relevant.
        values: A few offending values, when relevant.
    """

    def __init__(
        self,
        message: str,
        *,
        resource: str | None = None,
        env: str | None = None,
        file: str | None = None,
        key_path: str | None = None,
        column: str | None = None,
        values: Sequence[Any] | None = None,
    ) -> None:
        self.message = message
        self.resource = resource
        self.env = env
        self.file = file
        self.key_path = key_path
        self.column = column
        self.values = list(values) if values is not None else None
        super().__init__(self._render())

    def _render(self, *, with_file: bool = True) -> str:
        where = []
        if self.resource is not None:
            where.append(f"resource {cut(repr(self.resource))}")
        if self.env is not None:
            where.append(f"env {cut(repr(self.env))}")
        if self.file is not None and with_file:
            where.append(f"file {cut(repr(self.file))}")
        if self.key_path is not None:
            where.append(f"key {cut(repr(self.key_path))}")
        if self.column is not None:
            where.append(f"column {cut(repr(self.column))}")
        text = cut(self.message, _MAX_MESSAGE)
        if self.values:
            text += f"; offending values: {_fmt_values(self.values)}"
        return f"{text} ({', '.join(where)})" if where else text


class ConfigError(DynioError):
    """A resource or schema definition is invalid: bad YAML, unknown key, wrong value type.

    When the line and column in the YAML file are known the message starts with
    ``file:line:col:``, the form editors and terminals turn into a link.
    """

    line: int | None = None  # 1-based, in ``file``; set by :meth:`at`
    col: int | None = None

    def at(self, line: int, col: int) -> None:
        """Place the error at ``line``:``col`` (1-based) of its file, re-rendering the message."""
        self.line, self.col = line, col
        self.args = (self._render(),)

    def _render(self, *, with_file: bool = True) -> str:
        if self.file is not None and self.line is not None:
            return f"{self.file}:{self.line}:{self.col}: {super()._render(with_file=False)}"
        return super()._render(with_file=with_file)


class ConfigProblems(ConfigError):
    """Several configuration problems found together; ``problems`` lists each.

    Args:
        problems: The problems, each a :class:`ConfigError` with its own file, line and key.
        where: What they are in (default: the catalog).
    """

    def __init__(self, problems: Sequence[ConfigError], where: str = "the catalog") -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        first = self.problems[0] if self.problems else None
        super().__init__(
            f"{len(self.problems)} problems in {where}:\n{lines}",
            resource=first.resource if first is not None and where != "the catalog" else None,
        )

    def _render(self, *, with_file: bool = True) -> str:
        return self.message


class MissingVariableError(ConfigError):
    """A ``[[ VAR ]]`` placeholder has no value in the given mapping nor in the environment."""

    def __init__(self, variable: str, **context: Any) -> None:
        self.variable = variable
        super().__init__(f"no value for placeholder [[ {variable} ]]", **context)


class NestedPlaceholderError(MissingVariableError):
    """A ``[[ VAR ]]`` placeholder inside another: placeholders do not nest, so neither has a
    value (the outer one would stay in the configuration as literal text)."""

    def __init__(self, text: str, **context: Any) -> None:
        self.variable = text
        ConfigError.__init__(
            self,
            f"a placeholder inside a placeholder: {cut(text, 80)!r}; placeholders do not nest"
            " (name the variable in full, or set a variable holding the whole value)",
            **context,
        )


class UnknownEnvironmentError(ConfigError):
    """A resource has no definition for the requested environment."""


class ResourceNotFoundError(DynioError, KeyError):
    """The catalog has no resource of that name."""

    def __str__(self) -> str:  # KeyError would quote the message again
        return self._render()


class TemplateError(DynioError):
    """A ``{placeholder}`` in a path has no value, or its value is not allowed."""


class SchemaError(DynioError):
    """The data does not have the columns the schema requires."""


class CastError(DynioError):
    """Values do not fit the dtype the schema asks for under the safe cast policy."""

    def __init__(self, message: str, *, target: str | None = None, **context: Any) -> None:
        self.target = target
        super().__init__(message, **context)


class ValidationError(DynioError):
    """One or more error-severity data-quality rules failed."""

    def __init__(self, message: str, *, report: Any = None, **context: Any) -> None:
        self.report = report
        super().__init__(message, **context)


class ReadError(DynioError):
    """The source could not be read (missing file, corrupt data, backend failure)."""


class WriteError(DynioError):
    """The destination could not be written; nothing was left half-written."""


class UnsupportedError(DynioError):
    """The configuration asks for something this version of dynio does not support."""


class MissingDependencyError(DynioError, ImportError):
    """An optional dependency is needed; the message names the extra to install."""

    def __init__(self, message: str, *, extra: str, **context: Any) -> None:
        self.extra = extra
        super().__init__(f"{message}; install it with: pip install 'dynio[{extra}]'", **context)

    def __str__(self) -> str:
        return self._render()
