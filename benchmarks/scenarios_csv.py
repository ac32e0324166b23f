"""C1: ``dynio.pandas.read_csv`` against ``pandas.read_csv`` over the CSV shape corpus.

One scenario per shape of :mod:`benchmarks.csv_corpus` (real files from published wheels, and
variants derived where no real file has a shape), each making the same call with the same
arguments on both sides, repeated so that a timed run lasts ~50 ms at pandas' speed. Before
timing, the dynio side checks that its frame equals pandas' (``assert_frame_equal``, floats
exactly). Each outcome's ``report`` says which reader served the calls (``polars``, or
``pandas`` and why: the call fell back or the route sent it there), from
``dynio.pandas.last_read()``. ``C1-fixed_cost`` reads a 1,000-row file 200 times: the fixed
cost per call. ``--quick`` measures a sample of the shapes (``Shape.quick``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

from benchmarks.csv_corpus import FIXED, SHAPES, Shape, ensure_corpus, repeats
from benchmarks.scenarios import Scenario, Side

__all__ = ["SCENARIOS", "prepare"]

_CHECK = """
import dynio.pandas as dpd
import pandas as pd
import warnings
warnings.simplefilter("ignore")
_path, _kw = CORPUS + "/{file}", {kwargs}
pd.testing.assert_frame_equal(dpd.read_csv(_path, **_kw), pd.read_csv(_path, **_kw),
                              check_exact=True)
"""
_PANDAS = """
import pandas as pd
import warnings
warnings.simplefilter("ignore")
_path, _kw = CORPUS + "/{file}", {kwargs}
pd.read_csv(_path, **_kw)  # warmed up as the dynio side is by its check
"""
_REPORT = """
_last = dpd.last_read()
PATH_TAKEN = _last.reader if _last.reason is None else f"{_last.reader}: {_last.reason}"
"""


def _scenario(shape: Shape, times: int | None, title: str, target: float = 1.0) -> Scenario:
    reps = f"{times}" if times is not None else f"REPEATS[{shape.id!r}]"
    fmt = {"file": shape.file, "kwargs": repr(shape.kwargs)}
    return Scenario(
        f"C1-{shape.id}",
        title,
        Side(_CHECK.format(**fmt), f"for _ in range({reps}):\n    df = dpd.read_csv(_path, **_kw)"
             + _REPORT),
        Side(_PANDAS.format(**fmt), f"for _ in range({reps}):\n    df = pd.read_csv(_path, **_kw)"),
        target=target,
        # where pandas reads both sides the ratio is 1 plus a few µs a call, and fresh processes
        # on a shared machine scatter it by ±30 %; Polars on a small file is 3-5x (before C1)
        guard=1.5,
        quick=shape.quick or times is not None,
    )  # fmt: skip


SCENARIOS: list[Scenario] = [
    *(_scenario(s, None, f"read_csv, {s.what}") for s in SHAPES),
    # at most ~1 ms a call over pandas' ~1 ms: 1.1 is the stricter bound here
    _scenario(FIXED, 200, "read_csv fixed cost: a 1,000-row file read 200 times", target=1.1),
]


@contextlib.contextmanager
def prepare(ctx: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Assemble the corpus (once); both sides get ``CORPUS``, ``MANIFEST`` and ``REPEATS``."""
    root = ensure_corpus()
    manifest = json.loads((root / "manifest.json").read_text())
    sizes = {s["id"]: repeats(s["bytes"]) for s in manifest["shapes"]}
    yield {"CORPUS": str(root), "MANIFEST": manifest, "REPEATS": sizes}
