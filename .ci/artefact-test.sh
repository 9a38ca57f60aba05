#!/usr/bin/env bash
# The artefact test of `make test` (issue 17): what a user installs, tested as a user gets it.
#   .ci/artefact-test.sh            # on the oldest and newest supported Python here
#   ARTEFACT_PYVERS="3.12" .ci/artefact-test.sh
# 1. build the sdist from the checkout and check it against `git ls-files`;
# 2. per Python: build a wheel from the unpacked sdist alone, check its tag and contents,
#    install it (with the trio extra) into a fresh venv outside any source tree, and run
#    .ci/artefact_smoke.py there, from a copy of the sdist's tests (no PYTHONPATH, no
#    editable install): `kevents info`, the typed user sample (run, mypy --strict,
#    basedpyright), the suite's smoke subset;
# 3. on the first Python: `auditwheel show` (and repair) of that wheel.
# Offline after the first run: builds use isolated environments filled from the
# wheelhouse under ${KEVENTS_CACHE:-~/.cache/kevents} (PIP_NO_INDEX), which
# setup-venv.sh fills once per Python.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${KEVENTS_CACHE:-$HOME/.cache/kevents}
pyvers=${ARTEFACT_PYVERS:-3.11 3.13}
work=$(mktemp -d "${TMPDIR:-/tmp}/kevents-artefact.XXXXXX")
[ -n "${ARTEFACT_KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
unset PYTHONPATH
first=${pyvers%% *}

for v in $pyvers; do  # a build venv per Python, and its wheelhouse filled (once, online)
    "$root/.ci/setup-venv.sh" "$v" "$root/.venv-$v"
done
export PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1

echo "== sdist (built with Python $first)"
PIP_FIND_LINKS=$cache/wheels-$first "$root/.venv-$first/bin/python" -m build -q --sdist \
    --outdir "$work/dist" "$root"
sdist=$(ls "$work"/dist/kevents-*.tar.gz)
tracked=()  # outside a git checkout (e.g. in an unpacked sdist) nothing to compare with
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$root" ls-files > "$work/git-files"
    tracked=("$work/git-files")
fi
"$root/.venv-$first/bin/python" "$root/.ci/artefact_check.py" sdist "$sdist" "${tracked[@]}"

for v in $pyvers; do
    echo "== Python $v: a wheel from the sdist alone"
    wheels=$cache/wheels-$v
    mkdir -p "$work/src-$v"
    tar -xzf "$sdist" -C "$work/src-$v"
    src=$(ls -d "$work/src-$v"/kevents-*)
    PIP_FIND_LINKS=$wheels "$root/.venv-$v/bin/python" -m build -q --wheel \
        --outdir "$work/wheel-$v" "$src"
    wheel=$(ls "$work/wheel-$v"/kevents-*.whl)
    "$root/.venv-$v/bin/python" "$src/.ci/artefact_check.py" wheel "$wheel" "$src"

    echo "== Python $v: installed into a fresh venv, smoke-tested outside the source tree"
    base=$("$root/.venv-$v/bin/python" -c "import sys; print(sys._base_executable)")
    "$base" -m venv "$work/venv-$v"
    "$work/venv-$v/bin/python" -m pip install -q --find-links "$wheels" \
        "$wheel[trio]" pytest mypy basedpyright
    mkdir -p "$work/run-$v/.ci"
    cp -r "$src/tests" "$src/pyproject.toml" "$work/run-$v/"
    cp "$src/.ci/artefact_smoke.py" "$work/run-$v/.ci/"
    (cd "$work/run-$v" && "$work/venv-$v/bin/python" .ci/artefact_smoke.py --typecheck)

    if [ "$v" = "$first" ] && [ "$(uname -s)" = Linux ]; then
        echo "== auditwheel (this machine's glibc; manylinux images are not used here)"
        "$root/.venv-$first/bin/auditwheel" show "$wheel"
        PATH=$root/.venv-$first/bin:$PATH "$root/.venv-$first/bin/auditwheel" repair \
            -w "$work/repaired" "$wheel" 2>&1 | grep -v "^INFO:"
        repaired=$(ls "$work"/repaired/kevents-*manylinux*.whl)
        "$root/.venv-$first/bin/python" "$src/.ci/artefact_check.py" wheel "$repaired" "$src"
    fi
done
echo "artefact test ok: $(basename "$sdist") and its wheels on Python $pyvers"
