"""Build benchmarks/barewalk.c into the importable module _barewalk for the
interpreter that runs this script (the benchmarks' own C helper: the bare
walk, callgrind's client requests, the zstd replay).

    python benchmarks/build_barewalk.py [OUTDIR]

prints the directory that holds the module (OUTDIR, by default
build/bench/<cache tag> of the project).  It compiles with the
interpreter's own compiler and flags (sysconfig), against the system's
libzstd, and does nothing when the module is newer than its source.  Run
it with the interpreter that will import the module: in the sid chroot for
3.14 and 3.15 (tools/py.sh 3.14 benchmarks/build_barewalk.py).
"""

import os
import shlex
import subprocess
import sys
import sysconfig

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SOURCE = os.path.join(HERE, "barewalk.c")


def build(outdir=None):
    """Build the module if needed; return the directory that holds it."""
    outdir = outdir or os.path.join(ROOT, "build", "bench",
                                    sys.implementation.cache_tag)
    os.makedirs(outdir, exist_ok=True)
    target = os.path.join(outdir,
                          "_barewalk" + sysconfig.get_config_var("EXT_SUFFIX"))
    if os.path.exists(target) and \
            os.path.getmtime(target) >= os.path.getmtime(SOURCE):
        return outdir
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    cmd = cc + ["-shared", "-fPIC", "-O2", "-g", "-std=c11", "-Wall",
                "-D_GNU_SOURCE", "-I" + sysconfig.get_paths()["include"],
                SOURCE, "-o", target + ".tmp", "-lzstd", "-lpthread"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write(r.stdout + r.stderr)
        raise SystemExit("build_barewalk: %s failed" % " ".join(cmd))
    os.replace(target + ".tmp", target)
    return outdir


if __name__ == "__main__":
    print(build(sys.argv[1] if len(sys.argv) > 1 else None))
