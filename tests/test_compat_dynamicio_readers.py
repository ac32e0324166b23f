"""dynio.compat.dynamicio reads and writes files the way dynamicio's pandas readers did.

Each test pins one behaviour dynamicio 9.1.0's own suite checks (see tests/upstream), on data
of our own: options the format does not take, metrics a column cannot have, the file's column
order, ``local_batch`` folders, JSON shapes, ``object`` columns, ``bool`` columns, dynamicio's
pydantic errors at load and its ``s3_path_prefix`` write checks.
"""
# ruff: noqa: RUF012  (IO classes declare their schemas as class-level dicts, as in dynamicio)

from __future__ import annotations

import ast
import json
import logging
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from conftest import write_text

import dynio
from dynio.compat.dynamicio import SCHEMA_FROM_FILE, DynamicDataIO, UnifiedIO, WithLocal
from dynio.compat.dynamicio import errors as cerr
from dynio.compat.dynamicio.config import IOConfig
from dynio.compat.dynamicio.core import PathPrefixWriteError
from dynio.errors import ConfigError

pydantic = pytest.importorskip("pydantic")

RESOURCES = """
WITH_OPTIONS:
  LOCAL:
    type: local
    local: {file_path: "[[ DATA ]]/wide.parquet", file_type: parquet}
    options: {option_3: false, engine: pyarrow}
MEAN_OF_TEXT:
  LOCAL:
    type: local
    local: {file_path: "[[ DATA ]]/wide.parquet", file_type: parquet}
  schema:
    name: mean_of_text
    columns:
      id: {type: int64, metrics: [Max]}
      name: {type: object, metrics: [Mean]}
WIDE_JSON:
  LOCAL:
    type: local
    local: {file_path: "[[ DATA ]]/wide.json", file_type: json}
WIDE_CSV:
  LOCAL:
    type: local
    local: {file_path: "[[ DATA ]]/wide.csv", file_type: csv}
WIDE_PARQUET:
  LOCAL:
    type: local
    local: {file_path: "[[ DATA ]]/wide.parquet", file_type: parquet}
BATCH:
  LOCAL:
    type: local_batch
    local: {path_prefix: "[[ DATA ]]/batch/", file_type: parquet}
RECORD:
  LOCAL:
    type: local
    local: {file_path: "[[ DATA ]]/record.json", file_type: json}
OUT_JSON:
  LOCAL:
    type: local
    local: {file_path: "[[ DATA ]]/out.json", file_type: json}
    options: {orient: records}
OUT_PARQUET:
  LOCAL:
    type: local
    local: {file_path: "[[ DATA ]]/out.parquet", file_type: parquet}
PREFIX:
  CLOUD:
    type: s3_path_prefix
    s3: {bucket: b, path_prefix: "p/", file_type: parquet}
"""


@pytest.fixture
def data(tmp_path: Path) -> Path:
    wide = pd.DataFrame(
        {"name": ["a", "b"], "id": [1, 2], "score": [0.5, 1.5], "code": ["007", "008"]}
    )
    wide.to_parquet(tmp_path / "wide.parquet", index=False)
    wide.to_json(tmp_path / "wide.json")  # pandas' default: an object of columns
    wide.to_csv(tmp_path / "wide.csv", index=False)
    (tmp_path / "batch" / "old").mkdir(parents=True)
    wide.iloc[:1].to_parquet(tmp_path / "batch" / "part_1.parquet", index=False)
    wide.iloc[1:].to_parquet(tmp_path / "batch" / "part_2.parquet", index=False)
    wide.to_parquet(tmp_path / "batch" / "old" / "part_0.parquet", index=False)
    (tmp_path / "record.json").write_text(json.dumps({"data": {"release": "feb09", "n": 3}}))
    return tmp_path


@pytest.fixture
def config(data: Path) -> IOConfig:
    path = write_text(data / "resources.yaml", RESOURCES)
    return IOConfig(path, "LOCAL", {"DATA": str(data)})


class Wide(UnifiedIO):
    schema = {"id": "int64", "name": "object", "score": "float64"}


class Codes(UnifiedIO):
    schema = {"id": "object", "code": "object"}


def test_yaml_options_no_reader_takes_are_kept_and_left_out_with_a_warning(
    config: IOConfig, caplog: pytest.LogCaptureFixture
) -> None:
    env = config.get("WITH_OPTIONS")
    assert env.options == {"option_3": False, "engine": "pyarrow"}
    io = Wide(env, option_1=True)
    assert io.options == {"option_3": False, "engine": "pyarrow", "option_1": True}
    with caplog.at_level(logging.WARNING):
        df = io.read()
    assert "option_3" in caplog.text
    assert "not supported by this operation" in caplog.text
    assert df["id"].tolist() == [1, 2]


def test_a_metric_its_column_cannot_have_fails_only_when_metrics_are_logged(
    config: IOConfig,
) -> None:
    env = config.get("MEAN_OF_TEXT")  # dynamicio loaded it; so does IOConfig
    assert [p.column for p in env.metric_problems] == ["name"]

    class FromFile(UnifiedIO):
        schema = SCHEMA_FROM_FILE

    assert FromFile(env).read()["name"].tolist() == ["a", "b"]
    with pytest.raises(ConfigError, match="Mean"):
        FromFile(env, log_schema_metrics=True).read()


@pytest.mark.parametrize("key", ["WIDE_JSON", "WIDE_CSV"])
def test_reads_keep_the_files_column_order(config: IOConfig, key: str) -> None:
    assert list(Wide(config.get(key)).read().columns) == ["name", "id", "score"]
    # a columns option gives its own order
    assert list(Wide(config.get(key), columns=["score", "id"]).read().columns) == ["score", "id"]


def test_parquet_reads_give_the_schemas_order_as_dynamicio(config: IOConfig) -> None:
    assert list(Wide(config.get("WIDE_PARQUET")).read().columns) == ["id", "name", "score"]


def test_local_batch_path_prefix_reads_the_folders_own_files(config: IOConfig) -> None:
    df = Wide(config.get("BATCH")).read()
    assert df["id"].tolist() == [1, 2]  # not the sub-folder's rows


def test_orient_records_on_a_json_object_reads_it_by_its_shape(config: IOConfig) -> None:
    df = Wide(config.get("WIDE_JSON"), orient="records").read()
    assert df["id"].tolist() == [1, 2]


def test_a_single_record_json_object_logs_dynamicios_warning(
    config: IOConfig, caplog: pytest.LogCaptureFixture
) -> None:
    class Record(UnifiedIO):
        schema = {"data": "object"}

    with caplog.at_level(logging.WARNING):
        df = Record(config.get("RECORD")).read()
    assert "single-record JSON object" in caplog.text
    assert list(df.columns) == ["data"]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        Wide(config.get("WIDE_JSON")).read()
    assert "single-record" not in caplog.text


def test_casting_warnings_on_read_name_the_sources_own_dtypes(
    config: IOConfig, caplog: pytest.LogCaptureFixture
) -> None:
    class Floats(UnifiedIO):
        schema = {"id": "float64", "name": "object"}

    with caplog.at_level(logging.INFO, logger="dynio.compat.dynamicio"):
        Floats(config.get("WIDE_CSV"), show_casting_warnings=True).read()
    assert caplog.messages[0] == "Expected: 'float64' dtype for FLOATS['id'], found 'int64'"
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="dynio.compat.dynamicio"):
        Floats(config.get("WIDE_CSV")).read()
    assert caplog.messages == []


@pytest.mark.parametrize("key", ["WIDE_PARQUET", "WIDE_JSON", "WIDE_CSV"])
def test_object_columns_hold_the_numbers_a_file_holds(config: IOConfig, key: str) -> None:
    df = Codes(config.get(key)).read()
    assert df["id"].tolist() == [1, 2]
    assert all(type(v) is int for v in df["id"])
    # "007" is text in every format (pandas' CSV reader made it 7: nothing is lost here)
    assert df["code"].tolist() == ["007", "008"]


def test_object_columns_are_written_as_the_data_holds_them(config: IOConfig, data: Path) -> None:
    class Tags(WithLocal, DynamicDataIO):
        schema = {"id": "object", "tags": "object"}

    Tags(config.get("OUT_JSON")).write(pd.DataFrame({"id": [1, 2], "tags": [["a"], ["b", "c"]]}))
    assert json.loads((data / "out.json").read_text()) == [
        {"id": 1, "tags": ["a"]},
        {"id": 2, "tags": ["b", "c"]},
    ]


def test_bool_columns_take_one_and_zero_and_nothing_lossy(config: IOConfig, data: Path) -> None:
    class Flags(WithLocal, DynamicDataIO):
        schema = {"id": "int64", "flag": "bool"}

    io = Flags(config.get("OUT_PARQUET"))
    io.write(pd.DataFrame({"id": [1, 2, 3], "flag": pd.Series([True, 1, 0], dtype=object)}))
    written = pd.read_parquet(data / "out.parquet")
    assert written["flag"].dtype == bool
    assert written["flag"].tolist() == [True, True, False]
    with pytest.raises(cerr.ColumnsDataTypeError, match="flag") as caught:
        io.write(pd.DataFrame({"id": [1, 2], "flag": [True, pd.NA]}))
    assert caught.value.resource == "OUT_PARQUET"


def test_schema_columns_answer_as_dynamicios_dict(config: IOConfig) -> None:
    io = Wide(config.get("WIDE_PARQUET"))
    assert list(io.schema.columns.keys()) == ["id", "name", "score"]
    assert io.schema.columns["name"].dtype.spelling == "object"
    assert io.schema.columns.get("missing") is None
    assert "id" in io.schema.columns
    assert io.schema.columns[0].name == "id"
    assert DynamicDataIO._transform_class_name_to_dataset_name("TestStringABC") == (
        "TEST_STRING_ABC"
    )


def test_a_resource_dynamicios_models_reject_fails_at_load(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "bad.yaml",
        """
        GOOD:
          CLOUD:
            type: s3_file
            s3: {bucket: b, file_path: k.csv, file_type: csv}
        NO_PREFIX:
          CLOUD:
            type: s3_path_prefix
            s3: {bucket: Bucket-Secret-5531, file_type: parquet}
        """,
    )
    with pytest.raises(pydantic.ValidationError, match="path_prefix") as caught:
        IOConfig(path, "CLOUD")
    assert "Bucket-Secret-5531" not in str(caught.value)  # the error quotes no value


def test_an_s3_path_prefix_write_needs_parquet_and_partition_cols(config: IOConfig) -> None:
    cloud = IOConfig(config.path_to_source_yaml, "CLOUD", {"DATA": "unused"}).get("PREFIX")
    frame = pd.DataFrame({"id": [1], "name": ["a"], "score": [0.5]})
    with pytest.raises(PathPrefixWriteError, match="partition_cols"):
        Wide(cloud).write(frame)
    assert issubclass(PathPrefixWriteError, ValueError)


def test_io_classes_use_the_catalogs_resource_api_not_engine_internals() -> None:
    source = Path(dynio.__file__).parent / "compat" / "dynamicio" / "core.py"
    imported = {
        f"{node.module}.{alias.name}"
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert "dynio.catalog.Resource" in imported
    internals = (
        "dynio.engine.execute",
        "dynio.engine.plan",
        "dynio.engine.quality.evaluate",
        "dynio.engine.formats",
        "dynio.engine.io",
        "dynio.engine.sources",
    )
    assert not [name for name in imported if name.startswith(internals)]
    assert "dynio.engine.execute" not in {n.rpartition(".")[0] for n in imported}


def test_polars_frames_pass_through_bool_checks(config: IOConfig, data: Path) -> None:
    class Flags(WithLocal, DynamicDataIO):
        schema = {"id": "int64", "flag": "bool"}

    Flags(config.get("OUT_PARQUET")).write(pl.DataFrame({"id": [1], "flag": [False]}))
    assert pd.read_parquet(data / "out.parquet")["flag"].tolist() == [False]
