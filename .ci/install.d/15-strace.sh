#!/usr/bin/env bash
# strace: tests/test_file_opens.py counts the files a multi-file read opens (Polars' and pyarrow's
# native opens included) by tracing a child process's openat calls.
# Idempotent: nothing to do when strace is there.
set -euo pipefail
if ! command -v strace >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq strace >/dev/null
fi
