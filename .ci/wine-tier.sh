#!/usr/bin/env bash
# The Windows tier of `make test`: the test suite under Windows CPython in Wine.
# It runs once there is a Windows backend to test (kevents/_backends/windows/) and the
# Wine scripts (.ci/wine/); until then it says so and passes, naming what is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -d "$root/kevents/_backends/windows" ]; then
    echo "Windows tier: not run - kevents has no Windows (IOCP) backend yet"
    exit 0
fi
if [ ! -x "$root/.ci/wine/setup.sh" ]; then
    echo "Windows tier: not run - .ci/wine/setup.sh is missing"
    exit 0
fi
if ! "$root/.ci/wine/setup.sh"; then
    echo "Windows tier: skipped - Wine could not be installed on this machine"
    exit 0
fi
KEVENTS_WINE_PYTHONPATH="$root:$root/adapters" "$root/.ci/wine/python.sh" -m pytest -q \
    -p no:cacheprovider "$root/tests"
