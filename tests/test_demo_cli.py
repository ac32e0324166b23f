"""The demo pipeline and the `dynio` command line, end to end."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import write_text

from dynio import cli, demo

ROOT = Path(__file__).resolve().parent.parent


def test_demo_runs_and_writes_outputs(tmp_path: Path) -> None:
    lines: list[str] = []
    counts = demo.run(config=ROOT / "configs" / "demo", out=tmp_path, echo=lines.append)
    assert counts["trips"] == 600
    assert counts["zones"] == 20
    assert counts["trips_clean"] == 593  # 7 refunds dropped
    assert counts["zone_summary"] == 20
    summary = pd.read_csv(tmp_path / "zone_summary.csv")
    assert list(summary.columns) == ["zone_name", "borough", "trips", "revenue", "avg_fare_per_km"]
    assert summary["trips"].sum() == 593
    parts = sorted(p.name for p in (tmp_path / "trips_clean").iterdir())
    assert parts == ["pickup_day=2024-03-01", "pickup_day=2024-03-02", "pickup_day=2024-03-03",
                     "pickup_day=2024-03-04"]  # fmt: skip
    assert any(line.startswith("write zone_summary") for line in lines)


def test_cli_demo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["demo", "--out", str(tmp_path), "--config", str(ROOT / "configs" / "demo")])
    assert code == 0
    assert "top zones by revenue" in capsys.readouterr().out


def test_cli_read_preview(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(
        ["read", "trips", "--config", str(ROOT / "configs/demo/resources.yaml"), "--env",
         "sample", "--columns", "trip_id,fare", "--limit", "3", "--var", f"DEMO_OUTPUT={tmp_path}"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "trip_id" in out
    assert "fare" in out
    assert "payment" not in out
    assert "first 3 rows x 2 columns from local csv" in out


def test_cli_read_reports_errors_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_text(
        tmp_path / "r.yaml",
        """
        t:
          local:
            type: local
            local: {file_path: missing.parquet}
        """,
    )
    code = cli.main(["read", "t", "--config", str(cfg), "--env", "local"])
    err = capsys.readouterr().err
    assert code == 4  # I/O
    assert err.startswith("dynio: error: ")
    assert "missing.parquet" in err
    assert "'t'" in err
    assert "Traceback" not in err


def test_cli_read_with_template_args(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pd.DataFrame({"a": [1, 2, 3]}).to_parquet(tmp_path / "d_2024.parquet")
    cfg = write_text(
        tmp_path / "r.yaml",
        """
        t:
          local:
            type: local
            local: {file_path: "d_{year}.parquet"}
        """,
    )
    assert cli.main(["read", "t", "-c", str(cfg), "-e", "local", "--arg", "year=2024"]) == 0
    assert "3 rows x 1 columns" in capsys.readouterr().out
