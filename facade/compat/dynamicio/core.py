"""dynamicio's IO classes, run by dynio's engine.

::

    from dynio.compat.dynamicio import UnifiedIO, WithLocal, DynamicDataIO
    from dynio.compat.dynamicio.core import SCHEMA_FROM_FILE

    class InputIO(UnifiedIO):
        schema = SCHEMA_FROM_FILE                  # the resource's schema YAML

    class StagedFoo(WithLocal, DynamicDataIO):
        schema = {"column_a": "object", "column_c": "int64"}
        schema_validations = {
            "column_c": {"is_greater_than": {"apply": True, "options": {"threshold": 0}}}
        }
        schema_metrics = {"column_c": ["Mean"]}

    df = InputIO(source_config=input_config.get(source_key="FOO"),
                 apply_schema_validations=True, log_schema_metrics=True).read()
    StagedFoo(source_config=raw_config.get(source_key="STAGED_FOO")).write(df)

The environment's ``type`` decides how data is read and written, through dynio's source
registry; the mixins are markers (:mod:`dynio.compat.dynamicio.mixins`). An IO object reads and
writes through the same API as :class:`dynio.Catalog`: a :class:`dynio.catalog.Resource` bound
to the object's source (its options, the working directory for relative paths, its schema), whose
``read_result``, ``conform``, ``evaluate`` and ``write`` run the stages in dynamicio's order. How
dynamicio's pandas readers shaped data (file column order, ``object`` columns, JSON shapes,
``local_batch`` folders) is in :mod:`dynio.compat.dynamicio.frames`. The order of operations is
dynamicio's where it matters to results:

- ``read``: read -> cast to the schema -> validations (if asked) -> metrics (if asked).
  Validations and metrics run in one pass; when a validation fails no metric is logged, as in
  dynamicio (which raised before computing them).
- ``write``: keep the schema's columns -> cast -> validations -> metrics -> write. dynamicio
  validated the data before casting it; here rules see the data as it will be written, so a
  number stored as text is compared as a number, and a value that does not fit the schema
  raises :class:`ColumnsDataTypeError` before any rule runs.

Casts are safe: a value that does not fit the schema's dtype raises
:class:`ColumnsDataTypeError` naming the column and the values, instead of being changed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import re
from collections.abc import Mapping
from typing import Any, ClassVar

import pandas as pd
import polars as pl

from dynio import handoff
from dynio.catalog import Resource
from dynio.compat.dynamicio.config import IOEnvironment
from dynio.compat.dynamicio.errors import (
    CASTING_WARNING_MSG,
    NOTICE_MSG,
    ColumnsDataTypeError,
    SchemaNotFoundError,
    SchemaValidationError,
)
from dynio.compat.dynamicio.frames import (
    SchemaColumns,
    booleans,
    objects_as_read,
    objects_kept,
    read_source,
    single_record_warning,
    source_dtypes,
)
from dynio.compat.dynamicio.metrics import ALL_LABELS, metric_lines
from dynio.compat.dynamicio.mixins import (
    WithAthena,
    WithKafka,
    WithLocal,
    WithLocalBatch,
    WithPostgres,
    WithS3File,
    WithS3PathPrefix,
)
from dynio.compat.dynamicio.mixins.base import DYNAMICIO_TYPES, mixin_types
from dynio.compat.dynamicio.validations import ALL_VALIDATORS, dynamicio_semantics, render
from dynio.engine.errors import CastError, DynioError, SchemaError
from dynio.engine.loader import parse_schema
from dynio.engine.quality import METRICS_LOGGER, ValidationReport
from dynio.engine.spec import EnvSpec, SchemaSpec, freeze
from dynio.engine.telemetry import span

__all__ = [
    "CASTING_WARNING_MSG",
    "SCHEMA_FROM_FILE",
    "DynamicDataIO",
    "MissingMixinError",
    "MissingSchemaAttributeError",
    "PathPrefixWriteError",
    "UnifiedIO",
]

logger = logging.getLogger("dynio.compat.dynamicio")

# An identity sentinel, as in dynamicio: ``schema = SCHEMA_FROM_FILE`` takes the resource's schema.
SCHEMA_FROM_FILE: dict[str, Any] = {"schema": object()}

_NAME_WORDS = re.compile(
    r"\d[A-Z]+|[A-Z]?[a-z\d]+|[A-Z]{2,}(?=[A-Z][a-z]|\d|\W|$)|\d+|[A-Z]{2,}|[A-Z]"
)


def dataset_name(class_name: str) -> str:
    """dynamicio's dataset name of a class: ``StagedFoo`` -> ``STAGED_FOO``."""
    return "_".join(w.lower() for w in _NAME_WORDS.findall(class_name)).upper()


class MissingMixinError(DynioError, AssertionError):
    """The IO class lists no mixin for the environment's source type (an ``AssertionError``,
    as dynamicio's check was)."""


class PathPrefixWriteError(DynioError, ValueError):
    """An ``s3_path_prefix`` write that is not parquet with ``partition_cols`` (a
    ``ValueError``, as dynamicio's check was): a write without partitions would replace what
    else lives under the prefix."""


class MissingSchemaAttributeError(DynioError, AssertionError):
    """An IO class's body sets no ``schema`` (an ``AssertionError``, as dynamicio's check
    was)."""


def _translate(exc: DynioError, cls: type[DynioError]) -> DynioError:
    """The dynamicio error for an engine error, keeping its message and context."""
    return cls(
        exc.message,
        resource=exc.resource,
        env=exc.env,
        file=exc.file,
        column=exc.column,
        values=exc.values,
    )


class DynamicDataIO:
    """Reads and writes one resource in one environment, with its schema.

    Subclass it (with any mixins, in any order) and set ``schema`` to :data:`SCHEMA_FROM_FILE`
    or to a ``{column: dtype}`` dict; a dict schema may come with ``schema_validations``
    (``{column: {validation: {apply, options}}}``) and ``schema_metrics`` (``{column: [names]}``).

    Args:
        source_config: ``IOConfig.get(source_key=...)``.
        apply_schema_validations: Run the schema's validations on read and write.
        log_schema_metrics: Log the schema's metrics on read and write.
        show_casting_warnings: Log each column cast to the schema's dtype (INFO).
        strict_dtype_check: On write, warn about pandas columns mixing Python types.
        **options: Reader/writer options (they override the YAML's ``options``), values for
            ``{placeholders}`` in paths, and ``columns`` to read only some columns.

    Raises:
        TypeError: ``DynamicDataIO`` itself is instantiated, or ``source_config`` is not from
            ``IOConfig.get``.
        SchemaNotFoundError: The class has no schema, or the resource none for
            ``SCHEMA_FROM_FILE``.
        ConfigError: The dict schema is invalid (unknown dtype, validation or metric).
    """

    schema: Any = None
    schema_validations: ClassVar[Mapping[str, Any]] = {}
    schema_metrics: ClassVar[Mapping[str, Any]] = {}
    # dynamicio's name for it (code calling it keeps working)
    _transform_class_name_to_dataset_name = staticmethod(dataset_name)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "schema" not in cls.__dict__ and not cls.__module__.startswith(__package__ or ""):
            raise MissingSchemaAttributeError(
                f"{cls.__name__} sets no schema: set schema = SCHEMA_FROM_FILE or a"
                " {column: dtype} dict in the class body"
            )
        if "schema" in cls.__dict__:
            schema = cls.__dict__["schema"]
            if schema is None or (schema is not SCHEMA_FROM_FILE and len(schema) == 0):
                raise ValueError(f"schema for class {cls} cannot be None or empty...")

    def __init__(
        self,
        source_config: IOEnvironment,
        apply_schema_validations: bool = False,
        log_schema_metrics: bool = False,
        show_casting_warnings: bool = False,
        strict_dtype_check: bool = False,
        **options: Any,
    ) -> None:
        if type(self) is DynamicDataIO:
            raise TypeError(
                "Abstract class DynamicDataIO cannot be used to instantiate an object..."
            )
        if not isinstance(source_config, IOEnvironment):
            raise TypeError(
                f"source_config must come from IOConfig.get(source_key=...), got"
                f" {type(source_config).__name__}"
            )
        kind = source_config.env.source.kind
        if kind in DYNAMICIO_TYPES and kind not in mixin_types(type(self)):
            raise MissingMixinError(
                f"{type(self).__name__} lists no mixin for type {kind!r}: add the mixin for it"
                " (e.g. WithLocal, WithS3File, WithPostgres) or derive from UnifiedIO",
                resource=source_config.name,
                env=source_config.env_identifier,
            )
        self.sources_config = source_config
        self.apply_schema_validations = apply_schema_validations
        self.log_schema_metrics = log_schema_metrics
        self.show_casting_warnings = show_casting_warnings
        self.strict_dtype_check = strict_dtype_check
        self.options: dict[str, Any] = {**source_config.options, **options}
        context = {"resource": source_config.name, "env": source_config.env_identifier}
        declared = type(self).schema
        spec: SchemaSpec | None
        if declared is SCHEMA_FROM_FILE:
            spec = source_config.schema_spec
            if spec is None:
                raise SchemaNotFoundError(
                    f"{type(self).__name__} takes SCHEMA_FROM_FILE but the resource defines no"
                    " schema",
                    **context,
                )
            self.name = (spec.name or source_config.name).upper()
        elif isinstance(declared, Mapping) and declared:
            self.name = dataset_name(type(self).__name__)
            spec = self._schema_from_dict(declared, context)
        else:
            raise SchemaNotFoundError(
                f"{type(self).__name__} declares no schema: set schema = SCHEMA_FROM_FILE or a"
                " {column: dtype} dict",
                **context,
            )
        # rules run with dynamicio's meaning of is_in's match_all; the views below keep what the
        # user declared
        semantics = dynamicio_semantics(spec)
        self.schema: SchemaSpec = dataclasses.replace(
            semantics, columns=SchemaColumns(semantics.columns)
        )
        self.schema_validations = {  # type: ignore[misc]
            c.name: {r.name: {"apply": r.apply, "options": dict(r.options)} for r in c.rules}
            for c in spec.columns
        }
        self.schema_metrics = {c.name: list(c.metrics) for c in spec.columns}  # type: ignore[misc]

    def _schema_from_dict(self, declared: Mapping[str, Any], context: dict[str, Any]) -> SchemaSpec:
        validations = type(self).schema_validations or {}
        metrics = type(self).schema_metrics or {}
        doc = {
            "name": self.name,
            "columns": {
                str(col): {
                    "type": str(dtype),
                    "validations": dict(validations.get(col, {}) or {}),
                    "metrics": list(metrics.get(col, []) or []),
                }
                for col, dtype in declared.items()
            },
        }
        return parse_schema(doc, resource=context["resource"], key_path=type(self).__name__)

    # ------------------------------------------------------------------------------ plumbing

    @property
    def _context(self) -> dict[str, Any]:
        return {"resource": self.sources_config.name, "env": self.sources_config.env_identifier}

    def _bound(
        self,
        order: list[str] | None = None,
        *,
        reading: bool = False,
        keep: Mapping[str, pl.DataType] | None = None,
    ) -> tuple[Resource, dict[str, Any]]:
        """The resource as this object reads and writes it, and the template arguments.

        Options are split: values for ``{placeholders}`` in the source's paths become template
        arguments (never consumed, so a second call works), options the source's format takes
        go into a new frozen source spec, others are reported and left out, as dynamicio did.
        ``order`` puts the schema's columns in the data's order (a write keeps it, as
        dynamicio's did). A ``local_batch`` ``path_prefix`` is read as dynamicio read it: the
        files of the format directly in that folder (``*.parquet``, ``*.h5``), not those of its
        sub-folders.
        """
        env: EnvSpec = self.sources_config.env
        source = env.source
        declared = Resource(self.sources_config.resource, env.name)
        fields = declared.template_fields()
        options = dict(self.options)
        args = {k: options.pop(k) for k in list(options) if k in fields}
        accepted = declared.accepted_options()
        unused = {k: v for k, v in options.items() if accepted is not None and k not in accepted}
        if unused:
            logger.warning(
                "Options %s were not used because they are not supported by this operation."
                " Review your kwargs!",
                unused,
            )
        # pandas reads an option given as None as its default; so does dynio by leaving it out
        kept = {k: v for k, v in options.items() if k not in unused and v is not None}
        sql_table = source.format is None and accepted is not None and "table" in accepted
        if sql_table and not {"table", "sql_query"} & set(kept):
            # dynamicio names a SQL resource's table after its schema
            kept["table"] = self.schema.name or self.sources_config.name
        new_source = dataclasses.replace(
            source,
            options=freeze(kept),
            # dynamicio opened relative paths from the working directory
            base_dir=os.getcwd(),
        )
        if reading:
            new_source = read_source(new_source, args)
        schema: SchemaSpec = self.schema
        if order is not None:
            rank = {name: i for i, name in enumerate(order)}
            columns = sorted(schema.columns, key=lambda c: rank.get(c.name, len(rank)))
            schema = dataclasses.replace(schema, columns=tuple(columns))
        if keep is not None:
            schema = objects_kept(schema, keep)
        new_env = dataclasses.replace(env, source=new_source, schema=schema)
        resource = dataclasses.replace(
            self.sources_config.resource,
            envs=freeze({env.name: new_env}),
            schema=schema,
            deferred=freeze({}),
        )
        return Resource(resource, env.name, label_cap=ALL_LABELS), args

    def _raise_failures(self, frame: pl.DataFrame, report: ValidationReport) -> None:
        for warning in report.warnings:
            logger.warning("%s: %s", self.name, warning.message)
        if report.ok:
            return
        failed: dict[str, str] = {}
        for f in report.errors:
            message = f.message
            if f.column is not None and f.rule in ALL_VALIDATORS:
                message = render(f.rule, self.name, frame, f.column, f.options, f).message
            key = f.rule if f.rule not in failed else f"{f.rule}[{f.column}]"
            failed[key] = message
        raise SchemaValidationError(failed, report=report, **self._context)

    def _check(self, frame: pl.DataFrame, *, validate: bool, metrics: bool) -> None:
        """Validations then metrics, in one pass; metrics are logged only if validations held."""
        if not (validate or metrics):
            return
        if metrics and type(self).schema is SCHEMA_FROM_FILE:
            for problem in self.sources_config.metric_problems:
                raise problem  # a metric its column cannot have (dynamicio failed computing it)
        bound, _ = self._bound()
        with span("validate" if validate else "metrics", resource=self.sources_config.name):
            report, values = bound.evaluate(frame, validate=validate, metrics=metrics)
        if validate:
            self._raise_failures(frame, report)
        if metrics and METRICS_LOGGER.isEnabledFor(logging.INFO):
            for line in metric_lines(values, self.name):
                METRICS_LOGGER.info(line)

    def _frame_of(self, df: Any) -> pl.DataFrame:
        try:
            return handoff.from_any(df, **self._context)
        except SchemaError as exc:
            raise _translate(exc, ColumnsDataTypeError) from exc

    def _require_columns(self, frame: pl.DataFrame, columns: list[str]) -> None:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ColumnsDataTypeError(
                f"column(s) {missing} of the schema are missing; the data has {frame.columns}",
                column=missing[0],
                **self._context,
            )

    def _to_pandas(self, frame: pl.DataFrame) -> pd.DataFrame:
        with span("to_pandas", resource=self.sources_config.name, rows=frame.height):
            fmt = self.sources_config.env.source.format
            df = handoff.to_pandas(frame, self.schema, source_format=fmt)
            # dynamicio cast every column to its schema dtype by name: text read for an
            # ``object`` column is given as object, not pandas' ``str``
            for col in self.schema.columns:
                if (
                    col.dtype.spelling == "object"
                    and col.name in df
                    and df[col.name].dtype != object
                ):
                    df[col.name] = df[col.name].astype(object)
            return df

    # -------------------------------------------------------------------------- the API

    def read(self) -> pd.DataFrame:
        """Read the resource: cast to the schema, then validations and metrics if asked.

        Raises:
            ColumnsDataTypeError: Schema columns are missing, or values do not fit the dtypes.
            SchemaValidationError: A validation failed (``.message`` maps each to its message).
            UnsupportedError: The environment's source type is not supported yet.
            ReadError, TemplateError: The source cannot be read, or a ``{placeholder}`` has no
                value.
        """
        bound, args = self._bound(reading=True)
        with span("dynio.compat.read", resource=bound.name, env=bound.env):
            try:
                result = bound.read_result(validate=False, metrics=False, **args)
            except (CastError, SchemaError) as exc:
                raise _translate(exc, ColumnsDataTypeError) from exc
            if self.show_casting_warnings or self.strict_dtype_check:
                self._dtype_warnings(
                    source_dtypes(self.sources_config.resource, bound.spec, args), None
                )
            frame = result.frame
            frame = objects_as_read(
                frame, self.schema, result.info.source_schema, result.info.format
            )
            if "single_record" not in self.options:
                single_record_warning(frame, bound.spec.source, args)
            if result.info.format != "parquet" and "columns" not in self.options:
                # the file's column order, as dynamicio's pandas readers kept it (its parquet
                # reader gave the schema's; a ``columns`` option gives its own)
                order = [c for c in result.info.source_schema if c in frame.columns]
                if len(order) == frame.width:
                    frame = frame.select(order)
            if not self._overridden():
                self._check(
                    frame, validate=self.apply_schema_validations, metrics=self.log_schema_metrics
                )
                return self._to_pandas(frame)
            df = self._to_pandas(frame)
            self._checks_of_subclass(df)
            return df

    def write(self, df: Any) -> None:
        """Write pandas (or Polars, or Arrow) data: keep the schema's columns, cast, validate,
        log metrics, then write atomically.

        Raises:
            ColumnsDataTypeError: Schema columns are missing, or values do not fit the dtypes.
            SchemaValidationError: A validation failed; nothing was written.
            UnsupportedError: The environment's source type is not supported yet.
            WriteError, TemplateError: The destination cannot be written (it is left as it
                was), or a ``{placeholder}`` has no value.
        """
        env = self.sources_config.env_identifier
        with span("dynio.compat.write", resource=self.sources_config.name, env=env):
            Resource(self.sources_config.resource, env).require_source()
            if self.sources_config.env.source.kind == "s3_path_prefix":
                self._check_prefix_write()
            if isinstance(df, pd.DataFrame):
                df = booleans(df, self.schema, self._context)
            frame = self._frame_of(df)
            self._require_columns(frame, self.schema.column_names)
            # the schema's columns, in the order the data has them (as dynamicio wrote them)
            wanted = set(self.schema.column_names)
            names = [c for c in frame.columns if c in wanted]
            # ``object`` columns are written as the data holds them (lists, numbers…)
            bound, args = self._bound(order=names, keep=frame.schema)
            if isinstance(df, pd.DataFrame):
                self._dtype_warnings({c: df[c].dtype.name for c in names}, df)
            data = frame.select(names)
            if self._overridden():
                # as dynamicio: the class's own checks see the data before it is cast
                self._checks_of_subclass(df[names] if isinstance(df, pd.DataFrame) else df)
                frame = self._cast(bound, data)
            else:
                frame = self._cast(bound, data)
                self._check(
                    frame, validate=self.apply_schema_validations, metrics=self.log_schema_metrics
                )
            try:
                bound.write(frame, validate=False, metrics=False, **args)
            except (CastError, SchemaError) as exc:
                raise _translate(exc, ColumnsDataTypeError) from exc

    def _check_prefix_write(self) -> None:
        fmt = self.sources_config.env.source.format
        if fmt != "parquet":
            raise PathPrefixWriteError(
                f"file type {fmt!r} cannot be written to an s3_path_prefix: only parquet",
                **self._context,
            )
        if not self.options.get("partition_cols"):
            raise PathPrefixWriteError(
                "partition_cols is required as an option to write partitioned parquet files to"
                " an s3_path_prefix",
                **self._context,
            )

    def _overridden(self) -> bool:
        """Whether the class (or a test's patch) replaced validate_from_schema or
        log_metrics_from_schema: read and write then call them, as dynamicio did."""
        cls = type(self)
        return (
            cls.validate_from_schema is not _VALIDATE_FROM_SCHEMA
            or cls.log_metrics_from_schema is not _LOG_METRICS_FROM_SCHEMA
        )

    def _checks_of_subclass(self, df: Any) -> None:
        if self.apply_schema_validations:
            self.validate_from_schema(df)
        if self.log_schema_metrics:
            self.log_metrics_from_schema(df)

    def _dtype_warnings(self, found: Mapping[str, str], df: pd.DataFrame | None) -> None:
        """dynamicio's lines for columns whose dtype is not the schema's: ``found`` maps
        columns to their pandas dtype names; ``df`` (on write) is checked for mixed types."""
        for col in self.schema.columns:
            if col.name not in found or found[col.name] == col.dtype.spelling:
                continue
            expected, have = col.dtype.spelling, found[col.name]
            if self.show_casting_warnings:
                logger.info(
                    "Expected: '%s' dtype for %s['%s'], found '%s'",
                    expected,
                    self.name,
                    col.name,
                    have,
                )
            if self.strict_dtype_check:
                logger.warning(
                    "[strict_dtype_check=True] Performing expensive type-checking for %s['%s']."
                    " This may impact performance on large datasets.",
                    self.name,
                    col.name,
                )
                if df is not None and df[col.name].map(type).nunique() > 1:
                    logger.warning(CASTING_WARNING_MSG.format(col.name, expected, have))
                    logger.info(NOTICE_MSG.format(col.name))

    def _cast(self, bound: Resource, frame: pl.DataFrame) -> pl.DataFrame:
        try:
            return bound.conform(frame).select(frame.columns)
        except (CastError, SchemaError) as exc:
            raise _translate(exc, ColumnsDataTypeError) from exc

    async def async_read(self) -> pd.DataFrame:
        """:meth:`read` in a worker thread, so reads of several resources overlap."""
        return await asyncio.to_thread(self.read)

    async def async_write(self, df: Any) -> None:
        """:meth:`write` in a worker thread, so writes of several resources overlap."""
        await asyncio.to_thread(self.write, df)

    def validate_from_schema(self, df: Any) -> DynamicDataIO:
        """Run the schema's validations on ``df`` as it is (no cast); returns ``self``.

        Raises:
            SchemaValidationError: A validation failed (``.message`` maps each to its message).
            ColumnsDataTypeError: A column with validations is missing from ``df``.
        """
        frame = self._frame_of(df)
        self._require_columns(frame, [c.name for c in self.schema.columns if c.rules])
        self._check(frame, validate=True, metrics=False)
        return self

    def log_metrics_from_schema(self, df: Any) -> DynamicDataIO:
        """Log the schema's metrics of ``df`` as it is (no cast); returns ``self``.

        Raises:
            ColumnsDataTypeError: A column with metrics is missing from ``df``.
        """
        frame = self._frame_of(df)
        self._require_columns(frame, [c.name for c in self.schema.columns if c.metrics])
        self._check(frame, validate=False, metrics=True)
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.sources_config!r}, name={self.name!r})"


_VALIDATE_FROM_SCHEMA = DynamicDataIO.validate_from_schema
_LOG_METRICS_FROM_SCHEMA = DynamicDataIO.log_metrics_from_schema


class UnifiedIO(
    WithS3File,
    WithS3PathPrefix,
    WithLocalBatch,
    WithLocal,
    WithKafka,
    WithAthena,
    WithPostgres,
    DynamicDataIO,
):
    """dynamicio's all-sources IO class; subclass it and set ``schema``."""
