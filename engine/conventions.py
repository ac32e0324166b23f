"""Every name dynio's telemetry emits, in one table: span names, attributes, events, metrics.

The README's "Semantic conventions" section is generated from these tables
(:func:`readme_section`), and a test checks every attribute of every exported span, event,
metric point and log record against :data:`ATTRIBUTES`, so the documentation and the telemetry
cannot drift apart. Standard OpenTelemetry names (``db.*``, ``server.*``, ``messaging.*``,
``rpc.*``, ``error.type``, ``exception.*``) are used where the semantic conventions define one.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ATTRIBUTES",
    "EVENTS",
    "METRICS",
    "OPERATIONS",
    "SPANS",
    "STAGES",
    "Attribute",
    "Metric",
    "readme_section",
]

# the one vocabulary of ``dynio.operation``, on spans and metrics alike
OPERATIONS = ("read", "scan", "write")

# operation spans (kind INTERNAL): name -> what it covers
SPANS: dict[str, str] = {
    "dynio.read": "one `read` (plan, fetch, cast, rules, metrics, hand-off)",
    "dynio.write": "one `write` (hand-off, cast, rules, metrics, sink)",
    "dynio.scan": (
        "the stage reading the data inside `dynio.read`; as an operation (`cat.scan()`, with"
        " `dynio.operation=scan`) it covers planning only: the caller collects the LazyFrame"
        " later (`dynio.scan.lazy=true`)"
    ),
    "dynio.demo": "the demo pipeline",
}
# stage spans (kind INTERNAL), children of an operation span
STAGES: dict[str, str] = {
    "dynio.plan": "resolving the location, listing files, reading footers, building the plan",
    "dynio.scan": "collecting the planned frame (the source's reads happen here)",
    "dynio.cast": "casting written data to the schema",
    "dynio.validate": "the schema's rules (and its metrics, in the same pass)",
    "dynio.metrics": "publishing the metric values",
    "dynio.to_pandas": "the hand-off to pandas",
    "dynio.to_polars": "the hand-off from the caller's frame",
    "dynio.sink": "the source's write",
    "dynio.fetch": "one file or part fetched by a source in a worker thread",
}


@dataclass(frozen=True)
class Attribute:
    """One attribute name: where it appears and what it holds."""

    name: str
    on: str
    value: str


_A = Attribute
ATTRIBUTES: dict[str, Attribute] = {
    a.name: a
    for a in [
        _A("dynio.operation", "operations, metrics", "`read`, `scan`, `write`"),
        _A("dynio.resource", "operations, metrics", "resource name"),
        _A("dynio.env", "operations, metrics", "environment name"),
        _A("dynio.source.kind", "operations, `dynio.io.*`", "`local`, `s3`, `postgres`…"),
        _A("dynio.format", "operations, `dynio.scan`, `dynio.sink`", "`parquet`, `csv`, …"),
        _A("dynio.location", "operations, `dynio.sink`", "path/URI/DSN, secrets redacted"),
        _A(
            "dynio.files.matched", "`dynio.read`/`scan`, `dynio.scan`", "files the location matched"
        ),
        _A(
            "dynio.files.pruned",
            "`dynio.read`/`scan`",
            "files of a dataset left out before the scan: their footers' statistics (or a table"
            " format's manifests) show the filter keeps none of their rows",
        ),
        _A("dynio.rows", "operations, `dynio.scan`, `dynio.sink`, hand-offs", "rows"),
        _A("dynio.bytes", "`dynio.read`, `dynio.write`, `dynio.sink`", "bytes read or written"),
        _A("dynio.columns", "`dynio.to_pandas`", "number of columns handed off"),
        _A("dynio.columns.projected", "`dynio.read`/`scan`", "columns asked for (absent: all)"),
        _A(
            "dynio.filters.pushed",
            "`dynio.read`/`scan`, `dynio.scan`",
            "the part of the filter the source took (a SQL source: the conditions in its"
            " `WHERE`); literals shown as `?` unless `include_values`",
        ),
        _A(
            "dynio.filters.residual",
            "`dynio.read`/`scan`, `dynio.scan`",
            "the part of the filter only the engine applied after the scan (with"
            " `dynio.filters.pushed`: partly pushed)",
        ),
        _A(
            "dynio.pushdown.projection",
            "`dynio.read`/`scan`, `dynio.scan`",
            "`true`: the source read only the columns the plan needs",
        ),
        _A("dynio.casts", "`dynio.read`, `dynio.scan`, `dynio.cast`", "`column: from -> to`"),
        _A(
            "dynio.validation.outcome",
            "operations, `dynio.validate`",
            "`passed`, `warned`, `failed`",
        ),
        _A("dynio.validation.failed_rules", "operations, `dynio.validate`", "failed rules"),
        _A("dynio.validation.rules_checked", "`dynio.validate`", "rules evaluated"),
        _A("dynio.metrics.values", "`dynio.metrics`", "metric values computed"),
        _A(
            "dynio.handoff.dtype_backend",
            "`dynio.to_pandas`",
            "`numpy`, `numpy_nullable`, `pyarrow`",
        ),
        _A("dynio.handoff.input", "`dynio.to_polars`", "`pandas`, `polars`, `pyarrow`"),
        _A("dynio.retries", "operations", "requests to an object store tried again"),
        _A("dynio.read.attempts", "`dynio.read`", "reads made because a writer replaced the data"),
        _A("dynio.read.replaced", "`dynio.scan`", "this scan's data was replaced while read"),
        _A(
            "dynio.read.path",
            "`dynio.read`, `dynio.scan`",
            "the reader that ran: `polars` (lazy scan), `polars-split` (large parquet reads"
            " with no filter: column groups scanned at once), `mixed` (large parquet reads"
            " into pandas with no cast or filter: text by pyarrow, the rest by Polars) or"
            " `arrow` (pyarrow's, plain parquet reads)",
        ),
        _A(
            "dynio.pandas.function",
            "the caller's span (`dynio.pandas` readers)",
            "the drop-in reader called (`read_csv`…)",
        ),
        _A(
            "dynio.pandas.reader",
            "the caller's span (`dynio.pandas` readers)",
            "which reader served the call: `polars`, `arrow` (pyarrow's, through the engine),"
            " `mixed` (pyarrow the text, Polars the rest) or `pandas`",
        ),
        _A(
            "dynio.pandas.reason",
            "the caller's span (`dynio.pandas` readers)",
            "why pandas read the call (no file values)",
        ),
        _A("dynio.scan.lazy", "`dynio.scan` operation", "`true`: planning only, collected later"),
        _A("dynio.io.direction", "`dynio.io.*` metrics", "`read` or `write`"),
        _A("dynio.column", "quality metrics, rule events", "column name"),
        _A("dynio.metric", "quality metrics", "metric kind (`Mean`, `Max`…)"),
        _A("dynio.metric.quantile", "`dynio.quality.quantile`", "`p50`, `p90`, `p99`"),
        _A(
            "dynio.metric.label",
            "`dynio.quality.label_count`",
            "a `CountsPerLabel` label (a data value: only with `include_values`)",
        ),
        _A("dynio.rule", "rule events, `dynio.validation.failures`", "rule name"),
        _A("dynio.rule.severity", "rule events, `dynio.validation.failures`", "`error`, `warn`"),
        _A("dynio.rule.failing_count", "`dynio.rule.failed` event", "failing rows"),
        _A("dynio.retry.attempt", "`dynio.retry` event", "attempt number"),
        _A("dynio.retry.target", "`dynio.retry` event", "what was tried again (redacted)"),
        _A("dynio.retry.action", "`dynio.retry` event", "`retry` or `give up`"),
        _A("dynio.retry.wait_s", "`dynio.retry` event", "seconds waited before the next try"),
        _A("error.type", "failed spans, `dynio.operation.duration`", "fully qualified class"),
        _A("exception.type", "`exception` event", "fully qualified class"),
        _A("exception.message", "`exception` event", "message, redacted; no data values"),
        _A("exception.stacktrace", "`exception` event", "traceback, redacted"),
        _A("db.system.name", "database CLIENT spans", "`postgresql`, `duckdb`…"),
        _A("db.namespace", "database CLIENT spans", "database (and schema) name"),
        _A("db.collection.name", "database CLIENT spans", "table"),
        _A("db.operation.name", "database CLIENT spans", "`SELECT`, `COPY`, `INSERT`…"),
        _A("db.query.text", "database CLIENT spans", "the statement, literals replaced by `?`"),
        _A("server.address", "CLIENT spans", "host of the database, store or broker"),
        _A("server.port", "CLIENT spans", "its port (443 for cloud stores without endpoint)"),
        _A("rpc.system", "object-store CLIENT spans", "`aws-api`, `gcp-api`, `azure-api`, `http`"),
        _A("rpc.service", "object-store CLIENT spans", "`S3`, `GCS`, `AzureBlob`…"),
        _A("rpc.method", "object-store CLIENT spans", "`GetObject`, `PutObject`, `ListObjects`…"),
        _A("aws.s3.bucket", "S3 CLIENT spans", "bucket"),
        _A("messaging.system", "messaging CLIENT spans", "`kafka`"),
        _A("messaging.destination.name", "messaging CLIENT spans", "topic"),
        _A("messaging.operation.name", "messaging CLIENT spans", "`send`, `poll`…"),
        _A("messaging.operation.type", "messaging CLIENT spans", "`send`, `receive`"),
        _A("messaging.batch.message_count", "messaging CLIENT spans", "messages sent or received"),
        _A("db.response.returned_rows", "database CLIENT spans", "rows a query returned (Athena)"),
        _A("aws.athena.query_id", "Athena CLIENT spans", "the query execution's id"),
        _A("aws.athena.workgroup", "Athena CLIENT spans", "the workgroup the query ran in"),
        _A("logger.name", "log records", "`dynio`, `dynio.metrics`"),
        _A("code.function.name", "log records", "function that logged"),
        _A("code.line.number", "log records", "its line"),
    ]
}

EVENTS: dict[str, tuple[str, ...]] = {
    "exception": ("exception.type", "exception.message", "exception.stacktrace"),
    "dynio.rule.failed": (
        "dynio.rule",
        "dynio.column",
        "dynio.rule.severity",
        "dynio.rule.failing_count",
        "dynio.resource",
        "dynio.env",
        "dynio.operation",
    ),
    "dynio.retry": (
        "dynio.resource",
        "dynio.retry.attempt",
        "dynio.retry.target",
        "dynio.retry.action",
        "dynio.retry.wait_s",
        "error.type",
    ),
}

_IO = ("dynio.resource", "dynio.env", "dynio.source.kind", "dynio.io.direction")
_QUALITY = ("dynio.resource", "dynio.env", "dynio.column", "dynio.metric")


@dataclass(frozen=True)
class Metric:
    """One instrument: its kind, unit, description and attributes."""

    name: str
    instrument: str
    unit: str
    description: str
    attributes: tuple[str, ...]


_M = Metric
METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        _M("dynio.io.rows", "counter", "{row}", "Rows read or written.", _IO),
        _M("dynio.io.size", "counter", "By", "Bytes read or written.", _IO),
        _M(
            "dynio.operation.duration",
            "histogram",
            "s",
            "Duration of dynio operations.",
            ("dynio.operation", "dynio.resource", "dynio.env", "error.type"),
        ),
        _M("dynio.quality.mean", "gauge", "", "Mean of a column (Mean).", _QUALITY),
        _M("dynio.quality.min", "gauge", "", "Minimum of a numeric column (Min).", _QUALITY),
        _M("dynio.quality.max", "gauge", "", "Maximum of a numeric column (Max).", _QUALITY),
        _M("dynio.quality.stddev", "gauge", "", "Standard deviation (Std).", _QUALITY),
        _M("dynio.quality.variance", "gauge", "", "Variance (Variance).", _QUALITY),
        _M("dynio.quality.count", "gauge", "{row}", "Row/unique counts (Count…).", _QUALITY),
        _M("dynio.quality.null_count", "gauge", "{row}", "Missing values (NullCount).", _QUALITY),
        _M(
            "dynio.quality.quantile",
            "gauge",
            "",
            "Quantiles of a column (Quantiles).",
            (*_QUALITY, "dynio.metric.quantile"),
        ),
        _M(
            "dynio.quality.label_count",
            "gauge",
            "{row}",
            "Rows per label (CountsPerLabel); only with include_values, at most label_cap labels.",
            (*_QUALITY, "dynio.metric.label"),
        ),
        _M("dynio.quality.value", "gauge", "", "Any other numeric metric kind.", _QUALITY),
        _M(
            "dynio.validation.failures",
            "counter",
            "{rule}",
            "Data-quality rules that failed.",
            (
                "dynio.resource",
                "dynio.env",
                "dynio.operation",
                "dynio.rule",
                "dynio.column",
                "dynio.rule.severity",
            ),
        ),
    ]
}


def readme_section() -> str:
    """The README's tables of span names, attributes, events and metrics (generated)."""
    lines = ["| span | kind | covers |", "|---|---|---|"]
    lines += [f"| `{name}` | INTERNAL | {text} |" for name, text in SPANS.items()]
    lines += [f"| `{name}` | INTERNAL (stage) | {text} |" for name, text in STAGES.items()]
    lines += [
        "| `{db.operation.name} {db.collection.name}` (e.g. `SELECT shop.orders`) | CLIENT |"
        " one call to a database |",
        "| `{rpc.service}.{rpc.method}` (e.g. `S3.GetObject`) | CLIENT | one call to an object"
        " store or catalog |",
        "| `{messaging.operation.name} {messaging.destination.name}` (e.g. `send trips`) | CLIENT"
        " | one call to a broker |",
        "",
        "| attribute | on | value |",
        "|---|---|---|",
    ]
    lines += [f"| `{a.name}` | {a.on} | {a.value} |" for a in ATTRIBUTES.values()]
    lines += ["", "| event | attributes |", "|---|---|"]
    lines += [
        f"| `{name}` | {', '.join(f'`{a}`' for a in attrs)} |" for name, attrs in EVENTS.items()
    ]
    lines += ["", "| metric | instrument | unit | attributes |", "|---|---|---|---|"]
    for m in METRICS.values():
        names = ", ".join(f"`{a}`" for a in m.attributes)
        unit = f"`{m.unit}`" if m.unit else "— (the column's)"
        lines.append(f"| `{m.name}` | {m.instrument} | {unit} | {names} |")
    return "\n".join(lines) + "\n"
