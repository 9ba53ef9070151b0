"""What the stand-in classes of a loaded dump do where the dumped class had
code: they never answer as if that code did not exist.

heapdump._load makes a surrogate class per dumped class and copies the
plain class attributes onto it (heapdump._load._Builder._fill_type); then,
once every class of the dump is filled, ``adapt(cls, attrs)`` looks at
what the dumped class defined (``attrs``: name -> loaded value) and:

- a property, ``functools.cached_property``, ``enum.property`` /
  ``types.DynamicClassAttribute``, or any object whose class defines
  ``__get__``, becomes a descriptor that raises DumpedAttributeError naming
  it ("its code cannot run on a dump") when read on an instance, except
  the well-known ones whose answer is plainly in the instance's state
  (``_STATE``: an Enum member's ``value`` is its ``_value_``).  Read on
  the class, it gives the dumped descriptor.  A non-data descriptor
  (``cached_property``) stays one: a value cached in the instance wins;
- on a stand-in of a builtin subclass (a dict subclass...), a method of
  the builtin that the class overrides (``QueryDict.__getitem__``)
  raises DumpedCodeError naming the override and showing what the
  builtin's own method gives on the stored value;
- on a stand-in of a Python class, the operations whose answer the class
  computes (``__eq__``, ``__len__``, ``__bool__``, ``__iter__``,
  ``__getitem__``, ``__contains__``, ``__str__``, ``__call__``,
  ``__getattr__``...) raise the same error instead of the default
  (identity, truth, "not subscriptable");
- Django's ``LazyObject`` (``SimpleLazyObject``, the ``request.user``)
  is seen through: attributes, items, len, iteration, truth and equality
  are its wrapped object's when the dump holds it, and an error saying it
  was never evaluated when not.

Nothing here runs code from the file: it reads the loaded attributes with
``object.__getattribute__`` and the builtin types' own methods.
"""

from __future__ import annotations

import itertools
import reprlib
import types

from heapdump import _natives
from heapdump import _surrogates as S

__all__ = ["adapt"]


def _names(cls):
    """(module, qualname) of a class, read without user code."""
    try:
        return (type.__getattribute__(cls, "__module__"),
                type.__getattribute__(cls, "__qualname__"))
    except AttributeError:
        return (None, "?")


def _dotted(cls):
    return S._dotted(*_names(cls))


def _instance_dict(obj):
    try:
        d = object.__getattribute__(obj, "__dict__")
    except AttributeError:
        return {}
    return d if isinstance(d, dict) else {}


def _dumped_attrs(cls):
    """The attributes the dumped class itself defined (loaded values)."""
    d = type.__dict__["__dict__"].__get__(cls)
    attrs = d.get("__dumped_attrs__")
    return attrs if isinstance(attrs, dict) else {}


# ------------------------------------------------------------ descriptors

#: Descriptor classes known by name: True for data descriptors (a
#: property: it wins over the instance's dict), False for non-data ones.
_KNOWN_DESCRIPTORS = {
    ("builtins", "property"): True,
    ("enum", "property"): True,
    ("types", "DynamicClassAttribute"): True,
    ("functools", "cached_property"): False,
    ("django.utils.functional", "cached_property"): False,
}

#: Decorators whose objects are not computed attributes: a classmethod or
#: staticmethod reads as what it wraps (calling it raises the clear error).
_NOT_COMPUTED = {("builtins", "classmethod"), ("builtins", "staticmethod")}

#: Well-known computed attributes whose answer is an attribute of the
#: instance: (module, class qualname, name) -> that attribute.
_STATE = {
    ("enum", "Enum", "value"): "_value_",
    ("enum", "Enum", "name"): "_name_",
    ("threading", "Thread", "name"): "_name",
    ("threading", "Thread", "ident"): "_ident",
    ("threading", "Thread", "daemon"): "_daemonic",
    ("threading", "Thread", "native_id"): "_native_id",
    ("fractions", "Fraction", "numerator"): "_numerator",
    ("fractions", "Fraction", "denominator"): "_denominator",
}


def _descriptor_kind(value):
    """True (data descriptor), False (non-data) or None (not a computed
    attribute) for a loaded class attribute value."""
    if isinstance(value, (types.FunctionType, type)) or \
            not isinstance(value, S.Surrogate):
        return None
    for klass in type(value).__mro__:
        names = _names(klass)
        if names in _NOT_COMPUTED:
            return None
        if names in _KNOWN_DESCRIPTORS:
            return _KNOWN_DESCRIPTORS[names]
        attrs = _dumped_attrs(klass)
        if "__get__" in attrs:
            return "__set__" in attrs or "__delete__" in attrs
    return None


def _what(raw):
    module, qual = _names(type(raw))
    if (module, qual) == ("builtins", "property"):
        return "a property"
    return "a %s" % S._dotted(module, qual)


class _Computed:
    """A computed attribute of a dumped class (a non-data descriptor)."""

    __slots__ = ("name", "owner", "raw", "state")

    def __init__(self, name, owner, raw, state=None):
        self.name = name
        self.owner = owner
        self.raw = raw
        self.state = state

    def __get__(self, obj, cls=None):
        if obj is None:
            return self.raw
        d = _instance_dict(obj)
        if self.state is not None and self.state in d:
            return d[self.state]
        shown = ", ".join(sorted(k for k in d if isinstance(k, str))[:12])
        raise S.DumpedAttributeError(
            "%s.%s is %s of %s: its code cannot run on a dump (the "
            "instance's own attributes: %s)" % (
                _names(type(obj))[1], self.name, _what(self.raw),
                _dotted(self.owner), shown or "none"))

    def __repr__(self):
        return "<computed attribute %s.%s of a dump: %s>" % (
            _names(self.owner)[1], self.name, _what(self.raw))


class _DataComputed(_Computed):
    """A computed attribute that is a data descriptor (a property)."""

    __slots__ = ()

    def __set__(self, obj, value):
        raise S.DumpedAttributeError(
            "%s.%s is %s of %s: its setter cannot run on a dump" % (
                _names(type(obj))[1], self.name, _what(self.raw),
                _dotted(self.owner)))

    def __delete__(self, obj):
        self.__set__(obj, None)


#: The C functions in a C type's dict (its methods, class methods, slot
#: wrappers, static functions): read on a loaded class or its instances,
#: each is a _CMethod, whose call raises the clear error naming it.
_C_METHODS = {("builtins", "method_descriptor"),
              ("builtins", "classmethod_descriptor"),
              ("builtins", "wrapper_descriptor"),
              ("builtins", "builtin_function_or_method")}


class _CMethod:
    """A method of a dumped C type (``_io.BytesIO.getvalue``): C code of
    the dumped program, which cannot run on the state loaded here.  Read
    on an instance or on the class, it gives something that raises
    DumpedCodeError naming the method and the type when called."""

    __slots__ = ("name", "owner", "raw")

    def __init__(self, name, owner, raw):
        self.name = name
        self.owner = owner
        self.raw = raw

    def __get__(self, obj, cls=None):
        return _CMethodCall(self, obj)

    def __repr__(self):
        return "<method %s.%s of a dumped C type>" % (
            _names(self.owner)[1], self.name)


class _CMethodCall:
    """A _CMethod read on obj (None: on the class)."""

    __slots__ = ("method", "obj")

    def __init__(self, method, obj):
        self.method = method
        self.obj = obj

    def __call__(self, *args, **kwargs):
        raise S.DumpedCodeError(
            "%s.%s() is a C method of the dumped program: %s (%s is a "
            "stand-in made from the dumped state)" % (
                _dotted(self.method.owner), self.method.name,
                S.CALL_REFUSED, _names(self.method.owner)[1]))

    def __repr__(self):
        what = repr(self.method)
        return what if self.obj is None else \
            "<bound %s>" % what[1:-1]


def _c_method(name, value):
    """Whether value, the class attribute name, is a C type's function
    (a dunder is left as it is: the loader's own stand-in answers it)."""
    return isinstance(value, S.Surrogate) and \
        not (name.startswith("__") and name.endswith("__")) and \
        _names(type(value)) in _C_METHODS


def _replace_descriptors(cls, attrs):
    module, qual = _names(cls)
    for name, value in attrs.items():
        if not isinstance(name, str):
            continue
        if type.__dict__["__dict__"].__get__(cls).get(name) is not value:
            # not put on the class as it was (a __slots__ member, a
            # namedtuple's field, a dunder): the loader's own reading
            continue
        if _c_method(name, value):
            try:
                type.__setattr__(cls, name, _CMethod(name, cls, value))
            except (TypeError, AttributeError):
                pass
            continue
        kind = _descriptor_kind(value)
        if kind is None:
            continue
        state = _STATE.get((module, qual, name))
        made = (_DataComputed if kind else _Computed)(name, cls, value,
                                                      state)
        try:
            type.__setattr__(cls, name, made)
        except (TypeError, AttributeError):
            pass


# --------------------------------------------------- overridden behaviour

#: Methods of a builtin base that a builtin subclass's override must not
#: be answered for by the base (everything else of the base's is).
_NOT_GUARDED = frozenset((
    "__init__", "__new__", "__init_subclass__", "__class_getitem__",
    "__reduce__", "__reduce_ex__", "__getstate__", "__setstate__",
    "__copy__", "__deepcopy__", "__getattribute__", "__setattr__",
    "__delattr__", "__dir__", "__sizeof__", "__subclasshook__", "__hash__",
    "__repr__", "__class__", "__doc__", "__getnewargs__",
    "__getnewargs_ex__", "__del__", "__set_name__"))

#: What a Python class's stand-in must not answer by default when the
#: class computes it.
_INSTANCE_GUARDED = ("__eq__", "__ne__", "__lt__", "__le__", "__gt__",
                     "__ge__", "__bool__", "__len__", "__iter__",
                     "__getitem__", "__contains__", "__str__", "__call__",
                     "__format__", "__bytes__", "__int__", "__float__",
                     "__index__")

_short = reprlib.Repr()
_short.maxstring = 80
_short.maxother = 80
_short.maxlist = _short.maxtuple = _short.maxdict = _short.maxset = 10


def _base_answer(base, name, obj, args, kwargs):
    """What the builtin's own method says on the stored value, in words."""
    raw = getattr(base, name, None)
    if raw is None:
        return ""
    try:
        value = raw(obj, *args, **kwargs)
        if isinstance(value, type(iter(()))) or hasattr(value, "__next__"):
            value = list(itertools.islice(value, 11))
        return "; %s.%s on the stored value gives %s" % (
            base.__name__, name, _short.repr(value))
    except Exception as e:
        return "; %s.%s on the stored value raises %s: %s" % (
            base.__name__, name, type(e).__name__, e)


def _override_guard(name, owner, base):
    """The method put in place of an override the dumped class defined."""
    def guard(self, *args, **kwargs):
        shown = _base_answer(base, name, self, args, kwargs) \
            if base is not None else ""
        error = S.DumpedAttributeError if name == "__getattr__" \
            else S.DumpedCodeError
        what = "overrides %s.%s: its code" % (base.__name__, name) \
            if base is not None else "is the class's own code: it"
        raise error("%s.%s (of %s) %s cannot run on a dump%s"
                    % (_names(owner)[1], name, _dotted(owner), what, shown))

    guard.__name__ = name
    guard.__qualname__ = "%s.%s" % (_names(owner)[1], name)
    return guard


def _is_code(value):
    return isinstance(value, (types.FunctionType, S.Function)) or (
        isinstance(value, S.Surrogate) and
        _names(type(value)) in _NOT_COMPUTED)


def _guard_overrides(cls, attrs):
    builtin = S._builtin_base(cls) if issubclass(cls, S._BuiltinSubclass) \
        else _natives.real_base(cls)
    if builtin is not None and builtin is not object:
        names = [n for n in attrs if isinstance(n, str) and
                 n not in _NOT_GUARDED and hasattr(builtin, n) and
                 _is_code(attrs[n])]
        base = builtin
    elif issubclass(cls, (S.Instance, S.Opaque)):
        # a Python class, or a Python subclass of a C type (of deque)
        names = [n for n in _INSTANCE_GUARDED + ("__getattr__",)
                 if _is_code(attrs.get(n))]
        base = None
    else:
        return
    for name in names:
        try:
            type.__setattr__(cls, name, _override_guard(name, cls, base))
        except (TypeError, AttributeError):
            pass
    if _natives.real_base(cls) is not None and any(
            _is_code(attrs.get(n)) for n in ("__new__", "__init__")):
        # a subclass of a native type with a constructor of its own:
        # calling the class would run the real type's instead (the
        # loader makes instances with the real type's C code directly)
        _refuse_construction(cls)


def _refuse_construction(cls):
    qualname = _names(cls)[1]

    def __new__(klass, *args, **kwargs):
        raise S.DumpedCodeError("%s() (of %s): %s" % (
            qualname, _dotted(cls), S.CALL_REFUSED))

    type.__setattr__(cls, "__new__", __new__)


# ------------------------------------------------------------ lazy proxies

_LAZY = {("django.utils.functional", "LazyObject")}


def _target(obj):
    """The wrapped object of a lazy proxy, or raise saying why not."""
    d = _instance_dict(obj)
    wrapped = d.get("_wrapped")
    if wrapped is None or _names(type(wrapped)) == ("builtins", "object"):
        raise S.DumpedAttributeError(
            "%s was never evaluated in the dumped process: its target is "
            "not in the dump (and its factory cannot run here)"
            % _names(type(obj))[1])
    return wrapped


def _lazy_getattr(self, name):
    if name.startswith("__") and name.endswith("__"):
        raise AttributeError(name)
    return getattr(_target(self), name)


def _lazy_repr(self):
    d = _instance_dict(self)
    wrapped = d.get("_wrapped")
    qual = _names(type(self))[1]
    if wrapped is None or _names(type(wrapped)) == ("builtins", "object"):
        return "<%s: not evaluated>" % qual
    return "<%s: %r>" % (qual, wrapped)


def _proxy(op):
    def method(self, *args):
        return op(_target(self), *args)
    return method


def _see_through(cls):
    import operator

    ns = {"__getattr__": _lazy_getattr, "__repr__": _lazy_repr,
          "__getitem__": _proxy(operator.getitem),
          "__len__": _proxy(len), "__iter__": _proxy(iter),
          "__contains__": _proxy(operator.contains),
          "__bool__": _proxy(bool), "__eq__": _proxy(operator.eq),
          "__ne__": _proxy(operator.ne), "__str__": _proxy(str)}
    for name, fn in ns.items():
        type.__setattr__(cls, name, fn)
    type.__setattr__(cls, "__hash__", object.__hash__)


# ------------------------------------------------------------------ entry

def adapt(cls, attrs):
    """Adapt a filled surrogate class to what the dumped class defined
    (attrs: name -> loaded value; see the module's text)."""
    if not isinstance(cls, type) or not isinstance(attrs, dict):
        return
    _replace_descriptors(cls, attrs)
    if _names(cls) in _LAZY:
        _see_through(cls)
        return
    if _adapt_enum(cls):
        return
    if issubclass(cls, S._BuiltinSubclass) and _adapt_mixed_enum(cls, attrs):
        return
    if _emulate_generated_eq(cls, attrs):
        attrs = {k: v for k, v in attrs.items()
                 if k not in ("__eq__", "__ne__")}
    _guard_overrides(cls, attrs)


# ---------------------------------------------- reprs as users know them

def _mro_attr(cls, name):
    """(class, value) of the first class in cls's MRO whose dumped
    attributes define name, or (None, None)."""
    for klass in cls.__mro__:
        attrs = _dumped_attrs(klass)
        if name in attrs:
            return klass, attrs[name]
    return None, None


def _generated(fn):
    """Whether a dumped function was generated by a library (dataclasses,
    attrs: compiled from text, its file name is <...>), or wraps one
    (dataclasses' __repr__ is wrapped by reprlib.recursive_repr)."""
    if not isinstance(fn, types.FunctionType):
        return False
    name = fn.__code__.co_filename
    if isinstance(name, str) and name.startswith("<"):
        return True
    wrapped = fn.__dict__.get("__wrapped__")
    return wrapped is not fn and isinstance(wrapped, types.FunctionType) \
        and wrapped.__code__.co_filename.startswith("<")


def _field(obj, name):
    d = _instance_dict(obj)
    if name in d:
        return d[name]
    return _UNSET


class _Unset:
    __slots__ = ()

    def __repr__(self):
        return "<unset>"


_UNSET = _Unset()

#: The classes whose __repr__ builds "Name(field=value, ...)" from the
#: fields (pydantic's BaseModel, v1 and v2).
_PYDANTIC_REPR = {("pydantic.main", "BaseModel"),
                  ("pydantic._internal._repr", "Representation"),
                  ("pydantic.utils", "Representation"),
                  ("pydantic.v1.utils", "Representation")}


def _dataclass_fields(cls, fields):
    out = []
    if not isinstance(fields, dict):
        return None
    for name, f in fields.items():
        if not isinstance(name, str):
            continue
        fd = _instance_dict(f)
        kind = fd.get("_field_type")
        if _instance_dict(kind).get("name", "_FIELD") != "_FIELD":
            continue        # a ClassVar or an InitVar
        if fd.get("repr", True) is False:
            continue
        out.append(name)
    return out


def _attrs_fields(attributes):
    out = []
    if not isinstance(attributes, tuple):
        return None
    for a in attributes:
        ad = _instance_dict(a)
        name = ad.get("name")
        if isinstance(name, str) and ad.get("repr", True) is not False:
            out.append(name)
    return out


def _pydantic_fields(cls):
    _, fields = _mro_attr(cls, "__pydantic_fields__")
    if not isinstance(fields, dict):
        _, fields = _mro_attr(cls, "__fields__")      # pydantic 1
    if not isinstance(fields, dict):
        return None
    out = []
    for name, info in fields.items():
        d = _instance_dict(info)
        info1 = d.get("field_info")                    # pydantic 1
        if info1 is not None:
            d = _instance_dict(info1)
        if isinstance(name, str) and d.get("repr", True) is not False:
            out.append(name)
    return out


def field_names(cls):
    """(library, the field names its repr shows) when cls's repr is one
    that a library generates from the fields (dataclasses, attrs,
    pydantic), else None."""
    owner, fn = _mro_attr(cls, "__repr__")
    if owner is None:
        return None
    attrs = _dumped_attrs(owner)
    if _generated(fn):
        if "__dataclass_fields__" in attrs or \
                _mro_attr(cls, "__dataclass_fields__")[0] is not None:
            names = _dataclass_fields(
                cls, _mro_attr(cls, "__dataclass_fields__")[1])
            return None if names is None else ("dataclass", names)
        _, attributes = _mro_attr(cls, "__attrs_attrs__")
        names = _attrs_fields(attributes)
        return None if names is None else ("attrs", names)
    if _names(owner) in _PYDANTIC_REPR:
        names = _pydantic_fields(cls)
        return None if names is None else ("pydantic", names)
    return None


_active = set()


def library_repr(obj):
    """The repr dataclasses, attrs or pydantic would give obj, built from
    the dumped fields (their own reprs), or None when its class has none
    of theirs."""
    cls = type(obj)
    found = field_names(cls)
    if found is None:
        return None
    library, names = found
    _, qual = _names(cls)
    if library == "attrs":
        qual = qual.rsplit(">.", 1)[-1]
    elif library == "pydantic":
        qual = type.__getattribute__(cls, "__name__")
    if id(obj) in _active:
        return "..."
    _active.add(id(obj))
    try:
        parts = ["%s=%r" % (n, _field(obj, n)) for n in names]
    finally:
        _active.discard(id(obj))
    return "%s(%s)" % (qual, ", ".join(parts))


def _fields_eq(self, other):
    """A dataclass's or attrs class's generated __eq__: equal when of the
    same class and with equal fields (compared with their own ==)."""
    if other.__class__ is not self.__class__:
        return NotImplemented
    names = _compared_fields(type(self))
    return all(_field(self, n) == _field(other, n) for n in names)


def _compared_fields(cls):
    _, fields = _mro_attr(cls, "__dataclass_fields__")
    if isinstance(fields, dict):
        out = []
        for name, f in fields.items():
            fd = _instance_dict(f)
            kind = _instance_dict(fd.get("_field_type")).get("name",
                                                             "_FIELD")
            if kind == "_FIELD" and fd.get("compare", True) is not False:
                out.append(name)
        return out
    _, attributes = _mro_attr(cls, "__attrs_attrs__")
    out = []
    for a in attributes if isinstance(attributes, tuple) else ():
        ad = _instance_dict(a)
        if isinstance(ad.get("name"), str) and \
                ad.get("eq", True) is not False:
            out.append(ad["name"])
    return out


def _fields_ne(self, other):
    result = _fields_eq(self, other)
    return result if result is NotImplemented else not result


def _emulate_generated_eq(cls, attrs):
    """A generated __eq__ (dataclasses, attrs) becomes its emulation
    over the dumped fields."""
    fn = attrs.get("__eq__")
    if not _generated(fn):
        return False
    if "__dataclass_fields__" not in attrs and \
            "__attrs_attrs__" not in attrs:
        return False
    type.__setattr__(cls, "__eq__", _fields_eq)
    type.__setattr__(cls, "__ne__", _fields_ne)
    return True


# --------------------------------------------------------------- enums

_ENUM_BASES = {"Enum", "Flag", "IntEnum", "IntFlag", "StrEnum", "ReprEnum",
               "EnumType", "EnumMeta"}


def _enum_str(self):
    d = _instance_dict(self)
    name = d.get("_name_")
    qual = type.__getattribute__(type(self), "__name__")
    if name is None:       # a composite Flag before 3.11
        return "%s.%r" % (qual, d.get("_value_"))
    return "%s.%s" % (qual, name)


def _flag_bool(self):
    return bool(_instance_dict(self).get("_value_"))


def _flag_contains(self, other):
    mine = _instance_dict(self).get("_value_")
    theirs = _instance_dict(other).get("_value_")
    if not isinstance(mine, int) or not isinstance(theirs, int):
        raise TypeError("unsupported operand type(s) for 'in'")
    return theirs & mine == theirs


def _dumped_names(cls, seen=None):
    """(module, qualname) of cls and of every dumped base of it (those the
    surrogate class could not derive from too)."""
    seen = set() if seen is None else seen
    out = []
    stack = [cls]
    while stack:
        klass = stack.pop()
        if not isinstance(klass, type) or id(klass) in seen:
            continue
        seen.add(id(klass))
        out.append(_names(klass))
        d = type.__dict__["__dict__"].__get__(klass)
        stack.extend(d.get("__dumped_bases__", ()))
        stack.extend(klass.__bases__)
    return out


class _MemberAttr:
    """An enum member's name or value, from _name_ / _value_."""

    __slots__ = ("state",)

    def __init__(self, state):
        self.state = state

    def __get__(self, obj, cls=None):
        if obj is None:
            return self
        d = _instance_dict(obj)
        if self.state not in d:
            raise AttributeError(self.state)
        return d[self.state]


def _adapt_mixed_enum(cls, attrs):
    """A builtin subclass that is an enum (IntEnum, StrEnum, an int mix-in):
    its surrogate derives from the builtin only, so name and value come
    from the member's state, and str() is the enum's unless the dumped
    enum is a ReprEnum (3.11+: IntEnum and StrEnum print as the value)."""
    if "_member_map_" not in attrs:
        return False
    names = _dumped_names(cls)
    if not any(m == "enum" and q in _ENUM_BASES for m, q in names):
        return False
    type.__setattr__(cls, "name", _MemberAttr("_name_"))
    type.__setattr__(cls, "value", _MemberAttr("_value_"))
    if "__str__" in attrs:
        return True         # the enum's own: guarded as any override
    if ("enum", "ReprEnum") in names:
        # str() and format() are the builtin's (int's str is its repr)
        base = S._builtin_base(cls)
        text = base.__dict__.get("__str__", base.__repr__)
        type.__setattr__(cls, "__str__", lambda self: text(self))
    else:
        type.__setattr__(cls, "__str__", _enum_str)
        type.__setattr__(cls, "__format__",
                         lambda self, spec: format(_enum_str(self), spec))
    return True


def _adapt_enum(cls):
    """enum's own classes: what their code computes from _name_ and
    _value_ is computed so, the rest refused."""
    module, qual = _names(cls)
    if module != "enum" or qual not in _ENUM_BASES:
        return False
    if qual == "Enum":
        type.__setattr__(cls, "__str__", _enum_str)
    if qual == "Flag":
        type.__setattr__(cls, "__bool__", _flag_bool)
        type.__setattr__(cls, "__contains__", _flag_contains)
    return True


def flag_names(obj, value):
    """The member names a composite Flag value is made of, as 3.9's repr
    shows them (highest value first), or None."""
    _, members = _mro_attr(type(obj), "_member_map_")
    if not isinstance(members, dict) or not isinstance(value, int):
        return None
    found = []
    for name, member in members.items():
        v = _instance_dict(member).get("_value_")
        if isinstance(v, int) and v and v & value == v and \
                bin(v).count("1") == 1:
            found.append((v, name))
    found.sort(reverse=True)
    return "|".join(n for _, n in found) or None


S._REPRS.update(flag_names=flag_names, library_repr=library_repr)
