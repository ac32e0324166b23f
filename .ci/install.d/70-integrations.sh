#!/usr/bin/env bash
# Integrations: the `kedro`, `dagster` and `pandera` extras, tested against the real libraries
# (tests/test_kedro.py, test_dagster.py, test_pandera.py), and the documentation site's tools
# (the `docs` dependency group: mkdocs-material, mkdocstrings; built by .ci/jobs/40-docs.sh).
# Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
python -m pip install -q "kedro>=1.0" "dagster>=1.10" "pandera[polars]>=0.24" --group docs
