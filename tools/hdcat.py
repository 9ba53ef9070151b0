"""Print the records of a dump file, one per line (a developer's tool).

    python tools/hdcat.py FILE [--limit N]

Needs the PyPI packages msgpack and zstandard (requirements-test.txt).
It decodes the format independently of heapdump's own loader, so it is
also a check of docs/format.rst.
"""

import argparse
import io
import sys

import msgpack
import zstandard

KINDS = {
    1: "INT", 2: "FLOAT", 3: "COMPLEX", 4: "STR", 5: "BYTES",
    6: "BYTEARRAY", 7: "TUPLE", 8: "LIST", 9: "DICT", 10: "SET",
    11: "FROZENSET", 12: "RANGE", 13: "SLICE", 14: "SINGLETON", 15: "TYPE",
    16: "INSTANCE", 17: "OPAQUE", 18: "FUNCTION", 19: "METHOD",
    20: "CFUNCTION", 21: "CODE", 22: "MODULE", 23: "CELL", 24: "FRAME",
    25: "TRACEBACK", 26: "EXCEPTION", 27: "GENERATOR", 28: "WEAKREF",
    29: "UNREADABLE", 64: "META", 65: "LAYOUT", 66: "CLASS", 67: "CUT",
    68: "MORE", 69: "THREAD", 70: "SOURCE", 71: "ROOT", 72: "TRAILER",
    73: "ERROR", 74: "ROOTS", 75: "INLINE",
}


def ext_hook(code, data):
    if code == 1:
        return ("INT", int.from_bytes(data, "little", signed=True))
    if code == 2:
        return ("UNBOUND",)
    if code == 5:
        u = msgpack.Unpacker()
        u.feed(data)
        return ("RUN", *list(u))
    payload = msgpack.unpackb(data, raw=False)
    if code == 3:
        return ("OMITTED", *payload)
    if code == 4:
        # [module, qualname, size] + (1.2) reason, pieces: the kept text
        # and the hidden pieces' places, never what they were
        return ("REDACTED", *payload)
    return ("EXT%d" % code, payload)


def records(path):
    with open(path, "rb") as f:
        while True:
            line = f.readline()
            if not line or line in (b"\n", b"\r\n"):
                break
        reader = zstandard.ZstdDecompressor().stream_reader(f)
        unpacker = msgpack.Unpacker(
            io.BufferedReader(reader), raw=False, ext_hook=ext_hook,
            strict_map_key=False, unicode_errors="surrogatepass",
            max_buffer_size=1 << 30)
        yield from unpacker


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args(argv)
    oid = 0
    for n, rec in enumerate(records(args.file)):
        if args.limit and n >= args.limit:
            break
        kind = KINDS.get(rec[0], str(rec[0]))
        if rec[0] < 64:
            text = "#%d %s %r" % (oid, kind, rec[1:])
            oid += 1
        else:
            text = "   %s %r" % (kind, rec[1:])
        print(text[:400])
    return 0


if __name__ == "__main__":
    sys.exit(main())
