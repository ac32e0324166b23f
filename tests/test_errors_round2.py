"""Every error is a dynio error (issue 20): filter values no SQL parameter carries, placeholders
inside placeholders. Each is tried in several spellings.
"""

from __future__ import annotations

import os
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
