"""The names of dump files (src/writer/names.c): the one builder of every
final and temporary name, which Python calls through _heapdump.dump_name
and _heapdump.tmp_name (default_filename(), the triggers' names) and the
signal and fatal dumps call in C; heapdump._files parses what it builds.
"""

import os
import random
import time

import pytest

import heapdump
from heapdump import _files, _heapdump
from heapdump._files import DumpDirectory


def stamp(when):
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(when))


def test_the_name_is_stamp_pid_and_tag():
    when = 1795774500.75   # 2026-11-27 10:15:00.75 UTC
    assert _heapdump.dump_name(None, "ValueError", when, 4242) == \
        "heapdump-20261127T101500Z-4242-ValueError.dump"
    assert _heapdump.dump_name(None, None, when, 4242) == \
        "heapdump-20261127T101500Z-4242.dump"
    assert _heapdump.dump_name(None, "", when, 1) == \
        "heapdump-20261127T101500Z-1.dump"


def test_the_stamp_is_utc_as_time_gmtime_says():
    # hand-made in C (strftime is not async-signal-safe): it must agree
    # with the C library's calendar on every date, leap days and centuries
    rng = random.Random(11)
    whens = [0, 59, 86399, 86400, 951782400, 951868799, 4107542400,
             253402300799] + [rng.randrange(0, 253402300800)
                              for _ in range(5000)]
    for when in whens:
        assert _heapdump.dump_name(None, None, when, 7) == \
            "heapdump-%s-7.dump" % stamp(when), when
    # now, by default; this process, by default
    before = stamp(time.time() - 1)
    name = _heapdump.dump_name(None)
    m = _files._DUMP_NAME.match(name)
    assert before <= m.group(1) <= stamp(time.time() + 1)
    assert m.group(2) == str(os.getpid())


def test_the_tag_keeps_ascii_letters_digits_and_underscore_only():
    name = _heapdump.dump_name(None, "Ошибка_é-2 x", 0, 1)
    assert name == "heapdump-19700101T000000Z-1-_2x.dump"
    # a tag of nothing but other characters is no tag
    assert _heapdump.dump_name(None, "Ошибка", 0, 1) == \
        "heapdump-19700101T000000Z-1.dump"
    long = _heapdump.dump_name(None, "E" * 200, 0, 1)
    assert long == "heapdump-19700101T000000Z-1-%s.dump" % ("E" * 60)


def test_every_name_built_is_one_retention_parses(tmp_path):
    class Ошибка(Exception):
        pass

    # a non-ASCII exception name used to give a name the retention never
    # saw (str.isalnum() kept the letters): one builder, one alphabet
    for exc in (ValueError(), Ошибка(), None):
        name = heapdump.default_filename(exc)
        assert _files._DUMP_NAME.match(name), name
    for tag in ("stacks", "SIGSEGV", "SIGUSR1", "x-y z", "Ünï"):
        path = _heapdump.dump_name(tmp_path, tag)
        assert os.path.dirname(path) == str(tmp_path)
        assert _files._DUMP_NAME.match(os.path.basename(path)), path


def test_default_filename_is_the_builders_name():
    when = 1795774500
    assert heapdump.default_filename(KeyError("k"), when) == \
        _heapdump.dump_name(None, "KeyError", when) == \
        "heapdump-20261127T101500Z-%d-KeyError.dump" % os.getpid()


def test_a_taken_name_gets_the_next_number(tmp_path):
    when = 1795774500
    first = _heapdump.dump_name(tmp_path, "stacks", when, 9)
    assert first == str(tmp_path /
                        "heapdump-20261127T101500Z-9-stacks.dump")
    # the same name again while nothing is there
    assert _heapdump.dump_name(tmp_path, "stacks", when, 9) == first
    open(first, "w").close()
    second = _heapdump.dump_name(tmp_path, "stacks", when, 9)
    assert second == str(tmp_path /
                         "heapdump-20261127T101500Z-9-stacks-2.dump")
    open(second, "w").close()
    os.symlink("nowhere", tmp_path /
               "heapdump-20261127T101500Z-9-stacks-3.dump")  # dangling
    assert _heapdump.dump_name(tmp_path, "stacks", when, 9).endswith(
        "-9-stacks-3.dump")
    for name in (first, second):
        assert _files._DUMP_NAME.match(os.path.basename(name))
    # the bare name (no directory) looks at nothing
    assert _heapdump.dump_name(None, "stacks", when, 9) == \
        os.path.basename(first)


def test_the_triggers_names_skip_taken_names(tmp_path):
    files = DumpDirectory(tmp_path)
    a = files.new_path(tag="SIGUSR1")
    open(a, "w").close()
    b = files.new_path(tag="SIGUSR1")
    assert b != a and not b.exists()
    # in the same second (a slow run, under valgrind, may cross one): -2
    if _files._DUMP_NAME.match(b.name).group(1) == \
            _files._DUMP_NAME.match(a.name).group(1):
        assert b.name == a.name[:-5] + "-2.dump"


def test_the_temporary_name_is_never_a_final_name(tmp_path):
    for tag in ("ValueError", "stacks", None):
        final = _heapdump.dump_name(tmp_path, tag)
        tmp = _heapdump.tmp_name(final, 4242)
        assert tmp == final + ".4242.tmp"
        base = os.path.basename(tmp)
        m = _files._TMP_NAME.match(base)
        assert m and m.groups() == (os.path.basename(final), "4242")
        assert not _files._DUMP_NAME.match(base)
    assert _heapdump.tmp_name("x.dump").endswith(".%d.tmp" % os.getpid())


def test_the_writer_uses_the_temporary_name(tmp_path):
    # the C writer's temporary file is tmp_name's: a file already there
    # under that name makes the writer's O_EXCL open fail
    final = tmp_path / "heapdump-20261127T101500Z-1-x.dump"
    blocker = _heapdump.tmp_name(final)
    open(blocker, "w").close()
    with pytest.raises(OSError) as e:
        heapdump.dump(final)
    assert e.value.errno == 17       # EEXIST
    os.unlink(blocker)
    assert heapdump.dump(final) == final and not os.path.exists(blocker)


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(TypeError):
        _heapdump.dump_name(None, 5)
    with pytest.raises(ValueError):
        _heapdump.dump_name(None, None, float("nan"))
    with pytest.raises(OSError):
        _heapdump.dump_name(str(tmp_path / ("d" * 5000)), None)
    with pytest.raises(ValueError):
        _heapdump.tmp_name("x" * 5000)
