# Sourced by the optional tiers of `make test` (wine-tier.sh, chroot-tier.sh):
#   setup_or_skip "Windows tier" "$root/.ci/wine/setup.sh"
# runs the tier's setup script; its exit code 3 means "this machine cannot have it"
# (the tier is skipped, `make test` goes on), any other failure is a failure.
setup_or_skip() {
    local name=$1 script=$2 rc=0
    "$script" || rc=$?
    if [ "$rc" = 3 ]; then
        echo "$name: SKIPPED - it cannot be set up on this machine (see above)"
        exit 0
    elif [ "$rc" != 0 ]; then
        exit "$rc"  # a broken setup is a failure, not a skip
    fi
}
