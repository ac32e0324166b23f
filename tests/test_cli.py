"""The command line: version, fast help, exit codes, lazy previews, formats, catalog commands,
completion and the hints that fit where the user is."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from conftest import write_text

from dynio import cli

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "configs" / "demo" / "resources.yaml"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dynio", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


@pytest.fixture
def ints(tmp_path: Path) -> Path:
    """A CSV of 50 ints whose 41st value is text: only a read past row 40 meets it."""
    values = [str(i) for i in range(50)]
    values[40] = "forty"
    (tmp_path / "n.csv").write_text("n\n" + "\n".join(values) + "\n", encoding="utf-8")
    return write_text(
        tmp_path / "r.yaml",
        """
        n:
          local:
            type: local
            local: {file_path: n.csv}
            schema:
              columns:
                n:
                  type: int64
                  validations: {is_greater_than: {options: {threshold: 5}, severity: warn}}
        """,
    )


def test_version() -> None:
    from importlib.metadata import version

    out = _run("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"dynio {version('dynio')}"


def test_help_imports_neither_polars_nor_pandas() -> None:
    code = (
        "import sys\n"
        "from dynio import cli\n"
        "try:\n"
        "    cli.main(['read', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('polars', 'pandas', 'pyarrow') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip().endswith("[]"), out.stdout


def test_env_is_not_required_in_help_when_dynio_env_is_set() -> None:
    import os

    with_env = _run("read", "--help", env={**os.environ, "DYNIO_ENV": "sample"})
    usage = with_env.stdout.split("\n\n")[0]
    assert "[--env ENV]" in " ".join(usage.split()), usage
    assert "'sample'" in with_env.stdout
    without = _run("read", "--help", env={k: v for k, v in os.environ.items() if k != "DYNIO_ENV"})
    assert "[--env ENV]" not in " ".join(without.stdout.split("\n\n")[0].split())


def test_limit_reads_only_the_rows_it_shows(ints: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the value that does not cast lies past the rows shown: a lazy head never reads it
    assert cli.main(["read", "n", "-c", str(ints), "-e", "local", "--limit", "5"]) == 0
    out = capsys.readouterr()
    assert "first 5 rows x 1 columns" in out.out
    # the whole resource meets it: the data failed its checks (exit 1)
    assert cli.main(["read", "n", "-c", str(ints), "-e", "local", "--limit", "0"]) == 1
    assert "'forty'" in capsys.readouterr().err


def test_negative_limit_is_a_usage_error(ints: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["read", "n", "-c", str(ints), "-e", "local", "--limit", "-3"])
    assert info.value.code == 2
    assert "must be 0 or more" in capsys.readouterr().err


def test_filter_and_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["read", "trips", "-c", str(DEMO), "-e", "sample", "--columns", "trip_id,fare,payment"]
    filters = ["--filter", "fare > 40", "--filter", "payment in card,cash"]
    assert cli.main([*base, *filters, "--format", "json", "--limit", "0"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows
    assert all(r["fare"] > 40 and r["payment"] in ("card", "cash") for r in rows)
    out = tmp_path / "o.parquet"
    assert cli.main([*base, *filters, "--format", "parquet", "-o", str(out), "--limit", "0"]) == 0
    assert pl.read_parquet(out).height == len(rows)
    assert cli.main([*base, "--format", "csv", "--limit", "4"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "trip_id,fare,payment"
    assert cli.main([*base, "--filter", "fare >"]) == 2


def test_warn_failure_is_printed_once(ints: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["read", "n", "-c", str(ints), "-e", "local", "--limit", "10"]) == 0
    err = capsys.readouterr().err
    assert err.count("is_greater_than") == 1, err


def test_catalog_list_and_describe(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["catalog", "list", "-c", str(DEMO)]) == 0
    listing = capsys.readouterr().out
    assert "trips" in listing
    assert "sample: local csv" in listing
    assert cli.main(["catalog", "describe", "zones", "-c", str(DEMO)]) == 0
    text = capsys.readouterr().out
    assert "sample: local parquet" in text
    assert "zone_id: int32" in text
    assert cli.main(["catalog", "describe", "zone", "-c", str(DEMO)]) == 2
    assert "did you mean 'zones'" in capsys.readouterr().err


def test_catalog_check_json_and_allow_unset(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["catalog", "check", "-c", str(DEMO), "--json"]) == 3
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False
    first = doc["problems"][0]
    assert first["file"] == str(DEMO)
    assert isinstance(first["line"], int)
    assert first["kind"] == "MissingVariableError"
    # a production catalog's structure, checked without its secrets
    assert cli.main(["catalog", "check", "-c", str(DEMO), "--allow-unset"]) == 0
    assert "unset variables allowed" in capsys.readouterr().out


def test_exit_codes_tell_failures_apart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_text(
        tmp_path / "r.yaml",
        """
        gone:
          local: {type: local, local: {file_path: gone.parquet}}
        broken:
          local: {type: local, local: {file_path: x.csv, colour: red}}
        daily:
          local: {type: local, local: {file_path: "d_{day}.csv"}}
        """,
    )
    argv = ["-c", str(cfg), "-e", "local"]
    assert cli.main(["read", "gone", *argv]) == cli.EXIT_IO
    assert cli.main(["read", "broken", *argv]) == cli.EXIT_CONFIG
    assert cli.main(["read", "nope", *argv]) == cli.EXIT_USAGE
    assert cli.main(["read", "daily", *argv]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "--arg day=..." in err  # the hint the command line needs
    assert "day=... in Python" in err


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(shell: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["completion", shell]) == 0
    text = capsys.readouterr().out
    for word in ("read", "catalog", "json-schema", "--limit"):
        assert word.lstrip("-") in text
    if shell == "bash" and shutil.which("bash"):
        check = subprocess.run(["bash", "-n"], input=text, text=True, timeout=60, check=False)
        assert check.returncode == 0
    if shell == "bash" and shutil.which("bash"):
        probe = text + 'COMP_WORDS=(dynio catalog ""); COMP_CWORD=2; _dynio_complete\n'
        probe += 'echo "${COMPREPLY[@]}"\n'
        out = subprocess.run(["bash"], input=probe, capture_output=True, text=True, timeout=60)
        assert set(out.stdout.split()) >= {"check", "list", "describe", "json-schema"}


def test_schema_infer_hints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "data.txt").write_text("a,b\n1,x\n2,y\n", encoding="utf-8")
    assert cli.main(["schema", "infer", str(tmp_path / "data.txt"), "--format", "csv"]) == 0
    assert "a:" in capsys.readouterr().out
    assert cli.main(["schema", "infer", str(tmp_path / "missing.csv")]) == cli.EXIT_IO
    assert "does not exist" in capsys.readouterr().err
    pl.DataFrame({"a": [1]}).write_parquet(tmp_path / "p.csv")
    assert cli.main(["schema", "infer", str(tmp_path / "p.csv")]) == 1
    assert "looks like parquet" in capsys.readouterr().err


def test_parquet_declared_as_csv_says_it_looks_like_parquet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pl.DataFrame({"a": [1, 2]}).write_parquet(tmp_path / "t.csv")
    cfg = write_text(tmp_path / "r.yaml", "t:\n  local: {type: local, local: {file_path: t.csv}}\n")
    assert cli.main(["read", "t", "-c", str(cfg), "-e", "local"]) == cli.EXIT_IO
    err = capsys.readouterr().err
    assert "looks like parquet" in err
    assert "file_type: parquet" in err


def test_schema_infer_shows_progress_over_one_large_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.csv"
    pl.DataFrame({"a": range(300_000), "b": ["x", "y", "z"] * 100_000}).write_csv(path)
    monkeypatch.setenv("DYNIO_PROGRESS", "1")  # as on a terminal
    assert cli.main(["schema", "infer", str(path), "--suggest"]) == 0
    captured = capsys.readouterr()
    assert "has_unique_values" in captured.out  # the schema is inferred over every row
    assert "reading big.csv" in captured.err
    assert "300000/" in captured.err  # rows read out of the estimate
    monkeypatch.setenv("DYNIO_PROGRESS", "0")
    assert cli.main(["schema", "infer", str(path)]) == 0
    assert capsys.readouterr().err == ""
