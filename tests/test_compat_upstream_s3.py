"""dynamicio's S3 scenarios, run against a real S3 server (moto) instead of mocks.

dynamicio's own S3 tests (``tests/test_mixins/test_s3_mixins.py`` and some of ``test_core.py``)
mock awswrangler/boto3 inside ``dynamicio.mixins.with_s3``, so they are out of scope for the
upstream suite (``tests/upstream/dynamicio_out_of_scope.txt``). Each scenario they check is run
here through ``dynio.compat.dynamicio`` against the S3 server our fixtures start: reading and
writing one object of every file type (their awswrangler readers/writers, the boto3 HDF
transfer, ``HdfIO``), templated paths, the options a reader or writer takes or ignores, JSON
orientations, dtype errors, and path prefixes (reading many objects, a column subset, objects
written before a column existed, hive-partitioned writes).
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from fixtures.objectstores import Bucket

from dynio.compat.dynamicio import SCHEMA_FROM_FILE, UnifiedIO
from dynio.compat.dynamicio.config import IOConfig
from dynio.compat.dynamicio.errors import ColumnsDataTypeError
from dynio.engine.sources.dataset import SchemaDriftWarning


class IO(UnifiedIO):
    schema = SCHEMA_FROM_FILE


SCHEMA = {
    "name": "foo",
    "columns": {
        "id": {"type": "int64"},
        "foo_name": {"type": "object"},
        "bar": {"type": "int64"},
    },
}


def frame() -> pd.DataFrame:
    return pd.DataFrame({"id": [1, 2, 3], "foo_name": ["a", "b", "c"], "bar": [10, 20, 30]})


def expected() -> pd.DataFrame:
    return frame().astype({"foo_name": object})


def s3_resource(
    tmp_path: Path, bucket: Bucket, section: dict[str, Any], kind: str = "s3_file", **options: Any
) -> IOConfig:
    doc = {
        "FOO": {
            "cloud": {
                "type": kind,
                "s3": {"bucket": bucket.name, **section},
                "options": {"storage_options": dict(bucket.storage_options), **options},
            },
            "schema": SCHEMA,
        }
    }
    path = tmp_path / "resources.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return IOConfig(path, "cloud")


@pytest.mark.parametrize(
    ("file_type", "name"),
    [("csv", "foo.csv"), ("json", "foo.json"), ("parquet", "foo.parquet"), ("hdf", "foo.h5")],
)
def test_one_object_of_each_file_type_round_trips(
    tmp_path: Path, s3: Bucket, file_type: str, name: str
) -> None:
    # dynamicio: wr.s3.to_csv/to_json/to_parquet, boto3 + HdfIO for hdf; and their readers
    cfg = s3_resource(tmp_path, s3, {"file_path": f"data/{name}", "file_type": file_type})
    IO(cfg.get("FOO")).write(frame())
    assert s3.keys() == [f"data/{name}"]
    pd.testing.assert_frame_equal(IO(cfg.get("FOO")).read(), expected())


def test_templated_file_paths_are_resolved_on_read_and_write(tmp_path: Path, s3: Bucket) -> None:
    cfg = s3_resource(tmp_path, s3, {"file_path": "data/{day}/foo.parquet", "file_type": "parquet"})
    IO(cfg.get("FOO"), day="2024-03-01").write(frame())
    assert s3.keys() == ["data/2024-03-01/foo.parquet"]
    pd.testing.assert_frame_equal(IO(cfg.get("FOO"), day="2024-03-01").read(), expected())


def test_a_csv_object_read_with_valid_and_invalid_options(
    tmp_path: Path, s3: Bucket, caplog: pytest.LogCaptureFixture
) -> None:
    # dynamicio filtered the kwargs its reader takes, logging the others
    s3.put("data/foo.csv", b"id;foo_name;bar\n1;a;10\n2;b;20\n3;c;30\n")
    cfg = s3_resource(tmp_path, s3, {"file_path": "data/foo.csv", "file_type": "csv"})
    with caplog.at_level(logging.WARNING):
        got = IO(cfg.get("FOO"), sep=";", not_an_option=1).read()
    pd.testing.assert_frame_equal(got, expected())
    assert "not_an_option" in caplog.text


@pytest.mark.parametrize("orient", ["records", "columns"])
def test_json_objects_in_either_orientation(tmp_path: Path, s3: Bucket, orient: str) -> None:
    s3.put("data/foo.json", frame().to_json(orient=orient).encode())
    cfg = s3_resource(tmp_path, s3, {"file_path": "data/foo.json", "file_type": "json"})
    pd.testing.assert_frame_equal(IO(cfg.get("FOO"), orient=orient).read(), expected())


def test_a_column_that_does_not_fit_the_schema_is_a_columns_data_type_error(
    tmp_path: Path, s3: Bucket
) -> None:
    s3.put("data/foo.csv", b"id,foo_name,bar\n1,a,10\n2,b,not a number\n")
    cfg = s3_resource(tmp_path, s3, {"file_path": "data/foo.csv", "file_type": "csv"})
    with pytest.raises(ColumnsDataTypeError, match="bar"):
        IO(cfg.get("FOO")).read()


def _parquet(df: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    df.to_parquet(buffer, index=False)
    return buffer.getvalue()


def test_a_path_prefix_reads_every_parquet_object_and_a_column_subset(
    tmp_path: Path, s3: Bucket
) -> None:
    s3.put("events/part-0.parquet", _parquet(frame().iloc[:2]))
    s3.put("events/part-1.parquet", _parquet(frame().iloc[2:]))
    cfg = s3_resource(
        tmp_path, s3, {"path_prefix": "events/", "file_type": "parquet"}, kind="s3_path_prefix"
    )
    got = IO(cfg.get("FOO")).read().sort_values("id").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected())
    some = IO(cfg.get("FOO"), columns=["id", "bar"]).read().sort_values("id")
    assert some.columns.tolist() == ["id", "bar"]


def test_objects_written_before_a_column_existed_read_with_nulls_for_it(
    tmp_path: Path, s3: Bucket
) -> None:
    old = frame().iloc[:2].drop(columns=["bar"])
    s3.put("events/old.parquet", _parquet(old))
    s3.put("events/new.parquet", _parquet(frame().iloc[2:]))
    cfg = s3_resource(
        tmp_path, s3, {"path_prefix": "events/", "file_type": "parquet"}, kind="s3_path_prefix"
    )

    class Nullable(UnifiedIO):
        schema = {  # noqa: RUF012
            "id": "int64",
            "foo_name": "object",
            "bar": "float64",
        }

    # dynamicio logged a warning naming the columns missing from some objects
    with pytest.warns(SchemaDriftWarning, match="'bar' is missing from 1 of 2"):
        got = Nullable(cfg.get("FOO")).read().sort_values("id").reset_index(drop=True)
    assert got.columns.tolist() == ["id", "foo_name", "bar"]
    assert got["bar"].isna().tolist() == [True, True, False]


def test_a_column_missing_from_every_object_is_an_error(tmp_path: Path, s3: Bucket) -> None:
    s3.put("events/old.parquet", _parquet(frame().drop(columns=["bar"])))
    cfg = s3_resource(
        tmp_path, s3, {"path_prefix": "events/", "file_type": "parquet"}, kind="s3_path_prefix"
    )
    with pytest.raises(ColumnsDataTypeError, match="bar"):
        IO(cfg.get("FOO")).read()


def test_a_path_prefix_write_with_partition_cols_writes_hive_partitions(
    tmp_path: Path, s3: Bucket
) -> None:
    cfg = s3_resource(
        tmp_path, s3, {"path_prefix": "out/", "file_type": "parquet"}, kind="s3_path_prefix"
    )
    IO(cfg.get("FOO"), partition_cols=["foo_name"]).write(frame())
    keys = s3.keys("out/")
    assert {k.split("/")[1] for k in keys} == {"foo_name=a", "foo_name=b", "foo_name=c"}
    got = IO(cfg.get("FOO")).read().sort_values("id").reset_index(drop=True)
    assert got["id"].tolist() == [1, 2, 3]
    assert sorted(got["foo_name"].astype(str)) == ["a", "b", "c"]
