"""The JSON Schemas of resource and schema YAML: generated from the registries, current in the
repository, valid, accepting every example and refusing the mistakes the loader refuses."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

import dynio.hdf  # noqa: F401  # the facade's format, registered as the CLI registers it
from dynio import cli
from dynio.engine.json_schema import resource_schema, schema_file_schema
from dynio.engine.loader import load_catalog

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "configs" / "jsonschema"
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$", re.MULTILINE)


def _validator(doc: dict[str, Any]) -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(doc)
    return jsonschema.Draft202012Validator(doc)


def _errors(schema: dict[str, Any], text: str) -> list[str]:
    doc = yaml.safe_load(text)
    return [e.message for e in _validator(schema).iter_errors(doc)]


@pytest.mark.parametrize(
    ("name", "make"),
    [("resource.schema.json", resource_schema), ("schema.schema.json", schema_file_schema)],
)
def test_the_committed_schemas_are_current(
    name: str, make: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    committed = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    assert committed == make(), f"regenerate with: dynio catalog json-schema ... -o {name}"
    argv = ["catalog", "json-schema", *(["--schema-file"] if "schema.schema" in name else [])]
    assert cli.main(argv) == 0
    assert json.loads(capsys.readouterr().out) == committed


def _examples() -> list[Path]:
    return sorted(
        p
        for p in (ROOT / "configs").rglob("*.yaml")
        if MODELINE.search(p.read_text(encoding="utf-8"))
    )


def test_the_examples_name_a_schema() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in _examples()}
    assert {"configs/demo/resources.yaml", "configs/examples/objectstores.yaml"} <= names
    assert "configs/demo/schemas/trips.yaml" in names


@pytest.mark.parametrize("path", _examples(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_example_validates_against_the_schema_it_names(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    match = MODELINE.search(text)
    assert match is not None
    target = (path.parent / match.group(1)).resolve()
    assert target.parent == SCHEMAS
    schema = json.loads(target.read_text(encoding="utf-8"))
    assert _errors(schema, text) == []


RESOURCE_OK = """
trips:
  local:
    type: local
    local: {file_path: data/trips.csv, file_type: csv}
    options: {sep: ",", allow_template_escape: true}
  pg:
    type: postgres
    postgres: {db_host: "[[ HOST ]]", db_port: "[[ PORT | 5432 ]]"}
    options: {table: trips}
  schema:
    columns:
      id: {type: int64, validations: {has_unique_values: {apply: true}}, metrics: [Counts]}
"""


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("type: local\n", "type: lokal\n"),  # unknown kind
        ("file_type: csv", "file_typ: csv"),  # unknown section key
        ("file_type: csv", "file_type: xlsx"),  # unknown format
        ('sep: ","', 'sepp: ","'),  # unknown option
        ("type: int64", "type: flaot64"),  # unknown dtype
        ("has_unique_values", "has_uniqe_values"),  # unknown rule
        ("[Counts]", "[Cuonts]"),  # unknown metric
        ("{table: trips}", "{table: trips, colour: red}"),  # unknown postgres option
    ],
)
def test_the_resource_schema_refuses_what_the_loader_refuses(
    old: str, new: str, tmp_path: Path
) -> None:
    schema = resource_schema()
    assert _errors(schema, RESOURCE_OK) == []
    bad = RESOURCE_OK.replace(old, new)
    assert bad != RESOURCE_OK
    assert _errors(schema, bad), new
    path = tmp_path / "r.yaml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(Exception, match="unknown"):
        load_catalog(path, env="local", allow_unset=True)


def test_the_schema_file_schema_knows_every_dtype_spelling() -> None:
    schema = schema_file_schema()
    for spelling in ("object", "Int64", "datetime64[ns, UTC]", "Datetime(us)", "category", "str"):
        text = f"columns:\n  a: {{type: '{spelling}'}}\n"
        assert _errors(schema, text) == [], spelling
    assert _errors(schema, "columns:\n  a: {type: int64, nulls: true}\n")
