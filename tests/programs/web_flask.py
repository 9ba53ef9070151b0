"""A Flask application under a WSGI server, for
tests/integration/test_web_flask.py; the dumps go into $WEB_DUMPS.

    /ok      200, the worker's pid
    /fail    a view whose local ``order`` is a dict: ValueError
    /other   another failure (another code location)
"""

import os

import flask

from heapdump.wsgi import HeapdumpMiddleware

app = flask.Flask(__name__)


@app.route("/ok")
def ok():
    return "ok %d" % os.getpid()


@app.route("/fail")
def fail():
    order = {"id": 42, "items": ["apple", "pear"], "note": "a view local"}
    total = len(order["items"])
    raise ValueError("order %d has %d items" % (order["id"], total))


@app.route("/other")
def other():
    basket = ["plum"]
    return basket[3]


# as Flask documents WSGI middleware
app.wsgi_app = HeapdumpMiddleware(app.wsgi_app,
                                  os.environ.get("WEB_DUMPS", "dumps"))
