"""Stock pdb on rebuilt frames, driven through stdin of a real child process.

These tests build the dump model in the child (tests/unit/modelfactory.py
runs a program whose source file does not exist and captures it), then
open it with heapdump.open.debug() as ``python -m heapdump.open`` does, and
feed pdb commands through a pipe or a terminal.  test_pdb_dumps.py does
the same from real dump files.
"""

import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "unit"))

import modelfactory as mf

PY313 = sys.version_info >= (3, 13)
FILE = "/nonexistent/heapdump-tests/prog.py"


def run_pdb(tmp_path, commands, *, program="mf.PROGRAM", thread=None,
            module="__main__", status=0, stderr=False):
    script = mf.driver_script(tmp_path, program=program, module=module,
                              thread=thread)
    r = subprocess.run([sys.executable, str(script)], input=commands,
                       cwd=str(tmp_path), env=mf.child_env(tmp_path),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == status, r.stdout + r.stderr
    if stderr:
        return r.stdout, r.stderr
    assert r.stderr == "", r.stderr
    return r.stdout


def replies(out):
    """The output split at each prompt: replies[0] is what came before the
    first prompt, replies[i] the reply to the i-th command."""
    return out.split("(Pdb) ")


def test_starts_at_the_innermost_frame_of_the_exception(tmp_path):
    out = run_pdb(tmp_path, "")
    before = replies(out)[0]
    assert before.splitlines() == [
        "heapdump: /nonexistent/test.dump",
        "Reason:    test dump",
        "Exception: ValueError: total 10 over 5",
        "Process:   pid 1234, CPython 3.12.1, 2026-11-22T10:15:00.123456Z",
        before.splitlines()[4],
        "Debugging the exception's traceback; 'where' shows the stack, "
        "'q' quits.",
        "> %s(23)check()" % FILE,
        '-> raise ValueError("total %d over %d" % (total, limit))',
    ]
    assert before.splitlines()[4].startswith("Threads:   1: MainThread (")


def test_where_up_down(tmp_path):
    out = replies(run_pdb(tmp_path, "where\nup\nup\nup\ndown\ndown\n"))
    # the whole stack: <module> above the catching frame main() too
    assert out[1] == (
        "  %s(36)<module>()\n"
        "-> main()\n"
        "  %s(31)main()\n"
        "-> process(user, items, 1, 2, flag=False, extra=3)\n"
        "  %s(17)process()\n"
        "-> return check(user, total, lookup)\n"
        "> %s(23)check()\n"
        '-> raise ValueError("total %%d over %%d" %% (total, limit))\n'
        % (FILE, FILE, FILE, FILE))
    assert out[2] == ("> %s(17)process()\n"
                      "-> return check(user, total, lookup)\n" % FILE)
    assert out[3].startswith("> %s(31)main()\n" % FILE)
    assert out[4] == "> %s(36)<module>()\n-> main()\n" % FILE
    assert out[5].startswith("> %s(31)main()\n" % FILE)
    assert out[6].startswith("> %s(17)process()\n" % FILE)


def test_print_expressions_over_locals_and_globals(tmp_path):
    out = replies(run_pdb(tmp_path, (
        "p total, limit\n"
        "p total * 2 + limit\n"
        "up\n"
        "p user.name\n"
        "p len(items)\n"
        "p items[3]['k']\n"
        "pp lookup\n"
        "p sorted(opts)\n"
        "p rest\n"
        "p check.__name__\n"
        "p [i['k'] for i in items if i['k'] > 2]\n"
        "p User.__name__, type(user).__name__\n"
        "p nosuchname\n")))
    assert out[1] == "(10, 5)\n"
    assert out[2] == "25\n"
    assert out[4] == "'alice'\n"
    assert out[5] == "5\n"
    assert out[6] == "3\n"
    assert out[7] == "{'a': 1, 'b': [1, 2, 3]}\n"
    assert out[8] == "['extra']\n"
    assert out[9] == "(1, 2)\n"
    assert out[10] == "'check'\n"
    assert out[11] == "[3, 4]\n"
    assert out[12] == "('User', 'User')\n"
    assert out[13] == "*** NameError: name 'nosuchname' is not defined\n"


def test_args(tmp_path):
    out = replies(run_pdb(tmp_path, "args\nup\nargs\n"))
    assert out[1].startswith("user = <__main__.User object at 0x")
    assert out[1].endswith(">\ntotal = 10\nlookup = {'a': 1, 'b': [1, 2, 3]}"
                           "\n")
    assert out[3].startswith("user = <__main__.User object at 0x")
    assert out[3].split("\n", 1)[1] == (
        "items = [{'k': 0}, {'k': 1}, {'k': 2}, {'k': 3}, {'k': 4}]\n"
        "flag = False\n"
        "rest = (1, 2)\n"
        "opts = {'extra': 3}\n")


def test_list_and_longlist(tmp_path):
    out = replies(run_pdb(tmp_path, "list\nlonglist\nup\nlonglist\n"))
    source = mf.PROGRAM.splitlines()

    def numbered(first, last, current):
        return "".join("%3d  %s\t%s\n" % (n, "->" if n == current else "",
                                           source[n - 1])
                       for n in range(first, last + 1))

    assert out[1] == numbered(18, 28, 23)
    assert out[2] == numbered(20, 24, 23)
    assert out[4] == numbered(12, 17, 17)


def test_source_of_functions_and_classes(tmp_path):
    out = replies(run_pdb(tmp_path, "source process\nsource User\n"
                                    "source User.greet\nsource user.greet\n"
                                    "source len\n"))
    source = mf.PROGRAM.splitlines()

    def numbered(first, last):
        return "".join("%3d  \t%s\n" % (n, source[n - 1])
                       for n in range(first, last + 1))

    assert out[1] == numbered(12, 17)
    assert out[2] == numbered(1, 9)
    assert out[3] == numbered(8, 9)
    assert out[4] == numbered(8, 9)
    assert out[5].startswith("*** ")


def test_display_and_assignment(tmp_path):
    out = replies(run_pdb(tmp_path, "display total\ndisplay\n!total = 99\n"
                                    "p total\nup\np total\n"))
    assert out[1] == "display total: 10\n"
    assert out[2] == "Currently displaying:\ntotal: 10\n"
    assert out[3] == ""
    assert out[4] == "99\n"
    assert out[6] == "10\n"


def test_interact_then_end_of_input(tmp_path):
    out, err = run_pdb(tmp_path, "up\ninteract\n"
                                 "print(user.name, len(items))\n"
                                 "total + 1\nimport os\n"
                                 "print(lookup['b'][2])\n", stderr=True)
    session = replies(out)[2]
    if PY313:       # the banners go to stdout
        assert session == ("*pdb interact start*\n"
                           ">>> alice 5\n>>> 11\n>>> >>> 3\n>>> \n"
                           "*exit from pdb interact command*\n")
        assert err == ""
    else:
        assert session == ">>> alice 5\n>>> 11\n>>> >>> 3\n>>> "
        assert err.startswith("*interactive*\n")
        assert "Error" not in err


@pytest.mark.skipif(not PY313, reason="pdb's exceptions command is 3.13+")
def test_exceptions_walks_the_chain(tmp_path):
    out = replies(run_pdb(tmp_path, "exceptions\nexceptions 0\nwhere\n"
                                    "p n\nexceptions 1\nargs\n",
                          program="mf.CHAINED"))
    assert out[0].splitlines()[-2:] == [
        "> %s(16)top()" % FILE, '-> raise RuntimeError("top failed")']
    assert out[1] == ("    0 KeyError('k')\n"
                      "    1 ValueError(\"bad 'k'\")\n"
                      ">   2 RuntimeError('top failed')\n")
    assert out[2] == "> %s(2)low()\n-> return {}[n]\n" % FILE
    assert out[3].endswith("> %s(2)low()\n-> return {}[n]\n" % FILE)
    assert out[4] == "'k'\n"
    assert out[5] == ("> %s(9)mid()\n"
                      "-> raise ValueError(\"bad %%r\" %% n) from e\n"
                      % FILE)
    assert out[6] == "n = 'k'\n"


def test_without_an_exception_starts_in_the_thread_that_dumped(tmp_path):
    out = replies(run_pdb(tmp_path, "where\np pending\nargs\n",
                          program="mf.NOEXC"))
    assert "Exception: none\n" in out[0]
    assert "Debugging the thread that called dump() (MainThread)" in out[0]
    assert out[0].endswith("> %s(6)work()\n-> capture_here()\n" % FILE)
    assert out[1].splitlines()[-2:] == ["> %s(6)work()" % FILE,
                                        "-> capture_here()"]
    assert "(12)main()\n-> work(jobs)\n" in out[1]
    assert out[2] == "['a', 'b']\n"
    assert out[3] == "jobs = ['a', 'b', 'done']\n"


def test_terminal_stdin(tmp_path):
    """pdb on a terminal (readline): commands, interact left with Ctrl-D,
    then more commands."""
    script = mf.driver_script(tmp_path)
    term = mf.Terminal([sys.executable, str(script)], tmp_path,
                       mf.child_env(tmp_path))
    try:
        first = term.read_until(b"(Pdb) ")
        assert "> %s(23)check()" % FILE in first
        term.send(b"p total + limit\n")
        assert "15\n" in term.read_until(b"(Pdb) ")
        term.send(b"up\n")
        assert "(17)process()" in term.read_until(b"(Pdb) ")
        term.send(b"interact\n")
        term.read_until(b">>> ")
        term.send(b"len(items) * 100\n")
        assert "500\n" in term.read_until(b">>> ")
        term.send(b"\x04")                 # Ctrl-D ends interact
        back = term.read_until(b"(Pdb) ")
        assert ("*exit from pdb interact command*" if PY313
                else "now exiting InteractiveConsole") in back
        term.send(b"p user.name\n")
        assert "'alice'" in term.read_until(b"(Pdb) ")
        term.send(b"q\n")
        assert term.proc.wait(timeout=60) == 0
    finally:
        term.close()
