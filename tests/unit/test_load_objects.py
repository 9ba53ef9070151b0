"""heapdump.load() on hand-made files: instances, classes, exceptions,
functions, frames, threads, and the stand-ins for what cannot be real."""

import builtins
import collections
import inspect
import sys
import types

import pytest
from dumpwriter import (
    CK_CELL,
    CK_FREE,
    CK_HIDDEN,
    CK_LOCAL,
    DICT,
    EXCEPTION,
    FROZENSET,
    INSTANCE,
    INT,
    LIST,
    OPAQUE,
    SET,
    STR,
    TUPLE,
    UNBOUND,
    Int,
    Writer,
)

from heapdump import _load, _model
from heapdump import _surrogates as S
from heapdump._surrogates import DumpedAttributeError, DumpedCodeError

PY311 = sys.version_info >= (3, 11)


@pytest.fixture
def loadw(tmp_path):
    def do(w, **kw):
        path = tmp_path / "t.dump"
        path.write_bytes(w.getvalue())
        return _load.load(path, **kw)
    return do


def user_class(w, attrs=None, module="myapp.models", name="User", **kw):
    attrs = attrs if attrs is not None else [("LIMIT", Int(10))]
    return w.pyclass(name, module, attrs=attrs, **kw)


# ---------------------------------------------------------------- instances

def test_instance_attributes_names_and_repr(loadw):
    w = Writer()
    User = user_class(w, firstlineno=12)
    lay = w.layout(User, ["name", "age", "slot_unset"])
    u = w.instance(lay, ["ann", Int(33), UNBOUND],
                   addr=0x7F12A4C3E0D0)
    w.root("u", u)
    d = loadw(w)
    user = d.roots["u"]
    cls = type(user)
    assert cls.__name__ == "User" and cls.__qualname__ == "User"
    assert cls.__module__ == "myapp.models"
    assert user.name == "ann" and user.age == 33
    assert not hasattr(user, "slot_unset")
    assert user.LIMIT == 10                     # a class attribute
    assert repr(user) == "<myapp.models.User object at 0x7f12a4c3e0d0>"
    assert S.address(user) == 0x7F12A4C3E0D0
    assert S.dump_id(user) == u
    assert vars(user) == {"name": "ann", "age": 33}
    assert cls.__firstlineno__ == 12
    assert isinstance(user, S.Instance)
    # attributes can be changed from pdb
    user.age = 34
    assert user.age == 34


def test_one_class_per_type_record(loadw):
    w = Writer()
    User = user_class(w)
    lay = w.layout(User, ["name"])
    a = w.instance(lay, ["a"])
    b = w.instance(lay, ["b"])
    bare = w.bare_instance(User)
    d = loadw(w)
    o = d.objects
    assert type(o[a]) is type(o[b]) is type(o[bare]) is o[User]
    assert vars(o[bare]) == {}


def test_dunder_class_attributes_are_not_behaviour(loadw):
    w = Writer()
    code = w.code("__eq__", "User.__eq__", names=["self", "other"],
                  argcount=2)
    eq = w.function("__eq__", code, "User.__eq__")
    code2 = w.code("label", "User.label", names=["self"], argcount=1)
    label = w.function("label", code2, "User.label")
    User = user_class(w, attrs=[
        ("__eq__", eq), ("__getattr__", eq), ("__repr__", eq),
        ("__hash__", None), ("__init__", eq), ("__doc__", "A user."),
        ("label", label), ("LIMIT", Int(5)), ("__slots__", w.tuple_(["name"])),
    ])
    lay = w.layout(User, ["name"])
    u1 = w.instance(lay, ["x"])
    u2 = w.instance(lay, ["x"])
    d = loadw(w)
    a, b = d.objects[u1], d.objects[u2]
    cls = type(a)
    # the dumped __eq__ and __getattr__ never run, and are not answered
    # by the defaults (identity) either: they raise, naming the code
    with pytest.raises(DumpedCodeError, match=r"User\.__eq__ \(of "
                       r"myapp\.models\.User\) is the class's own code"):
        _ = a == b
    hash(a)                                # identity hash
    with pytest.raises(DumpedAttributeError, match="__getattr__"):
        _ = a.missing
    assert not hasattr(a, "missing")       # an AttributeError too
    assert repr(a).startswith("<myapp.models.User object at 0x")
    assert vars(cls)["__eq__"].__qualname__ == "User.__eq__"
    assert "__init__" not in vars(cls)
    assert cls.__doc__ == "A user."
    assert cls.LIMIT == 5
    # methods are real functions (pdb's `source` needs them)
    assert inspect.isfunction(cls.label)
    assert inspect.ismethod(a.label)
    assert cls.__dumped_attrs__["__eq__"] is d.objects[eq]


def test_class_hierarchy(loadw):
    w = Writer()
    Base = w.pyclass("Base", "myapp.base", attrs=[("KIND", "base")])
    Mixin = w.pyclass("Mixin", "myapp.base", attrs=[("MIX", Int(1))])
    Child = w.pyclass("Child", "myapp.models", bases=[Base, Mixin],
                      qualname="outer.<locals>.Child")
    c = w.bare_instance(Child)
    d = loadw(w)
    o = d.objects
    child = o[c]
    assert isinstance(child, o[Base]) and isinstance(child, o[Mixin])
    assert child.KIND == "base" and child.MIX == 1
    assert type(child).__qualname__ == "outer.<locals>.Child"
    assert repr(child).startswith(
        "<myapp.models.outer.<locals>.Child object at 0x")


def test_builtin_types_are_the_real_ones(loadw):
    w = Writer()
    ints = w.builtin_type("int", base_kind=INT)
    ve = w.builtin_type("ValueError", base_kind=EXCEPTION)
    fn = w.builtin_type("function")
    nonetype = w.builtin_type("NoneType")
    nosuch = w.builtin_type("NoSuchBuiltin")
    obj = w.builtin_type("object", base_kind=INSTANCE)
    plain = w.bare_instance(obj)
    d = loadw(w)
    o = d.objects
    assert o[ints] is int and o[ve] is ValueError
    assert o[fn] is types.FunctionType and o[nonetype] is type(None)
    assert o[w.builtin_type("type")] is type
    assert isinstance(o[nosuch], type) and o[nosuch].__name__ == \
        "NoSuchBuiltin"
    assert repr(o[plain]).startswith("<object object at 0x")


def test_opaque(loadw):
    w = Writer()
    sock = w.type_("socket", module="_socket", bases=[], base_kind=OPAQUE,
                   flags=0)
    lay = w.layout(sock, ["family", "timeout"])
    buf = w.bytes_(b"pending")
    o = w.opaque(sock, lay, [Int(2), 1.5], [buf, "inline referent"],
                 addr=0x7F00DEADBEEF)
    lock = w.builtin_type("lock")
    o2 = w.opaque(w.type_("lock", module="_thread", bases=[],
                          base_kind=OPAQUE, flags=0))
    d = loadw(w)
    s = d.objects[o]
    assert repr(s) == "<_socket.socket object at 0x7f00deadbeef (opaque)>"
    assert s.family == 2 and s.timeout == 1.5
    assert S.referents(s) == (b"pending", "inline referent")
    assert S.referents(s)[0] is d.objects[buf]
    assert type(s).__module__ == "_socket"
    assert isinstance(s, S.Opaque)
    assert S.referents(d.objects[o2]) == ()
    assert "(opaque)" in repr(d.objects[o2])
    assert lock is not None


# -------------------------------------------------------- builtin subclasses

def test_dict_subclass_with_attributes(loadw):
    w = Writer()
    dt = w.builtin_type("dict", base_kind=DICT)
    MyDict = w.pyclass("MyDict", "myapp.util", bases=[dt], base_kind=DICT,
                       attrs=[("HELP", "x")])
    lay = w.layout(MyDict, ["note"])
    w.class_(MyDict, lay, ["hello"])
    md = w.dict_([("a", Int(1)), ("b", Int(2))])
    d = loadw(w)
    m = d.objects[md]
    assert isinstance(m, dict) and type(m).__name__ == "MyDict"
    assert type(m).__module__ == "myapp.util"
    assert m == {"a": 1, "b": 2} and list(m) == ["a", "b"]
    assert m.note == "hello" and m.HELP == "x"
    assert repr(m) == "MyDict({'a': 1, 'b': 2})"


def test_stdlib_dicts_are_real(loadw):
    w = Writer()
    dt = w.builtin_type("dict", base_kind=DICT)
    lt = w.builtin_type("list", base_kind=LIST)
    od_t = w.type_("OrderedDict", module="collections", bases=[dt],
                   base_kind=DICT, flags=0)
    dd_t = w.type_("defaultdict", module="collections", bases=[dt],
                   base_kind=DICT, flags=0)
    c_t = w.type_("Counter", module="collections", bases=[dt],
                  base_kind=DICT, flags=1)
    w.class_(od_t)
    od = w.dict_([("z", Int(1)), ("a", Int(2))])
    lay = w.layout(dd_t, ["default_factory"])
    w.class_(dd_t, lay, [lt])
    dd = w.dict_([("k", w.next_id + 1)])
    w.list_([Int(1)])
    w.class_(c_t)
    cnt = w.dict_([("x", Int(3))])
    d = loadw(w)
    o = d.objects
    assert type(o[od]) is collections.OrderedDict
    assert list(o[od].items()) == [("z", 1), ("a", 2)]
    o[od].move_to_end("z")                 # its bookkeeping works
    assert list(o[od]) == ["a", "z"]
    assert type(o[dd]) is collections.defaultdict
    assert o[dd].default_factory is list and o[dd]["k"] == [1]
    assert o[dd]["new"] == []
    assert type(o[cnt]) is collections.Counter and o[cnt]["x"] == 3
    assert o[cnt]["missing"] == 0


def test_namedtuple(loadw):
    w = Writer()
    tt = w.builtin_type("tuple", base_kind=TUPLE)
    fields = w.tuple_(["x", "y"])
    Point = w.pyclass("Point", "myapp.geo", bases=[tt], base_kind=TUPLE,
                      attrs=[("_fields", fields), ("x", UNBOUND),
                             ("__slots__", w.tuple_([]))])
    w.class_(Point)
    p = w.tuple_([Int(1), Int(2)])
    w.class_(Point)
    q = w.tuple_([Int(3), p])
    d = loadw(w)
    pt, qt = d.objects[p], d.objects[q]
    assert isinstance(pt, tuple) and pt == (1, 2)
    assert pt.x == 1 and pt.y == 2
    assert qt.y is pt
    assert repr(pt) == "Point(x=1, y=2)"
    assert type(pt).__name__ == "Point" and type(pt).__module__ == \
        "myapp.geo"
    assert hash(pt) == hash((1, 2))
    assert {pt: 1}[(1, 2)] == 1


@pytest.mark.parametrize("kind,value,builtin", [
    (STR, "abc", str), (INT, Int(7), int), (2, 1.5, float),
    (5, b"b", bytes), (6, b"ba", bytearray), (3, None, complex),
])
def test_scalar_subclasses(loadw, kind, value, builtin):
    w = Writer()
    bt = w.builtin_type(builtin.__name__, base_kind=kind)
    Cls = w.pyclass("Sub", "myapp.kinds", bases=[bt], base_kind=kind)
    lay = w.layout(Cls, ["_name_", "_value_", "extra"])
    w.class_(Cls, lay, ["RED", Int(1), "e"])
    if kind == 3:
        oid = w.obj(3, 1.0, 2.0)
        expect = 1 + 2j
    else:
        oid = w.obj(kind, value)
        expect = builtin(value.value if isinstance(value, Int) else value)
    d = loadw(w)
    v = d.objects[oid]
    assert isinstance(v, builtin) and type(v) is not builtin
    assert v == expect and v.extra == "e"
    assert repr(v) == "<Sub.RED: 1>"


@pytest.mark.parametrize("kind,builtin", [(LIST, list), (SET, set),
                                          (FROZENSET, frozenset)])
def test_container_subclasses(loadw, kind, builtin):
    w = Writer()
    bt = w.builtin_type(builtin.__name__, base_kind=kind)
    Cls = w.pyclass("Bag", "myapp.kinds", bases=[bt], base_kind=kind)
    lay = w.layout(Cls, ["tag"])
    w.class_(Cls, lay, ["t"])
    oid = w.obj(kind, Int(1), Int(2))
    d = loadw(w)
    v = d.objects[oid]
    assert type(v).__name__ == "Bag" and isinstance(v, builtin)
    assert v == builtin([1, 2]) and v.tag == "t"
    assert repr(v).startswith("Bag(")


# ---------------------------------------------------------------- exceptions

def exception_types(w):
    ve = w.builtin_type("ValueError", base_kind=EXCEPTION)
    MyError = w.pyclass("MyError", "myapp.errors", bases=[ve],
                        base_kind=EXCEPTION,
                        attrs=[("__init__", None), ("CODE", Int(7))])
    return ve, MyError


def test_exceptions(loadw):
    w = Writer()
    ve, MyError = exception_types(w)
    ke = w.builtin_type("KeyError", base_kind=EXCEPTION)
    inner = w.exception(ke, w.next_id + 1)
    w.tuple_(["missing"])
    lay = w.layout(MyError, ["__notes__", "detail"])
    notes = w.list_(["a note"])
    exc = w.exception(MyError, w.next_id + 1, cause=inner, context=inner,
                      suppress_context=True, layout=lay,
                      values=[notes, "more"])
    w.tuple_(["bad", Int(7)])
    w.root("exception", exc)
    d = loadw(w)
    e = d.exception
    assert type(e).__name__ == "MyError" and isinstance(e, ValueError)
    assert type(e).__module__ == "myapp.errors"
    assert type(e).__mro__[1] is ValueError
    assert e.args == ("bad", 7)
    assert e.CODE == 7
    assert e.detail == "more" and e.__notes__ == ["a note"]
    assert type(e.__cause__) is KeyError and e.__cause__.args == ("missing",)
    assert e.__context__ is e.__cause__ and e.__suppress_context__
    assert repr(e) == "MyError('bad', 7)"
    assert str(e.__cause__) == "'missing'"
    assert e.__traceback__ is None
    assert d.traceback is None


def test_exception_init_never_runs(loadw):
    # a dumped class whose __init__ would fail: we never call it, nor the
    # builtin's
    w = Writer()
    ose = w.builtin_type("OSError", base_kind=EXCEPTION)
    lay = w.layout(ose, ["errno", "strerror", "filename"])
    exc = w.exception(ose, w.next_id + 1, layout=lay,
                      values=[Int(2), "No such file", "/x"])
    w.tuple_([Int(2), "No such file"])
    d = loadw(w)
    e = d.objects[exc]
    assert type(e) is OSError
    assert (e.errno, e.strerror, e.filename) == (2, "No such file", "/x")


@pytest.mark.skipif(not PY311, reason="exception groups are 3.11+")
def test_exception_group(loadw):
    w = Writer()
    eg = w.builtin_type("ExceptionGroup", base_kind=EXCEPTION)
    ve = w.builtin_type("ValueError", base_kind=EXCEPTION)
    lay = w.layout(eg, ["exceptions", "message"])
    m1 = w.exception(ve, w.next_id + 2)
    m2 = w.exception(ve, w.next_id + 2)
    w.tuple_(["one"])
    w.tuple_(["two"])
    members = w.tuple_([m1, m2])
    g = w.exception(eg, w.next_id + 1, layout=lay, values=[members, "grp"])
    w.tuple_(["grp", w.next_id + 1])
    w.list_([m1, m2])
    d = loadw(w)
    e = d.objects[g]
    assert type(e) is builtins.ExceptionGroup
    assert e.message == "grp" and e.exceptions == (d.objects[m1],
                                                   d.objects[m2])
    assert str(e) == "grp (2 sub-exceptions)"
    assert e.args[1] == [d.objects[m1], d.objects[m2]]
    assert e.split(ValueError)[0].exceptions == e.exceptions


def test_exception_group_by_name_on_any_version(loadw):
    w = Writer()
    eg = w.type_("ExceptionGroup", module="builtins", bases=[
        w.builtin_type("Exception", base_kind=EXCEPTION)],
        base_kind=EXCEPTION, flags=0)
    ve = w.builtin_type("ValueError", base_kind=EXCEPTION)
    lay = w.layout(eg, ["exceptions", "message"])
    m1 = w.exception(ve, w.next_id + 2)
    members = w.tuple_([m1])
    w.tuple_(["one"])
    g = w.exception(eg, w.next_id + 1, layout=lay, values=[members, "g"])
    w.tuple_(["g", members])
    d = loadw(w)
    e = d.objects[g]
    assert type(e).__name__ == "ExceptionGroup"
    assert e.exceptions == (d.objects[m1],) and e.message == "g"


def test_exception_with_lost_type_class_is_still_an_exception(loadw):
    w = Writer()
    notexc = w.pyclass("Thing", "m")       # base_kind INSTANCE
    exc = w.exception(notexc, None)
    d = loadw(w)
    e = d.objects[exc]
    assert isinstance(e, Exception) and type(e).__name__ == "Thing"


# ------------------------------------------------------ frames, tracebacks

def stack(w, with_exception=True):
    """module frame <- main frame <- inner frame, and a traceback."""
    g = w.dict_([("__name__", "__main__"), ("CONST", Int(1))])
    mod_code = w.code("<module>", filename="/srv/app/main.py")
    mod_frame = w.frame(mod_code, None, g, g, lineno=30)
    main_code = w.code("main", filename="/srv/app/main.py", firstlineno=10,
                       argcount=1, names=["arg", "local", "cellvar", "gone",
                                          ".0"],
                       kinds=[CK_LOCAL, CK_LOCAL, CK_CELL | CK_LOCAL,
                              CK_LOCAL, CK_LOCAL | CK_HIDDEN])
    main_frame = w.frame(main_code, mod_frame, g, None, lineno=12,
                         lasti=40, position=[12, 4, 20],
                         values=["a", Int(5), "cell content", UNBOUND,
                                 "hidden"])
    inner_code = w.code("inner", filename="/srv/app/lib.py", firstlineno=3,
                        names=["x"])
    inner_frame = w.frame(inner_code, main_frame, g, None, lineno=4,
                          values=[Int(9)])
    out = {"g": g, "mod": mod_frame, "main": main_frame,
           "inner": inner_frame, "main_code": main_code}
    if with_exception:
        ve = w.builtin_type("ValueError", base_kind=EXCEPTION)
        tb3 = w.traceback(inner_frame, 4, 10)
        tb2 = w.traceback(main_frame, 12, 40, tb3)
        tb1 = w.traceback(mod_frame, 30, 2, tb2)
        exc = w.exception(ve, w.next_id + 1, traceback=tb1)
        w.tuple_(["boom"])
        w.root("exception", exc)
        out.update(tb1=tb1, exc=exc)
    w.thread(1234, inner_frame, native_id=99, name="MainThread")
    w.thread(5678, None, name="idle", is_current=False, is_main=False)
    return out


def test_frames_and_traceback(loadw):
    w = Writer()
    ids = stack(w)
    d = loadw(w)
    o = d.objects
    main = o[ids["main"]]
    assert isinstance(main, _model.Frame)
    assert main.locals == {"arg": "a", "local": 5, "cellvar": "cell content"}
    assert main.globals is o[ids["g"]] and main.globals["CONST"] == 1
    assert main.back is o[ids["mod"]] and main.lineno == 12
    assert main.lasti == 40 and main.position == (12, 4, 20)
    assert main.code.name == "main" and main.code.firstlineno == 10
    assert main.code.names == ("arg", "local", "cellvar", "gone", ".0")
    assert main.address == d.addresses[ids["main"]]
    assert not main.is_module
    mod = o[ids["mod"]]
    assert mod.is_module and mod.locals is mod.globals
    assert mod.back is None
    assert isinstance(main.code, _model.Code) and main.code is \
        o[ids["main_code"]]
    # the traceback: outermost first
    tb = d.traceback
    assert isinstance(tb, _model.Traceback)
    entries = tb.entries()
    assert [e.frame for e in entries] == [mod, main, o[ids["inner"]]]
    assert [e.lineno for e in entries] == [30, 12, 4]
    assert d.traceback_of(d.exception) is tb
    assert d.exception.args == ("boom",)


def test_threads(loadw):
    w = Writer()
    ids = stack(w, with_exception=False)
    d = loadw(w)
    main_thread, idle = d.threads
    assert main_thread.ident == 1234 and main_thread.native_id == 99
    assert main_thread.is_current and main_thread.is_main
    assert [f.code.name for f in main_thread.frames] == \
        ["inner", "main", "<module>"]
    assert idle.frames == [] and not idle.is_current
    assert d.current_thread is main_thread
    assert d.thread(99) is main_thread
    assert d.exception is None and d.traceback is None
    assert ids


def test_thread_frame_cycle_is_cut(loadw):
    w = Writer()
    code = w.code("f")
    f1 = w.next_id
    w.frame(code, f1 + 1)
    w.frame(code, f1)
    w.thread(1, f1)
    d = loadw(w)
    assert len(d.threads[0].frames) == 2


# ----------------------------------------------------------- functions & co

def test_functions(loadw):
    w = Writer()
    code = w.code("handler", "View.handler", filename="/srv/app/views.py",
                  firstlineno=20, argcount=2, kwonlyargcount=1,
                  names=["self", "req", "flag", "tmp"])
    defaults = w.tuple_([Int(3)])
    kwd = w.dict_([("flag", True)])
    lay = w.layout(w.builtin_type("function"), ["__doc__", "__wrapped__",
                                                "custom"])
    fn = w.function("handler", code, "View.handler", "myapp.views",
                    defaults=defaults, kwdefaults=kwd, layout=lay,
                    values=["Handle it.", w.next_id, Int(1)])
    d = loadw(w)
    f = d.objects[fn]
    assert inspect.isfunction(f)
    assert f.__name__ == "handler" and f.__qualname__ == "View.handler"
    assert f.__module__ == "myapp.views"
    assert f.__defaults__ == (3,) and f.__kwdefaults__ == {"flag": True}
    assert f.__defaults__ is d.objects[defaults]
    assert f.__doc__ == "Handle it." and f.custom == 1
    assert f.__wrapped__ is f
    assert f.__code__.co_firstlineno == 20
    assert f.__code__.co_filename == "/srv/app/views.py"


def test_function_defaults_holding_the_function(loadw):
    w = Writer()
    code = w.code("f", names=["x"], argcount=1)
    fn = w.next_id
    w.function("f", code, defaults=fn + 1)
    w.tuple_([fn])
    d = loadw(w)
    f = d.objects[fn]
    assert f.__defaults__ == (f,)


def test_closures_and_cells(loadw):
    w = Writer()
    code = w.code("inner", "outer.<locals>.inner", argcount=0,
                  names=["y", "captured"], kinds=[CK_LOCAL, CK_FREE])
    c1 = w.cell(Int(41))
    empty = w.cell()
    clo = w.tuple_([c1])
    fn = w.function("inner", code, "outer.<locals>.inner", closure=clo)
    d = loadw(w)
    o = d.objects
    assert isinstance(o[c1], types.CellType)
    assert o[c1].cell_contents == 41
    with pytest.raises(ValueError):
        _ = o[empty].cell_contents
    f = o[fn]
    assert inspect.isfunction(f)
    assert f.__closure__[0] is o[c1]
    assert f.__code__.co_freevars == ("captured",)
    assert f.__code__.co_varnames == ("y",)


def test_functions_without_heapdump_frames(loadw, monkeypatch):
    monkeypatch.setitem(sys.modules, "heapdump._frames", None)
    w = Writer()
    code = w.code("f", "f")
    fn = w.function("f", code, defaults=None, addr=0x7F0000000ABC)
    d = loadw(w)
    f = d.objects[fn]
    assert isinstance(f, S.Function)
    assert f.__name__ == "f" and f.__code__ is d.objects[code]
    assert repr(f) == "<function f at 0x7f0000000abc>"
    assert any("_frames" in m for m in d.warnings)


def test_methods_and_builtin_functions(loadw):
    w = Writer()
    User = user_class(w)
    u = w.bare_instance(User)
    code = w.code("label", "User.label", argcount=1, names=["self"])
    fn = w.function("label", code, "User.label")
    m = w.method(fn, u)
    bi = w.module("builtins")
    length = w.cfunction("len", self_=bi)
    app = w.cfunction("append", "list.append", self_=w.next_id + 1)
    w.list_([])
    d = loadw(w)
    o = d.objects
    meth = o[m]
    assert isinstance(meth, types.MethodType)
    assert meth.__self__ is o[u] and meth.__func__ is o[fn]
    assert repr(o[length]) == "<built-in function len>"
    assert o[length].__self__ is o[bi]
    assert repr(o[app]).startswith("<built-in method append of list object")


def test_modules_are_not_imported(loadw):
    w = Writer()
    mod = w.module("evil_heapdump_test_module", "/srv/evil.py")
    d = loadw(w)
    m = d.objects[mod]
    assert isinstance(m, types.ModuleType)
    assert m.__name__ == "evil_heapdump_test_module"
    assert m.__file__ == "/srv/evil.py"
    assert "evil_heapdump_test_module" not in sys.modules
    assert "(dumped)" in repr(m)


def test_generators_and_weakrefs(loadw):
    w = Writer()
    gen_t = w.builtin_type("generator")
    code = w.code("gen", "gen", names=["i"])
    fr = w.frame(code, None, None, None, lineno=3, values=[Int(2)])
    g = w.generator(gen_t, "generator", "gen", "gen", fr, "suspended")
    coro = w.generator(w.builtin_type("coroutine"), "coroutine", "c", "c",
                       None, "closed")
    User = user_class(w)
    u = w.bare_instance(User)
    ref_t = w.builtin_type("weakref.ReferenceType")
    r = w.weakref(ref_t, u)
    dead = w.weakref(ref_t, None)
    d = loadw(w)
    o = d.objects
    gen = o[g]
    assert gen.gi_frame is o[fr] and gen.gi_frame.locals == {"i": 2}
    assert gen.gi_code is o[code] and gen.state == "suspended"
    assert gen.gi_suspended and not gen.gi_running
    assert repr(gen).startswith("<generator object gen at 0x")
    assert o[coro].cr_frame is None and o[coro].state == "closed"
    assert o[r]() is o[u] and o[dead]() is None
    assert "; dead>" in repr(o[dead])
    assert "to 'myapp.models.User' at 0x" in repr(o[r])


def test_enum_members_repr(loadw):
    w = Writer()
    Color = w.pyclass("Color", "myapp.enums")
    lay = w.layout(Color, ["_value_", "_name_"])
    red = w.instance(lay, [Int(1), "RED"])
    d = loadw(w)
    assert repr(d.objects[red]) == "<Color.RED: 1>"


def test_nothing_from_the_file_runs(loadw, tmp_path):
    # names that would import or run something if the loader used them
    w = Writer()
    evil = w.pyclass("Popen", "subprocess", attrs=[
        ("__init_subclass__", None), ("__class_getitem__", None),
        ("__set_name__", None), ("__del__", None)])
    lay = w.layout(evil, ["args", "__class__", "__dict__"])
    p = w.instance(lay, [w.list_(["touch", str(tmp_path / "pwned")]),
                         "x", Int(1)])
    mod = w.module("os.system")
    before = set(sys.modules)
    d = loadw(w)
    assert set(sys.modules) - before <= {"heapdump._frames"}
    obj = d.objects[p]
    import subprocess
    assert not isinstance(obj, subprocess.Popen)
    assert type(obj) is not subprocess.Popen and type(obj).__name__ == \
        "Popen"
    assert not (tmp_path / "pwned").exists()
    assert isinstance(d.objects[mod], S.DumpedModule)
    del obj, d
    import gc
    gc.collect()
    assert not (tmp_path / "pwned").exists()
    assert builtins.len is len


def test_unreadable(loadw):
    w = Writer()
    bad = w.obj(29, "a fault (SIGSEGV) while reading it", refcnt=0,
                addr=0x7F0000001230)
    ok = w.str_("fine")
    w.root("l", w.list_([bad, ok]))
    d = loadw(w)
    u = d.roots["l"][0]
    assert isinstance(u, S.Unreadable) and not u
    assert repr(u) == ("<unreadable object at 0x7f0000001230: a fault "
                       "(SIGSEGV) while reading it>")
    assert d.roots["l"][1] == "fine" and d.objects[ok] == "fine"
