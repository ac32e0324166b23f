"""dynio.testing: sample data from schemas, assertions, and the pytest plugin's fixtures."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

import dynio
from dynio.demo import transform
from dynio.testing import (
    SampleError,
    assert_frame_matches_schema,
    assert_valid,
    local_catalog,
    sample_frame,
    sample_polars,
)

DEMO = Path(__file__).resolve().parent.parent / "configs" / "demo"
SCHEMAS = DEMO / "schemas"


@pytest.mark.parametrize("name", ["trips", "zones", "trips_clean", "zone_summary"])
def test_samples_pass_every_rule_of_the_demo_schemas(name: str) -> None:
    frame = sample_frame(SCHEMAS / f"{name}.yaml", rows=40, seed=3)
    assert len(frame) == 40
    report = assert_valid(frame, SCHEMAS / f"{name}.yaml", warnings=True)
    assert report.ok
    assert_frame_matches_schema(frame, SCHEMAS / f"{name}.yaml", check_order=True)


def test_samples_are_reproducible_and_seeded() -> None:
    a = sample_polars(SCHEMAS / "trips.yaml", seed=1)
    b = sample_polars(SCHEMAS / "trips.yaml", seed=1)
    c = sample_polars(SCHEMAS / "trips.yaml", seed=2)
    assert a.equals(b)
    assert not a.equals(c)


def test_samples_respect_bounds_categories_patterns_and_lengths() -> None:
    schema = {
        "name": "t",
        "columns": {
            "code": {
                "type": "str",
                "validations": {
                    "matches_regex": {"apply": True, "options": {"pattern": r"[A-Z]{3}-\d{2,4}"}},
                    "has_unique_values": {"apply": True},
                },
            },
            "name": {
                "type": "str",
                "validations": {
                    "has_length_between": {"apply": True, "options": {"min": 5, "max": 5}}
                },
            },
            "score": {
                "type": "float64",
                "validations": {
                    "is_between": {"apply": True, "options": {"lower": 0, "upper": 1}},
                },
            },
            "level": {
                "type": "int8",
                "validations": {
                    "is_greater_than": {"apply": True, "options": {"threshold": 2}},
                    "is_lower_than_or_equal": {"apply": True, "options": {"threshold": 4}},
                },
            },
            "kind": {
                "type": "category",
                "validations": {
                    "is_in": {
                        "apply": True,
                        "options": {"categorical_values": ["a", "b", "c"], "match_all": True},
                    }
                },
            },
        },
        "validations": {"row_count_between": {"apply": True, "options": {"min": 30, "max": 35}}},
    }
    frame = sample_polars(schema)
    assert 30 <= frame.height <= 35
    assert frame["code"].str.contains(r"^[A-Z]{3}-\d{2,4}$").all()
    assert frame["code"].n_unique() == frame.height
    assert (frame["name"].str.len_chars() == 5).all()
    assert ((frame["score"] > 0) & (frame["score"] < 1)).all()
    assert set(frame["level"].to_list()) <= {3, 4}
    assert frame.schema["level"] == pl.Int8
    assert set(frame["kind"].cast(pl.String).to_list()) == {"a", "b", "c"}


def test_rules_the_generator_cannot_meet_are_named() -> None:
    @dynio.register_rule("is_even_for_samples")
    def is_even(col: pl.Expr) -> pl.Expr:
        return col % 2 == 0

    try:
        schema = {
            "name": "evens",
            "columns": {
                "n": {"type": "int64", "validations": {"is_even_for_samples": {"apply": True}}}
            },
        }
        with pytest.raises(SampleError, match="is_even_for_samples"):
            sample_polars(schema, rows=30)
    finally:
        dynio.unregister_rule("is_even_for_samples")
    impossible = {
        "name": "tiny",
        "columns": {
            "n": {
                "type": "int64",
                "validations": {
                    "is_between": {"apply": True, "options": {"lower": 0, "upper": 3}},
                    "has_unique_values": {"apply": True},
                },
            }
        },
    }
    with pytest.raises(SampleError, match=r"fewer than 10 distinct integers"):
        sample_polars(impossible, rows=10)


def test_assert_valid_names_the_failed_rules() -> None:
    frame = sample_frame(SCHEMAS / "zones.yaml", rows=10)
    frame.loc[0, "zone_id"] = frame.loc[1, "zone_id"]
    with pytest.raises(AssertionError, match=r"has_unique_values") as info:
        assert_valid(frame, SCHEMAS / "zones.yaml")
    assert "zones" in str(info.value)


def test_assert_frame_matches_schema_reports_every_difference() -> None:
    frame = sample_frame(SCHEMAS / "zones.yaml", rows=5)
    frame["zone_id"] = frame["zone_id"].astype("float64")
    frame = frame.drop(columns=["borough"]).assign(extra=1)
    with pytest.raises(AssertionError) as info:
        assert_frame_matches_schema(frame, SCHEMAS / "zones.yaml")
    text = str(info.value)
    assert "missing column(s) ['borough']" in text
    assert "['extra']" in text
    assert "'zone_id' is Float64" in text
    assert_frame_matches_schema(
        frame.drop(columns=["extra"]).assign(borough="North").astype({"zone_id": "int32"}),
        SCHEMAS / "zones.yaml",
    )


def test_local_catalog_runs_the_demo_pipeline_on_samples(tmp_path: Path) -> None:
    trips = sample_frame(SCHEMAS / "trips.yaml", rows=60, seed=5)
    zones = sample_frame(SCHEMAS / "zones.yaml", rows=20, seed=5)
    zones["zone_id"] = pd.Series(range(1, 21), dtype="int32")
    cat = local_catalog(
        DEMO / "resources.yaml",
        tmp_path,
        env="sample",
        vars={"DEMO_OUTPUT": str(tmp_path / "never")},
        data={"trips": trips, "zones": zones},
        redirect="all",
    )
    clean, summary = transform(cat.read("trips"), cat.read("zones"))
    cat.write("trips_clean", clean)
    cat.write("zone_summary", summary)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "trips.parquet",
        "trips_clean.parquet",
        "zone_summary.parquet",
        "zones.parquet",
    ]
    assert not (tmp_path / "never").exists()
    back = cat.read("zone_summary")
    assert back["trips"].sum() == (trips["fare"] >= 0).sum()
    # the original files of the demo were never touched: reading them still gives their data
    original = dynio.Catalog.from_yaml(
        DEMO / "resources.yaml", env="sample", vars={"DEMO_OUTPUT": "x"}
    )
    on_disk = pl.read_parquet(DEMO / "data" / "zones.parquet")
    assert original.read("zones")["zone_name"].tolist() == on_disk["zone_name"].to_list()


def test_local_catalog_writes_are_validated(tmp_path: Path) -> None:
    zones = sample_frame(SCHEMAS / "zones.yaml", rows=5)
    zones["zone_name"] = ""
    with pytest.raises(dynio.DynioError, match="is_not_empty"):
        local_catalog(
            DEMO / "resources.yaml",
            tmp_path,
            env="sample",
            vars={"DEMO_OUTPUT": "x"},
            data={"zones": zones},
        )
    with pytest.raises(dynio.DynioError, match="no resource 'nope'"):
        local_catalog(
            DEMO / "resources.yaml",
            tmp_path,
            env="sample",
            vars={"DEMO_OUTPUT": "x"},
            redirect=["nope"],
        )


def test_the_fixtures_work_in_a_users_test_session(tmp_path: Path) -> None:
    """The plugin is found through its entry point, as in a user's project (no conftest)."""
    test = tmp_path / "test_pipeline.py"
    test.write_text(
        textwrap.dedent(
            f"""
            from dynio.testing import assert_valid

            DEMO = {str(DEMO)!r}

            def test_pipeline(dynio_catalog, dynio_sample):
                zones = dynio_sample(DEMO + "/schemas/zones.yaml", rows=7)
                cat = dynio_catalog(DEMO + "/resources.yaml", env="sample",
                                    vars={{"DEMO_OUTPUT": "x"}}, data={{"zones": zones}})
                back = cat.read("zones")
                assert len(back) == 7
                assert_valid(back, DEMO + "/schemas/zones.yaml")

            def test_polars_samples(dynio_sample):
                assert dynio_sample(DEMO + "/schemas/trips.yaml", rows=3, polars=True).height == 3
            """
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


def test_the_plugin_imports_nothing_heavy() -> None:
    code = (
        "import sys, dynio.testing.plugin;"
        " print(sorted(m for m in ('polars', 'pandas') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
