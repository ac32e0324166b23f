"""Every error is a dynio error (issue 20): filter values no SQL parameter carries, placeholders
inside placeholders. Each is tried in several spellings.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from fixtures.postgres import PostgresServer

import dynio
from dynio.engine.casts_sql import check_parameters
from dynio.engine.errors import ConfigError, DynioError, NestedPlaceholderError
from dynio.engine.panics import is_panic_report

CatalogFrom = Callable[..., dynio.Catalog]

# ------------------------------------------------------ filter values beyond 64-bit integers


@pytest.mark.parametrize(
    "filters",
    [
        [("id", "==", 2**63)],
        [("id", ">", 2**64)],
        [("id", "<=", -(2**63) - 1)],
        [("id", "!=", 10**30)],
        [("id", ">=", 2**63), ("v", "==", "a")],
        [[("id", "==", 1)], [("id", "<", -(2**64))]],
    ],
)
def test_a_filter_value_beyond_int64_on_postgres_is_a_dynio_error(
    postgres: PostgresServer, catalog_from: CatalogFrom, filters: Any
) -> None:
    with psycopg.connect(postgres.uri, autocommit=True) as con:
        con.execute(
            "DROP TABLE IF EXISTS big_t; CREATE TABLE big_t (id bigint, v text);"
            " INSERT INTO big_t VALUES (1, 'a')"
        )
    options = {"table": "big_t"}
    doc = {"r": {"pg": {"type": "postgres", "postgres": {"uri": "[[ PG_URI ]]"},
                        "options": options},
                 "schema": {"columns": {"id": "int64", "v": "str"}}}}  # fmt: skip
    cat = catalog_from(yaml.safe_dump(doc), env="pg", vars={"PG_URI": postgres.uri})
    with pytest.raises(DynioError) as info:
        cat.read_polars("r", filters=filters)
    assert not isinstance(info.value.__cause__, OverflowError)
    text = str(info.value)
    assert "resource 'r'" in text
    assert "'id'" in text
    assert "64-bit" in text
    assert postgres.password not in text
    # a value inside the range still reads
    assert cat.read_polars("r", filters=[("id", "<", 2**63 - 1)]).height == 1


def test_check_parameters_takes_values_in_range() -> None:
    check_parameters([[("a", "==", 2**63 - 1)]], [2**63 - 1, -(2**63), True, 1.5e300, "x"], {})
    with pytest.raises(DynioError, match="a filter"):
        check_parameters(None, [2**63], {})


# ------------------------------------------------------------ placeholders inside placeholders

NESTED = [
    "[[ A_[[ B ]] ]]",
    "[[A_[[B]]]]",
    "[[[[ B ]]]]",
    "[[ [[ B ]]_DIR ]]",
    "[[ A | [[ B ]] ]]",
    "[[ A_[[ B | d ]] ]]",
    "data/[[ A_[[ B ]] ]]/f.csv",
    "s3://[[ BUCKET_[[ ENV ]] ]]/x",
]


@pytest.fixture
def variables(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in ("B", "ENV", "A_x", "x_DIR", "BUCKET_x"):
        monkeypatch.setenv(name, "x")
    return {"B": "x", "ENV": "x"}


def _load(tmp_path: Path, text: str, variables: dict[str, str]) -> dynio.Catalog:
    path = tmp_path / "resources.yaml"
    path.write_text(text)
    return dynio.Catalog.from_yaml(str(path), env="local", vars=variables, strict=True)


def _check(err: BaseException, tmp_path: Path, key: str) -> None:
    found = [err, *getattr(err, "problems", [])]
    nested = [e for e in found if isinstance(e, NestedPlaceholderError)]
    assert nested, str(err)
    assert isinstance(nested[0], ConfigError)
    assert nested[0].file is not None
    assert nested[0].file.endswith(".yaml")
    assert key in (nested[0].key_path or "")
    assert "placeholder inside a placeholder" in str(nested[0])


@pytest.mark.parametrize("spelling", NESTED)
def test_a_placeholder_in_a_placeholder_value_is_a_config_error(
    tmp_path: Path, variables: dict[str, str], spelling: str
) -> None:
    doc = {"r": {"local": {"type": "local", "local": {"file_path": spelling,
                                                      "file_type": "csv"}}}}  # fmt: skip
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, yaml.safe_dump(doc), variables)
    _check(info.value, tmp_path, "r.local.local.file_path")


@pytest.mark.parametrize("spelling", NESTED[:4])
def test_a_placeholder_in_a_placeholder_in_a_schema_is_a_config_error(
    tmp_path: Path, variables: dict[str, str], spelling: str
) -> None:
    rule = {"is_greater_than": {"apply": True, "options": {"threshold": spelling}}}
    doc = {"r": {"local": {"type": "local", "local": {"file_path": "r.csv"}},
                 "schema": {"columns": {"a": {"type": "int64", "validations": rule}}}}}  # fmt: skip
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, yaml.safe_dump(doc), variables)
    _check(info.value, tmp_path, "threshold")


def test_a_placeholder_in_a_placeholder_in_a_name_is_a_config_error(
    tmp_path: Path, variables: dict[str, str]
) -> None:
    text = '"r_[[ A_[[ B ]] ]]":\n  local:\n    type: local\n    local: {file_path: r.csv}\n'
    with pytest.raises(ConfigError, match="placeholder inside a placeholder") as info:
        _load(tmp_path, text, variables)
    assert str(info.value.file).endswith("resources.yaml")


def test_brackets_that_are_not_nested_placeholders_still_load(
    tmp_path: Path, variables: dict[str, str]
) -> None:
    doc = {"r": {"local": {"type": "local", "local": {"file_path": "[[ B ]]/[[ ENV ]].csv"},
                           "options": {"null_values": "[[1, 2], [3]] and [[[4]]]"}}}}  # fmt: skip
    cat = _load(tmp_path, yaml.safe_dump(doc), variables)
    assert cat is not None
    assert "B" in os.environ


# ------------------------------------------------------- Polars panics stay off standard error

_PANIC_CHILD = r"""
import io, os, subprocess, sys, threading, time, warnings
import polars as pl, yaml, dynio
from dynio.engine.errors import ReadError
from dynio.engine.panics import quiet_panics

folder = sys.argv[1]
def version(n, tag):
    buf = io.BytesIO()
    frame = pl.DataFrame({"a": list(range(n)), "b": [f"{tag}{i}" for i in range(n)]})
    frame.write_parquet(buf, compression="uncompressed", statistics=False)
    return buf.getvalue()

# the race's shape, made to happen: one version's footer with another version's bytes
old, new = version(5000, "v"), version(20000, "w")
mixed = None
with quiet_panics():
    for cut in range(8, 4000, 97):
        for blob in (new[: len(new) - cut] + old[len(old) - cut :], old[:-cut] + new[-cut:]):
            try:
                pl.read_parquet(io.BytesIO(blob))
            except pl.exceptions.PanicException:
                mixed = blob
                break
            except Exception:
                pass
        if mixed is not None:
            break
assert mixed is not None, "no footer/body mix made Polars panic"
with open(os.path.join(folder, "mixed.parquet"), "wb") as f:
    f.write(mixed)
with open(os.path.join(folder, "good.parquet"), "wb") as f:
    f.write(old)
def local(name):
    return {"local": {"type": "local", "local": {"file_path": f"{folder}/{name}.parquet"}}}
doc = {name: local(name) for name in ("mixed", "good")}
with open(os.path.join(folder, "r.yaml"), "w") as f:
    yaml.safe_dump(doc, f)
cat = dynio.Catalog.from_yaml(os.path.join(folder, "r.yaml"), env="local")
print("line before the reads", file=sys.stderr, flush=True)
panics = 0
def reads():
    global panics
    for _ in range(3):
        for call in (cat.read, cat.read_polars):
            try:
                call("mixed")
            except ReadError as exc:
                panics += type(exc.__cause__).__name__ == "PanicException"
            sys.stderr.write("a line written between the reads\n")

# and the race itself: a writer replacing the good file while reads of it run
stop = time.time() + 2
def writer():
    i = 0
    while time.time() < stop:
        i += 1
        cat.write("good", pl.DataFrame({"a": [i] * (1 + i % 50)}))
threads = [threading.Thread(target=reads), threading.Thread(target=writer)]
for t in threads: t.start()
while time.time() < stop:
    cat.read_polars("good")
for t in threads: t.join()
print("line after the reads", file=sys.stderr, flush=True)
print(f"panics {panics}")
"""


@pytest.mark.parametrize("backtrace", [None, "0", "1", "full"])
def test_polars_panics_are_not_printed(tmp_path: Path, backtrace: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RUST_BACKTRACE"}
    if backtrace is not None:
        env["RUST_BACKTRACE"] = backtrace
    done = subprocess.run(
        [sys.executable, "-c", _PANIC_CHILD, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "panics 6"  # every read of the mixed file panicked in Polars
    assert "panicked at" not in done.stderr
    assert "stack backtrace" not in done.stderr
    assert "RUST_BACKTRACE" not in done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == "line before the reads"
    assert lines[-1] == "line after the reads"
    assert "a line written between the reads" in lines
    assert {line for line in lines if line} == {
        "line before the reads",
        "a line written between the reads",
        "line after the reads",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"x\nthread 'main' panicked at a.rs:1:2:\nboom\nnote: run with `RUST_BACKTRACE=1`\ny\n",
         b"x\ny\n"),
        (b"\nthread 'w' (123) panicked at a.rs:1:2:\nboom\nstack backtrace:\n   0: f\n"
         b"             at a.rs:1\nnote: Some details are omitted\nz\n", b"z\n"),
        (b"thread 'w' panicked at a.rs:1:2:\nboom\nthread 'v' panicked at b.rs:1:2:\nagain\nk\n",
         b"k\n"),
        (b"a thread 'x' panicked at nothing\n", b"a thread 'x' panicked at nothing\n"),
    ],
)  # fmt: skip
def test_panic_reports_are_told_from_other_lines(text: bytes, expected: bytes) -> None:
    lines = text.split(b"\n")
    marks = is_panic_report(lines)
    kept = b"\n".join(line for line, mark in zip(lines, marks, strict=True) if not mark)
    assert kept == expected.rstrip(b"\n") + b"\n" or kept == expected
