"""Dump files that look after themselves (heapdump._files), in process:
the directory, names and modes, retention, stale temporary files, the rate
limit and failures that say one line and raise nothing."""

import errno
import os
import re
import stat
import subprocess
import sys
import time

import pytest

import heapdump
from heapdump import _files
from heapdump._files import DumpDirectory
from records import headers, raw_records

NAME = re.compile(r"^heapdump-(\d{8}T\d{6}Z)-(\d+)-([A-Za-z0-9_]+)"
                  r"(?:-(\d+))?\.dump$")


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def fail(n=0):
    """Raise ValueError at one place (its line is the failure's key)."""
    depth = n  # noqa: F841
    raise ValueError("failure %d" % n)


def fail_elsewhere(n=0):
    raise ValueError("failure elsewhere %d" % n)


def caught(fn, *args):
    try:
        fn(*args)
    except Exception as e:
        return e
    raise AssertionError("did not raise")


def fake_dump(directory, stamp, pid=4242, tag="ValueError", size=100,
              mtime=None):
    """A file with a dump's name (content does not matter to retention)."""
    path = directory / ("heapdump-%s-%d-%s.dump" % (stamp, pid, tag))
    path.write_bytes(b"x" * size)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def dead_pid():
    """The pid of a process that has exited (and been reaped)."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def names(directory):
    return sorted(p.name for p in directory.iterdir())


# ------------------------------------------------------------ the directory


@pytest.mark.parametrize("umask", [0o022, 0o000, 0o077])
def test_missing_directories_are_made_0700_whatever_the_umask(tmp_path,
                                                              umask):
    target = tmp_path / "a" / "b" / "dumps"
    old = os.umask(umask)
    try:
        path = DumpDirectory(target, min_interval=None).dump(
            caught(fail, 1))
    finally:
        os.umask(old)
    assert path is not None and path.parent == target
    for d in (tmp_path / "a", tmp_path / "a" / "b", target):
        assert stat.S_IMODE(os.stat(d).st_mode) == 0o700, d
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_an_existing_directory_keeps_its_mode(tmp_path):
    target = tmp_path / "shared"
    target.mkdir()
    os.chmod(target, 0o755)
    path = DumpDirectory(target).dump(caught(fail))
    assert path is not None
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_directory_defaults_to_heapdump_dir_then_cwd_fixed_at_creation(
        tmp_path, monkeypatch):
    monkeypatch.setenv("HEAPDUMP_DIR", str(tmp_path / "env"))
    assert DumpDirectory().path == tmp_path / "env"
    monkeypatch.delenv("HEAPDUMP_DIR")
    monkeypatch.chdir(tmp_path)
    files = DumpDirectory("rel")
    here = DumpDirectory()
    monkeypatch.chdir("/")
    assert files.path == tmp_path / "rel"
    assert here.path == tmp_path
    assert files.dump(caught(fail)).parent == tmp_path / "rel"


# --------------------------------------------------------- the dump itself


def test_a_dump_has_a_name_that_sorts_by_time_and_says_what_happened(
        tmp_path):
    before = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() - 1))
    path = DumpDirectory(tmp_path).dump(caught(fail, 7), "a reason")
    after = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() + 1))
    m = NAME.match(path.name)
    assert m, path.name
    assert before <= m.group(1) <= after
    assert m.group(2) == str(os.getpid())
    assert m.group(3) == "ValueError"
    assert names(tmp_path) == [path.name]          # no .tmp left
    msg = headers(path)
    assert msg["Heapdump-Reason"] == "a reason"
    assert msg["Heapdump-Exception"] == "ValueError: failure 7"


def test_the_dump_holds_the_exception_and_its_frames(tmp_path):
    path = DumpDirectory(tmp_path).dump(caught(fail, 7))
    d = heapdump.load(path)
    assert type(d.exception).__name__ == "ValueError"
    assert d.exception.args == ("failure 7",)
    inner = d.traceback.entries()[-1].frame
    assert inner.code.name == "fail"
    assert inner.locals == {"n": 7, "depth": 7}
    # heapdump's own frames are left out of the calling thread's stack:
    # it starts in this test
    top = d.current_thread.frames[0]
    assert top.code.name == \
        "test_the_dump_holds_the_exception_and_its_frames"


def test_two_dumps_in_one_second_get_two_names(tmp_path):
    files = DumpDirectory(tmp_path, min_interval=None)
    exc = caught(fail)
    paths = [files.dump(exc) for _ in range(3)]
    assert len(set(paths)) == 3
    assert all(p.exists() for p in paths)


def test_a_dump_without_exception_is_named_by_its_tag(tmp_path):
    files = DumpDirectory(tmp_path)
    path = files.dump(None, "signal SIGUSR1", tag="SIGUSR1")
    again = files.dump(None, "signal SIGUSR1", tag="SIGUSR1")
    assert NAME.match(path.name).group(3) == "SIGUSR1"
    assert path != again and again.exists()
    assert headers(path)["Heapdump-Exception"] == "none"


def test_one_dump_cannot_exceed_the_directory_budget(tmp_path):
    files = DumpDirectory(tmp_path, max_total_bytes=4096)
    assert files.dump_options()["max_bytes"] == 4096
    assert DumpDirectory(tmp_path, max_total_bytes=None).dump_options()[
        "max_bytes"] == heapdump.DEFAULT_LIMITS["max_bytes"]
    assert DumpDirectory(tmp_path, max_total_bytes=1 << 40, max_bytes=5
                         ).dump_options()["max_bytes"] == 5
    big = [str(i) * 10 for i in range(20000)]  # noqa: F841
    path = files.dump(caught(fail))
    recs = raw_records(path)
    assert recs[-1][0] == 72 and recs[-1][1]["omitted"] > 0


def test_extra_headers_and_facts_reach_the_file(tmp_path):
    path = tmp_path / "x.dump"
    _files.write_dump(path, exc=caught(fail), reason="r",
                      headers=[("Heapdump-Test", "yes")],
                      facts={"test_fact": 12})
    assert headers(path)["Heapdump-Test"] == "yes"
    d = heapdump.load(path)
    assert d.meta["test_fact"] == 12
    assert d.meta["reason"] == "r"


# -------------------------------------------------------------- retention


def test_retention_keeps_the_newest_max_dumps(tmp_path):
    stamps = ["20261122T10%02d00Z" % m for m in range(6)]
    # mtimes in the opposite order: the name's time stamp decides
    for i, s in enumerate(stamps):
        fake_dump(tmp_path, s, mtime=time.time() - i)
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "heapdump-mine.dump").write_text("not one of ours")
    (tmp_path / "heapdump-20261122T090000Z-1-x.dump.d").mkdir()
    removed = DumpDirectory(tmp_path, max_dumps=2,
                            max_total_bytes=None).prune()
    assert sorted(removed) == sorted(
        "heapdump-%s-4242-ValueError.dump" % s for s in stamps[:4])
    assert names(tmp_path) == sorted(
        ["notes.txt", "heapdump-mine.dump",
         "heapdump-20261122T090000Z-1-x.dump.d"] +
        ["heapdump-%s-4242-ValueError.dump" % s for s in stamps[4:]])


def test_retention_bounds_the_total_bytes_oldest_first(tmp_path):
    a = fake_dump(tmp_path, "20261122T100000Z", size=400)
    b = fake_dump(tmp_path, "20261122T100100Z", size=300)
    c = fake_dump(tmp_path, "20261122T100200Z", size=300)
    d = fake_dump(tmp_path, "20261122T100300Z", size=200)
    DumpDirectory(tmp_path, max_dumps=None, max_total_bytes=700).prune()
    assert [p.exists() for p in (a, b, c, d)] == [False, False, True, True]


def test_retention_never_removes_the_dump_just_written(tmp_path):
    old = fake_dump(tmp_path, "20261122T100000Z", size=10)
    files = DumpDirectory(tmp_path, max_dumps=1, max_total_bytes=64)
    path = files.dump(caught(fail))
    assert path.exists() and path.stat().st_size > 64
    assert not old.exists()
    assert names(tmp_path) == [path.name]


def test_retention_after_each_dump(tmp_path):
    files = DumpDirectory(tmp_path, max_dumps=3, min_interval=None)
    written = []
    for i in range(5):
        written.append(files.dump(caught(fail, i)))
        time.sleep(0.01)
    left = names(tmp_path)
    assert len(left) == 3
    assert left == sorted(p.name for p in written[2:])


def test_stale_tmp_files_of_dead_writers_are_removed(tmp_path):
    final = "heapdump-20261122T100000Z-%d-ValueError.dump"
    dead = dead_pid()
    stale = tmp_path / ("%s.%d.tmp" % (final % dead, dead))
    live = tmp_path / ("%s.%d.tmp" % (final % os.getppid(), os.getppid()))
    own = tmp_path / ("%s.%d.tmp" % (final % os.getpid(), os.getpid()))
    hung = tmp_path / ("%s.%d.tmp" % (final % 1, 1))
    for p in (stale, live, own, hung):
        p.write_bytes(b"partial")
    t = time.time() - _files.STALE_TMP_SECONDS - 60
    os.utime(hung, (t, t))
    removed = DumpDirectory(tmp_path).prune()
    assert not stale.exists()
    assert not hung.exists()    # pid 1 lives, but nobody wrote for an hour
    assert live.exists() and own.exists()
    # the stale files are not counted as dumps
    assert removed == []


def test_stale_tmp_files_go_before_a_dump_too(tmp_path):
    dead = dead_pid()
    stale = tmp_path / ("heapdump-20261122T100000Z-%d.dump.%d.tmp"
                        % (dead, dead))
    stale.write_bytes(b"partial")
    path = DumpDirectory(tmp_path, max_dumps=None).dump(caught(fail))
    assert names(tmp_path) == [path.name]


# ------------------------------------------------------------ rate limit


def test_the_same_failure_is_dumped_once_per_interval_and_counted(tmp_path):
    clock = Clock()
    files = DumpDirectory(tmp_path, min_interval=60, clock=clock)
    first = files.dump(caught(fail, 1))
    assert first is not None
    for i in range(3):
        clock.now += 10
        assert files.dump(caught(fail, 2 + i)) is None
    assert names(tmp_path) == [first.name]
    assert headers(first)["Heapdump-Suppressed"] is None
    clock.now += 31                         # 61 s after the first
    second = files.dump(caught(fail, 9))
    assert second is not None
    msg = headers(second)
    assert msg["Heapdump-Suppressed"].startswith("3 more since ")
    d = heapdump.load(second)
    assert d.meta["suppressed"] == 3
    assert d.meta["suppressed_since"].endswith("Z")
    # the count starts again
    clock.now += 61
    third = files.dump(caught(fail, 10))
    assert headers(third)["Heapdump-Suppressed"] is None


def test_different_failures_are_limited_apart(tmp_path):
    clock = Clock()
    files = DumpDirectory(tmp_path, min_interval=60, clock=clock)
    assert files.dump(caught(fail)) is not None
    assert files.dump(caught(fail_elsewhere)) is not None   # other line
    te = caught(lambda: fail_typeerror())
    assert files.dump(te) is not None                        # other type
    assert files.dump(caught(fail)) is None
    assert files.dump(caught(fail_elsewhere)) is None
    assert len(names(tmp_path)) == 3


def fail_typeerror():
    raise TypeError("other type")


def test_failure_key_is_type_and_innermost_location():
    k1 = _files.failure_key(caught(fail, 1))
    k2 = _files.failure_key(caught(fail, 2))
    assert k1 == k2
    assert k1[0] == "builtins.ValueError"
    assert k1[1][1] == "fail"
    assert _files.failure_key(caught(fail_elsewhere)) != k1
    assert _files.failure_key(ValueError("never raised")) == \
        ("builtins.ValueError", None)
    assert _files.failure_key(None) is None


def test_no_rate_limit_with_min_interval_none_or_limit_false(tmp_path):
    files = DumpDirectory(tmp_path, min_interval=None)
    assert all(files.dump(caught(fail)) for _ in range(3))
    files = DumpDirectory(tmp_path / "b", min_interval=3600)
    assert all(files.dump(caught(fail), limit=False) for _ in range(3))


def test_the_rate_limiter_memory_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(_files, "_MAX_FAILURES", 8)
    clock = Clock()
    files = DumpDirectory(tmp_path, min_interval=1, clock=clock)
    for i in range(50):
        clock.now += 0.1
        exc = type("E%d" % i, (Exception,), {})("x")
        assert files.admit(exc) == ([], {})
        assert len(files._failures) <= 8


def test_a_failed_write_keeps_the_count_for_the_next_dump(tmp_path,
                                                          monkeypatch,
                                                          capsys):
    clock = Clock()
    files = DumpDirectory(tmp_path, min_interval=60, clock=clock)
    files.dump(caught(fail))
    clock.now += 1
    assert files.dump(caught(fail)) is None
    real = _files.write_dump

    def full_disk(path, **kw):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(_files, "write_dump", full_disk)
    clock.now += 60
    assert files.dump(caught(fail)) is None
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err
    monkeypatch.setattr(_files, "write_dump", real)
    clock.now += 60
    path = files.dump(caught(fail))
    assert heapdump.load(path).meta["suppressed"] == 1


# --------------------------------------------------------------- failures


def test_a_directory_that_cannot_be_made_is_one_line_and_no_exception(
        tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a directory")
    files = DumpDirectory(blocker / "dumps")
    assert files.dump(caught(fail)) is None
    err = capsys.readouterr().err
    assert err.startswith("heapdump: could not write a dump of ValueError "
                          "into %s: " % (blocker / "dumps"))
    assert err.count("\n") == 1
    assert blocker.read_text() == "a file, not a directory"


def test_a_path_that_is_a_file_is_not_a_directory(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert DumpDirectory(blocker).dump(caught(fail)) is None
    err = capsys.readouterr().err
    assert "Not a directory" in err and err.count("\n") == 1
    assert blocker.read_text() == "x"


def test_a_failing_writer_leaves_nothing_behind(tmp_path, monkeypatch,
                                                capsys):
    real = heapdump._heapdump.dump

    def fail_midway(path, **kw):
        with open("%s.%d.tmp" % (path, os.getpid()), "wb") as f:
            f.write(b"half")
        raise OSError(errno.EFBIG, os.strerror(errno.EFBIG), path)

    monkeypatch.setattr(heapdump._heapdump, "dump", fail_midway)
    assert DumpDirectory(tmp_path).dump(caught(fail)) is None
    monkeypatch.setattr(heapdump._heapdump, "dump", real)
    assert names(tmp_path) == []
    assert "File too large" in capsys.readouterr().err


def test_stderr_gone_is_not_a_failure(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "stderr", None)
    assert DumpDirectory(tmp_path / "f" / "g").dump(caught(fail)) is not None
    (tmp_path / "x").write_text("")
    assert DumpDirectory(tmp_path / "x").dump(caught(fail)) is None


# ----------------------------------------------------------------- options


@pytest.mark.parametrize("options, error", [
    ({"max_dump": 3}, TypeError),
    ({"max_dumps": 0}, ValueError),
    ({"max_dumps": -1}, ValueError),
    ({"max_total_bytes": -1}, ValueError),
    ({"max_total_bytes": 1.5}, TypeError),
    ({"min_interval": -1}, ValueError),
    ({"min_interval": "1"}, TypeError),
    ({"max_objects": True}, TypeError),
])
def test_bad_options_are_refused_up_front(tmp_path, options, error):
    with pytest.raises(error):
        DumpDirectory(tmp_path, **options)


def test_none_means_no_limit(tmp_path):
    files = DumpDirectory(tmp_path, max_dumps=None, max_total_bytes=None,
                          min_interval=None, max_objects=None)
    for i in range(4):
        fake_dump(tmp_path, "20261122T10%02d00Z" % i, size=1000)
    assert files.prune() == []
    assert files.dump_options()["max_objects"] is None
