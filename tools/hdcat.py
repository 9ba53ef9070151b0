"""Print the records of a dump file, one per line (a developer's tool).

    python tools/hdcat.py FILE [--limit N]

Reads with the tests' independent reader (tests/records.py: the PyPI
packages msgpack and zstandard of requirements-test.txt, and the numbers
of the format from the heapdump built in this tree), not with heapdump's
own loader, so it is also a check of docs/format.rst.
"""

import argparse
import os
import pathlib
import sys

TOP = pathlib.Path(__file__).resolve().parent.parent
# this tree's heapdump and tests/records.py, after what PYTHONPATH names
# (a sanitizer build's copy of the package comes first) and before the
# installed packages
_FIRST = 1 + len([p for p in os.environ.get("PYTHONPATH", "").split(
    os.pathsep) if p])
sys.path[_FIRST:_FIRST] = [str(TOP), str(TOP / "tests")]

import records  # noqa: E402 (after the path it is found on)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="hdcat.py")
    ap.add_argument("file")
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args(argv)
    oid = 0
    for n, rec in enumerate(records.iter_records(args.file)):
        if args.limit and n >= args.limit:
            break
        kind = records.KINDS.get(rec[0], str(rec[0]))
        if rec[0] < records.FIRST_OTHER:
            text = "#%d %s %r" % (oid, kind, rec[1:])
            oid += 1
        else:
            text = "   %s %r" % (kind, rec[1:])
        print(text[:400])
    return 0


if __name__ == "__main__":
    sys.exit(main())
