"""Stand-ins for the objects of a loaded dump that cannot be themselves.

A loaded dump gives back builtin values as themselves (ints, strs, lists,
dicts...).  Everything else gets a stand-in made here, never the original
class: the dumped program's modules are not imported and nothing from the
file runs.

- Instances of classes defined in Python: an instance of a *surrogate
  class* (one per dumped class, a subclass of ``Instance``) with the
  original ``__name__``, ``__qualname__`` and ``__module__``, whose
  attributes read as attributes (``user.name``) and whose repr is the
  default one with the original address:
  ``<myapp.models.User object at 0x7f12a4c3e0d0>``.  Class attributes are
  on the class (``user.LIMIT``), except dunder methods: a dumped
  ``__eq__`` or ``__getattr__`` never becomes behaviour.
- Objects of C types the dumper cannot read (sockets, locks...): an
  ``Opaque`` surrogate, ``<_socket.socket object at 0x... (opaque)>``,
  with the named attributes it had and its referents
  (``referents(obj)``).
- Builtin subclasses (a dict subclass...): an instance of a subclass of the
  builtin type with the original names; ``OrderedDict``, ``defaultdict``
  and ``Counter`` come back as themselves; namedtuples answer to their
  field names (``point.x``).
- Values the dump shortened: ``CutStr``, ``CutList``... (subclasses of the
  builtin type, with ``original_length``).  Values the dump left out:
  ``Omitted`` / ``Redacted`` placeholders; objects lost with a truncated
  file: ``Lost``.

The C base ``Surrogate`` (in heapdump._heapdump) holds the original
address and id; ``address(obj)`` and ``dump_id(obj)`` read them.
"""

from __future__ import annotations

import gc
import reprlib
import types

from heapdump import _format as F
from heapdump import _heapdump

__all__ = [
    "CALL_REFUSED",
    "UNBOUND",
    "DumpedAttributeError",
    "DumpedCodeError",
    "BuiltinFunction",
    "CutBytearray",
    "CutBytes",
    "CutDict",
    "CutFrozenset",
    "CutList",
    "CutSet",
    "CutStr",
    "CutTuple",
    "DumpedModule",
    "Function",
    "Generator",
    "Instance",
    "Lost",
    "Omitted",
    "Opaque",
    "Placeholder",
    "Redacted",
    "RedactedBytearray",
    "RedactedBytes",
    "RedactedStr",
    "Surrogate",
    "UnknownObject",
    "Unreadable",
    "WeakRef",
    "address",
    "dump_id",
    "is_surrogate",
    "referents",
]

Surrogate = _heapdump.Surrogate


class DumpedCodeError(Exception):
    """What a dump cannot answer as the live program would, because the
    answer is code of the dumped program (a property, an overridden
    method, a function or a class to call): that code ran in the dumped
    process, and nothing from the file runs here."""


class DumpedAttributeError(DumpedCodeError, AttributeError):
    """A DumpedCodeError on reading an attribute (a property, a
    ``__getattr__``): an AttributeError too, so that ``hasattr()`` and
    the tools that probe attributes go on."""


#: The one message for calling what came from a dump.
CALL_REFUSED = ("functions from a dump cannot be called: their code ran "
                "in the dumped process")


def refuse_call(*args, **kwargs):
    """The ``_`` of the rebuilt functions' globals: each line of their
    stub code calls it, so calling one raises DumpedCodeError naming it."""
    import sys

    code = sys._getframe(1).f_code
    name = getattr(code, "co_qualname", None)
    if name is None:
        # before 3.11 the code has no qualname: the stub passes it
        # (heapdump._frames._stub)
        name = args[0] if args and isinstance(args[0], str) else \
            code.co_name
    raise DumpedCodeError("%s() (from %s): %s" % (name, code.co_filename,
                                                  CALL_REFUSED))


#: The reprs that know libraries' classes (Enum flags, dataclasses, attrs,
#: pydantic...): heapdump._classes, which builds on this module, puts its
#: own here when it is imported (the loader imports it); until then a
#: stand-in has the plain repr.
_REPRS = {
    "flag_names": lambda obj, value: None,
    "library_repr": lambda obj: None,
}


def _refuse_new(cls, *args, **kwargs):
    qual = type.__getattribute__(cls, "__qualname__")
    mod = type.__getattribute__(cls, "__module__")
    raise DumpedCodeError(
        "%s(): classes from a dump cannot be called: their code ran in "
        "the dumped process (%s is a stand-in made from the dumped "
        "state)" % (_dotted(mod, qual), qual))


def address(obj):
    """The address obj had in the dumped process (surrogates only), or
    None.  For any loaded object, ``Dump.address_of(obj)``."""
    info = _heapdump.surrogate_info(obj)
    return None if info is None else info[0]


def dump_id(obj):
    """The id of a surrogate's record in the dump, or None."""
    info = _heapdump.surrogate_info(obj)
    if info is None or info[1] < 0:
        return None
    return info[1]


def is_surrogate(obj):
    return _heapdump.surrogate_info(obj) is not None


def referents(obj):
    """What obj referred to in the dumped process.

    For an opaque surrogate: the objects its type's ``tp_traverse``
    visited (as ``gc.get_referents`` would have said), less its type and
    its attributes.  For other surrogates: their attribute values.  For a
    builtin value: ``gc.get_referents(obj)``.  A tuple.
    """
    refs = _heapdump.surrogate_referents(obj)
    if refs is not None:
        return refs
    if is_surrogate(obj):
        d = object.__getattribute__(obj, "__dict__")
        return tuple(d.values()) if isinstance(d, dict) else ()
    return tuple(gc.get_referents(obj))


def _names_of(obj):
    """(module, qualname) of obj's class, read without user code."""
    cls = type(obj)
    mod = type.__getattribute__(cls, "__module__")
    qual = type.__getattribute__(cls, "__qualname__")
    return mod, qual


def _dotted(module, qualname):
    if not isinstance(module, str) or module == "builtins":
        return str(qualname)
    return "%s.%s" % (module, qualname)


class Instance(Surrogate):
    """Base of the surrogate classes of dumped instances.  Calling one of
    them raises DumpedCodeError (the loader makes instances in C)."""

    __slots__ = ()
    __new__ = _refuse_new

    def __repr__(self):
        d = object.__getattribute__(self, "__dict__")
        name = d.get("_name_") if isinstance(d, dict) else None
        if isinstance(d, dict) and "_name_" in d and "_value_" in d:
            # an enum member (name None: a composite Flag before 3.11)
            if name is None:
                name = _REPRS["flag_names"](self, d["_value_"])
            if isinstance(name, str):
                qual = type.__getattribute__(type(self), "__qualname__")
                return "<%s.%s: %r>" % (qual, name, d["_value_"])

        text = _REPRS["library_repr"](self)
        return Surrogate.__repr__(self) if text is None else text


class Opaque(Surrogate):
    """Base of the surrogate classes of objects of unreadable C types."""

    __slots__ = ()
    __new__ = _refuse_new

    def __getattr__(self, name):
        # only when the attribute is neither the object's nor its class's
        # in the dump: a C type's methods and computed attributes are C
        # code, whose dumps (before 3.12, of static types) do not list them
        cls = type(self)
        if name[:2] == name[-2:] == "__":
            raise AttributeError(name)      # protocol probes stay plain
        raise DumpedAttributeError(
            "%r object (opaque, of the C type %s) has no attribute %r in "
            "the dump: what a C type's methods and computed attributes "
            "give is the dumped program's C code, which cannot run here "
            "(%s)" % (type.__getattribute__(cls, "__name__"),
                      _dotted(type.__getattribute__(cls, "__module__"),
                              type.__getattribute__(cls, "__qualname__")),
                      name, CALL_REFUSED))


class DequeView:
    """Mixed into the stand-in class of ``collections.deque`` in a dump of
    format 1.3 or older (an opaque C object whose referents are its items,
    in order): it reads as a sequence of them.  ``maxlen`` is not in such
    a dump (its dumper read a deque through its traverse, which does not
    say it).  From 1.4 a deque is a NATIVE record, loaded as a real deque
    with its maxlen (heapdump._natives)."""

    __slots__ = ()

    def _items(self):
        return referents(self)

    def __iter__(self):
        return iter(self._items())

    def __reversed__(self):
        return reversed(self._items())

    def __len__(self):
        return len(self._items())

    def __getitem__(self, i):
        return self._items()[i]

    def __contains__(self, x):
        return x in self._items()

    def __bool__(self):
        return bool(self._items())

    def __repr__(self):
        name = type.__getattribute__(type(self), "__qualname__")
        return "%s(%r) (maxlen not in the dump)" % (name,
                                                    list(self._items()))

    @property
    def maxlen(self):
        raise DumpedAttributeError(
            "deque.maxlen is not in this dump: its format (1.3 or older) "
            "wrote a deque's items only, read through its traverse")


def _coro_label(coro):
    """A coroutine as asyncio's repr of a task names it:
    ``<child() running at /app/x.py:3>``, ``<child() done, defined at
    /app/x.py:1>`` once finished, from the dumped frame or code."""
    try:
        d = object.__getattribute__(coro, "__dict__")
    except AttributeError:
        return repr(coro)
    qual = d.get("__qualname__", "?")
    frame = d.get("cr_frame", d.get("gi_frame"))
    code = d.get("cr_code", d.get("gi_code"))
    if isinstance(frame, types.FrameType):
        # realized for pdb (heapdump._frames)
        where, lineno = frame.f_code.co_filename, frame.f_lineno
    elif frame is not None:
        where = getattr(getattr(frame, "code", None), "filename", None)
        lineno = getattr(frame, "lineno", None)
    else:
        # a real code object, or heapdump._model.Code
        where = getattr(code, "co_filename", getattr(code, "filename", None))
        lineno = getattr(code, "co_firstlineno",
                         getattr(code, "firstlineno", None))
        if where is not None and lineno is not None:
            return "<%s() done, defined at %s:%s>" % (qual, where, lineno)
    if where is None or lineno is None:
        return "<%s()>" % qual
    return "<%s() running at %s:%s>" % (qual, where, lineno)


#: asyncio, imported while a dump with futures or tasks loads: at the
#: prompt the dumped program's modules may stand in for those it had not
#: imported (heapdump._frames.install_modules)
_ASYNCIO = []


def import_asyncio():
    """asyncio (imported once, at load time: see _ASYNCIO)."""
    if not _ASYNCIO:
        import asyncio
        _ASYNCIO.append(asyncio)
    return _ASYNCIO[0]


def outcome_repr(result, exception):
    """``result=...`` or ``exception=...``, as asyncio's repr of a
    finished future or task shows its outcome."""
    if exception is not None:
        return "exception=%r" % (exception,)
    return "result=%s" % reprlib.repr(result)


def future_outcome(what, state, result, exception, cancel_msg, want):
    """What a live future's (or task's) ``result()`` (want "Result") or
    ``exception()`` (want "Exception") gives or raises, from its dumped
    state ("pending", "cancelled", "finished"), result, exception and
    cancel message."""
    asyncio = import_asyncio()
    if state == "pending":
        raise asyncio.InvalidStateError("%s is not set." % want)
    if state == "cancelled":
        raise asyncio.CancelledError(
            *(() if cancel_msg is None else (cancel_msg,)))
    if want == "Exception":
        return exception
    if exception is None:
        return result
    if isinstance(exception, BaseException):
        raise exception
    raise DumpedCodeError("%s: it failed with %r, which is not an "
                          "exception here" % (what, exception))


def task_cancelled_error(kept, version):
    """What a cancelled task's ``result()`` raises, from the CancelledError
    it kept (its TASK record's ``cancelled_exc``) and the dumped Python's
    (major, minor): 3.11+ raise the one kept; 3.9 and 3.10 a new
    ``CancelledError()`` whose context is it.  None: a plain one."""
    if not isinstance(kept, BaseException):
        return None
    if version is None or version >= (3, 11):
        return kept
    err = import_asyncio().CancelledError()
    err.__context__ = kept
    return err


class TaskView:
    """Mixed into the stand-in class of ``asyncio.Task`` (the C
    ``_asyncio.Task`` and its subclasses): what the dump's TASK record
    says of it (format 1.4, heapdump._model.Task) answers ``get_name()``,
    ``done()``, ``cancelled()``, ``get_coro()``, ``get_loop()`` and its
    repr, as a live task's would (``<Task pending name='kid'
    coro=<child() running at /app/x.py:3> wait_for=<Future pending>>``);
    ``result()`` and ``exception()`` from the record's result and
    exception, raising as the live task would.  Its callbacks are not
    named in the record: the repr does not list them.  The loader sets the
    record as the stand-in's ``_heapdump_task`` once the tasks are read."""

    __slots__ = ()
    #: what this view answers: the loader does not set the dumped class's
    #: attributes of these names over it
    view_names = frozenset({"get_name", "done", "cancelled", "get_coro",
                            "get_loop", "result", "exception",
                            "__repr__"})

    def _task(self, what):
        try:
            return object.__getattribute__(self, "_heapdump_task")
        except AttributeError:
            raise DumpedCodeError(
                "%s: this task is not among the dump's tasks (no TASK "
                "record: an older format, or a task of no running loop)"
                % what) from None

    def get_name(self):
        return self._task("Task.get_name()").name

    def done(self):
        state = self._task("Task.done()").state
        if state is None:
            raise DumpedCodeError("Task.done(): the dump did not read this "
                                  "task's state")
        return state != "pending"

    def cancelled(self):
        state = self._task("Task.cancelled()").state
        if state is None:
            raise DumpedCodeError("Task.cancelled(): the dump did not read "
                                  "this task's state")
        return state == "cancelled"

    def get_coro(self):
        return self._task("Task.get_coro()").coro

    def get_loop(self):
        return self._task("Task.get_loop()").loop

    def _outcome(self, want):
        what = "Task.%s()" % want.lower()
        task = self._task(what)
        if task.state is None or (task.state == "finished" and
                                  not task.outcome_read):
            raise DumpedCodeError("%s: the dump did not read this task's "
                                  "%s" % (what, "state" if task.state is None
                                          else "outcome"))
        if task.state == "cancelled" and task.cancelled_error is not None:
            raise task.cancelled_error
        return future_outcome(what, task.state, task.result, task.exception,
                              None, want)

    def result(self):
        return self._outcome("Result")

    def exception(self):
        return self._outcome("Exception")

    @reprlib.recursive_repr()  # "..." for itself, as asyncio says it
    def __repr__(self):
        try:
            task = object.__getattribute__(self, "_heapdump_task")
        except AttributeError:
            return Opaque.__repr__(self)
        parts = [task.state or "state unread", "name=%r" % (task.name,)]
        if task.coro is not None:
            parts.append("coro=%s" % _coro_label(task.coro))
        if task.awaits is not None:
            parts.append("wait_for=%r" % (task.awaits,))
        if task.state == "finished" and task.outcome_read:
            parts.append(outcome_repr(task.result, task.exception))
        return "<%s %s>" % (type.__getattribute__(type(self), "__name__"),
                            " ".join(parts))


#: Opaque C types that read as what they hold, by (module, qualname).
OPAQUE_VIEWS = {("collections", "deque"): DequeView,
                ("_asyncio", "Task"): TaskView}


class BuiltinFunction(Surrogate):
    """A builtin function or method (``__name__``, ``__qualname__``,
    ``__module__``, ``__self__``)."""

    __slots__ = ()

    def __repr__(self):
        d = object.__getattribute__(self, "__dict__")
        name = d.get("__name__", "?")
        owner = d.get("__self__")
        if owner is None or isinstance(owner, DumpedModule):
            return "<built-in function %s>" % name
        qual = _dotted(*_names_of(owner)) if not isinstance(owner, type) \
            else getattr(owner, "__qualname__", "?")
        addr = address(owner)
        if addr is None:
            return "<built-in method %s of %s object>" % (name, qual)
        return "<built-in method %s of %s object at 0x%x>" % (name, qual,
                                                               addr)


class Function(Surrogate):
    """A function that could not be rebuilt as a real one."""

    __slots__ = ()

    def __repr__(self):
        d = object.__getattribute__(self, "__dict__")
        return "<function %s at 0x%x>" % (d.get("__qualname__", "?"),
                                          address(self) or 0)


class Generator(Surrogate):
    """A generator, coroutine or async generator: ``gi_frame`` (a dumped
    Frame, None once finished), ``gi_code``, ``state`` (created, suspended,
    running, closed), ``flavor``, ``__name__``, ``__qualname__``."""

    __slots__ = ()

    def __repr__(self):
        d = object.__getattribute__(self, "__dict__")
        flavor = d.get("flavor", "generator")
        label = {"async_generator": "async_generator"}.get(flavor, flavor)
        return "<%s object %s at 0x%x>" % (label, d.get("__qualname__", "?"),
                                           address(self) or 0)


class WeakRef(Surrogate):
    """A weak reference: calling it gives the referent, or None when it
    was dead at the time of the dump."""

    __slots__ = ()

    def __call__(self):
        d = object.__getattribute__(self, "__dict__")
        return d.get("referent")

    def __repr__(self):
        ref = self()
        if ref is None:
            return "<weakref at 0x%x; dead>" % (address(self) or 0)
        target = _dotted(*_names_of(ref))
        addr = address(ref)
        if addr is None:
            return "<weakref at 0x%x; to '%s'>" % (address(self) or 0,
                                                   target)
        return "<weakref at 0x%x; to '%s' at 0x%x>" % (address(self) or 0,
                                                       target, addr)


class DumpedModule(types.ModuleType):
    """A module of the dumped process: its name and file, not an import.
    In a heap-scope dump its namespace is in the file too: its globals are
    the module's attributes (the loaded values)."""

    def __repr__(self):
        d = object.__getattribute__(self, "__dict__")
        f = d.get("__file__")
        if isinstance(f, str):
            return "<module %r from %r (dumped)>" % (d.get("__name__"), f)
        return "<module %r (dumped)>" % (d.get("__name__"),)


# ------------------------------------------------------------ placeholders

class Placeholder:
    """A value the dump does not hold.  Never equal to anything but
    itself, and false."""

    __slots__ = ()

    def __bool__(self):
        return False


class Omitted(Placeholder):
    """An object left out because a dump limit was reached."""

    __slots__ = ("module", "qualname", "size")
    what = "omitted"
    why = "a dump limit was reached"

    def __init__(self, module, qualname, size):
        self.module = module
        self.qualname = qualname
        self.size = size

    def __repr__(self):
        return "<%s: %s object, %s bytes (%s)>" % (
            self.what, _dotted(self.module, self.qualname), self.size,
            self.why)


#: Why a value was redacted (the REDACTED marker's reason, format 1.2),
#: in words.
REDACTED_WHY = {
    "name": "its name looks secret",
    "value": "it holds a secret known by value",
    "environ": "it holds the environment",
    "url": "a URL password",
    "token": "a known key format",
}


class Redacted(Omitted):
    """A value replaced because its name looks secret, or because it
    holds a secret known by value or the environment (``reason``: "name",
    "value", "environ"; None in files before format 1.2)."""

    __slots__ = ("reason",)
    what = "redacted"

    def __init__(self, module, qualname, size, reason=None):
        super().__init__(module, qualname, size)
        self.reason = reason if isinstance(reason, str) else None

    @property
    def why(self):
        if self.reason is None:
            return "its name looks secret, or it holds the environment"
        return REDACTED_WHY.get(self.reason, self.reason)


class Lost(Placeholder):
    """An object whose record was lost with the end of a truncated file."""

    __slots__ = ("id",)

    def __init__(self, id):
        self.id = id

    def __repr__(self):
        return "<lost: object %d (the file is truncated)>" % self.id


class Unreadable(Placeholder):
    """An object a crash dump could not read (a fault while reading it)."""

    __slots__ = ("address", "id", "reason")

    def __init__(self, id, address, reason):
        self.id = id
        self.address = address
        self.reason = reason

    def __repr__(self):
        return "<unreadable object at 0x%x: %s>" % (
            self.address & 0xFFFFFFFFFFFFFFFF,
            self.reason if isinstance(self.reason, str) else "a fault")


class UnknownObject(Placeholder):
    """An object record of a kind this heapdump does not know."""

    __slots__ = ("address", "id", "kind")

    def __init__(self, kind, id, address):
        self.kind = kind
        self.id = id
        self.address = address

    def __repr__(self):
        return "<unknown object (record kind %d) at 0x%x>" % (
            self.kind, self.address & 0xFFFFFFFFFFFFFFFF)


class _Sentinel:
    __slots__ = ("_name",)

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return self._name

    def __reduce__(self):
        return self._name


#: An unbound local or an unset slot, as fields() gives it.
UNBOUND = _Sentinel("UNBOUND")
#: A reference to an object not built yet (only while loading).
PENDING = _Sentinel("PENDING")


# ------------------------------------------------------ partly redacted

class _RedactedValue:
    """Mixed into the str, bytes and bytearray whose hidden pieces the
    dump left out (format 1.2): the value holds the kept pieces with
    ``[redacted]`` where each hidden one was.  ``redacted``: ((start,
    length, reason), ...) of the hidden pieces in the original value;
    ``original_length``; ``dumped_type``: the original's module and
    qualname; ``complete``: False when the dump kept only the start of the
    value (max_string)."""

    __slots__ = ()

    def _pieces(self):
        return self.__dict__.get("pieces", ())

    def __repr__(self):
        parts = []
        for piece in self._pieces():
            if isinstance(piece, tuple):
                n, reason = piece
                unit = "chars" if isinstance(self, str) else "bytes"
                parts.append("<redacted %d %s: %s>" % (n, unit, reason))
            elif piece:
                parts.append(type(piece).__repr__(piece))
        if not parts:
            parts.append(self._base.__repr__(self._base()))
        text = " + ".join(parts)
        if not self.__dict__.get("complete", True):
            text += " ... (cut: %s of %s)" % (
                "the start", self.__dict__.get("original_length"))
        return text


class RedactedStr(_RedactedValue, str):
    _base = str


class RedactedBytes(_RedactedValue, bytes):
    _base = bytes


class RedactedBytearray(_RedactedValue, bytearray):
    _base = bytearray


#: The marker that stands for a hidden piece in a partly redacted value
#: (the dumper's, src/format.h HD_REDACTED_TEXT).
REDACTED_MARK = F.REDACTED_TEXT


def partly_redacted(module, qualname, size, pieces):
    """The stand-in for a value whose hidden pieces were left out:
    pieces is [kind, length, text, [[start, length, reason]...]] (format
    1.2); raises ValueError when they do not fit together."""
    if not (isinstance(pieces, list) and len(pieces) >= 4):
        raise ValueError("malformed REDACTED pieces")
    kind, length, text, holes = pieces[:4]
    classes = {4: (RedactedStr, str), 5: (RedactedBytes, bytes),
               6: (RedactedBytearray, bytes)}
    if kind not in classes or type(length) is not int or length < 0 or \
            not isinstance(holes, list):
        raise ValueError("malformed REDACTED pieces")
    cls, text_type = classes[kind]
    if type(text) is not text_type:
        raise ValueError("REDACTED pieces: the kept text of a %s is no %s"
                         % (cls._base.__name__, text_type.__name__))
    mark = REDACTED_MARK if text_type is str else REDACTED_MARK.encode()
    out, parts, redacted = [], [], []
    at = used = hidden = 0
    for hole in holes:
        if not (isinstance(hole, list) and len(hole) >= 3 and
                type(hole[0]) is int and type(hole[1]) is int and
                hole[0] >= at and hole[1] > 0 and
                hole[0] + hole[1] <= length):
            raise ValueError("REDACTED pieces: bad hidden piece %r"
                             % (hole,))
        start, n, reason = hole[:3]
        kept = text[used:used + start - at]
        used += start - at
        out += [kept, mark]
        parts += [kept, (n, reason if isinstance(reason, str) else "?")]
        redacted.append((start, n, reason))
        at = start + n
        hidden += n
    if len(text) + hidden > length:
        raise ValueError("REDACTED pieces: more text than the value had")
    rest = text[used:]
    out.append(rest)
    parts.append(rest)
    value = cls(text_type().join(out))
    value.__dict__.update(
        pieces=tuple(parts), redacted=tuple(redacted),
        original_length=length, dumped_type=(module, qualname),
        size=size, complete=len(text) + hidden == length)
    return value


REDACTED_CLASSES = (RedactedStr, RedactedBytes, RedactedBytearray)


# ------------------------------------------------------------ cut values

def _more(obj, unit):
    """The marker a cut value's repr ends in: how many elements the dump
    left out, and how many there were."""
    return more_marker(obj.__dict__.get("original_length"), len(obj), unit)


def more_marker(original, shown, unit):
    """``<N more UNIT not dumped, M in all>`` for a value cut from original
    elements to shown (``<more UNIT not dumped>`` when original is not a
    count)."""
    if not isinstance(original, int) or original < shown:
        return "<more %s not dumped>" % unit
    return "<%s more %s not dumped, %s in all>" % (
        format(original - shown, ","), unit, format(original, ","))


class CutStr(str):
    """The first characters of a longer str.  ``original_length``; len()
    is the number of characters in the dump."""

    def __repr__(self):
        return "%s %s" % (str.__repr__(self), _more(self, "chars"))


class CutBytes(bytes):
    """The first bytes of a longer bytes.  ``original_length``."""

    def __repr__(self):
        return "%s %s" % (bytes.__repr__(self), _more(self, "bytes"))


class CutBytearray(bytearray):
    def __repr__(self):
        return "%s %s" % (bytearray.__repr__(self), _more(self, "bytes"))


def _cut_repr(base_repr, obj):
    """The builtin's repr with the marker as its last element:
    ``[0, 1, <19,998 more items not dumped, 20,000 in all>]``."""
    more = _more(obj, "items")
    if isinstance(obj, (set, frozenset)):
        # set's repr of a subclass names the subclass
        items = [repr(x) for x in obj.__class__.__mro__[1].__iter__(obj)]
        body = "{%s}" % ", ".join(items + [more])
        return "frozenset(%s)" % body if isinstance(obj, frozenset) \
            else body
    text = base_repr(obj)
    if isinstance(obj, tuple) and len(obj) == 1:
        text = text[:-2] + ")"          # (1,) -> (1, <more>)
    if not len(obj):
        return text[:-1] + more + text[-1]
    return text[:-1] + ", " + more + text[-1]


class CutTuple(tuple):
    """The first items of a longer tuple.  ``original_length``; len() is
    the number of items in the dump (the builtin's)."""

    def __repr__(self):
        return _cut_repr(tuple.__repr__, self)


class CutList(list):
    """The first items of a longer list (see CutTuple)."""

    def __repr__(self):
        return _cut_repr(list.__repr__, self)


class CutDict(dict):
    """The first items of a longer dict (see CutTuple)."""

    def __repr__(self):
        return _cut_repr(dict.__repr__, self)


class CutSet(set):
    def __repr__(self):
        return _cut_repr(set.__repr__, self)


class CutFrozenset(frozenset):
    def __repr__(self):
        return _cut_repr(frozenset.__repr__, self)


CUT_CLASSES = {
    F.STR: CutStr, F.BYTES: CutBytes, F.BYTEARRAY: CutBytearray,
    F.TUPLE: CutTuple, F.LIST: CutList, F.DICT: CutDict, F.SET: CutSet,
    F.FROZENSET: CutFrozenset,
}


# ----------------------------------------------- builtin subclass surrogates

class _BuiltinSubclass:
    """Mixed into the surrogate classes of builtin subclasses: a repr that
    names the class.  heapdump's own code, not the dumped class's."""

    __slots__ = ()

    def __repr__(self):
        cls = type(self)
        name = type.__getattribute__(cls, "__qualname__")
        base = _builtin_base(cls)
        d = getattr(self, "__dict__", None)
        if isinstance(d, dict) and isinstance(d.get("_name_"), str) and \
                "_value_" in d:
            # an enum member of a mixed-in enum (IntEnum, StrEnum...)
            return "<%s.%s: %r>" % (name, d["_name_"], d["_value_"])
        fields = cls.__dict__.get("_fields")
        if base is tuple and isinstance(fields, tuple) and \
                len(fields) == len(self) and \
                all(isinstance(f, str) for f in fields):
            return "%s(%s)" % (name, ", ".join(
                "%s=%r" % (f, v) for f, v in zip(fields, self)))
        return "%s(%s)" % (name, base.__repr__(self))


_BUILTINS = (dict, list, set, frozenset, tuple, str, bytes, bytearray, int,
             float, complex)


def _builtin_base(cls):
    for klass in cls.__mro__:
        if klass in _BUILTINS:
            return klass
    return object
