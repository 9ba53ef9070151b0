"""heapdump.open's command line, in process, with the loader stubbed out.

tests/integration/test_pdb_dumps.py runs the real command on real files."""

import pytest

import modelfactory as mf
from heapdump import _model, _report
from heapdump import open as hopen
from modelfactory import clean_caches  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("clean_caches")


@pytest.fixture
def loaded(monkeypatch):
    """open's loader returns this dump (set .dump) or raises (set .error)."""

    class Loaded:
        dump = None
        error = None
        paths = []

    def fake_load(path):
        Loaded.paths.append(path)
        if Loaded.error is not None:
            raise Loaded.error
        return Loaded.dump

    monkeypatch.setattr(hopen, "_load", fake_load)
    return Loaded


def test_summary_prints_the_report(loaded, capsys):
    loaded.dump = mf.capture(mf.PROGRAM, module_name="prog")
    assert hopen.main(["--summary", "x.dump"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert loaded.paths == ["x.dump"]
    assert out == _report.render(loaded.dump)
    assert out.startswith("heapdump /nonexistent/test.dump\nReason:     ")
    assert "ValueError: total 10 over 5\n" in out


@pytest.mark.parametrize("error, message", [
    (_model.HeapdumpError("not a heapdump file (no MIME header)"),
     "x.dump: not a heapdump file (no MIME header)"),
    (FileNotFoundError(2, "No such file or directory"),
     "cannot read x.dump: No such file or directory"),
    (IsADirectoryError(21, "Is a directory"),
     "cannot read x.dump: Is a directory"),
])
def test_load_errors_are_one_line(loaded, capsys, error, message):
    loaded.error = error
    assert hopen.main(["x.dump"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "python -m heapdump.open: error: %s\n" % message


def test_thread_chosen_by_ident_or_native_id(loaded, monkeypatch):
    other = mf.idle_thread("/nonexistent/w.py", ident=0x1234,
                           native_id=777)
    loaded.dump = mf.capture(mf.NOEXC, extra_threads=[other])
    chosen = []
    monkeypatch.setattr(hopen, "debug",
                        lambda dump, thread=None: chosen.append(thread) or 0)
    assert hopen.main(["--thread", "0x1234", "x.dump"]) == 0
    assert hopen.main(["--thread", "777", "x.dump"]) == 0
    assert hopen.main(["x.dump"]) == 0
    assert chosen == [other, other, None]


def test_unknown_thread_is_an_error(loaded, capsys):
    loaded.dump = mf.capture(mf.NOEXC)
    ident = loaded.dump.threads[0].ident
    assert hopen.main(["--thread", "99", "x.dump"]) == 1
    out, err = capsys.readouterr()
    assert err == ("python -m heapdump.open: error: no thread with ident "
                   "or native id 99 in x.dump (threads: MainThread "
                   "%d/4242)\n" % ident)


def test_bad_thread_id_is_a_usage_error(loaded, capsys):
    with pytest.raises(SystemExit) as e:
        hopen.main(["--thread", "main", "x.dump"])
    assert e.value.code == 2
    assert "not a thread id: 'main'" in capsys.readouterr().err


def test_nothing_to_debug(loaded, capsys):
    loaded.dump = mf.bare_dump()
    assert hopen.main(["x.dump"]) == 1
    out, err = capsys.readouterr()
    assert "Exception: none\n" in out
    assert err == ("python -m heapdump.open: error: /nonexistent/bare.dump "
                   "has no frames to debug (no exception traceback and no "
                   "thread stack)\n")


def test_summary_before_pdb_names_a_few_threads(loaded):
    dump = mf.capture(mf.NOEXC, extra_threads=[
        mf.idle_thread("/nonexistent/w.py", name="w%d" % i, ident=100 + i,
                       native_id=200 + i) for i in range(9)])
    lines = hopen.summary_lines(dump, "the thread that called dump()",
                                dump.threads[0])
    threads = [ln for ln in lines if ln.startswith("Threads:")]
    assert threads == [
        "Threads:   10: MainThread (%d, called dump(), main); w0 (100); "
        "w1 (101); w2 (102); w3 (103); w4 (104); ... 4 more (--summary "
        "lists them)" % dump.threads[0].ident]
    assert lines[-1] == ("Debugging the thread that called dump() "
                         "(MainThread); 'where' shows the stack, 'q' quits.")


def test_placeholder_exception_still_gives_its_traceback():
    from heapdump import _frames

    dump = mf.capture(mf.PROGRAM)
    dump.exception = object()           # e.g. an Omitted placeholder
    dump.traceback = dump.traceback_of(
        next(e for e in dump.objects if isinstance(e, ValueError)))
    dump._tracebacks = {}
    _frames.realize(dump)
    exc, tb, thread, what = hopen._pick(dump, None)
    assert exc is None and thread is None
    assert what == "the exception's traceback"
    lines = []
    while tb is not None:
        lines.append((tb.tb_frame.f_code.co_name, tb.tb_lineno))
        tb = tb.tb_next
    assert lines == [("main", mf.MAIN_CALL), ("process", mf.PROCESS_CALL),
                     ("check", mf.RAISE_LINE)]


def test_frames_that_cannot_be_rebuilt_are_reported(monkeypatch, capsys):
    import io

    from heapdump import _frames

    real_new = _frames._frame_new

    def frame_new(code, *args):
        if code.co_name == "check":
            raise ValueError("damaged")
        return real_new(code, *args)

    monkeypatch.setattr(_frames, "_frame_new", frame_new)
    monkeypatch.setattr("sys.stdin", io.StringIO("where\n"))
    dump = mf.capture(mf.PROGRAM)
    assert hopen.debug(dump) == 0
    out = capsys.readouterr().out
    assert "Warning:   1 dumped frame could not be rebuilt for pdb " \
        "(<dumped frame check at /nonexistent/heapdump-tests/prog.py:%d>: " \
        "ValueError: damaged)\n" % mf.RAISE_LINE in out
    # pdb starts at the innermost frame it has
    assert "(17)process()\n-> return check(user, total, lookup)\n" in out
    assert "check()" not in out.split("(Pdb)", 1)[1]
