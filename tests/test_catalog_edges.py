"""Edge cases of the catalog facade: projection against frame rules, caller data left alone,
reports of failed reads, templates named like parameters, schema spellings checked at load."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from conftest import write_text

import dynio
from dynio import cli
from dynio.errors import CastError, ConfigError, ValidationError

CatalogFrom = Callable[..., dynio.Catalog]


def test_projected_read_skips_frame_rules_on_columns_it_did_not_read(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    pd.DataFrame({"a": [1, 1], "b": ["x", "y"]}).to_parquet(tmp_path / "t.parquet")
    cat = catalog_from(
        """
        t:
          local:
            type: local
            local: {file_path: t.parquet}
          schema:
            columns: {a: {type: int64}, b: {type: str}}
            validations:
              unique_together: {apply: true, options: {columns: [a, b]}}
        """
    )
    assert cat.read("t", columns=["a"])["a"].tolist() == [1, 1]
    assert cat.last_report is not None
    assert cat.last_report.checked == 0  # the rule needs b, which this read left out
    assert cat.read("t").shape == (2, 2)  # with both columns the rule runs (and holds)
    assert cat.last_report.checked == 1


def test_writing_a_frame_leaves_the_callers_column_labels_alone(
    catalog_from: CatalogFrom,
) -> None:
    cat = catalog_from(
        """
        t:
          local:
            type: local
            local: {file_path: out.parquet}
        """
    )
    frame = pd.DataFrame({0: [1], 1: [2]})
    cat.write("t", frame)
    assert list(frame.columns) == [0, 1]
    assert list(cat.read("t").columns) == ["0", "1"]


def test_a_failed_read_leaves_its_report_as_the_last(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    pd.DataFrame({"a": [1, 1]}).to_parquet(tmp_path / "t.parquet")
    pd.DataFrame({"a": [1, 2]}).to_parquet(tmp_path / "u.parquet")
    schema = "schema: {columns: {a: {type: int64, validations: {has_unique_values: {}}}}}"
    cat = catalog_from(
        f"""
        t:
          local: {{type: local, local: {{file_path: t.parquet}}}}
          {schema}
        u:
          local: {{type: local, local: {{file_path: u.parquet}}}}
          {schema}
        """
    )
    cat.read("u")
    assert cat.last_report is not None
    assert cat.last_report.ok
    with pytest.raises(ValidationError):
        cat.read("t")
    assert cat.last_report.resource == "t"
    assert not cat.last_report.ok
    assert cat.last_metrics == []


def test_a_template_may_be_called_name(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    pd.DataFrame({"a": [7]}).to_parquet(tmp_path / "day_x.parquet")
    cat = catalog_from(
        """
        t:
          local:
            type: local
            local: {file_path: "day_{name}.parquet"}
        """
    )
    assert cat.read("t", name="x")["a"].tolist() == [7]


def test_bad_regex_and_nullable_are_checked_when_the_catalog_loads(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="not a valid regex") as info:
        catalog_from(
            """
            t:
              local: {type: local, local: {file_path: t.parquet}}
              schema:
                columns:
                  s: {type: str, validations: {matches_regex: {options: {pattern: "a(b"}}}}
            """
        )
    assert info.value.key_path is not None
    assert "matches_regex" in info.value.key_path
    with pytest.raises(ConfigError, match="nullable must be true or false"):
        catalog_from(
            """
            t:
              local: {type: local, local: {file_path: t.parquet}}
              schema: {columns: {s: {type: str, nullable: maybe}}}
            """
        )
    pd.DataFrame({"s": ["a", None]}).to_parquet(tmp_path / "t.parquet")
    cat = catalog_from(
        """
        t:
          local: {type: local, local: {file_path: t.parquet}}
          schema: {columns: {s: {type: str, nullable: false}}}
        """
    )
    with pytest.raises(ValidationError) as failed:
        cat.read("t")
    assert [(f.rule, f.column) for f in failed.value.report.failures] == [
        ("has_no_null_values", "s")
    ]


def test_cli_reports_an_unexpected_error_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DYNIO_DEBUG", raising=False)
    cfg = write_text(tmp_path / "r.yaml", "t:\n  local: {type: local, local: {file_path: t.csv}}\n")
    write_text(tmp_path / "t.csv", "a\n1\n")

    def boom(*args: object, **kwargs: object) -> object:
        raise RuntimeError("something dynio did not expect")

    monkeypatch.setattr(dynio.Catalog, "head", boom)
    code = cli.main(["read", "t", "--config", str(cfg), "--env", "local"])
    err = capsys.readouterr().err
    assert code == 70  # internal: an error dynio did not translate
    assert err.startswith("dynio: unexpected error (RuntimeError): something dynio did not expect")
    assert "Traceback" not in err


def test_resource_hooks_run_a_writes_stages_one_by_one(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    # the semipublic hooks dynio.compat.dynamicio uses to cast, check and write in its own order
    cat = catalog_from(
        """
        t:
          local:
            type: local
            local: {file_path: "out_{day}.parquet"}
          schema:
            columns:
              a: {type: float64, metrics: [Max]}
              b:
                type: str
                validations:
                  is_in: {apply: true, options: {categorical_values: [x]}}
        """
    )
    res = cat.resource("t")
    assert res.template_fields() == {"day"}
    accepted = res.accepted_options()
    assert accepted is not None
    assert "compression" in accepted
    assert "option_3" not in accepted
    res.require_source()
    frame = res.conform(pl.DataFrame({"b": ["x", "y"], "a": [1, 2], "extra": [0, 0]}))
    assert frame.schema == pl.Schema({"a": pl.Float64, "b": pl.String})
    with pytest.raises(CastError, match="a"):
        res.conform(pl.DataFrame({"a": ["one"], "b": ["x"]}))
    report, values = res.evaluate(frame)
    assert not report.ok  # is_in failed on "y": reported, not raised
    assert [(v.column, v.metric, v.value) for v in values] == [("a", "Max", 2.0)]
    res.write(frame.filter(pl.col("b") == "x"), day="1")
    assert cat.read("t", day="1")["a"].tolist() == [1.0]
    # a read records the source's own columns and dtypes, in the file's order
    pd.DataFrame({"b": ["x"], "a": [3]}).to_parquet(tmp_path / "out_2.parquet")
    info = res.read_result(day="2").info
    assert info.source_schema == {"b": pl.String, "a": pl.Int64}
    assert list(info.source_schema) == ["b", "a"]
