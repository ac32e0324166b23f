"""The README's benchmark table is the one its result file gives (benchmarks/readme_table.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from benchmarks.readme_table import BEGIN, END, render

ROOT = Path(__file__).resolve().parent.parent


def _section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[start:end]


def test_the_readme_table_is_rendered_from_the_result_file_it_names() -> None:
    section = _section()
    named = re.search(r"from `(benchmarks/results/[^`]+\.json)`", section)
    assert named, "the README's benchmark section names no result file"
    result = json.loads((ROOT / named.group(1)).read_text(encoding="utf-8"))
    assert section == render(result, named.group(1)), (
        "README.md's benchmark table differs from its result file: run"
        f" `python -m benchmarks.readme_table {named.group(1)}`"
    )


def test_a_missed_target_is_bold_and_a_missing_scenario_a_dash() -> None:
    result = {
        "mode": "full",
        "rows": 10,
        "rounds": 1,
        "cores": 2,
        "versions": {},
        "scenarios": [
            {"id": "R1", "ratio": 0.8, "target": 0.75},
            {"id": "R1-pandas", "ratio": 0.5, "target": 0.75},
            {"id": "F1", "ratio": 0.5, "target": 1.1},
            {
                "id": "R3",
                "ratio": 0.4,
                "target": 0.5,
                "paired": {"ratio": 0.4},
                "cold": {"ratio": 0.6},
            },
        ],
    }
    table = render(result, "x.json")
    assert "| R1 all columns | **0.80** | 0.50 | - | - | - | - | - | ≤ 0.75 |" in table
    assert "| R3 1 % by the sort key | 0.40 / **0.60** | - | - | - | - | - | - | ≤ 0.5 |" in table
    assert not [line for line in table.splitlines() if line.startswith("| R2")]  # not measured
    assert "F1 0.50 (a 1,000-row file read 200 times)" in table
