"""heapdump.set_context(): per thread and per task, in every dump."""

import asyncio
import threading

import heapdump


def test_context_goes_into_the_dump_and_is_per_thread(tmp_path):
    heapdump.clear_context()
    heapdump.set_context("request", {"method": "GET", "path": "/orders"})
    heapdump.set_context("user_id", 42)
    seen = {}

    def other():
        seen["other"] = heapdump.get_context()
        heapdump.set_context("job", "nightly")
        seen["path"] = heapdump.dump(tmp_path / "other.dump")

    t = threading.Thread(target=other)
    t.start()
    t.join()
    try:
        path = heapdump.dump(tmp_path / "main.dump")
    finally:
        heapdump.clear_context()
    assert seen["other"] == {}  # another thread does not see ours
    assert heapdump.load(path).context == {
        "request": {"method": "GET", "path": "/orders"}, "user_id": 42}
    assert heapdump.load(seen["path"]).context == {"job": "nightly"}
    assert heapdump.get_context() == {}


def test_context_is_per_asyncio_task(tmp_path):
    async def handler(n):
        heapdump.set_context("task", n)
        await asyncio.sleep(0.01)  # the other task runs meanwhile
        return heapdump.dump(tmp_path / ("task%d.dump" % n))

    async def main():
        return await asyncio.gather(handler(1), handler(2))

    paths = asyncio.run(main())
    assert [heapdump.load(p).context for p in paths] == [{"task": 1},
                                                         {"task": 2}]


def test_no_context_no_root(tmp_path):
    heapdump.clear_context()
    dump = heapdump.load(heapdump.dump(tmp_path / "x.dump"))
    assert dump.context == {} and "context" not in dump.roots


def test_context_keys_are_str():
    try:
        heapdump.set_context(1, "x")
    except TypeError:
        pass
    else:
        raise AssertionError("a non-str key was accepted")
