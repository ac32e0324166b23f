"""Plans of plain reads are remembered per resource (:mod:`dynio.engine.plan_cache`), and
never serve a read they do not fit: a file replaced or rewritten, other columns, other
template values, a filter, a pattern that matches other files since."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fixtures.otel import OtelCapture

import dynio
from dynio.engine import execute, read_path
from dynio.engine.plan_cache import PlanCache

CatalogFrom = Callable[..., dynio.Catalog]


@pytest.fixture
def plans_made(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The resources the engine planned a read of, in order (a remembered plan plans none)."""
    made: list[str] = []
    real = execute.plan_read

    def counting(resource: Any, *args: Any, **kwargs: Any) -> Any:
        made.append(resource.name)
        return real(resource, *args, **kwargs)

    monkeypatch.setattr(execute, "plan_read", counting)
    return made


def _write(path: Path, frame: pd.DataFrame) -> None:
    """Replace the file as writers do: a new file renamed over the old one."""
    frame.to_parquet(str(path) + ".new")
    os.replace(str(path) + ".new", path)


def _catalog(catalog_from: CatalogFrom, file_path: str) -> dynio.Catalog:
    return catalog_from(
        f"""orders:
  local:
    type: local
    local: {{file_path: "{file_path}", file_type: parquet}}
"""
    )


def test_a_repeated_read_plans_once_and_a_replaced_file_is_planned_again(
    catalog_from: CatalogFrom, tmp_path: Path, plans_made: list[str]
) -> None:
    path = tmp_path / "o.parquet"
    _write(path, pd.DataFrame({"id": [1, 2], "s": ["a", "b"]}))
    cat = _catalog(catalog_from, str(path))
    first = cat.read("orders")
    assert cat.last_info is not None
    assert cat.last_info.read_path == "arrow"
    pd.testing.assert_frame_equal(cat.read("orders"), first)
    assert plans_made == ["orders"]
    assert cat.last_info.read_path == "arrow"
    # a new version renamed over it, same columns: read anew (and planned again)
    _write(path, pd.DataFrame({"id": [3, 4, 5], "s": ["c", "d", None]}))
    assert cat.read("orders")["id"].tolist() == [3, 4, 5]
    assert plans_made == ["orders"] * 2
    # other columns and types: the plan made for the old ones is not used
    _write(path, pd.DataFrame({"id": [1.5], "t": ["x"], "u": [True]}))
    got = cat.read("orders")
    assert list(got.columns) == ["id", "t", "u"]
    assert got["id"].tolist() == [1.5]
    assert plans_made == ["orders"] * 3


def test_a_file_rewritten_in_place_is_planned_again(
    catalog_from: CatalogFrom, tmp_path: Path, plans_made: list[str]
) -> None:
    path = tmp_path / "o.parquet"
    pd.DataFrame({"id": [1, 2]}).to_parquet(path)
    cat = _catalog(catalog_from, str(path))
    cat.read("orders")
    with open(path, "wb") as out:  # the same inode, new contents
        pd.DataFrame({"id": [7, 8, 9], "v": [0.5, 1.5, 2.5]}).to_parquet(out)
    got = cat.read("orders")
    assert got["id"].tolist() == [7, 8, 9]
    assert list(got.columns) == ["id", "v"]
    assert len(plans_made) == 2


def test_template_values_columns_and_filters_are_read_as_asked(
    catalog_from: CatalogFrom, tmp_path: Path, plans_made: list[str]
) -> None:
    for day, ids in (("a", [1, 2]), ("b", [3, 4])):
        pd.DataFrame({"id": ids, "v": [f"{day}1", f"{day}2"]}).to_parquet(tmp_path / f"{day}.pq")
    cat = _catalog(catalog_from, str(tmp_path / "{day}.pq"))
    assert cat.read("orders", day="a")["id"].tolist() == [1, 2]
    assert cat.read("orders", day="b")["id"].tolist() == [3, 4]
    assert cat.read("orders", day="a")["id"].tolist() == [1, 2]
    assert cat.read("orders", day="b")["id"].tolist() == [3, 4]
    assert len(plans_made) == 2  # one plan per day, each used again
    assert list(cat.read("orders", columns=["v"], day="a").columns) == ["v"]
    assert list(cat.read("orders", day="a").columns) == ["id", "v"]
    assert len(plans_made) == 3  # the column list is part of what a plan is kept for
    # a filter is planned each time (the engine applies it: the polars path)
    assert cat.read("orders", filters=[("id", ">", 1)], day="a")["id"].tolist() == [2]
    assert cat.read("orders", filters=[("id", ">", 3)], day="b")["id"].tolist() == [4]
    assert len(plans_made) == 5


def test_a_pattern_is_matched_again_on_each_read(
    catalog_from: CatalogFrom, tmp_path: Path, plans_made: list[str]
) -> None:
    pd.DataFrame({"id": [1]}).to_parquet(tmp_path / "p-1.parquet")
    cat = _catalog(catalog_from, str(tmp_path / "p-*.parquet"))
    assert cat.read("orders")["id"].tolist() == [1]
    pd.DataFrame({"id": [2]}).to_parquet(tmp_path / "p-2.parquet")
    assert sorted(cat.read("orders")["id"].tolist()) == [1, 2]
    assert len(plans_made) == 2


def test_the_read_path_is_chosen_again_for_a_remembered_plan(
    catalog_from: CatalogFrom, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "o.parquet"
    pd.DataFrame({"id": range(10)}).to_parquet(path)
    cat = _catalog(catalog_from, str(path))
    cat.read("orders")
    assert cat.last_info is not None
    assert cat.last_info.read_path == "arrow"
    # no longer a tiny file, and its row groups not tall: Polars' scan reads it
    monkeypatch.setattr(read_path, "TINY_FILE_BYTES", 0)
    monkeypatch.setattr(read_path, "SMALL_FILE_BYTES", 0)
    monkeypatch.setattr(read_path, "ARROW_MIN_GROUP_ROWS", 10**9)
    assert cat.read("orders")["id"].tolist() == list(range(10))
    assert cat.last_info.read_path == "polars"


def test_a_remembered_plan_reads_with_the_same_spans(
    catalog_from: CatalogFrom, tmp_path: Path, otel: OtelCapture, plans_made: list[str]
) -> None:
    path = tmp_path / "o.parquet"
    pd.DataFrame({"id": [1, 2, 3]}).to_parquet(path)
    cat = _catalog(catalog_from, str(path))
    spans = []
    for _ in range(2):
        otel.clear()
        cat.read("orders")
        top = dict(otel.span("dynio.read").attributes or {})
        scan = dict(otel.span("dynio.scan").attributes or {})
        spans.append((top["dynio.read.path"], top["dynio.rows"], scan["dynio.rows"]))
        otel.span("dynio.plan")
    assert spans == [("arrow", 3, 3)] * 2
    assert len(plans_made) == 1


def test_the_key_tells_argument_types_apart() -> None:
    assert PlanCache.key(None, None, {"d": 1}) != PlanCache.key(None, None, {"d": True})
    assert PlanCache.key(None, None, {"d": 1}) == PlanCache.key(None, None, {"d": 1})
    assert PlanCache.key(["a"], None, {}) != PlanCache.key(None, None, {})
    assert PlanCache.key(None, [("a", ">", 1)], {}) is None
    assert PlanCache.key(None, None, {"d": ["unhashable"]}) is None


def test_drop_in_reads_plan_once_per_file_and_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dynio.pandas as dp
    from dynio.engine import api
    from dynio.pandas import _parquet

    monkeypatch.setattr(_parquet, "_PLANS", api.PlanCache())
    made: list[str] = []
    real = api.plan_read

    def counting(resource: Any, *args: Any, **kwargs: Any) -> Any:
        made.append(resource.name)
        return real(resource, *args, **kwargs)

    monkeypatch.setattr(api, "plan_read", counting)
    one, two = tmp_path / "one.parquet", tmp_path / "two.parquet"
    _write(one, pd.DataFrame({"id": [1, 2], "s": ["a", "b"]}))
    _write(two, pd.DataFrame({"id": [3], "s": ["c"]}))
    for _ in range(2):
        pd.testing.assert_frame_equal(dp.read_parquet(one), pd.read_parquet(one))
        pd.testing.assert_frame_equal(dp.read_parquet(two), pd.read_parquet(two))
        got = dp.read_parquet(one, columns=["s"])
        pd.testing.assert_frame_equal(got, pd.read_parquet(one, columns=["s"]))
    assert sorted(made) == sorted([str(one), str(two), str(one)])
    _write(one, pd.DataFrame({"id": [9.5], "t": [True]}))
    pd.testing.assert_frame_equal(dp.read_parquet(one), pd.read_parquet(one))
    assert len(made) == 4
    # a filter is planned each time
    dp.read_parquet(two, filters=[("id", ">", 0)])
    dp.read_parquet(two, filters=[("id", ">", 0)])
    assert len(made) == 6
