"""Third-party source kinds keep the same promises as the built-in ones: a kind defined here and
registered with :func:`register_kind`, and a kind from a small installed distribution found
through the ``dynio.sources`` entry-point group, both pass :class:`SourceContract` from YAML."""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import dynio
from dynio.engine import sources
from dynio.engine.errors import ReadError
from dynio.engine.placeholders import fill_template
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
from dynio.testing.contract import Capabilities, Place, SourceContract

# -- "jsonbox": rows as JSON lines in one file; this module serves it ------------------------


def _box(spec: SourceSpec, args: Any, context: dict[str, Any]) -> Path:
    box = fill_template(str(spec.settings["box"]), args, {**context, "key_path": "jsonbox.box"})
    return Path(spec.base_dir or ".") / box


def scan(spec: SourceSpec, request: ScanRequest) -> Scan:
    path = _box(spec, request.template_args, request.context)
    try:
        frame = pl.read_ndjson(path, schema_overrides=dict(request.hints.dtypes))
    except FileNotFoundError as exc:
        raise ReadError(f"no box at {path}", file=str(path), **request.context) from exc
    return Scan(frame=frame.lazy(), location=f"jsonbox:{path.name}", format="jsonbox")


def write(frame: pl.DataFrame, spec: SourceSpec, request: WriteRequest) -> WriteInfo:
    path = _box(spec, request.template_args, request.context)
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    frame.write_ndjson(staged)
    os.replace(staged, path)  # whole or not at all
    return WriteInfo(location=f"jsonbox:{path.name}", rows=frame.height, bytes=path.stat().st_size)


JSONBOX = SourceKind("jsonbox", {"box": Field(str, required=True)}, __name__, file_based=False)


class BoxPlace(Place):
    """A box per resource, next to the catalog's YAML (relative paths resolve there)."""

    def __init__(self, kind: str, suffix: str) -> None:
        self.kind, self.suffix = kind, suffix

    def env(self, name: str, *, template: bool = False) -> dict[str, Any]:
        box = f"{name}-{{day}}.{self.suffix}" if template else f"{name}.{self.suffix}"
        return {"type": self.kind, self.kind: {"box": box}}


class TestRegisteredKind(SourceContract):
    capabilities = Capabilities()

    @pytest.fixture
    def place(self) -> Iterator[Place]:
        register_kind(JSONBOX)
        try:
            yield BoxPlace("jsonbox", "jsonl")
        finally:
            unregister_kind("jsonbox")


# -- "ipcbox": a distribution installed into a site folder, with a dynio.sources entry point --

PLUGIN = '''
"""Frames kept as Arrow IPC files: a dynio source kind from outside dynio."""
import os
import uuid
from pathlib import Path

import polars as pl
from dynio.engine.errors import ReadError
from dynio.engine.placeholders import fill_template
from dynio.engine.sources import Field, Scan, SourceKind, WriteInfo


def _box(spec, args, context):
    box = fill_template(str(spec.settings["box"]), args, {**context, "key_path": "ipcbox.box"})
    return Path(spec.base_dir or ".") / box


def scan(spec, request):
    path = _box(spec, request.template_args, request.context)
    if not path.is_file():
        raise ReadError(f"no box at {path}", file=str(path), **request.context)
    return Scan(frame=pl.scan_ipc(path), location=f"ipcbox:{path.name}", format="ipc")


def write(frame, spec, request):
    path = _box(spec, request.template_args, request.context)
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    frame.write_ipc(staged)
    os.replace(staged, path)
    return WriteInfo(location=f"ipcbox:{path.name}", rows=frame.height)


KIND = SourceKind("ipcbox", {"box": Field(str, required=True)}, __name__, file_based=False)
'''


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``dynio-ipcbox`` installed into a fresh site folder put on ``sys.path``, the way an
    installer lays a distribution out (module, ``.dist-info`` with ``entry_points.txt``), and
    the registry made to read the entry points of this process again."""
    site = tmp_path_factory.mktemp("site")
    (site / "dynio_ipcbox.py").write_text(textwrap.dedent(PLUGIN))
    info = site / "dynio_ipcbox-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: dynio-ipcbox\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[dynio.sources]\nipcbox = dynio_ipcbox:KIND\n")
    (info / "RECORD").write_text("dynio_ipcbox.py,,\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(site))
        mp.setattr(sources, "_entry_points_loaded", [])  # as in a new process
        try:
            yield site
        finally:
            unregister_kind("ipcbox")
            sys.modules.pop("dynio_ipcbox", None)
    importlib.invalidate_caches()


def test_the_entry_point_is_found_by_importlib_metadata(installed_plugin: Path) -> None:
    points = importlib.metadata.entry_points(group="dynio.sources")
    assert [p.value for p in points if p.name == "ipcbox"] == ["dynio_ipcbox:KIND"]
    assert importlib.metadata.version("dynio-ipcbox") == "1.0"


def test_an_entry_point_kind_works_from_yaml_unimported(
    installed_plugin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unregister_kind("ipcbox")  # as in a new process: nothing registered, nothing imported
    monkeypatch.delitem(sys.modules, "dynio_ipcbox", raising=False)
    monkeypatch.setattr(sources, "_entry_points_loaded", [])
    assert "ipcbox" not in KINDS
    (tmp_path / "c.yaml").write_text(
        "scores:\n  test:\n    type: ipcbox\n    ipcbox: {box: scores.arrow}\n"
        "  schema:\n    columns:\n      n: {type: int32}\n"
    )
    cat = dynio.Catalog.from_yaml(tmp_path / "c.yaml", env="test", strict=True)
    cat.write("scores", pl.DataFrame({"n": [3, 1]}))
    assert cat.read("scores")["n"].tolist() == [3, 1]
    assert str(cat.read("scores")["n"].dtype) == "int32"
    assert KINDS["ipcbox"].module == "dynio_ipcbox"
    assert "dynio_ipcbox" in sys.modules  # imported by dynio, through the entry point


class TestEntryPointKind(SourceContract):
    capabilities = Capabilities()

    @pytest.fixture
    def place(self, installed_plugin: Path) -> Place:
        return BoxPlace("ipcbox", "arrow")
