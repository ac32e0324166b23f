"""``dynio.pandas_sql.read_sql`` against ``pandas.read_sql`` through SQLAlchemy + psycopg.

The same queries go to both, on a real PostgreSQL server, and the frames must be equal in
values and dtypes; plus parameters in psycopg's styles, ``index_col``, ``parse_dates``,
``columns``, ``dtype``, ``dtype_backend``, ``chunksize``, DuckDB connection strings and errors.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import psycopg
import pytest
import sqlalchemy as sa
from fixtures.postgres import PostgresServer

from dynio.engine.errors import DynioError, ReadError
from dynio.pandas_sql import read_sql

_TABLE = """
DROP TABLE IF EXISTS sqltypes;
CREATE TABLE sqltypes (
    id bigint, small smallint, whole integer, r real, d double precision, n numeric(10, 2),
    s text, v varchar(5), b boolean, day date, t time, ts timestamp, tz timestamptz,
    span interval, raw bytea, day_text text
);
INSERT INTO sqltypes VALUES
    (1, 1, 10, 1.5, 2.25, 12.34, 'a', 'x', true, '2024-01-02', '12:34:56',
     '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05+02', '1 day 2 hours', '\\x0102',
     '2024-03-01'),
    (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (3, -5, 20, -0.5, 1e300, 0.01, '', 'yy', false, '1999-12-31', '00:00', '1970-01-01',
     '2024-07-01 12:00Z', '-5 minutes', '\\x', '2024-03-02');
DROP TABLE IF EXISTS sqlnonull;
CREATE TABLE sqlnonull AS SELECT id, small, whole, r, d, s, b, ts, tz FROM sqltypes WHERE id <> 2;
"""


@pytest.fixture(scope="module")
def pg_uri(postgres: PostgresServer) -> str:
    with psycopg.connect(postgres.uri, autocommit=True) as con:
        con.execute(_TABLE)  # type: ignore[arg-type]
    return postgres.uri


@pytest.fixture(scope="module")
def engine(pg_uri: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(pg_uri.replace("postgresql://", "postgresql+psycopg://", 1))
    yield eng
    eng.dispose()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM sqltypes ORDER BY id",
        "SELECT * FROM sqlnonull ORDER BY id",
        "SELECT id, n, s FROM sqltypes WHERE id > 100",
    ],
)
def test_same_frame_as_pandas_read_sql(pg_uri: str, engine: sa.Engine, sql: str) -> None:
    want = pd.read_sql(sql, engine)
    got = read_sql(sql, pg_uri)
    assert isinstance(got, pd.DataFrame)
    pd.testing.assert_frame_equal(got, want)


@pytest.mark.parametrize("backend", ["numpy_nullable", "pyarrow"])
def test_dtype_backends_match_pandas(pg_uri: str, engine: sa.Engine, backend: Any) -> None:
    sql = "SELECT id, small, d, s, b FROM sqltypes ORDER BY id"
    want = pd.read_sql(sql, engine, dtype_backend=backend)
    got = read_sql(sql, pg_uri, dtype_backend=backend)
    assert isinstance(got, pd.DataFrame)
    assert [str(t) for t in got.dtypes] == [str(t) for t in want.dtypes]
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_params_in_psycopg_styles(pg_uri: str, engine: sa.Engine) -> None:
    by_position = "SELECT id FROM sqltypes WHERE id >= %s AND s LIKE 'a%%' OR id = %s"
    by_name = "SELECT id FROM sqltypes WHERE id >= %(lo)s AND s LIKE 'a%%' OR id = %(lo)s"
    for sql, params in [(by_position, (1, 3)), (by_name, {"lo": 1})]:
        want = pd.read_sql(sql, engine, params=params)
        got = read_sql(sql, pg_uri, params=params)
        assert isinstance(got, pd.DataFrame)
        pd.testing.assert_frame_equal(got, want)
    hostile = "x'; DROP TABLE sqltypes; --"
    got = read_sql("SELECT count(*) AS n FROM sqltypes WHERE s = %s", pg_uri, params=[hostile])
    assert isinstance(got, pd.DataFrame)
    assert got["n"].tolist() == [0]
    with pytest.raises(DynioError, match="no value"):
        read_sql("SELECT %(a)s", pg_uri, params={"b": 1})


def test_table_name_with_columns_index_parse_dates_and_dtype(
    pg_uri: str, engine: sa.Engine
) -> None:
    kwargs: dict[str, Any] = {
        "columns": ["day_text", "whole"],
        "index_col": "id",
        "parse_dates": ["day_text"],
    }
    want = pd.read_sql("sqltypes", engine, **kwargs)
    got = read_sql("sqltypes", pg_uri, **kwargs)
    assert isinstance(got, pd.DataFrame)
    pd.testing.assert_frame_equal(got, want)
    # pandas ignores dtype for a table name; it applies here as for a query
    sql = "SELECT whole FROM sqltypes ORDER BY id"
    want = pd.read_sql(sql, engine, dtype={"whole": "Int32"})
    pd.testing.assert_frame_equal(
        read_sql("sqltypes", pg_uri, columns=["whole"], dtype={"whole": "Int32"}), want
    )  # type: ignore[arg-type]
    got = read_sql("public.sqltypes", pg_uri, columns=["id"])
    assert isinstance(got, pd.DataFrame)
    assert sorted(got["id"]) == [1, 2, 3]


def test_chunksize(pg_uri: str, engine: sa.Engine) -> None:
    sql = "SELECT g AS id, g::text AS s FROM generate_series(1, 25) g"
    chunks = read_sql(sql, pg_uri, chunksize=10)
    assert not isinstance(chunks, pd.DataFrame)
    frames = list(chunks)
    assert [len(f) for f in frames] == [10, 10, 5]
    pd.testing.assert_frame_equal(pd.concat(frames, ignore_index=True), pd.read_sql(sql, engine))
    empty = list(read_sql("SELECT 1 AS a WHERE false", pg_uri, chunksize=10))
    assert len(empty) == 1
    assert list(empty[0].columns) == ["a"]


def test_sqlalchemy_engine_as_con(engine: sa.Engine) -> None:
    got = read_sql("SELECT 1 AS a", engine)
    assert isinstance(got, pd.DataFrame)
    assert got["a"].tolist() == [1]


def test_duckdb_connection_string(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE t AS SELECT range AS id, 'v' || range AS s FROM range(5)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas warns on a DBAPI connection that is not sqlite
            want = pd.read_sql("SELECT * FROM t WHERE id >= ?", con, params=[2])
    got = read_sql("SELECT * FROM t WHERE id >= ?", f"duckdb:///{path}", params=[2])
    assert isinstance(got, pd.DataFrame)
    pd.testing.assert_frame_equal(got, want)
    assert read_sql("SELECT 42 AS x", "duckdb:///:memory:")["x"].tolist() == [42]  # type: ignore[index]


def test_errors_name_the_problem_without_the_password(
    pg_uri: str, postgres: PostgresServer
) -> None:
    with pytest.raises(DynioError, match="connection string"):
        read_sql("SELECT 1", "mysql://u:p@h/db")
    with pytest.raises(ReadError, match="no_such_table") as err:
        read_sql("SELECT * FROM no_such_table", pg_uri)
    assert postgres.password not in str(err.value)
    bad = pg_uri.replace("@", "x@", 1)
    with pytest.raises(ReadError, match="password authentication failed") as err:
        read_sql("SELECT 1", bad)
    assert "s3cr3t" not in str(err.value)
