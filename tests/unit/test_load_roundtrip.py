"""heapdump.dump() then heapdump.load() in one process: what comes back is
what was there (values, identity, classes, exceptions), and nothing of
the dumped program runs while loading."""

import builtins
import collections
import enum
import gc
import math
import sys
import types
import weakref

import pytest
from scenes import frame_named

import heapdump
from heapdump import _load, _model
from heapdump import _surrogates as S

if not hasattr(heapdump, "dump"):
    pytest.skip("heapdump.dump() is not there", allow_module_level=True)

PY311 = sys.version_info >= (3, 11)
CALLS = []


class Tracked:
    """Every special method records a call: none may run while loading."""

    LIMIT = 10

    def __init__(self, name):
        self.name = name
        self.tags = ["a", "b"]

    def label(self):
        return "label:" + self.name

    def __repr__(self):
        CALLS.append("__repr__")
        return "Tracked!"

    def __eq__(self, other):
        CALLS.append("__eq__")
        return False

    def __hash__(self):
        CALLS.append("__hash__")
        return 1

    def __getattr__(self, name):
        CALLS.append("__getattr__ " + name)
        raise AttributeError(name)

    def __del__(self):
        CALLS.append("__del__")


class Slotted:
    __slots__ = ("x", "y")

    def __init__(self):
        self.x = 1


Point = collections.namedtuple("Point", "x y")


class Color(enum.IntEnum):
    RED = 1


class Mood(enum.Enum):
    HAPPY = "happy"


class MyDict(dict):
    pass


class AppError(ValueError):
    pass


def test_values_roundtrip(tmp_path):
    def scene():
        shared = ["shared"]
        cyc = []
        cyc.append(cyc)
        values = {
            "ints": [0, -1, 2**64, -(2**200), 10**30],
            "floats": [float("nan"), float("inf"), -0.0, 1.5, 0.1],
            "text": "caf\u00e9 \ud800 \U0001f600",
            "bytes": b"\x00\xff", "ba": bytearray(b"ba"),
            "tuple": (shared, shared), "set": {1, 2}, "fs": frozenset({3}),
            "range": range(2, 20, 3), "slice": slice(1, None, 2),
            "complex": 1 - 2j, "none": None, "ell": Ellipsis,
        }
        heapdump.dump(tmp_path / "v.dump")
        return values, cyc

    original, _ = scene()
    d = heapdump.load(tmp_path / "v.dump")
    f = frame_named(d, "scene")
    got = f.locals["values"]
    assert got["ints"] == original["ints"]
    assert math.isnan(got["floats"][0])
    assert got["floats"][1:] == original["floats"][1:]
    assert math.copysign(1, got["floats"][2]) == -1
    for key in ("text", "bytes", "ba", "set", "fs", "range", "slice",
                "complex", "none", "ell"):
        assert got[key] == original[key] and type(got[key]) is \
            type(original[key]), key
    assert got["tuple"][0] is got["tuple"][1] is f.locals["shared"]
    cyc = f.locals["cyc"]
    assert cyc[0] is cyc


def test_instances_classes_and_exceptions(tmp_path):
    def scene():
        user = Tracked("ann")
        slotted = Slotted()
        point = Point(1, 2)
        od = collections.OrderedDict(b=1, a=2)
        dd = collections.defaultdict(list, k=[1])
        counter = collections.Counter("abca")
        md = MyDict(x=1)
        md.note = "n"
        color, mood = Color.RED, Mood.HAPPY
        method = user.label
        ref = weakref.ref(Slotted)
        mod = collections
        try:
            try:
                raise KeyError("inner")
            except KeyError as e:
                raise AppError("outer", 3) from e
        except AppError as e:
            if PY311:
                e.add_note("a note")
            err = e
            heapdump.dump(tmp_path / "o.dump")
        return user, slotted, point, od, dd, counter, md, color, mood, \
            method, ref, mod, err

    kept = scene()
    CALLS.clear()
    d = heapdump.load(tmp_path / "o.dump")
    f = frame_named(d, "scene")
    L = f.locals
    user = L["user"]
    assert type(user).__name__ == "Tracked" and type(user).__module__ == \
        __name__
    assert user.name == "ann" and user.tags == ["a", "b"]
    assert user.LIMIT == 10
    assert repr(user) == "<%s.Tracked object at 0x%x>" % (__name__,
                                                           id(kept[0]))
    assert S.address(user) == id(kept[0])
    assert user.label.__func__.__name__ == "label"
    assert L["slotted"].x == 1 and not hasattr(L["slotted"], "y")
    assert L["point"] == (1, 2) and L["point"].y == 2
    assert repr(L["point"]) == "Point(x=1, y=2)"
    assert type(L["od"]) is collections.OrderedDict
    assert list(L["od"]) == ["b", "a"]
    assert L["dd"].default_factory is list and L["dd"]["k"] == [1]
    assert L["counter"] == collections.Counter("abca")
    assert L["md"] == {"x": 1} and L["md"].note == "n"
    assert isinstance(L["color"], int) and L["color"] == 1
    assert "RED" in repr(L["color"]) and "HAPPY" in repr(L["mood"])
    assert isinstance(L["method"], types.MethodType)
    assert L["method"].__self__ is user
    assert L["ref"]() is not None
    assert L["mod"].__name__ == "collections"
    assert isinstance(L["mod"], types.ModuleType)
    err = L["err"]
    assert d.exception is err
    assert type(err).__name__ == "AppError" and isinstance(err, ValueError)
    assert err.args == ("outer", 3)
    assert type(err.__cause__) is KeyError and err.__suppress_context__
    if PY311:
        assert err.__notes__ == ["a note"]
    entries = d.traceback.entries()
    assert entries[-1].frame is f
    assert d.traceback_of(err) is d.traceback
    assert CALLS == []                 # nothing of Tracked ran


@pytest.mark.skipif(not PY311, reason="exception groups are 3.11+")
def test_exception_group_roundtrip(tmp_path):
    ExceptionGroup = builtins.ExceptionGroup

    def scene():
        try:
            raise ExceptionGroup("many", [ValueError(1), KeyError(2)])
        except ExceptionGroup:
            heapdump.dump(tmp_path / "g.dump")

    scene()
    d = heapdump.load(tmp_path / "g.dump")
    eg = d.exception
    assert type(eg) is ExceptionGroup and eg.message == "many"
    assert [type(e) for e in eg.exceptions] == [ValueError, KeyError]
    assert str(eg) == "many (2 sub-exceptions)"


def test_closures_generators_functions(tmp_path):
    def scene():
        captured = {"k": 1}

        def inner():
            return captured

        def gen():
            yield 1
            yield 2

        g = gen()
        next(g)
        builtin = len
        heapdump.dump(tmp_path / "c.dump")
        return inner, g, builtin

    scene()
    d = heapdump.load(tmp_path / "c.dump")
    L = frame_named(d, "scene").locals
    inner = L["inner"]
    assert inner.__name__ == "inner"
    assert inner.__qualname__.endswith("scene.<locals>.inner")
    g = L["g"]
    assert isinstance(g, S.Generator) and g.state == "suspended"
    assert isinstance(g.gi_frame, _model.Frame)
    assert "len" in repr(L["builtin"])


def test_limits_cuts_and_redaction(tmp_path):
    def scene():
        long_list = list(range(100))
        long_text = "x" * 500
        password = "hunter2"
        heapdump.dump(tmp_path / "l.dump", max_items=10, max_string=50)

    scene()
    d = heapdump.load(tmp_path / "l.dump")
    L = frame_named(d, "scene").locals
    assert isinstance(L["long_list"], S.CutList)
    assert L["long_list"] == list(range(10))
    assert L["long_list"].original_length == 100
    assert isinstance(L["long_text"], S.CutStr) and len(L["long_text"]) == 50
    assert L["long_text"].original_length == 500
    assert isinstance(L["password"], S.Redacted)
    assert "hunter2" not in repr(L["password"])
    assert d.cuts


def test_objects_and_addresses(tmp_path):
    def scene():
        data = {"a": [1, 2, 3]}
        heapdump.dump(tmp_path / "a.dump")
        return data

    data = scene()
    d = heapdump.load(tmp_path / "a.dump")
    got = frame_named(d, "scene").locals["data"]
    assert _load.address_of(d, got) == id(data)
    assert d.objects[_load.id_of(d, got)] is got
    assert len(d.addresses) == len(d.objects) == len(d.sizes)
    assert not d.truncated and d.trailer["objects"] == len(d.objects)


class HashedList(list):
    """A list subclass with a __hash__ of its own (as typing_extensions'
    ParamSpec on 3.9): its instances can be dict keys and set members."""

    def __hash__(self):
        CALLS.append("HashedList.__hash__")
        return id(self) >> 4


class PlainList(list):
    pass


def test_hashable_subclass_of_unhashable_builtin(tmp_path):
    # a dict keyed by instances of a hashable list subclass loads: the
    # surrogate class hashes by identity (the dumped __hash__ never runs);
    # a subclass without one stays unhashable
    def scene():
        k1, k2 = HashedList([1]), HashedList([1])
        keyed = {k1: "one", k2: "two"}
        members = {k1}
        plain = PlainList([2])
        heapdump.dump(tmp_path / "h.dump")
        return keyed, members, plain

    scene()
    gc.collect()            # earlier tests' Tracked objects: their __del__
    del CALLS[:]
    d = heapdump.load(tmp_path / "h.dump")
    assert CALLS == []
    f = frame_named(d, "scene")
    k1, k2 = f.locals["k1"], f.locals["k2"]
    assert type(k1).__qualname__ == "HashedList" and k1 == [1]
    assert f.locals["keyed"][k1] == "one" and f.locals["keyed"][k2] == "two"
    assert f.locals["members"] == {k1}
    with pytest.raises(TypeError):
        hash(f.locals["plain"])
    assert CALLS == []


def test_realized_traceback_prints_as_the_live_one(tmp_path):
    # through the real dumper: the realized exception's traceback prints
    # line for line as the live one did, carets of the outer entries
    # included (3.11+: the TRACEBACK records' positions)
    import traceback

    from heapdump import _frames

    def inner(values):
        return values["missing"] + 1

    def middle(values):
        return [inner(values)][0]

    live = []
    try:
        middle({"present": 1})
    except KeyError as e:
        live = traceback.format_exception(type(e), e, e.__traceback__)
        heapdump.dump(tmp_path / "t.dump")
    d = heapdump.load(tmp_path / "t.dump")
    _frames.realize(d)
    exc = d.exception
    assert isinstance(exc, KeyError)
    ours = traceback.format_exception(type(exc), exc, exc.__traceback__)
    assert ours == live
    if PY311:
        # the carets under the failing expression (3.11+)
        assert any("^" in line for line in ours[1:3])


class MyOrdered(collections.OrderedDict):
    pass


def test_ordered_dict_order_after_move_to_end(tmp_path):
    # move_to_end reorders only OrderedDict's private linked list, not the
    # dict table: the dump follows the list
    def scene():
        od = collections.OrderedDict((k, k.upper()) for k in "abcdef")
        od.move_to_end("a")
        od.move_to_end("d", last=False)
        del od["c"]
        od["c"] = "again"
        sub = MyOrdered(x=1, y=2, z=3)
        sub.move_to_end("x")
        heapdump.dump(tmp_path / "od.dump")
        return od, sub

    original, original_sub = scene()
    got = frame_named(heapdump.load(tmp_path / "od.dump"), "scene")
    od, sub = got.locals["od"], got.locals["sub"]
    assert type(od) is collections.OrderedDict
    assert list(od.items()) == list(original.items())
    assert list(od) == ["d", "b", "e", "f", "a", "c"]
    assert list(sub.items()) == list(original_sub.items()) == \
        [("y", 2), ("z", 3), ("x", 1)]
