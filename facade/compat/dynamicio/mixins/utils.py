"""dynamicio's public mixin helpers (``dynamicio.mixins.utils``), for code that imports them.

``allow_options``/``args_of`` filter keyword arguments to those a function takes, logging the
others; ``get_string_template_field_names``/``resolve_template`` handle ``{field}`` templates
in paths; ``pickle_protocol`` caps the pickle protocol inside a ``with`` block;
``get_file_type_value`` gives an enum's value or the text itself.
"""

from __future__ import annotations

import functools
import inspect
import logging
import pickle
import string
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from enum import Enum
from typing import Any, TypeVar

__all__ = [
    "allow_options",
    "args_of",
    "get_file_type_value",
    "get_string_template_field_names",
    "pickle_protocol",
    "resolve_template",
]

logger = logging.getLogger("dynio.compat.dynamicio")

_F = TypeVar("_F", bound=Callable[..., Any])


def args_of(*funcs: Callable[..., Any]) -> set[str]:
    """The parameter names of one or more functions."""
    names: set[str] = set()
    for func in funcs:
        names.update(inspect.signature(func).parameters)
    return names


def _keep(kwargs: Mapping[str, Any], valid: Iterable[str]) -> dict[str, Any]:
    allowed = set(valid)
    unused = {k: v for k, v in kwargs.items() if k not in allowed}
    if unused:
        logger.warning(
            "Options %s were not used because they are not supported by this operation."
            " Review your kwargs!",
            unused,
        )
    return {k: v for k, v in kwargs.items() if k in allowed}


def allow_options(options: Iterable[str] | Callable[..., Any]) -> Callable[[_F], _F]:
    """Decorator: pass the function only the keyword arguments in ``options`` (names, or a
    function whose parameters are the names); the others are logged and dropped."""

    def decorate(func: _F) -> _F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            valid = args_of(options) if callable(options) else set(options)
            return func(*args, **_keep(kwargs, valid))

        return wrapper  # type: ignore[return-value]

    return decorate


def get_string_template_field_names(s: str) -> list[str]:
    """The ``{field}`` names of a template, in order (``"a{x}b{0}"`` -> ``["x", "0"]``)."""
    return [field for _, field, _, _ in string.Formatter().parse(s) if field is not None]


def resolve_template(path: str, options: MutableMapping[str, Any] | None) -> str:
    """``path`` with its ``{field}``s filled from ``options``; the values used are removed
    from ``options``.

    Raises:
        ValueError: A field is not a Python identifier, or ``options`` has no value for it.
    """
    fields = get_string_template_field_names(path)
    if not fields:
        return path
    if not all(field.isidentifier() for field in fields):
        raise ValueError(f"Expected valid Python identifiers, found {fields}")
    values = options if options is not None else {}
    if not all(field in values for field in fields):
        raise ValueError(f"Expected values for all fields in {fields}, found {list(values)}")
    resolved = path.format(**{field: values[field] for field in fields})
    for field in fields:
        values.pop(field)
    return resolved


@contextmanager
def pickle_protocol(protocol: int | None) -> Iterator[None]:
    """Within the block, ``pickle.HIGHEST_PROTOCOL`` is ``protocol`` (4 when not given)."""
    previous = pickle.HIGHEST_PROTOCOL
    try:
        pickle.HIGHEST_PROTOCOL = protocol or 4  # type: ignore[misc]
        yield
    finally:
        pickle.HIGHEST_PROTOCOL = previous  # type: ignore[misc]


def get_file_type_value(file_type: str | Enum) -> str:
    """The value of a file-type enum, or the text itself."""
    return str(file_type.value) if isinstance(file_type, Enum) else file_type
