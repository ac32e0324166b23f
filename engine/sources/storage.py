"""Moved to :mod:`dynio.engine.io.filesystems` (split by responsibility); this name stays for
callers not yet updated (``engine/plan.py``) and for third-party code."""

from __future__ import annotations

from dynio.engine.io.filesystems import *  # noqa: F403
from dynio.engine.io.filesystems import __all__ as __all__
