"""Loading resource and schema YAML: the dynamicio layout, checked in full when a catalog loads.

Covers: resources with any number of arbitrarily named environments; every source ``type`` the
YAML may name (``local``/``local_batch`` served, the others parsed and refused with
``UnsupportedError`` on use); the type's section (``local``, dynamicio's ``local`` for
``local_batch`` and ``s3`` for ``s3_file``/``s3_path_prefix``); format options under pandas and
Polars names; schemas from a file (beside the YAML, then the working directory) or inline; dtype
spellings, rules, frame-level rules and metrics; every kind of mistake reported with file,
resource, key path and column, several at once; directory loading; malformed and unsafe YAML;
environment selection (``DYNIO_ENV``, case-insensitive matching); immutable specs;
``dynio catalog check``; the demo config; and dynamicio's own demo definitions loaded verbatim.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest
from conftest import write_text

import dynio
from dynio import cli
from dynio.engine import loader
from dynio.engine.spec import CatalogSpec
from dynio.errors import (
    ConfigError,
    ConfigProblems,
    MissingVariableError,
    ResourceNotFoundError,
    UnknownEnvironmentError,
)

CatalogFrom = Callable[..., dynio.Catalog]

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "configs" / "demo" / "resources.yaml"

# --------------------------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def no_dynio_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests choose the environment themselves; a DYNIO_ENV set by the caller must not leak in."""
    monkeypatch.delenv("DYNIO_ENV", raising=False)


def load_spec(path: Path, env: str | None = "local", variables: Any = None) -> CatalogSpec:
    return loader.load_catalog(path, env=env, variables=variables)


def config_error(
    tmp_path: Path, text: str, env: str = "local", name: str = "resources.yaml"
) -> ConfigError:
    """Load YAML that must fail; return the (single) ConfigError."""
    path = write_text(tmp_path / name, text)
    with pytest.raises(ConfigError) as info:
        dynio.Catalog.from_yaml(path, env=env, strict=True)
    assert not isinstance(info.value, ConfigProblems), str(info.value)
    return info.value


def assert_context(
    exc: ConfigError,
    *,
    file: Path | str | None = None,
    resource: str | None = None,
    key_path: str | None = None,
    column: str | None = None,
) -> None:
    """The error carries (and its message shows) the given context."""
    text = str(exc)
    if file is not None:
        assert exc.file == str(file), text
        assert str(file) in text
    if resource is not None:
        assert exc.resource == resource, text
        assert repr(resource) in text
    if key_path is not None:
        assert exc.key_path == key_path, text
        assert repr(key_path) in text
    if column is not None:
        assert exc.column == column, text
        assert repr(column) in text


def local_resource(name: str = "r", extra: str = "", env: str = "local") -> str:
    body = f"""
    {name}:
      {env}:
        type: local
        local:
          file_path: data.csv
          file_type: csv
    """
    return textwrap.dedent(body) + textwrap.dedent(extra)


def schema_doc(columns: str, extra: str = "") -> str:
    return (
        "name: s\ncolumns:\n"
        + textwrap.indent(textwrap.dedent(columns).strip(), "  ")
        + ("\n" + textwrap.dedent(extra).strip() if extra else "")
    )


def with_schema(tmp_path: Path, schema_text: str) -> Path:
    """A resource ``r`` (env ``local``) whose schema is ``schema.yaml`` beside it."""
    write_text(tmp_path / "schema.yaml", schema_text)
    return write_text(
        tmp_path / "resources.yaml",
        """
        r:
          local:
            type: local
            local: {file_path: data.csv, file_type: csv}
          schema:
            file_path: schema.yaml
        """,
    )


def schema_error(tmp_path: Path, schema_text: str) -> ConfigError:
    path = with_schema(tmp_path, schema_text)
    with pytest.raises(ConfigError) as info:
        dynio.Catalog.from_yaml(path, env="local", strict=True)
    assert not isinstance(info.value, ConfigProblems), str(info.value)
    return info.value


# ------------------------------------------------------------------- the dynamicio layout, kept


def test_top_level_names_are_resources_and_envs_have_any_names(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    pd.DataFrame({"a": [1, 2]}).to_csv(tmp_path / "one.csv", index=False)
    pd.DataFrame({"a": [3]}).to_parquet(tmp_path / "two.parquet")
    text = """
    one:
      sample:
        type: local
        local: {file_path: one.csv, file_type: csv}
      actual:
        type: local
        local: {file_path: elsewhere.csv, file_type: csv}
      LOCAL:
        type: local
        local: {file_path: one.csv, file_type: csv}
    two:
      sample:
        type: local
        local: {file_path: two.parquet, file_type: parquet}
      CLOUD:
        type: local
        local: {file_path: two.parquet}
      dev-eu_1:
        type: local
        local: {file_path: two.parquet}
    """
    cat = catalog_from(text, env="sample")
    assert cat.resources == ["one", "two"]
    assert len(cat) == 2
    assert "one" in cat
    assert "three" not in cat
    assert list(cat) == ["one", "two"]
    assert cat.env == "sample"
    assert cat.read("one")["a"].tolist() == [1, 2]
    assert cat.read("two")["a"].tolist() == [3]

    spec = load_spec(tmp_path / "resources.yaml", env="sample")
    assert list(spec.resources["one"].envs) == ["sample", "actual", "LOCAL"]
    assert list(spec.resources["two"].envs) == ["sample", "CLOUD", "dev-eu_1"]
    assert spec.resources["one"].file == str(tmp_path / "resources.yaml")
    # the format comes from file_type, or from the file name ending when file_type is absent
    assert spec.resources["two"].envs["CLOUD"].source.format == "parquet"
    assert spec.resources["one"].envs["sample"].source.format == "csv"


def test_local_env_spec_fields(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "cfg" / "resources.yaml",
        """
        trips:
          local:
            type: local
            local:
              file_path: data/trips.csv
              file_type: csv
            options:
              sep: ";"
        """,
    )
    env = load_spec(path).resources["trips"].env("local")
    src = env.source
    assert env.name == "local"
    assert src.kind == "local"
    assert dict(src.settings) == {"file_path": "data/trips.csv", "file_type": "csv"}
    assert dict(src.options) == {"sep": ";"}
    assert src.format == "csv"
    assert src.base_dir == str((tmp_path / "cfg").resolve())
    assert env.schema is None


def test_local_batch_takes_dynamicios_local_section_and_its_own_name(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "resources.yaml",
        """
        parts:
          local:
            type: local_batch
            local:
              path_prefix: parts/
              file_type: parquet
            options:
              partition_cols: [day]
          globbed:
            type: local_batch
            local_batch:
              dynamic_file_path: "parts/{year}/*.parquet"
              file_type: parquet
        """,
    )
    res = load_spec(path).resources["parts"]
    first = res.envs["local"].source
    assert first.kind == "local_batch"
    assert dict(first.settings) == {"path_prefix": "parts/", "file_type": "parquet"}
    assert first.options["partition_cols"] == ("day",)
    second = res.envs["globbed"].source
    assert second.kind == "local_batch"
    assert dict(second.settings) == {
        "dynamic_file_path": "parts/{year}/*.parquet",
        "file_type": "parquet",
    }


def test_type_names_are_case_insensitive(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "resources.yaml",
        """
        r:
          local:
            type: LOCAL
            local: {file_path: x.parquet}
        """,
    )
    assert load_spec(path).resources["r"].envs["local"].source.kind == "local"


# Every other source kind in its dynamicio spelling: parsed when the catalog loads.
OTHER_KINDS: dict[str, tuple[str, str]] = {
    "s3": (
        """
        type: s3
        s3: {bucket: my-bucket, file_path: data/foo.parquet, file_type: parquet}
        options: {compression: snappy}
        """,
        "s3",
    ),
    "s3_file": (
        """
        type: s3_file
        s3: {bucket: my-bucket, file_path: data/foo.csv, file_type: csv}
        options: {sep: ","}
        """,
        "s3_file",
    ),
    "s3_file_own_section": (
        """
        type: s3_file
        s3_file: {bucket: my-bucket, file_path: data/foo.csv}
        """,
        "s3_file",
    ),
    "s3_path_prefix": (
        """
        type: s3_path_prefix
        s3: {bucket: my-bucket, path_prefix: data/parts/, file_type: parquet}
        options: {partition_cols: [day]}
        """,
        "s3_path_prefix",
    ),
    "gcs": (
        """
        type: gcs
        gcs: {bucket: my-bucket, file_path: data/foo.parquet, file_type: parquet}
        """,
        "gcs",
    ),
    "postgres": (
        """
        type: postgres
        postgres:
          db_host: localhost
          db_port: 5432
          db_name: db
          db_user: me
          db_password: secret
        options: {table: foo, truncate_and_append: true}
        """,
        "postgres",
    ),
    "postgres_uri": (
        """
        type: postgres
        postgres: {uri: "postgresql://me:secret@localhost:5432/db"}
        options: {sql_query: "SELECT 1", write_mode: append}
        """,
        "postgres",
    ),
    "duckdb": (
        """
        type: duckdb
        duckdb: {database: warehouse.duckdb, table: foo}
        """,
        "duckdb",
    ),
    "kafka": (
        """
        type: kafka
        kafka: {kafka_server: "localhost:9092", kafka_topic: foo}
        options: {compression_type: snappy, batch_size: 262144, linger_ms: 5}
        """,
        "kafka",
    ),
    "athena": (
        """
        type: athena
        athena: {s3_output: "s3://out/", database: db, query: "SELECT 1"}
        options: {work_group: primary}
        """,
        "athena",
    ),
}


@pytest.mark.parametrize("case", sorted(OTHER_KINDS))
def test_other_source_kinds_parse(tmp_path: Path, case: str) -> None:
    body, kind = OTHER_KINDS[case]
    text = "res:\n  remote:\n" + textwrap.indent(textwrap.dedent(body).strip(), "    ") + "\n"
    path = write_text(tmp_path / "resources.yaml", text)
    cat = dynio.Catalog.from_yaml(path, env="remote")
    assert cat.resources == ["res"]
    spec = load_spec(path, env="remote").resources["res"].env("remote")
    assert spec.source.kind == kind


def test_postgres_settings_are_typed(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "resources.yaml",
        """
        r:
          prod:
            type: postgres
            postgres: {db_host: h, db_port: "5433", db_user: 7, db_password: "0123"}
            options: {table: t}
        """,
    )
    settings = load_spec(path, env="prod").resources["r"].envs["prod"].source.settings
    assert settings["db_port"] == 5433
    assert type(settings["db_port"]) is int
    assert settings["db_user"] == "7"
    assert settings["db_password"] == "0123"


def test_non_numeric_port_is_a_config_error(tmp_path: Path) -> None:
    exc = config_error(
        tmp_path,
        """
        r:
          prod:
            type: postgres
            postgres: {db_host: h, db_port: "five"}
        """,
        env="prod",
    )
    assert_context(
        exc,
        file=tmp_path / "resources.yaml",
        resource="r",
        key_path="r.prod.postgres.db_port",
    )
    assert "int" in str(exc)


# ------------------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("file_type", "options"),
    [
        ("csv", {"sep": ";", "header": 0, "na_values": ["-"], "encoding": "utf-8"}),
        ("csv", {"separator": ";", "has_header": True, "null_values": ["-"]}),
        ("csv", {"index": False, "engine": "c", "low_memory": False, "usecols": ["a"]}),
        ("parquet", {"compression": "snappy", "row_group_size": 1000, "engine": "pyarrow"}),
        (
            "parquet",
            {
                "use_deprecated_int96_timestamps": True,
                "coerce_timestamps": "ms",
                "allow_truncated_timestamps": False,
            },
        ),
        ("parquet", {"hive_partitioning": True, "columns": ["a", "b"]}),
        ("json", {"orient": "records", "lines": False}),
        ("ndjson", {"lines": True}),
        ("ipc", {"compression": "zstd"}),
        ("feather", {"compression": "lz4"}),
    ],
)
def test_format_options_under_pandas_and_polars_names_are_accepted(
    tmp_path: Path, file_type: str, options: dict[str, Any]
) -> None:
    path = write_text(
        tmp_path / "resources.yaml",
        f"""
        r:
          local:
            type: local
            local: {{file_path: data.bin, file_type: {file_type}}}
            options: {options!r}
        """,
    )
    src = load_spec(path).resources["r"].envs["local"].source
    expected = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
    assert dict(src.options) == expected


@pytest.mark.parametrize(
    ("file_type", "bad"),
    [("csv", "sepp"), ("parquet", "sep"), ("json", "compression_type"), ("csv", "row_group_size")],
)
def test_unknown_format_option_names_the_key_path(tmp_path: Path, file_type: str, bad: str) -> None:
    exc = config_error(
        tmp_path,
        f"""
        r:
          local:
            type: local
            local: {{file_path: data.bin, file_type: {file_type}}}
            options: {{{bad}: 1}}
        """,
    )
    assert_context(
        exc, file=tmp_path / "resources.yaml", resource="r", key_path=f"r.local.options.{bad}"
    )
    assert repr(file_type) in str(exc)


def test_unknown_postgres_option_is_refused(tmp_path: Path) -> None:
    exc = config_error(
        tmp_path,
        """
        r:
          prod:
            type: postgres
            postgres: {db_host: h}
            options: {table: t, tabel: t}
        """,
        env="prod",
    )
    assert_context(exc, resource="r", key_path="r.prod.options.tabel")


def test_options_columns_must_be_a_list_of_names(tmp_path: Path) -> None:
    exc = config_error(
        tmp_path,
        """
        r:
          local:
            type: local
            local: {file_path: d.parquet}
            options: {columns: a}
        """,
    )
    assert_context(exc, resource="r", key_path="r.local.options.columns")


def test_options_must_be_a_mapping(tmp_path: Path) -> None:
    exc = config_error(
        tmp_path,
        """
        r:
          local:
            type: local
            local: {file_path: d.parquet}
            options: [sep]
        """,
    )
    assert_context(exc, resource="r", key_path="r.local.options")


# ---------------------------------------------------------------------------- structural errors


@pytest.mark.parametrize(
    ("env_body", "key_path", "phrase"),
    [
        (
            "type: local\nlocal: {file_path: d.csv}\nlocation: x",
            "r.local.location",
            "unknown key",
        ),
        (
            "type: local\nlocal: {file_path: d.csv, filetype: csv}",
            "r.local.local.filetype",
            "unknown key",
        ),
        ("type: lokal\nlocal: {file_path: d.csv}", "r.local.type", "unknown source type"),
        ("type: 3\nlocal: {file_path: d.csv}", "r.local.type", "unknown source type"),
        ("local: {file_path: d.csv}", "r.local.type", "missing 'type'"),
        ("type: local", "r.local.local", "needs one 'local' section"),
        ("type: local\nlocal: {file_type: csv}", "r.local.local.file_path", "missing required"),
        (
            "type: local\nlocal: {file_path: d.csv, file_type: xlsx}",
            "r.local.local.file_type",
            "unknown file type",
        ),
        ("type: local\nlocal: {file_path: d.unknown}", "r.local.local.file_type", "file_type"),
        ("type: local\nlocal: d.csv", "r.local.local", "must be a mapping"),
        ("type: local\ns3: {bucket: b, file_path: d.csv}", "r.local.s3", "unknown key"),
        (
            "type: local_batch\nlocal: {file_type: csv}",
            "r.local.local",
            "exactly one of",
        ),
        (
            "type: local_batch\nlocal: {path_prefix: a/, dynamic_file_path: 'b/*.csv',"
            " file_type: csv}",
            "r.local.local",
            "exactly one of",
        ),
        ("type: s3\ns3: {file_path: d.csv}", "r.local.s3.bucket", "missing required"),
        ("type: kafka\nkafka: {kafka_server: s, topic: t}", "r.local.kafka.topic", "unknown key"),
        ("[type, local]", "r.local", "must be a mapping"),
    ],
)
def test_structural_errors_name_file_resource_and_key_path(
    tmp_path: Path, env_body: str, key_path: str, phrase: str
) -> None:
    text = "r:\n  local:\n" + textwrap.indent(env_body, "    ") + "\n"
    path = write_text(tmp_path / "resources.yaml", text)
    with pytest.raises(ConfigError) as info:
        dynio.Catalog.from_yaml(path, env="local", strict=True)
    exc = info.value
    assert not isinstance(exc, ConfigProblems), str(exc)
    assert_context(exc, file=path, resource="r", key_path=key_path)
    assert phrase in str(exc)


def test_resource_that_is_not_a_mapping(tmp_path: Path) -> None:
    exc = config_error(tmp_path, "r: just text\n")
    assert_context(exc, file=tmp_path / "resources.yaml", resource="r", key_path="r")


def test_resource_without_environments(tmp_path: Path) -> None:
    exc = config_error(
        tmp_path,
        """
        r:
          schema:
            columns: {a: {type: int64}}
        """,
    )
    assert_context(exc, resource="r", key_path="r")
    assert "no environment" in str(exc)


def test_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    exc = config_error(tmp_path, "- a\n- b\n")
    assert exc.file == str(tmp_path / "resources.yaml")


def test_structural_error_in_another_env_fails_the_load(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "resources.yaml",
        """
        r:
          sample:
            type: local
            local: {file_path: d.csv}
          actual:
            type: s3
            s3: {bucket: b, file_path: d.csv, region: eu}
        """,
    )
    with pytest.raises(ConfigError) as info:
        dynio.Catalog.from_yaml(path, env="sample", strict=True)
    assert_context(info.value, file=path, resource="r", key_path="r.actual.s3.region")
    assert info.value.env == "actual"


def test_errors_are_raised_by_from_yaml_not_at_first_use(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "resources.yaml",
        local_resource("good") + local_resource("bad", env="local").replace("csv\n", "xlsx\n"),
    )
    with pytest.raises(ConfigError) as info:
        dynio.Catalog.from_yaml(path, env="local", strict=True)
    assert_context(info.value, resource="bad", key_path="bad.local.local.file_type")


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "resources.yaml",
        """
        a:
          local:
            type: lokal
            local: {file_path: a.csv}
        b:
          local:
            type: local
            local: {file_path: b.csv, colour: red}
        c:
          local:
            type: local
            local: {file_path: c.csv}
            options: {bogus: 1}
        d:
          other:
            type: local
            local: {file_path: d.csv}
        ok:
          local:
            type: local
            local: {file_path: ok.csv}
        """,
    )
    with pytest.raises(ConfigProblems) as info:
        dynio.Catalog.from_yaml(path, env="local", strict=True)
    problems = info.value.problems
    assert isinstance(info.value, ConfigError)
    assert [p.resource for p in problems] == ["a", "b", "c", "d"]
    assert [p.key_path for p in problems[:3]] == [
        "a.local.type",
        "b.local.local.colour",
        "c.local.options.bogus",
    ]
    assert isinstance(problems[3], UnknownEnvironmentError)
    assert all(p.file == str(path) for p in problems)
    text = str(info.value)
    assert text.startswith("4 problems")
    for p in problems:
        assert str(p) in text


def test_problems_in_several_files_and_envs_are_all_listed(tmp_path: Path) -> None:
    write_text(
        tmp_path / "cfg" / "one.yaml",
        """
        a:
          local: {type: local, local: {file_path: a.csv}, extra: 1}
          prod: {type: nope}
        """,
    )
    write_text(tmp_path / "cfg" / "two.yaml", "b:\n  local: {type: local}\n")
    with pytest.raises(ConfigProblems) as info:
        dynio.Catalog.from_yaml(tmp_path / "cfg", env="local", strict=True)
    got = sorted((p.file, p.key_path) for p in info.value.problems)
    assert got == [
        (str(tmp_path / "cfg" / "one.yaml"), "a.local.extra"),
        (str(tmp_path / "cfg" / "one.yaml"), "a.prod.type"),
        (str(tmp_path / "cfg" / "two.yaml"), "b.local.local"),
    ]


# ------------------------------------------------------------------------------- environments


def test_unknown_environment_fails_the_load_naming_resource_file_and_env(tmp_path: Path) -> None:
    path = write_text(tmp_path / "resources.yaml", local_resource("r", env="sample"))
    with pytest.raises(UnknownEnvironmentError) as info:
        dynio.Catalog.from_yaml(path, env="prod", strict=True)
    exc = info.value
    assert isinstance(exc, ConfigError)
    assert_context(exc, file=path, resource="r")
    assert exc.env == "prod"
    assert "'prod'" in str(exc)
    assert "sample" in str(exc)  # lists what is defined


def test_env_defaults_to_dynio_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_text(tmp_path / "resources.yaml", local_resource("r", env="sample"))
    monkeypatch.setenv("DYNIO_ENV", "sample")
    cat = dynio.Catalog.from_yaml(path)
    assert cat.env == "sample"
    assert cat.resource("r").env == "sample"
    # an explicit env wins over DYNIO_ENV
    monkeypatch.setenv("DYNIO_ENV", "prod")
    assert dynio.Catalog.from_yaml(path, env="sample").env == "sample"
    with pytest.raises(UnknownEnvironmentError):
        dynio.Catalog.from_yaml(path, strict=True)


@pytest.mark.parametrize("unset", ["missing", "empty"])
def test_no_environment_at_all_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unset: str
) -> None:
    path = write_text(tmp_path / "resources.yaml", local_resource())
    if unset == "missing":
        monkeypatch.delenv("DYNIO_ENV", raising=False)
    else:
        monkeypatch.setenv("DYNIO_ENV", "")
    with pytest.raises(ConfigError) as info:
        dynio.Catalog.from_yaml(path, strict=True)
    assert "DYNIO_ENV" in str(info.value)


def test_env_names_match_exactly_then_case_insensitively(tmp_path: Path) -> None:
    pd.DataFrame({"a": [1]}).to_csv(tmp_path / "lower.csv", index=False)
    pd.DataFrame({"a": [2]}).to_csv(tmp_path / "upper.csv", index=False)
    pd.DataFrame({"a": [3]}).to_csv(tmp_path / "cloud.csv", index=False)
    path = write_text(
        tmp_path / "resources.yaml",
        """
        both:
          local: {type: local, local: {file_path: lower.csv}}
          LOCAL: {type: local, local: {file_path: upper.csv}}
          CLOUD: {type: local, local: {file_path: cloud.csv}}
        """,
    )
    assert dynio.Catalog.from_yaml(path, env="local").read("both")["a"].tolist() == [1]
    assert dynio.Catalog.from_yaml(path, env="LOCAL").read("both")["a"].tolist() == [2]
    cloud = dynio.Catalog.from_yaml(path, env="cloud")
    assert cloud.env == "cloud"
    assert cloud.resource("both").spec.name == "CLOUD"
    assert cloud.read("both")["a"].tolist() == [3]
    # "Local" matches two names case-insensitively: ambiguous, so no match
    with pytest.raises(UnknownEnvironmentError):
        dynio.Catalog.from_yaml(path, env="Local", strict=True)


def test_resource_spec_env_lookup(tmp_path: Path) -> None:
    path = write_text(tmp_path / "resources.yaml", local_resource("r", env="Sample"))
    res = load_spec(path, env=None).resources["r"]
    assert res.env("sample").name == "Sample"
    assert res.env_names() == ["Sample"]
    with pytest.raises(UnknownEnvironmentError) as info:
        res.env("prod")
    assert_context(info.value, file=path, resource="r")


def test_unknown_resource_is_resource_not_found_and_a_key_error(tmp_path: Path) -> None:
    path = write_text(tmp_path / "resources.yaml", local_resource("trips"))
    cat = dynio.Catalog.from_yaml(path, env="local")
    for call in (
        lambda: cat.resource("trip"),
        lambda: cat.read("trip"),
        lambda: cat.scan("trip"),
        lambda: cat.write("trip", pd.DataFrame({"a": [1]})),
    ):
        with pytest.raises(ResourceNotFoundError) as info:
            call()
        assert isinstance(info.value, KeyError)
        assert info.value.resource == "trip"
        assert "'trip'" in str(info.value)
        assert "trips" in str(info.value)  # says what the catalog has
    with pytest.raises(KeyError):
        cat.resource("nope")


# --------------------------------------------------------------------------- files and folders


def test_directory_loading_is_recursive_and_skips_schema_files(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg"
    write_text(cfg / "a.yaml", local_resource("a"))
    write_text(cfg / "deeper" / "still" / "b.yml", local_resource("b"))
    write_text(cfg / "deeper" / "notes.txt", "not: yaml: at all: [")
    write_text(cfg / "empty.yaml", "")
    write_text(
        cfg / "schemas" / "s.yaml",
        """
        name: s
        columns:
          x: {type: int64}
        validations:
          row_count_between: {options: {min: 1}}
        """,
    )
    write_text(
        cfg / "c.yaml",
        """
        c:
          local:
            type: local
            local: {file_path: c.csv}
          schema: {file_path: schemas/s.yaml}
        """,
    )
    spec = load_spec(cfg)
    assert sorted(spec.resources) == ["a", "b", "c"]
    assert spec.resources["b"].file == str(cfg / "deeper" / "still" / "b.yml")
    assert spec.resources["c"].schema is not None
    assert spec.resources["c"].schema.column_names == ["x"]
    assert str(cfg / "schemas" / "s.yaml") in spec.files  # seen, but not a resource file
    cat = dynio.Catalog.from_yaml(cfg, env="local")
    assert sorted(cat.resources) == ["a", "b", "c"]


def test_several_paths_load_together(tmp_path: Path) -> None:
    one = write_text(tmp_path / "one.yaml", local_resource("a"))
    two = write_text(tmp_path / "two" / "r.yaml", local_resource("b"))
    cat = dynio.Catalog.from_yaml([one, two.parent], env="local")
    assert cat.resources == ["a", "b"]


def test_duplicate_resource_across_files_names_both_files(tmp_path: Path) -> None:
    first = write_text(tmp_path / "cfg" / "a.yaml", local_resource("trips"))
    second = write_text(tmp_path / "cfg" / "b.yaml", local_resource("trips"))
    with pytest.raises(ConfigError) as info:
        dynio.Catalog.from_yaml(tmp_path / "cfg", env="local", strict=True)
    exc = info.value
    assert exc.resource == "trips"
    assert str(first) in str(exc)
    assert str(second) in str(exc)
    assert "twice" in str(exc)


def test_missing_path_and_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        dynio.Catalog.from_yaml(tmp_path / "nope.yaml", env="local", strict=True)
    assert str(tmp_path / "nope.yaml") in str(info.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError) as info:
        dynio.Catalog.from_yaml(tmp_path / "empty", env="local", strict=True)
    assert str(tmp_path / "empty") in str(info.value)


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "resources.yaml"
    path.write_text(
        "r:\n  local:\n    type: local\n    local: {file_path: d.csv\n  other: 1\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        dynio.Catalog.from_yaml(path, env="local", strict=True)
    text = str(info.value)
    assert info.value.file == str(path)
    assert "invalid YAML" in text
    assert "line 5" in text


def test_malformed_yaml_bad_indent_line_number(tmp_path: Path) -> None:
    path = tmp_path / "resources.yaml"
    path.write_text("a:\n  local:\n    type: local\n   local: x\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        dynio.Catalog.from_yaml(path, env="local", strict=True)
    assert "line 4" in str(info.value)


def test_malformed_yaml_in_a_folder_is_one_of_several_problems(tmp_path: Path) -> None:
    write_text(tmp_path / "cfg" / "a.yaml", "a: [\n")
    write_text(tmp_path / "cfg" / "b.yaml", "b:\n  local: {type: what}\n")
    with pytest.raises(ConfigProblems) as info:
        dynio.Catalog.from_yaml(tmp_path / "cfg", env="local", strict=True)
    files = sorted(str(p.file) for p in info.value.problems)
    assert files == [str(tmp_path / "cfg" / "a.yaml"), str(tmp_path / "cfg" / "b.yaml")]


@pytest.mark.parametrize(
    "text",
    [
        "r: !!python/object:os.system {}\n",
        "r: !!python/object/apply:os.system ['echo pwned']\n",
        "r:\n  local: !!python/name:os.system\n",
    ],
)
def test_yaml_is_loaded_safely(tmp_path: Path, text: str) -> None:
    path = tmp_path / "resources.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        dynio.Catalog.from_yaml(path, env="local", strict=True)
    assert info.value.file == str(path)
    assert "python/" in str(info.value)


def test_non_utf8_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "resources.yaml"
    path.write_bytes(b"r:\n  local: \xff\xfe\n")
    with pytest.raises(ConfigError) as info:
        dynio.Catalog.from_yaml(path, env="local", strict=True)
    assert info.value.file == str(path)


# ------------------------------------------------------------------------------------- schemas


def test_schema_file_relative_to_yaml_folder(tmp_path: Path) -> None:
    write_text(tmp_path / "cfg" / "schemas" / "s.yaml", schema_doc("a: {type: int64}"))
    path = write_text(
        tmp_path / "cfg" / "resources.yaml",
        """
        r:
          local: {type: local, local: {file_path: d.csv}}
          schema: {file_path: schemas/s.yaml}
        """,
    )
    res = load_spec(path).resources["r"]
    assert res.schema is not None
    assert res.schema.file == str(tmp_path / "cfg" / "schemas" / "s.yaml")
    assert res.env("local").schema == res.schema


def test_schema_file_falls_back_to_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_text(tmp_path / "project" / "schemas" / "s.yaml", schema_doc("from_cwd: {type: str}"))
    path = write_text(
        tmp_path / "project" / "cfg" / "resources.yaml",
        """
        r:
          local: {type: local, local: {file_path: d.csv}}
          schema: {file_path: schemas/s.yaml}
        """,
    )
    monkeypatch.chdir(tmp_path / "project")
    schema = load_spec(path).resources["r"].schema
    assert schema is not None
    assert schema.column_names == ["from_cwd"]
    # a file beside the YAML wins over one in the working directory
    write_text(
        tmp_path / "project" / "cfg" / "schemas" / "s.yaml", schema_doc("beside: {type: str}")
    )
    schema = load_spec(path).resources["r"].schema
    assert schema is not None
    assert schema.column_names == ["beside"]


def test_missing_schema_file_names_the_reference(tmp_path: Path) -> None:
    exc = config_error(
        tmp_path,
        """
        r:
          local: {type: local, local: {file_path: d.csv}}
          schema: {file_path: schemas/nope.yaml}
        """,
    )
    assert_context(
        exc, file=tmp_path / "resources.yaml", resource="r", key_path="r.schema.file_path"
    )
    assert "schemas/nope.yaml" in str(exc)


def test_inline_schema_and_per_env_schema(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "resources.yaml",
        """
        r:
          local:
            type: local
            local: {file_path: d.csv}
          wide:
            type: local
            local: {file_path: wide.csv}
            schema:
              columns:
                a: {type: int64}
                extra: {type: str}
          schema:
            name: inline
            columns:
              a:
                type: Int64
                validations:
                  has_no_null_values: {apply: true, options: {}}
                metrics: [Min, Max]
        """,
    )
    res = load_spec(path, env=None).resources["r"]
    assert res.schema is not None
    assert res.schema.name == "inline"
    assert res.schema.file is None
    assert res.env("local").schema == res.schema
    wide = res.env("wide").schema
    assert wide is not None
    assert wide.column_names == ["a", "extra"]
    assert wide.name == "r"  # no name: the resource's


def test_schema_yaml_structure(tmp_path: Path) -> None:
    path = with_schema(
        tmp_path,
        """
        name: trips
        columns:
          id:
            type: int64
            validations:
              has_unique_values: {apply: true, options: {}}
              has_no_null_values: {apply: false, options: {}}
            metrics: [Counts, UniqueCounts]
          fare:
            type: float64
            validations:
              is_between:
                apply: true
                options: {lower: 0, upper: 1000.5, include_left: true}
                severity: warn
            metrics:
              - Mean
              - Quantiles
          label:
            type: category
            validations:
              is_in: {options: {categorical_values: [a, b]}}
            metrics: [CountsPerLabel]
          note: str
          lossy:
            type: Int32
            cast: lossy
        validations:
          row_count_between: {apply: true, options: {min: 1, max: 100}}
          unique_together: {options: {columns: [id, label]}, severity: warn}
        """,
    )
    schema = load_spec(path).resources["r"].schema
    assert schema is not None
    assert schema.name == "trips"
    assert schema.file == str(tmp_path / "schema.yaml")
    assert schema.column_names == ["id", "fare", "label", "note", "lossy"]
    id_col = schema.column("id")
    assert id_col is not None
    assert id_col.dtype.polars == pl.Int64()
    assert [(r.name, r.apply, r.column) for r in id_col.rules] == [
        ("has_unique_values", True, "id"),
        ("has_no_null_values", False, "id"),
    ]
    assert id_col.metrics == ("Counts", "UniqueCounts")
    fare = schema.column("fare")
    assert fare is not None
    (between,) = fare.rules
    assert between.severity == "warn"
    assert dict(between.options) == {"lower": 0, "upper": 1000.5, "include_left": True}
    assert fare.metrics == ("Mean", "Quantiles")
    label = schema.column("label")
    assert label is not None
    assert label.rules[0].options["categorical_values"] == ("a", "b")
    assert label.rules[0].apply is True  # apply defaults to true
    assert label.rules[0].severity == "error"
    note = schema.column("note")
    assert note is not None
    assert note.dtype.polars == pl.String()
    assert note.rules == ()
    lossy = schema.column("lossy")
    assert lossy is not None
    assert lossy.lossy_cast is True
    assert id_col.lossy_cast is False
    assert [(r.name, r.column, r.severity) for r in schema.rules] == [
        ("row_count_between", None, "error"),
        ("unique_together", None, "warn"),
    ]
    assert schema.rules[1].options["columns"] == ("id", "label")
    assert [r.name for r in schema.all_rules] == [
        "has_unique_values",
        "has_no_null_values",
        "is_between",
        "is_in",
        "row_count_between",
        "unique_together",
    ]


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("object", pl.String()),
        ("str", pl.String()),
        ("int64", pl.Int64()),
        ("Int64", pl.Int64()),
        ("float64", pl.Float64()),
        ("bool", pl.Boolean()),
        ("boolean", pl.Boolean()),
        ("datetime64[ns]", pl.Datetime("ns")),
        ("datetime64[ns, UTC]", pl.Datetime("ns", "UTC")),
        ("category", pl.Categorical()),
        ("date", pl.Date()),
        ("int32", pl.Int32()),
        ("String", pl.String()),
        ("Utf8", pl.String()),
        ("Int32", pl.Int32()),
        ("UInt8", pl.UInt8()),
        ("Float32", pl.Float32()),
        ("Float64", pl.Float64()),
        ("Boolean", pl.Boolean()),
        ("Date", pl.Date()),
        ("Datetime", pl.Datetime("us")),
        ("Categorical", pl.Categorical()),
    ],
)
def test_schema_dtype_spellings(spelling: str, expected: pl.DataType) -> None:
    schema = loader.parse_schema({"columns": {"c": {"type": spelling}}}, resource="r")
    col = schema.column("c")
    assert col is not None
    assert col.dtype.polars == expected
    assert col.dtype.spelling == spelling


def test_quoted_tz_datetime_in_a_schema_file(tmp_path: Path) -> None:
    path = with_schema(tmp_path, schema_doc('at: {type: "datetime64[ns, UTC]"}'))
    schema = load_spec(path).resources["r"].schema
    assert schema is not None
    col = schema.column("at")
    assert col is not None
    assert col.dtype.polars == pl.Datetime("ns", "UTC")


@pytest.mark.parametrize(
    ("columns", "extra", "key_path", "column", "phrase"),
    [
        ("a: {type: int65}", "", "columns.a.type", "a", "type"),
        ('a: {type: "decimal[2]"}', "", "columns.a.type", "a", "type"),
        ("a: {validations: {}}", "", "columns.a.type", "a", "type"),
        ("a: {type: int64, nulls: true}", "", "columns.a.nulls", "a", "unknown key"),
        ("a: [int64]", "", "columns.a", "a", "must be a mapping"),
        (
            "a: {type: int64, validations: {is_positive: {apply: true}}}",
            "",
            "columns.a.validations.is_positive",
            "a",
            "unknown rule",
        ),
        (
            "a: {type: int64, validations: {is_greater_than: {apply: true, options: {}}}}",
            "",
            "columns.a.validations.is_greater_than.options",
            "a",
            "needs option 'threshold'",
        ),
        (
            "a: {type: int64, validations: {is_greater_than: {options: {threshold: high}}}}",
            "",
            "columns.a.validations.is_greater_than.options",
            "a",
            "threshold",
        ),
        (
            "a: {type: int64, validations: {is_greater_than: {options: {threshold: 1, x: 2}}}}",
            "",
            "columns.a.validations.is_greater_than.options.x",
            "a",
            "unknown option",
        ),
        (
            "a: {type: int64, validations: {is_between: {options: {lower: 5, upper: 1}}}}",
            "",
            "columns.a.validations.is_between.options",
            "a",
            "above",
        ),
        (
            "a: {type: int64, validations: {has_acceptable_percentage_of_nulls:"
            " {options: {threshold: 5}}}}",
            "",
            "columns.a.validations.has_acceptable_percentage_of_nulls.options",
            "a",
            "fraction",
        ),
        (
            "a: {type: str, validations: {is_in: {options: {categorical_values: x}}}}",
            "",
            "columns.a.validations.is_in.options",
            "a",
            "categorical_values",
        ),
        (
            "a: {type: int64, validations: {has_unique_values: {apply: maybe}}}",
            "",
            "columns.a.validations.has_unique_values.apply",
            "a",
            "bool",
        ),
        (
            "a: {type: int64, validations: {has_unique_values: {severity: fatal}}}",
            "",
            "columns.a.validations.has_unique_values.severity",
            "a",
            "severity",
        ),
        (
            "a: {type: int64, validations: {has_unique_values: {apply: true, when: x}}}",
            "",
            "columns.a.validations.has_unique_values.when",
            "a",
            "unknown key",
        ),
        (
            "a: {type: int64, validations: {row_count_between: {options: {min: 1}}}}",
            "",
            "columns.a.validations.row_count_between",
            "a",
            "top-level",
        ),
        (
            "a: {type: int64, validations: [has_unique_values]}",
            "",
            "columns.a.validations",
            "a",
            "validations must map",
        ),
        ("a: {type: int64, metrics: [Median]}", "", "columns.a.metrics[0]", "a", "unknown metric"),
        ("a: {type: object, metrics: [Min, Mean]}", "", "columns.a.metrics[1]", "a", "numeric"),
        ("a: {type: str, metrics: [Std]}", "", "columns.a.metrics[0]", "a", "numeric"),
        ("a: {type: category, metrics: [Quantiles]}", "", "columns.a.metrics[0]", "a", "numeric"),
        ("a: {type: int64, metrics: {Min: 1}}", "", "columns.a.metrics", "a", "list"),
        ("a: {type: int64, cast: unsafe}", "", "columns.a.cast", "a", "lossy"),
    ],
)
def test_schema_errors_name_file_resource_key_path_and_column(
    tmp_path: Path, columns: str, extra: str, key_path: str, column: str, phrase: str
) -> None:
    exc = schema_error(tmp_path, schema_doc(columns, extra))
    assert_context(
        exc, file=tmp_path / "schema.yaml", resource="r", key_path=key_path, column=column
    )
    assert phrase in str(exc)


@pytest.mark.parametrize(
    ("extra", "key_path", "phrase"),
    [
        (
            "validations:\n  has_unique_values: {apply: true}",
            "validations.has_unique_values",
            "belongs under a column",
        ),
        (
            "validations:\n  unique_together: {options: {columns: [a, zz]}}",
            "validations.unique_together",
            "zz",
        ),
        (
            "validations:\n  row_count_between: {options: {min: 10, max: 1}}",
            "validations.row_count_between.options",
            "above",
        ),
        (
            "validations:\n  row_count_between: {options: {minimum: 1}}",
            "validations.row_count_between.options.minimum",
            "unknown option",
        ),
        ("owner: me", "owner", "unknown key 'owner' in the schema"),
    ],
)
def test_frame_level_schema_errors(tmp_path: Path, extra: str, key_path: str, phrase: str) -> None:
    exc = schema_error(tmp_path, schema_doc("a: {type: int64}", extra))
    assert_context(exc, file=tmp_path / "schema.yaml", resource="r", key_path=key_path)
    assert phrase in str(exc)


def test_schema_without_columns(tmp_path: Path) -> None:
    exc = schema_error(tmp_path, "name: s\n")
    assert_context(exc, file=tmp_path / "schema.yaml", resource="r", key_path="columns")


def test_inline_schema_errors_carry_the_resource_key_path(tmp_path: Path) -> None:
    exc = config_error(
        tmp_path,
        """
        r:
          local: {type: local, local: {file_path: d.csv}}
          schema:
            columns:
              a: {type: int64, metrics: [Nope]}
        """,
    )
    assert_context(
        exc,
        file=tmp_path / "resources.yaml",
        resource="r",
        key_path="r.schema.columns.a.metrics[0]",
        column="a",
    )


def test_metric_applicability(tmp_path: Path) -> None:
    path = with_schema(
        tmp_path,
        schema_doc(
            """
            flag: {type: bool, metrics: [Mean, Min]}
            name: {type: object, metrics: [Min, Max, Counts, UniqueCounts, NullCount,
                                           CountsPerLabel]}
            when: {type: "datetime64[ns]", metrics: [Min, Max]}
            """
        ),
    )
    schema = load_spec(path).resources["r"].schema
    assert schema is not None
    assert [c.metrics for c in schema.columns] == [
        ("Mean", "Min"),
        ("Min", "Max", "Counts", "UniqueCounts", "NullCount", "CountsPerLabel"),
        ("Min", "Max"),
    ]


def test_several_schema_problems_across_resources(tmp_path: Path) -> None:
    write_text(tmp_path / "s1.yaml", schema_doc("a: {type: nope}"))
    write_text(tmp_path / "s2.yaml", schema_doc("b: {type: int64, metrics: [Nope]}"))
    path = write_text(
        tmp_path / "resources.yaml",
        """
        one:
          local: {type: local, local: {file_path: d.csv}}
          schema: {file_path: s1.yaml}
        two:
          local: {type: local, local: {file_path: d.csv}}
          schema: {file_path: s2.yaml}
        """,
    )
    with pytest.raises(ConfigProblems) as info:
        dynio.Catalog.from_yaml(path, env="local", strict=True)
    got = [(p.resource, p.file, p.column) for p in info.value.problems]
    assert got == [
        ("one", str(tmp_path / "s1.yaml"), "a"),
        ("two", str(tmp_path / "s2.yaml"), "b"),
    ]


def test_load_schema_reads_one_file(tmp_path: Path) -> None:
    path = write_text(tmp_path / "s.yaml", schema_doc("a: {type: '[[ A_TYPE ]]'}"))
    schema = loader.load_schema(path, variables={"A_TYPE": "Int16"})
    assert schema.column_names == ["a"]
    col = schema.column("a")
    assert col is not None
    assert col.dtype.polars == pl.Int16()


# ------------------------------------------------------------------------------ immutable specs


def test_specs_are_immutable(tmp_path: Path) -> None:
    write_text(
        tmp_path / "schema.yaml",
        schema_doc("a: {type: int64, validations: {is_in: {options: {categorical_values: [1]}}}}"),
    )
    path = write_text(
        tmp_path / "resources.yaml",
        """
        r:
          local:
            type: local_batch
            local: {path_prefix: out/, file_type: parquet}
            options: {partition_cols: [a], compression: zstd}
          schema: {file_path: schema.yaml}
        """,
    )
    cat = dynio.Catalog.from_yaml(path, env="local")
    env = cat.resource("r").spec
    src = env.source
    with pytest.raises(TypeError):
        src.settings["path_prefix"] = "elsewhere/"  # type: ignore[index]
    with pytest.raises(TypeError):
        src.options["compression"] = "gzip"  # type: ignore[index]
    with pytest.raises(TypeError):
        del src.options["compression"]  # type: ignore[attr-defined]
    assert isinstance(src.options["partition_cols"], tuple)
    with pytest.raises(AttributeError):
        src.options["partition_cols"].append("b")  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        src.kind = "s3"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        env.schema = None  # type: ignore[misc]
    assert env.schema is not None
    col = env.schema.columns[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        col.lossy_cast = True  # type: ignore[misc]
    rule = col.rules[0]
    with pytest.raises(TypeError):
        rule.options["categorical_values"] = (2,)  # type: ignore[index]
    assert isinstance(env.schema.columns, tuple)
    spec = load_spec(path)
    with pytest.raises(TypeError):
        spec.resources["x"] = spec.resources["r"]  # type: ignore[index]
    with pytest.raises(TypeError):
        spec.resources["r"].envs["other"] = env  # type: ignore[index]


def test_reads_and_writes_leave_specs_untouched(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "resources.yaml",
        """
        r:
          local:
            type: local
            local: {file_path: "out_{day}.csv", file_type: csv}
            options: {sep: ";", columns: [a, b], na_values: ["-"]}
        """,
    )
    variables = {"UNUSED": "x"}
    cat = dynio.Catalog.from_yaml(path, env="local", vars=variables)
    res = cat.resource("r")
    before = (dict(res.spec.source.settings), dict(res.spec.source.options))
    cat.write("r", pd.DataFrame({"a": [1, 2], "b": ["x", "-"]}), day="1")
    assert (tmp_path / "out_1.csv").read_text().splitlines()[0] == "a;b"
    first = cat.read("r", day="1")
    second = res.read(day="1")
    pd.testing.assert_frame_equal(first, second)
    assert first["b"].isna().tolist() == [False, True]  # na_values applied
    after = (dict(res.spec.source.settings), dict(res.spec.source.options))
    assert after == before
    assert before[0]["file_path"] == "out_{day}.csv"
    variables["UNUSED"] = "changed"  # the caller's mapping is not kept by reference
    assert dict(cat.resource("r").spec.source.options) == before[1]


# --------------------------------------------------------------------------- catalog check CLI


def test_cli_catalog_check_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_text(
        tmp_path / "resources.yaml", local_resource("a", env="sample") + local_resource("b")
    )
    # b has no "sample" env: fine without --env (every env is checked, none required)
    assert cli.main(["catalog", "check", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "ok: 2 resource(s)" in out


def test_cli_catalog_check_reports_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_text(
        tmp_path / "resources.yaml",
        """
        a:
          local: {type: lokal, local: {file_path: a.csv}}
        b:
          local: {type: local, local: {file_path: b.csv, colour: red}}
        c:
          local: {type: local, local: {file_path: c.csv}}
          prod: {type: local, local: {file_path: c.csv}, options: {nope: 1}}
        """,
    )
    assert cli.main(["catalog", "check", "--config", str(path)]) == 3
    captured = capsys.readouterr()
    assert "ok:" not in captured.out
    err = captured.err
    assert "3 problem(s)" in err
    for needle in ("'a.local.type'", "'b.local.local.colour'", "'c.prod.options.nope'"):
        assert needle in err
    assert str(path) in err
    assert "Traceback" not in err


def test_cli_catalog_check_with_env(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DYNIO_ENV", raising=False)
    path = write_text(
        tmp_path / "resources.yaml",
        local_resource("a", env="sample") + local_resource("b", env="sample"),
    )
    assert cli.main(["catalog", "check", "--config", str(path), "--env", "sample"]) == 0
    assert "ok: 2 resource(s) in env 'sample'" in capsys.readouterr().out
    assert cli.main(["catalog", "check", "--config", str(path), "--env", "prod"]) == 3
    err = capsys.readouterr().err
    assert "2 problem(s)" in err
    assert "no environment 'prod'" in err
    # DYNIO_ENV is the default --env
    monkeypatch.setenv("DYNIO_ENV", "prod")
    assert cli.main(["catalog", "check", "--config", str(path)]) == 3
    assert "no environment 'prod'" in capsys.readouterr().err


def test_cli_catalog_check_with_vars(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DYNIO_TEST_BUCKET", raising=False)
    monkeypatch.delenv("DYNIO_TEST_PORT", raising=False)
    path = write_text(
        tmp_path / "resources.yaml",
        """
        r:
          prod:
            type: s3
            s3: {bucket: "[[ DYNIO_TEST_BUCKET ]]", file_path: d.parquet}
        db:
          prod:
            type: postgres
            postgres: {db_host: h, db_port: "[[ DYNIO_TEST_PORT ]]"}
        """,
    )
    assert cli.main(["catalog", "check", "--config", str(path)]) == 3
    err = capsys.readouterr().err
    assert "DYNIO_TEST_BUCKET" in err
    assert "DYNIO_TEST_PORT" in err
    argv = ["catalog", "check", "--config", str(path), "--var", "DYNIO_TEST_BUCKET=b"]
    assert cli.main([*argv, "--var", "DYNIO_TEST_PORT=5432"]) == 0
    assert "ok: 2 resource(s)" in capsys.readouterr().out
    assert cli.main([*argv, "--var", "DYNIO_TEST_PORT=five"]) == 3
    err = capsys.readouterr().err
    assert "'db.prod.postgres.db_port'" in err
    assert cli.main([*argv, "--var", "no-equals-sign"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err


def test_check_catalog_returns_every_problem(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "resources.yaml",
        "a:\n  x: {type: nope}\nb:\n  y: {type: local}\n" + local_resource("c"),
    )
    problems = loader.check_catalog(path)
    assert [(p.resource, p.key_path) for p in problems] == [("a", "a.x.type"), ("b", "b.y.local")]
    assert loader.check_catalog(write_text(tmp_path / "ok.yaml", local_resource("c"))) == []


# --------------------------------------------------------------------------------- demo config


def test_demo_config_loads_for_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("RAW_BUCKET", "DB_HOST", "DB_PORT", "CURATED_BUCKET", "WAREHOUSE_URI"):
        monkeypatch.delenv(var, raising=False)
    cat = dynio.Catalog.from_yaml(DEMO, env="sample", vars={"DEMO_OUTPUT": str(tmp_path)})
    assert cat.resources == ["trips", "zones", "trips_clean", "zone_summary"]
    trips = cat.resource("trips").spec
    assert trips.source.kind == "local"
    assert trips.source.format == "csv"
    assert trips.schema is not None
    assert trips.schema.name == "trips"
    clean = cat.resource("trips_clean").spec
    assert clean.source.kind == "local_batch"
    assert clean.source.settings["path_prefix"] == f"{tmp_path}/trips_clean/"
    assert clean.source.options["partition_cols"] == ("pickup_day",)
    assert cat.resource("zone_summary").spec.source.settings["file_path"] == (
        f"{tmp_path}/zone_summary.csv"
    )
    assert len(cat.read("zones")) == 20
    # the actual envs are deferred, not lost
    spec = load_spec(DEMO, env="sample", variables={"DEMO_OUTPUT": str(tmp_path)})
    with pytest.raises(MissingVariableError) as info:
        spec.resources["trips"].env("actual")
    assert info.value.variable == "RAW_BUCKET"


def test_demo_config_check_without_vars_reports_unset_actual_variables(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("RAW_BUCKET", "DB_HOST", "CURATED_BUCKET", "WAREHOUSE_URI", "DEMO_OUTPUT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("DYNIO_ENV", raising=False)
    assert cli.main(["catalog", "check", "--config", str(DEMO)]) == 3
    err = capsys.readouterr().err
    for var in ("RAW_BUCKET", "DB_HOST", "CURATED_BUCKET", "WAREHOUSE_URI", "DEMO_OUTPUT"):
        assert f"[[ {var} ]]" in err
    assert "'trips.actual.s3.bucket'" in err
    assert str(DEMO) in err
    assert (
        cli.main(
            [
                "catalog",
                "check",
                "--config",
                str(DEMO),
                "--env",
                "sample",
                "--var",
                "DEMO_OUTPUT=/tmp",
            ]
        )
        == 0
    )
    assert "ok: 4 resource(s) in env 'sample'" in capsys.readouterr().out


def test_demo_config_check_lists_every_unset_variable_of_an_env(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """zones.actual uses five unset variables; a check must name all of them, not the first."""
    for var in ("DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("DYNIO_ENV", raising=False)
    assert cli.main(["catalog", "check", "--config", str(DEMO)]) == 3
    err = capsys.readouterr().err
    for var in ("DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASS"):
        assert f"[[ {var} ]]" in err


# ------------------------------------------------------------ dynamicio's demo YAML, verbatim

STAGING_INPUT = """\
---
FOO:
  sample:
    type: "local"
    local:
      file_path: "[[ TEST_RESOURCES ]]/data/input/foo.csv"
      file_type: "csv"
  actual:
    type: "s3"
    s3:
      bucket: "[[ S3_YOUR_INPUT_BUCKET ]]"
      file_path: "data/foo.h5"
      file_type: "hdf"
  schema:
    file_path: "[[ RESOURCES ]]/schemas/input/foo.yaml"

BAR:
  sample:
    type: "local"
    local:
      file_path: "[[ TEST_RESOURCES ]]/data/input/bar.parquet"
      file_type: "parquet"
  actual:
    type: "postgres"
    postgres:
      db_host: "[[ DB_HOST ]]"
      db_port: "[[ DB_PORT ]]"
      db_name: "[[ DB_NAME ]]"
      db_user: "[[ DB_USER ]]"
      db_password: "[[ DB_PASS ]]"
  schema:
    file_path: "[[ RESOURCES ]]/schemas/input/bar.yaml"
"""

PROCESSED = """\
---
FINAL_FOO:
  sample:
    type: "local"
    local:
      file_path: "[[ TEST_RESOURCES ]]/data/processed/final_foo.parquet"
      file_type: "parquet"
  actual:
    type: "s3"
    s3:
      bucket: "[[ S3_YOUR_OUTPUT_BUCKET ]]"
      file_path: "live/data/processed/final_foo.parquet"
      file_type: "parquet"
  schema:
    file_path: "[[ RESOURCES ]]/schemas/processed/final_foo.yaml"

FINAL_BAR:
  sample:
    type: "local"
    local:
      file_path: "[[ TEST_RESOURCES ]]/data/processed/final_bar.parquet"
      file_type: "parquet"
    options:
      use_deprecated_int96_timestamps: true
      coerce_timestamps: "ms"
      allow_truncated_timestamps: false
      row_group_size: 1000000
  actual:
    type: "kafka"
    kafka:
      kafka_server: "[[ KAFKA_SERVER ]]"
      kafka_topic: "[[ KAFKA_TOPIC ]]"
    options:
      compression_type: "snappy"
      max_in_flight_requests_per_connection: 10
      batch_size: 262144
      request_timeout_ms: 60000 # 60s
      buffer_memory: 134217728  # 128MB
  schema:
    file_path: "[[ RESOURCES ]]/schemas/processed/final_bar.yaml"
"""

FOO_SCHEMA = """\
---
name: foo
columns:
  column_a:
    type: "object"
    validations:
      has_unique_values:
        apply: true
        options: {}
    metrics:
      - Counts
  column_b:
    type: "object"
    validations:
      has_no_null_values:
        apply: true
        options: {}
    metrics:
      - CountsPerLabel
  column_c:
    type: float64
    validations:
      is_greater_than:
        apply: true
        options:
          threshold: 1000
    metrics: []
  column_d:
    type: float64
    validations:
      is_lower_than:
        apply: true
        options:
          threshold: "[[ LOWER_THAN_LIMIT ]]"
    metrics:
      - Min
      - Max
      - Mean
      - Std
      - Variance
"""

BAR_SCHEMA = """\
---
name: bar
columns:
  column_a:
    type: "object"
    validations:
      has_unique_values:
        apply: true
        options: {}
    metrics:
      - Counts
  column_b:
    type: "int64"
    validations: {}
    metrics: [Min, Max]
"""

FOO_CSV = """\
,column_a,column_b,column_c,column_d
0,id1,Label_A,1001.0,999.0
1,id2,Label_A,1002.0,998.0
2,id3,Label_B,1003.0,997.0
3,id4,Label_C,1004.0,996.0
4,id5,Label_A,1005.0,995.0
5,id6,Label_B,1006.0,994.0
6,id7,Label_C,1007.0,993.0
7,id8,Label_A,1008.0,992.0
8,id9,Label_A,1009.0,991.0
9,id10,Label_B,1010.0,990.0
"""

DYNAMICIO_VARS = (
    "S3_YOUR_INPUT_BUCKET",
    "S3_YOUR_OUTPUT_BUCKET",
    "KAFKA_SERVER",
    "KAFKA_TOPIC",
    "DB_HOST",
    "DB_PORT",
    "DB_NAME",
    "DB_USER",
    "DB_PASS",
)


def dynamicio_demo(tmp_path: Path) -> tuple[Path, types.ModuleType]:
    """dynamicio's demo resources laid out under tmp_path, and its environment module."""
    resources = tmp_path / "demo" / "resources"
    tests = tmp_path / "demo" / "tests"
    write_text(resources / "definitions" / "staging_input.yaml", STAGING_INPUT)
    write_text(resources / "definitions" / "processed.yaml", PROCESSED)
    write_text(resources / "schemas" / "input" / "foo.yaml", FOO_SCHEMA)
    write_text(resources / "schemas" / "input" / "bar.yaml", BAR_SCHEMA)
    write_text(resources / "schemas" / "processed" / "final_foo.yaml", FOO_SCHEMA)
    write_text(resources / "schemas" / "processed" / "final_bar.yaml", BAR_SCHEMA)
    write_text(tests / "data" / "input" / "foo.csv", FOO_CSV)
    (tests / "data" / "processed").mkdir(parents=True)
    pd.DataFrame({"column_a": ["x", "y"], "column_b": [1, 2]}).to_parquet(
        tests / "data" / "input" / "bar.parquet"
    )
    env = types.ModuleType("environment")
    env.ENVIRONMENT = "sample"  # type: ignore[attr-defined]
    env.CLOUD_ENV = "DEV"  # type: ignore[attr-defined]
    env.RESOURCES = str(resources)  # type: ignore[attr-defined]
    env.TEST_RESOURCES = str(tests)  # type: ignore[attr-defined]
    for name in DYNAMICIO_VARS:
        setattr(env, name, None)
    env.REFERENCE_DATA_STATE_KEY = None  # type: ignore[attr-defined]
    env.LOWER_THAN_LIMIT = 1000  # type: ignore[attr-defined]
    return resources / "definitions", env


@pytest.fixture
def no_dynamicio_env_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in DYNAMICIO_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("no_dynamicio_env_vars")
def test_dynamicio_demo_yaml_loads_verbatim_for_sample(tmp_path: Path) -> None:
    definitions, env = dynamicio_demo(tmp_path)
    cat = dynio.Catalog.from_yaml(definitions, env="sample", vars=env)
    assert sorted(cat.resources) == ["BAR", "FINAL_BAR", "FINAL_FOO", "FOO"]

    foo = cat.read("FOO")
    assert list(foo.columns) == ["column_a", "column_b", "column_c", "column_d"]
    assert foo["column_a"].tolist() == [f"id{i}" for i in range(1, 11)]
    assert foo["column_c"].dtype == "float64"
    assert foo["column_d"].tolist() == [999.0 - i for i in range(10)]
    assert cat.last_report is not None
    assert cat.last_report.ok
    # threshold "[[ LOWER_THAN_LIMIT ]]" took the module's int
    rule = cat.resource("FOO").spec.schema.column("column_d").rules[0]  # type: ignore[union-attr]
    assert rule.options["threshold"] == 1000
    assert type(rule.options["threshold"]) is int

    bar = cat.read("BAR")
    assert bar["column_b"].tolist() == [1, 2]

    # FINAL_BAR's pyarrow writer options pass through to the parquet writer
    final = cat.resource("FINAL_BAR").spec.source
    assert dict(final.options) == {
        "use_deprecated_int96_timestamps": True,
        "coerce_timestamps": "ms",
        "allow_truncated_timestamps": False,
        "row_group_size": 1000000,
    }
    cat.write("FINAL_BAR", bar)
    written = tmp_path / "demo" / "tests" / "data" / "processed" / "final_bar.parquet"
    assert pd.read_parquet(written)["column_b"].tolist() == [1, 2]


@pytest.mark.usefixtures("no_dynamicio_env_vars")
def test_dynamicio_demo_actual_envs_are_deferred_then_parse_once_variables_are_set(
    tmp_path: Path,
) -> None:
    definitions, env = dynamicio_demo(tmp_path)
    spec = load_spec(definitions, env="sample", variables=env)
    # a deferred environment raises every variable it lacks, each naming resource and file
    with pytest.raises(ConfigProblems) as info:
        spec.resources["BAR"].env("actual")
    lacking = info.value.problems
    assert all(isinstance(p, MissingVariableError) for p in lacking)
    assert [p.variable for p in lacking] == [  # type: ignore[attr-defined]
        "DB_HOST",
        "DB_PORT",
        "DB_NAME",
        "DB_USER",
        "DB_PASS",
    ]
    assert {p.resource for p in lacking} == {"BAR"}
    assert {p.file for p in lacking} == {str(definitions / "staging_input.yaml")}
    with pytest.raises(ConfigProblems) as info:
        dynio.Resource(spec.resources["FINAL_BAR"], "actual").read()
    assert [p.variable for p in info.value.problems] == [  # type: ignore[attr-defined]
        "KAFKA_SERVER",
        "KAFKA_TOPIC",
    ]
    # loading for actual with the module's None values fails, naming every variable it lacks
    with pytest.raises(ConfigProblems) as many:
        dynio.Catalog.from_yaml(definitions, env="actual", vars=env, strict=True)
    assert all(isinstance(p, MissingVariableError) for p in many.value.problems)
    assert sorted({p.variable for p in many.value.problems}) == [  # type: ignore[attr-defined]
        "DB_HOST",
        "DB_NAME",
        "DB_PASS",
        "DB_PORT",
        "DB_USER",
        "KAFKA_SERVER",
        "KAFKA_TOPIC",
        "S3_YOUR_INPUT_BUCKET",
        "S3_YOUR_OUTPUT_BUCKET",
    ]

    env.S3_YOUR_OUTPUT_BUCKET = "out-bucket"  # type: ignore[attr-defined]
    env.KAFKA_SERVER = "localhost:9092"  # type: ignore[attr-defined]
    env.KAFKA_TOPIC = "final-bar"  # type: ignore[attr-defined]
    env.DB_HOST = "db"  # type: ignore[attr-defined]
    env.DB_PORT = "5432"  # type: ignore[attr-defined]
    env.DB_NAME = "demo"  # type: ignore[attr-defined]
    env.DB_USER = "me"  # type: ignore[attr-defined]
    env.DB_PASS = "0123"  # type: ignore[attr-defined]
    spec = load_spec(definitions, env="sample", variables=env)
    bar = spec.resources["BAR"].env("actual").source
    assert bar.kind == "postgres"
    assert bar.settings["db_port"] == 5432
    assert bar.settings["db_password"] == "0123"
    kafka = spec.resources["FINAL_BAR"].env("actual").source
    assert kafka.kind == "kafka"
    assert dict(kafka.options) == {
        "compression_type": "snappy",
        "max_in_flight_requests_per_connection": 10,
        "batch_size": 262144,
        "request_timeout_ms": 60000,
        "buffer_memory": 134217728,
    }
    assert dict(kafka.settings) == {"kafka_server": "localhost:9092", "kafka_topic": "final-bar"}


@pytest.mark.usefixtures("no_dynamicio_env_vars")
def test_dynamicio_demo_hdf_env_loads_through_the_catalog(tmp_path: Path) -> None:
    """With every variable set, FOO.actual (s3, file_type hdf) is parsed when loading sample."""
    definitions, env = dynamicio_demo(tmp_path)
    env.S3_YOUR_INPUT_BUCKET = "in-bucket"  # type: ignore[attr-defined]
    cat = dynio.Catalog.from_yaml(definitions, env="sample", vars=env)
    assert "FOO" in cat
    spec = load_spec(definitions, env="sample", variables=env)
    actual = spec.resources["FOO"].env("actual").source
    assert actual.kind == "s3"
    assert actual.format == "hdf"


def test_catalog_check_in_a_fresh_process_knows_the_hdf_file_type(tmp_path: Path) -> None:
    """`dynio catalog check` must accept every file type Catalog.from_yaml accepts (hdf too).

    Run in a fresh interpreter: in this process another test may already have imported the
    facade module that registers ``hdf``.
    """
    definitions, _ = dynamicio_demo(tmp_path)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in DYNAMICIO_VARS and k not in ("DYNIO_ENV", "RESOURCES", "TEST_RESOURCES")
    }
    env |= dict.fromkeys(DYNAMICIO_VARS, "x") | {"DB_PORT": "5432", "LOWER_THAN_LIMIT": "1000"}
    env |= {"RESOURCES": str(definitions.parent), "TEST_RESOURCES": str(tmp_path / "demo/tests")}
    proc = subprocess.run(
        [sys.executable, "-m", "dynio.cli", "catalog", "check", "--config", str(definitions)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "ok: 4 resource(s)" in proc.stdout


def test_cli_var_values_are_typed_like_environment_variables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--var LIMIT=1000` must work wherever `LIMIT=1000` in the environment works."""
    monkeypatch.delenv("DYNIO_TEST_LIMIT", raising=False)
    path = write_text(
        tmp_path / "resources.yaml",
        """
        r:
          local:
            type: local
            local: {file_path: d.csv}
          schema:
            columns:
              a:
                type: float64
                validations:
                  is_lower_than: {options: {threshold: "[[ DYNIO_TEST_LIMIT ]]"}}
        """,
    )
    monkeypatch.setenv("DYNIO_TEST_LIMIT", "1000")
    assert cli.main(["catalog", "check", "--config", str(path)]) == 0
    assert "ok: 1 resource(s)" in capsys.readouterr().out
    monkeypatch.delenv("DYNIO_TEST_LIMIT")
    code = cli.main(["catalog", "check", "--config", str(path), "--var", "DYNIO_TEST_LIMIT=1000"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "ok: 1 resource(s)" in captured.out
