"""dynamicio's top-level model of a resource YAML file (``BindingsYaml``), on pydantic 2."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydantic

from dynio.compat.dynamicio.config.pydantic.io_resources import IOBinding

__all__ = ["BindingsYaml"]


class BindingsYaml(pydantic.BaseModel):
    """A resource file: resource name -> :class:`IOBinding`."""

    bindings: Mapping[str, IOBinding]

    @pydantic.field_validator("bindings", mode="before")
    @classmethod
    def _name_bindings(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise ValueError(f"Bindings must be a mapping. (got {value!r} instead).")
        out: dict[str, Any] = {}
        for name, body in value.items():
            if isinstance(body, IOBinding):
                out[name] = body
                continue
            if not isinstance(body, Mapping):
                raise ValueError(
                    f"Each element for the name binding must be a dict. (got {body!r} instead)"
                )
            out[name] = {**body, "__binding_name__": name}
        return out

    def update_config_refs(self) -> BindingsYaml:
        """Tell every environment its resource (``env.dynamicio_schema`` works after it)."""
        for binding in self.bindings.values():
            for env in binding.environments.values():
                env.set_parent(binding)
        return self
