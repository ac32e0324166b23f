"""dynio schemas <-> pandera schemas: the same data is decided the same way both ways."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest

pytest.importorskip("pandera")

import pandera.errors as pae

import dynio
from dynio.checks import validate
from dynio.engine.errors import ConfigError
from dynio.engine.loader import parse_schema
from dynio.pandera import from_pandera, to_pandera
from dynio.testing import sample_polars

SCHEMAS = Path(__file__).resolve().parent.parent / "configs" / "demo" / "schemas"

EVERY_RULE: dict[str, Any] = {
    "name": "every_rule",
    "columns": {
        "id": {
            "type": "int64",
            "validations": {
                "has_unique_values": {"apply": True},
                "has_no_null_values": {"apply": True},
                "is_greater_than": {"apply": True, "options": {"threshold": 0}},
            },
        },
        "score": {
            "type": "float64",
            "validations": {
                "is_between": {
                    "apply": True,
                    "options": {"lower": 0, "upper": 10, "include_left": True},
                },
                "has_acceptable_percentage_of_nulls": {
                    "apply": True,
                    "options": {"threshold": 0.5},
                },
            },
        },
        "level": {
            "type": "int32",
            "validations": {
                "is_greater_than_or_equal": {"apply": True, "options": {"threshold": 1}},
                "is_lower_than": {"apply": True, "options": {"threshold": 9}},
                "is_lower_than_or_equal": {"apply": True, "options": {"threshold": 8}},
            },
        },
        "code": {
            "type": "str",
            "validations": {
                "matches_regex": {"apply": True, "options": {"pattern": r"[A-Z]{2}\d"}},
                "has_length_between": {"apply": True, "options": {"min": 3, "max": 3}},
            },
        },
        "label": {
            "type": "str",
            "validations": {
                "is_in": {"apply": True, "options": {"categorical_values": ["x", "y"]}},
                "is_not_empty": {"apply": True},
            },
        },
    },
    "validations": {
        "unique_together": {"apply": True, "options": {"columns": ["level", "code"]}},
        "row_count_between": {"apply": True, "options": {"min": 2, "max": 100}},
    },
}

# one way to break each rule: (column, row 0 value)
BREAKS = [
    ("id", -5),
    ("score", 10.0),
    ("score", -0.5),
    ("level", 0),
    ("level", 9),
    ("code", "AB12"),
    ("code", "ab1"),
    ("label", "z"),
    ("label", "  "),
]


def _pandera_failed_columns(schema: Any, data: Any) -> set[str] | None:
    try:
        schema.validate(data, lazy=True)
    except pae.SchemaErrors as exc:
        cases = exc.failure_cases
        rows = cases.to_dicts() if isinstance(cases, pl.DataFrame) else cases.to_dict("records")
        return {str(r["column"]) for r in rows if r.get("column") is not None}
    return None


def _dynio_failed_columns(data: Any, schema: Any) -> set[str] | None:
    report = validate(data, schema)
    return None if report.ok else {f.column or "<frame>" for f in report.errors}


def _frames() -> list[pl.DataFrame]:
    good = sample_polars(EVERY_RULE, rows=12, seed=4)
    frames = [good]
    for column, value in BREAKS:
        values = good[column].to_list()
        values[0] = value
        frames.append(good.with_columns(pl.Series(column, values, dtype=good.schema[column])))
    return frames


@pytest.mark.parametrize("backend", ["pandas", "polars"])
def test_every_rule_is_decided_the_same_way(backend: str) -> None:
    schema = to_pandera(EVERY_RULE, backend=backend)  # type: ignore[arg-type]
    for frame in _frames():
        data = frame if backend == "polars" else _pandas(frame)
        assert _pandera_failed_columns(schema, data) == _dynio_failed_columns(frame, EVERY_RULE), (
            frame.row(0)
        )


def _pandas(frame: pl.DataFrame) -> pd.DataFrame:
    from dynio import handoff

    return handoff.to_pandas(frame, parse_schema(EVERY_RULE))


@pytest.mark.parametrize("name", ["trips", "zones", "trips_clean", "zone_summary"])
def test_demo_schemas_agree_on_their_samples(name: str) -> None:
    path = SCHEMAS / f"{name}.yaml"
    frame = sample_polars(path, rows=30, seed=2)
    for backend in ("pandas", "polars"):
        schema = to_pandera(path, backend=backend)  # type: ignore[arg-type]
        data = frame if backend == "polars" else dynio.testing.sample_frame(path, rows=30, seed=2)
        assert _pandera_failed_columns(schema, data) is None


def test_duplicates_and_row_counts_fail_both_ways() -> None:
    frame = sample_polars(EVERY_RULE, rows=12, seed=4)
    dup = pl.concat([frame, frame.head(1)])
    for backend in ("pandas", "polars"):
        schema = to_pandera(EVERY_RULE, backend=backend)  # type: ignore[arg-type]
        data = dup if backend == "polars" else _pandas(dup)
        assert _pandera_failed_columns(schema, data) is not None
        one = frame.head(1)
        assert _pandera_failed_columns(schema, one if backend == "polars" else _pandas(one))
    assert not validate(dup, EVERY_RULE).ok
    assert not validate(frame.head(1), EVERY_RULE).ok


def test_pandera_schemas_come_back_as_dynio_rules(tmp_path: Path) -> None:
    import pandera.pandas as pa

    schema = pa.DataFrameSchema(
        {
            "id": pa.Column(int, pa.Check.gt(0), unique=True),
            "score": pa.Column(float, pa.Check.in_range(0, 1), nullable=True),
            "code": pa.Column(str, [pa.Check.str_length(2, 4), pa.Check.isin(["ab", "abc"])]),
        },
        unique=["id", "code"],
        name="from_pandera",
    )
    yaml_path = tmp_path / "pandera.yaml"
    yaml_path.write_text(schema.to_yaml())
    for source in (schema, yaml_path):
        mapping = from_pandera(source)
        spec = parse_schema(mapping)
        assert spec.column_names == ["id", "score", "code"]
        rules = {(r.column, r.name) for r in spec.all_rules}
        assert ("id", "is_greater_than") in rules
        assert ("id", "has_unique_values") in rules
        assert ("id", "has_no_null_values") in rules
        assert ("score", "is_between") in rules
        assert ("code", "has_length_between") in rules
        assert (None, "unique_together") in rules
    good = pd.DataFrame({"id": [1, 2], "score": [0.5, None], "code": ["ab", "abc"]})
    bad = pd.DataFrame({"id": [1, 1], "score": [1.5, None], "code": ["ab", "abcde"]})
    spec_map = from_pandera(schema)
    assert validate(good, spec_map).ok
    assert _pandera_failed_columns(schema, good) is None
    assert _dynio_failed_columns(bad, spec_map) == {"id", "score", "code"}
    assert _pandera_failed_columns(schema, bad) == {"id", "score", "code"}


def test_what_has_no_counterpart_is_named() -> None:
    import pandera.pandas as pa

    @dynio.register_rule("is_even_for_pandera")
    def is_even(col: pl.Expr) -> pl.Expr:
        return col % 2 == 0

    try:
        custom = {
            "name": "c",
            "columns": {
                "n": {"type": "int64", "validations": {"is_even_for_pandera": {"apply": True}}}
            },
        }
        with pytest.raises(ConfigError, match="is_even_for_pandera"):
            to_pandera(custom)
    finally:
        dynio.unregister_rule("is_even_for_pandera")
    odd = pa.DataFrameSchema({"n": pa.Column(int, pa.Check(lambda s: s % 2 == 0, name="is_even"))})
    with pytest.raises(ConfigError, match="is_even"):
        from_pandera(odd)


def test_the_cli_exports_and_imports_pandera_yaml(tmp_path: Path) -> None:
    from dynio.cli import main

    out = tmp_path / "trips.pandera.yaml"
    assert main(["schema", "to-pandera", str(SCHEMAS / "trips.yaml"), "-o", str(out)]) == 0
    assert "dynio_null_share" in out.read_text()  # the null-share rule survives serialisation
    back = tmp_path / "trips.dynio.yaml"
    assert main(["schema", "from-pandera", str(out), "-o", str(back), "--name", "trips"]) == 0
    original = dynio.checks.schema_of(SCHEMAS / "trips.yaml")
    again = dynio.checks.schema_of(back)
    assert again.column_names == original.column_names
    assert [c.dtype.polars for c in again.columns] == [c.dtype.polars for c in original.columns]
    sample = sample_polars(SCHEMAS / "trips.yaml", rows=25, seed=9)
    broken = sample.with_columns(pl.lit(None, dtype=pl.Int64).alias("passengers"))
    for frame in (sample, broken):
        assert validate(frame, again).ok == validate(frame, original).ok
    assert not validate(broken, again).ok


def test_warn_severity_stays_a_warning() -> None:
    path = SCHEMAS / "trips.yaml"  # fare >= 0 is a warning there, fare > -100 an error
    frame = sample_polars(path, rows=10, seed=1)
    refund = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(-5.0).otherwise(pl.col("fare")).alias("fare")
    )
    report = validate(refund, path)
    assert report.ok
    assert report.warnings
    schema = to_pandera(path, backend="polars")
    with pytest.warns(UserWarning, match="greater_than_or_equal_to"):
        schema.validate(refund, lazy=True)
    mapping = from_pandera(schema)
    assert (
        mapping["columns"]["fare"]["validations"]["is_greater_than_or_equal"]["severity"] == "warn"
    )
