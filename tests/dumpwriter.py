"""A small pure-Python writer of heapdump files, for the loader's tests.

It writes what docs/format.rst describes, record by record, with the PyPI
packages ``msgpack`` and ``zstandard``; it knows nothing of heapdump's own
code but the numbers of the format (the record kinds, the ext types: one
definition, src/format.h, through heapdump._format).  Tests build
well-formed files with it, then damage them on purpose (truncated,
corrupted, hostile).

    w = Writer()
    s = w.str_("hello")                 # a STR record; returns its id
    lst = w.list_([s, Int(42), "inline", None])
    w.root("exception", lst)
    data = w.getvalue()                 # header block + zstd body
    w.write(path)

Values in value positions follow the format: a Python ``int`` is a
*reference* (an id); ``Int(n)`` is an inline int (ext 1); ``str``,
``bytes``, ``float``, ``None``, ``bool`` are themselves; ``UNBOUND``,
``Omitted(...)``, ``Redacted(...)`` are the ext markers.  ``Raw(b)``
splices raw msgpack bytes in; ``Float32(x)`` forces a float 32.
"""

from __future__ import annotations

import collections
import io
import struct

import msgpack
import zstandard

# the record kinds, ext types and code kinds of the format
from heapdump._format import (  # noqa: F401 (the tests take them from here)
    BYTEARRAY,
    BYTES,
    CELL,
    CFUNCTION,
    CK_CELL,
    CK_FREE,
    CK_HIDDEN,
    CK_LOCAL,
    CLASS,
    CODE,
    COMPLEX,
    CUT,
    DICT,
    ERROR,
    EXCEPTION,
    EXT_INT,
    EXT_OMITTED,
    EXT_REDACTED,
    EXT_RUN,
    EXT_UNBOUND,
    FLOAT,
    FRAME,
    FROZENSET,
    FUNCTION,
    GENERATOR,
    INLINE,
    INSTANCE,
    INT,
    LAYOUT,
    LIST,
    MAX_RECORD_ITEMS,
    META,
    METHOD,
    MODULE,
    MORE,
    OPAQUE,
    RANGE,
    ROOT,
    ROOTS,
    SET,
    SINGLETON,
    SLICE,
    SOURCE,
    STR,
    THREAD,
    TRACEBACK,
    TRAILER,
    TUPLE,
    TYPE,
    UNREADABLE,
    WEAKREF,
)


class Int:
    """An inline int value (ext 1 INT)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class Float32:
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class Raw:
    """Raw msgpack bytes, spliced in as they are."""

    __slots__ = ("data",)

    def __init__(self, data):
        self.data = bytes(data)


class _Unbound:
    def __repr__(self):
        return "UNBOUND"


UNBOUND = _Unbound()


class Omitted:
    def __init__(self, module, qualname, size):
        self.payload = [module, qualname, size]


class Redacted(Omitted):
    """ext 4 REDACTED: [module, qualname, size] (1.0, 1.1), with the
    reason and the pieces kept of a partly hidden value since 1.2:
    ``Redacted(..., reason="url", pieces=[4, 37, "kept", [[19, 5, "url"]]])``
    or ``Redacted.partly("postgresql://u:tiger@h", [(15, 20, "url")])``."""

    def __init__(self, module, qualname, size, reason=None, pieces=None,
                 extra=()):
        super().__init__(module, qualname, size)
        if reason is not None or pieces is not None or extra:
            self.payload += [reason, pieces] + list(extra)

    @classmethod
    def partly(cls, value, holes, size=0):
        """The marker of value (str, bytes or bytearray) with the pieces
        [start, end) of holes, (start, end, reason) triples, hidden."""
        kind = STR if isinstance(value, str) else \
            BYTES if isinstance(value, bytes) else BYTEARRAY
        kept, at = [], 0
        for start, end, _ in holes:
            kept.append(value[at:start])
            at = end
        kept.append(value[at:])
        text = "".join(kept) if kind == STR else b"".join(
            bytes(k) for k in kept)
        qualname = {STR: "str", BYTES: "bytes", BYTEARRAY: "bytearray"}[kind]
        return cls("builtins", qualname, size, holes[0][2] if holes else
                   "value", [kind, len(value), text,
                             [[a, b - a, r] for a, b, r in holes]])


class Run:
    """ext 5 RUN: count references to consecutive ids from first."""

    __slots__ = ("count", "first")

    def __init__(self, first, count):
        self.first = first
        self.count = count


class Ext:
    """Any ext value (for hostile tests)."""

    def __init__(self, code, data):
        self.code = code
        self.data = data


def int_bytes(n):
    """n as little-endian two's complement in as few bytes as hold it."""
    length = 1
    while True:
        try:
            return n.to_bytes(length, "little", signed=True)
        except OverflowError:
            length += 1


def _default(obj):
    if isinstance(obj, Int):
        return msgpack.ExtType(EXT_INT, int_bytes(obj.value))
    if obj is UNBOUND:
        return msgpack.ExtType(EXT_UNBOUND, b"\0")
    if isinstance(obj, Omitted):
        code = EXT_REDACTED if isinstance(obj, Redacted) else EXT_OMITTED
        return msgpack.ExtType(code, msgpack.packb(obj.payload))
    if isinstance(obj, Run):
        return msgpack.ExtType(EXT_RUN, msgpack.packb(obj.first) +
                               msgpack.packb(obj.count))
    if isinstance(obj, Ext):
        return msgpack.ExtType(obj.code, obj.data)
    raise TypeError("cannot pack %r" % (obj,))


_packer = msgpack.Packer(default=_default, use_bin_type=True,
                         unicode_errors="surrogatepass")


def _needs_slow(v):
    if isinstance(v, (Raw, Float32)):
        return True
    if isinstance(v, (list, tuple)):
        return any(_needs_slow(x) for x in v)
    return False


def pack(v):
    """msgpack bytes of v (lists may hold Raw / Float32)."""
    if not _needs_slow(v):
        return _packer.pack(v)
    if isinstance(v, Raw):
        return v.data
    if isinstance(v, Float32):
        return b"\xca" + struct.pack(">f", v.value)
    n = len(v)
    if n < 16:
        head = bytes([0x90 | n])
    elif n < 65536:
        head = b"\xdc" + struct.pack(">H", n)
    else:
        head = b"\xdd" + struct.pack(">I", n)
    return head + b"".join(pack(x) for x in v)


def escape_header(value):
    """A header value escaped as docs/format.rst says."""
    out = []
    for ch in value:
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif 0x20 <= o <= 0x7E:
            out.append(ch)
        elif o < 0x100:
            out.append("\\x%02x" % o)
        elif o < 0x10000:
            out.append("\\u%04x" % o)
        else:
            out.append("\\U%08x" % o)
    return "".join(out)


class Writer:
    """Builds a dump file in memory, record by record."""

    def __init__(self, version="1.0", base_addr=0x7F0000001000,
                 meta=True, scope=None):
        self.version = version
        self.records = []          # msgpack bytes of each record
        self.nobjects = 0
        self.nlayouts = 0
        self.addr = 0              # the previous object record's address
        self.base_addr = base_addr
        self.addresses = []        # id -> address written
        self.headers = [
            ("MIME-Version", "1.0"),
            ("Content-Type",
             'application/x-heapdump; version="%s"' % version),
            ("Heapdump-Version", version),
            ("Heapdump-Reason", "dump() called"),
            ("Heapdump-Exception", "none"),
            ("Heapdump-Python", "CPython 3.12.1"),
            ("Heapdump-Platform", "Linux-test"),
            ("Heapdump-Pid", "4242"),
            ("Heapdump-Argv", "prog.py --flag"),
            ("Heapdump-Hostname", "testhost"),
        ] + ([("Heapdump-Scope", scope)] if scope else []) + [
            ("Heapdump-Time", "2026-11-22T10:15:00.123456Z"),
            ("Heapdump-Threads", "1"),
            ("Content-Encoding", "zstd"),
        ]
        self._builtin_types = {}
        self.ncuts = 0
        if meta:
            facts = {"format": version, "reason": "dump() called",
                     "pid": 4242, "argv": ["prog.py", "--flag"],
                     "implementation": "cpython",
                     "version_info": [3, 12, 1], "cwd": "/srv/app",
                     "byteorder": "little", "pointer_size": 8}
            if scope:
                facts["scope"] = scope
            self.meta(facts)

    # ------------------------------------------------------------ basics

    @property
    def next_id(self):
        """The id the next object record will take."""
        return self.nobjects

    def raw_record(self, data, is_object=False):
        """Append raw bytes as a record (hostile tests)."""
        self.records.append(bytes(data))
        if is_object:
            self.nobjects += 1
            self.addresses.append(None)
            return self.nobjects - 1
        return None

    def obj(self, kind, *fields, addr=None, refcnt=1, size=0):
        """An object record; returns its id."""
        oid = self.nobjects
        if addr is None:
            addr = self.base_addr + 0x40 * oid
        delta = addr - self.addr
        self.addr = addr
        self.records.append(pack([kind, delta, refcnt, size] + list(fields)))
        self.nobjects += 1
        self.addresses.append(addr)
        return oid

    def other(self, kind, *fields):
        self.records.append(pack([kind] + list(fields)))

    # ----------------------------------------------------------- scalars

    def int_(self, n, **kw):
        return self.obj(INT, Int(n), **kw)

    def float_(self, x, **kw):
        return self.obj(FLOAT, float(x), **kw)

    def complex_(self, c, **kw):
        return self.obj(COMPLEX, c.real, c.imag, **kw)

    def str_(self, s, **kw):
        return self.obj(STR, s, **kw)

    def bytes_(self, b, **kw):
        return self.obj(BYTES, bytes(b), **kw)

    def bytearray_(self, b, **kw):
        return self.obj(BYTEARRAY, bytes(b), **kw)

    def singleton(self, name, **kw):
        return self.obj(SINGLETON, name, **kw)

    # -------------------------------------------------------- containers

    def _sequence(self, kind, values, per=MAX_RECORD_ITEMS, **kw):
        values = list(values)
        oid = self.obj(kind, *values[:per], **kw)
        for i in range(per, len(values), per):
            self.more(values[i:i + per])
        return oid

    def tuple_(self, values, **kw):
        return self._sequence(TUPLE, values, **kw)

    def list_(self, values, **kw):
        return self._sequence(LIST, values, **kw)

    def set_(self, values, **kw):
        return self._sequence(SET, values, **kw)

    def frozenset_(self, values, **kw):
        return self._sequence(FROZENSET, values, **kw)

    def dict_(self, pairs, per=MAX_RECORD_ITEMS, **kw):
        """A DICT record: [keys], [values] (+ MORE records of the same
        form, per pairs a record)."""
        pairs = list(pairs.items() if isinstance(pairs, dict) else pairs)
        keys = [k for k, _ in pairs]
        values = [v for _, v in pairs]
        oid = self.obj(DICT, keys[:per], values[:per], **kw)
        for i in range(per, len(pairs), per):
            self.other(MORE, keys[i:i + per], values[i:i + per])
        return oid

    def dict_arrays(self, keys, values, **kw):
        """A DICT record with its two arrays as given (RUNs allowed)."""
        return self.obj(DICT, list(keys), list(values), **kw)

    def range_(self, start, stop, step, **kw):
        return self.obj(RANGE, start, stop, step, **kw)

    def slice_(self, start, stop, step, **kw):
        return self.obj(SLICE, start, stop, step, **kw)

    # ----------------------------------------------------- types, layouts

    def type_(self, name, qualname=None, module="builtins", metaclass=None,
              bases=(), base_kind=INSTANCE, flags=1, firstlineno=None,
              attrs=(), **kw):
        """A TYPE record.  metaclass: an id (default: a builtins.type
        record); bases: ids; attrs: (name, value) pairs."""
        if metaclass is None:
            metaclass = self.builtin_type("type", base_kind=TYPE)
        attrs = list(attrs.items() if isinstance(attrs, dict) else attrs)
        return self.obj(TYPE, name, qualname or name, module, metaclass,
                        list(bases), base_kind, flags, firstlineno,
                        [a[0] for a in attrs], [a[1] for a in attrs], **kw)

    def builtin_type(self, name, base_kind=OPAQUE):
        """The TYPE record of a builtin type (written once)."""
        if name not in self._builtin_types:
            if name == "type":
                # its own metaclass: the id it is about to take
                oid = self.next_id
                self.obj(TYPE, "type", "type", "builtins", oid, [], TYPE, 0,
                         None, [], [])
            else:
                meta = self.builtin_type("type", base_kind=TYPE)
                oid = self.obj(TYPE, name, name, "builtins", meta, [],
                               base_kind, 0, None, [], [])
            self._builtin_types[name] = oid
        return self._builtin_types[name]

    def pyclass(self, name, module="myapp.models", qualname=None, bases=None,
                base_kind=INSTANCE, attrs=(), firstlineno=None):
        """A TYPE record of a class defined in Python."""
        if bases is None:
            bases = [self.builtin_type("object", base_kind=INSTANCE)]
        return self.type_(name, qualname, module, bases=bases,
                          base_kind=base_kind, flags=1,
                          firstlineno=firstlineno, attrs=attrs)

    def layout(self, type_id, names):
        """A LAYOUT record; returns its number."""
        self.other(LAYOUT, type_id, list(names))
        self.nlayouts += 1
        return self.nlayouts - 1

    def instance(self, layout, values=(), **kw):
        return self.obj(INSTANCE, layout, *values, **kw)

    def bare_instance(self, type_id, **kw):
        """An instance with no attributes: [16, ..., nil, type]."""
        return self.obj(INSTANCE, None, type_id, **kw)

    def opaque(self, type_id, layout=None, values=(), referents=(), **kw):
        return self.obj(OPAQUE, type_id, layout, list(values),
                        list(referents), **kw)

    # ----------------------------------------------------- code and calls

    def code(self, name, qualname=None, filename="/srv/app/myapp/views.py",
             firstlineno=1, argcount=0, posonlyargcount=0, kwonlyargcount=0,
             flags=0x3, names=(), kinds=None, **kw):
        names = list(names)
        if kinds is None:
            kinds = [CK_LOCAL] * len(names)
        return self.obj(CODE, name, qualname or name, filename, firstlineno,
                        argcount, posonlyargcount, kwonlyargcount, flags,
                        names, list(kinds), **kw)

    def function(self, name, code, qualname=None, module="myapp.views",
                 defaults=None, kwdefaults=None, closure=None, layout=None,
                 values=(), **kw):
        return self.obj(FUNCTION, name, qualname or name, module, code,
                        defaults, kwdefaults, closure, layout, list(values),
                        **kw)

    def method(self, function, self_, **kw):
        return self.obj(METHOD, function, self_, **kw)

    def cfunction(self, name, qualname=None, module="builtins", self_=None,
                  **kw):
        return self.obj(CFUNCTION, name, qualname or name, module, self_,
                        **kw)

    def module(self, name, file=None, *more, **kw):
        """MODULE; *more: the 1.3 ``dict`` field (a reference or None)."""
        return self.obj(MODULE, name, file, *more, **kw)

    def cell(self, value=UNBOUND, **kw):
        return self.obj(CELL, value, **kw)

    def frame(self, code, back=None, globals_=None, locals_=None, lineno=1,
              lasti=-1, position=None, values=(), **kw):
        return self.obj(FRAME, code, back, globals_, locals_, lineno, lasti,
                        position, list(values), **kw)

    def traceback(self, frame, lineno, lasti=0, next_=None, **kw):
        return self.obj(TRACEBACK, frame, lineno, lasti, next_, **kw)

    def exception(self, type_id, args, traceback=None, cause=None,
                  context=None, suppress_context=False, layout=None,
                  values=(), **kw):
        return self.obj(EXCEPTION, type_id, args, traceback, cause, context,
                        suppress_context, layout, list(values), **kw)

    def generator(self, type_id, flavor="generator", name="gen",
                  qualname=None, frame=None, state="suspended", **kw):
        return self.obj(GENERATOR, type_id, flavor, name, qualname or name,
                        frame, state, **kw)

    def weakref(self, type_id, referent, callback=None, **kw):
        return self.obj(WEAKREF, type_id, referent, callback, **kw)

    # ------------------------------------------------------------ others

    def meta(self, facts):
        self.other(META, facts)

    def class_(self, type_id, layout=None, values=()):
        self.other(CLASS, type_id, layout, list(values))

    def cut(self, original_length):
        self.other(CUT, original_length)
        self.ncuts += 1

    def more(self, values):
        """MORE of a sequence: more values."""
        self.other(MORE, *values)

    def more_dict(self, keys, values):
        """MORE of a DICT: [keys], [values]."""
        self.other(MORE, list(keys), list(values))

    def thread(self, ident, frame, native_id=None, name="MainThread",
               is_current=True, is_main=True):
        self.other(THREAD, ident, native_id if native_id is not None
                   else ident, name, is_current, is_main, frame)

    def source(self, filename, text=None, error=None, redactions=None):
        """A SOURCE record; redactions (1.2): [line, col, end_line,
        end_col, reason] of each masked piece."""
        if isinstance(text, str):
            text = text.encode("utf-8")
        if redactions is None:
            self.other(SOURCE, filename, text, error)
        else:
            self.other(SOURCE, filename, text, error,
                       [list(r) for r in redactions])

    def root(self, name, value):
        self.other(ROOT, name, value)

    def roots(self, name, *values):
        """ROOTS (1.3): more roots of that name."""
        self.other(ROOTS, name, *values)

    def inline(self, str_=0, bytes_=0, int_=0, float_=0):
        """INLINE (1.3): the sizes of the previous object's inline
        values, by type."""
        self.other(INLINE, str_, bytes_, int_, float_)

    def error(self, message):
        self.other(ERROR, message)

    def trailer(self, totals=None):
        if totals is None:
            totals = {"objects": self.nobjects, "inline": 0,
                      "records": len(self.records) + 1,
                      "bytes": sum(map(len, self.records)),
                      "cuts": self.ncuts, "omitted": 0, "errors": 0,
                      "threads": 0, "frames": 0, "rss": None,
                      "walk_ns": 0}
        self.other(TRAILER, totals)

    # ------------------------------------------------------------ output

    def header_block(self):
        lines = ["%s: %s\n" % (k, escape_header(v)) for k, v in self.headers]
        return ("".join(lines) + "\n").encode("ascii")

    def body(self):
        """The uncompressed body: the records' msgpack bytes."""
        return b"".join(self.records)

    def getvalue(self, trailer=True, frames=1, level=3, checksum=True):
        """The file's bytes.  frames: how many zstd frames to split the
        body into (at record boundaries)."""
        if trailer:
            self.trailer()
        cctx = zstandard.ZstdCompressor(level=level, write_checksum=checksum)
        records = self.records
        out = io.BytesIO()
        out.write(self.header_block())
        per = max(1, -(-len(records) // max(1, frames)))
        for i in range(0, max(1, len(records)), per):
            out.write(cctx.compress(b"".join(records[i:i + per])))
        return out.getvalue()

    def write(self, path, **kw):
        data = self.getvalue(**kw)
        with open(path, "wb") as f:
            f.write(data)
        return path


def compress(body, level=3, checksum=True):
    return zstandard.ZstdCompressor(
        level=level, write_checksum=checksum).compress(body)


def file_with_body(body, headers=None, version="1.0"):
    """A complete file around an uncompressed body (bytes)."""
    w = Writer(version=version, meta=False)
    if headers is not None:
        w.headers = headers
    return w.header_block() + compress(body)


# --------------------------------------------------------- a Python walker

class PyWriter(Writer):
    """Writes builtin Python values with a breadth-first walk, as the real
    dumper does: ids at discovery, records in id order, a value inline when
    ``inline(obj)`` says so (by default: unshared str/bytes/int/float)."""

    INLINE = (str, bytes, int, float)

    def __init__(self, *args, inline=True, **kw):
        super().__init__(*args, **kw)
        self.inline = inline
        self._ids = {}
        self._queue = collections.deque()
        self._refs = {}
        self._next_free = 0

    def _count_refs(self, root):
        seen, stack = set(), [root]
        while stack:
            o = stack.pop()
            if isinstance(o, (list, tuple, set, frozenset)):
                items = list(o)
            elif isinstance(o, dict):
                items = [x for kv in o.items() for x in kv]
            else:
                items = []
            if id(o) in seen:
                continue
            seen.add(id(o))
            for x in items:
                self._refs[id(x)] = self._refs.get(id(x), 0) + 1
                stack.append(x)

    def value(self, obj):
        """The value encoding of obj; records are written by walk()."""
        if obj is None or obj is True or obj is False:
            return obj
        t = type(obj)
        if (self.inline and t in self.INLINE and
                self._refs.get(id(obj), 0) <= 1):
            if t is int:
                return Int(obj)
            return obj
        oid = self._ids.get(id(obj))
        if oid is None:
            oid = self._next_free
            self._next_free += 1
            self._ids[id(obj)] = oid
            self._queue.append(obj)
        return oid

    def walk(self, root):
        """Write root and everything it holds; returns root's value."""
        self._count_refs(root)
        self._refs[id(root)] = self._refs.get(id(root), 0) + 1
        if not self._queue:
            self._next_free = self.nobjects
        v = self.value(root)
        while self._queue:
            obj = self._queue.popleft()
            self._record(obj)
        return v

    def _record(self, obj):
        t = type(obj)
        val = self.value
        if t is int:
            self.int_(obj)
        elif t is bool:
            raise TypeError("bool is always inline")
        elif t is float:
            self.float_(obj)
        elif t is complex:
            self.complex_(obj)
        elif t is str:
            self.str_(obj)
        elif t is bytes:
            self.bytes_(obj)
        elif t is bytearray:
            self.bytearray_(obj)
        elif t is tuple:
            self.tuple_([val(x) for x in obj])
        elif t is list:
            self.list_([val(x) for x in obj])
        elif t is set:
            self.set_([val(x) for x in obj])
        elif t is frozenset:
            self.frozenset_([val(x) for x in obj])
        elif t is dict:
            self.dict_([(val(k), val(v)) for k, v in obj.items()])
        elif t is range:
            self.range_(val(obj.start), val(obj.stop), val(obj.step))
        elif t is slice:
            self.slice_(val(obj.start), val(obj.stop), val(obj.step))
        elif obj is Ellipsis:
            self.singleton("Ellipsis")
        elif obj is NotImplemented:
            self.singleton("NotImplemented")
        else:
            raise TypeError("PyWriter writes builtins only, not %s" % t)


# ------------------------------------------------------------- benchmark

def benchmark_writer(instances=200_000, keys=100_000):
    """The loader's benchmark heap: a list of instances of one class with
    5 attributes (inline str, int, float, bool values) and a dict of
    keys str -> str (inline).  Returns (writer, objects it describes,
    counting inline values)."""
    w = Writer()
    User = w.pyclass("User", "bench.models")
    lay = w.layout(User, ["name", "age", "email", "score", "active"])
    first = w.next_id + 2
    chunks = [Run(first + i, min(MAX_RECORD_ITEMS, instances - i))
              for i in range(0, instances, MAX_RECORD_ITEMS)]
    holder = w.list_(chunks, per=1)
    table = w.dict_([("key%06d" % i, "value %d" % i) for i in range(keys)])
    assert (holder, table) == (w.next_id - 2, w.next_id - 1)
    for i in range(instances):
        w.instance(lay, ["user%d" % i, Int(i % 90), "u%d@example.com" % i,
                         i * 0.5, bool(i & 1)])
    w.root("users", holder)
    w.root("table", table)
    objects = 2 + instances * 6 + keys * 2
    return w, objects
