"""asyncio's C Future as a NATIVE record (issue 12, point 3): its state,
result, exception, loop and cancel message read by the C type's own
functions, a Python subclass's overrides never called, and the loader's
stand-in answering done()/cancelled()/result()/exception()/get_loop() and
the repr as the live future did.  Tasks keep their TASK record and now say
their outcome (result, exception) and what they wait for."""

import asyncio
import gc
import re
import sys

import pytest
from scenes import DumpProfiler

import heapdump
from heapdump import _heapdump as c
from heapdump._surrogates import DumpedCodeError
from records import Records


def _answer(fn):
    """What fn() gives, or the error pdb would print for it."""
    try:
        return repr(fn())
    except BaseException as e:  # CancelledError is a BaseException
        return "%s.%s: %s" % (type(e).__module__, type(e).__qualname__, e)


QUESTIONS = {
    "done": lambda f: f.done(),
    "cancelled": lambda f: f.cancelled(),
    "result": lambda f: f.result(),
    "exception": lambda f: f.exception(),
    "state": lambda f: f._state,
}


def _answers(fut):
    got = {q: _answer(lambda ask=ask: ask(fut))
           for q, ask in QUESTIONS.items()}
    got["repr"] = repr(fut)
    return got


def _strip_callbacks(text):
    # the one known difference: the dump does not name a pending future's
    # callbacks ("cb=[Task.task_wakeup()]" live)
    return re.sub(r" cb=\[[^\]]*\]", "", text)


def test_futures_read_as_live(tmp_path):
    calls = []

    class SpyFuture(asyncio.Future):
        def done(self):
            calls.append("done")
            return True

        def result(self):
            calls.append("result")
            return "spy"

        def __repr__(self):
            calls.append("repr")
            return "spy"

        def __getattribute__(self, name):
            calls.append("getattribute " + name)
            return object.__getattribute__(self, name)

    async def waiter(f):
        await f

    async def scene():
        loop = asyncio.get_running_loop()
        pending = loop.create_future()
        done = loop.create_future()
        done.set_result({"answer": [1, 2]})
        failed = loop.create_future()
        failed.set_exception(KeyError("gone"))
        plain_cancel = loop.create_future()
        plain_cancel.cancel()
        why_cancel = loop.create_future()
        why_cancel.cancel("shutting down")
        spy = SpyFuture()
        asyncio.Future.set_result(spy, 7)
        object.__setattr__(spy, "tag", "mine")
        task = asyncio.create_task(waiter(pending), name="w")
        await asyncio.sleep(0)
        futures = {"pending": pending, "done": done, "failed": failed,
                   "plain_cancel": plain_cancel, "why_cancel": why_cancel}
        live = {k: _answers(f) for k, f in futures.items()}
        live_task = repr(task)
        calls.clear()
        profiler = DumpProfiler()
        gc.collect()
        sys.setprofile(profiler)
        try:
            path = heapdump.dump(tmp_path / "f.dump")
        finally:
            sys.setprofile(None)
        assert calls == [] and profiler.events == [], (calls,
                                                       profiler.events)
        pending.set_result(None)
        await task
        failed.exception()  # retrieved: no "never retrieved" warning
        return path, futures, live, live_task, loop, spy

    # not asyncio's debug mode (on under python -X dev, as make test runs):
    # there a live repr adds "created at FILE:LINE" from the source
    # traceback, which the dump does not name
    path, futures, live, live_task, loop, spy = asyncio.run(scene(),
                                                            debug=False)

    natives = Records(path).of("NATIVE")
    states = sorted(r[6][0] for r in natives if r[5] == c.NATIVE_FUTURE)
    # the five futures and the subclass's instance, each as NATIVE
    assert states == ["cancelled", "cancelled", "finished", "finished",
                      "finished", "pending"], states

    d = heapdump.load(path)
    frame = next(f for t in d.threads for f in t.frames
                 if f.code.name == "scene")
    got_futures = {k: frame.locals[k] for k in futures}
    for k, f in got_futures.items():
        got = _answers(f)
        want = {q: _strip_callbacks(a) for q, a in live[k].items()}
        assert got == want, k
    # what the comparison covered
    assert live["pending"]["repr"] == "<Future pending cb=[Task.task_" \
        "wakeup()]>" or "TaskWakeupMethWrapper" in live["pending"]["repr"]
    assert live["done"]["result"] == "{'answer': [1, 2]}"
    assert live["failed"]["result"] == "builtins.KeyError: 'gone'"
    assert live["why_cancel"]["exception"] == \
        "asyncio.exceptions.CancelledError: shutting down"
    assert live["pending"]["result"] == \
        "asyncio.exceptions.InvalidStateError: Result is not set."
    # one loop, the same object from every future
    loops = {id(f.get_loop()) for f in got_futures.values()}
    assert len(loops) == 1 and None not in [f.get_loop() for f in
                                            got_futures.values()]
    # the subclass: the loader's class over the stand-in, its state and
    # instance attributes, not its overrides
    got_spy = frame.locals["spy"]
    assert type(got_spy).__name__ == "SpyFuture"
    assert got_spy.tag == "mine"
    assert type(got_spy).__mro__[1].done(got_spy) is True
    assert type(got_spy).__mro__[1].result(got_spy) == 7
    # the task: its repr as live, but for the waited future's callbacks
    task = frame.locals["task"]
    assert repr(task) == _strip_callbacks(live_task)
    assert "wait_for=<Future pending>" in repr(task)
    # a stand-in cannot be awaited or completed
    with pytest.raises(DumpedCodeError, match="cannot be awaited"):
        got_futures["pending"].set_result(1)
    with pytest.raises(DumpedCodeError):
        got_futures["pending"].add_done_callback(print)
    # what the future references besides its fields: the task's wakeup
    # callback, so the heap keeps that edge
    refs = got_futures["pending"].heapdump_refs
    assert any("task_wakeup" in repr(r) or "TaskWakeup" in repr(r)
               for r in refs), refs


def test_finished_tasks_say_their_outcome(tmp_path):
    async def fine():
        return {"answer": 42}

    async def bad():
        raise KeyError("k")

    async def forever():
        await asyncio.sleep(3600)

    class MyTask(asyncio.Task):
        pass

    async def scene():
        ok = asyncio.create_task(fine(), name="fine")
        err = asyncio.create_task(bad(), name="bad")
        loop = asyncio.get_running_loop()
        # cancelled, with a message and without; the C Task and the
        # Python one (asyncio.tasks._PyTask: the attributes path)
        why = asyncio.create_task(forever(), name="why")
        plain = asyncio.create_task(forever(), name="plain")
        py_why = asyncio.tasks._PyTask(forever(), loop=loop, name="py_why")
        # a subclass of the C Task whose attribute holds another one
        sub = MyTask(forever(), loop=loop, name="sub")
        sub.decoy = asyncio.CancelledError("decoy")
        await asyncio.sleep(0)
        sub.cancel("sub stops")
        why.cancel("shutting down")
        plain.cancel()
        py_why.cancel("py says stop")
        for _ in range(3):
            await asyncio.sleep(0)
        live = {"ok": repr(ok), "err": repr(err),
                "ok.result": _answer(ok.result),
                "err.result": _answer(err.result),
                "err.exception": _answer(err.exception)}
        path = heapdump.dump(tmp_path / "t.dump")
        err.exception()
        # asked after the dump: a cancelled task's first result() hands
        # out the CancelledError it kept (3.11+), later calls a new one
        for name, t in (("why", why), ("plain", plain), ("py_why", py_why)):
            assert t.cancelled(), name
            live[name] = _answer(t.result)
        return path, live

    path, live = asyncio.run(scene(), debug=False)  # as above
    d = heapdump.load(path)
    frame = next(f for t in d.threads for f in t.frames
                 if f.code.name == "scene")
    ok, err = frame.locals["ok"], frame.locals["err"]
    assert re.fullmatch(r"<Task finished name='fine' coro=<\S+fine\(\) "
                        r"done, defined at \S+:\d+> result=\{'answer': "
                        r"42\}>", live["ok"]), live["ok"]
    # (3.14+: the finished tasks are in no list; the walk met them)
    assert repr(ok) == live["ok"]
    assert repr(err) == live["err"]
    assert _answer(ok.result) == live["ok.result"] == "{'answer': 42}"
    assert _answer(err.result) == live["err.result"] == \
        "builtins.KeyError: 'k'"
    assert _answer(err.exception) == live["err.exception"] == "KeyError('k')"
    # a cancelled task raises CancelledError with the message it was
    # cancelled with, as live
    # (the dump holds the moment before: result() and exception() both
    # raise what the first live call did, each time asked)
    # (the Python Task's methods are its dumped code, refused: only its
    # record is looked at below)
    for name in ("why", "plain"):
        got = frame.locals[name]
        assert got.cancelled(), name
        assert _answer(got.result) == live[name], name
        assert _answer(got.exception) == live[name], name
        assert _answer(got.result) == live[name], name
    msg = ": shutting down" if sys.version_info >= (3, 11) else ": "
    assert live["why"] == "asyncio.exceptions.CancelledError" + msg
    assert live["plain"] == "asyncio.exceptions.CancelledError: "
    # what the TASK record kept: the coroutine's CancelledError, with its
    # message on every version (3.9 and 3.10 raise a new one over it)
    tasks = {t.name: t for t in d.tasks}
    for name, text in (("why", "shutting down"), ("py_why", "py says stop"),
                       ("sub", "sub stops")):
        err = tasks[name].cancelled_error
        if sys.version_info < (3, 11):
            assert err.args == () and err.__context__ is not None
            err = err.__context__
        assert isinstance(err, BaseException) and err.args == (text,), name
        assert type(err).__name__ == "CancelledError"
    assert tasks["plain"].cancelled_error is not None  # its coroutine's


def test_a_future_whose_result_holds_it_has_a_repr(tmp_path):
    async def scene():
        fut = asyncio.get_running_loop().create_future()
        fut.set_result([1])
        fut.result().append(fut)
        live = repr(fut)
        return heapdump.dump(tmp_path / "r.dump"), live

    path, live = asyncio.run(scene(), debug=False)  # as above
    d = heapdump.load(path)
    frame = next(f for t in d.threads for f in t.frames
                 if f.code.name == "scene")
    got = repr(frame.locals["fut"])
    # asyncio's own "..." for the future inside its result (3.12+; 3.9 to
    # 3.11 go one level deeper first)
    assert got == "<Future finished result=[1, ...]>"
    if sys.version_info >= (3, 12):
        assert got == live


def test_a_dump_keeps_no_reference_to_a_tasks_outcome(tmp_path):
    # the TASK record's fields are read as new references and released:
    # the result, the exception and the kept CancelledError of a finished
    # task have the same reference count after a dump as before
    class Result:
        pass

    async def fine():
        return Result()

    async def bad():
        raise KeyError("k")

    async def forever():
        await asyncio.sleep(3600)

    async def scene():
        ok = asyncio.create_task(fine())
        err = asyncio.create_task(bad())
        stop = asyncio.create_task(forever())
        await asyncio.sleep(0)
        stop.cancel("m")
        for _ in range(3):
            await asyncio.sleep(0)
        held = [ok.result(), err.exception()]
        gc.collect()
        before = [sys.getrefcount(x) for x in held]
        for i in range(3):
            heapdump.dump(tmp_path / ("%d.dump" % i))
        after = [sys.getrefcount(x) for x in held]
        assert stop.cancelled()
        return before, after

    before, after = asyncio.run(scene(), debug=False)
    assert after == before
