"""The paired (warm) measure: both sides of a scenario in ONE process, interleaved.

The cold measure (:mod:`benchmarks.runner`) starts a fresh interpreter for every run of every
side, so the two sides of a round run seconds apart in different processes: on a shared machine
a baseline can move several-fold between scenarios for reasons that have nothing to do with
either side. Here one interpreter runs both sides' ``setup`` (each in its own namespace), one
untimed warm-up run of each, then ``rounds`` rounds of dynio, baseline, dynio, baseline…; each
round's ratio compares two runs made next to each other under the same load, and the scenario's
ratio is the median of the rounds' ratios (with their interquartile range as the spread).

Every run starts from a copy of its side's namespace as ``setup`` left it (so ``df = …`` of one
round is freed, untimed, before the next run, and a name rebound in ``run`` does not leak into
the next round); objects ``setup`` made stay warm across rounds (a catalog, a connection, the
imports), as they are in an application that reads more than once. The first-call cost (imports,
lazy loading, first planning) is the cold measure's to show.

A scenario can be paired when it measures time in the timed code (not a whole interpreter, not
memory), both sides run in the same Python, and nothing its sides set up changes the process for
the other side (``Scenario.paired``: e.g. an OpenTelemetry SDK configured process-wide).

The child is ``python -m benchmarks.paired SPEC RESULT`` (standard library only, so it runs in
any of the suite's environments); :func:`measure` starts it and :func:`summarise` reduces its
samples.
"""

from __future__ import annotations

import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks.sides import Scenario

__all__ = ["can_pair", "measure", "summarise"]

ROOT = Path(__file__).resolve().parent.parent
SIDES = ("dynio", "baseline")
_TIMEOUT = 3600.0  # one child, every round of both sides


def can_pair(scenario: Scenario) -> bool:
    """Whether the scenario's two sides can be measured in one warm process."""
    return (
        scenario.paired
        and scenario.metric == "time"
        and not scenario.process
        and scenario.dynio.python == scenario.baseline.python
    )


def measure(
    scenario: Scenario, rounds: int, ctx: dict[str, Any], python: str
) -> list[dict[str, Any]]:
    """Run the child for ``rounds`` rounds; its samples in the order they ran (warm-ups first).

    Each sample is ``{"side", "round", "seconds", "cpu", "path"}``; ``round`` is -1 for the
    warm-ups. Raises ``RuntimeError`` (with the child's last lines) when a side fails.
    """
    spec = {
        "ctx": ctx,
        "rounds": rounds,
        "sides": {
            name: {"setup": side.setup, "run": side.run, "after": side.after}
            for name, side in zip(SIDES, (scenario.dynio, scenario.baseline), strict=True)
        },
    }
    with tempfile.TemporaryDirectory(prefix="dynio-paired-") as tmp:
        spec_path, result = Path(tmp) / "spec.json", Path(tmp) / "result.json"
        spec_path.write_text(json.dumps(spec))
        proc = subprocess.run(
            [python, "-m", "benchmarks.paired", str(spec_path), str(result)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=_TIMEOUT,
        )
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-6:])
            raise RuntimeError(f"{scenario.id} (paired, {scenario.dynio.python}) failed:\n{tail}")
        samples: list[dict[str, Any]] = json.loads(result.read_text())
    return samples


def _iqr(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q3


def summarise(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """The paired figure from the timed samples (warm-ups, ``round`` -1, are left out).

    ``ratio`` is the median of the per-round ratios dynio/baseline (not the ratio of the
    medians), ``ratio_q1``/``ratio_q3`` their interquartile range; ``dynio``/``baseline`` are
    each side's median seconds, ``dynio_cpu``/``baseline_cpu`` its median CPU seconds (all
    threads), ``cpu_ratio`` the median per-round ratio of CPU seconds (steadier under load than
    wall time, but a side that runs on more threads pays for them there), ``ratios`` every
    round's ratio in order.
    """
    by_round: dict[int, dict[str, dict[str, Any]]] = {}
    for s in samples:
        if s["round"] >= 0:
            by_round.setdefault(s["round"], {})[s["side"]] = s
    pairs = [r for _, r in sorted(by_round.items()) if set(r) == set(SIDES)]
    ratios = [
        p["dynio"]["seconds"] / p["baseline"]["seconds"]
        for p in pairs
        if p["baseline"]["seconds"] > 0
    ]
    if not ratios:
        raise RuntimeError("no round with both sides timed (baseline measured zero?)")
    q1, q3 = _iqr(ratios)
    cpu = [p["dynio"]["cpu"] / p["baseline"]["cpu"] for p in pairs if p["baseline"]["cpu"] > 0]
    out: dict[str, Any] = {
        "rounds": len(pairs),
        "ratio": statistics.median(ratios),
        "ratio_q1": q1,
        "ratio_q3": q3,
        "ratios": ratios,
        "cpu_ratio": statistics.median(cpu) if cpu else None,
    }
    for name in SIDES:
        out[name] = statistics.median(p[name]["seconds"] for p in pairs)
        out[f"{name}_cpu"] = statistics.median(p[name]["cpu"] for p in pairs)
    return out


# --- the child ---------------------------------------------------------------------------------


def _run_once(name: str, code: dict[str, Any], base: dict[str, Any], round_: int) -> dict[str, Any]:
    ns = dict(base)  # from setup's state: the previous run's frame is gone, setup's objects stay
    gc.collect()
    c0, t0 = time.process_time(), time.perf_counter()
    exec(code["run"], ns)  # the scenario's own benchmark code
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    exec(code["after"], ns)
    path = ns.get("PATH_TAKEN")
    ns.clear()
    return {
        "side": name,
        "round": round_,
        "seconds": seconds,
        "cpu": cpu,
        "path": None if path is None else str(path),
    }


def child(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Set both sides up, warm each once, then run ``rounds`` rounds: dynio, baseline, …"""
    spaces, code = {}, {}
    for name in SIDES:
        side = spec["sides"][name]
        code[name] = {
            part: compile(side[part], f"<{name} {part}>", "exec") for part in ("run", "after")
        }
        ns: dict[str, Any] = {"__name__": f"__bench_{name}__", **spec["ctx"]}
        exec(compile(side["setup"], f"<{name} setup>", "exec"), ns)
        spaces[name] = ns
    samples = []
    for round_ in range(-1, spec["rounds"]):
        for name in SIDES:
            samples.append(_run_once(name, code[name], spaces[name], round_))
    return samples


def main(argv: list[str]) -> int:
    """``python -m benchmarks.paired SPEC RESULT``: run the spec, write the samples as JSON."""
    spec_path, result = argv
    with open(spec_path, encoding="utf-8") as fh:
        spec = json.load(fh)
    try:
        samples = child(spec)
    except Exception:  # a side's failure: its traceback, for the runner's error note
        traceback.print_exc()
        return 1
    with open(result, "w", encoding="utf-8") as fh:
        json.dump(samples, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
