"""A Dagster IO manager over a dynio catalog: assets stored where dynio's YAML says.

An asset's output is written to the dynio resource named like the asset (its key's last part,
or ``metadata={"dynio_resource": "name"}``), cast, validated and measured; a downstream asset
reads it back the same way. Switching Dagster deployments between sample files and production
stores is dynio's environment, not code. A partitioned asset fills the resource's ``{partition}``
template (rename it with ``metadata={"dynio_partition_arg": "day"}``).

Example::

    from dagster import Definitions, asset
    from dynio.dagster import DynioIOManager

    @asset
    def zone_summary(trips: pd.DataFrame, zones: pd.DataFrame) -> pd.DataFrame: ...

    defs = Definitions(
        assets=[zone_summary],
        resources={"io_manager": DynioIOManager(catalog="conf/resources.yaml", env="prod")},
    )

Output metadata records rows, location and the validation outcome. ``pip install 'dynio[dagster]'``.
"""

from __future__ import annotations

from typing import Any

from dagster import ConfigurableIOManager, InputContext, OutputContext
from pydantic import PrivateAttr

from dynio.catalog import Catalog

__all__ = ["DynioIOManager"]


class DynioIOManager(ConfigurableIOManager):
    """Stores Dagster assets in a dynio catalog's resources.

    Attributes:
        catalog: dynio resource YAML: a file or a folder.
        env: The dynio environment (default: the ``DYNIO_ENV`` variable).
        vars: Values for the YAML's ``[[ VAR ]]`` placeholders (secrets are better left to
            process environment variables, which dynio reads too).
        output: What inputs are loaded as: ``"pandas"`` or ``"polars"``.
    """

    catalog: str
    env: str | None = None
    vars: dict[str, str] = {}  # noqa: RUF012 - pydantic copies defaults per instance
    output: str = "pandas"
    _loaded: Catalog | None = PrivateAttr(default=None)

    def _catalog(self) -> Catalog:
        if self._loaded is None:
            self._loaded = Catalog.from_yaml(self.catalog, env=self.env, vars=self.vars or None)
        return self._loaded

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        """Write the asset's value to its resource (nothing for ``None``)."""
        if obj is None:
            return
        name = _resource(context)
        result = self._catalog().write(name, obj, **_templates(context))
        context.add_output_metadata(
            {
                "dynio_resource": name,
                "dynio_env": self._catalog().env,
                "location": result.info.location,
                "rows": result.info.rows,
                "rules_checked": result.report.checked,
                "rule_warnings": len(result.report.warnings),
            }
        )

    def load_input(self, context: InputContext) -> Any:
        """Read the upstream asset's resource."""
        upstream = context.upstream_output
        name = _resource(upstream) if upstream is not None else _resource(context)
        args = _templates(context)
        if self.output == "polars":
            return self._catalog().read_polars(name, **args)
        return self._catalog().read(name, **args)


def _resource(context: InputContext | OutputContext) -> str:
    meta = context.definition_metadata or {}
    if "dynio_resource" in meta:
        return str(meta["dynio_resource"])
    return str(context.asset_key.path[-1])


def _templates(context: InputContext | OutputContext) -> dict[str, Any]:
    if not context.has_asset_partitions:
        return {}
    meta = context.definition_metadata or {}
    upstream = getattr(context, "upstream_output", None)
    if upstream is not None and not meta.get("dynio_partition_arg"):
        meta = upstream.definition_metadata or {}
    return {str(meta.get("dynio_partition_arg", "partition")): context.asset_partition_key}
