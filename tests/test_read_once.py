"""One read does each piece of its planning once: the environment is resolved once, the source
kind looked up once, the filter parsed once and the ``dynio.read`` operation opened once (also
when the facade opened it first, for its hand-off to pandas). A path template is filled once by
the source; a DuckDB database path once in all (the planner's symlink check fills it and hands
it on in ``ScanRequest.filled``).

Each is counted by wrapping the function where its callers look it up (the module attribute),
so a second lookup added anywhere on the read path fails here.
"""

from __future__ import annotations

import contextlib
import functools
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import dynio
from dynio import catalog as facade_catalog
from dynio import resource as facade_resource
from dynio.engine import execute, filters, placeholders, plan, telemetry
from dynio.engine import sources as registry
from dynio.engine.spec import ResourceSpec

CatalogFrom = Callable[..., dynio.Catalog]

_YAML = """\
trips:
  local:
    type: local
    local: {file_path: "data/trips_{day}.parquet", file_type: parquet}
  duck:
    type: duckdb
    duckdb: {database: "wh/{day}.duckdb", table: trips}
  schema:
    name: trips
    columns:
      id: {type: int64}
      fare: {type: float64}
"""


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch, otel: Any) -> Counter[str]:
    """Counts of the calls each read makes, by what they do (spans recorded, as they are
    when telemetry is on: redaction and span attributes count too)."""
    calls: Counter[str] = Counter()

    def counting(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(ResourceSpec, "env", counting("env", ResourceSpec.env))
    kind_for = counting("kind", registry.kind_for)
    for module in (execute, plan, registry, facade_resource):
        monkeypatch.setattr(module, "kind_for", kind_for)
    parse = filters.Filter.parse.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(filters.Filter, "parse", classmethod(counting("filter", parse)))
    monkeypatch.setattr(filters, "to_expr", counting("to_expr", filters.to_expr))
    for module_name in ("local", "duckdb"):
        module = __import__(f"dynio.engine.sources.{module_name}", fromlist=["fill_template"])
        monkeypatch.setattr(module, "fill_template", counting("fill", placeholders.fill_template))
    monkeypatch.setattr(plan, "fill_template", counting("check_fill", placeholders.fill_template))

    def opening(fn: Callable[..., Any]) -> Callable[..., Any]:
        @contextlib.contextmanager
        def wrapper(name: str, **kwargs: Any) -> Iterator[Any]:
            calls[f"open {name}"] += 1
            with fn(name, **kwargs) as sp:
                yield sp

        return wrapper

    for module in (execute, facade_catalog, facade_resource):
        monkeypatch.setattr(module, "operation", opening(telemetry.operation))
    return calls


def _catalog(catalog_from: CatalogFrom, tmp_path: Path, env: str) -> dynio.Catalog:
    cat = catalog_from(_YAML, env=env)
    cat.write("trips", pl.DataFrame({"id": [1, 2, 3], "fare": [1.0, 2.5, 9.0]}), day="d1")
    return cat


@pytest.mark.parametrize("how", ["read_result", "read_polars", "read"])
def test_a_local_read_resolves_each_part_once(
    catalog_from: CatalogFrom, tmp_path: Path, counted: Counter[str], how: str
) -> None:
    cat = _catalog(catalog_from, tmp_path, "local")
    counted.clear()
    got = getattr(cat, how)("trips", filters=[("fare", ">", 2)], day="d1")
    assert len(got.frame if how == "read_result" else got) == 2
    # at most once: the catalog keeps its Resource (which resolved it) from the write above
    assert counted["env"] <= 1
    assert counted["kind"] <= 1  # the catalog's Resource may have looked it up already
    assert counted["filter"] == 1
    assert counted["to_expr"] == 1  # the filter's one parse; nothing parses it again
    # the path is filled once, by the planner's check; the source takes it from there
    assert counted["check_fill"] == 1
    assert counted["fill"] == 0
    assert counted["open dynio.read"] == 1


def test_a_database_read_resolves_each_part_once(
    catalog_from: CatalogFrom, tmp_path: Path, counted: Counter[str]
) -> None:
    cat = _catalog(catalog_from, tmp_path, "duck")
    counted.clear()
    res = cat.read_result("trips", filters=[("fare", ">", 2)], day="d1")
    assert res.frame["id"].to_list() == [2, 3]
    assert res.pushdown.pushed is not None
    assert res.pushdown.residual is None
    # at most once: the catalog keeps its Resource (which resolved it) from the write above
    assert counted["env"] <= 1
    assert counted["kind"] <= 1  # the catalog's Resource may have looked it up already
    assert counted["filter"] == 1
    assert counted["to_expr"] == 1
    # the database path is filled once, by the planner's check; the source takes it from there
    assert counted["check_fill"] == 1
    assert counted["fill"] == 0
    assert counted["open dynio.read"] == 1


def test_a_filter_given_as_an_expression_is_taken_as_it_is(
    catalog_from: CatalogFrom, tmp_path: Path, counted: Counter[str]
) -> None:
    cat = _catalog(catalog_from, tmp_path, "local")
    counted.clear()
    res = cat.read_result("trips", filters=pl.col("id") >= 2, day="d1")
    assert res.frame["id"].to_list() == [2, 3]
    assert counted["filter"] == 1
    # at most once: the catalog keeps its Resource (which resolved it) from the write above
    assert counted["env"] <= 1
    assert counted["kind"] <= 1  # the catalog's Resource may have looked it up already
