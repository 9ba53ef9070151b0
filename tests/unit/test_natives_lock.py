"""_thread.lock and _thread.RLock written as NATIVE records (their held
flag, an RLock's owner and count, read through the C layout of this
version) and rebuilt as stand-ins that answer locked() and refuse to be
acquired.  Each test dumps in this process and loads the dump."""

import threading

import pytest
from scenes import roundtrip

from heapdump import _natives
from heapdump import _surrogates as S


def test_lock_held_or_not(tmp_path):
    free, held = threading.Lock(), threading.Lock()
    held.acquire()
    try:
        _, (f, h) = roundtrip(tmp_path, [free, held])
    finally:
        held.release()
    assert type(f) is _natives.DumpedLock and type(h) is _natives.DumpedLock
    assert f.locked() is False and f.held is False
    assert h.locked() is True and h.held is True
    assert repr(f) == "<unlocked _thread.lock object (from the dump)>"
    assert repr(h) == "<locked _thread.lock object (from the dump)>"


def test_rlock_owner_and_count(tmp_path):
    free, mine = threading.RLock(), threading.RLock()
    other = threading.RLock()
    mine.acquire()
    mine.acquire()
    mine.acquire()
    taken, done = threading.Event(), threading.Event()
    idents = []

    def hold():
        other.acquire()
        idents.append(threading.get_ident())
        taken.set()
        done.wait()
        other.release()

    t = threading.Thread(target=hold)
    t.start()
    taken.wait()
    try:
        _, (f, m, o) = roundtrip(tmp_path, [free, mine, other])
    finally:
        done.set()
        t.join()
        for _ in range(3):
            mine.release()
    assert type(m) is _natives.DumpedRLock
    assert (f.locked(), f.owner, f.count) == (False, None, 0)
    assert (m.locked(), m.owner, m.count) == (True, threading.get_ident(), 3)
    assert (o.locked(), o.owner, o.count) == (True, idents[0], 1)
    assert repr(m) == ("<locked _thread.RLock object owner=%d count=3 "
                       "(from the dump)>" % threading.get_ident())
    assert repr(f) == ("<unlocked _thread.RLock object owner=0 count=0 "
                       "(from the dump)>")


@pytest.mark.parametrize("method", ["acquire", "release", "__enter__",
                                    "_at_fork_reinit"])
def test_a_dumped_lock_never_blocks(tmp_path, method):
    held = threading.Lock()
    held.acquire()
    rl = threading.RLock()
    try:
        _, (h, r) = roundtrip(tmp_path, [held, rl])
    finally:
        held.release()
    for lock in (h, r):
        with pytest.raises(S.DumpedCodeError) as e:
            getattr(lock, method)()
        assert "%s()" % method in str(e.value)
        assert "cannot be acquired" in str(e.value)
    with pytest.raises(S.DumpedCodeError):
        with h:
            pass
    with pytest.raises(S.DumpedCodeError, match="_is_owned"):
        r._is_owned()


def test_rlock_subclass_keeps_class_and_dict(tmp_path):
    class Named(type(threading.RLock())):
        pass

    n = Named()
    n.acquire()
    n.label = "jobs"
    try:
        _, (got,) = roundtrip(tmp_path, [n])
    finally:
        n.release()
    assert isinstance(got, _natives.DumpedRLock)
    assert type(got).__name__ == "Named"
    assert got.label == "jobs" and got.count == 1
    assert repr(got).startswith("<locked Named object owner=")


def test_threading_objects_over_locks(tmp_path):
    """Condition, Semaphore, Event are Python classes over locks: their
    locks are the stand-ins, their Python methods give the clear error."""
    cond = threading.Condition(threading.Lock())
    ev = threading.Event()
    ev.set()
    sem = threading.BoundedSemaphore(3)
    sem.acquire()
    with cond:
        _, (c, e, s) = roundtrip(tmp_path, [cond, ev, sem])
    assert isinstance(c._lock, _natives.DumpedLock) and c._lock.locked()
    assert e._flag is True
    assert s._value == 2
    with pytest.raises(S.DumpedCodeError, match="cannot be called"):
        e.is_set()
    with pytest.raises(S.DumpedCodeError):
        s.acquire()


def test_bad_lock_state_is_a_stand_in_never_a_value():
    for kind, state in ((_natives.LOCK, [1]), (_natives.LOCK, []),
                        (_natives.RLOCK, [None, 2]),
                        (_natives.RLOCK, [5, 0]), (_natives.RLOCK, [-1, 1])):
        cls = _natives.real_type("_thread",
                                 "lock" if kind == _natives.LOCK else "RLock")
        got = _natives.make(1, [cls, kind, state])
        assert isinstance(got, _natives.NativeStandIn), state
