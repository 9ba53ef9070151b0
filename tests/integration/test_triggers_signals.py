"""Dumps on a signal (dump_on_signal) and on fatal signals, in real child
processes: a main thread blocked in C, a burst of signals, a thread that
holds the GIL for good, disable(); crashes in C, abort, stack overflow,
faulthandler before or after, the core file."""

import os
import re
import resource
import signal
import subprocess
import sys
import time

import pytest
from test_triggers import (
    bodies,
    dump_files,
    frame_names,
    load,
    no_heapdump_frames,
    only_dump,
    others,
    run_prog,
    trig_env,
    with_and_without,
)

from conftest import PROGRAMS
from heapdump import _triggers

HEX = re.compile(r"0x[0-9a-fA-F]+")


def start(scenario, directory, hdtest_dir=None):
    """trig_signal.py SCENARIO DIRECTORY, once it says "ready"."""
    p = subprocess.Popen(
        [sys.executable, str(PROGRAMS / "trig_signal.py"), scenario,
         str(directory)],
        env=trig_env(directory, heapdump=False, hdtest_dir=hdtest_dir),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if line != "ready\n":
        p.kill()
        raise AssertionError("child not ready: %r %s"
                             % (line, p.stderr.read()))
    return p


def finish(p, text="x\n", timeout=60):
    try:
        out, err = p.communicate(text, timeout=timeout)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return p.returncode, "ready\n" + out, err


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    return predicate()


# ---------------------------------------------------------- signal dumps


def test_signal_dump_while_the_main_thread_is_blocked_in_c(tmp_path):
    directory = tmp_path / "d"
    p = start("read", directory)
    time.sleep(0.3)         # from "ready" into read(2)
    p.send_signal(signal.SIGUSR1)
    assert wait_for(lambda: dump_files(directory)), others(directory)
    # read(2) was restarted, not interrupted: it returns the byte sent
    status, out, err = finish(p)
    assert (status, out, err) == (
        0, "ready\nread returned 1 errno 0\nexit\n", "")
    d = load(only_dump(directory, "SIGUSR1"))
    assert d.headers["Heapdump-Reason"] == "signal SIGUSR1"
    assert d.headers["Heapdump-Exception"] == "none"
    assert d.exception is None
    # the program's one thread, stopped in the C call; heapdump's
    # threads and frames are not in it
    assert len(d.threads) == 1
    main = d.threads[0]
    assert main.is_main
    assert frame_names(main.frames) == ["wait_for_input", "<module>"]
    assert main.frames[0].locals["reason"] == "waiting"
    no_heapdump_frames(d)


def test_a_burst_of_signals_neither_crashes_nor_overlaps(tmp_path):
    directory = tmp_path / "d"
    # the main thread back in Python every 50 ms: under ThreadSanitizer
    # (make tsan), which holds a signal back while its thread is in a
    # blocking call, the signals reach the handler too
    p = start("poll", directory)
    for _ in range(40):
        p.send_signal(signal.SIGUSR1)
        time.sleep(0.001)
    assert wait_for(lambda: dump_files(directory))
    # let the coalesced ones finish
    count = -1
    while count != len(dump_files(directory)):
        count = len(dump_files(directory))
        time.sleep(1.0)
    status, out, err = finish(p)
    assert (status, out, err) == (
        0, "ready\npoll returned 2\nexit\n", "")
    files = dump_files(directory)
    assert 1 <= len(files) <= 40
    assert others(directory) == []
    spans = []
    for path in files:
        d = load(path)                   # complete: no truncation warning
        start_ns = d.meta["time_ns"]
        spans.append((start_ns, start_ns + d.trailer["walk_ns"]))
    spans.sort()
    for (_, end), (begin, _) in zip(spans, spans[1:]):
        assert end <= begin, "two dumps ran at once"


def test_a_thread_holding_the_gil_forever_gives_a_stacks_only_dump(
        tmp_path, hdtest_dir):
    directory = tmp_path / "d"
    p = start("gil", directory, hdtest_dir)
    time.sleep(0.5)     # the main thread is in hold_gil(4.0) by now
    p.send_signal(signal.SIGUSR1)
    status, out, err = finish(p)
    assert (status, out, err) == (0, "ready\nreleased\nexit\n", "")
    # one dump: the stacks alone; the late callback was cancelled
    path = only_dump(directory, "stacks")
    d = load(path)
    assert "Heapdump-Stacks-Only" in d.headers
    # stuck in C, the holder did not move while its stack was read
    assert "Heapdump-Stacks-Torn" not in d.headers
    # (without the GIL, threading's names are not read: no is_main)
    assert len(d.threads) == 1, d.threads
    assert frame_names(d.threads[0].frames) == ["spin_in_c", "<module>"]
    # its sources are masked as a normal dump's are, without the GIL
    source = d.sources[str(PROGRAMS / "trig_signal.py")]
    assert 'API_TOKEN = "%s"' % ("*" * 28) in source
    assert b"literal-token-of-trig-signal" not in bodies(path)


def test_a_stacks_only_dump_of_a_holder_that_runs_says_it_may_be_torn(
        tmp_path):
    # the main thread runs Python code and keeps the GIL (its switch
    # interval raised): its frames change while the watcher reads them
    directory = tmp_path / "d"
    p = start("spin", directory)
    time.sleep(0.5)
    p.send_signal(signal.SIGUSR1)
    status, out, err = finish(p)
    assert (status, out, err) == (0, "ready\nreleased\nexit\n", "")
    # the file was written again once the threads were seen to move, and
    # says so; still one file, a complete one
    path = only_dump(directory, "stacks")
    d = load(path)
    assert d.headers["Heapdump-Stacks-Torn"].startswith("maybe: ")
    assert "Heapdump-Stacks-Only" in d.headers
    assert len(d.threads) == 1, d.threads
    names = frame_names(d.threads[0].frames)
    assert names[-1] == "<module>", names
    assert set(names[:-1]) <= {"spin_in_python", "step"}, names
    assert others(directory) == []


def test_disable_gives_the_signal_back(tmp_path):
    directory = tmp_path / "d"
    p = start("disable", directory)
    p.send_signal(signal.SIGUSR1)
    time.sleep(0.5)
    status, out, err = finish(p, "\n")
    assert (status, out, err) == (
        0, "ready\npython handler %d\nexit\n" % signal.SIGUSR1, "")
    assert dump_files(directory) == []


def test_dump_on_signal_refuses_fatal_signals(tmp_path):
    for signum in (signal.SIGSEGV, signal.SIGABRT):
        with pytest.raises(ValueError, match="fatal signal"):
            _triggers.dump_on_signal(signum, tmp_path)
    with pytest.raises(ValueError):
        _triggers.dump_on_signal(signal.SIGUSR2, tmp_path, timeout=0)
    with pytest.raises(TypeError):
        _triggers.dump_on_signal(signal.SIGUSR2, tmp_path, max_dump=1)
    assert _triggers._state.signals == {}


# --------------------------------------------------------- fatal signals


C_STACK = "Current thread's C stack trace (most recent call first):\n"


def c_stack(stderr):
    """The frame lines of the C stack that faulthandler prints on 3.14+
    after the Python traceback, addresses blanked ([] when none)."""
    lines = HEX.sub("0x?", stderr).splitlines(keepends=True)
    if C_STACK not in lines:
        return []
    out = []
    for line in lines[lines.index(C_STACK) + 1:]:
        if not line.startswith("  "):
            break
        out.append(line)
    return out


def normal(stderr):
    """stderr without heapdump's line and 3.14's C stack frames, with
    addresses blanked."""
    frames = set(c_stack(stderr))
    return "".join(
        line for line in HEX.sub("0x?", stderr).splitlines(keepends=True)
        if not line.startswith("heapdump: ") and line not in frames)


def same_c_stack(plain, dumped):
    """Whether the dumped run's C stack is the plain run's with heapdump's
    re-raise in it: heapdump's handler dumps, puts the previous handler
    back and raises the signal again, so faulthandler, called from there,
    sees raise(), heapdump's handler and a second signal frame above the
    crash.  Dropping a block of lines that ends with that signal frame
    after heapdump's gives the plain stack (both may be cut at the same
    depth, "<truncated rest of calls>")."""
    def cut(frames):
        truncated = bool(frames) and "<truncated" in frames[-1]
        return (frames[:-1] if truncated else frames), truncated

    plain, plain_cut = cut(plain)
    dumped, dumped_cut = cut(dumped)
    at = [i for i, line in enumerate(dumped) if "_heapdump." in line]
    if len(at) != 1 or at[0] + 1 >= len(dumped):
        return False
    end = at[0] + 2
    for start in range(1, at[0] + 1):
        kept = dumped[:start] + dumped[end:]
        n = min(len(kept), len(plain))
        if n > start and kept[:n] == plain[:n] and (
                len(kept) == len(plain) or (plain_cut and dumped_cut)):
            return True
    return False


FATAL = [
    ("segv", signal.SIGSEGV),
    ("ctypes", signal.SIGSEGV),
    ("abort", signal.SIGABRT),
    ("overflow", signal.SIGSEGV),
]


@pytest.mark.parametrize("faulthandler", ["", "faulthandler-after"])
@pytest.mark.parametrize("kind, signum", FATAL)
def test_a_fatal_signal_dumps_then_dies_as_before(tmp_path, hdtest_dir,
                                                  kind, signum,
                                                  faulthandler):
    args = (kind, faulthandler) if faulthandler else (kind,)
    plain, dumped, directory = with_and_without(
        tmp_path, "trig_fatal.py", *args, hdtest_dir=hdtest_dir,
        preexec_fn=no_core)
    assert plain.returncode == -signum
    assert dumped.returncode == -signum
    assert dumped.stdout == plain.stdout
    # faulthandler (PYTHONFAULTHANDLER=1, or enabled after heapdump) still
    # prints its traceback
    assert "Fatal Python error" in plain.stderr
    assert normal(dumped.stderr) == normal(plain.stderr)
    if sys.version_info >= (3, 14):
        # and its C stack, below the Python one
        assert c_stack(plain.stderr) and c_stack(dumped.stderr)
        assert same_c_stack(c_stack(plain.stderr), c_stack(dumped.stderr)), \
            (plain.stderr, dumped.stderr)
    path = only_dump(directory, signal.Signals(signum).name)
    assert [line for line in dumped.stderr.splitlines()
            if line.startswith("heapdump: ")] == ["heapdump: wrote %s" % path]
    d = load(path)
    assert d.headers["Heapdump-Signal"] == "%s (%d)" % (
        signal.Signals(signum).name, signum)
    crashed = d.current_thread          # the thread that crashed
    names = frame_names(crashed.frames)
    assert names[-2:] == ["crash", "<module>"], names
    crash = crashed.frames[names.index("crash")]
    assert crash.locals["kind"] == kind
    assert crash.locals["invoice"] == {"number": 1234, "amount": 99.5}


def test_a_fatal_dump_hides_what_was_known_when_it_was_installed(tmp_path):
    # hide= and the environment are read when the handler is installed
    # (the handler cannot run Python): the same values are hidden
    held, env_secret = os.urandom(12).hex(), "cfg-" + os.urandom(12).hex()
    directory = tmp_path / "dumps"
    r = run_prog("trig_fatal.py", "ctypes", directory=directory,
                 options={"hide": [held]}, preexec_fn=no_core,
                 env={"TRIG_HELD": held, "TRIG_ENV_CFG": env_secret})
    assert r.returncode == -signal.SIGSEGV
    path = only_dump(directory, "SIGSEGV")
    raw = bodies(path)
    assert held.encode() not in raw and env_secret.encode() not in raw
    d = load(path)
    module = [f for f in d.current_thread.frames
              if f.code.name == "<module>"][0]
    assert str(module.locals["HELD"]) == "token=[redacted];"
    environment = module.locals["ENVIRONMENT"]
    assert environment["TRIG_ENV_CFG"].reason == "environ"
    assert environment["PATH"] == os.environ["PATH"]


def no_core():
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def with_core():
    resource.setrlimit(resource.RLIMIT_CORE,
                       (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def core_status(tmp_path, heapdump):
    """(raw wait status, core file names) of a crash run in its own
    directory with cores allowed."""
    cwd = tmp_path / ("on" if heapdump else "off")
    cwd.mkdir()
    p = subprocess.Popen(
        [sys.executable, str(PROGRAMS / "trig_fatal.py"), "ctypes"],
        cwd=str(cwd), env=trig_env(tmp_path / "dumps", heapdump=heapdump),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=with_core)
    _, status = os.waitpid(p.pid, 0)
    p.returncode = -1           # reaped here
    cores = [n for n in os.listdir(cwd) if n.startswith("core")]
    for n in cores:
        os.unlink(cwd / n)
    return status, cores


def test_the_core_file_is_still_written_when_one_was_due(tmp_path):
    off, off_cores = core_status(tmp_path, False)
    on, on_cores = core_status(tmp_path, True)
    assert os.WIFSIGNALED(off) and os.WTERMSIG(off) == signal.SIGSEGV
    assert os.WIFSIGNALED(on) and os.WTERMSIG(on) == signal.SIGSEGV
    assert os.WCOREDUMP(on) == os.WCOREDUMP(off)
    assert bool(on_cores) == bool(off_cores)
    assert len(dump_files(tmp_path / "dumps")) == 1


def test_no_fatal_dumps_without_fatal_signals_or_after_disable(tmp_path):
    r = run_prog("trig_fatal.py", "ctypes", directory=tmp_path / "a",
                 options={"fatal_signals": False}, preexec_fn=no_core)
    assert r.returncode == -signal.SIGSEGV
    assert dump_files(tmp_path / "a") == []
    r = subprocess.run([sys.executable, "-c", r"""
import ctypes, sys
from heapdump import _triggers
_triggers.dump_on_unhandled_exceptions(sys.argv[1])
_triggers.disable()
ctypes.string_at(0)
""", str(tmp_path / "b")], env=trig_env(tmp_path / "b", heapdump=False),
        capture_output=True, text=True, timeout=60, preexec_fn=no_core)
    assert r.returncode == -signal.SIGSEGV
    assert dump_files(tmp_path / "b") == []
    # nothing from heapdump (the project's folder may be named heapdump,
    # which 3.14's C stack shows in paths): no line of its own, and its
    # handler not on the stack faulthandler prints
    assert [line for line in r.stderr.splitlines()
            if line.startswith("heapdump")] == []
    assert "Fatal Python error: Segmentation fault" in r.stderr
    assert [line for line in c_stack(r.stderr) if "_heapdump." in line] == []
