"""What the installed pandas itself does, for tests that name the dtypes its readers give.

The suite runs on pandas 3 (the main environment) and on the lowest supported pandas 2.x
(`.ci/jobs/20-lowest-versions.sh`). Expected dtypes are asked of pandas, not hard-coded per
version, so a test compares with what this pandas version's own readers give.
"""

from __future__ import annotations

import io

import pandas as pd

__all__ = [
    "CSV_FLOATS_ROUND_TRIP",
    "PANDAS4_WARNING",
    "TEXT_DTYPE",
    "TEXT_IS_OBJECT",
    "csv_text",
]

# ``str`` on pandas 3, ``object`` on pandas 2.x
TEXT_DTYPE = str(pd.read_csv(io.StringIO("a\nx\n"))["a"].dtype)
TEXT_IS_OBJECT = TEXT_DTYPE == "object"

# whether pandas' CSV reader parses decimals correctly rounded (pandas >= 3.1; older pandas'
# default parser is an ulp off for some values, such as this one)
_TRICKY = "9.472284597223275e-301"
CSV_FLOATS_ROUND_TRIP = bool(pd.read_csv(io.StringIO(f"a\n{_TRICKY}\n"))["a"][0] == float(_TRICKY))

# what pandas 3 warns with about behaviour pandas 4 changes; older pandas say FutureWarning
PANDAS4_WARNING: type[Warning] = getattr(pd.errors, "Pandas4Warning", FutureWarning)


def csv_text(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with missing text as pandas' CSV reader gives it (NaN in ``object`` columns).

    Text columns are the ``object`` columns whose present values are all strings.
    """
    out = frame.copy()
    for name in out.columns:
        values = out[name]
        if values.dtype == object and values.dropna().map(lambda v: isinstance(v, str)).all():
            out[name] = out[name].where(out[name].notna(), float("nan"))
    return out
