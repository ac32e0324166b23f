"""Writes into an existing PostgreSQL table refuse values its column types would change.

Against the real server of tests/fixtures/postgres.py: a timestamp with a time of day appended
to a ``date`` column, a fraction to an ``integer`` one, a zoned timestamp to a ``timestamp``
one, an overflowing float to a ``real`` one, in every mode that keeps the table. Each is a
``CastError`` naming resource, column and values, and the table keeps its rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import polars as pl
import psycopg
import pytest
import yaml
from fixtures.postgres import PostgresServer

import dynio
from dynio.engine.casts_sql import sql_dtype
from dynio.engine.errors import CastError

CatalogFrom = Callable[..., dynio.Catalog]


@pytest.fixture
def pg(postgres: PostgresServer) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(postgres.uri, autocommit=True) as con:
        yield con


def _catalog(
    catalog_from: CatalogFrom, postgres: PostgresServer, mode: str, column: dict[str, Any]
) -> dynio.Catalog:
    options: dict[str, Any] = {"table": "cast_t", "write_mode": mode}
    if mode == "upsert":
        options["key"] = ["id"]
    doc = {"r": {"pg": {"type": "postgres", "postgres": {"uri": "[[ PG_URI ]]"},
                        "options": options},
                 "schema": {"columns": {"id": "int64", "x": column}}}}  # fmt: skip
    return catalog_from(yaml.safe_dump(doc), env="pg", vars={"PG_URI": postgres.uri})


def _table(pg: psycopg.Connection[Any], sql_type: str) -> None:
    pg.execute(
        f"DROP TABLE IF EXISTS cast_t; CREATE TABLE cast_t (id bigint PRIMARY KEY, x {sql_type})"
    )
    pg.execute("INSERT INTO cast_t (id) VALUES (0)")


CASES = [
    ("date", "datetime64[ns]", [dt.datetime(2024, 1, 2), dt.datetime(2024, 1, 2, 10, 30)]),
    ("date", "datetime64[us, UTC]",
     [dt.datetime(2024, 1, 2, tzinfo=dt.UTC), dt.datetime(2024, 1, 3, 0, 0, 1, tzinfo=dt.UTC)]),
    ("integer", "float64", [2.0, 1.7]),
    ("smallint", "int64", [1, 40_000]),
    ("real", "float64", [1.0, 1e300]),
    ("timestamp", "datetime64[us, Europe/London]", [None, dt.datetime(2024, 7, 2, tzinfo=dt.UTC)]),
    ("date", "str", ["2024-01-02", "2024-01-02 10:30"]),
    ("boolean", "int64", [1, 2]),
]  # fmt: skip


@pytest.mark.parametrize("mode", ["append", "truncate_and_append", "upsert"])
@pytest.mark.parametrize(("sql_type", "schema_type", "values"), CASES)
def test_value_the_table_type_would_change_is_refused(
    pg: psycopg.Connection[Any],
    catalog_from: CatalogFrom,
    postgres: PostgresServer,
    mode: str,
    sql_type: str,
    schema_type: str,
    values: list[Any],
) -> None:
    _table(pg, sql_type)
    cat = _catalog(catalog_from, postgres, mode, {"type": schema_type})
    frame = pl.DataFrame({"id": [1, 2], "x": values})
    if "UTC" in schema_type or "London" in schema_type:
        frame = frame.with_columns(
            pl.col("x").dt.convert_time_zone(schema_type.split(", ")[1][:-1])
        )
    with pytest.raises(CastError) as info:
        cat.write("r", frame)
    assert info.value.resource == "r"
    assert info.value.column == "x"
    assert len(info.value.values) == 1
    assert "cast_t" in str(info.value.file)
    assert pg.execute("SELECT id FROM cast_t").fetchall() == [(0,)]


@pytest.mark.parametrize("mode", ["append", "upsert"])
def test_values_that_fit_the_table_type_are_written(
    pg: psycopg.Connection[Any], catalog_from: CatalogFrom, postgres: PostgresServer, mode: str
) -> None:
    _table(pg, "date")
    cat = _catalog(catalog_from, postgres, mode, {"type": "datetime64[ns]"})
    cat.write("r", pl.DataFrame({"id": [1], "x": [dt.datetime(2024, 1, 2)]}))
    assert pg.execute("SELECT x FROM cast_t WHERE id = 1").fetchall() == [(dt.date(2024, 1, 2),)]


def test_the_table_type_declared_lossy_in_the_schema_writes_nulls(
    pg: psycopg.Connection[Any], catalog_from: CatalogFrom, postgres: PostgresServer
) -> None:
    _table(pg, "date")
    cat = _catalog(catalog_from, postgres, "append", {"type": "date", "cast": "lossy"})
    frame = pl.DataFrame({"id": [1, 2], "x": [dt.datetime(2024, 1, 2), dt.datetime(2024, 1, 2, 9)]})
    cat.write("r", frame)
    got = pg.execute("SELECT id, x FROM cast_t ORDER BY id").fetchall()
    assert got == [(0, None), (1, dt.date(2024, 1, 2)), (2, None)]


def test_replace_takes_the_frame_types(
    pg: psycopg.Connection[Any], catalog_from: CatalogFrom, postgres: PostgresServer
) -> None:
    _table(pg, "date")
    cat = _catalog(catalog_from, postgres, "replace", {"type": "datetime64[us]"})
    cat.write("r", pl.DataFrame({"id": [1], "x": [dt.datetime(2024, 1, 2, 9)]}))
    assert pg.execute("SELECT x FROM cast_t").fetchall() == [(dt.datetime(2024, 1, 2, 9),)]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("date", pl.Date()),
        ("timestamp(3) without time zone", pl.Datetime("us")),
        ("INTEGER", pl.Int32()),
        ("text", None),
        ("numeric(10,2)", None),
    ],
)
def test_sql_type_names(name: str, expected: pl.DataType | None) -> None:
    assert sql_dtype(name) == expected
