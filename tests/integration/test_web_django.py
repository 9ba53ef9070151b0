"""Django: heapdump.contrib.django.HeapdumpMiddleware through Django's test
client (tests/programs/web_django_client.py) and under gunicorn (threads)
answering real HTTP on loopback.  Django answers its own 500 and logs it
(django.request), the worker goes on, the dump opens at the view."""

import json
import sys

import pytest

import webtests as w
from conftest import PROGRAMS, run_python

pytestmark = pytest.mark.integrations


@pytest.fixture(autouse=True)
def django_installed():
    w.require("django")


def client(tmp_path, scenario):
    dumps = tmp_path / "dumps"
    r = run_python(script=PROGRAMS / "web_django_client.py",
                   args=[scenario], cwd=str(tmp_path),
                   env=w.server_env(dumps))
    return json.loads(r.stdout.splitlines()[-1]), r.stderr, dumps


# ------------------------------------------------------- the test client


def test_client_a_failing_view_dumps_and_django_answers_500(tmp_path):
    out, stderr, dumps = client(tmp_path, "fail")
    (s1, pid), (s2, body), (s3, pid_after), (s4, _) = out["responses"]
    assert (s1, s2, s3, s4) == (200, 500, 200, 404)
    assert "Server Error (500)" in body
    assert pid == pid_after
    # Django's own log record, as without heapdump
    assert "Internal Server Error: /fail/" in stderr
    assert "ValueError: order 42 has 2 items" in stderr
    # one dump: the 404 is no failure
    [path] = w.dumps_in(dumps)
    w.check_view_dump(path, view_file="web_django.py",
                      reason_re=r"Django view \(GET /fail/\)",
                      request_path="/fail/")


def test_client_the_user_id_is_in_the_context(tmp_path):
    import heapdump

    out, _, dumps = client(tmp_path, "user")
    assert out["responses"][0][0] == 500
    [path] = w.dumps_in(dumps)
    dump = heapdump.load(path)
    assert dump.context["request"]["user_id"] == "1234"
    assert dump.headers["Heapdump-Exception"] == \
        "RuntimeError: with a session user"


def test_client_a_burst_of_failures_is_rate_limited(tmp_path):
    out, _, dumps = client(tmp_path, "burst")
    assert [s for s, _ in out["responses"]] == [200, 500]
    # 200 of /fail/: one dump; /other/ fails elsewhere: one more
    paths = w.dumps_in(dumps)
    assert len(paths) == 2, paths
    assert sorted(p.name.split("-")[-1] for p in paths) == \
        ["IndexError.dump", "ValueError.dump"]


def test_client_async_views_under_the_async_handler(tmp_path):
    """Django's AsyncClient: the middleware runs as a coroutine, the
    process_exception in a thread; sync views still work."""
    import heapdump

    out, _, dumps = client(tmp_path, "async")
    assert [s for s, _ in out["responses"]] == [500, 500, 200]
    paths = w.dumps_in(dumps)
    assert len(paths) == 2
    dumps_by_view = {}
    for path in paths:
        dump = heapdump.load(path)
        dumps_by_view[dump.traceback.entries()[-1].frame.code.name] = path
    w.check_view_dump(dumps_by_view["async_view"], view_file="web_django.py",
                      view_name="async_view",
                      reason_re=r"Django view \(GET /async/\)",
                      request_path="/async/")


def test_client_a_failure_outside_the_view(tmp_path):
    """Another middleware fails: Django's got_request_exception signal."""
    import heapdump

    out, stderr, dumps = client(tmp_path, "middleware")
    assert [s for s, _ in out["responses"]] == [500, 200]
    assert "Internal Server Error: /mw-fail/" in stderr
    [path] = w.dumps_in(dumps)
    dump = heapdump.load(path)
    assert dump.headers["Heapdump-Reason"] == \
        "exception in a Django request (GET /mw-fail/)"
    inner = dump.traceback.entries()[-1].frame
    assert inner.code.name == "__call__"
    assert inner.code.filename.endswith("web_django.py")
    assert inner.locals["self"].__class__.__name__ == "Exploding"


def test_client_secrets_in_headers_are_not_in_the_file(tmp_path):
    out, _, dumps = client(tmp_path, "secrets")
    assert out["responses"][0][0] == 500
    [path] = w.dumps_in(dumps)
    w.assert_no_secrets(path, out["secrets"])


# ------------------------------------------------------------- gunicorn


@pytest.fixture
def server(tmp_path):
    w.require("gunicorn")
    dumps = tmp_path / "dumps"
    s = w.Server([sys.executable, "-m", "gunicorn", "--bind", "fd://{fd}",
                  "--workers", "1", "--threads", "4",
                  "--graceful-timeout", "2", "web_django:application"],
                 cwd=str(tmp_path),
                 env=w.server_env(dumps, DJANGO_SETTINGS_MODULE="web_django"))
    try:
        s.wait_ready("/ok/")
        s.dumps = dumps
        yield s
    finally:
        s.stop()


def test_gunicorn_a_failing_view_dumps_and_django_answers_500(server):
    status, body = server.request("/ok/")
    assert status == 200
    pid = body.split()[1]
    status, body = server.request("/fail/?q=1&token=abc",
                                  headers=w.secret_headers(w.secrets()))
    assert status == 500
    assert "Server Error (500)" in body
    assert server.request("/ok/") == (200, "ok %s" % pid)
    [path] = w.dumps_in(server.dumps)
    assert "Internal Server Error: /fail/" in server.output()
    dump = w.check_view_dump(path, view_file="web_django.py",
                             reason_re=r"Django view \(GET /fail/\)",
                             request_path="/fail/")
    assert dump.headers["Heapdump-Pid"] == pid


def test_gunicorn_secrets_in_headers_are_not_in_the_file(server):
    s = w.secrets()
    status, _ = server.request("/fail/", headers=w.secret_headers(s))
    assert status == 500
    [path] = w.dumps_in(server.dumps)
    w.assert_no_secrets(path, s)


def test_gunicorn_a_burst_of_failures_is_rate_limited(server):
    for _ in range(200):
        assert server.request("/fail/")[0] == 500
    assert len(w.dumps_in(server.dumps)) == 1
    assert server.request("/other/")[0] == 500
    assert len(w.dumps_in(server.dumps)) == 2
    assert server.request("/ok/")[0] == 200
