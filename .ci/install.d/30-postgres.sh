#!/usr/bin/env bash
# Databases: Debian's PostgreSQL server (the tests start their own throwaway instance on a free
# loopback port, see tests/fixtures/postgres.py) and the `postgres`/`duckdb` extras: ADBC's
# PostgreSQL driver (reads), psycopg (COPY writes), connectorx (partitioned reads), DuckDB; plus
# SQLAlchemy with psycopg for the pandas.read_sql/to_sql baselines of benchmarks P1/P2.
# Idempotent: apt and pip skip what is already installed.
set -euo pipefail
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    # only the binaries: no system cluster running on 5432 beside the tests' own server
    mkdir -p /etc/postgresql-common
    grep -qs "create_main_cluster = false" /etc/postgresql-common/createcluster.conf ||
        echo "create_main_cluster = false" >> /etc/postgresql-common/createcluster.conf
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
fi
python -m pip install -q "connectorx>=0.4" "adbc-driver-postgresql>=1.13" "psycopg[binary]>=3.1" \
    "duckdb>=2.0" "sqlalchemy>=2"
