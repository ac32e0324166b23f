"""Kafka topics (``type: kafka``) against a real broker (Tansu) and librdkafka's mock cluster.

Covers: writes read back by a separate consumer (keys, headers, dynamicio's JSON bytes, NaN as
null), delivery guarantees (a broker that goes away mid-write is a DeliveryError that never
counts an undelivered message as delivered), LazyFrames and batch iterables written without
collecting, bounded reads (from the beginning, offsets, a timestamp, ``max_messages``) cast by
the schema, custom serialisers, bad configuration at load, unreachable brokers failing within
the deadline, and the messaging span attributes.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from typing import Any

import polars as pl
import pytest
from fixtures.kafka import MockCluster, free_port

import dynio
from dynio.engine.errors import ConfigError, ReadError, WriteError
from dynio.engine.sources import WriteRequest, kafka, kafka_settings
from dynio.engine.spec import SourceSpec

CatalogFrom = Callable[..., dynio.Catalog]

EVENTS = pl.DataFrame(
    {
        "id": ["a", "b", "c", "d"],
        "n": [1, 2, 3, 4],
        "x": [1.5, float("nan"), None, 4.0],
        "src": ["web", None, "app", "web"],
    }
)
SCHEMA = """
  schema:
    name: events
    columns:
      id: {type: object}
      n: {type: int64}
      x: {type: float64}
      src: {type: object}
"""


def kafka_yaml(server: str, topic: str, options: str = "{}", schema: str = SCHEMA) -> str:
    return (
        f"events:\n  prod:\n    type: kafka\n"
        f"    kafka: {{kafka_server: '{server}', kafka_topic: {topic}}}\n"
        f"    options: {options}\n{schema}"
    )


def test_write_is_read_back_by_a_separate_consumer(
    catalog_from: CatalogFrom, kafka_broker: str, kafka_topic: str, read_topic: Any
) -> None:
    options = "{key_column: id, header_columns: [src], headers: {origin: dynio}}"
    cat = catalog_from(kafka_yaml(kafka_broker, kafka_topic, options), env="prod")
    cat.write("events", EVENTS)
    got = sorted(read_topic(kafka_broker, kafka_topic, 4), key=lambda m: m.key or b"")
    assert [m.key for m in got] == [b"a", b"b", b"c", b"d"]
    # dynamicio's bytes: json.dumps with its separators; NaN and None both null
    assert got[0].value == b'{"id": "a", "n": 1, "x": 1.5}'
    assert json.loads(got[1].value or b"") == {"id": "b", "n": 2, "x": None}
    assert got[0].headers == {"origin": b"dynio", "src": b"web"}
    assert got[1].headers == {"origin": b"dynio"}  # a null header column sends no header


def test_write_reports_the_delivered_count(kafka_broker: str, kafka_topic: str) -> None:
    spec = SourceSpec("kafka", {"kafka_server": kafka_broker, "kafka_topic": kafka_topic})
    info = kafka.write(EVENTS, spec, WriteRequest("events", "prod"))
    assert info.rows == 4
    assert info.location == f"kafka://{kafka_broker}/{kafka_topic}"
    assert info.bytes is not None
    assert info.bytes > 0


def test_read_casts_by_the_schema_and_restores_key_and_header_columns(
    catalog_from: CatalogFrom, kafka_broker: str, kafka_topic: str
) -> None:
    options = "{key_column: id, header_columns: [src]}"
    cat = catalog_from(kafka_yaml(kafka_broker, kafka_topic, options), env="prod")
    cat.write("events", EVENTS)
    back = cat.read_polars("events").sort("n")
    assert back.schema == pl.Schema({"id": pl.String, "n": pl.Int64, "x": pl.Float64,
                                     "src": pl.String})  # fmt: skip
    assert back["id"].to_list() == ["a", "b", "c", "d"]
    assert back["x"].to_list() == [1.5, None, None, 4.0]
    assert back["src"].to_list() == ["web", None, "app", "web"]


def test_read_stops_at_the_high_watermark_and_at_max_messages(
    catalog_from: CatalogFrom, kafka_broker: str, kafka_topic: str
) -> None:
    cat = catalog_from(kafka_yaml(kafka_broker, kafka_topic), env="prod")
    big = pl.DataFrame({"id": [str(i) for i in range(500)], "n": range(500), "x": [0.5] * 500,
                        "src": ["s"] * 500})  # fmt: skip
    cat.write("events", big)
    cat.write("events", big.head(20))
    assert cat.read_polars("events").height == 520
    capped = catalog_from(
        kafka_yaml(kafka_broker, kafka_topic, "{max_messages: 7}"), env="prod", name="capped.yaml"
    )
    assert capped.read_polars("events").height == 7


def test_read_from_offsets_and_from_a_timestamp(
    catalog_from: CatalogFrom, kafka_broker: str, kafka_topic: str
) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": kafka_broker})
    admin.create_topics([NewTopic(kafka_topic, 1, 1)])[kafka_topic].result(10)
    cat = catalog_from(kafka_yaml(kafka_broker, kafka_topic), env="prod")
    cat.write("events", EVENTS)
    later = catalog_from(
        kafka_yaml(kafka_broker, kafka_topic, "{start_offsets: {0: 2}}"), env="prod", name="o.yaml"
    )
    assert later.read_polars("events")["id"].to_list() == ["c", "d"]
    future = catalog_from(
        kafka_yaml(kafka_broker, kafka_topic, "{start_timestamp: '2999-01-01T00:00:00'}"),
        env="prod",
        name="t.yaml",
    )
    assert future.read_polars("events").height == 0
    past = catalog_from(
        kafka_yaml(kafka_broker, kafka_topic, "{start_timestamp: 0}"), env="prod", name="p.yaml"
    )
    assert past.read_polars("events").height == 4


def test_a_lazy_frame_and_a_batch_iterable_are_written_batch_by_batch(
    kafka_broker: str, kafka_topic: str, read_topic: Any
) -> None:
    spec = SourceSpec(
        "kafka",
        {"kafka_server": kafka_broker, "kafka_topic": kafka_topic},
        {"batch_rows": 7},
    )
    lazy = pl.LazyFrame({"n": range(50)}).with_columns(sq=pl.col("n") * pl.col("n"))
    assert kafka.write_batches(lazy, spec, WriteRequest("r", "e")).rows == 50
    handed: list[int] = []

    def batches() -> Iterator[pl.DataFrame]:
        for start in range(0, 30, 10):
            handed.append(start)
            yield pl.DataFrame({"n": range(start, start + 10)})

    assert kafka.write_batches(batches(), spec, WriteRequest("r", "e")).rows == 30
    assert handed == [0, 10, 20]
    values = sorted(json.loads(m.value)["n"] for m in read_topic(kafka_broker, kafka_topic, 80))
    assert values == sorted([*range(50), *range(30)])


def test_mock_cluster_round_trip(
    kafka_mock: MockCluster, kafka_topic: str, read_topic: Any
) -> None:
    spec = SourceSpec(
        "kafka",
        {"kafka_server": kafka_mock.bootstrap, "kafka_topic": kafka_topic},
        {"compression.type": "lz4", "acks": "all"},
    )
    assert kafka.write(EVENTS, spec, WriteRequest("r", "e")).rows == 4
    assert len(read_topic(kafka_mock.bootstrap, kafka_topic, 4)) == 4


def test_broker_gone_mid_write_is_a_delivery_error_counting_only_acknowledged(
    kafka_mock: MockCluster, kafka_topic: str
) -> None:
    spec = SourceSpec(
        "kafka",
        {"kafka_server": kafka_mock.bootstrap, "kafka_topic": kafka_topic},
        {"flush_timeout": 3, "connect_timeout": 5},
    )

    def batches() -> Iterator[pl.DataFrame]:
        yield pl.DataFrame({"n": range(100)})
        kafka_mock.stop()
        yield pl.DataFrame({"n": range(100, 200)})

    with pytest.raises(kafka.DeliveryError) as caught:
        kafka.write_batches(batches(), spec, WriteRequest("events", "prod"))
    err = caught.value
    assert isinstance(err, WriteError)
    assert err.sent == 200
    assert err.delivered <= 100
    assert kafka_topic in str(err)
    assert kafka_mock.bootstrap in str(err)
    assert err.resource == "events"
    assert err.env == "prod"


def test_unreachable_broker_fails_within_the_connect_timeout(kafka_topic: str) -> None:
    server = f"127.0.0.1:{free_port()}"
    spec = SourceSpec(
        "kafka", {"kafka_server": server, "kafka_topic": kafka_topic}, {"connect_timeout": 1}
    )
    with pytest.raises(WriteError, match="cannot reach Kafka broker") as caught:
        kafka.write(EVENTS, spec, WriteRequest("r", "e"))
    assert server in str(caught.value)
    with pytest.raises(ReadError, match="cannot reach Kafka broker"):
        kafka.scan(spec, _scan_request())


def _scan_request() -> Any:
    from dynio.engine.sources import ScanRequest

    return ScanRequest("r", "e")


def test_missing_topic_on_read_is_a_read_error(kafka_broker: str) -> None:
    spec = SourceSpec(
        "kafka",
        {"kafka_server": kafka_broker, "kafka_topic": "never-written"},
        {"allow.auto.create.topics": False},
    )
    with pytest.raises(ReadError, match="does not exist"):
        kafka.scan(spec, _scan_request())


def test_a_registered_serializer_writes_and_reads(
    catalog_from: CatalogFrom, kafka_broker: str, kafka_topic: str
) -> None:
    def encode(row: Any) -> bytes:
        return "|".join(str(row[c]) for c in ("id", "n")).encode()

    def decode(raw: bytes) -> dict[str, Any]:
        ident, n = raw.decode().split("|")
        return {"id": ident, "n": int(n)}

    kafka.register_serializer("pipes", encode, decode)
    schema = "  schema:\n    columns:\n      id: {type: object}\n      n: {type: int64}\n"
    cat = catalog_from(
        kafka_yaml(kafka_broker, kafka_topic, "{value_serializer: pipes}", schema), env="prod"
    )
    cat.write("events", EVENTS.select("id", "n"))
    assert cat.read_polars("events").sort("n").rows() == [("a", 1), ("b", 2), ("c", 3), ("d", 4)]


@pytest.mark.parametrize(
    ("section", "options", "key"),
    [
        ("{kafka_server: 'h:9092'}", "{}", "kafka.kafka_topic"),
        ("{kafka_server: 'h:9092', kafka_topic: t, topic: x}", "{}", "kafka.topic"),
        ("{kafka_server: 'not a host', kafka_topic: t}", "{}", "kafka.kafka_server"),
        ("{kafka_server: 'h:99999', kafka_topic: t}", "{}", "kafka.kafka_server"),
        ("{kafka_server: 'h:9092', kafka_topic: 'bad topic'}", "{}", "kafka.kafka_topic"),
        ("{kafka_server: 'h:9092', kafka_topic: t}", "{value_serializer: nope}",
         "options.value_serializer"),
        ("{kafka_server: 'h:9092', kafka_topic: t}", "{key_serializer: nope}",
         "options.key_serializer"),
        ("{kafka_server: 'h:9092', kafka_topic: t}", "{flush_timout: 3}", "options.flush_timout"),
        ("{kafka_server: 'h:9092', kafka_topic: t}", "{flush_timeout: soon}",
         "options.flush_timeout"),
        ("{kafka_server: 'h:9092', kafka_topic: t}", "{key_column: nope}", "options.key_column"),
        ("{kafka_server: 'h:9092', kafka_topic: t}", "{linger.ms: [1]}", "options.linger.ms"),
    ],
)  # fmt: skip
def test_bad_sections_are_config_errors_at_load_naming_the_key(
    tmp_path: Any, section: str, options: str, key: str
) -> None:
    path = tmp_path / "k.yaml"
    path.write_text(
        f"events:\n  prod:\n    type: kafka\n    kafka: {section}\n    options: {options}\n{SCHEMA}"
    )
    with pytest.raises(ConfigError) as caught:
        dynio.Catalog.from_yaml(path, env="prod", strict=True)  # every problem at load
    text = str(caught.value)
    assert "events" in text
    assert key in text
    with pytest.raises(ConfigError, match=re.escape(key)):  # and when the resource is used
        dynio.Catalog.from_yaml(path, env="prod").read_polars("events")


def test_dynamicio_producer_options_load_and_reach_the_client(
    tmp_path: Any, kafka_broker: str, kafka_topic: str, read_topic: Any
) -> None:
    # dynamicio's own fixture (WRITE_TO_KAFKA_JSON_WITH_OPTIONS), buffer.memory included
    path = tmp_path / "k.yaml"
    path.write_text(
        "WRITE_TO_KAFKA_JSON_WITH_OPTIONS:\n  CLOUD:\n    type: kafka\n    kafka:\n"
        f"      kafka_server: '{kafka_broker}'\n      kafka_topic: {kafka_topic}\n"
        "    options:\n      compression.type: gzip\n      linger.ms: 3000\n"
        "      buffer.memory: 134217728\n      message.send.max.retries: 3\n"
        "      max.in.flight.requests.per.connection: 5\n      request.timeout.ms: 60000\n"
        "      batch.size: 20000000\n      retry.backoff.ms: 100\n"
    )
    cat = dynio.Catalog.from_yaml(path, env="CLOUD")
    cat.write("WRITE_TO_KAFKA_JSON_WITH_OPTIONS", EVENTS)
    assert len(read_topic(kafka_broker, kafka_topic, 4)) == 4


def test_a_property_librdkafka_refuses_is_a_config_error_at_once(kafka_topic: str) -> None:
    spec = SourceSpec(
        "kafka", {"kafka_server": "127.0.0.1:1", "kafka_topic": kafka_topic}, {"no.such.prop": 1}
    )
    with pytest.raises(ConfigError, match=r"no\.such\.prop"):
        kafka.write(EVENTS, spec, WriteRequest("r", "e"))


def test_messaging_span_attributes(
    otel: Any, catalog_from: CatalogFrom, kafka_broker: str, kafka_topic: str
) -> None:
    cat = catalog_from(kafka_yaml(kafka_broker, kafka_topic), env="prod")
    cat.write("events", EVENTS)
    cat.read_polars("events")
    # each call to the broker is a CLIENT span (messaging conventions) under the operation
    sent = otel.span(f"send {kafka_topic}")
    assert sent.kind.name == "CLIENT"
    write = dict(sent.attributes)
    assert write["messaging.system"] == "kafka"
    assert write["messaging.destination.name"] == kafka_topic
    assert write["messaging.operation.type"] == "send"
    assert write["messaging.batch.message_count"] == 4
    assert write["server.port"] == int(kafka_broker.rsplit(":", 1)[1])
    read = dict(otel.span(f"poll {kafka_topic}").attributes)
    assert read["messaging.operation.type"] == "receive"
    assert read["messaging.operation.name"] == "poll"
    assert read["messaging.batch.message_count"] == 4


def test_nan_and_infinities_are_null_in_json() -> None:
    frame = pl.DataFrame({"x": [math.inf, -math.inf, math.nan, 1.0]})
    settings = kafka_settings.parse(
        SourceSpec("kafka", {"kafka_server": "h:1", "kafka_topic": "t"}), {}
    )
    values = [v for _, v, _ in kafka._messages(frame, settings, {})]
    assert values == [b'{"x": null}', b'{"x": null}', b'{"x": null}', b'{"x": 1.0}']


def test_catalog_check_reports_kafka_and_athena_problems_together(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from dynio import cli

    (tmp_path / "c.yaml").write_text(
        "events:\n  prod:\n    type: kafka\n    kafka: {kafka_server: 'h:1', kafka_topic: t}\n"
        "    options: {value_serializer: avro9}\n"
        "queries:\n  prod:\n    type: athena\n    athena: {database: d}\n"
        "fine:\n  prod:\n    type: kafka\n    kafka: {kafka_server: 'h:1', kafka_topic: t}\n"
    )
    code = cli.main(["catalog", "check", "--config", str(tmp_path / "c.yaml")])
    err = capsys.readouterr().err
    assert code == 3  # the CLI's exit code for configuration problems
    assert err.splitlines()[0] == "2 problem(s):"
    assert "events.prod.options.value_serializer" in err
    assert "queries.prod.athena.s3_output" in err


def test_a_row_that_cannot_be_serialised_stops_the_write_after_flushing_what_was_sent(
    kafka_broker: str, kafka_topic: str, read_topic: Any
) -> None:
    def fussy(row: Any) -> bytes:
        if row["n"] == 15:
            raise TypeError("row 15 has no bytes")
        return str(row["n"]).encode()

    kafka.register_serializer("fussy", fussy)
    spec = SourceSpec(
        "kafka",
        {"kafka_server": kafka_broker, "kafka_topic": kafka_topic},
        {"value_serializer": "fussy"},
    )
    batches = [pl.DataFrame({"n": range(10)}), pl.DataFrame({"n": range(10, 20)})]
    with pytest.raises(kafka.DeliveryError, match="row 15 has no bytes") as caught:
        kafka.write_batches(batches, spec, WriteRequest("events", "prod"))
    # the 15 messages handed over before the bad row were flushed and acknowledged
    assert caught.value.sent == 15
    assert caught.value.delivered == 15
    assert len(read_topic(kafka_broker, kafka_topic, 15)) == 15


def test_the_producer_is_idempotent_and_snappy_unless_the_options_say_otherwise() -> None:
    section = {"kafka_server": "h:9092", "kafka_topic": "t"}
    default = kafka._config(kafka_settings.parse(SourceSpec("kafka", section), {}), "producer")
    assert default["enable.idempotence"] is True
    assert default["compression.type"] == "snappy"  # dynamicio's default
    own = kafka_settings.parse(
        SourceSpec("kafka", section, {"enable.idempotence": False, "linger_ms": 5}), {}
    )
    assert kafka._config(own, "producer")["enable.idempotence"] is False
    assert kafka._config(own, "producer")["linger.ms"] == 5  # kafka-python's spelling
    consumer = kafka._config(own, "consumer")
    assert "enable.idempotence" not in consumer
    assert consumer["enable.auto.commit"] is False


def test_a_sasl_password_appears_in_no_error_and_no_span(
    otel: Any, catalog_from: CatalogFrom, kafka_topic: str
) -> None:
    server = f"127.0.0.1:{free_port()}"
    options = (
        "{security.protocol: SASL_PLAINTEXT, sasl.mechanisms: PLAIN, sasl.username: u,"
        " sasl.password: 'pw-Very-Secret-42', connect_timeout: 1}"
    )
    cat = catalog_from(kafka_yaml(server, kafka_topic, options), env="prod")
    with pytest.raises(WriteError) as caught:
        cat.write("events", EVENTS)
    assert "pw-Very-Secret-42" not in str(caught.value)
    dumped = json.dumps([s.to_json() for s in otel.spans()])
    assert "dynio.write" in dumped
    assert "pw-Very-Secret-42" not in dumped
