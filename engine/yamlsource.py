"""Read one YAML file safely, keeping where each key was written.

PyYAML's safe loader with three refusals (a key written twice in one mapping, aliases that expand
past a budget or into themselves, keys that are not text) and one addition: the line and column
of every key, by dotted key path (``trips.local.local.file_type``, ``columns.fare.metrics[0]``),
so a problem found later, in the parsed values, can still be shown as ``file:line:col``.

A key YAML 1.1 reads as something other than text (``yes:``, ``NO:`` as a country code, ``on:``
as an environment name, ``2024:``) is kept as the text written and reported as a problem of its
own: quoting it (``"NO":``) says what was meant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dynio.engine.errors import ConfigError

__all__ = ["Positions", "YamlDoc", "locate", "read_yaml"]

Positions = dict[str, tuple[int, int]]  # key path -> (line, column), both 1-based

_STR_TAG = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"
_CANONICAL_INT = re.compile(r"-?(0|[1-9][0-9]*)")

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


@dataclass
class YamlDoc:
    """A parsed YAML file: its data, where each key is, and the keys refused as not text."""

    data: Any
    positions: Positions = field(default_factory=dict)
    key_problems: list[ConfigError] = field(default_factory=list)


def _walk(
    node: yaml.Node, path: str, doc: YamlDoc, file: str, seen: set[int], merged: bool = False
) -> None:
    """Record every key's position under ``path``; refuse (and keep as text) non-text keys."""
    if id(node) in seen and not merged:
        return  # an alias of a node already walked: its keys were recorded where written
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            sub = f"{path}[{i}]"
            doc.positions.setdefault(sub, (item.start_mark.line + 1, item.start_mark.column + 1))
            _walk(item, sub, doc, file, seen)
        return
    if not isinstance(node, yaml.MappingNode):
        return
    merges: list[yaml.Node] = []
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE_TAG:  # ``<<: *defaults``: the merged keys land here
            parts = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            merges.extend(parts)
            continue
        if not isinstance(key_node, yaml.ScalarNode):
            continue  # a complex key: the constructor refuses it as unhashable
        text = key_node.value
        sub = f"{path}.{text}" if path else text
        where = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        doc.positions.setdefault(sub, where)
        if key_node.tag == _INT_TAG and _in_options(path):
            pass  # options go to client libraries as written (Kafka's start_offsets: {0: 5})
        elif key_node.tag == _INT_TAG and _CANONICAL_INT.fullmatch(text):
            # a column named 1 or 2024 (dynamicio's schemas have them): its text is exactly
            # what was written, so it is kept as text; 01, 0x1f or 1_000 would not be
            key_node.tag = _STR_TAG
        elif key_node.tag != _STR_TAG:
            read_as = yaml.safe_load(f"{text}:") if text else {None: None}
            shown = next(iter(read_as)) if isinstance(read_as, dict) and read_as else text
            problem = ConfigError(
                f"key {text!r} is read by YAML as {type(shown).__name__} {shown!r}, not"
                f' text; quote it ("{text}":) to mean the text',
                file=file,
                key_path=sub,
            )
            problem.at(*where)
            doc.key_problems.append(problem)
            key_node.tag = _STR_TAG  # keep loading with the key as written
        _walk(value_node, sub, doc, file, seen)
    for part in merges:  # after the mapping's own keys, which override the merged ones
        _walk(part, path, doc, file, seen, merged=True)


def _in_options(path: str) -> bool:
    """Whether a key path lies inside an environment's ``options`` (resource.env.options...)."""
    parts = path.split(".")
    return len(parts) >= 3 and parts[2] == "options"


def _parse(text: str, file: str) -> YamlDoc:
    loader = _UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        doc = YamlDoc(data=None)
        if node is not None:
            _walk(node, "", doc, file, set())
            doc.data = loader.construct_document(node)
        return doc
    finally:
        loader.dispose()


def read_yaml(path: Path, resource: str | None = None) -> YamlDoc:
    """Parse one YAML file; ``resource`` names the resource a schema file is read for.

    Raises:
        ConfigError: The file is missing, not UTF-8, not YAML, or its aliases expand too far.
    """
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
        doc = _parse(text, str(path))
    except _AliasBudgetError as exc:
        raise ConfigError(f"YAML aliases refused{exc.where}: {exc.problem}", **ctx) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if "'\\t'" in problem:
            problem += " (YAML indents with spaces, not tabs)"
        error = ConfigError(f"invalid YAML{where}: {problem}", **ctx)
        if mark is not None:
            error.at(mark.line + 1, mark.column + 1)  # file:line:col, as every config error
        raise error from exc
    for problem in doc.key_problems:
        problem.resource = resource
        problem.args = (problem._render(),)
    return doc


def _parent(path: str) -> str:
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else ""


def locate(error: ConfigError, positions: dict[str, Positions]) -> None:
    """Give ``error`` the line and column of its key path (or of the nearest key above it)."""
    if error.line is not None or error.file is None:
        return
    table = positions.get(error.file)
    if not table:
        return
    path = error.key_path or ""
    while path:
        if path in table:
            error.at(*table[path])
            return
        path = _parent(path)
