"""An independent reader of dump files for the tests: msgpack + zstandard
from PyPI, following docs/format.rst, with no code from heapdump's loader
(the numbers of the format alone come from heapdump._format, their one
definition).  It checks the writer against the specification on its own;
tools/hdcat.py prints what it reads."""

import email.parser
import io

import msgpack
import zstandard

from heapdump import _format

#: kind -> its name, every record kind
KINDS = _format.KIND_NAMES
#: kinds from this one are other records
FIRST_OTHER = _format.FIRST_OTHER


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
    if code == _format.EXT_INT:
        return Ext("INT", int.from_bytes(data, "little", signed=True))
    if code == _format.EXT_UNBOUND:
        return Ext("UNBOUND", None)
    if code == _format.EXT_RUN:
        u = msgpack.Unpacker()
        u.feed(data)
        return Ext("RUN", tuple(u))
    return Ext(_format.EXT_NAMES.get(code, "EXT%d" % code),
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


def iter_records(path):
    """Every record as a list, in file order, read as the file is
    decompressed (a large dump is not held whole)."""
    with open(path, "rb") as f:
        while True:
            line = f.readline()
            if not line or line in (b"\n", b"\r\n"):
                break
        reader = zstandard.ZstdDecompressor().stream_reader(
            f, read_across_frames=True)
        unpacker = msgpack.Unpacker(
            io.BufferedReader(reader), raw=False, ext_hook=_ext,
            strict_map_key=False, unicode_errors="surrogatepass",
            max_buffer_size=1 << 31)
        yield from unpacker


def raw_records(path):
    """Every record as a list, in file order."""
    return list(iter_records(path))


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
            if rec[0] == _format.INLINE:
                # INLINE: of the object record before it
                self.inline[len(self.objects) - 1] = list(rec[1:5])
            if rec[0] < _format.FIRST_OTHER:
                for p in pending:
                    if p[0] == _format.CLASS:
                        self.classes[len(self.objects)] = p
                    else:
                        self.cuts[len(self.objects)] = p[1]
                pending = []
                self.objects.append(rec)
            else:
                if rec[0] in (_format.CLASS, _format.CUT):
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
