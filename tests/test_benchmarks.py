"""The benchmark suite's own machinery: its data, its scenarios and its runner.

No timing here (timing belongs in ``python -m benchmarks``): these pin that the data is written
by every writer and holds the same table, that every scenario compiles and names resources that
read, and that the runner selects, records and reports what it says it does.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

import dynio
from benchmarks import data, floor, paired, reads, runner, scenarios
from benchmarks.sides import R3_CUTOFF, Scenario, Side

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
    fifth = expected.head(TINY.rows // data.MID_FRACTION)
    for name in ("orders_mid_pandas.parquet", "orders_mid_polars.parquet"):
        got = pd.read_parquet(tiny / name)
        pd.testing.assert_frame_equal(got, fifth, check_dtype=False, obj=name)
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
    assert {"R1-parts", "R3-parts", "R1-mid", "R1-mid-polars", "V2-pandas", "V3", "F1"} <= ids
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


@pytest.mark.parametrize("read", floor.READS)
def test_every_floor_reader_does_the_scenarios_read(tiny: Path, read: str) -> None:
    table = data.orders(TINY.rows).to_pandas()
    kept = {
        "R1": len(table),
        "R3": int((table["ts"] >= R3_CUTOFF).sum()),
        "R4": int((table["customer_id"] < TINY.rows // 500).sum()),
    }[read]
    assert 0 < kept <= len(table) // 50 or read == "R1"  # R3 and R4 keep about 1 %
    for layout in reads.LAYOUTS:
        if read in layout.reads:
            # the mid-sized files hold the table's first fifth (R1 only)
            rows = kept // data.MID_FRACTION if layout.suffix.startswith("-mid") else kept
            chosen = floor.readers(str(tiny / layout.path), read, TINY.rows)
            for name, fn in chosen.items():
                assert len(fn()) == rows, (layout.path, name)


def test_floor_refuses_readers_that_disagree_on_the_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    two = {"baseline": lambda: [1, 2], "other": lambda: [1]}
    monkeypatch.setattr(floor, "readers", lambda *args: two)
    with pytest.raises(RuntimeError, match=r"baseline gave 2 rows, but \{'other': 1\}"):
        floor.measure("somewhere.parquet", 1, "R3", 100)


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


# --- the paired (warm, interleaved) measure -----------------------------------------------------

_WORK = "w = sum(range(1000))"  # never zero seconds: a ratio always exists


def _logging_scenario(**kw: Any) -> Scenario:
    # each run appends its side's letter to LOG, and checks it starts from setup's namespace
    run = 'assert "df" not in globals() and x == 0\nx += 1\ndf = 1\n' + _WORK + "\n"
    return Scenario(
        "X2",
        "sides that log their runs",
        Side("x = 0", run + 'open(LOG, "a").write("d")', after="PATH_TAKEN = f'x={x}'"),
        Side("x = 0", run + 'open(LOG, "a").write("b")'),
        **({"target": 1.0, "guard": 1e9} | kw),
    )


def test_paired_runs_both_sides_in_one_process_interleaved_after_a_warm_up(
    tmp_path: Path,
) -> None:
    log = tmp_path / "log"
    samples = paired.measure(_logging_scenario(), 3, {"LOG": str(log)}, sys.executable)
    assert log.read_text() == "db" * 4  # one warm-up of each, then dynio, baseline, …
    assert [(s["side"], s["round"]) for s in samples] == [
        (side, r) for r in (-1, 0, 1, 2) for side in ("dynio", "baseline")
    ]
    # every run started from setup's state (x == 0, no df): x=1 after each dynio run
    assert {s["path"] for s in samples if s["side"] == "dynio"} == {"x=1"}
    assert all(s["seconds"] > 0 and s["cpu"] >= 0 for s in samples)


def test_paired_ratio_is_the_median_of_the_rounds_ratios() -> None:
    def sample(side: str, r: int, seconds: float) -> dict[str, Any]:
        cpu = 2 * seconds if side == "dynio" else seconds  # dynio on two threads
        return {"side": side, "round": r, "seconds": seconds, "cpu": cpu, "path": None}

    dynio, base = [1.0, 2.0, 10.0, 4.0, 3.0], [2.0, 1.0, 5.0, 4.0, 30.0]
    samples = [sample("dynio", -1, 99.0), sample("baseline", -1, 0.001)]  # warm-ups: ignored
    for r, (d, b) in enumerate(zip(dynio, base, strict=True)):
        samples += [sample("dynio", r, d), sample("baseline", r, b)]
    figure = paired.summarise(samples)
    assert figure["ratios"] == [0.5, 2.0, 2.0, 1.0, 0.1]
    assert figure["ratio"] == 1.0  # the ratio of the medians would be 3.0 / 4.0
    assert (figure["dynio"], figure["baseline"]) == (3.0, 4.0)
    assert (figure["ratio_q1"], figure["ratio_q3"]) == (0.5, 2.0)
    assert figure["rounds"] == 5
    assert figure["cpu_ratio"] == 2.0
    assert (figure["dynio_cpu"], figure["baseline_cpu"]) == (6.0, 4.0)


def test_outcome_records_both_figures_and_judges_the_paired_one(tmp_path: Path) -> None:
    ctx = {"LOG": str(tmp_path / "log")}
    main = {"main": sys.executable}
    both = runner.run_scenario(_logging_scenario(), 3, ctx, main, confirm=False)
    assert both.status != "error", both.note
    assert both.judged_on == "paired"
    assert both.paired is not None
    assert both.cold is not None
    assert both.ratio == both.paired["ratio"]
    assert both.dynio == both.paired["dynio"]
    assert both.cold["rounds"] == 3
    assert both.paired["rounds"] == 3
    assert both.path == "x=1"
    record = json.loads(json.dumps(asdict(both)))
    assert {"judged_on", "cold", "paired"} <= set(record)
    assert len(record["paired"]["ratios"]) == 3
    text = runner.table([both])
    assert "| paired ratio (IQR) |" in text
    assert "| cold ratio |" in text
    assert f"| {both.paired['ratio']:.2f} ({both.paired['ratio_q1']:.2f}-" in text

    cold = runner.run_scenario(_logging_scenario(), 2, ctx, main, confirm=False, how="cold")
    assert (cold.judged_on, cold.paired, cold.ratio) == ("cold", None, cold.cold["ratio"])
    assert "| paired ratio (IQR) |" not in runner.table([cold])  # the cold-only table
    assert " (cold) |" in runner.table([both, cold])  # the row judged on its cold figure


def test_memory_whole_process_and_process_wide_scenarios_stay_cold() -> None:
    by_id = {s.id: s for s in scenarios.all_scenarios()}
    assert paired.can_pair(by_id["R1"])
    assert paired.can_pair(by_id["V3"])
    assert paired.can_pair(by_id["F1"])
    for sid in ("MEM-R1", "MEM-R3-pandas", "I1", "V1", "W1", "T1", "T2"):
        assert not paired.can_pair(by_id[sid]), sid


def test_paired_past_the_guard_is_measured_again_and_the_guard_needs_every_figure(
    tmp_path: Path,
) -> None:
    tiny_guard = _logging_scenario(target=1e-9, guard=1e-9)  # every ratio is past it
    ctx, main = {"LOG": str(tmp_path / "log")}, {"main": sys.executable}
    out = runner.run_scenario(tiny_guard, 2, ctx, main, how="paired")
    assert out.status == "guard"
    assert out.paired is not None
    assert out.paired["rounds"] == 6
    assert "paired re-measured over 6 rounds" in out.note
    # with --paired, the cold measure confirms a paired ratio past the guard (and is re-measured)
    assert out.cold is not None
    assert out.cold["rounds"] == 6
    assert out.judged_on == "paired"
    # within the guard, --paired measures no cold figure at all
    loose = runner.run_scenario(_logging_scenario(), 2, ctx, main, how="paired")
    assert loose.cold is None
    # past the guard warm but not cold: missed, not a guard failure (and the reverse)
    for cold_ratio, paired_ratio, status in ((0.5, 3.0, "missed"), (3.0, 0.5, "ok"),
                                             (3.0, 3.0, "guard")):  # fmt: skip
        o = runner.Outcome("X", "x", "time", None, None, None, target=1.0, guard=2.0)
        o.cold = {"dynio": cold_ratio, "baseline": 1.0, "ratio": cold_ratio}
        o.paired = {"dynio": paired_ratio, "baseline": 1.0, "ratio": paired_ratio}
        o.judged_on = "paired"
        runner._judge(o)
        assert o.status == status, (cold_ratio, paired_ratio)


def test_a_failing_side_is_an_error_that_names_the_scenario() -> None:
    broken = Scenario("X3", "broken", Side("", "1 / 0"), Side("", "pass"), 1.0, 1e9)
    out = runner.run_scenario(broken, 2, {}, {"main": sys.executable}, how="paired")
    assert out.status == "error"
    assert "X3 (paired" in out.note
    assert "ZeroDivisionError" in out.note
