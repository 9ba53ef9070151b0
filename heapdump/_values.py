"""Value classes of the standard library whose instances keep their state
in ``__slots__`` (``fractions.Fraction``, ``uuid.UUID``, ``ipaddress``'s
addresses, ``pathlib``'s paths): their stand-ins answer as the real values
do.

A surrogate class cannot derive from these classes (their slots and the
C base of every stand-in cannot share a layout), so the stand-in class of
one mixes in a *view* made here: each special method the real class has
(``__repr__``, ``__eq__``, ``__add__``...) and every other attribute the
stand-in lacks (``u.hex``, ``fr.limit_denominator``) are those of a real
value rebuilt from the dumped state by this Python's standard library
(``Fraction(numerator, denominator)``, ``UUID(int=...)``): nothing from
the file runs, and ``fr * 2`` or ``u == UUID(...)`` give what the dumped
program would have got.  A stand-in whose state is not what its class
keeps (a cut or hidden value, a subclass with other slots) raises
DumpedAttributeError instead of answering something else.

The state of each is the same on every supported Python, so a dump of
one Python reads right on another.
"""

from __future__ import annotations

import importlib

from heapdump import _surrogates as S

__all__ = ["view_class"]

def _slots(*names):
    """The state of a value class: these slots' dumped values."""
    def state(d):
        return [d[name] for name in names]
    return state


def _path_parts(d):
    """A pathlib path's parts as its Python kept them: the whole str once
    made (_str), else what it was made from (_raw_paths, 3.12+), else its
    parsed parts (_parts, 3.9 to 3.11, the anchor first)."""
    for name in ("_str", "_raw_paths", "_parts"):
        v = d.get(name)
        if isinstance(v, str):
            return [v]
        if isinstance(v, list) and all(isinstance(x, str) for x in v):
            return v
    raise KeyError("_raw_paths")


_path_classes = {}


def _path_class(name):
    """The class a dumped pathlib path of class name is rebuilt as: the
    pure class of its flavour, or for a concrete one (PosixPath) a
    subclass of it with that name, so that its repr and what its
    operations give (base / "x", .parent) read as the live ones, and
    whose file methods (exists, read_text...) raise instead of looking at
    this machine's files."""
    import pathlib
    windows = "Windows" in name
    pure = pathlib.PureWindowsPath if windows else pathlib.PurePosixPath
    if name.startswith("Pure"):
        return pure
    if name not in _path_classes:
        def getattr_(self, attr):
            if not attr.startswith("_") and hasattr(pathlib.Path, attr):
                raise S.DumpedAttributeError(
                    "%s.%s cannot answer on a dump: it would look at this "
                    "machine's files, not at the dumped process's"
                    % (name, attr))
            raise AttributeError(attr)
        _path_classes[name] = type(name, (pure,), {
            "__slots__": (), "__module__": "pathlib",
            "__getattr__": getattr_})
    return _path_classes[name]


def _path_build(name):
    def build(cls, *parts):
        return _path_class(name)(*parts)
    return build


#: (module, qualname) -> (the attribute of the module that is the real
#: class, its state from the stand-in's dumped slots, how the value is
#: rebuilt from that state).
_VALUES = {
    ("fractions", "Fraction"): (
        "Fraction", _slots("_numerator", "_denominator"),
        lambda cls, n, d: cls(n, d)),
    ("uuid", "UUID"): (
        "UUID", _slots("int", "is_safe"),
        lambda cls, n, safe: cls(int=n, is_safe=safe)),
    ("ipaddress", "IPv4Address"): (
        "IPv4Address", _slots("_ip"), lambda cls, ip: cls(ip)),
    ("ipaddress", "IPv6Address"): (
        "IPv6Address", _slots("_ip", "_scope_id"),
        lambda cls, ip, scope: cls(ip if scope is None
                                   else "%s%%%s" % (cls(ip), scope))),
}

#: pathlib's classes (pathlib._local's on 3.13): a path answers as the
#: pure path of its flavour (its parts, name, suffix, /, ==), with its own
#: class's name in its repr; what looks at files (exists, read_text...)
#: would look at this machine's, not the dumped process's: it raises.
_PATHS = ("PurePath", "PurePosixPath", "PureWindowsPath", "Path",
          "PosixPath", "WindowsPath")
for _module in ("pathlib", "pathlib._local"):
    for _name in _PATHS:
        _VALUES[(_module, _name)] = ("PurePath", _path_parts,
                                     _path_build(_name))
del _module, _name

#: Special methods a view never takes from the real class: how a stand-in
#: is made, filled and looked at stays the surrogate's.
_KEEP = frozenset({
    "__new__", "__init__", "__init_subclass__", "__subclasshook__",
    "__class__", "__dict__", "__slots__", "__weakref__", "__module__",
    "__qualname__", "__doc__", "__getattribute__", "__getattr__",
    "__setattr__", "__delattr__", "__dir__", "__reduce__", "__reduce_ex__",
    "__getstate__", "__setstate__", "__copy__", "__deepcopy__",
    "__sizeof__", "__class_getitem__", "__annotations__",
    "__abstractmethods__",
    "__match_args__", "__firstlineno__", "__static_attributes__",
})

_views = {}


def _real_value(self, view, real_cls, slots, build):
    """The real value of a stand-in, rebuilt from its dumped slots.  Not for
    an instance of a subclass: its class's own methods (which cannot run)
    may answer otherwise than the value class's."""
    d = object.__getattribute__(self, "__dict__")
    qual = type.__getattribute__(type(self), "__qualname__")
    if type(self).__bases__[0] is not view:
        raise S.DumpedAttributeError(
            "%s is a subclass of %s: its own methods may answer otherwise "
            "and cannot run on a dump" % (qual, real_cls.__qualname__))
    try:
        state = slots(d)
    except KeyError as e:
        raise S.DumpedAttributeError(
            "this %s has no %s in the dump: its value cannot be rebuilt"
            % (qual, e.args[0])) from None
    try:
        return build(real_cls, *state)
    except (TypeError, ValueError) as e:
        raise S.DumpedAttributeError(
            "this %s's dumped state %r does not make a %s (%s)"
            % (qual, tuple(state), qual, e)) from None


def _special(name):
    def method(self, *args):
        # another stand-in of a value class takes part as its value
        args = [a._heapdump_value() if hasattr(type(a), "_heapdump_value")
                else a for a in args]
        return getattr(self._heapdump_value(), name)(*args)
    method.__name__ = name
    return method


def view_class(module, qualname):
    """The view mixin of the value class module.qualname, or None when it
    is not one of them (or its module does not import here)."""
    key = (module, qualname)
    if key in _views:
        return _views[key]
    spec = _VALUES.get(key)
    view = None
    if spec is not None:
        attr, slots, build = spec
        try:
            real_cls = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            real_cls = None
        if real_cls is not None:
            view = _make_view(real_cls, slots, build)
    _views[key] = view
    return view


def _make_view(real_cls, slots, build):
    def value(self):
        return _real_value(self, view, real_cls, slots, build)

    def repr_(self):
        try:
            return repr(value(self))
        except S.DumpedAttributeError:
            return S.Instance.__repr__(self)

    def getattr_(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(value(self), name)

    ns = {"__slots__": (), "_heapdump_value": value,
          "__getattr__": getattr_,
          "__doc__": "The view of %s stand-ins (heapdump._values)."
                     % real_cls.__qualname__}
    for name in dir(real_cls):
        if (name.startswith("__") and name.endswith("__") and
                name not in _KEEP and callable(getattr(real_cls, name))):
            ns[name] = _special(name)
    # hash() stays the stand-in's own (its identity): the loader puts
    # stand-ins in the dump's sets and dict keys before their slots are
    # filled, and a hash that changed then would lose them there
    ns["__hash__"] = S.Instance.__hash__
    ns["__repr__"] = repr_
    view = type("%sView" % real_cls.__name__, (), ns)
    return view
