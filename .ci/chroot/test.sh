#!/usr/bin/env bash
# Inside the chroot (started by .ci/chroot-tier.sh through enter.sh, cwd = a private copy
# of the source tree): build kevents for one Debian CPython and run the suite with it.
#   test.sh 3.14 [pytest args...]
# The venv holds the test dependencies only and is shared by every run (stamped with the
# requirements' hash, built under a lock); kevents itself is compiled into the copy
# (build_ext --inplace) and imported from it through PYTHONPATH, so concurrent runs of
# different checkouts never see each other's build.
set -euo pipefail
ver=${1:?python version}
shift
src=$PWD
reqs=$src/.ci/requirements-test.txt
venv=/opt/kevents/venv-$ver
wheels=/var/cache/kevents/wheels-$ver  # bind-mounted from the host's cache
hash=$(sha1sum "$reqs" | cut -c1-12)

mkdir -p /opt/kevents "$wheels"
# Held shared for the whole run (pytest inherits fd 9 through exec), exclusive to build:
# a run with other requirements replaces the venv only once no run is using it.
exec 9>"/opt/kevents/.lock-$ver"
flock -s 9
if [ ! -e "$venv/.kevents-deps-$hash" ]; then
    flock -x 9
    if [ ! -e "$venv/.kevents-deps-$hash" ]; then
        rm -rf "$venv"
        "python$ver" -m venv "$venv"
        # pip wheel, not pip download: a dependency with no wheel for this CPython yet
        # (a C extension on a new version) is compiled once, with the chroot's gcc, and
        # the wheelhouse holds wheels only, installable offline.
        if [ ! -e "$wheels/.filled-$hash" ]; then
            "$venv/bin/python" -m pip wheel -q -w "$wheels" -r "$reqs"
            touch "$wheels/.filled-$hash"
        fi
        "$venv/bin/python" -m pip install -q --no-index --find-links "$wheels" -r "$reqs"
        touch "$venv/.kevents-deps-$hash"
    fi
    flock -s 9
fi

log=$(mktemp)
"$venv/bin/python" setup.py -q build_ext --inplace >"$log" 2>&1 ||
    { cat "$log" >&2; echo "test.sh: build failed on python$ver" >&2; exit 1; }
rm -f "$log"
export PYTHONPATH=$src:$src/adapters
echo "== $("$venv/bin/python" -c 'import sys; print("CPython", sys.version.split()[0])')" \
     "(Debian forky chroot): pytest -m 'not slow' $*"
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider -m "not slow" "$@"
