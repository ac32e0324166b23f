"""``Catalog.read`` gives what pandas' own readers give for the same file.

For a corpus of generated files (parquet written by pandas, pyarrow and Polars; CSV written by
pandas, with awkward text), ``cat.read(name)`` must equal ``pd.read_parquet(path)`` /
``pd.read_csv(path)`` brought to the schema's dtypes, compared with
``pandas.testing.assert_frame_equal`` including dtypes.

How the pandas reference is brought to the schema (deliberate, documented differences):

* Timestamps: the schema says ``datetime64[ns]``; pandas 3 reads parquet timestamps at the
  unit they were stored in (``us`` for pandas-written files) and CSV timestamps as text. The
  reference is ``.astype("datetime64[ns]")`` (parquet) or ``parse_dates`` + ``.astype`` (CSV).
* Text columns in CSV: the schema says ``str``; pandas would infer numbers from numeric-looking
  text (``"007"`` -> ``7``), which ``astype`` afterwards cannot undo. The reference passes
  ``dtype={col: "str"}`` to ``pd.read_csv`` for those columns, which is what a pandas user
  does to keep text as text.
* Nullable integers (``Int64``): pandas reads an integer column with missing values as
  ``float64``; the schema asks for ``Int64``, so the reference is ``.astype("Int64")``.
* Everything else (``int64``, ``float64`` with NaN, ``bool``, ``bool`` with missing values
  -> ``object``, integer with missing values under an ``int64`` schema -> ``float64``) is
  compared with exactly what pandas returns, no conversion.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dynio

CatalogFrom = Callable[..., dynio.Catalog]

# The schema every corpus file is read with.
SCHEMA: dict[str, str] = {
    "i": "int64",  # no missing values
    "big": "int64",  # extremes of int64
    "ni": "int64",  # missing values: pandas gives float64, and so must dynio
    "nn": "Int64",  # missing values, nullable schema dtype
    "f": "float64",  # NaN, inf, -inf, tiny, huge, -0.0
    "s": "str",  # None, unicode, quotes, newlines, commas, NA-like words
    "code": "str",  # numeric-looking text with leading zeros
    "t": "datetime64[ns]",  # NaT, sub-second parts
    "d": "datetime64[ns]",  # whole days only (pandas writes them as dates in CSV)
    "tz": "datetime64[ns, UTC]",
    "b": "bool",  # no missing values
    "nb": "bool",  # missing values: pandas gives object
}
TEXT_COLUMNS = [c for c, t in SCHEMA.items() if t == "str"]
TIME_COLUMNS = [c for c, t in SCHEMA.items() if t.startswith("datetime64")]

AWKWARD_TEXT = [
    "plain",
    "with, comma",
    'say "hi"',
    "it's",
    "two\nlines",
    "windows\r\nline",
    "tab\there",
    "  padded  ",
    "é ü ß",
    "漢字かな",
    "emoji 🙂👍",
    "semi;colon",
    "back\\slash",
    '"',
    ",",
    "''",
    "#hash",
    "NA",  # pandas' default NA marker: read as missing by both readers
    "null",
    "None",
    "nan",
    "N/A",
    "-",
    "0",
    "1.5e3",
    "True",
]


def corpus_frame(seed: int, n: int) -> pd.DataFrame:
    """A frame of ``n`` rows drawn from ``seed``: every dtype of SCHEMA, with awkward values."""
    rng = np.random.default_rng(seed)
    missing = rng.random(n) < 0.2

    def holes(values: np.ndarray, p: float = 0.25) -> list[Any]:
        mask = rng.random(n) < p
        return [None if m else v for m, v in zip(mask, values.tolist(), strict=True)]

    floats = rng.normal(0, 1e3, n)
    specials = np.array([np.nan, np.inf, -np.inf, 1e-300, 1.7976931348623157e308, -0.0, 0.1])
    pick = rng.random(n) < 0.3
    floats[pick] = rng.choice(specials, pick.sum())
    base = pd.Timestamp("2000-01-01")
    offsets = rng.integers(0, 30 * 365 * 86_400_000_000, n)  # microseconds over 30 years
    t = pd.Series(base + pd.to_timedelta(offsets, unit="us")).astype("datetime64[ns]")
    t[rng.random(n) < 0.15] = pd.NaT
    days = pd.Series(base + pd.to_timedelta(rng.integers(0, 20_000, n), unit="D")).astype(
        "datetime64[ns]"
    )
    tz = pd.Series(base + pd.to_timedelta(offsets // 1000, unit="ms")).dt.tz_localize("UTC")
    text = rng.choice(np.array(AWKWARD_TEXT, dtype=object), n)
    text = [None if m else s for m, s in zip(missing, text, strict=True)]
    codes = [f"{v:05d}" for v in rng.integers(0, 1000, n)]
    big = rng.choice(np.array([2**63 - 1, -(2**63) + 1, 0, 1, -1]), n)
    return pd.DataFrame(
        {
            "i": rng.integers(-1_000_000, 1_000_000, n).astype("int64"),
            "big": big.astype("int64"),
            "ni": pd.Series(holes(rng.integers(-50, 50, n)), dtype="float64"),
            "nn": pd.array(holes(rng.integers(-50, 50, n)), dtype="Int64"),
            "f": floats,
            "s": pd.Series(text, dtype="str"),
            "code": pd.Series(codes, dtype="str"),
            "t": t,
            "d": days,
            "tz": tz.astype("datetime64[ns, UTC]"),
            "b": rng.random(n) < 0.5,
            "nb": pd.Series(holes(rng.random(n) < 0.5), dtype="object"),
        }
    )


def resource_yaml(
    name: str, path: str, file_type: str, options: dict[str, Any] | None = None
) -> str:
    body: dict[str, Any] = {"type": "local", "local": {"file_path": path, "file_type": file_type}}
    if options:
        body["options"] = options
    return yaml.safe_dump({name: {"local": body, "schema": {"columns": SCHEMA}}}, sort_keys=False)


def to_schema(ref: pd.DataFrame) -> pd.DataFrame:
    """Bring a pandas read to the dtypes the schema implies under pandas' reader conventions.

    * ``int64`` columns: ``int64`` when complete, ``float64`` when values are missing (what
      pandas' readers give for an integer column with nulls); pandas may have read a column
      stored as whole doubles, hence the conversion.
    * ``bool`` columns: ``bool`` when complete, ``object`` with ``True``/``False``/``None``
      otherwise.
    * ``Int64``: the nullable dtype the schema names. Timestamps: ``ns`` as the schema says.
    """
    out = ref.copy()
    for col, spelling in SCHEMA.items():
        if col not in out:
            continue
        values = out[col]
        if spelling == "int64":
            out[col] = values.astype("int64" if values.notna().all() else "float64")
        elif spelling == "bool":
            if values.notna().all():
                out[col] = values.astype("bool")
            else:
                out[col] = values.astype("object").where(values.notna(), None)
        elif spelling == "Int64" or spelling.startswith("datetime64"):
            out[col] = values.astype(spelling)
    return out


def parquet_reference(path: Path) -> pd.DataFrame:
    """pandas' own parquet read, brought to the schema where pandas infers differently."""
    return to_schema(pd.read_parquet(path))


def csv_reference(path: Path, **kwargs: Any) -> pd.DataFrame:
    """pandas' own CSV read, brought to the schema where pandas infers differently.

    Text columns are read as text (``dtype=str``) rather than converted afterwards.
    """
    return to_schema(pd.read_csv(path, dtype=dict.fromkeys(TEXT_COLUMNS, "str"), **kwargs))


SIZES = [1, 7, 64, 500]
SEEDS = [0, 1, 2]


# ------------------------------------------------------------------------------------- parquet


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("seed", SEEDS)
def test_parquet_written_by_pandas(
    catalog_from: CatalogFrom, tmp_path: Path, seed: int, n: int
) -> None:
    df = corpus_frame(seed, n)
    df.to_parquet(tmp_path / "p.parquet", index=False)
    cat = catalog_from(resource_yaml("p", "p.parquet", "parquet"))
    ref = parquet_reference(tmp_path / "p.parquet")
    out = cat.read("p")
    pd.testing.assert_frame_equal(out, ref)
    # and pandas' read is itself the frame we wrote (nothing lost on the way)
    pd.testing.assert_frame_equal(ref, to_schema(df))


@pytest.mark.parametrize("n", [5, 300])
@pytest.mark.parametrize("seed", SEEDS)
def test_parquet_written_by_pyarrow_without_pandas_metadata(
    catalog_from: CatalogFrom, tmp_path: Path, seed: int, n: int
) -> None:
    table = pa.Table.from_pandas(corpus_frame(seed, n), preserve_index=False)
    table = table.replace_schema_metadata(None)  # a file from a non-pandas producer
    pq.write_table(table, tmp_path / "p.parquet", row_group_size=64)
    cat = catalog_from(resource_yaml("p", "p.parquet", "parquet"))
    pd.testing.assert_frame_equal(cat.read("p"), parquet_reference(tmp_path / "p.parquet"))


@pytest.mark.parametrize("seed", SEEDS)
def test_parquet_written_by_polars(catalog_from: CatalogFrom, tmp_path: Path, seed: int) -> None:
    pl.from_pandas(corpus_frame(seed, 100)).write_parquet(tmp_path / "p.parquet")
    cat = catalog_from(resource_yaml("p", "p.parquet", "parquet"))
    pd.testing.assert_frame_equal(cat.read("p"), parquet_reference(tmp_path / "p.parquet"))


def test_parquet_int96_and_ms_timestamps(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    """Files from Spark/Hive (int96) and from ms-coercing writers read like pandas reads them."""
    df = corpus_frame(5, 50)
    df["t"] = df["t"].dt.floor("ms")
    table = pa.Table.from_pandas(df, preserve_index=False)
    pq.write_table(table, tmp_path / "a.parquet", use_deprecated_int96_timestamps=True)
    pq.write_table(table, tmp_path / "b.parquet", coerce_timestamps="ms")
    cat = catalog_from(
        resource_yaml("a", "a.parquet", "parquet") + resource_yaml("b", "b.parquet", "parquet")
    )
    for name in ("a", "b"):
        ref = parquet_reference(tmp_path / f"{name}.parquet")
        pd.testing.assert_frame_equal(cat.read(name), ref)


# ----------------------------------------------------------------------------------------- csv


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("seed", SEEDS)
def test_csv_written_by_pandas(
    catalog_from: CatalogFrom, tmp_path: Path, seed: int, n: int
) -> None:
    df = corpus_frame(seed, n)
    df.to_csv(tmp_path / "c.csv", index=False)
    cat = catalog_from(resource_yaml("c", "c.csv", "csv"))
    pd.testing.assert_frame_equal(cat.read("c"), csv_reference(tmp_path / "c.csv"))


@pytest.mark.parametrize(
    ("write_kwargs", "options"),
    [
        ({"sep": ";"}, {"sep": ";"}),
        ({"sep": "\t"}, {"sep": "\t"}),
        ({"sep": ";", "decimal": ","}, {"sep": ";", "decimal": ","}),
        ({"quotechar": "'"}, {"quotechar": "'"}),
        ({"na_rep": "MISSING"}, {"na_values": ["MISSING"]}),
        ({"header": False}, {"header": None, "names": list(SCHEMA)}),
    ],
    ids=["semicolon", "tab", "decimal-comma", "single-quote", "na-marker", "no-header"],
)
def test_csv_dialects(
    catalog_from: CatalogFrom,
    tmp_path: Path,
    write_kwargs: dict[str, Any],
    options: dict[str, Any],
) -> None:
    df = corpus_frame(3, 80)
    df.to_csv(tmp_path / "c.csv", index=False, **write_kwargs)
    cat = catalog_from(resource_yaml("c", "c.csv", "csv", options))
    ref = csv_reference(tmp_path / "c.csv", **options)
    pd.testing.assert_frame_equal(cat.read("c"), ref)


def test_csv_latin1(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    df = corpus_frame(4, 40)
    # latin-1 has no CJK or emoji: keep what it can encode
    df["s"] = df["s"].map(
        lambda v: v if not isinstance(v, str) or v.isascii() or v == "é ü ß" else "x",
        na_action="ignore",
    )
    df.to_csv(tmp_path / "c.csv", index=False, encoding="latin-1")
    assert "é".encode("latin-1") in (tmp_path / "c.csv").read_bytes()
    cat = catalog_from(resource_yaml("c", "c.csv", "csv", {"encoding": "latin-1"}))
    pd.testing.assert_frame_equal(
        cat.read("c"), csv_reference(tmp_path / "c.csv", encoding="latin-1")
    )


def test_csv_utf8_bom(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    """Excel's UTF-8 with a byte-order mark: pandas strips it from the first header."""
    df = corpus_frame(6, 20)
    df.to_csv(tmp_path / "c.csv", index=False, encoding="utf-8-sig")
    assert (tmp_path / "c.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    cat = catalog_from(resource_yaml("c", "c.csv", "csv"))
    pd.testing.assert_frame_equal(cat.read("c"), csv_reference(tmp_path / "c.csv"))


def test_csv_header_only(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    """No rows: pandas gives object columns; the schema's dtypes are the right answer here.

    Deliberate difference: the reference is ``.astype`` to every schema dtype, since pandas has
    nothing to infer from.
    """
    corpus_frame(0, 3).iloc[:0].to_csv(tmp_path / "c.csv", index=False)
    cat = catalog_from(resource_yaml("c", "c.csv", "csv"))
    ref = pd.read_csv(tmp_path / "c.csv").astype(SCHEMA)
    pd.testing.assert_frame_equal(cat.read("c"), ref, check_index_type=False)


def test_csv_written_by_dynio_reads_the_same_in_pandas(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    """The other direction: a CSV dynio writes is read by pandas as dynio reads it."""
    df = corpus_frame(7, 120)
    cat = catalog_from(resource_yaml("c", "out.csv", "csv"))
    cat.write("c", df)
    pd.testing.assert_frame_equal(cat.read("c"), csv_reference(tmp_path / "out.csv"))


def test_parquet_written_by_dynio_reads_the_same_in_pandas(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    df = corpus_frame(8, 120)
    cat = catalog_from(resource_yaml("p", "out.parquet", "parquet"))
    cat.write("p", df)
    pd.testing.assert_frame_equal(cat.read("p"), parquet_reference(tmp_path / "out.parquet"))


# ------------------------------------------------------------------------- property-based text


# hypothesis' report of a failing example imports a module that raises this DeprecationWarning;
# under ``filterwarnings = error`` that turns a test failure into a pytest INTERNALERROR
HYPOTHESIS_REPORT_WARNING = pytest.mark.filterwarnings(
    "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"
)

TEXT = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs",),  # no lone surrogates: not encodable
        # NUL cannot be in a CSV; a lone CR is written unquoted by pandas' CSV writer, so
        # pandas itself reads it back as a line break (a pandas writer limitation; CRLF inside
        # text is quoted and is in the corpus)
        blacklist_characters="\x00\r",
    ),
    max_size=12,
)


@HYPOTHESIS_REPORT_WARNING
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(values=st.lists(st.one_of(st.none(), TEXT), min_size=1, max_size=8))
def test_csv_text_matches_pandas(
    catalog_from: CatalogFrom, tmp_path: Path, values: list[str | None]
) -> None:
    """Any text pandas writes to CSV reads back through dynio as pandas reads it."""
    df = pd.DataFrame({"k": range(len(values)), "s": pd.Series(values, dtype="str")})
    df.to_csv(tmp_path / "h.csv", index=False)
    doc = {
        "h": {
            "local": {"type": "local", "local": {"file_path": "h.csv", "file_type": "csv"}},
            "schema": {"columns": {"k": "int64", "s": "str"}},
        }
    }
    cat = catalog_from(yaml.safe_dump(doc, sort_keys=False), name="h.yaml")
    ref = pd.read_csv(tmp_path / "h.csv", dtype={"s": "str"})
    pd.testing.assert_frame_equal(cat.read("h"), ref)


@HYPOTHESIS_REPORT_WARNING
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    ints=st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=6),
    floats=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=6, max_size=6),
)
def test_csv_numbers_match_pandas(
    catalog_from: CatalogFrom, tmp_path: Path, ints: list[int], floats: list[float]
) -> None:
    df = pd.DataFrame({"i": pd.Series(ints, dtype="int64"), "f": floats[: len(ints)]})
    df.to_csv(tmp_path / "n.csv", index=False)
    doc = {
        "n": {
            "local": {"type": "local", "local": {"file_path": "n.csv", "file_type": "csv"}},
            "schema": {"columns": {"i": "int64", "f": "float64"}},
        }
    }
    cat = catalog_from(yaml.safe_dump(doc, sort_keys=False), name="n.yaml")
    out = cat.read("n")
    pd.testing.assert_frame_equal(out, pd.read_csv(tmp_path / "n.csv"))
    # the values themselves survive exactly (pandas writes floats with repr precision)
    pd.testing.assert_frame_equal(out, df, check_exact=True)


# a sanity check on the corpus itself, so the tests above cannot pass vacuously
def test_corpus_has_the_awkward_values() -> None:
    df = corpus_frame(0, 500)
    text = set(df["s"].dropna())
    assert {"two\nlines", "with, comma", 'say "hi"', "漢字かな"} <= text
    assert df["s"].isna().any()
    assert df["f"].isna().any()
    assert np.isinf(df["f"]).any()
    assert df["t"].isna().any()
    assert df["nb"].isna().any()
    assert df["nn"].isna().any()
    assert (df["t"].dt.microsecond != 0).any()
    assert set(df["code"].str[0]) <= set(string.digits)
    assert (df["code"].str.startswith("0")).any()
