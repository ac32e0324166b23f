"""Checks that stream: ``Catalog.check`` and ``Catalog.write(name, lazy_frame)``.

The streaming evaluator must give the same report and metric values as the in-memory one (the
fused ``select`` of :mod:`dynio.engine.quality`), rule by rule and metric by metric, including
the global rules (duplicates) and exact quantiles.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import dynio
from dynio.engine import quality, streaming
from dynio.engine.loader import parse_schema
from dynio.engine.quality import MetricValue, ValidationReport
from dynio.engine.spec import SchemaSpec
from dynio.errors import CastError, ValidationError

ALL_METRICS = [
    "Min",
    "Max",
    "Mean",
    "Std",
    "Variance",
    "Counts",
    "UniqueCounts",
    "NullCount",
    "Quantiles",
]


def opts(**options: Any) -> dict[str, Any]:
    return {"apply": True, "options": options}


SCHEMA_DOC: dict[str, Any] = {
    "name": "orders",
    "columns": {
        "id": {
            "type": "int64",
            "validations": {"has_unique_values": opts(), "is_greater_than": opts(threshold=0)},
            "metrics": ALL_METRICS,
        },
        "amount": {
            "type": "float64",
            "validations": {
                "is_between": opts(lower=0, upper=150, include_left=True),
                "has_acceptable_percentage_of_nulls": opts(threshold=0.05),
                "has_unique_values": opts(),
            },
            "metrics": ALL_METRICS,
        },
        "country": {
            "type": "str",
            "validations": {
                "is_in": opts(categorical_values=["UK", "FR", "DE", "ES"], match_all=True),
                "has_no_null_values": opts(),
                "matches_regex": opts(pattern="[A-Z]{2}"),
                "has_length_between": opts(min=2, max=2),
            },
            "metrics": ["CountsPerLabel", "UniqueCounts", "NullCount", "Min", "Max"],
        },
        "quantity": {
            "type": "int64",
            "validations": {"is_lower_than_or_equal": opts(threshold=8)},
            "metrics": [*ALL_METRICS, "CountsPerLabel"],
        },
    },
    "validations": {
        "unique_together": opts(columns=["country", "quantity"]),
        "row_count_between": opts(min=1, max=100),
    },
}


def schema() -> SchemaSpec:
    return parse_schema(SCHEMA_DOC, resource="orders")


def orders(n: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    amount = rng.normal(100, 30, n)
    amount[rng.random(n) < 0.03] = np.nan
    country = rng.choice(["UK", "FR", "DE", "us", "X"], n, p=[0.4, 0.3, 0.2, 0.05, 0.05])
    ids = np.arange(1, n + 1)
    ids[-3:] = ids[:3]  # three repeated ids
    frame = pl.DataFrame(
        {"id": ids, "amount": amount, "country": country, "quantity": rng.integers(0, 10, n)}
    )
    return frame.with_columns(
        pl.when(pl.int_range(pl.len()) % 97 == 5).then(None).otherwise(pl.col("country"))
    ).with_columns(pl.col("country").alias("country"))


def streamed(
    frame: pl.DataFrame, schema: SchemaSpec, label_cap: int = 100
) -> tuple[ValidationReport, list[MetricValue]]:
    lazy = frame.lazy()

    def run(query: streaming.Query) -> pl.DataFrame:
        return query(lazy).collect(engine="streaming")

    return streaming.evaluate_streaming(
        run, frame.schema, schema, resource="orders", env="test", label_cap=label_cap
    )


def assert_same_values(got: list[MetricValue], want: list[MetricValue]) -> None:
    """Metric values equal one by one; floats to the last few bits, label ties in any order."""

    def key(v: MetricValue) -> tuple[str, str, str]:
        return (v.column, v.metric, str(v.label))

    assert sorted(map(key, got)) == sorted(map(key, want))
    mine = {key(v): v for v in got}
    for w in want:
        g = mine[key(w)]
        assert (g.dataset, g.column, g.metric, g.label) == (w.dataset, w.column, w.metric, w.label)
        if isinstance(w.value, float):
            assert g.value == pytest.approx(w.value, rel=1e-9, abs=1e-12), key(w)
        else:
            assert g.value == w.value, key(w)


def assert_same_report(got: ValidationReport, want: ValidationReport) -> None:
    assert (got.resource, got.env, got.rows, got.checked) == (
        want.resource,
        want.env,
        want.rows,
        want.checked,
    )
    assert [(f.rule, f.column) for f in got.failures] == [(f.rule, f.column) for f in want.failures]
    for g, w in zip(got.failures, want.failures, strict=True):
        assert g == w, (g, w)


@pytest.mark.parametrize("n", [0, 1, 7, 500, 5000])
def test_streaming_evaluation_equals_the_fused_select(n: int) -> None:
    frame = orders(n, seed=n)
    want = quality.evaluate(frame, schema(), resource="orders", env="test")
    got = streamed(frame, schema())
    assert_same_report(got[0], want[0])
    assert_same_values(got[1], want[1])


def test_the_report_names_every_failing_rule_with_samples() -> None:
    report, _ = streamed(orders(500), schema())
    failed = {(f.rule, f.column) for f in report.failures}
    assert ("has_unique_values", "id") in failed
    assert ("is_in", "country") in failed
    assert ("row_count_between", None) in failed
    dup = next(f for f in report.failures if f.rule == "has_unique_values" and f.column == "id")
    assert dup.failing_count == 6
    assert dup.sample == (1, 2, 3)
    is_in = next(f for f in report.failures if f.rule == "is_in")
    assert is_in.detail == ("ES",)
    assert set(is_in.sample) <= {"us", "X"}


@pytest.mark.parametrize(
    "values",
    [
        [3.0],
        [1.0, 1.0, 1.0, 1.0, 2.0],
        list(np.random.default_rng(3).normal(0, 1, 2000)),
        [*list(np.random.default_rng(4).exponential(1000000.0, 2000)), -1e300, 1e300],
        [float(i % 3) for i in range(1000)],
        [None, 5.0, None, -2.5, 7.25, 7.25, 0.0],
    ],
)
def test_quantiles_are_exact_when_narrowed_by_histograms(
    values: list[float | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    # collect candidates only once fewer than 3 are left: every rank is found by histograms
    monkeypatch.setattr(streaming, "_COLLECT_AT_MOST", 3)
    frame = pl.DataFrame({"x": values}, schema={"x": pl.Float64})
    lazy = frame.lazy()

    def run(query: streaming.Query) -> pl.DataFrame:
        return query(lazy).collect(engine="streaming")

    s = frame["x"].drop_nulls()
    stats = (s.len(), s.min(), s.max())
    got = streaming.exact_quantiles(run, pl.col("x"), stats, [0.0, 0.5, 0.9, 0.99, 1.0])  # type: ignore[arg-type]
    want = [s.quantile(q, interpolation="linear") for q in (0.0, 0.5, 0.9, 0.99, 1.0)]
    assert got == want


# ------------------------------------------------------------------------- through the catalog

CATALOG = """
sales:
  local:
    type: local
    local: {{file_path: "{root}/orders.parquet", file_type: parquet}}
    schema: {{file_path: "{root}/orders.schema.yaml"}}
copy:
  local:
    type: local
    local: {{file_path: "{root}/out/copy.{fmt}", file_type: "{fmt}"}}
    schema: {{file_path: "{root}/orders.schema.yaml"}}
"""


@pytest.fixture
def make_catalog(tmp_path: Path) -> Callable[..., dynio.Catalog]:
    import yaml

    def make(
        frame: pl.DataFrame, fmt: str = "parquet", doc: dict[str, Any] = SCHEMA_DOC
    ) -> dynio.Catalog:
        frame.write_parquet(tmp_path / "orders.parquet", row_group_size=300)
        (tmp_path / "orders.schema.yaml").write_text(yaml.safe_dump(doc))
        (tmp_path / "res.yaml").write_text(CATALOG.format(root=tmp_path, fmt=fmt))
        return dynio.Catalog.from_yaml(tmp_path / "res.yaml", env="local")

    return make


@pytest.mark.parametrize(
    ("columns", "filters"),
    [(None, None), (["id", "amount"], None), (None, [("quantity", ">", 4)])],
)
def test_check_equals_read(
    make_catalog: Callable[..., dynio.Catalog],
    columns: list[str] | None,
    filters: Any,
) -> None:
    cat = make_catalog(orders(3000))
    got = cat.check("sales", columns=columns, filters=filters, raise_on_error=False)
    want = cat.read_result("sales", columns=columns, filters=filters, raise_on_error=False)
    assert_same_report(got.report, want.report)
    assert_same_values(got.metrics, want.metrics)
    assert cat.last_report == got.report
    assert got.info.files == want.info.files


def test_check_raises_on_a_failed_rule(make_catalog: Callable[..., dynio.Catalog]) -> None:
    cat = make_catalog(orders(200))
    with pytest.raises(ValidationError) as info:
        cat.check("sales")
    assert info.value.resource == "sales"
    assert not info.value.report.ok


def passing_doc() -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": "orders",
        "columns": {
            "id": {"type": "int64", "validations": {"has_unique_values": opts()}},
            "amount": {"type": "float64", "metrics": ["Mean", "Quantiles"]},
            "country": {"type": "str", "metrics": ["CountsPerLabel"]},
            "quantity": {
                "type": "int32",
                "validations": {"is_greater_than_or_equal": opts(threshold=0)},
            },
        },
    }
    return doc


def unique_orders(n: int) -> pl.DataFrame:
    return orders(n).with_columns(pl.int_range(1, n + 1, dtype=pl.Int64).alias("id"))


@pytest.mark.parametrize("fmt", ["parquet", "csv", "ndjson"])
def test_write_of_a_lazy_frame_streams_to_the_sink(
    make_catalog: Callable[..., dynio.Catalog], tmp_path: Path, fmt: str
) -> None:
    frame = unique_orders(2000)
    cat = make_catalog(frame, fmt=fmt, doc=passing_doc())
    result = cat.write("copy", cat.scan("sales"))
    assert result.info.rows == 2000
    assert result.report.ok
    assert result.report.rows == 2000
    assert {(v.column, v.metric) for v in result.metrics} >= {("amount", "Mean")}
    back = cat.read_polars("copy")
    assert back.schema["quantity"] == pl.Int32
    if fmt == "parquet":
        assert_frame_equal(back, cat.read_polars("sales"))
    # the same file content as the write of the collected frame (NaN in text formats alike)
    streamed_bytes = (tmp_path / "out" / f"copy.{fmt}").read_bytes()
    cat.write("copy", cat.read_polars("sales"))
    assert_frame_equal(back, cat.read_polars("copy"))
    if fmt != "parquet":
        assert streamed_bytes == (tmp_path / "out" / f"copy.{fmt}").read_bytes()
    assert [p.name for p in (tmp_path / "out").iterdir()] == [f"copy.{fmt}"]  # no temp left


def test_a_failed_rule_writes_nothing(
    make_catalog: Callable[..., dynio.Catalog], tmp_path: Path
) -> None:
    cat = make_catalog(orders(300), doc=passing_doc())  # ids repeat: has_unique_values fails
    with pytest.raises(ValidationError):
        cat.write("copy", cat.scan("sales"))
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_a_value_that_does_not_fit_is_a_cast_error(
    make_catalog: Callable[..., dynio.Catalog], tmp_path: Path
) -> None:
    cat = make_catalog(unique_orders(100), doc=passing_doc())
    lazy = cat.scan("sales").with_columns(pl.lit(2**40).alias("quantity"))
    with pytest.raises(CastError) as info:
        cat.write("copy", lazy)
    assert info.value.column == "quantity"
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_nan_counts_as_null_in_streaming_as_in_memory() -> None:
    frame = pl.DataFrame({"amount": [1.0, float("nan"), 1.0, None, 2.0]})
    doc = {
        "columns": {
            "amount": {
                "type": "float64",
                "validations": {"has_unique_values": opts()},
                "metrics": ["NullCount", "Mean"],
            }
        }
    }
    s = parse_schema(doc, resource="r")
    want = quality.evaluate(frame, s, resource="orders", env="test")
    got = streamed(frame, s)
    assert_same_report(got[0], want[0])
    assert_same_values(got[1], want[1])
    assert not math.isnan(got[1][1].value)


# ------------------------------------------------- partials merged from parts (the Dask path)


def by_parts(
    frame: pl.DataFrame, schema: SchemaSpec, cuts: list[int], buckets: int = 3
) -> tuple[ValidationReport, list[MetricValue]]:
    """Evaluate from parts of ``frame`` (cut at ``cuts``), as the distributed check does."""
    from functools import reduce

    from dynio.engine import partials

    bounds = [0, *cuts, frame.height]
    parts = [frame.slice(a, b - a) for a, b in itertools.pairwise(bounds)]
    checks = partials.Checks(schema, frame.schema)
    got = [checks.partial(p, i) for i, p in enumerate(parts)]
    # merged in a tree of another shape than the parts' order: merge is associative
    total = (
        reduce(partials.merge, got[1:], got[0])
        if len(got) < 3
        else partials.merge(got[0], reduce(partials.merge, got[2:], got[1]))
    )
    pieces = [checks.key_pieces(p, i, buckets) for i, p in enumerate(parts)]
    results = [
        partials.bucket_result([pc[b] for pc in pieces], checks.keys) for b in range(buckets)
    ]

    def run(query: streaming.Query) -> pl.DataFrame:
        return pl.concat([query(p.lazy()).collect() for p in parts])

    return checks.finalize(total, partials.merge_keys(results), run, resource="orders", env="test")


@pytest.mark.parametrize(
    ("n", "cuts"),
    [(0, []), (1, []), (7, [0, 3, 3]), (500, [100, 101, 250]), (5000, [1000, 2000, 4999])],
)
def test_partials_merged_equal_the_fused_select(
    n: int, cuts: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streaming, "_COLLECT_AT_MOST", 50)  # quantiles through histograms
    frame = orders(n, seed=n + 1)
    want = quality.evaluate(frame, schema(), resource="orders", env="test")
    got = by_parts(frame, schema(), [c for c in cuts if c <= n])
    assert_same_report(got[0], want[0])
    assert_same_values(got[1], want[1])


def test_approximate_mode_estimates_distinct_counts_from_sketches() -> None:
    from functools import reduce

    from dynio.engine import partials

    n = 60_000
    # ids 0..53,999 then 6,000 of them again: 12,000 rows of repeated ids, 6,000 beyond the first
    frame = orders(n, seed=5).with_columns(pl.int_range(n).mod(54_000).alias("id"))
    parts = [frame.slice(i, 20_000) for i in range(0, n, 20_000)]
    exact = quality.evaluate(frame, schema(), resource="orders", env="test")
    checks = partials.Checks(schema(), frame.schema, approximate=True)
    total = reduce(partials.merge, [checks.partial(p, i) for i, p in enumerate(parts)])

    def run(query: streaming.Query) -> pl.DataFrame:
        return pl.concat([query(p.lazy()).collect() for p in parts])

    report, values = checks.finalize(
        total, checks.approximate_keys(total), run, resource="orders", env="test"
    )
    got = {(v.column, v.metric, v.label): v.value for v in values}
    for v in exact[1]:
        key = (v.column, v.metric, v.label)
        if v.metric == "UniqueCounts":
            assert got[key] == pytest.approx(v.value, rel=0.03, abs=1), key
        elif isinstance(v.value, float):
            assert got[key] == pytest.approx(v.value, rel=1e-9), key
        else:
            assert got[key] == v.value, key
    failed = {(f.rule, f.column): f for f in report.failures}
    want = {(f.rule, f.column): f for f in exact[0].failures}
    # amount is unique but for its nulls: no false alarm from the sketch's error
    assert ("has_unique_values", "amount") not in failed
    assert ("has_unique_values", "amount") not in want
    dup = failed[("has_unique_values", "id")]
    assert want[("has_unique_values", "id")].failing_count == 12_000
    assert dup.failing_count == pytest.approx(6_000, rel=0.3)
    assert dup.sample == ()
    assert set(failed) == set(want)
