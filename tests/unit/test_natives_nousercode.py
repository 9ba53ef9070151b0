"""No user code while dumping the lock and buffer kinds: Python classes
with __buffer__/__release_buffer__ (alone, and over a ctypes array, an
mmap, a numpy array), an RLock subclass and a lock-wrapping class that
override everything they can; a profiler and the spies' own records say
nothing ran, and the records say the kinds were written as NATIVE."""

import ctypes
import gc
import mmap
import sys
import threading

from scenes import DumpProfiler

import heapdump
from heapdump import _heapdump as c
from records import Records

try:
    import numpy
except ImportError:
    numpy = None


def test_lock_and_buffer_kinds_run_no_user_code(tmp_path):
    calls = []

    def spy_methods(name):
        def __buffer__(self, flags):
            calls.append(name + " buffer")
            return memoryview(b"spy")

        def __release_buffer__(self, view):
            calls.append(name + " release")

        def __repr__(self):
            calls.append(name + " repr")
            return "spy"

        def __getattribute__(self, attr):
            calls.append(name + " getattribute " + attr)
            return object.__getattribute__(self, attr)

        return {"__buffer__": __buffer__,
                "__release_buffer__": __release_buffer__,
                "__repr__": __repr__, "__getattribute__": __getattribute__}

    PyBuffer = type("PyBuffer", (), spy_methods("pybuffer"))
    SpyArray = type("SpyArray", (ctypes.c_int * 3,), spy_methods("ctypes"))
    SpyMmap = type("SpyMmap", (mmap.mmap,), spy_methods("mmap"))

    class SpyRLock(type(threading.RLock())):
        def acquire(self, *a, **k):
            calls.append("rlock acquire")

        def release(self):
            calls.append("rlock release")

        def locked(self):
            calls.append("rlock locked")

        def _is_owned(self):
            calls.append("rlock is_owned")

        def __repr__(self):
            calls.append("rlock repr")
            return "spy"

        def __getattribute__(self, attr):
            calls.append("rlock getattribute " + attr)
            return object.__getattribute__(self, attr)

    class LockLike:
        """Wraps a lock, the way a library's lock proxy does."""

        def __init__(self):
            self._lock = threading.Lock()

        def __getattr__(self, attr):
            calls.append("locklike getattr " + attr)
            return getattr(self._lock, attr)

        def locked(self):
            calls.append("locklike locked")
            return False

    values = [PyBuffer(), SpyArray(1, 2, 3), SpyMmap(-1, 8), SpyRLock(),
              LockLike(), memoryview(bytearray(b"view"))]
    if numpy is not None:
        SpyNd = type("SpyNd", (numpy.ndarray,), spy_methods("numpy"))
        values.append(numpy.arange(4).view(SpyNd))
    values[3].acquire()
    paths = []

    def scene(values):
        calls.clear()
        paths.append(heapdump.dump(tmp_path / "u.dump"))

    profiler = DumpProfiler()
    profiled = profiler.events

    gc.collect()
    sys.setprofile(profiler)
    try:
        scene(values)
    finally:
        sys.setprofile(None)
    assert calls == [], calls
    assert profiled == [], profiled
    natives = [r[5] for r in Records(paths[0]).of("NATIVE")]
    assert natives.count(c.NATIVE_RLOCK) >= 1          # the SpyRLock
    assert natives.count(c.NATIVE_LOCK) >= 1           # LockLike's lock
    assert natives.count(c.NATIVE_MEMORYVIEW) >= 1
    # the ctypes array, the mmap (and the ndarray) through their C base
    assert natives.count(c.NATIVE_BUFFER) >= (3 if numpy else 2), natives
    SpyMmap.close(values[2])
