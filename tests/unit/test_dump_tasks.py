"""The TASK records (issue 12, point 2): every asyncio task of a running
loop, read without running Python code, checked with the independent
reader of tests/records.py."""

import asyncio
import gc
import sys

from scenes import DumpProfiler

import heapdump
from records import KINDS, Records


def _names(recs):
    return {r[2]: r for r in recs.of("TASK")}


def _kind(recs, ref):
    return KINDS[recs.objects[ref][0]]


def test_tasks_are_recorded_with_state_coroutine_and_awaits(tmp_path):
    out = tmp_path / "t.dump"

    async def leaf():
        await asyncio.sleep(3600)

    async def sleeper():
        await leaf()

    async def waiter(other):
        return await other

    async def quick():
        return 1

    async def main():
        done = asyncio.create_task(quick(), name="done-1")
        await done
        s = asyncio.create_task(sleeper(), name="sleepy")
        w = asyncio.create_task(waiter(s), name="waiting")
        await asyncio.sleep(0)
        heapdump.dump(out)
        s.cancel()
        w.cancel()
        await asyncio.gather(s, w, return_exceptions=True)

    asyncio.run(main())
    recs = Records(out)
    tasks = _names(recs)
    # done-1 finished: on 3.14+, out of the interpreter's lists, found by
    # the walk (main()'s local holds it)
    assert {"sleepy", "waiting", "done-1"} <= set(tasks), tasks
    assert sum(1 for r in tasks.values() if r[3] == "pending") == 3
    sleepy, waiting = tasks["sleepy"], tasks["waiting"]
    assert sleepy[3] == "pending"
    # the waiting task awaits the sleepy one (its _fut_waiter)
    assert waiting[5] == sleepy[1]
    # the sleepy task's coroutine awaits leaf(), which awaits sleep()
    assert _kind(recs, sleepy[4]) == "GENERATOR"
    assert [recs.objects[c][6] for c in sleepy[7]] == ["leaf", "sleep"]
    # its frames are in the file: each coroutine's suspended frame
    for c in [sleepy[4]] + sleepy[7]:
        frame = recs.objects[c][8]
        assert frame is not None and _kind(recs, frame) == "FRAME"
    assert tasks["done-1"][3] == "finished"
    # its outcome (format 1.4): the result 1, no exception
    result, exc = tasks["done-1"][8:10]
    assert exc is None and _kind(recs, result) == "INT", tasks["done-1"]
    assert recs.objects[result][4].value == 1, recs.objects[result]
    # the running one (main) is there too
    running = [r for r in tasks.values()
               if recs.objects[r[4]][6] == "main"]
    assert len(running) == 1


def test_tasks_are_read_without_user_code(tmp_path):
    """A Task subclass, a pure-Python Task, an awaitable with a custom
    __repr__ and __getattr__, and a loop subclass: 0 calls while dumping."""
    calls = []
    out = tmp_path / "u.dump"

    class SpyTask(asyncio.Task):
        def get_name(self):
            calls.append("task get_name")
            return "spy"

        def __repr__(self):
            calls.append("task repr")
            return "spy"

        def __getattribute__(self, name):
            if name not in ("_asyncio_future_blocking",):
                calls.append("task getattribute " + name)
            return object.__getattribute__(self, name)

        def __eq__(self, other):
            calls.append("task eq")
            return self is other

        __hash__ = object.__hash__

    class Awaitable:
        def __await__(self):
            yield from asyncio.sleep(3600).__await__()

        def __repr__(self):
            calls.append("awaitable repr")
            return "aw"

        def __getattr__(self, name):
            calls.append("awaitable getattr " + name)
            raise AttributeError(name)

    class SpyLoop(asyncio.SelectorEventLoop):
        def __repr__(self):
            calls.append("loop repr")
            return "loop"

        def __eq__(self, other):
            calls.append("loop eq")
            return self is other

        def __hash__(self):
            calls.append("loop hash")
            return 1

    async def sleeps():
        await Awaitable()

    async def main():
        loop = asyncio.get_running_loop()
        t = SpyTask(sleeps(), name="spy-task")
        p = asyncio.tasks._PyTask(sleeps(), loop=loop, name="py-task")
        await asyncio.sleep(0)
        profiled.clear()
        calls.clear()
        sys.setprofile(profiler)
        try:
            heapdump.dump(out)
        finally:
            sys.setprofile(None)
        seen = list(calls)
        t.cancel()
        p.cancel()
        await asyncio.gather(t, p, return_exceptions=True)
        return seen

    profiler = DumpProfiler()
    profiled = profiler.events

    gc.collect()
    loop = SpyLoop()
    try:
        seen = loop.run_until_complete(main())
    finally:
        loop.close()
    assert seen == [], seen
    assert profiled == [], profiled
    tasks = _names(Records(out))
    assert {"spy-task", "py-task"} <= set(tasks), tasks
    for name in ("spy-task", "py-task"):
        rec = tasks[name]
        assert rec[3] == "pending"
        recs = Records(out)
        assert [recs.objects[c][6] for c in rec[7]][:1] == ["__await__"]
