#!/usr/bin/env bash
# dynamicio 9.1.0's own test suite, imports rewritten to dynio.compat.dynamicio, in a venv of its
# own under build/ (pandas<3, as dynamicio's users run). Fails when a test outside
# tests/upstream/dynamicio_out_of_scope.txt fails; prints per-file counts and `N passed, M failed`.
set -euo pipefail
cd "$(dirname "$0")/../.."
python tests/upstream/run_dynamicio_suite.py 2>&1 | grep -v "^WARNING: Location '.*' is ignored"
