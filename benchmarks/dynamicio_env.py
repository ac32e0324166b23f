"""The separate environment holding dynamicio 9.1.0, the baseline of V1 and W1.

dynamicio pins its own stack (pydantic, awswrangler, SQLAlchemy…), so it lives in its own venv
under ``benchmarks/.venv-dynamicio`` and never in dynio's environment.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

__all__ = ["DYNAMICIO_VERSION", "VENV", "dynamicio_python"]

DYNAMICIO_VERSION = "9.1.0"
VENV = Path(__file__).resolve().parent / ".venv-dynamicio"


def dynamicio_python() -> str | None:
    """The interpreter of the dynamicio venv, created on first use; ``None`` if it cannot be."""
    python = VENV / "bin" / "python"
    check = [str(python), "-c", "import dynamicio; print(dynamicio.__version__)"]
    if python.exists():
        done = subprocess.run(check, capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.strip() == DYNAMICIO_VERSION:
            return str(python)
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
             f"dynamicio=={DYNAMICIO_VERSION}"],
            check=True,
        )  # fmt: skip
    except subprocess.CalledProcessError as exc:
        print(f"cannot install dynamicio {DYNAMICIO_VERSION}: {exc}", file=sys.stderr)
        return None
    return str(python)
