"""``Catalog.to_dask`` on a real local Dask cluster (two worker processes on loopback).

Every frame computed by Dask must equal what ``Catalog.read`` gives for the same arguments
(``pandas.testing``), for every file-based kind, with filters, projections, templates and hive
partitions; a worker killed in the middle of a computation must not change the result.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
import yaml

import dynio
from dynio.errors import CastError, ValidationError

distributed = pytest.importorskip("distributed")

SCHEMA = {
    "columns": {
        "id": {"type": "int64"},
        "ts": {"type": "datetime64[ns]"},
        "amount": {"type": "float64"},
        "country": {"type": "category"},
        "status": {"type": "str"},
        "qty": {"type": "int32"},
    }
}


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """A LocalCluster of two single-threaded worker processes on 127.0.0.1, and its client."""
    cluster = distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        silence_logs=40,
    )
    with cluster, distributed.Client(cluster) as c:
        yield c


def orders(n: int, start: int = 0, seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed + start)
    amount = rng.gamma(2.0, 40.0, n)
    amount[rng.random(n) < 0.05] = np.nan
    return pl.DataFrame(
        {
            "id": np.arange(start, start + n, dtype=np.int64),
            "ts": pl.datetime_range(
                pl.datetime(2024, 1, 1), pl.datetime(2024, 1, 1) + pl.duration(seconds=n - 1),
                "1s", eager=True,
            ),
            "amount": amount,
            "country": rng.choice(["GB", "FR", "DE"], n),
            "status": pl.Series(rng.choice(["new", "paid", ""], n)).replace("", None),
            "qty": rng.integers(1, 20, n),
        }
    )  # fmt: skip


@pytest.fixture
def lake(tmp_path: Path) -> Callable[..., dynio.Catalog]:
    """Data in every local layout, and a catalog over it."""
    frame = orders(6000)
    (tmp_path / "one").mkdir()
    frame.write_parquet(tmp_path / "one" / "orders.parquet", row_group_size=500)
    for k, day in enumerate(["2024-01-01", "2024-01-02", "2024-01-03"]):
        part = frame.slice(k * 2000, 2000)
        for fmt in ("parquet", "csv", "ndjson"):
            folder = tmp_path / fmt
            folder.mkdir(exist_ok=True)
            getattr(part, f"write_{fmt}")(folder / f"part-{k}.{fmt}")
        hive = tmp_path / "hive" / f"band={'abc'[k]}"
        hive.mkdir(parents=True)
        part.write_parquet(hive / "data.parquet")
        (tmp_path / "daily").mkdir(exist_ok=True)
        part.write_parquet(tmp_path / "daily" / f"{day}.parquet")

    def entry(kind: str, section: dict[str, Any]) -> dict[str, Any]:
        return {"local": {"type": kind, "local": section}, "schema": SCHEMA}

    doc = {
        "one": entry("local", {"file_path": f"{tmp_path}/one/orders.parquet"}),
        "daily": entry("local", {"file_path": f"{tmp_path}/daily/{{day}}.parquet"}),
        "hive": entry("local_batch", {"path_prefix": f"{tmp_path}/hive/", "file_type": "parquet"}),
        **{
            f"batch_{fmt}": entry(
                "local_batch", {"path_prefix": f"{tmp_path}/{fmt}/", "file_type": fmt}
            )
            for fmt in ("parquet", "csv", "ndjson")
        },
    }
    (tmp_path / "res.yaml").write_text(yaml.safe_dump(doc))

    def make() -> dynio.Catalog:
        return dynio.Catalog.from_yaml(tmp_path / "res.yaml", env="local")

    return make


def same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Equal as pandas frames; a Dask result's index restarts per partition, so it is reset."""
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True))


CASES = [
    ("one", {}),
    ("one", {"columns": ["id", "amount"]}),
    ("one", {"filters": [("qty", ">", 15)]}),
    ("one", {"filters": [("id", ">=", 5500)], "columns": ["country", "ts"]}),
    ("batch_parquet", {}),
    ("batch_csv", {"filters": [("country", "=", "GB")]}),
    ("batch_ndjson", {"columns": ["id", "status"]}),
    ("hive", {"filters": [("band", "=", "b")]}),
    ("hive", {"filters": [("band", "in", ["a", "c"]), ("qty", "<", 5)]}),
    ("daily", {"day": "2024-01-03"}),
]


@pytest.mark.parametrize(("name", "kwargs"), CASES)
def test_to_dask_equals_read(
    client: Any, lake: Callable[..., dynio.Catalog], name: str, kwargs: dict[str, Any]
) -> None:
    cat = lake()
    ddf = cat.to_dask(name, partition_rows=1500, **kwargs)
    got = ddf.compute()
    same(got, cat.read(name, **kwargs))
    assert {c: str(t) for c, t in ddf.dtypes.items()} == {c: str(t) for c, t in got.dtypes.items()}


def test_partitions_follow_files_row_groups_and_pruning(
    client: Any, lake: Callable[..., dynio.Catalog]
) -> None:
    cat = lake()
    assert cat.to_dask("one", partition_rows=1500).npartitions == 4  # 12 groups of 500 rows
    assert cat.to_dask("one").npartitions == 1
    assert cat.to_dask("batch_csv").npartitions == 3
    # two of the three hive folders are pruned on the client: one partition is left
    assert cat.to_dask("hive", filters=[("band", "=", "b")]).npartitions == 1


def test_an_index_sorted_in_the_files_gives_divisions(
    client: Any, lake: Callable[..., dynio.Catalog]
) -> None:
    cat = lake()
    ddf = cat.to_dask("one", index="id", partition_rows=2000)
    assert ddf.known_divisions
    assert ddf.divisions == (0, 2000, 4000, 5999)
    pd.testing.assert_frame_equal(ddf.compute(), cat.read("one").set_index("id"))
    # divisions let Dask read only the partition holding a label
    assert ddf.loc[4321].compute()["qty"].item() == cat.read("one").set_index("id").loc[4321, "qty"]
    assert not cat.to_dask("one", index="amount", partition_rows=2000).known_divisions


def test_a_worker_killed_mid_compute_changes_nothing(
    client: Any, lake: Callable[..., dynio.Catalog], tmp_path: Path
) -> None:
    cat = lake()
    marker = str(tmp_path / "killed-once")
    client_pid = os.getpid()

    def die_once(frame: pd.DataFrame) -> pd.DataFrame:
        # the first task to get here kills its worker process; the scheduler reruns it
        if os.getpid() == client_pid:
            return frame
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return frame
        os._exit(1)

    ddf = cat.to_dask("one", partition_rows=500)
    ddf = ddf.map_partitions(die_once, meta=ddf._meta)  # (never run on the client for meta)
    got = ddf.compute()
    assert os.path.exists(marker)
    same(got, cat.read("one"))


def test_a_cast_failure_in_a_partition_names_its_file(
    client: Any, lake: Callable[..., dynio.Catalog], tmp_path: Path
) -> None:
    cat = lake()
    bad = orders(10, start=9000).with_columns(pl.lit("many").alias("qty"))
    bad.write_csv(tmp_path / "csv" / "part-9.csv")
    ddf = cat.to_dask("batch_csv")  # planned on the client from the headers: no error yet
    with pytest.raises(CastError) as info:
        ddf.compute()
    assert info.value.column == "qty"
    assert info.value.file is not None
    assert info.value.file.endswith("part-9.csv")
    assert "many" in str(info.value)


def test_s3_dataset(client: Any, s3: Any, catalog_from: Callable[..., dynio.Catalog]) -> None:
    frame = orders(3000)
    for k in range(3):
        s3.put(f"lake/orders/part-{k}.parquet", _parquet(frame.slice(k * 1000, 1000)))
    cat = catalog_from(
        yaml.safe_dump(
            {
                "sales": {
                    "env": {
                        "type": "s3_path_prefix",
                        "s3": {
                            "bucket": s3.name,
                            "path_prefix": "lake/orders",
                            "file_type": "parquet",
                        },
                        "options": {"storage_options": dict(s3.storage_options)},
                    },
                    "schema": SCHEMA,
                }
            }
        ),
        env="env",
    )
    ddf = cat.to_dask("sales", filters=[("qty", ">", 10)], columns=["id", "qty", "country"])
    assert ddf.npartitions == 3
    same(
        ddf.compute(),
        cat.read("sales", filters=[("qty", ">", 10)], columns=["id", "qty", "country"]),
    )


def _parquet(frame: pl.DataFrame) -> bytes:
    import io

    buf = io.BytesIO()
    frame.write_parquet(buf)
    return buf.getvalue()


# ------------------------------------------------------------- rules and metrics on the cluster


def opts(**options: Any) -> dict[str, Any]:
    return {"apply": True, "options": options}


ALL = ["Min", "Max", "Mean", "Std", "Variance", "Counts", "UniqueCounts", "NullCount", "Quantiles"]
CHECKED = {
    "name": "orders",
    "columns": {
        "id": {"type": "int64", "validations": {"has_unique_values": opts()}, "metrics": ALL},
        "ts": {"type": "datetime64[ns]", "metrics": ["Min", "Max", "UniqueCounts"]},
        "amount": {
            "type": "float64",
            "validations": {
                "is_between": opts(lower=0, upper=300),
                "has_acceptable_percentage_of_nulls": opts(threshold=0.01),
            },
            "metrics": ALL,
        },
        "country": {
            "type": "category",
            "validations": {"is_in": opts(categorical_values=["GB", "FR", "ES"], match_all=True)},
            "metrics": ["CountsPerLabel", "UniqueCounts"],
        },
        "status": {
            "type": "str",
            "validations": {"has_no_null_values": opts()},
            "metrics": ["CountsPerLabel", "NullCount", "Min", "Max"],
        },
        "qty": {
            "type": "int32",
            "validations": {"is_lower_than": opts(threshold=18)},
            "metrics": ["Counts", "Quantiles", "Mean"],
        },
    },
    "validations": {
        "unique_together": opts(columns=["country", "qty", "status"]),
        "row_count_between": opts(min=1),
    },
}


@pytest.fixture
def checked(tmp_path: Path, lake: Callable[..., dynio.Catalog]) -> dynio.Catalog:
    """The parquet dataset with a fourth file repeating ids of the first, under CHECKED."""
    lake()
    orders(40, start=10, seed=7).write_parquet(tmp_path / "parquet" / "part-3.parquet")
    doc = {
        "sales": {
            "local": {
                "type": "local_batch",
                "local": {"path_prefix": f"{tmp_path}/parquet/", "file_type": "parquet"},
            },
            "schema": CHECKED,
        },
        "out": {
            "local": {
                "type": "local_batch",
                "local": {"path_prefix": f"{tmp_path}/out/", "file_type": "parquet"},
            },
            "schema": CHECKED,
        },
        "out_loose": {
            "local": {
                "type": "local_batch",
                "local": {"path_prefix": f"{tmp_path}/out_loose/", "file_type": "parquet"},
                "options": {"partition_cols": ["country"]},
            },
            "schema": SCHEMA,
        },
    }
    (tmp_path / "checked.yaml").write_text(yaml.safe_dump(doc))
    return dynio.Catalog.from_yaml(tmp_path / "checked.yaml", env="local")


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"filters": [("qty", "<", 10)]}, {"columns": ["id", "amount", "country"]}],
)
def test_check_on_dask_equals_read(
    client: Any, checked: dynio.Catalog, kwargs: dict[str, Any]
) -> None:
    from test_streaming_checks import assert_same_report, assert_same_values

    got = checked.check("sales", dask=True, raise_on_error=False, **kwargs)
    want = checked.read_result("sales", raise_on_error=False, **kwargs)
    assert_same_report(got.report, want.report)
    assert_same_values(got.metrics, want.metrics)
    failed = {(f.rule, f.column) for f in got.report.failures}
    if not kwargs:
        assert ("has_unique_values", "id") in failed  # ids repeated across two files
        dup = next(f for f in got.report.failures if f.rule == "has_unique_values")
        assert dup.sample == tuple(range(10, 15))


def test_check_on_dask_raises_on_a_failed_rule(client: Any, checked: dynio.Catalog) -> None:
    with pytest.raises(ValidationError) as info:
        checked.check("sales", dask=True)
    assert not info.value.report.ok
    assert checked.last_report == info.value.report


def test_write_of_a_dask_frame_commits_once_the_rules_pass(
    client: Any, checked: dynio.Catalog, tmp_path: Path
) -> None:
    ddf = checked.to_dask("sales", filters=[("id", ">=", 100)])  # the repeated ids are gone
    ddf = ddf[~ddf["status"].isna() & (ddf["qty"] < 18) & (ddf["amount"] < 300)]
    ddf = ddf[~ddf["amount"].isna()]
    # unique_together and is_in still fail: write to the loose schema first
    result = checked.write("out_loose", ddf)
    want = ddf.compute().reset_index(drop=True)
    assert result.info.rows == len(want)
    back = checked.read("out_loose").sort_values("id", ignore_index=True)
    assert sorted(p.name for p in (tmp_path / "out_loose").iterdir()) == [
        "country=DE", "country=FR", "country=GB",
    ]  # fmt: skip
    pd.testing.assert_frame_equal(
        back[want.columns.tolist()],
        want.sort_values("id", ignore_index=True),
        check_categorical=False,
    )
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out_loose")]


def test_a_failed_rule_on_dask_writes_nothing(
    client: Any, checked: dynio.Catalog, tmp_path: Path
) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.parquet").write_bytes(b"the previous version")
    with pytest.raises(ValidationError) as info:
        checked.write("out", checked.to_dask("sales"))
    assert ("has_unique_values", "id") in {(f.rule, f.column) for f in info.value.report.failures}
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["old.parquet"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]  # no staging left


# ----------------------------------------------------------------------------------- telemetry


def _export_spans_to(endpoint: str, service: str) -> None:
    """(On a worker) send finished spans over OTLP/HTTP to ``endpoint``, one request each."""
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", timeout=10))
    )
    trace.set_tracer_provider(provider)


def _stop_exporting() -> None:
    from opentelemetry import trace

    trace.get_tracer_provider().shutdown()  # type: ignore[attr-defined]


def test_partition_spans_on_workers_are_children_of_the_client_span(
    client: Any, checked: dynio.Catalog, otel: Any, otlp_receiver: Any
) -> None:
    otlp_receiver.clear()
    client.run(_export_spans_to, otlp_receiver.http_endpoint, "dynio-dask-workers")
    try:
        got = checked.check("sales", dask=True, raise_on_error=False)
        ddf = checked.to_dask("sales")
        ddf.compute()
    finally:
        client.run(_stop_exporting)  # SimpleSpanProcessor: every span was sent when it ended
    worker_spans = [
        (s, rs)
        for r in otlp_receiver.take("traces")
        for rs in r.message.resource_spans
        for ss in rs.scope_spans
        for s in ss.spans
    ]
    check_span = otel.span("dynio.check")
    to_dask_span = otel.span("dynio.to_dask")
    assert check_span.attributes["dynio.rows"] == got.report.rows
    assert check_span.attributes["dynio.bytes"] > 0

    def parented(name: str, parent: Any) -> list[Any]:
        return [
            s
            for s, _ in worker_spans
            if s.name == name
            and s.trace_id == parent.context.trace_id.to_bytes(16, "big")
            and s.parent_span_id == parent.context.span_id.to_bytes(8, "big")
        ]

    parts = len(ddf.divisions) - 1
    # the check reads each partition (and reads them again for exact quantiles)
    assert len(parented("dynio.partition.check", check_span)) == 4
    assert len(parented("dynio.partition", check_span)) >= 4
    assert len(parented("dynio.partition", to_dask_span)) == parts == 4
    rows = [
        next(a.value.int_value for a in s.attributes if a.key == "dynio.rows")
        for s in parented("dynio.partition.check", check_span)
    ]
    assert sum(rows) == got.report.rows


# ------------------------------------------------------------------------- SQL, in key ranges


def test_postgres_in_key_ranges(
    client: Any, postgres: Any, catalog_from: Callable[..., dynio.Catalog]
) -> None:
    import psycopg

    with psycopg.connect(postgres.uri, autocommit=True) as con:
        con.execute(
            "DROP TABLE IF EXISTS dask_orders; CREATE TABLE dask_orders AS"
            " SELECT g AS id, chr(97 + g % 5) AS cat, g / 10.0::float8 AS x"
            " FROM generate_series(1, 1003) g"
        )
    text = (
        'dask_orders:\n  pg:\n    type: postgres\n    postgres: {uri: "[[ PG_URI ]]"}\n'
        "    options: {table: dask_orders, partition_on: id, partition_num: 4}\n"
        "  schema:\n    columns: {id: {type: int64}, cat: {type: category}, x: {type: float64}}\n"
    )
    cat = catalog_from(text, env="pg", vars={"PG_URI": postgres.uri})
    ddf = cat.to_dask("dask_orders", index="id")
    assert ddf.npartitions == 4
    assert ddf.divisions == (1, 252, 503, 754, 1003)
    pd.testing.assert_frame_equal(
        ddf.compute(), cat.read("dask_orders").sort_values("id").set_index("id")
    )
    kwargs: dict[str, Any] = {
        "filters": [("cat", "in", ["a", "c"]), ("x", "<", 60)],
        "columns": ["id", "x"],
    }
    ddf = cat.to_dask("dask_orders", partition_num=3, **kwargs)
    assert ddf.npartitions == 3
    same(ddf.compute().sort_values("id"), cat.read("dask_orders", **kwargs).sort_values("id"))


def test_check_on_dask_approximate(client: Any, checked: dynio.Catalog) -> None:
    got = checked.check("sales", dask=True, approximate=True, raise_on_error=False)
    want = checked.read_result("sales", raise_on_error=False)
    mine = {(v.column, v.metric, v.label): v.value for v in got.metrics}
    for v in want.metrics:
        key = (v.column, v.metric, v.label)
        if v.metric == "UniqueCounts":
            assert mine[key] == pytest.approx(v.value, rel=0.03), key
        elif isinstance(v.value, float):
            assert mine[key] == pytest.approx(v.value, rel=1e-9), key
        else:
            assert mine[key] == v.value, key
    # 40 repeated ids among 6,040 rows are within the sketch's error: not decided
    exact = {(f.rule, f.column) for f in want.report.failures} - {("has_unique_values", "id")}
    assert {(f.rule, f.column) for f in got.report.failures} - {
        ("has_unique_values", "id")
    } == exact


def test_write_of_a_dask_frame_to_an_s3_dataset(
    client: Any, checked: dynio.Catalog, s3: Any, tmp_path: Path
) -> None:
    strict = dict(CHECKED, validations={})
    doc = {
        name: {
            "env": {
                "type": "s3_path_prefix",
                "s3": {"bucket": s3.name, "path_prefix": "lake/orders", "file_type": "parquet"},
                "options": {"storage_options": dict(s3.storage_options), **extra},
            },
            "schema": schema,
        }
        for name, schema, extra in [
            ("loose", SCHEMA, {"partition_cols": ["country"]}),
            ("strict", strict, {}),
        ]
    }
    (tmp_path / "s3.yaml").write_text(yaml.safe_dump(doc))
    cat = dynio.Catalog.from_yaml(tmp_path / "s3.yaml", env="env")
    s3.put("lake/orders/old.parquet", _parquet(orders(5)))
    ddf = checked.to_dask("sales", filters=[("id", "<", 3000)], columns=list(SCHEMA["columns"]))
    # has_unique_values and the other rules of the strict schema fail: nothing changes
    with pytest.raises(ValidationError):
        cat.write("strict", ddf)
    assert s3.keys() == ["lake/orders/old.parquet"]  # no staging object left either
    result = cat.write("loose", ddf)
    keys = s3.keys()
    assert "lake/orders/old.parquet" not in keys
    assert {k.split("/")[2] for k in keys} == {"country=DE", "country=FR", "country=GB"}
    want = ddf.compute().sort_values(["id", "ts"], ignore_index=True)
    back = cat.read("loose").sort_values(["id", "ts"], ignore_index=True)
    assert result.info.rows == len(want)
    pd.testing.assert_frame_equal(back[want.columns.tolist()], want, check_categorical=False)
