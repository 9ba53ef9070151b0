"""The heap shapes of the benchmarks (issue 14), built to a number of
objects.

An object here is a Python object the heap holds, each counted once:
what a bare walk from the heap's root visits (benchmarks/barewalk.c), the
one-reference str, int and float values included (heapdump writes those
inline, without a record of their own), None and the booleans not.  Each
shape says how many objects one entry makes, so that build(shape, n)
makes about n:

- dict: instances in a dict, {"u00000001": User, ...}; a User has five
  attributes (id int, name str, email str, score float, active bool): 6
  objects an entry (the key, the instance and four values);
- list: instances in a list with string attributes; a Person has first,
  last and email (unique) and city and country (from pools of 1,000 and 50
  shared strings): 4 objects an entry;
- json: nested JSON-like documents as json.loads makes them (parsed in
  chunks of 5,000: a chunk's keys are shared), a list of
  {"id", "name", "tags": [3 str], "address": {street, city, zip},
  "scores": [3 float], "active", "parent": None}: 15 objects a document.
"""

import json

SHAPES = ("dict", "list", "json")

PER_ENTRY = {"dict": 6, "list": 4, "json": 15}

DESCRIBE = {
    "dict": "instances in a dict (5 attributes: int, 2 str, float, bool)",
    "list": "instances in a list (5 str attributes, 2 of them shared)",
    "json": "nested JSON-like documents (json.loads: dicts, lists, str, "
            "float)",
}


class User:
    def __init__(self, i):
        self.id = i * 7919 + 1000
        self.name = "user%d" % i
        self.email = "user%d@example.com" % i
        self.score = i * 0.5 + 0.25
        self.active = bool(i % 3)


class Person:
    def __init__(self, i, cities, countries):
        self.first = "first%d" % i
        self.last = "last%d" % i
        self.email = "person%d@example.org" % i
        self.city = cities[i % len(cities)]
        self.country = countries[i % len(countries)]


def _dict(entries):
    return {"u%08d" % i: User(i) for i in range(entries)}


def _list(entries):
    cities = ["city-%d" % i for i in range(1000)]
    countries = ["country-%d" % i for i in range(50)]
    return [Person(i, cities, countries) for i in range(entries)]


def _doc(i):
    return {"id": 1000 + i, "name": "doc-%d" % i,
            "tags": ["tag%d" % (i % 97), "tag%d" % (i % 89),
                     "tag%d" % (i % 83)],
            "address": {"street": "%d Main Street" % i,
                        "city": "city%d" % (i % 1000),
                        "zip": "%05d" % (i % 100000)},
            "scores": [i * 0.1 + 0.01, i * 0.2 + 0.02, i * 0.3 + 0.03],
            "active": i % 2 == 0, "parent": None}


def _json(entries, chunk=5000):
    docs = []
    for start in range(0, entries, chunk):
        text = json.dumps([_doc(i) for i in
                           range(start, min(entries, start + chunk))])
        docs.extend(json.loads(text))
    return docs


def build(shape, objects):
    """The root of a heap of about objects objects of that shape."""
    entries = max(1, objects // PER_ENTRY[shape])
    return {"dict": _dict, "list": _list, "json": _json}[shape](entries)
