"""Where a dump's instructions go: the inclusive counts of heapdump's main
stages in callgrind files (bench_shapes.py's build/bench/callgrind/
SHAPE-METHOD.out, bench_django.py's django-*.out), for profile-14.md.

    python benchmarks/cg_breakdown.py FILE [FILE...]

Runs callgrind_annotate on each file and prints, in millions of
instructions (Ir) and as a share of the file's total:

- the self cost (exclusive) of every function summed by component, which
  do not overlap: zstd (libzstd), packing (src/pack.c, msgpack's inlined
  packers), walking (src/walk.c, src/pyversion.c), the container
  (src/container.c), secret matching (src/redact.c, src/hide.c), source
  masking (src/srcmask.c), allocation (malloc and pymalloc), memcpy,
  __tls_get_addr, CPython (what heapdump calls in libpython: tp_traverse,
  PyDict_Next, type checks), the rest; a function inlined into a header is
  put by its name (hd_pack_*, pack_* to packing and so on);
- the inclusive cost of heapdump's main functions (these nest: the walk
  calls the packer, the packer the container, the container zstd; the
  sources are packed after the walk).
"""

import re
import subprocess
import sys

LINE = re.compile(r"^\s*([\d,]+) \([\s\d.]+%\)\s+(\S.*?):(\S+?)(?:'\d+)?"
                  r"(?: \[(.*)\])?\s*$")

PREFIXES = [
    (("hd_walk_", "walk_", "hd_pyversion_", "pyversion_"), "walking"),
    (("hd_pack_", "pack_"), "packing"),
    (("hd_container_", "container_"), "container"),
    (("hd_redact_", "redact_", "hd_hide_", "hide_", "hider_"),
     "secret matching (redact.c, hide.c)"),
    (("hd_srcmask_", "sm_"), "source masking (srcmask.c)"),
    (("__tls_get_addr",), "__tls_get_addr"),
    (("__memcpy", "__memmove", "memcpy", "memmove", "__memset", "memset"),
     "memcpy, memset"),
    (("malloc", "calloc", "realloc", "free", "_int_", "PyObject_Malloc",
      "PyObject_Free", "_PyObject_Free", "_PyObject_Malloc", "PyMem_",
      "pymalloc_", "unlink_chunk", "malloc_consolidate", "sysmalloc",
      "tcache_"), "allocation"),
]
FILES = [
    ("libzstd", "zstd"),
    ("src/walk.c", "walking"), ("src/pyversion.c", "walking"),
    ("src/pack.c", "packing"), ("msgpack/", "packing"),
    ("src/container.c", "container"),
    ("src/redact.c", "secret matching (redact.c, hide.c)"),
    ("src/hide.c", "secret matching (redact.c, hide.c)"),
    ("src/srcmask.c", "source masking (srcmask.c)"),
    ("malloc/", "allocation"), ("obmalloc", "allocation"),
    ("libpython", "CPython (traverse, dict iteration, checks)"),
    ("Python-3", "CPython (traverse, dict iteration, checks)"),
    ("src/", "heapdump, other files"),
]
ORDER = ["zstd", "packing", "walking", "container",
         "secret matching (redact.c, hide.c)", "source masking (srcmask.c)",
         "allocation", "memcpy, memset", "__tls_get_addr",
         "CPython (traverse, dict iteration, checks)",
         "heapdump, other files", "the rest"]
MAIN = ["hd_dump_run", "hd_walk_run", "hd_walk_unreached", "hd_pack_record",
        "hd_pack_sources", "hd_container_append", "ZSTD_compressStream2",
        "hd_srcmask_run", "hd_redact_name", "hd_hide_value", "hd_hide_bytes",
        "hd_redact_bytes", "hd_walk_classify", "hd_walk_layout",
        "pack_layout_values", "hd_pack_str", "fsync", "__tls_get_addr"]


def annotate(path, inclusive):
    """[(Ir, file, function, object)] of a callgrind file, and its total."""
    cmd = ["callgrind_annotate", "--threshold=100"]
    if inclusive:
        cmd.append("--inclusive=yes")
    out = subprocess.run(cmd + [path], capture_output=True, text=True,
                         check=True).stdout
    rows, total = [], None
    for line in out.splitlines():
        if "PROGRAM TOTALS" in line:
            total = int(line.split()[0].replace(",", ""))
            continue
        m = LINE.match(line)
        if m:
            rows.append((int(m.group(1).replace(",", "")), m.group(2),
                         m.group(3), m.group(4) or ""))
    return rows, total


def component(path, func, obj):
    for prefixes, name in PREFIXES:
        if func.startswith(prefixes):
            return name
    where = path + " " + obj
    for part, name in FILES:
        if part in where:
            return name
    return "the rest"


def main(paths):
    for path in paths:
        rows, total = annotate(path, False)
        by = {}
        for n, file, func, obj in rows:
            c = component(file, func, obj)
            by[c] = by.get(c, 0) + n
        print("== %s: %.1f M instructions" % (path, total / 1e6))
        print("  self cost by component:")
        for c in ORDER:
            if by.get(c):
                print("    %-46s %9.1f M %6.1f %%" % (
                    c, by[c] / 1e6, 100.0 * by[c] / total))
        rows, _ = annotate(path, True)
        inc = {}
        for n, _file, func, _obj in rows:
            inc[func.split(".")[0]] = max(inc.get(func.split(".")[0], 0), n)
        print("  inclusive:")
        for f in MAIN:
            if inc.get(f):
                print("    %-46s %9.1f M %6.1f %%" % (
                    f, inc[f] / 1e6, 100.0 * inc[f] / total))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
