"""The README's benchmark table, written from a result file: every read on every writer's file.

``python -m benchmarks.readme_table benchmarks/results/FILE.json`` rewrites the part of README.md
between the markers below with the ratios of that file (dynio / baseline, the same run), one
row per read and one column per writer's file (:data:`benchmarks.reads.LAYOUTS`). A test
(tests/test_readme_benchmarks.py) renders the table again from the file the README names and
compares, so the README cannot drift from the measurement it quotes.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from benchmarks.reads import LAYOUTS

__all__ = ["BEGIN", "END", "render", "rewrite"]

BEGIN = "<!-- benchmarks: begin (python -m benchmarks.readme_table RESULT.json) -->"
END = "<!-- benchmarks: end -->"

# (row label, scenario id prefix); the prefix + a layout's suffix names the scenario
_ROWS = (
    ("R1 all columns", "R1"),
    ("R2 3 of 11 columns", "R2"),
    ("R3 1 % by the sort key", "R3"),
    ("R4 1 % by another column", "R4"),
    ("V2 read + 9 rules + 9 metrics", "V2"),
    ("MEM-R1 peak memory of R1", "MEM-R1"),
    ("MEM-R3 peak memory of R3", "MEM-R3"),
    ("R1p `dynio.pandas.read_parquet`", "R1p"),
)
# single scenarios shown under the table: id -> what it is
_OTHERS = {
    "V1": "read + 9 rules + 8 metrics against dynamicio",
    "V3": "V2 on the narrow numeric table",
    "F1": "a 1,000-row file read 200 times",
    "F1-checked": "F1 with 9 rules + 8 metrics",
    "M1": "1,000 small files into one frame",
    "H1": "the hand-off against `pl.read_parquet().to_pandas()`",
}


def _figure(scenario: dict[str, Any], target: Any) -> str:
    ratio = scenario.get("ratio")
    if ratio is None:
        return "-"
    missed = target is not None and round(float(ratio), 2) > float(target)
    return f"**{ratio:.2f}**" if missed else f"{ratio:.2f}"


def _cell(scenario: dict[str, Any] | None) -> str:
    """The ratio, in bold where it misses the scenario's target; a time measured both ways
    shows the paired figure, then the cold one (``0.69 / 0.55``)."""
    if scenario is None:
        return "-"
    target = scenario.get("target")
    paired, cold = scenario.get("paired"), scenario.get("cold")
    if isinstance(paired, dict) and isinstance(cold, dict):
        return f"{_figure(paired, target)} / {_figure(cold, target)}"
    return _figure(scenario, target)


def _targets(scenarios: list[dict[str, Any]]) -> str:
    """The row's targets, each once, in the columns' order."""
    seen = dict.fromkeys(
        f"≤ {float(s['target'])}" for s in scenarios if s.get("target") is not None
    )
    return " / ".join(seen) or "-"


def render(result: dict[str, Any], name: str) -> str:
    """The README's section for ``result`` (a runner's JSON), which the README names ``name``."""
    by_id = {s["id"]: s for s in result["scenarios"]}
    versions = result.get("versions", {})
    lines = [
        BEGIN,
        f"dynio / baseline in one run ({result['mode']}, {result['rows']:,} rows,"
        f" {result['rounds']} rounds, {result['cores']} cores; polars"
        f" {versions.get('polars')}, pandas {versions.get('pandas')}, pyarrow"
        f" {versions.get('pyarrow')}), from `{name}`; below 1 is faster (or smaller) than pandas'"
        " own read of the same file. A time is measured two ways: paired (both sides"
        " interleaved in one warm process, the median of per-round ratios; the figure a target"
        " is judged on) / cold (fresh processes, the ratio of medians); memory is measured"
        " cold. **Bold**: the target is missed. What each scenario is and its baseline:"
        " [benchmarks](docs/benchmarks.md).",
        "",
        "| read | " + " | ".join(layout.label for layout in LAYOUTS) + " | target |",
        "|---|" + "---|" * len(LAYOUTS) + "---|",
    ]
    for label, prefix in _ROWS:
        row = [by_id.get(prefix + layout.suffix) for layout in LAYOUTS]
        present = [s for s in row if s is not None]
        if not present:
            continue
        cells = " | ".join(_cell(s) for s in row)
        lines.append(f"| {label} | {cells} | {_targets(present)} |")
    others = [
        f"{sid} {_cell(by_id[sid])} ({what})" for sid, what in _OTHERS.items() if sid in by_id
    ]
    if others:
        lines += ["", "; ".join(others) + "."]
    lines.append(END)
    return "\n".join(lines)


def rewrite(readme: Path, result_file: Path, root: Path) -> None:
    """Replace the README's section with the table of ``result_file``."""
    text = readme.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{readme}: no section between {BEGIN!r} and {END!r}")
    name = result_file.resolve().relative_to(root.resolve()).as_posix()
    table = render(json.loads(result_file.read_text(encoding="utf-8")), name)
    readme.write_text(pattern.sub(lambda _: table, text), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python -m benchmarks.readme_table RESULT.json")
    root = Path(__file__).resolve().parent.parent
    rewrite(root / "README.md", Path(args[0]), root)


if __name__ == "__main__":
    main()
