"""Dumps of the failures of an ASGI application.

    from heapdump.integrations.asgi import HeapdumpMiddleware
    # (or, as before: from heapdump.asgi import HeapdumpMiddleware)

    app = HeapdumpMiddleware(app, "/var/tmp/dumps")
    # or, with Starlette and FastAPI:
    app.add_middleware(HeapdumpMiddleware, directory="/var/tmp/dumps")

For http and websocket connections: when the application raises, a dump
is written (the failing frames, the rest of the process, the request as
context) and the exception goes on, to the server or to the framework's
error handling, which answers as it would without heapdump.  Starlette's
and FastAPI's ServerErrorMiddleware sends its 500 response and then
re-raises: wrapped around the whole application, the dump is written after
the 500 has gone out; added with ``add_middleware``, before.  Lifespan
events pass through untouched.  A cancelled request (the client went
away) is not a failure.

The dump holds the GIL while it is written: the event loop, like every
other thread, waits for it (usually milliseconds; see the limits).
"""

from __future__ import annotations

from heapdump.integrations import _shared as _i

__all__ = ["HeapdumpMiddleware"]


class HeapdumpMiddleware:
    """Wrap the ASGI application app: dump its failures, then re-raise.

    directory and options as for heapdump.wsgi.HeapdumpMiddleware.
    """

    def __init__(self, app, directory=None, **options):
        if not callable(app):
            raise TypeError("app must be an ASGI application (callable), "
                            "not %s" % type(app).__name__)
        self.app = app
        self.files = _i.directory(directory, **options)
        self._patterns = _i.redaction_patterns(options.get("redact"))

    def __repr__(self):
        return "<heapdump.asgi.HeapdumpMiddleware %r into %s>" % (
            self.app, self.files.path)

    async def __call__(self, scope, receive, send):
        kind = scope.get("type") if isinstance(scope, dict) else None
        if kind not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        request = _i.request_context(_i.asgi_request, scope,
                                     self._patterns)
        patterns = self._patterns
        with _i.RequestScope(request,
                             lambda: _i.scope_secrets(scope, patterns)):
            try:
                return await self.app(scope, receive, send)
            except Exception as e:
                _i.dump(self.files, e, "exception in an ASGI application "
                        "(%s)" % _i.describe_request(request))
                raise
