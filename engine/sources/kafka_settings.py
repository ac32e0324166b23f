"""The ``kafka`` kind's settings: its YAML section and options, parsed and checked, and the
registry of key and value serialisers.

Kept apart from :mod:`dynio.engine.sources.kafka` so that checking a catalog imports no Kafka
client (see :attr:`dynio.engine.sources.SourceKind.check`).
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from dynio.engine.errors import ConfigError
from dynio.engine.spec import SourceSpec

__all__ = [
    "PRODUCER_ONLY",
    "Serializer",
    "Settings",
    "check_spec",
    "parse",
    "register_serializer",
    "serializers",
]

# ----------------------------------------------------------------------------------- serialisers


@dataclass(frozen=True)
class Serializer:
    """A named way to turn a key or a row into message bytes, and back for reads."""

    name: str
    encode: Callable[[Any], bytes | None]
    decode: Callable[[bytes], Any] | None = None


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    raise TypeError(f"a value of type {type(value).__name__} has no JSON form")


def _json(value: Any) -> bytes:
    # dynamicio's bytes: simplejson.dumps(row, ignore_nan=True) (", " and ": " separators)
    return json.dumps(value, default=_json_default).encode("utf-8")


def _string(value: Any) -> bytes | None:
    if isinstance(value, Mapping):
        if len(value) != 1:
            raise TypeError("the string serialiser takes one value column")
        value = next(iter(value.values()))
    return None if value is None else str(value).encode("utf-8")


def _bytes(value: Any) -> bytes | None:
    if isinstance(value, Mapping):
        if len(value) != 1:
            raise TypeError("the bytes serialiser takes one value column")
        value = next(iter(value.values()))
    if value is None or isinstance(value, bytes):
        return value
    raise TypeError(f"the bytes serialiser takes binary values, got {type(value).__name__}")


_SERIALIZERS: dict[str, Serializer] = {
    "json": Serializer("json", _json, json.loads),
    "string": Serializer("string", _string, lambda b: b.decode("utf-8")),
    "bytes": Serializer("bytes", _bytes, lambda b: b),
}


def register_serializer(
    name: str,
    encode: Callable[[Any], bytes | None],
    decode: Callable[[bytes], Any] | None = None,
) -> None:
    """Make a serialiser available to ``key_serializer``/``value_serializer`` under ``name``.

    ``encode`` gets the key column's value (keys) or the row as a dict (values) and returns the
    bytes; ``decode`` (for reads) gets the bytes and returns the key, or the row as a dict.
    """
    if not name or not isinstance(name, str):
        raise ValueError("a serialiser needs a name")
    _SERIALIZERS[name] = Serializer(name, encode, decode)


def serializers() -> list[str]:
    """The names of the serialisers known now."""
    return sorted(_SERIALIZERS)


# -------------------------------------------------------------------------------------- settings

_OWN: dict[str, Any] = {
    "key_column": str,
    "key_serializer": str,
    "value_serializer": str,
    "headers": Mapping,
    "header_columns": (list, tuple),
    "flush_timeout": (int, float),
    "connect_timeout": (int, float),
    "batch_rows": int,
    "start_timestamp": (int, str, dt.datetime),
    "start_offsets": Mapping,
    "max_messages": int,
    "read_timeout": (int, float),
    "columns": (list, tuple),
    "filters": (list, tuple),
}
# Java-client properties librdkafka does not have; dynamicio dropped them silently
_JAVA_ONLY = frozenset({"buffer.memory", "key.serializer", "value.serializer"})
# librdkafka's properties are dotted names, but for these
_UNDOTTED = frozenset({"acks", "retries", "debug", "partitioner"})
_PROPERTY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
PRODUCER_ONLY = frozenset(
    {
        "acks",
        "request.required.acks",
        "enable.idempotence",
        "compression.type",
        "compression.codec",
        "compression.level",
        "linger.ms",
        "queue.buffering.max.ms",
        "batch.size",
        "batch.num.messages",
        "message.timeout.ms",
        "delivery.timeout.ms",
        "message.send.max.retries",
        "retries",
        "max.in.flight.requests.per.connection",
        "max.in.flight",
        "queue.buffering.max.messages",
        "queue.buffering.max.kbytes",
        "transactional.id",
        "enable.gapless.guarantee",
        "sticky.partitioning.linger.ms",
        "partitioner",
    }
)
_SERVER = re.compile(r"^(?:[A-Za-z]+://)?(\[[0-9A-Fa-f:.]+\]|[^\s:/,\[\]]+)(?::(\d{1,5}))?$")
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


@dataclass(frozen=True)
class Settings:
    server: str
    topic: str
    key_column: str | None
    key: Serializer
    value: Serializer
    headers: tuple[tuple[str, bytes], ...]
    header_columns: tuple[str, ...]
    flush_timeout: float
    connect_timeout: float
    batch_rows: int
    start_timestamp: int | None
    start_offsets: Mapping[int, int] | None
    max_messages: int | None
    read_timeout: float
    client: Mapping[str, Any] = field(default_factory=dict)

    @property
    def location(self) -> str:
        return f"kafka://{self.server}/{self.topic}"


def _bad(message: str, key: str, context: Mapping[str, Any]) -> ConfigError:
    return ConfigError(message, key_path=key, **context)


def _number(options: Mapping[str, Any], name: str, default: float, ctx: Mapping[str, Any]) -> float:
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise _bad(
            f"{name} must be a positive number of seconds, got {value!r}", f"options.{name}", ctx
        )
    return float(value)


def _timestamp_ms(value: Any, context: Mapping[str, Any]) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise _bad(
            f"start_timestamp must be epoch milliseconds or an ISO date-time, got {value!r}",
            "options.start_timestamp",
            context,
        ) from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)


def _serializer(
    options: Mapping[str, Any], name: str, default: str, ctx: Mapping[str, Any]
) -> Serializer:
    chosen = options.get(name, default)
    found = _SERIALIZERS.get(str(chosen))
    if found is None:
        raise _bad(
            f"unknown {name} {chosen!r}; known: {serializers()} (add one with"
            " dynio.engine.sources.kafka.register_serializer)",
            f"options.{name}",
            ctx,
        )
    return found


def _property(name: str) -> str | None:
    """The librdkafka property an option name means (kafka-python's ``linger_ms`` spelling
    included), or ``None`` when it is not a property's shape."""
    if name in _UNDOTTED or _PROPERTY.match(name):
        return name
    dotted = name.replace("_", ".")
    return dotted if "_" in name and _PROPERTY.match(dotted) else None


def _client_options(options: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """Check the option names and types; return the librdkafka properties among them."""
    client: dict[str, Any] = {}
    for name, value in options.items():
        if name in _OWN:
            if not isinstance(value, _OWN[name]) or isinstance(value, bool):
                raise _bad(
                    f"option {name} has the wrong type ({type(value).__name__})",
                    f"options.{name}",
                    context,
                )
            continue
        if name in _JAVA_ONLY:
            continue
        near = difflib.get_close_matches(name, list(_OWN), n=1, cutoff=0.85)
        prop = None if near else _property(name)
        if prop is None:
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise _bad(
                f"unknown option {name!r} for type 'kafka' (dynio's options are"
                f" {sorted(_OWN)}; librdkafka properties are dotted names){hint}",
                f"options.{name}",
                context,
            )
        if not isinstance(value, str | int | float | bool):
            raise _bad(
                f"the librdkafka property {name} takes a single value, got {type(value).__name__}",
                f"options.{name}",
                context,
            )
        client[prop] = value
    return client


def parse(spec: SourceSpec, context: Mapping[str, Any]) -> Settings:
    server = str(spec.settings.get("kafka_server", "")).strip()
    topic = str(spec.settings.get("kafka_topic", "")).strip()
    items = [s.strip() for s in server.split(",")]
    for item in items:
        match = _SERVER.match(item)
        if not item or match is None or (match.group(2) and int(match.group(2)) > 65535):
            raise _bad(
                f"kafka_server must be host:port[,host:port…], got {item!r}",
                "kafka.kafka_server",
                context,
            )
    if not _TOPIC.match(topic):
        raise _bad(
            f"kafka_topic must be 1-249 letters, digits, '.', '_' or '-', got {topic!r}",
            "kafka.kafka_topic",
            context,
        )
    o = spec.options
    client = _client_options(o, context)
    offsets = o.get("start_offsets")
    if offsets is not None:
        try:
            offsets = {int(p): int(v) for p, v in offsets.items()}
        except (TypeError, ValueError) as exc:
            raise _bad(
                "start_offsets must map partition numbers to offsets",
                "options.start_offsets",
                context,
            ) from exc
    if offsets is not None and o.get("start_timestamp") is not None:
        raise _bad(
            "give start_timestamp or start_offsets, not both", "options.start_offsets", context
        )
    for name in ("max_messages", "batch_rows"):
        if name in o and o[name] < 1:
            raise _bad(f"{name} must be at least 1", f"options.{name}", context)
    headers = o.get("headers") or {}
    return Settings(
        server=",".join(items),
        topic=topic,
        key_column=o.get("key_column"),
        key=_serializer(o, "key_serializer", "string", context),
        value=_serializer(o, "value_serializer", "json", context),
        headers=tuple((str(k), str(v).encode("utf-8")) for k, v in headers.items()),
        header_columns=tuple(str(c) for c in o.get("header_columns") or ()),
        flush_timeout=_number(o, "flush_timeout", 60.0, context),
        connect_timeout=_number(o, "connect_timeout", 10.0, context),
        batch_rows=int(o.get("batch_rows", 10_000)),
        start_timestamp=(
            _timestamp_ms(o["start_timestamp"], context)
            if o.get("start_timestamp") is not None
            else None
        ),
        start_offsets=offsets,
        max_messages=o.get("max_messages"),
        read_timeout=_number(o, "read_timeout", 60.0, context),
        client=client,
    )


def check_spec(spec: SourceSpec, columns: Sequence[str] | None, context: Mapping[str, Any]) -> None:
    """Check a Kafka section and its options when the catalog loads.

    Raises:
        ConfigError: A malformed broker list or topic, an unknown option or serialiser, a value
            of the wrong type, a key or header column that the schema does not have.
    """
    s = parse(spec, context)
    if columns:
        wanted = [("key_column", s.key_column)] + [("header_columns", c) for c in s.header_columns]
        for key, column in wanted:
            if column is not None and column not in columns:
                raise _bad(
                    f"{key} names {column!r}, which is not a column of the schema {list(columns)}",
                    f"options.{key}",
                    context,
                )
