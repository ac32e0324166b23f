"""``[[ VAR ]]`` placeholders in YAML and ``{name}`` templates in paths.

Covers: placeholders anywhere in values and keys (resource names, environment names, section and
option keys), several per string; values from an explicit mapping or a module, then process
environment variables; ``None`` counting as unset; numbers kept as numbers where a number is
expected while text fields keep text; unquoted ``key: [[ VAR ]]``; missing variables naming the
variable, file, resource and key path; another environment's missing variable deferred until
that environment is used, while its structural errors still fail the load; ``{templates}``
filled per call without mutating anything, missing and unexpected arguments, and path traversal
refused.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import write_text

import dynio
from dynio.engine import loader
from dynio.engine.errors import MissingVariableError as EngineMissingVariableError
from dynio.engine.placeholders import (
    EnvText,
    EscapeAllowed,
    fill_template,
    resolve_placeholders,
    template_fields,
    template_root,
    variables_from,
)
from dynio.engine.plan import check_template_args
from dynio.engine.spec import CatalogSpec
from dynio.errors import (
    ConfigError,
    ConfigProblems,
    MissingVariableError,
    TemplateError,
    UnknownEnvironmentError,
)

CatalogFrom = Callable[..., dynio.Catalog]

# Variable names used below; none may leak in from the process environment.
VARS = (
    "DYNIO_T_BUCKET",
    "DYNIO_T_PREFIX",
    "DYNIO_T_NAME",
    "DYNIO_T_PORT",
    "DYNIO_T_PASS",
    "DYNIO_T_HOST",
    "DYNIO_T_ROWS",
    "DYNIO_T_LIMIT",
    "DYNIO_T_FLAG",
    "DYNIO_T_SEP",
    "DYNIO_T_CODEC",
    "DYNIO_T_ENV",
    "DYNIO_T_RES",
    "DYNIO_T_KEY",
    "DYNIO_T_A",
    "DYNIO_T_B",
    "DYNIO_T_MISSING",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARS:
        monkeypatch.delenv(name, raising=False)


def load(
    tmp_path: Path, text: str, env: str | None = "local", variables: Any = None
) -> CatalogSpec:
    path = write_text(tmp_path / "resources.yaml", text)
    return loader.load_catalog(path, env=env, variables=variables)


def settings_of(spec: CatalogSpec, resource: str, env: str = "local") -> dict[str, Any]:
    return dict(spec.resources[resource].env(env).source.settings)


def options_of(spec: CatalogSpec, resource: str, env: str = "local") -> dict[str, Any]:
    return dict(spec.resources[resource].env(env).source.options)


S3 = """
r:
  local:
    type: s3
    s3:
      bucket: "{bucket}"
      file_path: "{file_path}"
      file_type: parquet
"""


def s3(bucket: str, file_path: str = "d.parquet") -> str:
    return S3.replace("{bucket}", bucket).replace("{file_path}", file_path)


# ------------------------------------------------------------------------- where values come from


def test_value_from_mapping(tmp_path: Path) -> None:
    spec = load(tmp_path, s3("[[ DYNIO_T_BUCKET ]]"), variables={"DYNIO_T_BUCKET": "raw"})
    assert settings_of(spec, "r")["bucket"] == "raw"


def test_value_from_module(tmp_path: Path) -> None:
    module = types.ModuleType("environment")
    module.DYNIO_T_BUCKET = "from-module"  # type: ignore[attr-defined]
    spec = load(tmp_path, s3("[[ DYNIO_T_BUCKET ]]"), variables=module)
    assert settings_of(spec, "r")["bucket"] == "from-module"


def test_value_from_process_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DYNIO_T_BUCKET", "from-env")
    spec = load(tmp_path, s3("[[ DYNIO_T_BUCKET ]]"))
    bucket = settings_of(spec, "r")["bucket"]
    assert bucket == "from-env"
    assert type(bucket) is str  # not the internal EnvText marker


def test_mapping_wins_over_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DYNIO_T_BUCKET", "from-env")
    spec = load(tmp_path, s3("[[ DYNIO_T_BUCKET ]]"), variables={"DYNIO_T_BUCKET": "explicit"})
    assert settings_of(spec, "r")["bucket"] == "explicit"


def test_module_wins_over_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DYNIO_T_BUCKET", "from-env")
    module = types.ModuleType("environment")
    module.DYNIO_T_BUCKET = "from-module"  # type: ignore[attr-defined]
    spec = load(tmp_path, s3("[[ DYNIO_T_BUCKET ]]"), variables=module)
    assert settings_of(spec, "r")["bucket"] == "from-module"


def test_none_in_mapping_or_module_falls_back_to_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = types.ModuleType("environment")
    module.DYNIO_T_BUCKET = None  # type: ignore[attr-defined]
    monkeypatch.setenv("DYNIO_T_BUCKET", "from-env")
    spec = load(tmp_path, s3("[[ DYNIO_T_BUCKET ]]"), variables=module)
    assert settings_of(spec, "r")["bucket"] == "from-env"
    spec = load(tmp_path, s3("[[ DYNIO_T_BUCKET ]]"), variables={"DYNIO_T_BUCKET": None})
    assert settings_of(spec, "r")["bucket"] == "from-env"


@pytest.mark.parametrize("source", ["mapping", "module"])
def test_variable_set_to_none_counts_as_missing(tmp_path: Path, source: str) -> None:
    variables: Any
    if source == "module":
        variables = types.ModuleType("environment")
        variables.DYNIO_T_BUCKET = None
    else:
        variables = {"DYNIO_T_BUCKET": None}
    with pytest.raises(MissingVariableError) as info:
        load(tmp_path, s3("[[ DYNIO_T_BUCKET ]]"), variables=variables)
    assert info.value.variable == "DYNIO_T_BUCKET"


def test_empty_and_falsy_values_are_values(tmp_path: Path) -> None:
    text = """
    r:
      local:
        type: postgres
        postgres: {db_host: "[[ DYNIO_T_HOST ]]", db_port: "[[ DYNIO_T_PORT ]]"}
    """
    spec = load(tmp_path, text, variables={"DYNIO_T_HOST": "", "DYNIO_T_PORT": 0})
    assert settings_of(spec, "r") == {"db_host": "", "db_port": 0}


def test_variables_from_module_skips_private_names() -> None:
    module = types.ModuleType("environment")
    module.PUBLIC = 1  # type: ignore[attr-defined]
    module._PRIVATE = 2  # type: ignore[attr-defined]
    got = variables_from(module)
    assert got["PUBLIC"] == 1
    assert "_PRIVATE" not in got
    assert variables_from(None) == {}
    assert variables_from({"A": 1}) == {"A": 1}


# ------------------------------------------------------------------------ where placeholders go


def test_several_placeholders_in_one_string(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        s3("[[DYNIO_T_A]]-[[ DYNIO_T_B ]]", "[[ DYNIO_T_PREFIX ]]/x/[[ DYNIO_T_A ]].parquet"),
        variables={"DYNIO_T_A": "one", "DYNIO_T_B": 2, "DYNIO_T_PREFIX": "live/data"},
    )
    assert settings_of(spec, "r") == {
        "bucket": "one-2",
        "file_path": "live/data/x/one.parquet",
        "file_type": "parquet",
    }


def test_placeholder_inside_text_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DYNIO_T_A", "alpha")
    monkeypatch.setenv("DYNIO_T_B", "007")
    spec = load(tmp_path, s3("b-[[ DYNIO_T_A ]]", "p/[[ DYNIO_T_B ]]/d.parquet"))
    assert settings_of(spec, "r")["bucket"] == "b-alpha"
    assert settings_of(spec, "r")["file_path"] == "p/007/d.parquet"


def test_placeholders_mix_with_path_templates(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        s3("b", "[[ DYNIO_T_PREFIX ]]/{day}.parquet"),
        variables={"DYNIO_T_PREFIX": "trips"},
    )
    assert settings_of(spec, "r")["file_path"] == "trips/{day}.parquet"


def test_placeholder_in_resource_name(tmp_path: Path) -> None:
    text = """
    "[[ DYNIO_T_RES ]]":
      local:
        type: local
        local: {file_path: d.csv}
    "raw_[[ DYNIO_T_RES ]]":
      local:
        type: local
        local: {file_path: d.csv}
    """
    spec = load(tmp_path, text, variables={"DYNIO_T_RES": "trips"})
    assert list(spec.resources) == ["trips", "raw_trips"]
    assert spec.resources["raw_trips"].name == "raw_trips"


def test_missing_placeholder_in_resource_name_names_variable_and_file(tmp_path: Path) -> None:
    text = """
    "[[ DYNIO_T_MISSING ]]":
      local:
        type: local
        local: {file_path: d.csv}
    """
    with pytest.raises(MissingVariableError) as info:
        load(tmp_path, text)
    assert info.value.variable == "DYNIO_T_MISSING"
    assert info.value.file == str(tmp_path / "resources.yaml")


def test_placeholder_in_environment_name(tmp_path: Path) -> None:
    """``[[ VAR ]]`` works in keys, environment names included."""
    text = """
    r:
      "[[ DYNIO_T_ENV ]]":
        type: local
        local: {file_path: d.csv}
    """
    spec = load(tmp_path, text, env="staging", variables={"DYNIO_T_ENV": "staging"})
    assert spec.resources["r"].env_names() == ["staging"]
    assert settings_of(spec, "r", "staging")["file_path"] == "d.csv"


def test_placeholder_in_environment_name_through_the_catalog(
    tmp_path: Path, catalog_from: CatalogFrom, monkeypatch: pytest.MonkeyPatch
) -> None:
    pd.DataFrame({"a": [1, 2]}).to_csv(tmp_path / "d.csv", index=False)
    monkeypatch.setenv("DYNIO_T_ENV", "local")
    text = """
    r:
      "[[ DYNIO_T_ENV ]]":
        type: local
        local: {file_path: d.csv}
    """
    cat = catalog_from(text, env="local")
    assert cat.read("r")["a"].tolist() == [1, 2]


def test_placeholder_in_option_and_section_keys(tmp_path: Path) -> None:
    text = """
    r:
      local:
        type: local
        "[[ DYNIO_T_KEY ]]": {file_path: d.csv}
        options:
          "[[ DYNIO_T_SEP ]]": ";"
          "na_[[ DYNIO_T_A ]]": ["-"]
    """
    spec = load(
        tmp_path,
        text,
        variables={"DYNIO_T_KEY": "local", "DYNIO_T_SEP": "sep", "DYNIO_T_A": "values"},
    )
    assert settings_of(spec, "r") == {"file_path": "d.csv"}
    assert options_of(spec, "r") == {"sep": ";", "na_values": ("-",)}


def test_placeholder_key_from_environment_is_plain_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DYNIO_T_SEP", "sep")
    text = """
    r:
      local:
        type: local
        local: {file_path: d.csv}
        options: {"[[ DYNIO_T_SEP ]]": "|"}
    """
    options = options_of(load(tmp_path, text), "r")
    assert options == {"sep": "|"}
    assert [type(k) for k in options] == [str]


def test_placeholder_in_lists(tmp_path: Path) -> None:
    text = """
    r:
      local:
        type: local_batch
        local: {path_prefix: out/, file_type: parquet}
        options: {partition_cols: ["[[ DYNIO_T_A ]]", "b_[[ DYNIO_T_B ]]"]}
    """
    spec = load(tmp_path, text, variables={"DYNIO_T_A": "day", "DYNIO_T_B": "x"})
    assert options_of(spec, "r")["partition_cols"] == ("day", "b_x")


def test_whole_value_takes_the_variables_own_value(tmp_path: Path) -> None:
    text = """
    r:
      local:
        type: local_batch
        local: {path_prefix: out/, file_type: parquet}
        options: {partition_cols: "[[ DYNIO_T_A ]]"}
    """
    spec = load(tmp_path, text, variables={"DYNIO_T_A": ["day", "hour"]})
    assert options_of(spec, "r")["partition_cols"] == ("day", "hour")


def test_placeholder_in_schema_file_path_and_schema_file(tmp_path: Path) -> None:
    write_text(
        tmp_path / "schemas" / "s.yaml",
        """
        name: "[[ DYNIO_T_NAME ]]"
        columns:
          "[[ DYNIO_T_A ]]":
            type: "[[ DYNIO_T_B ]]"
            validations:
              is_lower_than: {apply: true, options: {threshold: "[[ DYNIO_T_LIMIT ]]"}}
        """,
    )
    text = """
    r:
      local:
        type: local
        local: {file_path: d.csv}
      schema:
        file_path: "[[ DYNIO_T_PREFIX ]]/s.yaml"
    """
    spec = load(
        tmp_path,
        text,
        variables={
            "DYNIO_T_PREFIX": str(tmp_path / "schemas"),
            "DYNIO_T_NAME": "trips",
            "DYNIO_T_A": "fare",
            "DYNIO_T_B": "float64",
            "DYNIO_T_LIMIT": 1000,
        },
    )
    schema = spec.resources["r"].schema
    assert schema is not None
    assert schema.name == "trips"
    assert schema.column_names == ["fare"]
    fare = schema.column("fare")
    assert fare is not None
    assert fare.dtype.spelling == "float64"
    assert fare.rules[0].options["threshold"] == 1000


def test_missing_variable_in_schema_file_names_the_schema_file(tmp_path: Path) -> None:
    write_text(
        tmp_path / "s.yaml",
        """
        columns:
          a:
            type: float64
            validations:
              is_lower_than: {options: {threshold: "[[ DYNIO_T_LIMIT ]]"}}
        """,
    )
    text = """
    r:
      local: {type: local, local: {file_path: d.csv}}
      schema: {file_path: s.yaml}
    """
    with pytest.raises(MissingVariableError) as info:
        load(tmp_path, text)
    exc = info.value
    assert exc.variable == "DYNIO_T_LIMIT"
    assert exc.file == str(tmp_path / "s.yaml")
    assert exc.resource == "r"
    assert exc.key_path == "columns.a.validations.is_lower_than.options.threshold"


# ------------------------------------------------------------------------ numbers stay numbers


def test_port_from_environment_becomes_int_password_stays_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DYNIO_T_PORT", "5432")
    monkeypatch.setenv("DYNIO_T_PASS", "0123")
    monkeypatch.setenv("DYNIO_T_HOST", "10")
    text = """
    r:
      local:
        type: postgres
        postgres:
          db_host: "[[ DYNIO_T_HOST ]]"
          db_port: "[[ DYNIO_T_PORT ]]"
          db_password: "[[ DYNIO_T_PASS ]]"
    """
    settings = settings_of(load(tmp_path, text), "r")
    assert settings == {"db_host": "10", "db_port": 5432, "db_password": "0123"}
    assert type(settings["db_port"]) is int
    # text, carried as a Secret (a str whose repr hides it), not the internal EnvText marker
    assert type(settings["db_password"]).__name__ == "Secret"
    assert isinstance(settings["db_password"], str)
    assert type(settings["db_host"]) is str


def test_port_from_mapping_int_or_text(tmp_path: Path) -> None:
    text = """
    r:
      local:
        type: postgres
        postgres: {db_port: "[[ DYNIO_T_PORT ]]", db_password: "[[ DYNIO_T_PASS ]]"}
    """
    settings = settings_of(
        load(tmp_path, text, variables={"DYNIO_T_PORT": 5432, "DYNIO_T_PASS": 123}), "r"
    )
    assert settings == {"db_port": 5432, "db_password": "123"}
    settings = settings_of(
        load(tmp_path, text, variables={"DYNIO_T_PORT": "6543", "DYNIO_T_PASS": "0123"}), "r"
    )
    assert settings == {"db_port": 6543, "db_password": "0123"}


def test_non_numeric_port_from_environment_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DYNIO_T_PORT", "fifty")
    text = """
    r:
      local:
        type: postgres
        postgres: {db_port: "[[ DYNIO_T_PORT ]]"}
    """
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    assert info.value.key_path == "r.local.postgres.db_port"
    assert info.value.resource == "r"


def test_port_inside_text_is_text(tmp_path: Path) -> None:
    text = """
    r:
      local:
        type: postgres
        postgres: {uri: "postgresql://h:[[ DYNIO_T_PORT ]]/db"}
    """
    spec = load(tmp_path, text, variables={"DYNIO_T_PORT": 5432})
    assert settings_of(spec, "r") == {"uri": "postgresql://h:5432/db"}


@pytest.mark.parametrize(
    ("env_value", "expected"),
    [
        ("1000", 1000),
        ("0.5", 0.5),
        ("-3", -3),
        ("true", True),
        ("false", False),
        ("snappy", "snappy"),
        ("1.2.3", "1.2.3"),
        ("", ""),
    ],
)
def test_whole_value_env_var_in_options_is_a_yaml_scalar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env_value: str, expected: Any
) -> None:
    monkeypatch.setenv("DYNIO_T_ROWS", env_value)
    text = """
    r:
      local:
        type: kafka
        kafka: {kafka_server: s, kafka_topic: t}
        options: {linger.ms: "[[ DYNIO_T_ROWS ]]", client.id: "x-[[ DYNIO_T_ROWS ]]"}
    """
    options = options_of(load(tmp_path, text), "r")
    assert options["linger.ms"] == expected
    assert type(options["linger.ms"]) is type(expected)
    assert options["client.id"] == f"x-{env_value}"
    assert type(options["client.id"]) is str


def test_csv_nrows_from_environment_reads_that_many_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, catalog_from: CatalogFrom
) -> None:
    pd.DataFrame({"a": range(10)}).to_csv(tmp_path / "d.csv", index=False)
    monkeypatch.setenv("DYNIO_T_ROWS", "3")
    text = """
    r:
      local:
        type: local
        local: {file_path: d.csv}
        options: {nrows: "[[ DYNIO_T_ROWS ]]"}
    """
    cat = catalog_from(text)
    assert cat.resource("r").spec.source.options["nrows"] == 3
    assert cat.read("r")["a"].tolist() == [0, 1, 2]


@pytest.mark.parametrize("value", [1000, 0.25, 7])
def test_rule_threshold_from_mapping_keeps_its_type(tmp_path: Path, value: float) -> None:
    text = """
    r:
      local:
        type: local
        local: {file_path: d.csv}
      schema:
        columns:
          a:
            type: float64
            validations:
              is_lower_than: {apply: true, options: {threshold: "[[ DYNIO_T_LIMIT ]]"}}
    """
    spec = load(tmp_path, text, variables={"DYNIO_T_LIMIT": value})
    schema = spec.resources["r"].schema
    assert schema is not None
    threshold = schema.columns[0].rules[0].options["threshold"]
    assert threshold == value
    assert type(threshold) is type(value)


@pytest.mark.parametrize(("env_value", "expected"), [("1000", 1000), ("0.25", 0.25)])
def test_rule_threshold_from_environment_is_a_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env_value: str, expected: float
) -> None:
    monkeypatch.setenv("DYNIO_T_LIMIT", env_value)
    monkeypatch.setenv("DYNIO_T_FLAG", "true")
    text = """
    r:
      local:
        type: local
        local: {file_path: d.csv}
      schema:
        columns:
          a:
            type: float64
            validations:
              is_between:
                apply: "[[ DYNIO_T_FLAG ]]"
                options: {lower: 0, upper: "[[ DYNIO_T_LIMIT ]]"}
    """
    spec = load(tmp_path, text)
    schema = spec.resources["r"].schema
    assert schema is not None
    rule = schema.columns[0].rules[0]
    assert rule.options["upper"] == expected
    assert type(rule.options["upper"]) is type(expected)
    assert rule.apply is True


def test_rule_threshold_from_text_variable_is_refused(tmp_path: Path) -> None:
    text = """
    r:
      local:
        type: local
        local: {file_path: d.csv}
      schema:
        columns:
          a:
            type: float64
            validations:
              is_lower_than: {options: {threshold: "[[ DYNIO_T_LIMIT ]]"}}
    """
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text, variables={"DYNIO_T_LIMIT": "a lot"})
    assert info.value.column == "a"
    assert info.value.key_path == "r.schema.columns.a.validations.is_lower_than.options"


# ------------------------------------------------------------------------- unquoted placeholders


def test_unquoted_placeholder_is_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DYNIO_T_PORT", "5432")
    text = """
    r:
      local:
        type: postgres
        postgres:
          db_host: [[ DYNIO_T_HOST ]]
          db_port: [[ DYNIO_T_PORT ]]
          db_password: [[DYNIO_T_PASS]]
        options:
          table: [[ DYNIO_T_NAME ]]
    """
    spec = load(
        tmp_path,
        text,
        variables={"DYNIO_T_HOST": "db.local", "DYNIO_T_PASS": "0123", "DYNIO_T_NAME": "trips"},
    )
    assert settings_of(spec, "r") == {
        "db_host": "db.local",
        "db_port": 5432,
        "db_password": "0123",
    }
    assert options_of(spec, "r") == {"table": "trips"}


def test_unquoted_missing_placeholder_names_the_variable(tmp_path: Path) -> None:
    text = """
    r:
      local:
        type: s3
        s3: {bucket: [[ DYNIO_T_MISSING ]], file_path: d.parquet}
    """
    with pytest.raises(MissingVariableError) as info:
        load(tmp_path, text)
    assert info.value.variable == "DYNIO_T_MISSING"
    assert info.value.key_path == "r.local.s3.bucket"


def test_genuine_nested_lists_are_left_alone(tmp_path: Path) -> None:
    text = """
    r:
      local:
        type: kafka
        kafka: {kafka_server: s, kafka_topic: t}
        options: {header_columns: [[a, b]], filters: [[not a name]]}
    """
    options = options_of(load(tmp_path, text), "r")
    assert options == {"header_columns": (("a", "b"),), "filters": (("not a name",),)}


# ----------------------------------------------------------------------------- missing variables


def test_missing_variable_names_variable_file_resource_and_key(tmp_path: Path) -> None:
    with pytest.raises(MissingVariableError) as info:
        load(tmp_path, s3("[[ DYNIO_T_MISSING ]]"))
    exc = info.value
    assert isinstance(exc, ConfigError)
    assert exc.variable == "DYNIO_T_MISSING"
    assert exc.file == str(tmp_path / "resources.yaml")
    assert exc.resource == "r"
    assert exc.env == "local"
    assert exc.key_path == "r.local.s3.bucket"
    text = str(exc)
    for part in ("DYNIO_T_MISSING", str(tmp_path / "resources.yaml"), "'r'", "'r.local.s3.bucket'"):
        assert part in text


def test_missing_variable_through_the_catalog(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    with pytest.raises(MissingVariableError) as info:
        catalog_from(s3("[[ DYNIO_T_MISSING ]]"), vars={"OTHER": 1})
    assert info.value.variable == "DYNIO_T_MISSING"
    assert info.value.resource == "r"


def test_missing_variable_in_resource_level_schema_reference_fails_the_load(
    tmp_path: Path,
) -> None:
    text = """
    r:
      local: {type: local, local: {file_path: d.csv}}
      schema: {file_path: "[[ DYNIO_T_PREFIX ]]/s.yaml"}
    """
    with pytest.raises(MissingVariableError) as info:
        load(tmp_path, text)
    assert info.value.variable == "DYNIO_T_PREFIX"
    assert info.value.key_path == "r.schema.file_path"


def test_missing_variables_in_several_resources_are_all_reported(tmp_path: Path) -> None:
    text = s3("[[ DYNIO_T_A ]]") + s3("[[ DYNIO_T_B ]]").replace("r:", "q:")
    with pytest.raises(ConfigProblems) as info:
        load(tmp_path, text)
    got = [(p.resource, p.variable) for p in info.value.problems]  # type: ignore[attr-defined]
    assert got == [("r", "DYNIO_T_A"), ("q", "DYNIO_T_B")]


def test_resolve_placeholders_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DYNIO_T_PORT", "5432")
    doc = {
        "[[ DYNIO_T_KEY ]]": "[[ DYNIO_T_A ]]/[[ DYNIO_T_B ]]",
        "port": "[[ DYNIO_T_PORT ]]",
        "bare": [["DYNIO_T_A"]],
        "n": 3,
        "items": ["[[ DYNIO_T_A ]]", None],
    }
    got = resolve_placeholders(
        doc, {"DYNIO_T_KEY": "k", "DYNIO_T_A": "a", "DYNIO_T_B": 1}, {"file": "f.yaml"}
    )
    assert got == {"k": "a/1", "port": "5432", "bare": "a", "n": 3, "items": ["a", None]}
    assert isinstance(got["port"], EnvText)
    assert doc["[[ DYNIO_T_KEY ]]"] == "[[ DYNIO_T_A ]]/[[ DYNIO_T_B ]]"  # input untouched
    with pytest.raises(EngineMissingVariableError) as info:
        resolve_placeholders({"x": ["ok", "[[ DYNIO_T_MISSING ]]"]}, {}, {"file": "f.yaml"}, "top")
    assert info.value.key_path == "top.x[1]"
    assert info.value.file == "f.yaml"


# ------------------------------------------------------------------ another environment's gaps


DEFERRED = """
r:
  sample:
    type: local
    local: {file_path: d.csv}
  actual:
    type: s3
    s3: {bucket: "[[ DYNIO_T_BUCKET ]]", file_path: d.parquet}
"""


def test_missing_variable_of_another_env_does_not_stop_the_load(
    tmp_path: Path, catalog_from: CatalogFrom
) -> None:
    pd.DataFrame({"a": [1]}).to_csv(tmp_path / "d.csv", index=False)
    cat = catalog_from(DEFERRED, env="sample")
    assert cat.read("r")["a"].tolist() == [1]
    spec = load(tmp_path, DEFERRED, env="sample")
    res = spec.resources["r"]
    assert list(res.envs) == ["sample"]
    assert list(res.deferred) == ["actual"]
    assert res.env_names() == ["sample", "actual"]


def test_using_the_deferred_env_raises_the_stored_error(tmp_path: Path) -> None:
    spec = load(tmp_path, DEFERRED, env="sample")
    res = spec.resources["r"]
    with pytest.raises(MissingVariableError) as info:
        res.env("actual")
    exc = info.value
    # a fresh copy of the stored error each time (no traceback shared between raises)
    assert exc is not res.deferred["actual"]
    assert str(exc) == str(res.deferred["actual"])
    assert exc.variable == "DYNIO_T_BUCKET"
    assert exc.resource == "r"
    assert exc.env == "actual"
    assert exc.file == str(tmp_path / "resources.yaml")
    assert exc.key_path == "r.actual.s3.bucket"
    with pytest.raises(MissingVariableError):
        res.env("ACTUAL")  # case-insensitive match reaches the deferred env too
    resource = dynio.Resource(res, "actual")
    for call in (resource.read, resource.scan, lambda: resource.write(pd.DataFrame({"a": [1]}))):
        with pytest.raises(MissingVariableError) as info:
            call()
        assert info.value.variable == "DYNIO_T_BUCKET"


def test_selected_env_matched_case_insensitively_still_defers_the_other(tmp_path: Path) -> None:
    spec = load(tmp_path, DEFERRED, env="SAMPLE")
    assert list(spec.resources["r"].deferred) == ["actual"]


def test_loading_for_the_env_with_the_gap_fails(tmp_path: Path) -> None:
    path = write_text(tmp_path / "resources.yaml", DEFERRED)
    with pytest.raises(MissingVariableError) as info:
        dynio.Catalog.from_yaml(path, env="actual", strict=True)
    assert info.value.variable == "DYNIO_T_BUCKET"
    assert info.value.env == "actual"


def test_without_an_env_every_gap_is_a_problem(tmp_path: Path) -> None:
    text = DEFERRED + s3("[[ DYNIO_T_A ]]").replace("r:", "q:").replace("local:", "sample:")
    path = write_text(tmp_path / "resources.yaml", text)
    problems = loader.check_catalog(path)
    assert [(p.resource, p.env, p.variable) for p in problems] == [  # type: ignore[attr-defined]
        ("r", "actual", "DYNIO_T_BUCKET"),
        ("q", "sample", "DYNIO_T_A"),
    ]


def test_deferred_env_resolves_once_the_variable_is_given(tmp_path: Path) -> None:
    spec = load(tmp_path, DEFERRED, env="sample", variables={"DYNIO_T_BUCKET": "b"})
    assert spec.resources["r"].deferred == {}
    assert settings_of(spec, "r", "actual")["bucket"] == "b"


@pytest.mark.parametrize(
    ("actual_body", "key_path"),
    [
        (
            "type: s3\n    s3: {bucket: '[[ DYNIO_T_BUCKET ]]', file_path: d.parquet, region: x}",
            "r.actual.s3.region",
        ),
        ("type: s4\n    s3: {bucket: '[[ DYNIO_T_BUCKET ]]'}", "r.actual.type"),
        (
            "type: s3\n    s3: {bucket: '[[ DYNIO_T_BUCKET ]]', file_path: d.parquet}\n"
            "    colour: red",
            "r.actual.colour",
        ),
        (
            "type: s3\n    s3: {bucket: '[[ DYNIO_T_BUCKET ]]', file_path: d.parquet}\n"
            "    options: {bogus: 1}",
            "r.actual.options.bogus",
        ),
    ],
)
def test_structural_errors_in_a_deferred_env_still_fail_the_load(
    tmp_path: Path, actual_body: str, key_path: str
) -> None:
    """An env with an unset variable is deferred, but unknown keys/types in it are errors now."""
    text = (
        "r:\n  sample:\n    type: local\n    local: {file_path: d.csv}\n"
        f"  actual:\n    {actual_body}\n"
    )
    path = write_text(tmp_path / "resources.yaml", text)
    with pytest.raises(ConfigError) as info:
        dynio.Catalog.from_yaml(path, env="sample", strict=True)
    exc = info.value
    found = exc.problems if isinstance(exc, ConfigProblems) else [exc]
    assert key_path in [p.key_path for p in found], str(exc)
    assert all(p.resource == "r" for p in found)


def test_unknown_env_and_deferred_env_together(tmp_path: Path) -> None:
    path = write_text(tmp_path / "resources.yaml", DEFERRED)
    with pytest.raises(UnknownEnvironmentError) as info:
        dynio.Catalog.from_yaml(path, env="prod", strict=True)
    assert info.value.resource == "r"


# ------------------------------------------------------------------------------ {path} templates


@pytest.fixture
def daily(tmp_path: Path, catalog_from: CatalogFrom) -> dynio.Catalog:
    pd.DataFrame({"a": [1, 2]}).to_csv(tmp_path / "d_2024-01-01.csv", index=False)
    pd.DataFrame({"a": [3]}).to_csv(tmp_path / "d_2024-01-02.csv", index=False)
    (tmp_path / "eu" / "2024").mkdir(parents=True)
    pd.DataFrame({"a": [9]}).to_csv(tmp_path / "eu" / "2024" / "d_x.csv", index=False)
    return catalog_from(
        """
        r:
          local:
            type: local
            local: {file_path: "d_{day}.csv", file_type: csv}
        nested:
          local:
            type: local
            local: {file_path: "{region}/{year}/d_{day}.csv", file_type: csv}
        """
    )


def test_same_catalog_reads_twice_with_different_args(daily: dynio.Catalog) -> None:
    assert daily.read("r", day="2024-01-01")["a"].tolist() == [1, 2]
    assert daily.read("r", day="2024-01-02")["a"].tolist() == [3]
    assert daily.read("r", day="2024-01-01")["a"].tolist() == [1, 2]
    assert daily.read_polars("r", day="2024-01-02")["a"].to_list() == [3]
    assert daily.scan("r", day="2024-01-01").collect()["a"].to_list() == [1, 2]
    assert daily.resource("r").spec.source.settings["file_path"] == "d_{day}.csv"


def test_same_resource_reads_twice_with_different_args(daily: dynio.Catalog) -> None:
    res = daily.resource("r")
    assert res.read(day="2024-01-02")["a"].tolist() == [3]
    assert res.read(day="2024-01-01")["a"].tolist() == [1, 2]
    assert res.read_polars(day="2024-01-02")["a"].to_list() == [3]
    assert res.spec.source.settings["file_path"] == "d_{day}.csv"


def test_several_fields_and_non_text_values(daily: dynio.Catalog) -> None:
    df = daily.read("nested", region="eu", year=2024, day="x")
    assert df["a"].tolist() == [9]
    info = daily.read_result("nested", region="eu", year=2024, day="x").info
    assert info.location.endswith("eu/2024/d_x.csv")


def test_missing_template_arg_names_the_placeholder(daily: dynio.Catalog) -> None:
    for call in (
        lambda: daily.read("r"),
        lambda: daily.scan("r"),
        lambda: daily.resource("r").read_polars(),
        lambda: daily.read("nested", region="eu", day="x"),
    ):
        with pytest.raises(TemplateError) as info:
            call()
        assert info.value.resource in ("r", "nested")
        assert "{day}" in str(info.value) or "{year}" in str(info.value)
    with pytest.raises(TemplateError) as info:
        daily.read("nested", region="eu", day="x")
    assert "{year}" in str(info.value)
    assert "{region}" not in str(info.value).split("needs a value for")[1]


def test_missing_template_arg_on_write(daily: dynio.Catalog, tmp_path: Path) -> None:
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(TemplateError) as info:
        daily.write("r", pd.DataFrame({"a": [1]}))
    assert "{day}" in str(info.value)
    assert info.value.resource == "r"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_unexpected_template_args_are_refused(daily: dynio.Catalog, tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as info:
        daily.read("r", day="2024-01-01", dya="typo")
    assert "dya" in str(info.value)
    assert info.value.resource == "r"
    pd.DataFrame({"a": [1]}).to_csv(tmp_path / "plain.csv", index=False)
    cat = dynio.Catalog.from_yaml(
        write_text(
            tmp_path / "plain.yaml",
            "p:\n  local:\n    type: local\n    local: {file_path: plain.csv}\n",
        ),
        env="local",
    )
    with pytest.raises(TemplateError) as info:
        cat.read("p", day="2024-01-01")
    assert "day" in str(info.value)
    with pytest.raises(TemplateError):
        cat.write("p", pd.DataFrame({"a": [1]}), day="x")
    assert cat.read("p")["a"].tolist() == [1]


@pytest.mark.parametrize(
    "value",
    [
        "..",
        "../secret",
        "a/../../secret",
        "a\\..\\..\\secret",
        "/etc/passwd",
        "\\\\server\\share",
        "C:\\Windows",
        "c:/x",
        "bad\x00name",
    ],
)
def test_path_traversal_is_refused(daily: dynio.Catalog, tmp_path: Path, value: str) -> None:
    with pytest.raises(TemplateError) as info:
        daily.read("r", day=value)
    assert info.value.resource == "r"
    assert "{day}" in str(info.value)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    with pytest.raises(TemplateError):
        daily.write("r", pd.DataFrame({"a": [1]}), day=value)
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_harmless_values_with_dots_and_subfolders_are_allowed(
    daily: dynio.Catalog, tmp_path: Path
) -> None:
    daily.write("r", pd.DataFrame({"a": [5]}), day="v1..2")
    assert (tmp_path / "d_v1..2.csv").is_file()
    assert daily.read("r", day="v1..2")["a"].tolist() == [5]
    (tmp_path / "d_sub").mkdir()
    pd.DataFrame({"a": [6]}).to_csv(tmp_path / "d_sub" / "inner.csv", index=False)
    assert daily.read("r", day="sub/inner")["a"].tolist() == [6]


def test_write_fills_templates_without_mutating(daily: dynio.Catalog, tmp_path: Path) -> None:
    daily.write("r", pd.DataFrame({"a": [7, 8]}), day="w1")
    daily.write("r", pd.DataFrame({"a": [9]}), day="w2")
    assert pd.read_csv(tmp_path / "d_w1.csv")["a"].tolist() == [7, 8]
    assert pd.read_csv(tmp_path / "d_w2.csv")["a"].tolist() == [9]
    assert daily.resource("r").spec.source.settings["file_path"] == "d_{day}.csv"


def test_templates_in_a_local_batch_prefix(tmp_path: Path, catalog_from: CatalogFrom) -> None:
    cat = catalog_from(
        """
        parts:
          local:
            type: local_batch
            local: {path_prefix: "out/{run}/", file_type: parquet}
        """
    )
    cat.write("parts", pd.DataFrame({"a": [1]}), run="r1")
    cat.write("parts", pd.DataFrame({"a": [2, 3]}), run="r2")
    assert cat.read("parts", run="r1")["a"].tolist() == [1]
    assert cat.read("parts", run="r2")["a"].tolist() == [2, 3]
    with pytest.raises(TemplateError):
        cat.read("parts", run="../r1")


def test_fill_template_directly() -> None:
    ctx = {"resource": "r", "env": "e"}
    assert fill_template("a/{x}/{y}.csv", {"x": 1, "y": "b"}, ctx) == "a/1/b.csv"
    assert fill_template("a/{x}/{x}.csv", {"x": "z"}, ctx) == "a/z/z.csv"
    assert fill_template("plain.csv", {}, ctx) == "plain.csv"
    args = {"x": "1"}
    fill_template("{x}", args, ctx)
    assert args == {"x": "1"}
    with pytest.raises(TemplateError) as info:
        fill_template("a/{x}/{y}.csv", {"x": 1}, ctx)
    assert "{y}" in str(info.value)
    assert "{x}" not in str(info.value).split("needs a value for")[1]
    assert info.value.resource == "r"
    with pytest.raises(TemplateError):
        fill_template("a/{x.csv", {"x": 1}, ctx)
    with pytest.raises(TemplateError):
        fill_template("a/{x}", {"x": "../up"}, ctx)


def test_template_fields() -> None:
    assert template_fields("a/{x}/{y}/{x}.csv") == ["x", "y"]
    assert template_fields("plain") == []


def test_template_root() -> None:
    assert template_root("data/in/{x}.csv") == "data/in"
    assert template_root("data/in/day={day}/x.csv") == "data/in"
    assert template_root("{x}.csv") == ""
    assert template_root("/{x}.csv") == "/"
    assert template_root("a{{b}}/c/{x}") == "a{b}/c"


def test_fill_template_refuses_globs_and_nul_unless_allowed() -> None:
    ctx = {"resource": "r", "env": "e"}
    for value in ("*", "o?", "[o]k", "{x}", "a}b"):
        with pytest.raises(TemplateError, match=r"glob character") as info:
            fill_template("a/{x}.csv", {"x": value}, ctx)
        assert "{x}" in str(info.value)
        assert info.value.resource == "r"
        assert fill_template("a/{x}.csv", {"x": value}, ctx, allow_escape=True) == f"a/{value}.csv"
    for value in ("../up", "/abs", "~root"):
        assert fill_template("{x}/f", {"x": value}, ctx, allow_escape=True) == f"{value}/f"
        assert fill_template("{x}/f", {"x": EscapeAllowed(value)}, ctx) == f"{value}/f"
    for allowed in (False, True):
        with pytest.raises(TemplateError, match="NUL"):
            fill_template("a/{x}", {"x": "ok\x00.csv"}, ctx, allow_escape=allowed)
    with pytest.raises(TemplateError, match="NUL"):
        fill_template("a/{x}", {"x": EscapeAllowed("ok\x00.csv")}, ctx)


@pytest.fixture
def escapable(tmp_path: Path, catalog_from: CatalogFrom) -> dynio.Catalog:
    """``root/in/{x}.csv`` and ``{x}.csv``, each as configured and allowing escapes."""
    (tmp_path / "root" / "in").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    pd.DataFrame({"a": [1]}).to_csv(tmp_path / "root" / "in" / "ok.csv", index=False)
    pd.DataFrame({"a": [2]}).to_csv(tmp_path / "root" / "in" / "other.csv", index=False)
    pd.DataFrame({"a": [666]}).to_csv(tmp_path / "outside" / "x.csv", index=False)
    (tmp_path / "root" / "in" / "link").symlink_to(tmp_path / "outside", target_is_directory=True)
    return catalog_from(
        """
        strict:
          local:
            type: local
            local: {file_path: "root/in/{x}.csv"}
        open:
          local:
            type: local
            local: {file_path: "root/in/{x}.csv"}
            options: {allow_template_escape: true, sep: ","}
        strict_any:
          local:
            type: local
            local: {file_path: "{x}.csv"}
        open_any:
          local:
            type: local
            local: {file_path: "{x}.csv"}
            options: {allow_template_escape: true}
        """
    )


def test_allow_template_escape_accepts_what_is_refused_otherwise(
    escapable: dynio.Catalog, tmp_path: Path
) -> None:
    values = [
        ("strict", "open", "../../outside/x", [666]),  # a .. segment
        ("strict_any", "open_any", str(tmp_path / "outside" / "x"), [666]),  # an absolute path
        ("strict", "open", "link/x", [666]),  # a symlink leading out of root/in
        ("strict", "open", "*", [2, 1]),  # a glob (other.csv, ok.csv)
    ]
    for strict, opened, value, expected in values:
        with pytest.raises(TemplateError) as info:
            escapable.read(strict, x=value)
        assert info.value.resource == strict, value
        assert "{x}" in str(info.value), value
        assert repr(value) in str(info.value), value
        got = sorted(escapable.read(opened, x=value)["a"].tolist())
        assert got == sorted(expected), value
    with pytest.raises(TemplateError, match="NUL"):
        escapable.read("open", x="ok\x00")
    assert "allow_template_escape" not in escapable.resource("open").spec.source.options
    assert escapable.resource("open").spec.source.allow_template_escape is True
    assert escapable.resource("strict").spec.source.allow_template_escape is False


def test_a_symlink_error_names_resource_field_and_value(escapable: dynio.Catalog) -> None:
    with pytest.raises(TemplateError) as info:
        escapable.read("strict", x="link/x")
    message = str(info.value)
    assert "{x}='link/x'" in message
    assert "symlink" in message
    assert "allow_template_escape" in message
    assert info.value.resource == "strict"
    assert info.value.key_path == "local.file_path"
    with pytest.raises(TemplateError, match="symlink"):
        escapable.write("strict", pd.DataFrame({"a": [1]}), x="link/new")


def test_allow_template_escape_applies_to_writes(escapable: dynio.Catalog, tmp_path: Path) -> None:
    escapable.write("open", pd.DataFrame({"a": [3]}), x="../../outside/new")
    assert pd.read_csv(tmp_path / "outside" / "new.csv")["a"].tolist() == [3]


def test_symlinks_the_operator_configured_keep_working(
    tmp_path: Path, catalog_from: CatalogFrom
) -> None:
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "day1").mkdir(parents=True)
    pd.DataFrame({"a": [5]}).to_csv(elsewhere / "day1" / "data.csv", index=False)
    (tmp_path / "lake").symlink_to(elsewhere, target_is_directory=True)
    (tmp_path / "mixed" / "day1").mkdir(parents=True)
    (tmp_path / "mixed" / "day1" / "data.csv").symlink_to(elsewhere / "day1" / "data.csv")
    cat = catalog_from(
        """
        linked_root:   # the configured folder itself is a symlink
          local:
            type: local
            local: {file_path: "lake/{day}/data.csv"}
        linked_file:   # a fixed name after the value is a symlink
          local:
            type: local
            local: {file_path: "mixed/{day}/data.csv"}
        plain:         # no template: nothing to check
          local:
            type: local
            local: {file_path: "lake/day1/data.csv"}
        """
    )
    assert cat.read("linked_root", day="day1")["a"].tolist() == [5]
    assert cat.read("linked_file", day="day1")["a"].tolist() == [5]
    assert cat.read("plain")["a"].tolist() == [5]


def test_remote_templates_get_the_value_rules_not_realpath(catalog_from: CatalogFrom) -> None:
    cat = catalog_from(
        """
        remote:
          local:
            type: file
            file: {uri: "s3://bucket/in/{x}.parquet"}
        remote_open:
          local:
            type: file
            file: {uri: "s3://bucket/in/{x}.parquet"}
            options: {allow_template_escape: true}
        """
    )
    for value in ("../x", "*", "%2e%2e%2fx"):
        with pytest.raises(TemplateError) as info:
            cat.read("remote", x=value)
        assert info.value.key_path == "file.uri"
    strict = cat.resource("remote").spec
    assert check_template_args(strict, {"x": "2024"}, {"resource": "remote"}) == {"x": "2024"}
    opened = check_template_args(cat.resource("remote_open").spec, {"x": "../*"}, {})
    assert opened == {"x": "../*"}
    assert isinstance(opened["x"], EscapeAllowed)


def test_allow_template_escape_is_checked_at_load(catalog_from: CatalogFrom) -> None:
    with pytest.raises(ConfigError) as info:
        catalog_from(
            """
            r:
              local:
                type: local
                local: {file_path: "x/{day}.csv"}
                options: {allow_template_escape: maybe}
            """
        )
    assert info.value.resource == "r"
    assert info.value.key_path == "r.local.options.allow_template_escape"
    assert "maybe" in str(info.value)
    cat = catalog_from(
        """
        r:
          local:
            type: local
            local: {file_path: "x/{day}.csv"}
            options: {allow_template_escape: "[[ DYNIO_T_FLAG ]]"}
        """,
        vars={"DYNIO_T_FLAG": False},
    )
    assert cat.resource("r").spec.source.allow_template_escape is False


def test_a_catalog_with_anchors_aliases_and_merge_keys_loads(
    tmp_path: Path, catalog_from: CatalogFrom
) -> None:
    pd.DataFrame({"a": [1], "b": ["x"]}).to_csv(tmp_path / "t.csv", sep=";", index=False)
    cat = catalog_from(
        """
        trips:
          local: &trips_local
            type: local
            local: &trips_file {file_path: t.csv, file_type: csv}
            options: &csv_opts {sep: ";"}
          sample:
            <<: *trips_local
            options: {<<: *csv_opts, columns: [a]}
          schema: &schema
            columns: {a: {type: int64}, b: {type: object}}
        trips_copy:
          local: &copy
            type: local
            local: *trips_file
            options: *csv_opts
          sample: *copy
          schema: *schema
        """
    )
    assert cat.read("trips")["a"].tolist() == [1]
    assert cat.read("trips_copy")["b"].tolist() == ["x"]
    assert cat.resource("trips").spec.source.options["sep"] == ";"
    # the merged environment: the anchor's keys, its own options overriding (with a merge too)
    merged = dynio.Catalog.from_yaml(tmp_path / "resources.yaml", env="sample")
    assert dict(merged.resource("trips").spec.source.options) == {"sep": ";", "columns": ("a",)}
    assert merged.read("trips").columns.tolist() == ["a"]


def test_a_merge_key_does_not_hide_a_key_written_twice(catalog_from: CatalogFrom) -> None:
    with pytest.raises(ConfigError, match="twice"):
        catalog_from(
            """
            r:
              local: &l {type: local, local: {file_path: a.csv}}
              dev: {<<: *l, type: local, type: file}
            """
        )


def test_an_alias_inside_its_own_anchor_is_refused(catalog_from: CatalogFrom) -> None:
    with pytest.raises(ConfigError, match=r"alias \*loop") as info:
        catalog_from(
            """
            r:
              local:
                type: local
                local: {file_path: a.csv}
                options: &loop {columns: [*loop]}
            """
        )
    assert str(info.value.file).endswith("resources.yaml")


def test_a_large_catalog_merging_defaults_into_every_resource_loads(
    catalog_from: CatalogFrom,
) -> None:
    # 1,000 resources merging one environment block: over 10,000 nodes through aliases, yet in
    # proportion to what is written (an alias bomb is not)
    lines = [
        "r0:",
        "  local: &d",
        "    type: local",
        "    local: {file_path: r.csv, file_type: csv}",
        "    options: {sep: ',', decimal: '.', encoding: utf-8}",
    ]
    for i in range(1, 1_000):
        lines += [f"r{i}:", "  local:", "    <<: *d"]
    cat = catalog_from("\n".join(lines), env="local")
    assert len(cat.resources) == 1_000
