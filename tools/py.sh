#!/usr/bin/env bash
# Runs the project's Python VERSION (its virtualenv, .venv/pyVERSION) with
# ARGS, wherever that virtualenv runs: here, or in the Debian sid chroot
# (tools/sid-chroot.sh) when it was made there (its interpreter does not
# exist on this machine).
#
#   tools/py.sh VERSION ARGS...        e.g. tools/py.sh 3.14 -m pytest tests
#   tools/py.sh --where VERSION        prints "host" or "sid"
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
where=0
if [ "${1:-}" = --where ]; then
    where=1
    shift
fi
v=${1:?usage: tools/py.sh [--where] VERSION ARGS...}
shift
py=$top/.venv/py$v/bin/python
# -e follows the symlink to the base interpreter: a virtualenv made in the
# chroot points at /usr/bin/python3.X, which this machine lacks; inside
# the chroot every virtualenv runs as it is
if [ -e "$py" ] || [ "${HEAPDUMP_IN_CHROOT:-}" = 1 ]; then
    [ $where = 1 ] && { echo host; exit 0; }
    exec "$py" "$@"
fi
if [ ! -L "$py" ]; then
    echo "tools/py.sh: no virtualenv for Python $v (run make venvs)" >&2
    exit 2
fi
[ $where = 1 ] && { echo sid; exit 0; }
exec "$top/tools/sid-chroot.sh" run "$py" "$@"
