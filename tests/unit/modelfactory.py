"""Build loaded-dump models (heapdump._model) by hand, without a dump file.

``capture()`` runs a program's source in this process (compiled under a
file name that does not exist, as on a machine without the sources), stops
it where it calls ``capture_here()``, and turns its live frames, exception
chain and values into what the loader would hand to heapdump._frames: Code,
Frame, Traceback, Thread and Dump objects holding plain values.  Functions
and classes of the program are replaced by stand-ins built on stub code
(``heapdump._frames.real_code``), as the loader does, so nothing in the
model refers back to the live program.
"""

from __future__ import annotations

import email.message
import linecache
import os
import sys
import threading
import traceback
import types

import pytest

from heapdump import _frames, _model


def code_model(code):
    """The _model.Code of a real code object (names in frame order)."""
    names = list(code.co_varnames)
    kinds = [1] * len(names)
    for name in code.co_cellvars:
        if name in names:
            kinds[names.index(name)] |= 2
        else:
            names.append(name)
            kinds.append(2)
    for name in code.co_freevars:
        names.append(name)
        kinds.append(4)
    return _model.Code(
        code.co_name, getattr(code, "co_qualname", code.co_name),
        code.co_filename, code.co_firstlineno, code.co_argcount,
        code.co_posonlyargcount, code.co_kwonlyargcount, code.co_flags,
        names, kinds)


def _position(frame, lasti=None):
    """(end_lineno, col_offset, end_col_offset) of the instruction at
    lasti (the frame's own by default) as the dumper writes it, or None."""
    lasti = frame.f_lasti if lasti is None else lasti
    if not hasattr(frame.f_code, "co_positions") or lasti < 0:
        return None
    for i, pos in enumerate(frame.f_code.co_positions()):
        if i == lasti // 2:
            return (pos[1], pos[2], pos[3])
    return None


class Converter:
    """Copies a program's values, replacing its functions, classes and
    instances by stand-ins that know nothing of the live program."""

    def __init__(self, filename, module_name):
        self.filename = filename
        self.module_name = module_name
        self.memo = {}
        self.codes = {}
        self.globals = None

    def code(self, code):
        found = self.codes.get(id(code))
        if found is None:
            found = self.codes[id(code)] = (code_model(code), code)
        return found[0]

    def ours(self, obj):
        module = getattr(type(obj), "__module__", None) \
            if not isinstance(obj, type) else obj.__dict__.get("__module__")
        return module == self.module_name

    def value(self, obj):
        key = id(obj)
        if key in self.memo:
            return self.memo[key]
        if isinstance(obj, types.FunctionType) and \
                obj.__code__.co_filename == self.filename:
            fn = types.FunctionType(_frames.real_code(self.code(obj.__code__)),
                                    self.globals, obj.__name__)
            fn.__qualname__ = obj.__qualname__
            fn.__module__ = self.module_name
            self.memo[key] = fn
            return fn
        if isinstance(obj, type) and self.ours(obj):
            ns = {"__module__": self.module_name,
                  "__qualname__": obj.__qualname__}
            cls = type(obj.__name__, (), ns)
            self.memo[key] = cls
            for name, attr in vars(obj).items():
                if isinstance(attr, types.FunctionType):
                    setattr(cls, name, self.value(attr))
            return cls
        if self.ours(obj) and hasattr(obj, "__dict__"):
            cls = self.value(type(obj))
            inst = object.__new__(cls)
            self.memo[key] = inst
            for name, attr in vars(obj).items():
                inst.__dict__[name] = self.value(attr)
            return inst
        if type(obj) is list:
            out = self.memo[key] = []
            out.extend(self.value(v) for v in obj)
            return out
        if type(obj) is dict:
            out = self.memo[key] = {}
            for k, v in obj.items():
                out[self.value(k)] = self.value(v)
            return out
        if type(obj) is tuple:
            out = self.memo[key] = tuple(self.value(v) for v in obj)
            return out
        if isinstance(obj, BaseException):
            out = self.memo[key] = type(obj)(*obj.args)
            out.__cause__ = self.value(obj.__cause__)
            out.__context__ = self.value(obj.__context__)
            out.__suppress_context__ = obj.__suppress_context__
            if hasattr(obj, "exceptions") and hasattr(out, "exceptions"):
                out = self.memo[key] = type(obj)(
                    obj.args[0], [self.value(e) for e in obj.exceptions])
                out.__cause__ = self.value(obj.__cause__)
                out.__context__ = self.value(obj.__context__)
            return out
        return obj

    def namespace(self, ns):
        """The program's globals, converted (the one dict frames share)."""
        g = self.globals = {}
        self.memo[id(ns)] = g
        for k, v in ns.items():
            if k == "__builtins__":
                continue
            g[k] = self.value(v)
        g["__builtins__"] = "<loaded builtins module>"  # as a loader might
        return g


class Capture:
    """What capture_here() saw: the frame and exception of the program."""

    def __init__(self):
        self.frame = None
        self.exc = None
        self.states = {}


def capture(source, filename="/nonexistent/heapdump-tests/prog.py",
            module_name="prog", entry="main()", reason="dump() called",
            extra_threads=()):
    """Run source; return the Dump model of the moment capture_here() was
    called in it (it must be, with the exception being handled or None).
    """
    seen = Capture()

    def capture_here(exc=None):
        seen.frame = sys._getframe(1)
        seen.exc = exc
        # What each frame of the program holds now, as a dump would see it
        # (after the program returns, its frames have moved on).
        frames = []
        f = seen.frame
        while f is not None:
            frames.append(f)
            f = f.f_back
        todo, done = [exc], set()
        while todo:
            e = todo.pop()
            if e is None or id(e) in done:
                continue
            done.add(id(e))
            tb = e.__traceback__
            while tb is not None:
                frames.append(tb.tb_frame)
                tb = tb.tb_next
            todo += [e.__cause__, e.__context__]
            todo += list(getattr(e, "exceptions", None) or ())
        for f in frames:
            if id(f) not in seen.states:
                seen.states[id(f)] = (dict(f.f_locals), f.f_lineno,
                                      f.f_lasti, _position(f))

    ns = {"__name__": module_name, "__file__": filename,
          "capture_here": capture_here}
    source = source + "\n" + entry + "\n"
    code = compile(source, filename, "exec")
    exec(code, ns)
    assert seen.frame is not None, "the program did not call capture_here"
    conv = Converter(filename, module_name)
    g = conv.namespace(ns)
    frames = {}

    def frame_model(f):
        if f is None or f.f_code.co_filename != filename:
            return None
        found = frames.get(id(f))
        if found is not None:
            return found
        back = frame_model(f.f_back)
        is_module = f.f_code.co_name == "<module>"
        f_locals, lineno, lasti, position = seen.states[id(f)]
        if is_module:
            loc = g
        else:
            loc = {k: conv.value(v) for k, v in f_locals.items()
                   if k != "capture_here"}
        m = _model.Frame(conv.code(f.f_code), back, g, loc, lineno, lasti,
                         position, is_module=is_module)
        frames[id(f)] = m
        return m

    stack = []
    f = seen.frame
    while f is not None and f.f_code.co_filename == filename:
        stack.append(frame_model(f))
        f = f.f_back
    tracebacks = {}
    exc_model = conv.value(seen.exc) if seen.exc is not None else None

    def tb_chain(real_exc):
        entries = []
        tb = real_exc.__traceback__
        while tb is not None:
            entries.append(_model.Traceback(
                frame_model(tb.tb_frame), tb.tb_lineno, tb.tb_lasti, None,
                _position(tb.tb_frame, tb.tb_lasti)))
            tb = tb.tb_next
        for a, b in zip(entries, entries[1:]):
            a.next = b
        return entries[0] if entries else None

    def walk(real_exc, seen_ids):
        if real_exc is None or id(real_exc) in seen_ids:
            return
        seen_ids.add(id(real_exc))
        chain = tb_chain(real_exc)
        if chain is not None:
            tracebacks[id(conv.value(real_exc))] = chain
        walk(real_exc.__cause__, seen_ids)
        walk(real_exc.__context__, seen_ids)
        for member in getattr(real_exc, "exceptions", None) or ():
            if isinstance(real_exc, BaseException):
                walk(member, seen_ids)

    if seen.exc is not None:
        walk(seen.exc, set())
    live = _live_texts(source, filename, seen)
    main = _model.Thread(threading.main_thread().ident, 4242, "MainThread",
                         True, True, stack)
    threads = [main] + list(extra_threads)
    headers = email.message.Message()
    headers["Heapdump-Version"] = "1.0"
    headers["Heapdump-Reason"] = reason
    headers["Heapdump-Exception"] = (
        "%s: %s" % (type(seen.exc).__name__, seen.exc)
        if seen.exc is not None else "none")
    headers["Heapdump-Python"] = "CPython 3.12.1"
    headers["Heapdump-Pid"] = "1234"
    headers["Heapdump-Argv"] = "prog.py --flag"
    headers["Heapdump-Time"] = "2026-11-22T10:15:00.123456Z"
    headers["Heapdump-Hostname"] = "testhost"
    headers["Heapdump-Threads"] = str(len(threads))
    meta = {"reason": reason, "pid": 1234, "argv": ["prog.py", "--flag"],
            "cwd": "/nonexistent/heapdump-tests", "implementation": "cpython",
            "version": "3.12.1 (main) [GCC]", "version_info": [3, 12, 1],
            "time": "2026-11-22T10:15:00.123456Z", "hostname": "testhost",
            "platform": "Linux-test"}
    objects = list(conv.memo.values()) + list(frames.values())
    dump = _model.Dump(
        "/nonexistent/test.dump", headers, meta, threads, exc_model,
        tracebacks.get(id(exc_model)), objects, {filename: source},
        {"objects": len(objects), "cuts": 0, "omitted": 0}, False, [], {},
        [], tracebacks, {})
    dump.live = live
    return dump


def _live_texts(source, filename, seen):
    """How traceback formats the live program's exception and stack, with
    its source in linecache (then removed again, as on a machine without
    the file), for comparison with the rebuilt objects."""
    linecache.cache[filename] = (len(source), None,
                                 _frames._source_lines(source), filename)
    try:
        live = {"stack": traceback.format_stack(seen.frame)}
        if seen.exc is not None:
            live["exception"] = traceback.format_exception(
                type(seen.exc), seen.exc, seen.exc.__traceback__)
    finally:
        del linecache.cache[filename]
    # format_stack includes the frames that ran the program (the test);
    # keep the program's own.
    marker = 'File "%s"' % filename
    live["stack"] = [e for e in live["stack"] if marker in e]
    return live


def idle_thread(filename, source_line_count=1, name="worker", ident=111,
                native_id=222):
    """A thread with one module-level frame (for thread selection tests)."""
    code = _model.Code("<module>", "<module>", filename, 1, 0, 0, 0, 0,
                       (), ())
    g = {"__name__": "worker_mod"}
    frame = _model.Frame(code, None, g, g, source_line_count, 0, None,
                         is_module=True)
    return _model.Thread(ident, native_id, name, False, False, [frame])


PROGRAM = '''\
class User:
    """A user."""

    def __init__(self, name, age):
        self.name = name
        self.age = age

    def greet(self, other):
        return "hi " + other.name


def process(user, items, *rest, flag=True, **opts):
    total = 0
    for i, item in enumerate(items):
        total += item["k"]
    lookup = {"a": 1, "b": [1, 2, 3]}
    return check(user, total, lookup)


def check(user, total, lookup):
    limit = 5
    if total > limit:
        raise ValueError("total %d over %d" % (total, limit))
    return total


def main():
    user = User("alice", 30)
    items = [{"k": i} for i in range(5)]
    try:
        process(user, items, 1, 2, flag=False, extra=3)
    except ValueError as exc:
        err = exc
        capture_here(exc)
'''

# Line numbers of PROGRAM, for assertions.
LINES = {n: i + 1 for i, n in enumerate(PROGRAM.splitlines())}
RAISE_LINE = 23      # raise ValueError(...)
PROCESS_CALL = 17    # return check(...)
MAIN_CALL = 31       # process(user, ...)
MAIN_CAPTURE = 34    # capture_here(exc)
PROCESS_FIRST = 12
CHECK_FIRST = 20
USER_FIRST = 1


CHAINED = '''\
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


def main():
    try:
        top()
    except RuntimeError as exc:
        capture_here(exc)
'''

GROUP = '''\
def one():
    raise ValueError("one")


def two():
    raise TypeError("two")


def main():
    errors = []
    for f in (one, two):
        try:
            f()
        except Exception as e:
            errors.append(e)
    try:
        raise ExceptionGroup("both", errors)
    except ExceptionGroup as exc:
        capture_here(exc)
'''

NOEXC = '''\
import threading


def work(jobs):
    pending = [j for j in jobs if j != "done"]
    capture_here()
    return pending


def main():
    jobs = ["a", "b", "done"]
    work(jobs)
'''


@pytest.fixture
def clean_caches():
    """Undo what realize() and install_modules() add to linecache and
    sys.modules, so that tests do not see each other's sources.  (A fixture
    here rather than in a conftest.py: import it into the test module.)"""
    lines = dict(linecache.cache)
    modules = set(sys.modules)
    yield
    for name in set(linecache.cache) - set(lines):
        del linecache.cache[name]
    linecache.cache.update(lines)
    for name in set(sys.modules) - modules:
        if getattr(sys.modules[name], "__spec__", None) is None:
            del sys.modules[name]       # a stand-in, not a real import


# -- driving pdb in a child process ------------------------------------------

UNIT_DIR = os.path.dirname(os.path.abspath(__file__))
# The heapdump under test (the source tree, or a sanitizer build's copy).
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(
    _frames.__file__)))


def child_env(tmp_path):
    """Environment for a child that imports this heapdump and these
    helpers, with HOME and the working directory free of .pdbrc files."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([PACKAGE_ROOT, UNIT_DIR])
    env["HOME"] = str(tmp_path)
    env.setdefault("PYTHONDEVMODE", "1")
    env.setdefault("PYTHONFAULTHANDLER", "1")
    env["PYTHONIOENCODING"] = "utf-8"
    env.pop("PYTHONSTARTUP", None)
    env["TERM"] = "dumb"
    return env


DRIVER = '''\
import sys
import modelfactory as mf
from heapdump import open as hopen
dump = mf.capture({program}, module_name={module!r}, reason="test dump")
thread = None
if {thread!r} is not None:
    thread = dump.thread({thread!r})
sys.exit(hopen.debug(dump, thread=thread))
'''


def driver_script(tmp_path, program="mf.PROGRAM", module="__main__",
                  thread=None):
    """A script that captures program (an expression naming its source)
    and opens it in pdb through heapdump.open.debug()."""
    path = tmp_path / "driver.py"
    path.write_text(DRIVER.format(program=program, module=module,
                                  thread=thread))
    return path


def bare_dump(objects=(), sources=None, threads=(), exception=None):
    """A Dump with only what is given (for tests of single features)."""
    headers = email.message.Message()
    headers["Heapdump-Reason"] = "test"
    return _model.Dump("/nonexistent/bare.dump", headers, {}, list(threads),
                       exception, None, list(objects), dict(sources or {}),
                       None, False, [], {}, [], {}, {})


class Terminal:
    """A child process on a pseudo-terminal: pdb reads it as a user's
    terminal (readline, Ctrl-D), not as a pipe."""

    def __init__(self, argv, cwd, env):
        import pty
        import subprocess

        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave,
                                     stderr=slave, cwd=str(cwd), env=env,
                                     close_fds=True)
        os.close(slave)
        self.seen = b""

    def read_until(self, marker, timeout=60):
        """The output up to and including marker (bytes), as text."""
        import select
        import time

        deadline = time.monotonic() + timeout
        while marker not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, "timed out waiting for %r in %r" % (marker,
                                                                 self.seen)
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    chunk = b""
                assert chunk, "the child ended: %r" % self.seen
                self.seen += chunk
        at = self.seen.index(marker) + len(marker)
        before, self.seen = self.seen[:at], self.seen[at:]
        return before.decode("utf-8", "replace").replace("\r\n", "\n")

    def send(self, data):
        os.write(self.master, data)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)
