#!/usr/bin/env bash
# valgrind for the deterministic benchmark (make callgrind): a Debian package, installed
# idempotently; other jobs may hold the apt lock, so wait for it rather than fail.
set -euo pipefail
if command -v valgrind >/dev/null 2>&1; then
    exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
$sudo apt-get -o DPkg::Lock::Timeout=900 update -q
$sudo apt-get -o DPkg::Lock::Timeout=900 install -y -q valgrind
