"""Dump files that look after themselves, in real child processes: a file
size limit (EFBIG), a full disk (ENOSPC), a read-only or vanished
directory, and a SIGKILL in the middle of a large dump."""

import os
import shutil
import signal
import stat
import subprocess
import sys
import time

import pytest
from test_triggers import (
    NAME,
    dump_files,
    innermost,
    load,
    only_dump,
    run_prog,
    trig_env,
    with_and_without,
)

import heapdump
from conftest import PROGRAMS, child_env
from heapdump._files import _TMP_NAME, DumpDirectory
from heapdump._load import HeapdumpWarning

BIG = {"max_items": None, "min_interval": None}


def heapdump_lines(stderr):
    return [line for line in stderr.splitlines()
            if line.startswith("heapdump: ")]


def without_heapdump_lines(stderr):
    return "".join(line for line in stderr.splitlines(keepends=True)
                   if not line.startswith("heapdump: "))


def assert_failed_quietly(plain, dumped, directory, reason):
    """The dump failed: one line on stderr, nothing left behind, the
    program otherwise exactly as without heapdump."""
    lines = heapdump_lines(dumped.stderr)
    assert len(lines) == 1, dumped.stderr
    assert lines[0].startswith(
        "heapdump: could not write a dump of ValueError into %s: "
        % directory), lines
    assert reason in lines[0]
    assert dumped.returncode == plain.returncode
    assert dumped.stdout == plain.stdout
    assert without_heapdump_lines(dumped.stderr) == plain.stderr
    assert heapdump_lines(plain.stderr) == []
    assert sorted(os.listdir(directory)) == []


@pytest.fixture
def tmpfs(tmp_path):
    """Mount a small tmpfs: mount(options) -> its path; unmounted after."""
    mounted = []

    def mount(options):
        where = tmp_path / ("mnt%d" % len(mounted))
        where.mkdir()
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs",
                            str(where)], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip("cannot mount a tmpfs here (%s); ENOSPC is "
                        "covered by the RLIMIT_FSIZE test"
                        % r.stderr.strip())
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_a_file_size_limit_fails_the_dump_not_the_program(tmp_path):
    # RLIMIT_FSIZE of 64 KiB with SIGXFSZ ignored: write(2) gets EFBIG
    plain, dumped, directory = with_and_without(
        tmp_path, "trig_bigheap.py", "thread", 100000, 65536, options=BIG)
    assert plain.returncode == 0
    assert plain.stdout == "ready\nstill running\n"
    assert "Exception in thread worker:" in plain.stderr
    assert_failed_quietly(plain, dumped, directory, "File too large")


def test_a_full_disk_fails_the_dump_not_the_program(tmp_path, tmpfs):
    small = tmpfs("size=256k,mode=0755")
    directory = small / "dumps"
    plain = run_prog("trig_bigheap.py", "main", 100000,
                     directory=tmp_path / "plain", heapdump=False)
    dumped = run_prog("trig_bigheap.py", "main", 100000,
                      directory=directory, options=BIG)
    assert plain.returncode == 1
    assert plain.stderr.rstrip().endswith(
        "ValueError: cannot process 100000 products")
    assert_failed_quietly(plain, dumped, directory,
                          "No space left on device")
    # and the disk is as free as before
    st = os.statvfs(small)
    assert st.f_bfree * st.f_frsize >= 200 * 1024


def test_a_read_only_directory_fails_the_dump_not_the_program(tmp_path,
                                                              tmpfs):
    if os.geteuid() == 0:
        # root writes through modes: make it a read-only file system
        directory = tmpfs("size=64k,mode=0755,ro")
        reason = "Read-only file system"
    else:
        directory = tmp_path / "ro"
        directory.mkdir()
        os.chmod(directory, 0o555)
        reason = "Permission denied"
    plain = run_prog("trig_main.py", "thread", directory=tmp_path / "plain",
                     heapdump=False)
    dumped = run_prog("trig_main.py", "thread", directory=directory)
    lines = heapdump_lines(dumped.stderr)
    assert len(lines) == 1 and reason in lines[0], dumped.stderr
    assert lines[0].startswith("heapdump: could not write a dump of "
                               "TypeError into %s: " % directory)
    assert (dumped.returncode, dumped.stdout) == \
        (plain.returncode, plain.stdout) == (0, "main continues\n")
    assert without_heapdump_lines(dumped.stderr) == plain.stderr
    assert os.listdir(directory) == []


def test_a_directory_that_cannot_be_made_is_one_line_at_enable_time(
        tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    directory = blocker / "dumps"
    plain = run_prog("trig_main.py", "main", directory=tmp_path / "plain",
                     heapdump=False)
    dumped = run_prog("trig_main.py", "main", directory=directory)
    lines = heapdump_lines(dumped.stderr)
    # one when enabled, one when the failure could not be dumped
    assert len(lines) == 2, dumped.stderr
    assert lines[0].startswith("heapdump: cannot make the dump directory")
    assert "Not a directory" in lines[0]
    assert lines[1].startswith("heapdump: could not write a dump of "
                               "TypeError into %s: " % directory)
    assert dumped.returncode == plain.returncode == 1
    assert without_heapdump_lines(dumped.stderr) == plain.stderr
    assert blocker.read_text() == "a file"


def test_a_directory_removed_while_running_is_made_again(tmp_path):
    directory = tmp_path / "dumps"
    r = subprocess.run([sys.executable, "-c", r"""
import shutil, sys
from heapdump import _triggers
_triggers.dump_on_unhandled_exceptions(sys.argv[1])
shutil.rmtree(sys.argv[1])
def late(flag):
    raise OSError("after the directory went away")
late(1)
""", str(directory)], env=child_env(), capture_output=True, text=True,
        timeout=60)
    assert r.returncode == 1
    assert heapdump_lines(r.stderr) == []
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    d = load(only_dump(directory, "OSError"))
    assert innermost(d).locals == {"flag": 1}


def test_sigkill_in_the_middle_of_a_large_dump(tmp_path):
    """No file with a final name; the .tmp left behind loads as a truncated
    dump, with a warning; retention removes it once its writer is dead."""
    directory = tmp_path / "dumps"
    with subprocess.Popen(
            [sys.executable, str(PROGRAMS / "trig_bigheap.py"), "main",
             "300000"], env=trig_env(directory, options=BIG),
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as p:
        try:
            assert p.stdout.readline() == b"ready\n"
            deadline = time.monotonic() + 60
            tmp = None
            while time.monotonic() < deadline:
                assert dump_files(directory) == [], \
                    "the dump finished first"
                tmps = list(directory.glob("*.tmp"))
                if tmps and tmps[0].stat().st_size >= 256 * 1024:
                    tmp = tmps[0]
                    break
                time.sleep(0.002)
            assert tmp is not None, "no temporary file grew"
        finally:
            p.kill()
            p.wait()
    assert p.returncode == -signal.SIGKILL
    assert dump_files(directory) == []
    final, pid = tmp.name.rsplit(".", 2)[:2]
    assert NAME.match(final) and final.endswith("-ValueError.dump")
    # the temporary name container.c builds is the one retention parses
    m = _TMP_NAME.match(tmp.name)
    assert m is not None and m.groups() == (final, pid)
    assert int(pid) == p.pid
    assert stat.S_IMODE(tmp.stat().st_mode) == 0o600

    with pytest.warns(HeapdumpWarning, match="truncated"):
        d = heapdump.load(tmp)
    assert d.truncated and d.trailer is None
    assert d.meta["pid"] == p.pid
    assert d.headers["Heapdump-Exception"] == \
        "ValueError: cannot process 300000 products"
    assert len(d.objects) > 1000

    # the next program that enables heapdump on the directory cleans up
    r = run_prog("trig_main.py", "exit", directory=directory)
    assert r.returncode == 3
    assert os.listdir(directory) == []


def test_retention_removes_stale_tmp_only_of_dead_writers(tmp_path):
    directory = tmp_path / "d"
    directory.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c",
                                "import time; time.sleep(60)"])
    try:
        live = directory / ("heapdump-20261122T100000Z-%d.dump.%d.tmp"
                            % (sleeper.pid, sleeper.pid))
        live.write_bytes(b"being written")
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        stale = directory / ("heapdump-20261122T100000Z-%d.dump.%d.tmp"
                             % (dead.pid, dead.pid))
        stale.write_bytes(b"left by a SIGKILL")
        DumpDirectory(directory).prune()
        assert os.listdir(directory) == [live.name]
    finally:
        sleeper.kill()
        sleeper.wait()
    DumpDirectory(directory).prune()
    assert os.listdir(directory) == []


def test_max_total_bytes_in_a_running_program(tmp_path):
    directory = tmp_path / "dumps"
    first = run_prog("trig_main.py", "main", directory=directory)
    size = dump_files(directory)[0].stat().st_size
    shutil.copy(dump_files(directory)[0], directory / (
        "heapdump-20200101T000000Z-1-Old.dump"))
    assert first.returncode == 1
    r = run_prog("trig_main.py", "main", directory=directory,
                 options={"max_total_bytes": int(size * 2.5)})
    assert r.returncode == 1
    names = [p.name for p in dump_files(directory)]
    assert len(names) == 2
    assert not any("Old" in n for n in names)
