"""Issue 12: what a person reads back at the pdb prompt of a dump.

Each test runs a real child program (its source files then deleted), which
dumps with the default limits, and drives ``python -m heapdump.open`` on the
file through stdin, checking pdb's replies against what the live program
would have said.
"""

import sys
import textwrap

import pytest

from test_pdb_dumps import heapdump_open, line_of, make_dump, replies

pytest.importorskip("heapdump._heapdump")

PY313 = sys.version_info >= (3, 13)

# -------------------------------------------------------- the whole stack

STACK = textwrap.dedent('''\
    import sys
    import threading

    import heapdump

    started = threading.Event()
    stop = threading.Event()


    def wait_here(jobs):
        pending = list(jobs)
        started.set()
        stop.wait()


    def inner(n):
        x = n * 2
        try:
            {}[x]
        except KeyError as e:
            raise ValueError("bad %d" % x) from e


    def outer(n):
        y = n + 1
        return inner(y)


    def main(out):
        z = 5
        try:
            outer(z)
        except ValueError:
            heapdump.dump(out)


    t = threading.Thread(target=wait_here, args=(["a", "b"],),
                         name="worker-1")
    t.start()
    started.wait()
    main(sys.argv[1])
    stop.set()
    t.join()
''')


@pytest.fixture
def stack_dump(tmp_path):
    path, _, app = make_dump(tmp_path, {"stack.py": STACK}, main="stack.py")
    return path, str(app / "stack.py")


def _at(file, source, text, func):
    return "%s(%d)%s()" % (file, line_of(source, text), func)


def test_the_whole_stack_down_to_the_catching_frame(tmp_path, stack_dump):
    path, app = stack_dump
    module = _at(app, STACK, "main(sys.argv[1])", "<module>")
    main = _at(app, STACK, "    outer(z)", "main")
    outer = _at(app, STACK, "return inner(y)", "outer")
    inner = _at(app, STACK, 'raise ValueError("bad', "inner")
    r = heapdump_open(tmp_path, path, commands=(
        "where\nup\np y\nup\np z\nup\np t._name\nup\ndown\ndown\ndown\n"
        "p x\n"))
    assert r.stderr == ""
    out = replies(r.stdout)
    assert out[1] == (
        "  %s\n-> main(sys.argv[1])\n"
        "  %s\n-> outer(z)\n"
        "  %s\n-> return inner(y)\n"
        "> %s\n-> raise ValueError(\"bad %%d\" %% x) from e\n"
        % (module, main, outer, inner))
    assert out[2] == "> %s\n-> return inner(y)\n" % outer
    assert out[3] == "6\n"
    assert out[4] == "> %s\n-> outer(z)\n" % main
    assert out[5] == "5\n"
    assert out[6] == "> %s\n-> main(sys.argv[1])\n" % module
    assert out[7] == "'worker-1'\n"
    assert out[8] == "*** Oldest frame\n"
    assert out[9] == "> %s\n-> outer(z)\n" % main
    assert out[11].startswith("> %s\n" % inner)
    assert out[12] == "12\n"


@pytest.mark.skipif(not PY313, reason="pdb's exceptions command is 3.13+")
def test_exceptions_show_the_whole_stack_too(tmp_path, stack_dump):
    path, app = stack_dump
    r = heapdump_open(tmp_path, path, commands=(
        "exceptions\nexceptions 0\nwhere\nup\nup\nup\nexceptions 1\n"
        "where\n"))
    assert r.stderr == ""
    out = replies(r.stdout)
    assert out[1] == "    0 KeyError(12)\n>   1 ValueError('bad 12')\n"
    inner = _at(app, STACK, "        {}[x]", "inner")
    assert out[2] == "> %s\n-> {}[x]\n" % inner
    # the KeyError was caught in inner: its stack is the thread's down to
    # inner, then its traceback
    assert [ln.split("(")[1].split(")")[1] for ln in out[3].splitlines()
            if ln.startswith(("  /", "> /"))] == [
                "<module>", "main", "outer", "inner"]
    assert out[6].startswith("> %s" % _at(app, STACK, "main(sys.argv[1])",
                                          "<module>"))
    raise_at = _at(app, STACK, 'raise ValueError("bad', "inner")
    assert out[7] == "> %s\n-> raise ValueError(\"bad %%d\" %% x) from e\n" \
        % raise_at
    assert out[8].count("\n  /") + out[8].startswith("  /") == 3


def test_threads_and_thread(tmp_path, stack_dump):
    path, app = stack_dump
    r = heapdump_open(tmp_path, path, commands=(
        "threads\nthread worker-1\nwhere\nup\nup\np pending\nthread\n"
        "thread 1\n"
        "p z\nthread 9\n"))
    assert r.stderr == ""
    out = replies(r.stdout)
    lines = out[1].splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("*  1 MainThread (ident ")
    assert lines[0].endswith(", called dump(), main): %s:%d in main" % (
        app, line_of(STACK, "heapdump.dump(out)")))
    assert lines[1].startswith("   2 worker-1 (ident ")
    assert lines[1].endswith(" in wait")      # threading's Event.wait
    assert out[2].startswith("*  2 worker-1 (ident ")
    assert "\n> " in out[2]
    assert "  %s\n-> stop.wait()\n" % _at(app, STACK, "stop.wait()",
                                          "wait_here") in out[3] + "\n"
    assert out[5].startswith("> %s\n" % _at(app, STACK, "stop.wait()",
                                             "wait_here"))
    assert out[6] == "['a', 'b']\n"
    assert out[7].startswith("*  2 worker-1 (ident ")
    assert out[8].startswith("*  1 MainThread (ident ")
    # the thread's own stack: main, standing at the dump() call
    assert out[8].endswith("\n> %s\n-> heapdump.dump(out)\n" % _at(
        app, STACK, "heapdump.dump(out)", "main"))
    assert out[9] == "5\n"
    assert out[10] == "*** no thread '9' (see 'threads')\n"
