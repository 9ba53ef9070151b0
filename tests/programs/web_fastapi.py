"""A FastAPI application under uvicorn, for
tests/integration/test_web_fastapi.py; the dumps go into $WEB_DUMPS.

    /ok      200, the worker's pid
    /fail    an endpoint whose local ``order`` is a dict: ValueError
    /other   another failure (another code location)
"""

import os

from fastapi import FastAPI

from heapdump.asgi import HeapdumpMiddleware

app = FastAPI()


@app.get("/ok")
async def ok():
    return {"ok": os.getpid()}


@app.get("/fail")
async def fail():
    order = {"id": 42, "items": ["apple", "pear"], "note": "a view local"}
    total = len(order["items"])
    raise ValueError("order %d has %d items" % (order["id"], total))


@app.get("/other")
def other():
    basket = ["plum"]
    return basket[3]


app.add_middleware(HeapdumpMiddleware,
                   directory=os.environ.get("WEB_DUMPS", "dumps"))


if __name__ == "__main__":
    # python web_fastapi.py FD: uvicorn on the listening socket FD (which
    # the test bound to a free loopback port)
    import socket
    import sys

    import uvicorn

    sock = socket.socket(fileno=int(sys.argv[1]))
    config = uvicorn.Config(app, log_level="info", lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])
