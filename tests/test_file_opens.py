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


def _dataset(root: Path, *, hive: bool, schema: bool = True) -> Path:
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
            """
        )
        + (_SCHEMA if schema else ""),
        encoding="utf-8",
    )
    return data


_SCHEMA = """
  schema:
    columns:
      a: {type: int64}
      b: {type: object}
"""


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


def test_a_read_without_a_schema_opens_each_file_once(tmp_path: Path) -> None:
    # every column is read: each file's footer and data through one open handle
    data = _dataset(tmp_path, hive=False, schema=False)
    opened = _opens(tmp_path, data)
    assert len(opened) == FILES
    assert sorted(set(opened.values())) == [1], opened.most_common(3)


def test_a_hive_dataset_read_opens_each_file_once(tmp_path: Path) -> None:
    # the first file is read through the handle its footer was read from, its partition
    # values added from its folders
    data = _dataset(tmp_path, hive=True)
    opened = _opens(tmp_path, data)
    assert len(opened) == FILES
    assert sorted(set(opened.values())) == [1], opened.most_common(3)


@pytest.mark.parametrize(
    "first",
    ["day=1/city=oslo/at=2024-01-02", "day=1/city=new%20york/at=2024-01-02"],
    ids=["plain", "percent-encoded"],
)
def test_a_hive_file_read_by_its_handle_has_the_partition_values_of_its_path(
    tmp_path: Path, first: str
) -> None:
    import dynio

    data = tmp_path / "data"
    folders = [first, "day=4/city=rome/at=2024-02-03", "day=12/city=lima/at=2025-12-31"]
    for i, folder in enumerate(folders):
        (data / folder).mkdir(parents=True)
        pl.DataFrame({"a": [i, i + 10], "x": [0.5 * i, None]}).write_parquet(
            data / folder / "part.parquet"
        )
    (tmp_path / "r.yaml").write_text(
        textwrap.dedent(
            f"""
            things:
              local:
                type: local_batch
                local_batch: {{path_prefix: "{data}/", file_type: parquet}}
              schema:
                columns:
                  a: {{type: int64}}
                  x: {{type: float64}}
                  day: {{type: int64}}
                  city: {{type: object}}
                  at: {{type: "datetime64[ns]"}}
            """
        ),
        encoding="utf-8",
    )
    # the file read first is the first of the sorted listing
    assert sorted(folders)[0] == first
    cat = dynio.Catalog.from_yaml(tmp_path / "r.yaml", env="local")
    got = cat.read_polars("things").sort("a")
    polars_own = (
        pl.scan_parquet(data / "**" / "*.parquet", hive_partitioning=True)
        .select("a", "x", "day", "city", pl.col("at").cast(pl.Datetime("ns")))
        .collect()
        .sort("a")
    )
    assert got.equals(polars_own), (got, polars_own)
