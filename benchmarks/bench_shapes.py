"""heapdump against pickle + zstd and a bare C walk, on three heap shapes at
two sizes (issue 14: "a benchmark that tells the truth").

    python benchmarks/bench_shapes.py [--sizes 1300000,10000000]
        [--shapes dict,list,json] [--repeat 3] [--callgrind-objects 330000]
        [--open-objects 10000000] [--open-records 8500000] [--quick]
        [--python COMMAND] [--json FILE]

The shapes are benchmarks/heaps.py's (instances in a dict; instances in a
list with string attributes; nested JSON-like documents), built to about
--sizes objects.  An object is a Python object of the heap, each counted
once (what the bare walk visits from the heap's root: the one-reference
str, int and float values that heapdump writes inline count; None and the
booleans do not).  A record is what heapdump writes with an id of its own
(the objects that are not inline, and the interpreter's few thousand that
the dump's frames reach besides the heap).

For each shape and size, --repeat rounds of the three, each run in a fresh
child process that builds the heap and measures one call (the order
rotates from one round to the next):

- heapdump: heapdump.dump(file, scope="heap") from the frame that holds
  the heap, with DEFAULT_HEAP_LIMITS (no container cut; a str past 64 Ki
  characters keeps its head: the shapes have none; the cuts and omitted
  counts are printed beside); one more dump with the frames scope's
  defaults says how much those cut;
- pickle + zstd: pickle.dumps(protocol 5), compressed by zstandard with
  heapdump's parameters (level 3, its own strategy, the checksum), write
  and fsync the file (heapdump fsyncs its own);
- bare walk: benchmarks/barewalk.c from what a heap-scope dump starts
  from (the heap, sys.modules, builtins and every object the GC tracks,
  listed before the clock starts): the same objects breadth first with an
  identity table like heapdump's, nothing written: the floor.

Each run says its wall time and the CPU time of the thread that ran it,
and the extra peak memory (VmHWM after the call, reset before it through
/proc/self/clear_refs, less VmRSS before it: what the call made the
process touch beyond what it held; memory pymalloc reuses from freed
arenas is not seen).  The figures are the median of the runs with the
spread (min-max).  Then the last files are loaded, each load in a fresh
child, --repeat times: heapdump.load() against reading, decompressing and
pickle.loads.

Instructions (valgrind's callgrind, deterministic where the wall clock is
not): one child per shape under callgrind, on a heap of
--callgrind-objects, instrumentation started just around each measured
call (so the heap's construction, the interpreter's start-up and the
imports are not counted): heapdump (as above), heapdump with redact=False
(no secret matching), the same heap-scope dump before the heap was built
(heapdump-noheap: the interpreter's objects and the source files, the
fixed part), pickle + zstd, pickle alone, zstd alone, the bare walk, its
fixed part and the heap alone.  The callgrind files stay in
build/bench/callgrind/ for callgrind_annotate and cg_breakdown.py.

The compression replay: the body of the 1.3 M-object dump of each shape,
decompressed, compressed again as src/container.c does it (level 3, dfast,
128 KiB a call) with 0, 1 and 2 zstd workers (ZSTD_c_nbWorkers) and on a
writer thread fed through a ring of 4 buffers: the time the calling
thread (the one holding the GIL during a dump) spends, against the whole;
and the same body through zstandard at level 3 with its own strategy
(dfast, heapdump's) against the lazy one: what the strategy costs.

The way in: a heap-scope dump (heapdump.dump(scope="heap"), its default
limits DEFAULT_HEAP_LIMITS) of a heap of --open-objects objects (the dict
shape) and of a heap of about --open-records records (bench_heap.py's:
users, a linked list, strings), then `python -m heapdump.open FILE` driven
through a pipe, timed from its start to the first "(Pdb) " on its output,
with its peak memory (VmHWM) when the prompt appears against the dumping
process's heap (its VmRSS at the dump less its VmRSS before the heap was
built); --repeat times.  heapdump.load's default max_objects (10 million
records) refuses a larger file: --open-records stays under it (8.5 M: the
heap scope writes about 1.16 records for each one build_heap counts, so
that makes about 9.9 M object records; 9.5 M went past).

--quick: sizes 1.3 M only, callgrind on 100,000 objects, the way in on
1.3 M objects and 1 M records.  It prints the figures and ratios against
issue 14's targets; it asserts nothing.
"""

from __future__ import annotations

import argparse
import functools
import gc
import glob
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CALLGRIND_DIR = os.path.join(ROOT, "build", "bench", "callgrind")


# ---------------------------------------------------------------- child


def _status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _reset_peak():
    """Reset VmHWM to the current RSS (Linux 4.0+); False if it cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _capture_stats():
    """Make heapdump.dump() keep the statistics _heapdump.dump returns
    (records, inline values, raw bytes...): a stand-in for the module
    heapdump/__init__.py calls, which passes everything else through."""
    import heapdump

    real = heapdump._heapdump
    stats = []

    class Capture:
        def __getattr__(self, name):
            return getattr(real, name)

        def dump(self, *args, **kwargs):
            r = real.dump(*args, **kwargs)
            stats.append(r)
            return r

    # heapdump/_writer.py calls the module it imported by name
    from heapdump import _writer

    heapdump._heapdump = _writer._heapdump = Capture()
    return stats


def _measure(fn):
    """(wall s, thread CPU s, extra peak bytes, fn's result)."""
    gc.collect()
    peak_ok = _reset_peak()
    rss = _status("VmRSS")
    c0 = time.thread_time()
    t0 = time.perf_counter()
    out = fn()
    wall = time.perf_counter() - t0
    cpu = time.thread_time() - c0
    extra = _status("VmHWM") - rss if peak_ok else None
    return wall, cpu, extra, out


def _compressor(strategy="dfast"):
    """zstandard's compressor with heapdump's parameters (src/container.c:
    level 3 with its own double-fast strategy, the checksum on);
    strategy="lazy": the lazy strategy heapdump used before."""
    import zstandard

    if strategy == "dfast":
        return zstandard.ZstdCompressor(level=3, write_checksum=True)
    return zstandard.ZstdCompressor(
        compression_params=zstandard.ZstdCompressionParameters.from_level(
            3, strategy=zstandard.STRATEGY_LAZY, write_checksum=True))


def _pickle_zstd(root, path):
    import pickle

    raw = pickle.dumps(root, protocol=5)
    comp = _compressor().compress(raw)
    with open(path, "wb") as f:
        f.write(comp)
        f.flush()
        os.fsync(f.fileno())
    return {"raw": len(raw), "file": len(comp)}


def _bare_roots(root):
    """What the bare walk starts from, to visit what a heap-scope dump
    does: the heap, the modules, builtins and every object the cyclic GC
    tracks (the list of them is made before the walk is timed)."""
    import builtins

    return [root, sys.modules, builtins.__dict__, gc.get_objects()]


def child_run(shape, n, method, workdir, extra):
    """One run in a fresh process: build the heap, measure one method
    once.  extra (heapdump only): also the decompression replay and one
    more dump with the frames scope's defaults (after the measured one)."""
    import _barewalk
    import heaps

    import heapdump

    stats = _capture_stats()
    t0 = time.perf_counter()
    root = heaps.build(shape, n)
    build_s = time.perf_counter() - t0
    gc.collect()
    count = _barewalk.walk([root])
    out = {"shape": shape, "method": method, "build_s": build_s,
           "objects": count["objects"] + count["inline"],
           "bare_ids": count["objects"], "bare_inline": count["inline"],
           "rss_heap": _status("VmRSS")}
    hd_path = os.path.join(workdir, "%s-%d.dump" % (shape, n))
    pk_path = os.path.join(workdir, "%s-%d.pickle.zst" % (shape, n))

    def run_heapdump():
        if os.path.exists(hd_path):
            os.unlink(hd_path)
        heapdump.dump(hd_path, scope="heap")
        return dict(stats[-1], file=os.path.getsize(hd_path),
                    limits=heapdump.limits_for("heap"))

    if method == "heapdump":
        fn = run_heapdump
    elif method == "pickle":
        def fn():
            return _pickle_zstd(root, pk_path)
    else:
        roots = _bare_roots(root)

        def fn():
            return _barewalk.walk(roots)
    wall, cpu, extra_mem, res = _measure(fn)
    out["run"] = {"wall": wall, "cpu": cpu, "extra": extra_mem,
                  "result": res}
    if method == "bare":
        del roots
    if method == "heapdump" and extra:
        dflt = os.path.join(workdir, "%s-%d-defaults.dump" % (shape, n))
        wall, cpu, _, _ = _measure(lambda: heapdump.dump(dflt))
        out["defaults"] = dict(stats[-1], wall=wall,
                               file=os.path.getsize(dflt),
                               limits=heapdump.limits_for("frames"))
        os.unlink(dflt)
        out["replay"] = _replay(hd_path, 3, out["run"]["cpu"])
    print(json.dumps(out))


def _body(path):
    """The uncompressed body of a dump (its msgpack records)."""
    import zstandard

    from heapdump import _load

    _, offset, _ = _load._read_headers(path)
    with open(path, "rb") as f:
        f.seek(offset)
        reader = zstandard.ZstdDecompressor().stream_reader(
            f, read_across_frames=True)
        return reader.read()


def _replay(path, repeat, hd_cpu):
    """The body of the dump at path compressed again, inline and off the
    calling thread; the calling thread spins before each 128 KiB chunk
    for the CPU time the dump spent on everything but zstd (hd_cpu less
    the inline compression's CPU), spread over the chunks."""
    import _barewalk

    body = _body(path)
    chunks = -(-len(body) // (1 << 17))
    fd = os.open(os.devnull, os.O_WRONLY)
    variants = [("inline (today)", 0, False), ("1 zstd worker", 1, False),
                ("2 zstd workers", 2, False), ("writer thread", 0, True)]
    out = {"raw": len(body), "chunks": chunks, "variants": []}
    try:
        alone = [_barewalk.compress(body, 3, 0, False, fd)
                 for _ in range(repeat)]
        zstd_cpu = statistics.median(r["caller_cpu_ns"] for r in alone)
        spin = max(0, int((hd_cpu * 1e9 - zstd_cpu) / chunks))
        out.update(zstd_alone=alone, spin_ns=spin, hd_cpu=hd_cpu)
        out["strategies"] = {}
        for strategy in ("lazy", "dfast"):
            rs = []
            for _ in range(repeat):
                c0 = time.thread_time()
                size = len(_compressor(strategy).compress(body))
                rs.append(time.thread_time() - c0)
            out["strategies"][strategy] = {"cpu": rs, "size": size}
        for name, workers, threaded in variants:
            rs = []
            for _ in range(repeat):
                wall, cpu, extra, r = _measure(
                    lambda w=workers, t=threaded: _barewalk.compress(
                        body, 3, w, t, fd, spin))
                rs.append(dict(r, extra=extra))
            out["variants"].append({"name": name, "runs": rs})
    finally:
        os.close(fd)
    return out


def child_load(method, hd_path, pk_path):
    """One load in a fresh process: heapdump.load() of the dump, or the
    pickle file read, decompressed and unpickled."""
    import pickle

    import zstandard

    import heapdump

    if method == "heapdump":
        def fn():
            d = heapdump.load(hd_path)
            return len(d.objects)
    else:
        def fn():
            with open(pk_path, "rb") as f:
                data = f.read()
            pickle.loads(zstandard.ZstdDecompressor().decompress(data))
            return None
    wall, cpu, extra, res = _measure(fn)
    print(json.dumps({"wall": wall, "cpu": cpu, "extra": extra,
                      "records": res}))


def child_callgrind(shape, n, workdir):
    """Under callgrind (--instr-atstart=no): each measured call alone."""
    import pickle

    import _barewalk
    import heaps

    import heapdump

    stats = _capture_stats()
    path = os.path.join(workdir, "cg-%s.dump" % shape)
    pk_path = os.path.join(workdir, "cg-%s.pickle.zst" % shape)

    def hd(**kw):
        def fn():
            heapdump.dump(path, scope="heap", **kw)
            os.unlink(path)
        return fn

    def measure(name, fn):
        gc.collect()
        under = _barewalk.callgrind("start")
        _barewalk.callgrind("zero")
        fn()
        _barewalk.callgrind("dump", "%s-%s" % (shape, name))
        _barewalk.callgrind("stop")
        return under

    # a first dump, pickle and walk of something small: what a first call
    # imports or sets up once is not counted
    hd()()
    _pickle_zstd([1], pk_path)
    _barewalk.walk([[1]])
    # what a dump costs before the heap: the frames, the interpreter's
    # objects they reach, the source files
    under = measure("heapdump-noheap", hd())
    empty = stats[-1]["objects"]
    measure("bare-noheap",
            functools.partial(_barewalk.walk, _bare_roots(None)))
    root = heaps.build(shape, n)
    gc.collect()
    count = _barewalk.walk([root])
    raw = pickle.dumps(root, protocol=5)
    roots = _bare_roots(root)

    def zstd_only():
        _compressor().compress(raw)

    methods = [
        ("heapdump", hd()),
        ("heapdump-noredact", hd(redact=False)),
        ("pickle+zstd", lambda: _pickle_zstd(root, pk_path)),
        ("pickle", lambda: pickle.dumps(root, protocol=5)),
        ("zstd-of-pickle", zstd_only),
        ("bare", lambda: _barewalk.walk(roots)),
        ("bare-heap-only", lambda: _barewalk.walk([root])),
    ]
    for name, fn in methods:
        measure(name, fn)
    print(json.dumps({"objects": count["objects"] + count["inline"],
                      "records": stats[-1]["objects"],
                      "records_noheap": empty,
                      "under_valgrind": bool(under)}))


def child_heapscope(kind, n, path):
    """A heap-scope dump of a heap of n objects (kind "dict": the dict
    shape) or about n records (kind "records": bench_heap.py's heap)."""
    import heapdump

    stats = _capture_stats()
    rss0 = _status("VmRSS")
    t0 = time.perf_counter()
    if kind == "records":
        import bench_heap

        heap = bench_heap.build_heap(n)
    else:
        import heaps

        heap = heaps.build(kind, n)
    build_s = time.perf_counter() - t0
    gc.collect()
    rss = _status("VmRSS")
    wall, cpu, extra, _ = _measure(
        lambda: heapdump.dump(path, scope="heap"))
    del heap
    print(json.dumps(dict(stats[-1], kind=kind, built=n, build_s=build_s,
                          rss_before=rss0, rss_at_dump=rss, wall=wall,
                          cpu=cpu, extra=extra, file=os.path.getsize(path),
                          limits=heapdump.limits_for("heap"))))


# --------------------------------------------------------------- driver


class Runner:
    """Runs the children with one interpreter (a command)."""

    def __init__(self, python):
        self.python = python
        built = subprocess.run(
            python + [os.path.join(HERE, "build_barewalk.py")],
            capture_output=True, text=True, cwd=ROOT)
        if built.returncode != 0:
            sys.stderr.write(built.stderr)
            raise SystemExit("could not build benchmarks/barewalk.c")
        self.modules = built.stdout.strip().splitlines()[-1]
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("PYTHONDEVMODE", "PYTHONMALLOC",
                                 "PYTHONFAULTHANDLER")}
        self.env["PYTHONPATH"] = os.pathsep.join([ROOT, HERE, self.modules])
        self.version = self.json([], code="import json, platform, sys; "
                                 "print(json.dumps(platform.python_version()))")

    def json(self, args, code=None, wrap=(), timeout=7200):
        cmd = list(wrap) + self.python + (
            ["-c", code] if code else [os.path.abspath(__file__)] + args)
        r = subprocess.run(cmd, capture_output=True, text=True,
                           env=self.env, cwd=ROOT, timeout=timeout)
        if r.returncode != 0:
            sys.stderr.write(r.stderr[-4000:])
            raise SystemExit("benchmark child failed: %s" % " ".join(cmd))
        return json.loads(r.stdout.strip().splitlines()[-1])


METHODS = ("heapdump", "pickle", "bare")


def run_dumps(runner, shape, n, repeat, workdir, extra):
    """repeat rounds of the three methods, each run in a fresh child that
    builds the heap (the order rotates from one round to the next)."""
    out = {"runs": {m: [] for m in METHODS}}
    for r in range(repeat):
        for m in METHODS[r % 3:] + METHODS[:r % 3]:
            res = runner.json(["--child", "run", shape, str(n), m, workdir,
                               "1" if extra and r == 0 else "0"])
            out["runs"][m].append(res.pop("run"))
            for k, v in res.items():
                out.setdefault(k, v)
    return out


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def spread(values, fmt="%.3f"):
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    return (fmt + " (" + fmt + "-" + fmt + ")") % (
        statistics.median(values), min(values), max(values))


def num(x):
    return "{:,}".format(int(x))


def limits_text(limits):
    return ", ".join("%s %s" % (k, "none" if v is None else num(v))
                     for k, v in limits.items())


def print_shape(shape, results, loads, describe):
    print("== %s: %s" % (shape, describe))
    lim = results[0]["runs"]["heapdump"][0]["result"]["limits"]
    print("   heapdump: dump(scope='heap') with its default limits (%s; "
          "zstd level 3): the whole heap when no container is cut and no "
          "value omitted, as the cuts row says" % limits_text(lim))
    print("   each run in a fresh child process that builds the heap; "
          "pickle.dumps(protocol 5) + zstandard level 3 with heapdump's "
          "parameters (dfast, checksum) + write + fsync")
    cols = [r for r in results]
    width = 34
    print("%-30s" % "" + "".join(
        ("%s objects" % num(r["objects"])).rjust(width) for r in cols))

    def row(label, cells):
        print("%-30s" % label + "".join(c.rjust(width) for c in cells))

    hd_records = [r["runs"]["heapdump"][-1]["result"]["objects"]
                  for r in cols]
    row("heapdump object records", [num(x) for x in hd_records])
    row("  + inline values", [num(r["runs"]["heapdump"][-1]["result"]
                                  ["inline"]) for r in cols])
    row("  cuts, omitted", ["%s, %s" % (
        num(r["runs"]["heapdump"][-1]["result"]["cuts"]),
        num(r["runs"]["heapdump"][-1]["result"]["omitted"])) for r in cols])
    row("heap alone: ids + inline", ["%s + %s" % (num(r["bare_ids"]),
                                                  num(r["bare_inline"]))
                                     for r in cols])
    row("bare walk (heap scope)", ["%s + %s" % (
        num(r["runs"]["bare"][-1]["result"]["objects"]),
        num(r["runs"]["bare"][-1]["result"]["inline"])) for r in cols])
    row("heap built in (s)", ["%.2f" % r["build_s"] for r in cols])
    print("wall time (s), median (min-max) of %d" % len(
        cols[0]["runs"]["heapdump"]))
    for m, label in (("heapdump", "  heapdump"),
                     ("pickle", "  pickle + zstd 3"),
                     ("bare", "  bare walk")):
        row(label, [spread([x["wall"] for x in r["runs"][m]]) for r in cols])
    print("CPU time of the dumping thread (s)")
    for m, label in (("heapdump", "  heapdump"),
                     ("pickle", "  pickle + zstd 3"),
                     ("bare", "  bare walk")):
        row(label, [spread([x["cpu"] for x in r["runs"][m]]) for r in cols])

    def ratio(r, a, b, key="wall"):
        return med([x[key] for x in r["runs"][a]]) / \
            med([x[key] for x in r["runs"][b]])

    row("heapdump / bare walk (wall)",
        ["%.2fx (target <= 2)" % ratio(r, "heapdump", "bare") for r in cols])
    row("pickle+zstd / heapdump (wall)",
        ["%.2fx (target >= 3)" % ratio(r, "pickle", "heapdump")
         for r in cols])
    row("heapdump / bare walk (CPU)",
        ["%.2fx" % ratio(r, "heapdump", "bare", "cpu") for r in cols])
    row("heapdump M objects/s",
        ["%.2f" % (r["objects"] / med([x["wall"] for x in
                                       r["runs"]["heapdump"]]) / 1e6)
         for r in cols])
    print("file")
    row("  heapdump bytes/object",
        ["%.2f (%s B)" % (r["runs"]["heapdump"][-1]["result"]["file"]
                          / r["objects"],
                          num(r["runs"]["heapdump"][-1]["result"]["file"]))
         for r in cols])
    row("  heapdump raw body B/object",
        ["%.2f" % (r["runs"]["heapdump"][-1]["result"]["bytes"]
                   / r["objects"]) for r in cols])
    row("  pickle+zstd bytes/object",
        ["%.2f (%s B)" % (r["runs"]["pickle"][-1]["result"]["file"]
                          / r["objects"],
                          num(r["runs"]["pickle"][-1]["result"]["file"]))
         for r in cols])
    print("extra peak memory, bytes/object, median (min-max): VmHWM after "
          "the call (reset through /proc/self/clear_refs before it) less "
          "VmRSS before it")
    for m, label in (("heapdump", "  heapdump (target <= 32)"),
                     ("pickle", "  pickle + zstd 3"),
                     ("bare", "  bare walk")):
        row(label, [spread([x["extra"] / r["objects"]
                            if x["extra"] is not None else None
                            for x in r["runs"][m]], "%.1f") for r in cols])
    if loads:
        print("load (s), median (min-max); objects/s counts the heap's "
              "objects")
        row("  heapdump.load()", [spread([x["wall"] for x in ld["heapdump"]])
                                  for ld in loads])
        row("  read + zstd + pickle.loads",
            [spread([x["wall"] for x in ld["pickle"]]) for ld in loads])
        row("  heapdump.load M objects/s",
            ["%.2f (%.2f M records/s)" % (
                r["objects"] / med([x["wall"] for x in ld["heapdump"]]) / 1e6,
                ld["heapdump"][0]["records"] /
                med([x["wall"] for x in ld["heapdump"]]) / 1e6)
             for r, ld in zip(cols, loads)])
        row("  pickle.loads M objects/s",
            ["%.2f" % (r["objects"] / med([x["wall"] for x in ld["pickle"]])
                       / 1e6) for r, ld in zip(cols, loads)])
        row("  heapdump.load peak B/object",
            [spread([x["extra"] / r["objects"] if x["extra"] else None
                     for x in ld["heapdump"]], "%.0f")
             for r, ld in zip(cols, loads)])
    with_defaults = [r for r in cols if "defaults" in r]
    if with_defaults:
        print("the same heap dumped with the frames scope's default limits "
              "(%s), once:" % limits_text(with_defaults[0]["defaults"]
                                          ["limits"]))
    for r in with_defaults:
        d = r["defaults"]
        print("  %s objects: %s records written (against %s in heap "
              "scope), %s containers cut, %s values omitted, %.3f s, "
              "%s B" % (
                  num(r["objects"]), num(d["objects"]),
                  num(r["runs"]["heapdump"][-1]["result"]["objects"]),
                  num(d["cuts"]), num(d["omitted"]), d["wall"],
                  num(d["file"])))
    print()


def print_replay(shape, r):
    rp = r.get("replay")
    if not rp:
        return
    alone = med([x["caller_cpu_ns"] for x in rp["zstd_alone"]]) / 1e6
    print("   %s, %s objects: the body (%s B of msgpack, %d chunks) "
          "compressed again; zstd alone %.1f ms of CPU; the calling thread "
          "spins %.2f ms a chunk (the dump's %.0f ms of CPU less zstd's), "
          "median of %d (ms)" % (
              shape, num(r["objects"]), num(rp["raw"]), rp["chunks"], alone,
              rp["spin_ns"] / 1e6, rp["hd_cpu"] * 1e3,
              len(rp["variants"][0]["runs"])))
    print("   %-18s %16s %10s %10s %10s %10s %12s" % (
        "", "calling thread", "its CPU", "all done", "writer", "extra MB",
        "file B"))
    for v in rp["variants"]:
        runs = v["runs"]
        print("   %-18s %16s %10s %10s %10s %10s %12s" % (
            v["name"] + ("" if runs[0]["workers"] >= 0 else " (refused)"),
            spread([x["caller_wall_ns"] / 1e6 for x in runs], "%.0f"),
            "%.0f" % (med([x["caller_cpu_ns"] for x in runs]) / 1e6),
            "%.0f" % (med([x["wall_ns"] for x in runs]) / 1e6),
            "%.0f" % (med([x["writer_cpu_ns"] for x in runs]) / 1e6)
            if v["name"] == "writer thread" else "",
            "%.1f" % (med([x["extra"] for x in runs]) / 1e6)
            if runs[0]["extra"] is not None else "n/a",
            num(runs[0]["out_bytes"])))
    for strategy, r in rp.get("strategies", {}).items():
        print("   level 3, %-5s (zstandard, one call): %s ms of CPU, %s B%s"
              % (strategy, spread([x * 1e3 for x in r["cpu"]], "%.0f"),
                 num(r["size"]), " (heapdump's: the level's own)"
                 if strategy == "dfast" else " (heapdump's before)"))


def callgrind_totals(path):
    """(description, Ir) of a callgrind output file."""
    desc, total = None, None
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("desc: Trigger:"):
                desc = line.split("Client Request:", 1)[-1].strip()
            elif line.startswith(("summary:", "totals:")):
                total = int(line.split()[1])
    return desc, total


def run_callgrind(runner, shapes, n, workdir):
    if shutil.which("valgrind") is None:
        print("callgrind: valgrind is not installed (apt-get install "
              "valgrind): no instruction counts")
        return None
    os.makedirs(CALLGRIND_DIR, exist_ok=True)
    out = {}
    for shape in shapes:
        for old in glob.glob(os.path.join(CALLGRIND_DIR, "%s.*" % shape)):
            os.unlink(old)
        base = os.path.join(CALLGRIND_DIR, shape)
        wrap = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                "--callgrind-out-file=" + base, "-q"]
        t0 = time.perf_counter()
        info = runner.json(["--child", "callgrind", shape, str(n), workdir],
                           wrap=wrap)
        info["seconds"] = time.perf_counter() - t0
        counts = {}
        for path in glob.glob(base + ".*"):
            desc, total = callgrind_totals(path)
            if desc and desc.startswith(shape + "-"):
                method = desc[len(shape) + 1:]
                counts[method] = total
                os.replace(path, os.path.join(CALLGRIND_DIR, "%s-%s.out"
                                              % (shape, method)))
            else:
                os.unlink(path)
        if os.path.exists(base):
            os.unlink(base)
        info["counts"] = counts
        out[shape] = info
    return out


def print_callgrind(cg, n):
    if not cg:
        return
    print("== instructions (callgrind, Ir), heaps of about %s objects, "
          "each call alone (the heap's construction and the imports not "
          "counted); heapdump: dump(scope='heap'), its default limits; "
          "-noheap: the same before the heap was built (the interpreter's "
          "objects, the source files), subtracted in the 'less noheap' "
          "rows; /object divides by the heap's objects" % num(n))
    methods = ["heapdump", "heapdump-noredact", "heapdump-noheap",
               "pickle+zstd", "pickle", "zstd-of-pickle", "bare",
               "bare-noheap", "bare-heap-only"]
    print("%-20s" % "" + "".join(
        ("%s (%s)" % (s, num(info["objects"]))).rjust(30)
        for s, info in cg.items()))
    for m in methods:
        cells = []
        for _s, info in cg.items():
            c = info["counts"].get(m)
            cells.append(("%s M, %s/object" % (
                "{:,.0f}".format(c / 1e6), num(c / info["objects"]))
                if c else "n/a").rjust(30))
        print("%-20s" % m + "".join(cells))
    cells = []
    for _s, info in cg.items():
        c = info["counts"]
        if c.get("heapdump") and c.get("bare"):
            cells.append(("%.1fx bare, %.2fx pickle+zstd" % (
                c["heapdump"] / c["bare"],
                c["heapdump"] / c["pickle+zstd"])).rjust(30))
        else:
            cells.append("n/a".rjust(30))
    print("%-20s" % "heapdump vs" + "".join(cells))
    cells = []
    for _s, info in cg.items():
        c = info["counts"]
        if c.get("heapdump") and c.get("heapdump-noheap"):
            cells.append(("%s/object" % num(
                (c["heapdump"] - c["heapdump-noheap"]) /
                info["objects"])).rjust(30))
        else:
            cells.append("n/a".rjust(30))
    print("%-20s" % "heapdump less noheap" + "".join(cells))
    cells = []
    for _s, info in cg.items():
        c = info["counts"]
        if c.get("bare") and c.get("bare-noheap"):
            cells.append(("%s/object" % num(
                (c["bare"] - c["bare-noheap"]) /
                info["objects"])).rjust(30))
        else:
            cells.append("n/a".rjust(30))
    print("%-20s" % "bare less noheap" + "".join(cells))
    print("(heapdump-noheap: the same dump before the heap was built, %s "
          "records: the fixed part)" % "/".join(
              num(info["records_noheap"]) for info in cg.values()))
    print("target: at most 600 instructions per object end to end; files "
          "for callgrind_annotate: %s/SHAPE-METHOD.out"
          % os.path.relpath(CALLGRIND_DIR, ROOT))
    print("(%s)" % ", ".join("%s took %.0f s under valgrind" % (
        s, info["seconds"]) for s, info in cg.items()))
    print()


def open_until_prompt(runner, path, timeout=600):
    """Start python -m heapdump.open path; (seconds to the first
    '(Pdb) ', VmHWM and VmRSS at that moment, the text before it)."""
    import select

    cmd = runner.python + ["-m", "heapdump.open", path]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, env=runner.env, cwd=ROOT)
    seen = b""
    try:
        while b"(Pdb) " not in seen:
            left = timeout - (time.perf_counter() - t0)
            if left <= 0:
                raise SystemExit("no pdb prompt after %d s" % timeout)
            ready, _, _ = select.select([p.stdout], [], [], left)
            chunk = os.read(p.stdout.fileno(), 65536) if ready else b""
            if ready and not chunk:
                raise SystemExit("heapdump.open ended before its prompt:\n"
                                 + seen.decode(errors="replace")[-3000:])
            seen += chunk
        seconds = time.perf_counter() - t0
        hwm = rss = None
        # the opener's own peak: through the chroot's runner, the python
        # is a child of the command started here
        for pid in [p.pid] + _descendants(p.pid):
            status = _proc_status(pid)
            if status and "python" in status.get("Name", ""):
                hwm, rss = status.get("VmHWM"), status.get("VmRSS")
        p.stdin.write(b"q\n")
        p.stdin.flush()
        p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return seconds, hwm, rss, seen.decode(errors="replace")


def _descendants(pid):
    out = []
    try:
        children = open("/proc/%d/task/%d/children" % (pid, pid)).read()
    except OSError:
        return out
    for c in children.split():
        out.append(int(c))
        out.extend(_descendants(int(c)))
    return out


def _proc_status(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            out = {}
            for line in f:
                k, _, v = line.partition(":")
                v = v.strip()
                out[k] = int(v.split()[0]) * 1024 if v.endswith("kB") else v
            return out
    except OSError:
        return None


def run_open(runner, kind, n, repeat, workdir):
    path = os.path.join(workdir, "open-%s-%d.dump" % (kind, n))
    info = runner.json(["--child", "heapscope", kind, str(n), path])
    info["opens"] = []
    for _ in range(repeat):
        s, hwm, rss, text = open_until_prompt(runner, path)
        info["opens"].append({"seconds": s, "hwm": hwm, "rss": rss})
    info["first_lines"] = text.splitlines()[:3]
    os.unlink(path)
    return info


def print_open(results):
    if not results:
        return
    print("== the way in: python -m heapdump.open FILE on a heap-scope dump "
          "(heapdump.dump(scope='heap'), limits %s), to the first (Pdb) "
          "prompt" % limits_text(results[0]["limits"]))
    for r in results:
        heap = r["rss_at_dump"] - r["rss_before"]
        opens = r["opens"]
        what = ("the dict shape, %s objects" % num(r["built"])
                if r["kind"] != "records" else
                "bench_heap.build_heap(%s)" % num(r["built"]))
        print("  %s: %s records, %s inline values, %s containers cut; file "
              "%s B; dump %.2f s, +%.1f B/record peak" % (
                  what, num(r["objects"]), num(r["inline"]), num(r["cuts"]),
                  num(r["file"]), r["wall"],
                  (r["extra"] or 0) / max(1, r["objects"])))
        hwm = [o["hwm"] for o in opens if o["hwm"]]
        print("    to the first prompt (s): %s (target <= 2)"
              % spread([o["seconds"] for o in opens], "%.2f"))
        if hwm:
            print("    the opener's peak memory: %s MB, %.2fx the dumped heap "
                  "(%s MB: the dumping process's RSS %s MB less %s MB "
                  "before the heap; target <= 1x)" % (
                      spread([h / 1e6 for h in hwm], "%.0f"),
                      med(hwm) / heap, num(heap / 1e6),
                      num(r["rss_at_dump"] / 1e6),
                      num(r["rss_before"] / 1e6)))
    print()


def print_targets(everything):
    """Issue 14's targets, each beside the figures that answer it."""
    print("== issue 14's targets against this run (medians; wall time on "
          "a shared machine: see the spreads above)")

    def line(target, figures, met):
        verdict = {True: "met", False: "NOT met"}.get(met, met)
        print("  %-44s %-60s %s" % (target, figures, verdict))

    for shape, d in everything["shapes"].items():
        for r in d["dumps"]:
            runs = r["runs"]
            hd = med([x["wall"] for x in runs["heapdump"]])
            ratio = hd / med([x["wall"] for x in runs["bare"]])
            pk = med([x["wall"] for x in runs["pickle"]]) / hd
            extra = med([x["extra"] / r["objects"] for x in runs["heapdump"]
                         if x["extra"] is not None])
            what = "%s %s" % (shape, num(r["objects"]))
            line("pause <= 2x the bare walk (wall)",
                 "%s: %.2fx" % (what, ratio), ratio <= 2)
            line("pause >= 3x shorter than pickle + zstd",
                 "%s: %.2fx" % (what, pk), pk >= 3)
            if extra is not None:
                line("extra memory <= 32 B/object",
                     "%s: %.1f B" % (what, extra), extra <= 32)
    for shape, info in (everything.get("callgrind") or {}).items():
        c = info["counts"]
        if c.get("heapdump"):
            per = c["heapdump"] / info["objects"]
            less = (c["heapdump"] - c.get("heapdump-noheap", 0)) / \
                info["objects"]
            line("<= 600 instructions/object end to end",
                 "%s %s: %s (%s less the fixed part)" % (
                     shape, num(info["objects"]), num(per), num(less)),
                 per <= 600)
    for r in everything.get("open") or []:
        s = med([o["seconds"] for o in r["opens"]])
        hwm = med([o["hwm"] for o in r["opens"] if o["hwm"]])
        heap = r["rss_at_dump"] - r["rss_before"]
        what = "%s %s" % (r["kind"], num(r["built"]))
        line("first pdb prompt <= 2 s (at 10 M objects)",
             "%s: %.2f s, %s records" % (what, s, num(r["objects"])),
             s <= 2 if r["objects"] + r["inline"] >= 10_000_000 else
             "(under 10 M: no verdict)" if s <= 2 else "NOT met")
        if hwm:
            line("opener's memory <= the dumped heap",
                 "%s: %.2fx (%s MB against %s MB)" % (
                     what, hwm / heap, num(hwm / 1e6), num(heap / 1e6)),
                 hwm <= heap)
    print("  (the Django target, <= 10 ms more a failing request: "
          "benchmarks/bench_django.py)")
    print()


def machine_line():
    load = os.getloadavg()
    others = []
    try:
        out = subprocess.run(["ps", "-eo", "pcpu,args", "--sort=-pcpu"],
                             capture_output=True, text=True).stdout
        for line in out.splitlines()[1:6]:
            pcpu, _, args = line.strip().partition(" ")
            if float(pcpu) >= 20 and str(os.getpid()) not in args:
                others.append("%s%% %s" % (pcpu, args[:70]))
    except (OSError, ValueError):
        pass
    return ("machine: %s, %d CPUs, load average %.2f %.2f %.2f%s" % (
        platform.machine(), os.cpu_count() or 0, *load,
        "; busy besides: " + "; ".join(others) if others else ""))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1300000,10000000")
    ap.add_argument("--shapes", default=",".join(("dict", "list", "json")))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--callgrind-objects", type=int, default=330_000,
                    help="0: no callgrind")
    ap.add_argument("--open-objects", type=int, default=10_000_000,
                    help="the dict-shape heap of the way in (0: none)")
    ap.add_argument("--open-records", type=int, default=8_500_000,
                    help="bench_heap.py's heap of the way in (0: none)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--python", default=None,
                    help="the interpreter command (default: this one)")
    ap.add_argument("--json", metavar="FILE", help="all figures as JSON")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        what, rest = args.child[0], args.child[1:]
        if what == "run":
            child_run(rest[0], int(rest[1]), rest[2], rest[3],
                      rest[4] == "1")
        elif what == "load":
            child_load(rest[0], rest[1], rest[2])
        elif what == "callgrind":
            child_callgrind(rest[0], int(rest[1]), rest[2])
        elif what == "heapscope":
            child_heapscope(rest[0], int(rest[1]), rest[2])
        return 0
    if args.quick:
        args.sizes = "1300000"
        args.callgrind_objects = min(args.callgrind_objects, 100_000)
        args.open_objects = min(args.open_objects, 1_300_000)
        args.open_records = min(args.open_records, 1_000_000)
    sizes = [int(s) for s in args.sizes.split(",") if s and int(s)]
    shapes = [s for s in args.shapes.split(",") if s]
    python = shlex.split(args.python) if args.python else [sys.executable]
    runner = Runner(python)
    import heaps

    started = time.perf_counter()
    print("heap shapes benchmark (issue 14): Python %s (%s)" % (
        runner.version, " ".join(python)))
    print(machine_line())
    print()
    everything = {"python": runner.version, "shapes": {}}
    with tempfile.TemporaryDirectory(prefix="bench-shapes-") as workdir:
        for shape in shapes:
            results, loads = [], []
            for n in sizes:
                results.append(run_dumps(runner, shape, n, args.repeat,
                                         workdir, n == sizes[0]))
                hd = os.path.join(workdir, "%s-%d.dump" % (shape, n))
                pk = os.path.join(workdir, "%s-%d.pickle.zst" % (shape, n))
                loads.append({m: [runner.json(["--child", "load", m, hd, pk])
                                  for _ in range(args.repeat)]
                              for m in ("heapdump", "pickle")})
                os.unlink(hd)
                os.unlink(pk)
            if results:
                print_shape(shape, results, loads, heaps.DESCRIBE[shape])
            everything["shapes"][shape] = {"dumps": results, "loads": loads}
        print("== compression off the critical path (benchmarks/barewalk.c "
              "compress(): container.c's parameters, output to /dev/null)")
        for shape in shapes if sizes else ():
            print_replay(shape, everything["shapes"][shape]["dumps"][0])
        print()
        cg = None
        if args.callgrind_objects:
            cg = run_callgrind(runner, shapes, args.callgrind_objects,
                               workdir)
            print_callgrind(cg, args.callgrind_objects)
        everything["callgrind"] = cg
        opens = []
        for kind, n in (("dict", args.open_objects),
                        ("records", args.open_records)):
            if not n:
                continue
            try:
                opens.append(run_open(runner, kind, n, args.repeat,
                                      workdir))
            except SystemExit as e:
                print("the way in, %s %s: failed: %s" % (kind, num(n), e))
                continue
            print_open(opens[-1:])
        everything["open"] = opens
    print_targets(everything)
    print(machine_line())
    print("bench_shapes took %.0f s" % (time.perf_counter() - started))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(everything, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
