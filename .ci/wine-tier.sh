#!/usr/bin/env bash
# The Windows tier of `make test`: the test suite under Windows CPython in Wine
# (.ci/wine/setup.sh installs Debian's wine, the embeddable CPython and the wheels).
# The whole suite runs there on the iocp backend: conformance, Windows-specific tests
# (tests/backends/test_windows.py), adapters, CLI; what Windows (or Wine) cannot do is
# skipped with its reason, read from the platform table where it is a difference.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/.ci/setup-or-skip.sh"
setup_or_skip "Windows tier" "$root/.ci/wine/setup.sh"
export KEVENTS_WINE_PYTHONPATH="$root:$root/adapters"
# CPython's own test modules (test_asyncio), which the embeddable Python lacks
cpython_tests=$("$root/.ci/wine/cpython-tests.sh" || true)
[ -z "$cpython_tests" ] || KEVENTS_WINE_PYTHONPATH+=":$cpython_tests"
if [ -d "$root/kevents/_backends/windows" ]; then
    targets=("$root/tests")
else
    echo "Windows tier: no Windows (IOCP) backend yet - running the platform-independent tests"
    targets=("$root/tests/unit")
fi
"$root/.ci/wine/python.sh" -m pytest -q -p no:cacheprovider "${targets[@]}"
