"""Row filters (engine/filters.py): the tuple/DNF convention and Polars expressions."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import dynio
from dynio.engine.errors import DynioError, ReadError
from dynio.engine.filter_sql import ATHENA, DUCKDB, POSTGRES
from dynio.engine.filters import Filter, columns_of, describe, to_expr
from dynio.engine.io.layout.hive import hive_values, prune_partitions

CatalogFrom = Callable[..., dynio.Catalog]

FRAME = pl.DataFrame(
    {
        "id": [1, 2, 3, 4, 5],
        "n": [10, 20, None, 40, 50],
        "f": [1.5, 2.5, None, math.nan, -1.0],
        "s": ["a", "b", None, "c", "a"],
        "b": [True, False, None, True, False],
        "t": [
            dt.datetime(2024, 1, 1),
            dt.datetime(2024, 1, 2, 12),
            dt.datetime(2024, 1, 3),
            None,
            dt.datetime(2024, 1, 5, 6, 30),
        ],
        "tz": pl.Series(
            [
                dt.datetime(2024, 1, 1),
                dt.datetime(2024, 1, 2),
                None,
                dt.datetime(2024, 1, 4),
                dt.datetime(2024, 1, 5),
            ],
            dtype=pl.Datetime("us"),
        ).dt.replace_time_zone("UTC"),
        "d": [dt.date(2024, 1, 1), dt.date(2024, 1, 2), None, dt.date(2024, 1, 4), None],
    }
)
DTYPES = dict(FRAME.schema)


def ids(filters: Any, frame: pl.DataFrame = FRAME, dtypes: Any = DTYPES) -> list[int]:
    """The ``id`` of each row the filter keeps, in order."""
    expr = to_expr(filters, dtypes)
    assert expr is not None
    return frame.filter(expr)["id"].to_list()


# ----------------------------------------------------------------------------------- operators


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (("n", "=", 20), [2]),
        (("n", "==", 20), [2]),
        (("n", "!=", 20), [1, 4, 5]),  # null is neither equal nor unequal
        (("n", "<", 20), [1]),
        (("n", "<=", 20), [1, 2]),
        (("n", ">", 20), [4, 5]),
        (("n", ">=", 20), [2, 4, 5]),
        (("n", "in", [10, 40, 99]), [1, 4]),
        (("n", "not in", [10, 40]), [2, 5]),
        (("n", "is null"), [3]),
        (("n", "is not null"), [1, 2, 4, 5]),
        (("n", "is null", None), [3]),
        (("s", "=", "a"), [1, 5]),
        (("s", "!=", "a"), [2, 4]),
        (("s", "in", ["b", "c"]), [2, 4]),
        (("s", "not in", ["a"]), [2, 4]),
        (("s", ">", "a"), [2, 4]),
        (("b", "=", True), [1, 4]),
        (("b", "!=", True), [2, 5]),
        (("f", "<", 2.0), [1, 5]),
        (("f", "is null"), [3]),  # NaN is not null
        (("f", "is not null"), [1, 2, 4, 5]),
    ],
    ids=str,
)
def test_every_operator(condition: tuple[Any, ...], expected: list[int]) -> None:
    assert ids([condition]) == expected


@pytest.mark.parametrize("op", ["IN", " in ", "Not In", "IS NULL", "Is Not Null"])
def test_operators_are_case_and_space_insensitive(op: str) -> None:
    value: Any = [10] if "in" in op.lower() and "null" not in op.lower() else None
    condition = ("n", op, value) if value is not None else ("n", op)
    expected = {
        "in": [1],
        "not in": [2, 4, 5],
        "is null": [3],
        "is not null": [1, 2, 4, 5],
    }[op.strip().lower()]
    assert ids([condition]) == expected


def test_in_accepts_tuples_and_sets() -> None:
    assert ids([("n", "in", (10, 20))]) == [1, 2]
    assert ids([("n", "in", {10, 50})]) == [1, 5]
    assert ids([("n", "in", frozenset({40}))]) == [4]


def test_empty_in_list() -> None:
    assert ids([("n", "in", [])]) == []
    assert ids([("s", "in", [])], dtypes={}) == []


def test_null_semantics_follow_sql() -> None:
    # comparisons with a null cell are unknown, so the row is dropped: also for != and not in,
    # as a SQL WHERE pushed into a database would do
    assert 3 not in ids([("n", "!=", 1)])
    assert 3 not in ids([("n", "not in", [1])])
    assert 3 not in ids([("s", "in", ["a", None])])


# ------------------------------------------------------------------------------- AND, OR (DNF)


def test_list_of_conditions_is_and() -> None:
    assert ids([("n", ">", 10), ("s", "=", "a")]) == [5]
    assert ids([("n", ">", 10), ("s", "=", "a"), ("b", "=", True)]) == []
    assert ids([["n", ">=", 20], ["n", "<=", 40]]) == [2, 4]  # lists work as conditions too


def test_list_of_lists_is_or_of_ands() -> None:
    dnf = [[("n", "=", 10)], [("s", "=", "c"), ("b", "=", True)], [("n", "is null")]]
    assert ids(dnf) == [1, 3, 4]
    assert ids([[("n", "=", 10), ("s", "=", "b")], [("n", "=", 20), ("s", "=", "b")]]) == [2]


def test_single_group_dnf() -> None:
    assert ids([[("n", ">", 10), ("n", "<", 50)]]) == [2, 4]


def test_expression_inside_a_list() -> None:
    assert ids([pl.col("n") > 10, ("s", "=", "a")]) == [5]
    assert ids([[pl.col("n") == 10], [("s", "=", "c")]]) == [1, 4]


def test_polars_expression_passes_through() -> None:
    expr = (pl.col("n") > 10) & pl.col("s").is_not_null()
    assert to_expr(expr) is expr
    assert to_expr(expr, DTYPES) is expr


def test_no_filter() -> None:
    assert to_expr(None) is None
    assert to_expr([]) is None
    assert to_expr((), DTYPES) is None


# ------------------------------------------------------------------ literal conversion to dtype


def test_string_literal_on_datetime_column() -> None:
    assert ids([("t", ">=", "2024-01-02")]) == [2, 3, 5]
    assert ids([("t", "<", "2024-01-02 12:00:00")]) == [1]
    assert ids([("t", "=", "2024-01-02T12:00:00")]) == [2]


def test_string_literal_on_aware_datetime_column() -> None:
    assert ids([("tz", ">", "2024-01-02")]) == [4, 5]
    assert ids([("tz", "=", "2024-01-04T00:00:00")]) == [4]


def test_string_literal_on_date_column() -> None:
    assert ids([("d", "<", "2024-01-02")]) == [1]
    assert ids([("d", ">=", "2024-01-02")]) == [2, 4]
    assert ids([("d", "!=", "2024-01-02")]) == [1, 4]


@pytest.mark.parametrize("op", [">=", ">", "=", "<", "in"])
def test_string_literal_keeps_nanoseconds_on_a_nanosecond_column(op: str) -> None:
    # a literal through a Python datetime would be cut to 00:00:00.000000 and keep row 400 too
    base = 1_704_067_200_000_000_000
    frame = pl.DataFrame({"t": [base + 400, base + 500, base + 600]}).with_columns(
        pl.col("t").cast(pl.Datetime("ns"))
    )
    literal = "2024-01-01T00:00:00.000000500"
    value: Any = [literal] if op == "in" else literal
    kept = frame.filter(to_expr([("t", op, value)], {"t": pl.Datetime("ns")}))
    expected = {">=": [500, 600], ">": [600], "=": [500], "<": [400], "in": [500]}[op]
    assert (kept["t"].to_physical() - base).to_list() == expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (("n", ">", "20"), [4, 5]),
        (("n", "=", " 40 "), [4]),
        (("n", "<=", "20.0"), [1, 2]),
        (("f", ">", "1.5"), [2, 4]),  # NaN sorts above every number in Polars
        (("f", "<", "0"), [5]),
        (("id", "in", ["1", "3"]), [1, 3]),
        (("n", "not in", ["10", "20"]), [4, 5]),
    ],
    ids=str,
)
def test_string_literal_on_numeric_column(condition: tuple[Any, ...], expected: list[int]) -> None:
    assert ids([condition]) == expected


def test_in_with_string_dates_on_datetime_column() -> None:
    assert ids([("t", "in", ["2024-01-01", "2024-01-03"])]) == [1, 3]
    assert ids([("t", "in", ["2024-01-02 12:00:00", "2024-01-05T06:30:00"])]) == [2, 5]
    assert ids([("t", "not in", ["2024-01-01"])]) == [2, 3, 5]


def test_in_with_string_dates_on_date_column() -> None:
    assert ids([("d", "in", ["2024-01-02", "2024-01-04"])]) == [2, 4]


def test_in_with_native_values() -> None:
    assert ids([("t", "in", [dt.datetime(2024, 1, 3)])]) == [3]
    assert ids([("d", "in", [dt.date(2024, 1, 1)])]) == [1]
    assert ids([("f", "in", [1.5, -1.0])]) == [1, 5]
    assert ids([("b", "in", [False])]) == [2, 5]


def test_string_literal_stays_string_on_text_column() -> None:
    frame = pl.DataFrame({"id": [1, 2], "code": ["007", "7"]})
    assert ids([("code", "=", "007")], frame, dict(frame.schema)) == [1]
    assert ids([("code", "in", ["7"])], frame, dict(frame.schema)) == [2]


def test_without_dtypes_literals_are_used_as_given() -> None:
    assert ids([("n", ">", 10)], dtypes=None) == [2, 4, 5]
    assert ids([("s", "in", ["a"])], dtypes=None) == [1, 5]


def test_lazy_frames_filter_the_same() -> None:
    expr = to_expr([("t", ">=", "2024-01-02"), ("n", "in", ["20", "50"])], DTYPES)
    assert expr is not None
    assert FRAME.lazy().filter(expr).collect()["id"].to_list() == [2, 5]


def test_in_filter_uses_no_deprecated_polars_form(capfd: pytest.CaptureFixture[str]) -> None:
    # Polars prints a DeprecationWarning (straight to stderr) for `is_in` with a collection of
    # the column's own dtype; every `in` filter must avoid it (it will stop working)
    assert ids([("n", "in", [10, 20])]) == [1, 2]
    assert ids([("t", "in", ["2024-01-01"])]) == [1]
    assert ids([("s", "not in", ["a"])]) == [2, 4]
    err = capfd.readouterr().err
    assert "deprecated" not in err.lower(), err


# ---------------------------------------------------------------------------------- bad shapes


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ("n > 3", "filters must be a Polars expression or a list of conditions"),
        (42, "filters must be a Polars expression or a list of conditions"),
        ({"n": 3}, "filters must be a Polars expression or a list of conditions"),
        ([("n",)], "(column, op, value)"),
        ([("n", ">", 1, 2)], "(column, op, value)"),
        ([("n", ">")], "(column, op, value)"),
        ([[("n", "=", 1)], "oops"], "DNF"),
        ([("n", "=", 1), [("n", "=", 2)]], "DNF"),
        ([[("n", "=", 1), 5]], "DNF"),
    ],
    ids=str,
)
def test_bad_shapes(filters: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        to_expr(filters, DTYPES)


@pytest.mark.parametrize("op", ["~", "like", "=>", "between", "is"])
def test_unknown_operator(op: str) -> None:
    with pytest.raises(ValueError, match="unknown filter operator") as info:
        to_expr([("n", op, 1)], DTYPES)
    text = str(info.value)
    assert repr(op) in text
    for known in ("'='", "'!='", "'in'", "'not in'", "'is null'", "'is not null'"):
        assert known in text  # the message lists what is accepted


@pytest.mark.parametrize("value", [1, "abc", None, 2.5])
def test_in_needs_a_list(value: Any) -> None:
    with pytest.raises(ValueError, match="needs a list of values") as info:
        to_expr([("n", "in", value)], DTYPES)
    assert "'in'" in str(info.value)
    with pytest.raises(ValueError, match="needs a list of values"):
        to_expr([("n", "not in", value)], DTYPES)


@pytest.mark.parametrize("op", ["=", "!=", "<", ">="])
def test_comparing_with_none_points_to_is_null(op: str) -> None:
    with pytest.raises(ValueError, match="is null") as info:
        to_expr([("n", op, None)], DTYPES)
    assert "('n'" in str(info.value)


def test_unary_operator_with_a_value() -> None:
    with pytest.raises(ValueError, match="takes no value") as info:
        to_expr([("n", "is null", 3)], DTYPES)
    assert "'is null'" in str(info.value)


@pytest.mark.parametrize(
    "condition",
    [("n", ">", "not a number"), ("t", ">", "not a date"), ("d", "=", "2024-99-99")],
    ids=str,
)
def test_literal_that_does_not_fit_the_column(condition: tuple[Any, ...]) -> None:
    # a literal that cannot become the column's dtype is a malformed filter: ValueError naming
    # the column and value when the filter is built, not a Polars error at collect time
    with pytest.raises(ValueError, match=re.escape(str(condition[2]))) as info:
        to_expr([condition], DTYPES)
    assert repr(condition[0]) in str(info.value)


def test_in_list_value_that_does_not_fit_the_column() -> None:
    with pytest.raises(ValueError, match="yesterday") as info:
        to_expr([("t", "in", ["2024-01-01", "yesterday"])], DTYPES)
    assert "'t'" in str(info.value)


# ---------------------------------------------------------------------- columns_of, describe


def test_columns_of() -> None:
    expr = to_expr([[("n", "=", 1), ("s", "=", "x")], [("t", "is null"), ("n", ">", 0)]], DTYPES)
    assert columns_of(expr) == ["n", "s", "t"]  # first-seen order, no duplicates
    assert columns_of(to_expr([("d", ">", "2024-01-01")], DTYPES)) == ["d"]
    assert columns_of(pl.col("a") + pl.col("b") > pl.col("a")) == ["a", "b"]
    assert columns_of(None) == []


def test_describe() -> None:
    assert describe(None) is None
    text = describe(to_expr([("n", "=", 1)]))
    assert text is not None
    assert 'col("n")' in text


# -------------------------------------------------------------------- through a Catalog read


def _catalog(
    catalog_from: CatalogFrom, file: str, options: dict[str, Any] | None = None
) -> dynio.Catalog:
    env: dict[str, Any] = {"type": "local", "local": {"file_path": file}}
    if options:
        env["options"] = options
    doc = {
        "r": {
            "local": env,
            "schema": {
                "columns": {
                    "id": "int64",
                    "n": "Int64",
                    "s": "str",
                    "t": "datetime64[ns]",
                    "d": "date",
                }
            },
        }
    }
    return catalog_from(yaml.safe_dump(doc, sort_keys=False))


def _data() -> pl.DataFrame:
    return FRAME.select("id", "n", "s", "t", "d")


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_catalog_read_with_tuple_filters(
    fmt: str, tmp_path: Path, catalog_from: CatalogFrom
) -> None:
    data = _data()
    path = tmp_path / f"r.{fmt}"
    if fmt == "parquet":
        data.write_parquet(path)
    else:
        data.write_csv(path)
    cat = _catalog(catalog_from, path.name)
    got = cat.read_polars("r", filters=[("t", ">=", "2024-01-02"), ("n", "is not null")])
    assert got["id"].to_list() == [2, 5]
    got = cat.read_polars("r", filters=[[("s", "=", "a")], [("d", "in", ["2024-01-04"])]])
    assert got["id"].to_list() == [1, 4, 5]
    got = cat.read_polars("r", filters=[("t", "in", ["2024-01-01", "2024-01-03"])])
    assert got["id"].to_list() == [1, 3]
    df = cat.read("r", filters=[("n", ">", "15")])
    assert df["id"].tolist() == [2, 4, 5]


def test_catalog_filter_on_a_column_not_returned(tmp_path: Path, catalog_from: CatalogFrom) -> None:
    _data().write_parquet(tmp_path / "r.parquet")
    cat = _catalog(catalog_from, "r.parquet")
    got = cat.read_polars("r", columns=["id", "s"], filters=[("t", "<", "2024-01-03")])
    assert got.columns == ["id", "s"]
    assert got["id"].to_list() == [1, 2]


def test_catalog_filter_from_yaml_options(tmp_path: Path, catalog_from: CatalogFrom) -> None:
    _data().write_parquet(tmp_path / "r.parquet")
    cat = _catalog(catalog_from, "r.parquet", options={"filters": [["n", ">=", 40]]})
    assert cat.read_polars("r")["id"].to_list() == [4, 5]
    # a filter passed to the call replaces the configured one
    assert cat.read_polars("r", filters=[("n", "=", 10)])["id"].to_list() == [1]


def test_catalog_expression_filter(tmp_path: Path, catalog_from: CatalogFrom) -> None:
    _data().write_parquet(tmp_path / "r.parquet")
    cat = _catalog(catalog_from, "r.parquet")
    got = cat.read_polars("r", filters=pl.col("s").is_in(["b", "c"]).not_())
    assert got["id"].to_list() == [1, 5]


def test_catalog_bad_filter_names_the_resource(tmp_path: Path, catalog_from: CatalogFrom) -> None:
    _data().write_parquet(tmp_path / "r.parquet")
    cat = _catalog(catalog_from, "r.parquet")
    with pytest.raises(DynioError) as info:
        cat.read("r", filters=[("n", "~", 1)])
    assert info.value.resource == "r"
    assert info.value.env == "local"
    assert "unknown filter operator '~'" in str(info.value)


def test_catalog_filter_literal_that_does_not_fit(
    tmp_path: Path, catalog_from: CatalogFrom
) -> None:
    # a malformed filter is the caller's mistake, not a problem reading the file
    _data().write_parquet(tmp_path / "r.parquet")
    cat = _catalog(catalog_from, "r.parquet")
    with pytest.raises(DynioError) as info:
        cat.read("r", filters=[("t", ">", "not a date")])
    assert not isinstance(info.value, ReadError), str(info.value)
    assert info.value.resource == "r"
    assert "not a date" in str(info.value)


# ------------------------------------------------------------------- Filter: one form, parsed once


def test_a_filter_is_parsed_once_into_every_form() -> None:
    parsed = Filter.parse([("n", ">", "5"), ("s", "in", ["a", "b"])], DTYPES)
    assert parsed is not None
    frame = pl.DataFrame({"n": [1, 6, 9], "s": ["a", "b", "z"]})
    assert frame.filter(parsed.to_polars())["n"].to_list() == [6]
    assert parsed.groups == ((("n", ">", "5"), ("s", "in", ["a", "b"])),)
    assert parsed.columns == ["n", "s"]
    assert Filter.parse(parsed) is parsed  # a parsed filter is taken as it is
    assert Filter.parse(None) is None
    assert Filter.parse([]) is None
    expr = Filter.parse(pl.col("n") > 1)
    assert expr is not None
    assert expr.groups is None
    with pytest.raises(ValueError, match="unknown filter operator"):
        Filter.parse([("n", "~", 1)], DTYPES)


def test_to_sql_speaks_each_dialect() -> None:
    parsed = Filter.parse([[("s", "<", "m"), ("n", "in", [1, 2])], [("s", "is null")]], DTYPES)
    assert parsed is not None
    source = {"s": pl.String(), "n": pl.Int64()}
    pg = parsed.to_sql(POSTGRES, source)
    assert pg.where == '("s" COLLATE "C" < $1 AND "n" IN ($2, $3)) OR ("s" IS NULL)'
    assert pg.params == ("m", 1, 2)
    assert pg.exact
    duck = parsed.to_sql(DUCKDB, source, first_param=3)
    assert duck.where == '("s" < $3 AND "n" IN ($4, $5)) OR ("s" IS NULL)'
    athena = parsed.to_sql(ATHENA, source)
    assert athena.where == '("s" < ? AND "n" IN (?, ?)) OR ("s" IS NULL)'
    assert athena.params == ("m", 1, 2)
    # a column name holding "$" or "?" is an identifier, quoted, never a placeholder
    odd = Filter.parse([("a$1?", "==", 3)], {"a$1?": pl.Int64()})
    assert odd is not None
    assert odd.to_sql(ATHENA, {"a$1?": pl.Int64()}).where == '"a$1?" = ?'
    # a Polars expression has no SQL form: nothing is pushed
    expr = Filter.parse(pl.col("n") > 1)
    assert expr is not None
    assert expr.to_sql(POSTGRES, source).where == ""


def test_a_pandas_timestamp_keeps_its_nanoseconds() -> None:
    base = 1_704_067_200_000_000_000
    frame = pl.DataFrame({"t": [base + 400, base + 500, base + 600]}).with_columns(
        pl.col("t").cast(pl.Datetime("ns"))
    )
    stamp = pd.Timestamp("2024-01-01 00:00:00.000000500")
    for zone in (None, "UTC"):
        dtype = pl.Datetime("ns", zone)
        data = frame.with_columns(pl.col("t").dt.replace_time_zone(zone))
        value = stamp if zone is None else stamp.tz_localize(zone)
        kept = data.filter(to_expr([("t", ">=", value)], {"t": dtype}))
        assert (kept["t"].to_physical() - base).to_list() == [500, 600]
        where = Filter.parse([("t", ">=", value)], {"t": dtype})
        assert where is not None
        assert where.to_sql(DUCKDB, {"t": dtype}).where == ""  # compared after the read


@pytest.mark.parametrize(("op", "expected"), [("in", [500, 1000]), ("not in", [400])])
def test_pandas_timestamps_in_a_list_keep_their_nanoseconds(op: str, expected: list[int]) -> None:
    # the list mixes a Timestamp finer than a microsecond with a plain datetime
    base = 1_704_067_200_000_000_000
    frame = pl.DataFrame({"t": [base + 400, base + 500, base + 1000]}).with_columns(
        pl.col("t").cast(pl.Datetime("ns"))
    )
    values = [pd.Timestamp("2024-01-01 00:00:00.000000500"), dt.datetime(2024, 1, 1, 0, 0, 0, 1)]
    kept = frame.filter(to_expr([("t", op, values)], {"t": pl.Datetime("ns")}))
    assert (kept["t"].to_physical() - base).to_list() == expected


def test_a_sub_microsecond_text_timestamp_is_not_pushed_to_sql() -> None:
    # SQL parameters are Python datetimes (microseconds): such a value is compared after the
    # read, exactly; a whole-microsecond one is pushed
    ns = {"t": pl.Datetime("ns")}
    fine = Filter.parse([("t", ">=", "2024-01-01T00:00:00.000000500")], ns)
    assert fine is not None
    assert fine.to_sql(DUCKDB, ns).where == ""
    whole = Filter.parse([("t", ">=", "2024-01-01T00:00:00.000001")], ns)
    assert whole is not None
    assert whole.to_sql(DUCKDB, ns).where == '"t" >= $1'


def test_split_says_what_was_pushed_and_what_is_left() -> None:
    parsed = Filter.parse([("n", ">", 1), ("s", "<", "m")], DTYPES)
    assert parsed is not None
    source = {"n": pl.Int64(), "s": pl.String()}
    targets = {"n": pl.Int64(), "s": pl.Categorical()}  # category order is not text order
    where = parsed.to_sql(DUCKDB, source, targets)
    assert where.where == '"n" > $1'
    assert not where.exact
    pushed, residual = parsed.split(where.pushed)
    assert pushed is not None
    assert pushed.groups == ((("n", ">", 1),),)
    assert residual is not None
    assert residual.groups == ((("s", "<", "m"),),)
    assert parsed.split(parsed.groups or ()) == (parsed, None)
    assert parsed.split(()) == (None, parsed)


_PRUNE_OPS = {
    "==": lambda y, v: y == v,
    "!=": lambda y, v: y != v,
    "<": lambda y, v: y < v,
    ">=": lambda y, v: y >= v,
    "in": lambda y, v: y in v,
}


@settings(max_examples=80, deadline=None)
@given(
    years=st.lists(st.sampled_from(["2023", "2024", "2025", "x"]), min_size=1, max_size=6),
    op=st.sampled_from(sorted(_PRUNE_OPS)),
    value=st.sampled_from([2023, 2024, 2025]),
)
def test_pruning_keeps_exactly_the_partitions_the_filter_can_match(
    years: list[str], op: str, value: int
) -> None:
    rel = [f"year={y}/part-{i}.parquet" for i, y in enumerate(years)]
    arg = [value] if op == "in" else value
    parsed = Filter.parse([("year", op, arg)])
    assert parsed is not None
    for dtypes in ({}, {"year": pl.Int64()}):
        keep = parsed.prune([hive_values(r) for r in rel], dtypes)
        assert prune_partitions(rel, rel, parsed.groups, dtypes) == [
            r for r, k in zip(rel, keep, strict=True) if k
        ]
        if "x" in years:  # a value that is not a number cannot be compared: nothing is dropped
            assert all(keep)
        else:
            assert keep == [_PRUNE_OPS[op](int(y), arg) for y in years]


def test_the_pushdown_record_and_its_mapping_form() -> None:
    from dynio.engine.filter_sql import SqlWhere
    from dynio.engine.sources import Pushdown, Scan

    parsed = Filter.parse([("n", ">", 1), ("s", "==", "a")], DTYPES)
    assert parsed is not None
    whole = Pushdown.whole(parsed, version=3)
    assert whole.as_dict() == {"projection": True, "predicates": True, "version": 3}
    assert Pushdown.nothing(parsed, projection=False).as_dict() == {
        "projection": False,
        "predicates": False,
    }
    part = Pushdown.sql(parsed, SqlWhere('"n" > $1', (1,), False, ((("n", ">", 1),),)))
    assert part.partial
    assert part.as_dict()["predicates"] is False
    none = Pushdown.sql(parsed, SqlWhere(exact=False))
    assert none.pushed is None
    assert none.residual is parsed
    # a source that gives no record took nothing; one that gives it has it used as it is
    silent = Scan(pl.LazyFrame(), "x").pushdown_for(parsed)
    assert silent == Pushdown.nothing(parsed, projection=False)
    assert silent.residual is parsed
    typed = Scan(pl.LazyFrame(), "x", pushdown=part)
    assert typed.pushdown_for(None) is part
