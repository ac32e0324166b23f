"""dynio.compat.dynamicio: dynamicio's module paths, names, IOConfig and IO classes."""

# ruff: noqa: RUF012  (IO classes declare their schemas as class-level dicts, as in dynamicio)

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import textwrap
import types
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest
from conftest import write_text

import dynio
from dynio.compat.dynamicio import (
    SCHEMA_FROM_FILE,
    DynamicDataIO,
    UnifiedIO,
    WithAthena,
    WithKafka,
    WithLocal,
    WithLocalBatch,
    WithPostgres,
    WithS3File,
    WithS3PathPrefix,
)
from dynio.compat.dynamicio import errors as cerr
from dynio.compat.dynamicio.config import IOConfig, IOEnvironment
from dynio.compat.dynamicio.core import CASTING_WARNING_MSG, dataset_name
from dynio.errors import (
    CastError,
    ConfigError,
    DynioError,
    MissingVariableError,
    SchemaError,
    TemplateError,
    UnsupportedError,
    ValidationError,
)

METRICS = "dynio.metrics"


class IO(UnifiedIO):
    schema = SCHEMA_FROM_FILE


RESOURCES = """
SALES:
  sample:
    type: "local"
    local:
      file_path: "[[ DATA ]]/sales.csv"
      file_type: "csv"
    options:
      sep: ";"
  actual:
    type: "s3"
    s3: {bucket: "[[ BUCKET ]]", file_path: "sales.parquet", file_type: "parquet"}
  schema:
    file_path: "[[ DATA ]]/sales_schema.yaml"

DAILY:
  sample:
    type: "local"
    local:
      file_path: "[[ DATA ]]/daily_{day}.parquet"
      file_type: "parquet"
  schema:
    name: daily
    columns:
      id: {type: int64}
      amount: {type: float64, metrics: [Mean]}

OUT:
  sample:
    type: "local"
    local:
      file_path: "[[ DATA ]]/out/out.parquet"
      file_type: "parquet"
  schema:
    name: out
    columns:
      id:
        type: int64
        validations:
          has_unique_values: {apply: true, options: {}}
      label:
        type: object
        validations:
          is_in: {apply: true, options: {categorical_values: [a, b]}}
        metrics: [CountsPerLabel]
      amount:
        type: float64
        validations:
          is_greater_than: {apply: true, options: {threshold: 0}}
        metrics: [Counts, Mean]

OUT_HDF:
  sample:
    type: "local"
    local:
      file_path: "[[ DATA ]]/out.h5"
      file_type: "hdf"

ONLY_ACTUAL:
  actual:
    type: "kafka"
    kafka: {kafka_server: "k:9092", kafka_topic: t}

EVENTS:
  sample:
    type: "kafka"
    kafka: {kafka_server: "k:9092", kafka_topic: events}
    options: {compression_type: snappy, batch_size: 262144}
  schema:
    name: events
    columns:
      id: {type: int64}

QUERIES:
  sample:
    type: athena
    athena: {s3_output: "s3://results/", query: "SELECT 1"}
  schema:
    name: queries
    columns:
      id: {type: int64}
"""

SALES_SCHEMA = """
name: sales
columns:
  id:
    type: int64
    validations:
      has_unique_values: {apply: true, options: {}}
    metrics: [Counts]
  region:
    type: object
    validations:
      is_in: {apply: true, options: {categorical_values: [north, south]}}
    metrics: [CountsPerLabel]
  amount:
    type: float64
    validations:
      is_greater_than: {apply: true, options: {threshold: 0}}
      is_lower_than: {apply: true, options: {threshold: "[[ LIMIT ]]"}}
    metrics: [Min, Max, Mean, Std]
"""


@pytest.fixture
def data(tmp_path: Path) -> Path:
    write_text(tmp_path / "sales_schema.yaml", SALES_SCHEMA)
    write_text(
        tmp_path / "sales.csv",
        """
        id;region;amount;extra
        1;north;10.5;x
        2;south;20.0;y
        3;north;30.25;z
        """,
    )
    pd.DataFrame({"id": [1, 2], "amount": [1.5, 2.5]}).to_parquet(
        tmp_path / "daily_2024-03-01.parquet"
    )
    return tmp_path


@pytest.fixture
def config(data: Path) -> IOConfig:
    path = write_text(data / "resources.yaml", RESOURCES)
    return IOConfig(path, "sample", {"DATA": str(data), "LIMIT": 100})


def metric_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == METRICS]


# ----------------------------------------------------------------------------------- names


def test_dynamicio_module_paths_and_names_exist() -> None:
    from dynio.compat.dynamicio import config, core, errors, metrics, mixins, validations

    assert core.DynamicDataIO is DynamicDataIO
    assert core.UnifiedIO is UnifiedIO
    assert core.SCHEMA_FROM_FILE is SCHEMA_FROM_FILE
    assert config.IOConfig is IOConfig
    for name in ("WithLocal", "WithLocalBatch", "WithS3File", "WithS3PathPrefix", "WithPostgres",
                 "WithKafka", "WithAthena"):  # fmt: skip
        assert getattr(mixins, name) is globals()[name]
    for name in ("DynamicIOError", "SchemaNotFoundError", "SchemaValidationError",
                 "ColumnsDataTypeError", "MissingSchemaDefinition", "DataSourceError",
                 "NonUniqueIdColumnError", "NullValueInColumnError",
                 "NotExpectedCategoricalValue", "InvalidDatasetTypeError", "CASTING_WARNING_MSG",
                 "NOTICE_MSG"):  # fmt: skip
        assert hasattr(errors, name), name
    assert set(validations.ALL_VALIDATORS) == {
        "has_unique_values", "has_no_null_values", "has_acceptable_percentage_of_nulls", "is_in",
        "is_greater_than", "is_greater_than_or_equal", "is_lower_than", "is_lower_than_or_equal",
        "is_between",
    }  # fmt: skip
    for name in ("Min", "Max", "Mean", "Std", "Variance", "Counts", "UniqueCounts",
                 "CountsPerLabel"):  # fmt: skip
        assert metrics.get_metric(name).__name__ == name
    assert "{0}" in CASTING_WARNING_MSG


def test_importing_the_compat_package_configures_nothing() -> None:
    code = textwrap.dedent(
        """
        import logging, os
        root = logging.getLogger()
        before = (list(root.handlers), root.level, os.environ.get("LC_CTYPE"))
        import dynio.compat.dynamicio
        import dynio.compat.dynamicio.metrics
        after = (list(root.handlers), root.level, os.environ.get("LC_CTYPE"))
        print(before == after, logging.getLogger("dynio.metrics").handlers)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True []"


def test_import_dynio_does_not_import_the_compat_package() -> None:
    code = "import sys, dynio; dynio.Catalog; print('dynio.compat' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("StagedFoo", "STAGED_FOO"),
        ("ThisNameABC", "THIS_NAME_ABC"),
        ("HTTPServer", "HTTP_SERVER"),
        ("OutData", "OUT_DATA"),
        ("Foo2Bar", "FOO2_BAR"),
    ],
)
def test_dataset_name_from_class_name(name: str, expected: str) -> None:
    assert dataset_name(name) == expected


# --------------------------------------------------------------------------------- IOConfig


def test_ioconfig_sources_and_get(config: IOConfig, data: Path) -> None:
    assert config.sources == ["SALES", "DAILY", "OUT", "OUT_HDF", "ONLY_ACTUAL", "EVENTS",
                              "QUERIES"]  # fmt: skip
    env = config.get(source_key="SALES")
    assert isinstance(env, IOEnvironment)
    assert env.name == "SALES"
    assert env.env_identifier == "sample"
    assert env.data_backend_type.value == "local"
    assert env.data_backend_type == "local"
    assert env.local.file_path == str(data / "sales.csv")
    assert env.local.file_type.value == "csv"
    assert env.options == {"sep": ";"}
    assert env.dynamicio_schema is not None
    assert env.dynamicio_schema.name == "sales"
    # a copy: changing it changes nothing
    env.options["sep"] = ","
    assert config.get("SALES").options == {"sep": ";"}
    with pytest.raises(AttributeError):
        _ = env.postgres


def test_ioconfig_unknown_resource_and_environment_are_key_errors(config: IOConfig) -> None:
    with pytest.raises(KeyError, match="NOPE"):
        config.get("NOPE")
    # a resource without this environment does not stop the file from loading
    with pytest.raises(KeyError, match="no environment 'sample'") as info:
        config.get("ONLY_ACTUAL")
    assert isinstance(info.value, DynioError)


@pytest.mark.parametrize("kind", ["module", "class", "dict"])
def test_ioconfig_dynamic_vars_module_class_or_dict(data: Path, kind: str) -> None:
    path = write_text(data / "resources.yaml", RESOURCES)
    values = {"DATA": str(data), "LIMIT": 100, "BUCKET": None}
    holder: Any
    if kind == "module":
        holder = types.ModuleType("environment")
        vars(holder).update(values)
    elif kind == "class":
        holder = type("Environment", (), values)
    else:
        holder = values
    env = IOConfig(path, "sample", holder).get("SALES")
    assert env.local.file_path == str(data / "sales.csv")


def test_ioconfig_missing_variable_names_it(data: Path) -> None:
    path = write_text(data / "resources.yaml", RESOURCES)
    config = IOConfig(path, "sample", {"LIMIT": 100})
    # each resource using [[ DATA ]] raises when asked for; the others load
    with pytest.raises(MissingVariableError, match=r"\[\[ DATA \]\]"):
        config.get("SALES")
    assert config.get("EVENTS").name == "EVENTS"


def test_ioconfig_checks_the_yaml_when_loading(data: Path) -> None:
    path = write_text(
        data / "bad.yaml",
        """
        A:
          sample:
            type: local
            local: {file_path: a.csv, file_type: csv}
          schema:
            name: a
            columns:
              x: {type: int64, validations: {no_such_rule: {apply: true, options: {}}}}
        """,
    )
    with pytest.raises(ConfigError, match="no_such_rule"):
        IOConfig(path, "sample").get("A")


def test_ioconfig_gives_a_catalog_for_code_moving_on(config: IOConfig) -> None:
    cat = config.catalog()
    assert isinstance(cat, dynio.Catalog)
    assert list(cat.read("SALES")["id"]) == [1, 2, 3]


# ------------------------------------------------------------------------------- IO classes


def test_abstract_class_and_missing_schemas(config: IOConfig) -> None:
    with pytest.raises(TypeError, match="Abstract class"):
        DynamicDataIO(config.get("SALES"))
    with pytest.raises(cerr.SchemaNotFoundError, match="declares no schema"):
        UnifiedIO(config.get("SALES"))
    with pytest.raises(cerr.SchemaNotFoundError, match="defines no schema"):
        IO(config.get("OUT_HDF"))
    with pytest.raises(ValueError, match="cannot be None or empty"):

        class Empty(UnifiedIO):
            schema: Any = {}

    with pytest.raises(TypeError, match=r"IOConfig\.get"):
        IO({"type": "local"})  # type: ignore[arg-type]


def test_mixins_in_any_order_and_a_missing_one_is_an_assertion(config: IOConfig) -> None:
    # dynamicio's own MRO refused (WithLocal, WithLocalBatch); here any order works
    class A(WithLocal, WithLocalBatch, DynamicDataIO):
        schema = SCHEMA_FROM_FILE

    class B(DynamicDataIO, WithKafka, WithAthena, WithS3PathPrefix, WithLocal, WithS3File):
        schema = SCHEMA_FROM_FILE

    for cls in (A, B):
        assert list(cls(config.get("SALES")).read()["id"]) == [1, 2, 3]

    class C(WithPostgres, DynamicDataIO):  # no WithLocal for a type: local resource
        schema = SCHEMA_FROM_FILE

    with pytest.raises(AssertionError, match="no mixin for type 'local'"):
        C(config.get("SALES"))


def test_read_casts_to_the_schema_and_keeps_object_columns_object(config: IOConfig) -> None:
    df = IO(config.get("SALES")).read()
    assert list(df.columns) == ["id", "region", "amount"]
    assert df.dtypes.astype(str).to_dict() == {
        "id": "int64",
        "region": "object",
        "amount": "float64",
    }
    assert isinstance(df.index, pd.RangeIndex)


def test_options_from_code_override_yaml_options_without_mutating(
    config: IOConfig, data: Path
) -> None:
    (data / "sales.csv").write_text("id,region,amount\n1,north,1.0\n")
    env = config.get("SALES")
    io = IO(env, sep=",")
    assert io.options == {"sep": ","}
    assert list(io.read()["id"]) == [1]
    assert env.options == {"sep": ";"}
    assert env.env.source.options["sep"] == ";"


def test_placeholders_in_paths_come_from_options_and_a_second_read_works(
    config: IOConfig,
) -> None:
    io = IO(config.get("DAILY"), day="2024-03-01")
    first = io.read()
    second = io.read()
    pd.testing.assert_frame_equal(first, second)
    assert io.options == {"day": "2024-03-01"}
    with pytest.raises(TemplateError, match="day"):
        IO(config.get("DAILY")).read()


def test_columns_option_reads_only_those(config: IOConfig) -> None:
    df = IO(config.get("SALES"), columns=["amount", "id"]).read()
    assert list(df.columns) == ["amount", "id"]
    with pytest.raises(cerr.ColumnsDataTypeError, match="not in the schema"):
        IO(config.get("SALES"), columns=["nope"]).read()


def test_unknown_options_are_reported_like_dynamicio(
    config: IOConfig, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "dynio.compat.dynamicio"):
        IO(config.get("SALES"), not_an_option=1).read()
    assert "Options {'not_an_option': 1} were not used" in caplog.text


def test_read_with_validations_and_metrics(
    config: IOConfig, caplog: pytest.LogCaptureFixture
) -> None:
    io = IO(config.get("SALES"), apply_schema_validations=True, log_schema_metrics=True)
    assert io.name == "SALES"
    with caplog.at_level(logging.INFO, METRICS):
        io.read()
    lines = metric_lines(caplog)
    assert lines[0] == {"message": "METRIC", "dataset": "SALES", "column": "id",
                        "metric": "Counts", "value": 3.0}  # fmt: skip
    assert [(m["column"], m["metric"]) for m in lines] == [
        ("id", "Counts"),
        ("region-north", "CountsPerLabel"),
        ("region-south", "CountsPerLabel"),
        ("amount", "Min"),
        ("amount", "Max"),
        ("amount", "Mean"),
        ("amount", "Std"),
    ]
    assert [m["value"] for m in lines[1:3]] == [2.0, 1.0]


def test_failed_validations_raise_with_a_dict_and_log_no_metrics(
    config: IOConfig, data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (data / "sales.csv").write_text("id;region;amount\n1;north;-1\n1;east;500\n2;west;3\n")
    io = IO(config.get("SALES"), apply_schema_validations=True, log_schema_metrics=True)
    with caplog.at_level(logging.INFO, METRICS), pytest.raises(cerr.SchemaValidationError) as info:
        io.read()
    err = info.value
    assert err.message == {
        "has_unique_values": "Values [1] for SALES[id] are duplicated!",
        "is_in": "Values {'east', 'west'} for SALES[region] are not acceptable for 2 cells",
        "is_greater_than": "1 cell values for SALES[amount] are below 0",
        "is_lower_than": "1 cell values for SALES[amount] are above 100",
    }
    assert isinstance(err, ValidationError)
    assert isinstance(err, DynioError)
    assert err.report is not None
    assert len(err.report.errors) == 4
    assert "resource 'SALES'" in str(err)
    assert metric_lines(caplog) == []


def test_one_validation_failing_on_two_columns_keeps_both(config: IOConfig) -> None:
    class TwoCols(WithLocal, DynamicDataIO):
        schema = {"a": "int64", "b": "int64"}
        schema_validations = {
            "a": {"is_greater_than": {"apply": True, "options": {"threshold": 0}}},
            "b": {"is_greater_than": {"apply": True, "options": {"threshold": 0}}},
        }

    io = TwoCols(config.get("OUT"))
    with pytest.raises(cerr.SchemaValidationError) as info:
        io.validate_from_schema(pd.DataFrame({"a": [-1, 1], "b": [1, -2]}))
    assert info.value.message == {
        "is_greater_than": "1 cell values for TWO_COLS[a] are below 0",
        "is_greater_than[b]": "1 cell values for TWO_COLS[b] are below 0",
    }


def test_read_cast_that_would_lose_data_raises(config: IOConfig, data: Path) -> None:
    (data / "sales.csv").write_text("id;region;amount\n1.5;north;1\n")
    with pytest.raises(cerr.ColumnsDataTypeError) as info:
        IO(config.get("SALES")).read()
    assert isinstance(info.value, CastError)
    assert info.value.column == "id"


def test_read_missing_schema_column_raises_columns_error(config: IOConfig, data: Path) -> None:
    (data / "sales.csv").write_text("id;amount\n1;1\n")
    with pytest.raises(cerr.ColumnsDataTypeError, match="region") as info:
        IO(config.get("SALES")).read()
    assert isinstance(info.value, SchemaError)


# ------------------------------------------------------------------------- dict schemas


class OutIO(WithLocal, DynamicDataIO):
    schema = {"id": "int64", "label": "object", "amount": "float64"}
    schema_validations = {
        "amount": {"is_greater_than": {"apply": True, "options": {"threshold": 0}}},
        "label": {"is_in": {"apply": True, "options": {"categorical_values": ["a", "b"]}}},
    }
    schema_metrics = {"amount": ["Mean"], "label": ["CountsPerLabel"]}


def test_dict_schema_with_validations_and_metrics(config: IOConfig, data: Path) -> None:
    io = OutIO(config.get("OUT"), apply_schema_validations=True, log_schema_metrics=True)
    assert io.name == "OUT_IO"
    assert io.schema_validations["amount"] == {
        "is_greater_than": {"apply": True, "options": {"threshold": 0}}
    }
    assert io.schema_metrics == {"id": [], "label": ["CountsPerLabel"], "amount": ["Mean"]}
    df = pd.DataFrame({"extra": [0, 0], "amount": [2, 3], "label": ["b", "a"], "id": [1.0, 2.0]})
    io.write(df)
    back = pd.read_parquet(data / "out" / "out.parquet")
    expected = pd.DataFrame({"id": [1, 2], "label": ["b", "a"], "amount": [2.0, 3.0]})
    # written in the data's column order, as dynamicio wrote; read in the schema's
    written = expected[["amount", "label", "id"]].astype({"label": back["label"].dtype})
    pd.testing.assert_frame_equal(back, written)
    pd.testing.assert_frame_equal(io.read(), expected.astype({"label": object}))


def test_write_order_project_cast_validate_metrics_write(
    config: IOConfig, data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    io = OutIO(config.get("OUT"), apply_schema_validations=True, log_schema_metrics=True)
    target = data / "out" / "out.parquet"
    # a value that does not fit the dtype fails before any rule runs, and writes nothing
    with pytest.raises(cerr.ColumnsDataTypeError) as info:
        io.write(pd.DataFrame({"id": [1.5], "label": ["a"], "amount": [1.0]}))
    assert info.value.column == "id"
    assert info.value.values == [1.5]
    assert not target.exists()
    # rules see the cast data: text holding numbers is compared as numbers
    with caplog.at_level(logging.INFO, METRICS):
        io.write(pd.DataFrame({"id": ["1"], "label": ["a"], "amount": ["2.5"]}))
    assert [m["value"] for m in metric_lines(caplog)] == [1.0, 2.5]
    # a failed rule writes nothing and logs no metric
    caplog.clear()
    with caplog.at_level(logging.INFO, METRICS), pytest.raises(cerr.SchemaValidationError):
        io.write(pd.DataFrame({"id": [7], "label": ["zzz"], "amount": [1.0]}))
    assert metric_lines(caplog) == []
    assert list(pd.read_parquet(target)["id"]) == [1]
    # a missing column names the column
    with pytest.raises(cerr.ColumnsDataTypeError, match="label"):
        io.write(pd.DataFrame({"id": [1], "amount": [1.0]}))


def test_write_does_not_change_the_callers_frame(config: IOConfig) -> None:
    df = pd.DataFrame({"id": [1.0], "label": ["a"], "amount": [1], "extra": [0]})
    before = df.copy()
    OutIO(config.get("OUT")).write(df)
    pd.testing.assert_frame_equal(df, before)


def test_validate_and_log_metrics_from_schema_are_chainable(
    config: IOConfig, caplog: pytest.LogCaptureFixture
) -> None:
    io = OutIO(config.get("OUT"))
    df = pd.DataFrame({"id": [1, 2], "label": ["a", "b"], "amount": [1.0, 2.0]})
    with caplog.at_level(logging.INFO, METRICS):
        assert io.validate_from_schema(df).log_metrics_from_schema(df) is io
    assert len(metric_lines(caplog)) == 3
    with pytest.raises(cerr.SchemaValidationError, match="OUT_IO"):
        io.validate_from_schema(df.assign(amount=[0.0, 1.0]))
    with pytest.raises(cerr.ColumnsDataTypeError, match="amount"):
        io.validate_from_schema(df.drop(columns=["amount"]))
    assert io.validate_from_schema(pl.from_pandas(df)) is io


def test_metric_lines_are_valid_json_with_undefined_values_null(
    config: IOConfig, caplog: pytest.LogCaptureFixture
) -> None:
    io = OutIO(config.get("OUT"))
    with caplog.at_level(logging.INFO, METRICS):
        io.log_metrics_from_schema(
            pd.DataFrame({"id": [1], "label": [None], "amount": [float("nan")]})
        )
    lines = [r.getMessage() for r in caplog.records if r.name == METRICS]
    assert lines == [
        '{"message": "METRIC", "dataset": "OUT_IO", "column": "amount", "metric": "Mean",'
        ' "value": null}'
    ]


def test_casting_and_strict_dtype_warnings(
    config: IOConfig, caplog: pytest.LogCaptureFixture
) -> None:
    io = OutIO(config.get("OUT"), show_casting_warnings=True, strict_dtype_check=True)
    mixed = pd.DataFrame({"id": [1.0, 2.0], "label": ["a", "b"], "amount": [1, 2]})
    with caplog.at_level(logging.INFO, "dynio.compat.dynamicio"):
        io.write(mixed)
    assert "Expected: 'int64' dtype for OUT_IO['id'], found 'float64'" in caplog.text
    assert "[strict_dtype_check=True] Performing expensive type-checking for OUT_IO['id']" in (
        caplog.text
    )
    caplog.clear()
    read_io = IO(config.get("DAILY"), show_casting_warnings=True, day="2024-03-01")
    with caplog.at_level(logging.INFO, "dynio.compat.dynamicio"):
        read_io.read()
    assert caplog.text == ""  # the file already holds the schema's dtypes


def test_async_read_and_write(config: IOConfig, data: Path) -> None:
    async def main() -> pd.DataFrame:
        df, _ = await asyncio.gather(
            IO(config.get("SALES")).async_read(),
            OutIO(config.get("OUT")).async_write(
                pd.DataFrame({"id": [1], "label": ["a"], "amount": [1.0]})
            ),
        )
        return df

    df = asyncio.run(main())
    assert len(df) == 3
    assert (data / "out" / "out.parquet").exists()


def test_hdf_round_trip_with_key_df(config: IOConfig, data: Path) -> None:
    class HdfIO(WithLocal, DynamicDataIO):
        schema = {"id": "int64", "name": "object"}

    io = HdfIO(config.get("OUT_HDF"))
    io.write(pd.DataFrame({"id": [1, 2], "name": ["x", "y"]}))
    raw = pd.read_hdf(data / "out.h5", "df")
    assert isinstance(raw, pd.DataFrame)
    assert list(raw["id"]) == [1, 2]
    pd.testing.assert_frame_equal(
        io.read(), pd.DataFrame({"id": [1, 2], "name": pd.Series(["x", "y"], dtype=object)})
    )


def test_type_s3_environments_build_io_objects(data: Path) -> None:
    # dynamicio refused `type: s3` when building the IO object (no mixin method for it)
    path = write_text(data / "resources.yaml", RESOURCES)
    config = IOConfig(path, "actual", {"DATA": str(data), "LIMIT": 1, "BUCKET": "bkt"})
    io = IO(config.get("SALES"))
    assert io.sources_config.data_backend_type.value == "s3"
    assert io.sources_config.s3.bucket == "bkt"


def test_errors_keep_dynamicio_messages_and_dynio_context() -> None:
    err = cerr.SchemaNotFoundError()
    assert str(err) == "Schema not specified in the provided source"
    assert err.message is None
    assert isinstance(err, ConfigError)
    payload = {"is_in": "bad"}
    verr = cerr.SchemaValidationError(payload, resource="R", env="e")
    assert verr.message is payload
    assert isinstance(verr, ValidationError)
    assert str(verr) == "{'is_in': 'bad'} (resource 'R', env 'e')"
    cast = cerr.ColumnsDataTypeError("x does not fit", column="x", values=[1.5])
    assert isinstance(cast, CastError)
    assert isinstance(cast, SchemaError)
    assert "offending values: [1.5]" in str(cast)
    bad = cerr.InvalidDatasetTypeError("a.txt")
    assert str(bad).startswith("Dataset: a.txt provided is not amongst the supported types")
    assert isinstance(bad, UnsupportedError)
    for cls in (cerr.DataSourceError, cerr.NonUniqueIdColumnError, cerr.NullValueInColumnError,
                cerr.NotExpectedCategoricalValue, cerr.MissingSchemaDefinition):  # fmt: skip
        assert isinstance(cls("m"), cerr.DynamicIOError)
        assert isinstance(cls("m"), DynioError)


def test_is_in_match_all_keeps_dynamicio_meaning_in_schemas(config: IOConfig) -> None:
    """dynamicio: match_all true (its default) = subset, false = exactly the categories."""
    cats = ["north", "south", "east"]

    def io(match_all: bool | None) -> Any:
        options: dict[str, Any] = {"categorical_values": cats}
        if match_all is not None:
            options["match_all"] = match_all

        class Regions(UnifiedIO):
            schema = {"region": "object"}
            schema_validations = {"region": {"is_in": {"apply": True, "options": options}}}

        return Regions(source_config=config.get(source_key="SALES"))

    subset = pd.DataFrame({"region": ["north", "south"]})
    for match_all in (True, None):
        io(match_all).validate_from_schema(subset)  # a subset passes
    with pytest.raises(cerr.SchemaValidationError) as info:
        io(False).validate_from_schema(subset)  # east is absent
    assert "Missing categorical values" in info.value.message["is_in"]
    io(False).validate_from_schema(pd.DataFrame({"region": cats}))
    # the declared options are kept as written
    assert io(True).schema_validations["region"]["is_in"]["options"]["match_all"] is True


def test_one_broken_resource_does_not_stop_the_others(data: Path) -> None:
    path = write_text(
        data / "mixed.yaml",
        """
        BAD:
          sample:
            type: local
            local: {file_path: a.csv, file_type: csv, no_such_key: 1}
        GOOD:
          sample:
            type: local
            local: {file_path: "[[ DATA ]]/sales.csv", file_type: csv}
            options: {sep: ";"}
          schema:
            file_path: sales_schema.yaml
        """,
    )
    config = IOConfig(path, "sample", {"DATA": str(data), "LIMIT": 100})
    assert config.sources == ["BAD", "GOOD"]
    assert list(IO(config.get("GOOD")).read()["id"]) == [1, 2, 3]
    with pytest.raises(ConfigError, match="no_such_key") as info:
        config.get("BAD")
    assert info.value.file == str(path)


def test_bool_columns_are_never_coerced(config: IOConfig, data: Path) -> None:
    # dynamicio wrote astype(bool): None -> False, NaN -> True, "random" -> True (pd.NA raised).
    # Here 1/0 become True/False (nothing is lost), a missing value or a value that is not a
    # boolean raises, and nothing is written.
    class Flags(WithLocal, DynamicDataIO):
        schema = {"id": "int64", "flag": "bool"}

    io = Flags(config.get("OUT"))
    io.write(pd.DataFrame({"id": [1, 2], "flag": [True, 0]}, dtype=object).astype({"id": int}))
    written = pd.read_parquet(data / "out" / "out.parquet")
    assert written["flag"].dtype == bool
    assert written["flag"].tolist() == [True, False]
    for bad in ("random", 2, None, float("nan"), pd.NaT, pd.NA):
        with pytest.raises(cerr.ColumnsDataTypeError, match="flag"):
            io.write(pd.DataFrame({"id": [1, 2], "flag": [True, bad]}))
    assert pd.read_parquet(data / "out" / "out.parquet")["flag"].tolist() == [True, False]
