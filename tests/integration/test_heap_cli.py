"""The heap analysis from the command line (python -m heapdump.open's
report flags), on real heap-scope dumps of a program that leaks: the
suspects name the leaking cache with the path from its module, the diff
ranks the leaking type first, every --json document follows
docs/analysis-schema.json, the tables fit the terminal."""

import json
import os
import pathlib
import subprocess
import sys

import pytest
from jsonschema_lite import validate

import heapdump
from conftest import PROGRAMS, child_env, run_python
from heapdump._heap import HeapGraph

SCHEMA = json.loads((pathlib.Path(__file__).resolve().parents[2] / "docs" /
                     "analysis-schema.json").read_text())
LEAKED = 60000


@pytest.fixture(scope="module")
def leak(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("leak")
    before, after = tmp / "before.dump", tmp / "after.dump"
    run_python(script=PROGRAMS / "heap_leak.py",
               args=[before, after, LEAKED])
    return before, after


def heapcli(*args, columns=100, module="heapdump.open"):
    env = child_env(COLUMNS=columns)
    r = subprocess.run([sys.executable, "-m", module] + [str(a) for a in args],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout


def heapjson(*args):
    d = json.loads(heapcli(*args, "--json"))
    validate(d, SCHEMA)
    return d


def test_suspects_name_the_cache_with_the_path_from_its_module(leak):
    _, after = leak
    d = heapjson(after, "--suspects")
    first = d["suspects"][0]
    point = first["accumulation_point"]
    assert point["type"] == "dict"
    assert first["items"] == LEAKED + 500
    assert first["holder"]["summary"] == "module leakyapp.cache"
    assert first["path_text"].startswith(
        "module leakyapp.cache \u25b8 ._STORE \u2192 dict")
    assert [s["label"] for s in first["path"]] == ["module leakyapp.cache",
                                                   "._STORE"]
    assert first["fraction"] > 0.5
    assert first["dominated"][1]["type"] == "leakyapp.cache.Session"
    assert first["dominated"][1]["count"] == LEAKED + 500
    text = heapcli(after, "--suspects")
    assert "accumulation point: dict (60,500 items)" in text
    assert "held by module leakyapp.cache" in text


def test_diff_ranks_the_leaking_type_first(leak):
    before, after = leak
    d = heapjson(before, "--diff", after)
    top = d["rows"][0]
    assert top["type"] == "leakyapp.cache.Session"
    assert top["delta_count"] == LEAKED
    assert top["count_a"] == 500
    assert top["delta_shallow"] > 0 and top["delta_retained"] > 0
    assert d["a"]["file"].endswith("before.dump")
    text = heapcli(before, "--diff", after, "--limit", "3")
    lines = text.splitlines()
    first_row = next(line for line in lines if line.startswith("1 "))
    assert first_row.endswith("leakyapp.cache.Session")


def test_every_report_follows_the_schema(leak):
    _, after = leak
    hist = heapjson(after, "--histogram", "--limit", "0")
    rows = {r["type"]: r for r in hist["rows"]}
    assert rows["leakyapp.cache.Session"]["count"] == LEAKED + 500
    assert hist["more"] == 0
    assert sum(r["shallow"] for r in hist["rows"]) == hist["header"]["shallow"]
    top = heapjson(after, "--top", "3")
    assert len(top["objects"]) == 3
    assert top["objects"][0]["retained"] >= top["objects"][1]["retained"]
    heapjson(after, "--dominators", "--depth", "2")
    store = heapjson(after, "--suspects")["suspects"][0]
    store_id = store["accumulation_point"]["id"]
    address = store["accumulation_point"]["address"]
    # an address as pdb prints it names the same object as its @id
    for ident in (store_id, address):
        refs = heapjson(after, "--referrers", ident)
        assert refs["object"]["id"] == store_id
        assert [r["label"] for r in refs["referrers"]] == ["['_STORE']"]
        assert refs["unseen_references"] == 0
    obj = heapjson(after, "--object", address)["object"]
    assert obj["id"] == store_id and obj["refcnt"] == 1
    assert obj["dominates"][0]["type"] == "leakyapp.cache.Session"
    paths = heapjson(after, "--paths-to", "leakyapp.cache.Session",
                     "--max", "2")
    assert len(paths["paths"]) == 2
    assert paths["paths"][0]["text"].startswith(
        "module leakyapp.cache \u25b8 ._STORE")
    assert paths["paths"][0]["steps"][-1]["label"].startswith("[")


def test_tables_fit_the_terminal(leak):
    _, after = leak
    for columns in (70, 140):
        text = heapcli(after, "--histogram", columns=columns)
        lines = text.splitlines()
        assert max(len(line) for line in lines[1:]) <= columns
        # the Type column takes the width that is left
        row = next(line for line in lines if line.lstrip().startswith("1 "))
        assert row.endswith("  dict")
    text = heapcli(after, "--histogram", "--bytes", "--limit", "2")
    assert "<" in text.splitlines()[-1] and "more" in text


def test_the_open_subcommand_is_the_same(leak):
    _, after = leak
    assert heapcli("open", after, "--top", "2", module="heapdump") == \
        heapcli(after, "--top", "2")


def test_no_keys_hides_dict_keys(leak):
    _, after = leak
    text = heapcli(after, "--paths-to", "leakyapp.cache.Session",
                   "--no-keys")
    assert "_STORE" not in text and "[\u2026]" in text


def test_an_object_held_through_a_weak_value_dictionary_is_not_retained(
        tmp_path):
    out = tmp_path / "weak.dump"
    r = run_python(script=PROGRAMS / "heap_scope.py", args=[out, "heap"])
    facts = json.loads(r.stdout.strip().splitlines()[-1])
    h = HeapGraph(out)
    held = h.resolve(facts["held_addr"])
    wvds = []
    for t in h.types_named("weakref.WeakValueDictionary"):
        wvds += h._g.of_type(t)
    assert wvds
    # nothing of the WeakValueDictionary dominates it
    node = held
    chain = []
    while node != h.super:
        node = h.idom(node)
        chain.append(node)
    assert not set(chain) & set(wvds)
    for wvd in wvds:
        assert held not in _dominated(h, wvd)
    # the WeakValueDictionary holds it through a weak reference
    _, weak, _ = h.referrers(held)
    assert weak and all(r.type_name == "weakref.KeyedRef" for r, _ in weak)


def _dominated(h, root):
    out, stack = set(), [root]
    while stack:
        v = stack.pop()
        for k in h.children(v):
            out.add(k)
            stack.append(k)
    return out


def test_progress_is_a_line_on_a_terminal_after_a_second():
    from heapdump._heap import _Progress

    class Tty:
        def __init__(self):
            self.text = ""

        def isatty(self):
            return True

        def write(self, s):
            self.text += s

        def flush(self):
            pass

    tty = Tty()
    p = _Progress(stream=tty)
    p("quick")
    assert tty.text == ""               # under a second: nothing
    p.start -= 2
    p("reading x: 1,048,576 records")
    assert tty.text == "\r\x1b[Kreading x: 1,048,576 records"
    p.done()
    assert tty.text.endswith("\r\x1b[K")
    pipe = Tty()
    pipe.isatty = lambda: False
    p = _Progress(stream=pipe)
    p.start -= 2
    p("x")
    assert pipe.text == ""


def test_why_at_the_pdb_prompt(tmp_path):
    # a smaller leak: pdb loads every object of the dump
    before, after = tmp_path / "before.dump", tmp_path / "after.dump"
    run_python(script=PROGRAMS / "heap_leak.py", args=[before, after, 3000])
    r = subprocess.run(
        [sys.executable, "-m", "heapdump.open", str(after)],
        input="!heapdump.why(cache._STORE)\nq\n", env=child_env(),
        capture_output=True, text=True, timeout=300)
    assert "dict (3,500 items)" in r.stdout, r.stdout + r.stderr
    assert "retained" in r.stdout
    assert "module leakyapp.cache \u25b8 ._STORE" in r.stdout


def test_a_frames_scope_dump_says_it_is_partial(tmp_path):
    path = heapdump.dump(tmp_path / "f.dump")
    text = heapcli(path, "--histogram")
    assert "frames-scope dump" in text
    assert os.path.basename(str(path)) in text
