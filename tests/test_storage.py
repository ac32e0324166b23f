"""Storage options, locations and progress: the pieces object-store sources are built from.

Covers: URL parsing per scheme, one storage-options mapping translated for Polars, fsspec and
DuckDB, the secrets found for redaction, error messages without secrets, partition pruning from
tuple filters, the progress bar on and off a terminal.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any
from urllib.parse import quote, quote_plus

import polars as pl
import pytest

from dynio.engine.errors import ReadError, WriteError
from dynio.engine.io.filesystems import (
    BACKENDS,
    check_storage_options,
    duckdb_secret_sql,
    error_for,
    fsspec_options,
    is_remote,
    is_transient,
    normalize_storage_options,
    parse_location,
    polars_options,
    secret_values,
)
from dynio.engine.io.layout import hive_values, prune_partitions
from dynio.engine.progress import progress

S3 = BACKENDS["s3"]
GCS = BACKENDS["gcs"]
AZURE = BACKENDS["azure"]


# ------------------------------------------------------------------------------------ locations


@pytest.mark.parametrize(
    ("url", "backend", "scheme", "bucket", "path"),
    [
        ("s3://bkt/a/b.parquet", "s3", "s3", "bkt", "a/b.parquet"),
        ("s3a://bkt/a/", "s3", "s3", "bkt", "a/"),
        ("gcs://bkt/x.csv", "gcs", "gs", "bkt", "x.csv"),
        ("gs://bkt/", "gcs", "gs", "bkt", ""),
        ("az://container/d/*.parquet", "azure", "az", "container", "d/*.parquet"),
        (
            "abfss://c@acct.dfs.core.windows.net/p",
            "azure",
            "abfss",
            "c@acct.dfs.core.windows.net",
            "p",
        ),
        ("https://example.org/data/x.parquet", "http", "https", "example.org", "data/x.parquet"),
        ("memory://bkt/x.parquet", "memory", "memory", "bkt", "x.parquet"),
    ],
)
def test_parse_location(url: str, backend: str, scheme: str, bucket: str, path: str) -> None:
    loc = parse_location(url)
    assert (loc.backend.name, loc.scheme, loc.bucket, loc.path) == (backend, scheme, bucket, path)
    assert is_remote(url)


def test_location_shapes() -> None:
    assert parse_location("s3://b/a/*.parquet").is_glob
    assert parse_location("s3://b/a/**/x_{d}.parquet").glob_root == "a/"
    assert parse_location("s3://b/a/").is_prefix
    assert not parse_location("s3://b/a/x.parquet").is_prefix
    assert parse_location("s3://b/a/").child("k=1/p.parquet").url == "s3://b/a/k=1/p.parquet"
    web = parse_location("https://h/x.csv?sig=abc")
    assert not web.is_glob
    assert not web.is_prefix


@pytest.mark.parametrize(
    "text", ["/local/path.parquet", "data/x.csv", "file:///x.parquet", "ftp://h/x"]
)
def test_not_remote(text: str) -> None:
    assert not is_remote(text)


def test_url_without_bucket() -> None:
    with pytest.raises(ValueError, match="no bucket"):
        parse_location("s3:///x.parquet")


# ------------------------------------------------------------------------------- storage options


def test_aliases_become_fsspec_names() -> None:
    opts = normalize_storage_options(
        {
            "aws_access_key_id": "AKIA",
            "aws_secret_access_key": "shh-secret",
            "AWS_SESSION_TOKEN": "tok-secret",
            "client_kwargs": {"endpoint_url": "http://h:9000", "region_name": "eu-west-1"},
        },
        S3,
    )
    assert opts == {
        "key": "AKIA",
        "secret": "shh-secret",
        "token": "tok-secret",
        "endpoint_url": "http://h:9000",
        "region": "eu-west-1",
    }


def test_unknown_option_names_backend_and_accepted() -> None:
    with pytest.raises(ValueError, match="unknown storage option 'sekret' for S3"):
        normalize_storage_options({"sekret": "x"}, S3)
    assert check_storage_options({"token": "x"}, "gcs_path_prefix") is None
    assert "account_key" in str(check_storage_options({"bogus": 1}, "az://c/x"))
    assert check_storage_options({"anything": 1}, "local") is None
    assert check_storage_options(["not", "a", "mapping"], "s3") is not None


def test_s3_forms() -> None:
    opts = {"key": "AKIA", "secret": "shh", "endpoint_url": "http://127.0.0.1:9", "region": "r1"}
    assert polars_options(S3, opts) == {
        "aws_access_key_id": "AKIA",
        "aws_secret_access_key": "shh",
        "aws_region": "r1",
        "aws_endpoint_url": "http://127.0.0.1:9",
        "aws_allow_http": "true",
    }
    assert fsspec_options(S3, opts) == {
        "key": "AKIA",
        "secret": "shh",
        "endpoint_url": "http://127.0.0.1:9",
        "client_kwargs": {"region_name": "r1"},
    }
    sql = duckdb_secret_sql(S3, opts)
    assert sql.startswith("CREATE OR REPLACE SECRET dynio (TYPE s3")
    for part in ("KEY_ID 'AKIA'", "SECRET 'shh'", "REGION 'r1'", "ENDPOINT '127.0.0.1:9'"):
        assert part in sql
    assert "USE_SSL false" in sql
    assert "URL_STYLE 'path'" in sql
    assert "PROVIDER credential_chain" in duckdb_secret_sql(S3, {})
    assert polars_options(S3, {}) == {}
    assert fsspec_options(S3, {}) == {}
    assert polars_options(S3, {"profile": "dev"}) == {"aws_profile": "dev"}
    assert polars_options(S3, {"anon": True})["aws_skip_signature"] == "true"


def test_duckdb_secret_escapes_quotes() -> None:
    sql = duckdb_secret_sql(S3, {"key": "a'b", "secret": "c"})
    assert "KEY_ID 'a''b'" in sql


def test_gcs_forms(tmp_path: Any) -> None:
    emulator = polars_options(GCS, {"endpoint_url": "http://127.0.0.1:4443"})
    key = json.loads(emulator["google_service_account_key"])
    assert key["gcs_base_url"] == "http://127.0.0.1:4443"
    assert key["disable_oauth"] is True
    assert fsspec_options(GCS, {"endpoint_url": "http://e"}) == {
        "endpoint_url": "http://e",
        "token": "anon",
    }
    keyfile = tmp_path / "sa.json"
    keyfile.write_text(json.dumps({"client_email": "a@b", "private_key": "PRIVATE-KEY-TEXT"}))
    assert polars_options(GCS, {"token": str(keyfile)}) == {"google_service_account": str(keyfile)}
    assert fsspec_options(GCS, {"token": str(keyfile), "project": "p"}) == {
        "project": "p",
        "token": str(keyfile),
    }
    inline = {
        "service_account_key": json.dumps({"client_email": "a@b", "private_key": "PK-SECRET"})
    }
    assert fsspec_options(GCS, inline)["token"]["private_key"] == "PK-SECRET"
    assert "PK-SECRET" in secret_values(inline)
    assert polars_options(GCS, {"token": "anon"}) == {"google_skip_signature": "true"}
    assert "TYPE gcs" in duckdb_secret_sql(GCS, {})


def test_azure_forms() -> None:
    conn = "DefaultEndpointsProtocol=http;AccountName=dev;AccountKey=KEY-SECRET;BlobEndpoint=http://127.0.0.1:10000/dev;"
    out = polars_options(AZURE, {"connection_string": conn})
    assert out["azure_storage_account_name"] == "dev"
    assert out["azure_storage_account_key"] == "KEY-SECRET"
    assert out["azure_storage_endpoint"] == "http://127.0.0.1:10000/dev"
    assert out["azure_allow_http"] == "true"
    assert fsspec_options(AZURE, {"connection_string": conn}) == {"connection_string": conn}
    assert "KEY-SECRET" in secret_values({"connection_string": conn})
    sas = polars_options(AZURE, {"account_name": "a", "sas_token": "sv=1&sig=x"})
    assert sas == {"azure_storage_account_name": "a", "azure_storage_sas_token": "sv=1&sig=x"}
    assert "CONNECTION_STRING" in duckdb_secret_sql(AZURE, {"connection_string": conn})


def test_secret_values() -> None:
    found = secret_values(
        {
            "key": "AKIAEXAMPLE",
            "secret": "s3cr3t-value",
            "endpoint_url": "http://h",
            "region": "eu",
            "headers": {"Authorization": "Bearer abcdef", "Accept": "text/csv"},
        }
    )
    assert {"AKIAEXAMPLE", "s3cr3t-value", "Bearer abcdef"} <= set(found)
    # every spelling telemetry knows, and nothing that is not a secret
    assert {"Bearer%20abcdef", "Bearer+abcdef"} <= set(found)
    assert not {"http://h", "text/csv"} & set(found)
    assert list(found) == sorted(found, key=len, reverse=True)  # as redact wants them


def test_secret_values_spell_each_secret_every_way() -> None:
    secret = "wJa/K7+b'Q\\z"
    found = set(
        secret_values(
            {
                "secret": secret,
                "endpoint_url": "http://minio:p%40ss%2Fw0rd@127.0.0.1:9000",
                "headers": {"Cookie": "session=abcd1234"},
            }
        )
    )
    assert {secret, quote(secret, safe=""), quote_plus(secret)} <= found
    assert {repr(secret)[1:-1], json.dumps(secret)[1:-1]} <= found
    # a password inside a URI: as written there and decoded
    assert {"p%40ss%2Fw0rd", "p@ss/w0rd"} <= found
    assert "session=abcd1234" in found


def test_a_secret_percent_encoded_in_a_real_backend_error_is_redacted() -> None:
    # Polars (object_store) shows the endpoint it failed to reach, credentials included
    opts = normalize_storage_options(
        {
            "key": "minio",
            "secret": "p@ss/w0rd+x",
            "endpoint_url": "http://minio:p%40ss%2Fw0rd%2Bx@127.0.0.1:1",
            "region": "us-east-1",
        },
        S3,
    )
    loc = parse_location("s3://bkt/k/x.csv")
    native: dict[str, Any] = {**polars_options(S3, opts), "max_retries": 0}
    with pytest.raises(OSError, match=r"127\.0\.0\.1:1") as raised:
        pl.scan_csv(loc.url, storage_options=native).collect()
    assert "p%40ss%2Fw0rd%2Bx" in str(raised.value)  # the backend's own spelling
    err = error_for(raised.value, loc, opts, {"resource": "r", "env": "prod"})
    assert "127.0.0.1:1" in str(err)
    for spelling in ("p@ss/w0rd+x", "p%40ss%2Fw0rd%2Bx", "p%40ss%2Fw0rd+x", "p@ss%2Fw0rd"):
        assert spelling not in str(err), spelling


def test_a_secret_repr_escaped_in_a_real_backend_error_is_redacted() -> None:
    # Polars refuses an option that is not text and quotes it with repr: the quote and the
    # backslash of the session token come back escaped
    token = "tok\\en'/+v4lue"
    opts = normalize_storage_options({"key": "AKIAEXAMPLE", "secret": "s3cr3t-value"}, S3)
    opts["token"] = [token]
    loc = parse_location("s3://bkt/k/x.csv")
    native: dict[str, Any] = {**polars_options(S3, opts), "aws_session_token": [token]}
    with pytest.raises(ValueError, match="aws_session_token") as raised:
        pl.scan_csv(loc.url, storage_options=native).collect()
    assert repr(token)[1:-1] in str(raised.value)
    assert token not in str(raised.value)  # not as is: only the escaped spelling shows
    err = error_for(raised.value, loc, opts, {"resource": "r", "env": "prod"})
    assert "aws_session_token" in str(err)
    for spelling in (token, repr(token)[1:-1], "v4lue"):
        assert spelling not in str(err), spelling


# ----------------------------------------------------------------------------------------- errors


def test_error_messages_name_location_and_hide_secrets() -> None:
    loc = parse_location("s3://bkt/k/x.parquet")
    opts = {"key": "AKIAEXAMPLE", "secret": "s3cr3t-value", "endpoint_url": "http://h:1"}
    ctx = {"resource": "r", "env": "prod"}

    def leak(kind: type[BaseException]) -> BaseException:
        return kind("backend said: secret=s3cr3t-value and key AKIAEXAMPLE")

    denied = error_for(leak(PermissionError), loc, opts, ctx)
    assert isinstance(denied, ReadError)
    assert "access denied to s3://bkt/k/x.parquet" in str(denied)
    missing = error_for(leak(FileNotFoundError), loc, opts, ctx, bucket_exists=True)
    assert "no object at s3://bkt/k/x.parquet" in str(missing)
    no_bucket = error_for(leak(FileNotFoundError), loc, opts, ctx, bucket_exists=False)
    assert "bucket 'bkt' does not exist (S3, http://h:1)" in str(no_bucket)
    down = error_for(leak(ConnectionRefusedError), loc, opts, ctx, action="write", error=WriteError)
    assert isinstance(down, WriteError)
    assert "cannot reach the S3 endpoint http://h:1 to write" in str(down)
    other = error_for(leak(RuntimeError), loc, opts, ctx)
    for err in (denied, missing, no_bucket, down, other):
        assert "s3cr3t-value" not in str(err)
        assert "AKIAEXAMPLE" not in str(err)
        assert err.resource == "r"
        assert err.env == "prod"


# ------------------------------------------------------------------------------------ partitions


def test_hive_values() -> None:
    assert hive_values("year=2024/month=3/part-0.parquet") == {"year": "2024", "month": "3"}
    assert hive_values("plain/part-0.parquet") == {}


def test_prune_partitions() -> None:
    rel = [f"year={y}/kind={k}/p.parquet" for y in (2023, 2024) for k in ("a", "b")]
    files = [f"s3://b/ds/{r}" for r in rel]
    dtypes = {"year": pl.Int64()}

    def kept(filters: Any) -> list[str]:
        return [f.split("/ds/")[1] for f in prune_partitions(files, rel, filters, dtypes)]

    assert kept(((("year", "==", 2024),),)) == rel[2:]
    assert kept(((("year", ">=", 2024), ("kind", "in", ["b"])),)) == [rel[3]]
    # other columns cannot exclude a file; an OR-branch without partition conditions keeps all
    assert kept(((("year", "==", 2023), ("value", ">", 1)),)) == rel[:2]
    assert kept(((("year", "==", 2023),), (("value", ">", 1),))) == rel
    assert kept(None) == rel
    # without a dtype, numbers are read as numbers (as Polars reads hive values)
    assert [
        f.split("/ds/")[1] for f in prune_partitions(files, rel, ((("year", "<", 2024),),), {})
    ] == rel[:2]


# -------------------------------------------------------------------------------------- progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DYNIO_PROGRESS", raising=False)
    out = _Terminal()
    with progress(10, "reading", stream=out) as bar:
        for _ in range(10):
            bar.update(1, nbytes=1500)
    text = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", out.getvalue())  # colours and cursor codes
    assert text.startswith("reading")
    assert "10/10 files" in text
    assert "15.0 kB" in text
    assert "ETA" in text
    assert text.endswith("\n")
    # one line however narrow the terminal: rich fits the bar to the width
    narrow = _Terminal()
    monkeypatch.setenv("COLUMNS", "40")
    with progress(10, "reading a long label", stream=narrow) as bar:
        bar.update(10)
    assert re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", narrow.getvalue()).count("\n") == 1


def test_progress_silent_off_a_terminal_or_when_few(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DYNIO_PROGRESS", raising=False)
    pipe = io.StringIO()
    with progress(100, "reading", stream=pipe) as bar:
        bar.update(100)
    assert pipe.getvalue() == ""
    few = _Terminal()
    with progress(2, "reading", stream=few) as bar:
        bar.update(2)
    assert few.getvalue() == ""


def test_progress_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DYNIO_PROGRESS", "0")
    term = _Terminal()
    with progress(50, "x", stream=term) as bar:
        bar.update(50)
    assert term.getvalue() == ""
    monkeypatch.setenv("DYNIO_PROGRESS", "1")
    pipe = io.StringIO()
    with progress(3, "x", stream=pipe, unit="partitions") as bar:
        bar.update(3)
    assert "3/3 partitions" in pipe.getvalue()


def test_a_transfer_broken_mid_body_is_transient_whatever_its_text() -> None:
    # aiohttp reports a server gone mid-body as "<ContentLengthError: 400, message=...>": the
    # pseudo status must not make it final (it made a multi-file read give up at once)
    aiohttp = pytest.importorskip("aiohttp")
    from aiohttp.http_exceptions import ContentLengthError

    broken = ContentLengthError("Not enough data to satisfy content length header.")
    payload = aiohttp.ClientPayloadError(f"Response payload is not completed: {broken!r}")
    assert "400" in str(payload)
    assert is_transient(payload)
    wrapped = OSError("read failed")
    wrapped.__cause__ = payload
    assert is_transient(wrapped)
    assert not is_transient(OSError("HTTP 403 Forbidden"))
    assert not is_transient(FileNotFoundError("s3://b/k"))


def test_s3_error_codes_decide_before_their_4xx_status() -> None:
    # S3 answers a request timeout or throttling with a 400: the code says it is transient
    botocore = pytest.importorskip("botocore.exceptions")

    def error(code: str, status: int) -> Exception:
        response = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
        return botocore.ClientError(response, "GetObject")  # type: ignore[arg-type]

    assert is_transient(error("RequestTimeout", 400))
    assert is_transient(error("ThrottlingException", 400))
    assert is_transient(error("SlowDown", 503))
    assert not is_transient(error("AccessDenied", 403))
    assert not is_transient(error("NoSuchKey", 404))
