"""The source contract (:mod:`dynio.testing.contract`) for the file kinds: local files, local
datasets, ``file`` URIs (local and fsspec's memory store), S3 (moto) and GCS (fake-gcs-server)
objects and prefixes, and HTTP (read-only, a loopback file server).

The file kinds run it once per format (every format on local disk, parquet and CSV on the other
stores, whose format code is the same). What only file stores promise (datasets under a prefix,
hive partitions, schema drift, object keys) stays in ``tests/test_conformance.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fixtures.objectstores import Bucket, HttpServer, Server

from dynio.testing.contract import (
    SMALL_TIMEOUTS,
    Capabilities,
    Place,
    SilentServer,
    SourceContract,
)

EXT = {"parquet": "parquet", "csv": "csv", "json": "json", "ndjson": "ndjson", "ipc": "arrow"}
ALL_FORMATS = sorted(EXT)
SOME_FORMATS = ["csv", "parquet"]
# the connection's promises (refused, silent, bad credentials) do not depend on the format:
# they run with this one only (the other formats' places give no such environment: skipped)
ONCE = "parquet"


class LocalPlace(Place):
    """``type: local``: one file under a folder."""

    def __init__(self, root: Path, fmt: str) -> None:
        self.root, self.fmt = root, fmt

    def env(self, name: str, *, template: bool = False) -> dict[str, Any]:
        path = f"{self.root}/{name}/{{day}}.{EXT[self.fmt]}" if template else self._path(name)
        return {"type": "local", "local": {"file_path": path, "file_type": self.fmt}}

    def _path(self, name: str) -> str:
        return f"{self.root}/{name}.{EXT[self.fmt]}"


class TestLocal(SourceContract):
    capabilities = Capabilities(pushdown=True)

    @pytest.fixture(params=ALL_FORMATS)
    def place(self, request: pytest.FixtureRequest, tmp_path: Path) -> Place:
        return LocalPlace(tmp_path, request.param)


class BatchPlace(Place):
    """``type: local_batch``: a folder of files."""

    def __init__(self, root: Path, fmt: str) -> None:
        self.root, self.fmt = root, fmt

    def env(self, name: str, *, template: bool = False) -> dict[str, Any]:
        prefix = f"{self.root}/{name}/{{day}}/" if template else f"{self.root}/{name}/"
        return {"type": "local_batch", "local": {"path_prefix": prefix, "file_type": self.fmt}}


class TestLocalBatch(SourceContract):
    capabilities = Capabilities(pushdown=True)

    @pytest.fixture(params=SOME_FORMATS)
    def place(self, request: pytest.FixtureRequest, tmp_path: Path) -> Place:
        return BatchPlace(tmp_path, request.param)


class FileUriPlace(Place):
    """``type: file`` with a ``file://`` URI."""

    def __init__(self, base: str, fmt: str) -> None:
        self.base, self.fmt = base, fmt

    def env(self, name: str, *, template: bool = False) -> dict[str, Any]:
        tail = f"{name}/{{day}}.{EXT[self.fmt]}" if template else f"{name}.{EXT[self.fmt]}"
        return {"type": "file", "file": {"uri": f"{self.base}/{tail}", "format": self.fmt}}


class TestFileUri(SourceContract):
    capabilities = Capabilities(pushdown=True)

    @pytest.fixture(params=SOME_FORMATS)
    def place(self, request: pytest.FixtureRequest, tmp_path: Path) -> Place:
        return FileUriPlace(tmp_path.as_uri(), request.param)


class TestMemory(SourceContract):
    """``type: file`` on fsspec's memory store."""

    capabilities = Capabilities(pushdown=True)

    @pytest.fixture(params=SOME_FORMATS)
    def place(self, request: pytest.FixtureRequest, memory_bucket: Bucket) -> Place:
        return FileUriPlace(memory_bucket.url().rstrip("/"), request.param)


class BucketPlace(Place):
    """``type: s3`` / ``type: gcs``: one object in a bucket on a loopback server."""

    def __init__(self, kind: str, bucket: Bucket, fmt: str, denied: Server | None = None) -> None:
        self.kind, self.bucket, self.fmt, self.denied = kind, bucket, fmt, denied
        self.secrets = (
            (bucket.storage_options["secret"],) if "secret" in bucket.storage_options else ()
        )

    def _env(self, name: str, options: dict[str, Any], template: bool = False) -> dict[str, Any]:
        path = f"{name}/{{day}}.{EXT[self.fmt]}" if template else f"{name}.{EXT[self.fmt]}"
        section = {"bucket": self.bucket.name, "file_path": path, "file_type": self.fmt}
        return {"type": self.kind, self.kind: section, "options": {"storage_options": options}}

    def env(self, name: str, *, template: bool = False) -> dict[str, Any]:
        return self._env(name, dict(self.bucket.storage_options), template)

    def bad_credentials(self, name: str) -> dict[str, Any] | None:
        if self.denied is None or self.fmt != ONCE:  # fake-gcs-server takes any token
            return None
        return self._env(
            name, {**self.bucket.storage_options, "endpoint_url": self.denied.endpoint}
        )

    def refused(self, name: str, port: int) -> dict[str, Any] | None:
        if self.fmt != ONCE:
            return None
        opts = {**self.bucket.storage_options, "endpoint_url": f"http://127.0.0.1:{port}"}
        return self._env(name, {**opts, "timeouts": dict(SMALL_TIMEOUTS)})

    def silent(self, name: str, server: SilentServer) -> dict[str, Any] | None:
        if self.fmt != ONCE:
            return None
        opts = {**self.bucket.storage_options, "endpoint_url": server.url}
        return self._env(name, {**opts, "timeouts": dict(SMALL_TIMEOUTS)})


class TestS3(SourceContract):
    capabilities = Capabilities(networked=True, pushdown=True)

    @pytest.fixture(params=SOME_FORMATS)
    def place(self, request: pytest.FixtureRequest, s3: Bucket, s3_denied_server: Server) -> Place:
        return BucketPlace("s3", s3, request.param, s3_denied_server)


class TestGcs(SourceContract):
    capabilities = Capabilities(networked=True, pushdown=True)

    @pytest.fixture(params=SOME_FORMATS)
    def place(self, request: pytest.FixtureRequest, gcs: Bucket) -> Place:
        return BucketPlace("gcs", gcs, request.param)


class PrefixPlace(BucketPlace):
    """``type: s3_path_prefix`` / ``gcs_path_prefix``: a folder of objects under a prefix."""

    def _env(self, name: str, options: dict[str, Any], template: bool = False) -> dict[str, Any]:
        prefix = f"{name}/{{day}}/" if template else f"{name}/"
        section = {"bucket": self.bucket.name, "path_prefix": prefix, "file_type": self.fmt}
        kind = f"{self.kind}_path_prefix"
        return {"type": kind, self.kind: section, "options": {"storage_options": options}}


class TestS3Prefix(SourceContract):
    capabilities = Capabilities(networked=True, pushdown=True)

    @pytest.fixture
    def place(self, s3: Bucket, s3_denied_server: Server) -> Place:
        return PrefixPlace("s3", s3, ONCE, s3_denied_server)


class TestGcsPrefix(SourceContract):
    capabilities = Capabilities(networked=True, pushdown=True)

    @pytest.fixture
    def place(self, gcs: Bucket) -> Place:
        return PrefixPlace("gcs", gcs, ONCE)


class HttpPlace(Place):
    """``type: file`` with an ``http://`` URI: read-only, files put in the server's folder."""

    def __init__(self, server: HttpServer, folder: str, fmt: str) -> None:
        self.server, self.folder, self.fmt = server, folder, fmt

    def _tail(self, name: str, template: bool, day: str = "{day}") -> str:
        ext = EXT[self.fmt]
        return f"{self.folder}/{name}/{day}.{ext}" if template else f"{self.folder}/{name}.{ext}"

    def env(self, name: str, *, template: bool = False) -> dict[str, Any]:
        uri = f"{self.server.url}/{self._tail(name, template)}"
        return {
            "type": "file",
            "file": {"uri": uri, "format": self.fmt},
            "options": {"storage_options": {"timeouts": dict(SMALL_TIMEOUTS)}},
        }

    def put(self, name: str, frame: pd.DataFrame, *, template: bool = False, **args: Any) -> None:
        target = self.server.root / self._tail(name, template, str(args.get("day")))
        target.parent.mkdir(parents=True, exist_ok=True)
        if self.fmt == "csv":
            frame.to_csv(target, index=False)
        else:
            frame.to_parquet(target, index=False)

    def refused(self, name: str, port: int) -> dict[str, Any] | None:
        if (self.fmt, self.folder) != (ONCE, "plain"):
            return None
        env = self.env(name)
        env["file"]["uri"] = f"http://127.0.0.1:{port}/{self._tail(name, False)}"
        return env

    def silent(self, name: str, server: SilentServer) -> dict[str, Any] | None:
        if (self.fmt, self.folder) != (ONCE, "plain"):
            return None
        env = self.env(name)
        env["file"]["uri"] = f"{server.url}/{self._tail(name, False)}"
        return env


class TestHttp(SourceContract):
    capabilities = Capabilities(writes=False, networked=True, pushdown=True)

    @pytest.fixture(params=[(f, d) for f in SOME_FORMATS for d in ("plain", "ranged")], ids=str)
    def place(self, request: pytest.FixtureRequest, http_server: HttpServer) -> Place:
        fmt, folder = request.param
        return HttpPlace(http_server, folder, fmt)
