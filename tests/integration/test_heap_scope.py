"""Heap-scope dumps (format 1.2): the roots of the whole heap, the GC's
unreached objects, object sizes as sys.getsizeof gives them in the dumped
process, and the INLINE sizes, read with the independent reader."""

import json
import subprocess
import sys

import pytest

import heapdump
from conftest import PROGRAMS, child_env
from records import KINDS, Records, expand, headers, split


def dump_child(python, tmp_path, scope="heap"):
    out = tmp_path / ("child-%s.dump" % scope)
    r = python(script=PROGRAMS / "heap_scope.py", args=[out, scope])
    return out, json.loads(r.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def heap(tmp_path_factory):
    from conftest import run_python

    tmp = tmp_path_factory.mktemp("heap")
    path, facts = dump_child(run_python, tmp)
    return path, Records(str(path)), facts


def keys_of(recs, rec):
    """The keys of a DICT record, STR records decoded."""
    return [recs.objects[k][4] if isinstance(k, int) else k
            for k in expand(rec[4])]


def by_address(recs):
    return {addr: oid for oid, addr in enumerate(recs.addresses())}


def test_heap_scope_is_said_in_header_and_meta(heap):
    path, recs, _ = heap
    assert headers(path)["Heapdump-Scope"] == "heap"
    version = headers(path)["Heapdump-Version"]
    assert version == heapdump.FORMAT_VERSION == "1.4"
    assert recs.meta()["scope"] == "heap"


def test_the_named_roots_are_the_modules_builtins_and_sys(heap):
    _, recs, _ = heap
    roots = {r[1]: r[2] for r in recs.of("ROOT")}
    assert set(roots) >= {"exception", "modules", "builtins", "sys"}
    modules = recs.objects[roots["modules"]]
    assert KINDS[modules[0]] == "DICT"
    names = keys_of(recs, modules)
    assert "__main__" in names and "sys" in names and "heapdump" in names
    assert KINDS[recs.objects[roots["sys"]][0]] == "MODULE"
    builtins = recs.objects[roots["builtins"]]
    assert KINDS[builtins[0]] == "DICT"


def test_each_module_references_its_globals(heap):
    _, recs, _ = heap
    main = next(r for r in recs.objects
                if KINDS[r[0]] == "MODULE" and r[4] == "__main__")
    globals_ = recs.objects[main[6]]
    assert KINDS[globals_[0]] == "DICT"
    keys = keys_of(recs, globals_)
    assert {"_CACHE", "SAMPLES", "Item", "main"} <= set(keys)
    cache = recs.objects[expand(globals_[5])[keys.index("_CACHE")]]
    assert KINDS[cache[0]] == "DICT" and len(expand(cache[4])) == 50


def test_garbage_is_an_unreached_root_with_its_own_count(heap):
    _, recs, facts = heap
    unreached = recs.roots("unreached")
    assert unreached and len(set(unreached)) == len(unreached)
    assert all(0 <= i < len(recs.objects) for i in unreached)
    assert recs.trailer()["unreached"] == len(unreached)
    oid = by_address(recs)[int(facts["cycle_addr"], 16)]
    assert oid in unreached
    # the iteration's own reference is not counted
    assert recs.objects[oid][2] == facts["cycle_refcnt"]
    # what the garbage holds is walked from it, not a root of its own
    inner = expand(recs.objects[oid][4:])[0]
    assert inner not in unreached


def test_instance_dicts_are_no_objects_of_their_own(heap):
    _, recs, facts = heap
    # every DICT record of the file is a dict object; the instances'
    # __dict__ are folded into their INSTANCE records, never unreached
    unreached = set(recs.roots("unreached"))
    for oid in unreached:
        rec = recs.objects[oid]
        if KINDS[rec[0]] != "DICT":
            continue
        keys = keys_of(recs, rec)
        assert keys != ["i", "name"], "an Item's __dict__ is a root"


def test_sizes_are_those_of_sys_getsizeof(heap):
    _, recs, facts = heap
    index = by_address(recs)
    checked = 0
    for addr, size in facts["sizes"].items():
        oid = index[int(addr, 16)]
        assert recs.objects[oid][3] == size, facts["names"][addr]
        checked += 1
    assert checked == len(facts["sizes"]) == 28
    slotted = recs.objects[index[int(facts["slotted_addr"], 16)]]
    assert slotted[3] == facts["slotted_size"]


def test_instances_are_charged_their_attribute_storage(heap):
    _, recs, facts = heap
    inst = recs.objects[by_address(recs)[int(facts["instance_addr"], 16)]]
    assert KINDS[inst[0]] == "INSTANCE"
    # more than the object alone: its __dict__ or its values array
    assert inst[3] > facts["instance_getsizeof"]


def test_inline_values_are_sized_by_the_inline_record(heap):
    _, recs, facts = heap
    index = by_address(recs)
    strs = index[int(facts["inline_strs_addr"], 16)]
    assert all(isinstance(v, str) for v in expand(recs.objects[strs][4:]))
    assert recs.inline[strs] == [facts["inline_strs"], 0, 0, 0]
    numbers = index[int(facts["inline_numbers_addr"], 16)]
    assert recs.inline[numbers] == [0, 0, facts["inline_ints"],
                                    facts["inline_floats"]]


def test_trailer_shallow_bytes_add_up(heap):
    _, recs, _ = heap
    total = sum(r[3] for r in recs.objects) + \
        sum(sum(v) for v in recs.inline.values())
    assert recs.trailer()["shallow_bytes"] == total


def test_a_heap_dump_loads_with_module_globals(heap):
    path, _, _ = heap
    dump = heapdump.load(path)
    main = dump.roots["modules"]["__main__"]
    assert len(main._CACHE) == 50
    assert main._CACHE[7].name == "item-7"
    assert dump.roots["sys"].__name__ == "sys"


def test_frames_scope_writes_no_module_globals(python, tmp_path):
    path, _ = dump_child(python, tmp_path, "frames")
    recs = Records(str(path))
    assert headers(path)["Heapdump-Scope"] == "frames"
    assert recs.meta()["scope"] == "frames"
    modules = [r for r in recs.objects if KINDS[r[0]] == "MODULE"]
    assert modules and all(r[6] is None for r in modules)
    assert not recs.of("ROOTS")
    assert {r[1] for r in recs.of("ROOT")} == {"exception"}


def test_scope_is_checked(tmp_path):
    with pytest.raises(ValueError, match="scope"):
        heapdump.dump(tmp_path / "x.dump", scope="everything")
    with pytest.raises(ValueError, match="scope"):
        heapdump._heapdump.dump(str(tmp_path / "y.dump"), scope="all")
    assert heapdump.limits_for("heap")["max_items"] is None
    assert heapdump.limits_for("frames") == heapdump.DEFAULT_LIMITS


def test_run_and_the_hooks_take_the_scope(python, tmp_path):
    script = tmp_path / "fails.py"
    script.write_text("LEAK = [bytearray(100) for _ in range(10)]\n"
                      "raise KeyError('boom')\n")
    r = subprocess.run([sys.executable, "-m", "heapdump", "run", "--scope",
                        "heap", "-d", str(tmp_path / "run"),
                        "--no-fatal-signals", str(script)],
                       env=child_env(), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 1 and "KeyError: 'boom'" in r.stderr
    (path,) = (tmp_path / "run").glob("*.dump")
    assert headers(path)["Heapdump-Scope"] == "heap"
    assert Records(str(path)).roots("unreached")
    # the hooks: the scope is one of the dump options
    python("""
        import heapdump, sys
        heapdump.dump_on_unhandled_exceptions(sys.argv[1], scope="heap",
                                              fatal_signals=False)
        raise ValueError("x")
    """, args=[tmp_path / "hook"], check=False)
    (path,) = (tmp_path / "hook").glob("*.dump")
    assert headers(path)["Heapdump-Scope"] == "heap"
    with pytest.raises(ValueError, match="scope"):
        heapdump.dump_on_unhandled_exceptions(tmp_path, scope="nope")


def test_a_heap_dump_hides_the_environment_and_what_is_hidden(python,
                                                              tmp_path):
    # the GC's unreached objects are roots, but never what is hidden: the
    # process environment's dicts, a value given to hide=
    out = tmp_path / "env.dump"
    secret = "env-secret-0123456789abcdef"
    vault = "vault-key-fedcba9876543210"
    python("""
        import sys, heapdump
        # hidden by identity: a list the cyclic GC tracks, so the heap
        # scope's pass over the GC's objects meets it too
        VAULT = ["".join(["vault-key-", "fedcba9876543210"]), [1, 2]]
        heapdump.dump(sys.argv[1], scope="heap", hide=[VAULT])
    """, args=[out], env=child_env(HEAPDUMP_TEST_ENV=secret))
    import io

    import zstandard

    _, body = split(str(out))
    raw = zstandard.ZstdDecompressor().stream_reader(
        io.BytesIO(body), read_across_frames=True).read()
    assert secret.encode() not in raw
    assert vault.encode() not in raw
    assert Records(str(out)).roots("unreached")
