"""dynamicio's metrics, computed by dynio's metric table, logged as dynamicio's JSON lines.

::

    get_metric("Mean")("FOO", df, "column_d")()      # logs the line, returns the value

Each metric logs one line per value on the ``dynio.metrics`` logger (level INFO)::

    {"message": "METRIC", "dataset": "FOO", "column": "column_d", "metric": "Mean", "value": 994.5}

As in dynamicio the value is a float (``NaN``/``Infinity`` written as dynamicio's JSON encoder
wrote them) and ``CountsPerLabel`` logs one line per label with the column named
``column-label``, labels in sorted order. Unlike dynamicio ``Min``/``Max`` of text or timestamps
log the value as text instead of failing, and nothing is configured on import: attach a handler
to ``dynio.metrics`` (or the root logger) to see the lines.

Subclass :class:`Metric` with a ``calculate_metric`` method to add a metric of your own; it is
registered under its class name, as in dynamicio.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import polars as pl

from dynio.compat.dynamicio.errors import ColumnsDataTypeError
from dynio.engine.api import evaluate
from dynio.engine.dtypes import DType
from dynio.engine.metrics import METRICS
from dynio.engine.quality import METRICS_LOGGER, MetricValue
from dynio.engine.spec import ColumnSpec, SchemaSpec
from dynio.handoff import from_any

__all__ = [
    "Counts",
    "CountsPerLabel",
    "Max",
    "Mean",
    "Metric",
    "Min",
    "NullCount",
    "Quantiles",
    "Std",
    "UniqueCounts",
    "Variance",
    "get_metric",
    "log_metric",
    "metric_lines",
]

# every label of CountsPerLabel, as dynamicio logged them all
ALL_LABELS = 2**31


def _number(value: Any) -> Any:
    """dynamicio logged ``float(value)``; text and timestamps stay as they are."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return float(value)
    return value


def _jsonable(value: Any) -> Any:
    value = _number(value)
    if value is None or isinstance(value, float | str):
        return value
    return str(value)


def log_metric(
    dataset: str, column: str, metric: str, value: Any, logger: logging.Logger = METRICS_LOGGER
) -> None:
    """Log one metric line in dynamicio's format."""
    logger.info(_line(dataset, column, metric, value))


def _line(dataset: str, column: str, metric: str, value: Any) -> str:
    # dynamicio's encoder wrote NaN and Infinity as such (JSON5 / simplejson spelling)
    return json.dumps(
        {
            "message": "METRIC",
            "dataset": dataset,
            "column": column,
            "metric": metric,
            "value": _jsonable(value),
        }
    )


def _line_of(value: MetricValue, dataset: str) -> str:
    column, metric = value.column, value.metric
    if value.label is not None:
        if metric == "CountsPerLabel":
            column = f"{column}-{value.label}"
        else:
            metric = f"{metric}-{value.label}"
    return _line(dataset, column, metric, value.value)


def metric_lines(values: Iterable[MetricValue], dataset: str) -> list[str]:
    """dynamicio's lines for dynio metric values: float values, per-label lines sorted by label."""
    out: list[str] = []
    group: list[MetricValue] = []

    def flush() -> None:
        for v in sorted(group, key=lambda v: str(v.label)):
            out.append(_line_of(v, dataset))
        group.clear()

    for v in values:
        if group and (v.column, v.metric) != (group[0].column, group[0].metric):
            flush()
        if METRICS.get(v.metric) is not None and METRICS[v.metric].per_label:
            group.append(v)
            continue
        flush()
        out.append(_line_of(v, dataset))
    flush()
    return out


_REGISTRY: dict[str, type[Metric]] = {}


def get_metric(name: str) -> type[Metric]:
    """The metric class of that name.

    Raises:
        KeyError: No metric of that name.
    """
    return _REGISTRY[name]


class Metric:
    """A metric of one column of a dataset; calling it logs and returns its value.

    Args:
        dataset_name: The dataset name in the log line (dynamicio upper-cases it).
        df: The data (pandas, Polars or Arrow).
        column: The column measured.
    """

    def __init__(self, dataset_name: str, df: Any, column: str) -> None:
        self.dataset_name = dataset_name
        self.df = df
        self.column = column

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls

    @property
    def metric_name(self) -> str:
        """The metric's name: its class name."""
        return type(self).__name__

    def calculate_metric(self) -> Any:
        """The metric's value; user metrics override this."""
        return NotImplemented

    def __call__(self) -> Any:
        value = self.calculate_metric()
        if isinstance(value, Mapping):
            for key in sorted(value):
                log_metric(self.dataset_name, str(key), self.metric_name, value[key])
        else:
            log_metric(self.dataset_name, self.column, self.metric_name, value)
        return value


class _EngineMetric(Metric):
    """A metric of dynio's table, evaluated by the engine."""

    engine_name: ClassVar[str] = ""

    def _values(self) -> list[MetricValue]:
        df = self.df.collect() if isinstance(self.df, pl.LazyFrame) else self.df
        if self.column not in list(df.columns):
            raise ColumnsDataTypeError(
                f"column {self.column!r} is not in the data; it has {list(df.columns)}",
                resource=self.dataset_name,
                column=self.column,
            )
        frame = (
            df.select(self.column)
            if isinstance(df, pl.DataFrame)
            else from_any(df[[self.column]], resource=self.dataset_name)
        )
        dtype = frame.schema[self.column]
        schema = SchemaSpec(
            name=self.dataset_name,
            columns=(
                ColumnSpec(self.column, DType(str(dtype), dtype), metrics=(self.engine_name,)),
            ),
        )
        _, values = evaluate(frame, schema, rules=False, label_cap=ALL_LABELS)
        return values

    def calculate_metric(self) -> Any:
        values = self._values()
        if METRICS[self.engine_name].per_label:
            return {f"{self.column}-{v.label}": v.value for v in values}
        if len(values) > 1:
            return {str(v.label): v.value for v in values}
        return values[0].value if values else None

    def __call__(self) -> Any:
        values = self._values()
        for line in metric_lines(values, self.dataset_name):
            METRICS_LOGGER.info(line)
        if METRICS[self.engine_name].per_label:
            return {f"{self.column}-{v.label}": v.value for v in values}
        if len(values) > 1:
            return {str(v.label): v.value for v in values}
        return values[0].value if values else None


class Min(_EngineMetric):
    """The smallest non-null value."""

    engine_name = "Min"


class Max(_EngineMetric):
    """The largest non-null value."""

    engine_name = "Max"


class Mean(_EngineMetric):
    """The mean of the non-null values."""

    engine_name = "Mean"


class Std(_EngineMetric):
    """The sample standard deviation (ddof 1) of the non-null values."""

    engine_name = "Std"


class Variance(_EngineMetric):
    """The sample variance (ddof 1) of the non-null values."""

    engine_name = "Variance"


class Counts(_EngineMetric):
    """The number of rows, nulls included."""

    engine_name = "Counts"


class UniqueCounts(_EngineMetric):
    """The number of distinct values, null counted once."""

    engine_name = "UniqueCounts"


class CountsPerLabel(_EngineMetric):
    """The number of rows per non-null value, one line per label (``column-label``)."""

    engine_name = "CountsPerLabel"


class NullCount(_EngineMetric):
    """The number of nulls (dynio's addition)."""

    engine_name = "NullCount"


class Quantiles(_EngineMetric):
    """The 50th, 90th and 99th percentiles (dynio's addition; ``Quantiles-p50`` …)."""

    engine_name = "Quantiles"


# the engine classes register under their names, the private base must not
_REGISTRY.pop("_EngineMetric", None)
