"""Flask under gunicorn, real HTTP on loopback: heapdump.wsgi's middleware
(app.wsgi_app, as Flask documents middleware) dumps the view's failure
through Flask's got_request_exception signal; Flask answers its own 500,
logs the traceback, and the worker goes on."""

import sys

import pytest

import webtests as w

pytestmark = pytest.mark.integrations


@pytest.fixture
def server(tmp_path):
    w.require("flask")
    w.require("gunicorn")
    dumps = tmp_path / "dumps"
    s = w.Server([sys.executable, "-m", "gunicorn", "--bind", "fd://{fd}",
                  "--workers", "1", "--graceful-timeout", "2",
                  "web_flask:app"],
                 cwd=str(tmp_path), env=w.server_env(dumps))
    try:
        s.wait_ready("/ok")
        s.dumps = dumps
        yield s
    finally:
        s.stop()


def test_a_failing_request_dumps_and_flask_answers_500(server):
    status, body = server.request("/ok")
    assert status == 200
    pid = body.split()[1]
    status, body = server.request("/fail?q=1&token=abc",
                                  headers=w.secret_headers(w.secrets()))
    assert status == 500
    assert "Internal Server Error" in body
    # the next request succeeds, in the same worker
    assert server.request("/ok") == (200, "ok %s" % pid)
    [path] = w.dumps_in(server.dumps)
    assert "Exception on /fail [GET]" in server.output()    # Flask's log
    dump = w.check_view_dump(path, view_file="web_flask.py",
                             reason_re=r"Flask view \(GET /fail\)",
                             request_path="/fail")
    assert dump.headers["Heapdump-Pid"] == pid


def test_secrets_in_headers_are_not_in_the_file(server):
    s = w.secrets()
    status, _ = server.request("/fail", headers=w.secret_headers(s))
    assert status == 500
    [path] = w.dumps_in(server.dumps)
    w.assert_no_secrets(path, s)


def test_a_burst_of_failures_is_rate_limited(server):
    for _ in range(200):
        status, body = server.request("/fail")
        assert status == 500
    assert len(w.dumps_in(server.dumps)) == 1
    # another failure is another dump
    assert server.request("/other")[0] == 500
    assert len(w.dumps_in(server.dumps)) == 2
    assert server.request("/ok")[0] == 200
