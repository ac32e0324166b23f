"""Kafka topics: the ``kafka`` kind (writes as dynamicio does them, and bounded reads).

YAML example::

    trip_events:
      prod:
        type: kafka
        kafka: {kafka_server: "[[ KAFKA_BROKERS ]]", kafka_topic: trips.v1}
        options:
          key_column: trip_id            # the message key (else no key)
          key_serializer: string         # string (default), json, bytes or a registered name
          value_serializer: json         # json (default: one JSON object per row), string,
                                         # bytes or a registered name
          header_columns: [source]       # columns sent as message headers, not in the value
          headers: {schema: trips-v1}    # the same headers on every message
          compression.type: zstd         # any librdkafka property goes to the client as is
          flush_timeout: 60              # seconds a write waits for every acknowledgement
          start_timestamp: "2026-01-01T00:00:00Z"   # reads: or start_offsets: {0: 42}
          max_messages: 100000           # reads: stop after this many

A write sends one message per row and returns only after the broker acknowledged every one
(``flush`` bounded by ``flush_timeout``): any delivery failure, and any message still
unacknowledged at the deadline, raises :class:`DeliveryError` (a :class:`WriteError`) naming
the topic and broker and how many messages were delivered. The producer is idempotent by
default (``enable.idempotence: true``, so a retried batch is not duplicated) and compresses with
snappy as dynamicio's did. A LazyFrame is written in batches without being collected whole
(:func:`write_batches`).

A read consumes each partition from the beginning (or ``start_timestamp``, or the partitions
and offsets of ``start_offsets``) up to the high watermark it finds, or until ``max_messages``,
within ``read_timeout`` seconds; values are decoded into columns (JSON objects by default) and
then cast and validated by the schema like any read. Nothing is committed: a read never moves a
consumer group.

Serialisers: :func:`register_serializer` adds one by name (``encode(value) -> bytes``; for
values, ``value`` is the row as a dict; ``decode(bytes)`` for reads). Names are checked when the
catalog loads, so register before loading it. Every wait has a deadline: an unreachable broker
fails within ``connect_timeout`` (10 s by default).
"""

from __future__ import annotations

import importlib
import logging
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from dynio.engine.errors import (
    ConfigError,
    MissingDependencyError,
    ReadError,
    WriteError,
    first_line,
)
from dynio.engine.sources import Pushdown, Scan, ScanRequest, WriteInfo, WriteRequest
from dynio.engine.sources.kafka_settings import (
    PRODUCER_ONLY,
    Serializer,
    Settings,
    check_spec,
    parse,
    register_serializer,
    serializers,
)
from dynio.engine.spec import SourceSpec
from dynio.engine.telemetry import client_span, redact, secrets_in, set_attributes

__all__ = [
    "DeliveryError",
    "Serializer",
    "check_spec",
    "register_serializer",
    "scan",
    "serializers",
    "write",
    "write_batches",
]

logger = logging.getLogger("dynio.kafka")

# ---------------------------------------------------------------------------------------- client


def _kafka(context: Mapping[str, Any]) -> Any:
    try:
        # imported by name: its typed API is used through Any here, as the optional drivers are
        return importlib.import_module("confluent_kafka")
    except ImportError as exc:
        raise MissingDependencyError(
            "Kafka sources need 'confluent-kafka'", extra="kafka", **context
        ) from exc


def _config(s: Settings, role: str) -> dict[str, Any]:
    base: dict[str, Any] = {"bootstrap.servers": s.server, "logger": logger}
    if role == "producer":
        # dynamicio's producer compressed with snappy; idempotence keeps a retried batch
        # from being written twice; a message not acknowledged by the flush deadline fails
        base |= {
            "compression.type": "snappy",
            "enable.idempotence": True,
            "message.timeout.ms": int(s.flush_timeout * 1000),
        }
        return base | dict(s.client)
    return (
        base
        | {k: v for k, v in s.client.items() if k not in PRODUCER_ONLY}
        | {
            "group.id": f"dynio-read-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
        }
    )


def _client(s: Settings, role: str, context: Mapping[str, Any]) -> Any:
    ck = _kafka(context)
    try:
        return (ck.Producer if role == "producer" else ck.Consumer)(_config(s, role))
    except (ck.KafkaException, ValueError, TypeError) as exc:
        raise ConfigError(
            f"the Kafka {role} refuses its settings: {_text(exc, s)}",
            key_path="options",
            **context,
        ) from exc


def _text(exc: BaseException, s: Settings) -> str:
    arg = exc.args[0] if exc.args else exc
    text = arg.str() if hasattr(arg, "str") else first_line(exc)
    return redact(str(text), secrets_in(dict(s.client)))


def _metadata(client: Any, s: Settings, error: type[Exception], ctx: Mapping[str, Any]) -> Any:
    """The topic's metadata, within ``connect_timeout`` (an unreachable broker fails here)."""
    ck = _kafka(ctx)
    try:
        md = client.list_topics(s.topic, timeout=s.connect_timeout)
    except ck.KafkaException as exc:
        raise error(
            f"cannot reach Kafka broker {s.server} for topic {s.topic!r} within"
            f" {s.connect_timeout:g}s: {_text(exc, s)}",
            **ctx,
        ) from exc
    return md.topics.get(s.topic)


# ----------------------------------------------------------------------------------------- write


class DeliveryError(WriteError):
    """Messages were not acknowledged; ``delivered`` of ``sent`` were (never more)."""

    def __init__(self, message: str, *, delivered: int, sent: int, **context: Any) -> None:
        self.delivered = delivered
        self.sent = sent
        super().__init__(message, **context)


@dataclass
class _Tracker:
    delivered: int = 0
    failed: int = 0
    first_error: str | None = None
    nbytes: int = 0

    def __call__(self, err: Any, msg: Any) -> None:
        if err is None:
            self.delivered += 1
            self.nbytes += len(msg.value() or b"") + len(msg.key() or b"")
        else:
            self.failed += 1
            if self.first_error is None:
                self.first_error = str(err.str() if hasattr(err, "str") else err)


def _clean_floats(frame: pl.DataFrame) -> pl.DataFrame:
    floats = [c for c, t in frame.schema.items() if t.is_float()]
    if not floats:
        return frame
    # dynamicio wrote NaN (and infinities) as null: simplejson's ignore_nan
    return frame.with_columns(
        [pl.when(pl.col(c).is_finite()).then(pl.col(c)).alias(c) for c in floats]
    )


def _messages(
    batch: pl.DataFrame, s: Settings, ctx: Mapping[str, Any]
) -> Iterable[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]]:
    missing = [c for c in (s.key_column, *s.header_columns) if c and c not in batch.columns]
    if missing:
        raise WriteError(f"column {missing[0]!r} is not in the data", column=missing[0], **ctx)
    values = _clean_floats(batch.drop(list(s.header_columns)))
    keys = batch[s.key_column].to_list() if s.key_column else None
    headers = [batch[c].to_list() for c in s.header_columns]
    for i, row in enumerate(values.iter_rows(named=True)):
        try:
            key = s.key.encode(keys[i]) if keys is not None else None
            value = s.value.encode(row)
        except (TypeError, ValueError) as exc:
            raise WriteError(f"cannot serialise a row for topic {s.topic!r}: {exc}", **ctx) from exc
        row_headers = list(s.headers) + [
            (c, str(h[i]).encode("utf-8"))
            for c, h in zip(s.header_columns, headers, strict=True)
            if h[i] is not None
        ]
        yield key, value, row_headers


def write(frame: pl.DataFrame | pl.LazyFrame, spec: SourceSpec, request: WriteRequest) -> WriteInfo:
    """Send one message per row and wait until every one is acknowledged.

    A LazyFrame is accepted too and sent in batches (see :func:`write_batches`).
    """
    return write_batches(frame if isinstance(frame, pl.LazyFrame) else [frame], spec, request)


def write_batches(
    batches: Iterable[pl.DataFrame] | pl.LazyFrame, spec: SourceSpec, request: WriteRequest
) -> WriteInfo:
    """Send the rows of each batch (or of a LazyFrame, ``batch_rows`` at a time) as messages.

    Raises:
        DeliveryError: A message was refused or not acknowledged by ``flush_timeout``.
        WriteError: The broker cannot be reached within ``connect_timeout``, or a row cannot
            be serialised.
    """
    s = parse(spec, request.context)
    with client_span(
        "messaging", system="kafka", operation="send", target=s.topic, server=s.server
    ) as sp:
        info = _send(batches, s, request)
        set_attributes(sp, {"messaging.batch.message_count": info.rows})
    return info


def _send(
    batches: Iterable[pl.DataFrame] | pl.LazyFrame, s: Settings, request: WriteRequest
) -> WriteInfo:
    ctx = request.context
    if isinstance(batches, pl.LazyFrame):
        batches = batches.collect_batches(chunk_size=s.batch_rows)
    producer = _client(s, "producer", ctx)
    _metadata(producer, s, WriteError, ctx)
    track = _Tracker()
    sending = _Sending(producer, s, track, ctx)
    stopped: WriteError | None = None
    try:
        for batch in batches:
            sending.batch(batch)
            if track.failed:
                break
    except WriteError as exc:  # a row that cannot be serialised, a refused produce
        stopped = exc
    finally:
        # what was handed to the client is flushed (bounded) before any report
        left = producer.flush(max(0.0, sending.deadline - time.monotonic()))
        if left:
            # what is still queued is dropped, so nothing reported undelivered arrives later
            producer.purge()
            producer.flush(0)
    sent = sending.sent
    if stopped is not None or track.failed or left or track.delivered < sent:
        reason = (
            stopped.message
            if stopped is not None
            else track.first_error or f"not acknowledged within {s.flush_timeout:g}s"
        )
        raise DeliveryError(
            f"{sent - track.delivered} of {sent} messages sent to topic {s.topic!r} at broker"
            f" {s.server} were not delivered, and the write stopped ({reason}); {track.delivered}"
            " were delivered",
            delivered=track.delivered,
            sent=sent,
            **ctx,
        ) from stopped
    return WriteInfo(location=s.location, rows=track.delivered, bytes=track.nbytes)


class _Sending:
    """Hands messages to the producer, waiting (bounded) when its local queue is full."""

    def __init__(self, producer: Any, s: Settings, track: _Tracker, ctx: Mapping[str, Any]):
        self.producer, self.s, self.track, self.ctx = producer, s, track, ctx
        self.ck = _kafka(ctx)
        self.sent = 0
        self.deadline = time.monotonic() + s.flush_timeout

    def batch(self, batch: pl.DataFrame) -> None:
        s = self.s
        for key, value, headers in _messages(batch, s, self.ctx):
            self.one(key, value, headers)
            if self.track.failed:
                return
        self.deadline = time.monotonic() + s.flush_timeout

    def one(self, key: bytes | None, value: bytes | None, headers: list[Any]) -> None:
        s = self.s
        while True:
            try:
                self.producer.produce(
                    s.topic, value=value, key=key, headers=headers or None, on_delivery=self.track
                )
                break
            except BufferError as exc:  # the local queue is full: let deliveries drain it
                if time.monotonic() > self.deadline or self.track.failed:
                    raise WriteError(
                        f"the producer's queue stayed full for {s.flush_timeout:g}s", **self.ctx
                    ) from exc
                self.producer.poll(0.1)
            except self.ck.KafkaException as exc:
                raise WriteError(
                    f"cannot send to topic {s.topic!r} at {s.server}: {_text(exc, s)}", **self.ctx
                ) from exc
        self.sent += 1
        self.producer.poll(0)


# ------------------------------------------------------------------------------------------ read


def _starts(consumer: Any, s: Settings, partitions: list[int], ctx: Mapping[str, Any]) -> list[Any]:
    ck = _kafka(ctx)
    tp = ck.TopicPartition
    if s.start_offsets is not None:
        unknown = sorted(set(s.start_offsets) - set(partitions))
        if unknown:
            raise ReadError(
                f"topic {s.topic!r} has no partition {unknown[0]} (it has {partitions})", **ctx
            )
        return [tp(s.topic, p, o) for p, o in sorted(s.start_offsets.items())]
    if s.start_timestamp is None:
        return [tp(s.topic, p, ck.OFFSET_BEGINNING) for p in partitions]
    try:
        found = consumer.offsets_for_times(
            [tp(s.topic, p, s.start_timestamp) for p in partitions], timeout=s.connect_timeout
        )
    except ck.KafkaException as exc:
        raise ReadError(
            f"cannot look up offsets of topic {s.topic!r} at {s.server}: {_text(exc, s)}", **ctx
        ) from exc
    # a partition with nothing at or after the time has offset -1: nothing to read there
    return [t for t in found if t.offset >= 0]


def _consume(s: Settings, ctx: Mapping[str, Any]) -> list[Any]:
    """The messages from the start positions to each partition's high watermark."""
    ck = _kafka(ctx)
    consumer = _client(s, "consumer", ctx)
    try:
        topic = _metadata(consumer, s, ReadError, ctx)
        if topic is None or topic.error is not None:
            raise ReadError(f"topic {s.topic!r} does not exist at {s.server}", **ctx)
        starts = _starts(consumer, s, sorted(topic.partitions), ctx)
        if not starts:
            return []
        consumer.assign(starts)
        pending = {t.partition for t in starts}
        high: dict[int, int] = {}
        out: list[Any] = []
        deadline = time.monotonic() + s.read_timeout
        while pending and (s.max_messages is None or len(out) < s.max_messages):
            left = deadline - time.monotonic()
            if left <= 0:
                raise ReadError(
                    f"reading topic {s.topic!r} at {s.server} did not reach the end of"
                    f" partition(s) {sorted(pending)} within {s.read_timeout:g}s",
                    **ctx,
                )
            for m in consumer.consume(num_messages=10_000, timeout=min(left, 1.0)):
                _take(m, s, consumer, pending, high, out, ck, ctx)
        return out[: s.max_messages] if s.max_messages else out
    finally:
        consumer.close()


def _take(
    m: Any,
    s: Settings,
    consumer: Any,
    pending: set[int],
    high: dict[int, int],
    out: list[Any],
    ck: Any,
    ctx: Mapping[str, Any],
) -> None:
    err = m.error()
    if err is not None:
        if err.code() == ck.KafkaError._PARTITION_EOF:
            pending.discard(m.partition())
            return
        if err.fatal() or not err.retriable():
            raise ReadError(f"reading topic {s.topic!r} at {s.server} failed: {err.str()}", **ctx)
        return
    p = m.partition()
    if p not in pending:
        return
    if p not in high:
        # the high watermark of the fetch that brought the partition's first message
        high[p] = consumer.get_watermark_offsets(ck.TopicPartition(s.topic, p), cached=True)[1]
    if m.offset() >= high[p]:
        pending.discard(p)
        return
    # the broker seeks to the first offset at the time; a message's own time decides (brokers
    # differ on what they answer for a time past the last message)
    if s.start_timestamp is None or m.timestamp()[1] >= s.start_timestamp:
        out.append(m)
    if m.offset() >= high[p] - 1:
        pending.discard(p)


def _decode(messages: list[Any], s: Settings, ctx: Mapping[str, Any]) -> pl.DataFrame:
    decoder = s.value.decode
    if decoder is None:
        raise ReadError(f"value serialiser {s.value.name!r} has no decode for reads", **ctx)
    raw = [m.value() for m in messages]
    try:
        if s.value.name == "json":
            text = pl.Series("v", raw, dtype=pl.Binary).cast(pl.String)
            frame = text.str.json_decode(infer_schema_length=None).struct.unnest()
        else:
            rows = [decoder(v) if v is not None else None for v in raw]
            if rows and not isinstance(rows[0], Mapping):
                rows = [{"value": r} for r in rows]
            frame = pl.DataFrame(rows, infer_schema_length=None)
    except (pl.exceptions.PolarsError, ValueError, TypeError) as exc:
        raise ReadError(
            f"cannot decode the values of topic {s.topic!r} with the"
            f" {s.value.name} serialiser: {first_line(exc)}",
            **ctx,
        ) from exc
    extra: dict[str, list[Any]] = {}
    if s.key_column and s.key_column not in frame.columns:
        decode_key = s.key.decode or (lambda b: b)
        extra[s.key_column] = [None if m.key() is None else decode_key(m.key()) for m in messages]
    for column in s.header_columns:
        extra[column] = [_header(m, column) for m in messages]
    return frame.with_columns([pl.Series(k, v) for k, v in extra.items()]) if extra else frame


def _header(message: Any, name: str) -> str | None:
    for key, value in message.headers() or ():
        if key == name and value is not None:
            return bytes(value).decode("utf-8")
    return None


def scan(spec: SourceSpec, request: ScanRequest) -> Scan:
    """Consume the topic (bounded, see the module's docstring) into a frame."""
    ctx = request.context
    s = parse(spec, ctx)
    with client_span(
        "messaging", system="kafka", operation="poll", target=s.topic, server=s.server
    ) as sp:
        messages = _consume(s, ctx)
        set_attributes(sp, {"messaging.batch.message_count": len(messages)})
    frame = _decode(messages, s, ctx) if messages else _empty(request)
    if request.columns is not None:
        frame = frame.select([c for c in request.columns if c in frame.columns])
    return Scan(
        frame=frame.lazy(),
        location=s.location,
        pushdown=Pushdown.nothing(request.filter, projection=True),
    )


def _empty(request: ScanRequest) -> pl.DataFrame:
    names = request.columns if request.columns is not None else tuple(request.hints.dtypes)
    return pl.DataFrame(schema=dict.fromkeys(names, pl.String))
