#!/usr/bin/env bash
# Prints one line per supported CPython found on this machine: the path of
# its interpreter.  Looks on PATH first, then in pyenv's versions.
set -u
for v in 3.9 3.10 3.11 3.12 3.13; do
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
    [ -n "$found" ] && echo "$found"
done
exit 0
