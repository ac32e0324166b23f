"""dynio.engine imports nothing from the facade (checked over the whole package's AST)."""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parent.parent / "engine"


def test_the_engine_imports_nothing_from_the_facade() -> None:
    offenders = []
    for path in sorted(ENGINE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                if (name == "dynio" or name.startswith("dynio.")) and not (
                    name == "dynio.engine" or name.startswith("dynio.engine.")
                ):
                    offenders.append(f"{path.relative_to(ENGINE.parent)}:{node.lineno} {name}")
    assert offenders == []


def _imports(path: Path) -> set[str]:
    """Every ``dynio.engine`` module a file imports (at the top or inside a function)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_local_files_and_duckdb_do_not_import_each_other() -> None:
    # ``engine: duckdb`` on a file kind is chosen by the registry (SourceKind.engines), so the
    # local source hands nothing to DuckDB; DuckDB's file scan uses the local path helpers
    local = _imports(ENGINE / "sources" / "local.py")
    assert not {m for m in local if m.startswith("dynio.engine.sources.duckdb")}
    duck = _imports(ENGINE / "sources" / "duckdb.py")
    assert "dynio.engine.sources.local" in duck
