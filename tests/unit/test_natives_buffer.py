"""memoryview and the C buffer exporters (ctypes, mmap, numpy.ndarray)
written as NATIVE records: format, item size, shape, strides, readonly,
nbytes and the items' bytes (cut at max_string, visibly), read through
the memoryview's Py_buffer or the exporter's own C bf_getbuffer; loaded
as DumpedBuffer stand-ins, or a real numpy array where numpy imports.
Each test dumps in this process and loads the dump."""

import array
import ctypes
import mmap
import struct

import pytest
from scenes import roundtrip

from heapdump import _natives

try:
    import numpy
except ImportError:
    numpy = None

NEEDS_NUMPY = pytest.mark.skipif(
    numpy is None, reason="numpy is not installed (requirements-test.txt "
    "has it: make venvs)")


def same_view(got, live):
    m = memoryview(live) if not isinstance(live, memoryview) else live
    assert isinstance(got, _natives.DumpedBuffer)
    assert got.format == m.format and got.itemsize == m.itemsize
    assert got.shape == m.shape and got.ndim == m.ndim
    assert got.strides == m.strides and got.readonly == m.readonly
    assert got.nbytes == m.nbytes and got.data == m.tobytes()
    assert not got.cut


def test_memoryviews(tmp_path):
    raw = b"abcdefgh"
    ints = array.array("i", range(12))
    views = [memoryview(raw), memoryview(bytearray(raw)),
             memoryview(ints).cast("B").cast("i", [3, 4]),
             memoryview(bytearray(range(20)))[1::3],
             memoryview(ints)[::-2],
             memoryview(struct.pack("<d", 2.5)).cast("d")]
    _, got = roundtrip(tmp_path, views)
    for g, live in zip(got, views):
        same_view(g, live)
        assert g.tolist() == live.tolist()
        assert g.exporter == "memoryview"
    assert got[0].obj == raw and got[0].readonly is True
    assert got[1].readonly is False
    assert got[2].tolist() == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert got[3].strides == (3,) and got[3].tolist() == [1, 4, 7, 10, 13,
                                                          16, 19]
    assert got[4].tolist() == [11, 9, 7, 5, 3, 1]
    assert len(got[2]) == 3 and got[2][1] == [4, 5, 6, 7]
    assert "[97, 98, 99" in repr(got[0])


def test_memoryview_cut_says_so(tmp_path):
    big = memoryview(array.array("i", range(1000)))
    _, (g,) = roundtrip(tmp_path, [big], max_string=100)
    assert g.cut and g.original_nbytes == 4000 and g.nbytes == 4000
    assert len(g.data) == 100 and g.data == big.tobytes()[:100]
    assert "100 of 4000 bytes dumped: cut" in repr(g)
    with pytest.raises(AttributeError, match="cut"):
        g.tolist()


def test_pickle_buffer(tmp_path):
    import pickle
    pb = pickle.PickleBuffer(bytearray(b"pickled"))
    _, (g,) = roundtrip(tmp_path, [pb])
    same_view(g, pb)
    assert g.exporter == "pickle.PickleBuffer" and g.readonly is False
    assert g.tobytes() == b"pickled"


def test_released_memoryview_stays_opaque(tmp_path):
    m = memoryview(b"x")
    m.release()
    _, (g,) = roundtrip(tmp_path, [m])
    assert not isinstance(g, _natives.DumpedBuffer)


def test_ctypes(tmp_path):
    class Point(ctypes.Structure):
        _fields_ = [("x", ctypes.c_int), ("y", ctypes.c_double)]

    arr = (ctypes.c_int * 4)(5, -6, 7, 8)
    grid = ((ctypes.c_short * 3) * 2)((1, 2, 3), (4, 5, 6))
    p = Point(4, 2.5)
    _, (a, gr, pt) = roundtrip(tmp_path, [arr, grid, p])
    same_view(a, arr)
    assert a.tolist() == [5, -6, 7, 8]
    assert a.exporter.endswith("c_int_Array_4")
    same_view(gr, grid)
    assert gr.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert pt.data == bytes(memoryview(p)) and pt.shape == ()
    assert pt.format.startswith("T{")
    with pytest.raises(AttributeError, match="format"):
        pt.tolist()                   # a struct format: bytes only


def test_mmap(tmp_path):
    m = mmap.mmap(-1, 32)
    m.write(b"hello")
    closed = mmap.mmap(-1, 8)
    closed.close()
    try:
        _, (g, c) = roundtrip(tmp_path, [m, closed])
    finally:
        m.close()
    assert g.exporter == "mmap.mmap" and g.data == b"hello" + bytes(27)
    assert g.readonly is False and g.shape == (32,)
    assert not isinstance(c, _natives.DumpedBuffer)    # no buffer: opaque


@NEEDS_NUMPY
def test_numpy_real_arrays(tmp_path):
    a = numpy.arange(12, dtype=numpy.int64).reshape(3, 4)
    values = [a, a.T, numpy.array([1.5, -2.25], dtype=">f8"),
              numpy.array([True, False]), numpy.zeros((2, 0), "u2"),
              a[::2, 1::2]]
    _, got = roundtrip(tmp_path, values)
    for g, live in zip(got, values):
        assert type(g) is numpy.ndarray
        assert g.dtype == live.dtype and g.shape == live.shape
        assert (g == live).all()
    assert got[2].dtype.str == ">f8"


@NEEDS_NUMPY
def test_numpy_object_and_cut_arrays_are_not_made(tmp_path):
    obj = numpy.array([1, "x", None], dtype=object)
    big = numpy.arange(1000, dtype=numpy.int32)
    _, (o, b) = roundtrip(tmp_path, [obj, big], max_string=64)
    assert not isinstance(o, (numpy.ndarray, _natives.DumpedBuffer))
    assert isinstance(b, _natives.DumpedBuffer) and b.cut
    assert b.original_nbytes == 4000 and len(b.data) == 64
    assert b.data == big.tobytes()[:64]


def test_numpy_stand_in_without_numpy():
    """Where numpy does not import, a numeric ndarray is a DumpedBuffer
    (made here from a record's state: the loader's own path)."""
    state = ["<i", 4, False, 8, struct.pack("<2i", 3, 4), None, 1, 2, 4]
    b = _natives._dumped_buffer("numpy.ndarray", state, None)
    assert b.tolist() == [3, 4] and b.shape == (2,)
    assert b.dtype == "<i4"
    b = _natives._dumped_buffer("numpy.ndarray", ["?", 1, True, 1, b"\1",
                                                  None, 0], None)
    assert b.dtype == "|b1" and b.tolist() is True and b.shape == ()


def test_bad_buffer_state_is_a_stand_in_never_a_value():
    good = ["B", 1, True, 3, b"abc", None, 1, 3, 1]
    assert isinstance(_natives.make(1, [None, _natives.MEMORYVIEW, good]),
                      _natives.DumpedBuffer)
    for bad in (["B", 1, True, 4, b"abc", None, 1, 3, 1],   # nbytes
                ["B", 1, True, 3, b"abcd", None, 1, 3, 1],  # data > nbytes
                ["B", 0, True, 3, b"abc", None, 1, 3, 1],   # itemsize
                ["B", 1, True, 3, b"abc", None, 2, 3, 1],   # ndim
                ["B", 1, 1, 3, b"abc", None, 1, 3, 1]):     # readonly
        got = _natives.make(1, [None, _natives.MEMORYVIEW, bad])
        assert isinstance(got, _natives.NativeStandIn), bad
    # zero items in a huge shape: made, but tolist() makes no huge list
    huge = _natives.make(1, [None, _natives.MEMORYVIEW,
                             ["B", 1, True, 0, b"", None, 2, 10 ** 9, 0,
                              0, 1]])
    assert huge.shape == (10 ** 9, 0)
    with pytest.raises(AttributeError, match="shape"):
        huge.tolist()
    assert "nbytes 0" in repr(huge)
    empty = _natives.make(1, [None, _natives.MEMORYVIEW,
                              ["B", 1, True, 0, b"", None, 2, 2, 0, 0, 1]])
    assert empty.tolist() == [[], []]           # as numpy.zeros((2, 0))
