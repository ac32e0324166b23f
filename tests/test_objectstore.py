"""Object stores beyond the shared conformance tests: what only S3, GCS and HTTP have.

Covers: dynamicio's YAML forms (``s3_file``, ``s3_path_prefix`` with the prefix in ``bucket``,
``dynamic_file_path``), storage options under every accepted spelling, catalog-level
``credentials``, the default credential chain, errors (missing bucket or key, access denied,
unreachable endpoint, no secret in any message), atomic single and multipart writes, a failed
partitioned write naming the partitions that landed, HTTP reads with and without range support,
formats fetched before reading (HDF, JSON), the progress bar, DuckDB access.

Servers run on loopback (``tests/fixtures/objectstores.py``).
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
import yaml
from conftest import write_text
from fixtures.objectstores import (
    S3_KEYS,
    Bucket,
    HttpServer,
    Server,
    free_port,
    moto_objects,
    start_limited_moto,
)

import dynio
from dynio.engine.io.filesystems import BACKENDS, duckdb_register, parse_location
from dynio.engine.plan import plan_read
from dynio.errors import (
    ConfigError,
    MissingDependencyError,
    MissingVariableError,
    ReadError,
    UnsupportedError,
    WriteError,
)

CatalogFrom = Callable[..., dynio.Catalog]
SECRET = S3_KEYS["secret"]
COLUMNS = {"id": "int64", "name": "str", "value": "float64"}


def small(start: int = 0, n: int = 3) -> pd.DataFrame:
    ids = list(range(start, start + n))
    return pd.DataFrame(
        {
            "id": pd.Series(ids, dtype="int64"),
            "name": pd.Series([f"n{i}" for i in ids], dtype="str"),
            "value": pd.Series([i / 2 for i in ids], dtype="float64"),
        }
    )


def resource(name: str, env: dict[str, Any], columns: dict[str, str] | None = COLUMNS) -> str:
    body: dict[str, Any] = {"env": env}
    if columns is not None:
        body["schema"] = {"columns": columns}
    return yaml.safe_dump({name: body}, sort_keys=False)


def s3_options(bucket: Bucket, **extra: Any) -> dict[str, Any]:
    return {"storage_options": {**bucket.storage_options}, **extra}


def parquet(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


# ------------------------------------------------------------------------- dynamicio's forms


def test_s3_file_kind_with_its_s3_section(s3: Bucket, catalog_from: CatalogFrom) -> None:
    cat = catalog_from(
        resource(
            "r",
            {
                "type": "s3_file",
                "s3": {"bucket": s3.name, "file_path": "in/r.parquet", "file_type": "parquet"},
                "options": s3_options(s3),
            },
        ),
        env="env",
    )
    cat.write("r", small())
    assert s3.keys() == ["in/r.parquet"]
    pd.testing.assert_frame_equal(cat.read("r"), small())


def test_path_prefix_in_bucket_legacy_form(s3: Bucket, catalog_from: CatalogFrom) -> None:
    """dynamicio accepted ``bucket: "bkt/data/in/"`` with no path_prefix."""
    for k in range(3):
        s3.put(f"data/in/p{k}.parquet", parquet(small(k * 3)))
    s3.put("data/elsewhere.parquet", parquet(small(100)))
    text = resource(
        "legacy",
        {
            "type": "s3_path_prefix",
            "s3": {"bucket": f"{s3.name}/data/in/", "file_type": "parquet"},
            "options": s3_options(s3),
        },
    ) + resource(
        "scheme_in_bucket",
        {
            "type": "s3_path_prefix",
            "s3": {"bucket": f"s3://{s3.name}", "path_prefix": "data/in", "file_type": "parquet"},
            "options": s3_options(s3),
        },
    )
    cat = catalog_from(text, env="env")
    expected = pd.concat([small(0), small(3), small(6)], ignore_index=True)
    for name in ("legacy", "scheme_in_bucket"):
        out = cat.read(name).sort_values("id", ignore_index=True)
        pd.testing.assert_frame_equal(out, expected)


def test_dynamic_file_path_as_dynamicio_writes_it(s3: Bucket, catalog_from: CatalogFrom) -> None:
    s3.put("data/a/part_7.parquet", parquet(small(0, 2)))
    s3.put("data/b/c/part_7.parquet", parquet(small(2, 2)))
    s3.put("data/b/part_8.parquet", parquet(small(50, 1)))
    cat = catalog_from(
        resource(
            "dyn",
            {
                "type": "s3_path_prefix",
                "s3": {
                    "bucket": s3.name,
                    "dynamic_file_path": "data/**/part_{runner_id}.parquet",
                    "file_type": "parquet",
                },
                "options": s3_options(s3),
            },
        ),
        env="env",
    )
    out = cat.read("dyn", runner_id=7).sort_values("id", ignore_index=True)
    pd.testing.assert_frame_equal(out, small(0, 4))


def test_prefix_and_dynamic_path_together_is_config_error(
    s3: Bucket, catalog_from: CatalogFrom
) -> None:
    cat = catalog_from(
        resource(
            "both",
            {
                "type": "s3_path_prefix",
                "s3": {
                    "bucket": s3.name,
                    "path_prefix": "a/",
                    "dynamic_file_path": "a/*.parquet",
                    "file_type": "parquet",
                },
                "options": s3_options(s3),
            },
        ),
        env="env",
    )
    with pytest.raises(ConfigError, match="not both"):
        cat.read("both")


def test_file_uri_naming_a_folder_without_slash(s3: Bucket, catalog_from: CatalogFrom) -> None:
    s3.put("folder/a.parquet", parquet(small(0, 2)))
    s3.put("folder/b.parquet", parquet(small(2, 1)))
    cat = catalog_from(
        resource(
            "f",
            {
                "type": "file",
                "file": {"uri": s3.url("folder"), "format": "parquet"},
                "options": s3_options(s3),
            },
        ),
        env="env",
    )
    assert sorted(cat.read("f")["id"]) == [0, 1, 2]


def test_gcs_kinds(gcs: Bucket, catalog_from: CatalogFrom) -> None:
    text = resource(
        "one",
        {
            "type": "gcs",
            "gcs": {"bucket": gcs.name, "file_path": "x/one.csv"},
            "options": {"storage_options": gcs.storage_options},
        },
    ) + resource(
        "many",
        {
            "type": "gcs_path_prefix",
            "gcs": {"bucket": gcs.name, "path_prefix": "x/", "file_type": "csv"},
            "options": {"storage_options": gcs.storage_options},
        },
    )
    cat = catalog_from(text, env="env")
    cat.write("one", small())
    gcs.put("x/two.csv", small(10).to_csv(index=False).encode())
    out = cat.read("many").sort_values("id", ignore_index=True)
    pd.testing.assert_frame_equal(out, pd.concat([small(), small(10)], ignore_index=True))


# ----------------------------------------------------------------------- storage options, creds


@pytest.mark.parametrize(
    "spelling",
    [
        "fsspec",
        "object_store",
        "client_kwargs",
    ],
)
def test_storage_option_spellings(s3: Bucket, catalog_from: CatalogFrom, spelling: str) -> None:
    ep = s3.endpoint
    opts = {
        "fsspec": {"key": "testing", "secret": SECRET, "endpoint_url": ep, "region": "us-east-1"},
        "object_store": {
            "aws_access_key_id": "testing",
            "aws_secret_access_key": SECRET,
            "aws_endpoint_url": ep,
            "aws_region": "us-east-1",
        },
        "client_kwargs": {
            "key": "testing",
            "secret": SECRET,
            "client_kwargs": {"endpoint_url": ep, "region_name": "us-east-1"},
        },
    }[spelling]
    cat = catalog_from(
        resource(
            "r",
            {
                "type": "s3",
                "s3": {"bucket": s3.name, "file_path": "r.parquet"},
                "options": {"storage_options": opts},
            },
        ),
        env="env",
    )
    cat.write("r", small())
    pd.testing.assert_frame_equal(cat.read("r", filters=[("id", ">", 0)]), small(1, 2))


def test_unknown_storage_option_is_config_error_at_load(catalog_from: CatalogFrom) -> None:
    text = resource(
        "r",
        {
            "type": "s3",
            "s3": {"bucket": "b", "file_path": "r.parquet"},
            "options": {"storage_options": {"key": "k", "secert": "typo"}},
        },
    )
    with pytest.raises(ConfigError) as err:
        catalog_from(text, env="env")
    assert err.value.key_path is not None
    assert "storage_options" in err.value.key_path
    assert "secert" in str(err.value)


def test_catalog_level_credentials(
    s3: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Named credentials, values from [[ VARS ]] and the environment, shared across files."""
    monkeypatch.setenv("LAKE_SECRET", SECRET)
    write_text(
        tmp_path / "cat/credentials.yaml",
        f"""
        credentials:
          lake:
            key: "[[ LAKE_KEY ]]"
            secret: "[[ LAKE_SECRET ]]"
            endpoint_url: {s3.endpoint}
            region: us-east-1
          other:
            token: "[[ NEVER_SET ]]"
        """,
    )
    write_text(
        tmp_path / "cat/resources.yaml",
        f"""
        trips:
          prod:
            type: s3
            s3: {{bucket: {s3.name}, file_path: trips.parquet}}
            credentials: lake
          broken:
            type: s3
            s3: {{bucket: {s3.name}, file_path: trips.parquet}}
            credentials: other
          schema:
            columns: {{id: int64, name: str, value: float64}}
        """,
    )
    cat = dynio.Catalog.from_yaml(tmp_path / "cat", env="prod", vars={"LAKE_KEY": "testing"})
    cat.write("trips", small())
    pd.testing.assert_frame_equal(cat.read("trips"), small())
    # the variable only the other environment's credentials use stops that one only
    broken = dynio.Catalog.from_yaml(tmp_path / "cat", env="broken", vars={"LAKE_KEY": "testing"})
    with pytest.raises(MissingVariableError) as err:
        broken.read("trips")
    assert "NEVER_SET" in str(err.value)
    with pytest.raises(MissingVariableError):
        dynio.Catalog.from_yaml(
            tmp_path / "cat", env="broken", vars={"LAKE_KEY": "testing"}, strict=True
        )
    spec = dynio.engine.loader.load_catalog(
        tmp_path / "cat", variables={"LAKE_KEY": "testing"}, env="prod"
    )
    assert "NEVER_SET" in str(spec.resources["trips"].deferred.get("broken") or "")


def test_credentials_explicit_options_win(s3: Bucket, catalog_from: CatalogFrom) -> None:
    text = yaml.safe_dump(
        {"credentials": {"c": {"key": "testing", "secret": "wrong", "endpoint_url": s3.endpoint}}}
    ) + resource(
        "r",
        {
            "type": "s3",
            "s3": {"bucket": s3.name, "file_path": "r.parquet"},
            "credentials": "c",
            "options": {"storage_options": {"secret": SECRET, "region": "us-east-1"}},
        },
    )
    cat = catalog_from(text, env="env")
    cat.write("r", small())
    assert cat.read("r")["id"].tolist() == [0, 1, 2]


def test_unknown_credentials_name_is_config_error(catalog_from: CatalogFrom) -> None:
    text = yaml.safe_dump({"credentials": {"known": {"key": "k"}}}) + resource(
        "r",
        {"type": "s3", "s3": {"bucket": "b", "file_path": "r.parquet"}, "credentials": "unknown"},
    )
    with pytest.raises(ConfigError) as err:
        catalog_from(text, env="env")
    assert err.value.resource == "r"
    assert "unknown" in str(err.value)
    assert "known" in str(err.value)


def test_default_credential_chain(
    s3: Bucket, catalog_from: CatalogFrom, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No storage options: the clients find credentials and endpoint in the environment."""
    import s3fs

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_ENDPOINT_URL": s3.endpoint,
        "AWS_ALLOW_HTTP": "true",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    s3fs.S3FileSystem.clear_instance_cache()  # an earlier default client saw another environment
    cat = catalog_from(
        resource("r", {"type": "s3", "s3": {"bucket": s3.name, "file_path": "chain/r.parquet"}}),
        env="env",
    )
    cat.write("r", small())
    pd.testing.assert_frame_equal(cat.read("r", columns=["id", "value"]), small()[["id", "value"]])
    s3fs.S3FileSystem.clear_instance_cache()


# ------------------------------------------------------------------------------------ errors


def _s3_resource(bucket: str, path: str, options: dict[str, Any], kind: str = "s3") -> str:
    section = "s3"
    body: dict[str, Any] = {"type": kind, section: {"bucket": bucket, "file_type": "parquet"}}
    if kind == "s3_path_prefix":
        body[section]["path_prefix"] = path
    else:
        body[section]["file_path"] = path
    body["options"] = {"storage_options": options}
    return resource("r", body)


def _no_secret(err: BaseException) -> None:
    text = str(err)
    assert SECRET not in text
    assert SECRET not in repr(getattr(err, "args", ""))


def test_missing_bucket(s3: Bucket, catalog_from: CatalogFrom) -> None:
    opts = s3.storage_options
    for kind, path in (("s3", "r.parquet"), ("s3_path_prefix", "lake/")):
        cat = catalog_from(_s3_resource("no-such-bucket-x", path, opts, kind), env="env")
        with pytest.raises(ReadError) as err:
            cat.read("r")
        assert err.value.resource == "r"
        assert "bucket 'no-such-bucket-x' does not exist" in str(err.value)
        assert s3.endpoint in str(err.value)
        _no_secret(err.value)
    with pytest.raises(WriteError) as werr:
        cat.write("r", small())
    assert "no-such-bucket-x" in str(werr.value)
    _no_secret(werr.value)


def test_missing_key(s3: Bucket, gcs: Bucket, catalog_from: CatalogFrom) -> None:
    cat = catalog_from(_s3_resource(s3.name, "absent/r.parquet", s3.storage_options), env="env")
    with pytest.raises(ReadError) as err:
        cat.read("r")
    assert f"no object at s3://{s3.name}/absent/r.parquet" in str(err.value)
    assert err.value.file == f"s3://{s3.name}/absent/r.parquet"
    _no_secret(err.value)
    gcat = catalog_from(
        resource(
            "g",
            {
                "type": "gcs",
                "gcs": {"bucket": gcs.name, "file_path": "absent.parquet"},
                "options": {"storage_options": gcs.storage_options},
            },
        )
        + resource(
            "nob",
            {
                "type": "gcs",
                "gcs": {"bucket": "no-such-gcs-bucket", "file_path": "absent.parquet"},
                "options": {"storage_options": gcs.storage_options},
            },
        ),
        env="env",
        name="g.yaml",
    )
    with pytest.raises(ReadError, match="no object at gs://"):
        gcat.read("g")
    with pytest.raises(ReadError, match="bucket 'no-such-gcs-bucket' does not exist"):
        gcat.read("nob")


def test_status_codes_in_keys_are_not_statuses(
    s3: Bucket, s3_denied_server: Server, catalog_from: CatalogFrom
) -> None:
    # a key naming 403 that does not exist is missing, not denied; one naming 404 in a bucket
    # the credentials may not read is denied, not missing
    cat = catalog_from(_s3_resource(s3.name, "codes/403/r.parquet", s3.storage_options), env="env")
    with pytest.raises(ReadError) as err:
        cat.read("r")
    assert f"no object at s3://{s3.name}/codes/403/r.parquet" in str(err.value)
    opts = {**S3_KEYS, "endpoint_url": s3_denied_server.endpoint}
    denied = catalog_from(_s3_resource("locked", "codes/404/r.parquet", opts), env="env")
    with pytest.raises(
        ReadError, match=re.escape("access denied to s3://locked/codes/404/r.parquet")
    ):
        denied.read("r")


def test_a_lazy_scan_keeps_the_native_streaming_scan(s3: Bucket, catalog_from: CatalogFrom) -> None:
    # a read collects the object under dynio's retries (a Python source in the plan), or fetches
    # a small one whole; a scan the caller may stream keeps Polars' own scan, with Polars'
    # client retrying
    frame = pd.DataFrame({"id": range(5_000), "name": [f"n{i}" for i in range(5_000)]})
    s3.put("stream/r.parquet", parquet(frame))
    for kind, path in (("s3", "stream/r.parquet"), ("s3_path_prefix", "stream/")):
        cat = catalog_from(_s3_resource(s3.name, path, s3.storage_options, kind), env="env")
        lazy = cat.scan("r", columns=["id"])
        assert "PYTHON" not in lazy.explain().upper()
        assert lazy.collect(engine="streaming")["id"].to_list() == list(range(5_000))
        planned = plan_read(cat.resource("r")._spec, "env", columns=["id"], streaming=False)
        explained = planned.frame.explain()
        if planned.release is not None:
            planned.release()
        assert "PYTHON" in explained.upper() or explained.startswith("DF")
        assert cat.read("r", columns=["id"])["id"].tolist() == list(range(5_000))


def test_empty_object_is_read_error(s3: Bucket, catalog_from: CatalogFrom) -> None:
    s3.put("empty.parquet", b"")
    cat = catalog_from(_s3_resource(s3.name, "empty.parquet", s3.storage_options), env="env")
    with pytest.raises(ReadError, match="empty"):
        cat.read("r")


def test_access_denied(s3_denied_server: Server, catalog_from: CatalogFrom) -> None:
    opts = {**S3_KEYS, "endpoint_url": s3_denied_server.endpoint}
    cat = catalog_from(_s3_resource("locked", "r.parquet", opts), env="env")
    with pytest.raises(ReadError) as err:
        cat.read("r")
    assert "access denied to s3://locked/r.parquet" in str(err.value)
    assert err.value.resource == "r"
    _no_secret(err.value)
    with pytest.raises(WriteError) as werr:
        cat.write("r", small())
    assert "access denied" in str(werr.value)
    _no_secret(werr.value)


def test_unreachable_endpoint(catalog_from: CatalogFrom) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    opts = {**S3_KEYS, "endpoint_url": endpoint, "config_kwargs": {"retries": {"max_attempts": 1}}}
    cat = catalog_from(_s3_resource("any", "r.parquet", opts), env="env")
    with pytest.raises(ReadError) as err:
        cat.read("r")
    assert f"cannot reach the S3 endpoint {endpoint}" in str(err.value)
    assert "s3://any/r.parquet" in str(err.value)
    _no_secret(err.value)


def test_no_credentials_anywhere(
    catalog_from: CatalogFrom, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import s3fs

    for name in list(os.environ):
        if name.startswith("AWS_") and name != "AWS_CA_BUNDLE":
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    s3fs.S3FileSystem.clear_instance_cache()
    endpoint = f"http://127.0.0.1:{free_port()}"
    cat = catalog_from(_s3_resource("any", "r.parquet", {"endpoint_url": endpoint}), env="env")
    with pytest.raises(ReadError, match="no credentials found"):
        cat.read("r")
    s3fs.S3FileSystem.clear_instance_cache()


def test_secret_in_a_failing_location_is_redacted(
    http_server: HttpServer, catalog_from: CatalogFrom
) -> None:
    url = f"{http_server.url}/plain/missing.csv?sig=very-secret-signature"
    cat = catalog_from(
        resource("h", {"type": "file", "file": {"uri": url, "format": "csv"}}), env="env"
    )
    with pytest.raises(ReadError) as err:
        cat.read("h")
    assert "very-secret-signature" not in str(err.value)
    assert "missing.csv" in str(err.value)


# ------------------------------------------------------------------------------------- writes


def test_multipart_write_completes_and_reads_back(s3: Bucket, catalog_from: CatalogFrom) -> None:
    rng = np.random.default_rng(3)
    n = 400_000
    big = pd.DataFrame(
        {
            "id": np.arange(n, dtype="int64"),
            "name": pd.Series(rng.integers(0, 10**9, n).astype(str), dtype="str"),
            "value": rng.random(n),
        }
    )
    opts = {**s3.storage_options, "block_size": 5 * 2**20}  # parts of 5 MiB, the S3 minimum
    cat = catalog_from(
        resource(
            "big",
            {
                "type": "s3",
                "s3": {"bucket": s3.name, "file_path": "big.csv"},
                "options": {"storage_options": opts},
            },
        ),
        env="env",
    )
    info = cat.write("big", big).info
    assert info.bytes is not None
    assert info.bytes > 2 * 5 * 2**20  # large enough to go up in parts
    out = cat.read("big")
    pd.testing.assert_frame_equal(out, big)
    uploads = s3.fs.call_s3("list_multipart_uploads", Bucket=s3.name)
    assert not uploads.get("Uploads")  # completed, nothing left dangling


def test_failed_serialisation_leaves_old_object(s3: Bucket, catalog_from: CatalogFrom) -> None:
    cat = catalog_from(
        resource(
            "r",
            {
                "type": "s3",
                "s3": {"bucket": s3.name, "file_path": "r.parquet"},
                "options": s3_options(s3),
            },
            columns=None,
        ),
        env="env",
    )
    cat.write("r", small())
    before = s3.get("r.parquet")
    bad = pl.DataFrame({"obj": pl.Series([object()], dtype=pl.Object)})
    with pytest.raises(WriteError) as err:
        cat.write("r", bad)
    assert err.value.resource == "r"
    assert s3.get("r.parquet") == before


def test_partition_value_that_is_no_folder_name(s3: Bucket, catalog_from: CatalogFrom) -> None:
    cat = catalog_from(
        resource(
            "d",
            {
                "type": "s3_path_prefix",
                "s3": {"bucket": s3.name, "path_prefix": "ds/", "file_type": "parquet"},
                "options": s3_options(s3, partition_cols=["name"]),
            },
        ),
        env="env",
    )
    cat.write("d", small())
    before = s3.keys("ds")
    bad = small().assign(name=["a", "b/c", "d"])
    with pytest.raises(WriteError, match="b/c"):
        cat.write("d", bad)
    assert s3.keys("ds") == before


@pytest.fixture
def limited_s3(tmp_path: Path) -> Iterator[Server]:
    """A moto server that serves 6 S3 requests, then refuses every other."""
    yield from start_limited_moto(tmp_path, 6)


def test_failed_partitioned_write_names_landed_partitions(
    limited_s3: Server, catalog_from: CatalogFrom
) -> None:
    import s3fs

    fs = s3fs.S3FileSystem(
        key="testing", secret=SECRET, endpoint_url=limited_s3.endpoint, skip_instance_cache=True
    )
    fs.mkdir("lake")  # request 1
    fs.pipe("lake/ds/part=old/part-00000.parquet", parquet(small(90, 1)))  # request 2
    # the write lists the old dataset (1 request), then uploads 6 partitions: 3 get through
    opts = {**S3_KEYS, "endpoint_url": limited_s3.endpoint}
    cat = catalog_from(
        resource(
            "d",
            {
                "type": "s3_path_prefix",
                "s3": {"bucket": "lake", "path_prefix": "ds/", "file_type": "parquet"},
                "options": {"storage_options": opts, "partition_cols": ["name"]},
            },
        ),
        env="env",
    )
    df = small(0, 6)
    with pytest.raises(WriteError) as err:
        cat.write("d", df)
    text = str(err.value)
    keys = moto_objects(limited_s3.endpoint, "lake")
    landed = sorted(k.split("/")[1] for k in keys if "name=" in k)
    refused = sorted({f"name=n{i}" for i in range(6)} - set(landed))
    assert landed  # some partitions went up before the server started refusing
    assert refused
    assert f"{len(refused)} of 6 uploads failed" in text
    for part in landed:
        assert part in text.split("landed (new data):")[1].split(";")[0]
    for part in refused:
        assert part in text.split("not written (old data kept):")[1].split(";")[0]
    assert "ds/part=old/part-00000.parquet" in keys  # nothing old removed
    assert "access denied" in text
    _no_secret(err.value)


def test_append_mode_adds_files(s3: Bucket) -> None:
    from dynio.engine.execute import write as engine_write
    from dynio.engine.loader import load_catalog
    from dynio.engine.sources import WriteRequest, load_module

    text = resource(
        "d",
        {
            "type": "s3_path_prefix",
            "s3": {"bucket": s3.name, "path_prefix": "app/", "file_type": "parquet"},
            "options": s3_options(s3),
        },
        columns=None,
    )
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"append-{s3.name}.yaml"
    path.write_text(text)
    try:
        spec = load_catalog(path).resources["d"]
        engine_write(spec, "env", pl.from_pandas(small(0, 2)))
        source = spec.env("env").source
        module = load_module(dynio.engine.sources.KINDS["s3_path_prefix"], {})
        module.write(pl.from_pandas(small(5, 1)), source, WriteRequest("d", "env", mode="append"))
        assert len(s3.keys("app")) == 2
    finally:
        path.unlink()


# --------------------------------------------------------------------------------------- HTTP


def test_http_with_ranges_reads_natively(
    http_server: HttpServer, catalog_from: CatalogFrom
) -> None:
    small(0, 5).to_parquet(http_server.root / "ranged/h.parquet", index=False)
    small(0, 5).to_csv(http_server.root / "ranged/h.csv", index=False)
    cat = catalog_from(
        resource("p", {"type": "file", "file": {"uri": f"{http_server.url}/ranged/h.parquet"}})
        + resource("c", {"type": "file", "file": {"uri": f"{http_server.url}/ranged/h.csv"}}),
        env="env",
    )
    for name in ("p", "c"):
        result = cat.read_result(name, columns=["id"], filters=[("id", ">=", 3)])
        assert result.frame["id"].to_list() == [3, 4]


def test_http_without_ranges_is_fetched(http_server: HttpServer, catalog_from: CatalogFrom) -> None:
    small(0, 4).to_parquet(http_server.root / "plain/h.parquet", index=False)
    (http_server.root / "plain/h.json").write_text(small(0, 2).to_json(orient="records"))
    cat = catalog_from(
        resource("p", {"type": "file", "file": {"uri": f"{http_server.url}/plain/h.parquet"}})
        + resource("j", {"type": "file", "file": {"uri": f"{http_server.url}/plain/h.json"}})
        + resource(
            "missing", {"type": "file", "file": {"uri": f"{http_server.url}/plain/none.parquet"}}
        ),
        env="env",
    )
    pd.testing.assert_frame_equal(cat.read("p"), small(0, 4))
    pd.testing.assert_frame_equal(cat.read("j"), small(0, 2))
    with pytest.raises(ReadError, match="no object at"):
        cat.read("missing")
    with pytest.raises(UnsupportedError, match="read-only"):
        cat.write("p", small())


# ------------------------------------------------------------------ formats fetched before reading


def test_hdf_on_s3(s3: Bucket, catalog_from: CatalogFrom) -> None:
    pytest.importorskip("tables")
    cat = catalog_from(
        resource(
            "h",
            {
                "type": "s3",
                "s3": {"bucket": s3.name, "file_path": "h/data.h5", "file_type": "hdf"},
                "options": s3_options(s3),
            },
        ),
        env="env",
    )
    cat.write("h", small(0, 5))
    pd.testing.assert_frame_equal(cat.read("h", filters=[("id", "<", 2)]), small(0, 2))


def test_json_dataset_on_gcs(gcs: Bucket, catalog_from: CatalogFrom) -> None:
    for k in range(3):
        gcs.put(f"j/f{k}.json", small(k * 2, 2).to_json(orient="records").encode())
    cat = catalog_from(
        resource(
            "j",
            {
                "type": "gcs_path_prefix",
                "gcs": {"bucket": gcs.name, "path_prefix": "j/", "file_type": "json"},
                "options": {"storage_options": gcs.storage_options},
            },
        ),
        env="env",
    )
    out = cat.read("j").sort_values("id", ignore_index=True)
    pd.testing.assert_frame_equal(out, small(0, 6))


def test_latin1_csv_on_s3(s3: Bucket, catalog_from: CatalogFrom) -> None:
    s3.put("l.csv", "id,name,value\n1,café,0.5\n".encode("latin-1"))
    cat = catalog_from(
        resource(
            "l",
            {
                "type": "s3",
                "s3": {"bucket": s3.name, "file_path": "l.csv"},
                "options": s3_options(s3, encoding="latin-1"),
            },
        ),
        env="env",
    )
    assert cat.read("l")["name"].tolist() == ["café"]


# --------------------------------------------------------------------------- progress, drift


def _dataset_catalog(s3: Bucket, catalog_from: CatalogFrom, n: int) -> dynio.Catalog:
    for k in range(n):
        s3.put(f"many/p{k:03d}.parquet", parquet(small(k * 2, 2)))
    return catalog_from(
        resource(
            "d",
            {
                "type": "s3_path_prefix",
                "s3": {"bucket": s3.name, "path_prefix": "many/", "file_type": "parquet"},
                "options": s3_options(s3),
            },
        ),
        env="env",
    )


def test_progress_bar_when_asked(
    s3: Bucket,
    catalog_from: CatalogFrom,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cat = _dataset_catalog(s3, catalog_from, 40)
    monkeypatch.setenv("DYNIO_PROGRESS", "1")
    out = cat.read("d")
    assert len(out) == 80
    err = capsys.readouterr().err
    assert "reading 40 files under s3://" in err
    assert "40/40 files" in err


def test_no_progress_bar_off_a_terminal(
    s3: Bucket,
    catalog_from: CatalogFrom,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DYNIO_PROGRESS", raising=False)
    cat = _dataset_catalog(s3, catalog_from, 20)
    assert len(cat.read("d")) == 40
    assert capsys.readouterr().err == ""


def test_progress_bar_in_a_terminal_run(s3: Bucket, tmp_path: Path) -> None:
    """A real terminal (a pseudo-tty) shows the bar without any setting; a pipe does not."""
    for k in range(12):
        s3.put(f"tty/p{k:02d}.parquet", parquet(small(k, 1)))
    config = tmp_path / "tty.yaml"
    config.write_text(
        resource(
            "d",
            {
                "type": "s3_path_prefix",
                "s3": {"bucket": s3.name, "path_prefix": "tty/", "file_type": "parquet"},
                "options": s3_options(s3),
            },
        )
    )
    code = textwrap.dedent(
        f"""
        import dynio
        cat = dynio.Catalog.from_yaml({str(config)!r}, env="env")
        print("rows", len(cat.read("d")))
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "DYNIO_PROGRESS"}
    piped = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert piped.returncode == 0, piped.stderr
    assert "rows 12" in piped.stdout
    assert "files" not in piped.stderr
    import pty

    main, replica = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code],
            stdout=subprocess.PIPE,
            stderr=replica,
            env=env,
            timeout=120,
        )
        os.close(replica)
        chunks = []
        while True:
            try:
                data = os.read(main, 4096)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(main)
    assert proc.returncode == 0
    assert "12/12 files" in b"".join(chunks).decode(errors="replace")


def test_optimistic_scan_falls_back_on_drift(s3: Bucket, catalog_from: CatalogFrom) -> None:
    """Many objects agreeing read strictly; one disagreeing is found and reconciled."""
    cat = _dataset_catalog(s3, catalog_from, 10)
    assert len(cat.read("d")) == 20
    s3.put("many/zz.parquet", parquet(small(500, 1).drop(columns=["name"])))
    with pytest.warns(UserWarning, match="zz.parquet"):
        out = cat.read("d")
    assert out["name"].isna().sum() == 1


# ------------------------------------------------------------------------------------- DuckDB


def test_duckdb_reads_through_the_same_storage_options(s3: Bucket) -> None:
    duckdb = pytest.importorskip("duckdb")
    s3.put("duck/d.parquet", parquet(small(0, 5)))
    location = parse_location(s3.url("duck/d.parquet"))
    con = duckdb.connect()
    try:
        duckdb_register(con, location, s3.storage_options, {})
        rows = con.sql(f"SELECT sum(id) FROM read_parquet('{location.url}')").fetchall()
    finally:
        con.close()
    assert rows == [(10,)]


def test_azure_without_adlfs_names_the_extra(catalog_from: CatalogFrom) -> None:
    pytest.importorskip("polars")
    try:
        import adlfs  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("adlfs is installed")
    cat = catalog_from(
        resource("a", {"type": "file", "file": {"uri": "az://container/data/x.parquet"}}), env="env"
    )
    with pytest.raises(MissingDependencyError) as err:
        cat.read("a")
    assert err.value.extra == "azure"
    assert BACKENDS["azure"].package in str(err.value)


# ------------------------------------------------------------------------------------ telemetry


def test_spans_name_the_server_and_bytes_and_no_secret(
    s3: Bucket, catalog_from: CatalogFrom, otel: Any
) -> None:
    cat = _dataset_catalog(s3, catalog_from, 3)
    cat.read("d")
    read = otel.span("dynio.read")
    attrs = dict(read.attributes)
    # each call to the store is a CLIENT span naming the server, under the read
    calls = [s for s in otel.spans() if s.kind.name == "CLIENT"]
    assert {s.name for s in calls} >= {"S3.ListObjects"}
    for call in calls:
        a = dict(call.attributes)
        assert a["server.address"] == "127.0.0.1"
        assert a["server.port"] == int(s3.endpoint.rsplit(":", 1)[1])
        assert a["rpc.system"] == "aws-api"
        assert a["rpc.service"] == "S3"
        assert a["aws.s3.bucket"] == s3.name
        assert call.context.trace_id == read.context.trace_id
    assert attrs["dynio.bytes"] == sum(len(s3.get(k)) for k in s3.keys("many"))
    assert attrs["dynio.location"] == s3.url("many/")
    for span in otel.spans():
        assert SECRET not in repr(dict(span.attributes or {}))


def test_example_catalog_loads(tmp_path: Path) -> None:
    """configs/examples/objectstores.yaml shows every form; it must keep loading."""
    from dynio.engine.loader import load_catalog

    example = Path(__file__).resolve().parent.parent / "configs/examples/objectstores.yaml"
    keyfile = tmp_path / "sa.json"
    keyfile.write_text("{}")
    variables = {
        "LAKE_BUCKET": "lake",
        "AWS_KEY": "AKIAEXAMPLE",
        "AWS_SECRET": "example-secret",
        "GCP_KEY_FILE": str(keyfile),
    }
    spec = load_catalog(example, variables=variables)
    kinds = {
        (name, env): res.env(env).source.kind
        for name, res in spec.resources.items()
        for env in res.env_names()
    }
    assert set(kinds.values()) == {
        "s3",
        "s3_file",
        "s3_path_prefix",
        "gcs",
        "gcs_path_prefix",
        "file",
    }
    prod = spec.resources["trips"].env("prod").source
    assert prod.options["storage_options"]["secret"] == "example-secret"
    assert "credentials" not in spec.resources


def test_optimistic_scan_reconciles_from_a_later_step(
    s3: Bucket, catalog_from: CatalogFrom, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read in steps of 16 objects: the first step agrees, the rest lack a column."""
    monkeypatch.setenv("DYNIO_PROGRESS", "1")  # a drawn bar reads in small steps
    for k in range(40):
        part = small(k, 1) if k < 16 else small(k, 1).drop(columns=["name"])
        s3.put(f"steps/p{k:03d}.parquet", parquet(part))
    cat = catalog_from(
        resource(
            "d",
            {
                "type": "s3_path_prefix",
                "s3": {"bucket": s3.name, "path_prefix": "steps/", "file_type": "parquet"},
                "options": s3_options(s3),
            },
        ),
        env="env",
    )
    with pytest.warns(UserWarning, match=r"missing from 24 files .*p016\.parquet"):
        out = cat.read("d").sort_values("id", ignore_index=True)
    assert out["id"].tolist() == list(range(40))
    assert out["name"].notna().tolist() == [k < 16 for k in range(40)]
    assert cat.read("d", filters=[("id", ">=", 30)], columns=["id"])["id"].tolist() == list(
        range(30, 40)
    )


def test_progress_bar_on_partitioned_writes_and_lazy_heads(
    gcs: Bucket,
    catalog_from: CatalogFrom,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cat = catalog_from(
        resource(
            "d",
            {
                "type": "gcs_path_prefix",
                "gcs": {"bucket": gcs.name, "path_prefix": "parts/", "file_type": "parquet"},
                "options": {"storage_options": gcs.storage_options, "partition_cols": ["name"]},
            },
        ),
        env="env",
    )
    monkeypatch.setenv("DYNIO_PROGRESS", "1")
    cat.write("d", small(0, 10))
    assert "writing 10 files to gs://" in capsys.readouterr().err
    lazy = cat.scan("d")
    assert lazy.head(3).collect().height == 3
    assert sorted(lazy.collect()["id"].to_list()) == list(range(10))
