"""Builds heapdump._heapdump from src/*.c against the system zstd and
msgpack-c.

Both libraries are found with pkg-config.  msgpack-c calls its pkg-config
module "msgpack-c" from version 6 and "msgpack" before.  When one is missing
the build stops and names the Debian package to install.
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


def extension():
    cflags, libs = [], []
    for names, package, what in LIBRARIES:
        c, lib = pkg_config(names, package, what)
        cflags += c
        libs += lib
    extra = os.environ.get("HEAPDUMP_CFLAGS", "").split()
    return Extension(
        "heapdump._heapdump",
        sources=sorted(glob.glob("src/*.c")),
        depends=sorted(glob.glob("src/*.h")),
        extra_compile_args=["-std=c11", "-Wall", "-Wextra",
                            "-Werror=implicit-function-declaration",
                            "-fvisibility=hidden", "-UNDEBUG"]
        + cflags + extra,
        extra_link_args=libs
        + os.environ.get("HEAPDUMP_LDFLAGS", "").split(),
    )


setup(ext_modules=[extension()])
