"""The documentation site's examples: every YAML example loads, the tutorial runs as written."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import dynio

DOCS = Path(__file__).resolve().parent.parent / "docs"
EXAMPLES = DOCS / "examples"


def _blocks(page: Path, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", page.read_text(), flags=re.M | re.S)


def _catalogs() -> list[Path]:
    return sorted(p for p in EXAMPLES.rglob("*.yaml") if "schemas" not in p.parts)


@pytest.mark.parametrize("path", _catalogs(), ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_every_yaml_example_loads_in_every_environment(path: Path, tmp_path: Path) -> None:
    text = path.read_text()
    names = set(re.findall(r"\[\[\s*([A-Za-z_][A-Za-z0-9_]*)", text))
    variables = {name: f"{tmp_path}/{name.lower()}" for name in names}
    for env in sorted(set(re.findall(r"^  ([a-z_]+):\n", text, flags=re.M)) - {"schema"}):
        cat = dynio.Catalog.from_yaml(path, env=env, vars=variables)
        for name in cat.resources:
            cat.resource(name).spec  # noqa: B018 - resolving the environment checks it


def test_the_tutorial_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = DOCS / "getting-started.md"
    work = tmp_path / "tutorial"
    shutil.copytree(EXAMPLES / "tutorial", work)
    monkeypatch.chdir(work)
    scope: dict[str, object] = {"__name__": "tutorial"}
    for block in _blocks(page, "python"):
        exec(compile(block, str(page), "exec"), scope)
    for block in _blocks(page, "bash"):
        for line in block.splitlines():
            command = line.split("  #")[0].strip()
            if not command:
                continue
            argv = shlex.split(command)
            assert argv[0] == "dynio"
            done = subprocess.run(
                [sys.executable, "-m", "dynio", *argv[1:]],
                cwd=work,
                capture_output=True,
                text=True,
                env={**os.environ, "NO_COLOR": "1"},
                check=False,
            )
            assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"


def test_every_page_is_in_the_navigation() -> None:
    nav = (DOCS.parent / "mkdocs.yml").read_text()
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md") if "examples" not in p.parts}
    missing = sorted(p for p in pages if p not in nav)
    assert not missing, f"pages not in mkdocs.yml's nav: {missing}"


def _module_from(code: str, name: str) -> object:
    import types

    module = types.ModuleType(name)
    sys.modules[name] = module
    exec(compile(code, f"CONTRIBUTING.md:{name}", "exec"), module.__dict__)
    return module


def test_the_contributing_guides_examples_work(tmp_path: Path) -> None:
    from dynio.engine import formats
    from dynio.engine.sources import unregister_kind

    guide = DOCS.parent / "CONTRIBUTING.md"
    python = _blocks(guide, "python")
    kind_code = next(b for b in python if "register_kind(" in b)
    format_code = next(b for b in python if "register_format(" in b)
    _module_from(kind_code.replace("__name__", '"dynio_jsonbox_doc"'), "dynio_jsonbox_doc")
    try:
        (tmp_path / "resources.yaml").write_text(
            _blocks(guide, "yaml")[0]
            + "  schema:\n    name: scores\n    columns:\n      player: {type: str}\n"
            + "      score: {type: int16}\n"
        )
        (tmp_path / "scores.jsonl").write_text('{"player": "ann", "score": 3}\n')
        cat = dynio.Catalog.from_yaml(tmp_path / "resources.yaml", env="test")
        df = cat.read("scores")
        assert str(df["score"].dtype) == "int16"
        cat.write("scores", df.assign(score=7))
        assert cat.read("scores")["score"].tolist() == [7]
    finally:
        unregister_kind("jsonbox")
        sys.modules.pop("dynio_jsonbox_doc", None)
    _module_from(format_code, "dynio_tsv_doc")
    try:
        (tmp_path / "t.yaml").write_text(
            "t:\n  test:\n    type: local\n    local: {file_path: t.tsv, file_type: tsv}\n"
            "  schema:\n    name: t\n    columns:\n      a: {type: int64}\n      b: {type: str}\n"
        )
        (tmp_path / "t.tsv").write_text("a\tb\n1\tx y\n2\tz\n")
        cat = dynio.Catalog.from_yaml(tmp_path / "t.yaml", env="test")
        assert cat.read("t")["b"].tolist() == ["x y", "z"]
        cat.write("t", cat.read("t").assign(a=[5, 6]))
        assert (tmp_path / "t.tsv").read_text().splitlines()[1] == "5\tx y"
    finally:
        formats.FORMATS.pop("tsv", None)
        formats._BY_ALIAS.pop("tsv", None)
        sys.modules.pop("dynio_tsv_doc", None)
