"""``python -m heapdump.open`` on real dump files, sources deleted.

A child process runs a small application (a script and a module next to
it), fails inside nested functions with locals (a user class instance, a
list, a dict) and calls ``heapdump.dump()`` in its except block.  The test
deletes the application, then drives ``python -m heapdump.open FILE``
through stdin (a pipe, and a terminal) and checks what pdb prints.
"""

import os
import pathlib
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

import heapdump
from conftest import project_python

# The heapdump under test (the source tree, or a sanitizer build's copy).
ROOT = pathlib.Path(heapdump.__file__).resolve().parent.parent
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent /
                       "unit"))
import modelfactory as mf  # noqa: E402

PY313 = sys.version_info >= (3, 13)

APP = textwrap.dedent('''\
    import sys

    import heapdump
    from shapes import Box


    class User:
        """A user of the shop."""

        def __init__(self, name, age):
            self.name = name
            self.age = age

        def label(self):
            return "%s (%d)" % (self.name, self.age)


    def total_of(items, limit):
        total = 0
        for item in items:
            total += item["price"]
        if total > limit:
            raise ValueError("total %d over limit %d" % (total, limit))
        return total


    def checkout(user, items, *extra, limit=10, **options):
        cart = {"user": user.name, "count": len(items), "box": Box(3)}
        return total_of(items, limit)


    def main(out):
        user = User("alice", 30)
        items = [{"price": p, "k": p * 10} for p in (2, 3, 4, 5)]
        try:
            checkout(user, items, "gift", limit=10, coupon="X1")
        except ValueError:
            path = heapdump.dump(out)
            print(path)


    if __name__ == "__main__":
        main(sys.argv[1])
''')

SHAPES = textwrap.dedent('''\
    class Box:
        """A cube."""

        def __init__(self, size):
            self.size = size

        def volume(self):
            return self.size ** 3
''')

CHAINED = textwrap.dedent('''\
    import sys

    import heapdump


    def low(n):
        return {}[n]


    def mid(n):
        try:
            low(n)
        except KeyError as e:
            raise ValueError("bad %r" % n) from e


    def top():
        try:
            mid("k")
        except ValueError:
            raise RuntimeError("top failed")


    try:
        top()
    except RuntimeError:
        heapdump.dump(sys.argv[1])
''')

THREADS = textwrap.dedent('''\
    import sys
    import threading

    import heapdump

    ready = threading.Event()
    stop = threading.Event()


    def worker(jobs):
        pending = list(jobs)
        ready.set()
        stop.wait()


    def main():
        t = threading.Thread(target=worker, args=(["a", "b"],),
                             name="worker-1")
        t.start()
        ready.wait()
        settings = {"mode": "fast"}
        heapdump.dump(sys.argv[1])
        print(t.ident, t.native_id)
        stop.set()
        t.join()


    main()
''')


def line_of(source, text):
    """The 1-based number of the line of source that contains text."""
    for n, line in enumerate(source.splitlines(), 1):
        if text in line:
            return n
    raise AssertionError("%r not in source" % text)


def env(tmp_path):
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT)
    e["HOME"] = str(tmp_path)
    e["PYTHONIOENCODING"] = "utf-8"
    e["TERM"] = "dumb"
    e.pop("PYTHONSTARTUP", None)
    return e


def make_dump(tmp_path, files, main="app.py"):
    """Run the application files (name -> source) in tmp_path/app, which is
    then deleted; returns (dump path, the child's stdout, app dir)."""
    app = tmp_path / "app"
    app.mkdir()
    for name, text in files.items():
        (app / name).write_text(text)
    out = tmp_path / "crash.dump"
    r = subprocess.run([sys.executable, main, str(out)], cwd=str(app),
                       env=env(tmp_path), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert out.exists()
    shutil.rmtree(app)
    return out, r.stdout, app


def heapdump_open(tmp_path, *args, commands="", status=0):
    """python -m heapdump.open ARGS with commands on stdin, run elsewhere
    than the deleted application.  Deprecation warnings are errors: the
    loader must not lean on what pdb deprecates (3.14: curframe_locals)."""
    cwd = tmp_path / "elsewhere"
    cwd.mkdir(exist_ok=True)
    r = subprocess.run([sys.executable, "-W", "error::DeprecationWarning",
                        "-m", "heapdump.open"] +
                       [str(a) for a in args], input=commands, cwd=str(cwd),
                       env=env(tmp_path), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == status, r.stdout + r.stderr
    return r


def replies(out):
    return out.split("(Pdb) ")


@pytest.fixture
def app_dump(tmp_path):
    path, _, app = make_dump(tmp_path, {"app.py": APP, "shapes.py": SHAPES})
    return path, str(app / "app.py"), str(app / "shapes.py")


def test_where_up_down_and_values(tmp_path, app_dump):
    path, app, _ = app_dump
    raise_line = line_of(APP, "raise ValueError")
    call_line = line_of(APP, "return total_of(items, limit)")
    main_line = line_of(APP, 'checkout(user, items, "gift"')
    r = heapdump_open(tmp_path, path, commands=(
        "where\n"
        "p total, limit\n"
        "up\n"
        "p user.name\n"
        "p len(items)\n"
        "p items[3]['k']\n"
        "p cart['box'].size\n"
        "pp cart['count']\n"
        "p user.label\n"
        "down\n"))
    assert r.stderr == ""
    out = replies(r.stdout)
    assert "Exception: ValueError: total 14 over limit 10\n" in out[0]
    assert out[0].endswith("> %s(%d)total_of()\n"
                           '-> raise ValueError("total %%d over limit %%d" '
                           "%% (total, limit))\n" % (app, raise_line))
    # the whole stack: <module> above the catching frame main() too
    assert out[1] == (
        "  %s(%d)<module>()\n"
        "-> main(sys.argv[1])\n"
        "  %s(%d)main()\n"
        '-> checkout(user, items, "gift", limit=10, coupon="X1")\n'
        "  %s(%d)checkout()\n"
        "-> return total_of(items, limit)\n"
        "> %s(%d)total_of()\n"
        '-> raise ValueError("total %%d over limit %%d" %% (total, limit))\n'
        % (app, line_of(APP, "main(sys.argv[1])"), app, main_line, app,
           call_line, app, raise_line))
    assert out[2] == "(14, 10)\n"
    assert out[3] == "> %s(%d)checkout()\n" \
        "-> return total_of(items, limit)\n" % (app, call_line)
    assert out[4] == "'alice'\n"
    assert out[5] == "4\n"
    assert out[6] == "50\n"
    assert out[7] == "3\n"
    assert out[8] == "4\n"
    assert out[9].startswith("<bound method User.label of <__main__.User "
                             "object at 0x") or out[9].startswith("<")
    assert out[10].startswith("> %s(%d)total_of()\n" % (app, raise_line))


def test_args_list_longlist(tmp_path, app_dump):
    path, app, _ = app_dump
    lines = APP.splitlines()
    first = line_of(APP, "def checkout(")
    call_line = line_of(APP, "return total_of(items, limit)")
    r = heapdump_open(tmp_path, path,
                      commands="up\nargs\nlonglist\nlist\n")
    out = replies(r.stdout)
    assert out[2].startswith("user = <__main__.User object at 0x")
    assert out[2].split("\n", 1)[1] == (
        "items = [{'price': 2, 'k': 20}, {'price': 3, 'k': 30}, "
        "{'price': 4, 'k': 40}, {'price': 5, 'k': 50}]\n"
        "limit = 10\n"
        "extra = ('gift',)\n"
        "options = {'coupon': 'X1'}\n")

    def numbered(a, b, current):
        return "".join("%3d  %s\t%s\n" % (n, "->" if n == current else "",
                                         lines[n - 1])
                       for n in range(a, b + 1))

    assert out[3] == numbered(first, call_line, call_line)
    assert out[4] == numbered(call_line - 5, call_line + 5, call_line)


def test_source_of_functions_and_classes(tmp_path, app_dump):
    path, _, _ = app_dump
    app_lines = APP.splitlines()
    shapes_lines = SHAPES.splitlines()

    def numbered(lines, a, b):
        return "".join("%3d  \t%s\n" % (n, lines[n - 1])
                       for n in range(a, b + 1))

    r = heapdump_open(tmp_path, path, commands=(
        "up\nup\nsource checkout\nsource User\nsource user.label\n"
        "source Box\nsource Box.volume\n"))
    out = replies(r.stdout)
    first = line_of(APP, "def checkout(")
    assert out[3] == numbered(app_lines, first, first + 2)
    user = line_of(APP, "class User:")
    assert out[4] == numbered(app_lines, user, user + 8)
    label = line_of(APP, "def label(self):")
    assert out[5] == numbered(app_lines, label, label + 1)
    assert out[6] == numbered(shapes_lines, 1, 8)
    assert out[7] == numbered(shapes_lines, 7, 8)


def test_display_and_interact(tmp_path, app_dump):
    path, _, _ = app_dump
    r = heapdump_open(tmp_path, path, commands=(
        "display total\nup\ninteract\n"
        "print(user.name, len(items), sorted(cart))\n"
        "sum(i['price'] for i in items)\n"))
    out = replies(r.stdout)
    assert out[1] == "display total: 14\n"
    assert ">>> alice 4 ['box', 'count', 'user']\n>>> 14\n" in out[3]
    assert "Error" not in r.stderr


@pytest.mark.skipif(not PY313, reason="pdb's exceptions command is 3.13+")
def test_exceptions_walks_the_dumped_chain(tmp_path):
    path, _, app = make_dump(tmp_path, {"chained.py": CHAINED},
                             main="chained.py")
    src = str(app / "chained.py")
    r = heapdump_open(tmp_path, path, commands=(
        "exceptions\nexceptions 0\np n\nexceptions 1\nwhere\n"))
    out = replies(r.stdout)
    assert out[1] == ("    0 KeyError('k')\n"
                      "    1 ValueError(\"bad 'k'\")\n"
                      ">   2 RuntimeError('top failed')\n")
    assert out[2] == "> %s(%d)low()\n-> return {}[n]\n" % (
        src, line_of(CHAINED, "return {}[n]"))
    assert out[3] == "'k'\n"
    assert out[4].startswith("> %s(%d)mid()\n" % (
        src, line_of(CHAINED, "raise ValueError")))


def test_summary(tmp_path, app_dump):
    path, app, _ = app_dump
    r = heapdump_open(tmp_path, "--summary", path)
    assert r.stderr == ""
    text = r.stdout
    lines = text.splitlines()
    assert lines[0] == "heapdump %s" % path
    assert lines[1] == "Reason:     dump() called"
    assert lines[2] == "Exception:  ValueError: total 14 over limit 10"
    assert lines[3].startswith("Python:     CPython %d.%d." %
                               sys.version_info[:2])
    assert "Traceback (most recent call last):" in lines
    assert '  File "%s", line %d, in total_of' % (
        app, line_of(APP, "raise ValueError")) in lines
    assert "      total = 14" in lines
    assert "      limit = 10" in lines
    assert "      items = [{'price': 2, 'k': 20}, {'price': 3, 'k': 30}, " \
        "{'price': 4, 'k': 40}, {'price': 5, 'k': 50}]" in lines
    # instances in the short form: their class and one level of
    # attributes
    assert "      cart = {'user': 'alice', 'count': 4, 'box': " \
        "Box(size=3)}" in lines
    assert "      user = User(name='alice', age=30)" in lines
    assert any(ln.startswith("Thread ") and "[called dump(), main thread]"
               in ln for ln in lines)


def test_thread_option(tmp_path):
    path, stdout, app = make_dump(tmp_path, {"threads.py": THREADS},
                                  main="threads.py")
    ident, native = (int(x) for x in stdout.split())
    src = str(app / "threads.py")
    for tid in (ident, native):
        # the worker waits in threading.py: Condition.wait <- Event.wait
        r = heapdump_open(tmp_path, "--thread", tid, path,
                          commands="up\nup\np pending\nargs\n")
        out = replies(r.stdout)
        assert "Debugging thread %d (worker-1)" % ident in out[0]
        assert out[0].endswith("-> waiter.acquire()\n")
        assert out[1].endswith("-> signaled = self._cond.wait(timeout)\n")
        assert out[2] == "> %s(%d)worker()\n-> stop.wait()\n" % (
            src, line_of(THREADS, "stop.wait()"))
        assert out[3] == "['a', 'b']\n"
        assert out[4] == "jobs = ['a', 'b']\n"
    # without --thread: the thread that called dump(), at the call
    r = heapdump_open(tmp_path, path, commands="p settings\n")
    out = replies(r.stdout)
    assert out[0].endswith("> %s(%d)main()\n-> heapdump.dump(sys.argv[1])\n"
                           % (src, line_of(THREADS, "heapdump.dump(")))
    assert out[1] == "{'mode': 'fast'}\n"


def test_errors_are_one_line(tmp_path):
    r = heapdump_open(tmp_path, tmp_path / "missing.dump", status=1)
    assert r.stdout == ""
    assert r.stderr.count("\n") == 1
    assert r.stderr.startswith("python -m heapdump.open: error: ")
    assert "missing.dump" in r.stderr
    bogus = tmp_path / "bogus.dump"
    bogus.write_text("hello, not a dump\n")
    r = heapdump_open(tmp_path, bogus, status=1)
    assert r.stdout == ""
    assert r.stderr.count("\n") == 1
    assert r.stderr.startswith("python -m heapdump.open: error: ")
    assert "bogus.dump" in r.stderr


def test_truncated_file_opens_with_a_warning(tmp_path, app_dump):
    path, _, _ = app_dump
    data = path.read_bytes()
    cut = tmp_path / "cut.dump"
    cut.write_bytes(data[:len(data) * 3 // 4])
    r = heapdump_open(tmp_path, "--summary", cut)
    assert "WARNING: the file is truncated" in r.stdout


def test_terminal(tmp_path, app_dump):
    """On a terminal: readline input, interact left with Ctrl-D, more
    commands after it."""
    path, app, _ = app_dump
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    term = mf.Terminal([sys.executable, "-m", "heapdump.open", str(path)],
                       cwd, env(tmp_path))
    try:
        first = term.read_until(b"(Pdb) ")
        assert "> %s(%d)total_of()" % (app, line_of(APP, "raise ValueE")) \
            in first
        term.send(b"up\n")
        term.read_until(b"(Pdb) ")
        term.send(b"interact\n")
        term.read_until(b">>> ")
        term.send(b"cart['box'].size * len(items)\n")
        assert "12\n" in term.read_until(b">>> ")
        term.send(b"\x04")
        term.read_until(b"(Pdb) ")
        term.send(b"p user.age + 1\n")
        assert "31\n" in term.read_until(b"(Pdb) ")
        term.send(b"q\n")
        assert term.proc.wait(timeout=60) == 0
    finally:
        term.close()


MODULE_LEVEL = textwrap.dedent('''\
    import sys

    import heapdump

    counts = {"a": 1}
    names = ["x", "y"]
    try:
        counts[names[1]] += 1
    except KeyError:
        heapdump.dump(sys.argv[1])
''')


def test_module_level_frames(tmp_path):
    path, _, app = make_dump(tmp_path, {"mod.py": MODULE_LEVEL},
                             main="mod.py")
    r = heapdump_open(tmp_path, path, commands=(
        "where\np counts, names\np len(names)\nlonglist\n"))
    out = replies(r.stdout)
    src = str(app / "mod.py")
    line = line_of(MODULE_LEVEL, "counts[names[1]] += 1")
    assert out[1] == "> %s(%d)<module>()\n-> counts[names[1]] += 1\n" % (
        src, line)
    assert out[2] == "({'a': 1}, ['x', 'y'])\n"
    assert out[3] == "2\n"
    dump_line = line_of(MODULE_LEVEL, "heapdump.dump(")
    lines = MODULE_LEVEL.splitlines()
    if sys.version_info[:2] == (3, 10):
        # Stock 3.10 pdb numbers a module frame's longlist from 0 (live
        # programs too): its marks land one line early.
        expected = "".join(
            "%3d  %s\t%s\n" % (n - 1, ">>" if n - 1 == line else "",
                                lines[n - 1]) for n in range(1, 11))
    else:
        # the frame is at the dump() call, the traceback (>>) at the line
        # that raised
        expected = "".join(
            "%3d  %s\t%s\n" % (n, "->" if n == dump_line else
                                ">>" if n == line else "", lines[n - 1])
            for n in range(1, 11))
    assert out[4] == expected


GROUP = textwrap.dedent('''\
    import sys

    import heapdump


    def one(v):
        raise ValueError("one %d" % v)


    def two(v):
        raise TypeError("two %d" % v)


    def main():
        errors = []
        for i, f in enumerate((one, two)):
            try:
                f(i)
            except Exception as e:
                errors.append(e)
        try:
            raise ExceptionGroup("both", errors)
        except ExceptionGroup as group:
            heapdump.dump(sys.argv[1])


    main()
''')


@pytest.mark.skipif(sys.version_info < (3, 11), reason="ExceptionGroup")
def test_exception_group_members_have_tracebacks(tmp_path):
    path, _, app = make_dump(tmp_path, {"group.py": GROUP},
                             main="group.py")
    r = heapdump_open(tmp_path, "--summary", path)
    assert "  member 1:      ValueError: one 0\n" in r.stdout
    assert "  member 2:      TypeError: two 1\n" in r.stdout
    r = heapdump_open(tmp_path, path, commands=(
        "p [type(e).__name__ for e in group.exceptions]\n"
        "interact\n"
        "import traceback\n"
        "tb = group.exceptions[1].__traceback__\n"
        "print(tb.tb_next.tb_frame.f_code.co_name, tb.tb_next.tb_lineno, "
        "tb.tb_next.tb_frame.f_locals)\n"))
    out = replies(r.stdout)
    assert out[1] == "['ValueError', 'TypeError']\n"
    assert ">>> >>> two %d {'v': 1}\n" % line_of(GROUP, "raise TypeError") \
        in r.stdout


LAMBDAS = textwrap.dedent('''\
    import sys

    import heapdump


    def comp(data):
        scale = 10
        key = lambda v: scale / v["d"]
        return [key(x) for x in data]


    try:
        comp([{"d": 1}, {"d": 0}])
    except ZeroDivisionError:
        heapdump.dump(sys.argv[1])
''')


def test_lambdas_and_comprehensions(tmp_path):
    path, _, app = make_dump(tmp_path, {"lam.py": LAMBDAS}, main="lam.py")
    src = str(app / "lam.py")
    comp_line = line_of(LAMBDAS, "return [key(x)")
    lam_line = line_of(LAMBDAS, "key = lambda")
    r = heapdump_open(tmp_path, path, commands=(
        "where\nargs\np v, scale\nll\nup\nargs\n"))
    out = replies(r.stdout)
    entries = [ln for ln in out[1].splitlines() if not ln.startswith("->")]
    # 3.12+ inlines the comprehension into comp(); before, it has a frame
    names = [re.search(r"\(\d+\)(.*)$", e).group(1) for e in entries]
    if sys.version_info >= (3, 12):
        assert names == ["<module>()", "comp()", "<lambda>()"]
    else:
        assert names == ["<module>()", "comp()", "<listcomp>()",
                         "<lambda>()"]
    assert out[0].endswith("> %s(%d)<lambda>()\n-> key = lambda v: "
                           "scale / v[\"d\"]\n" % (src, lam_line))
    assert out[2] == "v = {'d': 0}\n"
    assert out[3] == "({'d': 0}, 10)\n"
    assert out[4] == "%3d  ->\t    key = lambda v: scale / v[\"d\"]\n" % \
        lam_line
    if sys.version_info >= (3, 12):
        assert out[5].startswith("> %s(%d)comp()\n" % (src, comp_line))
        assert out[6] == "data = [{'d': 1}, {'d': 0}]\n"
    else:
        assert out[5].startswith("> %s(%d)<listcomp>()\n" % (src,
                                                            comp_line))
        assert out[6].startswith(".0 = <")


GENERATORS = textwrap.dedent('''\
    import sys

    import heapdump


    def numbers(n):
        for i in range(n):
            yield i * i


    def main():
        gen = numbers(5)
        first = next(gen)
        try:
            raise RuntimeError("stop at %d" % first)
        except RuntimeError:
            heapdump.dump(sys.argv[1])


    main()
''')


def test_suspended_generator_frame(tmp_path):
    path, _, app = make_dump(tmp_path, {"gen.py": GENERATORS},
                             main="gen.py")
    r = heapdump_open(tmp_path, path, commands=(
        "p first\np gen.gi_frame.f_lineno\np gen.gi_frame.f_locals\n"
        "p gen.gi_frame.f_code.co_name\np gen.dumped_frame.lineno\n"))
    out = replies(r.stdout)
    assert out[1] == "0\n"
    # the generator's frame reads like a frame
    assert out[2] == "%d\n" % line_of(GENERATORS, "yield i * i")
    assert out[3] == "{'n': 5, 'i': 0}\n"
    assert out[4] == "'numbers'\n"
    assert out[5] == out[2]


POINT = textwrap.dedent('''\
    import sys

    import heapdump


    class Point:
        def __init__(self, x, y):
            self.x, self.y = x, y


    def area(p, scale):
        w = p.x * scale
        return w / p.y


    try:
        area(Point(3, 0), 2)
    except ZeroDivisionError:
        heapdump.dump(sys.argv[1])
''')

def other_pythons():
    """The oldest and the two newest supported Pythons but this one (so
    that each version opens at least two others' dumps here), as commands
    (conftest.project_python)."""
    here = "%d.%d" % sys.version_info[:2]
    found = []
    for v in ("3.9", "3.14", "3.15"):
        cmd = project_python(v, ROOT)
        if v != here and cmd is not None:
            found.append(pytest.param(cmd, id="dumped-by-" + v))
    return found or [pytest.param(None, marks=pytest.mark.skip(
        reason="no other Python version in .venv"))]


@pytest.mark.parametrize("writer", other_pythons())
def test_dump_of_another_python_version(tmp_path, writer):
    app = tmp_path / "app"
    app.mkdir()
    (app / "point.py").write_text(POINT)
    out = tmp_path / "other.dump"
    r = subprocess.run(writer + ["point.py", str(out)], cwd=str(app),
                       env=env(tmp_path), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    shutil.rmtree(app)
    r = heapdump_open(tmp_path, out, commands=(
        "p w, scale\nargs\nsource Point\n"))
    out = replies(r.stdout)
    src = str(app / "point.py")
    assert out[0].endswith("> %s(%d)area()\n-> return w / p.y\n" % (
        src, line_of(POINT, "return w / p.y")))
    assert out[1] == "(6, 2)\n"
    assert out[2].startswith("p = <__main__.Point object at 0x")
    assert out[2].endswith(">\nscale = 2\n")
    first = line_of(POINT, "class Point:")
    assert out[3] == "".join("%3d  \t%s\n" % (n, POINT.splitlines()[n - 1])
                             for n in range(first, first + 3))


LIMITED = textwrap.dedent('''\
    import sys

    import heapdump


    class Big:
        def __init__(self, i):
            self.i = i


    def work(text, rows, objs):
        password = "hunter2"
        raise RuntimeError("boom")


    try:
        work("x" * 1000, list(range(50)), [Big(i) for i in range(30)])
    except RuntimeError:
        heapdump.dump(sys.argv[1], max_string=10, max_items=5,
                      max_objects=int(sys.argv[2]))
''')


def test_summary_marks_cut_omitted_and_redacted_values(tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    (app / "limited.py").write_text(LIMITED)
    out = tmp_path / "limited.dump"
    r = subprocess.run([sys.executable, "limited.py", str(out), "25"],
                       cwd=str(app), env=env(tmp_path), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    shutil.rmtree(app)
    r = heapdump_open(tmp_path, "--summary", out)
    lines = r.stdout.splitlines()
    contents = [ln for ln in lines if ln.startswith("Contents:")]
    assert len(contents) == 1
    assert "values cut" in contents[0] and "objects omitted" in contents[0]
    assert "      text = 'xxxxxxxxxx' [cut in the dump: 10 of 1000]" in lines
    rows = [ln for ln in lines if ln.startswith("      rows = ")]
    assert len(rows) == 1 and rows[0].endswith("[cut in the dump: 5 of 50]")
    objs = [ln for ln in lines if ln.startswith("      objs = ")]
    assert len(objs) == 1 and objs[0].endswith("[cut in the dump: 5 of 30]")
    assert "<omitted: __main__.Big object, " in objs[0]
    assert "      password = <redacted: str object, " in r.stdout
    assert "hunter2" not in r.stdout


CONTEXT = textwrap.dedent('''\
    import sys

    import heapdump


    def handle(request):
        heapdump.set_context("request_id", request["id"])
        return request["body"]["missing"]


    try:
        handle({"id": "r-17", "body": {}})
    except KeyError:
        heapdump.dump(sys.argv[1])
''')


def test_context_is_shown(tmp_path):
    path, _, _ = make_dump(tmp_path, {"ctx.py": CONTEXT}, main="ctx.py")
    r = heapdump_open(tmp_path, "--summary", path)
    assert "\nContext:    request_id = 'r-17'\n" in r.stdout
    r = heapdump_open(tmp_path, path, commands="p request['id']\n")
    out = replies(r.stdout)
    assert "\nContext:   request_id = 'r-17'\n" in out[0]
    assert out[1] == "'r-17'\n"


SIGNALLED = textwrap.dedent('''\
    import signal
    import sys
    import time

    from heapdump import _triggers


    def busy(n):
        total = 0
        while True:
            total += n
            if total == n:
                # from inside the loop: a signal sent on "ready" cannot
                # find the main thread before busy()
                print("ready", flush=True)
            time.sleep(0.005)


    _triggers.dump_on_signal(signal.SIGUSR1, sys.argv[1])
    busy(3)
''')


def test_signal_dump_opens_in_the_main_thread(tmp_path):
    from heapdump import _triggers as triggers
    if not hasattr(triggers, "dump_on_signal"):
        pytest.skip("no dump_on_signal")
    import signal
    import time
    app = tmp_path / "app"
    app.mkdir()
    (app / "sig.py").write_text(SIGNALLED)
    outdir = tmp_path / "dumps"
    outdir.mkdir()
    proc = subprocess.Popen([sys.executable, "sig.py", str(outdir)],
                            cwd=str(app), env=env(tmp_path),
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 60
        while not list(outdir.glob("*.dump")):
            assert time.monotonic() < deadline, "no dump written"
            time.sleep(0.05)
        time.sleep(0.5)     # the file appears complete (renamed into place)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    shutil.rmtree(app)
    path = list(outdir.glob("*.dump"))[0]
    r = heapdump_open(tmp_path, path, commands="p n, total > 0\nup\n")
    out = replies(r.stdout)
    assert "Exception: none\n" in out[0]
    assert "Debugging the main thread (MainThread)" in out[0]
    # the signal lands on a line of the loop, or while it sleeps (in C)
    src = app / "sig.py"
    lines = SIGNALLED.splitlines()
    loop = range(line_of(SIGNALLED, "while True"),
                 line_of(SIGNALLED, "time.sleep") + 1)
    assert any(out[0].endswith("> %s(%d)busy()\n-> %s\n" % (
        src, n, lines[n - 1].strip())) for n in loop
        if not lines[n - 1].strip().startswith("#")), out[0]
    assert out[1] == "(3, True)\n"
    assert out[2] == "> %s(%d)<module>()\n-> busy(3)\n" % (
        src, line_of(SIGNALLED, "busy(3)"))


CRASHING = textwrap.dedent('''\
    import faulthandler
    import sys

    from heapdump import _triggers


    class Thing:
        def __init__(self):
            self.name = "thing"


    def crash(thing, depth):
        data = [thing] * depth
        faulthandler._sigsegv()


    _triggers.dump_on_unhandled_exceptions(sys.argv[1], fatal_signals=True)
    crash(Thing(), 3)
''')


def test_crash_dump_opens_where_it_crashed(tmp_path):
    from heapdump import _triggers as triggers
    if not hasattr(triggers, "dump_on_unhandled_exceptions"):
        pytest.skip("no dump_on_unhandled_exceptions")
    import resource
    app = tmp_path / "app"
    app.mkdir()
    (app / "crash.py").write_text(CRASHING)
    outdir = tmp_path / "dumps"
    outdir.mkdir()
    e = env(tmp_path)
    e.pop("PYTHONFAULTHANDLER", None)
    subprocess.run([sys.executable, "crash.py", str(outdir)], cwd=str(app),
                   env=e, capture_output=True, timeout=120,
                   preexec_fn=lambda: resource.setrlimit(
                       resource.RLIMIT_CORE, (0, 0)))
    dumps = list(outdir.glob("*.dump"))
    assert len(dumps) == 1
    shutil.rmtree(app)
    r = heapdump_open(tmp_path, dumps[0], commands=(
        "p thing.name, depth\nargs\np len(data)\n"))
    out = replies(r.stdout)
    assert "Reason:    fatal signal SIGSEGV\n" in out[0]
    assert out[0].endswith("> %s(%d)crash()\n-> faulthandler._sigsegv()\n"
                           % (app / "crash.py",
                              line_of(CRASHING, "faulthandler._sigsegv()")))
    assert out[1] == "('thing', 3)\n"
    assert out[2].startswith("thing = <__main__.Thing object at 0x")
    assert out[2].endswith(">\ndepth = 3\n")
    assert out[3] == "3\n"
