"""The benchmark suite's own machinery: its data, its scenarios and its runner.

No timing here (timing belongs in ``python -m benchmarks``): these pin that the data is written
by every writer and holds the same table, that every scenario compiles and names resources that
read, and that the runner selects, records and reports what it says it does.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

import dynio
from benchmarks import data, reads, runner, scenarios
from benchmarks.sides import Scenario, Side

TINY = data.Shape(
    rows=3_000, ndjson_rows=500, small_files=4, small_file_rows=50, row_group=500,
    pandas_row_group=1_000,
)  # fmt: skip
CONFIG = Path(__file__).resolve().parent.parent / "configs" / "bench"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return data.ensure_data("quick", tmp_path_factory.mktemp("bench") / "tiny", TINY)


def test_every_writer_writes_the_same_orders_table(tiny: Path) -> None:
    expected = data.orders(TINY.rows).to_pandas()
    for name in ("orders.parquet", "orders_pandas.parquet", "orders_pandas1m.parquet",
                 "orders_duckdb.parquet", "orders_parts"):  # fmt: skip
        got = pd.read_parquet(tiny / name)
        pd.testing.assert_frame_equal(got, expected, check_dtype=False, obj=name)
    assert len(os.listdir(tiny / "orders_parts")) == data.PARTS
    assert len(os.listdir(tiny / "small")) == TINY.small_files
    assert len(pd.read_parquet(tiny / "orders_1k.parquet")) == data.F1_ROWS
    # the writers' own shapes: pandas' defaults are one group here, 1 M-row groups scaled down
    assert pq.ParquetFile(tiny / "orders_pandas.parquet").metadata.num_row_groups == 1
    assert pq.ParquetFile(tiny / "orders_pandas1m.parquet").metadata.num_row_groups == 3
    assert pq.ParquetFile(tiny / "orders.parquet").metadata.num_row_groups == 6
    assert b"pandas" in (pq.read_schema(tiny / "orders_pandas.parquet").metadata or {})
    assert "DuckDB" in pq.ParquetFile(tiny / "orders_duckdb.parquet").metadata.created_by


def test_narrow_table_has_unique_ids_floats_and_three_labels(tiny: Path) -> None:
    narrow = pd.read_parquet(tiny / "narrow.parquet")
    assert list(narrow.columns) == ["id", "value", "label"]
    assert narrow["id"].is_unique
    assert len(narrow) == TINY.rows
    assert not narrow["id"].is_monotonic_increasing  # shuffled: uniqueness is real work
    assert narrow["value"].dtype == "float64"
    assert sorted(narrow["label"].unique()) == sorted(data.LABELS)


def test_manifest_records_the_data_version_and_each_file(tiny: Path) -> None:
    manifest = json.loads((tiny / "manifest.json").read_text())
    assert manifest["version"] == data.DATA_VERSION
    assert manifest["files"] == {f.name: f.version for f in data.FILES}


def test_an_old_data_folder_catches_up_and_keeps_its_files(tmp_path: Path) -> None:
    old = tmp_path / "old"
    old.mkdir()
    kept = old / "orders.csv"
    kept.write_text("not regenerated")  # a file of data version 1 stays as it is
    (old / "manifest.json").write_text(json.dumps({"rows": TINY.rows, "created": "then"}))
    data.ensure_data("quick", old, TINY)
    assert kept.read_text() == "not regenerated"
    assert (old / "orders_pandas1m.parquet").exists()
    assert (old / "orders.parquet").exists()
    assert json.loads((old / "manifest.json").read_text())["version"] == data.DATA_VERSION


def test_a_file_at_an_older_version_is_written_again(tiny: Path, tmp_path: Path) -> None:
    folder = tmp_path / "copy"
    folder.mkdir()
    (folder / "orders_1k.parquet").write_text("stale")
    files = {f.name: f.version for f in data.FILES} | {"orders_1k.parquet": 0}
    for f in data.FILES:  # every other file is current: only the stale one is written
        if f.name != "orders_1k.parquet":
            (folder / f.name).symlink_to(tiny / f.name)
    (folder / "manifest.json").write_text(json.dumps({"version": 1, "files": files}))
    data.ensure_data("quick", folder, TINY)
    assert len(pd.read_parquet(folder / "orders_1k.parquet")) == data.F1_ROWS
    assert json.loads((folder / "manifest.json").read_text())["files"]["orders_1k.parquet"] == 1


def test_scenario_ids_are_unique_and_every_side_compiles() -> None:
    every = scenarios.all_scenarios()
    ids = [s.id for s in every]
    assert len(ids) == len(set(ids))
    for s in every:
        for side in (s.dynio, s.baseline):
            for part in ("setup", "run", "after"):
                compile(getattr(side, part), f"{s.id}:{side.python}:{part}", "exec")
        assert 0 < s.target <= s.guard, s.id


def test_every_read_runs_on_every_writers_file() -> None:
    ids = {s.id for s in scenarios.all_scenarios()}
    for suffix in ("", "-pandas", "-pandas1m", "-duckdb"):
        assert {f"R{i}{suffix}" for i in range(1, 5)} <= ids
    assert {"R1-parts", "R3-parts", "V2-pandas", "V3", "F1"} <= ids
    assert {"MEM-R1", "MEM-R3", "MEM-R1-pandas", "MEM-R3-pandas"} <= ids
    targets = {s.id: s.target for s in scenarios.all_scenarios()}
    assert all(targets[f"R1{layout.suffix}"] == 0.75 for layout in reads.LAYOUTS)
    assert (targets["V2"], targets["V3"], targets["F1"], targets["V1"]) == (1.3, 1.3, 1.1, 0.15)
    assert (targets["MEM-R1"], targets["MEM-R3"]) == (1.0, 0.3)


@pytest.mark.parametrize("file", ["resources.yaml", "quality.yaml"])
def test_every_bench_resource_reads_the_generated_data(
    tiny: Path, tmp_path: Path, file: str
) -> None:
    cat = dynio.Catalog.from_yaml(
        CONFIG / file,
        env="local",
        vars={"BENCH_DATA": str(tiny), "BENCH_OUT": str(tmp_path), "BENCH_CONFIG": str(CONFIG)},
    )
    for name in cat.resources:
        if "out" in name:
            continue
        frame = cat.read(name)
        assert len(frame) > 0, name
        report = cat.last_report
        assert report is None or report.ok, (name, report)


def test_topic_modules_are_every_scenarios_file() -> None:
    # a new benchmarks/scenarios_<topic>.py (the CSV corpus' C1 among them) needs no registration
    here = Path(scenarios.__file__).parent
    expected = sorted(p.stem for p in here.glob("scenarios_*.py"))
    assert [m.__name__.rsplit(".", 1)[1] for m in scenarios.topic_modules()] == expected


def test_select_takes_ids_and_patterns() -> None:
    every = scenarios.all_scenarios()
    chosen, checks = runner.select(every, "r1*, V3", "quick")
    ids = {s.id for s in chosen}
    assert {"R1", "R1-pandas", "R1-duckdb", "R1-parts", "R1p", "V3"} <= ids
    assert "R2" not in ids
    assert checks == set()
    assert runner.select(every, "L1,R2", "quick")[1] == {"L1"}
    with pytest.raises(ValueError, match="NOPE"):
        runner.select(every, "R1,nope", "quick")
    quick, _ = runner.select(every, None, "quick")
    assert "R2-duckdb" not in {s.id for s in quick}  # sampled out of CI's runs
    assert len(runner.select(every, None, "full")[0]) == len(every)


def test_runner_records_the_path_a_side_took(tmp_path: Path) -> None:
    scenario = Scenario(
        "X1",
        "a side that says which path ran",
        Side("x = 0", "x += 1", after="PATH_TAKEN = 'pyarrow' if x == 1 else 'wrong'"),
        Side("", "y = 1"),
        target=1.0,
        guard=1e9,
    )
    outcome = runner.run_scenario(scenario, 2, {}, {"main": sys.executable}, confirm=False)
    assert outcome.status != "error", outcome.note
    assert outcome.path == "pyarrow"
    assert "| path |" in runner.table([outcome])
    assert "| pyarrow |" in runner.table([outcome])
    outcome.path = ""
    assert "| path |" not in runner.table([outcome])  # no column when no side records one
