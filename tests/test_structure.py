"""The package's structure stays as DESIGN promises: no import cycles in ``dynio.engine``, the
engine imports nothing from the facade, and no module over 600 lines nor function over 80 lines
in ``engine/`` and ``facade/`` (read from the source's AST, nothing imported).

Import edges: every ``import``/``from ... import`` in a module, at module level or inside a
function (an import deferred into a function for lazy loading still makes the module depend on
the other: the cycle is only hidden until that function runs). Imports under
``if TYPE_CHECKING:`` are not edges: they never run. ``from package import name`` is an edge to
``package.name`` when that is a module, else to ``package`` itself. Importing ``a.b.c`` also
runs ``a.b``'s ``__init__``; that implicit edge is not counted, or every package whose
``__init__`` names its submodules' classes would be a cycle by construction.
"""

from __future__ import annotations

import ast
import functools
import graphlib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENGINE = ROOT / "engine"
FACADE = ROOT / "facade"

MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    parts[0] = {"engine": "dynio.engine", "facade": "dynio"}[parts[0]]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(top: Path) -> dict[str, Path]:
    return {_module_name(p, top.parent): p for p in sorted(top.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, skipping the bodies of ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for other in node.orelse:
                yield from _imports(other)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _imports(node)


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    if node.level:
        package = module if is_package else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}" if base else package
    return [base, *(f"{base}.{a.name}" for a in node.names)]


def import_graph(top: Path) -> dict[str, set[str]]:
    """Modules of ``top`` and the modules of ``top`` each imports (see the module docstring)."""
    modules = _modules(top)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in _imports(tree):
            targets = _targets(node, name, path.name == "__init__.py")
            if isinstance(node, ast.ImportFrom):
                base, *names = targets
                found = [t for t in names if t in modules] or ([base] if base in modules else [])
            else:
                found = [t for t in targets if t in modules]
            graph[name].update(t for t in found if t != name)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        return list(exc.args[1])
    return None


def test_the_engine_has_no_import_cycles() -> None:
    graph = import_graph(ENGINE)
    assert sum(map(len, graph.values())) > 50  # the walk found the engine's imports
    cycle = _cycle(graph)
    assert cycle is None, f"import cycle: {' -> '.join(cycle or [])}"


def test_the_graph_sees_deferred_imports_and_skips_type_checking(tmp_path: Path) -> None:
    pkg = tmp_path / "engine"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from dynio.engine import b\n")
    (pkg / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from dynio.engine import a\n"
        "from .sub import c\n"
    )
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "c.py").write_text("from ..a import f\n")
    graph = import_graph(pkg)
    assert graph == {
        "dynio.engine": set(),
        "dynio.engine.a": {"dynio.engine.b"},
        "dynio.engine.b": {"dynio.engine.sub.c"},
        "dynio.engine.sub": set(),
        "dynio.engine.sub.c": {"dynio.engine.a"},
    }
    with pytest.raises(graphlib.CycleError):
        tuple(graphlib.TopologicalSorter(graph).static_order())


# ------------------------------------------------------------------------------------- sizes


@functools.cache
def oversized() -> dict[str, int]:
    """Modules over :data:`MAX_MODULE_LINES` and functions over :data:`MAX_FUNCTION_LINES`
    (``def`` line to last line) in engine/ and facade/, with their lengths."""
    found: dict[str, int] = {}
    for top in (ENGINE, FACADE):
        for path in sorted(top.rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            text = path.read_text(encoding="utf-8")
            lines = len(text.splitlines())
            if lines > MAX_MODULE_LINES:
                found[rel] = lines
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    length = (node.end_lineno or node.lineno) - node.lineno + 1
                    if length > MAX_FUNCTION_LINES:
                        found[f"{rel}:{node.name}()"] = length
    return found


def test_no_oversized_module_or_function() -> None:
    found = oversized()
    assert found == {}, (
        f"over {MAX_MODULE_LINES} lines per module / {MAX_FUNCTION_LINES} per function: split them"
    )
