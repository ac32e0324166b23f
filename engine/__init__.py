"""The dynio engine: specs, planning and execution on Polars and Arrow.

The engine never imports pandas; the facade (:mod:`dynio`) converts at the edge. Its contract
with the facade is narrow: :func:`load_catalog` gives frozen specs, :func:`read` and
:func:`write` take and give Polars frames, :func:`plan_read` gives the lazy plan for ``scan``.
"""

from dynio.engine.execute import Result, WriteResult, read, write
from dynio.engine.loader import load_catalog, load_schema
from dynio.engine.plan import Plan, PlanInfo, plan_read
from dynio.engine.quality import MetricValue, RuleFailure, ValidationReport, evaluate

__all__ = [
    "MetricValue",
    "Plan",
    "PlanInfo",
    "Result",
    "RuleFailure",
    "ValidationReport",
    "WriteResult",
    "evaluate",
    "load_catalog",
    "load_schema",
    "plan_read",
    "read",
    "write",
]
