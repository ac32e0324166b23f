#!/usr/bin/env bash
# Packaging: build the wheel, install it into a clean venv outside the repository (its
# dependencies from the package index, nothing of this checkout), and run `dynio demo` there:
# the demo configuration must come from the wheel (package data found by importlib.resources).
set -euo pipefail
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
start=$(date +%s)
work=$(mktemp -d /tmp/dynio-wheel.XXXXXX)
trap 'rm -rf "$work"' EXIT
python -m pip wheel -q --no-deps -w "$work/dist" .
wheel=$(ls "$work"/dist/dynio-*.whl)
python - "$wheel" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
need = ["dynio/demo_config/resources.yaml", "dynio/demo_config/data/trips.csv",
        "dynio/demo_config/schemas/trips.yaml", "dynio/py.typed"]
missing = [n for n in need if n not in names]
assert not missing, f"not in the wheel: {missing}"
assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith("/LICENSE") for n in names), names
PY
python -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q "$wheel"
cd "$work"  # away from the checkout: nothing of it can be imported or read
"$work/venv/bin/python" -c "import dynio, sys; assert dynio.__file__.startswith(sys.prefix), dynio.__file__"
"$work/venv/bin/dynio" --version
"$work/venv/bin/dynio" demo --out "$work/out"
test -s "$work/out/zone_summary.csv" || { ls -R "$work/out"; exit 1; }
echo "wheel job: 1 passed, 0 failed in $(( $(date +%s) - start ))s"
