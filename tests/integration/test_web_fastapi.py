"""FastAPI under uvicorn, real HTTP on loopback: heapdump.asgi's
middleware (app.add_middleware) dumps the endpoint's failure and re-raises;
Starlette's ServerErrorMiddleware answers its 500, uvicorn logs the
traceback, the server goes on."""

import sys

import pytest

import webtests as w
from conftest import PROGRAMS

pytestmark = pytest.mark.integrations


@pytest.fixture
def server(tmp_path):
    w.require("fastapi")
    w.require("uvicorn")
    dumps = tmp_path / "dumps"
    s = w.Server([sys.executable, str(PROGRAMS / "web_fastapi.py"), "{fd}"],
                 cwd=str(tmp_path), env=w.server_env(dumps))
    try:
        s.wait_ready("/ok")
        s.dumps = dumps
        yield s
    finally:
        s.stop()


def test_a_failing_request_dumps_and_fastapi_answers_500(server):
    status, body = server.request("/ok")
    assert status == 200
    status, body = server.request("/fail?q=1&token=abc",
                                  headers=w.secret_headers(w.secrets()))
    assert status == 500
    assert body == "Internal Server Error"
    assert server.request("/ok")[0] == 200
    [path] = w.dumps_in(server.dumps)
    assert "Exception in ASGI application" in server.output()
    w.check_view_dump(path, view_file="web_fastapi.py",
                      reason_re=r"ASGI application \(GET /fail\)",
                      request_path="/fail")


def test_secrets_in_headers_are_not_in_the_file(server):
    s = w.secrets()
    status, _ = server.request("/fail", headers=w.secret_headers(s))
    assert status == 500
    [path] = w.dumps_in(server.dumps)
    w.assert_no_secrets(path, s)


def test_a_burst_of_failures_is_rate_limited(server):
    for _ in range(200):
        assert server.request("/fail")[0] == 500
    assert len(w.dumps_in(server.dumps)) == 1
    # a sync endpoint (run in a worker thread) failing elsewhere
    assert server.request("/other")[0] == 500
    assert len(w.dumps_in(server.dumps)) == 2
    assert server.request("/ok")[0] == 200
