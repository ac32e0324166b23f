"""dynio schemas to pandera schemas and back.

Teams that validate with pandera elsewhere keep one definition: :func:`to_pandera` turns a dynio
schema (dtypes, rules) into a pandera ``DataFrameSchema`` for the pandas or the Polars backend,
and :func:`from_pandera` turns a pandera schema into dynio schema YAML. Both directions decide
the same rows the same way (a test validates the same data both ways); a rule or check with no
counterpart is an error naming it, never silently dropped.

Example::

    from dynio.pandera import from_pandera, to_pandera

    schema = to_pandera("schemas/trips.yaml", backend="polars")
    schema.validate(polars_frame, lazy=True)
    yaml_text = from_pandera(pandera_schema, as_yaml=True)

The CLI: ``dynio schema to-pandera SCHEMA.yaml`` and ``dynio schema from-pandera PANDERA.yaml``.
``pip install 'dynio[pandera]'``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any, Literal

import polars as pl

from dynio.checks import schema_of
from dynio.engine.dtypes import parse_dtype, schema_spelling
from dynio.engine.errors import ConfigError
from dynio.engine.spec import ColumnSpec, RuleSpec, SchemaSpec

__all__ = ["from_pandera", "to_pandera"]

Backend = Literal["pandas", "polars"]
SchemaLike = SchemaSpec | str | os.PathLike[str] | Mapping[str, Any]

# dynio rule -> the pandera builtin check deciding the same rows (nulls pass in both)
_COMPARE = {
    "is_greater_than": "gt",
    "is_greater_than_or_equal": "ge",
    "is_lower_than": "lt",
    "is_lower_than_or_equal": "le",
}
# pandera check name (as registered) -> dynio rule
_FROM_CHECK = {
    "greater_than": "is_greater_than",
    "greater_than_or_equal_to": "is_greater_than_or_equal",
    "less_than": "is_lower_than",
    "less_than_or_equal_to": "is_lower_than_or_equal",
}
_NOT_BLANK = r"^\s*\S"


def _pa(backend: Backend) -> Any:
    if backend == "polars":
        import pandera.polars as pap

        return pap
    if backend == "pandas":
        import pandera.pandas as pa

        return pa
    raise ConfigError(f"pandera backend must be 'pandas' or 'polars', not {backend!r}")


_REGISTERED = threading.Lock()
_done: list[bool] = []


def _register() -> None:
    """Register dynio's two checks with no pandera builtin, once, so schemas serialise to YAML.

    Registered as pandera extensions (``Check.dynio_null_share``, ``Check.dynio_row_count``),
    they round-trip through ``to_yaml``/``from_yaml`` and work on both backends.
    """
    with _REGISTERED:
        if _done:
            return
        from pandera import extensions

        @extensions.register_check_method(statistics=["threshold"])  # type: ignore[untyped-decorator]
        def dynio_null_share(data: Any, *, threshold: float) -> Any:
            if hasattr(data, "lazyframe"):  # pandera.polars hands PolarsData
                share = pl.col(data.key).null_count() / pl.len().clip(1)
                return data.lazyframe.select(share < threshold)
            return bool(data.isna().mean() < threshold) if len(data) else True

        @extensions.register_check_method(statistics=["min", "max"])  # type: ignore[untyped-decorator]
        def dynio_row_count(data: Any, *, min: int | None, max: int | None) -> Any:
            n = (
                data.lazyframe.select(pl.len()).collect().item()
                if hasattr(data, "lazyframe")
                else len(data)
            )
            return (min is None or n >= min) and (max is None or n <= max)

        _done.append(True)


def _column_checks(rule: RuleSpec, backend: Backend) -> list[Any]:
    checks = _column_checks_of(rule, _pa(backend))
    if rule.severity == "warn":  # reported, not failing: pandera's warning checks
        for check in checks:
            check.raise_warning = True
    return checks


def _column_checks_of(rule: RuleSpec, pa: Any) -> list[Any]:
    o = rule.options
    name = rule.name
    if name in _COMPARE:
        return [getattr(pa.Check, _COMPARE[name])(o["threshold"])]
    if name == "is_between":
        return [
            pa.Check.in_range(
                o["lower"],
                o["upper"],
                include_min=bool(o.get("include_left", False)),
                include_max=bool(o.get("include_right", False)),
            )
        ]
    if name == "is_in":
        values = list(o["categorical_values"])
        checks = [pa.Check.isin(values)]
        if o.get("match_all"):
            checks.append(pa.Check.unique_values_eq(values))
        return checks
    if name == "matches_regex":
        pattern = str(o["pattern"])
        if o.get("full_match", True) is False:
            return [pa.Check.str_contains(pattern)]
        return [pa.Check.str_matches(f"^(?:{pattern})$")]
    if name == "has_length_between":
        return [pa.Check.str_length(o.get("min"), o.get("max"))]
    if name == "is_not_empty":
        return [pa.Check.str_matches(_NOT_BLANK)]
    if name == "has_acceptable_percentage_of_nulls":
        return [pa.Check.dynio_null_share(threshold=float(o["threshold"]), ignore_na=False)]
    raise ConfigError(f"rule {name!r} has no pandera counterpart", column=rule.column)


def _frame_checks(rules: tuple[RuleSpec, ...], backend: Backend) -> tuple[list[Any], list[str]]:
    pa = _pa(backend)
    checks: list[Any] = []
    unique: list[str] = []
    for rule in rules:
        if not rule.apply:
            continue
        if rule.name == "unique_together":
            unique = list(rule.options["columns"])
        elif rule.name == "row_count_between":
            low, high = rule.options.get("min"), rule.options.get("max")
            check = pa.Check.dynio_row_count(min=low, max=high)
            check.raise_warning = rule.severity == "warn"
            checks.append(check)
        else:
            raise ConfigError(f"frame rule {rule.name!r} has no pandera counterpart")
    return checks, unique


def _dtype(col: ColumnSpec, backend: Backend) -> Any:
    if backend == "polars":
        return col.dtype.polars
    if col.dtype.pandas is not None:
        return col.dtype.pandas
    dtype = col.dtype.polars
    if dtype == pl.String:
        return None  # object on pandas 2, str on pandas 3: pandas' readers decide, as dynio does
    if isinstance(dtype, pl.Categorical | pl.Enum):
        return "category"
    if isinstance(dtype, pl.Datetime):
        zone = f", {dtype.time_zone}" if dtype.time_zone else ""
        return f"datetime64[{dtype.time_unit}{zone}]"
    return schema_spelling(dtype)


def to_pandera(schema: SchemaLike, backend: Backend = "pandas") -> Any:
    """A pandera ``DataFrameSchema`` deciding what the dynio schema's rules decide.

    Args:
        schema: A schema spec, a schema YAML path, or a schema mapping.
        backend: ``"pandas"`` (``pandera.pandas``) or ``"polars"`` (``pandera.polars``).

    Raises:
        ConfigError: A rule with no pandera counterpart (a registered custom rule), named.
    """
    spec = schema_of(schema)
    pa = _pa(backend)
    _register()
    columns: dict[str, Any] = {}
    for col in spec.columns:
        rules = [r for r in col.rules if r.apply]
        # pandera's unique/nullable flags cannot warn: a warn-severity one is left to dynio
        flags = {r.name for r in rules if r.name in _FLAGS and r.severity != "warn"}
        checks = [c for r in rules if r.name not in _FLAGS for c in _column_checks(r, backend)]
        columns[col.name] = pa.Column(
            _dtype(col, backend),
            checks=checks,
            nullable="has_no_null_values" not in flags,
            unique="has_unique_values" in flags,
            coerce=False,
        )
    frame_checks, unique = _frame_checks(spec.rules, backend)
    return pa.DataFrameSchema(
        columns, checks=frame_checks, unique=unique or None, name=spec.name, strict=False
    )


_FLAGS = frozenset({"has_unique_values", "has_no_null_values"})


def _rule_of_check(check: Any) -> tuple[str, dict[str, Any]]:
    """The dynio rule (name, options) deciding what a pandera builtin check decides."""
    name = str(check.name)
    stats: dict[str, Any] = dict(check.statistics or {})
    if name in _FROM_CHECK:
        return _FROM_CHECK[name], {"threshold": next(iter(stats.values()))}
    if name == "in_range":
        return "is_between", {
            "lower": stats["min_value"],
            "upper": stats["max_value"],
            "include_left": bool(stats.get("include_min", True)),
            "include_right": bool(stats.get("include_max", True)),
        }
    if name == "isin":
        return "is_in", {"categorical_values": list(stats["allowed_values"])}
    if name == "dynio_null_share":
        return "has_acceptable_percentage_of_nulls", {"threshold": stats["threshold"]}
    if name == "str_matches":
        pattern = str(stats["pattern"])
        if pattern == _NOT_BLANK:
            return "is_not_empty", {}
        return "matches_regex", {"pattern": pattern, "full_match": False}
    if name == "str_contains":
        return "matches_regex", {"pattern": str(stats["pattern"]), "full_match": False}
    if name == "str_length":
        return "has_length_between", {
            k: v for k, v in (("min", stats.get("min_value")), ("max", stats.get("max_value")))
            if v is not None
        }  # fmt: skip
    raise ConfigError(f"pandera check {name!r} has no dynio rule")


def _column_entry(column: Any) -> dict[str, Any]:
    validations: dict[str, Any] = {}
    for check in column.checks:
        rule, options = _rule_of_check(check)
        if rule == "matches_regex" and str(check.name) == "str_matches":
            # pandera's str_matches anchors at the start only: spell that in the pattern
            options["pattern"] = f"^(?:{options['pattern']})"
        if rule == "is_in" and rule in validations:
            continue
        validations[rule] = {"apply": True, "options": options}
        if getattr(check, "raise_warning", False):
            validations[rule]["severity"] = "warn"
    if column.unique:
        validations["has_unique_values"] = {"apply": True, "options": {}}
    if not column.nullable:
        validations["has_no_null_values"] = {"apply": True, "options": {}}
    entry: dict[str, Any] = {"type": _spelling(column.dtype)}
    if validations:
        entry["validations"] = validations
    return entry


def _spelling(dtype: Any) -> str:
    if dtype is None:
        return "object"
    native = getattr(dtype, "type", dtype)
    if isinstance(native, pl.DataType) or (
        isinstance(native, type) and issubclass(native, pl.DataType)
    ):
        return schema_spelling(native if isinstance(native, pl.DataType) else native())
    text = str(dtype)
    if parse_dtype(text) is None:
        raise ConfigError(f"pandera dtype {text!r} has no dynio spelling")
    return text


def from_pandera(schema: Any, *, name: str | None = None) -> dict[str, Any]:
    """dynio schema YAML (as a mapping) deciding what a pandera ``DataFrameSchema`` decides.

    Args:
        schema: A pandera ``DataFrameSchema`` (pandas or Polars backend), or a path to pandera
            schema YAML (``DataFrameSchema.to_yaml()``'s format).
        name: The schema's ``name`` (default: pandera's).

    Raises:
        ConfigError: A check with no dynio counterpart (a custom check), named.
    """
    _register()
    if isinstance(schema, str | os.PathLike):
        import pandera.pandas as pa

        schema = pa.DataFrameSchema.from_yaml(schema)
    columns = {str(n): _column_entry(c) for n, c in schema.columns.items()}
    out: dict[str, Any] = {"name": name or schema.name or "schema", "columns": columns}
    frame: dict[str, Any] = {}
    if schema.unique:
        unique = [schema.unique] if isinstance(schema.unique, str) else list(schema.unique)
        frame["unique_together"] = {"apply": True, "options": {"columns": unique}}
    for check in schema.checks:
        if str(check.name) != "dynio_row_count":
            raise ConfigError(f"pandera frame check {check.name!r} has no dynio rule")
        bounds = {k: v for k, v in dict(check.statistics or {}).items() if v is not None}
        frame["row_count_between"] = {"apply": True, "options": bounds}
        if getattr(check, "raise_warning", False):
            frame["row_count_between"]["severity"] = "warn"
    if frame:
        out["validations"] = frame
    return out
