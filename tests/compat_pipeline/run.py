"""Run the example pipeline end to end: ``python run.py [--dynamicio] DATA_DIR METRICS_FILE``.

``DATA_DIR`` holds ``input/`` (see ``inputs.py``); the pipeline writes ``raw/`` and
``processed/`` beside it. Metric lines go to ``METRICS_FILE``, one JSON object per line.

With ``--dynamicio`` the same pipeline code runs on dynamicio 9.1.0 (in an environment where it
is installed): the pipeline's ``dynio.compat.dynamicio`` imports are pointed at ``dynamicio``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import types
from pathlib import Path


def _use_dynamicio() -> str:
    """Point ``dynio.compat.dynamicio`` (and its submodules) at dynamicio; its metrics logger."""
    os.environ["DYNAMICIO_DO_NOT_CONFIGURE_LOGGING"] = "1"
    import dynamicio
    import dynamicio.config
    import dynamicio.core
    import dynamicio.errors
    import dynamicio.metrics
    import dynamicio.mixins
    import dynamicio.validations

    package = types.ModuleType("dynio")
    compat = types.ModuleType("dynio.compat")
    package.compat = compat  # type: ignore[attr-defined]
    compat.dynamicio = dynamicio  # type: ignore[attr-defined]
    sys.modules.update(
        {"dynio": package, "dynio.compat": compat, "dynio.compat.dynamicio": dynamicio}
    )
    for sub in ("config", "core", "errors", "metrics", "mixins", "validations"):
        sys.modules[f"dynio.compat.dynamicio.{sub}"] = sys.modules[f"dynamicio.{sub}"]
    return "dynamicio.metrics"


def run(data_dir: Path, metrics_file: Path, metrics_logger: str = "dynio.metrics") -> None:
    """Run staging then transform on ``data_dir``, metric lines into ``metrics_file``."""
    os.environ["PIPELINE_DATA"] = str(data_dir)
    log = logging.getLogger(metrics_logger)
    handler = logging.FileHandler(metrics_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    old = (list(log.handlers), log.level, log.propagate)
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        from compat_pipeline.src.runners import staging, transform

        staging.main()
        asyncio.run(transform.main())
    finally:
        handler.close()
        log.handlers[:], log.level, log.propagate = old


if __name__ == "__main__":
    args = sys.argv[1:]
    name = _use_dynamicio() if args and args[0] == "--dynamicio" else "dynio.metrics"
    paths = [a for a in args if a != "--dynamicio"]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    run(Path(paths[0]), Path(paths[1]), name)
