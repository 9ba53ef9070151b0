"""Heap analysis: heapdump against guppy3 and objgraph on the same heap,
the same questions (make bench; guppy3 and objgraph from
requirements-bench.txt).

    python benchmarks/bench_heap.py [--objects N] [--big N] [--repeat R]

A child process builds a heap of about N objects (a dict of users, each an
instance with a str, a list and a dict; a doubly linked list of slotted
nodes held at both ends; a list of strings held twice), then:

- heapdump.dump(scope="heap") writes it (timed);
- guppy3 and objgraph, in the same process on the live heap, answer
  three questions: a histogram by type; the memory the users dict keeps
  alive (guppy3's domisize; objgraph has no retained size); a path from a
  root to one user (guppy3's shpaths, objgraph's find_backref_chain to a
  module).

A second process (its memory measured alone) answers the same questions
from the dump with heapdump's analysis: the graph build, the dominators
and retained sizes, then each question.  With --big, the same for a
heap of that many objects without guppy3 and objgraph: the issue's
targets (a graph built at >= 2 M objects/s; dominators and retained sizes
of 10 M objects in < 15 s on one core; <= 60 bytes of analysis memory per
object).  Each figure is the median of --repeat runs, with the spread.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


# ------------------------------------------------------------- the heap

def build_heap(n):
    """About n object records: 70% users (3 each: the instance, its list
    and its dict; their str and int values are written inline), 10%
    linked-list nodes, 10% strings (held twice: records of their own)."""
    class User:
        def __init__(self, i):
            self.id = i
            self.name = "user-%d" % i
            self.tags = [i, i + 1]
            self.profile = {"age": i % 90, "city": "c%d" % (i % 100)}

    class Node:
        __slots__ = ("prev", "next", "payload")

    users = {i: User(i) for i in range(int(n * 0.7) // 3)}
    head = tail = Node()
    head.prev = None
    head.payload = 0
    for j in range(int(n * 0.1)):
        x = Node()
        x.prev, x.payload, x.next = tail, j, None
        tail.next = x
        tail = x
    strings = ["s%08d" % k for k in range(int(n * 0.1))]
    return {"users": users, "head": head, "tail": tail, "strings": strings,
            "strings2": list(strings)}


def child(n, dump_path, compare):
    """The dumped process: build, dump, and (compare) ask guppy3 and
    objgraph.  Prints a JSON line of figures."""
    import gc

    gc.disable()
    heap = build_heap(n)
    globals()["HEAP"] = heap            # a module global holds it
    users = heap["users"]
    key = len(users) // 2
    out = {"objects_built": n, "user_key": key,
           "users_address": hex(id(users)),
           "user_address": hex(id(users[key]))}
    import heapdump

    t = time.perf_counter()
    heapdump.dump(dump_path, scope="heap")
    out["dump_s"] = time.perf_counter() - t
    if compare:
        import objgraph
        from guppy import hpy

        hp = hpy()
        t = time.perf_counter()
        h = hp.heap()
        str(h)
        out["guppy_histogram_s"] = time.perf_counter() - t
        out["guppy_objects"] = len(h.nodes) if hasattr(h, "nodes") else None
        t = time.perf_counter()
        out["guppy_users_retained"] = hp.iso(users).domisize
        out["guppy_retained_s"] = time.perf_counter() - t
        target = users[key]
        t = time.perf_counter()
        out["guppy_path"] = str(hp.iso(target).shpaths).strip()[:200]
        out["guppy_path_s"] = time.perf_counter() - t
        t = time.perf_counter()
        stats = objgraph.typestats()
        out["objgraph_histogram_s"] = time.perf_counter() - t
        out["objgraph_users"] = stats.get("User")
        t = time.perf_counter()
        chain = objgraph.find_backref_chain(target, objgraph.is_proper_module,
                                            max_depth=20)
        out["objgraph_path_s"] = time.perf_counter() - t
        out["objgraph_path_len"] = len(chain)
        del target, chain
    print(json.dumps(out))


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


def analyze(dump_path, users_address, user_address):
    """The analyzing process: heapdump's answers, timed, and its memory."""
    from heapdump._heap import HeapGraph

    base = _rss()
    out = {}
    t = time.perf_counter()
    h = HeapGraph(dump_path, progress=lambda text: None)
    out["build_s"] = time.perf_counter() - t
    out["objects"] = h.n
    out["edges"] = h.facts["edges"]
    t = time.perf_counter()
    h.analyze()
    out["dominators_s"] = time.perf_counter() - t
    out["memory_per_object"] = h.memory() / h.n
    t = time.perf_counter()
    rows = h.histogram()
    out["histogram_s"] = time.perf_counter() - t
    out["histogram_users"] = next((r["count"] for r in rows
                                   if r["type"].endswith("User")), None)
    t = time.perf_counter()
    users = h.resolve(users_address)
    out["users_retained"] = h.retained(users)
    out["retained_s"] = time.perf_counter() - t
    # the user with that key, named by its address as pdb would print it
    t = time.perf_counter()
    path = h.shortest_path(h.resolve(user_address))
    out["path"] = str(path)[:200]
    out["path_s"] = time.perf_counter() - t
    peak = _peak()
    out["peak_per_object"] = (peak - base) / h.n if peak else None
    print(json.dumps(out))


# -------------------------------------------------------------- driver

def run(args, timeout=3600):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [ROOT] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep)
                  if p])
    env.pop("PYTHONDEVMODE", None)
    r = subprocess.run([sys.executable, os.path.abspath(__file__)] + args,
                       capture_output=True, text=True, env=env,
                       timeout=timeout)
    if r.returncode != 0:
        sys.exit("benchmark child failed:\n" + r.stderr[-3000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    med = statistics.median(values)
    return "%8.3f  (%.3f-%.3f)" % (med, min(values), max(values))


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def one_size(n, repeat, compare, workdir):
    children, analyses = [], []
    for i in range(repeat):
        path = os.path.join(workdir, "heap-%d-%d.dump" % (n, i))
        c = run(["--child", str(n), path, "1" if compare else "0"])
        a = run(["--analyze", path, c["users_address"],
                 c["user_address"]])
        children.append(c)
        analyses.append(a)
        os.unlink(path)
    return children, analyses


def report(n, children, analyses, compare):
    a0, c0 = analyses[0], children[0]
    objects = a0["objects"]
    edges = a0["edges"]

    def col(rows, key):
        return [r.get(key) for r in rows]

    print("\n== a heap of %s objects, %s references (%.2f per object), "
          "%d runs" % ("{:,}".format(objects), "{:,}".format(edges),
                       edges / objects, len(analyses)))
    print("   (median seconds, min-max)")
    print("heapdump.dump(scope='heap')      %s" % spread(col(children,
                                                               "dump_s")))
    builds = col(analyses, "build_s")
    rates = [objects / b / 1e6 for b in builds]
    print("graph build                      %s   %.2f M objects/s "
          "(%.2f-%.2f)" % (spread(builds), median(rates), min(rates),
                           max(rates)))
    print("dominators + retained sizes      %s" % spread(
        col(analyses, "dominators_s")))
    print("analysis memory per object       %.1f B peak RSS (%.1f-%.1f), "
          "%.1f B in the graph's arrays" % (
              median(col(analyses, "peak_per_object")),
              min(col(analyses, "peak_per_object")),
              max(col(analyses, "peak_per_object")),
              median(col(analyses, "memory_per_object"))))
    first = [a["build_s"] + a["dominators_s"] for a in analyses]
    rows = [
        ("histogram by type", col(analyses, "histogram_s"),
         col(children, "guppy_histogram_s"),
         col(children, "objgraph_histogram_s")),
        ("retained size of the users dict", col(analyses, "retained_s"),
         col(children, "guppy_retained_s"), None),
        ("path from a root to a user", col(analyses, "path_s"),
         col(children, "guppy_path_s"), col(children, "objgraph_path_s")),
    ]
    if compare:
        print("\nquestion                          heapdump (graph built) "
              "      guppy3 (live)              objgraph (live)")
        for name, ours, guppy, og in rows:
            print("%-32s %s   %s   %s" % (name, spread(ours), spread(guppy),
                                         spread(og) if og else "    n/a"))
        print("heapdump from the file, graph and dominators included:")
        for name, ours, guppy, og in rows:
            total = [f + q for f, q in zip(first, ours)]
            ratio_g = median(total) / median(guppy)
            text = "%-32s %s   %.2fx guppy3" % (name, spread(total), ratio_g)
            if og:
                text += ", %.2fx objgraph" % (median(total) / median(og))
            print(text)
        print("answers: users dict retains %s bytes (heapdump) / %s bytes "
              "(guppy3 domisize); User objects %s (heapdump) / %s "
              "(objgraph)" % (
                  "{:,}".format(a0["users_retained"]),
                  "{:,}".format(c0["guppy_users_retained"]),
                  "{:,}".format(a0["histogram_users"] or 0),
                  "{:,}".format(c0["objgraph_users"] or 0)))
        print("path: heapdump  %s" % a0["path"])
        print("      guppy3    %s" % c0["guppy_path"].splitlines()[0])
        print("      objgraph  a chain of %d objects to a module"
              % c0["objgraph_path_len"])
    else:
        for name, ours, _, _ in rows:
            print("%-32s %s" % (name, spread(ours)))
    return first


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--objects", type=int, default=1_000_000,
                   help="the heap compared with guppy3 and objgraph")
    p.add_argument("--big", type=int, default=10_000_000,
                   help="the heap for the targets (0: none)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--child", nargs=3, metavar=("N", "DUMP", "COMPARE"),
                   help=argparse.SUPPRESS)
    p.add_argument("--analyze", nargs=3,
                   metavar=("DUMP", "USERS", "USER"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(int(args.child[0]), args.child[1], args.child[2] == "1")
        return 0
    if args.analyze:
        analyze(args.analyze[0], args.analyze[1], args.analyze[2])
        return 0
    print("heapdump heap analysis benchmark (Python %s, %d CPUs)"
          % (sys.version.split()[0], os.cpu_count() or 0))
    with tempfile.TemporaryDirectory(prefix="bench-heap-") as workdir:
        c, a = one_size(args.objects, args.repeat, True, workdir)
        report(args.objects, c, a, True)
        if args.big:
            c, a = one_size(args.big, args.repeat, False, workdir)
            first = report(args.big, c, a, False)
            objects = a[0]["objects"]
            rate = median([objects / x["build_s"] for x in a]) / 1e6
            dom = median([x["dominators_s"] for x in a])
            mem = median([x["peak_per_object"] for x in a])
            print("\ntargets at %s objects: graph build %.2f M objects/s "
                  "(>= 2: %s); dominators + retained %.2f s (< 15: %s); "
                  "%.1f B/object (<= 60: %s); file to answers %.2f s"
                  % ("{:,}".format(objects), rate,
                     "yes" if rate >= 2 else "NO", dom,
                     "yes" if dom < 15 else "NO", mem,
                     "yes" if mem <= 60 else "NO", median(first)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
