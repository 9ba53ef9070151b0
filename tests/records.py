"""An independent reader of dump files for the tests: msgpack + zstandard
from PyPI, following docs/format.rst, with no code from heapdump's loader.
It checks the writer against the specification on its own."""

import email.parser
import io

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


class Ref(int):
    """A reference to an object id."""

    def __repr__(self):
        return "Ref(%d)" % self


class Ext:
    def __init__(self, name, value):
        self.name, self.value = name, value

    def __repr__(self):
        return "%s(%r)" % (self.name, self.value)

    def __eq__(self, other):
        return (isinstance(other, Ext) and other.name == self.name
                and other.value == self.value)


def _ext(code, data):
    if code == 1:
        return Ext("INT", int.from_bytes(data, "little", signed=True))
    if code == 2:
        return Ext("UNBOUND", None)
    if code == 5:
        u = msgpack.Unpacker()
        u.feed(data)
        return Ext("RUN", tuple(u))
    return Ext({3: "OMITTED", 4: "REDACTED"}.get(code, "EXT%d" % code),
               msgpack.unpackb(data, raw=False))


def redacted_text(payload):
    """The value a partly hidden REDACTED marker stands for (format 1.2:
    payload [module, qualname, size, reason, [kind, length, text, holes]]),
    with None in place of each hidden piece: a list of the kept pieces
    and Nones, in order; None when the whole value was hidden."""
    if len(payload) < 5 or payload[4] is None:
        return None
    kind, length, text, holes = payload[4][:4]
    out, at, used = [], 0, 0
    for start, n, _ in holes:
        out.append(text[used:used + start - at])
        used += start - at
        out.append(None)
        at = start + n
    out.append(text[used:])
    return out


def split(path):
    """(header bytes, body bytes) of a dump file."""
    data = pathlib_read(path)
    end = data.index(b"\n\n") + 2
    return data[:end], data[end:]


def pathlib_read(path):
    with open(path, "rb") as f:
        return f.read()


def headers(path):
    head, _ = split(path)
    return email.parser.BytesHeaderParser().parsebytes(head)


def raw_records(path):
    """Every record as a list, in file order."""
    _, body = split(path)
    raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(body)).read()
    unpacker = msgpack.Unpacker(raw=False, ext_hook=_ext,
                                strict_map_key=False,
                                unicode_errors="surrogatepass",
                                max_buffer_size=1 << 31)
    unpacker.feed(raw)
    return list(unpacker)


def expand(values):
    """Values with RUN markers expanded, references as Ref."""
    out = []
    for v in values:
        if isinstance(v, Ext) and v.name == "RUN":
            start, count = v.value
            out.extend(Ref(start + i) for i in range(count))
        elif type(v) is int:
            out.append(Ref(v))
        else:
            out.append(v)
    return out


class Records:
    """The records of a file, with object records by id."""

    def __init__(self, path):
        self.all = raw_records(path)
        self.objects = []
        self.other = []
        self.classes = {}   # object id -> the CLASS record before it
        self.cuts = {}      # object id -> original length (CUT before it)
        self.inline = {}    # object id -> [str, bytes, int, float] bytes
        pending = []
        for rec in self.all:
            if rec[0] == 75:
                # INLINE: of the object record before it
                self.inline[len(self.objects) - 1] = list(rec[1:5])
            if rec[0] < 64:
                for p in pending:
                    if p[0] == 66:
                        self.classes[len(self.objects)] = p
                    else:
                        self.cuts[len(self.objects)] = p[1]
                pending = []
                self.objects.append(rec)
            else:
                if rec[0] in (66, 67):
                    pending.append(rec)
                self.other.append(rec)

    def kind(self, oid):
        return KINDS[self.objects[oid][0]]

    def of(self, name):
        code = {v: k for k, v in KINDS.items()}[name]
        return [r for r in self.all if r[0] == code]

    def ids_of(self, name):
        code = {v: k for k, v in KINDS.items()}[name]
        return [i for i, r in enumerate(self.objects) if r[0] == code]

    def roots(self, name):
        """The ids of the ROOTS records of that name, in order."""
        return [i for r in self.of("ROOTS") if r[1] == name
                for i in r[2:]]

    def addresses(self):
        """id -> address of every object record (the deltas summed)."""
        out, addr = [], 0
        for rec in self.objects:
            addr += rec[1]
            out.append(addr)
        return out

    def meta(self):
        return self.of("META")[0][1]

    def trailer(self):
        t = self.of("TRAILER")
        return t[0][1] if t else None
