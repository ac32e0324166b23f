"""Nothing lost, every error dynio's: a write never turns a file into a folder or the reverse,
killed writers' leftovers are cleaned on the next write, and operating-system limits (long
names, the file-size limit) and malformed calls come back as dynio errors with short messages.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

import dynio
from dynio.errors import ConfigError, DynioError, ReadError, WriteError

CatalogFrom = Callable[..., dynio.Catalog]
FRAME = pd.DataFrame({"id": [1, 2, 3]})


def resource(kind: str, section: dict[str, Any], name: str = "r") -> str:
    body = {name: {"env": {"type": kind, "local": section}, "schema": {"columns": {"id": "int64"}}}}
    return yaml.safe_dump(body, sort_keys=False)


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ------------------------------------------------------------------- files never become folders


@pytest.mark.parametrize("spelling", ["out", "out/", "./out", "link"])
@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_dataset_write_over_a_file_is_refused(
    catalog_from: CatalogFrom, tmp_path: Path, spelling: str, fmt: str
) -> None:
    victim = tmp_path / "out"
    victim.write_bytes(b"precious bytes")
    (tmp_path / "link").symlink_to(victim)
    cat = catalog_from(resource("local_batch", {"path_prefix": spelling, "file_type": fmt}), "env")
    with pytest.raises(WriteError, match="is a file") as err:
        cat.write("r", FRAME)
    assert err.value.resource == "r"
    assert victim.read_bytes() == b"precious bytes"
    assert hidden(tmp_path) == []


@pytest.mark.parametrize("name", ["out.parquet", "out.csv", "out.json"])
def test_file_write_over_a_folder_is_refused(
    catalog_from: CatalogFrom, tmp_path: Path, name: str
) -> None:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "keep.txt").write_text("kept")
    cat = catalog_from(resource("local", {"file_path": name}), "env")
    with pytest.raises(WriteError, match="is a folder"):
        cat.write("r", FRAME)
    assert (folder / "keep.txt").read_text() == "kept"
    assert hidden(tmp_path) == []


# -------------------------------------------------------------------- killed writers' leftovers


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_old_leftovers_of_a_file_are_cleaned(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    old_file = tmp_path / ".out.parquet.0a1b.tmp"
    old_file.write_bytes(b"half")
    age(old_file, 7200)
    fresh = tmp_path / ".out.parquet.9f9f.tmp"  # a writer running now: left alone
    fresh.write_bytes(b"in progress")
    other = tmp_path / ".other.parquet.0a1b.tmp"  # another resource's: left alone
    other.write_bytes(b"x")
    age(other, 7200)
    cat = catalog_from(resource("local", {"file_path": "out.parquet"}), "env")
    cat.write("r", FRAME)
    assert hidden(tmp_path) == [".other.parquet.0a1b.tmp", ".out.parquet.9f9f.tmp"]
    pd.testing.assert_frame_equal(cat.read("r"), FRAME)


def test_old_leftovers_of_a_dataset_are_cleaned(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    for name in (".lake.1111.tmp", ".lake.2222.old"):
        folder = tmp_path / name
        (folder / "day=1").mkdir(parents=True)
        (folder / "day=1" / "part-00000.parquet").write_bytes(b"stale")
        age(folder / "day=1" / "part-00000.parquet", 7200)
        age(folder / "day=1", 7200)
        age(folder, 7200)
    cat = catalog_from(
        resource("local_batch", {"path_prefix": "lake/", "file_type": "parquet"}), "env"
    )
    cat.write("r", FRAME)
    assert hidden(tmp_path) == []
    pd.testing.assert_frame_equal(cat.read("r"), FRAME)


# ------------------------------------------------------------------- limits of the system


@pytest.mark.parametrize("length", [256, 300, 5000])
def test_a_name_too_long_is_a_dynio_error(
    catalog_from: CatalogFrom, tmp_path: Path, length: int
) -> None:
    name = "n" * (length - len(".csv")) + ".csv"
    cat = catalog_from(resource("local", {"file_path": f"sub/{name}"}), "env")
    with pytest.raises(WriteError, match="too long") as err:
        cat.write("r", FRAME)
    assert str(err.value).count("n" * 200) <= 1
    with pytest.raises(ReadError):
        cat.read("r")


def test_a_huge_path_is_cut_in_messages(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    huge = "/".join(["d" * 200] * 5000)  # 1 MB of path
    cat = catalog_from(resource("local", {"file_path": f"{huge}/x.csv"}), "env")
    for act in (lambda: cat.write("r", FRAME), lambda: cat.read("r")):
        with pytest.raises(DynioError) as err:
            act()
        assert len(str(err.value)) < 25_000
        assert "characters cut" in str(err.value)


_FSIZE = """
import resource, sys
import pandas as pd
import dynio
from dynio.errors import WriteError
resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
cat = dynio.Catalog.from_yaml(sys.argv[1], env="env")
try:
    cat.write("r", pd.DataFrame({"id": range(200_000)}))
except WriteError as exc:
    print("WriteError:", exc)
"""


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_the_file_size_limit_is_a_dynio_error(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "resources.yaml"
    path.write_text(resource("local", {"file_path": f"big.{fmt}"}))
    done = subprocess.run(
        [sys.executable, "-c", _FSIZE, str(path)], capture_output=True, text=True, check=False
    )
    assert "WriteError:" in done.stdout, done.stderr[-2000:]
    assert "file-size limit" in done.stdout
    assert not (tmp_path / f"big.{fmt}").exists()
    assert hidden(tmp_path) == []


# ------------------------------------------------------------------ a file's name is literal


@pytest.mark.parametrize(
    "name", ["x[1].csv", "x[12].parquet", "[x].json", "x[!a].csv", "x].csv", "x[1].ndjson"]
)
def test_brackets_in_a_file_name_are_letters(
    catalog_from: CatalogFrom, tmp_path: Path, name: str
) -> None:
    """``x[1].csv`` is that file, never ``x1.csv``: a file kind's name is literal."""
    decoy_names = {"x1.csv", "x2.parquet", "x.json", "xb.csv", "x1.ndjson"}
    for decoy in decoy_names:
        (tmp_path / decoy).write_text("id\n999\n")
    cat = catalog_from(resource("local", {"file_path": name}), "env")
    with pytest.raises(ReadError, match="does not exist"):
        cat.read("r")  # before it is written: the decoys do not stand in for it
    cat.write("r", FRAME)
    assert (tmp_path / name).is_file()
    pd.testing.assert_frame_equal(cat.read("r"), FRAME)


# -------------------------------------------------------------- malformed calls, dynio's words


@pytest.mark.parametrize(
    "filters",
    [[[]], [[], []], [[("id", "==", 1)], []], ([],), [()], [[("id", "==", 1)], ()]],
)
def test_an_empty_filter_group_is_a_dynio_error(
    catalog_from: CatalogFrom, tmp_path: Path, filters: Any
) -> None:
    (tmp_path / "d.csv").write_text("id\n1\n2\n")
    cat = catalog_from(resource("local", {"file_path": "d.csv"}), "env")
    with pytest.raises(DynioError, match="empty group"):
        cat.read("r", filters=filters)


@pytest.mark.parametrize("env", [True, False, 3, 2.5, ["env"], {"env": 1}, b"env"])
def test_an_env_that_is_not_text_is_a_config_error(tmp_path: Path, env: Any) -> None:
    path = tmp_path / "resources.yaml"
    path.write_text(resource("local", {"file_path": "d.csv"}))
    with pytest.raises(ConfigError, match="env must be the name of an environment"):
        dynio.Catalog.from_yaml(path, env=env)


# --------------------------------------------------- a file that is not a schema is not echoed

_NOT_SCHEMAS = {
    "shadow": "root:$6$Zs4lt$H4shedPassw0rd:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n",
    "passwd-map": "root:x:0:0:root:/root:/bin/bash:\nsvc:Sup3rS3cretToken:1:\n",
    "secrets-json": '{"t0ken-Sup3rS3cret": 1, "other=Sup3rS3cret": 2}',
    "mixed": "columns: {id: {type: int64}}\n'Sup3rS3cret$token': 1\n",
}


@pytest.mark.parametrize("kind", sorted(_NOT_SCHEMAS))
def test_a_file_that_is_not_a_schema_is_not_echoed(
    catalog_from: CatalogFrom, tmp_path: Path, kind: str
) -> None:
    text = _NOT_SCHEMAS[kind]
    (tmp_path / "schema.yaml").write_text(text)
    body = {"r": {"env": {"type": "local", "local": {"file_path": "d.csv"}}}}
    body["r"]["schema"] = {"file_path": "schema.yaml"}  # type: ignore[index]
    with pytest.raises(ConfigError) as err:
        catalog_from(yaml.safe_dump(body), "env").read("r")
    said = str(err.value)
    assert "schema" in said
    for secret in ("H4shedPassw0rd", "Sup3rS3cret", "19000", "/root"):
        assert secret not in said, said
