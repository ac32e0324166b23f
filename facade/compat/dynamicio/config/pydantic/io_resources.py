"""dynamicio's resource models (``dynamicio.config.pydantic.io_resources``), on pydantic 2.

A resource YAML validates into :class:`IOBinding` objects (name, environments, schema); each
environment into the :class:`IOEnvironment` subclass for its ``type``. They are the public view
dynamicio code inspects (``IOConfig.config``); dynio's engine reads the same YAML into its own
frozen spec, which is what reads and writes use.
"""

from __future__ import annotations

import enum
import posixpath
from collections.abc import Mapping
from typing import Any, Optional, Union

import pydantic
from pydantic import BaseModel

from dynio.compat.dynamicio.config.pydantic.table_schema import DataframeSchema

__all__ = [
    "AthenaDataEnvironment",
    "AthenaDataSubSection",
    "DataBackendType",
    "FileType",
    "IOBinding",
    "IOEnvironment",
    "KafkaDataEnvironment",
    "KafkaDataSubSection",
    "LocalBatchDataEnvironment",
    "LocalBatchDataSubSection",
    "LocalDataEnvironment",
    "LocalDataSubSection",
    "PostgresDataEnvironment",
    "PostgresDataSubSection",
    "S3DataEnvironment",
    "S3DataSubSection",
    "S3PathPrefixEnvironment",
    "S3PathPrefixSubSection",
]

_FILE_EXTENSIONS = (".parquet", ".h5", ".json", ".csv")


@enum.unique
class DataBackendType(enum.StrEnum):
    """The source types (YAML ``type``)."""

    local = "local"
    local_batch = "local_batch"
    s3 = "s3"
    s3_file = "s3_file"
    s3_path_prefix = "s3_path_prefix"
    postgres = "postgres"
    athena = "athena"
    kafka = "kafka"


@enum.unique
class FileType(enum.StrEnum):
    """The file formats (YAML ``file_type``)."""

    parquet = "parquet"
    csv = "csv"
    json = "json"
    hdf = "hdf"


class IOEnvironment(BaseModel):
    """One environment of a resource: its ``type`` and ``options``."""

    model_config = pydantic.ConfigDict(populate_by_name=True)

    _parent: Optional[IOBinding] = pydantic.PrivateAttr(default=None)  # noqa: UP045
    options: Mapping[str, Any] = pydantic.Field(default_factory=dict)
    data_backend_type: DataBackendType = pydantic.Field(alias="type")

    @property
    def dynamicio_schema(self) -> DataframeSchema | None:
        """The resource's schema (``None`` when it has none)."""
        if self._parent is None:
            raise ValueError("this environment is not part of a resource (no parent set)")
        return self._parent.dynamicio_schema

    def set_parent(self, parent: IOBinding) -> None:
        """Attach the environment to its resource."""
        self._parent = parent


def _check_paths(values: Any, *, require_one: bool) -> Any:
    if not isinstance(values, dict):
        return values
    prefix, dynamic = values.get("path_prefix"), values.get("dynamic_file_path")
    if prefix and dynamic:
        raise ValueError("Only one of path_prefix or dynamic_file_path should be provided")
    if require_one and not prefix and not dynamic:
        raise ValueError("Either path_prefix or dynamic_file_path must be provided")
    if prefix and not str(prefix).endswith("/"):
        raise ValueError("path_prefix must end with '/'")
    if dynamic and not str(dynamic).endswith(_FILE_EXTENSIONS):
        raise ValueError("`dynamic_file_path` must end with one of: .parquet, .h5, .json, .csv")
    return values


class LocalDataSubSection(BaseModel):
    """The ``local`` section of ``type: local``."""

    file_path: str
    file_type: FileType


class LocalDataEnvironment(IOEnvironment):
    """``type: local``."""

    local: LocalDataSubSection


class LocalBatchDataSubSection(BaseModel):
    """The ``local`` section of ``type: local_batch``."""

    path_prefix: Optional[str] = None  # noqa: UP045
    dynamic_file_path: Optional[str] = None  # noqa: UP045
    file_type: FileType

    @pydantic.model_validator(mode="before")
    @classmethod
    def _paths(cls, values: Any) -> Any:
        return _check_paths(values, require_one=False)


class LocalBatchDataEnvironment(IOEnvironment):
    """``type: local_batch``."""

    local: LocalBatchDataSubSection


class S3DataSubSection(BaseModel):
    """The ``s3`` section of ``type: s3``/``s3_file``."""

    file_path: str
    file_type: FileType
    bucket: str


class S3DataEnvironment(IOEnvironment):
    """``type: s3`` or ``s3_file``."""

    s3: S3DataSubSection


class S3PathPrefixSubSection(BaseModel):
    """The ``s3`` section of ``type: s3_path_prefix``."""

    path_prefix: Optional[str] = None  # noqa: UP045
    dynamic_file_path: Optional[str] = None  # noqa: UP045
    file_type: FileType
    bucket: str

    @pydantic.model_validator(mode="before")
    @classmethod
    def _paths(cls, values: Any) -> Any:
        if isinstance(values, dict):
            bucket = values.get("bucket")
            # legacy form: the prefix given inside ``bucket`` ("bucket/some/prefix/")
            if (
                isinstance(bucket, str)
                and posixpath.sep in bucket
                and not values.get("path_prefix")
            ):
                new_bucket, prefix = bucket.split(posixpath.sep, 1)
                values = {**values, "bucket": new_bucket, "path_prefix": prefix}
        return _check_paths(values, require_one=True)


class S3PathPrefixEnvironment(IOEnvironment):
    """``type: s3_path_prefix``."""

    s3: S3PathPrefixSubSection


class KafkaDataSubSection(BaseModel):
    """The ``kafka`` section of ``type: kafka``."""

    kafka_server: str
    kafka_topic: str


class KafkaDataEnvironment(IOEnvironment):
    """``type: kafka``."""

    kafka: KafkaDataSubSection


class PostgresDataSubSection(BaseModel):
    """The ``postgres`` section of ``type: postgres``."""

    db_host: str
    db_port: str
    db_name: str
    db_user: str
    db_password: str


class PostgresDataEnvironment(IOEnvironment):
    """``type: postgres``."""

    postgres: PostgresDataSubSection


class AthenaDataSubSection(BaseModel):
    """The ``athena`` section of ``type: athena``."""

    s3_output: str
    database: str = "default"
    region_name: Optional[str] = None  # noqa: UP045
    workgroup: Optional[str] = None  # noqa: UP045
    query: Optional[str] = None  # noqa: UP045

    @pydantic.model_validator(mode="before")
    @classmethod
    def _no_staging_dir(cls, values: Any) -> Any:
        if isinstance(values, dict) and "s3_staging_dir" in values:
            raise ValueError(
                "Athena resource option 's3_staging_dir' was removed in dynamicio 9.0 (Athena"
                " now reads through AWS Wrangler). Fix: in the resource definition's `athena:`"
                " section, rename `s3_staging_dir` to `s3_output` (same value). `region_name`"
                " and `query` are still accepted; `database` and `workgroup` are new optional"
                " keys."
            )
        return values


class AthenaDataEnvironment(IOEnvironment):
    """``type: athena``."""

    athena: AthenaDataSubSection


_ENV_CLASSES: dict[str, type[IOEnvironment]] = {
    "local": LocalDataEnvironment,
    "local_batch": LocalBatchDataEnvironment,
    "s3": S3DataEnvironment,
    "s3_file": S3DataEnvironment,
    "s3_path_prefix": S3PathPrefixEnvironment,
    "kafka": KafkaDataEnvironment,
    "postgres": PostgresDataEnvironment,
    "athena": AthenaDataEnvironment,
}

_AnyEnvironment = Union[  # noqa: UP007
    LocalDataEnvironment,
    LocalBatchDataEnvironment,
    S3DataEnvironment,
    S3PathPrefixEnvironment,
    KafkaDataEnvironment,
    PostgresDataEnvironment,
    AthenaDataEnvironment,
    IOEnvironment,
]


class IOBinding(BaseModel):
    """One resource: its name, environments and schema."""

    model_config = pydantic.ConfigDict(populate_by_name=True)

    name: str = pydantic.Field(alias="__binding_name__")
    environments: Mapping[str, _AnyEnvironment]
    dynamicio_schema: Optional[DataframeSchema] = pydantic.Field(  # noqa: UP045
        default=None, alias="schema"
    )

    def get_binding_for_environment(self, environment: str) -> IOEnvironment:
        """The environment's model (``KeyError`` when the resource does not define it)."""
        return self.environments[environment]

    @pydantic.model_validator(mode="before")
    @classmethod
    def _split_environments(cls, values: Any) -> Any:
        if not isinstance(values, Mapping):
            raise ValueError(  # the type only: a value may be a misplaced secret
                f"IOBinding must be a dict at the top level. (got a {type(values).__name__})"
            )
        out: dict[str, Any] = {"environments": {}}
        for key, value in values.items():
            if key in ("__binding_name__", "schema", "name", "environments", "dynamicio_schema"):
                out[key] = value
            else:
                out["environments"][key] = value
        return out

    @pydantic.field_validator("environments", mode="before")
    @classmethod
    def _environment_classes(cls, value: Any) -> dict[str, IOEnvironment]:
        if not isinstance(value, Mapping):
            raise ValueError(
                f"Environments input should be a dict. Got a {type(value).__name__} instead."
            )
        out: dict[str, IOEnvironment] = {}
        for name, body in value.items():
            if isinstance(body, IOEnvironment):
                out[name] = body
                continue
            base = IOEnvironment.model_validate(body)
            env_cls = _ENV_CLASSES.get(base.data_backend_type.value, IOEnvironment)
            out[name] = env_cls.model_validate(body)
        return out


IOEnvironment.model_rebuild()
IOBinding.model_rebuild()
