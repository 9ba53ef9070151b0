"""heapdump.load(): a dump file -> heapdump.Dump.

The pipeline (docs/format.rst is the contract):

1. the MIME header block, parsed with ``email.parser.BytesHeaderParser``;
   a file without heapdump headers is not a dump, a newer major format
   version is refused;
2. ``_heapdump.Loader`` (src/reader/) streams the zstd body, turns the
   msgpack records into objects (builtin values as themselves, surrogates
   for the rest: see heapdump._surrogates) and calls back into the
   ``_Builder`` below (the protocol: ``LOADER_PROTOCOL``) once per TYPE,
   CODE and FUNCTION record and for every placeholder;
3. ``_Builder.fill`` turns the frames, tracebacks, exceptions, threads...
   into the model of heapdump._model, from ``Loader.fields(id)``.

Nothing from the file is executed: no import of a dumped module name, no
pickle, no eval, no call of a dumped object; classes are made with
``type()`` from names only and never get dunder methods from the file.
The cyclic GC is paused while the objects are made (it would scan the
growing heap over and over) and restored afterwards.

Limits against hostile files (``None`` turns one off):

``max_record_bytes``  one record, uncompressed (default 256 MiB); a record
                      also holds at most 2**20 msgpack items, and a
                      container record at most 65,536 elements (a RUN
                      counts as its length), refused at their headers
``max_body_bytes``    the whole body, uncompressed, plus one per container
                      element (default 2 GiB: twice the dumper's default
                      ``max_bytes``)
``max_objects``       object records (default 10 million: ten times the
                      dumper's default ``max_objects``)
``max_ratio``         how many times the compressed body the uncompressed
                      one may be, once past 64 MiB (default 200; real dumps
                      compress 3 to 20 times): a zstd bomb is refused after
                      64 MiB of output, not after gigabytes

Memory: the decompression window is about twice the largest record; the
rest is proportional to what the file describes (the records not yet made
into objects, then the objects), within the limits above.
"""

from __future__ import annotations

import argparse
import array
import builtins
import collections
import gc
import io
import operator
import os
import sys
import tokenize
import types
import warnings

from heapdump import _classes, _heapdump, _model, _natives, _values
from heapdump import _surrogates as S
from heapdump._format import (
    BYTEARRAY,
    BYTES,
    CFUNCTION,
    CK_FREE,
    CK_HIDDEN,
    COMPLEX,
    DICT,
    ERROR,
    EXCEPTION,
    FLOAT,
    FRAME,
    FROZENSET,
    FUNCTION,
    GENERATOR,
    INT,
    LIST,
    META,
    MODULE,
    NATIVE,
    OPAQUE,
    ROOT,
    SET,
    SOURCE,
    STR,
    TASK,
    THREAD,
    TRACEBACK,
    TRAILER,
    TUPLE,
    TYPE,
    WEAKREF,
)
from heapdump._header import read_headers as _read_headers
from heapdump._identity import address_of, id_of
from heapdump._model import HeapdumpError

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_OBJECTS",
    "DEFAULT_MAX_RATIO",
    "DEFAULT_MAX_RECORD_BYTES",
    "HeapdumpWarning",
    "address_of",
    "id_of",
    "load",
]

DEFAULT_MAX_RECORD_BYTES = 256 << 20
DEFAULT_MAX_BODY_BYTES = 2 << 30
DEFAULT_MAX_OBJECTS = 10_000_000
DEFAULT_MAX_RATIO = 200

_BUILTIN_OF_KIND = {INT: int, FLOAT: float, COMPLEX: complex, STR: str,
                    BYTES: bytes, BYTEARRAY: bytearray, TUPLE: tuple,
                    LIST: list, DICT: dict, SET: set, FROZENSET: frozenset}

#: Classes of the standard library that come back as themselves: making
#: their instances runs none of their code (the loader fills them through
#: the C API of dict), and they carry their own meaning (ordering, the
#: default factory, counting).
_SAFE_CLASSES = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("collections", "defaultdict"): collections.defaultdict,
    ("collections", "Counter"): collections.Counter,
}

#: Pure-Python classes of the standard library whose instances carry their
#: whole state in their attributes: the stand-in class of one (recognised
#: by module and qualname) derives from the real class too, so that the
#: real methods (this Python's standard library, nothing from the file)
#: run over the loaded state: ``list(chain)``, ``chain["k"]``,
#: ``ud.data``.  Its dumped attributes are not copied onto it.
_STDLIB_BEHAVIOUR = {
    ("collections", "ChainMap"): collections.ChainMap,
    ("collections", "UserDict"): collections.UserDict,
    ("collections", "UserList"): collections.UserList,
    ("collections", "UserString"): collections.UserString,
    ("argparse", "Namespace"): argparse.Namespace,
}

def _stdlib_behaviour(module, qualname):
    """What the stand-in class of module.qualname derives from first: the
    real class of _STDLIB_BEHAVIOUR, or the view of a value class of the
    standard library that keeps its state in slots (heapdump._values), or
    None."""
    real = _STDLIB_BEHAVIOUR.get((module, qualname))
    return real if real is not None else _values.view_class(module, qualname)

_HEAPTYPE = 1 << 9    # Py_TPFLAGS_HEAPTYPE

#: Dunder class attributes that are plain data, kept on surrogate classes.
_DATA_DUNDERS = {"__doc__", "__slots__", "__match_args__", "__annotations__",
                 "__firstlineno__", "__static_attributes__"}


class HeapdumpWarning(RuntimeWarning):
    """A dump loaded with something missing (a truncated file)."""


def _builtin_types():
    table = {}
    for name, obj in vars(builtins).items():
        if isinstance(obj, type):
            table[name] = obj
    extra = [type(None), type(NotImplemented), type(Ellipsis),
             type({}.keys()), type({}.values()), type({}.items()),
             type(iter([])), type(iter(())), type(iter("")),
             type(iter({})), type(iter(set())), type(iter(range(0)))]
    extra += [v for v in vars(types).values() if isinstance(v, type)]
    for t in extra:
        if t.__module__ == "builtins":
            table.setdefault(t.__name__, t)
    return table


_BUILTIN_TYPES = _builtin_types()


# ------------------------------------------------------------------ classes

def _names_of_type(t):
    """(name, qualname, module) of a loaded type or placeholder."""
    if isinstance(t, type):
        try:
            return (type.__getattribute__(t, "__name__"),
                    type.__getattribute__(t, "__qualname__"),
                    type.__getattribute__(t, "__module__"))
        except AttributeError:
            pass
    if isinstance(t, S.Lost):
        return ("lost", "lost", None)
    return ("?", "?", None)


def _family_root(kind):
    if kind in _BUILTIN_OF_KIND:
        return _BUILTIN_OF_KIND[kind]
    if kind == EXCEPTION:
        return BaseException
    if kind == OPAQUE:
        return S.Opaque
    return S.Instance


def _is_dunder(name):
    return len(name) > 4 and name[:2] == name[-2:] == "__"


def _clean_name(name, default="?"):
    if not isinstance(name, str) or not name:
        return default
    return name.replace("\0", "?")


_SLOT_DESCRIPTORS = {("builtins", "member_descriptor"),
                     ("builtins", "getset_descriptor"),
                     ("_collections", "_tuplegetter")}


def _is_slot_descriptor(value):
    if not isinstance(value, S.Opaque):
        return False
    cls = type(value)
    return (type.__getattribute__(cls, "__module__"),
            type.__getattribute__(cls, "__qualname__")) in _SLOT_DESCRIPTORS


def _new_class(name, qualname, module, bases, kind, behaviour=None):
    """A surrogate class: a subclass of the family root of kind (Instance,
    Opaque, an exception, a builtin type) with these names, deriving from
    those of bases that fit the family (and first from behaviour, a class
    of _STDLIB_BEHAVIOUR, when given).  Never gets anything from the file
    but its names."""
    root = _family_root(kind)
    if behaviour is None and root is S.Opaque:
        behaviour = S.OPAQUE_VIEWS.get((module, qualname))
    good = [behaviour, root] if behaviour is not None else []
    for b in bases or ():
        if (isinstance(b, type) and b is not object and
                issubclass(b, root) and b not in good and
                not (behaviour is not None and issubclass(behaviour, b))):
            if root in (S.Instance, S.Opaque) and not issubclass(b, root):
                continue
            good.append(b)
    if not good:
        good = [Exception if root is BaseException else root]
    if kind in _BUILTIN_OF_KIND and all(b in S._BUILTINS for b in good):
        good.insert(0, S._BuiltinSubclass)
    ns = {"__module__": module, "__qualname__": _clean_name(qualname)}
    if root in (S.Instance, S.Opaque):
        ns["__slots__"] = ()
    name = _clean_name(name)
    last = None
    fallback = [Exception if root is BaseException else root]
    if kind in _BUILTIN_OF_KIND:
        fallback.insert(0, S._BuiltinSubclass)
    for attempt in (good, good[:1], fallback):
        try:
            cls = type(name, tuple(attempt), dict(ns))
            break
        except (TypeError, ValueError) as e:
            last = e
    else:
        raise HeapdumpError("cannot make a class %s: %s" % (name, last))
    if "__slots__" in ns:
        type.__delattr__(cls, "__slots__")
    return cls


def _new_native_class(name, qualname, module, base):
    """The class of a Python subclass of a native C type (a datetime or
    deque subclass): derives from base (the real type, or the loader's
    class of a subclass of it), gets the dumped class's names and, once
    filled, its plain attributes; heapdump._classes guards what it
    overrides."""
    ns = {"__module__": module, "__qualname__": _clean_name(qualname)}
    try:
        return type(_clean_name(name), _natives.native_class_bases(base), ns)
    except (TypeError, ValueError) as e:
        raise HeapdumpError("cannot make a class %s: %s" % (name, e)) from None


# ------------------------------------------------------------------ builder

# What the C Loader reads from its ``support`` object (a _Builder), in the
# order of its table (src/reader/protocol.h, exported as
# _heapdump.LOADER_CALLBACKS; tests/unit/test_loader_protocol.py checks that
# the two agree and that _Builder has them all): (name, parameters or None
# for a value, contract).  The Loader fetches each once when it is made and
# refuses a support object that lacks one.
LOADER_PROTOCOL = (
    ("HeapdumpError", None,
     "the exception class the loader raises for a malformed file"),
    ("UNBOUND", None,
     "the sentinel an unset slot (ext UNBOUND) decodes as"),
    ("PENDING", None,
     "the sentinel a soft reference to an object not built yet gives"),
    ("cut_classes", None,
     "dict kind -> class that a CUT (truncated) value of the kind is made as"),
    ("shell_classes", None,
     "dict kind -> heapdump's class for a frame, traceback, builtin "
     "function, module, generator or weakref shell, filled in phase 3"),
    ("lost", "oid",
     "the placeholder for a referenced id that no record defines "
     "(a truncated file), made once per id"),
    ("omitted", "module, qualname, size, *rest",
     "the placeholder for a value the dumper left out (ext OMITTED)"),
    ("redacted", "module, qualname, size, *rest",
     "the placeholder for a hidden value (ext REDACTED; rest: the reason "
     "and the pieces kept); raises HeapdumpError if the pieces are bad"),
    ("unreadable", "oid, addr, reason",
     "the placeholder for what a crash dump could not read"),
    ("unknown", "kind, oid, addr",
     "the placeholder for a record of an object kind this reader does not "
     "know (noted in Dump.warnings)"),
    ("class_for", "type_id, type_obj, kind",
     "the class an instance of the TYPE record type_id (-1: none) and "
     "kind is made as, a subclass of the kind's builtin"),
    ("make_type", "oid, fields",
     "the class made from a TYPE record's fields"),
    ("make_code", "oid, fields",
     "the code object (a real one, or a surrogate) of a CODE record"),
    ("make_function", "oid, fields",
     "the function (a real one, or a surrogate) of a FUNCTION record"),
    ("make_native", "oid, fields",
     "the object of a NATIVE record from [type, native, state] "
     "(heapdump._natives), or a container's empty shell from [type, "
     "native]; a stand-in that says why when the state makes none"),
)


class _Builder:
    """What the C Loader calls back (the ``support`` object: the attributes
    of ``LOADER_PROTOCOL``), and phase 3: the model objects filled from
    their records."""

    HeapdumpError = HeapdumpError
    UNBOUND = S.UNBOUND
    PENDING = S.PENDING
    cut_classes = S.CUT_CLASSES
    shell_classes = {FRAME: _model.Frame, TRACEBACK: _model.Traceback,
                     CFUNCTION: S.BuiltinFunction, MODULE: S.DumpedModule,
                     GENERATOR: S.Generator, WEAKREF: S.WeakRef}

    def __init__(self, path):
        self.path = path
        self.made = set()          # ids of TYPE records we made classes for
        self.type_attr_names = {}
        self.globals = {}          # module name -> globals of functions
        self.notes = []            # messages for Dump.warnings
        self._noted = set()
        self.tracebacks = {}       # id(exception) -> Traceback
        self.adapt = []            # (made class, its dumped attributes)
        self._real_code = None
        self._frames_tried = False
        self.loader = None

    def note(self, key, message):
        if key not in self._noted:
            self._noted.add(key)
            self.notes.append(message)

    # -- placeholders

    def omitted(self, module, qualname, size, *rest):
        return S.Omitted(module, qualname, size)

    def redacted(self, module, qualname, size, reason=None, pieces=None,
                 *rest):
        # format 1.2 adds the reason and, for a value of which only some
        # pieces were hidden, the pieces kept
        if pieces is None:
            return S.Redacted(module, qualname, size, reason)
        try:
            return S.partly_redacted(module, qualname, size, pieces)
        except ValueError as e:
            raise HeapdumpError("%s: %s" % (self.path, e)) from None

    def lost(self, oid):
        return S.Lost(oid)

    def unreadable(self, oid, addr, reason):
        return S.Unreadable(oid, addr, reason)

    def unknown(self, kind, oid, addr):
        self.note(("kind", kind), "records of an unknown object kind %d "
                  "were loaded as placeholders" % kind)
        return S.UnknownObject(kind, oid, addr)

    # -- classes

    def make_type(self, oid, fields):
        (name, qualname, module, meta, bases, base_kind, flags, firstlineno,
         attr_names) = fields[:9]
        name = _clean_name(name)
        qualname = qualname if isinstance(qualname, str) else name
        if module is not None and not isinstance(module, str):
            raise HeapdumpError("object %d (TYPE record): module is not a "
                                "str" % oid)
        if not isinstance(base_kind, int) or isinstance(base_kind, bool):
            raise HeapdumpError("object %d (TYPE record): base_kind is not "
                                "an int" % oid)
        if module == "builtins":
            real = _BUILTIN_TYPES.get(name)
            if real is not None and real.__qualname__ == qualname:
                return real
        real = _SAFE_CLASSES.get((module, qualname))
        if real is not None:
            return real
        if base_kind == NATIVE:
            real = _natives.real_type(module, qualname)
            if real is not None:
                return real      # a C type read exactly: the real one
        bases = bases if isinstance(bases, list) else []
        native = [b for b in bases if _natives.real_base(b) is not None]
        if base_kind == NATIVE and native:
            # a Python subclass of one: the loader's class derives from
            # the real type (whose C constructor makes its instances)
            cls = _new_native_class(name, qualname, module, native[0])
            type.__setattr__(cls, "__dumped_bases__", tuple(bases))
            self.made.add(oid)
            return cls
        bases = bases if isinstance(bases, list) else []
        behaviour = _stdlib_behaviour(module, qualname)
        if behaviour is not None and _family_root(base_kind) is S.Instance:
            # the real class's methods over the loaded state; the dumped
            # class's attributes stay off it (never added to self.made)
            return _new_class(name, qualname, module, [], base_kind,
                              behaviour)
        cls = _new_class(name, qualname, module, bases, base_kind)
        # all of them, also those the surrogate cannot derive from (an
        # IntEnum's Enum): heapdump._classes reads them
        type.__setattr__(cls, "__dumped_bases__", tuple(bases))
        if cls.__hash__ is None and isinstance(attr_names, list) and \
                "__hash__" in attr_names:
            # a subclass of list, dict, set... with a __hash__ of its own
            # (typing_extensions' ParamSpec on 3.9): its instances were
            # hashable, may be dict keys; the dumped __hash__ cannot run,
            # identity stands in for it
            type.__setattr__(cls, "__hash__", object.__hash__)
        if isinstance(firstlineno, int) and not isinstance(firstlineno,
                                                           bool):
            type.__setattr__(cls, "__firstlineno__", firstlineno)
        self.made.add(oid)
        return cls

    def class_for(self, type_id, type_obj, kind):
        root = _family_root(kind)
        if isinstance(type_obj, type) and issubclass(type_obj, root) and (
                kind not in _BUILTIN_OF_KIND or type_obj is root or
                type_obj.__flags__ & _HEAPTYPE or
                type_obj in _SAFE_CLASSES.values()):
            # a builtin subclass that is a C type (bool...) is never made:
            # its invariants are not the data's
            return type_obj
        name, qualname, module = _names_of_type(type_obj)
        return _new_class(name, qualname, module, (), kind)

    def make_native(self, oid, fields):
        cut = self.loader.cuts.get(oid) if self.loader is not None else None
        return _natives.make(oid, fields, cut)

    # -- code and functions

    def make_code(self, oid, fields):
        (name, qualname, filename, firstlineno, argcount, posonly, kwonly,
         flags, names, kinds) = fields[:10]
        for what, v in (("firstlineno", firstlineno),
                        ("argcount", argcount), ("posonlyargcount", posonly),
                        ("kwonlyargcount", kwonly), ("flags", flags)):
            if not isinstance(v, int) or isinstance(v, bool):
                raise HeapdumpError("object %d (CODE record): %s is not an "
                                    "int" % (oid, what))
        if not isinstance(names, list) or not isinstance(kinds, list):
            raise HeapdumpError("object %d (CODE record): names and kinds "
                                "must be arrays" % oid)
        names = [n if isinstance(n, str) else "?" for n in names]
        kinds = [k if isinstance(k, int) else 0 for k in kinds]
        return _model.Code(
            name if isinstance(name, str) else "?",
            qualname if isinstance(qualname, str) else
            (name if isinstance(name, str) else "?"),
            filename if isinstance(filename, str) else "?",
            firstlineno, argcount, posonly, kwonly, flags, names, kinds)

    def _globals_for(self, module):
        key = module if isinstance(module, str) else None
        g = self.globals.get(key)
        if g is None:
            # "_": what the stub code's lines call (heapdump._frames)
            g = self.globals[key] = {"__name__": key, "_": S.refuse_call}
        return g

    def real_code(self, code):
        if not self._frames_tried:
            self._frames_tried = True
            try:
                from heapdump._frames import real_code
            except ImportError as e:  # not there yet: surrogates
                self.note("frames", "functions are surrogates: "
                          "heapdump._frames is not importable (%s)" % e)
                real_code = None
            self._real_code = real_code
        if self._real_code is None:
            return None
        return self._real_code(code)

    def make_function(self, oid, fields):
        name, qualname, module, code, defaults, kwdefaults, closure = \
            fields[:7]
        name = _clean_name(name)
        qualname = qualname if isinstance(qualname, str) else name
        fn = None
        if isinstance(code, _model.Code):
            if code.qualname in (None, code.name) and code._real is None:
                # a code object written before 3.11 has no qualname: its
                # function's is the one its stub is named by
                code.qualname = qualname
            try:
                stub = self.real_code(code)
                if stub is not None:
                    fn = self._function(stub, code, name, qualname, module,
                                        closure)
            except Exception as e:
                self.note(("function", type(e)), "some functions are "
                          "surrogates: %s: %s" % (type(e).__name__, e))
                fn = None
        if fn is None:
            fn = S.Function()
            _heapdump.set_surrogate(fn, self.loader.addr(oid), oid)
            d = fn.__dict__
            d["__name__"] = name
            d["__qualname__"] = qualname
            d["__module__"] = module
            d["__code__"] = code
            if closure is not S.PENDING:
                d["__closure__"] = closure
        return fn

    def _function(self, stub, code, name, qualname, module, closure):
        cells = None
        if isinstance(closure, tuple) and all(
                isinstance(c, types.CellType) for c in closure):
            cells = closure
        free = [n for n, k in zip(code.names, code.kinds) if k & CK_FREE]
        want = len(stub.co_freevars)
        if cells is not None and len(cells) != want:
            if len(free) == len(cells):
                varnames = tuple(n for n in stub.co_varnames
                                 if n not in free)
                try:
                    stub = stub.replace(co_freevars=tuple(free),
                                        co_varnames=varnames,
                                        co_nlocals=len(varnames))
                    want = len(stub.co_freevars)
                except (TypeError, ValueError):
                    pass
        extra = None
        if cells is not None and len(cells) != want:
            extra, cells = cells, None
        if cells is None and want:
            cells = tuple(types.CellType() for _ in range(want))
        fn = types.FunctionType(stub, self._globals_for(module), name, None,
                                cells)
        fn.__qualname__ = qualname
        fn.__module__ = module
        if extra is not None:
            # the closure the stub code cannot carry
            fn.__dict__["__dumped_closure__"] = extra
        return fn

    # ------------------------------------------------------------ phase 3

    def fill(self, loader):
        """Fill the objects whose records heapdump._model describes."""
        handlers = {
            TYPE: self._fill_type, FUNCTION: self._fill_function,
            FRAME: self._fill_frame, TRACEBACK: self._fill_traceback,
            EXCEPTION: self._fill_exception, CFUNCTION: self._fill_cfunction,
            MODULE: self._fill_module, GENERATOR: self._fill_generator,
            WEAKREF: self._fill_weakref, NATIVE: self._fill_native,
        }
        objects = self.objects
        # frames and tracebacks first: the other fills look into them
        todo = loader.pyfill()
        first = (FRAME, TRACEBACK)
        todo = [t for t in todo if t[1] in first] + \
            [t for t in todo if t[1] not in first]
        for oid, kind in todo:
            handler = handlers.get(kind)
            if handler is None:
                continue
            try:
                handler(oid, objects[oid], loader.fields(oid))
            except HeapdumpError:
                raise
            except (MemoryError, KeyboardInterrupt):
                raise
            except Exception as e:
                raise HeapdumpError("object %d (kind %d): %s: %s"
                                    % (oid, kind, type(e).__name__, e)) from e
        # every class filled: what their code would have computed is
        # refused, or answered from state (heapdump._classes)
        for cls, attrs in self.adapt:
            _classes.adapt(cls, attrs)

    def _attrs(self, layout, values):
        """(name, value) pairs of a layout's attributes, UNBOUND left
        out."""
        if layout is None or not isinstance(values, list):
            return []
        if not isinstance(layout, int):
            raise HeapdumpError("a layout number is not an int")
        names = self.loader.layout(layout)[1]
        if len(names) != len(values):
            raise HeapdumpError("%d attribute values for a layout of %d "
                                "names" % (len(values), len(names)))
        return [(n, v) for n, v in zip(names, values) if v is not S.UNBOUND]

    def _fill_type(self, oid, cls, f):
        names, values = f[8], f[9]
        if not isinstance(names, list) or not isinstance(values, list) or \
                len(names) != len(values):
            raise HeapdumpError("object %d (TYPE record): attribute names "
                                "and values do not match" % oid)
        if oid not in self.made:
            return  # a real class: never touched
        # what a view mixed into the class answers (S.TaskView) stays its
        viewed = set()
        for base in cls.__mro__:
            viewed.update(type.__getattribute__(base, "__dict__").get(
                "view_names", ()))
        attrs = {}
        for name, value in zip(names, values):
            if value is S.UNBOUND:
                continue
            attrs[name] = value
            if not isinstance(name, str):
                continue
            if _is_dunder(name) and name not in _DATA_DUNDERS:
                continue
            if name == "__doc__" and not (value is None or
                                          isinstance(value, str)):
                continue
            if name in ("__annotations__", "__slots__") and \
                    not isinstance(value, (dict, tuple, list, str)):
                continue
            if name in viewed:
                continue
            if _is_slot_descriptor(value):
                # a __slots__ member: an unset slot must stay missing, not
                # read as this stand-in
                continue
            try:
                type.__setattr__(cls, name, value)
            except (TypeError, AttributeError, ValueError):
                pass
        type.__setattr__(cls, "__dumped_attrs__", attrs)
        self.adapt.append((cls, attrs))
        fields = attrs.get("_fields")
        if issubclass(cls, tuple) and isinstance(fields, tuple) and all(
                isinstance(n, str) and n.isidentifier() for n in fields):
            # a namedtuple: its fields read as attributes
            for i, n in enumerate(fields):
                if not _is_dunder(n):
                    type.__setattr__(cls, n, property(
                        operator.itemgetter(i),
                        doc="Alias for field number %d" % i))

    def _fill_function(self, oid, fn, f):
        defaults, kwdefaults, layout, values = f[4], f[5], f[7], f[8]
        attrs = self._attrs(layout, values)
        if isinstance(fn, types.FunctionType):
            if defaults is None or isinstance(defaults, tuple):
                fn.__defaults__ = defaults
            if kwdefaults is None or isinstance(kwdefaults, dict):
                fn.__kwdefaults__ = kwdefaults
            for name, value in attrs:
                if name in ("__code__", "__globals__", "__closure__",
                            "__builtins__", "__defaults__",
                            "__kwdefaults__"):
                    continue
                _heapdump.set_attr(fn, name, value)
        else:
            d = fn.__dict__
            d["__defaults__"] = defaults
            d["__kwdefaults__"] = kwdefaults
            if "__closure__" not in d:
                d["__closure__"] = f[6]
            for name, value in attrs:
                d.setdefault(name, value)

    def _fill_frame(self, oid, frame, f):
        code, back, g, loc, lineno, lasti, position, values = f[:8]
        if not isinstance(code, _model.Code):
            code = None
        if not isinstance(back, _model.Frame):
            back = None
        if not isinstance(values, list):
            values = []
        is_module = False
        if loc is None:
            loc = {}
            if code is not None:
                for name, kind, value in zip(code.names, code.kinds, values):
                    if value is S.UNBOUND or kind & CK_HIDDEN:
                        continue
                    loc[name] = value
        else:
            is_module = loc is g
        if code is not None and code.name == "<module>":
            is_module = True
        if not isinstance(lineno, int):
            lineno = None
        if not isinstance(lasti, int):
            lasti = -1
        if isinstance(position, list):
            position = tuple(position)
        elif position is not None:
            position = None
        frame.__init__(code, back, g, loc, lineno, lasti, position,
                       is_module=is_module, address=self.loader.addr(oid))

    def _fill_traceback(self, oid, tb, f):
        frame, lineno, lasti, next_ = f[:4]
        position = f[4] if len(f) > 4 else None
        if not isinstance(frame, _model.Frame):
            frame = None
        if not isinstance(next_, _model.Traceback):
            next_ = None
        position = tuple(position) if isinstance(position, list) and \
            len(position) == 3 else None
        tb.__init__(frame, lineno if isinstance(lineno, int) else None,
                    lasti if isinstance(lasti, int) else -1, next_, position)

    def _fill_exception(self, oid, exc, f):
        (_type, args, tb, cause, context, suppress, layout,
         values) = f[:8]
        attrs = self._attrs(layout, values)
        if isinstance(args, tuple):
            _heapdump.set_attr(exc, "args", args)
        if cause is None or isinstance(cause, BaseException):
            exc.__cause__ = cause
        if context is None or isinstance(context, BaseException):
            exc.__context__ = context
        exc.__suppress_context__ = bool(suppress)
        if isinstance(tb, _model.Traceback):
            self.tracebacks[id(exc)] = tb
        group = getattr(builtins, "BaseExceptionGroup", None)
        members = message = None
        for name, value in attrs:
            if name in ("__traceback__", "__cause__", "__context__",
                        "__suppress_context__", "args"):
                continue
            if group is not None and isinstance(exc, group) and \
                    name in ("exceptions", "message"):
                if name == "exceptions":
                    members = value
                else:
                    message = value
                continue
            _heapdump.set_attr(exc, name, value)
        if group is not None and isinstance(exc, group):
            if message is None and isinstance(args, tuple) and args:
                message = args[0]
            if members is None and isinstance(args, tuple) and \
                    len(args) > 1:
                members = args[1]
            if isinstance(members, (list, tuple)) and isinstance(message,
                                                                 str):
                members = tuple(m for m in members
                                if isinstance(m, BaseException))
                _heapdump.set_group(exc, message, members)

    def _fill_cfunction(self, oid, fn, f):
        name, qualname, module, self_ = f[:4]
        d = fn.__dict__
        d["__name__"] = name
        d["__qualname__"] = qualname
        d["__module__"] = module
        d["__self__"] = self_

    def _fill_module(self, oid, mod, f):
        name, file = f[:2]
        mod.__init__(name if isinstance(name, str) else "?")
        if file is not None:
            mod.__file__ = file
        # 1.3, heap scope: the globals (the str-named ones; the module's
        # own __name__ and __file__ stay those above)
        namespace = f[2] if len(f) > 2 else None
        if isinstance(namespace, dict):
            d = mod.__dict__
            for key, value in namespace.items():
                if isinstance(key, str) and key not in d:
                    d[key] = value
        if mod.__name__ == "heapdump":
            # at the pdb prompt of an opened dump, the program's
            # heapdump.why() is the real one (heapdump._heap.why)
            from heapdump._heap import why

            mod.__dict__["why"] = why

    def _fill_generator(self, oid, gen, f):
        _type, flavor, name, qualname, frame, state = f[:6]
        d = gen.__dict__
        prefix = {"coroutine": "cr", "async_generator": "ag"}.get(flavor,
                                                                  "gi")
        frame = frame if isinstance(frame, _model.Frame) else None
        d["flavor"] = flavor
        d["__name__"] = name
        d["__qualname__"] = qualname
        d["state"] = state
        d[prefix + "_frame"] = frame
        # the code: the record's (format 1.4), else the frame's
        code = f[6] if len(f) > 6 else None
        d[prefix + "_code"] = code if code is not None else \
            frame.code if frame is not None else None
        d[prefix + "_running"] = state == "running"
        d[prefix + "_suspended"] = state == "suspended"
        d["dumped_type"] = _type

    def _fill_native(self, oid, obj, f):
        # a container kind's shell (a deque): its items and maxlen
        _natives.fill(obj, f, self.loader.cuts.get(oid))

    def _fill_weakref(self, oid, ref, f):
        _type, referent, callback = f[:3]
        d = ref.__dict__
        d["referent"] = referent
        d["__callback__"] = callback
        d["dumped_type"] = _type


# ------------------------------------------------------------------ others

def _decode_source(text):
    if isinstance(text, str):
        return text
    if not isinstance(text, bytes):
        return None
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(text).readline)
    except (SyntaxError, LookupError):
        encoding = "utf-8"
    try:
        return text.decode(encoding, "replace")
    except LookupError:
        return text.decode("utf-8", "replace")


def _source_redactions(pieces):
    """The masked pieces of a SOURCE record (format 1.2): a list of
    (line, col, end_line, end_col, reason); what is malformed is left
    out."""
    out = []
    for p in pieces if isinstance(pieces, list) else ():
        if isinstance(p, list) and len(p) >= 5 and \
                all(type(x) is int for x in p[:4]):
            out.append((p[0], p[1], p[2], p[3],
                        p[4] if isinstance(p[4], str) else "?"))
    return out


def _thread(fields):
    ident, native_id, name, is_current, is_main, frame = fields[:6]
    frames, seen, f = [], set(), frame
    while isinstance(f, _model.Frame) and id(f) not in seen:
        seen.add(id(f))
        frames.append(f)
        f = f.back
    return _model.Thread(ident, native_id, name, bool(is_current),
                         bool(is_main), frames)


def _tasks(records, version):
    """The Tasks of the TASK records, each ``awaited_by`` filled from the
    others' ``awaits``; version: the dumped Python's (major, minor), or
    None."""
    tasks = []
    if records:
        # now, while loading: a task's result() and exception() at the
        # prompt raise asyncio's errors
        S.import_asyncio()
    for f in records:
        obj, name, state, coro, awaits, loop, awaited, result, exc, kept = \
            (list(f) + [None] * 10)[:10]
        if obj is None:
            continue
        awaited = [c for c in awaited if c is not None] \
            if isinstance(awaited, list) else []
        tasks.append(_model.Task(
            obj, name if isinstance(name, str) else None,
            state if isinstance(state, str) else None, coro, awaited,
            awaits, loop, result, exc, len(f) >= 9,
            S.task_cancelled_error(kept, version)))
    by_obj = {id(t.obj): t for t in tasks}
    for t in tasks:
        for other in _awaited_tasks(t.awaits, by_obj):
            if other is not t and t not in other.awaited_by:
                other.awaited_by.append(t)
    return tasks


def _version_of(meta):
    """The dumped Python's (major, minor) from META, or None."""
    v = meta.get("version_info") if isinstance(meta, dict) else None
    if isinstance(v, list) and len(v) >= 2 and \
            all(isinstance(x, int) for x in v[:2]):
        return tuple(v[:2])
    return None


def _awaited_tasks(awaits, by_obj):
    """The Tasks a task waits on: the one it awaits, or the children of
    the gather() future it awaits (its dumped ``_children``)."""
    if awaits is None:
        return []
    other = by_obj.get(id(awaits))
    if other is not None:
        return [other]
    try:
        d = object.__getattribute__(awaits, "__dict__")
    except (AttributeError, TypeError):
        return []
    children = d.get("_children") if isinstance(d, dict) else None
    if not isinstance(children, list):
        return []
    return [by_obj[id(c)] for c in children if id(c) in by_obj]


def _array(code, data):
    a = array.array(code)
    a.frombytes(data)
    return a


# ------------------------------------------------------------------ public

def load(path, *, max_record_bytes=DEFAULT_MAX_RECORD_BYTES,
         max_body_bytes=DEFAULT_MAX_BODY_BYTES,
         max_objects=DEFAULT_MAX_OBJECTS, max_ratio=DEFAULT_MAX_RATIO):
    """Read a dump file and return a heapdump.Dump.

    Raises HeapdumpError for a file that is not a dump, is of a newer major
    format version, or is corrupt (bad zstd or checksum, invalid msgpack, a
    reference to an object no record defines, a field of the wrong type,
    one of the limits against hostile files: see the module's docstring).
    A truncated file loads as far as it is intact, with a HeapdumpWarning
    and ``dump.truncated`` set; references to objects whose records were
    lost read as ``heapdump._surrogates.Lost``.
    Nothing from the file is executed.
    """
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    headers, offset, version = _read_headers(path)
    if max_record_bytes is None:
        max_record_bytes = sys.maxsize
    if max_body_bytes is None:
        max_body_bytes = (1 << 64) - 1
    if max_objects is None:
        max_objects = (1 << 64) - 1
    if max_ratio is None:
        max_ratio = 0
    builder = _Builder(path)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    loader = None
    try:
        loader = _heapdump.Loader(path, offset, builder,
                                  int(max_record_bytes), int(max_body_bytes),
                                  int(max_objects), int(max_ratio))
        builder.loader = loader
        loader.read()
        loader.build()
        objects = builder.objects = loader.objects()
        builder.fill(loader)
        meta, trailer, threads, sources, roots, errors = {}, None, [], {}, \
            {}, []
        source_errors, source_redactions, task_records = {}, {}, []
        for kind, f in loader.others():
            if kind == META and isinstance(f[0], dict) and not meta:
                meta = f[0]
            elif kind == TRAILER:
                trailer = f[0] if isinstance(f[0], dict) else {}
            elif kind == THREAD:
                threads.append(_thread(f))
            elif kind == SOURCE:
                name, text, err = f[:3]
                text = _decode_source(text)
                if isinstance(name, str):
                    if text is not None:
                        sources[name] = text
                    else:
                        source_errors[name] = err
                    pieces = _source_redactions(f[3] if len(f) > 3 else None)
                    if pieces:
                        source_redactions[name] = pieces
            elif kind == TASK:
                task_records.append(f)
            elif kind == ROOT:
                if isinstance(f[0], str):
                    roots[f[0]] = f[1]
            elif kind == ERROR:
                errors.append(f[0])
        notes = list(builder.notes)
        truncated = loader.truncated
        if truncated:
            notes.insert(0, "%s is truncated (%s): loaded %d objects from "
                         "the intact part" % (path, loader.truncation,
                                              loader.nobjects))
        if errors:
            notes.append("the dumper could not read %d things (see "
                          "Dump.errors)" % len(errors))
        if isinstance(trailer, dict) and isinstance(
                trailer.get("objects"), int) and \
                trailer["objects"] != loader.nobjects:
            notes.append("the trailer counts %d objects, the file holds %d"
                         % (trailer["objects"], loader.nobjects))
        exception = roots.get("exception")
        dump = _model.Dump(
            path, headers, meta, threads, exception,
            builder.tracebacks.get(id(exception)), objects, sources, trailer,
            truncated, notes, dict(loader.cuts), errors, builder.tracebacks,
            roots)
        dump.format_version = version
        dump.addresses = _array("Q", loader.addresses())
        dump.refcounts = _array("Q", loader.refcounts())
        dump.sizes = _array("Q", loader.sizes())
        dump.kinds = loader.kinds()
        dump.source_errors = source_errors
        dump.source_redactions = source_redactions
        if task_records:
            dump.tasks = _tasks(task_records, _version_of(meta))
            for t in dump.tasks:
                if isinstance(t.obj, S.TaskView):
                    object.__setattr__(t.obj, "_heapdump_task", t)
        if loader.after_trailer:
            notes.append("%d bytes after the TRAILER record were ignored"
                         % loader.after_trailer)
    except (HeapdumpError, MemoryError, KeyboardInterrupt, OSError):
        raise
    except Exception as e:
        # the builders check what they rely on; anything else that breaks
        # on a damaged file is still a damaged file
        raise HeapdumpError("%s: a damaged record (%s: %s)"
                            % (path, type(e).__name__, e)) from e
    finally:
        if loader is not None:
            loader.close()
        builder.loader = None
        if gc_was_enabled:
            gc.enable()
    if truncated:
        warnings.warn(notes[0], HeapdumpWarning, stacklevel=2)
    return dump
