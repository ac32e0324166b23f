"""dynio: dynamic(i/o) on a lazy Polars/Arrow engine, with a pandas facade.

Code names a resource; YAML says where it lives in each environment, its schema, its rules and
its metrics::

    import dynio

    cat = dynio.Catalog.from_yaml("configs/pipeline", env="local")
    df = cat.read("trips")                  # pandas, cast, validated, measured
    lf = cat.scan("trips")                  # Polars LazyFrame for large data
    cat.write("trips_clean", df)            # atomic, projected to the schema, validated
"""

from dynio.catalog import Catalog, Resource
from dynio.engine.errors import DynioError
from dynio.engine.quality import MetricValue, RuleFailure, ValidationReport
from dynio.engine.rules import OptionDef, register_rule, unregister_rule

__version__ = "0.1.0"

__all__ = [
    "Catalog",
    "DynioError",
    "MetricValue",
    "OptionDef",
    "Resource",
    "RuleFailure",
    "ValidationReport",
    "__version__",
    "register_rule",
    "unregister_rule",
]
