"""Concurrency: many ``read_async``/``write_async`` at once, threads sharing one ``Catalog``,
and the telemetry of concurrent operations.

Every write of a shared resource writes one complete *version*: ``size(k)`` rows, all carrying
``version == k`` and ``tag == "v{k}"``, ids ``0..size(k)-1``. Sizes differ per version, so a read
that mixed the metadata of one version with the data of another, or saw a file half-written,
cannot pass :func:`check_version`. Reads racing the writes must each return one whole version,
and the final state must be one of the versions written.

Local parquet and csv always run; PostgreSQL and S3 (moto) run when their fixtures are available
(``DYNIO_SKIP_POSTGRES=1`` / ``DYNIO_SKIP_S3=1`` skip them).
"""

from __future__ import annotations

import asyncio
import io
import random
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest
import yaml
from fixtures.otel import OtelCapture

import dynio
from dynio.engine.errors import ValidationError

CatalogFrom = Callable[..., dynio.Catalog]

COLUMNS = {"id": "int64", "version": "int64", "tag": "str"}
VERSIONS = 30  # versions written per shared resource in one gather
READS = 30  # reads racing them


def size(k: int) -> int:
    """Rows of version ``k`` (each version a different length)."""
    return 500 + 37 * k


def version(k: int) -> pl.DataFrame:
    n = size(k)
    return pl.DataFrame(
        {"id": range(n), "version": [k] * n, "tag": [f"v{k}"] * n},
        schema={"id": pl.Int64, "version": pl.Int64, "tag": pl.String},
    )


def check_version(frame: pd.DataFrame | pl.DataFrame, allowed: set[int]) -> int:
    """The version a frame holds; fails unless it is one whole version among ``allowed``."""
    df = pl.from_pandas(frame) if isinstance(frame, pd.DataFrame) else frame
    assert df.columns == ["id", "version", "tag"], df.columns
    assert df.height > 0, "empty read"
    versions = df["version"].unique().to_list()
    assert len(versions) == 1, f"a read mixed versions {versions}"
    k = int(versions[0])
    assert k in allowed, f"version {k} was never written"
    assert df.height == size(k), f"version {k}: {df.height} rows of {size(k)}"
    assert df["id"].to_list() == list(range(size(k))), f"version {k}: ids out of order"
    assert (df["tag"] == f"v{k}").all(), f"version {k}: tags of another version"
    return k


def resource(name: str, env: dict[str, Any], columns: dict[str, str] | None = COLUMNS) -> str:
    body: dict[str, Any] = {"env": env}
    if columns is not None:
        body["schema"] = {"columns": columns}
    return yaml.safe_dump({name: body}, sort_keys=False)


def local(name: str, path: str, file_type: str) -> str:
    return resource(name, {"type": "local", "local": {"file_path": path, "file_type": file_type}})


async def race(cat: dynio.Catalog, name: str, first: int) -> tuple[list[int], set[int]]:
    """``VERSIONS`` writes and ``READS`` reads of one resource in one gather, shuffled.

    Version ``first`` is written before; returns the versions the reads saw and those written.
    """
    await cat.write_async(name, version(first))
    written = set(range(first, first + VERSIONS + 1))
    ops: list[Any] = [
        cat.write_async(name, version(k)) for k in range(first + 1, first + 1 + VERSIONS)
    ]
    ops += [cat.read_async(name) for _ in range(READS)]
    random.Random(first).shuffle(ops)
    results = await asyncio.gather(*ops)
    seen = [check_version(r, written) for r in results if isinstance(r, pd.DataFrame)]
    assert len(seen) == READS
    return seen, written


# ------------------------------------------------------------------------ asyncio.gather, local


# A parquet file replaced while it is read: Polars keeps the footer it read when planning, so a
# reader racing ``os.replace`` would pair one version's footer with another's pages. The local
# source tells the engine when the file changed under a read, and the read is made again.
@pytest.mark.parametrize("file_type", ["parquet", "csv", "ndjson"])
def test_gather_reads_racing_writes_of_one_local_file(
    catalog_from: CatalogFrom, tmp_path: Path, file_type: str
) -> None:
    """30 writes and 30 reads of one local file in one gather: every read one whole version."""
    cat = catalog_from(local("shared", f"data/shared.{file_type}", file_type), env="env")
    seen, written = asyncio.run(race(cat, "shared", 0))
    assert check_version(cat.read("shared"), written) in written
    assert set(seen) <= written
    # no temporary file of any writer is left behind
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [f"shared.{file_type}"]


def test_gather_reads_and_writes_of_different_local_resources(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    """40 resources (parquet and csv), a write then a read of each, all 80 in one gather."""
    own = [f"own{i}" for i in range(40)]
    text = "".join(
        local(n, f"data/own/{n}.{'csv' if i % 2 else 'parquet'}", "csv" if i % 2 else "parquet")
        for i, n in enumerate(own)
    )
    cat = catalog_from(text, env="env")

    async def main() -> None:
        await asyncio.gather(*(own_round_trip(cat, n, i) for i, n in enumerate(own)))

    asyncio.run(main())
    for i, n in enumerate(own):
        assert check_version(cat.read(n), {i}) == i
    leftovers = [p.name for p in (tmp_path / "data").rglob("*") if p.name.startswith(".")]
    assert leftovers == []


async def own_round_trip(cat: dynio.Catalog, name: str, k: int) -> None:
    await cat.write_async(name, version(k))
    check_version(await cat.read_async(name), {k})


def test_gather_of_template_args_on_one_resource(catalog_from: CatalogFrom) -> None:
    """One resource, 60 different files by ``{part}``: writes then reads, each its own file."""
    cat = catalog_from(local("parts", "data/parts/{part}.parquet", "parquet"), env="env")

    async def main() -> list[pd.DataFrame]:
        await asyncio.gather(*(cat.write_async("parts", version(k), part=k) for k in range(60)))
        return list(await asyncio.gather(*(cat.read_async("parts", part=k) for k in range(60))))

    for k, frame in enumerate(asyncio.run(main())):
        assert check_version(frame, {k}) == k


# ------------------------------------------------------------------------------- real backends


def test_gather_on_s3(catalog_from: CatalogFrom, request: pytest.FixtureRequest) -> None:
    """The same race on an S3 object (moto): single puts, so a read should see one whole object.

    Polars fetches the footer, then ranges of the object by the footer's offsets; a put between
    them pairs one version's footer with another's bytes (a panic or a corrupt-file error).
    """
    bucket = request.getfixturevalue("s3")
    env = {
        "type": "s3",
        "s3": {"bucket": bucket.name, "file_path": "shared.parquet", "file_type": "parquet"},
        "options": {"storage_options": {**bucket.storage_options}},
    }
    cat = catalog_from(resource("shared", env), env="env")
    _, written = asyncio.run(race(cat, "shared", 0))
    assert check_version(cat.read("shared"), written) in written
    assert bucket.keys() == ["shared.parquet"]


def test_ranged_s3_reads_racing_puts_read_again(
    catalog_from: CatalogFrom, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An object read in ranges (as large ones are) is checked for a new version after the read,
    and read again when a put replaced it: 20 reads racing 4 puts each see one whole version."""
    from dynio.engine.sources import objectstore

    monkeypatch.setattr(objectstore, "WHOLE_OBJECT_BYTES", 0)  # every object read in ranges
    bucket = request.getfixturevalue("s3")
    env = {
        "type": "s3",
        "s3": {"bucket": bucket.name, "file_path": "ranged.parquet", "file_type": "parquet"},
        "options": {"storage_options": {**bucket.storage_options}},
    }
    cat = catalog_from(resource("ranged", env), env="env")

    async def main() -> list[Any]:
        await cat.write_async("ranged", version(0))
        ops: list[Any] = [cat.write_async("ranged", version(k)) for k in range(1, 5)]
        ops += [cat.read_async("ranged") for _ in range(20)]
        random.Random(7).shuffle(ops)
        return list(await asyncio.gather(*ops))

    results = asyncio.run(main())
    frames = [r for r in results if isinstance(r, pd.DataFrame)]
    assert len(frames) == 20
    for frame in frames:
        check_version(frame, set(range(5)))


@pytest.mark.parametrize("mode", ["replace", "truncate_and_append"])
def test_gather_on_postgres(
    catalog_from: CatalogFrom, request: pytest.FixtureRequest, mode: str
) -> None:
    """The same race on a PostgreSQL table: each write is one transaction."""
    server = request.getfixturevalue("postgres")
    table = f"conc_{mode}"
    env = {
        "type": "postgres",
        "postgres": dict(server.settings),
        "options": {"table": table, "write_mode": mode},
    }
    cat = catalog_from(resource("shared", env), env="env")
    _, written = asyncio.run(race(cat, "shared", 0))
    assert check_version(cat.read("shared"), written) in written


# ------------------------------------------------------------------------ threads, one Catalog

THREADED = {
    "rides": {
        "env": {"type": "local", "local": {"file_path": "data/rides.parquet"}},
        "schema": {
            "columns": {
                "id": {"type": "int64"},
                "fare": {"type": "float64", "metrics": ["Max", "Min"]},
                "city": {"type": "str"},
            }
        },
    },
    "rides_strict": {
        "env": {"type": "local", "local": {"file_path": "data/rides.parquet"}},
        "schema": {
            "columns": {
                "id": {"type": "int64"},
                "fare": {
                    "type": "float64",
                    "validations": {
                        "is_greater_than": {"apply": True, "options": {"threshold": 0}}
                    },
                },
                "city": {"type": "str"},
            }
        },
    },
    "daily": {
        "env": {
            "type": "local",
            "local": {"file_path": "data/daily/{day}.csv", "file_type": "csv"},
        },
        "schema": {"columns": {"id": {"type": "int64"}, "day": {"type": "int64"}}},
    },
}

RIDES = pl.DataFrame(
    {
        "id": list(range(200)),
        "fare": [float(i % 50) for i in range(200)],  # fares of 0 break rides_strict
        "city": [["ath", "ldn", "nyc", "par"][i % 4] for i in range(200)],
    }
)


@dataclass(frozen=True)
class Outcome:
    """What one task saw, in its own thread, right after its call."""

    task: int
    thread: int
    frame: pl.DataFrame | None
    failed: bool
    report_resource: str | None
    report_failures: int | None
    metrics: dict[tuple[str, str], Any]


def _task(cat: dynio.Catalog, i: int) -> Outcome:
    kind = i % 5
    frame: pl.DataFrame | None = None
    failed = False
    if kind == 0:  # projection + filter
        low = i % 40
        frame = pl.from_pandas(
            cat.read("rides", columns=["id", "fare"], filters=[("fare", ">=", low)])
        )
    elif kind == 1:  # a polars expression filter on another city each time
        city = ["ath", "ldn", "nyc", "par"][i % 4]
        frame = cat.read_polars("rides", filters=pl.col("city") == city)
    elif kind == 2:  # a validation that fails
        try:
            cat.read("rides_strict")
        except ValidationError:
            failed = True
    elif kind == 3:  # the same rules passing on rows without fare 0
        frame = cat.read_polars("rides_strict", filters=[("fare", ">", 0)])
    else:  # template args: a file per day
        frame = cat.read_polars("daily", day=i % 7)
    report = cat.last_report
    return Outcome(
        task=i,
        thread=threading.get_ident(),
        frame=frame,
        failed=failed,
        report_resource=report.resource if report is not None else None,
        report_failures=len(report.failures) if report is not None else None,
        metrics={(m.column, m.metric): m.value for m in cat.last_metrics},
    )


def _expected(i: int) -> tuple[pl.DataFrame | None, str, int, dict[tuple[str, str], Any]]:
    kind = i % 5
    if kind == 0:
        low = i % 40
        exp = RIDES.filter(pl.col("fare") >= low).select("id", "fare")
        return exp, "rides", 0, {("fare", "Max"): 49.0, ("fare", "Min"): float(low)}
    if kind == 1:
        city = ["ath", "ldn", "nyc", "par"][i % 4]
        exp = RIDES.filter(pl.col("city") == city)
        return (
            exp,
            "rides",
            0,
            {("fare", "Max"): exp["fare"].max(), ("fare", "Min"): exp["fare"].min()},
        )
    if kind == 2:
        return None, "rides_strict", 1, {}
    if kind == 3:
        return RIDES.filter(pl.col("fare") > 0), "rides_strict", 0, {}
    day = i % 7
    return pl.DataFrame({"id": [day * 10, day * 10 + 1], "day": [day, day]}), "daily", 0, {}


@pytest.mark.parametrize("workers", [8, 16])
def test_threads_sharing_one_catalog_see_their_own_results_and_reports(
    catalog_from: CatalogFrom, tmp_path: Path, workers: int
) -> None:
    (tmp_path / "data" / "daily").mkdir(parents=True)
    RIDES.write_parquet(tmp_path / "data" / "rides.parquet")
    for day in range(7):
        pl.DataFrame({"id": [day * 10, day * 10 + 1], "day": [day, day]}).write_csv(
            tmp_path / "data" / "daily" / f"{day}.csv"
        )
    cat = catalog_from(yaml.safe_dump(THREADED, sort_keys=False), env="env")
    start = threading.Barrier(workers)

    def run(i: int) -> Outcome:
        if i < workers:
            start.wait()  # the first task of every worker starts at once
        return _task(cat, i)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(run, range(workers * 12)))
    assert len({o.thread for o in outcomes}) > 1
    for o in outcomes:
        frame, resource_name, failures, metrics = _expected(o.task)
        assert o.report_resource == resource_name, o
        assert o.report_failures == failures, o
        assert o.failed == (frame is None), o
        if frame is not None:
            assert o.frame is not None
            assert o.frame.equals(frame), o.task
        assert o.metrics == metrics, o
    # the calling thread did nothing: its own last report stays empty
    assert cat.last_report is None
    assert cat.last_metrics == []


def test_last_report_is_per_thread(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    """``last_report``/``last_metrics`` are thread-local: no thread sees another's (pinned)."""
    (tmp_path / "data").mkdir()
    RIDES.write_parquet(tmp_path / "data" / "rides.parquet")
    cat = catalog_from(yaml.safe_dump(THREADED, sort_keys=False), env="env")
    cat.read("rides")
    mine = cat.last_report
    assert mine is not None
    assert mine.resource == "rides"
    gate, done = threading.Event(), threading.Event()
    seen: list[Any] = []

    def other() -> None:
        seen.append(cat.last_report)  # nothing yet in this thread
        with pytest.raises(ValidationError):
            cat.read("rides_strict")
        seen.append(cat.last_report)
        gate.set()
        done.wait()

    thread = threading.Thread(target=other)
    thread.start()
    gate.wait()
    assert cat.last_report is mine  # the other thread's failed read did not land here
    assert {m.metric for m in cat.last_metrics} == {"Max", "Min"}
    done.set()
    thread.join()
    assert seen[0] is None
    assert seen[1] is not None
    assert seen[1].resource == "rides_strict"
    assert not seen[1].ok


# ---------------------------------------------------------------------------- shared state


def test_concurrent_dataset_reads_leave_the_warning_filters_alone(
    catalog_from: CatalogFrom, request: pytest.FixtureRequest
) -> None:
    """Multi-file object-store reads in many threads must not change ``warnings.filters``.

    The optimistic dataset scan (object stores) builds its cast options inside
    ``warnings.catch_warnings()``, which swaps the process-wide filter list: two threads inside
    it at once restore each other's lists, leaving a filter installed (or dropped) for good.
    """
    bucket = request.getfixturevalue("s3")
    for i in range(4):
        buf = io.BytesIO()
        RIDES.slice(50 * i, 50).write_parquet(buf)
        bucket.put(f"parts/p{i}.parquet", buf.getvalue())
    env = {
        "type": "s3_path_prefix",
        "s3": {"bucket": bucket.name, "path_prefix": "parts/", "file_type": "parquet"},
        "options": {"storage_options": {**bucket.storage_options}},
    }
    cat = catalog_from(
        resource("parts", env, {"id": "int64", "fare": "float64", "city": "str"}), env="env"
    )
    before = list(warnings.filters)

    def read(_: int) -> int:
        return cat.read_polars("parts").height

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so the race shows if it is there
    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            heights = list(pool.map(read, range(160)))
    finally:
        sys.setswitchinterval(interval)
    assert heights == [200] * 160
    assert warnings.filters == before


# -------------------------------------------------------------------- telemetry under concurrency


def _op_spans(otel: OtelCapture) -> list[Any]:
    return [s for s in otel.spans() if s.name in ("dynio.read", "dynio.write")]


def _ancestors(span: Any, by_id: dict[int, Any]) -> Iterator[Any]:
    current = span
    while current.parent is not None and current.parent.span_id in by_id:
        current = by_id[current.parent.span_id]
        yield current


def test_concurrent_operations_are_never_parented_to_each_other(
    catalog_from: CatalogFrom, otel: OtelCapture
) -> None:
    """60 operations of 20 resources in one gather, then 48 in 12 plain threads, then a gather
    under a caller's span: every operation is a root (or the caller's child), its stages are its
    own, and rows add up per resource."""
    from opentelemetry import trace

    names = [f"r{i}" for i in range(20)]
    cat = catalog_from("".join(local(n, f"data/{n}.parquet", "parquet") for n in names), env="env")
    sizes = {n: size(i) for i, n in enumerate(names)}

    async def gather_all() -> None:
        await asyncio.gather(*(cat.write_async(n, version(i)) for i, n in enumerate(names)))
        await asyncio.gather(*(cat.read_async(n) for n in names for _ in range(2)))

    asyncio.run(gather_all())
    with ThreadPoolExecutor(max_workers=12) as pool:
        list(pool.map(lambda n: cat.read_polars(n), names * 2 + names[:8]))

    tracer = trace.get_tracer("tests")
    with tracer.start_as_current_span("caller") as caller:
        asyncio.run(_read_all(cat, names))
    caller_id = caller.get_span_context().span_id

    spans = otel.spans()
    by_id = {s.context.span_id: s for s in spans}
    ops = _op_spans(otel)
    assert len(ops) == 20 + 40 + 48 + 20
    for op in ops:
        ancestors = list(_ancestors(op, by_id))
        assert not [a.name for a in ancestors if _is_op(a)], op.name
        if op.parent is not None:
            assert op.parent.span_id == caller_id
        attrs = dict(op.attributes or {})
        assert attrs["dynio.rows"] == sizes[attrs["dynio.resource"]]
    # every stage belongs to the operation of its trace, and carries that resource's rows
    for s in spans:
        if s.name in ("dynio.scan", "dynio.sink", "dynio.to_pandas") and not _is_op(s):
            op = next(a for a in _ancestors(s, by_id) if _is_op(a))
            resource_name = dict(op.attributes or {})["dynio.resource"]
            assert (
                dict(s.attributes or {}).get("dynio.rows", sizes[resource_name])
                == sizes[resource_name]
            ), (s.name, resource_name)
    roots = [op for op in ops if op.parent is None]
    assert len({op.context.trace_id for op in roots}) == len(roots)
    under_caller = [op for op in ops if op.parent is not None]
    assert len(under_caller) == 20
    assert {op.context.trace_id for op in under_caller} == {caller.get_span_context().trace_id}
    # rows read per resource: 2 gathered + (2 or 3) threaded + 1 under the caller
    read_rows: dict[str, int] = {}
    for p in otel.points():
        if p.name == "dynio.io.rows" and p.attributes["dynio.io.direction"] == "read":
            key = p.attributes["dynio.resource"]
            read_rows[key] = read_rows.get(key, 0) + int(p.value)
    for i, n in enumerate(names):
        reads = 2 + (3 if i < 8 else 2) + 1
        assert read_rows[n] == reads * sizes[n], n


def _is_op(span: Any) -> bool:
    """An operation's span (``dynio.read``…), not a stage (``dynio.scan`` inside a read)."""
    return "dynio.operation" in dict(span.attributes or {})


async def _read_all(cat: dynio.Catalog, names: list[str]) -> None:
    await asyncio.gather(*(cat.read_async(n) for n in names))


def test_registering_one_rule_name_from_many_threads_lets_one_win() -> None:
    """``register_rule`` checks and sets under a lock: of 16 threads racing for one name, one
    registers it and the others are refused."""
    from dynio.engine.rules import register_rule, unregister_rule

    start = threading.Barrier(16)

    def register(i: int) -> bool:
        def rule(col: pl.Expr) -> pl.Expr:
            return col > i

        start.wait()
        try:
            register_rule("racing_rule")(rule)
        except ValueError:
            return False
        return True

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            won = list(pool.map(register, range(16)))
    finally:
        sys.setswitchinterval(interval)
        unregister_rule("racing_rule")
    assert won.count(True) == 1
