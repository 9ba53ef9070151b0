"""Dumps a frame holding one of every builtin type, shared and cyclic
values, instances, subclasses of builtins and an exception chain.

    python rich_state.py FILE

tests/integration/test_cross_version.py loads the file with every other
supported Python and compares with expected_values() below.
"""

import collections
import math
import sys

import heapdump


class Account:
    def __init__(self, owner, balance):
        self.owner = owner
        self.balance = balance


class Tagged(dict):
    pass


Point = collections.namedtuple("Point", "x y")


def expected_values():
    """The values the dumped frame holds (for the loader's side too)."""
    shared = ["shared"]
    cyclic = [1, 2]
    cyclic.append(cyclic)
    return {
        "none": None, "yes": True, "no": False,
        "small": 7, "big": -(3 ** 200), "zero": 0,
        "pi": 3.141592653589793, "negzero": -0.0, "inf": float("inf"),
        "ninf": float("-inf"), "c": complex(1.5, -2.0),
        "text": "caf\u00e9 \U0001f600 \udc80 end",
        "raw": b"\x00\xffbytes", "mutable": bytearray(b"ba"),
        "tup": (1, "two", (3.0,)), "lst": [1, [2, [3]]],
        "dct": {"a": 1, 2: "b", (3, 4): [5]}, "st": {1, 2, 3},
        "fst": frozenset({"x", "y"}), "rng": range(2, 20, 3),
        "slc": slice(1, None, 2), "ell": Ellipsis,
        "shared_a": shared, "shared_b": shared, "cyclic": cyclic,
    }


def main(path):
    v = expected_values()
    none, yes, no = v["none"], v["yes"], v["no"]
    small, big, zero = v["small"], v["big"], v["zero"]
    pi, negzero, inf, ninf, c = (v["pi"], v["negzero"], v["inf"],
                                 v["ninf"], v["c"])
    nan = math.nan
    text, raw, mutable = v["text"], v["raw"], v["mutable"]
    tup, lst, dct, st, fst = v["tup"], v["lst"], v["dct"], v["st"], v["fst"]
    rng, slc, ell = v["rng"], v["slc"], v["ell"]
    shared_a, shared_b, cyclic = v["shared_a"], v["shared_b"], v["cyclic"]
    account = Account("ann", 12.5)
    ordered = collections.OrderedDict([("z", 1), ("a", 2)])
    counts = collections.Counter("hello")
    tagged = Tagged(k="v")
    tagged.label = "my-tag"
    point = Point(3, 4)
    try:
        try:
            {}["missing"]
        except KeyError as inner:
            raise ValueError("outer failure") from inner
    except ValueError:
        heapdump.dump(path)


if __name__ == "__main__":
    main(sys.argv[1])
