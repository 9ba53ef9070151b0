"""Exceptions that reach an asyncio event loop's exception handler: a
task's exception that nobody retrieved, a failing callback; with the
default handler or the program's own; heapdump enabled before or after
asyncio is imported.

    python trig_asyncio.py task|callback|handler early|late
"""

import gc
import sys

import trig_common

scenario, when = sys.argv[1], sys.argv[2]
if when == "early":
    trig_common.enable()
    assert "asyncio" not in sys.modules

import asyncio  # noqa: E402

if when == "late":
    trig_common.enable()


async def fetch(user_id):
    cache = {"user": user_id}
    await asyncio.sleep(0)
    raise LookupError("no user %d" % cache["user"])


def callback_fails(n):
    items = [n, n + 1]
    raise RuntimeError("callback failed %d" % sum(items))


def handler(loop, context):
    exc = context.get("exception")
    print("custom handler:", context["message"], type(exc).__name__,
          flush=True)


async def main():
    loop = asyncio.get_running_loop()
    # the dump runs inside the loop: no "slow callback" warning in debug
    # mode, with heapdump or without
    loop.slow_callback_duration = 600
    if scenario == "handler":
        loop.set_exception_handler(handler)
    if scenario == "callback":
        loop.call_soon(callback_fails, 7)
        await asyncio.sleep(0.05)
    else:
        task = loop.create_task(fetch(42))
        await asyncio.sleep(0.05)
        del task        # nobody retrieves its exception
        gc.collect()


asyncio.run(main())
print("done", flush=True)
