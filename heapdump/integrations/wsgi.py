"""Dumps of the failures of a WSGI application.

    from heapdump.integrations.wsgi import HeapdumpMiddleware
    # (or, as before: from heapdump.wsgi import HeapdumpMiddleware)

    application = HeapdumpMiddleware(application, "/var/tmp/dumps")

When the application raises, while it is called or while its response is
iterated or closed, a dump is written (the failing frames, the rest of the
process, the request as context) and the exception goes on to the server,
which answers as it would without heapdump.  Works with any WSGI
application: a bare function, Pyramid, Bottle, Django's WSGIHandler
(though heapdump.integrations.django's middleware sees the view's failures
first-hand), Flask.

Flask turns a view's failure into its own 500 response, so nothing reaches
a WSGI middleware: wrapping a Flask application (``HeapdumpMiddleware(app)``
or, as Flask documents for middleware, ``app.wsgi_app =
HeapdumpMiddleware(app.wsgi_app)``) also subscribes to Flask's
``got_request_exception`` signal, which Flask sends in its except block,
and hides Flask's ``secret_key`` and the config values whose names look
secret by value in every dump.
"""

from __future__ import annotations

import sys

from heapdump.integrations import _shared as _i

__all__ = ["HeapdumpMiddleware"]


class HeapdumpMiddleware:
    """Wrap the WSGI application app: dump its failures, then re-raise.

    directory: where the dumps go (default $HEAPDUMP_DIR or the current
    directory).  options: max_dumps, max_total_bytes, min_interval (the
    directory's retention and the rate limit of one failure; see
    heapdump.dump_on_unhandled_exceptions), redact, environ, hide and the
    limits of heapdump.dump().  Raises TypeError/ValueError for bad
    options.
    """

    def __init__(self, app, directory=None, **options):
        if not callable(app):
            raise TypeError("app must be a WSGI application (callable), "
                            "not %s" % type(app).__name__)
        self.app = app
        self.files = _i.directory(directory, **options)
        self._patterns = _i.redaction_patterns(options.get("redact"))
        self.secrets = ()
        _hook_flask(self, app)

    def __repr__(self):
        return "<heapdump.wsgi.HeapdumpMiddleware %r into %s>" % (
            self.app, self.files.path)

    def _reason(self, request, when):
        return "exception in a WSGI application %s (%s)" % (
            when, _i.describe_request(request))

    def __call__(self, environ, start_response):
        patterns = self._patterns
        scope = _i.RequestScope(
            _i.request_context(_i.wsgi_request, environ, patterns),
            lambda: _i.environ_secrets(environ, patterns)).enter()
        try:
            result = self.app(environ, start_response)
        except Exception as e:
            _i.dump(self.files, e, self._reason(scope.request, "call"),
                    self.secrets)
            scope.exit()
            raise
        except BaseException:
            scope.exit()
            raise
        wrapper = environ.get("wsgi.file_wrapper") \
            if isinstance(environ, dict) else None
        if isinstance(wrapper, type) and isinstance(result, wrapper):
            # the server sends it itself (sendfile): keep it recognizable
            scope.exit()
            return result
        return _Response(self, result, scope)


class _Response:
    """The application's response iterable: its failures dumped, the
    request's context kept until the server closes it."""

    __slots__ = ("_mw", "_result", "_iterator", "_scope")

    def __init__(self, middleware, result, scope):
        self._mw = middleware
        self._result = result
        self._iterator = None
        self._scope = scope

    def __iter__(self):
        try:
            self._iterator = iter(self._result)
        except Exception as e:
            self._failed(e, "response")
            raise
        return self

    def __next__(self):
        iterator = self._iterator
        if iterator is None:
            iterator = self.__iter__()._iterator
        try:
            return next(iterator)
        except StopIteration:
            raise
        except Exception as e:
            self._failed(e, "response")
            raise

    def close(self):
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        except Exception as e:
            self._failed(e, "close()")
            raise
        finally:
            self._scope.exit()

    def _failed(self, exc, when):
        _i.dump(self._mw.files, exc,
                self._mw._reason(self._scope.request, "in its " + when),
                self._mw.secrets)


# ---------------------------------------------------------------- Flask


def _hook_flask(middleware, app):
    """Subscribe to got_request_exception when app is a Flask application
    or its wsgi_app method."""
    flask = sys.modules.get("flask")
    if flask is None:
        return
    target = getattr(app, "__self__", app)
    if not isinstance(target, getattr(flask, "Flask", ())):
        return
    signal = getattr(flask, "got_request_exception", None)
    if signal is None:
        return

    def got_request_exception(sender, exception=None, **extra):
        if isinstance(exception, Exception):
            scope_request = _i._context.get_context().get(_i.CONTEXT_KEY)
            _i.dump(middleware.files, exception,
                    "exception in a Flask view (%s)"
                    % _i.describe_request(scope_request),
                    middleware.secrets)

    # Flask's secrets: its secret_key and the config values whose names
    # look secret, hidden by value in every dump of the middleware
    config = getattr(target, "config", None)
    items = list(config.items()) if isinstance(config, dict) else []
    items.append(("SECRET_KEY", getattr(target, "secret_key", None)))
    middleware.secrets = tuple(_i.config_secrets(
        items, always=("SECRET_KEY", "SECRET_KEY_FALLBACKS")))

    # a strong reference: the receiver lives as long as the middleware
    middleware._flask_receiver = got_request_exception
    signal.connect(got_request_exception, target, weak=False)
