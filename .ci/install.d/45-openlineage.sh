#!/usr/bin/env bash
# OpenLineage (the `openlineage` extra: dynio's run events go through openlineage-python's own
# transports) and the Prometheus exporter (the telemetry tests check that any exporter installed
# works by its SDK entry-point name). Idempotent: pip leaves installed versions alone.
set -euo pipefail
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
python -m pip install -q "openlineage-python>=1.30" "opentelemetry-exporter-prometheus>=0.50b0"
