"""A progress bar for long work (many files, a large file, many rows), drawn on a terminal only.

Reads and writes of many objects (listing, schema checks, downloads, uploads) and
``dynio schema infer`` report progress here. The bar is drawn by `rich <https://rich.readthedocs.io>`_
on standard error when it is a terminal and nowhere otherwise, so logs of scheduled runs and
pipes stay clean; ``DYNIO_PROGRESS=0`` turns it off and ``DYNIO_PROGRESS=1`` forces it on. It
shows the count, the bytes moved, the rate and the time left, fits the terminal's width (no
wrapped or repeated lines on a narrow one), and takes updates from worker threads.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from types import TracebackType
from typing import Any, TextIO

from dynio.engine.panics import is_terminal

__all__ = ["MIN_ITEMS", "Progress", "progress", "shown"]

MIN_ITEMS = 8  # fewer items than this finish too fast for a bar to help
_REDRAW_SECONDS = 0.1


def _enabled(stream: TextIO, total: int) -> bool:
    setting = os.environ.get("DYNIO_PROGRESS", "").strip().lower()
    if setting in ("0", "false", "no", "off"):
        return False
    if setting in ("1", "true", "yes", "on"):
        return total > 0
    if total < MIN_ITEMS:
        return False
    return is_terminal(stream)  # standard error may go through dynio's panic filter meanwhile


def shown(stream: TextIO | None = None) -> bool:
    """Whether a bar over a long task would be drawn on ``stream`` (default: standard error)."""
    return _enabled(stream if stream is not None else sys.stderr, MIN_ITEMS)


def _bar(stream: TextIO, label: str, total: int, unit: str) -> tuple[Any, Any]:
    """A rich progress display on ``stream`` and its one task."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(file=stream, force_terminal=True, highlight=False)
    columns: list[Any] = [
        TextColumn("{task.description}"),
        BarColumn(bar_width=None),
        TaskProgressColumn(),
    ]
    if unit == "bytes":
        columns.append(DownloadColumn())
    else:
        columns.append(TextColumn("{task.completed:.0f}/{task.total:.0f} " + unit))
        columns.append(TextColumn("{task.fields[moved]}"))
    columns += [TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    display = Progress(*columns, console=console, auto_refresh=False, transient=False)
    task = display.add_task(label, total=total, moved="")
    display.start()
    return display, task


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"  # unreachable: the loop returns at GB


class Progress:
    """Counts items (and bytes) done out of a total and draws a one-line bar.

    Use :func:`progress` to make one; it is a context manager that finishes the line on exit.
    When disabled every method is a cheap no-op (rich is not even imported).
    """

    def __init__(
        self, total: int, label: str, *, unit: str = "files", stream: TextIO | None = None
    ) -> None:
        self.total = total
        self.label = label
        self.unit = unit
        self.stream: TextIO = stream if stream is not None else sys.stderr
        self.enabled = _enabled(self.stream, total)
        self.done = 0
        self.bytes = 0
        self._lock = threading.Lock()
        self._drawn = 0.0
        self._closed = False
        self._display: Any = None
        self._task: Any = None
        if self.enabled:
            self._display, self._task = _bar(self.stream, label, total, unit)

    def update(self, items: int = 1, nbytes: int = 0) -> None:
        """Count ``items`` more done (and ``nbytes`` more bytes moved)."""
        if not self.enabled:
            return
        with self._lock:
            self.done += items
            self.bytes += nbytes
            moved = _size(self.bytes) if self.bytes else ""
            self._display.update(self._task, completed=self.done, moved=moved)
            now = time.monotonic()
            if now - self._drawn >= _REDRAW_SECONDS or self.done >= self.total:
                self._drawn = now
                self._display.refresh()

    def close(self) -> None:
        """Draw the final state and end the line."""
        if not self.enabled or self._closed:
            return
        with self._lock:
            self._closed = True
            self._display.refresh()
            self._display.stop()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def progress(
    total: int, label: str, *, unit: str = "files", stream: TextIO | None = None
) -> Progress:
    """A progress bar over ``total`` items, drawn only on a terminal (see the module notes).

    ``unit="bytes"`` counts bytes (a single large file read in pieces).

    Example::

        with progress(len(paths), "reading s3://bucket/prefix/") as bar:
            for path in paths:
                ...
                bar.update(1, nbytes=size)
    """
    return Progress(total, label, unit=unit, stream=stream)
