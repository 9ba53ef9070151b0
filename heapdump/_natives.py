"""The objects of NATIVE records (docs/format.rst, "Native kinds"): C types
of the standard library that the dumper read exactly, rebuilt here as the
real objects from plain values.

One function per native kind takes the state the record holds (ints, strs,
bytes, and already loaded objects such as a datetime's tzinfo) and the
class to make (the real type, or the loader's class for a Python subclass
of it, which derives from the real type) and calls only the real type's
own C constructor: ``datetime.datetime.__new__(cls, ...)``,
``decimal.Decimal.__new__(cls, (sign, digits, exp))``, ``array.array.
__new__(cls, typecode)`` + ``frombytes``; a deque is made empty and
filled later (``collections.deque.__init__``), since it may hold itself.
Nothing from the file runs: the dumped class's ``__new__``/``__init__``
are never looked up.

A state that does not make an object (a hostile or damaged file, a
native kind this version does not know, a zone unknown where the dump is
opened) gives a stand-in that says what was dumped and why it is not the
real object, never a different value.
"""

from __future__ import annotations

import array
import collections
import collections.abc
import datetime
import decimal
import operator
import re
import reprlib
import struct
import sys

from heapdump import _heapdump as _c
from heapdump import _surrogates as S

__all__ = ["REAL_TYPES", "NativeStandIn", "fill", "make", "real_base",
           "real_type"]

DATETIME = _c.NATIVE_DATETIME
DATE = _c.NATIVE_DATE
TIME = _c.NATIVE_TIME
TIMEDELTA = _c.NATIVE_TIMEDELTA
TIMEZONE = _c.NATIVE_TIMEZONE
ZONEINFO = _c.NATIVE_ZONEINFO
DECIMAL = _c.NATIVE_DECIMAL
DEQUE = _c.NATIVE_DEQUE
ARRAY = _c.NATIVE_ARRAY
TZINFO = _c.NATIVE_TZINFO
PATTERN = _c.NATIVE_PATTERN


def _zoneinfo_type():
    try:
        import zoneinfo
    except ImportError:      # not before 3.9, or built without it
        return None
    return zoneinfo.ZoneInfo


#: (module, qualname) of a dumped type -> (native kind, the real class).
REAL_TYPES = {
    ("datetime", "datetime"): (DATETIME, datetime.datetime),
    ("datetime", "date"): (DATE, datetime.date),
    ("datetime", "time"): (TIME, datetime.time),
    ("datetime", "timedelta"): (TIMEDELTA, datetime.timedelta),
    ("datetime", "timezone"): (TIMEZONE, datetime.timezone),
    ("datetime", "tzinfo"): (TZINFO, datetime.tzinfo),
    ("re", "Pattern"): (PATTERN, re.Pattern),
    ("decimal", "Decimal"): (DECIMAL, decimal.Decimal),
    ("collections", "deque"): (DEQUE, collections.deque),
    ("array", "array"): (ARRAY, array.array),
}
if _zoneinfo_type() is not None:
    REAL_TYPES[("zoneinfo", "ZoneInfo")] = (ZONEINFO, _zoneinfo_type())

_CLASS_OF = {kind: cls for kind, cls in REAL_TYPES.values()}
_REAL_BASES = tuple(_CLASS_OF.values())


def real_type(module, qualname):
    """The real class of a dumped native type by its names, or None."""
    entry = REAL_TYPES.get((module, qualname))
    return entry[1] if entry is not None else None


def real_base(cls):
    """The real native class a loaded class derives from, or None."""
    if not isinstance(cls, type) or not issubclass(cls, _REAL_BASES):
        return None
    for klass in cls.__mro__:
        if klass in _REAL_BASES:
            return klass
    return None


class NativeStandIn:
    """What a NATIVE record gives when its state makes no real object:
    ``kind`` (the native kind's name), ``state`` (the values dumped) and
    ``reason``."""

    __slots__ = ("kind", "state", "reason")

    def __init__(self, kind, state, reason):
        self.kind = _KIND_NAMES.get(kind, "native kind %r" % (kind,))
        self.state = tuple(state) if isinstance(state, list) else ()
        self.reason = reason

    def __repr__(self):
        return "<%s from the dump: %s (%s)>" % (
            self.kind, self.reason, ", ".join(repr(v) for v in self.state))


class ZoneInfoStandIn(datetime.tzinfo):
    """A ``zoneinfo.ZoneInfo`` whose key names no zone where the dump is
    opened (its time zone database differs): ``key`` and ``reason``; it
    cannot say offsets."""

    def __init__(self, key, reason):
        self.key = key
        self.reason = reason

    def __repr__(self):
        return "zoneinfo.ZoneInfo(key=%r) (a stand-in: no such zone where " \
               "the dump is opened)" % (self.key,)

    __str__ = __repr__

    def utcoffset(self, dt):
        raise S.DumpedAttributeError(
            "zone %r is not in this machine's time zone database (%s): "
            "its offsets are not known here" % (self.key, self.reason))

    dst = tzname = utcoffset


_KIND_NAMES = {DATETIME: "datetime.datetime", DATE: "datetime.date",
               TIME: "datetime.time", TIMEDELTA: "datetime.timedelta",
               TIMEZONE: "datetime.timezone", ZONEINFO: "zoneinfo.ZoneInfo",
               DECIMAL: "decimal.Decimal", DEQUE: "collections.deque",
               ARRAY: "array.array", TZINFO: "datetime.tzinfo",
               PATTERN: "re.Pattern"}


def _int(v):
    if not isinstance(v, int) or isinstance(v, bool):
        raise ValueError("a value that is not an int: %r" % (v,))
    return v


def _tz(v):
    if v is None or isinstance(v, datetime.tzinfo):
        return v
    raise ValueError("a tzinfo that is not one: %r" % (v,))


def _datetime(cls, s):
    y, mo, d, h, mi, sec, us = (_int(v) for v in s[:7])
    return datetime.datetime.__new__(cls, y, mo, d, h, mi, sec, us,
                                     _tz(s[7]), fold=_int(s[8]))


def _date(cls, s):
    return datetime.date.__new__(cls, *(_int(v) for v in s[:3]))


def _time(cls, s):
    h, mi, sec, us = (_int(v) for v in s[:4])
    return datetime.time.__new__(cls, h, mi, sec, us, _tz(s[4]),
                                 fold=_int(s[5]))


def _timedelta(cls, s):
    days, secs, us = (_int(v) for v in s[:3])
    return datetime.timedelta.__new__(cls, days, secs, us)


def _timezone(cls, s):
    offset, name = s[0], s[1]
    if type(offset) is not datetime.timedelta:
        raise ValueError("an offset that is not a timedelta")
    if name is None:
        if not offset:
            return datetime.timezone.utc     # the singleton, as it was
        return datetime.timezone(offset)
    if not isinstance(name, str):
        raise ValueError("a name that is not a str")
    return datetime.timezone(offset, name)


def _zoneinfo(cls, s):
    key = s[0]
    zi = _zoneinfo_type()
    if key is None or zi is None:
        raise ValueError("a ZoneInfo without a key (made from a file)")
    if not isinstance(key, str):
        raise ValueError("a key that is not a str")
    try:
        # the zone database of this machine, as the program's ZoneInfo
        # was from its own; the key is a str, never a path from the file
        # (ZoneInfo refuses absolute and relative paths)
        return zi(key)
    except (ValueError, OSError, LookupError) as e:
        return ZoneInfoStandIn(key, "%s: %s" % (type(e).__name__, e))


def _decimal(cls, s):
    sign, digits, exp = s[:3]
    if sign not in (0, 1) or isinstance(sign, bool) or \
            not isinstance(digits, str) or \
            (digits and not digits.isdigit()) or not digits.isascii():
        raise ValueError("a malformed number")
    if isinstance(exp, str):
        if exp not in ("n", "N", "F"):
            raise ValueError("a malformed exponent")
    else:
        _int(exp)
    coefficient = tuple(int(c) for c in digits)
    # Decimal.__new__ reads a tuple with its C code only
    return decimal.Decimal.__new__(cls, (sign, coefficient, exp))


def _array(cls, s):
    typecode, itemsize, big, raw = s[:4]
    if not isinstance(typecode, str) or len(typecode) != 1 or \
            not isinstance(raw, bytes):
        raise ValueError("a malformed array")
    try:
        arr = array.array.__new__(cls, typecode)
    except ValueError:
        arr = None  # a typecode this Python has not ('w' before 3.13)
    if arr is None or arr.itemsize != itemsize:
        why = ("no typecode %r here" % typecode if arr is None else
               "items of %d bytes where an array %r has %d here"
               % (itemsize, typecode, arr.itemsize))
        if cls not in (array.array, CutArray):
            raise ValueError(why)   # a subclass: its own state needs a class
        return ArrayStandIn(typecode, itemsize, big, raw, why)
    array.array.frombytes(arr, raw)
    if bool(big) != (sys.byteorder == "big"):
        array.array.byteswap(arr)
    return arr


# struct's standard-size integer formats by item size (lower case signed,
# as array's typecodes); the characters are decoded as UTF-16 or UTF-32
_ARRAY_SIZES = {1: 0, 2: 1, 4: 2, 8: 3}


class ArrayStandIn:
    """An ``array.array`` this Python cannot make (its typecode is unknown
    here, as 'w' before 3.13, or its items have another size): typecode,
    itemsize, ``tolist()``, ``tobytes()``, len(), indexing and iteration
    answer from the dumped items; ``original_length`` when they were cut."""

    __slots__ = ("typecode", "itemsize", "_big", "_raw", "reason",
                 "original_length")

    def __init__(self, typecode, itemsize, big, raw, reason):
        self.typecode, self.itemsize = typecode, itemsize
        self._big, self._raw, self.reason = bool(big), raw, reason
        self.original_length = None

    def tobytes(self):
        return self._raw

    def tolist(self):
        tc, size, order = self.typecode, self.itemsize, \
            ">" if self._big else "<"
        if tc in ("u", "w") and size in (2, 4):
            codec = "utf-%d-%s" % (size * 8, "be" if self._big else "le")
            return list(self._raw.decode(codec, "surrogatepass"))
        if tc in ("f", "d") and size in (4, 8):
            fmt = "f" if size == 4 else "d"
        elif tc in "bBhHiIlLqQ" and size in _ARRAY_SIZES:
            fmt = ("bhiq" if tc.islower() else "BHIQ")[_ARRAY_SIZES[size]]
        else:
            raise S.DumpedAttributeError(
                "array(%r) of %d-byte items: its items cannot be read here"
                % (tc, size))
        n = len(self._raw) // size
        return list(struct.unpack("%s%d%s" % (order, n, fmt),
                                  self._raw[:n * size]))

    def __len__(self):
        return len(self._raw) // self.itemsize if self.itemsize else 0

    def __getitem__(self, i):
        return self.tolist()[i]

    def __iter__(self):
        return iter(self.tolist())

    def __repr__(self):
        try:
            items = self.tolist()
        except S.DumpedAttributeError:
            return "array(%r, <%d bytes>) (a stand-in: %s)" % (
                self.typecode, len(self._raw), self.reason)
        if self.original_length is not None:
            body = ", ".join([repr(x) for x in items] + [
                S.more_marker(self.original_length, len(items), "items")])
            shown = "[%s]" % body
        elif self.typecode in ("u", "w"):
            shown = repr("".join(items))
        else:
            shown = repr(items)
        return "array(%r, %s) (a stand-in: %s)" % (self.typecode, shown,
                                                    self.reason)


def _tzinfo(cls, s):
    # no state of its own: a Python subclass's is its instance dict
    return datetime.tzinfo.__new__(cls)


def _pattern(cls, s):
    pattern, flags = s[0], _int(s[1])
    if type(pattern) not in (str, bytes):
        raise ValueError("a pattern that is not a str or bytes (hidden?)")
    # compiling is no code from the file: the regular expression is data,
    # matched only when asked at the prompt
    try:
        return re.compile(pattern, flags)
    except re.error as e:
        raise ValueError("it does not compile here: %s" % e) from None


_MAKERS = {DATETIME: _datetime, DATE: _date, TIME: _time,
           TIMEDELTA: _timedelta, TIMEZONE: _timezone, ZONEINFO: _zoneinfo,
           DECIMAL: _decimal, ARRAY: _array, TZINFO: _tzinfo,
           PATTERN: _pattern}


def _cut_items_repr(prefix, items, obj, suffix=""):
    more = S._more(obj, "items")
    body = ", ".join([repr(x) for x in items] + [more])
    return "%s[%s]%s)" % (prefix, body, suffix)


class CutArray(array.array):
    """The first items of a longer array: ``original_length``; len() is
    the number of items in the dump."""

    def __repr__(self):
        return _cut_items_repr("array(%r, " % self.typecode,
                               self.tolist(), self)


class CutDeque(collections.deque):
    """The first items of a longer deque: ``original_length``; len() is
    the number of items in the dump."""

    def __repr__(self):
        maxlen = collections.deque.maxlen.__get__(self)
        return _cut_items_repr(
            "deque(", list(collections.deque.__iter__(self)), self,
            "" if maxlen is None else ", maxlen=%d" % maxlen)


class DequeShown:
    """Mixed into the loader's classes of deque subclasses: a repr of the
    stored items read with deque's own iterator (deque's C repr iterates
    through the class's ``__iter__``, which a dumped override replaces
    with an error: heapdump/_classes.py)."""

    __slots__ = ()

    def __repr__(self):
        maxlen = collections.deque.maxlen.__get__(self)
        return "%s(%r%s)" % (
            type.__getattribute__(type(self), "__qualname__"),
            list(collections.deque.__iter__(self)),
            "" if maxlen is None else ", maxlen=%d" % maxlen)


def native_class_bases(base):
    """The bases of the loader's class of a Python subclass of base (a
    native type, or the loader's class of a subclass of one)."""
    if issubclass(base, collections.deque) and \
            not issubclass(base, DequeShown):
        return (DequeShown, base)
    return (base,)


def _class_to_make(kind, type_obj, cut):
    """The class of the object: the dumped type when it is (or derives
    from) the real one, a Cut class when its items were cut."""
    real = _CLASS_OF.get(kind)
    if real is None:
        return None
    if cut is not None and type_obj is real:
        return CutArray if kind == ARRAY else CutDeque
    if isinstance(type_obj, type) and issubclass(type_obj, real):
        return type_obj
    return real


def make(oid, fields, cut=None):
    """The object of NATIVE record oid from its fields [type, native,
    state] (a LATE kind), or the empty shell of a container from [type,
    native] (filled by ``fill``).  cut: the original number of items when
    a CUT record came before."""
    type_obj, kind = fields[0], fields[1]
    cls = _class_to_make(kind, type_obj, cut)
    if cls is None:
        return NativeStandIn(kind, None, "a native kind this version of "
                         "heapdump does not know")
    if kind == DEQUE:
        return collections.deque.__new__(cls)
    if kind == FUTURE:
        return object.__new__(cls)
    state = fields[2] if len(fields) > 2 else None
    maker = _MAKERS.get(kind)
    if maker is None or not isinstance(state, list):
        return NativeStandIn(kind, state, "a malformed record")
    try:
        obj = maker(cls, state, cut, type_obj) if kind in _WITH_TYPE \
            else maker(cls, state)
    except (ValueError, TypeError, OverflowError, IndexError,
            decimal.InvalidOperation) as e:
        return NativeStandIn(kind, state, "its state makes no object here: "
                         "%s" % e)
    if cut is not None and isinstance(obj, (CutArray, ArrayStandIn)):
        obj.original_length = cut
    return obj


def fill(obj, fields, cut=None):
    """Fill the shell of a container kind (a deque, a future) from its
    record's fields [type, native, [state...], ...]."""
    state = fields[2] if len(fields) > 2 else None
    if isinstance(obj, DumpedFuture):
        _fill_future(obj, state if isinstance(state, list) else [])
        return
    if not isinstance(obj, collections.deque) or not isinstance(state, list) \
            or not state:
        return
    maxlen = state[0]
    if maxlen is not None and (not isinstance(maxlen, int) or
                               isinstance(maxlen, bool) or maxlen < 0):
        maxlen = None
    # deque's own C __init__: clears and extends from a list, whatever
    # the class (a subclass's __init__ and __iter__ are never called)
    collections.deque.__init__(obj, state[1:], maxlen)
    if cut is not None and isinstance(obj, CutDeque):
        obj.original_length = cut


# ------------------------------------------------------------------ locks

LOCK = _c.NATIVE_LOCK
RLOCK = _c.NATIVE_RLOCK


def _refuse_lock_call(obj, method):
    raise S.DumpedCodeError(
        "%s.%s(): a lock from the dump cannot be acquired, released or "
        "waited for: it was a lock of the dumped process, and this is a "
        "stand-in that only says its state (%r)"
        % (obj._dumped_type_name(), method, obj))


class _DumpedLock:
    """The base of the lock stand-ins: never a live lock (nothing here
    blocks), ``locked()`` says whether it was held when dumped; the
    methods that would acquire, release or wait raise DumpedCodeError."""

    __slots__ = ()
    _type_name = "_thread.lock"

    def _dumped_type_name(self):
        cls = type(self)
        if cls is _LOCK_CLASSES.get(self._kind):
            return self._type_name
        return cls.__name__              # a Python subclass: its tp_name

    def __repr__(self):
        return "<%s %s object%s (from the dump)>" % (
            "locked" if self.locked() else "unlocked",
            self._dumped_type_name(), self._repr_more())

    def _repr_more(self):
        return ""

    def __enter__(self):
        _refuse_lock_call(self, "__enter__")

    def __exit__(self, *exc):
        _refuse_lock_call(self, "__exit__")

    def acquire(self, *args, **kwargs):
        _refuse_lock_call(self, "acquire")

    def release(self, *args):
        _refuse_lock_call(self, "release")

    def _at_fork_reinit(self):
        _refuse_lock_call(self, "_at_fork_reinit")


class DumpedLock(_DumpedLock):
    """A ``_thread.lock`` (``threading.Lock()``) from the dump:
    ``locked()`` (also as ``held``) is whether it was held."""

    __slots__ = ("held",)
    _kind = LOCK

    def locked(self):
        return self.held

    locked_lock = locked

    def acquire_lock(self, *args, **kwargs):
        _refuse_lock_call(self, "acquire_lock")

    def release_lock(self):
        _refuse_lock_call(self, "release_lock")


class DumpedRLock(_DumpedLock):
    """A ``_thread.RLock`` (``threading.RLock()``) from the dump:
    ``owner`` the ident of the thread that held it (as
    ``threading.get_ident()`` gave it there; None when free), ``count``
    how many times it held it (0 when free); ``locked()`` is whether it
    was held.  Which thread is "current" means nothing here:
    ``_is_owned()`` and ``_recursion_count()`` raise DumpedCodeError."""

    __slots__ = ("owner", "count")
    _kind = RLOCK
    _type_name = "_thread.RLock"

    def locked(self):
        return self.count > 0

    def _repr_more(self):
        return " owner=%d count=%d" % (self.owner or 0, self.count)

    def _is_owned(self):
        _refuse_lock_call(self, "_is_owned")

    def _recursion_count(self):
        _refuse_lock_call(self, "_recursion_count")

    def _release_save(self):
        _refuse_lock_call(self, "_release_save")

    def _acquire_restore(self, state):
        _refuse_lock_call(self, "_acquire_restore")


_LOCK_CLASSES = {LOCK: DumpedLock, RLOCK: DumpedRLock}


def _lock(cls, s):
    held = s[0]
    if not isinstance(held, bool):
        raise ValueError("a held flag that is not a bool: %r" % (held,))
    obj = object.__new__(cls)
    obj.held = held
    return obj


def _rlock(cls, s):
    owner, count = s[0], _int(s[1])
    if count < 0 or (owner is None) != (count == 0) or \
            (owner is not None and (_int(owner) <= 0)):
        raise ValueError("an owner and count that do not agree: %r, %r"
                         % (owner, count))
    obj = object.__new__(cls)
    obj.owner = owner
    obj.count = count
    return obj


REAL_TYPES[("_thread", "lock")] = (LOCK, DumpedLock)
REAL_TYPES[("_thread", "RLock")] = (RLOCK, DumpedRLock)
_CLASS_OF.update(_LOCK_CLASSES)
_REAL_BASES = _REAL_BASES + (DumpedLock, DumpedRLock)
_KIND_NAMES.update({LOCK: "_thread.lock", RLOCK: "_thread.RLock"})
_MAKERS.update({LOCK: _lock, RLOCK: _rlock})


# ---------------------------------------------------------------- re.Match

MATCH = _c.NATIVE_MATCH


class DumpedMatch:
    """An ``re.Match`` from the dump: what the engine found, read from the
    match itself (the string, the pattern, the slice searched and each
    group's marks), so ``group()``, ``groups()``, ``groupdict()``,
    ``start()``, ``end()``, ``span()``, indexing, ``lastindex``,
    ``lastgroup``, ``regs`` and the repr answer as the live match did.
    Nothing is matched again.  ``expand()`` raises DumpedCodeError."""

    __slots__ = ("string", "re", "pos", "endpos", "_lastindex", "_marks")

    def _index(self, g):
        if isinstance(g, str):
            names = getattr(self.re, "groupindex", None)
            if not isinstance(names, collections.abc.Mapping) or \
                    g not in names:
                raise IndexError("no such group")
            g = names[g]
        try:
            i = operator.index(g)
        except TypeError:
            raise IndexError("no such group") from None
        if not 0 <= i < len(self._marks) // 2:
            raise IndexError("no such group")
        return i

    def _group(self, i, default=None):
        a, b = self._marks[2 * i], self._marks[2 * i + 1]
        return default if a < 0 else self.string[a:b]

    def group(self, *groups):
        if len(groups) <= 1:
            return self._group(self._index(groups[0] if groups else 0))
        return tuple(self._group(self._index(g)) for g in groups)

    def __getitem__(self, g):
        return self._group(self._index(g))

    def groups(self, default=None):
        return tuple(self._group(i, default)
                     for i in range(1, len(self._marks) // 2))

    def groupdict(self, default=None):
        names = getattr(self.re, "groupindex", {})
        return {name: self._group(self._index(i), default)
                for name, i in names.items()}

    def span(self, group=0):
        i = self._index(group)
        return (self._marks[2 * i], self._marks[2 * i + 1])

    def start(self, group=0):
        return self.span(group)[0]

    def end(self, group=0):
        return self.span(group)[1]

    @property
    def lastindex(self):
        return None if self._lastindex < 0 else self._lastindex

    @property
    def lastgroup(self):
        names = getattr(self.re, "groupindex", {})
        for name, i in names.items():
            if i == self._lastindex:
                return name
        return None

    @property
    def regs(self):
        return tuple(self.span(i) for i in range(len(self._marks) // 2))

    def expand(self, template):
        raise S.DumpedCodeError(
            "re.Match.expand(): a match from the dump expands no template "
            "(re's code would run on a stand-in); group() gives the pieces")

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __repr__(self):
        # as _sre's: the whole match's repr, cut at 50 characters
        return "<re.Match object; span=%r, match=%s>" % (
            self.span(), repr(self._group(0))[:50])


def _match(cls, s):
    string, pattern, pos, endpos, last = s[:5]
    marks = s[5:]
    if type(string) not in (str, bytes):
        raise ValueError("a string that is not a str or bytes (hidden?)")
    if not marks or len(marks) % 2:
        raise ValueError("malformed marks")
    marks = tuple(_int(v) for v in marks)
    pos, endpos, last = _int(pos), _int(endpos), _int(last)
    for a, b in zip(marks[::2], marks[1::2]):
        if not ((a == b == -1) or 0 <= a <= b <= len(string)):
            raise ValueError("a group outside the string")
    if not (0 <= pos <= endpos and -1 <= last < len(marks) // 2):
        raise ValueError("a slice or last group that does not agree")
    obj = object.__new__(DumpedMatch)
    obj.string, obj.re, obj.pos, obj.endpos = string, pattern, pos, endpos
    obj._lastindex, obj._marks = last, marks
    return obj


REAL_TYPES[("re", "Match")] = (MATCH, DumpedMatch)
_CLASS_OF[MATCH] = DumpedMatch
_REAL_BASES = _REAL_BASES + (DumpedMatch,)
_KIND_NAMES[MATCH] = "re.Match"
_MAKERS[MATCH] = _match


# ---------------------------------------------------- memoryview, buffers

MEMORYVIEW = _c.NATIVE_MEMORYVIEW
BUFFER = _c.NATIVE_BUFFER

#: Buffer formats this loader reads items of: one struct code, with a
#: byte order or not ("<i", "d", "?"); others stay bytes.
_ITEM_CODES = "?bBhHiIlLqQnNefdc"


def _item_format(fmt):
    """The struct format of one item of a buffer format, or None."""
    if not isinstance(fmt, str) or not fmt:
        return None
    order, code = (fmt[0], fmt[1:]) if fmt[0] in "@=<>!" else ("@", fmt)
    if len(code) != 1 or code not in _ITEM_CODES or \
            (code in "nN" and order != "@"):
        return None
    return order + code


def _ints(v, what):
    if not isinstance(v, list):
        raise ValueError("%s that is not a list" % what)
    return tuple(_int(x) for x in v)


class DumpedBuffer:
    """The buffer of a memoryview or of a C exporter (a ctypes array, an
    mmap, a numpy array where numpy is not importable) from the dump:
    ``format``, ``itemsize``, ``shape``, ``strides``, ``ndim``,
    ``readonly``, ``nbytes`` as the view had them, ``data`` the items'
    bytes in C order as far as dumped (``original_nbytes`` when cut), and
    for a memoryview ``obj``, its exporter.  ``tobytes()``, ``tolist()``
    (items of a one-code format), ``len()`` and indexing of the first
    dimension read the data; ``exporter`` names the dumped type."""

    __slots__ = ("exporter", "format", "itemsize", "shape", "strides",
                 "readonly", "nbytes", "data", "obj", "original_nbytes",
                 "__dict__")

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def dtype(self):
        """numpy's dtype string of the items ("<i4", "|b1"), or the
        buffer format when it is not one numeric code."""
        return _dtype_str(self.format, self.itemsize) or self.format

    @property
    def cut(self):
        return self.original_nbytes is not None

    def tobytes(self):
        return self.data

    def _refuse(self, what, why=None):
        if why is not None:
            raise S.DumpedAttributeError("%s of %s: %s" % (
                what, self._what(), why))
        raise S.DumpedAttributeError(
            "%s of %s: %s" % (what, self._what(), "its items were cut "
                              "(%d of %d bytes dumped)" % (
                                  len(self.data), self.original_nbytes)
                              if self.cut else "format %r is not read "
                              "here (tobytes() gives the bytes)"
                              % (self.format,)))

    def tolist(self):
        code = _item_format(self.format)
        if code is None or self.cut:
            self._refuse("tolist()")
        import struct
        flat = [x[0] for x in struct.iter_unpack(code, self.data)]
        if not self.shape:
            return flat[0] if flat else None
        lists = 1
        for n in self.shape[:-1]:
            lists *= n
            if lists > len(flat) + 65536:
                # a zero-size buffer of a huge shape (a hostile file):
                # not millions of empty lists
                self._refuse("tolist()", "shape %r makes more lists "
                             "than it has items" % (self.shape,))
        return _nested(flat, self.shape)

    def __len__(self):
        if not self.shape:
            raise TypeError("0-dim buffer has no len()")
        return self.shape[0]

    def __getitem__(self, i):
        return self.tolist()[i]

    def __iter__(self):
        return iter(self.tolist())

    def _what(self):
        return "a %s from the dump" % self.exporter

    def __repr__(self):
        shown = ""
        if _item_format(self.format) is not None and not self.cut and \
                len(self.data) <= 256:
            try:
                shown = " %r" % (self.tolist(),)
            except S.DumpedAttributeError:
                pass
        elif len(self.data) <= 64:
            shown = " %r" % (self.data,)
        if self.cut:
            shown += " (%d of %d bytes dumped: cut)" % (
                len(self.data), self.original_nbytes)
        return "<%s buffer from the dump: format %r, shape %r, nbytes %d%s>" \
            % (self.exporter, self.format, self.shape, self.nbytes, shown)


def _nested(flat, shape):
    """The items flat (C order) as nested lists of shape."""
    if len(shape) == 1:
        return flat
    step = 1
    for n in shape[1:]:
        step *= n
    return [_nested(flat[i * step:(i + 1) * step], shape[1:])
            for i in range(shape[0])]


def _buffer_fields(s):
    """[format, itemsize, readonly, nbytes, data, obj, ndim, shape...,
    strides...] checked: (format, itemsize, shape, strides, readonly,
    nbytes, data)."""
    fmt, itemsize, readonly, nbytes, data, _, ndim = s[:7]
    if not isinstance(fmt, str) or not isinstance(data, bytes) or \
            not isinstance(readonly, bool):
        raise ValueError("a malformed buffer")
    itemsize, nbytes, ndim = _int(itemsize), _int(nbytes), _int(ndim)
    if not 0 <= ndim <= 64 or len(s) != 7 + 2 * ndim:
        raise ValueError("a number of dimensions that does not agree")
    shape, strides = _ints(s[7:7 + ndim], "a shape"), \
        _ints(s[7 + ndim:], "strides")
    n = 1
    for x in shape:
        n *= x
    if itemsize < 1 or len(shape) != len(strides) or min(shape + (0,)) < 0 \
            or n * itemsize != nbytes or len(data) > nbytes or \
            len(data) % itemsize:
        raise ValueError("a shape, item size and length that do not agree")
    return fmt, itemsize, shape, strides, readonly, nbytes, data


def _dumped_buffer(exporter, s, cut, obj=None):
    b = DumpedBuffer()
    (b.format, b.itemsize, b.shape, b.strides, b.readonly, b.nbytes,
     b.data) = _buffer_fields(s)
    b.exporter = exporter
    b.obj = obj
    b.original_nbytes = cut if len(b.data) < b.nbytes else None
    return b


def _memoryview(cls, s, cut=None, type_obj=None):
    return _dumped_buffer("memoryview", s, cut, s[5])


#: numpy's kind for a struct code: a dtype string is kind + item size.
_NUMPY_KINDS = {"?": "b", "e": "f", "f": "f", "d": "f"}


def _dtype_str(fmt, itemsize):
    """numpy's dtype string for a one-code numeric buffer format, or
    None."""
    code = _item_format(fmt)
    if code is None or code[1] == "c":
        return None
    c = code[1]
    kind = _NUMPY_KINDS.get(c, "i" if c.islower() else "u")
    order = "|" if itemsize == 1 else \
        {"<": "<", ">": ">", "!": ">"}.get(code[0], "=")
    if order == "=":
        order = "<" if sys.byteorder == "little" else ">"
    return "%s%s%d" % (order, kind, itemsize)


def _numpy_array(s, cut):
    """A numpy array of the dumped one (numpy.ndarray, a one-code
    numeric format, not cut), made where numpy is importable, or None."""
    fmt, itemsize, shape, strides, readonly, nbytes, data = \
        _buffer_fields(s)
    dtype = _dtype_str(fmt, itemsize)
    if dtype is None or len(data) != nbytes:
        return None
    try:
        import numpy
    except ImportError:
        return None
    # a dtype made from a kind and a size: never an object dtype
    return numpy.frombuffer(bytearray(data),
                            dtype=numpy.dtype(dtype)).reshape(shape)


def _buffer(cls, s, cut=None, type_obj=None):
    module = qualname = None
    if isinstance(type_obj, type):
        module = type.__getattribute__(type_obj, "__module__")
        qualname = type.__getattribute__(type_obj, "__qualname__")
    if (module, qualname) == ("numpy", "ndarray"):
        arr = _numpy_array(s, cut)
        if arr is not None:
            return arr
    name = qualname if module in (None, "builtins") else \
        "%s.%s" % (module, qualname)
    return _dumped_buffer(name or "C exporter", s, cut)


_KIND_NAMES.update({MEMORYVIEW: "memoryview", BUFFER: "C buffer"})
_CLASS_OF.update({MEMORYVIEW: DumpedBuffer, BUFFER: DumpedBuffer})
_MAKERS.update({MEMORYVIEW: _memoryview, BUFFER: _buffer})
#: The kinds whose maker also takes the cut and the dumped type.
_WITH_TYPE = (MEMORYVIEW, BUFFER)


# ---------------------------------------------------------- asyncio.Future

FUTURE = _c.NATIVE_FUTURE
_FUTURE_STATES = ("pending", "cancelled", "finished")


def _refuse_future_call(obj, method):
    raise S.DumpedCodeError(
        "%s.%s(): a future from the dump cannot be awaited, completed or "
        "given callbacks: its loop ran in the dumped process, and this is "
        "a stand-in that only says its state (%r)"
        % (type(obj).__name__, method, obj))


class DumpedFuture:
    """An ``asyncio.Future`` (the C ``_asyncio.Future``) from the dump: its
    state, result, exception, loop and cancel message as the future held
    them, so ``done()``, ``cancelled()``, ``result()``, ``exception()``
    (raising as the live future would: ``InvalidStateError`` while
    pending, ``CancelledError`` when cancelled, the dumped exception when
    it failed), ``get_loop()`` and the repr answer as live.  Its callbacks
    are in the dump as what it references (``heapdump_refs``), unnamed:
    the repr does not list them.  Awaiting it, completing it or adding a
    callback raises DumpedCodeError."""

    __slots__ = ("_heapdump_state", "_result", "_exception", "_loop",
                 "_cancel_message", "heapdump_refs")

    @property
    def _state(self):
        return self._heapdump_state.upper()

    def done(self):
        return self._heapdump_state != "pending"

    def cancelled(self):
        return self._heapdump_state == "cancelled"

    def get_loop(self):
        return self._loop

    def _outcome(self, want):
        return S.future_outcome(
            "%s.%s()" % (type(self).__name__, want.lower()),
            self._heapdump_state, self._result, self._exception,
            self._cancel_message, want)

    def result(self):
        return self._outcome("Result")

    def exception(self):
        return self._outcome("Exception")

    @reprlib.recursive_repr()  # "..." for itself, as asyncio says it
    def __repr__(self):
        info = [self._heapdump_state]
        if self._heapdump_state == "finished":
            info.append(S.outcome_repr(self._result, self._exception))
        return "<%s %s>" % (type(self).__name__, " ".join(info))

    def __await__(self):
        _refuse_future_call(self, "__await__")

    __iter__ = __await__

    def add_done_callback(self, *args, **kwargs):
        _refuse_future_call(self, "add_done_callback")

    def remove_done_callback(self, *args):
        _refuse_future_call(self, "remove_done_callback")

    def set_result(self, *args):
        _refuse_future_call(self, "set_result")

    def set_exception(self, *args):
        _refuse_future_call(self, "set_exception")

    def cancel(self, *args, **kwargs):
        _refuse_future_call(self, "cancel")


DumpedFuture.__name__ = DumpedFuture.__qualname__ = "Future"


def _fill_future(obj, state):
    """Fill a future's shell from [state, result, exception, loop,
    cancel_msg, refs...]; a state that does not agree leaves it reading
    as a pending future with nothing (and says so in heapdump_refs)."""
    S.import_asyncio()      # now, while loading (heapdump._surrogates)
    if len(state) < 5 or state[0] not in _FUTURE_STATES or \
            (state[0] == "pending" and (state[1] is not None or
                                        state[2] is not None)):
        obj._heapdump_state, obj._result, obj._exception = "pending", None, \
            None
        obj._loop = obj._cancel_message = None
        obj.heapdump_refs = ("a malformed record: %r" % (state,),)
        return
    (obj._heapdump_state, obj._result, obj._exception, obj._loop,
     obj._cancel_message) = state[:5]
    obj.heapdump_refs = tuple(state[5:])


REAL_TYPES[("_asyncio", "Future")] = (FUTURE, DumpedFuture)
_CLASS_OF[FUTURE] = DumpedFuture
_REAL_BASES = _REAL_BASES + (DumpedFuture,)
_KIND_NAMES[FUTURE] = "asyncio.Future"
