"""Authoring a catalog: nothing blocks the rest, every problem at once, where it is, what was meant.

Covers: a resource's problems (an unset variable, an unknown option, a broken schema) raised
when that resource is used and never blocking the others; ``strict=True`` listing every problem
of every resource; ``file:line:col`` on every configuration error; "did you mean" for keys,
dtypes, rules, metrics, options, environments, file types and credentials; keys YAML reads as
booleans refused with a hint to quote them; ``[[ VAR | default ]]``.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from conftest import write_text

import dynio
from dynio.engine import loader
from dynio.errors import ConfigError, ConfigProblems, MissingVariableError

CATALOG = """\
trips:
  local:
    type: local
    local: {file_path: data/trips.csv, file_type: csv}
  schema:
    columns:
      id: {type: int64}
trips_clean:
  local:
    type: local
    local: {file_path: "[[ CLEAN_DIR ]]/clean.csv", file_type: csv}
    options: {seperator: ","}
  schema:
    columns:
      id: {type: flaot64}
      fare: {type: float64, metrics: [Maen], validations: {has_uniqe_values: {}}}
"""


@pytest.fixture
def catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("CLEAN_DIR", raising=False)
    (tmp_path / "data").mkdir()
    pl.DataFrame({"id": [1, 2]}).write_csv(tmp_path / "data" / "trips.csv")
    return write_text(tmp_path / "resources.yaml", CATALOG)


def test_a_broken_resource_does_not_block_the_others(catalog: Path) -> None:
    cat = dynio.Catalog.from_yaml(catalog, env="local")
    assert cat.read("trips")["id"].tolist() == [1, 2]
    with pytest.raises(ConfigProblems) as info:
        cat.read("trips_clean")
    messages = [p.message for p in info.value.problems]
    # every problem of the resource at once: the unset variable, the option, the schema's three
    assert len(messages) == 5, str(info.value)
    assert any("[[ CLEAN_DIR ]]" in m for m in messages)
    assert {p.resource for p in info.value.problems} == {"trips_clean"}


def test_strict_reports_every_problem_of_every_resource(catalog: Path) -> None:
    with pytest.raises(ConfigProblems) as info:
        dynio.Catalog.from_yaml(catalog, env="local", strict=True)
    problems = info.value.problems
    assert len(problems) == 5
    assert any(isinstance(p, MissingVariableError) for p in problems)
    assert [str(p) for p in loader.check_catalog(catalog)] == [str(p) for p in problems]
    assert len(loader.check_catalog(catalog)) == 5
    # structure without secrets: the unset variable is no problem, the rest are
    assert len(loader.check_catalog(catalog, allow_unset=True)) == 4


def test_every_error_says_file_line_and_column(catalog: Path) -> None:
    problems = loader.check_catalog(catalog)
    where = {p.key_path: (p.line, p.col) for p in problems}
    assert where["trips_clean.local.local.file_path"] == (11, 13)
    assert where["trips_clean.local.options.seperator"] == (12, 15)
    assert where["trips_clean.schema.columns.id.type"] == (15, 12)
    assert where["trips_clean.schema.columns.fare.metrics[0]"] == (16, 39)
    for p in problems:
        assert str(p).startswith(f"{catalog}:{p.line}:{p.col}: "), str(p)


def test_did_you_mean_instead_of_every_name(catalog: Path) -> None:
    text = "\n".join(str(p) for p in loader.check_catalog(catalog))
    assert "did you mean 'float64'" in text
    assert "did you mean 'Mean'" in text
    assert "did you mean 'has_unique_values'" in text
    assert "did you mean 'separator'" in text
    assert "Int16" not in text  # the ~60 dtype spellings are not dumped


def test_unknown_environment_suggests_the_close_one(catalog: Path) -> None:
    cat = dynio.Catalog.from_yaml(catalog, env="lcoal")
    with pytest.raises(ConfigError, match="did you mean 'local'"):
        cat.read("trips")


@pytest.mark.parametrize(
    ("text", "key", "hint"),
    [
        ("r:\n  on:\n    type: local\n    local: {file_path: a.csv}\n", "r.on", '"on":'),
        (
            "r:\n  local:\n    type: local\n    local: {file_path: a.csv}\n"
            "  schema:\n    columns:\n      NO: {type: str}\n",
            "r.schema.columns.NO",
            '"NO":',
        ),
        ("yes:\n  local:\n    type: local\n    local: {file_path: a.csv}\n", "yes", '"yes":'),
    ],
)
def test_keys_yaml_reads_as_booleans_are_refused(
    tmp_path: Path, text: str, key: str, hint: str
) -> None:
    path = write_text(tmp_path / "r.yaml", text)
    problems = loader.check_catalog(path)
    assert [p.key_path for p in problems] == [key], problems
    assert hint in str(problems[0])
    assert "bool" in str(problems[0])
    assert problems[0].line is not None


@pytest.mark.parametrize(
    ("written", "refused"),
    [("1", False), ("2024", False), ("01", True), ("0x1f", True), ("1_000", True)],
)
def test_integer_keys_are_text_only_when_written_as_their_number(
    tmp_path: Path, written: str, refused: bool
) -> None:
    """dynamicio's schemas name columns 1, 2…: such a key is its text; a key whose text YAML
    would change (01 -> 1, 0x1f -> 31) is refused with a hint to quote it."""
    path = write_text(
        tmp_path / "r.yaml",
        f"r:\n  local:\n    type: local\n    local: {{file_path: a.csv}}\n"
        f"  schema:\n    columns:\n      {written}: {{type: str}}\n",
    )
    problems = loader.check_catalog(path)
    if refused:
        assert [p.key_path for p in problems] == [f"r.schema.columns.{written}"], problems
        assert f'"{written}":' in str(problems[0])
    else:
        assert problems == []
        spec = dynio.Catalog.from_yaml(path, env="local").resource("r").spec
        assert spec.schema is not None
        assert spec.schema.column_names == [written]


def test_an_unset_variable_of_one_resource_leaves_the_rest_usable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOPE", raising=False)
    path = write_text(
        tmp_path / "r.yaml",
        """
        a:
          local: {type: local, local: {file_path: "[[ NOPE ]]/a.csv"}}
        b:
          local: {type: local, local: {file_path: b.csv}}
        """,
    )
    cat = dynio.Catalog.from_yaml(path, env="local")
    assert cat.resource("b").spec.source.format == "csv"
    with pytest.raises(MissingVariableError, match=r"r\.yaml:2:\d+: no value for .*NOPE"):
        cat.resource("a").spec  # noqa: B018


def test_placeholder_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORT", raising=False)
    monkeypatch.delenv("HOST", raising=False)
    path = write_text(
        tmp_path / "r.yaml",
        """
        r:
          pg:
            type: postgres
            postgres:
              db_host: [[ HOST | localhost ]]
              db_port: "[[ PORT | 5433 ]]"
              db_name: "db_[[ NAME | dev ]]"
        """,
    )
    settings = dynio.Catalog.from_yaml(path, env="pg").resource("r").spec.source.settings
    assert (settings["db_host"], settings["db_port"], settings["db_name"]) == (
        "localhost",
        5433,
        "db_dev",
    )
    monkeypatch.setenv("PORT", "6000")
    cat = dynio.Catalog.from_yaml(path, env="pg", vars={"HOST": "h"})
    assert cat.resource("r").spec.source.settings["db_port"] == 6000
    assert cat.resource("r").spec.source.settings["db_host"] == "h"


def test_unknown_file_type_lists_every_accepted_name(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "r.yaml", "r:\n  local: {type: local, local: {file_path: a, file_type: xlsx}}\n"
    )
    (problem,) = loader.check_catalog(path)
    for name in ("parquet", "csv", "json", "ndjson", "jsonl", "ipc", "feather", "arrow", "hdf"):
        assert name in str(problem)


def test_schema_file_errors_point_into_the_schema_file(tmp_path: Path) -> None:
    schema = write_text(tmp_path / "s.yaml", "columns:\n  a: {type: int64}\n  b: {type: strr}\n")
    path = write_text(
        tmp_path / "r.yaml",
        "r:\n  local: {type: local, local: {file_path: a.csv}}\n  schema: {file_path: s.yaml}\n",
    )
    (problem,) = loader.check_catalog(path)
    assert str(problem).startswith(f"{schema}:3:7: unknown type 'strr'")
    assert "did you mean" in str(problem)


def test_a_syntax_error_says_file_line_and_column_too(tmp_path: Path) -> None:
    path = write_text(tmp_path / "r.yaml", "r:\n  local: {type: local\n")
    with pytest.raises(ConfigError) as info:
        dynio.Catalog.from_yaml(path, env="local")
    assert str(info.value).startswith(f"{path}:3:1: invalid YAML")
