"""A CSV or NDJSON file appended to by another process while dynio reads it (issue 20).

A child process appends rows, each in two writes with a pause between, so a reader that does
not check the file sees cut last rows. Every read must return whole rows only (a prefix of the
rows appended, each exactly as written) or raise a dynio error; never a cut row.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
import yaml

import dynio
from dynio.engine.errors import DynioError

CatalogFrom = Callable[..., dynio.Catalog]

_PAYLOAD = 120  # characters in each row's payload: a cut row is shorter


def _row(i: int, fmt: str) -> str:
    payload = f"{i:08d}" + "x" * (_PAYLOAD - 8)
    if fmt == "csv":
        return f"{i},{payload}\n"
    return json.dumps({"id": i, "payload": payload}) + "\n"


_APPENDER = r"""
import sys, time, json
path, fmt, start, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
PAYLOAD = 120
def row(i):
    payload = f"{i:08d}" + "x" * (PAYLOAD - 8)
    return f"{i},{payload}\n" if fmt == "csv" else json.dumps({"id": i, "payload": payload}) + "\n"
end = time.time() + seconds
i = start
with open(path, "a", buffering=1) as f:
    while time.time() < end:
        text = row(i)
        half = len(text) // 2
        f.write(text[:half]); f.flush()
        time.sleep(0.0005)  # half a row on disk: a reader that does not check sees it cut
        f.write(text[half:]); f.flush()
        i += 1
print(i)
"""


@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
@pytest.mark.parametrize("schema", [True, False])
def test_reads_racing_an_appending_process_never_see_a_cut_row(
    tmp_path: Path, catalog_from: CatalogFrom, fmt: str, schema: bool
) -> None:
    path = tmp_path / f"grow.{fmt}"
    start = 3000
    header = "id,payload\n" if fmt == "csv" else ""
    path.write_text(header + "".join(_row(i, fmt) for i in range(start)))
    body: dict[str, object] = {"local": {"type": "local", "local": {"file_path": path.name}}}
    if schema:
        body["schema"] = {"columns": {"id": "int64", "payload": "str"}}
    cat = catalog_from(yaml.safe_dump({"grow": body}))
    child = subprocess.Popen(
        [sys.executable, "-c", _APPENDER, str(path), fmt, str(start), "2"],
        stdout=subprocess.PIPE,
        text=True,
    )
    reads = errors = 0
    sizes = set()
    try:
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline or reads < 5:
            try:
                frame = cat.read_polars("grow")
            except DynioError:
                errors += 1
                continue
            reads += 1
            n = frame.height
            sizes.add(n)
            assert n >= start
            ids = frame["id"].cast(pl.Int64).to_list()
            assert ids == list(range(n)), "rows missing or out of order"
            payloads = frame["payload"].to_list()
            want = [f"{i:08d}" + "x" * (_PAYLOAD - 8) for i in range(n)]
            bad = [i for i, (got, exp) in enumerate(zip(payloads, want, strict=True)) if got != exp]
            assert not bad, f"cut or changed row(s) at {bad[:3]}: {payloads[bad[0]]!r}"
    finally:
        out, _ = child.communicate(timeout=60)
    appended = int(out.strip()) - start
    assert appended > 100  # the appender really ran while the reads did
    assert reads >= 5
    assert len(sizes) > 1 or errors > 0  # reads saw the file grow (or were refused meanwhile)
    final = cat.read_polars("grow")
    assert final.height == start + appended
