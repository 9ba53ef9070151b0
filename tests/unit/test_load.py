"""heapdump.load() on hand-made files: builtin values come back as
themselves, equal to the originals, with identity and cycles kept."""

import math
import struct
import sys

import pytest
from dumpwriter import (
    DICT,
    LIST,
    MAX_RECORD_ITEMS,
    UNBOUND,
    Float32,
    Int,
    Omitted,
    PyWriter,
    Redacted,
    Run,
    Writer,
    compress,
    file_with_body,
    pack,
)

import heapdump
from heapdump import _load
from heapdump import _surrogates as S
from heapdump._model import Dump


@pytest.fixture
def loadw(tmp_path):
    """load(writer) through a file; keyword file={...} goes to getvalue."""
    def do(w, file=None, **kw):
        path = tmp_path / "t.dump"
        path.write_bytes(w.getvalue(**(file or {})))
        return _load.load(path, **kw)
    return do


def roundtrip(loadw, value, **kw):
    w = PyWriter(**kw)
    v = w.walk(value)
    w.root("value", v)
    d = loadw(w)
    assert not d.truncated
    return d.roots["value"], d


# ------------------------------------------------------------------ scalars

@pytest.mark.parametrize("inline", [True, False])
def test_scalars(loadw, inline):
    values = [0, 1, -1, 127, 128, -129, 2**63 - 1, 2**63, -2**63, 2**64,
              -2**64 - 1, 2**200 + 7, -(2**300), 1.5, -0.0, float("inf"),
              float("-inf"), 1e-310, 0.1, 3 + 4j, complex(-0.0, float("inf")),
              "", "ascii", "é", "𝄞 non-BMP", "\ud800 lone \udfff", "\x00nul",
              b"", b"\x00\xff bytes", bytearray(b"ba"), None, True, False,
              Ellipsis, NotImplemented, range(1, 10, 3), range(-5),
              slice(1, None, 2), slice("a", [1], None)]
    got, d = roundtrip(loadw, values, inline=inline)
    assert len(got) == len(values)
    for a, b in zip(got, values):
        assert type(a) is type(b), (a, b)
        assert a == b, (a, b)
    assert got[14] == 0.0 and math.copysign(1, got[14]) == -1.0
    assert math.copysign(1, got[20].real) == -1.0
    assert got[-6] is Ellipsis and got[-5] is NotImplemented


def test_nan_and_float_bits(loadw):
    nan = struct.unpack("<d", struct.pack("<Q", 0x7FF8000000000123))[0]
    got, _ = roundtrip(loadw, [float("nan"), nan, -0.0, 5e-324])
    assert math.isnan(got[0])
    assert struct.pack("<d", got[1]) == struct.pack("<d", nan)
    assert struct.pack("<d", got[2]) == struct.pack("<d", -0.0)
    assert got[3] == 5e-324


def test_float32_values(loadw):
    w = Writer()
    lst = w.list_([Float32(1.5), Float32(-0.0), 2.25])
    w.obj(2, Float32(0.5))
    w.root("v", lst)
    d = loadw(w)
    assert d.roots["v"] == [1.5, -0.0, 2.25]
    assert math.copysign(1, d.roots["v"][1]) == -1
    assert d.objects[1] == 0.5


def test_int_records_also_take_plain_msgpack_ints(loadw):
    w = Writer()
    w.obj(1, 5)          # a msgpack int, not ext INT
    w.obj(1, Int(-3))
    d = loadw(w)
    assert d.objects == [5, -3]


def test_strings_exact(loadw):
    s = "a\ud800b\udbff\udfffc\U0001f600"
    got, _ = roundtrip(loadw, [s, s * 2], inline=False)
    assert got == [s, s * 2]
    got, _ = roundtrip(loadw, [s, s * 2], inline=True)
    assert got == [s, s * 2]


# ----------------------------------------------------- containers, identity

def test_nested_containers_equal(loadw):
    value = {"a": [1, 2, (3, 4, frozenset({5, (6, 7)}))],
             (1, "k"): {"set": {1, 2, 3}, "bytes": b"x"},
             "deep": [[[[[[]]]]]], "t": (), "fs": frozenset(),
             "r": range(3), "ba": bytearray(b"q")}
    got, _ = roundtrip(loadw, value)
    assert got == value
    assert type(got[(1, "k")]["set"]) is set


def test_identity_is_kept(loadw):
    shared = [1, 2]
    s = "shared string"
    t = (shared, s)
    value = [shared, shared, t, t, s, {"x": shared}]
    got, _ = roundtrip(loadw, value)
    assert got[0] is got[1]
    assert got[2] is got[3]
    assert got[2][0] is got[0]
    assert got[4] is got[2][1]
    assert got[5]["x"] is got[0]


def test_cycles_through_mutables(loadw):
    a = []
    a.append(a)
    d = {}
    d["self"] = d
    t = ([],)
    t[0].append(t)            # tuple -> list -> same tuple
    s = set()
    fs = frozenset([("x", (1, 2))])
    value = [a, d, t, fs, s]
    got, _ = roundtrip(loadw, value)
    assert got[0][0] is got[0]
    assert got[1]["self"] is got[1]
    assert got[2][0][0] is got[2]
    assert got[3] == fs
    # and hashing works on the loaded tuple (its list makes it unhashable
    # in Python too)
    with pytest.raises(TypeError):
        hash(got[2])


def test_forward_references_and_hashing(loadw):
    # a dict whose key is a tuple written after it, holding a str written
    # after that: the key is complete before the dict hashes it
    w = Writer()
    d = w.dict_([(1, Int(10)), (3, 4)])        # ids: 0 dict
    t = w.tuple_([2, "x"])                     # 1 tuple
    w.str_("later")                            # 2
    w.tuple_([Int(1)])                         # 3
    w.str_("v")                                # 4
    assert (d, t) == (0, 1)
    w.root("d", d)
    got = loadw(w).roots["d"]
    assert got == {("later", "x"): 10, (1,): "v"}


def test_frozenset_of_tuples_of_frozensets(loadw):
    inner = frozenset({1, 2})
    value = frozenset({(inner, "a"), (frozenset(), ("b", inner))})
    got, _ = roundtrip(loadw, value)
    assert got == value


def test_more_records(loadw):
    n = MAX_RECORD_ITEMS + 1234
    value = {"list": list(range(n)), "tuple": tuple(range(n)),
             "dict": {i: -i for i in range(n)}, "set": set(range(n)),
             "fs": frozenset(range(n))}
    got, d = roundtrip(loadw, value)
    assert got == value


def test_more_of_small_records(loadw):
    w = Writer()
    lst = w.list_([Int(i) for i in range(10)], per=3)
    dd = w.dict_([("k%d" % i, Int(i)) for i in range(10)], per=4)
    t = w.tuple_(["a", "b", "c"], per=1)
    w.root("l", lst)
    w.root("d", dd)
    w.root("t", t)
    d = loadw(w)
    assert d.roots["l"] == list(range(10))
    assert d.roots["d"] == {"k%d" % i: i for i in range(10)}
    assert d.roots["t"] == ("a", "b", "c")


def test_runs(loadw):
    w = Writer()
    lst = w.list_([Run(1, 3), "x", Run(4, 2)])   # 0
    for i in range(5):                            # 1..5
        w.str_("s%d" % i)
    t = w.tuple_([Run(1, 5)])                     # 6
    fs = w.frozenset_([Run(1, 5)])                # 7
    dd = w.dict_arrays([Run(1, 2), "k"], [Run(3, 3)])   # 8
    st = w.set_([Run(1, 1)])                      # 9
    big = w.list_([Run(1, 2)])                    # 10
    w.more([Run(3, 3), "y"])
    w.root("r", lst)
    d = loadw(w)
    o = d.objects
    assert o[lst] == ["s0", "s1", "s2", "x", "s3", "s4"]
    assert o[lst][0] is o[1]
    assert o[t] == ("s0", "s1", "s2", "s3", "s4")
    assert o[fs] == frozenset(o[t])
    assert o[dd] == {"s0": "s2", "s1": "s3", "k": "s4"}
    assert o[st] == {"s0"}
    assert o[big] == ["s0", "s1", "s2", "s3", "s4", "y"]


def test_dict_order_and_more_of_dicts(loadw):
    w = Writer()
    keys = ["k%d" % i for i in range(20)]
    dd = w.dict_([(k, Int(i)) for i, k in enumerate(reversed(keys))], per=6)
    w.root("d", dd)
    got = loadw(w).roots["d"]
    assert list(got) == list(reversed(keys))


# ---------------------------------------------------------- cuts, markers

def test_cut_values(loadw):
    w = Writer()
    w.cut(1000)
    s = w.str_("abc")
    w.cut(5000)
    b = w.bytes_(b"xy")
    w.cut(7)
    ba = w.bytearray_(b"z")
    w.cut(99)
    lst = w.list_([Int(1), Int(2)])
    w.cut(50)
    t = w.tuple_([Int(1)])
    w.cut(60)
    dd = w.dict_([("a", Int(1))])
    w.cut(70)
    st = w.set_([Int(3)])
    w.cut(80)
    fs = w.frozenset_([Int(4)])
    plain = w.str_("not cut")
    d = loadw(w)
    o = d.objects
    expect = [(s, S.CutStr, "abc", 1000), (b, S.CutBytes, b"xy", 5000),
              (ba, S.CutBytearray, bytearray(b"z"), 7),
              (lst, S.CutList, [1, 2], 99), (t, S.CutTuple, (1,), 50),
              (dd, S.CutDict, {"a": 1}, 60), (st, S.CutSet, {3}, 70),
              (fs, S.CutFrozenset, frozenset({4}), 80)]
    for oid, cls, value, n in expect:
        assert type(o[oid]) is cls
        assert o[oid] == value
        assert o[oid].original_length == n
        assert d.cuts[oid] == n
        assert "not dumped" in repr(o[oid]) and format(n, ",") in repr(o[oid])
    assert type(o[plain]) is str and plain not in d.cuts
    assert repr(o[s]) == "'abc' <997 more chars not dumped, 1,000 in all>"
    assert repr(o[lst]) == "[1, 2, <97 more items not dumped, 99 in all>]"
    assert repr(o[t]) == "(1, <49 more items not dumped, 50 in all>)"
    assert repr(o[dd]) == "{'a': 1, <59 more items not dumped, 60 in all>}"
    assert repr(o[st]) == "{3, <69 more items not dumped, 70 in all>}"
    assert repr(o[fs]) == ("frozenset({4, <79 more items not dumped, 80 in "
                           "all>})")
    # len() is what the dump holds
    assert len(o[lst]) == 2 and len(o[s]) == 3


def test_omitted_and_redacted(loadw):
    w = Writer()
    lst = w.list_([Omitted("myapp.models", "Big", 4096),
                   Redacted("builtins", "str", 60)])
    d = loadw(w)
    om, red = d.objects[lst]
    assert isinstance(om, S.Omitted) and isinstance(red, S.Redacted)
    assert (om.module, om.qualname, om.size) == ("myapp.models", "Big", 4096)
    assert repr(om) == ("<omitted: myapp.models.Big object, 4096 bytes "
                        "(a dump limit was reached)>")
    # a 1.0 / 1.1 marker says no reason
    assert red.reason is None
    assert repr(red) == ("<redacted: str object, 60 bytes (its name looks "
                         "secret, or it holds the environment)>")
    assert not om and not red


def test_redacted_reasons_and_partly_redacted_values(loadw):
    w = Writer(version="1.2")
    url = "postgresql://scott:tiger@db.example/shop"
    lst = w.list_([
        Redacted("builtins", "str", 60, "name", None),
        Redacted("builtins", "dict", 64, "environ", None, extra=["later"]),
        Redacted.partly(url, [(19, 24, "url")], size=81),
        Redacted.partly(b"django.http.cookies" + b"K" * 50,
                        [(19, 69, "value")]),
        Redacted.partly(bytearray(b"a SECRET b"), [(2, 8, "value")]),
        Redacted.partly("xSECRETySECRETz", [(1, 7, "value"),
                                            (8, 14, "token")]),
    ])
    d = w.dict_([(Redacted.partly("k-SECRET", [(2, 8, "value")]), 1)])
    w.root("l", lst)
    w.root("d", d)
    dump = loadw(w)
    name, env, s, b, ba, two = dump.roots["l"]
    assert (name.reason, name.why) == ("name", "its name looks secret")
    assert (env.reason, env.qualname) == ("environ", "dict")
    assert env.why == "it holds the environment"
    assert type(s) is S.RedactedStr and isinstance(s, str)
    assert s == "postgresql://scott:[redacted]@db.example/shop"
    assert s.redacted == ((19, 5, "url"),) and s.original_length == len(url)
    assert s.dumped_type == ("builtins", "str") and s.complete
    assert repr(s) == ("'postgresql://scott:' + <redacted 5 chars: url> + "
                       "'@db.example/shop'")
    assert type(b) is S.RedactedBytes and b == b"django.http.cookies" \
        b"[redacted]"
    assert repr(b) == "b'django.http.cookies' + <redacted 50 bytes: value>"
    assert type(ba) is S.RedactedBytearray and ba == bytearray(
        b"a [redacted] b")
    assert two == "x[redacted]y[redacted]z"
    assert [r[2] for r in two.redacted] == ["value", "token"]
    [key] = dump.roots["d"]
    assert key == "k-[redacted]" and type(key) is S.RedactedStr


def test_a_partly_redacted_value_that_was_cut(loadw):
    w = Writer(version="1.2")
    # 100 characters, the first 10 kept: a hidden piece at 4, 3 long
    marker = Redacted("builtins", "str", 149, "value",
                      [4, 100, "abcdefg", [[4, 3, "value"]]])
    w.root("v", w.list_([marker]))
    [v] = loadw(w).roots["v"]
    assert v == "abcd[redacted]efg" and v.complete is False
    assert v.original_length == 100
    assert "cut" in repr(v)


@pytest.mark.parametrize("pieces", [
    [9, 10, "text", []],                          # no such kind
    [4, 10, b"text", []],                         # bytes for a str
    [5, 10, "text", []],                          # a str for bytes
    [4, 10, "text", [[8, 5, "value"]]],           # past the end
    [4, 10, "abc", [[4, 2, "v"], [5, 1, "v"]]],   # overlapping
    [4, 10, "abc", [[-1, 2, "v"]]],               # before the start
    [4, 10, "abc", [[2, 0, "v"]]],                # empty
    [4, 5, "abcdef", []],                         # more text than length
    [4, 10, "abc", [["2", 1, "v"]]],              # not ints
    [4, 10, "abc"],                               # too short
    "pieces",                                     # not an array
])
def test_malformed_redacted_pieces_are_refused(loadw, pieces):
    w = Writer(version="1.2")
    w.root("v", w.list_([Redacted("builtins", "str", 50, "value", pieces)]))
    with pytest.raises(heapdump.HeapdumpError, match="REDACTED"):
        loadw(w)


def test_source_redactions(loadw):
    w = Writer(version="1.2")
    w.source("/srv/app/settings.py", "API_KEY = '***'\n",
             redactions=[[1, 11, 1, 14, "name"], ["bad"], [2, 0, 2, 3]])
    w.source("/srv/app/old.py", "x = 1\n")         # as 1.1 writes it
    dump = loadw(w)
    assert dump.source_redactions == {
        "/srv/app/settings.py": [(1, 11, 1, 14, "name")]}
    assert dump.sources["/srv/app/old.py"] == "x = 1\n"


# ------------------------------------------------- kinds and other records

def test_unknown_object_kind_takes_its_id(loadw):
    w = Writer()
    a = w.str_("before")
    u = w.obj(50, "whatever", [1, 2], {"x": 1})
    b = w.str_("after")
    w.root("l", w.list_([a, u, b]))
    with pytest.warns(None) if False else _nowarn():
        d = loadw(w)
    assert d.objects[a] == "before" and d.objects[b] == "after"
    ph = d.objects[u]
    assert isinstance(ph, S.UnknownObject) and ph.kind == 50
    assert d.roots["l"][1] is ph
    assert "kind 50" in repr(ph)
    assert any("unknown object kind 50" in m for m in d.warnings)


class _nowarn:
    def __enter__(self):
        import warnings
        self.cm = warnings.catch_warnings()
        self.cm.__enter__()
        warnings.simplefilter("error")

    def __exit__(self, *a):
        return self.cm.__exit__(*a)


def test_unknown_other_records_are_skipped(loadw):
    w = Writer()
    w.other(99, "future", {"x": [1, 2]}, b"data")
    a = w.str_("x")
    w.other(250, 1, 2, 3)
    w.other(1000, None)
    d = loadw(w)
    assert d.objects == ["x"]
    assert a == 0


def test_extra_trailing_fields_are_ignored(loadw):
    w = Writer()
    w.obj(4, "s", "extra", 1, 2)
    w.obj(8, Int(1), Int(2))
    w.other(71, "r", 0, "extra field")
    d = loadw(w)
    assert d.objects[0] == "s"
    assert d.roots["r"] == "s"


def test_headers_meta_trailer(loadw):
    w = Writer()
    w.headers.append(("Heapdump-Exception",
                      "ValueError: caf\u00e9 \\ \U0001f600"))
    w.headers.append(("Heapdump-Future", "x"))
    d = loadw(w)
    assert isinstance(d, Dump)
    assert d.headers["Heapdump-Version"] == "1.0"
    assert d.headers.get_all("Heapdump-Exception")[-1] == \
        "ValueError: caf\u00e9 \\ \U0001f600"
    assert d.headers["Heapdump-Future"] == "x"
    assert d.meta["pid"] == 4242 and d.meta["argv"] == ["prog.py", "--flag"]
    assert d.trailer["objects"] == 0
    assert d.format_version == (1, 0)
    assert not d.truncated and d.warnings == []


def test_escaped_headers_with_crlf_block(tmp_path):
    w = Writer()
    block = w.header_block().replace(b"\n", b"\r\n")
    w.trailer()
    path = tmp_path / "crlf.dump"
    path.write_bytes(block + compress(w.body()))
    d = _load.load(path)
    assert d.headers["Heapdump-Pid"] == "4242"


def test_minor_version_newer_is_read(loadw):
    w = Writer(version="1.7")
    w.str_("x")
    d = loadw(w)
    assert d.objects == ["x"] and d.format_version == (1, 7)


def test_several_zstd_frames(loadw):
    w = PyWriter()
    w.root("v", w.walk([str(i) * 3 for i in range(200)] + [[1], [2]]))
    d = loadw(w, file={"frames": 7})
    assert d.roots["v"][:2] == ["000", "111"]


def test_sources_roots_errors_threads(loadw):
    w = Writer()
    w.source("/srv/app/a.py", "x = 1\n# caf\u00e9\n")
    w.source("/srv/app/latin.py", "# -*- coding: latin-1 -*-\ns = '\xe9'\n"
             .encode("latin-1"))
    w.source("/srv/app/gone.py", None, "No such file")
    w.error("could not read frame 3")
    w.root("answer", Int(42))
    d = loadw(w)
    assert d.sources["/srv/app/a.py"] == "x = 1\n# caf\u00e9\n"
    assert "s = '\xe9'" in d.sources["/srv/app/latin.py"]
    assert "/srv/app/gone.py" not in d.sources
    assert d.source_errors["/srv/app/gone.py"] == "No such file"
    assert d.errors == ["could not read frame 3"]
    assert d.roots == {"answer": 42}
    assert any("could not read" in m for m in d.warnings)


def test_addresses(loadw):
    w = Writer()
    a = w.str_("a", addr=0x7F0000000100, refcnt=3, size=50)
    b = w.list_([a], addr=0x7E0000000000, refcnt=1, size=64)  # delta < 0
    c = w.str_("c", addr=0x7FFFFFFFFFF0)
    d = loadw(w)
    assert list(d.addresses) == [0x7F0000000100, 0x7E0000000000,
                                 0x7FFFFFFFFFF0]
    assert list(d.refcounts)[:2] == [3, 1]
    assert list(d.sizes)[:2] == [50, 64]
    assert _load.address_of(d, d.objects[b]) == 0x7E0000000000
    assert _load.id_of(d, d.objects[c]) == c
    assert _load.address_of(d, "not loaded") is None


def test_inline_ints_of_every_width(loadw):
    values = [0, -1, 255, -256, 2**15, -2**15 - 1, 2**31, 2**56 - 1,
              -2**56, 2**63 - 1, -2**63, 2**64 + 1, -2**100]
    w = Writer()
    w.root("v", w.list_([Int(v) for v in values]))
    assert loadw(w).roots["v"] == values


@pytest.mark.parametrize("kind,items", [(LIST, 100000), (DICT, 100000)])
def test_big_containers(loadw, kind, items):
    value = list(range(items)) if kind == LIST else \
        {"key%d" % i: i for i in range(items)}
    got, _ = roundtrip(loadw, value)
    assert got == value


def test_objects_list_and_gc_restored(loadw):
    import gc
    w = PyWriter()
    w.root("v", w.walk({"a": [1, 2]}))
    assert gc.isenabled()
    d = loadw(w)
    assert gc.isenabled()
    assert d.objects[0] == {"a": [1, 2]}
    gc.disable()
    try:
        loadw(w)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_max_body_bytes_none_and_record_bytes_none(loadw):
    w = PyWriter()
    w.root("v", w.walk(["x" * 1000] * 3))
    d = loadw(w, max_body_bytes=None, max_record_bytes=None)
    assert d.roots["v"] == ["x" * 1000] * 3


def test_pack_helper_round_trips_through_msgpack():
    import msgpack
    data = [1, "x", [Float32(1.5), b"b"], None]
    assert msgpack.unpackb(pack(data)) == [1, "x", [1.5, b"b"], None]
    assert file_with_body(b"").startswith(b"MIME-Version: 1.0\n")
    assert UNBOUND is not None and sys.maxsize


@pytest.mark.slow
def test_the_benchmark_heap_loads_whole(tmp_path):
    """The benchmark heap (200,000 instances with 5 attributes and a
    100,000-key dict of strings, about 1.4 million objects counting the
    inline values) loads whole.  How fast is make bench's to say
    (benchmarks/bench_shapes.py), not a timed assertion here."""
    from dumpwriter import benchmark_writer
    w, objects = benchmark_writer()
    path = tmp_path / "bench.dump"
    w.write(path)
    d = _load.load(path)
    users = d.roots["users"]
    assert len(users) == 200_000 and users[7].email == "u7@example.com"
    assert users[199_999].email == "u199999@example.com"
    assert d.roots["table"]["key000003"] == "value 3"
    assert len(d.roots["table"]) == 100_000


# ----------------------------------------------------------- format 1.2

def test_a_1_1_module_without_its_dict_still_loads(loadw):
    w = Writer(version="1.1")
    m = w.module("myapp.cache", "/srv/myapp/cache.py")
    w.root("value", m)
    d = loadw(w)
    mod = d.roots["value"]
    assert mod.__name__ == "myapp.cache"
    assert mod.__file__ == "/srv/myapp/cache.py"
    assert not hasattr(mod, "STORE")


def test_a_heap_scope_file_loads_with_module_globals(loadw):
    w = Writer(version="1.3", scope="heap")
    key = w.str_("STORE")
    store = w.list_([Int(1), "x"])
    w.inline(str_=50, int_=28)
    globals_ = w.dict_([(key, store), ("__name__", "shadow")])
    m = w.module("myapp.cache", None, globals_)
    modules = w.dict_([("myapp.cache", m)])
    w.root("modules", modules)
    w.roots("unreached", store, key)
    w.trailer()
    d = loadw(w)
    assert not d.truncated and not d.warnings
    mod = d.roots["modules"]["myapp.cache"]
    assert mod.STORE == [1, "x"]
    assert mod.__name__ == "myapp.cache"       # the record's, not the dict's
    assert d.headers["Heapdump-Scope"] == "heap"
    assert len(d.objects) == 5
