"""What the unit tests that dump in their own process share: finding a
dumped frame, dumping a frame that holds some values and loading them
back, and a profiler that records what Python code runs inside
heapdump's C dump() (the no-user-code tests: it must be nothing)."""

import heapdump


def frame_named(dump, name):
    """The dumped frame of the function called name, in any thread."""
    for thread in dump.threads:
        for f in thread.frames:
            if f.code is not None and f.code.name == name:
                return f
    raise AssertionError("no frame %s" % name)


def roundtrip(tmp_path, values, file="scene.dump", **limits):
    """Dump a frame holding values (with these limits), load it: the dump
    and the loaded values."""
    def scene(values):
        heapdump.dump(tmp_path / file, **limits)
        return values

    scene(values)
    d = heapdump.load(tmp_path / file)
    return d, frame_named(d, "scene").locals["values"]


class DumpProfiler:
    """A sys.setprofile function: ``events`` gets (event, function name)
    for every call and return that happens between heapdump's C dump()
    being called and its return."""

    def __init__(self):
        self.events = []
        self._inside = False

    def __call__(self, frame, event, arg):
        if event == "c_call" and getattr(arg, "__name__", "") == "dump" \
                and getattr(arg, "__module__", "") == "heapdump._heapdump":
            self._inside = True
        elif event == "c_return" and self._inside and \
                getattr(arg, "__name__", "") == "dump":
            self._inside = False
        elif self._inside:
            self.events.append((event, frame.f_code.co_name))
