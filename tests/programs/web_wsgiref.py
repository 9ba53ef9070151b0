"""A bare WSGI function under the standard library's wsgiref server, for
tests/integration/test_web_wsgiref.py (no framework needed).

    python web_wsgiref.py FD     serve on the listening socket FD

    /ok      200, the pid
    /fail    a failure while the app is called (local ``order``)
    /stream  a failure while its response is iterated
"""

import os
import socket
import sys
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from heapdump.wsgi import HeapdumpMiddleware


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/fail":
        order = {"id": 42, "items": ["apple", "pear"],
                 "note": "a view local"}
        total = len(order["items"])
        raise ValueError("order %d has %d items" % (order["id"], total))
    if path == "/stream":
        return stream(start_response)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok %d" % os.getpid()]


def stream(start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    chunks = ["first"]
    yield b"first"
    raise KeyError(chunks[0])


application = HeapdumpMiddleware(app, os.environ.get("WEB_DUMPS", "dumps"))


class Quiet(WSGIRequestHandler):
    def log_request(self, *args):
        pass


class Server(WSGIServer):
    def server_bind(self):
        # the socket is bound already: the test's
        self.server_address = self.socket.getsockname()
        self.server_name, self.server_port = self.server_address[:2]
        self.setup_environ()


if __name__ == "__main__":
    server = Server(("127.0.0.1", 0), Quiet, bind_and_activate=False)
    server.socket.close()
    server.socket = socket.socket(fileno=int(sys.argv[1]))
    server.server_bind()
    server.set_app(application)
    server.serve_forever()
