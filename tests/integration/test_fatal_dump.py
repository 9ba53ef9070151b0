"""Fatal-signal dumps at the C level (heapdump._heapdump.fatal_install):
the process dies as without heapdump, and a second fault while the dump
reads an object abandons that object only."""

import signal

import heapdump
from conftest import PROGRAMS, child_env, run_python
from heapdump import _surrogates as S


def test_second_fault_abandons_the_object_and_finishes(tmp_path, hdtest_dir):
    r = run_python(script=PROGRAMS / "fatal_corrupt.py", args=[tmp_path],
                   env=child_env(PYTHONPATH=child_env()["PYTHONPATH"] + ":" +
                                 str(hdtest_dir)), check=False)
    assert r.returncode == -signal.SIGSEGV, r.stderr
    files = list(tmp_path.glob("heapdump-*-SIGSEGV.dump"))
    assert len(files) == 1, (list(tmp_path.iterdir()), r.stderr)
    dump = heapdump.load(files[0])
    assert dump.trailer is not None  # the file was finished
    assert dump.trailer["errors"] >= 1
    assert dump.headers["Heapdump-Signal"] == "SIGSEGV (11)"
    assert "holding the GIL" in dump.headers["Heapdump-Fault-Thread"]
    frame = dump.threads[0].frames[0]
    assert frame.code.name == "main"
    assert frame.locals["good"] == {"kept": "value-that-survives"}
    broken = frame.locals["broken"]
    assert type(broken) is S.Unreadable, repr(broken)
