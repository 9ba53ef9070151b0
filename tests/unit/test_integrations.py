"""The WSGI and ASGI middleware and the logging handler on bare
applications, in this process (no framework needed): what is dumped, when,
with which context, and that the program sees the same exceptions as
without heapdump.  test_web_*.py run them under real servers."""

import asyncio
import io
import logging
import pathlib
import sys
import wsgiref.util

import pytest

import heapdump
from heapdump.asgi import HeapdumpMiddleware as AsgiMiddleware
from heapdump.integrations import _shared as _i
from heapdump.logging import HeapdumpHandler
from heapdump.wsgi import HeapdumpMiddleware as WsgiMiddleware


def dumps_in(directory):
    return sorted(pathlib.Path(directory).glob("heapdump-*.dump"))


def environ(path="/orders/7", query="q=1&token=abc", **extra):
    env = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "/shop",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(b""),
        "CONTENT_TYPE": "text/plain",
        "HTTP_HOST": "shop.example",
        "HTTP_USER_AGENT": "tests",
        "HTTP_COOKIE": "sessionid=s3ss; theme=dark",
        "HTTP_AUTHORIZATION": "Bearer t0ken",
        "HTTP_X_API_KEY": "k3y-0123",
    }
    env.update(extra)
    return env


def start_response(status, headers, exc_info=None):
    pass


@pytest.fixture(autouse=True)
def no_context():
    heapdump.clear_context()
    yield
    heapdump.clear_context()


# ------------------------------------------------------------ the context


def test_the_request_context_of_a_wsgi_environ():
    request = _i.wsgi_request(environ(), _i.redaction_patterns())
    assert request == {
        "method": "POST",
        "scheme": "https",
        "path": "/shop/orders/7",
        "query": "q=1&token=[redacted]",
        "headers": {
            "Content-Type": "text/plain",
            "Host": "shop.example",
            "User-Agent": "tests",
            "Cookie": "[redacted]",
            "Authorization": "[redacted]",
            "X-Api-Key": "[redacted]",
        },
    }


def test_the_request_context_of_an_asgi_scope():
    scope = {"type": "http", "method": "GET", "scheme": "http",
             "path": "/a/b", "root_path": "/app",
             "query_string": b"x=1&api_key=2",
             "headers": [(b"host", b"h"), (b"cookie", b"a=1"),
                         (b"accept", b"x"), (b"accept", b"y")]}
    assert _i.asgi_request(scope, _i.redaction_patterns()) == {
        "method": "GET", "scheme": "http", "path": "/app/a/b",
        "query": "x=1&api_key=[redacted]",
        "headers": {"Host": "h", "Cookie": "[redacted]",
                    "Accept": "x, y"},
    }
    scope["type"] = "websocket"
    assert _i.asgi_request(scope, ())["method"] == "WEBSOCKET"


def test_cookies_and_authorization_are_left_out_even_without_redaction():
    request = _i.wsgi_request(environ(), _i.redaction_patterns(False))
    assert request["headers"]["Cookie"] == "[redacted]"
    assert request["headers"]["Authorization"] == "[redacted]"
    assert request["headers"]["X-Api-Key"] == "k3y-0123"


def test_secret_names_as_the_dumper_reads_them(tmp_path):
    """looks_secret() decides as src/redact.c does (the context leaves
    out what the dumper would redact)."""
    names = ["Cookie", "Set-Cookie", "Authorization", "X-Api-Key",
             "X-CSRFToken", "Proxy-Authorization", "X-Forwarded-For",
             "User-Agent", "Author", "Accept", "X-Request-Id",
             "userPassword", "db_password", "Content-Type", "oauth_state"]
    headers = {name: "value of %s" % name for name in names}  # noqa: F841
    path = heapdump.dump(tmp_path / "names.dump", max_objects=2000)
    dumped = heapdump.load(path).current_thread.frames[0].locals["headers"]
    patterns = _i.redaction_patterns()
    for name in names:
        redacted = not isinstance(dumped[name], str)
        assert redacted == _i.looks_secret(name, patterns), name


def test_the_secrets_of_a_request():
    out = _i.environ_secrets(environ(HTTP_AUTHORIZATION="Basic "
                                     "dXNlcjpwYXNzd29yZA=="),
                             _i.redaction_patterns())
    for value in ("sessionid=s3ss; theme=dark", "s3ss", "dark",
                  "Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA==",
                  "user:password", "password", "k3y-0123"):
        assert value in out, value
        assert value.encode() in out, value
    assert "tests" not in out           # User-Agent is no secret
    assert len(out) == len(set(out))
    scope = {"headers": [(b"cookie", b"a=12345"), (b"accept", b"x")]}
    assert _i.scope_secrets(scope, _i.redaction_patterns()) == \
        [b"a=12345", "a=12345", "12345", b"12345"]


# ------------------------------------------------------------------ WSGI


def test_wsgi_a_failing_call_is_dumped_and_reraised(tmp_path):
    def app(environ, start_response):
        order = {"id": 7}
        raise ValueError("bad order %d" % order["id"])

    mw = WsgiMiddleware(app, tmp_path)
    with pytest.raises(ValueError, match="bad order 7"):
        mw(environ(), start_response)
    [path] = dumps_in(tmp_path)
    dump = heapdump.load(path)
    assert dump.headers["Heapdump-Reason"] == \
        "exception in a WSGI application call (POST /shop/orders/7)"
    inner = dump.traceback.entries()[-1].frame
    assert inner.code.name == "app"
    assert inner.locals["order"] == {"id": 7}
    assert dump.context["request"]["path"] == "/shop/orders/7"
    assert dump.context["request"]["headers"]["User-Agent"] == "tests"
    # the program's own frames start the stack, not the middleware's
    package = str(pathlib.Path(heapdump.__file__).parent)
    assert dump.current_thread.frames[0].code.filename == __file__
    assert not any(f.code.filename.startswith(package)
                   for f in dump.current_thread.frames)
    assert heapdump.get_context() == {}


def test_wsgi_a_failure_while_the_response_is_iterated(tmp_path):
    seen = []

    def app(environ, start_response):
        start_response("200 OK", [])
        seen.append(heapdump.get_context()["request"]["path"])
        yield b"one"
        seen.append(heapdump.get_context()["request"]["path"])
        left = 3
        raise KeyError(left)

    result = WsgiMiddleware(app, tmp_path)(environ(), start_response)
    assert dumps_in(tmp_path) == []
    chunks = []
    with pytest.raises(KeyError):
        for chunk in result:
            chunks.append(chunk)
    assert chunks == [b"one"]
    assert seen == ["/shop/orders/7"] * 2
    [path] = dumps_in(tmp_path)
    dump = heapdump.load(path)
    assert "in its response" in dump.headers["Heapdump-Reason"]
    assert dump.context["request"]["method"] == "POST"
    assert dump.traceback.entries()[-1].frame.locals["left"] == 3
    result.close()
    assert heapdump.get_context() == {}


def test_wsgi_a_failure_in_close(tmp_path):
    class Body:
        def __iter__(self):
            return iter([b"x"])

        def close(self):
            raise OSError("cannot close")

    result = WsgiMiddleware(lambda e, s: Body(), tmp_path)(environ(),
                                                          start_response)
    assert list(result) == [b"x"]
    with pytest.raises(OSError, match="cannot close"):
        result.close()
    [path] = dumps_in(tmp_path)
    assert "in its close()" in heapdump.load(path).headers["Heapdump-Reason"]
    assert heapdump.get_context() == {}


def test_wsgi_success_writes_nothing_and_restores_the_context(tmp_path):
    heapdump.set_context("request", "outer")
    heapdump.set_context("job", 5)
    inside = []

    def app(environ, start_response):
        inside.append(heapdump.get_context()["request"]["path"])
        start_response("200 OK", [])
        return [b"ok"]

    result = WsgiMiddleware(app, tmp_path)(environ(), start_response)
    assert list(result) == [b"ok"]
    result.close()
    result.close()                      # twice: harmless
    assert inside == ["/shop/orders/7"]
    assert heapdump.get_context() == {"request": "outer", "job": 5}
    assert dumps_in(tmp_path) == []


def test_wsgi_a_file_wrapper_goes_to_the_server_as_it_is(tmp_path):
    wrapped = []

    def app(environ, start_response):
        start_response("200 OK", [])
        wrapped.append(environ["wsgi.file_wrapper"](io.BytesIO(b"data")))
        return wrapped[0]

    env = environ()
    env["wsgi.file_wrapper"] = wsgiref.util.FileWrapper
    assert WsgiMiddleware(app, tmp_path)(env, start_response) is wrapped[0]
    assert heapdump.get_context() == {}


def test_wsgi_what_is_not_a_failure_is_not_dumped(tmp_path):
    def app(environ, start_response):
        raise SystemExit(3)

    with pytest.raises(SystemExit):
        WsgiMiddleware(app, tmp_path)(environ(), start_response)
    assert dumps_in(tmp_path) == []
    assert heapdump.get_context() == {}


def test_wsgi_the_same_failure_is_dumped_once_per_interval(tmp_path):
    def app(environ, start_response):
        raise ValueError(environ["PATH_INFO"])

    def other(environ, start_response):
        raise ValueError("elsewhere")

    mw = WsgiMiddleware(app, tmp_path)
    for i in range(20):
        with pytest.raises(ValueError):
            mw(environ("/%d" % i), start_response)
    assert len(dumps_in(tmp_path)) == 1
    # the same directory and options: the same rate limiter
    mw2 = WsgiMiddleware(other, tmp_path)
    assert mw2.files is mw.files
    with pytest.raises(ValueError):
        mw2(environ(), start_response)
    assert len(dumps_in(tmp_path)) == 2
    assert WsgiMiddleware(app, tmp_path, max_dumps=3).files is not mw.files


def test_wsgi_bad_arguments(tmp_path):
    with pytest.raises(TypeError):
        WsgiMiddleware("not an app")
    with pytest.raises(TypeError):
        WsgiMiddleware(lambda e, s: [], tmp_path, max_dumps="x")
    with pytest.raises(TypeError):
        WsgiMiddleware(lambda e, s: [], tmp_path, colour="red")


def test_wsgi_a_directory_that_cannot_be_made_costs_one_line(tmp_path,
                                                              capfd):
    blocker = tmp_path / "file"
    blocker.write_text("")

    def app(environ, start_response):
        raise ValueError("x")

    with pytest.raises(ValueError):
        WsgiMiddleware(app, blocker / "dumps")(environ(), start_response)
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and err.startswith("heapdump: could not "
                                                   "write a dump"), err


# ------------------------------------------------------------------ ASGI


def run_asgi(app, scope):
    sent = []

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def scope(path="/items/3", kind="http"):
    return {"type": kind, "method": "GET", "scheme": "http", "path": path,
            "root_path": "", "query_string": b"",
            "headers": [(b"user-agent", b"tests"),
                        (b"authorization", b"Bearer abc")]}


def test_asgi_a_failure_is_dumped_and_reraised(tmp_path):
    async def app(scope, receive, send):
        item = {"id": 3}
        await asyncio.sleep(0)
        raise LookupError("no item %d" % item["id"])

    with pytest.raises(LookupError):
        run_asgi(AsgiMiddleware(app, tmp_path), scope())
    [path] = dumps_in(tmp_path)
    dump = heapdump.load(path)
    assert dump.headers["Heapdump-Reason"] == \
        "exception in an ASGI application (GET /items/3)"
    inner = dump.traceback.entries()[-1].frame
    assert inner.code.name == "app"
    assert inner.locals["item"] == {"id": 3}
    assert dump.context["request"]["headers"] == {
        "User-Agent": "tests", "Authorization": "[redacted]"} or \
        dump.context["request"]["headers"]["User-Agent"] == "tests"


def test_asgi_websocket(tmp_path):
    async def app(scope, receive, send):
        raise ConnectionError("gone")

    with pytest.raises(ConnectionError):
        run_asgi(AsgiMiddleware(app, tmp_path), scope("/ws", "websocket"))
    [path] = dumps_in(tmp_path)
    assert heapdump.load(path).context["request"]["method"] == "WEBSOCKET"


def test_asgi_lifespan_and_cancellation_are_not_failures(tmp_path):
    calls = []

    async def app(scope, receive, send):
        calls.append((scope["type"], heapdump.get_context()))
        if scope["type"] == "http":
            raise asyncio.CancelledError()

    run_asgi(AsgiMiddleware(app, tmp_path), {"type": "lifespan"})
    with pytest.raises(asyncio.CancelledError):
        run_asgi(AsgiMiddleware(app, tmp_path), scope())
    assert calls[0] == ("lifespan", {})
    assert dumps_in(tmp_path) == []


def test_asgi_each_task_has_its_own_request(tmp_path):
    seen = {}

    async def app(scope, receive, send):
        await asyncio.sleep(0.01)
        seen[scope["path"]] = heapdump.get_context()["request"]["path"]
        await send({"type": "http.response.start", "status": 200})

    mw = AsgiMiddleware(app, tmp_path)

    async def main():
        async def receive():
            return {}

        async def send(message):
            pass

        await asyncio.gather(*(mw(scope("/%d" % i), receive, send)
                               for i in range(5)))
        return heapdump.get_context()

    assert asyncio.run(main()) == {}
    assert seen == {"/%d" % i: "/%d" % i for i in range(5)}


# --------------------------------------------------------------- logging


@pytest.fixture
def log(tmp_path):
    logger = logging.getLogger("heapdump.tests.%s" % tmp_path.name)
    logger.propagate = False
    handler = HeapdumpHandler(tmp_path)
    logger.addHandler(handler)
    yield logger
    logger.removeHandler(handler)


class Loud:
    """Formatting it would be running the program's code."""

    def __str__(self):
        raise AssertionError("formatted")

    __repr__ = __str__


def test_logging_a_logged_exception_is_dumped(log, tmp_path):
    [handler] = [h for h in log.handlers if isinstance(h, HeapdumpHandler)]

    def process(order):
        try:
            return order["missing"]
        except KeyError:
            # as log.exception("order %s failed", Loud()) does, without
            # the other handlers (pytest's format every record)
            record = log.makeRecord(log.name, logging.ERROR, __file__, 1,
                                    "order %s failed", (Loud(),),
                                    sys.exc_info())
            handler.handle(record)
            return None

    assert process({"id": 1}) is None
    [path] = dumps_in(tmp_path)
    dump = heapdump.load(path)
    assert dump.headers["Heapdump-Reason"] == \
        "logged by %s (ERROR): order %%s failed" % log.name
    assert dump.headers["Heapdump-Exception"].startswith("KeyError")
    inner = dump.traceback.entries()[-1].frame
    assert inner.code.name == "process"
    assert inner.locals["order"] == {"id": 1}
    # the logging call is on the stack of the thread that logged
    names = [f.code.name for f in dump.current_thread.frames]
    assert "process" in names


def test_logging_only_records_with_an_exception_at_the_level(log,
                                                             tmp_path):
    log.error("no exception here")
    try:
        raise ValueError("x")
    except ValueError:
        log.warning("below the level", exc_info=True)
        log.error("no exc_info")
    log.error("outside an except block", exc_info=True)
    assert dumps_in(tmp_path) == []


def test_logging_the_rate_limit_applies(log, tmp_path):
    for i in range(10):
        try:
            raise ValueError(i)
        except ValueError:
            log.exception("again")
    assert len(dumps_in(tmp_path)) == 1


def test_logging_in_a_request_one_dump_of_one_exception(tmp_path):
    """The application logs the exception and lets it go on: the
    middleware does not dump it again (another directory even)."""
    logger = logging.getLogger("heapdump.tests.request")
    logger.propagate = False
    handler = HeapdumpHandler(tmp_path / "log")
    logger.addHandler(handler)
    try:
        def app(environ, start_response):
            try:
                raise ValueError("logged and raised")
            except ValueError:
                logger.exception("failed")
                raise

        with pytest.raises(ValueError):
            WsgiMiddleware(app, tmp_path / "mw")(environ(), start_response)
    finally:
        logger.removeHandler(handler)
    [path] = dumps_in(tmp_path / "log")
    assert dumps_in(tmp_path / "mw") == []
    # inside the request: its context
    assert heapdump.load(path).context["request"]["path"] == \
        "/shop/orders/7"


def test_logging_the_module_is_heapdumps():
    assert issubclass(HeapdumpHandler, logging.Handler)
    assert logging.__name__ == "logging"
    with pytest.raises(TypeError):
        HeapdumpHandler(max_dumps="x")


# ----------------------------------------------------------- secrets


def test_the_name_rule_is_the_dumpers():
    # one rule, written in C (src/redact.c): the integrations ask it
    from heapdump import _heapdump

    assert _i.looks_secret is _heapdump.looks_secret
    assert not hasattr(_i, "_words")
    assert _i.secret_words("userPassword") == "user_password"
    assert _i.secret_words("X-CSRFToken") == "x_csrftoken"
    assert _i.secret_words("HTTP_SET_COOKIE") == "http_set_cookie"
    patterns = _i.redaction_patterns()
    assert _i.looks_secret("db_password", patterns)
    assert not _i.looks_secret("author", patterns)
    with pytest.raises(TypeError):
        _i.looks_secret("x", ["password"])     # a tuple, made once


def test_the_secrets_of_a_configuration():
    key = "k" * 50
    items = [
        ("SECRET_KEY", key), ("SECRET_KEY_FALLBACKS", ["old-key-1"]),
        ("DATABASES", {"default": {"PASSWORD": "pw1", "HOST": "db",
                                   "OPTIONS": {"password": "pw2"}}}),
        ("EMAIL_HOST_PASSWORD", "mailpw"), ("AWS_SECRET_ACCESS_KEY", "aws"),
        ("API_TOKEN", None), ("TIME_ZONE", "UTC"),
        # configuration, not secrets: class paths, names, numbers
        ("PASSWORD_HASHERS",
         ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]),
        ("AUTH_PASSWORD_VALIDATORS", [{"NAME": "django.contrib.auth."
                                       "password_validation.X"}]),
        ("SESSION_ENGINE", "django.contrib.sessions.backends.db"),
        ("CSRF_COOKIE_NAME", "csrftoken"), ("PASSWORD_RESET_TIMEOUT", 3),
    ]
    assert _i.config_secrets(items, always=("SECRET_KEY",
                                            "SECRET_KEY_FALLBACKS")) == \
        [key, "old-key-1", "pw1", "pw2", "mailpw", "aws"]


def test_hide_through_a_directory_and_a_logging_handler(tmp_path):
    import os

    secret = os.urandom(12).hex()
    logger = logging.getLogger("heapdump.tests.hide")
    logger.propagate = False
    handler = HeapdumpHandler(tmp_path, hide=[secret], min_interval=None)
    logger.addHandler(handler)
    try:
        def process(value):
            line = "api key: " + value
            try:
                raise KeyError("missing")
            except KeyError:
                logger.exception("failed")

        process(secret)
    finally:
        logger.removeHandler(handler)
    [path] = dumps_in(tmp_path)
    frames = {f.code.name: f for f in
              heapdump.load(path).current_thread.frames}
    assert str(frames["process"].locals["line"]) == "api key: [redacted]"
    with pytest.raises(TypeError):
        HeapdumpHandler(tmp_path, hide=5)


def test_hide_may_hold_one_value_or_objects(tmp_path):
    # a lone str is one value, not its characters; a dict is hidden by
    # identity (and shares no directory with another dict's)
    secret = "one-value-%d" % id(tmp_path)
    a = _i.directory(tmp_path, hide=secret)
    assert a.options["hide"] == (secret,)
    mapping = {"k": "v"}
    b = _i.directory(tmp_path, hide=[mapping])
    c = _i.directory(tmp_path, hide=[{"k": "v"}])
    assert b is not c and b.options["hide"][0] is mapping
    assert _i.directory(tmp_path, hide=[mapping]) is b
