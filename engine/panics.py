"""Keep Rust panic reports of Polars off the terminal while dynio handles the panic.

A Polars reader can panic on data that changes under it (an object replaced between the footer
and the ranges read by its offsets). dynio catches the panic (``PanicException``) and reads
again or raises a :class:`~dynio.engine.errors.ReadError`, but Rust's panic hook has already
written its report (``thread '…' panicked at …``, and a whole backtrace under
``RUST_BACKTRACE``) straight to the process's standard error, file descriptor 2, where no Python
logging setting reaches it. Reads in a loop racing writes flooded logs with them.

:func:`quiet_panics` sends file descriptor 2 through a pipe while a read runs; a thread
forwards every line to the real standard error as it comes, except the panic reports. Nothing
global is left changed: descriptor 2 is restored when the last concurrent read ends (the
forwarder drains the pipe and waits on it for the next read, or ends when standard error was
moved elsewhere since), and ``RUST_BACKTRACE`` is never touched. Only on POSIX
systems; elsewhere, and when descriptor 2 is closed, it does nothing.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["is_panic_report", "is_terminal", "quiet_panics"]

_HEADER = re.compile(rb"^thread '.*'(?: \(\d+\))? panicked at ")
# what follows a panic's message line: the hint, a backtrace and its frames
_TRAILER = re.compile(rb"^(note: |stack backtrace:|\s+\d+: |\s+at |\s*$)")
# a backtrace frame's address or source line, which nothing else prints: dropped even where
# two threads' reports interleave and a line lost its place
_FRAME = re.compile(rb"^\s*(\d*:\s+)?0x[0-9a-f]+ - |^\s+at \S+:\d+(:\d+)?$")
_SYMBOL = re.compile(rb"[\w>]\[[0-9a-f]{16}\]::")  # a Rust symbol with its crate hash

_lock = threading.Lock()
_depth = 0
_saved: int | None = None  # the real descriptor 2 while redirected
_writer: int | None = None  # our write end of the pipe


def is_panic_report(lines: list[bytes]) -> list[bool]:
    """For each line of standard error, whether it belongs to a Rust panic report.

    A report is the ``thread '…' panicked at …`` line, the message line after it, and the
    ``note:`` hint and backtrace frames that follow.
    """
    marks: list[bool] = []
    state = "out"
    for line in lines:
        if _HEADER.match(line):
            state = "message"
            marks.append(True)
        elif state == "message" or (
            (state == "trailer" and _TRAILER.match(line))
            or _FRAME.match(line)
            or _SYMBOL.search(line)
        ):
            state = "trailer"
            marks.append(True)
        else:
            state = "out"
            marks.append(False)
    for i in range(1, len(lines)):  # the hook starts a report with an empty line
        if marks[i] and not marks[i - 1] and _HEADER.match(lines[i]) and not lines[i - 1].strip():
            marks[i - 1] = True
    return marks


def is_terminal(stream: Any) -> bool:
    """Whether ``stream`` writes to a terminal, also while descriptor 2 goes through the pipe
    (a progress bar on standard error asks this, not ``isatty()``, which the pipe would fool).
    """
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return True
    saved = _saved
    try:
        return saved is not None and stream.fileno() == 2 and os.isatty(saved)
    except (AttributeError, OSError, ValueError):
        return False


def _may_open_report(partial: bytes) -> bool:
    """Whether an unfinished line could still become a panic report's first line."""
    head = b"thread '"
    return partial.startswith(head) or head.startswith(partial)


def _forward(reader: int, target: int) -> None:
    """Copy lines from ``reader`` to ``target`` until end of file, leaving panic reports out."""
    pending = b""
    state: list[bytes] = []  # the open panic report's lines, so a report split across reads
    try:
        while True:
            chunk = os.read(reader, 65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            batch = [*state, *(line + b"\n" for line in lines)]
            marks = is_panic_report([b.rstrip(b"\n") for b in batch])
            # a report still open at the end of the batch may go on in the next read
            open_from = len(batch)
            while open_from > 0 and marks[open_from - 1]:
                open_from -= 1
            state = batch[open_from:] if open_from < len(batch) else []
            kept = b"".join(b for b, m in zip(batch[:open_from], marks, strict=False) if not m)
            if not state and pending and not _may_open_report(pending):
                kept += pending  # a progress bar's line, redrawn without a newline: now
                pending = b""
            if kept:
                os.write(target, kept)
        if pending and not (state and is_panic_report([*state, pending])[-1]):
            os.write(target, pending)
    finally:
        os.close(reader)
        os.close(target)


# the forwarder between reads: the pipe's write end, and the identity (device, inode) of the
# standard error it forwards to; it waits on the pipe for the next read instead of being
# started again for every read (a thread per read costs small reads a fraction of a ms)
_idle: tuple[int, tuple[int, int]] | None = None


def _identity(fd: int) -> tuple[int, int]:
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def _start() -> None:
    global _saved, _writer, _idle
    try:
        saved = os.dup(2)
        real = _identity(saved)
    except OSError:  # no standard error to protect
        return
    if _idle is not None:
        parked, where = _idle
        _idle = None
        if where == real:  # the parked forwarder still writes where standard error goes
            os.dup2(parked, 2)
            _saved, _writer = saved, parked
            return
        os.close(parked)  # standard error was moved since: that forwarder ends
    reader, writer = os.pipe()
    os.set_inheritable(writer, False)
    os.dup2(writer, 2)
    _saved, _writer = saved, writer
    target = os.dup(saved)
    threading.Thread(
        target=_forward, args=(reader, target), name="dynio-stderr", daemon=True
    ).start()


def _stop() -> None:
    global _saved, _writer, _idle
    if _saved is None or _writer is None:
        return
    os.dup2(_saved, 2)  # the real standard error again; the forwarder waits for the next read
    try:
        _idle = (_writer, _identity(_saved))
    except OSError:
        os.close(_writer)
    os.close(_saved)
    _saved = _writer = None


@contextlib.contextmanager
def quiet_panics() -> Iterator[None]:
    """Leave Rust panic reports out of standard error while the block runs (see the module)."""
    global _depth
    if os.name != "posix":
        yield
        return
    with _lock:
        _depth += 1
        if _depth == 1:
            _start()
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _stop()
