#!/usr/bin/env bash
# A Debian "forky" chroot with CPython 3.14 and 3.15, for the newest-Python tiers of
# `make test` (pyenv here stops at 3.13; Debian's testing suite carries both, with their
# headers, venv support and CPython's own test package).
#   .ci/chroot/setup.sh        # builds it once, later runs only print the summary
# Lives under ${KEVENTS_CACHE:-~/.cache/kevents}/chroot, outside the checkout, so every
# clone on the machine shares it. Idempotent: once the stamp file exists a run does no
# network access and starts nothing. Exit 3 = no chroot can be built or entered here (not
# root, or debootstrap not installable); the tier is then skipped, as the Wine tier is.
# .ci/chroot/enter.sh runs commands inside it.
set -euo pipefail
suite=forky
vers=(3.14 3.15)
pkgs=(gcc libc6-dev libffi-dev)
for v in "${vers[@]}"; do
    pkgs+=("python$v" "python$v-dev" "python$v-venv" "libpython$v-testsuite")
done
cache=${KEVENTS_CACHE:-$HOME/.cache/kevents}/chroot
tree=$cache/$suite
stamp=$cache/.ready-$(echo "$suite ${pkgs[*]} v1" | sha1sum | cut -c1-12)

if [ "$(id -u)" != 0 ]; then
    echo "chroot/setup.sh: the chroot tier needs root (debootstrap, mount, chroot)" >&2
    exit 3
fi
ready() { [ -e "$stamp" ] && [ -x "$tree/usr/bin/env" ]; }
if ready; then head -n1 "$stamp"; exit 0; fi
mkdir -p "$cache"
exec 9>"$cache/.lock"  # two concurrent first runs must not build the same tree
flock 9
if ready; then head -n1 "$stamp"; exit 0; fi

if ! command -v debootstrap >/dev/null; then
    echo "chroot/setup.sh: installing debootstrap (one-time)" >&2
    # The lock timeout: other jobs on the machine may be running apt at this moment.
    if ! { apt-get -o DPkg::Lock::Timeout=900 update &&
           DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 \
               install -y debootstrap; } >"$cache/apt.log" 2>&1; then
        echo "chroot/setup.sh: could not install debootstrap (see $cache/apt.log)" >&2
        exit 3
    fi
fi

# The Debian archive apt already uses on this machine (deb822 "URIs:" or one-line
# "deb URL suite" sources), so the chroot comes from the same mirror and proxy setup;
# KEVENTS_DEBIAN_MIRROR overrides. Security and third-party archives are skipped: only
# a URL ending in /debian is the main archive.
mirror=${KEVENTS_DEBIAN_MIRROR:-$(
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        /etc/apt/sources.list.d/*.sources 2>/dev/null |
        sed -nE 's/^URIs:[[:space:]]*//p; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//p' |
        tr ' ' '\n' | grep -E '^https?://.*/debian/?$' | head -n1 || true)}
mirror=${mirror:-http://deb.debian.org/debian}
# forky has no debootstrap script of its own (debootstrap 1.0.128 knows up to trixie);
# sid's is the one Debian uses for testing suites too.
script=/usr/share/debootstrap/scripts/sid
[ -e "$script" ] || { echo "chroot/setup.sh: $script missing" >&2; exit 1; }

new=$tree.new
# --one-file-system everywhere: a tree must never be removed through a mount inside it.
rm -rf --one-file-system "$new"
echo "chroot/setup.sh: debootstrap $suite from $mirror (one-time, ~200 MB, a few minutes)" >&2
log=$cache/debootstrap.log
# In a mount namespace of its own: debootstrap mounts proc and sys inside the tree while
# it installs, and one that fails half-way would leave them mounted on the host.
if ! unshare --mount --propagation private debootstrap --variant=minbase \
        --include="$(IFS=,; echo "${pkgs[*]}")" "$suite" "$new" "$mirror" "$script" \
        >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    echo "chroot/setup.sh: debootstrap failed (see $log)" >&2
    exit 1
fi
# The downloaded .debs are not needed any more: the tree is the cache.
rm -rf "$new"/var/cache/apt/archives/*.deb
found=()
for v in "${vers[@]}"; do
    # the interpreter runs and its test package (libpython3.X-testsuite) is there
    found+=("$(chroot "$new" "python$v" -c \
        'import platform, test.test_selectors; print(platform.python_version())')") ||
        { echo "chroot/setup.sh: python$v in $new does not work" >&2; exit 1; }
done
rm -rf --one-file-system "$tree"
mv "$new" "$tree"
{
    echo "chroot tier ready: Debian $suite with CPython ${found[*]} in $tree (from $mirror)"
    printf '%s\n' "${pkgs[@]}"
} >"$cache/stamp.tmp"
rm -f "$cache"/.ready-*
mv "$cache/stamp.tmp" "$stamp"
head -n1 "$stamp"
