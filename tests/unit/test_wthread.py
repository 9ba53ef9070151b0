"""The body compressed and written on a writer thread (src/writer/
wthread.c): a body of many buffers reads back whole, a write that fails on
that thread fails the dump and leaves no file, and no thread outlives the
dump."""

import os
import subprocess
import sys
import textwrap

import heapdump


def tasks():
    return len(os.listdir("/proc/self/task"))


def test_a_body_of_many_buffers_reads_back_whole(tmp_path):
    # about 30 MB of msgpack: far more than the ring's 4 x 128 KiB
    words = ["word-%d-%s" % (i, "x" * (i % 50)) for i in range(400_000)]
    # a first dump big enough to start the writer thread: a sanitizer's
    # own thread, started with the first thread, is counted from then on
    heapdump.dump(tmp_path / "first.dump")
    before = tasks()
    path = heapdump.dump(tmp_path / "big.dump", max_items=None,
                         max_objects=2_000_000)
    assert tasks() == before
    d = heapdump.load(path)
    [texts] = [f.locals["words"] for t in d.threads for f in t.frames
               if "words" in f.locals]
    assert texts == words


def test_a_body_of_one_buffer_starts_no_thread(tmp_path):
    # a small dump (a web request's) is compressed once at the close, on
    # the dumping thread; one past the first 128 KiB buffer on the writer
    # thread.  Both read back.  In a child: this process's dumps are big.
    script = textwrap.dedent("""
        import os, sys
        from heapdump import _heapdump
        def small():
            return _heapdump.dump(sys.argv[1] + "/small.dump")
        def big():
            words = ["word-%d" % i for i in range(50_000)]
            return _heapdump.dump(sys.argv[1] + "/big.dump")
        for totals in (small(), big()):
            print(totals["bytes"], totals["writer_thread"])
    """)
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path)],
                         capture_output=True, text=True, check=True).stdout
    (small_bytes, small_thread), (big_bytes, big_thread) = [
        line.split() for line in out.splitlines()]
    assert int(small_bytes) < 128 * 1024 and small_thread == "False"
    assert int(big_bytes) > 128 * 1024 and big_thread == "True"
    assert heapdump.load(tmp_path / "small.dump").threads
    [texts] = [f.locals["words"] for t in heapdump.load(
        tmp_path / "big.dump").threads for f in t.frames
        if "words" in f.locals]
    assert texts == ["word-%d" % i for i in range(50_000)]


def test_a_write_failing_on_the_writer_thread_fails_the_dump(tmp_path):
    script = textwrap.dedent("""
        import errno, os, resource, signal, sys
        import heapdump
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        words = [os.urandom(16).hex() for i in range(300_000)]
        resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))
        path = os.path.join(sys.argv[1], "x.dump")
        try:
            heapdump.dump(path, max_items=None)
        except OSError as e:
            print("OSError", e.errno == errno.EFBIG)
        else:
            print("written")
        print(sorted(os.listdir(sys.argv[1])))
        print(len(os.listdir("/proc/self/task")))
    """)
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    lines = out.stdout.splitlines()
    assert lines[:2] == ["OSError True", "[]"], (out.stdout, out.stderr)
