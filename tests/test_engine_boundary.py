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
