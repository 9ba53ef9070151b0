"""heapdump._report: the --summary report, from exact values, rendered
safely."""

import re
import sys

import pytest

import modelfactory as mf
from heapdump import _model, _report
from modelfactory import clean_caches  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("clean_caches")

FILE = "/nonexistent/heapdump-tests/prog.py"


def addresses(text):
    return re.sub(r"0x[0-9a-f]+", "0x...", text)


def test_report_of_an_exception_dump():
    dump = mf.capture(mf.PROGRAM, module_name="prog")
    text = addresses(_report.render(dump))
    ident = dump.threads[0].ident
    expected = """\
heapdump /nonexistent/test.dump
Reason:     dump() called
Exception:  ValueError: total 10 over 5
Python:     CPython 3.12.1 on Linux-test
Process:    pid 1234 on testhost
Argv:       prog.py --flag
Time:       2026-11-22T10:15:00.123456Z
Threads:    1
Contents:   OBJECTS objects

Traceback (most recent call last):
  File "FILE", line 31, in main
      process(user, items, 1, 2, flag=False, extra=3)
    Locals:
      user = <prog.User object at 0x...>
      items = [{'k': 0}, {'k': 1}, {'k': 2}, {'k': 3}, {'k': 4}]
      exc = ValueError('total 10 over 5')
      err = ValueError('total 10 over 5')
  File "FILE", line 17, in process
      return check(user, total, lookup)
    Arguments:
      user = <prog.User object at 0x...>
      items = [{'k': 0}, {'k': 1}, {'k': 2}, {'k': 3}, {'k': 4}]
      flag = False
      rest = (1, 2)
      opts = {'extra': 3}
    Locals:
      total = 10
      i = 4
      item = {'k': 4}
      lookup = {'a': 1, 'b': [1, 2, 3]}
  File "FILE", line 23, in check
      raise ValueError("total %d over %d" % (total, limit))
    Arguments:
      user = <prog.User object at 0x...>
      total = 10
      lookup = {'a': 1, 'b': [1, 2, 3]}
    Locals:
      limit = 5
ValueError: total 10 over 5

Thread IDENT (MainThread, native id 4242) [called dump(), main thread]:
  File "FILE", line 36, in <module>
      main()
  File "FILE", line 34, in main
      capture_here(exc)
    (locals as above)
""".replace("FILE", FILE).replace("IDENT", str(ident)).replace(
        "OBJECTS", str(len(dump.objects)))
    assert text == expected


def test_report_of_an_exception_chain():
    dump = mf.capture(mf.CHAINED)
    text = _report.render(dump)
    assert text.splitlines()[2:5] == [
        "Exception:  RuntimeError: top failed",
        "  while handling: ValueError: bad 'k'",
        "  caused by:      KeyError: 'k'",
    ]
    body = text.split("\n\n", 1)[1]
    assert body.index("KeyError: 'k'\n") < body.index(
        "The above exception was the direct cause of the following "
        "exception:") < body.index("ValueError: bad 'k'\n") < body.index(
        "During handling of the above exception, another exception "
        "occurred:") < body.index("RuntimeError: top failed\n")
    assert '  File "%s", line 2, in low\n      return {}[n]\n' \
        "    Arguments:\n      n = 'k'\n" % FILE in body


@pytest.mark.skipif(sys.version_info < (3, 11), reason="ExceptionGroup")
def test_report_lists_exception_group_members():
    text = _report.render(mf.capture(mf.GROUP))
    assert text.splitlines()[2:5] == [
        "Exception:  ExceptionGroup: ('both', [ValueError('one'), "
        "TypeError('two')])",
        "  member 1:      ValueError: one",
        "  member 2:      TypeError: two",
    ]


def test_report_without_exception():
    dump = mf.capture(mf.NOEXC)
    text = _report.render(dump)
    assert "Exception:  none\n" in text
    assert "Traceback" not in text
    assert text.endswith(
        '  File "%s", line 12, in main\n'
        "      work(jobs)\n"
        "    Locals:\n"
        "      jobs = ['a', 'b', 'done']\n"
        '  File "%s", line 6, in work\n'
        "      capture_here()\n"
        "    Arguments:\n"
        "      jobs = ['a', 'b', 'done']\n"
        "    Locals:\n"
        "      pending = ['a', 'b']\n" % (FILE, FILE))


def test_report_marks_truncated_files_warnings_and_cuts():
    dump = mf.capture(mf.NOEXC)
    dump.truncated = True
    dump.warnings = ["the file ends after 1234 bytes of its body"]
    dump.errors = ["could not read a frame"]
    dump.trailer = {"objects": 10, "cuts": 2, "omitted": 3, "errors": 1}
    text = _report.render(dump)
    lines = text.splitlines()
    assert lines[1] == ("WARNING: the file is truncated; what follows is "
                        "what was intact")
    assert "Contents:   10 objects, 2 values cut, 3 objects omitted, " \
        "1 read errors" in lines
    assert "Warning:    the file ends after 1234 bytes of its body" in lines
    assert "Writer error: could not read a frame" in lines


# -- values ----------------------------------------------------------------


def renderer(**options):
    dump = mf.capture(mf.NOEXC)
    return _report.Renderer(dump, **options)


def test_values_are_shortened():
    r = renderer(max_string=10, max_items=3, max_depth=2, width=200)
    assert r.value("x" * 50) == "'xxxxxxxxxx'... (50 chars)"
    assert r.value(b"y" * 50) == "b'yyyyyyyyyy'... (50 bytes)"
    assert r.value(list(range(100))) == "[0, 1, 2, ...] (100 items)"
    assert r.value({i: i for i in range(5)}) == \
        "{0: 0, 1: 1, 2: 2, ...} (5 items)"
    assert r.value([[[1]]]) == "[[[...] (1 items)]]"
    assert r.value((1,)) == "(1,)"
    assert r.value(set()) == "set()"
    assert r.value(frozenset([1])) == "frozenset({1})"
    assert r.value(2 ** 1000) == "<int of about 302 digits>"
    assert r.value(-(2 ** 1000)) == "<-int of about 302 digits>"
    assert r.value(None) == "None"
    assert r.value(1.5) == "1.5"
    long = renderer(width=40, max_items=100).value(list(range(1000)))
    assert long == "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11... (1000 items)"


def test_cut_values_say_their_original_size():
    r = renderer()
    dump = r.dump
    short = "".join(["ab", "c"])
    items = [1, 2]
    dump.objects = [short, items]
    dump.cuts = {0: 100000, 1: 5000}
    r = _report.Renderer(dump)
    assert r.value(short) == "'abc' [cut in the dump: 3 of 100000]"
    assert r.value(items) == "[1, 2] [cut in the dump: 2 of 5000]"
    assert r.value("abc") == "'abc'"     # another object, not cut


class Omitted:
    """Stands for the loader's placeholder of an object left out."""

    def __repr__(self):
        return "<omitted: mod.Big, 4096 bytes>"


class Hostile(dict):
    """A loaded object whose methods must not be called by the report."""

    def items(self):
        raise AssertionError("items() called")

    def __iter__(self):
        raise AssertionError("__iter__ called")

    def __len__(self):
        raise AssertionError("__len__ called")

    def __repr__(self):
        raise AssertionError("__repr__ called")

    def keys(self):
        raise AssertionError("keys() called")


class BadRepr:
    def __repr__(self):
        raise RuntimeError("no")


class HostileList(list):
    def __iter__(self):
        raise AssertionError("__iter__ called")

    def __len__(self):
        raise AssertionError("__len__ called")


def test_values_render_without_calling_overrides():
    r = renderer()
    assert r.value(Omitted()) == "<omitted: mod.Big, 4096 bytes>"
    h = Hostile(a=1)
    assert r.value(h) == "Hostile({'a': 1})"
    assert r.value(HostileList([1, 2])) == "HostileList([1, 2])"
    assert r.value(BadRepr()) == \
        "<BadRepr object (repr failed: RuntimeError)>"
    assert r.value(ValueError("x", 2)) == "ValueError('x', 2)"
    assert r.value(Hostile) == "<class test_report.Hostile>"
    assert r.value(len) == "<function len>"
    assert r.value(sys) == "<module 'sys'>"


def test_hostile_locals_in_a_frame():
    code = _model.Code("f", "f", FILE, 1, 1, 0, 0, 3, ["h", "x"], [1, 1])
    frame = _model.Frame(code, None, {}, {"h": Hostile(k=1), "x": BadRepr()},
                         1, 0, None)
    r = renderer()
    assert r.locals_lines(frame, "") == [
        "Arguments:", "  h = Hostile({'k': 1})",
        "Locals:", "  x = <BadRepr object (repr failed: RuntimeError)>"]


class Weird(Exception):
    def __str__(self):
        raise AssertionError("__str__ called")

    def __repr__(self):
        raise AssertionError("__repr__ called")


def test_exception_lines_use_args_not_str():
    r = renderer()
    assert r.exception_line(Weird("boom")) == "test_report.Weird: boom"
    assert r.value(Weird("boom")) == "Weird('boom')"
    assert r.exception_line(KeyError("k")) == "KeyError: 'k'"
    assert r.exception_line(ValueError()) == "ValueError"
    assert r.exception_line(OSError(2, "No such file")) == \
        "FileNotFoundError: (2, 'No such file')"


def test_loader_placeholders_and_cut_values():
    from heapdump import _surrogates as s
    r = renderer()
    assert r.value(s.Omitted("mod", "Big", 4096)) == \
        "<omitted: mod.Big object, 4096 bytes (a dump limit was reached)>"
    assert r.value(s.Redacted("builtins", "str", 60, "name")) == \
        "<redacted: str object, 60 bytes (its name looks secret)>"
    assert r.value(s.Redacted("builtins", "dict", 64, "environ")) == \
        "<redacted: dict object, 64 bytes (it holds the environment)>"
    masked = s.partly_redacted("builtins", "str", 73, [
        4, 32, "postgresql://scott:@db/shop", [[19, 5, "url"]]])
    assert r.value(masked) == \
        "'postgresql://scott:' + <redacted 5 chars: url> + '@db/shop'"
    assert r.value(s.Lost(12)) == \
        "<lost: object 12 (the file is truncated)>"
    text = s.CutStr("abc")
    text.original_length = 100000
    assert r.value(text) == "'abc' [cut in the dump: 3 of 100000]"
    items = s.CutList([1, 2])
    items.original_length = 5000
    assert r.value(items) == "[1, 2] [cut in the dump: 2 of 5000]"
    assert r.value({"k": items}) == \
        "{'k': [1, 2] [cut in the dump: 2 of 5000]}"


def test_notes_survive_the_width_limit():
    from heapdump import _surrogates as s
    r = renderer(width=60, max_items=10)
    items = s.CutList(["x" * 20] * 5)
    items.original_length = 3000
    text = r.value(items)
    assert text.endswith("... [cut in the dump: 5 of 3000]")
    assert text.startswith("['xxxxxxxxxxxxxxxxxxxx', 'xxxx")
    assert len(text) == 60 + len(" [cut in the dump: 5 of 3000]")
    long = renderer(width=40, max_items=3).value(["y" * 30] * 8)
    assert long == "['yyyyyyyyyyyyyyyyyyyyyyyyyyyyyy', 'y... (8 items)"


def test_cut_names_say_so():
    from heapdump import _surrogates as s
    key = s.CutStr("__package_")
    key.original_length = 11
    code = _model.Code("<module>", "<module>", FILE, 1, 0, 0, 0, 0, [], [])
    g = {key: None, "total": 3}
    frame = _model.Frame(code, None, g, g, 1, 0, None, is_module=True)
    assert renderer().locals_lines(frame, "") == [
        "Globals (variables):",
        "  '__package_' [cut in the dump: 10 of 11] = None",
        "  total = 3"]


def test_context_attached_by_the_program():
    dump = mf.capture(mf.NOEXC)
    dump.roots = {"context": {"request_id": "r-42", "user": {"id": 7}}}
    lines = _report.render(dump).splitlines()
    at = lines.index("Context:    request_id = 'r-42'")
    assert lines[at + 1] == "            user.id = 7"
    assert lines[at - 1] == "Exception:  none"
    dump.roots = {"context": {"k%02d" % i: i for i in range(50)}}
    lines = _report.render(dump).splitlines()
    at = lines.index("Context:    k00 = 0")
    assert lines[at + 38] == "            k38 = 38"
    assert lines[at + 39] == "            ... 11 more"
    dump.roots = {}
    assert not any(ln.startswith("Context:") for ln in
                   _report.render(dump).splitlines())


def test_exception_that_loaded_as_a_placeholder():
    from heapdump import _surrogates as s
    dump = mf.capture(mf.PROGRAM)
    dump.exception = s.Omitted("builtins", "ValueError", 64)
    text = _report.render(dump)
    assert "Exception:  <omitted: ValueError object, 64 bytes (a dump " \
        "limit was reached)>\n" in text
    assert "\nTraceback (most recent call last):\n" in text
    assert '  File "%s", line %d, in check\n' % (FILE, mf.RAISE_LINE) in text
