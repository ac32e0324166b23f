"""A multi-file read opens each file once: its footer is read once per read.

The opens are counted by the kernel's side, not Python's: the read runs in a child process
under ``strace -f -e trace=openat,open,openat2`` (installed by ``.ci/install.d/15-strace.sh``),
so the opens of Polars' and pyarrow's native threads count as much as Python's own ``open``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import polars as pl
import pytest

FILES = 50

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="strace is Linux's")

_OPEN = re.compile(r'open(?:at|at2)?\((?:AT_FDCWD, )?"([^"]+)"[^)]*\)\s*=\s*(\d+)')


def _dataset(root: Path, *, hive: bool) -> Path:
    data = root / "data"
    for i in range(FILES):
        folder = data / f"day={i % 5}" if hive else data
        folder.mkdir(parents=True, exist_ok=True)
        frame = pl.DataFrame({"a": list(range(i * 10, i * 10 + 10)), "b": [f"x{i}"] * 10})
        frame.write_parquet(folder / f"part-{i:03d}.parquet")
    (root / "resources.yaml").write_text(
        textwrap.dedent(
            f"""
            things:
              local:
                type: local_batch
                local_batch: {{path_prefix: "{data}/", file_type: parquet}}
              schema:
                columns:
                  a: {{type: int64}}
                  b: {{type: object}}
            """
        ),
        encoding="utf-8",
    )
    return data


def _opens(root: Path, data: Path) -> Counter[str]:
    """How often each data file was opened by a child process reading the dataset."""
    strace = shutil.which("strace")
    assert strace is not None, "strace is missing: run .ci/install.d/15-strace.sh"
    child = textwrap.dedent(
        f"""
        import dynio
        cat = dynio.Catalog.from_yaml({str(root / "resources.yaml")!r}, env="local")
        frame = cat.read("things")
        assert len(frame) == {FILES * 10}, len(frame)
        """
    )
    trace = root / "trace.txt"
    # -ff: one file per thread, so no call is split over "unfinished"/"resumed" lines
    command = [strace, "-ff", "-qq", "-e", "trace=openat,open,openat2", "-o", str(trace)]
    subprocess.run(
        [*command, sys.executable, "-c", child],
        check=True,
        timeout=600,
    )
    opened: Counter[str] = Counter()
    lines = [
        line
        for part in sorted(root.glob("trace.txt.*"))
        for line in part.read_text(encoding="utf-8", errors="replace").splitlines()
    ]
    assert lines, "strace wrote nothing"
    for line in lines:
        found = _OPEN.search(line)
        if found and found.group(1).startswith(str(data)) and found.group(1).endswith(".parquet"):
            opened[found.group(1)] += 1
    return opened


def test_a_dataset_read_opens_each_file_once(tmp_path: Path) -> None:
    data = _dataset(tmp_path, hive=False)
    opened = _opens(tmp_path, data)
    assert len(opened) == FILES  # every file was seen opening: the count is real
    assert sorted(set(opened.values())) == [1], opened.most_common(3)


def test_a_hive_dataset_read_opens_every_file_but_the_first_once(tmp_path: Path) -> None:
    # a hive file is read by its path (its folders give the partition values), so the first
    # file's footer is read once to plan and again to read; Polars' hive scan itself opens its
    # first file once more (Polars 2.1)
    data = _dataset(tmp_path, hive=True)
    opened = _opens(tmp_path, data)
    assert len(opened) == FILES
    first = str(data / "day=0" / "part-000.parquet")
    assert opened.pop(first) <= 3
    assert sorted(set(opened.values())) == [1], opened.most_common(3)
