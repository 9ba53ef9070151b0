#!/usr/bin/env bash
# Prints one line per supported CPython: "VERSION PLACE INTERPRETER".
#
#   PLACE is "host" for an interpreter that runs on this machine (looked for
#   on PATH first, then in pyenv's versions), or "sid" for one that runs in
#   the Debian sid chroot of tools/sid-chroot.sh (3.14 and 3.15, whose
#   Debian packages need a newer libc than this machine's bookworm has),
#   used only when the host has none of that version.
#
# A version found in neither place is left out; with HEAPDUMP_NO_SID=1 the
# chroot's are too (a machine where it cannot be made: it needs root).
set -u
SUPPORTED="3.9 3.10 3.11 3.12 3.13 3.14 3.15"
# the versions the sid chroot provides (tools/sid-chroot.sh's packages)
SID="3.14 3.15"
for v in $SUPPORTED; do
    found=""
    if cmd=$(command -v "python$v" 2>/dev/null) && "$cmd" -c 'import sys' >/dev/null 2>&1; then
        found=$("$cmd" -c 'import sys; print(sys.executable)')
    fi
    if [ -z "$found" ]; then
        root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
        for p in $(ls -d "$root"/versions/"$v".*/bin/"python$v" 2>/dev/null | sort -V -r); do
            # skip free-threaded and debug builds
            case "$p" in *t/bin/*) continue ;; esac
            if "$p" -c 'import sys' >/dev/null 2>&1; then found=$p; break; fi
        done
    fi
    if [ -n "$found" ]; then
        echo "$v host $found"
    elif [ "${HEAPDUMP_NO_SID:-}" != 1 ] && [[ " $SID " == *" $v "* ]]; then
        echo "$v sid /usr/bin/python$v"
    fi
done
exit 0
