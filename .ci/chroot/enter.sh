#!/usr/bin/env bash
# Run one command inside the chroot of .ci/chroot/setup.sh:
#   .ci/chroot/enter.sh [-b HOST_DIR:CHROOT_DIR]... [-w DIR] CMD [ARG]...
# -b bind-mounts a host directory into the chroot (created there if missing); -w is the
# working directory inside. The exit status is the command's. The environment is a clean
# one (PATH, HOME, LANG) plus the proxy and pip-index variables of the caller, so nothing
# of the host's Python (a venv's PATH, PYTHONPATH) leaks in.
#
# The mounts (proc, sys and dev from the host, the CA bundle, resolv.conf, the -b dirs)
# are made in a mount namespace of this run alone (unshare --mount, private propagation):
# concurrent runs do not see or stack each other's mounts, and the host's mount table
# never holds them. They are still unmounted on exit (trap), innermost first, so a
# command left running in the background cannot keep a bind alive.
set -euo pipefail
cache=${KEVENTS_CACHE:-$HOME/.cache/kevents}/chroot
tree=$cache/forky
[ -x "$tree/usr/bin/env" ] || { echo "enter.sh: run .ci/chroot/setup.sh first" >&2; exit 3; }

if [ "${1:-}" != --in-namespace ]; then
    exec unshare --mount --propagation private "$0" --in-namespace "$@"
fi
shift
binds=()
workdir=/
while getopts "b:w:" opt; do
    case $opt in
        b) binds+=("$OPTARG") ;;
        w) workdir=$OPTARG ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { echo "enter.sh: no command" >&2; exit 2; }

mounted=()
cleanup() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount -R "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" || true
    done
}
trap cleanup EXIT
bind() {  # bind SRC DST [ro]
    local src=$1 dst=$tree$2
    if [ -d "$src" ]; then mkdir -p "$dst"; else mkdir -p "${dst%/*}" && touch "$dst"; fi
    mount --rbind "$src" "$dst"
    mounted+=("$dst")
    if [ "${3:-}" = ro ]; then mount -o remount,bind,ro "$dst"; fi
}
bind /proc /proc
bind /sys /sys
bind /dev /dev  # with /dev/shm (multiprocessing's semaphores) and /dev/pts (pty tests)
# The host's CA bundle: pip inside reaches PyPI through whatever TLS interception the
# host trusts; resolv.conf and hosts: the host's name resolution as it is today.
bind /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt ro
for f in /etc/resolv.conf /etc/hosts; do
    [ -e "$f" ] && bind "$(readlink -f "$f")" "$f" ro
done
for b in "${binds[@]}"; do
    mkdir -p "${b%%:*}"
    bind "${b%%:*}" "${b#*:}"
done

keep=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
      LANG=C.UTF-8 PIP_CERT=/etc/ssl/certs/ca-certificates.crt
      PIP_DISABLE_PIP_VERSION_CHECK=1)
for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY \
         PIP_INDEX_URL PIP_DEFAULT_TIMEOUT CI TERM; do
    [ -n "${!v:-}" ] && keep+=("$v=${!v}")
done
rc=0
chroot "$tree" /usr/bin/env -i "${keep[@]}" sh -c 'cd "$1" && shift && exec "$@"' \
    enter "$workdir" "$@" || rc=$?
exit "$rc"
