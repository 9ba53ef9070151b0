"""Calling a C type's method on the stand-in of an opaque object (a
BytesIO, a struct.Struct) raises the one clear error for calling code
from a dump, naming the method and the type, on the instance and through
the class; a dumped lock's locked() answers from its state."""

import io
import struct
import threading

import pytest
from scenes import roundtrip

from heapdump import _surrogates as S


def test_c_methods_raise_the_clear_error(tmp_path):
    held = threading.Lock()
    held.acquire()
    try:
        _, (b, st, lock) = roundtrip(
            tmp_path, [io.BytesIO(b"abc"), struct.Struct("<i"), held])
    finally:
        held.release()
    assert isinstance(b, S.Opaque) and isinstance(st, S.Opaque)
    # a heap C type's dict is in the dump: its methods are named as
    # "module.Type.method()"; a static type's (3.9-3.11 BytesIO) is not:
    # the attribute is missing, and the error says why
    for call, named in ((lambda: b.getvalue(), "getvalue"),
                        (lambda: b.seek(0), "seek"),
                        (lambda: st.pack(1), "pack")):
        with pytest.raises(S.DumpedCodeError) as e:
            call()
        assert named in str(e.value) and S.CALL_REFUSED in str(e.value)
        assert "method_descriptor" not in str(e.value)
    if "getvalue" in type(b).__dict__:
        with pytest.raises(S.DumpedCodeError) as e:
            type(b).getvalue(b)
        assert str(e.value).startswith("_io.BytesIO.getvalue()")
    with pytest.raises(AttributeError):
        b.nothing_of_the_kind          # hasattr() goes on
    assert not hasattr(b, "__array_interface__")
    # the state is in the dump: answered
    assert lock.locked() is True
    # dunders stay the loader's own: repr and sizes go on
    assert "opaque" in repr(b)
