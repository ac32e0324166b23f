"""The example dynamicio-style pipeline (``tests/compat_pipeline``) end to end on the compat API.

It runs on the ``sample`` environment and its outputs are compared with expected frames computed
here with plain pandas. The very same pipeline code then runs on dynamicio 9.1.0 (in its own
venv, through a subprocess) on the same inputs: outputs and metric lines must agree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from compat_pipeline import inputs
from compat_pipeline.run import run

HERE = Path(__file__).resolve().parent
RUN_PY = HERE / "compat_pipeline" / "run.py"


def _forget_pipeline_modules() -> None:
    # the pipeline builds its IOConfigs at import, from PIPELINE_DATA: import it afresh per run
    for name in [m for m in sys.modules if m.startswith("compat_pipeline.src")]:
        del sys.modules[name]


@pytest.fixture
def run_dynio(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Run the pipeline in this process on dynio: ``run_dynio(data_dir) -> metric lines``."""

    def go(data: Path) -> list[dict[str, object]]:
        monkeypatch.setenv("PIPELINE_DATA", str(data))
        _forget_pipeline_modules()
        metrics = data / "metrics.jsonl"
        run(data, metrics)
        return _lines(metrics)

    yield go
    _forget_pipeline_modules()


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _expected() -> dict[str, pd.DataFrame]:
    foo = pd.read_csv(inputs.HERE / "data" / "input" / "foo.csv").drop(columns=["Unnamed: 0"])
    foo = foo.astype({"column_a": object, "column_b": object})
    staged_foo = foo.astype({"column_c": "int64", "column_d": "int64"})
    bar = inputs.bar()
    events = pd.concat(inputs.events(), ignore_index=True)
    daily = inputs.daily()
    final_foo = staged_foo.assign(column_e=staged_foo["column_c"] - staged_foo["column_d"])
    totals = events.groupby("kind", as_index=False)["value"].sum()
    totals = totals.rename(columns={"kind": "column_b", "value": "events_total"})
    final_bar = bar[bar["column_b"] != "z"].merge(totals, on="column_b", how="left")
    final_bar = final_bar.merge(daily, on="column_a", how="left").reset_index(drop=True)
    return {
        "raw/staged_foo.parquet": staged_foo,
        "raw/staged_bar.parquet": bar,
        "raw/staged_events.h5": events,
        "raw/staged_daily.csv": daily,
        "processed/final_foo.parquet": final_foo,
        "processed/final_bar.parquet": final_bar,
    }


def _read_output(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".h5":
        frame = pd.read_hdf(path, "df")
        assert isinstance(frame, pd.DataFrame)
        return frame
    return pd.read_csv(path)


def _comparable(frame: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame:
    # text comes back from files as pandas' str dtype whichever library wrote it
    out = frame[list(expected.columns)]
    text = [c for c in expected.columns if expected[c].dtype == object]
    return out.astype(dict.fromkeys(text, object))


def test_pipeline_runs_on_the_sample_environment(tmp_path: Path, run_dynio: object) -> None:
    data = inputs.write_inputs(tmp_path)
    lines = run_dynio(data)  # type: ignore[operator]

    for name, expected in _expected().items():
        got = _comparable(_read_output(data / name), expected)
        pd.testing.assert_frame_equal(got, expected, check_dtype=True, obj=name)

    by_key = {(m["dataset"], m["column"], m["metric"]): m["value"] for m in lines}
    assert all(m["message"] == "METRIC" for m in lines)
    assert by_key[("FOO", "column_a", "Counts")] == 10.0
    assert by_key[("FOO", "column_b-Label_A", "CountsPerLabel")] == 5.0
    assert by_key[("FOO", "column_d", "Std")] == pytest.approx(3.0276503540974917)
    assert by_key[("BAR", "column_c", "Mean")] == pytest.approx(
        pd.Series(inputs.bar().column_c).mean()
    )
    assert by_key[("STAGED_FOO", "column_d", "Min")] == 990.0
    assert by_key[("FINAL_FOO", "column_e", "Mean")] == 11.0
    assert by_key[("FINAL_BAR", "events_total", "Max")] == 9.5
    # every value is a float, as dynamicio logged them
    assert all(isinstance(m["value"], float) for m in lines)
    # the read in the staging step ran validations on DAILY but logged no metrics for it
    assert not any(m["dataset"] == "DAILY" for m in lines)


def test_the_same_pipeline_on_dynamicio_gives_the_same_outputs(
    tmp_path: Path, run_dynio: object, dynamicio_python: str
) -> None:
    ours = inputs.write_inputs(tmp_path / "dynio")
    theirs = inputs.write_inputs(tmp_path / "dynamicio")
    our_lines = run_dynio(ours)  # type: ignore[operator]
    done = subprocess.run(
        [dynamicio_python, "-W", "ignore", str(RUN_PY), "--dynamicio", str(theirs),
         str(theirs / "metrics.jsonl")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(HERE), "PIPELINE_DATA": str(theirs)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    their_lines = _lines(theirs / "metrics.jsonl")

    for name, expected in _expected().items():
        got = _read_output(ours / name)[list(expected.columns)]
        ref = _read_output(theirs / name)[list(expected.columns)]
        # dynamicio writes CSV with the index as an extra unnamed column; dynio does not
        pd.testing.assert_frame_equal(got, ref, check_dtype=True, obj=name)

    # the two concurrent writes of the transform step may interleave their lines
    key = lambda m: json.dumps(m, sort_keys=True)  # noqa: E731
    assert sorted(map(key, our_lines)) == sorted(map(key, their_lines))
