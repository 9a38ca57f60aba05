#!/usr/bin/env bash
# The Windows tier of `make test`: the test suite under Windows CPython in Wine
# (.ci/wine/setup.sh installs Debian's wine, the embeddable CPython and the wheels).
# Until the Windows (IOCP) backend exists, the platform-independent tests run there
# (imports, translation logic); the conformance suite joins when the backend does.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if ! "$root/.ci/wine/setup.sh"; then
    echo "Windows tier: skipped - Wine could not be installed on this machine"
    exit 0
fi
export KEVENTS_WINE_PYTHONPATH="$root:$root/adapters"
if [ -d "$root/kevents/_backends/windows" ]; then
    targets=("$root/tests")
else
    echo "Windows tier: no Windows (IOCP) backend yet - running the platform-independent tests"
    targets=("$root/tests/unit")
fi
"$root/.ci/wine/python.sh" -m pytest -q -p no:cacheprovider "${targets[@]}"
