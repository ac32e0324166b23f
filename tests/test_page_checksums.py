"""Parquet written by dynio carries page checksums (CRC-32 in each page header), and a read
with ``page_checksum_verification: true`` checks them: a damaged page is a ReadError naming the
resource and the file, never wrong values. Several ways in: one file, a frame streamed from a
LazyFrame, a folder of files, an object fetched from S3."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow.parquet as pq
import pytest
import yaml
from fixtures.objectstores import Bucket

import dynio
from dynio.engine.errors import ReadError

CatalogFrom = Callable[..., dynio.Catalog]
COLUMNS = {"id": "int64", "v": "float64", "s": "str"}
VERIFY = {"page_checksum_verification": True}


def frame(n: int = 20_000, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(n, dtype="int64"),
            "v": rng.random(n),  # random doubles: a plain-encoded page of n * 8 bytes
            "s": rng.choice(["a", "b", "c"], n).astype(object),
        }
    )


def resource(kind: str, section: dict[str, Any], options: dict[str, Any] | None = None) -> str:
    body: dict[str, Any] = {"type": kind, kind.split("_")[0]: section}
    if options:
        body["options"] = options
    return yaml.safe_dump({"r": {"e": body, "schema": {"columns": COLUMNS}}}, sort_keys=False)


def damaged(data: bytes, column: str = "v") -> bytes:
    """``data`` with bytes flipped in the middle of the first data page of ``column`` (its
    values, past the page header), the file's structure (footer, page headers) left intact."""
    meta = pq.ParquetFile(io.BytesIO(data)).metadata.row_group(0)
    chunk = next(
        meta.column(i) for i in range(meta.num_columns) if meta.column(i).path_in_schema == column
    )
    # the chunk: a dictionary page (pyarrow tries one first), then the data pages
    end = (chunk.dictionary_page_offset or chunk.data_page_offset) + chunk.total_compressed_size
    middle = (chunk.data_page_offset + end) // 2
    raw = bytearray(data)
    for i in range(middle, middle + 8):
        raw[i] ^= 0x5A
    return bytes(raw)


def damage_a_data_page(path: Path) -> None:
    path.write_bytes(damaged(path.read_bytes()))


def pages_verify(path: Path) -> None:
    pq.read_table(path, page_checksum_verification=True)


def test_a_written_file_carries_checksums_that_catch_damage(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    cat = catalog_from(resource("local", {"file_path": "r.parquet", "file_type": "parquet"}), "e")
    cat.write("r", frame())
    pages_verify(tmp_path / "r.parquet")  # intact: every page matches its checksum
    damage_a_data_page(tmp_path / "r.parquet")
    with pytest.raises(OSError, match="CRC checksum verification failed"):
        pages_verify(tmp_path / "r.parquet")


def test_without_checksums_pyarrow_has_nothing_to_verify(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    # the opt-out writes no checksums: the same damage goes unnoticed by a verifying read,
    # which is what the test above rules out for dynio's default
    options = {"write_page_checksum": False}
    cat = catalog_from(
        resource("local", {"file_path": "r.parquet", "file_type": "parquet"}, options), "e"
    )
    cat.write("r", frame())
    damage_a_data_page(tmp_path / "r.parquet")
    table = pq.read_table(tmp_path / "r.parquet", page_checksum_verification=True)
    assert table.num_rows == len(frame())


def _expect_damage(cat: dynio.Catalog, file: str) -> None:
    with pytest.raises(ReadError) as err:
        cat.read("r")
    assert err.value.resource == "r"
    assert err.value.env == "e"
    assert err.value.file == file
    assert "checksum" in str(err.value)


def test_a_damaged_page_is_a_read_error_naming_resource_and_file(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    section = {"file_path": "r.parquet", "file_type": "parquet"}
    cat = catalog_from(resource("local", section, VERIFY), "e")
    cat.write("r", frame())
    pd.testing.assert_frame_equal(cat.read("r"), frame())  # intact: verified and read
    damage_a_data_page(tmp_path / "r.parquet")
    _expect_damage(cat, str(tmp_path / "r.parquet"))
    with pytest.raises(ReadError):
        cat.read("r", columns=["v"])  # the damaged column alone
    # the other columns' pages are intact: a projection that leaves the damage out reads
    assert cat.read("r", columns=["id"])["id"].tolist() == list(range(len(frame())))


def test_a_streamed_write_carries_checksums_too(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    section = {"file_path": "r.parquet", "file_type": "parquet"}
    cat = catalog_from(resource("local", section, VERIFY), "e")
    cat.write("r", pl.from_pandas(frame()).lazy())  # a LazyFrame is streamed into the file
    pd.testing.assert_frame_equal(cat.read("r"), frame())
    damage_a_data_page(tmp_path / "r.parquet")
    _expect_damage(cat, str(tmp_path / "r.parquet"))


def test_a_damaged_file_in_a_folder(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    folder = tmp_path / "lake"
    folder.mkdir()
    for i in range(3):
        one = catalog_from(
            resource("local", {"file_path": f"lake/p{i}.parquet", "file_type": "parquet"}), "e"
        )
        one.write("r", frame(seed=i))
    cat = catalog_from(
        resource("local_batch", {"path_prefix": "lake/", "file_type": "parquet"}, VERIFY), "e"
    )
    assert len(cat.read("r")) == 3 * len(frame())
    damage_a_data_page(folder / "p1.parquet")
    with pytest.raises(ReadError) as err:
        cat.read("r")
    assert err.value.resource == "r"
    assert "checksum" in str(err.value)


def test_a_damaged_object_fetched_from_s3(s3: Bucket, catalog_from: CatalogFrom) -> None:
    # verification needs the file on disk: the object is fetched first, then verified
    section = {"bucket": s3.name, "file_path": "in/r.parquet", "file_type": "parquet"}
    options = {**VERIFY, "storage_options": dict(s3.storage_options)}
    cat = catalog_from(resource("s3_file", section, options), "e")
    cat.write("r", frame())
    pd.testing.assert_frame_equal(cat.read("r"), frame())
    s3.put("in/r.parquet", damaged(s3.get("in/r.parquet")))
    with pytest.raises(ReadError) as err:
        cat.read("r")
    assert err.value.resource == "r"
    assert "in/r.parquet" in str(err.value.file)
    assert "checksum" in str(err.value)
