#!/usr/bin/env bash
# The lowest declared versions: a venv of its own (build/venv-lowest) with dynio's direct
# dependencies and the extras the tests use at the lowest versions pyproject.toml allows
# (`uv pip install --resolution lowest-direct`: pandas 2.2.x, pyarrow, Polars, …), then the test
# packages from the same install scripts as the main environment (.ci/install.d/*.sh, run with
# this venv's python first on PATH and the lowest versions held as pip constraints), then the
# test suite. The main `python -m pytest` runs on the newest versions (pandas 3); this job is
# the pandas 2.x environment and proves the floors: it runs the whole suite, as the main run
# does (services and installs are warm by then; about 330 s of CPU, 12 min on a loaded 2-core
# machine). DYNIO_LOWEST_TESTS names fewer tests for a quick local check (e.g.
# DYNIO_LOWEST_TESTS="tests/test_postgres.py tests/test_dask.py").
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$(date +%s)
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
tools=build/venv-uv
venv=build/venv-lowest
pins=build/lowest-pins.txt
if [ ! -x "$tools/bin/uv" ]; then
    python -m venv "$tools"
    "$tools/bin/python" -m pip install -q "uv>=0.6"
fi
uv="$tools/bin/uv"
rm -rf "$venv"
"$uv" venv -q --seed --python "$(command -v python)" "$venv"
export VIRTUAL_ENV="$PWD/$venv"
"$uv" pip install -q --resolution lowest-direct -e ".[s3,gcs,postgres,duckdb,hdf,otel]"
"$uv" pip freeze --exclude-editable > "$pins"
"$uv" pip install -q -c "$pins" --group dev
for script in .ci/install.d/*.sh; do
    [ -e "$script" ] || continue
    PATH="$PWD/$venv/bin:$PATH" PIP_CONSTRAINT="$PWD/$pins" bash "$script"
done
unset VIRTUAL_ENV
"$venv/bin/python" -c "
import numpy, pandas, polars, pyarrow
print('== lowest versions: pandas', pandas.__version__, 'pyarrow', pyarrow.__version__,
      'polars', polars.__version__, 'numpy', numpy.__version__)"
echo "== lowest-versions install done in $(( $(date +%s) - start ))s"
# shellcheck disable=SC2086
"$venv/bin/python" -m pytest -q -p no:cacheprovider ${DYNIO_LOWEST_TESTS:-tests}
echo "== lowest-versions job done in $(( $(date +%s) - start ))s"
