#!/usr/bin/env bash
# Run the Windows Python of .ci/wine/setup.sh under Wine: `python.sh -m pytest ...`.
# Wine quirks handled here: stdin from /dev/null, and stdout and stderr through cat
# (Wine's console handling otherwise hangs or garbles non-tty output, and Windows
# CPython dies at start-up - "can't initialize sys standard streams" - when stderr is a
# regular file); WINEDEBUG=-all (noise); a private WINEPREFIX. Arguments that are
# absolute Linux paths become Z:\ paths (Wine maps / to Z:). The embeddable Python
# ignores PYTHONPATH (its ._pth file isolates it), so the entries of
# KEVENTS_WINE_PYTHONPATH (colon-separated Linux paths) go into a .pth file in its
# site-packages instead.
set -uo pipefail
cache=${KEVENTS_CACHE:-$HOME/.cache/kevents}/wine
export WINEPREFIX=$cache/prefix WINEDEBUG=-all
winpath() { printf 'Z:%s' "${1//\//\\}"; }
args=()
for a in "$@"; do
    if [[ $a == /* ]]; then args+=("$(winpath "$a")"); else args+=("$a"); fi
done
pth=$cache/python313/Lib/site-packages/kevents-wine.pth
: >"$pth"
if [ -n "${KEVENTS_WINE_PYTHONPATH:-}" ]; then
    IFS=: read -ra parts <<<"$KEVENTS_WINE_PYTHONPATH"
    for p in "${parts[@]}"; do printf '%s\r\n' "$(winpath "$p")" >>"$pth"; done
fi
wine "$cache/python313/python.exe" "${args[@]}" </dev/null 2>&1 | cat
exit "${PIPESTATUS[0]}"
