"""A third-party source kind works from YAML like a built-in one: register_kind and the
``dynio.sources`` entry-point group."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import dynio
from dynio.engine.errors import ConfigError
from dynio.engine.sources import (
    KINDS,
    Field,
    Scan,
    ScanRequest,
    SourceKind,
    WriteInfo,
    WriteRequest,
    register_kind,
    unregister_kind,
)
from dynio.engine.spec import SourceSpec

# -- the kind: rows kept as JSON lines in one text file ("jsonbox"), this module serving it ----


def scan(spec: SourceSpec, request: ScanRequest) -> Scan:
    path = Path(spec.base_dir or ".") / spec.settings["box"]
    rows = [json.loads(line) for line in path.read_text().splitlines() if line]
    frame = pl.DataFrame(rows).lazy()
    return Scan(frame=frame, location=f"jsonbox:{spec.settings['box']}", format="jsonbox")


def write(frame: pl.DataFrame, spec: SourceSpec, request: WriteRequest) -> WriteInfo:
    path = Path(spec.base_dir or ".") / spec.settings["box"]
    path.write_text("".join(json.dumps(row) + "\n" for row in frame.to_dicts()))
    return WriteInfo(location=f"jsonbox:{spec.settings['box']}", rows=frame.height)


JSONBOX = SourceKind(
    "jsonbox",
    {"box": Field(str, required=True)},
    __name__,
    file_based=False,
    options=frozenset({"pretty"}),
)

CATALOG = """
scores:
  test:
    type: jsonbox
    jsonbox: {box: scores.jsonl}
  schema:
    name: scores
    columns:
      player: {type: str, validations: {has_unique_values: {apply: true}}}
      score:
        type: int32
        validations: {is_greater_than_or_equal: {apply: true, options: {threshold: 0}}}
"""


@pytest.fixture
def jsonbox() -> Any:
    register_kind(JSONBOX)
    yield JSONBOX
    unregister_kind("jsonbox")


def test_a_registered_kind_reads_and_writes_with_casts_and_rules(
    jsonbox: Any, tmp_path: Path
) -> None:
    (tmp_path / "resources.yaml").write_text(CATALOG)
    (tmp_path / "scores.jsonl").write_text(
        '{"player": "ann", "score": 3}\n{"player": "bob", "score": 5}\n'
    )
    cat = dynio.Catalog.from_yaml(tmp_path / "resources.yaml", env="test")
    df = cat.read("scores")
    assert df["score"].dtype == "int32"
    assert df["player"].tolist() == ["ann", "bob"]
    assert cat.read_result("scores").info.location == "jsonbox:scores.jsonl"
    cat.write("scores", df.assign(score=df["score"] * 2))
    assert cat.read("scores")["score"].tolist() == [6, 10]
    with pytest.raises(dynio.DynioError, match="has_unique_values"):
        cat.write("scores", df.assign(player="ann"))
    assert cat.read("scores")["score"].tolist() == [6, 10]  # nothing written


def test_its_section_is_checked_at_load_like_a_builtin(jsonbox: Any, tmp_path: Path) -> None:
    (tmp_path / "resources.yaml").write_text(
        CATALOG.replace("box: scores.jsonl", "boxx: scores.jsonl")
    )
    with pytest.raises(ConfigError, match="boxx"):
        dynio.Catalog.from_yaml(tmp_path / "resources.yaml", env="test").read("scores")


def test_names_are_guarded(jsonbox: Any) -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_kind(JSONBOX)
    register_kind(JSONBOX, replace=True)
    with pytest.raises(ValueError, match="built-in"):
        register_kind(SourceKind("local", {}, __name__))
    with pytest.raises(ValueError, match="built-in"):
        unregister_kind("postgres")
    with pytest.raises(ValueError, match="lower case"):
        register_kind(SourceKind("Json Box", {}, __name__))
    assert "jsonbox" in KINDS


def test_an_unregistered_kind_is_unknown(tmp_path: Path) -> None:
    (tmp_path / "resources.yaml").write_text(CATALOG)
    with pytest.raises(ConfigError, match="unknown source type 'jsonbox'"):
        dynio.Catalog.from_yaml(tmp_path / "resources.yaml", env="test").read("scores")


def test_an_entry_point_registers_a_kind_in_a_users_process(tmp_path: Path) -> None:
    """A package installed with a ``dynio.sources`` entry point: no import by the user."""
    plugin = tmp_path / "site" / "dynio_jsonbox.py"
    plugin.parent.mkdir()
    plugin.write_text(
        textwrap.dedent(
            """
            import polars as pl
            from dynio.engine.sources import Field, Scan, SourceKind

            def scan(spec, request):
                rows = (spec.base_dir or ".") + "/" + spec.settings["box"]
                return Scan(frame=pl.read_ndjson(rows).lazy(), location="jsonbox")

            def write(frame, spec, request):
                raise NotImplementedError("read-only box")

            JSONBOX = SourceKind("jsonbox", {"box": Field(str, required=True)}, __name__,
                                 file_based=False, options=frozenset())
            """
        )
    )
    info = tmp_path / "site" / "dynio_jsonbox-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: dynio-jsonbox\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[dynio.sources]\njsonbox = dynio_jsonbox:JSONBOX\n")
    (tmp_path / "resources.yaml").write_text(CATALOG)
    (tmp_path / "scores.jsonl").write_text('{"player": "ann", "score": 3}\n')
    code = textwrap.dedent(
        f"""
        import dynio
        cat = dynio.Catalog.from_yaml({str(tmp_path / "resources.yaml")!r}, env="test")
        print(cat.read("scores")["score"].tolist())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(plugin.parent), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[3]"
