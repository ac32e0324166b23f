"""dynio.pandas readers give what pandas' own readers give, over a generated corpus.

Every case reads one generated file with ``dynio.pandas`` and with pandas, and compares them
with ``pandas.testing.assert_frame_equal`` (dtypes, index and labels included; floats exactly).
Each case also says which path must serve it: the fast path (Polars/Arrow, no fallback logged;
CSV calls here use ``csv_route("polars")``, so that small files take it too) or pandas itself
(a DEBUG record on the ``dynio.pandas`` logger says why), so a fast path that silently stopped
working would fail here.
"""

from __future__ import annotations

import bz2
import datetime as dt
import decimal
import gzip
import io
import json
import logging
import lzma
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas_versions import CSV_FLOATS_ROUND_TRIP, TEXT_IS_OBJECT

import dynio.pandas as dp
from dynio.engine import read_path
from dynio.engine.io.formats import PANDAS_NA_VALUES

LOGGER = "dynio.pandas"


@pytest.fixture(autouse=True, scope="module")
def _csv_fast_path_everywhere() -> Any:
    """These cases pin the fast path's exactness on small files: try it on every CSV call (the
    default route sends small files straight to pandas, see test_pandas_csv_route.py)."""
    with dp.csv_route("polars"):
        yield


def _read(
    caplog: pytest.LogCaptureFixture,
    fast: bool | None,
    ours: Callable[..., Any],
    theirs: Callable[..., Any],
    path: Any,
    **kwargs: Any,
) -> pd.DataFrame:
    """Read with both; check the path taken and that the frames are equal."""
    caplog.clear()
    with caplog.at_level(logging.DEBUG, LOGGER):
        got = ours(path, **kwargs)
    fallbacks = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    if fast:
        assert fallbacks == [], f"expected the fast path, got: {fallbacks}"
    elif fast is not None:
        assert fallbacks, "expected pandas to read this call"
    expected = theirs(path, **kwargs)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert got.attrs == expected.attrs
    return got


def rng() -> np.random.Generator:
    return np.random.default_rng(20261124)


# ------------------------------------------------------------------------------------ parquet


def _typed_frame(n: int = 50) -> pd.DataFrame:
    r = rng()
    floats = r.standard_normal(n) * 1e6
    floats[::7] = np.nan
    texts = pd.Series([f"t{i} ☃ é" if i % 5 else None for i in range(n)], dtype=object)
    return pd.DataFrame(
        {
            "i8": r.integers(-100, 100, n).astype("int8"),
            "i64": r.integers(-(2**62), 2**62, n),
            "u32": r.integers(0, 2**32 - 1, n).astype("uint32"),
            "f32": r.random(n).astype("float32"),
            "f64": floats,
            "b": r.random(n) < 0.5,
            "s": texts,
            "ts": pd.date_range("2024-01-01", periods=n, freq="37min").astype("datetime64[ns]"),
            "ts_us": pd.date_range("1900-01-01", periods=n, freq="D").astype("datetime64[us]"),
            "tz": pd.date_range("2024-03-30", periods=n, freq="h", tz="Europe/London"),
            "d": [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(n)],
            "bin": [bytes([i % 256]) * 3 for i in range(n)],
            "nullable": pd.array([i if i % 3 else None for i in range(n)], dtype="Int64"),
        }
    )


PARQUET_FAST: dict[str, Callable[[Path], Any]] = {
    "pandas_range_index": lambda p: _typed_frame().to_parquet(p),
    "pandas_named_index": lambda p: _typed_frame().set_index("i64").to_parquet(p),
    "pandas_multi_index": lambda p: _typed_frame().set_index(["i8", "s"]).to_parquet(p),
    "pandas_no_index": lambda p: _typed_frame().to_parquet(p, index=False),
    "pandas_filtered_index": lambda p: _typed_frame().iloc[::3].to_parquet(p),
    "pandas_attrs": lambda p: _typed_frame().pipe(_with_attrs).to_parquet(p),
    "pandas_empty": lambda p: _typed_frame().iloc[:0].to_parquet(p),
    "pandas_unicode_names": lambda p: pd.DataFrame({"é☃": [1, 2], "名前": ["a", None]}).to_parquet(
        p
    ),
    "pyarrow_written": lambda p: pq.write_table(pa.Table.from_pandas(_typed_frame()), p),
    "polars_written": lambda p: pl.DataFrame(
        {"a": [1, None, 3], "f": [1.5, float("nan"), None], "s": ["x", None, "ü"]}
    ).write_parquet(p),
    "all_null_column": lambda p: pq.write_table(
        pa.table({"a": pa.array([None, None], pa.null()), "b": [1, 2]}), p
    ),
    "thousands_of_columns": lambda p: pd.DataFrame(
        rng().random((20, 2000)), columns=[f"c{i}" for i in range(2000)]
    ).to_parquet(p),
}

PARQUET_FALLBACK: dict[str, Callable[[Path], Any]] = {
    "categorical": lambda p: pd.DataFrame(
        {"c": pd.Categorical(["b", "a", "b"], categories=["b", "a", "z"])}
    ).to_parquet(p),
    "decimal": lambda p: pq.write_table(
        pa.table({"d": pa.array([decimal.Decimal("1.10"), None], pa.decimal128(5, 2))}), p
    ),
    "nested_list": lambda p: pq.write_table(pa.table({"l": [[1, 2], None, []]}), p),
    "timedelta": lambda p: pd.DataFrame({"t": pd.to_timedelta([1, 2], unit="s")}).to_parquet(p),
    "time_of_day": lambda p: pq.write_table(pa.table({"t": pa.array([1, 2], pa.time32("s"))}), p),
    "dictionary_text": lambda p: pq.write_table(
        pa.table({"d": pa.array(["a", "b", "a"]).dictionary_encode()}), p
    ),
}


def _with_attrs(df: pd.DataFrame) -> pd.DataFrame:
    df.attrs = {"source": "corpus", "version": 3}
    return df


@pytest.fixture(params=["arrow", "polars"])
def parquet_reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Which reader the fast path takes for a plain read (the engine's read-path choice):
    tiny files take pyarrow's (and whole files under 96 MiB with text), so for ``polars`` no
    file counts as tiny, small enough nor tall."""
    if request.param == "polars":
        monkeypatch.setattr(read_path, "TINY_FILE_BYTES", 0)
        monkeypatch.setattr(read_path, "ARROW_MAX_FILE_BYTES", 0)
        monkeypatch.setattr(read_path, "SMALL_FILE_BYTES", 0)
        monkeypatch.setattr(read_path, "ARROW_MIN_GROUP_ROWS", 10**12)
    return str(request.param)


def _served_by(reader: str) -> None:
    taken = dp.last_read()
    assert taken is not None
    assert (taken.function, taken.reader) == ("read_parquet", reader), taken


@pytest.mark.parametrize("case", sorted(PARQUET_FAST))
def test_parquet_fast_path_equals_pandas(
    case: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, parquet_reader: str
) -> None:
    path = tmp_path / f"{case}.parquet"
    PARQUET_FAST[case](path)
    # a null-typed column (all None, or an empty text column) is read by Polars' scan, and so
    # is a file past tiny (2,000 columns)
    nulls = any(pa.types.is_null(f.type) for f in pq.read_schema(path))
    tiny = path.stat().st_size < read_path.TINY_FILE_BYTES
    reader = "polars" if nulls or not tiny else parquet_reader
    _read(caplog, True, dp.read_parquet, pd.read_parquet, path)
    _served_by(reader)
    _read(caplog, True, dp.read_parquet, pd.read_parquet, str(path), engine="pyarrow")
    _served_by(reader)


@pytest.mark.parametrize("case", sorted(PARQUET_FALLBACK))
def test_parquet_pandas_reads_what_polars_would_change(
    case: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / f"{case}.parquet"
    PARQUET_FALLBACK[case](path)
    _read(caplog, False, dp.read_parquet, pd.read_parquet, path)
    _served_by("pandas")


@pytest.mark.parametrize("backend", ["numpy_nullable", "pyarrow"])
def test_parquet_dtype_backend(
    backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, parquet_reader: str
) -> None:
    path = tmp_path / "t.parquet"
    _typed_frame().to_parquet(path)
    _read(caplog, True, dp.read_parquet, pd.read_parquet, path, dtype_backend=backend)
    _served_by(parquet_reader)


@pytest.mark.parametrize("columns", [["f64", "s"], ["s", "f64"], ["tz"], ["i64"], []])
def test_parquet_columns(
    columns: list[str], tmp_path: Path, caplog: pytest.LogCaptureFixture, parquet_reader: str
) -> None:
    path = tmp_path / "t.parquet"
    _typed_frame().set_index("i8").to_parquet(path)
    _read(caplog, True, dp.read_parquet, pd.read_parquet, path, columns=columns)
    _served_by(parquet_reader)


FILTERS: list[Any] = [
    [("i64", ">", 0)],
    [("f64", "<=", 0.5)],
    [("f", ">", 1.0)],
    [("f", "!=", 1.5)],
    [("f", "==", 1.5)],
    [("s", "in", ["t1 ☃ é", "t2 ☃ é"])],
    [("s", "not in", ["t1 ☃ é"])],
    [("s", "in", ["t1 ☃ é", None])],
    [("s", "not in", ["t1 ☃ é", None])],
    [("ts", ">=", dt.datetime(2024, 1, 1, 12))],
    [("ts", "<", pd.Timestamp("2024-01-02"))],
    [("d", "=", dt.date(2024, 1, 5))],
    [("b", "==", True), ("i8", ">", 0)],
    [[("i8", "<", -50)], [("i8", ">", 50), ("b", "!=", False)]],
]


@pytest.mark.parametrize("case", range(len(FILTERS)))
def test_parquet_filters_keep_the_rows_pyarrow_keeps(
    case: int, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "t.parquet"
    frame = _typed_frame(200)
    filters = FILTERS[case]
    if any(
        c[0] == "f" for group in filters for c in (group if isinstance(group, list) else [group])
    ):
        # NaN and nulls side by side, as Polars and Spark write them
        pl.DataFrame({"f": [1.5, float("nan"), None, 2.5, 0.5] * 10}).write_parquet(path)
    else:
        frame.to_parquet(path)
    _read(caplog, True, dp.read_parquet, pd.read_parquet, path, filters=filters)
    _served_by("polars")  # a filter needs the engine's scan


def test_parquet_hive_folders_and_remote_paths_go_to_pandas(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "ds"
    pd.DataFrame({"k": ["a", "b"], "v": [1, 2]}).to_parquet(folder, partition_cols=["k"])
    _read(caplog, False, dp.read_parquet, pd.read_parquet, folder)
    part = next(folder.rglob("*.parquet"))
    _read(caplog, False, dp.read_parquet, pd.read_parquet, part)
    buffer = io.BytesIO()
    pd.DataFrame({"a": [1]}).to_parquet(buffer)
    got = dp.read_parquet(io.BytesIO(buffer.getvalue()))
    pd.testing.assert_frame_equal(got, pd.read_parquet(io.BytesIO(buffer.getvalue())))


def test_parquet_errors_are_pandas_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        dp.read_parquet(tmp_path / "missing.parquet")
    path = tmp_path / "t.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(path)
    with pytest.raises((KeyError, ValueError, pa.ArrowInvalid)):
        pd.read_parquet(path, columns=["nope"])
    with pytest.raises((KeyError, ValueError, pa.ArrowInvalid)):
        dp.read_parquet(path, columns=["nope"])


# ---------------------------------------------------------------------------------------- csv

AWKWARD = [
    "plain", "with, comma", 'say "hi"', "two\nlines", "windows\r\nline", "tab\there",
    "  padded  ", "é ü ß", "漢字かな", "emoji 🙂", "semi;colon", "back\\slash", "#hash", "'single'",
]  # fmt: skip


def _csv_frame(n: int = 60) -> pd.DataFrame:
    r = rng()
    ints = r.integers(-(10**15), 10**15, n)
    floats = np.round(r.standard_normal(n) * 1000, 6)
    floats[5] = np.inf
    floats[6] = -np.inf
    floats[::11] = np.nan
    return pd.DataFrame(
        {
            "int": ints,
            "int_na": pd.array([i if i % 4 else None for i in range(n)], dtype="Int64"),
            "float": floats,
            "tiny": r.random(n) * 1e-300,
            "text": [AWKWARD[i % len(AWKWARD)] for i in range(n)],
            "text_na": [None if i % 6 == 0 else f"v{i}" for i in range(n)],
            "flag": [bool(i % 2) for i in range(n)],
            "flag_na": [None if i % 5 == 0 else bool(i % 3) for i in range(n)],
            "code": [f"{i:05d}" for i in range(n)],  # numbers with leading zeros: pandas ints
            "when": pd.date_range("2024-01-01 00:00:00.25", periods=n, freq="997ms"),
            "day": pd.date_range("1999-12-25", periods=n, freq="D"),
            "empty": [None] * n,
        }
    )


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


CSV_FAST: dict[str, tuple[Callable[[Path], Any], dict[str, Any]]] = {
    "mixed_types": (lambda p: _csv_frame().to_csv(p, index=False), {}),
    "with_index_column": (lambda p: _csv_frame().to_csv(p), {}),
    "index_col_position": (lambda p: _csv_frame().to_csv(p), {"index_col": 0}),
    "index_col_names": (
        lambda p: _csv_frame().to_csv(p, index=False),
        {"index_col": ["text_na", "int"]},
    ),
    "parse_dates": (
        lambda p: _csv_frame().to_csv(p, index=False),
        {"parse_dates": ["when", "day"]},
    ),
    "dates_left_as_text_date_and_time": (
        lambda p: _write(p, "t\n2024-01-01\n2024-01-02 10:00:00\n"),
        {"parse_dates": ["t"]},
    ),
    "dates_left_as_text_fraction_or_not": (
        lambda p: _write(p, "t\n2024-01-01 10:00:00.5\n2024-01-01 10:00:01\n"),
        {"parse_dates": ["t"]},
    ),
    "dates_left_as_text_separators": (
        lambda p: _write(p, "t\n2024-01-01T10:00:00\n2024-01-01 10:00:01\n"),
        {"parse_dates": ["t"]},
    ),
    "parse_dates_t_separator": (
        lambda p: _csv_frame().to_csv(p, index=False, date_format="%Y-%m-%dT%H:%M:%S"),
        {"parse_dates": ["when"]},
    ),
    "usecols_names": (
        lambda p: _csv_frame().to_csv(p, index=False),
        {"usecols": ["text", "int", "float"]},
    ),
    "usecols_positions": (lambda p: _csv_frame().to_csv(p, index=False), {"usecols": [4, 0, 2]}),
    "nrows": (lambda p: _csv_frame().to_csv(p, index=False), {"nrows": 7}),
    "skiprows": (
        lambda p: _write(p, "junk line\nmore junk\n" + _csv_frame().to_csv(index=False)),
        {"skiprows": 2},
    ),
    "semicolons": (lambda p: _csv_frame().to_csv(p, index=False, sep=";"), {"sep": ";"}),
    "delimiter_alias": (lambda p: _csv_frame().to_csv(p, index=False, sep="|"), {"delimiter": "|"}),
    "single_quotes": (
        lambda p: _csv_frame().to_csv(p, index=False, quotechar="'"),
        {"quotechar": "'"},
    ),
    "no_header": (lambda p: _csv_frame().to_csv(p, index=False, header=False), {"header": None}),
    "names_replace_header": (
        lambda p: _write(p, "x,y\n1,a\n2,b\n"),
        {"names": ["first", "second"], "header": 0},
    ),
    "names_without_header": (lambda p: _write(p, "1,a\n2,b\n"), {"names": ["n", "t"]}),
    "dtype_text": (
        lambda p: _csv_frame().to_csv(p, index=False),
        {"dtype": {"code": str, "int": "object", "text_na": "string"}},
    ),
    "dtype_numbers": (
        lambda p: _csv_frame().to_csv(p, index=False),
        {"dtype": {"int_na": "Int64", "int": "float64", "code": "int64"}},
    ),
    "nullable_large_integers": (
        lambda p: _write(p, "a,b\n1152921504606846977,x\n,y\n-9007199254740993,z\n"),
        {"dtype": {"a": "Int64"}},
    ),
    "na_markers": (
        lambda p: _write(
            p,
            "a,b,c\n"
            + "".join(f"{m},{i},{m}x\n" for i, m in enumerate(sorted(PANDAS_NA_VALUES)))
            + "1,2,z\n",
        ),
        {},
    ),
    "na_values_extra": (
        lambda p: _write(p, "a,b\n1,missing\n-1,x\nmissing,y\n"),
        {"na_values": ["missing", "-1"]},
    ),
    "keep_default_na_false": (
        lambda p: _write(p, "a,b\n1,NA\n2,\n3,x\n"),
        {"keep_default_na": False},
    ),
    "keep_default_na_false_markers": (
        lambda p: _write(p, "a,b\n1,NA\n2,\n3,gone\n"),
        {"keep_default_na": False, "na_values": "gone"},
    ),
    "bom": (lambda p: _write(p, "\ufeffa,b\n1,x\n2,y\n"), {}),
    "crlf": (lambda p: _csv_frame().to_csv(p, index=False, lineterminator="\r\n"), {}),
    "unnamed_header_fields": (lambda p: _write(p, ",a,\n1,2,3\n4,5,6\n"), {}),
    "quoted_numbers_and_empty_strings": (
        lambda p: _write(p, 'a,b,c\n"1","x",""\n"2","",y\n'),
        {},
    ),
    "nan_text_kept": (lambda p: _write(p, "a\nnan\n1.5\n"), {"keep_default_na": False}),
    "not_quite_numbers": (
        lambda p: _write(p, "a,b\n1e,x\n1.5.5,1_000\n--1,0x10\n1d5,12:30\n1-2,١٢\n"),
        {},
    ),
    "inf_spellings": (lambda p: _write(p, "a\ninf\n-Infinity\n+INF\n1.5e3\n.5\n5.\n"), {}),
    "bool_spellings": (lambda p: _write(p, "a,b\nTrue,tRue\nFALSE,false\nfalse,x\n"), {}),
    "unicode_names": (lambda p: _write(p, "é,名前,emoji🙂\n1,x,y\n"), {}),
    "thousands_of_columns": (
        lambda p: pd.DataFrame(
            rng().integers(0, 1000, (30, 3000)), columns=[f"c{i}" for i in range(3000)]
        ).to_csv(p, index=False),
        {},
    ),
    "gzip": (
        lambda p: p.with_suffix(".csv.gz").write_bytes(
            gzip.compress(_csv_frame().to_csv(index=False).encode())
        ),
        {},
    ),
    "bz2": (
        lambda p: p.with_suffix(".csv.bz2").write_bytes(
            bz2.compress(_csv_frame().to_csv(index=False).encode())
        ),
        {},
    ),
    "xz_explicit": (
        lambda p: p.write_bytes(lzma.compress(_csv_frame().to_csv(index=False).encode())),
        {"compression": "xz"},
    ),
    "utf8_sig_encoding": (
        lambda p: _write(p, "\ufeffa,b\n1,é\n"),
        {"encoding": "utf-8-sig"},
    ),
    "large_file": (
        lambda p: pd.DataFrame(
            {
                "a": rng().integers(0, 10**9, 50_000),
                "b": rng().random(50_000),
                "c": [f"s{i}" for i in range(50_000)],
            }
        ).to_csv(p, index=False),
        {},
    ),
}

CSV_FALLBACK: dict[str, tuple[Callable[[Path], Any], dict[str, Any]]] = {
    "blank_lines": (lambda p: _write(p, "a,b\n1,2\n\n3,4\n"), {}),
    "trailing_blank_line": (lambda p: _write(p, "a,b\n1,2\n3,4\n\n"), {}),
    "padded_numbers": (lambda p: _write(p, "a\n 1\n2 \n"), {}),
    "header_only": (lambda p: _write(p, "a,b\n"), {}),
    "duplicate_names": (lambda p: _write(p, "a,a,b\n1,2,3\n"), {}),
    "ragged_rows_implicit_index": (lambda p: _write(p, "a,b\n1,2,3\n4,5,6\n"), {}),
    "lone_carriage_returns": (lambda p: _write(p, "a,b\r1,2\r3,4\r"), {}),
    "huge_integers": (lambda p: _write(p, "a\n12345678901234567890\n1\n"), {}),
    "time_zones": (
        lambda p: _write(p, "t\n2024-01-01T10:00:00+01:00\n2024-06-01T10:00:00+02:00\n"),
        {"parse_dates": ["t"]},
    ),
    "utc_dates": (lambda p: _write(p, "t\n2024-01-01T10:00:00Z\n"), {"parse_dates": ["t"]}),
    "nanosecond_dates": (
        lambda p: _write(p, "t\n2024-01-01 10:00:00.123456789\n"),
        {"parse_dates": ["t"]},
    ),
    "unpadded_dates": (
        lambda p: _write(p, "t\n2024-01-01\n2024-1-2\n"),
        {"parse_dates": ["t"]},
    ),
    "dates_then_text": (lambda p: _write(p, "t\n2024-01-01\nsoon\n"), {"parse_dates": ["t"]}),
    "thousands": (lambda p: _write(p, 'a\n"1,000"\n2\n'), {"thousands": ","}),
    "comment": (lambda p: _write(p, "a,b\n1,2 # note\n"), {"comment": "#"}),
    "latin1": (lambda p: _write(p, "a\ncafé\n", "latin-1"), {"encoding": "latin-1"}),
    "zip": (
        lambda p: _zip(p.with_suffix(".csv.zip"), "a,b\n1,2\n"),
        {},
    ),
    "regex_separator": (lambda p: _write(p, "a  b\n1  2\n"), {"sep": r"\s+"}),
    "dtype_backend": (lambda p: _csv_frame().to_csv(p, index=False), {"dtype_backend": "pyarrow"}),
    "callable_usecols": (
        lambda p: _csv_frame().to_csv(p, index=False),
        {"usecols": lambda c: c.startswith("t")},
    ),
    "converters": (lambda p: _write(p, "a\n1\n"), {"converters": {"a": str}}),
    "empty_file": (lambda p: _write(p, ""), {}),
}


def _zip(path: Path, text: str) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("data.csv", text)


def _csv_fast(path: Path, **kwargs: Any) -> bool | None:
    """Whether the fast path serves this CSV: always where pandas parses decimals correctly
    rounded (as Polars does). On older pandas, files with decimals go to pandas and others may
    (``None``: either path, the frames are compared all the same)."""
    if CSV_FLOATS_ROUND_TRIP:
        return True
    reader = pd.read_table if path.suffix == ".tsv" else pd.read_csv
    return None if any(dt.kind == "f" for dt in reader(path, **kwargs).dtypes) else True


def _case_path(tmp_path: Path, case: str, make: Callable[[Path], Any]) -> Path:
    path = tmp_path / f"{case}.csv"
    make(path)
    written = sorted(tmp_path.glob(f"{case}.csv*"))
    return written[-1] if written else path


@pytest.mark.parametrize("case", sorted(CSV_FAST))
def test_csv_fast_path_equals_pandas(
    case: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make, kwargs = CSV_FAST[case]
    path = _case_path(tmp_path, case, make)
    _read(caplog, _csv_fast(path, **kwargs), dp.read_csv, pd.read_csv, path, **kwargs)


@pytest.mark.parametrize("case", sorted(CSV_FALLBACK))
def test_csv_pandas_reads_what_the_fast_path_would_change(
    case: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make, kwargs = CSV_FALLBACK[case]
    path = _case_path(tmp_path, case, make)
    try:
        expected = pd.read_csv(path, **kwargs)
    except Exception as exc:  # the same error must come out of dynio.pandas
        with pytest.raises(type(exc)):
            dp.read_csv(path, **kwargs)
        return
    _read(caplog, False, dp.read_csv, pd.read_csv, path, **kwargs)
    assert isinstance(expected, pd.DataFrame)


def test_read_table_is_tab_separated(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "t.tsv"
    _csv_frame().to_csv(path, sep="\t", index=False)
    _read(caplog, _csv_fast(path), dp.read_table, pd.read_table, path)
    _read(caplog, True, dp.read_table, pd.read_table, path, usecols=["int", "text"])


def test_csv_open_files_and_buffers_go_to_pandas(caplog: pytest.LogCaptureFixture) -> None:
    text = "a,b\n1,x\n"
    with caplog.at_level(logging.DEBUG, LOGGER):
        got = dp.read_csv(io.StringIO(text))
    assert "not a file path" in caplog.text
    pd.testing.assert_frame_equal(got, pd.read_csv(io.StringIO(text)))
    got = dp.read_csv(io.BytesIO(text.encode()))
    pd.testing.assert_frame_equal(got, pd.read_csv(io.BytesIO(text.encode())))


def test_csv_na_markers_are_pandas_own() -> None:
    from pandas._libs.parsers import STR_NA_VALUES

    assert set(PANDAS_NA_VALUES) == set(STR_NA_VALUES)


# --------------------------------------------------------------------------------------- json


def _ndjson(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def _records(n: int = 80) -> list[dict[str, Any]]:
    r = rng()
    out = []
    for i in range(n):
        row: dict[str, Any] = {
            "id": i,
            "price": round(float(r.random() * 100), 2),
            "whole": float(i),  # whole numbers written as floats: pandas makes them int64
            "ratio": float(r.standard_normal()),
            "name": f'name {i} ☃ "quoted" \\ back',
            "flag": bool(i % 2),
            "maybe": None if i % 4 == 0 else f"m{i}",
            "maybe_int": None if i % 3 == 0 else i,
            "maybe_flag": None if i % 5 == 0 else i % 2 == 0,
            "nothing": None,
        }
        if i % 7:  # keys missing from some records
            row["sometimes"] = f"s{i}"
        out.append(row)
    return out


def _late(n: int, at: int, change: dict[str, Any]) -> list[dict[str, Any]]:
    """``n`` records typed alike, but the one at ``at`` (past the first 1,000 typing the
    columns on the fast path) changes or adds keys."""
    rows = [{"id": i, "qty": i % 7, "name": f"sku-{i}", "ok": i % 2 == 0} for i in range(n)]
    rows[at] = {**rows[at], **change}
    return rows


JSON_FAST: dict[str, tuple[Callable[[Path], Any], dict[str, Any]]] = {
    "long": (lambda p: _ndjson(p, _records(2_500)), {"lines": True}),
    "late_fraction": (lambda p: _ndjson(p, _late(1_500, 1_300, {"qty": 2.5})), {"lines": True}),
    "late_null": (lambda p: _ndjson(p, _late(1_500, 1_400, {"name": None})), {"lines": True}),
    "lines": (lambda p: _ndjson(p, _records()), {"lines": True}),
    "lines_records_orient": (
        lambda p: _ndjson(p, _records()),
        {"lines": True, "orient": "records"},
    ),
    "records_document": (lambda p: p.write_text(json.dumps(_records())), {}),
    "records_document_orient": (
        lambda p: p.write_text(json.dumps(_records())),
        {"orient": "records"},
    ),
    "pandas_written_lines": (
        lambda p: pd.DataFrame({"a": [1, 2], "b": ["x", None], "c": [0.5, None]}).to_json(
            p, orient="records", lines=True
        ),
        {"lines": True},
    ),
    "gzip_lines": (
        lambda p: p.with_suffix(".json.gz").write_bytes(
            gzip.compress("".join(json.dumps(r) + "\n" for r in _records()).encode())
        ),
        {"lines": True},
    ),
    "dtype_backend_pyarrow": (
        lambda p: _ndjson(p, _records()),
        {"lines": True, "dtype_backend": "pyarrow"},
    ),
    "dtype_backend_nullable": (
        lambda p: _ndjson(p, _records()),
        {"lines": True, "dtype_backend": "numpy_nullable"},
    ),
    "unicode": (
        lambda p: _ndjson(p, [{"é": "漢字", "🙂": 1}, {"é": "ü", "🙂": 2}]),
        {"lines": True},
    ),
    "thousands_of_columns": (
        lambda p: _ndjson(p, [{f"c{j}": i * j for j in range(2000)} for i in range(5)]),
        {"lines": True},
    ),
}

JSON_FALLBACK: dict[str, tuple[Callable[[Path], Any], dict[str, Any]]] = {
    "numbers_as_text": (lambda p: _ndjson(p, [{"a": "1"}, {"a": "2.5"}]), {"lines": True}),
    "mixed_types": (lambda p: _ndjson(p, [{"a": 1}, {"a": "x"}]), {"lines": True}),
    "late_key": (lambda p: _ndjson(p, _late(1_500, 1_200, {"late": "x"})), {"lines": True}),
    "late_text": (lambda p: _ndjson(p, _late(1_500, 1_100, {"qty": "x"})), {"lines": True}),
    "bools_and_text": (lambda p: _ndjson(p, [{"a": True}, {"a": "x"}]), {"lines": True}),
    "nested": (lambda p: _ndjson(p, [{"a": {"b": 1}}, {"a": {"b": 2}}]), {"lines": True}),
    "date_like_names": (
        lambda p: _ndjson(p, [{"created_at": "2024-01-01T10:00:00", "timestamp": 1700000000000}]),
        {"lines": True},
    ),
    "columns_orient": (
        lambda p: pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}).to_json(p),
        {},
    ),
    "numeric_labels": (lambda p: _ndjson(p, [{"1": "x", "2": "y"}]), {"lines": True}),
    "blank_document": (lambda p: p.write_text("\n\n"), {"lines": True}),
    "nrows": (lambda p: _ndjson(p, _records()), {"lines": True, "nrows": 5}),
    "byte_order_mark": (
        lambda p: p.write_bytes(b"\xef\xbb\xbf" + b'{"a": 1}\n'),
        {"lines": True, "encoding": "utf-8-sig"},
    ),
}


@pytest.mark.parametrize("case", sorted(JSON_FAST))
def test_json_fast_path_equals_pandas(
    case: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make, kwargs = JSON_FAST[case]
    path = tmp_path / f"{case}.json"
    make(path)
    path = sorted(tmp_path.glob(f"{case}.json*"))[-1]
    # pandas < 3 gives missing text as None or NaN (null or missing key), which the fast path
    # leaves to pandas; pandas 3 gives NaN for both
    ref = pd.read_json(path, **kwargs)
    text_holes = any(ref[c].dtype == object and ref[c].isna().any() for c in ref.columns)
    # numbers exactly as pandas parses them with precise_float=True ...
    _read(
        caplog,
        None if TEXT_IS_OBJECT and text_holes else True,
        dp.read_json,
        lambda p, **kw: pd.read_json(p, precise_float=True, **kw),
        path,
        **kwargs,
    )
    # ... and within a unit in the last place of pandas' default parser
    pd.testing.assert_frame_equal(dp.read_json(path, **kwargs), pd.read_json(path, **kwargs))


@pytest.mark.parametrize("case", sorted(JSON_FALLBACK))
def test_json_pandas_reads_what_the_fast_path_would_change(
    case: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make, kwargs = JSON_FALLBACK[case]
    path = tmp_path / f"{case}.json"
    make(path)
    try:
        pd.read_json(path, **kwargs)
    except Exception as exc:
        with pytest.raises(type(exc)):
            dp.read_json(path, **kwargs)
        return
    _read(
        caplog,
        False,
        dp.read_json,
        lambda p, **kw: pd.read_json(p, precise_float=True, **kw),
        path,
        **kwargs,
    )


def test_json_parses_decimals_exactly_on_both_paths(tmp_path: Path) -> None:
    path = _ndjson(tmp_path / "f.ndjson", [{"x": 0.3}, {"x": 1.7}])
    assert dp.read_json(path, lines=True)["x"].tolist() == [0.3, 1.7]
    mixed = _ndjson(tmp_path / "m.ndjson", [{"x": 0.3, "y": 1}, {"x": 1.7, "y": "a"}])
    assert dp.read_json(mixed, lines=True)["x"].tolist() == [0.3, 1.7]  # read by pandas
    # pandas' default parser is a unit in the last place off for these; asking for it gets it
    approximate = pd.read_json(path, lines=True)
    assert approximate["x"].tolist() != [0.3, 1.7]
    pd.testing.assert_frame_equal(
        dp.read_json(path, lines=True, precise_float=False), approximate, check_exact=True
    )


def test_read_sql_is_reexported() -> None:
    from dynio.pandas_sql import read_sql

    assert dp.read_sql.__doc__ is not None
    assert callable(read_sql)


# ------------------------------------------------------------------------- generated frames


def test_a_nul_byte_in_a_csv_reads_as_this_pandas_reads_it(tmp_path: Path) -> None:
    """pandas 2.x ends a field at a NUL byte (the column becomes numbers), 3.x keeps it."""
    path = tmp_path / "nul.csv"
    path.write_bytes(b"c0\n0\n0\n0\n\x00\n")
    pd.testing.assert_frame_equal(dp.read_csv(path), pd.read_csv(path), check_exact=True)


_cells = st.one_of(
    st.none(),
    st.integers(-(2**40), 2**40).map(str),
    st.floats(allow_nan=False, width=64).map(repr),
    st.sampled_from(["True", "false", "NA", "", " 1", "1e5", "inf", "nan", "2024-01-01"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    columns=st.lists(st.lists(_cells, min_size=4, max_size=4), min_size=1, max_size=5),
    sep=st.sampled_from([",", ";", "\t", "|"]),
)
def test_csv_of_generated_cells_reads_as_pandas_reads_it(
    tmp_path: Path, columns: list[list[str | None]], sep: str
) -> None:
    frame = pd.DataFrame({f"c{i}": col for i, col in enumerate(columns)}, dtype=object)
    path = tmp_path / "g.csv"
    frame.to_csv(path, index=False, sep=sep)
    try:
        expected = pd.read_csv(path, sep=sep)
    except Exception as exc:
        with pytest.raises(type(exc)):
            dp.read_csv(path, sep=sep)
        return
    pd.testing.assert_frame_equal(dp.read_csv(path, sep=sep), expected, check_exact=True)


_values = st.one_of(
    st.none(),
    st.integers(-(2**53), 2**53),
    # no subnormals: pandas' JSON parser reads 5e-324 as the integer 0 (dynio keeps 5e-324)
    st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=False),
    st.booleans(),
    st.text(max_size=6),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(st.dictionaries(st.sampled_from(["a", "b", "c"]), _values), min_size=1,
                     max_size=6))  # fmt: skip
def test_json_lines_of_generated_records_read_as_pandas_reads_them(
    tmp_path: Path, rows: list[dict[str, Any]]
) -> None:
    path = tmp_path / "g.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    try:
        expected = pd.read_json(path, lines=True, precise_float=True)
    except ValueError as exc:
        if "Range error" not in str(exc):
            raise
        # pandas' exact parser refuses numbers below the normal range: compare with its default
        pd.testing.assert_frame_equal(
            dp.read_json(path, lines=True), pd.read_json(path, lines=True)
        )
        return
    except Exception as exc:  # the same error must come out of dynio.pandas
        with pytest.raises(type(exc)):
            dp.read_json(path, lines=True)
        return
    pd.testing.assert_frame_equal(dp.read_json(path, lines=True), expected, check_exact=True)
