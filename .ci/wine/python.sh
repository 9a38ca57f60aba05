#!/usr/bin/env bash
# Run the Windows CPython of .ci/wine/setup.sh under Wine, from any directory:
#   .ci/wine/python.sh -m pytest -q -p no:cacheprovider /abs/path/tests
#   KEVENTS_WINE_PYTHONPATH=/work/main:/work/main/adapters .ci/wine/python.sh -c '...'
# Exit status is Python's. Paths: Wine maps the Linux root to drive Z:, and the Linux
# cwd becomes the Windows cwd, so relative paths work as they are; an argument that is
# an absolute Linux path (/x/y, or --opt=/x/y) is rewritten to Z:\x\y.
# The embeddable Python ignores PYTHONPATH (its ._pth file isolates it); use
# KEVENTS_WINE_PYTHONPATH (':'-separated Linux paths), which is handed over as
# KEVENTS_WINE_SYSPATH and put at the front of sys.path by a .pth file of setup.sh.
set -euo pipefail
cache=${KEVENTS_CACHE:-$HOME/.cache/kevents}/wine
exe=$cache/python313/python.exe
[ -e "$exe" ] || { echo "python.sh: run .ci/wine/setup.sh first ($exe missing)" >&2; exit 3; }
wine=$(command -v wine || command -v wine64 || command -v wine-stable) ||
    { echo "python.sh: wine not found; run .ci/wine/setup.sh" >&2; exit 3; }
# WINEDEBUG=-all: no Wine fixme/err noise (nor Debian's "wine32 is missing" hint) mixed
# into the output. WINEDLLOVERRIDES: no Mono/Gecko prompt if the prefix is recreated.
export WINEPREFIX=$cache/prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="

winpath() { printf 'Z:%s' "${1//\//\\}"; }  # /a/b -> Z:\a\b
args=()
for a in "$@"; do
    case $a in
        /*) args+=("$(winpath "$a")") ;;
        --*=/*) args+=("${a%%=*}=$(winpath "${a#*=}")") ;;
        *) args+=("$a") ;;
    esac
done
syspath=
if [ -n "${KEVENTS_WINE_PYTHONPATH:-}" ]; then
    IFS=: read -ra parts <<<"$KEVENTS_WINE_PYTHONPATH"
    for p in "${parts[@]}"; do
        [ -n "$p" ] || continue
        [[ $p == /* ]] || p=$PWD/$p
        syspath+="${syspath:+;}$(winpath "$p")"
    done
fi
export KEVENTS_WINE_SYSPATH=$syspath

# Wine quirks: (1) stdin from /dev/null, or a terminal/pipe stdin can leave the
# process waiting on Wine's console; (2) Windows CPython under Wine 8 aborts at
# start-up ("init_sys_streams: can't initialize sys standard streams", WinError 6)
# when stdout or stderr is a regular file, so both go through pipes (`cat`), kept as
# separate streams; fd 3 is a process substitution in this shell so it can be waited
# for and stderr is flushed before we exit.
exec 3> >(cat >&2)
errpid=$!
rc=0
"$wine" "$exe" "${args[@]}" </dev/null 2>&3 | cat || rc=${PIPESTATUS[0]}
exec 3>&-
wait "$errpid" || true
exit "$rc"
