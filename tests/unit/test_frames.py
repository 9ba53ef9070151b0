"""heapdump._frames and _heapdump._frame_new: real frames from dumped ones."""

import builtins
import dis
import inspect
import io
import linecache
import pdb
import sys
import traceback
import types

import pytest

import modelfactory as mf
from heapdump import _frames, _heapdump, _model
from modelfactory import clean_caches  # noqa: F401 (a fixture)

CO_OPTIMIZED = inspect.CO_OPTIMIZED
CO_NEWLOCALS = inspect.CO_NEWLOCALS
CO_VARARGS = inspect.CO_VARARGS
CO_VARKEYWORDS = inspect.CO_VARKEYWORDS

FILE = "/nonexistent/heapdump-tests/prog.py"

pytestmark = pytest.mark.usefixtures("clean_caches")


def lines_of(code):
    """The set of lines a code object has instructions on."""
    if hasattr(code, "co_lines"):
        return {ln for s, e, ln in code.co_lines() if s < e and ln}
    return {ln for _, ln in dis.findlinestarts(code)}


def process_code(filename=FILE):
    return _model.Code(
        "process", "process", filename, mf.PROCESS_FIRST, 2, 0, 1,
        CO_OPTIMIZED | CO_NEWLOCALS | CO_VARARGS | CO_VARKEYWORDS,
        ["user", "items", "flag", "rest", "opts", "total", "i", "item",
         "lookup"], [1] * 9)


def install_program():
    _frames.install_sources({FILE: mf.PROGRAM})


# -- real_code -------------------------------------------------------------


def test_real_code_carries_the_dumped_identity():
    real = _frames.real_code(process_code())
    assert isinstance(real, types.CodeType)
    assert real.co_name == "process"
    assert real.co_filename == FILE
    assert real.co_firstlineno == 12
    assert real.co_varnames == ("user", "items", "flag", "rest", "opts",
                                "total", "i", "item", "lookup")
    assert (real.co_argcount, real.co_kwonlyargcount) == (2, 1)
    assert real.co_flags & (CO_OPTIMIZED | CO_NEWLOCALS) == 0
    assert real.co_flags & CO_VARARGS and real.co_flags & CO_VARKEYWORDS
    if sys.version_info >= (3, 11):
        assert real.co_qualname == "process"
    fn = types.FunctionType(real, {})
    assert str(inspect.signature(fn)) == "(user, items, *rest, flag, **opts)"


def test_real_code_is_cached_on_the_model():
    code = process_code()
    real = _frames.real_code(code)
    assert code._real is real
    assert _frames.real_code(code) is real
    assert _frames.real_code(code, 12) is real


def test_real_code_covers_the_whole_definition_when_source_is_known():
    install_program()
    real = _frames.real_code(process_code())
    assert set(range(12, 18)) <= lines_of(real)
    assert max(lines_of(real)) == 17


def test_real_code_without_source_grows_for_the_lines_asked():
    code = process_code("/nonexistent/heapdump-tests/nosource.py")
    real = _frames.real_code(code)
    assert 12 in lines_of(real)
    assert 40 not in lines_of(real)
    wider = _frames.real_code(code, 40)
    assert {12, 40} <= lines_of(wider)
    assert code._real is wider
    assert _frames.real_code(code, 40) is wider
    assert lines_of(_frames.real_code(code, 13)) == {12, 13, 40}


def test_real_code_accepts_names_that_are_not_identifiers():
    code = _model.Code("<listcomp>", "f.<locals>.<listcomp>", FILE, 5, 1, 0,
                       0, CO_OPTIMIZED | CO_NEWLOCALS, [".0", "x", "x"],
                       [1, 1, 1])
    real = _frames.real_code(code, 5)
    assert real.co_varnames == (".0", "x")
    assert real.co_argcount == 1
    it = iter([1, 2])
    frame = _heapdump._frame_new(real, {}, {".0": it, "x": 3}, None,
                                 _frames.line_offset(real, 5))
    assert frame.f_locals == {".0": it, "x": 3}
    assert frame.f_lineno == 5


def test_real_code_of_a_lambda():
    code = _model.Code("<lambda>", "main.<locals>.<lambda>", FILE, 7, 1, 0,
                       0, CO_OPTIMIZED | CO_NEWLOCALS, ["v"], [1])
    _frames.install_sources({FILE: "\n" * 6 + "key = lambda v: v.k\n"})
    real = _frames.real_code(code)
    assert real.co_name == "<lambda>"
    fn = types.FunctionType(real, {})
    assert inspect.getsource(fn) == "key = lambda v: v.k\n"


def test_real_code_with_argument_counts_that_do_not_fit_shows_none():
    code = _model.Code("f", "f", FILE, 1, 5, 1, 2,
                       CO_OPTIMIZED | CO_VARARGS, ["a", "b"], [1, 1])
    real = _frames.real_code(code)
    assert real.co_varnames == ("a", "b")
    assert (real.co_argcount, real.co_posonlyargcount,
            real.co_kwonlyargcount) == (0, 0, 0)
    assert real.co_flags & CO_VARARGS == 0


def test_function_on_stub_code_has_its_source():
    install_program()
    fn = types.FunctionType(_frames.real_code(process_code()), {})
    assert inspect.getsource(fn) == "".join(
        mf.PROGRAM.splitlines(keepends=True)[11:17])


# -- _frame_new ------------------------------------------------------------


def test_frame_new_stands_at_every_line():
    code = _model.Code("f", "f", FILE, 10, 0, 0, 0, 0, [], [])
    for line in list(range(10, 31)) + [10 ** 6]:
        real = _frames.real_code(code, line)
        offset = _frames.line_offset(real, line)
        frame = _heapdump._frame_new(real, {}, {}, None, offset)
        assert frame.f_lineno == line
        assert frame.f_lasti == offset
        assert frame.f_back is None   # not the frame that called us
        assert frame.f_code is real


def test_frame_new_links_back():
    real = _frames.real_code(process_code(), 17)
    outer = _heapdump._frame_new(real, {}, {}, None,
                                 _frames.line_offset(real, 12))
    inner = _heapdump._frame_new(real, {}, {}, outer,
                                 _frames.line_offset(real, 17))
    assert inner.f_back is outer
    assert outer.f_back is None
    assert [e.lineno for e in traceback.extract_stack(inner)] == [12, 17]


def test_frame_locals_are_the_given_dict_and_survive_every_access():
    real = _frames.real_code(process_code(), 15)
    values = {"user": "u", "items": [1, 2], "total": 3, "i": 1}
    g = {"__builtins__": builtins}
    frame = _heapdump._frame_new(real, g, values, None,
                                 _frames.line_offset(real, 15))
    for _ in range(3):
        assert frame.f_locals == {"user": "u", "items": [1, 2], "total": 3,
                                  "i": 1}
    assert frame.f_locals is values
    assert frame.f_globals is g
    assert eval("len(items) + total", frame.f_globals, frame.f_locals) == 5


def test_frame_of_a_module_body_uses_its_namespace():
    code = _model.Code("<module>", "<module>", FILE, 1, 0, 0, 0, 0, [], [])
    real = _frames.real_code(code, 36)
    g = {"__name__": "prog", "x": 1}
    frame = _heapdump._frame_new(real, g, g, None,
                                 _frames.line_offset(real, 36))
    assert frame.f_locals is g
    assert frame.f_lineno == 36


@pytest.mark.parametrize("args, error", [
    ((compile("x = 1", "f", "exec"), [], {}, None, 0), TypeError),
    ((compile("x = 1", "f", "exec"), {}, 5, None, 0), TypeError),
    ((compile("x = 1", "f", "exec"), {}, {}, "frame", 0), TypeError),
    ((compile("x = 1", "f", "exec"), {}, {}, None, 1), ValueError),
    ((compile("x = 1", "f", "exec"), {}, {}, None, 10 ** 6), ValueError),
    ((compile("x = 1", "f", "exec"), {}, {}, None, -2), ValueError),
    ((compile("def f(): pass", "f", "exec").co_consts[0], {}, {}, None, 0),
     ValueError),
])
def test_frame_new_rejects_bad_arguments(args, error):
    with pytest.raises(error):
        _heapdump._frame_new(*args)


# -- realize ---------------------------------------------------------------


def test_realize_rebuilds_every_frame_of_the_stack():
    dump = mf.capture(mf.PROGRAM)
    assert _frames.realize(dump) == []
    frames = dump.threads[0].frames
    assert [(f.frame.f_code.co_name, f.frame.f_lineno) for f in frames] == [
        ("main", mf.MAIN_CAPTURE), ("<module>", 36)]
    main = frames[0].frame
    assert main.f_back is frames[1].frame
    assert frames[1].frame.f_back is None
    assert set(main.f_locals) == {"user", "items", "exc", "err"}
    assert main.f_locals["user"].name == "alice"
    assert main.f_globals is frames[0].globals
    assert main.f_globals["__builtins__"] is builtins


def test_realize_sets_real_tracebacks_on_the_exception():
    dump = mf.capture(mf.PROGRAM)
    _frames.realize(dump)
    exc = dump.exception
    entries = []
    tb = exc.__traceback__
    while tb is not None:
        entries.append((tb.tb_frame.f_code.co_name, tb.tb_lineno,
                        tb.tb_frame.f_lineno))
        assert tb.tb_frame.f_code.co_lines if sys.version_info >= (3, 10) \
            else True
        tb = tb.tb_next
    assert entries == [("main", mf.MAIN_CALL, mf.MAIN_CAPTURE),
                       ("process", mf.PROCESS_CALL, mf.PROCESS_CALL),
                       ("check", mf.RAISE_LINE, mf.RAISE_LINE)]
    check = exc.__traceback__.tb_next.tb_next.tb_frame
    assert check.f_locals["total"] == 10
    assert check.f_locals["limit"] == 5
    assert check.f_back.f_code.co_name == "process"
    assert check.f_back.f_back.f_code.co_name == "main"


def test_realized_traceback_prints_as_the_live_one():
    dump = mf.capture(mf.PROGRAM)
    _frames.realize(dump)
    exc = dump.exception
    text = traceback.format_exception(type(exc), exc, exc.__traceback__)
    # Same text, carets included (3.11+): the columns come from the dump,
    # for the entries whose line is their frame's current line (see below).
    assert_same_traceback(text, dump.live["exception"])
    assert "    raise ValueError(\"total %d over %d\" % (total, limit))\n" \
        in "".join(text)
    stack = traceback.format_stack(dump.threads[0].frames[0].frame)
    assert stack == dump.live["stack"]


def is_caret_line(line):
    return bool(line.strip()) and not line.strip(" |~^\n")


def assert_same_traceback(ours, live):
    """ours prints as live; on 3.13 less the carets of outer entries, which
    the dump cannot give (see test_outer_traceback_entries_have_carets)."""
    ours = "".join(ours).splitlines()
    live = "".join(live).splitlines()
    if sys.version_info >= (3, 13):
        assert [ln for ln in ours if is_caret_line(ln)] == [
            ln for ln in live if is_caret_line(ln) and ln in ours]
        ours = [ln for ln in ours if not is_caret_line(ln)]
        live = [ln for ln in live if not is_caret_line(ln)]
    assert ours == live


def test_outer_traceback_entries_have_carets():
    # an outer entry whose frame has moved on (main is in its except
    # block) gets the columns its TRACEBACK record carries: on 3.13 the
    # carets under the call, as live
    dump = mf.capture(mf.PROGRAM)
    _frames.realize(dump)
    exc = dump.exception
    text = traceback.format_exception(type(exc), exc, exc.__traceback__)
    assert text == dump.live["exception"]




def test_realize_covers_the_whole_exception_chain():
    dump = mf.capture(mf.CHAINED)
    _frames.realize(dump)
    exc = dump.exception
    assert isinstance(exc, RuntimeError)
    context = exc.__context__
    cause = context.__cause__
    assert isinstance(context, ValueError) and isinstance(cause, KeyError)
    for e, innermost in ((exc, "top"), (context, "mid"), (cause, "low")):
        tb = e.__traceback__
        assert tb is not None
        while tb.tb_next is not None:
            tb = tb.tb_next
        assert tb.tb_frame.f_code.co_name == innermost
    text = traceback.format_exception(type(exc), exc, exc.__traceback__)
    assert_same_traceback(text, dump.live["exception"])




@pytest.mark.skipif(sys.version_info < (3, 11), reason="ExceptionGroup")
def test_realize_covers_exception_group_members():
    dump = mf.capture(mf.GROUP)
    _frames.realize(dump)
    exc = dump.exception
    assert [type(e) for e in exc.exceptions] == [ValueError, TypeError]
    for member, name in zip(exc.exceptions, ("one", "two")):
        assert member.__traceback__.tb_next.tb_frame.f_code.co_name == name
    text = traceback.format_exception(type(exc), exc, exc.__traceback__)
    assert_same_traceback(text, dump.live["exception"])


DEEP = '''\
def down(n):
    if n == 0:
        raise RecursionError("bottom")
    return down(n - 1)


def main():
    try:
        down(DEPTH)
    except RecursionError as exc:
        capture_here(exc)
'''


def test_realize_deep_stacks_without_recursing():
    depth = sys.getrecursionlimit() + 500
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + 200)
    try:
        dump = mf.capture(DEEP.replace("DEPTH", str(depth)))
    finally:
        sys.setrecursionlimit(old)
    assert _frames.realize(dump) == []     # at the normal limit
    tb = dump.exception.__traceback__
    n = 0
    while tb.tb_next is not None:
        tb = tb.tb_next
        n += 1
    assert n == depth + 1
    assert tb.tb_frame.f_lineno == 3
    assert tb.tb_frame.f_locals == {"n": 0}


def test_realize_installs_sources_that_checkcache_keeps():
    dump = mf.capture(mf.PROGRAM)
    _frames.realize(dump)
    linecache.checkcache()
    assert linecache.getline(FILE, mf.RAISE_LINE).strip() == \
        'raise ValueError("total %d over %d" % (total, limit))'


def test_install_sources_also_under_absolute_names():
    names = _frames.install_sources({"app/prog.py": "x = 1\n"},
                                    cwd="/srv/dumped")
    assert "app/prog.py" in names
    assert "/srv/dumped/app/prog.py" in names
    assert linecache.getline("/srv/dumped/app/prog.py", 1) == "x = 1\n"
    linecache.checkcache()
    assert linecache.getline("app/prog.py", 1) == "x = 1\n"


def test_dumped_functions_and_classes_have_their_source():
    dump = mf.capture(mf.PROGRAM)
    _frames.realize(dump)
    added, modules = _frames.install_modules(dump)
    assert added == ["prog"] and modules == {"prog": FILE}
    assert sys.modules["prog"].__file__ == FILE
    g = dump.threads[0].frames[0].globals
    lines = mf.PROGRAM.splitlines(keepends=True)
    assert inspect.getsource(g["check"]) == "".join(lines[19:24])
    assert inspect.getsource(g["User"]) == "".join(lines[0:9])
    assert vars(g["User"])["__firstlineno__"] == 1
    assert inspect.getsource(g["User"].greet) == "".join(lines[7:9])


def test_install_modules_leaves_existing_modules_alone():
    dump = mf.capture(mf.PROGRAM, module_name="os")
    _frames.realize(dump)
    added, modules = _frames.install_modules(dump)
    assert added == [] and modules == {"os": FILE}
    assert sys.modules["os"].__file__ != FILE


def run_pdb(dump, commands):
    """pdb post-mortem over the realized dump in this process."""
    out = io.StringIO()
    p = pdb.Pdb(stdin=io.StringIO(commands), stdout=out, readrc=False)
    p.use_rawinput = False
    p.reset()
    target = dump.exception if sys.version_info >= (3, 13) \
        else dump.exception.__traceback__
    p.interaction(None, target)
    return out.getvalue()


def test_pdb_accepts_the_rebuilt_frames():
    dump = mf.capture(mf.PROGRAM)
    _frames.realize(dump)
    _frames.install_modules(dump)
    out = run_pdb(dump, "p total, limit\nup\nargs\np len(items)\n"
                        "p items[3]['k']\np user.name\nlonglist\n"
                        "source User\n")
    assert "(10, 5)\n" in out
    assert "user = <prog.User object at" in out
    assert "items = [{'k': 0}, {'k': 1}, {'k': 2}, {'k': 3}, {'k': 4}]\n" \
        "flag = False\nrest = (1, 2)\nopts = {'extra': 3}\n" in out
    assert "\n5\n" in out.replace("(Pdb) ", "\n")
    assert "\n3\n" in out.replace("(Pdb) ", "\n")
    assert "'alice'" in out
    assert " 17  ->\t    return check(user, total, lookup)\n" in out
    assert "  1  \tclass User:\n" in out


SHAPES = '''\
import math


@dataclass_like
class Box:
    """A box."""

    def volume(self):
        return self.size ** 3
'''


def test_modules_found_through_their_classes_functions():
    shapes = "/nonexistent/heapdump-tests/shapes.py"
    code = _model.Code("volume", "Box.volume", shapes, 8, 1, 0, 0,
                       CO_OPTIMIZED | CO_NEWLOCALS, ["self"], [1])
    fn = types.FunctionType(_frames.real_code(code), {}, "volume")
    box = type("Box", (), {"__module__": "shapes_standin_test",
                           "__qualname__": "Box", "volume": fn})
    dump = mf.bare_dump(objects=[box, fn], sources={shapes: SHAPES})
    _frames.realize(dump)
    added, modules = _frames.install_modules(dump)
    assert added == ["shapes_standin_test"]
    assert modules == {"shapes_standin_test": shapes}
    assert vars(box)["__firstlineno__"] == 4     # the decorator's line
    assert inspect.getsource(box) == "".join(
        SHAPES.splitlines(keepends=True)[3:])
    assert inspect.getsource(fn) == "".join(
        SHAPES.splitlines(keepends=True)[7:])


def test_realize_without_sources_keeps_every_dumped_line():
    dump = mf.capture(mf.PROGRAM)
    dump.sources = {}
    assert _frames.realize(dump) == []
    tb = dump.exception.__traceback__
    seen = []
    while tb is not None:
        code = tb.tb_frame.f_code
        seen.append((code.co_name, tb.tb_lineno, tb.tb_frame.f_lineno,
                     line_at(code, tb.tb_lasti)))
        tb = tb.tb_next
    # main's frame stands at the capture, its traceback entry at the call
    assert seen == [
        ("main", mf.MAIN_CALL, mf.MAIN_CAPTURE, mf.MAIN_CALL),
        ("process", mf.PROCESS_CALL, mf.PROCESS_CALL, mf.PROCESS_CALL),
        ("check", mf.RAISE_LINE, mf.RAISE_LINE, mf.RAISE_LINE)]
    assert traceback.format_tb(dump.exception.__traceback__)[0] == \
        '  File "%s", line %d, in main\n' % (FILE, mf.MAIN_CALL)


def line_at(code, offset):
    """The line of the instruction at byte offset in code."""
    if hasattr(code, "co_lines"):
        for start, end, line in code.co_lines():
            if start <= offset < end:
                return line
        return None
    line = None
    for start, ln in dis.findlinestarts(code):
        if start > offset:
            break
        line = ln
    return line


class Namespace(dict):
    """A class body's namespace from a __prepare__ (a dict subclass)."""


def test_class_body_frame_keeps_its_namespace():
    code = _model.Code("Config", "Config", FILE, 12, 0, 0, 0, 0,
                       ["__class__"], [2])
    real = _frames.real_code(code, 14)
    assert real.co_varnames == ()
    ns = Namespace(__module__="prog", __qualname__="Config", LIMIT=3,
                   __class__="kept")
    frame = _heapdump._frame_new(real, {"__name__": "prog"}, ns, None,
                                 _frames.line_offset(real, 14))
    for _ in range(3):
        assert frame.f_locals is ns
    assert dict(ns) == {"__module__": "prog", "__qualname__": "Config",
                        "LIMIT": 3, "__class__": "kept"}
    assert frame.f_lineno == 14


def test_stub_lines_are_sparse_and_bounded():
    code = _model.Code("<module>", "<module>", FILE, 1, 0, 0, 0, 0, [], [])
    real = _frames.real_code(code, 5)
    assert lines_of(real) == {1, 5}
    real = _frames.real_code(code, 2_000_000)
    assert lines_of(real) == {1, 5, 2_000_000}
    assert len(real.co_code) < 100
    # absurd lines (a damaged or hostile file) are not covered, and make
    # no huge stub; a frame there stands at the first line
    assert _frames.real_code(code, 2 ** 40) is real
    assert _frames.real_code(code, -3) is real
    bad = _model.Frame(code, None, {}, {}, 2 ** 40, 0, None, is_module=True)
    dump = mf.bare_dump(objects=[bad])
    assert _frames.realize(dump) == []
    assert bad.frame.f_lineno == 1
    huge = _model.Code("f", "f", FILE, 2 ** 40, 0, 0, 0, 3, [], [])
    assert _frames.real_code(huge).co_firstlineno == 1


@pytest.mark.parametrize("position", [
    (23, 8, 61), None, (22, 0, 1), (23, -5, 3), (23, 0, 2 ** 70),
    ("23", 0, 1), (10 ** 9, 0, 1), (23, None, None)])
def test_positions_from_the_dump_are_checked(position):
    code = _model.Code("check", "check", FILE, 20, 0, 0, 0, 3, [], [])
    f = _model.Frame(code, None, {}, {}, 23, 0, position)
    dump = mf.bare_dump(objects=[f])
    assert _frames.realize(dump) == []
    assert f.frame.f_lineno == 23
    if sys.version_info >= (3, 11):
        pos = list(f.frame.f_code.co_positions())[f.frame.f_lasti // 2]
        if position == (23, 8, 61):
            assert pos == (23, 23, 8, 61)
        elif position == (23, None, None):
            assert pos == (23, 23, None, None)
        else:
            assert pos[2:] == (None, None)


def test_damaged_code_records_give_a_plain_stub():
    code = _model.Code(None, 5, None, "x", "2", -1, 2 ** 80, None,
                       ["a", 3, None], [1, 1, 1])
    real = _frames.real_code(code, 7)
    assert (real.co_name, real.co_filename, real.co_firstlineno) == \
        ("?", "?", 1)
    assert real.co_varnames == ()        # flags unreadable: not optimized
    assert real.co_argcount == real.co_kwonlyargcount == 0
    code = _model.Code("f", "f", FILE, 3, "2", -1, 2 ** 80, 3,
                       ["a", 3, None, "b"], [1, 1, 1, 1])
    real = _frames.real_code(code)
    assert real.co_varnames == ("a", "b")
    assert (real.co_argcount, real.co_posonlyargcount,
            real.co_kwonlyargcount) == (0, 0, 0)


def test_globals_of_a_cut_dict_are_kept():
    from heapdump import _surrogates as s
    g = s.CutDict({"__name__": "prog", "LIMIT": 3})
    g.original_length = 20000
    code = _model.Code("f", "f", FILE, 1, 0, 0, 0, 3, ["x"], [1])
    f = _model.Frame(code, None, g, {"x": 2}, 1, 0, None)
    assert _frames.realize(mf.bare_dump(objects=[f])) == []
    assert f.frame.f_globals is g
    assert g["__builtins__"] is builtins
    assert eval("len([LIMIT, x])", f.frame.f_globals, f.frame.f_locals) == 2
