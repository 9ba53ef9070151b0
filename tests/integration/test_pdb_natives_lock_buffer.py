"""Issue 12 point 3 at the pdb prompt: locks and buffers of a real child
program (its source deleted) read back through ``python -m heapdump.open``
driven by stdin: a held Lock and an RLock's owner and count, acquire()
refused with the clear error, a C method of an opaque object refused the
same way, memoryviews and a ctypes array with their values."""

import textwrap

import pytest
from test_pdb_dumps import heapdump_open, make_dump, replies

pytest.importorskip("heapdump._heapdump")

APP = textwrap.dedent('''\
    import array
    import ctypes
    import io
    import sys
    import threading

    import heapdump


    def main(out):
        lock = threading.Lock()
        lock.acquire()
        free = threading.Lock()
        rlock = threading.RLock()
        rlock.acquire()
        rlock.acquire()
        me = threading.get_ident()
        cond = threading.Condition()
        ev = threading.Event()
        ev.set()
        view = memoryview(array.array("i", [10, 20, 30, 40])).cast(
            "B").cast("i", [2, 2])
        ints = (ctypes.c_int * 3)(7, 8, 9)
        big = memoryview(bytes(range(256)) * 40)
        stream = io.BytesIO(b"abc")
        heapdump.dump(out, max_string=1000)


    main(sys.argv[1])
''')


def test_locks_and_buffers_at_the_prompt(tmp_path):
    path, _, _ = make_dump(tmp_path, {"app.py": APP})
    r = heapdump_open(tmp_path, path, commands=(
        "p lock\n"
        "p lock.locked(), free.locked()\n"
        "p rlock.owner == me, rlock.count\n"
        "p rlock\n"
        "p lock.acquire()\n"
        "p cond._lock\n"
        "p ev._flag\n"
        "p ev.is_set()\n"
        "p view.tolist(), view.shape, view.format\n"
        "p ints.tolist(), ints.strides\n"
        "p big\n"
        "p stream.getvalue()\n"))
    out = replies(r.stdout)
    text = "\n".join(out)
    assert "<locked _thread.lock object (from the dump)>" in out[1], text
    assert "(True, False)" in out[2], text
    assert "(True, 2)" in out[3], text
    assert "<locked _thread.RLock object owner=" in out[4], text
    assert "count=2 (from the dump)>" in out[4], text
    assert "DumpedCodeError" in out[5] and \
        "cannot be acquired" in out[5], text
    assert "<unlocked _thread.RLock object owner=0 count=0" in out[6], text
    assert "True" in out[7], text
    assert "DumpedCodeError" in out[8] and "cannot be called" in out[8], text
    assert "([[10, 20], [30, 40]], (2, 2), 'i')" in out[9], text
    assert "([7, 8, 9], (4,))" in out[10], text
    assert "1000 of 10240 bytes dumped: cut" in out[11], text
    assert "getvalue" in out[12] and "cannot be called" in out[12], text
    assert "method_descriptor" not in text, text
    assert "Traceback" not in r.stderr, r.stderr
