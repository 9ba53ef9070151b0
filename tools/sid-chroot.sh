#!/usr/bin/env bash
# A Debian sid chroot for the CPython releases this machine's libc is too
# old to run (3.14 and 3.15 on bookworm): made once, kept in a cache folder
# outside the clone, reused by every clone on the machine.
#
#   tools/sid-chroot.sh ensure        make it (or remake it when PACKAGES
#                                     below changed); prints nothing when
#                                     it is current
#   tools/sid-chroot.sh root          ensure, then print its path
#   tools/sid-chroot.sh run CMD...    ensure, then run CMD inside it, in
#                                     the current directory; exits with
#                                     CMD's status
#   tools/sid-chroot.sh has PROGRAM   ensure, then exit 0 when PROGRAM is
#                                     on the chroot's PATH
#
# Where it lives: the Debian root "sid-dev" of tools/debroot.sh (which
# makes it, under a temporary name renamed when complete, and remakes it
# when the suite or PACKAGES below change), in
# ${HEAPDUMP_CACHE:-/var/cache/heapdump}/roots.  A lock beside it lets
# runs share it while a remake waits for them to end.
#
# What `run` sees, at the same absolute paths as outside (so that paths in
# tests, virtualenvs and build trees mean the same thing inside):
#   /proc, /sys, /dev (with /dev/pts and /dev/shm), /tmp, and the host's
#   /etc/resolv.conf and CA bundle;
#   the project (this script's ../), its git repository when it is a
#   worktree, and ../shared beside it when present;
#   the installation of every host Python that .venv/ uses (read-only), so
#   that the host's virtualenvs run inside too.
# The mounts are made in a private mount namespace (unshare -m): they
# exist for CMD and its children only and vanish with them, however the
# run ends (no trap to miss, nothing left mounted by a run that was
# killed, and nothing under the cache folder that `rm -rf` could follow
# into the project).
#
# Other scripts use it as a command; `source` it to get sid_chroot_run.
set -eu

SID_SUITE=sid
SID_NAME=sid-dev
# What the build and the tests need inside (the interpreters with their
# headers and venv, the C toolchain, the libraries of setup.py, and what
# the tests call: zstd, ps, mount for the full-disk test, git for the
# sdist's).
SID_PACKAGES="python3.14-dev python3.14-venv python3.15-dev python3.15-venv
gcc libc6-dev libzstd-dev libmsgpack-c-dev pkg-config make zstd procps mount
git ca-certificates"

sid_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sid_cache=${HEAPDUMP_CACHE:-/var/cache/heapdump}
sid_root=$sid_cache/roots/$SID_NAME

# Whether the root is there and made with this suite and these packages
# (the stamp tools/debroot.sh writes).
sid_current() {
    [ -f "$sid_root/.heapdump-root" ] &&
        [ "$(cat "$sid_root/.heapdump-root")" = "$SID_SUITE $(echo $SID_PACKAGES)" ]
}

# Make (or remake) it.  Caller holds the lock exclusively.
sid_build() {
    echo "== the Debian $SID_SUITE chroot for CPython 3.14 and 3.15 (once)" >&2
    # shellcheck disable=SC2086
    "$sid_top/tools/debroot.sh" path "$SID_NAME" "$SID_SUITE" $SID_PACKAGES >/dev/null
    rm -rf --one-file-system "$sid_root"/var/cache/apt/archives/*.deb
    echo "== chroot ready: $(chroot "$sid_root" sh -c 'python3.14 -V; python3.15 -V' | tr '\n' ' ')" >&2
}

# Open the cache lock on fd 9, shared, making or remaking the chroot first
# (exclusively, after any run in progress ends) when it is not current.
sid_ensure() {
    mkdir -p "$sid_cache/roots"
    exec 9>"$sid_cache/roots/$SID_NAME.lock"
    flock -s 9
    if ! sid_current; then
        flock -u 9
        flock -x 9
        sid_current || sid_build
        flock -s 9
    fi
}

# The installation prefixes of the host Pythons behind .venv/*: bound
# into the chroot so that those virtualenvs run there too.  Prefixes under
# /usr (a distribution's Python) cannot be, and are left out.
sid_host_prefixes() {
    local cfg home
    for cfg in "$sid_top"/.venv/py*/pyvenv.cfg; do
        [ -f "$cfg" ] || continue
        home=$(sed -n 's/^home *= *//p' "$cfg")
        [ -n "$home" ] && [ -x "$home/python3" ] || continue
        home=$(cd "$home/.." && pwd -P)
        case $home/ in /usr/* | / | /bin/* | /lib/*) continue ;; esac
        echo "$home"
    done | sort -u
}

# Inside the new mount namespace: mount, then exec CMD in the chroot.
sid_inside() {
    local r=$sid_root cwd=$1 p
    shift
    mount -t proc proc "$r/proc"
    mount --rbind /sys "$r/sys"
    mount --rbind /dev "$r/dev"
    mount --bind /tmp "$r/tmp"
    # a git worktree's repository lives elsewhere (its .git is a file)
    local git=
    if [ -f "$sid_top/.git" ]; then
        git=$(git -C "$sid_top" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
    fi
    for p in "$sid_top" "$(dirname "$sid_top")/shared" $git $(sid_host_prefixes); do
        [ -d "$p" ] || continue
        mkdir -p "$r$p"
        mount --rbind "$p" "$r$p"
    done
    for p in $(sid_host_prefixes); do
        mount -o remount,bind,ro "$r$p" 2>/dev/null || true
    done
    # the host's name servers and trust store (a proxy's CA included), so
    # that pip inside reaches PyPI as it does outside
    cp -L /etc/resolv.conf "$r/etc/resolv.conf" 2>/dev/null || true
    p=/etc/ssl/certs/ca-certificates.crt
    if [ -f "$p" ] && [ -f "$r$p" ]; then
        mount --bind -o ro "$p" "$r$p"
    fi
    [ -d "$r$cwd" ] || cwd=/
    # pip settings naming host folders the chroot does not have
    local unset=()
    if [ -n "${PIP_FIND_LINKS:-}" ] && [ ! -e "$r$PIP_FIND_LINKS" ]; then
        unset+=(-u PIP_FIND_LINKS)
    fi
    exec chroot "$r" /usr/bin/env ${unset[@]+"${unset[@]}"} \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HEAPDUMP_IN_CHROOT=1 \
        sh -c 'cd "$0" && exec "$@"' "$cwd" "$@"
}

# Run CMD... inside the chroot, in the current directory.
sid_chroot_run() {
    sid_ensure
    unshare --mount --propagation private -- \
        bash "$sid_top/tools/sid-chroot.sh" __inside "$PWD" "$@"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    cmd=${1:-}
    shift || true
    case $cmd in
    ensure) sid_ensure ;;
    root) sid_ensure && echo "$sid_root" ;;
    run)
        [ $# -gt 0 ] || { echo "usage: $0 run CMD..." >&2; exit 2; }
        sid_chroot_run "$@"
        ;;
    has)
        sid_ensure
        chroot "$sid_root" sh -c 'command -v "$1"' sh "$1" >/dev/null
        ;;
    __inside) sid_inside "$@" ;;
    *)
        sed -n '2,/^set -eu/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
    esac
fi
