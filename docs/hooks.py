"""MkDocs hook: lay out the ``dynio`` package as installed, for the API reference.

The distribution maps ``facade/`` to ``dynio`` and ``engine/`` to ``dynio.engine``; the reference
generator reads sources statically, so this builds a tree of links with the installed layout
under ``build/docs-src`` (as ``.ci/typecheck`` does for mypy) before the build starts.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def on_startup(command: str, dirty: bool, **kwargs: Any) -> None:
    tree = ROOT / "build" / "docs-src" / "dynio"
    if tree.parent.exists():
        shutil.rmtree(tree.parent)
    tree.mkdir(parents=True)
    for item in (ROOT / "facade").iterdir():
        (tree / item.name).symlink_to(item)
    (tree / "engine").symlink_to(ROOT / "engine")
