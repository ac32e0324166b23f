"""Run scenarios against their baselines and report ratios, measured two ways.

Cold: each round runs the dynio side and the baseline side once each, in alternating order, each
in a new interpreter (so neither warms the other's caches or imports, and a run's first-call cost
is in its time). The median over rounds gives the time (or peak memory growth) of each side and
the ratio dynio/baseline.

Paired (:mod:`benchmarks.paired`): both sides in one warm interpreter, interleaved round by round
after a warm-up of each; the ratio is the median of the per-round ratios, with their
interquartile range. By default a time scenario is measured both ways and judged on the paired
figure (the two runs of a round see the same machine load); memory, whole-interpreter and
cross-environment scenarios are cold only. ``--cold`` or ``--paired`` measures one way only.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import datetime as dt
import fnmatch
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.data import SIZES, ensure_data
from benchmarks.dynamicio_env import dynamicio_python
from benchmarks.larger_than_memory import run_l1
from benchmarks.larger_than_memory_checks import run_d2, run_l2
from benchmarks.paired import can_pair
from benchmarks.paired import measure as measure_paired
from benchmarks.paired import summarise as summarise_paired
from benchmarks.scenarios import SCENARIOS, Scenario, Side, all_scenarios, topic_modules

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "bench" / "resources.yaml"
RESULTS = Path(__file__).resolve().parent / "results"

_CHILD = """
import json, resource, sys, time
globals().update({ctx!r})
{setup}
import gc
gc.collect()

def _rss_kb(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

try:  # reset the peak-RSS mark so the peak below belongs to the timed code
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
except OSError:
    pass
_before = _rss_kb("VmRSS")
_t0 = time.perf_counter()
{run}
_seconds = time.perf_counter() - _t0
_peak = _rss_kb("VmHWM")
{after}
_path = globals().get("PATH_TAKEN")
with open({result!r}, "w") as fh:
    json.dump({{"seconds": _seconds, "peak_kb": _peak, "growth_kb": max(_peak - _before, 0),
               "path": None if _path is None else str(_path)}}, fh)
"""


@dataclass
class Outcome:
    """The measured result of one scenario."""

    id: str
    title: str
    metric: str
    dynio: float | None
    baseline: float | None
    ratio: float | None
    target: float
    guard: float
    dynio_peak_mb: float | None = None
    baseline_peak_mb: float | None = None
    status: str = "ok"  # ok | missed | guard | skipped | error
    note: str = ""
    # which path the dynio side took (its ``PATH_TAKEN``, see benchmarks.sides), "" when it
    # records none; rounds that disagree are joined with " | "
    path: str = ""
    # the figure dynio/baseline/ratio above are, and the status is judged on: paired | cold
    judged_on: str = "cold"
    # each measure's own figure (None when not measured): cold {dynio, baseline, ratio, rounds},
    # paired {dynio, baseline, ratio, ratio_q1, ratio_q3, ratios, rounds, *_cpu}
    cold: dict[str, Any] | None = None
    paired: dict[str, Any] | None = None
    # wall seconds the runner spent measuring it, per measure (CI's time budget)
    spent: dict[str, float] | None = None


def _python_for(side: Side, pythons: dict[str, str | None]) -> str | None:
    return pythons.get(side.python)


def _run_side(side: Side, python: str, scenario: Scenario, ctx: dict[str, Any]) -> dict[str, Any]:
    if scenario.process:
        t0 = time.perf_counter()
        subprocess.run([python, "-c", side.run], check=True, capture_output=True, cwd=ROOT)
        return {"seconds": time.perf_counter() - t0, "peak_kb": 0.0, "growth_kb": 0.0}
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        result = fh.name
    code = _CHILD.format(setup=side.setup, run=side.run, after=side.after, result=result, ctx=ctx)
    try:
        proc = subprocess.run(
            [python, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=1800
        )
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-6:])
            raise RuntimeError(f"{scenario.id} ({side.python}) failed:\n{tail}")
        with open(result) as fh:
            out: dict[str, Any] = json.load(fh)
        return out
    finally:
        os.unlink(result)


def _measure(
    scenario: Scenario,
    rounds: int,
    ctx: dict[str, Any],
    py_d: str,
    py_b: str,
    samples: dict[str, list[dict[str, Any]]],
) -> None:
    for i in range(rounds):
        order = [("dynio", scenario.dynio, py_d), ("baseline", scenario.baseline, py_b)]
        for name, side, py in order if i % 2 == 0 else reversed(order):
            samples[name].append(_run_side(side, py, scenario, ctx))


def _cold_figure(scenario: Scenario, samples: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    key = "growth_kb" if scenario.metric == "memory" else "seconds"
    d = statistics.median(s[key] for s in samples["dynio"])
    b = statistics.median(s[key] for s in samples["baseline"])
    if scenario.metric == "memory":
        d, b = d / 1024, b / 1024  # MiB
    return {
        "dynio": d,
        "baseline": b,
        "ratio": d / b if b > 0 else None,
        "rounds": len(samples["dynio"]),
        "dynio_peak_mb": statistics.median(s["peak_kb"] for s in samples["dynio"]) / 1024,
        "baseline_peak_mb": statistics.median(s["peak_kb"] for s in samples["baseline"]) / 1024,
    }


def _paths(samples: list[dict[str, Any]]) -> list[str]:
    return [s["path"] for s in samples if s.get("path")]


def _past(figure: dict[str, Any] | None, guard: float) -> bool:
    return figure is not None and figure["ratio"] is not None and figure["ratio"] > guard


def _paired(
    scenario: Scenario, rounds: int, ctx: dict[str, Any], python: str, confirm: bool
) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    """The paired figure, the dynio side's samples and a note (re-measured past the guard)."""
    samples = measure_paired(scenario, rounds, ctx, python)
    figure, note = summarise_paired(samples), ""
    if confirm and figure["ratio"] > scenario.guard:
        # as for the cold measure: again, in a new process, twice as long; judged on all rounds
        first = figure["ratio"]
        more = measure_paired(scenario, 2 * rounds, ctx, python)
        for s in more:
            s["round"] += rounds if s["round"] >= 0 else 0
        samples += more
        figure = summarise_paired(samples)
        note = f"paired re-measured over {3 * rounds} rounds (first {rounds}: {first:.2f})"
    return figure, [s for s in samples if s["side"] == "dynio"], note


def _cold(
    scenario: Scenario,
    rounds: int,
    ctx: dict[str, Any],
    pys: tuple[str, str],
    confirm: bool,
) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    """The cold figure, the dynio side's samples and a note (re-measured past the guard)."""
    samples: dict[str, list[dict[str, Any]]] = {"dynio": [], "baseline": []}
    _measure(scenario, rounds, ctx, pys[0], pys[1], samples)
    figure, note = _cold_figure(scenario, samples), ""
    if confirm and _past(figure, scenario.guard):
        # past the guard: measure again, twice as long, before calling it a regression. A
        # shared 2-core machine produces single-run outliers; a real regression survives
        # the median of all the rounds together.
        first = figure["ratio"]
        _measure(scenario, 2 * rounds, ctx, pys[0], pys[1], samples)
        figure = _cold_figure(scenario, samples)
        note = f"re-measured over {3 * rounds} rounds (first {rounds}: {first:.2f})"
    return figure, samples["dynio"], note


def _judge(outcome: Outcome) -> None:
    """Status from the judged figure; past the guard only when every measured figure is."""
    judged = outcome.paired if outcome.judged_on == "paired" else outcome.cold
    assert judged is not None
    outcome.dynio, outcome.baseline, outcome.ratio = (
        judged["dynio"], judged["baseline"], judged["ratio"]
    )  # fmt: skip
    if outcome.ratio is None:
        outcome.status = "error"
        outcome.note = "baseline measured zero"
    elif all(_past(f, outcome.guard) for f in (outcome.cold, outcome.paired) if f is not None):
        outcome.status = "guard"
    elif outcome.ratio > outcome.target:
        outcome.status = "missed"


def run_scenario(
    scenario: Scenario,
    rounds: int,
    ctx: dict[str, Any],
    pythons: dict[str, str | None],
    *,
    confirm: bool = True,
    how: str = "both",
) -> Outcome:
    """Measure one scenario over ``rounds`` rounds: ``how`` is ``both``, ``paired`` or ``cold``.

    A scenario that cannot be paired (:func:`benchmarks.paired.can_pair`) is measured cold
    whatever ``how`` says. The outcome is judged on the paired figure when there is one, but
    its status is ``guard`` only when every figure measured is past the guard. With
    ``confirm``, a ratio past the guard is measured again over twice as many rounds and judged
    on the median of all of them; a paired ratio still past it is then confirmed by the cold
    measure (measured for that even with ``how="paired"``), so a guard failure needs both.
    """
    outcome = Outcome(
        scenario.id, scenario.title, scenario.metric, None, None, None, scenario.target,
        scenario.guard,
    )  # fmt: skip
    py_d, py_b = _python_for(scenario.dynio, pythons), _python_for(scenario.baseline, pythons)
    if py_d is None or py_b is None:
        outcome.status, outcome.note = "skipped", "dynamicio environment not available"
        return outcome
    pair = how != "cold" and can_pair(scenario)
    notes, paths, outcome.spent = [], [], {}
    try:
        if pair:
            t0 = time.perf_counter()
            outcome.paired, dynio, note = _paired(scenario, rounds, ctx, py_d, confirm)
            outcome.spent["paired"] = time.perf_counter() - t0
            notes.append(note)
            paths += _paths(dynio)
        # --paired: a paired ratio past the guard is confirmed by the cold measure before it
        # counts (the guard trips only when every figure measured is past it)
        confirming = pair and confirm and _past(outcome.paired, scenario.guard)
        if how != "paired" or not pair or confirming:
            t0 = time.perf_counter()
            recheck = confirm and (not pair or confirming)
            outcome.cold, dynio, note = _cold(scenario, rounds, ctx, (py_d, py_b), recheck)
            outcome.spent["cold"] = time.perf_counter() - t0
            outcome.dynio_peak_mb = outcome.cold.pop("dynio_peak_mb")
            outcome.baseline_peak_mb = outcome.cold.pop("baseline_peak_mb")
            notes.append(note)
            paths += _paths(dynio)
    except (RuntimeError, subprocess.SubprocessError) as exc:
        outcome.status, outcome.note = "error", str(exc)
        return outcome
    outcome.path = " | ".join(dict.fromkeys(paths))
    outcome.note = "; ".join(n for n in notes if n)
    outcome.judged_on = "paired" if pair else "cold"
    _judge(outcome)
    return outcome


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("dynio", "polars", "pandas", "pyarrow", "numpy"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "-"
    return out


def _fmt(value: float | None, memory: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:.1f} MiB" if memory else f"{value:.3f} s"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


_STATUS = {"ok": "met", "missed": "missed", "guard": "PAST GUARD"}


def table(outcomes: list[Outcome]) -> str:
    """A Markdown table of outcomes; a ``path`` column when a dynio side recorded its path.

    When any scenario was measured paired, the table has the paired figure (each side's median,
    the median per-round ratio and its interquartile range) beside the cold one; a row judged
    on its cold figure says so in its status.
    """
    if not any(o.paired for o in outcomes):
        return _cold_table(outcomes)
    with_path = any(o.path for o in outcomes)
    lines = [
        "| id | scenario | paired dynio | paired baseline | paired ratio (IQR) | cold dynio"
        " | cold baseline | cold ratio | target | status |" + (" path |" if with_path else ""),
        "|---|---|---|---|---|---|---|---|---|---|" + ("---|" if with_path else ""),
    ]
    for o in outcomes:
        p, c, memory = o.paired or {}, o.cold or {}, o.metric == "memory"
        spread = f" ({p['ratio_q1']:.2f}-{p['ratio_q3']:.2f})" if p else ""
        status = _STATUS.get(o.status, o.status)
        if o.judged_on == "cold" and o.status in _STATUS:
            status += " (cold)"
        lines.append(
            f"| {o.id} | {o.title} | {_fmt(p.get('dynio'))} | {_fmt(p.get('baseline'))}"
            f" | {_ratio(p.get('ratio'))}{spread} | {_fmt(c.get('dynio'), memory)}"
            f" | {_fmt(c.get('baseline'), memory)} | {_ratio(c.get('ratio'))} | ≤ {o.target}"
            f" | {status} |" + (f" {o.path or '-'} |" if with_path else "")
        )
    return "\n".join(lines)


def _cold_table(outcomes: list[Outcome]) -> str:
    with_path = any(o.path for o in outcomes)
    lines = [
        "| id | scenario | dynio | baseline | ratio | target | status |"
        + (" path |" if with_path else ""),
        "|---|---|---|---|---|---|---|" + ("---|" if with_path else ""),
    ]
    for o in outcomes:
        memory = o.metric == "memory"
        lines.append(
            f"| {o.id} | {o.title} | {_fmt(o.dynio, memory)} | {_fmt(o.baseline, memory)}"
            f" | {_ratio(o.ratio)} | ≤ {o.target} | {_STATUS.get(o.status, o.status)} |"
            + (f" {o.path or '-'} |" if with_path else "")
        )
    return "\n".join(lines)


def select(
    everything: list[Scenario], only: str | None, mode: str
) -> tuple[list[Scenario], set[str]]:
    """The scenarios a run measures, and the checks (L1, L2, D2) ``--only`` names.

    ``only`` is a comma-separated list of ids or shell patterns, case-insensitive (``R1*`` is
    R1 on every writer's file); without it, every scenario of the mode. A pattern that matches
    nothing is an error (``ValueError``).
    """
    if not only:
        return [s for s in everything if s.quick or mode == "full"], {"L1", "L2", "D2"}
    patterns = [p.strip().upper() for p in only.split(",") if p.strip()]
    checks = {"L1", "L2", "D2"}
    chosen = [s for s in everything if any(fnmatch.fnmatchcase(s.id.upper(), p) for p in patterns)]
    named = {c for c in checks if any(fnmatch.fnmatchcase(c, p) for p in patterns)}
    for p in patterns:
        if not any(fnmatch.fnmatchcase(s.id.upper(), p) for s in everything) and not any(
            fnmatch.fnmatchcase(c, p) for c in checks
        ):
            raise ValueError(p)
    return chosen, named


def _ltm_line(check: dict[str, Any]) -> str:
    if check["id"] == "D2":
        if check["status"] != "ok":
            return (
                f"D2 FAILED under {check['limit']}: {check['dask']} / {check['polars_streaming']}"
            )
        return (
            f"D2 ok: ~{check['data_in_memory_mb']:,} MiB of data under {check['limit']}: Dask on 2"
            f" workers {check['dask']['seconds']:.1f} s, Polars streaming"
            f" {check['polars_streaming']['seconds']:.1f} s (ratio {check['ratio']:.2f})"
        )
    s = check["streaming"]
    if not s["ok"]:
        return (
            f"{check['id']} FAILED under {check['limit']}: {s.get('error') or s.get('returncode')}"
        )
    if check["id"] == "L2":
        exact = "exact" if check["exact"] else f"NOT EXACT: {check['problems']}"
        return (
            f"L2 ok: {check['rows']:,} rows (~{check['data_in_memory_mb']:,} MiB in memory) under"
            f" {check['limit']}: check {s['check_seconds']:.2f} s, copy {s['write_seconds']:.2f}"
            f" s, peak {s['peak_mb']:.0f} MiB resident ({s['peak_anon_mb']:.0f} anonymous),"
            f" Polars budget {check['polars_budget_mb']} MiB; results {exact} (vs one copy read"
            " in memory)"
        )
    binds = (
        "the in-memory engine was killed under the same limit"
        if check["limit_binds"]
        else "note: the in-memory engine also fit, the limit did not bind"
    )
    return (
        f"L1 ok: {check['rows']:,} rows (~{check['data_in_memory_mb']:,} MiB in memory) under"
        f" {check['limit']}, streaming in {s['seconds']:.2f} s, peak {s['peak_mb']:.0f} MiB;"
        f" {binds}"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help=f"{SIZES['quick']:,} rows (CI)")
    size.add_argument("--full", action="store_true", help=f"{SIZES['full']:,} rows (default)")
    parser.add_argument(
        "--only", help="comma-separated scenario ids or patterns (e.g. R1,R3,V1 or 'R*-pandas')"
    )
    parser.add_argument("--rounds", type=int, help="rounds per scenario (default 5)")
    how = parser.add_mutually_exclusive_group()
    how.add_argument(
        "--paired",
        action="store_true",
        help="time scenarios only paired: both sides in one warm process, interleaved (default:"
        " paired and cold, judged on paired)",
    )
    how.add_argument(
        "--cold",
        action="store_true",
        help="only cold: every run of every side in a fresh interpreter (first-call costs in)",
    )
    parser.add_argument(
        "--no-dynamicio", action="store_true", help="skip scenarios whose baseline is dynamicio"
    )
    parser.add_argument("--output", type=Path, help="result JSON path")
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when a ratio is past its guard (or a scenario errors)",
    )
    return parser


def _line(scenario: Scenario, outcome: Outcome) -> str:
    """The progress line of one scenario: the judged ratio, the other figure, status, path."""
    figures = []
    if outcome.paired:
        p = outcome.paired
        figures.append(
            f"paired {p['ratio']:.2f} (IQR {p['ratio_q1']:.2f}-{p['ratio_q3']:.2f},"
            f" CPU {_ratio(p['cpu_ratio'])})"
        )
    if outcome.cold:
        figures.append(f"cold {_ratio(outcome.cold['ratio'])}")
    measured = ", ".join(figures) or "ratio -"
    path = f" [path: {outcome.path}]" if outcome.path else ""
    return (
        f"{scenario.id:<13} {measured} (target ≤ {scenario.target}, guard {scenario.guard},"
        f" judged on {outcome.judged_on}) {outcome.status}{path} {outcome.note}"
    )


def _run_scenarios(
    scenarios: list[Scenario],
    rounds: int,
    base: dict[str, Any],
    pythons: dict[str, str | None],
    how: str = "both",
) -> list[Outcome]:
    """Each selected scenario, grouped by the topic module that prepares its context."""
    outcomes = []
    selected = {s.id for s in scenarios}
    groups = [(None, SCENARIOS)] + [(m, m.SCENARIOS) for m in topic_modules()]
    for module, group in groups:
        todo = [s for s in group if s.id in selected]
        if not todo:
            continue
        with contextlib.ExitStack() as stack:
            ctx = dict(base)
            prepare = getattr(module, "prepare", None)
            if prepare is not None:
                ctx.update(stack.enter_context(prepare(dict(base))))
            for scenario in todo:
                outcome = run_scenario(scenario, rounds, ctx, pythons, how=how)
                outcomes.append(outcome)
                print(_line(scenario, outcome), flush=True)
    return outcomes


def _run_checks(named: set[str], data: Path, mode: str) -> list[dict[str, Any]]:
    """The larger-than-memory checks the selection names (D2 only at full size)."""
    checks = []
    if "L1" in named:
        print("L1      larger-than-memory scan (streaming engine) …", flush=True)
        checks.append(run_l1(data, mode))
        print(_ltm_line(checks[-1]), flush=True)
    if "L2" in named:
        print("L2      larger-than-memory check + copy (streaming rules and sink) …", flush=True)
        checks.append(run_l2(data, mode))
        print(_ltm_line(checks[-1]), flush=True)
    if mode == "full" and "D2" in named:
        print("D2      4x the memory limit: Dask on 2 workers vs Polars streaming …", flush=True)
        checks.append(run_d2(data, mode))
        print(_ltm_line(checks[-1]), flush=True)
    return checks


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks``: run the suite, write JSON results, print a table."""
    parser = _parser()
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    everything = all_scenarios()
    try:
        scenarios, named = select(everything, args.only, mode)
    except ValueError as exc:
        known = ", ".join(s.id for s in everything)
        parser.error(f"no scenario matches {exc} in {args.only!r}; known: {known}")

    # dynio is measured as installed: pip writes bytecode at install time, an editable checkout
    # on a machine with PYTHONDONTWRITEBYTECODE=1 would compile every module in every process
    for package in ("engine", "facade"):
        compileall.compile_dir(ROOT / package, quiet=1)
    print(f"generating data ({mode}, {SIZES[mode]:,} rows) …", flush=True)
    data = ensure_data(mode)
    pythons: dict[str, str | None] = {"main": sys.executable, "dynamicio": None}
    if not args.no_dynamicio and any("dynamicio" in s.needs for s in scenarios):
        print("preparing the dynamicio 9.1.0 environment …", flush=True)
        pythons["dynamicio"] = dynamicio_python()
    rounds = args.rounds or 5
    how = "paired" if args.paired else "cold" if args.cold else "both"
    with tempfile.TemporaryDirectory(prefix="dynio-bench-") as out:
        base = {"DATA": str(data), "OUT": out, "CONFIG": str(CONFIG), "N": SIZES[mode],
                "MODE": mode}  # fmt: skip
        outcomes = _run_scenarios(scenarios, rounds, base, pythons, how)
    checks = _run_checks(named, data, mode)
    record = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "mode": mode,
        "rows": SIZES[mode],
        "rounds": rounds,
        "measure": how,
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "versions": _versions(),
        "scenarios": [asdict(o) for o in outcomes],
        "checks": checks,
    }
    RESULTS.mkdir(exist_ok=True)
    path = args.output or RESULTS / f"{dt.date.today().isoformat()}-{mode}.json"
    path.write_text(json.dumps(record, indent=2))
    print()
    print(table(outcomes))
    for check in checks:
        print("\n" + _ltm_line(check))
    print(f"\nresults: {path}")
    failing = [o.id for o in outcomes if o.status in ("guard", "error")]
    failing += [c["id"] for c in checks if c["status"] != "ok"]
    if args.check and failing:
        print("past guard or failed: " + ", ".join(failing), file=sys.stderr)
        return 1
    return 0
