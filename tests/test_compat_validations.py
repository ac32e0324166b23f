"""dynio.compat.dynamicio.validations and .metrics: dynamicio's results, dynio's rule table.

Where dynamicio's behaviour is the contract, each case is also run on dynamicio 9.1.0 (in its own
venv) and the results must be the same; the deliberate fixes are tested on their own.
"""

from __future__ import annotations

import json
import logging
import math
import re
import subprocess
import textwrap
from typing import Any

import pandas as pd
import polars as pl
import pytest

from dynio.compat.dynamicio import validations as v
from dynio.compat.dynamicio.errors import ColumnsDataTypeError
from dynio.compat.dynamicio.metrics import Metric, get_metric, log_metric

NAN = float("nan")

# (validator, column values, options): behaviour dynamicio and dynio must share
SHARED_CASES: list[tuple[str, list[Any], dict[str, Any]]] = [
    ("has_unique_values", [1, 2, 3], {}),
    ("has_unique_values", ["a", "b", "a", "c"], {}),
    ("has_unique_values", ["a", "b", "b", "a", "b"], {}),
    ("has_unique_values", [1.0, NAN, NAN], {}),
    ("has_no_null_values", [1.0, 2.0], {}),
    ("has_no_null_values", [1.0, NAN, 3.0, NAN], {}),
    ("has_no_null_values", ["a", None], {}),
    ("has_acceptable_percentage_of_nulls", [1.0, NAN, NAN, 4.0], {"threshold": 0.5}),
    ("has_acceptable_percentage_of_nulls", [1.0, NAN, NAN, 4.0], {"threshold": 0.6}),
    ("has_acceptable_percentage_of_nulls", [1.0, 2.0], {"threshold": 0.1}),
    ("is_in", ["a", "b", "a"], {"categorical_values": ["a", "b", "c"]}),
    ("is_in", ["a", "d", "a"], {"categorical_values": ["a", "b", "c"]}),
    ("is_in", ["a", None, "b"], {"categorical_values": ["a", "b"]}),
    ("is_in", [1, 2, 5], {"categorical_values": [1, 2, 3]}),
    ("is_greater_than", [2, 3, 4], {"threshold": 1}),
    ("is_greater_than", [0.0, 2.0, NAN, 1.0], {"threshold": 1}),
    ("is_greater_than_or_equal", [1, 2], {"threshold": 1}),
    ("is_greater_than_or_equal", [0, 1, 2, 3], {"threshold": 2}),
    ("is_lower_than", [999.0, 990.0], {"threshold": 1000}),
    ("is_lower_than", [999.0, 1000.0, 1001.0], {"threshold": 1000}),
    ("is_lower_than_or_equal", [1000.0, 1001.0], {"threshold": 1000}),
    ("is_between", [1, 5, 9], {"lower": 0, "upper": 10}),
    ("is_between", [0, 5, 10], {"lower": 0, "upper": 10}),
    (
        "is_between",
        [0, 5, 10],
        {"lower": 0, "upper": 10, "include_left": True, "include_right": True},
    ),
    ("is_between", [0, 5, 10, 11], {"lower": 0, "upper": 10, "include_right": True}),
]

METRIC_CASES: list[tuple[str, list[Any]]] = [
    (m, values)
    for values in ([3.0, 1.0, NAN, 2.5, 10.0], [4, 8, 15, 16, 23, 42])
    for m in ("Min", "Max", "Mean", "Std", "Variance", "Counts", "UniqueCounts")
] + [
    ("CountsPerLabel", ["b", "a", "b", None, "c", "b"]),
    ("Counts", ["x", None]),
    ("UniqueCounts", ["x", "x", "y"]),
]

_DYNAMICIO_SCRIPT = """
import json, logging, math, os, sys
os.environ["DYNAMICIO_DO_NOT_CONFIGURE_LOGGING"] = "1"
import pandas as pd
from dynamicio.validations import ALL_VALIDATORS
from dynamicio.metrics import get_metric

lines = []
class Keep(logging.Handler):
    def emit(self, record):
        lines.append(record.getMessage())
log = logging.getLogger("dynamicio.metrics")
log.handlers[:] = [Keep()]
log.setLevel(logging.INFO)
log.propagate = False

def column(values):
    return pd.DataFrame({"c": [float("nan") if v == "NaN" else v for v in values]})

cases = json.load(sys.stdin)
out = {"validations": [], "metrics": []}
for name, values, options in cases["validations"]:
    r = ALL_VALIDATORS[name]("DS", column(values), "c", **options)
    out["validations"].append([bool(r.valid), r.message, float(r.value)])
for name, values in cases["metrics"]:
    lines.clear()
    get_metric(name)("DS", column(values), "c")()
    out["metrics"].append(list(lines))
print(json.dumps(out))
"""


def _jsonable(values: list[Any]) -> list[Any]:
    return ["NaN" if isinstance(x, float) and math.isnan(x) else x for x in values]


@pytest.fixture(scope="module")
def dynamicio_results(dynamicio_python: str) -> dict[str, Any]:
    cases = {
        "validations": [[n, _jsonable(vals), o] for n, vals, o in SHARED_CASES],
        "metrics": [[n, _jsonable(vals)] for n, vals in METRIC_CASES],
    }
    done = subprocess.run(
        [dynamicio_python, "-W", "ignore", "-c", textwrap.dedent(_DYNAMICIO_SCRIPT)],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _frame(values: list[Any]) -> pd.DataFrame:
    return pd.DataFrame({"c": values})


@pytest.mark.parametrize("case", range(len(SHARED_CASES)))
def test_validators_agree_with_dynamicio(case: int, dynamicio_results: dict[str, Any]) -> None:
    name, values, options = SHARED_CASES[case]
    got = v.ALL_VALIDATORS[name]("DS", _frame(values), "c", **options)
    valid, message, value = dynamicio_results["validations"][case]
    # numpy 2 writes dynamicio's numbers as np.int64(5); dynio writes plain Python values
    message = re.sub(r"np\.\w+\((.*?)\)", r"\1", message)
    assert (got.valid, got.message) == (valid, message)
    assert float(got.value) == pytest.approx(value)


@pytest.mark.parametrize("case", range(len(METRIC_CASES)))
def test_metrics_agree_with_dynamicio(
    case: int, dynamicio_results: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    name, values = METRIC_CASES[case]
    with caplog.at_level(logging.INFO, "dynio.metrics"):
        get_metric(name)("DS", _frame(values), "c")()
    ours = [json.loads(r.getMessage()) for r in caplog.records if r.name == "dynio.metrics"]
    theirs = [json.loads(line) for line in dynamicio_results["metrics"][case]]
    assert [{k: m[k] for k in m if k != "value"} for m in ours] == [
        {k: m[k] for k in m if k != "value"} for m in theirs
    ]
    assert [m["value"] for m in ours] == pytest.approx([m["value"] for m in theirs])


# ---------------------------------------------------------------- dynio's deliberate fixes


def test_is_in_match_all_false_requires_exactly_the_categories() -> None:
    # dynamicio documents false as "the unique values must equal the acceptable ones"; it
    # crashed here with YAML lists (TypeError comparing a set with a list)
    full = v.is_in("DS", _frame(["a", "b"]), "c", categorical_values=["a", "b"], match_all=False)
    assert full == v.ValidationResult(
        True, "All acceptable categorical values for DS[c] are present", 0
    )
    part = v.is_in("DS", _frame(["a"]), "c", categorical_values=["a", "b", "c"], match_all=False)
    assert part == v.ValidationResult(False, "Missing categorical values for DS[c]: {'b', 'c'}", 2)
    bad = v.is_in("DS", _frame(["a", "z"]), "c", categorical_values=["a", "b"], match_all=False)
    assert bad.message == "Values {'z'} for DS[c] are not acceptable for 1 cells"


def test_is_in_match_all_true_is_a_subset_check_as_in_dynamicio() -> None:
    # dynamicio's default: the values must be a subset of the acceptable ones
    for match_all in (True, None):
        ok = v.is_in("DS", _frame(["a"]), "c", categorical_values=["a", "b"], match_all=match_all)
        assert ok == v.ValidationResult(True, "Categorical values for DS[c] are acceptable", 0)
        bad = v.is_in("DS", _frame(["a", "z"]), "c", categorical_values=["a"], match_all=match_all)
        assert bad.message == "Values {'z'} for DS[c] are not acceptable for 1 cells"


def test_is_in_does_not_count_nulls_as_unacceptable() -> None:
    # dynamicio counted null cells among the "not acceptable" ones
    r = v.is_in("DS", _frame(["a", None, "z", None]), "c", categorical_values=["a"])
    assert r.message == "Values {'z'} for DS[c] are not acceptable for 1 cells"
    assert r.value == 1


def test_threshold_of_percentage_of_nulls_must_be_a_fraction() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        v.has_acceptable_percentage_of_nulls("DS", _frame([1]), "c", threshold=1.5)


def test_validators_take_polars_frames_and_name_missing_columns() -> None:
    r = v.is_lower_than("DS", pl.DataFrame({"c": [1, 2000]}), "c", threshold=1000)
    assert r == v.ValidationResult(False, "1 cell values for DS[c] are above 1000", 0.5)
    with pytest.raises(ColumnsDataTypeError, match="'nope'"):
        v.has_no_null_values("DS", _frame([1]), "nope")


def test_metrics_of_text_and_undefined_values_are_valid_json(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # dynamicio failed on Min of text and printed NaN (not JSON) for the Std of one row
    with caplog.at_level(logging.INFO, "dynio.metrics"):
        assert get_metric("Min")("DS", _frame(["b", "a"]), "c")() == "a"
        get_metric("Std")("DS", _frame([1.0]), "c")()
        assert get_metric("CountsPerLabel")("DS", _frame([1, 2, 2]), "c")() == {
            "c-2": 2,
            "c-1": 1,
        }
    lines = [json.loads(r.getMessage()) for r in caplog.records]
    assert [(m["column"], m["value"]) for m in lines] == [
        ("c", "a"),
        ("c", None),
        ("c-1", 1.0),
        ("c-2", 2.0),
    ]


def test_user_metrics_register_by_class_name(caplog: pytest.LogCaptureFixture) -> None:
    class Range(Metric):
        def calculate_metric(self) -> float:
            series = self.df[self.column]
            return float(series.max() - series.min())

    assert get_metric("Range") is Range
    with caplog.at_level(logging.INFO, "dynio.metrics"):
        assert Range("DS", _frame([1.0, 4.0]), "c")() == 3.0
        log_metric("DS", "c", "Custom", 2)
    assert [json.loads(r.getMessage())["value"] for r in caplog.records] == [3.0, 2.0]
    with pytest.raises(KeyError):
        get_metric("NoSuchMetric")
