"""A bare WSGI function under the standard library's wsgiref server, real
HTTP on loopback (no framework needed: runs on every Python): the server
answers its own 500 for a failure of the call, and ends a response that
failed while it was iterated; the dump opens at the app's frame."""

import sys

import pytest

import heapdump
import webtests as w
from conftest import PROGRAMS


@pytest.fixture
def server(tmp_path):
    dumps = tmp_path / "dumps"
    s = w.Server([sys.executable, str(PROGRAMS / "web_wsgiref.py"), "{fd}"],
                 cwd=str(tmp_path), env=w.server_env(dumps))
    try:
        s.wait_ready("/ok")
        s.dumps = dumps
        yield s
    finally:
        s.stop()


def test_a_failing_call_dumps_and_the_server_answers_500(server):
    status, body = server.request("/ok")
    pid = body.split()[1]
    status, body = server.request("/fail?q=1&token=abc",
                                  headers=w.secret_headers(w.secrets()))
    assert status == 500
    assert server.request("/ok") == (200, "ok %s" % pid)
    [path] = w.dumps_in(server.dumps)
    # wsgiref prints the traceback, as without heapdump
    assert "ValueError: order 42 has 2 items" in server.output()
    w.check_view_dump(path, view_file="web_wsgiref.py", view_name="app",
                      reason_re=r"WSGI application call \(GET /fail\)",
                      request_path="/fail")


def test_a_failure_while_the_response_is_iterated(server):
    try:
        server.request("/stream")
    except OSError:
        pass            # the server may cut the connection
    [path] = w.dumps_in(server.dumps)
    dump = heapdump.load(path)
    assert dump.headers["Heapdump-Exception"].startswith("KeyError")
    assert "in its response (GET /stream)" in \
        dump.headers["Heapdump-Reason"]
    inner = dump.traceback.entries()[-1].frame
    assert inner.code.name == "stream"
    assert inner.locals["chunks"] == ["first"]
    assert dump.context["request"]["path"] == "/stream"
    assert server.request("/ok")[0] == 200


def test_secrets_in_headers_are_not_in_the_file(server):
    s = w.secrets()
    assert server.request("/fail", headers=w.secret_headers(s))[0] == 500
    [path] = w.dumps_in(server.dumps)
    w.assert_no_secrets(path, s)


def test_a_burst_of_failures_is_rate_limited(server):
    for _ in range(200):
        assert server.request("/fail")[0] == 500
    assert len(w.dumps_in(server.dumps)) == 1
    assert server.request("/ok")[0] == 200
