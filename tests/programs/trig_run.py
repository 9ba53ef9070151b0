"""A program for `python -m heapdump run`: it prints what it sees of how
it was started (as JSON), then does what its first argument says.

    python trig_run.py ok|exit|raise|keyboard|thread [args...]
"""

import json
import os
import pickle
import sys
import threading


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y


def report():
    main = sys.modules["__main__"]
    p = pickle.loads(pickle.dumps(Point(1, 2)))
    return {
        "argv": sys.argv,
        "path0": sys.path[0],
        "name": __name__,
        "file": __file__,
        "main_is_us": main.__dict__ is globals(),
        "main_file": getattr(main, "__file__", None),
        "spec": repr(__spec__),
        "pickled": [type(p).__module__, p.x, p.y],
        "cwd": os.getcwd(),
    }


def fail(what):
    depth = len(what)
    raise ValueError("failed: %s %d" % (what, depth))


print(json.dumps(report()), flush=True)
action = sys.argv[1] if len(sys.argv) > 1 else "ok"
if action == "exit":
    sys.exit(3)
elif action == "raise":
    fail("raise")
elif action == "keyboard":
    raise KeyboardInterrupt
elif action == "thread":
    t = threading.Thread(target=fail, args=("in thread",), name="worker")
    t.start()
    t.join()
    print("after thread", flush=True)
