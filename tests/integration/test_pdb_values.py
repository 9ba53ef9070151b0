"""Issue 12: what a person reads back at the pdb prompt of a dump.

Each test runs a real child program (its source files then deleted), which
dumps with the default limits, and drives ``python -m heapdump.open`` on the
file through stdin, checking pdb's replies against what the live program
would have said.
"""

import re
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
    # --summary lists them the same way
    summary = heapdump_open(tmp_path, "--summary", path).stdout.splitlines()
    at = summary.index("Threads:    2")
    assert summary[at + 1:at + 3] == [" " * 11 + ln[1:] for ln in lines]


# ------------------------------------------------ never silently different

FAITHFUL = textwrap.dedent('''\
    import enum
    import fractions
    import functools
    import sys
    import threading

    import heapdump


    class Color(enum.Enum):
        RED = 1
        GREEN = 2


    class Shop:
        def __init__(self, items):
            self.items = items

        @property
        def count(self):
            return len(self.items)

        @functools.cached_property
        def total(self):
            return sum(self.items)

        @functools.cached_property
        def biggest(self):
            return max(self.items)

        def __len__(self):
            return len(self.items)

        def __eq__(self, other):
            return isinstance(other, Shop) and self.items == other.items


    class Params(dict):
        def __getitem__(self, key):
            return dict.__getitem__(self, key)[-1]

        def lists(self):
            return list(dict.items(self))


    def counter(n):
        i = 0
        while i < n:
            yield i
            i += 1


    def work(color, shop, params, frac, gen, worker):
        shop.total
        raise ValueError("boom")


    def main(out):
        gen = counter(5)
        next(gen)
        worker = threading.Thread(target=print, name="mailer", daemon=True)
        try:
            work(Color.GREEN, Shop([1, 2, 3]), Params(qty=["2", "3"]),
                 fractions.Fraction(3, 4), gen, worker)
        except ValueError:
            heapdump.dump(out)


    main(sys.argv[1])
''')

ERR = "*** heapdump._surrogates.DumpedCodeError: "
ATTR_ERR = "*** heapdump._surrogates.DumpedAttributeError: "


def test_never_silently_different(tmp_path):
    path, _, app = make_dump(tmp_path, {"faithful.py": FAITHFUL},
                             main="faithful.py")
    app = str(app / "faithful.py")
    r = heapdump_open(tmp_path, path, commands=(
        "p color.value\np color.name\np color\n"
        "p shop.count\np shop.total\np shop.biggest\np len(shop)\n"
        "p shop == shop\np params['qty']\np params.lists()\n"
        "p frac.numerator, frac.denominator\np worker.name, worker.daemon\n"
        "p Shop([1])\np Color(2)\np type(shop).count\n"
        "p gen.gi_frame.f_locals\np gen.gi_frame.f_lineno\n"
        "p counter(3)\n"))
    assert r.stderr == ""
    # 3.15's pdb adds a suggestion to an AttributeError ("Did you mean
    # '.items.count'"): what heapdump says comes before it
    out = [re.sub(r"\. Did you mean .*\?\n$", "\n", o)
           for o in replies(r.stdout)]
    assert out[1] == "2\n"
    assert out[2] == "'GREEN'\n"
    assert out[3] == "<Color.GREEN: 2>\n"
    assert out[4] == ATTR_ERR + (
        "Shop.count is a property of __main__.Shop: its code cannot run "
        "on a dump (the instance's own attributes: items, total)\n")
    assert out[5] == "6\n"              # cached in the instance: as live
    assert out[6] == ATTR_ERR + (
        "Shop.biggest is a functools.cached_property of __main__.Shop: "
        "its code cannot run on a dump (the instance's own attributes: "
        "items, total)\n")
    assert out[7] == ERR + ("Shop.__len__ (of __main__.Shop) is the "
                            "class's own code: it cannot run on a dump\n")
    assert out[8] == ERR + ("Shop.__eq__ (of __main__.Shop) is the "
                            "class's own code: it cannot run on a dump\n")
    assert out[9] == ERR + (
        "Params.__getitem__ (of __main__.Params) overrides "
        "dict.__getitem__: its code cannot run on a dump; "
        "dict.__getitem__ on the stored value gives ['2', '3']\n")
    assert out[10] == ERR + ("Params.lists() (from %s): functions from a "
                             "dump cannot be called: their code ran in the "
                             "dumped process\n" % app)
    assert out[11] == "(3, 4)\n"
    assert out[12] == "('mailer', True)\n"
    assert out[13] == ERR + (
        "__main__.Shop(): classes from a dump cannot be called: their code "
        "ran in the dumped process (Shop is a stand-in made from the dumped "
        "state)\n")
    assert out[14].startswith(ERR + "__main__.Color(): classes from a dump")
    assert out[15].startswith("<property object at 0x")
    assert out[16] == "{'n': 5, 'i': 0}\n"
    assert out[17] == "%d\n" % line_of(FAITHFUL, "        yield i")
    assert out[18] == ERR + ("counter() (from %s): functions from a dump "
                             "cannot be called: their code ran in the "
                             "dumped process\n" % app)


DJANGO = textwrap.dedent('''\
    import sys

    import django
    from django.conf import settings

    settings.configure(DEBUG=True, USE_TZ=True)
    django.setup()

    from django.http import QueryDict
    from django.utils.functional import SimpleLazyObject

    import heapdump


    class Account:
        def __init__(self, username):
            self.username = username


    def view(get, user, later):
        user.username          # evaluated, as a middleware's request.user
        raise KeyError("qty")


    try:
        view(QueryDict("qty=2&qty=3&page=1"),
             SimpleLazyObject(lambda: Account("alice")),
             SimpleLazyObject(lambda: Account("bob")))
    except KeyError:
        heapdump.dump(sys.argv[1])
''')


def test_django_querydict_and_lazy_objects(tmp_path):
    from webtests import require

    require("django")
    path, _, _ = make_dump(tmp_path, {"dj.py": DJANGO}, main="dj.py")
    r = heapdump_open(tmp_path, path, commands=(
        "p user.username\np user\np bool(user)\np later.username\n"
        "p get['qty']\np dict.__getitem__(get, 'page')\n"))
    assert r.stderr == ""
    out = replies(r.stdout)
    assert out[1] == "'alice'\n"
    assert out[2].startswith("<SimpleLazyObject: <__main__.Account object "
                             "at 0x")
    assert out[3] == "True\n"
    assert out[4] == ATTR_ERR + (
        "SimpleLazyObject was never evaluated in the dumped process: its "
        "target is not in the dump (and its factory cannot run here)\n")
    assert out[5] == ERR + (
        "MultiValueDict.__getitem__ (of django.utils.datastructures."
        "MultiValueDict) overrides dict.__getitem__: its code cannot run on "
        "a dump; dict.__getitem__ on the stored value gives ['2', '3']\n")
    assert out[6] == "['1']\n"


# ------------------------------------- classes as their users know them

CLASSES = textwrap.dedent('''\
    import collections
    import dataclasses
    import enum
    import sys
    import typing

    import heapdump


    class Color(enum.Enum):
        RED = 1
        GREEN = 2


    class Perm(enum.Flag):
        R = 4
        W = 2
        X = 1


    class Level(enum.IntEnum):
        LOW = 1
        HIGH = 2


    @dataclasses.dataclass
    class Point:
        x: int
        y: int
        label: str = dataclasses.field(default="p", repr=False)
        LIMIT: typing.ClassVar[int] = 5


    @dataclasses.dataclass(frozen=True)
    class Line:
        a: Point
        b: Point


    Pair = collections.namedtuple("Pair", "left right")


    class Order:
        def __init__(self, id, lines):
            self.id = id
            self.lines = lines


    def fail(color, perm, level, pt, line, pair, order):
        other = Point(1, 2)
        raise ValueError("x")


    try:
        fail(Color.GREEN, Perm.R | Perm.W, Level.HIGH, Point(1, 2),
             Line(Point(0, 0), Point(3, 4)), Pair(1, "b"),
             Order(7, [Point(5, 6)]))
    except ValueError:
        heapdump.dump(sys.argv[1])
''')


def test_classes_as_their_users_know_them(tmp_path):
    path, _, _ = make_dump(tmp_path, {"classes.py": CLASSES},
                           main="classes.py")
    r = heapdump_open(tmp_path, path, commands=(
        "p color, perm, level\np color.value, perm.value, level.name\n"
        "p str(color), Perm.R in perm, Perm.X in perm, bool(perm)\n"
        "p level + 1, str(level)\n"
        "p pt\np line\np pair, pair.left\np pt == other, pt == line.a\n"
        "p pt != other\np order\n"))
    assert r.stderr == ""
    out = replies(r.stdout)
    assert out[1] == "(<Color.GREEN: 2>, <Perm.R|W: 6>, <Level.HIGH: 2>)\n"
    assert out[2] == "(2, 6, 'HIGH')\n"
    assert out[3] == "('Color.GREEN', True, False, True)\n"
    # an IntEnum is an int; its str is the dumped Python's (the value from
    # 3.11, the member's name before)
    assert out[4] == "(3, %r)\n" % (
        "2" if sys.version_info >= (3, 11) else "Level.HIGH")
    assert out[5] == "Point(x=1, y=2)\n"
    assert out[6] == "Line(a=Point(x=0, y=0), b=Point(x=3, y=4))\n"
    assert out[7] == "(Pair(left=1, right='b'), 1)\n"
    assert out[8] == "(True, False)\n"
    assert out[9] == "False\n"
    assert out[10].startswith("<__main__.Order object at 0x")  # as live
    summary = heapdump_open(tmp_path, "--summary", path).stdout
    lines = summary.splitlines()
    assert "      color = <Color.GREEN: 2>" in lines
    assert "      perm = <Perm.R|W: 6>" in lines
    assert "      level = <Level.HIGH: 2>" in lines
    assert "      pt = Point(x=1, y=2)" in lines
    assert "      line = Line(a=Point(x=0, y=0), b=Point(x=3, y=4))" in lines
    assert "      pair = Pair(left=1, right='b')" in lines
    assert "      order = Order(id=7, lines=[Point(x=5, y=6)])" in lines


LIBRARIES = textwrap.dedent('''\
    import sys

    import attrs
    import pydantic

    import heapdump


    @attrs.define
    class Size:
        w: int
        h: int
        note: str = attrs.field(default="", repr=False)


    class Item(pydantic.BaseModel):
        id: int
        name: str
        secret: str = pydantic.Field(default="s", repr=False)


    def fail(size, item):
        same = Size(2, 3)
        raise ValueError("x")


    try:
        fail(Size(2, 3), Item(id=7, name="pen"))
    except ValueError:
        heapdump.dump(sys.argv[1])
''')


def test_attrs_and_pydantic(tmp_path):
    from webtests import require

    require("attrs")
    require("pydantic")
    path, _, _ = make_dump(tmp_path, {"libs.py": LIBRARIES}, main="libs.py")
    r = heapdump_open(tmp_path, path, commands=(
        "p size\np item\np size == same\np item.name\n"))
    assert r.stderr == ""
    out = replies(r.stdout)
    assert out[1] == "Size(w=2, h=3)\n"
    assert out[2] == "Item(id=7, name='pen')\n"
    assert out[3] == "True\n"
    assert out[4] == "'pen'\n"
    lines = heapdump_open(tmp_path, "--summary", path).stdout.splitlines()
    assert "      size = Size(w=2, h=3)" in lines
    assert "      item = Item(id=7, name='pen')" in lines


# ----------------------------- cuts that cannot be missed, rare cuts

CUTS = textwrap.dedent('''\
    import sys

    import heapdump


    def view(n):
        history = list(range(20000))
        index = {"key%06d" % i: i for i in range(100000)}
        huge = list(range(250000))
        text = "x" * 100000
        raise KeyError(n)


    try:
        view(3)
    except KeyError:
        heapdump.dump(sys.argv[1])
''')


def test_defaults_keep_big_containers_and_cuts_are_shown(tmp_path):
    path, _, app = make_dump(tmp_path, {"cuts.py": CUTS}, main="cuts.py")
    app = str(app / "cuts.py")
    r = heapdump_open(tmp_path, path, commands=(
        "p len(history), history[-1]\np len(index), index['key099999']\n"
        "p type(history).__name__, type(index).__name__\n"
        "p len(huge), huge.original_length\np repr(huge)[-55:]\n"
        "p repr(text)[-49:]\np len(text)\n"))
    assert r.stderr == ""
    out = replies(r.stdout)
    # whole with the default limits: real lists and dicts
    assert out[1] == "(20000, 19999)\n"
    assert out[2] == "(100000, 99999)\n"
    assert out[3] == "('list', 'dict')\n"
    # a cut value: len() is what the dump holds, and its repr says so
    assert out[4] == "(200000, 250000)\n"
    assert out[5] == "'199999, <50,000 more items not dumped, 250,000 in " \
        "all>]'\n"
    assert out[6] == "\"x' <34,464 more chars not dumped, 100,000 in all>\"\n"
    assert out[7] == "65536\n"
    lines = heapdump_open(tmp_path, "--summary", path).stdout.splitlines()
    at = "view(), %s:%d" % (app, line_of(CUTS, "raise KeyError"))
    cut = [ln for ln in lines if ln.startswith(
        ("Cut:", " " * 12 + "huge", " " * 12 + "text"))]
    assert cut == [
        "Cut:        huge: list, 200,000 of 250,000 items in the dump "
        "(in %s)" % at,
        "            text: str, 65,536 of 100,000 chars in the dump "
        "(in %s)" % at]


# ------------------------------------------------ frozen modules' sources

FROZEN = textwrap.dedent('''\
    import importlib
    import sys

    import heapdump

    try:
        importlib.import_module("no_such_module_here")
    except ModuleNotFoundError:
        heapdump.dump(sys.argv[1])
''')


def test_frozen_module_frames_have_their_source(tmp_path):
    # coredumpy's test_frozen: a ModuleNotFoundError through importlib,
    # whose innermost frames are in the frozen importlib._bootstrap
    path, _, _ = make_dump(tmp_path, {"frozen.py": FROZEN}, main="frozen.py")
    r = heapdump_open(tmp_path, path, commands="where\nll\nup\nlist\n")
    assert r.stderr == ""
    out = replies(r.stdout)
    assert out[0].splitlines()[-2].startswith(
        "> <frozen importlib._bootstrap>(")
    assert out[0].splitlines()[-2].endswith(")_find_and_load_unlocked()")
    assert "<frozen importlib._bootstrap>" in out[1]
    # (3.15 adds a keyword-only parameter)
    assert "def _find_and_load_unlocked(name, import_" in out[2]
    assert "->\t" in out[2] and "raise ModuleNotFoundError(" in out[2]
    assert out[3].startswith("> <frozen importlib._bootstrap>(")
    assert out[3].splitlines()[0].endswith(")_find_and_load()")
    # list shows the lines around the call (the caller's source)
    assert out[4].count("\n") >= 5 and "->\t" in out[4]
    assert "could not get source" not in out[4]


# --------------------------- standard-library containers as themselves

STDLIB = textwrap.dedent('''\
    import argparse
    import collections
    import sys

    import heapdump


    class MyChain(collections.ChainMap):
        def __getitem__(self, k):
            return 1


    def f(chain, ud, ul, ns, mine):
        raise KeyError(1)


    try:
        f(collections.ChainMap({"a": 1}, {"a": 2, "b": 3}),
          collections.UserDict(x=1), collections.UserList([1, 2]),
          argparse.Namespace(verbose=True, n=3), MyChain({"z": 0}))
    except KeyError:
        heapdump.dump(sys.argv[1])
''')


def test_stdlib_containers_come_back_with_their_behaviour(tmp_path):
    path, _, _ = make_dump(tmp_path, {"std.py": STDLIB}, main="std.py")
    r = heapdump_open(tmp_path, path, commands=(
        "p chain\np chain['a'], chain['b'], list(chain), len(chain)\n"
        "p ud, ud['x'], 'x' in ud\np ul, ul[1], len(ul)\np ns, ns.n\n"
        "p mine\np mine['z']\np type(chain)()\n"))
    assert r.stderr == ""
    out = replies(r.stdout)
    assert out[1] == "ChainMap({'a': 1}, {'a': 2, 'b': 3})\n"
    assert out[2] == "(1, 3, ['a', 'b'], 2)\n"
    assert out[3] == "({'x': 1}, 1, True)\n"
    assert out[4] == "([1, 2], 2, 2)\n"
    assert out[5] == "(Namespace(verbose=True, n=3), 3)\n"
    assert out[6] == "MyChain({'z': 0})\n"
    # a subclass's own override is refused, not answered by ChainMap
    assert out[7] == ERR + ("MyChain.__getitem__ (of __main__.MyChain) is "
                            "the class's own code: it cannot run on a "
                            "dump\n")
    assert out[8].startswith(ERR + "collections.ChainMap(): classes from a "
                             "dump cannot be called")


# ------------------------------ C heap types are not Python classes

CTYPES = textwrap.dedent('''\
    import collections
    import re
    import sys
    import threading

    import heapdump


    class MyDeque(collections.deque):
        def __iter__(self):
            raise RuntimeError("user code ran")


    def f(dq, bounded, mine, pat, lock):
        raise KeyError(1)


    try:
        f(collections.deque([1, 2, 3]), collections.deque(range(5), maxlen=3),
          MyDeque("ab"), re.compile(r"a+b"), threading.Lock())
    except KeyError:
        heapdump.dump(sys.argv[1])
''')


def test_c_heap_types_are_not_python_classes_and_deques_are_real(tmp_path):
    # on 3.12+ deque (3.10+: re.Pattern, _thread.lock) is a heap type: it
    # was written as an empty instance, as if it were a Python class; from
    # format 1.4 deques and patterns are NATIVE records, loaded as the
    # real objects, and a lock as a stand-in that knows if it was held
    path, _, _ = make_dump(tmp_path, {"ctypes_.py": CTYPES},
                           main="ctypes_.py")
    r = heapdump_open(tmp_path, path, commands=(
        "p dq\np list(dq), len(dq), dq[-1], 2 in dq\np bounded\n"
        "p bounded.maxlen\np mine\np len(mine)\np list(mine)\np pat\n"
        "p lock\n"))
    assert r.stderr == ""
    out = replies(r.stdout)
    assert out[1] == "deque([1, 2, 3])\n"
    assert out[2] == "([1, 2, 3], 3, 3, True)\n"
    assert out[3] == "deque([2, 3, 4], maxlen=3)\n"
    assert out[4] == "3\n"
    assert out[5] == "MyDeque(['a', 'b'])\n"
    assert out[6] == "2\n"
    assert out[7] == ERR + ("MyDeque.__iter__ (of __main__.MyDeque) "
                            "overrides deque.__iter__: its code cannot run "
                            "on a dump; deque.__iter__ on the stored value "
                            "gives ['a', 'b']\n")
    assert out[8] == "re.compile('a+b')\n"
    assert out[9] == "<unlocked _thread.lock object (from the dump)>\n"


def test_frozen_sources_only_for_the_traceback_frames(tmp_path):
    # every module's __loader__ reaches importlib's frozen code: its source
    # is written only when a frame of the exception's traceback runs it
    # (it would add some 16 KB and a millisecond to every dump)
    import heapdump

    path, _, _ = make_dump(tmp_path, {"cuts.py": CUTS}, main="cuts.py")
    names = heapdump.load(path).sources
    assert not [n for n in names if n.startswith("<frozen")], names
    frozen = tmp_path / "f"
    frozen.mkdir()
    path, _, _ = make_dump(frozen, {"frozen.py": FROZEN}, main="frozen.py")
    names = heapdump.load(path).sources
    assert "<frozen importlib._bootstrap>" in names
    assert "def _find_and_load_unlocked(" in \
        names["<frozen importlib._bootstrap>"]
