#!/usr/bin/env bash
# Debian roots made by debootstrap, kept in a cache outside the clone, and
# commands run inside them.
#
#   tools/debroot.sh path NAME SUITE PACKAGE...
#       prints the root's directory, making it first when it is missing or
#       was made with another suite or package list
#   tools/debroot.sh run ROOT [--bind DIR]... -- COMMAND...
#       runs COMMAND in ROOT as root, with /proc, /dev and each DIR (at the
#       same path) mounted in a mount namespace of its own: the mounts go
#       away with the command, whatever happens to it
#
# The cache is $HEAPDUMP_CACHE (default /var/cache/heapdump), roots under
# roots/NAME.  A root is made under a temporary name and renamed when
# complete, so an interrupted debootstrap never leaves a half root to be
# used.  Needs root and Debian's debootstrap (tools/deps.sh installs it).
set -euo pipefail

cache=${HEAPDUMP_CACHE:-/var/cache/heapdump}
mirror=${HEAPDUMP_DEBIAN_MIRROR:-http://deb.debian.org/debian}

usage() {
    sed -n '4,12p' "$0" >&2
    exit 2
}

make_root() {
    local name=$1 suite=$2
    shift 2
    local root=$cache/roots/$name
    local want="$suite $*"
    if [ -f "$root/.heapdump-root" ] && [ "$(cat "$root/.heapdump-root")" = "$want" ]; then
        echo "$root"
        return
    fi
    "$(dirname "$0")/deps.sh" debootstrap >&2
    mkdir -p "$cache/roots"
    local tmp=$root.tmp.$$
    rm -rf "$tmp"
    trap 'rm -rf "$tmp"' EXIT
    echo "== making the Debian $suite root $name (${*:-no extra packages})" >&2
    local start=$SECONDS
    local include=()
    [ $# -gt 0 ] && include=("--include=$(IFS=,; echo "$*")")
    if ! debootstrap --variant=minbase "${include[@]}" "$suite" "$tmp" \
            "$mirror" >"$tmp.log" 2>&1; then
        tail -n 20 "$tmp.log" >&2
        rm -f "$tmp.log"
        echo "$0: debootstrap of $suite failed" >&2
        exit 1
    fi
    rm -f "$tmp.log"
    echo "$want" >"$tmp/.heapdump-root"
    rm -rf "$root"
    mv "$tmp" "$root"
    trap - EXIT
    echo "== $name made in $((SECONDS - start)) s ($(du -sh "$root" | cut -f1))" >&2
    echo "$root"
}

run_in() {
    local root=$1
    shift
    local binds=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do
        [ "$1" = "--bind" ] && [ $# -ge 2 ] || usage
        binds+=("$(realpath "$2")")
        shift 2
    done
    [ "${1:-}" = "--" ] && [ $# -ge 2 ] || usage
    shift
    [ -f "$root/.heapdump-root" ] || { echo "$0: $root is not a root made by $0" >&2; exit 1; }
    local script='set -e; r=$1; shift; n=$1; shift
mount -t proc proc "$r/proc"
mount --rbind /dev "$r/dev"
i=0
while [ $i -lt "$n" ]; do
    mkdir -p "$r$1"; mount --bind "$1" "$r$1"; shift; i=$((i + 1))
done
exec chroot "$r" "$@"'
    exec unshare --mount --propagation private \
        /bin/sh -c "$script" sh "$root" "${#binds[@]}" "${binds[@]}" \
        /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root \
        LANG=C.UTF-8 "$@"
}

case "${1:-}" in
    path) [ $# -ge 3 ] || usage; shift; make_root "$@" ;;
    run) [ $# -ge 4 ] || usage; shift; run_in "$@" ;;
    *) usage ;;
esac
