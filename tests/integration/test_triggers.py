"""Dumps on unhandled exceptions (heapdump._triggers), in real child
processes: the main thread, other threads, asyncio; the hooks that were
there before still run, and the process behaves exactly as without
heapdump (exit status, the printed traceback, its output).

Each program of tests/programs/trig_*.py runs twice, with and without
heapdump (trig_common.enable() is the only difference), and the runs are
compared.  The other test_triggers_*.py files import their helpers from
here.
"""

import json
import os
import re
import signal
import stat
import subprocess
import sys
import warnings

import pytest

import heapdump
from conftest import PROGRAMS, child_env
from heapdump import _files

NAME = re.compile(r"^heapdump-\d{8}T\d{6}Z-(\d+)-([A-Za-z0-9_]+)"
                  r"(?:-\d+)?\.dump$")


# ----------------------------------------------------------------- helpers


def trig_env(directory, heapdump=True, options=None, hdtest_dir=None,
             **extra):
    """The environment of a trig_*.py program (see trig_common.py)."""
    env = child_env(TRIG_HEAPDUMP="1" if heapdump else "0",
                    TRIG_DIR=str(directory),
                    TRIG_OPTIONS=json.dumps(options or {}), **extra)
    if hdtest_dir is not None:
        env["PYTHONPATH"] += os.pathsep + str(hdtest_dir)
    return env


def run_prog(name, *args, directory, heapdump=True, options=None, env=None,
             hdtest_dir=None, timeout=120, **kwargs):
    """Run tests/programs/<name> with args; a CompletedProcess (text)."""
    e = trig_env(directory, heapdump, options, hdtest_dir, **(env or {}))
    return subprocess.run(
        [sys.executable, str(PROGRAMS / name)] + [str(a) for a in args],
        env=e, capture_output=True, text=True, timeout=timeout, **kwargs)


def with_and_without(tmp_path, name, *args, **kwargs):
    """(run without heapdump, run with it, its dump directory)."""
    plain_dir = tmp_path / "plain"
    directory = tmp_path / "dumps"
    plain = run_prog(name, *args, directory=plain_dir, heapdump=False,
                     **kwargs)
    dumped = run_prog(name, *args, directory=directory, **kwargs)
    assert not plain_dir.exists()
    return plain, dumped, directory


def same_behaviour(plain, dumped):
    """The run with heapdump did what the run without did."""
    assert dumped.returncode == plain.returncode, dumped.stderr
    assert dumped.stdout == plain.stdout
    assert dumped.stderr == plain.stderr


def dump_files(directory):
    """The dumps in directory (final names), oldest first."""
    if not directory.exists():
        return []
    found = sorted(p for p in directory.iterdir() if NAME.match(p.name))
    # every name, whoever asked for it (the triggers through
    # _heapdump.dump_name, signals.c's signal and fatal dumps in C), comes
    # from the one builder (src/writer/names.c; tests/unit/test_names.py)
    # and is one that the retention's parser takes
    for p in found:
        assert _files._DUMP_NAME.match(p.name), p.name
    return found


def others(directory):
    """Whatever else is in directory (temporary files...)."""
    if not directory.exists():
        return []
    return sorted(p.name for p in directory.iterdir()
                  if not NAME.match(p.name))


def load(path):
    """heapdump.load(path), which must not warn (a complete file)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return heapdump.load(path)


def innermost(dump):
    """The innermost frame of the dumped exception's traceback."""
    return dump.traceback.entries()[-1].frame


def frame_names(frames):
    return [f.code.name for f in frames]


def no_heapdump_frames(dump):
    """heapdump's own frames (the hook, the dump call) are left out of
    every thread's stack: the dump shows the program."""
    for thread in dump.threads:
        for frame in thread.frames:
            assert not frame.code.filename.endswith(
                ("heapdump/_triggers.py", "heapdump/_files.py",
                 "heapdump/__init__.py", "heapdump/_writer.py")), \
                (thread, frame)


def only_dump(directory, tag):
    files = dump_files(directory)
    assert len(files) == 1, (files, others(directory))
    m = NAME.match(files[0].name)
    assert m.group(2) == tag
    assert others(directory) == []
    return files[0]


def bodies(path):
    """The decompressed body of a dump file, to search for bytes."""
    import io

    import zstandard

    from records import split

    _, body = split(path)
    return zstandard.ZstdDecompressor().stream_reader(
        io.BytesIO(body), read_across_frames=True).read()


# -------------------------------------------------------- the main thread


def test_main_thread_exception_dumps_then_prints_as_before(tmp_path):
    plain, dumped, directory = with_and_without(tmp_path, "trig_main.py",
                                                "main")
    assert plain.returncode == 1
    assert plain.stderr.startswith("Traceback (most recent call last):")
    assert plain.stderr.rstrip().endswith(
        "TypeError: unsupported operand type(s) for *: 'int' and "
        "'NoneType'")
    same_behaviour(plain, dumped)

    path = only_dump(directory, "TypeError")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    d = load(path)
    assert d.headers["Heapdump-Reason"] == \
        "unhandled exception (sys.excepthook)"
    assert d.headers["Heapdump-Exception"].startswith(
        "TypeError: unsupported operand")
    assert type(d.exception).__name__ == "TypeError"
    assert frame_names(e.frame for e in d.traceback.entries()) == \
        ["<module>", "main", "total"]
    frame = innermost(d)
    assert frame.locals["subtotal"] == 6
    assert frame.locals["line"] == {"price": 5, "quantity": None}
    order = frame.locals["order"]
    assert order.number == 17
    assert order.lines[0] == {"price": 3, "quantity": 2}
    assert d.meta["pid"] == int(NAME.match(path.name).group(1))
    # sys.excepthook runs once the main thread's stack is gone
    assert [t.frames for t in d.threads if t.is_main] == [[]]
    no_heapdump_frames(d)


def test_secrets_and_the_environment_stay_out_of_a_trigger_dump(tmp_path):
    secret = "hunter2-b9d1c4e7"
    env_secret = "env-only-5f0a3c19"
    plain, dumped, directory = with_and_without(
        tmp_path, "trig_main.py", "main",
        env={"TRIG_PASSWORD": secret, "TRIG_OTHER": env_secret})
    same_behaviour(plain, dumped)
    path = only_dump(directory, "TypeError")
    body = bodies(path)
    assert b"TRIG_OTHER" not in body
    assert secret.encode() not in body and env_secret.encode() not in body
    assert secret.encode() not in path.read_bytes()
    d = load(path)
    main = d.traceback.entries()[1].frame
    assert "redacted" in repr(main.locals["password"])


def test_keyboard_interrupt_is_not_a_failure(tmp_path):
    plain, dumped, directory = with_and_without(tmp_path, "trig_main.py",
                                                "keyboard")
    # Python kills itself with SIGINT on an uncaught KeyboardInterrupt
    assert plain.returncode == -signal.SIGINT
    assert "KeyboardInterrupt" in plain.stderr
    same_behaviour(plain, dumped)
    assert dump_files(directory) == []


def test_sys_exit_is_not_a_failure(tmp_path):
    plain, dumped, directory = with_and_without(tmp_path, "trig_main.py",
                                                "exit")
    assert plain.returncode == 3
    same_behaviour(plain, dumped)
    assert dump_files(directory) == []


# --------------------------------------------------------------- threads


def test_thread_exception_dumps_and_the_program_goes_on(tmp_path):
    plain, dumped, directory = with_and_without(tmp_path, "trig_main.py",
                                                "thread")
    assert plain.returncode == 0
    assert plain.stdout == "main continues\n"
    assert plain.stderr.startswith("Exception in thread worker:")
    same_behaviour(plain, dumped)
    d = load(only_dump(directory, "TypeError"))
    assert d.headers["Heapdump-Reason"] == \
        "unhandled exception in thread 'worker' (threading.excepthook)"
    assert innermost(d).code.name == "total"
    assert innermost(d).locals["subtotal"] == 6
    # the dump was written by the failing thread, with the main thread
    # waiting in join()
    assert d.current_thread.name == "worker"
    main = [t for t in d.threads if t.is_main]
    assert len(main) == 1
    assert "main" in frame_names(main[0].frames)
    # the worker's stack ends in threading's, where the hook was called
    assert frame_names(d.current_thread.frames)[:2] == \
        ["invoke_excepthook", "_bootstrap_inner"]
    no_heapdump_frames(d)


def test_system_exit_in_a_thread_is_not_a_failure(tmp_path):
    plain, dumped, directory = with_and_without(tmp_path, "trig_main.py",
                                                "thread-exit")
    assert plain.returncode == 0 and plain.stderr == ""
    same_behaviour(plain, dumped)
    assert dump_files(directory) == []


# ------------------------------------------------------------ the hooks


@pytest.mark.parametrize("order", ["heapdump-first", "framework-first"])
def test_a_framework_hook_still_runs(tmp_path, order):
    plain, dumped, directory = with_and_without(tmp_path, "trig_hooks.py",
                                                order)
    assert plain.returncode == 1
    assert plain.stdout == ("framework thread hook: LookupError\n"
                            "framework sys hook: ArithmeticError\n")
    assert "LookupError: thread failure 1" in plain.stderr
    assert "ArithmeticError: main failure 2" in plain.stderr
    same_behaviour(plain, dumped)
    files = dump_files(directory)
    assert sorted(NAME.match(p.name).group(2) for p in files) == \
        ["ArithmeticError", "LookupError"]
    kinds = sorted(type(load(p).exception).__name__ for p in files)
    assert kinds == ["ArithmeticError", "LookupError"]


def test_enabling_twice_is_harmless(tmp_path):
    plain, dumped, directory = with_and_without(
        tmp_path, "trig_hooks.py", "heapdump-first",
        env={"TRIG_TWICE": "1"})
    same_behaviour(plain, dumped)
    assert len(dump_files(directory)) == 2


# --------------------------------------------------------------- asyncio


@pytest.mark.parametrize("when", ["early", "late"])
def test_asyncio_task_exception_nobody_retrieved(tmp_path, when):
    plain, dumped, directory = with_and_without(tmp_path, "trig_asyncio.py",
                                                "task", when)
    assert plain.returncode == 0 and plain.stdout == "done\n"
    assert "Task exception was never retrieved" in plain.stderr
    assert "LookupError: no user 42" in plain.stderr
    same_behaviour(plain, dumped)
    d = load(only_dump(directory, "LookupError"))
    assert d.headers["Heapdump-Reason"] == \
        "asyncio: Task exception was never retrieved"
    assert d.exception.args == ("no user 42",)
    frame = innermost(d)
    assert frame.code.name == "fetch"
    assert frame.locals == {"user_id": 42, "cache": {"user": 42}}
    no_heapdump_frames(d)


def test_asyncio_callback_exception(tmp_path):
    plain, dumped, directory = with_and_without(tmp_path, "trig_asyncio.py",
                                                "callback", "late")
    assert plain.returncode == 0
    assert "Exception in callback callback_fails(" in plain.stderr
    same_behaviour(plain, dumped)
    d = load(only_dump(directory, "RuntimeError"))
    assert d.exception.args == ("callback failed 15",)
    assert innermost(d).locals == {"n": 7, "items": [7, 8]}
    # the dump ran inside the event loop: its frames are on the stack,
    # heapdump's own are not
    stack = frame_names(d.current_thread.frames)
    assert stack[0] == "_run", stack        # asyncio's Handle._run
    no_heapdump_frames(d)


@pytest.mark.parametrize("when", ["early", "late"])
def test_asyncio_custom_handler_still_called(tmp_path, when):
    plain, dumped, directory = with_and_without(tmp_path, "trig_asyncio.py",
                                                "handler", when)
    assert plain.returncode == 0
    assert plain.stdout == ("custom handler: Task exception was never "
                            "retrieved LookupError\ndone\n")
    same_behaviour(plain, dumped)
    d = load(only_dump(directory, "LookupError"))
    assert innermost(d).code.name == "fetch"


# ------------------------------------------------------ disable, in process


def test_disable_restores_everything_it_replaced(tmp_path):
    r = subprocess.run([sys.executable, "-c", r"""
import asyncio, signal, sys, threading
from heapdump import _triggers
before = (sys.excepthook, threading.excepthook,
          asyncio.BaseEventLoop.call_exception_handler, list(sys.meta_path))
_triggers.dump_on_unhandled_exceptions(sys.argv[1])
during = (sys.excepthook, threading.excepthook,
          asyncio.BaseEventLoop.call_exception_handler)
assert all(a is not b for a, b in zip(before, during)), during
_triggers.dump_on_unhandled_exceptions(sys.argv[1])   # again
_triggers.disable()
after = (sys.excepthook, threading.excepthook,
         asyncio.BaseEventLoop.call_exception_handler, list(sys.meta_path))
assert after == before, (after, before)
_triggers.disable()                                   # again
raise ValueError("not dumped")
""", str(tmp_path / "d")], env=child_env(), capture_output=True, text=True,
        timeout=60)
    assert r.returncode == 1, r.stderr
    assert r.stderr.rstrip().endswith("ValueError: not dumped")
    assert dump_files(tmp_path / "d") == []


def test_disable_before_asyncio_is_imported_removes_the_finder(tmp_path):
    r = subprocess.run([sys.executable, "-c", r"""
import sys
from heapdump import _triggers
path = list(sys.meta_path)
_triggers.dump_on_unhandled_exceptions(sys.argv[1])
assert len(sys.meta_path) == len(path) + 1
_triggers.disable()
assert sys.meta_path == path
import asyncio
assert not getattr(asyncio.BaseEventLoop.call_exception_handler,
                   "_heapdump_wrapper", False)
print("ok")
""", str(tmp_path / "d")], env=child_env(), capture_output=True, text=True,
        timeout=60)
    assert (r.returncode, r.stdout, r.stderr) == (0, "ok\n", "")


def test_the_asyncio_finder_goes_once_asyncio_is_imported(tmp_path):
    r = subprocess.run([sys.executable, "-c", r"""
import sys
from heapdump import _triggers
path = list(sys.meta_path)
_triggers.dump_on_unhandled_exceptions(sys.argv[1])
import asyncio
assert sys.meta_path == path, sys.meta_path
assert asyncio.BaseEventLoop.call_exception_handler._heapdump_wrapper
assert type(asyncio.base_events.__spec__.loader).__name__ == \
    "_PatchingLoader"
import importlib.resources
print("ok")
""", str(tmp_path / "d")], env=child_env(), capture_output=True, text=True,
        timeout=60)
    assert (r.returncode, r.stdout, r.stderr) == (0, "ok\n", "")


def test_a_hook_installed_over_ours_survives_disable(tmp_path):
    r = subprocess.run([sys.executable, "-c", r"""
import sys
from heapdump import _triggers
_triggers.dump_on_unhandled_exceptions(sys.argv[1], fatal_signals=False)
inner = sys.excepthook
def framework(t, v, tb):
    print("framework", flush=True)
    inner(t, v, tb)
sys.excepthook = framework
_triggers.disable()
assert sys.excepthook is framework
_triggers.dump_on_unhandled_exceptions(sys.argv[1], fatal_signals=False)
assert sys.excepthook is framework     # ours is in its chain already
raise ValueError("once")
""", str(tmp_path / "d")], env=child_env(), capture_output=True, text=True,
        timeout=60)
    assert r.returncode == 1
    assert r.stdout == "framework\n"
    assert r.stderr.count("ValueError: once") == 1, r.stderr
    assert len(dump_files(tmp_path / "d")) == 1


def test_ours_twice_in_a_chain_dumps_once(tmp_path):
    r = subprocess.run([sys.executable, "-c", r"""
import asyncio, sys
from heapdump import _triggers
options = dict(fatal_signals=False, min_interval=None)
_triggers.dump_on_unhandled_exceptions(sys.argv[1], **options)
ours = asyncio.BaseEventLoop.call_exception_handler
def framework(self, context):
    print("framework", flush=True)
    return ours(self, context)
asyncio.BaseEventLoop.call_exception_handler = framework
_triggers.disable()
_triggers.dump_on_unhandled_exceptions(sys.argv[1], **options)
def fail():
    raise RuntimeError("in a callback")
loop = asyncio.new_event_loop()
loop.call_soon(fail)
loop.run_until_complete(asyncio.sleep(0.05))
loop.close()
""", str(tmp_path / "d")], env=child_env(), capture_output=True, text=True,
        timeout=60)
    assert (r.returncode, r.stdout) == (0, "framework\n"), r.stderr
    assert r.stderr.count("RuntimeError: in a callback") == 1
    assert len(dump_files(tmp_path / "d")) == 1


def test_bad_options_raise_at_enable_time(tmp_path):
    from heapdump import _triggers

    with pytest.raises(TypeError):
        _triggers.dump_on_unhandled_exceptions(tmp_path, max_dump=1)
    with pytest.raises(ValueError):
        _triggers.dump_on_unhandled_exceptions(tmp_path, max_dumps=0)
    assert _triggers._state.files is None
    assert sys.excepthook is not _triggers._sys_excepthook


def test_the_public_api_names_the_triggers():
    from heapdump import _triggers

    assert heapdump.dump_on_unhandled_exceptions is \
        _triggers.dump_on_unhandled_exceptions
    assert heapdump.dump_on_signal is _triggers.dump_on_signal
    assert heapdump.disable is _triggers.disable
    for name in ("dump_on_unhandled_exceptions", "dump_on_signal",
                 "disable"):
        assert name in heapdump.__all__


# ----------------------------------------------------- retention, limits


def test_the_same_failure_is_rate_limited_and_counted(tmp_path):
    plain, dumped, directory = with_and_without(
        tmp_path, "trig_many.py", "same", 4, 2.5,
        options={"min_interval": 2.0})
    assert plain.returncode == 0
    assert plain.stderr.count("Exception in thread") == 6
    same_behaviour(plain, dumped)
    # in the order written (names sort by the second only)
    dumps = sorted((load(p) for p in dump_files(directory)),
                   key=lambda d: d.meta["time_ns"])
    assert [type(d.exception).__name__ for d in dumps] == \
        ["ValueError", "KeyError", "ValueError"]
    first, other, last = dumps
    assert first.exception.args == ("same place 0",)
    assert "Heapdump-Suppressed" not in first.headers
    assert other.exception.args == ("other place",)
    assert last.exception.args == ("same place 99",)
    assert last.headers["Heapdump-Suppressed"].startswith("3 more since ")
    assert last.meta["suppressed"] == 3


def test_retention_keeps_max_dumps_in_a_running_program(tmp_path):
    plain, dumped, directory = with_and_without(
        tmp_path, "trig_many.py", "distinct", 5,
        options={"max_dumps": 2})
    same_behaviour(plain, dumped)
    dumps = sorted((load(p) for p in dump_files(directory)),
                   key=lambda d: d.meta["time_ns"])
    assert [d.exception.args for d in dumps] == [(3,), (4,)]
