"""The outcome of a read (:class:`Result`), as :func:`dynio.engine.execute.read` gives it."""

from __future__ import annotations

import threading
from typing import Any

import polars as pl

from dynio.engine.plan import PlanInfo
from dynio.engine.quality import MetricValue, ValidationReport
from dynio.engine.sources import Pushdown

__all__ = ["Result"]


class Result:
    """The outcome of a read.

    Attributes:
        frame: The data, cast to the schema (made on first use from :attr:`table` when the read
            took the arrow path).
        report: The validation report (empty when validation was not asked for).
        metrics: The metric values (empty when metrics were not asked for).
        info: What the plan did (location, files, projection, filters, casts, the read path).
        converted: The hand-off's output (e.g. the pandas frame), when one was asked for.
        table: The ``pyarrow.Table`` the read gave when it took the arrow path (else ``None``).
        rows: The number of rows read.
        pushdown: What the source took over (:class:`~dynio.engine.sources.Pushdown`):
            ``projection``, ``pushed`` (the part of the filter the source applied, e.g. the
            conditions of a SQL ``WHERE``) and ``residual`` (the part only the engine applied
            after the scan); a filter partly pushed has both.
    """

    __slots__ = ("_frame", "_lock", "converted", "info", "metrics", "report", "table")

    def __init__(
        self,
        frame: pl.DataFrame | None = None,
        report: ValidationReport | None = None,
        info: PlanInfo | None = None,
        metrics: list[MetricValue] | None = None,
        converted: Any = None,
        *,
        table: Any = None,
    ) -> None:
        if (frame is None) == (table is None) or report is None or info is None:
            raise TypeError("Result takes a report, an info and either a frame or a table")
        self._frame = frame
        self._lock = threading.Lock()
        self.report = report
        self.info = info
        self.metrics = metrics if metrics is not None else []
        self.converted = converted
        self.table = table

    @property
    def frame(self) -> pl.DataFrame:
        """The data as a Polars frame (see the class docs)."""
        with self._lock:
            if self._frame is None:
                self._frame = pl.DataFrame(self.table)
            return self._frame

    @property
    def rows(self) -> int:
        """The number of rows read."""
        if self._frame is None:
            return int(self.table.num_rows)
        return self._frame.height

    @property
    def pushdown(self) -> Pushdown:
        """What the source took over of the read (see the class docs)."""
        return self.info.pushdown

    def __repr__(self) -> str:
        return f"Result({self.info.resource!r}, rows={self.rows}, path={self.info.read_path!r})"

    def _repr_html_(self) -> str:
        from dynio.engine.display import result_html

        return result_html("read", self.info.location, self.rows, self.report, self.metrics)
