"""Partitioned writes to object stores are all or nothing (moto's S3 on loopback).

A writer process is killed at many points of a partitioned overwrite; after each kill a reader
sees the whole old dataset or the whole new one, never a mix. A killed commit is finished by the
next write, leftovers of killed writers (staging prefixes, unfinished multipart uploads) are
removed by the next write once old enough, and ``dynio gc`` does the same for a whole catalog.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from fixtures.objectstores import Bucket

import dynio
from dynio.engine.io.layout import commits

PARTS = 24
ROWS = 5


def _frame(version: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "part": pd.Series(
                [f"p{k:02d}" for k in range(PARTS) for _ in range(ROWS)], dtype="str"
            ),
            "i": pd.Series(range(PARTS * ROWS), dtype="int64"),
            "version": pd.Series([version] * (PARTS * ROWS), dtype="int64"),
        }
    )


def _catalog(s3: Bucket, tmp_path: Path) -> Path:
    body = {
        "ds": {
            "env": {
                "type": "s3_path_prefix",
                "s3": {"bucket": s3.name, "path_prefix": "ds/", "file_type": "parquet"},
                "options": {
                    "storage_options": dict(s3.storage_options),
                    "partition_cols": ["part"],
                },
            },
            "schema": {"columns": {"part": "str", "i": "int64", "version": "int64"}},
        }
    }
    path = tmp_path / "resources.yaml"
    path.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    return path


_WRITER = """
import sys, time
import pandas as pd
import dynio
version = int(sys.argv[2])
parts, rows = {parts}, {rows}
frame = pd.DataFrame({{
    "part": pd.Series([f"p{{k:02d}}" for k in range(parts) for _ in range(rows)], dtype="str"),
    "i": pd.Series(range(parts * rows), dtype="int64"),
    "version": pd.Series([version] * (parts * rows), dtype="int64"),
}})
cat = dynio.Catalog.from_yaml(sys.argv[1], env="env")
print("start", flush=True)
began = time.monotonic()
cat.write("ds", frame)
print("done", time.monotonic() - began, flush=True)
"""


def _writer(config: Path, version: int) -> subprocess.Popen[str]:
    code = _WRITER.format(parts=PARTS, rows=ROWS)
    return subprocess.Popen(
        [sys.executable, "-c", code, str(config), str(version)],
        stdout=subprocess.PIPE,
        text=True,
    )


def _versions(config: Path) -> set[int]:
    cat = dynio.Catalog.from_yaml(config, env="env")
    got = cat.read("ds")
    assert len(got) == PARTS * ROWS, "a partition is missing or doubled"
    assert sorted(got["part"].unique()) == [f"p{k:02d}" for k in range(PARTS)]
    return set(got["version"].tolist())


def test_a_killed_partitioned_write_leaves_all_old_or_all_new(s3: Bucket, tmp_path: Path) -> None:
    config = _catalog(s3, tmp_path)
    first = _writer(config, 1)
    out, _ = first.communicate(timeout=300)
    assert first.returncode == 0
    took = float(out.split()[-1])
    committed = 1
    seen_new = seen_old = 0
    for attempt, fraction in enumerate([0.05, 0.2, 0.35, 0.5, 0.6, 0.7, 0.8, 0.9, 0.97, 1.1]):
        version = attempt + 2
        proc = _writer(config, version)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "start"
        time.sleep(took * fraction)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        proc.stdout.close()
        found = _versions(config)
        assert found in ({committed}, {version}), (fraction, found)
        if found == {version}:
            committed, seen_new = version, seen_new + 1
        else:
            seen_old += 1
    assert seen_old
    assert seen_new


def test_a_pending_commit_is_read_as_the_new_dataset_and_finished_by_the_next_write(
    s3: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _catalog(s3, tmp_path)
    cat = dynio.Catalog.from_yaml(config, env="env")
    cat.write("ds", _frame(1))
    # what a writer killed just after its commit point leaves: staged objects and the record
    staged = {f"part=p{k:02d}/part-00000.parquet": _frame(2).iloc[k * ROWS : (k + 1) * ROWS]
              for k in range(PARTS)}  # fmt: skip
    for rel, part in staged.items():
        s3.put(f"ds.dynio-staging-killed/{rel}", part.drop(columns="part").to_parquet(index=False))
    record = {"staging": "killed", "files": sorted(staged), "append": False, "created": 0}
    s3.put(f"ds/{commits.RECORD}", json.dumps(record).encode())
    assert _versions(config) == {2}
    cat.write("ds", _frame(3))
    assert _versions(config) == {3}
    keys = s3.keys("")
    assert f"ds/{commits.RECORD}" not in keys
    assert not [k for k in keys if "dynio-staging" in k]
    assert len([k for k in keys if k.startswith("ds/")]) == PARTS


def test_the_next_write_removes_old_leftovers_of_killed_writers(
    s3: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _catalog(s3, tmp_path)
    cat = dynio.Catalog.from_yaml(config, env="env")
    s3.put("ds.dynio-staging-old/part=p00/part-00000.parquet", b"left by a killed writer")
    upload = s3.fs.call_s3("create_multipart_upload", Bucket=s3.name, Key="ds/part=p01/x.parquet")
    other = s3.fs.call_s3("create_multipart_upload", Bucket=s3.name, Key="elsewhere/x.parquet")
    cat.write("ds", _frame(1))
    # younger than the safe age: a running writer's, kept
    assert "ds.dynio-staging-old/part=p00/part-00000.parquet" in s3.keys("")
    # moto dates every multipart upload in 2010: old enough to go; another prefix's stays
    uploads = {u["UploadId"] for u in s3.fs.list_multipart_uploads(s3.name)}
    assert upload["UploadId"] not in uploads
    assert other["UploadId"] in uploads
    monkeypatch.setattr(commits, "LEFTOVER_AGE", 0.0)
    cat.write("ds", _frame(2))
    assert not [k for k in s3.keys("") if "dynio-staging" in k]
    assert _versions(config) == {2}


def test_dynio_gc_cleans_a_whole_catalog(s3: Bucket, tmp_path: Path) -> None:
    config = _catalog(s3, tmp_path)
    dynio.Catalog.from_yaml(config, env="env").write("ds", _frame(1))
    s3.put("ds.dynio-staging-old/part=p00/part-00000.parquet", b"left by a killed writer")
    local = tmp_path / "data"
    local.mkdir()
    (local / ".out.parquet.0123.tmp").write_bytes(b"left by a killed writer")
    os.utime(local / ".out.parquet.0123.tmp", (0, 0))
    config.write_text(
        config.read_text(encoding="utf-8")
        + textwrap.dedent(
            """
            out:
              env:
                type: local
                local: {file_path: "data/out.parquet", file_type: parquet}
            """
        ),
        encoding="utf-8",
    )
    cli = [
        sys.executable,
        "-m",
        "dynio",
        "gc",
        "-c",
        str(config),
        "--env",
        "env",
        "--older-than",
        "0",
    ]
    dry = subprocess.run([*cli, "--dry-run"], capture_output=True, text=True, timeout=300)
    assert dry.returncode == 0, dry.stderr
    assert "ds.dynio-staging-old" in dry.stdout
    assert ".out.parquet.0123.tmp" in dry.stdout
    assert "ds.dynio-staging-old/part=p00/part-00000.parquet" in s3.keys("")
    assert (local / ".out.parquet.0123.tmp").exists()
    done = subprocess.run(cli, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert not [k for k in s3.keys("") if "dynio-staging" in k]
    assert not (local / ".out.parquet.0123.tmp").exists()
    assert _versions(config) == {1}
