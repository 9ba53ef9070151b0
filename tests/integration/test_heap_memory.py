"""Dumps when memory runs high: dump_on_memory() (a watcher thread, a
limit in bytes or a fraction of the cgroup's), and a MemoryError reaching
the exception hooks, both in heap scope."""

import os

import pytest

from heapdump import _memory
from records import Records, headers


def test_the_watcher_dumps_the_heap_once_over_the_limit(python, tmp_path):
    r = python("""
        import glob, os, sys, time
        import heapdump
        from heapdump import _memory
        d = sys.argv[1]
        rss = _memory.resident_bytes()
        limit = heapdump.dump_on_memory(rss + (64 << 20), d, interval=0.05,
                                        min_interval=3600)
        assert limit == rss + (64 << 20), limit
        BALLAST = [bytearray(1 << 20) for _ in range(160)]
        for _ in range(200):
            if glob.glob(os.path.join(d, "*.dump")):
                break
            time.sleep(0.05)
        time.sleep(0.5)      # another look or ten: min_interval holds
        heapdump.disable()
        print(len(glob.glob(os.path.join(d, "*.dump"))))
    """, args=[tmp_path])
    assert r.stdout.split() == ["1"], r.stderr
    (path,) = tmp_path.glob("*.dump")
    assert path.name.endswith("-memory.dump")
    h = headers(path)
    assert h["Heapdump-Scope"] == "heap"
    assert h["Heapdump-Reason"].startswith("memory: ")
    assert "over the limit" in h["Heapdump-Reason"]
    recs = Records(str(path))
    # the ballast that took it over the limit is in it (the watcher may
    # look before the last of the 160 bytearrays of a MiB are made)
    big = [o for o in recs.objects if o[0] == 6 and o[3] >= 1 << 20]
    assert 48 <= len(big) <= 160


def test_disable_stops_the_watcher(python, tmp_path):
    r = python("""
        import sys, threading, heapdump
        heapdump.dump_on_memory(1 << 40, sys.argv[1], interval=0.05)
        names = [t.name for t in threading.enumerate()]
        assert "heapdump-memory-watcher" in names, names
        heapdump.disable()
        names = [t.name for t in threading.enumerate()]
        print("heapdump-memory-watcher" in names)
    """, args=[tmp_path])
    assert r.stdout.strip() == "False"


def test_a_fraction_is_of_the_cgroup_limit(tmp_path):
    # cgroup v2
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "memory.max").write_text("1073741824\n")
    proc = tmp_path / "cgroup"
    proc.write_text("0::/app\n")
    where = dict(root=str(tmp_path), proc=str(proc))
    assert _memory.cgroup_limit(**where) == 1 << 30
    assert _memory.memory_limit(0.5, **where) == 1 << 29
    (tmp_path / "app" / "memory.max").write_text("max\n")
    assert _memory.cgroup_limit(**where) is None
    # cgroup v1
    v1 = tmp_path / "memory" / "job"
    v1.mkdir(parents=True)
    (v1 / "memory.limit_in_bytes").write_text("536870912\n")
    proc.write_text("4:memory:/job\n1:cpu:/\n")
    assert _memory.cgroup_limit(**where) == 512 << 20
    (v1 / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    assert _memory.cgroup_limit(**where) is None
    # no cgroup limit: the machine's memory
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert _memory.memory_limit(0.25, **where) == int(total * 0.25)
    assert _memory.memory_limit(12345) == 12345
    for bad in (0, -1, 0.0, 1.5, "1G", True):
        with pytest.raises((TypeError, ValueError)):
            _memory.memory_limit(bad)


def test_a_memory_error_dumps_the_heap(python, tmp_path):
    r = python("""
        import sys, threading, heapdump
        heapdump.dump_on_unhandled_exceptions(sys.argv[1],
                                              fatal_signals=False)
        def work():
            raise MemoryError("in a thread")
        t = threading.Thread(target=work)
        t.start(); t.join()
        raise MemoryError("in the main thread")
    """, args=[tmp_path], check=False)
    assert r.returncode == 1 and "MemoryError: in the main thread" in r.stderr
    paths = sorted(tmp_path.glob("*.dump"))
    assert len(paths) == 2
    for path in paths:
        h = headers(path)
        assert h["Heapdump-Scope"] == "heap"
        assert h["Heapdump-Exception"].startswith("MemoryError")
    # other exceptions keep the directory's scope
    r = python("""
        import sys, heapdump
        heapdump.dump_on_unhandled_exceptions(sys.argv[1],
                                              fatal_signals=False)
        raise KeyError("x")
    """, args=[tmp_path / "other"], check=False)
    (path,) = (tmp_path / "other").glob("*.dump")
    assert headers(path)["Heapdump-Scope"] == "frames"
