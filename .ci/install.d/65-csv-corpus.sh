#!/usr/bin/env bash
# The CSV shape corpus of benchmark C1 (benchmarks/csv_corpus.py): real files bundled in the
# wheels of statsmodels 0.15.0, scikit-learn 1.9.1 and vega_datasets 0.9.0 (pinned), fetched
# with `pip download --no-deps` (~22 MB, nothing installed) into benchmarks/data/csv_wheels/,
# and assembled with derived variants into benchmarks/data/csv_corpus/ (~75 MB with the two
# large files). Idempotent: an assembled corpus (its manifest.json) is kept.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
python -m benchmarks.csv_corpus > /dev/null
