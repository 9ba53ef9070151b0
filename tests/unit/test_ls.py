"""``python -m heapdump ls [DIR]``: one line per dump, newest last, from
the header lines alone; files that are not dumps are marked."""

import os
import subprocess
import sys

import heapdump
from conftest import child_env
from heapdump import __main__ as cli
from heapdump.cli import ls as ls_command


def make_dump(directory, exc, reason=None):
    try:
        raise exc
    except Exception as e:
        return heapdump.dump(directory, reason=reason, max_objects=1000,
                             exc=e)


def retime(path, when):
    """The same dump with another Heapdump-Time (same length)."""
    data = path.read_bytes()
    start = data.index(b"Heapdump-Time: ") + len(b"Heapdump-Time: ")
    end = data.index(b"\n", start)
    assert len(when) == end - start
    path.write_bytes(data[:start] + when.encode() + data[end:])


def run_ls(*args, env=None):
    r = subprocess.run([sys.executable, "-m", "heapdump", "ls"] +
                       [str(a) for a in args], capture_output=True,
                       text=True, env=env or child_env(), timeout=60)
    return r.returncode, r.stdout, r.stderr


def test_one_line_per_dump_newest_last(tmp_path):
    first = make_dump(tmp_path, ValueError("bad total"), "first reason")
    second = make_dump(tmp_path, KeyError("sku"))
    # the second is older, whatever the names say
    retime(second, "2020-01-02T03:04:05.000000Z")
    status, out, err = run_ls(tmp_path)
    assert status == 0, err
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("2020-01-02T03:04:05Z  ")
    assert second.name in lines[0] and "KeyError: sku" in lines[0]
    assert "[dump() called]" in lines[0]
    assert first.name in lines[1]
    assert "ValueError: bad total  [first reason]" in lines[1]
    assert " %d " % os.getpid() in lines[1]
    size = first.stat().st_size
    # one decimal below 100 KiB, none from there
    shown = " %.1fK " % (size / 1024.0) if size < 100 * 1024 else \
        " %dK " % (size // 1024)
    assert shown in lines[1], (size, lines[1])


def test_foreign_and_corrupt_files_are_marked(tmp_path):
    make_dump(tmp_path, ValueError("ok"))
    (tmp_path / "notes.dump").write_text("just some notes\n\nmore\n")
    (tmp_path / "empty.dump").write_bytes(b"")
    (tmp_path / "noise.dump").write_bytes(os.urandom(70 * 1024))
    (tmp_path / "cut.dump").write_bytes(b"MIME-Version: 1.0\nHeapdump-Vers")
    (tmp_path / "unrelated.txt").write_text("not listed")
    status, out, err = run_ls(tmp_path)
    assert status == 0, err
    lines = {line.split()[3]: line for line in out.splitlines()}
    assert set(lines) == {"notes.dump", "empty.dump", "noise.dump",
                          "cut.dump"} | {p.name for p in
                                         tmp_path.glob("heapdump-*")}
    assert lines["notes.dump"].endswith("?? not a heapdump file")
    assert lines["empty.dump"].endswith("?? empty file")
    assert "??" in lines["noise.dump"]
    assert lines["cut.dump"].endswith("?? truncated in its headers")
    assert sum("??" in line for line in lines.values()) == 4


def test_only_the_headers_are_read(tmp_path, monkeypatch, capsys):
    path = make_dump(tmp_path, ValueError("big"))
    with open(path, "ab") as f:
        f.write(os.urandom(1 << 20))        # a body ls must not read
    read = []
    real_open = open

    class Spy:
        def __init__(self, f):
            self.f = f

        def read(self, n=-1):
            data = self.f.read(n)
            read.append(len(data))
            return data

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.f.close()

    monkeypatch.setattr(ls_command, "open",
                        lambda p, mode="r": Spy(real_open(p, mode)),
                        raising=False)
    assert cli.main(["ls", str(tmp_path)]) == 0
    assert "ValueError: big" in capsys.readouterr().out
    assert 0 < sum(read) <= 64 * 1024 + 4


def test_default_directory_and_errors(tmp_path):
    make_dump(tmp_path, ValueError("here"))
    status, out, _ = run_ls(env=child_env(HEAPDUMP_DIR=tmp_path))
    assert status == 0 and "ValueError: here" in out
    status, out, err = run_ls(tmp_path / "missing")
    assert status == 1 and out == ""
    assert "cannot access" in err
    (tmp_path / "empty").mkdir()
    status, out, err = run_ls(tmp_path / "empty")
    assert status == 0 and out == "" and "no dumps in" in err
    # a file: itself
    [one] = tmp_path.glob("heapdump-*.dump")
    status, out, _ = run_ls(one)
    assert status == 0 and out.count("\n") == 1


def test_help_lists_ls():
    r = subprocess.run([sys.executable, "-m", "heapdump", "--help"],
                       capture_output=True, text=True, env=child_env())
    assert "ls " in r.stdout
