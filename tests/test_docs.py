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
    from dynio.engine.io.formats import unregister_format
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
        unregister_format("tsv")
        sys.modules.pop("dynio_tsv_doc", None)


def _sample_value(name: str, tmp_path: Path) -> str:
    """A plausible value for a ``[[ VAR ]]`` of an example, by its name."""
    upper = name.upper()
    if "BROKER" in upper or "KAFKA" in upper:
        return "127.0.0.1:9092"
    if "PORT" in upper:
        return "5432"
    if "URI" in upper or "DSN" in upper:
        return "postgresql://user@127.0.0.1:5432/db"
    if "HOST" in upper:
        return "127.0.0.1"
    if "BUCKET" in upper:
        return "example-bucket"
    return f"{tmp_path}/{name.lower()}"


def _yaml_blocks() -> list[tuple[str, int, str]]:
    out = []
    pages = [DOCS.parent / "README.md", *sorted(DOCS.rglob("*.md"))]
    for page in pages:
        if "reference" in page.parts:
            continue
        lines = page.read_text().splitlines()
        i = 0
        while i < len(lines):
            if lines[i].strip() == "```yaml":
                indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
                end = i + 1
                while lines[end].strip() != "```":
                    end += 1
                marker = lines[end + 1].strip() if end + 1 < len(lines) else ""
                if "yaml: fragment" not in marker:
                    body = [line.removeprefix(indent) for line in lines[i + 1 : end]]
                    out.append((str(page.relative_to(DOCS.parent)), i + 1, "\n".join(body)))
                i = end + 1
            else:
                i += 1
    return out


YAML_BLOCKS = _yaml_blocks()


@pytest.mark.parametrize(
    ("page", "line", "text"), YAML_BLOCKS, ids=[f"{p}:{n}" for p, n, _ in YAML_BLOCKS]
)
def test_every_yaml_example_of_the_pages_loads(
    page: str, line: int, text: str, tmp_path: Path
) -> None:
    """A catalog example loads in each of its environments; a schema example parses. Blocks that
    are a piece of a file (an ``options:`` excerpt) say so with ``<!-- yaml: fragment -->``."""
    import yaml

    from dynio.engine.loader import parse_schema

    if text.lstrip().startswith("--8<--"):
        pytest.skip("a file included from docs/examples, loaded by the tests above")
    doc = yaml.safe_load(text)
    assert isinstance(doc, dict), f"{page}:{line}: not a mapping; mark it <!-- yaml: fragment -->"
    if "columns" in doc:
        parse_schema(doc)
        return
    names = set(re.findall(r"\[\[\s*([A-Za-z_][A-Za-z0-9_]*)", text))
    variables = {name: _sample_value(name, tmp_path) for name in names}
    for body in doc.values():  # schema files the example refers to: a minimal one each
        ref = body.get("schema") if isinstance(body, dict) else None
        if isinstance(ref, dict) and isinstance(ref.get("file_path"), str):
            schema = tmp_path / ref["file_path"]
            schema.parent.mkdir(parents=True, exist_ok=True)
            schema.write_text("name: example\ncolumns:\n  id: {type: int64}\n")
    envs = {
        env
        for name, body in doc.items()
        if name != "credentials" and isinstance(body, dict)
        for env, spec in body.items()
        if isinstance(spec, dict) and "type" in spec
    }
    assert envs, f"{page}:{line}: no resource with an environment; mark it <!-- yaml: fragment -->"
    (tmp_path / "resources.yaml").write_text(text)
    for env in sorted(envs):
        dynio.Catalog.from_yaml(tmp_path / "resources.yaml", env=env, vars=variables, strict=True)
