"""dynamicio's ``config`` package: :class:`IOConfig` over a resource YAML file.

``config.pydantic`` (dynamicio's pydantic models) is imported on first use, so only code that
uses it needs ``pydantic``.
"""

from __future__ import annotations

from typing import Any

from dynio.compat.dynamicio.config.io_config import IOConfig, IOEnvironment

__all__ = ["IOConfig", "IOEnvironment", "pydantic"]


def __getattr__(name: str) -> Any:
    if name == "pydantic":
        import importlib

        return importlib.import_module("dynio.compat.dynamicio.config.pydantic")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
