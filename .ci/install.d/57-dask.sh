#!/usr/bin/env bash
# Dask for Catalog.to_dask and the distributed checks and writes (the `dask` extra): the
# dataframe collection and the distributed scheduler the tests start as a LocalCluster.
# Idempotent: pip leaves satisfied requirements alone.
set -euo pipefail
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
python -m pip install -q "dask[dataframe]>=2025.1" "distributed>=2025.1"
