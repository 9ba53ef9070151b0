"""A program that dumps its whole heap (scope="heap") and prints, as JSON,
what the test checks the file against: addresses and sys.getsizeof of
objects, measured here, in the dumped process.

    python heap_scope.py OUT.dump [frames|heap]
"""

import gc
import json
import sys
import weakref

import heapdump

gc.disable()            # the garbage below must still be there


class Item:
    def __init__(self, i):
        self.i = i
        self.name = "item-%d" % i


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self):
        self.a = [1, 2, 3]
        self.b = None


_CACHE = {i: Item(i) for i in range(50)}

def _gen():
    x = [1]
    yield x


async def _coro():
    return 1


async def _agen():
    yield 1


def _returned_frame():
    local = "kept"
    return sys._getframe()


_suspended = _gen()
next(_suspended)
_finished = _gen()
for _ in _finished:
    pass

# builtin objects with records of their own (held twice: not inline); the
# frame-like ones have an itemsize but (3.11+) no ob_size
SAMPLES = {
    "generator_suspended": _suspended,
    "generator_finished": _finished,
    "generator_created": _gen(),
    "coroutine": _coro(),
    "async_generator": _agen(),
    "frame_returned": _returned_frame(),
    "list": [1, 2, 3, "x"],
    "empty_list": [],
    "dict": {"a": 1, "b": [2]},
    "empty_dict": {},
    "tuple": (1, "two", 3.0),
    "set": {1, 2, 3},
    "frozenset": frozenset({"p", "q"}),
    "str_ascii": "hello world" * 3,
    "str_latin1": "caf\xe9 cr\xe8me",
    "str_ucs2": "\u20ac uro \u4e2d\u6587",
    "str_ucs4": "\U0001f600 smile",
    "bytes": b"\x00\x01 binary" * 4,
    "bytearray": bytearray(b"mutable bytes"),
    "int_small": 12345678,
    "int_big": 1 << 200,
    "float": 2.718281828,
    "complex": 1 + 2j,
    "range": range(3, 30, 3),
    "slice": slice(1, 9, 2),
    "type_dict": dict,
    "str_with_utf8": "".join(["\xf1", "ame"]),
}
# a str whose UTF-8 copy is kept beside it (a class name is one): counted
type(SAMPLES["str_with_utf8"], (), {})
SAMPLES_AGAIN = list(SAMPLES.values())

# values held once, by this list only: written inline, sized by INLINE
INLINE_STRS = ["inline string number %d" % i for i in range(10)] + \
    ["\u20ac-%d" % i for i in range(3)]
INLINE_NUMBERS = [10 ** 12 + i for i in range(5)] + [0.5 + i for i in range(4)]

# a cycle nobody references: garbage that awaits collection
_cycle = [["a garbage cycle"]]
_cycle.append(_cycle)
CYCLE_ADDR = id(_cycle)
CYCLE_REFCNT = sys.getrefcount(_cycle) - 2   # less the argument, _cycle
del _cycle

# held only through a WeakValueDictionary (and a strong ref from a frame)
WEAK = weakref.WeakValueDictionary()


def main():
    out, scope = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "heap"
    held = Item(-1)
    WEAK["held"] = held
    inst = Item(99)
    facts = {
        "sizes": {hex(id(v)): sys.getsizeof(v) for v in SAMPLES.values()},
        "names": {hex(id(v)): k for k, v in SAMPLES.items()},
        "inline_strs": sum(sys.getsizeof(s) for s in INLINE_STRS),
        "inline_ints": sum(sys.getsizeof(n) for n in INLINE_NUMBERS
                           if isinstance(n, int)),
        "inline_floats": sum(sys.getsizeof(n) for n in INLINE_NUMBERS
                             if isinstance(n, float)),
        "inline_strs_addr": hex(id(INLINE_STRS)),
        "inline_numbers_addr": hex(id(INLINE_NUMBERS)),
        "cycle_addr": hex(CYCLE_ADDR),
        "cycle_refcnt": CYCLE_REFCNT,
        "instance_addr": hex(id(inst)),
        "slotted_addr": None,
        "held_addr": hex(id(held)),
        "version": list(sys.version_info[:2]),
    }
    slotted = Slotted()
    facts["slotted_addr"] = hex(id(slotted))
    facts["slotted_size"] = sys.getsizeof(slotted)
    # the instance's size: itself plus its attribute storage
    facts["instance_getsizeof"] = sys.getsizeof(inst)
    live = sys._getframe()
    facts["sizes"][hex(id(live))] = sys.getsizeof(live)
    facts["names"][hex(id(live))] = "frame_live"
    heapdump.dump(out, scope=scope)
    SAMPLES["coroutine"].close()
    print(json.dumps(facts))
    return held, inst, slotted


if __name__ == "__main__":
    main()
