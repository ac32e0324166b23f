"""Collecting configuration problems, and "did you mean" for names the user mistyped.

A catalog is checked in full: every problem of every resource is collected (not only the
first), each naming its file, key path and, once positions are known, line and column.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from dynio.engine.errors import ConfigError, ConfigProblems

__all__ = ["Problems", "did_you_mean", "unknown_names"]


def did_you_mean(name: object, known: Iterable[str]) -> str:
    """``"; did you mean 'float64'?"`` for the closest known names, or ``""`` when none is close.

    Case is ignored when comparing (``Float64`` and ``float64`` are close); at most three
    suggestions, closest first.
    """
    text = str(name)
    by_lower: dict[str, str] = {}
    for k in known:
        by_lower.setdefault(k.lower(), k)
    close = difflib.get_close_matches(text.lower(), list(by_lower), n=3, cutoff=0.6)
    if not close:
        return ""
    shown = " or ".join(repr(by_lower[c]) for c in close)
    return f"; did you mean {shown}?"


def unknown_names(what: str, names: Iterable[object], known: Iterable[str]) -> str:
    """One sentence for an unknown name: the suggestion, else the (short) list of known ones."""
    known = list(known)
    name = next(iter(names))
    hint = did_you_mean(name, known)
    return f"unknown {what} {name!r}{hint or '; known: ' + ', '.join(known)}"


class Problems:
    """A list of :class:`ConfigError` that :meth:`guard` fills instead of raising."""

    def __init__(self) -> None:
        self.items: list[ConfigError] = []

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def add(self, error: ConfigError) -> None:
        """Keep one problem (the several of a :class:`ConfigProblems`, each on its own)."""
        if isinstance(error, ConfigProblems):
            self.items.extend(error.problems)
        else:
            self.items.append(error)

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Run a check; a :class:`ConfigError` it raises is kept, and the caller goes on."""
        try:
            yield
        except ConfigError as exc:
            self.add(exc)

    def raise_all(self, where: str = "the catalog") -> None:
        """Raise the one problem, or :class:`ConfigProblems` listing several; nothing if none."""
        if len(self.items) == 1:
            raise self.items[0]
        if self.items:
            raise ConfigProblems(self.items, where)
