#!/usr/bin/env bash
# Table formats: the `delta` extra (deltalake) and the `iceberg` extra (pyiceberg with its SQL
# catalog on SQLite and pyarrow, plus polars-iceberg, Polars' native Iceberg scan planner, without
# which every Iceberg scan warns and plans through pyiceberg). Tests run Delta on a local folder and
# on moto's S3 (from 20-objectstores.sh), Iceberg with a SQL catalog on SQLite.
# Idempotent: pip skips what is already installed.
set -euo pipefail
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
python -m pip install -q "deltalake>=1.0" "pyiceberg[sql-sqlite,pyarrow]>=0.10" "polars-iceberg>=0.1"
