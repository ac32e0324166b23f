"""The same behaviour from every file store: local files, S3, GCS and fsspec's memory store.

Every test here runs once per store (the ``store`` fixture) through the same catalog calls;
only the YAML of the environment differs. S3 runs against moto in server mode and GCS against
fake-gcs-server, both on loopback (see ``tests/fixtures/objectstores.py``).

Covers what only file stores promise: round trips per format with the object keys written,
replacing an object, path templates (and their escapes), datasets under a prefix or a glob
(markers and empty files skipped), hive-partitioned writes and pruned reads, schema drift across
files, missing locations named. What every kind promises (failed writes keep the old data,
projection and filters, pandas/Polars/Arrow input, errors) is the shared contract suite,
``dynio.testing.contract``, run for these stores in ``tests/contract/test_contract_files.py``.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from fixtures.objectstores import Bucket

import dynio
from dynio.engine.sources.dataset import SchemaDriftWarning
from dynio.errors import ReadError, SchemaError, TemplateError

CatalogFrom = Callable[..., dynio.Catalog]

STORES = ["local", "s3", "gcs", "memory"]

COLUMNS = {
    "i": "int64",
    "f": "float64",
    "s": "str",
    "t": "datetime64[ns]",
    "b": "bool",
}
EXT = {"parquet": "parquet", "csv": "csv", "json": "json", "ndjson": "ndjson", "ipc": "arrow"}


def frame(start: int = 0, n: int = 4) -> pd.DataFrame:
    """A small frame of COLUMNS' dtypes (a null float where allowed)."""
    ids = list(range(start, start + n))
    return pd.DataFrame(
        {
            "i": pd.Series(ids, dtype="int64"),
            "f": pd.Series([x * 1.5 if x % 3 else None for x in ids], dtype="float64"),
            "s": pd.Series([f"v{x}" for x in ids], dtype="str"),
            "t": pd.Series(
                pd.to_datetime([f"2024-01-{1 + x % 28:02d} 10:{x % 60:02d}" for x in ids])
            ).astype("datetime64[ns]"),
            "b": pd.Series([x % 2 == 0 for x in ids], dtype="bool"),
        }
    )


def parquet_bytes(df: pd.DataFrame | pa.Table) -> bytes:
    table = df if isinstance(df, pa.Table) else pa.Table.from_pandas(df, preserve_index=False)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


@dataclass
class Store:
    """One store under test: the YAML of an environment there, and raw access to its files."""

    name: str
    root: str  # a local folder, or the bucket for the others
    bucket: Bucket | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def _opts(self, options: dict[str, Any] | None) -> dict[str, Any]:
        merged = dict(options or {})
        if self.options:
            merged["storage_options"] = dict(self.options)
        return merged

    def single(self, path: str, file_type: str, options: dict[str, Any] | None = None) -> Any:
        """An environment holding one file at ``path`` (relative to the store's root)."""
        opts = self._opts(options)
        if self.name == "local":
            body: dict[str, Any] = {
                "type": "local",
                "local": {"file_path": f"{self.root}/{path}", "file_type": file_type},
            }
        elif self.name in ("s3", "gcs"):
            body = {
                "type": self.name,
                self.name: {"bucket": self.root, "file_path": path, "file_type": file_type},
            }
        else:
            body = {
                "type": "file",
                "file": {"uri": f"memory://{self.root}/{path}", "format": file_type},
            }
        if opts:
            body["options"] = opts
        return body

    def dataset(
        self,
        file_type: str,
        *,
        prefix: str | None = None,
        pattern: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> Any:
        """An environment holding many files: under ``prefix``, or matching ``pattern``."""
        opts = self._opts(options)
        where = {"path_prefix": prefix} if prefix is not None else {"dynamic_file_path": pattern}
        if self.name == "local":
            where = {k: f"{self.root}/{v}" for k, v in where.items()}
            body: dict[str, Any] = {
                "type": "local_batch",
                "local": {**where, "file_type": file_type},
            }
        elif self.name in ("s3", "gcs"):
            body = {
                "type": f"{self.name}_path_prefix",
                self.name: {"bucket": self.root, **where, "file_type": file_type},
            }
        else:
            uri = f"memory://{self.root}/{prefix if prefix is not None else pattern}"
            body = {"type": "file", "file": {"uri": uri, "format": file_type}}
        if opts:
            body["options"] = opts
        return body

    def put(self, path: str, data: bytes) -> None:
        """Store raw bytes as the file ``path``."""
        if self.bucket is None:
            target = Path(self.root) / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        else:
            self.bucket.put(path, data)

    def keys(self, prefix: str = "") -> list[str]:
        """Every file under ``prefix``, relative to the root, sorted."""
        if self.bucket is None:
            base = Path(self.root)
            return sorted(
                str(p.relative_to(base))
                for p in (base / prefix).rglob("*")
                if p.is_file() and not p.name.startswith(".")
            )
        return self.bucket.keys(prefix)


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """Each store in turn."""
    name: str = request.param
    if name == "local":
        root = tmp_path / "store"
        root.mkdir()
        return Store("local", str(root))
    fixture = {"s3": "s3", "gcs": "gcs", "memory": "memory_bucket"}[name]
    bucket: Bucket = request.getfixturevalue(fixture)
    return Store(name, bucket.name, bucket, dict(bucket.storage_options))


def catalog(
    catalog_from: CatalogFrom,
    envs: dict[str, Any],
    columns: dict[str, str] | None = None,
    rules: dict[str, Any] | None = None,
) -> dynio.Catalog:
    """A catalog with one resource per entry of ``envs`` (environment ``env``)."""
    doc: dict[str, Any] = {}
    for name, body in envs.items():
        res: dict[str, Any] = {"env": body}
        if columns is not None:
            cols: dict[str, Any] = {c: {"type": t} for c, t in columns.items()}
            for col, rule in (rules or {}).items():
                cols[col]["validations"] = rule
            res["schema"] = {"columns": cols}
        doc[name] = res
    return catalog_from(
        yaml.safe_dump(doc, sort_keys=False), env="env", name=f"{uuid.uuid4().hex}.yaml"
    )


# ------------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("file_type", sorted(EXT))
def test_round_trip(store: Store, catalog_from: CatalogFrom, file_type: str) -> None:
    cat = catalog(catalog_from, {"r": store.single(f"data/r.{EXT[file_type]}", file_type)}, COLUMNS)
    df = frame()
    info = cat.write("r", df).info
    assert info.rows == 4
    assert info.location.endswith(f"data/r.{EXT[file_type]}")
    pd.testing.assert_frame_equal(cat.read("r"), df)
    assert store.keys("data") == [f"data/r.{EXT[file_type]}"]


def test_write_replaces_the_object(store: Store, catalog_from: CatalogFrom) -> None:
    cat = catalog(catalog_from, {"r": store.single("x/r.parquet", "parquet")}, COLUMNS)
    cat.write("r", frame(0, 5))
    cat.write("r", frame(100, 2))
    pd.testing.assert_frame_equal(cat.read("r"), frame(100, 2))
    assert store.keys("x") == ["x/r.parquet"]


# ---------------------------------------------------------------------------------- templates


def test_template_path(store: Store, catalog_from: CatalogFrom) -> None:
    cat = catalog(catalog_from, {"r": store.single("days/{day}/r.parquet", "parquet")}, COLUMNS)
    cat.write("r", frame(0, 2), day="2024-03-01")
    cat.write("r", frame(10, 3), day="2024-03-02")
    pd.testing.assert_frame_equal(cat.read("r", day="2024-03-02"), frame(10, 3))
    pd.testing.assert_frame_equal(cat.read("r", day="2024-03-01"), frame(0, 2))
    with pytest.raises(TemplateError):
        cat.read("r")
    with pytest.raises(TemplateError):
        cat.read("r", day="../escape")


# ---------------------------------------------------------------------------------- datasets


def test_dataset_under_a_prefix(store: Store, catalog_from: CatalogFrom) -> None:
    frames = [frame(k * 3, 3) for k in range(12)]
    for k, part in enumerate(frames):
        sub = "nested/" if k % 4 == 0 else ""
        store.put(f"lake/{sub}part-{k:02d}.parquet", parquet_bytes(part))
    store.put("lake/_SUCCESS", b"")
    store.put("lake/empty.parquet", b"")
    store.put("lake/notes.txt", b"not data")
    store.put("lake/other.csv", b"i\n1\n")
    cat = catalog(catalog_from, {"d": store.dataset("parquet", prefix="lake/")}, COLUMNS)
    result = cat.read_result("d")
    assert len(result.info.files) == 12
    out = cat.read("d").sort_values("i", ignore_index=True)
    pd.testing.assert_frame_equal(out, pd.concat(frames, ignore_index=True))


def test_dataset_glob_with_template_and_double_star(
    store: Store, catalog_from: CatalogFrom
) -> None:
    layout = {
        "runs/7/a/part_1.parquet": frame(0, 2),
        "runs/7/b/c/part_2.parquet": frame(2, 2),
        "runs/7/part_3.parquet": frame(4, 1),
        "runs/8/a/part_1.parquet": frame(100, 3),
        "runs/7/a/other.parquet": frame(50, 1),
    }
    for path, part in layout.items():
        store.put(path, parquet_bytes(part))
    cat = catalog(
        catalog_from,
        {"g": store.dataset("parquet", pattern="runs/{run}/**/part_*.parquet")},
        COLUMNS,
    )
    out = cat.read("g", run=7).sort_values("i", ignore_index=True)
    pd.testing.assert_frame_equal(
        out, pd.concat([frame(0, 2), frame(2, 2), frame(4, 1)], ignore_index=True)
    )
    assert cat.read("g", run="8")["i"].tolist() == [100, 101, 102]


def test_dataset_of_csv_files(store: Store, catalog_from: CatalogFrom) -> None:
    frames = [frame(k * 2, 2) for k in range(3)]
    for k, part in enumerate(frames):
        store.put(f"csvs/f{k}.csv", part.to_csv(index=False).encode())
    cat = catalog(catalog_from, {"d": store.dataset("csv", prefix="csvs/")}, COLUMNS)
    out = cat.read("d").sort_values("i", ignore_index=True)
    pd.testing.assert_frame_equal(out, pd.concat(frames, ignore_index=True))


def test_partitioned_write_and_pruned_read(store: Store, catalog_from: CatalogFrom) -> None:
    columns = {**COLUMNS, "part": "str"}
    cat = catalog(
        catalog_from,
        {"d": store.dataset("parquet", prefix="ds/", options={"partition_cols": ["part"]})},
        columns,
    )
    df = pd.concat(
        [frame(0, 3).assign(part="a"), frame(3, 2).assign(part="b"), frame(5, 1).assign(part="c")],
        ignore_index=True,
    )
    info = cat.write("d", df).info
    assert len(info.files) == 3
    assert store.keys("ds") == [
        "ds/part=a/part-00000.parquet",
        "ds/part=b/part-00000.parquet",
        "ds/part=c/part-00000.parquet",
    ]
    pd.testing.assert_frame_equal(cat.read("d").sort_values("i", ignore_index=True), df)
    only_b = cat.read_result("d", filters=[("part", "==", "b")])
    assert only_b.frame["i"].to_list() == [3, 4]
    assert len(only_b.info.files) == 1
    assert "part=b" in only_b.info.files[0]


def test_partitioned_rewrite_removes_old_partitions(
    store: Store, catalog_from: CatalogFrom
) -> None:
    columns = {**COLUMNS, "part": "str"}
    cat = catalog(
        catalog_from,
        {"d": store.dataset("parquet", prefix="ds/", options={"partition_cols": ["part"]})},
        columns,
    )
    cat.write("d", pd.concat([frame(0, 2).assign(part="old"), frame(2, 2).assign(part="kept")]))
    new = frame(10, 3).assign(part="kept")
    cat.write("d", new)
    assert store.keys("ds") == ["ds/part=kept/part-00000.parquet"]
    pd.testing.assert_frame_equal(cat.read("d"), new.reset_index(drop=True))


def test_unpartitioned_dataset_write(store: Store, catalog_from: CatalogFrom) -> None:
    cat = catalog(catalog_from, {"d": store.dataset("parquet", prefix="flat/")}, COLUMNS)
    cat.write("d", frame(0, 5))
    store.put("flat/stray.parquet", parquet_bytes(frame(99, 1)))
    cat.write("d", frame(7, 2))
    assert store.keys("flat") == ["flat/part-00000.parquet"]
    pd.testing.assert_frame_equal(cat.read("d"), frame(7, 2))


# --------------------------------------------------------------------------------- schema drift


def _drifting_files(store: Store) -> None:
    store.put(
        "drift/a.parquet",
        parquet_bytes(
            pa.table({"id": pa.array([1, 2], pa.int64()), "v": pa.array([10, 20], pa.int64())})
        ),
    )
    store.put(
        "drift/b.parquet",
        parquet_bytes(
            pa.table(
                {"id": pa.array([3], pa.int64()), "v": pa.array([0.5]), "note": pa.array(["x"])}
            )
        ),
    )
    store.put("drift/c.parquet", parquet_bytes(pa.table({"id": pa.array([4], pa.int32())})))


def test_schema_drift_is_reconciled_with_a_warning(store: Store, catalog_from: CatalogFrom) -> None:
    _drifting_files(store)
    cat = catalog(
        catalog_from,
        {"d": store.dataset("parquet", prefix="drift/")},
        {"id": "int64", "v": "float64", "note": "str"},
    )
    with pytest.warns(SchemaDriftWarning) as caught:
        out = cat.read("d").sort_values("id", ignore_index=True)
    expected = pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "v": [10.0, 20.0, 0.5, None],
            "note": pd.Series([None, None, "x", None], dtype="str"),
        }
    )
    pd.testing.assert_frame_equal(out, expected)
    text = " ".join(str(w.message) for w in caught)
    assert "'v'" in text
    assert "c.parquet" in text  # lacks v and note
    assert "a.parquet" in text  # integers where b holds floats
    assert "'note'" in text


def test_schema_drift_without_a_schema(store: Store, catalog_from: CatalogFrom) -> None:
    _drifting_files(store)
    cat = catalog(catalog_from, {"d": store.dataset("parquet", prefix="drift/")})
    with pytest.warns(SchemaDriftWarning):
        out = cat.read("d").sort_values("id", ignore_index=True)
    assert list(out.columns) == ["id", "v", "note"]
    assert out["v"].tolist()[:3] == [10.0, 20.0, 0.5]


def test_integer_widths_differing_is_not_drift(store: Store, catalog_from: CatalogFrom) -> None:
    store.put("w/a.parquet", parquet_bytes(pa.table({"id": pa.array([1, 2], pa.int32())})))
    store.put("w/b.parquet", parquet_bytes(pa.table({"id": pa.array([3], pa.int64())})))
    cat = catalog(catalog_from, {"d": store.dataset("parquet", prefix="w/")}, {"id": "int64"})
    assert sorted(cat.read("d")["id"].tolist()) == [1, 2, 3]


def test_column_missing_from_every_file_is_schema_error(
    store: Store, catalog_from: CatalogFrom
) -> None:
    _drifting_files(store)
    cat = catalog(
        catalog_from,
        {"d": store.dataset("parquet", prefix="drift/")},
        {"id": "int64", "zeta": "str"},
    )
    with pytest.raises(SchemaError) as err:
        cat.read("d")
    assert err.value.column == "zeta"
    assert err.value.resource == "d"
    assert "zeta" in str(err.value)


def test_csv_files_with_different_columns(store: Store, catalog_from: CatalogFrom) -> None:
    store.put("c/a.csv", b"id,v\n1,10\n")
    store.put("c/b.csv", b"id\n2\n")
    cat = catalog(
        catalog_from, {"d": store.dataset("csv", prefix="c/")}, {"id": "int64", "v": "float64"}
    )
    with pytest.warns(SchemaDriftWarning, match="b.csv"):
        out = cat.read("d").sort_values("id", ignore_index=True)
    assert out["v"].tolist()[0] == 10.0
    assert pd.isna(out["v"].tolist()[1])


# ------------------------------------------------------------------------------------ errors


def test_missing_file_is_read_error(store: Store, catalog_from: CatalogFrom) -> None:
    cat = catalog(catalog_from, {"r": store.single("nowhere/r.parquet", "parquet")}, COLUMNS)
    with pytest.raises(ReadError) as err:
        cat.read("r")
    assert err.value.resource == "r"
    assert err.value.env == "env"
    assert "nowhere/r.parquet" in str(err.value)


def test_empty_prefix_is_read_error(store: Store, catalog_from: CatalogFrom) -> None:
    store.put("hollow/_SUCCESS", b"")
    store.put("hollow/empty.parquet", b"")
    cat = catalog(catalog_from, {"d": store.dataset("parquet", prefix="hollow/")}, COLUMNS)
    with pytest.raises(ReadError) as err:
        cat.read("d")
    assert err.value.resource == "d"
    assert "hollow" in str(err.value)
