#!/usr/bin/env bash
# Create (or refresh) a virtualenv for one Python version and build kevents into it.
#   .ci/setup-venv.sh 3.11 .venv
# Idempotent and offline-safe after the first run: every Python package comes from a
# wheelhouse under ${KEVENTS_CACHE:-~/.cache/kevents}, filled from PyPI only once.
set -euo pipefail
ver=${1:?python version, e.g. 3.11}
venv=${2:?venv directory}
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${KEVENTS_CACHE:-$HOME/.cache/kevents}
wheels=$cache/wheels-$ver
reqs=$root/.ci/requirements-test.txt

find_python() {
    # pyenv's shims answer `command -v` even for versions that are not selected, so
    # every candidate is asked to run before it is chosen.
    local cand
    for cand in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$ver".*/bin/python"$ver" \
                /root/.pyenv/versions/"$ver".*/bin/python"$ver" "python$ver"; do
        if "$cand" -c "import sys" >/dev/null 2>&1; then
            command -v "$cand"
            return
        fi
    done
    echo "no working python$ver found (pyenv or PATH)" >&2
    exit 1
}

stamp=$venv/.kevents-deps-$(sha1sum "$reqs" | cut -c1-12)
if [ ! -e "$stamp" ]; then
    py=$(find_python)
    [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
    mkdir -p "$wheels"
    fill=$wheels/.filled-$(sha1sum "$reqs" | cut -c1-12)
    if [ ! -e "$fill" ]; then
        "$venv/bin/python" -m pip download -q -d "$wheels" -r "$reqs"
        touch "$fill"
    fi
    "$venv/bin/python" -m pip install -q --no-index --find-links "$wheels" -r "$reqs"
    touch "$stamp"
fi
# Rebuild the compiled module whenever a build input is newer than it.
so=$(ls -t "$root"/kevents/_native*.so "$root"/kevents/_speedups*.so 2>/dev/null | tail -n1 || true)
newest=$(ls -t "$root"/kevents/_cffi/* "$root"/kevents/_version.py "$root"/setup.py | head -n1)
if [ -z "$so" ] || [ "$newest" -nt "$so" ] || \
        ! (cd / && "$venv/bin/python" -c "import kevents._ffi, kevents._speedups") 2>/dev/null; then
    (cd "$root" && "$venv/bin/python" -m pip install -q --no-index --no-build-isolation \
        --no-deps -e .)
fi
