"""Amazon Athena queries: the ``athena`` kind (reads).

YAML example (dynamicio's section, plus dynio's options)::

    daily_trips:
      prod:
        type: athena
        athena:
          s3_output: s3://athena-results/dynio/   # where Athena writes the result file
          database: analytics                      # default: Athena's "default"
          workgroup: primary
          region_name: eu-west-1
        options:
          sql_query: SELECT * FROM trips WHERE day = ? AND fare > ?
          parameters: ["2026-01-01", 2.5]          # bound by Athena (ExecutionParameters)
          timeout: 300                             # seconds the query may take
          unload: false                            # true: results as parquet (large results)
        credentials: aws_reader                    # storage options, as for S3
      tables:
        type: athena
        athena: {s3_output: "s3://athena-results/dynio/", database: analytics}
        options: {table: trips}                    # projection and filters go into the SQL

The query is ``athena.query``, ``options.query`` or ``options.sql_query`` (one of them), or
``SELECT * FROM`` ``options.table``. The read starts the query, polls its state until it
finishes or ``timeout`` passes (then it is cancelled), and reads the CSV result file Athena wrote
under ``s3_output`` into Arrow with the column types Athena reports. A FAILED or CANCELLED
query, and a timeout, is a :class:`ReadError` with the query's state and Athena's reason.

``unload: true`` (dynamicio's ``ctas_approach: true`` means the same) runs the query as
``UNLOAD (…) TO '<s3_output>unload/<id>/' WITH (format = 'PARQUET')`` and reads the parquet
files: a tenth of the read time and a thirtieth of the bytes of the CSV result for large results
(measured on 10⁵–10⁶ rows), but Athena writes the column names in lower case (they are matched
back to the schema's names) and the statement needs write access under ``s3_output``. The CSV
result stays the default, as in dynamicio (column names keep their case).

The columns the plan needs are selected in the SQL. Filters go into the SQL only for ``table``
reads, whose column types the Glue catalog gives (a free query's types are known only once it
ran); values are bound as parameters, never written into the SQL text. The planner filters again
after the read, so a filter that was not pushed is still applied.

Credentials and the endpoint come from ``options.storage_options`` or a ``credentials:`` entry
(the S3 keys: ``key``, ``secret``, ``token``, ``profile``, ``region``, ``endpoint_url``), else
from the default AWS chain; they reach Athena, Glue and the result file alike.
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from dynio.engine.deadlines import Timeouts, is_timeout, parse_timeouts
from dynio.engine.errors import ConfigError, MissingDependencyError, ReadError, UnsupportedError
from dynio.engine.filter_sql import ATHENA, SqlWhere, compile_sql, quote_ident
from dynio.engine.io.filesystems import (
    BACKENDS,
    filesystem,
    normalize_storage_options,
    parse_location,
    secret_values,
)
from dynio.engine.sources import Pushdown, Scan, ScanRequest, WriteInfo, WriteRequest
from dynio.engine.spec import SourceSpec
from dynio.engine.telemetry import client_span, redact, set_attributes

__all__ = ["athena_type", "check_spec", "literal", "outcome", "scan", "write"]

_S3 = BACKENDS["s3"]
_DONE = {"SUCCEEDED", "FAILED", "CANCELLED"}


@dataclass(frozen=True)
class Settings:
    """An Athena environment, parsed: where results go, what runs, how to reach AWS."""

    s3_output: str
    database: str
    workgroup: str | None
    region: str | None
    query: str | None
    table: str | None
    parameters: tuple[Any, ...]
    timeout: float
    poll_interval: float
    unload: bool
    storage: Mapping[str, Any]

    @property
    def secrets(self) -> tuple[str, ...]:
        return secret_values(self.storage)


def _bad(message: str, key: str, context: Mapping[str, Any]) -> ConfigError:
    return ConfigError(message, key_path=key, **context)


def _seconds(
    options: Mapping[str, Any], name: str, default: float, ctx: Mapping[str, Any]
) -> float:
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise _bad(
            f"{name} must be a positive number of seconds, got {value!r}", f"options.{name}", ctx
        )
    return float(value)


def _flag(options: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    # dynamicio's ctas_approach: true asked wrangler for the same thing (parquet, lower case)
    for name in ("unload", "ctas_approach"):
        value = options.get(name)
        if value is not None and not isinstance(value, bool):
            raise _bad(f"{name} must be true or false, got {value!r}", f"options.{name}", context)
    return bool(options.get("unload", options.get("ctas_approach", False)))


def _output(s: Mapping[str, Any], context: Mapping[str, Any]) -> str:
    """The ``s3_output`` location (checked), ending in ``/``."""
    if "s3_staging_dir" in s:
        raise _bad(
            "s3_staging_dir was removed in dynamicio 9.0: rename it to s3_output (same value)",
            "athena.s3_staging_dir",
            context,
        )
    output = str(s.get("s3_output") or "")
    if not output:
        raise _bad(
            "missing required key 's3_output' (where Athena writes query results)",
            "athena.s3_output",
            context,
        )
    if not output.startswith(("s3://", "s3a://")) or not output.split("://", 1)[1].strip("/"):
        raise _bad(
            f"s3_output must be an s3://bucket/prefix/ location, got {output!r}",
            "athena.s3_output",
            context,
        )
    return output if output.endswith("/") else output + "/"


def _query(
    s: Mapping[str, Any], o: Mapping[str, Any], context: Mapping[str, Any]
) -> list[tuple[str, Any]]:
    """The one query setting given, as ``[(key path, value)]`` (empty: none)."""
    given = [
        (k, v)
        for k, v in (
            ("athena.query", s.get("query")),
            ("options.query", o.get("query")),
            ("options.sql_query", o.get("sql_query")),
            ("options.table", o.get("table")),
        )
        if v is not None
    ]
    if len(given) > 1:
        raise _bad(
            f"give one of athena.query, options.query, options.sql_query and"
            f" options.table, got {[k for k, _ in given]}",
            given[1][0],
            context,
        )
    for key, value in given:
        if not isinstance(value, str) or not value.strip():
            raise _bad(f"{key} must be non-empty text", key, context)
    return given


def parse(spec: SourceSpec, context: Mapping[str, Any]) -> Settings:
    """The settings of an Athena environment.

    Raises:
        ConfigError: No query or several, a bad output location, parameters or timeout.
    """
    s, o = spec.settings, spec.options
    output = _output(s, context)
    given = _query(s, o, context)
    if o.get("chunksize"):
        raise _bad(
            "Athena reads return one frame; chunksize is not supported (dynamicio"
            " refused it too); use Catalog.scan for large results",
            "options.chunksize",
            context,
        )
    params = o.get("parameters", ())
    if not isinstance(params, list | tuple):
        raise _bad(
            f"parameters must be a list (bound to the ? marks in order), got {params!r}",
            "options.parameters",
            context,
        )
    for value in params:
        try:
            literal(value)
        except TypeError as exc:
            raise _bad(str(exc), "options.parameters", context) from exc
    raw_storage = o.get("storage_options") or {}
    try:
        storage = normalize_storage_options(raw_storage, _S3)
    except ValueError as exc:
        raise _bad(str(exc), "options.storage_options", context) from exc
    table = given[0][1] if given and given[0][0] == "options.table" else None
    query = given[0][1] if given and table is None else None
    return Settings(
        s3_output=output,
        database=str(o.get("database") or s.get("database") or "default"),
        workgroup=o.get("workgroup") or o.get("work_group") or s.get("workgroup"),
        region=s.get("region_name") or storage.get("region"),
        query=None if query is None else str(query).strip().rstrip(";").strip(),
        table=table,
        parameters=tuple(params),
        timeout=_seconds(o, "timeout", 300.0, context),
        poll_interval=_seconds(o, "poll_interval", 0.5, context),
        unload=_flag(o, context),
        storage=storage,
    )


def check_spec(spec: SourceSpec, columns: Sequence[str] | None, context: Mapping[str, Any]) -> None:
    """Check an Athena section and its options when the catalog loads (see :func:`parse`)."""
    parse(spec, context)


def literal(value: Any) -> str:
    """A parameter value as the SQL literal Athena's ``ExecutionParameters`` take.

    Raises:
        TypeError: A value of a type with no literal form here.
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise TypeError(f"parameter {value!r} has no SQL literal")
        return repr(value)
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value.replace(tzinfo=None).isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"a parameter of type {type(value).__name__} has no SQL literal")


# ------------------------------------------------------------------------------------- clients


def _boto3(context: Mapping[str, Any]) -> Any:
    try:
        return importlib.import_module("boto3")
    except ImportError as exc:
        raise MissingDependencyError(
            "Athena sources need 'boto3'", extra="athena", **context
        ) from exc


def _clients(s: Settings, context: Mapping[str, Any]) -> tuple[Any, Any]:
    """The Athena and Glue clients, from the storage options (or the default chain)."""
    boto3 = _boto3(context)
    config_type = importlib.import_module("botocore.config").Config
    o = s.storage
    session = boto3.Session(
        aws_access_key_id=o.get("key"),
        aws_secret_access_key=o.get("secret"),
        aws_session_token=o.get("token"),
        profile_name=o.get("profile"),
        region_name=s.region,
    )
    lim, retries = _limits(s), {"max_attempts": 3, "mode": "standard"}
    config = config_type(connect_timeout=lim.connect, read_timeout=lim.read, retries=retries)
    endpoint = o.get("endpoint_url")
    return (
        session.client("athena", endpoint_url=endpoint, config=config),
        session.client("glue", endpoint_url=endpoint, config=config),
    )


def _limits(s: Settings) -> Timeouts:
    """The API calls' limits: ``storage_options.timeouts``, else 10 s / 60 s."""
    raw = s.storage.get("timeouts")
    return Timeouts(connect=10, read=60) if raw is None else parse_timeouts(raw)


def _aws_error(exc: BaseException, what: str, s: Settings, context: Mapping[str, Any]) -> ReadError:
    if is_timeout(exc):  # a silent endpoint: say which, and the limit that ran out
        server, read = s.storage.get("endpoint_url") or "Athena", _limits(s).read
        text = f"{server} did not answer within {read:g}s ({what}); the limit is 'timeouts'"
        return ReadError(redact(text, s.secrets), **context)
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {}) if isinstance(response, Mapping) else {}
    code = error.get("Code") or type(exc).__name__
    message = error.get("Message") or str(exc)
    return ReadError(redact(f"{what} failed: {code}: {message}", s.secrets), **context)


# --------------------------------------------------------------------------------------- types

_SIMPLE: dict[str, pa.DataType] = {
    "boolean": pa.bool_(),
    "tinyint": pa.int8(),
    "smallint": pa.int16(),
    "integer": pa.int32(),
    "int": pa.int32(),
    "bigint": pa.int64(),
    "float": pa.float32(),
    "real": pa.float32(),
    "double": pa.float64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("ms"),
    "varchar": pa.string(),
    "char": pa.string(),
    "string": pa.string(),
}
_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")


def athena_type(name: str) -> pa.DataType:
    """The Arrow type an Athena (or Glue/Hive) column type reads as; text for the rest
    (arrays, maps, rows, JSON, time zones, binary: the CSV result holds them as text)."""
    base = name.strip().lower()
    found = _DECIMAL.match(base)
    if found:
        return pa.decimal128(int(found.group(1)), int(found.group(2)))
    return _SIMPLE.get(base.split("(", 1)[0], pa.string())


def _glue_types(glue: Any, s: Settings, context: Mapping[str, Any]) -> dict[str, pl.DataType]:
    """The table's column types from the Glue catalog (partition keys included)."""
    try:
        table = glue.get_table(DatabaseName=s.database, Name=s.table)["Table"]
    except Exception as exc:  # botocore's ClientError and connection errors alike
        raise _aws_error(
            exc, f"looking up table {s.database}.{s.table} in Glue", s, context
        ) from exc
    columns = table.get("StorageDescriptor", {}).get("Columns", []) + table.get("PartitionKeys", [])
    out: dict[str, pl.DataType] = {}
    for col in columns:
        arrow = athena_type(str(col.get("Type", "string")))
        frame = pl.from_arrow(pa.table([pa.array([], type=arrow)], names=["c"]))
        if isinstance(frame, pl.DataFrame):
            out[str(col["Name"])] = frame.schema["c"]
    return out


# ------------------------------------------------------------------------------------------ SQL


def _sql(s: Settings, request: ScanRequest, glue: Any) -> tuple[str, list[Any], SqlWhere]:
    """The query to run, its parameters, and the ``WHERE`` clause of the filter in it."""
    context = request.context
    params = list(s.parameters)
    if s.table is not None:
        parts = [p for p in s.table.split(".") if p]
        relation = ".".join(quote_ident(p) for p in parts)
        source = _glue_types(glue, s, context) if request.filters else {}
    else:
        relation = f"({s.query}) AS {quote_ident('q')}"
        source = {}  # a free query's column types are known only once it ran
    select = "*" if request.columns is None else ", ".join(quote_ident(c) for c in request.columns)
    groups = request.filter.groups if request.filter is not None else request.filters
    compiled = compile_sql(groups or (), ATHENA, source, request.hints.dtypes)
    where = f" WHERE {compiled.where}" if compiled.where else ""
    params += list(compiled.params)
    sql = s.query if select == "*" and not where and s.table is None else None
    sql = sql or f"SELECT {select} FROM {relation}{where}"
    return sql, params, compiled


# ------------------------------------------------------------------------------------ the query


def _run(
    athena: Any, s: Settings, sql: str, params: list[Any], ctx: Mapping[str, Any]
) -> dict[str, Any]:
    """Start the query and poll it to its end; the final QueryExecution."""
    request: dict[str, Any] = {
        "QueryString": sql,
        "QueryExecutionContext": {"Database": s.database},
        "ResultConfiguration": {"OutputLocation": s.s3_output},
    }
    if s.workgroup:
        request["WorkGroup"] = s.workgroup
    if params:
        request["ExecutionParameters"] = [literal(v) for v in params]
    try:
        query_id = str(athena.start_query_execution(**request)["QueryExecutionId"])
    except Exception as exc:
        raise _aws_error(exc, "starting the Athena query", s, ctx) from exc
    deadline = time.monotonic() + s.timeout
    delay = min(0.2, s.poll_interval)
    while True:
        try:
            execution: dict[str, Any] = athena.get_query_execution(QueryExecutionId=query_id)[
                "QueryExecution"
            ]
        except Exception as exc:
            raise _aws_error(exc, f"polling Athena query {query_id}", s, ctx) from exc
        status = execution.get("Status", {})
        state = str(status.get("State", "UNKNOWN"))
        if state in _DONE:
            break
        if time.monotonic() + delay > deadline:
            _cancel(athena, query_id)
            raise ReadError(
                f"Athena query {query_id} did not finish within {s.timeout:g}s"
                f" (state {state}); it was cancelled",
                **ctx,
            )
        time.sleep(delay)
        delay = min(delay * 2, s.poll_interval)
    failure = outcome(execution)
    if failure is not None:
        raise ReadError(redact(failure, s.secrets), **ctx)
    return execution


def outcome(execution: Mapping[str, Any]) -> str | None:
    """What went wrong with a finished query (a ``QueryExecution`` of Athena's API), as a
    sentence with its id, state and Athena's reason; ``None`` when it SUCCEEDED."""
    status = execution.get("Status", {})
    state = str(status.get("State", "UNKNOWN"))
    if state == "SUCCEEDED":
        return None
    error = status.get("AthenaError") or {}
    reason = status.get("StateChangeReason") or error.get("ErrorMessage")
    kind = f" [{error['ErrorType']}]" if error.get("ErrorType") is not None else ""
    text = f"Athena query {execution.get('QueryExecutionId', '?')} {state}{kind}"
    return text + (f": {reason}" if reason else "")


def _cancel(athena: Any, query_id: str) -> None:
    try:
        athena.stop_query_execution(QueryExecutionId=query_id)
    except Exception:  # best effort: the timeout is the error to report
        return


def _columns(
    athena: Any, query_id: str, s: Settings, ctx: Mapping[str, Any]
) -> list[tuple[str, str]]:
    try:
        result = athena.get_query_results(QueryExecutionId=query_id, MaxResults=1)
    except Exception as exc:
        raise _aws_error(exc, f"reading the columns of Athena query {query_id}", s, ctx) from exc
    info = result.get("ResultSet", {}).get("ResultSetMetadata", {}).get("ColumnInfo", [])
    return [(str(c["Name"]), str(c.get("Type", "varchar"))) for c in info]


def _read_result(
    location: str, columns: list[tuple[str, str]], s: Settings, ctx: Mapping[str, Any]
) -> pa.Table:
    """The result CSV (header row first, NULL as an empty unquoted field) as Arrow."""
    names = [n for n, _ in columns]
    types = {n: athena_type(t) for n, t in columns}
    empty = pa.table({n: pa.array([], type=types[n]) for n in names})
    try:
        fs = filesystem(parse_location(location), s.storage, ctx)
        if not fs.exists(location):
            return empty  # a query that returned nothing may leave no file
        with fs.open(location, "rb") as f:
            data = f.read()
    except Exception as exc:
        raise ReadError(
            redact(f"cannot read the Athena result {location}: {exc}", s.secrets), **ctx
        ) from exc
    if not data.strip():
        return empty
    try:
        return pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,  # "" is an empty string, nothing is NULL
                null_values=[""],
                true_values=["true"],
                false_values=["false"],
            ),
        )
    except pa.ArrowInvalid as exc:
        raise ReadError(f"cannot parse the Athena result {location}: {exc}", **ctx) from exc


def _result_frame(
    athena: Any,
    execution: Mapping[str, Any],
    query_id: str,
    prefix: str | None,
    s: Settings,
    request: ScanRequest,
) -> pl.DataFrame:
    """The query's result: the unloaded parquet, or the CSV Athena wrote, as a frame."""
    ctx = request.context
    if prefix is not None:
        return _read_unloaded(prefix, s, request, ctx)
    output = execution.get("ResultConfiguration", {}).get("OutputLocation") or (
        f"{s.s3_output}{query_id}.csv"
    )
    table = _read_result(output, _columns(athena, query_id, s, ctx), s, ctx)
    converted = pl.from_arrow(table)
    if not isinstance(converted, pl.DataFrame):  # a table always gives a frame
        raise TypeError("expected a table")
    return converted


def scan(spec: SourceSpec, request: ScanRequest) -> Scan:
    """Run the query (see the module's docstring) and return its result as a frame."""
    ctx = request.context
    s = parse(spec, ctx)
    if s.query is None and s.table is None:
        raise ConfigError(
            "an Athena read needs a query: athena.query, options.query, options.sql_query or"
            " options.table",
            key_path="athena.query",
            **ctx,
        )
    athena, glue = _clients(s, ctx)
    sql, params, compiled = _sql(s, request, glue)
    prefix = f"{s.s3_output}unload/{uuid.uuid4().hex}/" if s.unload else None
    if prefix is not None:
        sql = f"UNLOAD ({sql}) TO '{prefix}' WITH (format = 'PARQUET', compression = 'SNAPPY')"
    endpoint = s.storage.get("endpoint_url") or f"athena.{s.region or 'us-east-1'}.amazonaws.com"
    with client_span(
        "db",
        system="aws.athena",
        operation="SELECT",
        target=s.table,
        namespace=s.database,
        server=redact(str(endpoint), s.secrets),
        port=None if s.storage.get("endpoint_url") else 443,
        query=redact(sql, s.secrets),
        attributes={"aws.athena.workgroup": s.workgroup},
    ) as sp:
        execution = _run(athena, s, sql, params, ctx)
        query_id = str(execution["QueryExecutionId"])
        set_attributes(sp, {"aws.athena.query_id": query_id})
        frame = _result_frame(athena, execution, query_id, prefix, s, request)
        set_attributes(sp, {"db.response.returned_rows": frame.height})
    return Scan(
        frame=frame.lazy(),
        location=f"athena://{s.database}/{query_id}",
        format="parquet" if prefix is not None else None,
        pushdown=Pushdown.sql(request.filter, compiled, projection=request.columns is not None),
    )


def _read_unloaded(
    prefix: str, s: Settings, request: ScanRequest, ctx: Mapping[str, Any]
) -> pl.DataFrame:
    """The parquet files an UNLOAD wrote under ``prefix``, names given the case the plan asks
    for (UNLOAD writes them in lower case)."""
    wanted = list(request.columns or request.hints.dtypes)
    try:
        fs = filesystem(parse_location(prefix), s.storage, ctx)
        files = sorted(
            f for f in fs.find(prefix) if not f.rsplit("/", 1)[-1].startswith(("_", "."))
        )
        parts = []
        for name in files:
            with fs.open(name, "rb") as f:
                parts.append(pl.read_parquet(f))
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise ReadError(
            redact(f"cannot read the UNLOAD result {prefix}: {exc}", s.secrets), **ctx
        ) from exc
    if not parts:  # no rows: UNLOAD writes no file, so only the plan knows the columns
        return pl.DataFrame(schema=dict.fromkeys(wanted, pl.String))
    frame = pl.concat(parts, how="vertical_relaxed")
    by_lower = {c.lower(): c for c in wanted}
    return frame.rename({c: by_lower[c.lower()] for c in frame.columns if c.lower() in by_lower})


def write(frame: pl.DataFrame, spec: SourceSpec, request: WriteRequest) -> WriteInfo:
    """Athena is read-only here (as in dynamicio): write the data to S3 and query it."""
    raise UnsupportedError(
        "Athena resources are read-only; write the data to an s3 resource (and a Glue table"
        " over it) instead",
        **request.context,
    )
