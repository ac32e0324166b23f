"""Running work in threads under the caller's span (worker threads start with an empty context
otherwise, and spans opened there would begin new traces)."""

from __future__ import annotations

import contextvars
import os
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["ContextThreadPoolExecutor", "run_in_threads"]

T = TypeVar("T")
R = TypeVar("R")


class ContextThreadPoolExecutor(ThreadPoolExecutor):
    """A thread pool whose tasks run in a copy of the submitter's context (so under its span).

    Worker threads otherwise start with an empty context, and spans opened there would begin
    new traces.
    """

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        """Schedule ``fn(*args, **kwargs)`` in a copy of the current context."""
        ctx = contextvars.copy_context()
        return super().submit(ctx.run, fn, *args, **kwargs)


def run_in_threads(
    fn: Callable[[T], R], items: Iterable[T], *, max_workers: int | None = None
) -> list[R]:
    """``[fn(item) for item in items]`` run in threads, each under the caller's span.

    Results keep the order of ``items``; the first exception is re-raised (after the others
    finished). For sources that fetch several files at once.
    """
    todo = list(items)
    if len(todo) <= 1:
        return [fn(item) for item in todo]
    workers = max_workers or min(len(todo), 4 * (os.cpu_count() or 1), 32)
    with ContextThreadPoolExecutor(max_workers=workers, thread_name_prefix="dynio") as pool:
        futures = [pool.submit(fn, item) for item in todo]
        return [f.result() for f in futures]
