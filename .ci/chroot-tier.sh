#!/usr/bin/env bash
# The newest-Python tiers of `make test`: the suite (-m "not slow", with CPython's own
# test_kqueue, test_selectors and asyncio modules of that version, see
# tests/integration) under Debian's CPython 3.14 and 3.15 in the forky chroot of
# .ci/chroot/setup.sh, which pyenv here does not have.
#   .ci/chroot-tier.sh [VERSION...]      # default: 3.14 3.15
# Each run builds kevents in a private copy of this checkout (the host tree's .so files,
# which the host's editable install imports, are never touched). Extra pytest arguments:
# KEVENTS_CHROOT_PYTEST_ARGS.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -gt 0 ] || set -- 3.14 3.15
cache=${KEVENTS_CACHE:-$HOME/.cache/kevents}/chroot
. "$root/.ci/setup-or-skip.sh"
setup_or_skip "chroot tier" "$root/.ci/chroot/setup.sh"

mkdir -p "$cache/runs"
# copies left by runs that were killed (their trap never ran)
find "$cache/runs" -mindepth 1 -maxdepth 1 -mmin +1440 -exec rm -rf --one-file-system {} +
work=$(mktemp -d "$cache/runs/run.XXXXXX")
trap 'rm -rf "$work"' EXIT
# The working tree as it is (uncommitted changes included), without what is built or
# machine-local: venvs, compiled modules, caches.
tar -C "$root" -cf - --exclude=./.git --exclude='./.venv*' --exclude='*.so' \
    --exclude=./build --exclude=./docs/_build --exclude='*.egg-info' \
    --exclude=__pycache__ --exclude=.mypy_cache --exclude=.ruff_cache . |
    tar -C "$work" -xf -
read -ra args <<<"${KEVENTS_CHROOT_PYTEST_ARGS:-}"
failed=()
for v in "$@"; do
    "$root/.ci/chroot/enter.sh" -b "$cache/wheels-$v:/var/cache/kevents/wheels-$v" \
        -b "$work:/src" -w /src .ci/chroot/test.sh "$v" "${args[@]}" || failed+=("$v")
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "chroot tier: FAILED on CPython ${failed[*]}"
    exit 1
fi
