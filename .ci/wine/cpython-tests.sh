#!/usr/bin/env bash
# CPython's own pure-Python test modules for the Wine tier: the embeddable Windows
# CPython has no `test` package, so test/__init__.py, test/support/ and
# test/test_asyncio/ are copied from a host CPython of the same minor version into
# ${KEVENTS_CACHE:-~/.cache/kevents}/wine/cpython-tests-3.13 (prints that directory;
# nothing when no such host Python exists: the tests that need it then skip). Kept
# apart from setup.sh's tree and stamp, so other checkouts sharing that tree are not
# made to rebuild it. Idempotent.
set -euo pipefail
minor=3.13
dest=${KEVENTS_CACHE:-$HOME/.cache/kevents}/wine/cpython-tests-$minor
if [ -e "$dest/.ready" ]; then echo "$dest"; exit 0; fi
host=
for cand in "python$minor" "$HOME"/.pyenv/versions/"$minor".*/bin/python"$minor"; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c "import test.support" 2>/dev/null; then
        host=$cand
        break
    fi
done
[ -n "$host" ] || exit 0
src=$("$host" -c "import os, test; print(os.path.dirname(test.__file__))")
mkdir -p "$(dirname "$dest")"
exec 9>"$dest.lock"
flock 9
if [ -e "$dest/.ready" ]; then echo "$dest"; exit 0; fi
rm -rf "$dest.new"
mkdir -p "$dest.new/test"
cp "$src/__init__.py" "$dest.new/test/"
cp -r "$src/support" "$src/test_asyncio" "$dest.new/test/"
[ -d "$src/certdata" ] && cp -r "$src/certdata" "$dest.new/test/"  # test_asyncio.utils loads certificates
find "$dest.new" -name __pycache__ -prune -exec rm -rf {} +
"$host" -c "import sys; print(sys.version.split()[0])" >"$dest.new/.ready"
rm -rf "$dest"
mv "$dest.new" "$dest"
echo "$dest"
