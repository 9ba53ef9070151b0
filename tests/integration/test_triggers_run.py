"""``python -m heapdump run``: a program runs as with ``python script.py``
or ``python -m module`` (argv, sys.path[0], __main__, exit status, the
printed traceback), with dumps on unhandled exceptions and fatal signals.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
from test_triggers import dump_files, innermost, load, only_dump, others

from conftest import PROGRAMS, child_env

HEX = re.compile(r"0x[0-9a-fA-F]+")


def python(*args, cwd, env=None, timeout=120, **kwargs):
    e = child_env(**(env or {}))
    e.pop("HEAPDUMP_DIR", None)
    if env and "HEAPDUMP_DIR" in env:
        e["HEAPDUMP_DIR"] = env["HEAPDUMP_DIR"]
    return subprocess.run([sys.executable] + [str(a) for a in args],
                          cwd=str(cwd), env=e, capture_output=True,
                          text=True, timeout=timeout, **kwargs)


def heapdump_run(*args, cwd, **kwargs):
    return python("-m", "heapdump", "run", *args, cwd=cwd, **kwargs)


def report(r):
    """What trig_run.py printed about how it was started."""
    return json.loads(r.stdout.splitlines()[0])


def normal(text):
    return HEX.sub("0x?", text)


@pytest.fixture
def script(tmp_path):
    """trig_run.py copied to tmp_path/app/, as a relative path from
    tmp_path."""
    (tmp_path / "app").mkdir()
    shutil.copy(PROGRAMS / "trig_run.py", tmp_path / "app" / "trig_run.py")
    return os.path.join("app", "trig_run.py")


def test_the_program_sees_what_it_sees_without_heapdump(tmp_path, script):
    plain = python(script, "ok", "--flag", "x", cwd=tmp_path)
    run = heapdump_run("--directory", "d", script, "ok", "--flag", "x",
                       cwd=tmp_path)
    assert (plain.returncode, plain.stderr) == (0, ""), plain.stderr
    assert (run.returncode, run.stderr) == (0, "")
    seen = report(run)
    assert seen == report(plain)
    assert seen["argv"] == [script, "ok", "--flag", "x"]
    assert seen["path0"] == str(tmp_path / "app")
    assert seen["name"] == "__main__"
    assert seen["file"] == str(tmp_path / "app" / "trig_run.py")
    assert seen["main_is_us"] is True
    assert seen["pickled"] == ["__main__", 1, 2]
    assert dump_files(tmp_path / "d") == []


def test_an_unhandled_exception_dumps_and_prints_the_same_traceback(
        tmp_path, script):
    plain = python(script, "raise", cwd=tmp_path)
    run = heapdump_run("--directory", "d", script, "raise", cwd=tmp_path)
    assert plain.returncode == 1
    assert run.returncode == 1
    assert run.stdout == plain.stdout
    # no frame of the runner in the traceback
    assert run.stderr == plain.stderr
    assert plain.stderr.splitlines()[1].startswith(
        '  File "%s"' % (tmp_path / "app" / "trig_run.py"))
    d = load(only_dump(tmp_path / "d", "ValueError"))
    assert d.exception.args == ("failed: raise 5",)
    assert innermost(d).locals == {"what": "raise", "depth": 5}
    assert [e.frame.code.name for e in d.traceback.entries()] == \
        ["<module>", "fail"]


def test_a_syntax_error_prints_as_without_heapdump(tmp_path):
    (tmp_path / "bad.py").write_text("x = 1\ny = (\n")
    plain = python("bad.py", cwd=tmp_path)
    run = heapdump_run("-d", "d", "bad.py", cwd=tmp_path)
    assert plain.returncode == 1 and "SyntaxError" in plain.stderr
    assert (run.returncode, run.stdout) == (plain.returncode, plain.stdout)
    if sys.version_info >= (3, 10):
        assert run.stderr == plain.stderr
    else:
        # 3.9's parser places an error at the end of a file one line
        # later when it reads the file than when it compiles the text
        # (runpy and pdb show the same); the message and the absence of
        # the runner's frames are the same
        assert run.stderr.splitlines()[-1] == plain.stderr.splitlines()[-1]
        assert run.stderr.startswith('  File "%s", line '
                                     % (tmp_path / "bad.py"))
    d = load(only_dump(tmp_path / "d", "SyntaxError"))
    assert d.traceback is None


def test_exit_status_and_keyboard_interrupt_are_unchanged(tmp_path, script):
    for action, status in (("exit", 3), ("keyboard", None)):
        plain = python(script, action, cwd=tmp_path)
        run = heapdump_run("-d", "d", script, action, cwd=tmp_path)
        if status is not None:
            assert plain.returncode == status
        assert run.returncode == plain.returncode
        assert run.stderr == plain.stderr
        assert run.stdout == plain.stdout
    assert dump_files(tmp_path / "d") == []


def test_a_thread_failure_dumps_and_the_program_goes_on(tmp_path, script):
    plain = python(script, "thread", cwd=tmp_path)
    run = heapdump_run("-d", "d", script, "thread", cwd=tmp_path)
    assert (run.returncode, run.stdout, run.stderr) == \
        (plain.returncode, plain.stdout, plain.stderr)
    assert plain.stdout.endswith("after thread\n")
    d = load(only_dump(tmp_path / "d", "ValueError"))
    assert d.current_thread.name == "worker"


def test_run_module(tmp_path):
    shutil.copy(PROGRAMS / "trig_run.py", tmp_path / "trig_runmod.py")
    plain = python("-m", "trig_runmod", "raise", "a", cwd=tmp_path)
    run = heapdump_run("-d", "d", "-m", "trig_runmod", "raise", "a",
                       cwd=tmp_path)
    assert plain.returncode == 1
    assert run.returncode == 1
    seen = report(run)
    assert normal(json.dumps(seen)) == normal(json.dumps(report(plain)))
    assert seen["argv"] == [str(tmp_path / "trig_runmod.py"), "raise", "a"]
    assert seen["path0"] == str(tmp_path)
    assert seen["name"] == "__main__"
    assert seen["pickled"] == ["__main__", 1, 2]
    assert run.stderr == plain.stderr
    d = load(only_dump(tmp_path / "d", "ValueError"))
    assert innermost(d).locals == {"what": "raise", "depth": 5}


def test_run_a_missing_module(tmp_path):
    plain = python("-m", "no_such_module_here", cwd=tmp_path)
    run = heapdump_run("-d", "d", "-m", "no_such_module_here", cwd=tmp_path)
    assert run.returncode == plain.returncode == 1
    assert run.stderr == plain.stderr
    assert "No module named no_such_module_here" in run.stderr


def test_heapdump_dir_is_the_default_directory(tmp_path, script):
    run = heapdump_run(script, "raise", cwd=tmp_path,
                       env={"HEAPDUMP_DIR": str(tmp_path / "env-dir")})
    assert run.returncode == 1
    only_dump(tmp_path / "env-dir", "ValueError")
    assert dump_files(tmp_path) == []


def test_without_heapdump_dir_the_current_directory(tmp_path, script):
    run = heapdump_run(script, "raise", cwd=tmp_path)
    assert run.returncode == 1
    files = dump_files(tmp_path)
    assert [p.name.endswith("-ValueError.dump") for p in files] == [True]


def test_options_reach_the_policy(tmp_path):
    run = heapdump_run("-d", "d", "--max-dumps", "2", "--min-interval",
                       "none", "--max-total-bytes", "1G", "--max-string",
                       "8", PROGRAMS / "trig_many.py", "distinct", "4",
                       cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    files = dump_files(tmp_path / "d")
    assert len(files) == 2
    assert load(files[-1]).meta["limits"]["max_string"] == 8


def test_hide_env_hides_a_value_whatever_its_length(tmp_path):
    (tmp_path / "app.py").write_text(
        "import os\n"
        "def main():\n"
        "    copy = ''.join(list(os.environ['APP_PIN']))\n"
        "    raise ValueError('failed')\n"
        "main()\n")
    run = heapdump_run("-d", "d", "--hide-env", "APP_PIN", "app.py",
                       cwd=tmp_path, env={"APP_PIN": "4321"})
    assert run.returncode == 1
    path = only_dump(tmp_path / "d", "ValueError")
    assert innermost(load(path)).locals["copy"].reason == "value"
    run = heapdump_run("-d", "e", "app.py", cwd=tmp_path,
                       env={"APP_PIN": "4321"})
    path = only_dump(tmp_path / "e", "ValueError")
    assert innermost(load(path)).locals["copy"] == "4321"


@pytest.mark.parametrize("args, message", [
    ([], "usage: python -m heapdump COMMAND"),
    (["frobnicate"], "unknown command 'frobnicate'"),
    (["run"], "the program to run is missing"),
    (["run", "--max-dumps", "0", "x.py"], "max_dumps must be >= 1"),
    (["run", "--max-dumps", "many", "x.py"], "not a number"),
    (["run", "nowhere.py"], "can't open file"),
])
def test_command_line_errors(tmp_path, args, message):
    (tmp_path / "x.py").write_text("print('ran')\n")
    r = python("-m", "heapdump", *args, cwd=tmp_path)
    assert r.returncode == 2
    assert message in r.stderr
    assert r.stdout == ""


def test_help(tmp_path):
    r = python("-m", "heapdump", "run", "--help", cwd=tmp_path)
    assert r.returncode == 0
    assert "--max-dumps" in r.stdout and "-m module" in r.stdout


def test_program_options_are_the_programs(tmp_path, script):
    run = heapdump_run("-d", "d", script, "ok", "--directory", "-m", "x",
                       cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert report(run)["argv"] == [script, "ok", "--directory", "-m", "x"]
    assert not (tmp_path / "x").exists()


def test_size_and_count_parsing():
    from heapdump.cli import run as cli

    assert cli._size("1G") == 1 << 30
    assert cli._size("512k") == 512 << 10
    assert cli._size("10MiB") == 10 << 20
    assert cli._size("1234") == 1234
    assert cli._size("none") is None
    assert cli._count("7") == 7
    assert cli._seconds("0.5") == 0.5
    assert cli._signal("USR1") == signal.SIGUSR1
    assert cli._signal("SIGUSR2") == signal.SIGUSR2
    assert cli._split(["-d", "x", "a.py", "-d"]) == \
        (["-d", "x"], ("script", ["a.py"]), ["-d"])
    assert cli._split(["--no-redact", "-m", "pkg.mod", "-x"]) == \
        (["--no-redact"], ("module", ["pkg.mod"]), ["-x"])
    assert cli._split(["-mpkg", "y"]) == ([], ("module", ["pkg"]), ["y"])
    assert cli._split(["--", "-weird.py", "z"]) == \
        ([], ("script", ["-weird.py"]), ["z"])


def test_fatal_signals_and_no_fatal_signals(tmp_path):
    prog = PROGRAMS / "trig_fatal.py"
    run = heapdump_run("-d", "d", prog, "ctypes", cwd=tmp_path)
    assert run.returncode == -signal.SIGSEGV, run.stderr
    d = load(only_dump(tmp_path / "d", "SIGSEGV"))
    assert d.headers["Heapdump-Signal"] == "SIGSEGV (11)"
    run = heapdump_run("-d", "e", "--no-fatal-signals", prog, "ctypes",
                       cwd=tmp_path)
    assert run.returncode == -signal.SIGSEGV
    assert dump_files(tmp_path / "e") == []


def test_run_with_a_dump_signal(tmp_path):
    (tmp_path / "wait.py").write_text(
        "import sys\n"
        "def waiting(reason):\n"
        "    print('ready', flush=True)\n"
        "    return sys.stdin.readline()\n"
        "print('got', waiting('input').strip(), flush=True)\n")
    e = child_env()
    p = subprocess.Popen(
        [sys.executable, "-m", "heapdump", "run", "-d", "d", "--signal",
         "USR1", "wait.py"], cwd=str(tmp_path), env=e, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert p.stdout.readline() == "ready\n"
        p.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 30
        while not dump_files(tmp_path / "d") and time.monotonic() < deadline:
            time.sleep(0.05)
        out, err = p.communicate("line\n", timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert (p.returncode, out, err) == (0, "got line\n", "")
    path = only_dump(tmp_path / "d", "SIGUSR1")
    d = load(path)
    assert d.headers["Heapdump-Reason"] == "signal SIGUSR1"
    main = [t for t in d.threads if t.is_main][0]
    frame = [f for f in main.frames if f.code.name == "waiting"][0]
    assert frame.locals == {"reason": "input"}
    assert others(tmp_path / "d") == []
