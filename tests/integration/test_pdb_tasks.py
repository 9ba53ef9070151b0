"""Issue 12, point 2: asyncio tasks at the pdb prompt of a dump.

A real child program runs an asyncio loop with four tasks (one awaiting
another, one sleeping two coroutines deep, one finished, the running one)
and dumps from inside a task; its source file is then deleted and
``python -m heapdump.open`` is driven through stdin.
"""

import json
import re
import textwrap

import pytest
from test_pdb_dumps import heapdump_open, line_of, make_dump, replies

pytest.importorskip("heapdump._heapdump")

APP = textwrap.dedent('''\
    import asyncio
    import sys

    import heapdump


    async def leaf(n):
        depth = n + 1
        await asyncio.sleep(3600)


    async def sleeper():
        await leaf(1)


    async def quick():
        return 42


    async def waiter(other):
        got = "waiting"
        return await other


    async def main(out):
        done = asyncio.create_task(quick(), name="quick-one")
        await done
        s = asyncio.create_task(sleeper(), name="sleepy")
        w = asyncio.create_task(waiter(s), name="the-waiter")
        await asyncio.sleep(0)
        heapdump.dump(out)
        s.cancel()
        w.cancel()
        await asyncio.gather(s, w, return_exceptions=True)


    asyncio.run(main(sys.argv[1]), debug=False)
''')


@pytest.fixture
def task_dump(tmp_path):
    path, _, app = make_dump(tmp_path, {"app.py": APP})
    return path, str(app / "app.py")


def _at(app, text):
    return "%s:%d" % (app, line_of(APP, text))


def _sleep_line(out):
    """The 'sleep <asyncio/tasks.py>:N' line of the chain (its line number
    is the installed asyncio's)."""
    lines = [ln for ln in out.splitlines() if ln.strip().startswith(
        "sleep ")]
    assert len(lines) == 1, out
    assert "asyncio" in lines[0] and lines[0].split(":")[-1].isdigit()
    return lines[0]


def test_tasks_lists_each_with_its_await_chain(tmp_path, task_dump):
    path, app = task_dump
    r = heapdump_open(tmp_path, path, commands="tasks\n")
    assert r.stderr == ""
    out = replies(r.stdout)[1]
    sleep = _sleep_line(out)
    expected = [
        "   1 Task-1 (pending, running)",
        "      main %s" % _at(app, "heapdump.dump(out)"),
        "   2 sleepy (pending; awaits a Future; awaited by task 3 "
        "(the-waiter))",
        "      sleeper %s" % _at(app, "await leaf(1)"),
        "      leaf %s" % _at(app, "await asyncio.sleep(3600)"),
        sleep,
        "   3 the-waiter (pending; awaits task 2 (sleepy))",
        "      waiter %s" % _at(app, "return await other"),
        # finished, held by main()'s local (on 3.14+, where a task leaves
        # the interpreter's lists once done, found by the walk)
        "   4 quick-one (finished)",
    ]
    got = out.splitlines()
    # the registries of 3.9 to 3.13 are sets: the order of the waiting
    # tasks may differ; each task's block is what is checked
    blocks = _blocks(got)
    assert sorted(blocks) == sorted(_blocks(_renumbered(expected, got))), \
        out


def _blocks(lines):
    out, cur = [], None
    for ln in lines:
        if not ln.startswith("      "):
            cur = [ln.split(" ", 4)[-1]]     # the line less its number
            out.append(cur)
        else:
            cur.append(ln)
    return ["\n".join(b) for b in out]


def _renumbered(expected, got):
    """expected with the task numbers of got (by name)."""
    numbers = {}
    for ln in got:
        if not ln.startswith("      "):
            n, name = ln.split()[:2]
            numbers[name] = n
    table = {"1": "Task-1", "2": "sleepy", "3": "the-waiter",
             "4": "quick-one"}
    out = []
    for ln in expected:
        for old, name in table.items():
            ln = ln.replace("task %s (%s)" % (old, name),
                            "task %s (%s)" % (numbers.get(name, "?"), name))
        out.append(ln)
    return out


def test_task_enters_the_innermost_frame_with_the_await_chain(tmp_path,
                                                              task_dump):
    path, app = task_dump
    r = heapdump_open(tmp_path, path, commands=(
        "task sleepy\nwhere\nup\np depth\nup\np depth\n"
        "task the-waiter\np got\nwhere\ntask\ntask 9\ntask quick-one\n"
        "task Task-1\nwhere\n"))
    assert r.stderr == ""
    out = replies(r.stdout)
    assert "sleepy (pending; awaits a Future" in out[1]
    assert "\n> " in out[1] and "sleep()\n-> return await future" in out[1]
    chain = [ln for ln in out[2].splitlines() if ln.startswith(("  /",
                                                                "> /"))]
    assert [ln.split(")", 1)[1] for ln in chain] == [
        "sleeper()", "leaf()", "sleep()"]
    assert chain[0] == "  %s(%d)sleeper()" % (app, line_of(APP,
                                                           "await leaf(1)"))
    assert chain[1] == "  %s(%d)leaf()" % (
        app, line_of(APP, "await asyncio.sleep(3600)"))
    assert out[3] == "> %s(%d)leaf()\n-> await asyncio.sleep(3600)\n" % (
        app, line_of(APP, "await asyncio.sleep(3600)"))
    assert out[4] == "2\n"                       # leaf's local
    assert out[5].startswith("> %s(%d)sleeper()" % (
        app, line_of(APP, "await leaf(1)")))
    assert out[6].startswith("*** NameError")   # not sleeper's
    # the registries are sets: the numbers of the waiting tasks vary
    assert re.match(r"\*  \d the-waiter \(pending; awaits task \d "
                    r"\(sleepy\)\)\n", out[7]), out[7]
    assert out[7].endswith("> %s(%d)waiter()\n-> return await other\n" % (
        app, line_of(APP, "return await other")))
    assert out[8] == "'waiting'\n"
    assert out[9] == "> %s(%d)waiter()\n-> return await other\n" % (
        app, line_of(APP, "return await other"))
    assert re.match(r"\*  \d the-waiter \(pending", out[10])
    assert out[11] == "*** no task '9' (see 'tasks')\n"
    assert re.match(r"\*\*\* task \d \(quick-one\) has no suspended "
                    r"frames \(finished\)\n$", out[12]), out[12]
    # the running task: its coroutine's frame, from the thread's stack
    assert out[13].startswith("*  1 Task-1 (pending, running)")
    assert out[14] == "> %s(%d)main()\n-> heapdump.dump(out)\n" % (
        app, line_of(APP, "heapdump.dump(out)"))


def test_summary_lists_the_tasks(tmp_path, task_dump):
    path, app = task_dump
    r = heapdump_open(tmp_path, "--summary", path)
    lines = r.stdout.splitlines()
    at = lines.index("Tasks:      4")
    r2 = heapdump_open(tmp_path, path, commands="tasks\n")
    listed = replies(r2.stdout)[1].splitlines()
    assert lines[at + 1:at + 1 + len(listed)] == [
        " " * 10 + ln for ln in listed]


GATHER = textwrap.dedent('''\
    import asyncio
    import sys

    import heapdump


    async def child(n):
        await asyncio.sleep(100 + n)


    async def parent():
        await asyncio.gather(child(1), child(2))


    async def main(out):
        p = asyncio.create_task(parent(), name="parent")
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        heapdump.dump(out)
        p.cancel()
        await asyncio.gather(p, return_exceptions=True)


    asyncio.run(main(sys.argv[1]))
''')


def test_tasks_of_a_gather_are_awaited_by_the_gathering_task(tmp_path):
    path, _, app = make_dump(tmp_path, {"app.py": GATHER})
    r = heapdump_open(tmp_path, path, commands="tasks\n")
    assert r.stderr == ""
    heads = [ln for ln in replies(r.stdout)[1].splitlines()
             if not ln.startswith("      ")]
    parent = [ln for ln in heads if " parent " in ln]
    assert len(parent) == 1
    n = parent[0].split()[0]
    kids = [ln for ln in heads if "awaited by task %s (parent)" % n in ln]
    assert len(kids) == 2, heads
    assert re.search(r"awaits a _GatheringFuture of task \d \(Task-\d\), "
                     r"task \d \(Task-\d\)\)$", parent[0]), parent[0]


def test_a_task_object_answers_from_its_record(tmp_path, task_dump):
    # live, at the dump: repr(s) is "<Task pending name='sleepy'
    # coro=<sleeper() running at APP:LINE> wait_for=<Future pending
    # cb=[Task.task_wakeup()]>>"; the dump gives the same but the waited
    # future's callbacks, which it does not name
    path, app = task_dump
    r = heapdump_open(tmp_path, path, commands=(
        "p s\n"
        "p s.get_name(), s.done(), s.cancelled()\n"
        "p done.done(), done.cancelled()\n"
        "p s.get_coro()\n"
        "p s.result()\n"
        "p done.result(), done.exception()\n"
        "p done\n"))
    out = replies(r.stdout)
    assert out[1] == ("<Task pending name='sleepy' coro=<sleeper() running "
                      "at %s> wait_for=<Future pending>>\n"
                      % _at(app, "await leaf(1)")), r.stdout
    assert out[2] == "('sleepy', False, False)\n"
    assert out[4].startswith("<coroutine object sleeper at 0x"), r.stdout
    # pending: as the live task raises
    assert out[5] == "*** asyncio.exceptions.InvalidStateError: Result is " \
        "not set.\n", r.stdout
    # finished (on 3.14+, out of the interpreter's lists: found by the
    # walk from main()'s frame)
    assert out[3] == "(True, False)\n", r.stdout
    assert out[6] == "(42, None)\n", r.stdout
    assert out[7] == ("<Task finished name='quick-one' coro=<quick() "
                      "done, defined at %s> result=42>\n"
                      % _at(app, "async def quick")), r.stdout


FUTURES = textwrap.dedent('''\
    import asyncio
    import json
    import sys
    import traceback

    import heapdump

    EXPRESSIONS = [
        "pending", "pending.done()", "pending.result()", "pending._state",
        "ok", "ok.result()", "ok.exception()", "ok.get_loop() is loop",
        "failed", "failed.result()", "failed.exception()",
        "stopped", "stopped.cancelled()", "stopped.result()",
        "stopped.exception()", "mine", "mine.tag", "mine.done()",
    ]


    class Mine(asyncio.Future):
        pass


    def answer(text, scope):
        # what pdb's p prints: the repr, or its one-line error
        try:
            return repr(eval(text, globals(), scope))
        except BaseException as e:
            return "*** " + traceback.format_exception_only(
                type(e), e)[-1].strip()


    async def hold(f):
        await f


    async def main(out):
        loop = asyncio.get_running_loop()
        pending = loop.create_future()
        ok = loop.create_future()
        ok.set_result(["a", 1])
        failed = loop.create_future()
        failed.set_exception(LookupError("no row 7"))
        stopped = loop.create_future()
        stopped.cancel("shutting down")
        mine = Mine()
        mine.tag = "tagged"
        holder = asyncio.create_task(hold(pending), name="holder")
        await asyncio.sleep(0)
        scope = dict(locals())
        print(json.dumps({e: answer(e, scope) for e in EXPRESSIONS}))
        del scope
        heapdump.dump(out)
        failed.exception()
        holder.cancel()
        await asyncio.gather(holder, return_exceptions=True)


    # not asyncio's debug mode (on under python -X dev): there a live repr
    # adds "created at FILE:LINE" from the source traceback, which the
    # dump does not name
    asyncio.run(main(sys.argv[1]), debug=False)
''')


def test_futures_at_the_prompt_answer_as_live(tmp_path):
    path, stdout, _ = make_dump(tmp_path, {"app.py": FUTURES})
    live = json.loads(stdout.strip().splitlines()[-1])
    exprs = list(live)
    r = heapdump_open(tmp_path, path,
                      commands="".join("p %s\n" % e for e in exprs) +
                      "p mine.set_result(1)\n")
    assert r.stderr == ""
    out = replies(r.stdout)[1:]
    got = dict(zip(exprs, (o.rstrip("\n") for o in out)))
    # the one known difference: a pending future's callbacks are not named
    # in the dump ("cb=[Task.task_wakeup()]" live)
    assert re.search(r" cb=\[[^\]]+\]", live["pending"]), live["pending"]
    want = {e: re.sub(r" cb=\[[^\]]*\]", "", a) for e, a in live.items()}
    assert got == want
    # what was compared, so that empty answers cannot pass
    assert live["ok.result()"] == "['a', 1]"
    assert live["failed.result()"] == "*** LookupError: no row 7"
    assert live["stopped.result()"] == \
        "*** asyncio.exceptions.CancelledError: shutting down"
    assert live["pending.result()"] == \
        "*** asyncio.exceptions.InvalidStateError: Result is not set."
    assert live["mine.tag"] == "'tagged'"
    # completing a future of the dump is refused, not done
    assert "DumpedCodeError" in out[len(exprs)] and \
        "cannot be awaited, completed" in out[len(exprs)], out[len(exprs)]
