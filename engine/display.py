"""Tables and notebook views of reports, metric values and results.

Reports and metric values become Polars frames (``to_polars``; ``to_pandas`` through Polars, so
the engine itself never imports pandas) and render as HTML tables in Jupyter (``_repr_html_``).
Failing samples appear here as they do in errors raised to the caller: these views are for the
user's own session, never for logs or telemetry.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from dynio.engine.quality import MetricValue, ValidationReport

__all__ = ["MetricValues", "html_table", "metrics_frame", "report_frame", "report_html"]

_MAX_ROWS = 200


def report_frame(report: ValidationReport) -> pl.DataFrame:
    """One row per failed rule: rule, column, severity, failing count and share, sample."""
    return pl.DataFrame(
        {
            "rule": [f.rule for f in report.failures],
            "column": [f.column for f in report.failures],
            "severity": [f.severity for f in report.failures],
            "failing_count": [f.failing_count for f in report.failures],
            "failing_share": [f.failing_share for f in report.failures],
            "sample": [", ".join(repr(v) for v in f.sample) for f in report.failures],
            "detail": [", ".join(repr(v) for v in f.detail) for f in report.failures],
        },
        schema={
            "rule": pl.String,
            "column": pl.String,
            "severity": pl.String,
            "failing_count": pl.Int64,
            "failing_share": pl.Float64,
            "sample": pl.String,
            "detail": pl.String,
        },
    )


def metrics_frame(values: Iterable[MetricValue]) -> pl.DataFrame:
    """One row per metric value; ``value`` is a float where every value is a number."""
    items = list(values)
    raw = [v.value for v in items]
    numeric = all(
        x is None or (isinstance(x, int | float) and not isinstance(x, bool)) for x in raw
    )
    column = (
        pl.Series("value", raw, dtype=pl.Float64)
        if numeric
        else pl.Series("value", [None if x is None else str(x) for x in raw], dtype=pl.String)
    )
    return pl.DataFrame(
        {
            "dataset": pl.Series([v.dataset for v in items], dtype=pl.String),
            "column": pl.Series([v.column for v in items], dtype=pl.String),
            "metric": pl.Series([v.metric for v in items], dtype=pl.String),
            "label": pl.Series([v.label for v in items], dtype=pl.String),
            "value": column,
        }
    )


def html_table(frame: pl.DataFrame, caption: str = "") -> str:
    """A small, escaped HTML table (at most 200 rows) for notebooks."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>"
        for row in frame.head(_MAX_ROWS).iter_rows()
    )
    more = f"<p>… {frame.height - _MAX_ROWS:,} more rows</p>" if frame.height > _MAX_ROWS else ""
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    table = f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
    return f"<table class='dynio'>{cap}{table}</table>{more}"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return html.escape(str(value))


def report_html(report: ValidationReport) -> str:
    """The report as an HTML block: a headline and, when rules failed, a table of them."""
    state = "passed" if report.ok else "FAILED"
    what = f"resource {report.resource!r}" if report.resource else "data"
    line = (
        f"<p><b>{html.escape(what)}</b>: {state}: {report.checked} rule(s) on"
        f" {report.rows:,} row(s), {len(report.errors)} error(s),"
        f" {len(report.warnings)} warning(s)</p>"
    )
    return line + (html_table(report_frame(report)) if report.failures else "")


class MetricValues(list["MetricValue"]):
    """A list of :class:`~dynio.engine.quality.MetricValue` that shows as a table."""

    def to_polars(self) -> pl.DataFrame:
        """One row per value (see :func:`metrics_frame`)."""
        return metrics_frame(self)

    def to_pandas(self) -> Any:
        """:meth:`to_polars` as a pandas DataFrame."""
        return self.to_polars().to_pandas()

    def _repr_html_(self) -> str:
        return html_table(self.to_polars(), caption=f"{len(self)} metric value(s)")


def result_html(
    kind: str, location: str, rows: int, report: ValidationReport, metrics: Sequence[MetricValue]
) -> str:
    """A read or write result: where, how many rows, the report and the metrics."""
    head = f"<p><b>{html.escape(kind)}</b> {rows:,} row(s) — {html.escape(location)}</p>"
    values = html_table(metrics_frame(metrics), caption="metrics") if metrics else ""
    return head + report_html(report) + values
