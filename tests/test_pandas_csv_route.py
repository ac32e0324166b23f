"""Which reader serves ``dynio.pandas.read_csv``: the route (``csv_route``), its record
(``last_read``), and the shapes the fast path serves under the default route.

Every read is compared with pandas' own (values, dtypes, index, labels; floats exactly).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from pandas_versions import CSV_FLOATS_ROUND_TRIP

import dynio.pandas as dp
from dynio.pandas import _csv_route
from dynio.pandas._common import _Fallback

# files with decimals: Polars reads them where this pandas parses decimals correctly rounded,
# as Polars does (pandas >= 3.1); older pandas reads them itself
DECIMALS = "polars" if CSV_FLOATS_ROUND_TRIP else "pandas"


def _same(path: Path, **kwargs: Any) -> dp.ReadPath:
    got = dp.read_csv(path, **kwargs)
    pd.testing.assert_frame_equal(got, pd.read_csv(path, **kwargs), check_exact=True)
    read = dp.last_read()
    assert read is not None
    return read


def _timestamps(path: Path, rows: int, *, fraction: bool, repeat: int = 1) -> Path:
    """Orders-like rows: distinct (or ``repeat``-times repeated) timestamps, numbers, text."""
    rng = np.random.default_rng(20261205)
    start = dt.datetime(2024, 1, 1)
    micros = np.sort(rng.integers(0, 10**12, rows // repeat)).repeat(repeat)
    fmt = "%Y-%m-%d %H:%M:%S.%f" if fraction else "%Y-%m-%d %H:%M:%S"
    ts = [(start + dt.timedelta(microseconds=int(m))).strftime(fmt) for m in micros]
    frame = pd.DataFrame(
        {
            "id": np.arange(len(ts)),
            "ts": ts,
            "amount": rng.gamma(2.0, 40.0, len(ts)).round(2),
            "status": rng.choice(["new", "paid", "shipped"], len(ts)),
        }
    )
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def small_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files of a few hundred KB count as large (so the tests need not write 8 MiB)."""
    monkeypatch.setattr(_csv_route, "POLARS_MIN_BYTES", 1 << 10)


def test_last_read_is_none_before_any_call() -> None:
    assert contextvars.Context().run(dp.last_read) is None


def test_small_files_go_straight_to_pandas(tmp_path: Path) -> None:
    path = tmp_path / "small.csv"
    path.write_text("a,b,when\n1,x,2024-01-01 10:00:00.5\n2,y,2024-01-02 11:00:00.25\n")
    read = _same(path)
    reason = "no parse_dates: pandas' own parser is as fast"
    assert read == dp.ReadPath("read_csv", "pandas", reason)
    read = _same(path, parse_dates=["when"])
    assert read.reader == "pandas"
    assert read.reason == "a file under 8 MiB"


def test_routes_choose_the_reader(tmp_path: Path) -> None:
    path = tmp_path / "small.csv"
    path.write_text("a,b\n1,x\n2,y\n")
    with dp.csv_route("polars"):
        assert _same(path) == dp.ReadPath("read_csv", "polars", None)
        with dp.csv_route("pandas"):
            assert _same(path) == dp.ReadPath("read_csv", "pandas", "route 'pandas'")
        assert _same(path).reader == "polars"
    assert _same(path).reader == "pandas"
    with pytest.raises(ValueError, match="csv_route must be one of"), dp.csv_route("arrow"):  # type: ignore[arg-type]
        pass


def test_read_table_is_recorded_under_its_own_name(tmp_path: Path) -> None:
    path = tmp_path / "t.tsv"
    path.write_text("a\tb\n1\tx\n")
    with dp.csv_route("polars"):
        dp.read_table(path)
    assert dp.last_read() == dp.ReadPath("read_table", "polars", None)


def test_the_record_belongs_to_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "small.csv"
    path.write_text("a,b\n1,x\n")
    with dp.csv_route("polars"):
        dp.read_csv(path)
    other: list[dp.ReadPath | None] = []
    thread = threading.Thread(target=lambda: other.append((dp.read_csv(path), dp.last_read())[1]))
    thread.start()
    thread.join(timeout=60)
    assert other
    assert other[0] is not None
    assert other[0].reader == "pandas"
    assert dp.last_read() == dp.ReadPath("read_csv", "polars", None)


def test_large_files_of_distinct_fractional_timestamps_take_polars(
    tmp_path: Path, small_threshold: None
) -> None:
    path = _timestamps(tmp_path / "ts.csv", 3000, fraction=True)
    assert _same(path, parse_dates=["ts"]).reader == DECIMALS
    assert _same(path, parse_dates=["ts"], usecols=["id", "ts"]) == dp.ReadPath(
        "read_csv", "polars", None
    )


@pytest.mark.parametrize(
    ("fraction", "repeat"), [(False, 1), (True, 50)], ids=["whole_seconds", "repeated"]
)
def test_dates_pandas_parses_as_fast_stay_with_pandas(
    tmp_path: Path, small_threshold: None, fraction: bool, repeat: int
) -> None:
    path = _timestamps(tmp_path / "ts.csv", 3000, fraction=fraction, repeat=repeat)
    read = _same(path, parse_dates=["ts"])
    assert read.reader == "pandas"
    assert read.reason == "dates pandas parses as fast (repeated, or whole seconds)"
    assert _same(path, parse_dates=["ts"], cache_dates=False).reader == (
        DECIMALS if fraction else "pandas"
    )


def test_non_iso_timestamps_stay_with_pandas(tmp_path: Path, small_threshold: None) -> None:
    path = _timestamps(tmp_path / "ts.csv", 3000, fraction=True)
    path.write_text(path.read_text().replace("-", "/"))
    assert _same(path, parse_dates=["ts"]).reader == "pandas"
    assert _same(path, parse_dates=["ts"], cache_dates=False).reader == "pandas"


@pytest.mark.parametrize(
    "late",
    ["NA", "", "1.5", "n/a", "text"],
    ids=["na_marker", "empty", "decimal", "other_marker", "text"],
)
def test_a_late_value_re_reads_its_column_only(tmp_path: Path, late: str) -> None:
    """A value after Polars' inference rows that breaks an integer column (an NA, a decimal,
    text) leaves the fast path exact, and the other columns keep their types."""
    rows = [f"{i},{i * 2},{i}.5,x{i}" for i in range(300)]
    _, *rest = rows[250].split(",")
    rows[250] = ",".join([late, *rest])
    rows[280] = rows[280].replace(f",{280 * 2},", ",NA,")
    path = tmp_path / "late.csv"
    path.write_text("a,b,c,d\n" + "\n".join(rows) + "\n")
    with dp.csv_route("polars"):
        assert _same(path).reader == DECIMALS
        assert _same(path, usecols=["a", "b", "d"]).reader == (
            DECIMALS if late == "1.5" else "polars"
        )


def test_fallback_reasons_quote_no_values() -> None:
    """A Polars parse error quotes the offending value; the recorded reason does not."""
    exc = pl.exceptions.ComputeError("could not parse `s3cr3t` as dtype `i64` at column 'a'")
    assert _csv_route._why(exc) == "Polars could not read it exactly (ComputeError)"
    assert _csv_route._why(_Fallback("encoding 'latin-1'")) == "encoding 'latin-1'"


def test_the_reader_is_set_on_the_callers_span(tmp_path: Path, otel: Any) -> None:
    from opentelemetry import trace

    path = tmp_path / "small.csv"
    path.write_text("a,b\n1,x\n")
    tracer = trace.get_tracer("tests")
    with tracer.start_as_current_span("load"):
        dp.read_csv(path)
    with tracer.start_as_current_span("load-polars"), dp.csv_route("polars"):
        dp.read_table(path, sep=",")
    attrs = dict(otel.span("load").attributes)
    assert attrs["dynio.pandas.function"] == "read_csv"
    assert attrs["dynio.pandas.reader"] == "pandas"
    assert attrs["dynio.pandas.reason"] == "no parse_dates: pandas' own parser is as fast"
    attrs = dict(otel.span("load-polars").attributes)
    assert attrs["dynio.pandas.reader"] == "polars"
    assert "dynio.pandas.reason" not in attrs


def test_read_parquet_records_its_reader_too(tmp_path: Path, otel: Any) -> None:
    import pandas as pd
    from opentelemetry import trace

    path = tmp_path / "small.parquet"
    pd.DataFrame({"a": [1, 2, 3], "s": ["x", None, "z"]}).to_parquet(path)
    tracer = trace.get_tracer("tests")
    with tracer.start_as_current_span("plain"):
        dp.read_parquet(path)
    assert dp.last_read() == dp.ReadPath("read_parquet", "arrow", None)
    with tracer.start_as_current_span("filtered"):
        dp.read_parquet(path, filters=[("a", ">", 1)])
    assert dp.last_read() == dp.ReadPath("read_parquet", "polars", None)
    categorical = tmp_path / "categorical.parquet"
    pd.DataFrame({"c": pd.Categorical(["b", "a"])}).to_parquet(categorical)
    with tracer.start_as_current_span("fallback"):
        dp.read_parquet(categorical)
    reason = "column types Polars would not give back as they are: ['c']"
    assert dp.last_read() == dp.ReadPath("read_parquet", "pandas", reason)
    assert dict(otel.span("plain").attributes)["dynio.pandas.reader"] == "arrow"
    assert dict(otel.span("filtered").attributes)["dynio.pandas.reader"] == "polars"
    attrs = dict(otel.span("fallback").attributes)
    assert attrs["dynio.pandas.function"] == "read_parquet"
    assert attrs["dynio.pandas.reason"] == reason
