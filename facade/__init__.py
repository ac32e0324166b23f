"""dynio: dynamic(i/o) on a lazy Polars/Arrow engine, with a pandas facade.

Code names a resource; YAML says where it lives in each environment, its schema, its rules and
its metrics::

    import dynio

    cat = dynio.Catalog.from_yaml("configs/pipeline", env="local")
    df = cat.read("trips")                  # pandas, cast, validated, measured
    lf = cat.scan("trips")                  # Polars LazyFrame for large data
    cat.write("trips_clean", df)            # atomic, projected to the schema, validated

Names are imported on first use, so ``import dynio`` stays fast and ``dynio.engine`` can be used
without pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY = {
    "Catalog": "dynio.catalog",
    "Resource": "dynio.resource",
    "DynioError": "dynio.engine.errors",
    "MetricValue": "dynio.engine.quality",
    "RuleFailure": "dynio.engine.quality",
    "ValidationReport": "dynio.engine.quality",
    "OptionDef": "dynio.engine.rules",
    "register_rule": "dynio.engine.rules",
    "unregister_rule": "dynio.engine.rules",
    "validate": "dynio.checks",
    "measure": "dynio.checks",
}

# submodules reachable as attributes without an import of their own: dynio.telemetry.configure()
_SUBMODULES = frozenset({"telemetry", "pandas"})

__all__ = [
    "Catalog",
    "DynioError",
    "MetricValue",
    "OptionDef",
    "Resource",
    "RuleFailure",
    "ValidationReport",
    "__version__",
    "measure",
    "register_rule",
    "telemetry",
    "unregister_rule",
    "validate",
]

if TYPE_CHECKING:
    from dynio import telemetry
    from dynio.catalog import Catalog
    from dynio.checks import measure, validate
    from dynio.engine.errors import DynioError
    from dynio.engine.quality import MetricValue, RuleFailure, ValidationReport
    from dynio.engine.rules import OptionDef, register_rule, unregister_rule
    from dynio.resource import Resource


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"dynio.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dynio' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
