#!/usr/bin/env bash
# OpenTelemetry: the SDK and OTLP exporters in the main environment (the `otel` extra; the
# library itself needs opentelemetry-api only), and Arize Phoenix, the OTLP traces backend the
# integration tests query, in a venv of its own (it is large and pins its own dependencies).
# Idempotent: an existing Phoenix venv is reused.
set -euo pipefail
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
python -m pip install -q "opentelemetry-sdk>=1.40" "opentelemetry-exporter-otlp>=1.40"

venv="${DYNIO_PHOENIX_VENV:-/opt/dynio-phoenix}"
if [ ! -x "$venv/bin/phoenix" ]; then
    rm -rf "$venv"
    python -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade "pip>=25.1"
    "$venv/bin/python" -m pip install -q "arize-phoenix>=20.26,<21"  # the spans REST API the tests read
fi
