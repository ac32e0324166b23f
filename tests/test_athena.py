"""Athena queries (``type: athena``) against moto in server mode (Athena, Glue and S3 APIs).

moto runs no SQL: each test queues the result the next query returns (moto's results API), and
moto writes it as the CSV result file under ``s3_output``, as Athena does. The tests check the
request flow (query text, database, workgroup, bound parameters, output location), the parsing
of the result into the schema's dtypes, projection and filters in the SQL (Glue types for
tables), cancelled and timed-out queries, bad configuration at load, and that the secret key
appears in no error and no span.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import polars as pl
import pytest
from fixtures.objectstores import Bucket, Server

import dynio
from dynio.engine.errors import ConfigError, ReadError
from dynio.engine.sources import athena

CatalogFrom = Callable[..., dynio.Catalog]

COLUMNS = [("Id", "bigint"), ("Name", "varchar"), ("IsActive", "boolean"), ("Amount", "double"),
           ("CreatedOn", "date"), ("At", "timestamp"), ("Price", "decimal(10,2)")]  # fmt: skip
ROWS = [
    ["1", "alpha", "true", "1.5", "2024-01-02", "2024-01-02 03:04:05.678", "10.25"],
    ["2", "", "false", None, "2024-02-03", None, None],
    ["3", "gamma", "true", "3.25", "2024-03-04", "2024-03-04 00:00:00.000", "0.10"],
]


def _post(server: Server, path: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        server.endpoint + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status in (200, 201)


def queue_result(server: Server, columns: list[tuple[str, str]], rows: list[list[Any]]) -> None:
    """The result the next Athena query on the server returns (header row first, as Athena)."""

    def row(values: list[Any]) -> dict[str, Any]:
        return {"Data": [{} if v is None else {"VarCharValue": v} for v in values]}

    result = {
        "rows": [row([n for n, _ in columns])] + [row(r) for r in rows],
        "column_info": [
            {"Name": n, "Label": n, "Type": t, "Nullable": "UNKNOWN"} for n, t in columns
        ],
    }
    _post(server, "/moto-api/static/athena/query-results", {"results": [result]})


@pytest.fixture
def hold_queries(s3_server: Server) -> Iterator[None]:
    """Queries stay RUNNING (moto's state manager) until the test ends."""
    _post(s3_server, "/moto-api/state-manager/set-transition",
          {"model_name": "athena::execution", "transition": {"progression": "manual",
                                                              "times": 10_000}})  # fmt: skip
    try:
        yield
    finally:
        _post(s3_server, "/moto-api/state-manager/unset-transition",
              {"model_name": "athena::execution"})  # fmt: skip


def clients(s3: Bucket) -> tuple[Any, Any]:
    import boto3

    kw = {"region_name": "us-east-1", "aws_access_key_id": "testing",
          "aws_secret_access_key": "testing", "endpoint_url": s3.endpoint}  # fmt: skip
    return boto3.client("athena", **kw), boto3.client("glue", **kw)


def athena_yaml(s3: Bucket, section: str = "", options: str = "{}", schema: str = "") -> str:
    storage = json.dumps(s3.storage_options)
    return (
        f"trips:\n  prod:\n    type: athena\n"
        f"    athena: {{s3_output: '{s3.url('results/')}', database: analytics{section}}}\n"
        f"    options: {{storage_options: {storage}, poll_interval: 0.05,"
        f" {options.strip('{}')}}}\n{schema}"
    )


SCHEMA = """
  schema:
    columns:
      Id: {type: int64}
      Name: {type: object}
      IsActive: {type: bool}
      Amount: {type: float64}
      CreatedOn: {type: "datetime64[ns]"}
      At: {type: "datetime64[ns]"}
      Price: {type: float64}
"""


def last_execution(s3: Bucket) -> dict[str, Any]:
    client, _ = clients(s3)
    ids = client.list_query_executions()["QueryExecutionIds"]
    found = [client.get_query_execution(QueryExecutionId=i)["QueryExecution"] for i in ids]
    return max(found, key=lambda e: e["Status"]["SubmissionDateTime"])


def test_result_is_parsed_into_the_schema_dtypes(
    catalog_from: CatalogFrom, s3: Bucket, s3_server: Server
) -> None:
    queue_result(s3_server, COLUMNS, ROWS)
    cat = catalog_from(athena_yaml(s3, ", workgroup: primary", "{sql_query: SELECT 1}", SCHEMA),
                       env="prod")  # fmt: skip
    frame = cat.read_polars("trips")
    assert frame.schema == pl.Schema(
        {"Id": pl.Int64, "Name": pl.String, "IsActive": pl.Boolean, "Amount": pl.Float64,
         "CreatedOn": pl.Datetime("ns"), "At": pl.Datetime("ns"), "Price": pl.Float64}
    )  # fmt: skip
    assert frame["Id"].to_list() == [1, 2, 3]
    assert frame["Name"].to_list() == ["alpha", "", "gamma"]  # "" stays "", NULL is None
    assert frame["Amount"].to_list() == [1.5, None, 3.25]
    assert frame["At"].to_list()[0] == dt.datetime(2024, 1, 2, 3, 4, 5, 678000)
    assert frame["Price"].to_list() == [10.25, None, 0.1]
    queue_result(s3_server, COLUMNS, ROWS)
    pdf = cat.read("trips")
    assert str(pdf["CreatedOn"].dtype) == "datetime64[ns]"
    assert str(pdf["Id"].dtype) == "int64"


def test_request_flow_database_workgroup_output_and_bound_parameters(
    catalog_from: CatalogFrom, s3: Bucket, s3_server: Server
) -> None:
    queue_result(s3_server, [("n", "integer")], [["7"]])
    sql = "SELECT n FROM t WHERE day = ? AND name = ? AND x > ?"
    options = f"{{sql_query: '{sql}', parameters: [2026-01-02, \"o'neil\", 2.5]}}"
    cat = catalog_from(athena_yaml(s3, ", workgroup: primary", options), env="prod")
    assert cat.read_polars("trips")["n"].to_list() == [7]
    execution = last_execution(s3)
    assert execution["Query"] == sql
    assert execution["QueryExecutionContext"]["Database"] == "analytics"
    assert execution["WorkGroup"] == "primary"
    assert execution["ExecutionParameters"] == ["DATE '2026-01-02'", "'o''neil'", "2.5"]
    assert execution["ResultConfiguration"]["OutputLocation"].startswith(s3.url("results/"))
    assert any(k.startswith("results/") and k.endswith(".csv") for k in s3.keys("results/"))


def test_projection_goes_into_the_sql_of_a_query(
    catalog_from: CatalogFrom, s3: Bucket, s3_server: Server
) -> None:
    queue_result(s3_server, [("Name", "varchar")], [["alpha"]])
    cat = catalog_from(athena_yaml(s3, ", query: SELECT * FROM trips"), env="prod")
    frame = cat.read_polars("trips", columns=["Name"])
    assert frame.rows() == [("alpha",)]
    assert last_execution(s3)["Query"] == 'SELECT "Name" FROM (SELECT * FROM trips) AS "q"'


def test_filters_on_a_glue_table_are_bound_in_the_sql(
    catalog_from: CatalogFrom, s3: Bucket, s3_server: Server
) -> None:
    _, glue = clients(s3)
    glue.create_database(DatabaseInput={"Name": "analytics"})
    glue.create_table(
        DatabaseName="analytics",
        TableInput={"Name": "trips", "StorageDescriptor": {"Columns": [
            {"Name": "Id", "Type": "bigint"}, {"Name": "Name", "Type": "string"}]},
            "PartitionKeys": [{"Name": "day", "Type": "date"}]},
    )  # fmt: skip
    try:
        queue_result(s3_server, [("Id", "bigint"), ("Name", "varchar")], [["2", "b"], ["3", "x"]])
        cat = catalog_from(athena_yaml(s3, "", "{table: trips}"), env="prod")
        frame = cat.read_polars("trips", filters=[("Id", ">", 1), ("Name", "in", ["b", "c"])])
        # the engine filters again after the read: moto answers what was queued
        assert frame.rows() == [(2, "b")]
        execution = last_execution(s3)
        assert execution["Query"] == 'SELECT * FROM "trips" WHERE "Id" > ? AND "Name" IN (?, ?)'
        assert execution["ExecutionParameters"] == ["1", "'b'", "'c'"]
    finally:
        glue.delete_database(Name="analytics")


def test_an_empty_result_keeps_the_columns(
    catalog_from: CatalogFrom, s3: Bucket, s3_server: Server
) -> None:
    queue_result(s3_server, COLUMNS, [])
    cat = catalog_from(athena_yaml(s3, "", "{query: SELECT 1}", SCHEMA), env="prod")
    frame = cat.read_polars("trips")
    assert frame.height == 0
    assert frame.columns == [n for n, _ in COLUMNS]


def test_a_timeout_cancels_the_query_and_names_its_state(
    catalog_from: CatalogFrom, s3: Bucket, hold_queries: None
) -> None:
    cat = catalog_from(athena_yaml(s3, "", "{query: SELECT 1, timeout: 0.5}"), env="prod")
    with pytest.raises(ReadError, match=r"did not finish within 0\.5s \(state (QUEUED|RUNNING)\)"):
        cat.read_polars("trips")
    assert last_execution(s3)["Status"]["State"] == "CANCELLED"


def test_a_query_cancelled_elsewhere_is_a_read_error_with_its_state(
    catalog_from: CatalogFrom, s3: Bucket, hold_queries: None
) -> None:
    client, _ = clients(s3)
    cat = catalog_from(athena_yaml(s3, "", "{query: SELECT 1, timeout: 30}"), env="prod")

    def cancel_when_started() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            running = [
                i for i in client.list_query_executions()["QueryExecutionIds"]
                if client.get_query_execution(QueryExecutionId=i)["QueryExecution"]["Status"][
                    "State"] in ("QUEUED", "RUNNING")
            ]  # fmt: skip
            for query_id in running:
                client.stop_query_execution(QueryExecutionId=query_id)
            if running:
                return
            time.sleep(0.05)

    canceller = threading.Thread(target=cancel_when_started)
    canceller.start()
    try:
        with pytest.raises(ReadError, match=r"Athena query \S+ CANCELLED") as caught:
            cat.read_polars("trips")
    finally:
        canceller.join(timeout=30)
    assert caught.value.resource == "trips"
    assert caught.value.env == "prod"


def test_a_refused_query_names_athenas_error(catalog_from: CatalogFrom, s3: Bucket) -> None:
    cat = catalog_from(athena_yaml(s3, ", workgroup: nope", "{query: SELECT 1}"), env="prod")
    with pytest.raises(ReadError, match=r"starting the Athena query failed: .*WorkGroup"):
        cat.read_polars("trips")


def test_secrets_never_appear_in_errors_or_spans(
    otel: Any, catalog_from: CatalogFrom, s3: Bucket, s3_server: Server
) -> None:
    secret = s3.storage_options["secret"]
    queue_result(s3_server, [("n", "integer")], [["1"]])
    cat = catalog_from(athena_yaml(s3, "", "{query: \"SELECT n FROM t WHERE code = 'X-42'\"}"),
                       env="prod")  # fmt: skip
    cat.read_polars("trips")
    # the query is a CLIENT span of its own (database conventions), under the read
    client = otel.span("SELECT")
    assert client.kind.name == "CLIENT"
    attrs = dict(client.attributes)
    assert attrs["db.system.name"] == "aws.athena"
    assert attrs["db.namespace"] == "analytics"
    assert attrs["db.query.text"] == "SELECT n FROM t WHERE code = ?"
    assert attrs["server.port"] == int(s3.endpoint.rsplit(":", 1)[1])
    bad = catalog_from(athena_yaml(s3, ", workgroup: nope", "{query: SELECT 1}"), env="prod",
                       name="bad.yaml")  # fmt: skip
    with pytest.raises(ReadError) as caught:
        bad.read_polars("trips")
    dumped = json.dumps([s.to_json() for s in otel.spans()])
    assert secret not in dumped
    assert secret not in str(caught.value)


@pytest.mark.parametrize(
    ("section", "options", "key"),
    [
        ("{database: d}", "{}", "athena.s3_output"),
        ("{s3_output: 'results/'}", "{}", "athena.s3_output"),
        ("{s3_output: 's3://r/', query: SELECT 1}", "{sql_query: SELECT 2}", "options.sql_query"),
        ("{s3_output: 's3://r/', s3_staging_dir: 's3://r/'}", "{}", "athena.s3_staging_dir"),
        ("{s3_output: 's3://r/'}", "{timeout: soon}", "options.timeout"),
        ("{s3_output: 's3://r/'}", "{parameters: 3}", "options.parameters"),
        ("{s3_output: 's3://r/'}", "{parameters: [[1]]}", "options.parameters"),
        ("{s3_output: 's3://r/'}", "{chunksize: 1000}", "options.chunksize"),
        ("{s3_output: 's3://r/'}", "{ctas: true}", "options.ctas"),
        ("{s3_output: 's3://r/'}", "{storage_options: {passwd: x}}", "options.storage_options"),
    ],
)
def test_bad_sections_are_config_errors_at_load_naming_the_key(
    tmp_path: Any, section: str, options: str, key: str
) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(f"trips:\n  prod:\n    type: athena\n    athena: {section}\n"
                    f"    options: {options}\n")  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        dynio.Catalog.from_yaml(path, env="prod", strict=True)  # every problem at load
    assert "trips" in str(caught.value)
    assert key in str(caught.value)
    with pytest.raises(ConfigError, match=re.escape(key)):  # and when the resource is used
        dynio.Catalog.from_yaml(path, env="prod").read_polars("trips")


def test_dynamicio_sections_load(tmp_path: Any) -> None:
    # dynamicio 9.1.0's own fixtures (READ_FROM_ATHENA, _NO_DB, _WITH_REGION)
    path = tmp_path / "a.yaml"
    path.write_text(
        "A:\n  CLOUD:\n    type: athena\n    athena:\n      s3_output: s3://test-staging/\n"
        "      database: test_db\n      workgroup: test_wg\n"
        "B:\n  CLOUD:\n    type: athena\n    athena:\n      s3_output: s3://test-staging-nodb/\n"
        "C:\n  CLOUD:\n    type: athena\n    athena:\n      s3_output: s3://test-staging-region/\n"
        "      region_name: eu-west-1\n      query: SELECT * FROM from_yaml\n"
    )
    cat = dynio.Catalog.from_yaml(path, env="CLOUD")
    assert sorted(cat.resources) == ["A", "B", "C"]


def test_credentials_entries_reach_athena(tmp_path: Any, s3: Bucket, s3_server: Server) -> None:
    queue_result(s3_server, [("n", "integer")], [["5"]])
    storage = json.dumps(s3.storage_options)
    path = tmp_path / "a.yaml"
    path.write_text(
        f"credentials:\n  aws: {storage}\n"
        f"trips:\n  prod:\n    type: athena\n    athena: {{s3_output: '{s3.url('out/')}'}}\n"
        "    options: {query: SELECT n FROM t, poll_interval: 0.05}\n    credentials: aws\n"
    )
    assert dynio.Catalog.from_yaml(path, env="prod").read_polars("trips")["n"].to_list() == [5]


def test_literals() -> None:
    assert athena.literal(None) == "NULL"
    assert athena.literal(True) == "TRUE"
    assert athena.literal(dt.datetime(2024, 1, 2, 3, 4, 5)) == "TIMESTAMP '2024-01-02 03:04:05'"
    with pytest.raises(TypeError):
        athena.literal(float("nan"))


def test_unload_reads_the_parquet_athena_writes(
    catalog_from: CatalogFrom, s3: Bucket, s3_server: Server
) -> None:
    # moto runs no SQL: the test writes the parquet files where the UNLOAD statement says,
    # while moto holds the query RUNNING (queries advance a state every 0.3 s)
    _post(s3_server, "/moto-api/state-manager/set-transition",
          {"model_name": "athena::execution", "transition": {"progression": "time",
                                                              "seconds": 0.3}})  # fmt: skip
    client, _ = clients(s3)
    data = pl.DataFrame({"id": [1, 2], "name": ["a", "b"]})

    def write_like_athena() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for query_id in client.list_query_executions()["QueryExecutionIds"]:
                query = client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
                if query["Query"].startswith("UNLOAD"):
                    target = query["Query"].split(" TO '", 1)[1].split("'", 1)[0]
                    s3.put(target.split("/", 3)[3] + "part-0.parquet", _parquet(data))
                    return
            time.sleep(0.02)

    writer = threading.Thread(target=write_like_athena)
    writer.start()
    try:
        schema = "  schema:\n    columns:\n      Id: {type: int64}\n      Name: {type: object}\n"
        cat = catalog_from(athena_yaml(s3, "", "{query: SELECT 1, unload: true}", schema),
                           env="prod")  # fmt: skip
        frame = cat.read_polars("trips")
    finally:
        writer.join(timeout=30)
        _post(s3_server, "/moto-api/state-manager/unset-transition",
              {"model_name": "athena::execution"})  # fmt: skip
    assert frame.rows() == [(1, "a"), (2, "b")]
    assert frame.columns == ["Id", "Name"]  # UNLOAD's lower case matched to the schema
    query = last_execution(s3)["Query"]
    assert query.startswith('UNLOAD (SELECT "Id", "Name" FROM (SELECT 1) AS "q") TO ')
    assert query.endswith("WITH (format = 'PARQUET', compression = 'SNAPPY')")


def _parquet(frame: pl.DataFrame) -> bytes:
    import io

    buf = io.BytesIO()
    frame.write_parquet(buf)
    return buf.getvalue()


def test_a_failed_query_names_its_state_and_athenas_reason() -> None:
    # moto never fails a query, so this checks the sentence built from Athena's documented
    # GetQueryExecution answer for one
    failed = {
        "QueryExecutionId": "q-1",
        "Status": {
            "State": "FAILED",
            "StateChangeReason": "line 1:8: Column 'nope' cannot be resolved",
            "AthenaError": {"ErrorCategory": 2, "ErrorType": 1006},
        },
    }
    assert athena.outcome(failed) == (
        "Athena query q-1 FAILED [1006]: line 1:8: Column 'nope' cannot be resolved"
    )
    assert athena.outcome({"QueryExecutionId": "q-2", "Status": {"State": "CANCELLED"}}) == (
        "Athena query q-2 CANCELLED"
    )
    assert athena.outcome({"QueryExecutionId": "q-3", "Status": {"State": "SUCCEEDED"}}) is None


def test_s3_staging_dir_is_refused_with_the_rename(tmp_path: Any) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(
        "OLD:\n  CLOUD:\n    type: athena\n    athena:\n      s3_staging_dir: s3://a/\n"
    )
    with pytest.raises(ConfigError, match="rename it to s3_output") as caught:
        dynio.Catalog.from_yaml(path, env="CLOUD", strict=True)
    problems = getattr(caught.value, "problems", None) or [caught.value]
    assert "OLD.CLOUD.athena.s3_staging_dir" in [p.key_path for p in problems]
