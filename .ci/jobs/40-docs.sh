#!/usr/bin/env bash
# The documentation site, built with warnings as errors (broken links and anchors, missing pages,
# docstrings the API reference cannot render). Its tools come from .ci/install.d/70-integrations.sh.
set -euo pipefail
start=$(date +%s)
NO_MKDOCS_2_WARNING=1 python -m mkdocs build --strict --quiet
echo "docs: built build/site in $(( $(date +%s) - start ))s"
