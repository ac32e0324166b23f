"""The ``mixed`` read: a plain parquet read into pandas whose text columns pyarrow reads while
Polars reads the others (:func:`dynio.engine.collect.collect_mixed`).

It must give exactly what one Polars read gives (``options.read_path: polars`` forces that),
whoever wrote the file, in every ``dtype_backend``, projections in any order included; a read
with rules or metrics takes it for the text no check reads, with the same report and metrics;
a read with casts never takes it; and when pyarrow cannot read the text the read is made
through Polars. The size thresholds are lowered here so small files take it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from fixtures.otel import OtelCapture
from fixtures.writers import (
    WRITERS,
    orders,
    read_path_yaml,
    split_small_files,
    write_orders,
    write_parquet,
)

import dynio
import dynio.pandas as dp
from dynio.engine import collect, column_split, read_path
from dynio.engine.errors import ReadError, ValidationError
from dynio.engine.plan import plan_read
from dynio.engine.sources.dataset import SchemaDriftWarning

CatalogFrom = Callable[..., dynio.Catalog]
ROWS = 3_000
BACKENDS = ("numpy", "numpy_nullable", "pyarrow")


@pytest.fixture(autouse=True)
def _small_files_mix(monkeypatch: pytest.MonkeyPatch) -> None:
    split_small_files(monkeypatch, 2)


@pytest.fixture(params=WRITERS)
def written(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return write_orders(tmp_path, str(request.param), ROWS, 5, 700)


def _catalog(catalog_from: CatalogFrom, path: Path, schema: str = "") -> dynio.Catalog:
    return catalog_from(read_path_yaml(path, ("auto", "polars"), schema))


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_mixed_read_equals_one_polars_read(
    catalog_from: CatalogFrom, written: Path, backend: str
) -> None:
    cat = _catalog(catalog_from, written)
    mixed = cat.read("auto", dtype_backend=backend)
    assert cat.last_info is not None
    assert cat.last_info.read_path == "mixed"
    whole = cat.read("polars", dtype_backend=backend)
    assert cat.last_info is not None
    assert cat.last_info.read_path == "polars"
    pd.testing.assert_frame_equal(mixed, whole, check_exact=True)
    if backend == "numpy":  # and pandas' own reader agrees
        pd.testing.assert_frame_equal(mixed, pd.read_parquet(written), check_exact=True)


def test_a_projection_keeps_its_order(catalog_from: CatalogFrom, written: Path) -> None:
    cat = _catalog(catalog_from, written)
    cols = ["note", "order_id", "email", "ts", "country"]  # text first, last and between
    out = cat.read("auto", columns=cols)
    assert cat.last_info is not None
    assert cat.last_info.read_path == "mixed"
    assert list(out.columns) == cols
    pd.testing.assert_frame_equal(out, cat.read("polars", columns=cols), check_exact=True)


def test_nulls_in_text_stay_missing(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    path = tmp_path / "n.parquet"
    pl.DataFrame(
        {"id": [1, 2, 3, 4], "s": [None, "a", None, "long text of more than twelve bytes"]}
    ).write_parquet(path)
    cat = _catalog(catalog_from, path)
    out = cat.read("auto")
    assert cat.last_info is not None
    assert cat.last_info.read_path == "mixed"
    assert out["s"].isna().tolist() == [True, False, True, False]
    pd.testing.assert_frame_equal(out, cat.read("polars"), check_exact=True)


_CAST = """  schema:
    columns:
      order_id: {type: int64}
      country: {type: category}
      email: {type: object}
      ts: {type: "datetime64[ns]"}
"""


def test_a_read_with_a_cast_is_not_mixed(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    path = tmp_path / "o.parquet"
    write_parquet(orders(ROWS), "pyarrow", path, 700)
    cat = _catalog(catalog_from, path, _CAST)
    cat.read("auto")
    assert cat.last_info is not None
    assert cat.last_info.read_path == "polars-split"
    pd.testing.assert_frame_equal(cat.read("auto"), cat.read("polars"), check_exact=True)


def _checked(labels: str) -> str:
    return f"""  schema:
    columns:
      order_id: {{type: int64, validations: {{has_unique_values: {{apply: true, options: {{}}}}}}}}
      country:
        type: object
        validations: {{is_in: {{apply: true, options: {{categorical_values: {labels}}}}}}}
        metrics: [CountsPerLabel]
      amount: {{type: float64, metrics: [Min, Mean]}}
      email: {{type: object}}
      note: {{type: object}}
"""


_LABELS = '["GB", "FR", "DE", "ünï"]'


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_checked_read_reads_its_unchecked_text_by_pyarrow(
    catalog_from: CatalogFrom, written: Path, backend: str
) -> None:
    cat = _catalog(catalog_from, written, _checked(_LABELS))
    mixed = cat.read("auto", dtype_backend=backend)
    assert cat.last_info is not None
    assert cat.last_info.read_path == "mixed"
    report, values = cat.last_report, cat.last_metrics
    whole = cat.read("polars", dtype_backend=backend)
    assert cat.last_info is not None
    assert cat.last_info.read_path == "polars"
    pd.testing.assert_frame_equal(mixed, whole, check_exact=True)
    assert report is not None
    assert cat.last_report is not None
    assert (report.ok, report.checked, report.rows) == (True, 2, ROWS)
    assert report.failures == cat.last_report.failures
    assert [(v.column, v.metric, v.value) for v in values] == [
        (v.column, v.metric, v.value) for v in cat.last_metrics
    ]
    assert {v.column for v in values} == {"country", "amount"}


def test_a_checked_mixed_read_fails_as_one_read_fails(
    catalog_from: CatalogFrom, tmp_path: Path, otel: OtelCapture
) -> None:
    path = tmp_path / "o.parquet"
    write_parquet(orders(ROWS), "polars", path, 700)
    cat = _catalog(catalog_from, path, _checked('["GB", "FR"]'))
    with pytest.raises(ValidationError) as mixed:
        cat.read("auto")
    assert (otel.span("dynio.read").attributes or {})["dynio.read.path"] == "mixed"
    with pytest.raises(ValidationError) as whole:
        cat.read("polars")
    assert str(mixed.value).replace("'auto'", "'polars'") == str(whole.value)


def test_a_read_checking_every_text_column_is_not_mixed(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    path = tmp_path / "o.parquet"
    write_parquet(orders(ROWS), "polars", path, 700)
    schema = _checked(_LABELS).replace(
        "email: {type: object}", "email: {type: object, metrics: [UniqueCounts]}"
    )
    schema = schema.replace("note: {type: object}", "note: {type: object, metrics: [Counts]}")
    cat = _catalog(catalog_from, path, schema)
    out = cat.read("auto")
    assert cat.last_info is not None
    assert cat.last_info.read_path == "polars-split"
    pd.testing.assert_frame_equal(out, cat.read("polars"), check_exact=True)
    # and a Polars frame asked for is never mixed, checked or not
    cat.read_polars("auto")
    assert cat.last_info is not None
    assert cat.last_info.read_path == "polars-split"


def test_reads_with_nothing_to_split_are_not_mixed(
    catalog_from: CatalogFrom, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "o.parquet"
    write_parquet(orders(ROWS), "pyarrow", path, 700)
    cat = _catalog(catalog_from, path)
    text_file = tmp_path / "text.parquet"
    write_parquet(orders(ROWS)[["country", "email", "note"]], "pyarrow", text_file, 700)
    text = _catalog(catalog_from, text_file)
    out = text.read("auto")  # nothing for Polars to read
    assert text.last_info is not None
    assert text.last_info.read_path == "polars-split"
    pd.testing.assert_frame_equal(out, text.read("polars"), check_exact=True)
    cat.read("auto", filters=[("qty", ">", 3)])  # a filter: one scan decides the rows
    assert cat.last_info is not None
    assert cat.last_info.read_path == "polars"
    monkeypatch.setattr(column_split, "groups_wanted", lambda: 1)  # one thread
    cat.read("auto")
    assert cat.last_info is not None
    assert cat.last_info.read_path != "mixed"


def test_the_path_and_rows_are_on_the_spans(
    catalog_from: CatalogFrom, tmp_path: Path, otel: OtelCapture
) -> None:
    path = tmp_path / "o.parquet"
    write_parquet(orders(ROWS), "polars", path, 700)
    _catalog(catalog_from, path).read("auto")
    assert (otel.span("dynio.read").attributes or {})["dynio.read.path"] == "mixed"
    assert (otel.span("dynio.scan").attributes or {})["dynio.rows"] == ROWS


def test_pandas_read_parquet_reads_mixed(tmp_path: Path) -> None:
    path = tmp_path / "o.parquet"
    write_parquet(orders(ROWS), "pandas", path, 700)
    out = dp.read_parquet(path)
    assert dp.last_read() == dp.ReadPath("read_parquet", "mixed", None)
    pd.testing.assert_frame_equal(out, pd.read_parquet(path), check_exact=True)


def test_text_pyarrow_cannot_read_is_read_by_polars(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    path = tmp_path / "o.parquet"
    write_parquet(orders(ROWS), "pyarrow", path, 700)
    cat = _catalog(catalog_from, path)
    plan = plan_read(cat.resource("auto")._spec, "local", streaming=False)
    chosen = read_path.decide(plan, arrow_wanted=True)
    assert chosen.path == "mixed"
    assert chosen.text == ["country", "email", "note"]
    assert plan.release is not None
    plan.release()  # read by path from here: the plan no longer holds the file
    plan = replace(plan, read_paths=())
    # replaced after planning by a file whose "email" is a number: pyarrow's text read does not
    # fit the plan (collect_mixed then gives None: the caller reads through Polars, and the
    # read is made again since its file changed, tests/test_read_paths.py)
    write_parquet(orders(ROWS).assign(email=1), "pyarrow", path, 700)
    assert read_path.read_text(plan, chosen.text) is None
    # a file pyarrow cannot read at all raises (collect_mixed logs it and gives None)
    path.write_bytes(b"PAR1 not a parquet file PAR1")
    with pytest.raises((OSError, pa.ArrowException)):
        read_path.read_text(plan, chosen.text)
    # and the catalog's read of the new file is Polars' (and says what is wrong with it)
    with pytest.raises(ReadError, match=r"o\.parquet"):
        cat.read("auto")


def _folder(path: Path) -> str:
    return f'type: local_batch\n    local: {{path_prefix: "{path}/", file_type: parquet}}'


def test_a_dataset_of_files_is_mixed(catalog_from: CatalogFrom, tmp_path: Path) -> None:
    data = tmp_path / "parts"
    data.mkdir()
    frame = orders(ROWS, seed=3)
    for i, writer in enumerate(("pyarrow", "polars", "duckdb")):  # each file its own writer
        part = frame.iloc[i * 1000 : (i + 1) * 1000]
        write_parquet(part.reset_index(drop=True), writer, data / f"part-{i}.parquet", 300)
    cat = catalog_from(read_path_yaml(None, ("auto", "polars"), location=_folder(data)))
    out = cat.read("auto")
    assert cat.last_info is not None
    assert cat.last_info.read_path == "mixed"
    pd.testing.assert_frame_equal(out, cat.read("polars"), check_exact=True)
    pd.testing.assert_frame_equal(out, frame, check_exact=True)


def test_a_dataset_whose_file_lacks_a_text_column_is_not_mixed(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    data = tmp_path / "parts"
    data.mkdir()
    write_parquet(orders(1000), "pyarrow", data / "part-0.parquet", 300)
    # a drifted dataset: the file's missing column is read as nulls by the plan's own per-file
    # reads, which the mixed read's one pyarrow dataset scan would not follow
    write_parquet(orders(1000).drop(columns=["email"]), "pyarrow", data / "part-1.parquet", 300)
    cat = catalog_from(read_path_yaml(None, ("auto",), location=_folder(data)))
    with pytest.warns(SchemaDriftWarning, match="'email' is missing"):
        plan = plan_read(cat.resource("auto")._spec, "local", streaming=False)
    try:
        assert read_path.mixed_text(plan) is None
        assert read_path.decide(plan, arrow_wanted=True).path != "mixed"
    finally:
        if plan.release is not None:
            plan.release()  # the files the plan's per-file reads hold open


def test_a_file_replaced_after_planning_is_read_in_the_version_planned(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    path = tmp_path / "o.parquet"
    planned = orders(ROWS, seed=1)
    write_parquet(planned, "pyarrow", path, 700)
    cat = _catalog(catalog_from, path)
    plan = plan_read(cat.resource("auto")._spec, "local", streaming=False)
    try:
        chosen = read_path.decide(plan, arrow_wanted=True)
        assert chosen.text is not None
        # a writer renames a new version over it: as many rows, other values
        write_parquet(orders(ROWS, seed=2), "pyarrow", tmp_path / "new.parquet", 700)
        os.replace(tmp_path / "new.parquet", path)
        mixed = collect.collect_mixed(plan, chosen.text)
        assert mixed is not None
        table = mixed.table()
    finally:
        if plan.release is not None:
            plan.release()
    # both readers read the version planned on (the one the plan holds open)
    assert table.column("email").to_pylist() == planned["email"].tolist()
    amount = table.column("amount").to_numpy(zero_copy_only=False)
    np.testing.assert_array_equal(amount, planned["amount"].to_numpy())  # (NaN where NaN)


def test_text_that_is_not_utf8_is_read_by_polars_which_names_the_file(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    path = tmp_path / "bad.parquet"
    text = pa.array([b"ok", b"\xff\xfe not utf-8", b"fine"] * 100, pa.binary()).view(pa.string())
    pq.write_table(pa.table({"id": list(range(300)), "s": text}), path)
    cat = _catalog(catalog_from, path)
    plan = plan_read(cat.resource("auto")._spec, "local", streaming=False)
    try:
        chosen = read_path.decide(plan, arrow_wanted=True)
        assert chosen.text == ["s"]
        with pytest.raises(pa.ArrowInvalid):  # pyarrow's reader alone would give it back
            read_path.read_text(plan, chosen.text)
    finally:
        if plan.release is not None:
            plan.release()
    with pytest.raises(ReadError, match=r"bad\.parquet"):
        cat.read("auto")
    with pytest.raises(ReadError, match=r"bad\.parquet"):
        cat.read("auto", dtype_backend="pyarrow")


def test_a_read_with_a_users_own_rule_is_not_mixed(
    catalog_from: CatalogFrom, tmp_path: Path
) -> None:
    @dynio.register_rule("test_mixed_any_text")
    def any_text(col: pl.Expr) -> pl.Expr:  # reads every text column, whatever its own
        return pl.any_horizontal(pl.col(pl.String).is_not_null()) | col.is_not_null()

    try:
        path = tmp_path / "o.parquet"
        write_parquet(orders(ROWS), "polars", path, 700)
        schema = _checked(_LABELS).replace(
            "amount: {type: float64, metrics: [Min, Mean]}",
            "amount: {type: float64, validations: {test_mixed_any_text: {apply: true}}}",
        )
        cat = _catalog(catalog_from, path, schema)
        out = cat.read("auto")
        assert cat.last_info is not None
        assert cat.last_info.read_path == "polars-split"
        pd.testing.assert_frame_equal(out, cat.read("polars"), check_exact=True)
    finally:
        dynio.unregister_rule("test_mixed_any_text")


def test_text_of_a_file_with_no_stored_arrow_schema_is_decoded_into_large_string(
    tmp_path: Path,
) -> None:
    # DuckDB's and Polars' own writers store no Arrow schema: pyarrow would read their text as
    # ``string`` and the read would copy it into ``large_string`` (pyarrow 19 and later are told
    # to decode it as ``large_string`` at once)
    path = tmp_path / "duckdb.parquet"
    write_parquet(orders(ROWS, seed=3), "duckdb", path, 700)
    assert pq.ParquetFile(path).schema_arrow.metadata is None or (
        b"ARROW:schema" not in pq.ParquetFile(path).schema_arrow.metadata
    )
    format_ = read_path._text_format()
    read = ds.dataset(path, format=format_).to_table(columns=["country", "email"])
    binary_type = getattr(format_.read_options, "binary_type", None)
    expected = pa.large_string() if binary_type is not None else pa.string()
    assert read.schema.types == [expected, expected]
    assert pq.read_table(path, columns=["email"]).column("email").type == pa.string()  # unlike this
