"""A format registered by a third party works from YAML like a built-in one, and the engine
treats it by the capabilities it declares (never by its name).

The format here, ``psv``, is pipe-separated text: text, appendable, one
file or a folder of files, not scanned natively from object stores (so they fetch it first),
with one read option (``comment``) and one write option (``banner``) of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import pandas as pd
import polars as pl
import pytest
import yaml
from fixtures.objectstores import Bucket

import dynio
from dynio.engine.errors import ConfigError, ReadError
from dynio.engine.io.formats import (
    Capabilities,
    Format,
    ScanHints,
    capabilities_of,
    format_for,
    format_names,
    infer_format,
    register_format,
    unregister_format,
)

CatalogFrom = Callable[..., dynio.Catalog]


def scan_psv(paths: Sequence[str], options: Mapping[str, Any], hints: ScanHints) -> pl.LazyFrame:
    # every column read as text: the schema's casts give the types
    return pl.scan_csv(
        list(paths), separator="|", comment_prefix=options.get("comment"), infer_schema=False
    )


def write_psv(frame: pl.DataFrame, out: IO[bytes], options: Mapping[str, Any]) -> None:
    lines = [f"# {options['banner']}"] if options.get("banner") else []
    lines.append("|".join(frame.columns))
    lines += ["|".join("" if v is None else str(v) for v in row) for row in frame.iter_rows()]
    out.write(("\n".join(lines) + "\n").encode("utf-8"))


PSV = Format(
    "psv",
    (".psv",),
    Capabilities(
        text=True,
        layouts=frozenset({"file", "dataset"}),
        appendable=True,
        read_options=frozenset({"comment"}),
        write_options=frozenset({"banner"}),
    ),
    scan_psv,
    write_psv,
    aliases=("pipes",),
)


@pytest.fixture(autouse=True)
def psv() -> Iterator[Format]:
    register_format(PSV)
    try:
        yield PSV
    finally:
        unregister_format("psv")


COLUMNS = {"id": "int64", "name": "str"}


def _yaml(kind: str, section: dict[str, Any], options: dict[str, Any] | None = None) -> str:
    body: dict[str, Any] = {"type": kind, kind.split("_")[0]: section}
    if options:
        body["options"] = options
    return yaml.safe_dump({"r": {"env": body, "schema": {"columns": COLUMNS}}}, sort_keys=False)


def test_the_table_knows_it_by_name_alias_and_ending() -> None:
    assert format_for("PSV") is PSV
    assert format_for("pipes") is PSV
    assert infer_format("data/x.psv") is PSV
    assert {"psv", "pipes"} <= set(format_names())
    assert capabilities_of("pipes").text
    unregister_format("psv")
    assert format_for("psv") is None
    assert format_for("pipes") is None
    assert not capabilities_of("psv").text  # unknown: credited with nothing


def test_round_trip_from_yaml_with_its_own_options(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    options = {"banner": "written by dynio", "comment": "#"}
    cat = catalog_from(_yaml("local", {"file_path": "r.psv", "file_type": "psv"}, options), "env")
    frame = pd.DataFrame({"id": [1, 2, 3], "name": ["a", "b", "c"]})
    cat.write("r", frame)
    text = (tmp_path / "r.psv").read_text()
    assert text.splitlines()[:2] == ["# written by dynio", "id|name"]
    out = cat.read("r")
    assert out["id"].tolist() == [1, 2, 3]
    assert str(out["id"].dtype) == "int64"  # text cast by the schema
    assert out["name"].tolist() == ["a", "b", "c"]
    result = cat.read_result("r")
    assert result.info.format == "psv"


def test_an_option_it_does_not_declare_is_refused_at_load(catalog_from: CatalogFrom) -> None:
    text = _yaml("local", {"file_path": "r.psv", "file_type": "psv"}, {"separator": ";"})
    with pytest.raises(ConfigError) as err:
        catalog_from(text, "env").read("r")
    assert "separator" in str(err.value)


def test_declared_text_refuses_a_binary_file(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    # capabilities.text: a parquet file named as psv is refused, not read as garbage text
    pl.DataFrame({"id": [1], "name": ["a"]}).write_parquet(tmp_path / "r.psv")
    cat = catalog_from(_yaml("local", {"file_path": "r.psv", "file_type": "psv"}), "env")
    with pytest.raises(ReadError) as err:
        cat.read("r")
    assert "binary, not UTF-8 text" in str(err.value)
    assert err.value.file == str(tmp_path / "r.psv")


def test_a_folder_of_its_files(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    # layouts include "dataset": a local_batch folder of psv files reads as one frame
    (tmp_path / "lake").mkdir()
    (tmp_path / "lake" / "a.psv").write_text("id|name\n1|a\n")
    (tmp_path / "lake" / "b.psv").write_text("id|name\n2|b\n3|c\n")
    cat = catalog_from(_yaml("local_batch", {"path_prefix": "lake/", "file_type": "psv"}), "env")
    out = cat.read("r").sort_values("id", ignore_index=True)
    assert out["id"].tolist() == [1, 2, 3]
    assert len(cat.read_result("r").info.files) == 2


def test_not_native_remote_so_an_object_store_fetches_it_first(
    s3: Bucket, catalog_from: CatalogFrom
) -> None:
    # native_remote is False: the scanner opens local paths only, and still reads from S3
    s3.put("in/r.psv", b"id|name\n7|x\n8|y\n")
    section = {"bucket": s3.name, "file_path": "in/r.psv", "file_type": "psv"}
    cat = catalog_from(
        _yaml("s3_file", section, {"storage_options": dict(s3.storage_options)}), "env"
    )
    out = cat.read("r")
    assert out["id"].tolist() == [7, 8]
    cat.write("r", out.assign(id=[9, 10]))
    assert s3.get("in/r.psv").decode().splitlines() == ["id|name", "9|x", "10|y"]
