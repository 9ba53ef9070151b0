"""The reads that each CPython release moves (src/pyversion.c), checked on
every version against what the interpreter itself reports: the frame chain
through calls from C (3.12+ shim frames, 3.14's interpreter-owned entry
frames), every kind of fast slot (3.14's tagged stack references),
generators, coroutines and async generators in each state (3.15 renumbers
the states), instance attributes inline and in a dict."""

import sys
import threading

import heapdump
from records import KINDS, Ext, Records, expand


def thread_frames(recs, current=True, name=None):
    """[(code name, line)] of a thread's dumped frames, innermost first."""
    thread = [t for t in recs.of("THREAD")
              if (t[3] == name if name is not None else t[4] is current)][0]
    out, fid = [], thread[6]
    while fid is not None:
        frame = recs.objects[fid]
        out.append((recs.objects[frame[4]][4], frame[8]))
        fid = frame[5]
    return out


def live_frames(frame):
    """[(code name, line)] from frame outwards, as the interpreter has it."""
    out = []
    while frame is not None:
        out.append((frame.f_code.co_name, frame.f_lineno))
        frame = frame.f_back
    return out


def slots(recs, frame_id):
    """{name: raw value} of a FRAME record's fast slots."""
    frame = recs.objects[frame_id]
    code = recs.objects[frame[4]]
    return dict(zip(code[12], frame[11]))


def decoded(recs, v):
    if isinstance(v, Ext) and v.name == "INT":
        return v.value
    if isinstance(v, Ext):
        return v
    if isinstance(v, bool) or v is None or not isinstance(v, int):
        return v
    rec = recs.objects[v]
    kind = KINDS[rec[0]]
    if kind in ("STR", "BYTES", "FLOAT"):
        return rec[4]
    if kind == "INT":
        return rec[4].value
    if kind in ("LIST", "TUPLE"):
        return [decoded(recs, x) for x in expand(rec[4:])]
    return rec


def test_the_stack_through_calls_from_c_is_the_live_one(tmp_path):
    # sorted() calls key in C, type() calls __init__, map() calls the
    # lambda: each enters the interpreter again from C, which leaves an
    # entry frame (owned by the C stack or the interpreter) on the frame
    # chain that the dump must skip, as frame.f_back does
    seen = []

    class Box:
        def __init__(self, v):
            self.v = v
            if v == 2:
                seen.append(live_frames(sys._getframe()))
                seen.append(heapdump.dump(tmp_path / "x.dump"))

    def key(v):
        list(map(lambda x: Box(x), [v]))
        return v

    def work():
        return sorted([3, 2, 1], key=key)

    work()
    live, path = seen
    dumped = thread_frames(Records(path))
    # the dumped stack starts at dump()'s caller, one line further on
    assert dumped[0] == (live[0][0], live[0][1] + 1)
    assert dumped[1:] == live[1:]
    assert [n for n, _ in live[:5]] == [
        "__init__", "<lambda>", "key", "work",
        "test_the_stack_through_calls_from_c_is_the_live_one"]


def test_every_kind_of_fast_slot(tmp_path):
    def work(arg, *rest, **named):
        immortal_none = None
        immortal_true = True
        small = 7                       # a cached small int
        big = 10 ** 30                  # a heap int
        text = "interned"
        heap_text = "".join(["dyn", "amic"])
        deleted = "gone"
        del deleted
        captured = ["cell"]

        def inner():
            return captured

        for loop_var in range(3):  # noqa: B007 (read from the dump)
            pass
        path = heapdump.dump(tmp_path / "x.dump")
        later = "not yet bound"         # unbound while dumping
        return path, inner, later

    path = work("first", 2, 3, key="word")[0]
    recs = Records(path)
    frame_id = [i for i in recs.ids_of("FRAME")
                if recs.objects[recs.objects[i][4]][4] == "work"][0]
    got = {k: decoded(recs, v) for k, v in slots(recs, frame_id).items()}
    assert got["arg"] == "first"
    assert got["rest"] == [2, 3]
    assert got["immortal_none"] is None and got["immortal_true"] is True
    assert got["small"] == 7 and got["big"] == 10 ** 30
    assert got["text"] == "interned" and got["heap_text"] == "dynamic"
    assert got["loop_var"] == 2
    assert got["captured"] == ["cell"]          # the cell's content
    assert got["deleted"] == Ext("UNBOUND", None)
    assert got["later"] == Ext("UNBOUND", None)
    assert got["path"] == Ext("UNBOUND", None)
    named = recs.objects[slots(recs, frame_id)["named"]]
    assert KINDS[named[0]] == "DICT"


class _Suspend:
    """An awaitable that suspends its awaiter once."""

    def __await__(self):
        yield "suspended"


def test_generators_coroutines_and_async_generators_in_each_state(
        tmp_path):
    def counting(start):
        gen_local = "g"
        n = start
        while True:
            yield n
            n += 1

    def running():
        here = "running"
        yield heapdump.dump(tmp_path / "x.dump")

    async def leaf():
        leaf_local = "leaf"
        await _Suspend()

    async def outer():
        # suspended in an await of another coroutine (3.15's
        # FRAME_SUSPENDED_YIELD_FROM state)
        outer_local = "outer"
        inner = leaf()
        await inner

    async def agen():
        agen_local = "a"
        yield 1
        yield 2

    created = counting(5)
    suspended = counting(10)
    next(suspended)
    next(suspended)
    closed = counting(0)
    next(closed)
    closed.close()
    exhausted = (x for x in [])
    list(exhausted)
    coro = outer()
    assert coro.send(None) == "suspended"
    ag = agen()
    try:
        ag.__anext__().send(None)
    except StopIteration as stop:
        assert stop.value == 1
    live = running()
    path = next(live)

    recs = Records(path)
    # by name; counting() has three generators, looked at apart
    gens = {g[6]: g for g in recs.of("GENERATOR")}

    def state(name):
        return gens[name][5], gens[name][9]

    counting_states = sorted(g[9] for g in recs.of("GENERATOR")
                             if g[6] == "counting")
    assert counting_states == ["closed", "created", "suspended"]
    for g in recs.of("GENERATOR"):
        if g[6] == "counting" and g[9] == "closed":
            assert g[8] is None
        if g[6] == "counting" and g[9] == "created":
            assert decoded(recs, slots(recs, g[8])["start"]) == 5
            assert slots(recs, g[8])["n"] == Ext("UNBOUND", None)
        if g[6] == "counting" and g[9] == "suspended":
            values = slots(recs, g[8])
            assert decoded(recs, values["n"]) == 11
            assert decoded(recs, values["gen_local"]) == "g"
    assert state("<genexpr>") == ("generator", "closed")
    assert state("running") == ("generator", "running")
    assert decoded(recs, slots(recs, gens["running"][8])["here"]) == \
        "running"
    # the running generator's frame is the one on the stack
    top = thread_frames(Records(path))
    assert top[0][0] == "running"
    assert state("outer") == ("coroutine", "suspended")
    assert decoded(recs, slots(recs, gens["outer"][8])["outer_local"]) == \
        "outer"
    assert state("leaf") == ("coroutine", "suspended")
    assert decoded(recs, slots(recs, gens["leaf"][8])["leaf_local"]) == \
        "leaf"
    assert state("agen") == ("async_generator", "suspended")
    assert decoded(recs, slots(recs, gens["agen"][8])["agen_local"]) == "a"
    # each suspended frame stands at its yield / await line
    with open(__file__) as f:
        source = f.read().splitlines()
    for name, line_of in (("leaf", "await _Suspend()"),
                          ("outer", "await inner"), ("agen", "yield 1")):
        frame = recs.objects[gens[name][8]]
        assert source[frame[8] - 1].strip() == line_of, name
    coro.close()


def test_another_threads_frames_and_locals(tmp_path):
    ready, release = threading.Event(), threading.Event()

    def blocked():
        worker_local = ["in", "worker"]
        ready.set()
        release.wait(30)

    t = threading.Thread(target=blocked, name="blocked-worker")
    t.start()
    ready.wait(30)
    try:
        path = heapdump.dump(tmp_path / "x.dump")
    finally:
        release.set()
        t.join()
    recs = Records(path)
    frames = thread_frames(recs, name="blocked-worker")
    names = [n for n, _ in frames]
    assert names[0] == "wait" and "blocked" in names and names[-1] == \
        "_bootstrap"
    fid = [t for t in recs.of("THREAD") if t[3] == "blocked-worker"][0][6]
    while recs.objects[recs.objects[fid][4]][4] != "blocked":
        fid = recs.objects[fid][5]
    assert decoded(recs, slots(recs, fid)["worker_local"]) == ["in",
                                                                "worker"]


def test_instance_attributes_inline_in_a_dict_and_deleted(tmp_path):
    class Plain:
        def __init__(self):
            self.a, self.b = 1, "two"

    inline = Plain()
    materialized = Plain()
    vars(materialized)                  # makes the dict (3.11+)
    materialized.c = 3.0
    deleted = Plain()
    del deleted.a
    added_late = Plain()
    for i in range(40):                 # past the shared keys' room
        setattr(added_late, "x%d" % i, i)
    path = heapdump.dump(tmp_path / "x.dump")
    d = heapdump.load(path)
    frame = [f for t in d.threads for f in t.frames
             if f.code.name == "test_instance_attributes_inline_in_a_dict_"
                               "and_deleted"][0]
    loc = frame.locals
    assert vars(loc["inline"]) == {"a": 1, "b": "two"}
    assert vars(loc["materialized"]) == {"a": 1, "b": "two", "c": 3.0}
    assert vars(loc["deleted"]) == {"b": "two"}
    want = {"a": 1, "b": "two"}
    want.update(("x%d" % i, i) for i in range(40))
    assert vars(loc["added_late"]) == want
    assert list(vars(loc["added_late"])) == list(vars(added_late))


def test_the_structures_read_are_where_the_interpreter_says():
    # 3.13+ publishes the offsets of its frame, thread and code structures
    # for out-of-process tools (_Py_DebugOffsets); the import compares them
    # with the ones pyversion.c was compiled with, and would have failed
    from heapdump import _heapdump

    fields = _heapdump._layout()
    if sys.version_info < (3, 13):
        assert fields == []
        return
    names = {name for name, _, _ in fields}
    assert {"thread_state.current_frame", "interpreter_frame.executable",
            "interpreter_frame.localsplus", "interpreter_frame.owner",
            "code_object.localsplusnames"} <= names
    if sys.version_info >= (3, 14):
        assert {"gen_object.gi_iframe", "gen_object.gi_frame_state"} <= names
    assert [(n, b) for n, b, r in fields if b != r] == []
