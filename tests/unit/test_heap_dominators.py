"""The heap analysis' graph and dominators (src/graph_build.c,
src/dominators.c) against a brute-force oracle, on files written by the
independent writer (tests/dumpwriter.py): random small graphs, doubly
linked lists, self-loops, weak references, inline values and cuts."""

import random

import pytest
from dumpwriter import LIST, Int, Writer

from heapdump._heap import HeapGraph


def write_graph(tmp_path, succ, sizes, roots=(0,), weak=None, name="g"):
    """A file whose object i is a LIST record holding references to
    succ[i] (weak[i]: a WEAKREF to it instead), ROOT "r" -> roots."""
    w = Writer(version="1.3", scope="heap")
    wr_type = None
    if weak:
        wr_type = len(succ)          # after the nodes
    for i, targets in enumerate(succ):
        if weak and i in weak:
            w.obj(28, wr_type, weak[i], None, size=sizes[i])
        else:
            w.obj(LIST, *targets, size=sizes[i])
    if wr_type is not None:
        w.type_("ref", module="weakref", size=0)
    for r in roots:
        w.root("r%d" % r, r)
    path = tmp_path / ("%s.dump" % name)
    w.write(path)
    return path


def reachable(succ, start, removed):
    seen, stack = {start}, [start]
    while stack:
        v = stack.pop()
        for w in succ[v]:
            if w != removed and w not in seen:
                seen.add(w)
                stack.append(w)
    return seen


def oracle_idoms(succ, root):
    """Immediate dominators by definition: u dominates v when v is not
    reachable from root without u; idom(v) is the dominator of v that
    every other strict dominator of v dominates."""
    n = len(succ)
    reach = reachable(succ, root, None)
    dom = {v: {v} for v in reach}
    for u in reach:
        if u == root:
            continue
        without = reachable(succ, root, u)
        for v in reach:
            if v not in without:
                dom[v].add(u)
    for v in reach:
        dom[v].add(root)
    idom = {}
    for v in reach:
        if v == root:
            continue
        strict = dom[v] - {v}
        # the closest: dominated by all the others
        idom[v] = next(d for d in strict
                       if all(o in dom[d] for o in strict))
    assert len(reach) <= n
    return idom


def check(tmp_path, succ, sizes, name="g"):
    path = write_graph(tmp_path, succ, sizes, name=name)
    h = HeapGraph(path, progress=lambda text: None).analyze()
    g = h._g
    root_group = [node for kind, gname, _, node in g.groups()
                  if gname == "r0"][0]
    expect = oracle_idoms(succ, 0)
    for v, d in expect.items():
        assert g.node(v)[5] == d, (v, succ)
    assert g.node(0)[5] == root_group
    # retained = own size + the sizes of the dominator subtree
    kids = {}
    for v, d in expect.items():
        kids.setdefault(d, []).append(v)

    def subtree(v):
        return sizes[v] + sum(subtree(k) for k in kids.get(v, ()))

    for v in expect:
        assert g.node(v)[4] == subtree(v), v
    assert g.node(0)[4] == subtree(0)
    return h


def random_graph(rng, n):
    succ = [[] for _ in range(n)]
    order = list(range(1, n))
    rng.shuffle(order)
    # a spanning tree from 0, so that everything is reachable
    placed = [0]
    for v in order:
        succ[rng.choice(placed)].append(v)
        placed.append(v)
    for _ in range(rng.randint(0, 2 * n)):
        a, b = rng.randrange(n), rng.randrange(n)
        succ[a].append(b)           # cross, back and self edges, repeats
    if rng.random() < 0.5:
        # a doubly linked list hung off a random node, held at both ends
        length = rng.randint(2, 6)
        start = len(succ)
        succ.extend([] for _ in range(length))
        for i in range(length):
            if i + 1 < length:
                succ[start + i].append(start + i + 1)
                succ[start + i + 1].append(start + i)
        succ[rng.randrange(start)].append(start)
        succ[rng.randrange(start)].append(start + length - 1)
    return succ


@pytest.mark.parametrize("seed", range(60))
def test_random_graphs_agree_with_the_oracle(tmp_path, seed):
    rng = random.Random(seed)
    succ = random_graph(rng, rng.randint(1, 30))
    sizes = [rng.randint(0, 1000) for _ in succ]
    check(tmp_path, succ, sizes)


def test_self_loops_and_a_lone_root(tmp_path):
    check(tmp_path, [[0]], [7])
    check(tmp_path, [[0, 1, 1], [1, 0]], [3, 5], name="h")


def test_a_long_doubly_linked_list_held_at_both_ends(tmp_path):
    # the shape that makes an iterative dominator algorithm take a pass
    # per element: here one pass; every element but the ends is dominated
    # by the list's holder (0), each end too
    n = 20000
    succ = [[1, n]] + [[] for _ in range(n)]
    for i in range(1, n + 1):
        if i < n:
            succ[i].append(i + 1)
        if i > 1:
            succ[i].append(i - 1)
    sizes = [1] * (n + 1)
    path = write_graph(tmp_path, succ, sizes)
    h = HeapGraph(path, progress=lambda text: None).analyze()
    assert all(h._g.node(v)[5] == 0 for v in range(1, n + 1))
    assert h.retained(0) == n + 1
    # a singly linked chain: each element dominates the rest
    chain = [[i + 1] for i in range(n)] + [[]]
    path = write_graph(tmp_path, chain, sizes, name="chain")
    h = HeapGraph(path, progress=lambda text: None).analyze()
    assert h.retained(0) == n + 1 and h.retained(n // 2) == n - n // 2 + 1
    assert len(h._g.path(n)) == n + 3       # super, group, 0 ... n


def test_weak_references_never_retain(tmp_path):
    # 0 -> 1 (a WEAKREF) -weak-> 2; 0 -> 3 -> 2: 3 retains 2, not 1
    succ = [[1, 3], [], [], [2]]
    path = write_graph(tmp_path, succ, [10, 20, 400, 30], weak={1: 2})
    h = HeapGraph(path, progress=lambda text: None).analyze()
    assert h.retained(1) == 20
    assert h.idom(2) == 3 and h.retained(3) == 430
    strong, weak = h._g.referrers(2)
    assert strong == [3] and weak == [1]
    # held through the weak reference only: not retained by it either,
    # the "unattributed" group holds it
    succ = [[1], [], []]
    path = write_graph(tmp_path, succ, [10, 20, 400], weak={1: 2},
                       name="weakonly")
    h = HeapGraph(path, progress=lambda text: None).analyze()
    assert h.retained(1) == 20 and h.retained(0) == 30
    kind, name, _ = h._groups[h.idom(2)]
    assert kind == "unattributed"


def test_inline_values_are_retained_by_their_container(tmp_path):
    w = Writer(version="1.3", scope="heap")
    w.obj(LIST, 1, "an inline str", Int(10 ** 20), size=72)
    w.inline(str_=62, int_=36)
    w.obj(LIST, "x", size=64)
    w.inline(str_=50)
    w.root("r", 0)
    w.write(tmp_path / "i.dump")
    h = HeapGraph(tmp_path / "i.dump").analyze()
    assert h.shallow(0) == 72 + 98 and h.retained(0) == 72 + 98 + 64 + 50
    rows = {r["type"]: r for r in h.histogram()}
    assert rows["str"]["count"] == 2 and rows["str"]["shallow"] == 112
    assert rows["int"]["count"] == 1 and rows["int"]["shallow"] == 36
    assert rows["list"]["shallow"] == 136
    assert h.total == 72 + 98 + 64 + 50


def test_a_cut_makes_every_retained_size_above_it_a_lower_bound(tmp_path):
    w = Writer(version="1.3", scope="heap")
    w.obj(LIST, 1, 2, size=10)
    w.obj(LIST, 3, size=10)
    w.cut(50000)
    w.obj(LIST, 3, size=10)        # cut: it had more
    w.obj(LIST, size=10)
    w.root("r", 0)
    w.write(tmp_path / "c.dump")
    h = HeapGraph(tmp_path / "c.dump").analyze()
    assert h.is_lower_bound(2) and h.is_lower_bound(0)
    assert not h.is_lower_bound(1) and not h.is_lower_bound(3)


def test_hostile_references_are_dropped_not_followed(tmp_path):
    w = Writer(version="1.3", scope="heap")
    w.obj(LIST, 1, 99999, 2 ** 40, size=8)
    w.obj(LIST, 0, size=8)
    w.root("r", 0)
    w.write(tmp_path / "x.dump")
    h = HeapGraph(tmp_path / "x.dump").analyze()
    assert h.facts["lost_edges"] == 2
    assert h.retained(0) == 16
    assert any("dropped" in warning for warning in h.warnings)


def test_damaged_files_fail_cleanly_or_build(tmp_path):
    """A body with random bytes changed: the graph builds (what a damaged
    record holds is dropped or read as it is) or HeapdumpError says why;
    never a crash (make asan runs this under AddressSanitizer)."""
    from dumpwriter import DICT, file_with_body

    from heapdump._model import HeapdumpError

    rng = random.Random(7)
    w = Writer(version="1.3", scope="heap", meta=True)
    t = w.type_("Item", module="app", size=400)
    lay = w.layout(t, ["a", "b"])
    items = [w.instance(lay, [Int(i), "x" * (i % 7)], size=56)
             for i in range(30)]
    w.obj(DICT, [Int(i) for i in range(30)], items, size=1200)
    w.obj(LIST, *items, size=300)
    w.thread(1, None)
    w.root("r", len(items) + 2)
    w.roots("unreached", 0, 1)
    w.trailer()
    body = w.body()
    outcomes = {"built": 0, "refused": 0}
    for i in range(300):
        damaged = bytearray(body)
        for _ in range(rng.randint(1, 6)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        path = tmp_path / ("d%d.dump" % i)
        path.write_bytes(file_with_body(bytes(damaged), version="1.3"))
        try:
            h = HeapGraph(path, progress=lambda text: None).analyze()
        except HeapdumpError:
            outcomes["refused"] += 1
            continue
        h.histogram()
        h.top(3)
        h.suspects()
        outcomes["built"] += 1
    assert outcomes["built"] and outcomes["refused"]
