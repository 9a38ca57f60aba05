#!/usr/bin/env bash
# Debian's chromium, for the docs' layout check (tests/integration/test_docs.py loads
# every built page at 1280 px and fails when the main column overflows).
#   .ci/docs-browser.sh        # prints the browser's path; installs it once if missing
# Idempotent: a second run only looks the binary up. Other jobs may hold apt's lock at
# the same moment, hence the lock timeouts. Exit 3 = no browser and none installable
# here (not root, or apt failed): the layout test then skips, saying so.
set -euo pipefail
find_browser() { command -v chromium || command -v chromium-browser; }
if find_browser; then exit 0; fi
log=${KEVENTS_CACHE:-$HOME/.cache/kevents}/chromium-apt.log
mkdir -p "$(dirname "$log")"
if [ "$(id -u)" != 0 ]; then
    echo "docs-browser.sh: chromium is not installed and this is not root" >&2
    exit 3
fi
echo "docs-browser.sh: installing Debian's chromium (one-time, ~100 MB)" >&2
if ! { apt-get -o DPkg::Lock::Timeout=900 update &&
       DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y \
           --no-install-recommends chromium fonts-dejavu-core; } >"$log" 2>&1; then
    echo "docs-browser.sh: apt-get failed (see $log)" >&2
    exit 3
fi
find_browser
