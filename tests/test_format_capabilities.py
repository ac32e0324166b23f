"""Code asks a format what it can do, never checks its name (``engine/io/formats``).

An AST walk over ``engine/`` finds comparisons against format names (``fmt.name == "parquet"``,
``scan.format in ("csv", "json")``) and collections of format names (``frozenset({"csv",
"ndjson"})``, a dict keyed by them) outside the format package, so the rule stays true.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from dynio.engine.io.formats import FORMATS, NOTHING, capabilities_of, format_names

ENGINE = Path(__file__).resolve().parents[1] / "engine"

# where format names belong: the format package itself, and the old module re-exporting it
_OWN = (ENGINE / "io" / "formats", ENGINE / "formats.py")
# Delta and Iceberg are table *kinds* (a folder of parquet plus a transaction log), not file
# formats: tableformat.py names them as kinds, and its ``"parquet"`` is the data files' format
# a table library writes, not a choice dynio makes by a format's name.
# Kafka's value serialisers (``json``, ``avro``, ``string``) encode one message each: they are
# message encodings with their own table (kafka_settings.py), not file formats.
_KINDS_NOT_FORMATS = (
    ENGINE / "sources" / "tableformat.py",
    ENGINE / "sources" / "kafka.py",
)


def _names() -> set[str]:
    return {n.lower() for n in format_names()}


def _strings(node: ast.AST) -> list[str]:
    """String constants of a literal or a literal collection (tuple, list, set)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [s for elt in node.elts for s in _strings(elt)]
    call = isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args
    if call and node.func.id in ("frozenset", "set", "tuple"):  # type: ignore[attr-defined]
        return _strings(node.args[0])  # type: ignore[attr-defined]
    return []


def _name_checks(path: Path) -> list[str]:
    names = _names()
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for side in (node.left, *node.comparators):
                hits = [s for s in _strings(side) if s.lower() in names]
                if hits:
                    found.append(f"{path.name}:{node.lineno} compares with {hits}")
        elif isinstance(node, ast.Dict):
            keys = [s for k in node.keys if k is not None for s in _strings(k)]
            hits = [s for s in keys if s.lower() in names]
            if len(hits) >= 2:
                found.append(f"{path.name}:{node.lineno} is keyed by format names {hits}")
        elif isinstance(node, ast.Set | ast.Tuple | ast.List):
            hits = [s for s in _strings(node) if s.lower() in names]
            if len(hits) >= 2:
                found.append(f"{path.name}:{node.lineno} lists format names {hits}")
    return found


def _engine_files() -> list[Path]:
    skip = (*_OWN, *_KINDS_NOT_FORMATS)
    return [
        p for p in sorted(ENGINE.rglob("*.py")) if not any(p == s or s in p.parents for s in skip)
    ]


def test_no_format_name_checks_outside_the_format_package() -> None:
    found = [hit for path in _engine_files() for hit in _name_checks(path)]
    assert found == [], "ask the format's capabilities instead:\n" + "\n".join(found)


def test_the_walk_finds_the_checks_it_forbids(tmp_path: Path) -> None:
    # the walk itself must be able to fail: each spelling it forbids is caught
    sample = tmp_path / "sample.py"
    sample.write_text(
        'A = fmt.name == "parquet"\n'
        'B = scan.format not in ("csv", "json", "ndjson")\n'
        'C = frozenset({"parquet", "ipc"})\n'
        'D = {"parquet": 1, "csv": 2}\n'
        'E = fmt in ("Feather",)\n'
        'F = kind == "local"\n'  # not a format name: allowed
    )
    found = _name_checks(sample)
    assert sorted(int(hit.split(":")[1].split()[0]) for hit in found) == [1, 2, 2, 3, 4, 5]


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_declares_what_it_does(name: str) -> None:
    fmt = FORMATS[name]
    caps = fmt.capabilities
    assert caps is capabilities_of(name)
    assert fmt.read_options == caps.read_options
    assert fmt.write_options == caps.write_options
    assert "file" in caps.layouts
    # the hooks a capability promises are there, and only then
    assert (fmt.row_groups is not None) == caps.statistics
    assert caps.statistics <= caps.footer  # statistics live in a footer
    if fmt.sink is None:
        assert not caps.sink_refuses
    if not caps.text:
        assert not caps.line_delimited
        assert not caps.appendable


def test_text_and_binary_formats_as_declared() -> None:
    text = {n for n, f in FORMATS.items() if f.capabilities.text}
    assert {"csv", "json", "ndjson"} <= text
    assert "parquet" not in text
    assert "ipc" not in text
    assert capabilities_of("jsonl") is FORMATS["ndjson"].capabilities  # aliases too
    assert capabilities_of("no-such-format") is NOTHING
    assert capabilities_of(None) is NOTHING
