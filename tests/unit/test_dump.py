"""The dumper, checked against docs/format.rst with an independent reader
(tests/records.py): headers, records, roots, limits, the file's life."""

import array
import asyncio
import collections
import dataclasses
import datetime
import decimal
import email.parser
import enum
import gc
import os
import re
import stat
import sys
import threading
import types

import pytest
from scenes import DumpProfiler

import heapdump
from records import KINDS, Ext, Records, Ref, expand, headers


def frame_locals(recs, code_name):
    """{name: value} of the first FRAME whose code is named code_name."""
    for rec in recs.objects:
        if KINDS[rec[0]] != "FRAME" or rec[4] is None:
            continue
        code = recs.objects[rec[4]]
        if code[4] == code_name:
            names = code[12]
            return {n: v for n, v in zip(names, rec[11])
                    if not (isinstance(v, Ext) and v.name == "UNBOUND")}
    raise KeyError(code_name)


def value_of(recs, v):
    """A Python rendering of a value: builtin records decoded."""
    if type(v) in (int, Ref):
        rec = recs.objects[v]
        kind = KINDS[rec[0]]
        if kind in ("STR", "BYTES", "FLOAT"):
            return rec[4]
        if kind == "INT":
            return rec[4].value
        if kind in ("LIST", "TUPLE"):
            return [value_of(recs, x) for x in expand(rec[4:])]
        return rec
    if isinstance(v, Ext) and v.name == "INT":
        return v.value
    return v


def test_header_lines_parse_and_say_what_happened(tmp_path):
    def failing():
        raise KeyError("missing-key")

    try:
        failing()
    except KeyError:
        path = heapdump.dump(tmp_path / "x.dump", reason="test run")
    msg = headers(path)
    assert msg["MIME-Version"] == "1.0"
    assert msg["Heapdump-Version"] == heapdump.FORMAT_VERSION
    assert msg["Heapdump-Reason"] == "test run"
    assert msg["Heapdump-Exception"] == "KeyError: missing-key"
    assert msg["Heapdump-Python"].startswith("CPython %d.%d." %
                                             sys.version_info[:2])
    assert msg["Heapdump-Pid"] == str(os.getpid())
    assert int(msg["Heapdump-Threads"]) >= 1
    assert msg["Heapdump-Time"].endswith("Z")
    assert msg["Content-Encoding"] == "zstd"
    # the headers are plain ASCII lines that `head` shows
    with open(path, "rb") as f:
        head = f.read(4096).split(b"\n\n")[0]
    head.decode("ascii")


def test_header_values_are_escaped(tmp_path):
    reason = "line1\nline2 \\ caf\u00e9 \U0001f600"
    path = heapdump.dump(tmp_path / "x.dump", reason=reason)
    msg = headers(path)
    value = msg["Heapdump-Reason"]
    assert "\n" not in value
    assert value.encode("ascii").decode("unicode_escape") == reason


def test_file_is_private_and_complete(tmp_path):
    old = os.umask(0)
    try:
        path = heapdump.dump(tmp_path / "x.dump")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(tmp_path) == ["x.dump"]  # no temporary left behind
    assert Records(path).trailer()["objects"] > 0


def test_default_name_in_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("HEAPDUMP_DIR", str(tmp_path))
    try:
        raise ValueError("x")
    except ValueError:
        first = heapdump.dump()
        second = heapdump.dump()
    assert first.parent == tmp_path
    assert first.name.startswith("heapdump-")
    assert first.name.endswith("-%d-ValueError.dump" % os.getpid())
    assert second != first and second.exists() and first.exists()


def test_unwritable_places_raise_and_leave_nothing(tmp_path):
    missing = tmp_path / "no" / "such" / "dir" / "x.dump"
    with pytest.raises(FileNotFoundError):
        heapdump.dump(missing)
    a_file = tmp_path / "plain"
    a_file.write_text("")
    with pytest.raises(NotADirectoryError):
        heapdump.dump(a_file / "x.dump")
    # sysfs refuses new files even to root
    with pytest.raises(PermissionError):
        heapdump.dump("/sys/heapdump-test.dump")
    assert sorted(os.listdir(tmp_path)) == ["plain"]


def test_bad_arguments(tmp_path):
    with pytest.raises(TypeError):
        heapdump.dump(tmp_path / "x.dump", exc="not an exception")
    with pytest.raises(TypeError):
        heapdump.dump(tmp_path / "x.dump", max_stuff=3)
    with pytest.raises(ValueError):
        heapdump.dump(tmp_path / "x.dump", max_items=-1)
    assert list(tmp_path.iterdir()) == []


def test_locals_of_the_calling_frame(tmp_path):
    def work():
        number = 12345678901234567890
        text = "h\u00e9llo \udc80 \U0001f600"
        items = [1.5, -0.0, b"raw", None, True]
        return heapdump.dump(tmp_path / "x.dump")

    recs = Records(work())
    loc = frame_locals(recs, "work")
    assert value_of(recs, loc["number"]) == 12345678901234567890
    assert value_of(recs, loc["text"]) == "h\u00e9llo \udc80 \U0001f600"
    items = value_of(recs, loc["items"])
    assert items[:3] == [1.5, -0.0, b"raw"] and items[3:] == [None, True]
    # the innermost frame of the calling thread is work(), not dump()
    thread = [t for t in recs.of("THREAD") if t[4]][0]
    top = recs.objects[thread[6]]
    assert recs.objects[top[4]][4] == "work"


def test_exception_chain_notes_and_traceback(tmp_path):
    def inner():
        raise ValueError("inner problem")

    def outer():
        try:
            inner()
        except ValueError as e:
            raise RuntimeError("outer problem") from e

    try:
        outer()
    except RuntimeError as exc:
        if hasattr(exc, "add_note"):
            exc.add_note("a note")
        path = heapdump.dump(tmp_path / "x.dump")
    recs = Records(path)
    root = recs.of("ROOT")[0]
    assert root[1] == "exception"
    exc = recs.objects[root[2]]
    assert KINDS[exc[0]] == "EXCEPTION"
    assert recs.objects[exc[4]][4] == "RuntimeError"  # its TYPE
    assert value_of(recs, exc[5]) == ["outer problem"]
    cause = recs.objects[exc[7]]
    assert recs.objects[cause[4]][4] == "ValueError"
    # the traceback chain goes down to the frame that raised
    tb, names = recs.objects[exc[6]], []
    while True:
        frame = recs.objects[tb[4]]
        names.append(recs.objects[frame[4]][4])
        if tb[7] is None:
            break
        tb = recs.objects[tb[7]]
    assert names[-1] == "outer"
    cause_tb, cause_names = recs.objects[cause[6]], []
    while cause_tb is not None:
        frame = recs.objects[cause_tb[4]]
        cause_names.append(recs.objects[frame[4]][4])
        cause_tb = recs.objects[cause_tb[7]] if cause_tb[7] is not None \
            else None
    assert cause_names[-1] == "inner"
    if sys.version_info >= (3, 11):
        layout = recs.of("LAYOUT")[exc[10]]
        attrs = dict(zip(layout[2], exc[11]))
        assert value_of(recs, attrs["__notes__"]) == ["a note"]
    # the failing frame is the first root: id 0
    assert KINDS[recs.objects[0][0]] == "FRAME"


def test_identity_and_cycles_are_references(tmp_path):
    def work():
        shared = ["shared"]
        a = [shared, shared]
        a.append(a)
        b = shared
        return heapdump.dump(tmp_path / "x.dump")

    recs = Records(work())
    loc = frame_locals(recs, "work")
    a = recs.objects[loc["a"]]
    items = expand(a[4:])
    assert items[0] == items[1] == loc["b"]
    assert items[2] == loc["a"]


def test_instances_share_layouts(tmp_path):
    class Point:
        def __init__(self, x, y):
            self.x, self.y = x, y

    class Slotted:
        __slots__ = ("a", "b")

    def work():
        points = [Point(i, -i) for i in range(50)]
        s = Slotted()
        s.a = "set"  # b unset
        return heapdump.dump(tmp_path / "x.dump")

    recs = Records(work())
    layouts = [r for r in recs.of("LAYOUT")]
    point_layouts = [r for r in layouts if r[2] == ["x", "y"]]
    assert len(point_layouts) == 1
    assert ["a"] in [r[2] for r in layouts]
    loc = frame_locals(recs, "work")
    ids = expand(recs.objects[loc["points"]][4:])
    assert len(ids) == 50
    assert recs.of("LIST")  # the list of points is one RUN
    p7 = recs.objects[ids[7]]
    assert KINDS[p7[0]] == "INSTANCE"
    assert [value_of(recs, v) for v in p7[5:]] == [7, -7]


def test_builtin_subclasses_keep_contents_and_class(tmp_path):
    Pair = collections.namedtuple("Pair", "left right")

    def work():
        od = collections.OrderedDict([("z", 1), ("a", 2)])
        dd = collections.defaultdict(list, {"k": [1]})
        pair = Pair("L", "R")
        return heapdump.dump(tmp_path / "x.dump")

    recs = Records(work())
    loc = frame_locals(recs, "work")
    def class_name(oid):
        return recs.objects[recs.classes[oid][1]][4]

    assert class_name(loc["od"]) == "OrderedDict"
    assert class_name(loc["dd"]) == "defaultdict"
    assert class_name(loc["pair"]) == "Pair"
    assert KINDS[recs.objects[loc["pair"]][0]] == "TUPLE"
    od = recs.objects[loc["od"]]
    assert [value_of(recs, k) for k in expand(od[4])] == ["z", "a"]
    dd_class = recs.classes[loc["dd"]]
    layout = recs.of("LAYOUT")[dd_class[2]]
    assert layout[2] == ["default_factory"]
    assert recs.objects[dd_class[3][0]][4] == "list"
    pair = recs.objects[loc["pair"]]
    assert [value_of(recs, v) for v in expand(pair[4:])] == ["L", "R"]


def test_limits_cut_and_omit_with_original_sizes(tmp_path):
    def work():
        long_text = "x" * 5000
        many = list(range(1000, 3000))
        return heapdump.dump(tmp_path / "x.dump", max_string=100,
                             max_items=10)

    recs = Records(work())
    loc = frame_locals(recs, "work")
    assert recs.cuts[loc["long_text"]] == 5000
    assert recs.cuts[loc["many"]] == 2000
    assert len(value_of(recs, loc["long_text"])) == 100
    assert len(expand(recs.objects[loc["many"]][4:])) == 10
    assert recs.trailer()["cuts"] >= 2

    def objects_budget():
        big = [[i] for i in range(500)]
        return heapdump.dump(tmp_path / "y.dump", max_objects=100,
                             max_items=None)

    recs = Records(objects_budget())
    exempt = {"FRAME", "CODE", "TRACEBACK", "EXCEPTION", "TYPE"}
    assert len([r for r in recs.objects if KINDS[r[0]] not in exempt]) <= 100
    def walk(v):
        if isinstance(v, list):
            for x in v:
                yield from walk(x)
        elif isinstance(v, Ext) and v.name == "OMITTED":
            yield v

    omitted = [o for r in recs.all for o in walk(r)]
    assert "list" in {o.value[1] for o in omitted}
    assert all(o.value[2] > 0 for o in omitted)  # the shallow size
    assert recs.trailer()["omitted"] == len(omitted)


def test_no_python_code_runs_while_dumping(tmp_path):
    calls = []

    class Meta(type):
        def __getattribute__(cls, name):
            calls.append(("meta getattribute", name))
            return type.__getattribute__(cls, name)

        def __instancecheck__(cls, other):
            calls.append("instancecheck")
            return False

        def __repr__(cls):
            calls.append("meta repr")
            return "Meta"

    class Spy(metaclass=Meta):
        def __init__(self):
            object.__setattr__(self, "value", 42)

        def __getattribute__(self, name):
            calls.append(("getattribute", name))
            return object.__getattribute__(self, name)

        def __getattr__(self, name):
            calls.append(("getattr", name))
            raise AttributeError(name)

        def __repr__(self):
            calls.append("repr")
            return "Spy"

        def __eq__(self, other):
            calls.append("eq")
            return False

        def __hash__(self):
            calls.append("hash")
            return 1

        def __len__(self):
            calls.append("len")
            return 0

        def __iter__(self):
            calls.append("iter")
            return iter(())

        def __reduce__(self):
            calls.append("reduce")
            return (Spy, ())

        def __getstate__(self):
            calls.append("getstate")
            return {}

        def __sizeof__(self):
            calls.append("sizeof")
            return 0

        @property
        def prop(self):
            calls.append("property")
            return 1

    class SpyDict(dict):
        def keys(self):
            calls.append("dict keys")
            return []

        def items(self):
            calls.append("dict items")
            return []

        def __iter__(self):
            calls.append("dict iter")
            return iter(())

        def __getitem__(self, k):
            calls.append("dict getitem")
            return None

        def __len__(self):
            calls.append("dict len")
            return 0

    class SpyList(list):
        def __iter__(self):
            calls.append("list iter")
            return iter(())

        def __len__(self):
            calls.append("list len")
            return 0

    class SpyStr(str):
        def __str__(self):
            calls.append("str str")
            return ""

    class Key:
        def __hash__(self):
            calls.append("key hash")
            return 7

        def __eq__(self, other):
            calls.append("key eq")
            return self is other

    class Namespace(dict):
        def __setitem__(self, k, v):
            dict.__setitem__(self, k, v)

        def __delitem__(self, k):
            calls.append("namespace delitem")
            dict.__delitem__(self, k)

        def __getitem__(self, k):
            return dict.__getitem__(self, k)

    class Prepared(type):
        @classmethod
        def __prepare__(mcs, name, bases):
            return Namespace()

    class Finalized:
        def __del__(self):
            # a collection before dump() is entered is the program's, not
            # the dump's (on 3.9 and 3.10 the call's own frame can start
            # one): what counts is a __del__ run with dump() on the stack
            if dump_on_stack():
                calls.append("del")

    # the kinds of issue 12 in the dumped program
    class SpyDeque(collections.deque):
        def __iter__(self):
            calls.append("deque iter")
            return iter(())

        def __len__(self):
            calls.append("deque len")
            return 0

    class Buffered:
        def __buffer__(self, flags):
            calls.append("buffer")
            return memoryview(b"")

    class Color(enum.Enum):
        RED = 1

        def __repr__(self):
            calls.append("enum repr")
            return "red"

    @dataclasses.dataclass
    class Point:
        x: int

        def __eq__(self, other):
            calls.append("dataclass eq")
            return False

    class Chain(collections.ChainMap):
        def __getitem__(self, k):
            calls.append("chain getitem")
            return None

    # the native kinds (NATIVE records): subclasses whose methods spy
    class SpyDateTime(datetime.datetime):
        def __repr__(self):
            calls.append("datetime repr")
            return "dt"

        def __reduce__(self):
            calls.append("datetime reduce")
            return (str, ("x",))

        def __getattribute__(self, name):
            calls.append(("datetime getattribute", name))
            return datetime.datetime.__getattribute__(self, name)

    class SpyTz(datetime.tzinfo):
        def utcoffset(self, dt):
            calls.append("tz utcoffset")
            return datetime.timedelta(0)

    class SpyDecimal(decimal.Decimal):
        def __repr__(self):
            calls.append("decimal repr")
            return "d"

        def __reduce__(self):
            calls.append("decimal reduce")
            return (str, ("x",))

        def as_tuple(self):
            calls.append("decimal as_tuple")
            return ()

    class SpyArray(array.array):
        def __iter__(self):
            calls.append("array iter")
            return iter(())

        def __buffer__(self, flags):
            calls.append("array buffer")
            return memoryview(b"")

        def __len__(self):
            calls.append("array len")
            return 0

    class SpyFuture(asyncio.Future):
        def done(self):
            calls.append("future done")
            return True

        def cancelled(self):
            calls.append("future cancelled")
            return True

        def result(self):
            calls.append("future result")

        def __getattribute__(self, name):
            calls.append("future getattribute " + name)
            return object.__getattribute__(self, name)

    loop = asyncio.new_event_loop()

    def make_garbage():
        # cyclic garbage with a finalizer: a collection during the dump
        # would run __del__
        for _ in range(200):
            a = Finalized()
            a.self = a

    paths = []

    def work():
        spy = Spy()
        spies = SpyDict({Key(): Spy(), "k": SpyList([Spy(), SpyStr("s")])})
        kinds = [SpyDeque([Spy()]), collections.deque([1], maxlen=2),
                 Buffered(), Color.RED, Point(1), Chain({"a": 1}),
                 re.compile("a+"), threading.Lock(),
                 SpyDateTime(2020, 1, 2, tzinfo=SpyTz()),
                 SpyDecimal("1.25"), SpyArray("i", [1, 2]),
                 datetime.datetime.now(datetime.timezone.utc),
                 decimal.Decimal("-0.5"), SpyFuture(loop=loop)]
        kinds[:0] = [re.match("(s)", SpyStr("s")), re.match("a+", "aaa")]
        kinds[-5].note = Spy()
        make_garbage()

        class Body(metaclass=Prepared):
            # a class body: a frame whose locals are a custom mapping
            inside = spy
            calls.clear()  # what ran while the objects were made
            paths.append(heapdump.dump(tmp_path / "x.dump"))

        return spies, Body, kinds

    profiler = DumpProfiler()
    profiled = profiler.events

    gc.collect()
    sys.setprofile(profiler)
    try:
        work()
    finally:
        sys.setprofile(None)
    assert paths and paths[0].exists()
    assert calls == [], calls
    assert profiled == [], profiled
    # and the dump is complete: the spy's value is there
    recs = Records(paths[0])
    assert recs.trailer() is not None
    spy_layouts = [r for r in recs.of("LAYOUT") if r[2] == ["value"]]
    assert spy_layouts
    # the native kinds were read exactly, subclasses included
    natives = sorted(r[5] for r in recs.of("NATIVE"))
    from heapdump import _heapdump as c
    for nk in (c.NATIVE_DEQUE, c.NATIVE_DATETIME, c.NATIVE_TZINFO,
               c.NATIVE_DECIMAL, c.NATIVE_ARRAY, c.NATIVE_TIMEZONE,
               c.NATIVE_MATCH, c.NATIVE_FUTURE):
        assert nk in natives, (nk, natives)
    loop.close()
    assert natives.count(c.NATIVE_DEQUE) >= 2
    assert natives.count(c.NATIVE_DECIMAL) >= 2
    gc.collect()  # the garbage goes now, outside the dump


def dump_on_stack():
    """Whether heapdump.dump() (the Python entry) is on the stack."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is heapdump._writer.dump.__code__:
            return True
        frame = frame.f_back
    return False


def test_no_collection_starts_inside_dump(tmp_path):
    # with a threshold of 1 any allocation of a tracked object starts a
    # collection: none may start while dump() runs, its Python part
    # (building the hider, the facts, the name) included, whatever the
    # arguments (a generator of headers runs inside it)
    seen = []

    def watch(phase, info):
        if phase == "start" and dump_on_stack():
            seen.append(info["generation"])

    def headers():
        yield ("X-Seen", "1")

    old = gc.get_threshold()
    gc.callbacks.append(watch)
    gc.set_threshold(1, 1, 1)
    try:
        path = heapdump.dump(tmp_path / "x.dump",
                             _extra_headers=headers())
    finally:
        gc.set_threshold(*old)
        gc.callbacks.remove(watch)
    assert seen == []
    assert gc.isenabled()
    assert Records(path).trailer() is not None


def test_gc_state_is_restored(tmp_path):
    assert gc.isenabled()
    heapdump.dump(tmp_path / "a.dump")
    assert gc.isenabled()
    gc.disable()
    try:
        heapdump.dump(tmp_path / "b.dump")
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_threads_are_all_there_with_names(tmp_path):
    ready = threading.Event()
    stop = threading.Event()

    def worker_body(marker):
        ready.set()
        stop.wait()

    t = threading.Thread(target=worker_body, args=("marker-value",),
                         name="the-worker")
    t.start()
    ready.wait()
    try:
        path = heapdump.dump(tmp_path / "x.dump")
    finally:
        stop.set()
        t.join()
    recs = Records(path)
    threads = {r[3]: r for r in recs.of("THREAD")}
    assert "the-worker" in threads and "MainThread" in threads
    worker = threads["the-worker"]
    assert worker[1] == t.ident and worker[4] is False and worker[5] is False
    if hasattr(t, "native_id"):
        assert worker[2] == t.native_id
    assert threads["MainThread"][4] is True and threads["MainThread"][5]
    loc = frame_locals(recs, "worker_body")
    assert value_of(recs, loc["marker"]) == "marker-value"
    assert recs.meta()["threads"] == len(recs.of("THREAD"))


def test_dump_from_another_thread_marks_it_current(tmp_path):
    out = []

    def body():
        out.append(heapdump.dump(tmp_path / "x.dump"))

    t = threading.Thread(target=body, name="dumper")
    t.start()
    t.join()
    recs = Records(out[0])
    current = [r for r in recs.of("THREAD") if r[4]]
    assert len(current) == 1 and current[0][3] == "dumper"


def test_generators_keep_their_suspended_frames(tmp_path):
    def counter(start):
        local_state = "inside"
        n = start
        while True:
            yield n
            n += 1

    def work():
        gen = counter(10)
        next(gen)
        next(gen)
        return heapdump.dump(tmp_path / "x.dump")

    recs = Records(work())
    gens = recs.of("GENERATOR")
    gen = [g for g in gens if g[6] == "counter"][0]
    assert gen[5] == "generator" and gen[9] == "suspended"
    frame = recs.objects[gen[8]]
    code = recs.objects[frame[4]]
    values = dict(zip(code[12], frame[11]))
    assert value_of(recs, values["n"]) == 11
    assert value_of(recs, values["local_state"]) == "inside"


def test_sources_of_dumped_code_are_included(tmp_path):
    path = heapdump.dump(tmp_path / "x.dump")
    sources = {r[1]: r for r in Records(path).of("SOURCE")}
    mine = sources[__file__]
    with open(__file__, "rb") as f:
        assert mine[2] == f.read()


def test_each_file_has_one_source_record_however_its_name_is_shared(tmp_path):
    # 300 files, each named by the code of two functions, the second
    # through an equal str of its own (kept apart by the Pythons that do
    # not intern co_filename): one SOURCE record each
    text = "def f():\n    return 1\n"
    names = [str(tmp_path / ("mod%03d.py" % i)) for i in range(300)]
    funcs = []
    for name in names:
        with open(name, "w") as f:
            f.write(text)
        ns = {}
        exec(compile(text, name, "exec"), ns)
        twin = "".join(list(name))
        code = ns["f"].__code__.replace(co_filename=twin)
        funcs += [ns["f"], types.FunctionType(code, {})]
    path = heapdump.dump(tmp_path / "x.dump")
    records = [r for r in Records(path).of("SOURCE")
               if r[1].startswith(str(tmp_path))]
    assert sorted(r[1] for r in records) == names
    assert all(r[2] == text.encode() for r in records)
    assert len(funcs) == 600


def test_meta_facts(tmp_path):
    meta = Records(heapdump.dump(tmp_path / "x.dump")).meta()
    assert meta["pid"] == os.getpid()
    assert meta["argv"] == sys.argv
    assert meta["executable"] == sys.executable
    assert meta["cwd"] == os.getcwd()
    assert meta["version_info"] == list(sys.version_info[:3])
    assert meta["limits"]["max_items"] == heapdump.DEFAULT_LIMITS["max_items"]
    assert meta["format"] == heapdump.FORMAT_VERSION


def test_email_parser_reads_the_whole_header_block(tmp_path):
    path = heapdump.dump(tmp_path / "x.dump")
    with open(path, "rb") as f:
        msg = email.parser.BytesParser().parse(f, headersonly=True)
    assert msg.get_content_type() == "application/x-heapdump"
    assert msg.get_param("version") == heapdump.FORMAT_VERSION
