"""The Python and shell blocks of the README and of the documentation site's pages run, so
neither can drift from what dynio does (the tutorial runs in its own folder: tests/test_docs.py).

Each block runs in a fresh process from a scratch folder holding a copy of ``configs/``, with the
running Python's ``dynio`` first on the ``PATH`` and the OpenTelemetry exporters set to ``none``
(no collector in tests). An HTML comment right after a block's closing fence can say
``<!-- doctest: skip: REASON -->`` (never run; the reason is required) or
``<!-- doctest: needs otel -->`` (run when the OpenTelemetry SDK is installed). The README
documents these markers in its Development section.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
_RUN = {"python": "python", "py": "python", "bash": "bash", "sh": "bash", "shell": "bash"}
_MARKER = re.compile(r"^<!--\s*doctest:\s*(.*?)\s*-->\s*$")
_NEEDS = {"otel": "opentelemetry.sdk"}


@dataclass(frozen=True)
class Block:
    """One fenced block: where it starts, its language, its text and its marker."""

    line: int
    lang: str
    code: str
    marker: str | None


def blocks(text: str) -> list[Block]:
    """Every fenced block of a Markdown text, with the doctest marker that follows it."""
    lines = text.splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        if lines[i].startswith("```"):
            lang = lines[i][3:].strip().split(" ")[0]
            end = i + 1
            while not lines[end].startswith("```"):
                end += 1
            after = lines[end + 1] if end + 1 < len(lines) else ""
            m = _MARKER.match(after)
            out.append(
                Block(i + 1, lang, "\n".join(lines[i + 1 : end]) + "\n", m.group(1) if m else None)
            )
            i = end + 1
        else:
            i += 1
    return out


DOCS = ROOT / "docs"
# pages whose blocks run here: the README and the site's pages (the API reference has none; the
# tutorial's blocks run in its own folder in tests/test_docs.py)
_SITE = sorted(
    p
    for p in DOCS.rglob("*.md")
    if "reference" not in p.parts and "examples" not in p.parts and p.name != "getting-started.md"
)
PAGES = [README, *_SITE]
RUNNABLE = [
    (page, b) for page in PAGES for b in blocks(page.read_text(encoding="utf-8")) if b.lang in _RUN
]


def test_the_readme_starts_with_the_two_set_up_commands() -> None:
    head = README.read_text(encoding="utf-8").splitlines()[:6]
    assert head[0] == "# dynio"
    assert head[2] == "```bash"
    assert head[3].startswith("pip install -e . && dynio demo ")
    assert head[4].startswith("bash .ci/install && python -m pytest ")
    assert head[5] == "```"


def test_links_stay_inside_the_repository() -> None:
    text = README.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)]+)\)", text):
        if target.startswith(("http://", "https://", "#")):
            continue
        assert not target.startswith(".."), target
        assert (ROOT / target.split("#")[0]).exists(), target
    assert "../shared" not in text


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_markers_are_known_and_give_reasons(page: Path) -> None:
    for block in blocks(page.read_text(encoding="utf-8")):
        if block.marker is None:
            continue
        if block.marker.startswith("skip"):
            assert re.match(r"skip:\s*\S", block.marker), f"line {block.line}: skip needs a reason"
        else:
            kind, _, name = block.marker.partition(" ")
            assert kind == "needs", f"line {block.line}: unknown marker {block.marker!r}"
            assert name in _NEEDS, f"line {block.line}: unknown need {name!r}"
    assert len(RUNNABLE) >= 4


@pytest.mark.parametrize(
    ("page", "block"),
    RUNNABLE,
    ids=[f"{p.relative_to(ROOT)}:{b.line}-{b.lang}" for p, b in RUNNABLE],
)
def test_readme_block_runs(page: Path, block: Block, tmp_path: Path) -> None:
    if block.marker and block.marker.startswith("skip"):
        pytest.skip(block.marker.partition(":")[2].strip())
    if block.marker and block.marker.startswith("needs"):
        pytest.importorskip(_NEEDS[block.marker.split()[1]])
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    env = {k: v for k, v in os.environ.items() if k != "DYNIO_ENV"}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    for signal in ("TRACES", "METRICS", "LOGS"):
        env[f"OTEL_{signal}_EXPORTER"] = "none"
    if _RUN[block.lang] == "python":
        argv = [sys.executable, "-c", block.code]
    else:
        argv = ["bash", "-euo", "pipefail", "-c", block.code]
    out = subprocess.run(
        argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    where = page.relative_to(ROOT)
    assert out.returncode == 0, f"{where} line {block.line}:\n{out.stdout}\n{out.stderr}"
