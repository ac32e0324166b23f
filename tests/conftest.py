"""Shared fixtures: write YAML catalogs and data into a temporary folder and load them."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import dynio

# Service fixtures (S3 server, Postgres, OTLP receivers…) live one module each in
# tests/fixtures/ and are loaded here, so every test module can use them.
pytest_plugins = sorted(
    f"fixtures.{p.stem}"
    for p in (Path(__file__).parent / "fixtures").glob("*.py")
    if p.stem != "__init__"
)


def write_text(path: Path, text: str) -> Path:
    """Write dedented text to ``path`` (creating folders) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


@pytest.fixture
def catalog_from(tmp_path: Path) -> Callable[..., dynio.Catalog]:
    """Build a catalog from YAML text written to ``tmp_path/resources.yaml``.

    Usage: ``cat = catalog_from(yaml_text, env="local", vars={...})``. Relative paths in the
    YAML resolve against ``tmp_path``. Loads strictly (every problem raised at once) unless
    ``strict=False``.
    """

    def make(
        text: str,
        env: str = "local",
        vars: Any = None,
        name: str = "resources.yaml",
        strict: bool = True,
    ) -> dynio.Catalog:
        path = write_text(tmp_path / name, text)
        return dynio.Catalog.from_yaml(path, env=env, vars=vars, strict=strict)

    return make
