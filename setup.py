"""Builds heapdump._heapdump from src/**/*.c against zstd and msgpack-c.

From source (an sdist, a clone): both libraries are the system's, found
with pkg-config.  msgpack-c calls its pkg-config module "msgpack-c" from
version 6 and "msgpack" before.  When one is missing the build stops and
names the Debian package to install.  heapdump uses msgpack-c's packer,
which is all inline in its headers: only zstd is linked.

For the binary wheels (``make wheels``, tools/wheels.sh), HEAPDUMP_BUNDLE
names a directory that holds zstd compiled as one object (zstd.o, from
zstd's single-file source) and the headers of both libraries (include/):
zstd is then linked statically and nothing is asked of pkg-config, so the
wheel needs no library of the system but libc.
"""

import glob
import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup

LIBRARIES = [
    # (pkg-config names to try, Debian package, what it is)
    (("libzstd",), "libzstd-dev", "zstd"),
    (("msgpack-c", "msgpack"), "libmsgpack-dev", "msgpack-c"),
]


def pkg_config(names, package, what):
    """Return (cflags, libs) for the first of names pkg-config knows."""
    if shutil.which("pkg-config") is None:
        sys.exit("heapdump: pkg-config is missing; install it with "
                 "'apt-get install pkg-config' (or run 'make deps')")
    for name in names:
        try:
            cflags = subprocess.check_output(
                ["pkg-config", "--cflags", name], text=True,
                stderr=subprocess.DEVNULL).split()
            libs = subprocess.check_output(
                ["pkg-config", "--libs", name], text=True,
                stderr=subprocess.DEVNULL).split()
        except subprocess.CalledProcessError:
            continue
        return cflags, libs
    sys.exit("heapdump: the %s library was not found by pkg-config (%s); "
             "install it with 'apt-get install %s' (or run 'make deps')"
             % (what, " or ".join(names), package))


def bundled(directory):
    """(cflags, link arguments) of a HEAPDUMP_BUNDLE directory."""
    obj = os.path.join(directory, "zstd.o")
    include = os.path.join(directory, "include")
    for path in (obj, os.path.join(include, "zstd.h"),
                 os.path.join(include, "msgpack.h")):
        if not os.path.exists(path):
            sys.exit("heapdump: HEAPDUMP_BUNDLE=%s has no %s (made by "
                     "tools/wheels.sh)" % (directory, path))
    return ["-I" + include], [obj, "-lpthread"]


def extension():
    cflags, libs = [], []
    if os.environ.get("HEAPDUMP_BUNDLE"):
        cflags, libs = bundled(os.environ["HEAPDUMP_BUNDLE"])
    else:
        for names, package, what in LIBRARIES:
            c, lib = pkg_config(names, package, what)
            cflags += c
            libs += lib
    extra = os.environ.get("HEAPDUMP_CFLAGS", "").split()
    return Extension(
        "heapdump._heapdump",
        # src/ and its folders (src/heapdump.h: the layout); the headers
        # are included by their path under src/
        sources=sorted(glob.glob("src/**/*.c", recursive=True)),
        depends=sorted(glob.glob("src/**/*.h", recursive=True)),
        include_dirs=["src"],
        extra_compile_args=["-std=c11", "-Wall", "-Wextra",
                            "-Werror=implicit-function-declaration",
                            "-fvisibility=hidden", "-UNDEBUG"]
        + cflags + extra,
        extra_link_args=libs
        + os.environ.get("HEAPDUMP_LDFLAGS", "").split(),
    )


setup(ext_modules=[extension()])
