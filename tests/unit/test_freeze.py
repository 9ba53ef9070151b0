"""The world stands still during a dump: threads that mutate shared
structures never show torn state."""

import sys
import threading

import heapdump
from records import KINDS, Records, expand


def frame_values(recs, code_name):
    for rec in recs.objects:
        if KINDS[rec[0]] == "FRAME" and rec[4] is not None:
            code = recs.objects[rec[4]]
            if code[4] == code_name:
                return dict(zip(code[12], rec[11]))
    raise KeyError(code_name)


def test_mutating_threads_show_no_torn_state(tmp_path):
    # The worker appends n to `first`, then to `second`: at any instant
    # len(first) - len(second) is 0 or 1.  `first` is near the roots of the
    # walk and `second` deep below a big heap, so the walk reads them far
    # apart in time; if any other thread ran meanwhile, the lengths would
    # drift by thousands.
    stop = threading.Event()
    started = threading.Event()

    def mutate():
        first = []
        deep = [[[[[]]]]]  # `second` is only reachable four levels down
        n = 0
        started.set()
        while not stop.is_set():
            first.append(n)
            deep[0][0][0][0].append(n)
            n += 1
            if len(first) > 200_000:
                del first[:100_000]
                del deep[0][0][0][0][:100_000]

    worker = threading.Thread(target=mutate)
    worker.start()
    started.wait()
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch as often as the GIL allows
    try:
        big = [[i] for i in range(150_000)]  # noqa: F841 (walked first)
        paths = [heapdump.dump(tmp_path / ("x%d.dump" % i),
                               max_items=None, max_objects=None)
                 for i in range(3)]
    finally:
        sys.setswitchinterval(old)
        stop.set()
        worker.join()
    for path in paths:
        recs = Records(path)
        values = frame_values(recs, "mutate")
        first_id = values["first"]
        second_id = values["deep"]
        for _ in range(4):
            second_id = expand(recs.objects[second_id][4:])[0]
        assert second_id > first_id + 100_000  # written much later
        first_rec = recs.objects[first_id]
        second_rec = recs.objects[second_id]
        assert KINDS[first_rec[0]] == KINDS[second_rec[0]] == "LIST"
        n_first = len(_all_items(recs, first_id))
        n_second = len(_all_items(recs, second_id))
        assert n_first - n_second in (0, 1), (n_first, n_second)
        assert n_first > 0  # the worker had started appending


def _all_items(recs, oid):
    """Elements of a LIST record and of the MORE records after it."""
    target = recs.objects[oid]
    idx = next(i for i, r in enumerate(recs.all) if r is target)
    items = expand(target[4:])
    for rec in recs.all[idx + 1:]:
        if rec[0] != 68:
            break
        items += expand(rec[1:])
    return items
