#!/usr/bin/env bash
# dynamicio 9.1.0 in a venv of its own (benchmarks/.venv-dynamicio): the baseline of the V1/W1
# benchmarks and the reference the compat tests (tests/test_compat_*.py) compare
# dynio.compat.dynamicio with. It never goes into dynio's environment (it pins its own stack).
# Idempotent: an existing venv holding dynamicio 9.1.0 is kept.
set -euo pipefail
cd "$(dirname "$0")/../.."
python -c "
import sys
sys.path.insert(0, '.')
from benchmarks.dynamicio_env import dynamicio_python
sys.exit(0 if dynamicio_python() else 1)
"
