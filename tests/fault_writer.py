"""A writer to be killed: run by ``tests/test_faults.py`` as a separate process.

Usage: ``python fault_writer.py CONFIG ENV RESOURCE VARS_JSON STATE N_OLD N_NEW``

The process imports dynio and loads the catalog once, then reads commands on stdin:

- ``round SECONDS``: fork a child that writes RESOURCE over and over, alternating two datasets
  (write ``k`` holds ``N_OLD`` rows of value 1 when ``k`` is even, ``N_NEW`` rows of value 2 when
  it is odd); SIGKILL the child after SECONDS, reap it, and answer ``killed PHASE K`` where
  ``PHASE`` is ``writing`` (write ``K`` had started and not returned) or ``done`` (write ``K`` had
  returned and the next had not started). A child that died on its own answers ``crashed …``.
- ``quit``: exit.

The child records its progress in the 16-byte STATE file before and after each write (one
``pwrite``, which a SIGKILL cannot tear), and starts from the write after the one recorded there,
so the datasets keep alternating across rounds. Forking from a process that has loaded everything
makes a round cost milliseconds instead of a Python start-up.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import sys
import time
import traceback

import polars as pl

_WRITING, _DONE = 1, 0


def dataset(k: int, n_old: int, n_new: int) -> pl.DataFrame:
    """The frame of write ``k``."""
    n, value = (n_old, 1) if k % 2 == 0 else (n_new, 2)
    return pl.DataFrame({"id": pl.int_range(n, eager=True), "v": pl.repeat(value, n, eager=True)})


def read_state(path: str) -> tuple[int, int]:
    """``(phase, k)`` recorded in the state file."""
    with open(path, "rb") as fh:
        phase, k = struct.unpack("<qq", fh.read(16))
    return int(phase), int(k)


def write_state(path: str, phase: int, k: int) -> None:
    """Record ``(phase, k)`` (used by the test to set the starting point)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, struct.pack("<qq", phase, k), 0)
    finally:
        os.close(fd)


def _child(cat: object, resource: str, state: str, n_old: int, n_new: int) -> None:
    fd = os.open(state, os.O_RDWR)
    _, k = read_state(state)
    k += 1
    write = cat.write  # type: ignore[attr-defined]
    while True:
        frame = dataset(k, n_old, n_new)
        os.pwrite(fd, struct.pack("<qq", _WRITING, k), 0)
        write(resource, frame)
        os.pwrite(fd, struct.pack("<qq", _DONE, k), 0)
        k += 1


def main() -> None:
    config, env, resource, vars_json, state, n_old, n_new = sys.argv[1:8]
    import dynio

    cat = dynio.Catalog.from_yaml(config, env=env, vars=json.loads(vars_json))
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "quit":
            return
        delay = float(arg)
        pid = os.fork()
        if pid == 0:  # the child: write until killed
            try:
                _child(cat, resource, state, int(n_old), int(n_new))
            except BaseException:
                traceback.print_exc()
                sys.stderr.flush()
                os._exit(3)
        time.sleep(delay)
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
            phase, k = read_state(state)
            print(f"killed {'writing' if phase == _WRITING else 'done'} {k}", flush=True)
        else:
            print(f"crashed {status}", flush=True)


if __name__ == "__main__":
    main()
