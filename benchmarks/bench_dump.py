"""heapdump against pickle + zstd on the same heap: pause, size, memory, load.

    python benchmarks/bench_dump.py [--instances N] [--keys N] [--repeat R]
                                    [--python VERSION=COMMAND ...]

First the pause of a failing web request's dump with the default limits
(web_request(); --web-only for it alone, on the first Python), then the
heap (issue 2): 200,000 instances of a class with 5 attributes each
plus a 100,000-key dict of strings, reachable from a frame: about 1.3 M
objects.  Every measurement runs in a fresh child process, so the peak
memory of one does not hide another's:

- pause: wall time of the whole dump (walk, pack, compress, write) for
  heapdump; pickle.dumps (protocol 5) then zstd level 3 then the write of
  the file for the other;
- objects/s: the heap's objects (counted once, below) per second of pause;
- bytes/object: the file's size per object;
- extra peak memory: VmHWM after the dump minus VmHWM before it, per
  object;
- load: heapdump.load() against reading, zstd-decompressing and
  pickle.loads of the other's file.

Each measurement runs --repeat times: the best is shown, with the spread
(fastest to slowest) beside it.  With --python (repeatable) the children
run on those interpreters (COMMAND is split like a shell command, so
"tools/py.sh 3.14" runs 3.14 in the sid chroot), one table per version,
then heapdump's figures side by side with the ratio of each version to
the first (`make bench`: 3.13, 3.14, 3.15).  The child code runs the same
on every version.

It prints the figures and the ratios; it asserts nothing.  The targets are
in the issue: pause at least 2x shorter, file no larger, at most 48 bytes
of extra memory per object, load at least 1,000,000 objects/s.

Then what hiding by value costs (issue 8), on the first Python, in one
child process, on the same heap, the variants taking turns (--hide-repeat
times each):

- none: environ=True, redact=False: no hider at all;
- rules: environ=True: the URL-password and key-format rules scan every
  string, nothing is hidden by value;
- hidden: the defaults with 50 environment values and 5 secrets given in
  hide= (each in a few of the heap's strings): the hider holds 50 values
  hidden where equal, 5 inside others, and the rules.

It prints each variant's median pause and its spread (min-max), the extra
time per dump against none, and the time to build the hider.
"""

import argparse
import gc
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile

CHILD = r"""
import gc, json, os, sys, time
sys.path.insert(0, ROOT)
N_INST, N_KEYS, METHOD, PATH, PHASE = ARGS


class User:
    def __init__(self, i):
        self.id = i * 7919 + 1000
        self.name = "user%d" % i
        self.email = "user%d@example.com" % i
        self.score = i * 0.5 + 0.25
        self.active = bool(i % 3)


def build():
    users = [User(i) for i in range(N_INST)]
    index = {"key%07d" % i: "value-%d" % i for i in range(N_KEYS)}
    return users, index


def hwm():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def count(roots):
    # objects reachable from the roots, each counted once (builtins walk)
    seen, stack = set(), list(roots)
    while stack:
        o = stack.pop()
        if id(o) in seen or o is None or isinstance(o, (bool, type)):
            continue
        seen.add(id(o))
        if isinstance(o, dict):
            stack.extend(o.keys()); stack.extend(o.values())
        elif isinstance(o, (list, tuple)):
            stack.extend(o)
        elif hasattr(o, "__dict__"):
            stack.extend(vars(o).values())
    return len(seen)


def run():
    users, index = build()
    gc.collect()
    out = {}
    if PHASE == "count":
        out["objects"] = count([users, index])
    elif PHASE == "dump" and METHOD == "heapdump":
        import heapdump
        before = hwm()
        t = time.perf_counter()
        heapdump.dump(PATH, max_objects=None, max_items=None,
                      max_string=None, max_bytes=None)
        out["pause"] = time.perf_counter() - t
        out["extra"] = hwm() - before
    elif PHASE == "dump" and METHOD == "pickle":
        import pickle, zstandard
        before = hwm()
        t = time.perf_counter()
        raw = pickle.dumps((users, index), protocol=5)
        comp = zstandard.ZstdCompressor(level=3).compress(raw)
        with open(PATH, "wb") as f:
            f.write(comp)
        out["pause"] = time.perf_counter() - t
        del raw, comp
        out["extra"] = hwm() - before
    elif PHASE == "hide":
        import heapdump
        from heapdump import _secrets
        for i in range(50):
            os.environ["BENCH_VAR_%02d" % i] = os.urandom(10 + i % 20).hex()
        secrets = [os.urandom(16).hex() for _ in range(5)]
        for i, secret in enumerate(secrets):
            for user in users[i::len(users) // 3][:3]:
                user.email = "token=%s;%s" % (secret, user.email)
        variants = {"none": dict(environ=True, redact=False),
                    "rules": dict(environ=True),
                    "hidden": dict(hide=secrets)}
        times = {name: [] for name in variants}
        cpu = {name: [] for name in variants}
        for _ in range(REPEAT):
            for name, kw in variants.items():
                t, c = time.perf_counter(), time.thread_time()
                heapdump.dump(PATH, max_objects=None, max_items=None,
                              max_string=None, max_bytes=None, **kw)
                cpu[name].append(time.thread_time() - c)
                times[name].append(time.perf_counter() - t)
        builds = []
        for _ in range(20):
            t = time.perf_counter()
            _secrets.hider(heapdump.DEFAULT_REDACT, hide=secrets)
            builds.append(time.perf_counter() - t)
        out["times"] = times
        out["cpu"] = cpu
        out["build"] = sorted(builds)[len(builds) // 2]
        out["environ"] = len(os.environ)
    elif PHASE == "load" and METHOD == "heapdump":
        del users, index
        gc.collect()
        import heapdump
        t = time.perf_counter()
        d = heapdump.load(PATH)
        out["load"] = time.perf_counter() - t
        out["loaded_objects"] = len(d.objects)
    elif PHASE == "load" and METHOD == "pickle":
        del users, index
        gc.collect()
        import pickle, zstandard
        t = time.perf_counter()
        with open(PATH, "rb") as f:
            data = f.read()
        obj = pickle.loads(zstandard.ZstdDecompressor().decompress(data))
        out["load"] = time.perf_counter() - t
    print(json.dumps(out))


run()
"""


def child(args, python, method, path, phase):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = CHILD.replace("ROOT", repr(root)).replace(
        "ARGS", repr((args.instances, args.keys, method, path, phase)), 1)
    code = code.replace("REPEAT", str(args.hide_repeat))
    # a plain interpreter: dev mode (set by the Makefile for the tests)
    # slows every allocation down
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONDEVMODE", "PYTHONMALLOC", "PYTHONFAULTHANDLER")}
    r = subprocess.run(python + ["-c", code], capture_output=True,
                       text=True, env=env, cwd=root)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        raise SystemExit("benchmark child failed (%s %s)" % (method, phase))
    return json.loads(r.stdout.strip().splitlines()[-1])


def measure(args, python, method, path, phase, key):
    """(best run, fastest value of key, slowest value of key)."""
    runs = [child(args, python, method, path, phase)
            for _ in range(args.repeat)]
    values = [r[key] for r in runs]
    return min(runs, key=lambda r: r[key]), min(values), max(values)


def version_of(python):
    r = subprocess.run(python + ["-c", "import platform; print("
                                 "platform.python_version())"],
                       capture_output=True, text=True, check=True)
    return r.stdout.strip()


def one_python(args, python, n, tmp):
    """The figures of heapdump and pickle+zstd on one interpreter."""
    hd_path = os.path.join(tmp, "bench.dump")
    pk_path = os.path.join(tmp, "bench.pickle.zst")
    hd, hd_lo, hd_hi = measure(args, python, "heapdump", hd_path, "dump",
                               "pause")
    pk, pk_lo, pk_hi = measure(args, python, "pickle", pk_path, "dump",
                               "pause")
    out = {
        "pause": hd["pause"], "pause_spread": (hd_lo, hd_hi),
        "pk_pause": pk["pause"], "pk_pause_spread": (pk_lo, pk_hi),
        "size": os.path.getsize(hd_path), "pk_size": os.path.getsize(pk_path),
        "extra": hd["extra"], "pk_extra": pk["extra"],
        "load": None,
    }
    try:
        hl, hl_lo, hl_hi = measure(args, python, "heapdump", hd_path, "load",
                                   "load")
        out["load"], out["load_spread"] = hl["load"], (hl_lo, hl_hi)
    except SystemExit as e:
        print("heapdump load failed: %s" % e)
    pl, pl_lo, pl_hi = measure(args, python, "pickle", pk_path, "load",
                               "load")
    out["pk_load"], out["pk_load_spread"] = pl["load"], (pl_lo, pl_hi)
    for p in (hd_path, pk_path):
        os.unlink(p)
    return out


def spread(lo_hi):
    return "%.3f-%.3f" % lo_hi


def print_one(name, r, n):
    rows = [
        ("pause (s)", r["pause"], r["pk_pause"],
         spread(r["pause_spread"]), spread(r["pk_pause_spread"])),
        ("objects/s (M)", n / r["pause"] / 1e6, n / r["pk_pause"] / 1e6,
         "", ""),
        ("file bytes", r["size"], r["pk_size"], "", ""),
        ("file bytes/object", r["size"] / n, r["pk_size"] / n, "", ""),
        ("extra peak memory (MB)", r["extra"] / 1e6, r["pk_extra"] / 1e6,
         "", ""),
        ("extra peak bytes/object", r["extra"] / n, r["pk_extra"] / n, "",
         ""),
    ]
    if r["load"] is not None:
        rows += [("load (s)", r["load"], r["pk_load"],
                  spread(r["load_spread"]), spread(r["pk_load_spread"])),
                 ("load objects/s (M)", n / r["load"] / 1e6,
                  n / r["pk_load"] / 1e6, "", "")]
    print("Python %s" % name)
    print("%-26s %14s %16s %8s   %s" % ("", "heapdump", "pickle+zstd3",
                                        "ratio", "spread (heapdump, pickle)"))
    for label, a, b, sa, sb in rows:
        print("%-26s %14.3f %16.3f %8.2f   %s" % (
            label, a, b, a / b if b else 0,
            "%s, %s" % (sa, sb) if sa else ""))
    print("targets: pause ratio <= 0.5 (%.2f), file ratio <= 1.0 (%.2f), "
          "extra <= 48 B/object (%.1f), load >= 1.0 M objects/s (%s)" % (
              r["pause"] / r["pk_pause"], r["size"] / r["pk_size"],
              r["extra"] / n,
              "%.2f" % (n / r["load"] / 1e6) if r["load"] else "n/a"))
    print()


def print_side_by_side(results, n):
    """heapdump's figures of every version, with each one's ratio to the
    first version's."""
    names = list(results)
    first = results[names[0]]
    figures = [
        ("pause (s)", lambda r: r["pause"]),
        ("file bytes/object", lambda r: r["size"] / n),
        ("extra peak bytes/object", lambda r: r["extra"] / n),
        ("load (s)", lambda r: r["load"]),
        ("load objects/s (M)", lambda r: n / r["load"] / 1e6
         if r["load"] else None),
    ]
    print("heapdump on each Python (ratio to %s)" % names[0])
    print("%-26s" % "" + "".join("%20s" % v for v in names))
    for label, get in figures:
        cells = []
        for v in names:
            x, base = get(results[v]), get(first)
            if x is None:
                cells.append("%20s" % "n/a")
            elif v == names[0] or not base:
                cells.append("%20.3f" % x)
            else:
                cells.append("%20s" % ("%.3f (%.2f)" % (x, x / base)))
        print("%-26s" % label + "".join(cells))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--instances", type=int, default=200_000)
    ap.add_argument("--keys", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each measurement; the best is kept")
    ap.add_argument("--python", action="append", default=[],
                    metavar="VERSION=COMMAND",
                    help="run the children with COMMAND, shown as VERSION "
                         "(repeatable; default: this interpreter)")
    ap.add_argument("--hide-repeat", type=int, default=11,
                    help="dumps of each variant of the hiding comparison")
    ap.add_argument("--hide-only", action="store_true",
                    help="only the hiding comparison (on the first Python)")
    ap.add_argument("--web-repeat", type=int, default=31,
                    help="dumps of each web request variant")
    ap.add_argument("--web-only", action="store_true",
                    help="only the web request pause (on the first Python)")
    args = ap.parse_args(argv)
    pythons = []
    for spec in args.python:
        name, sep, command = spec.partition("=")
        if not sep or not command:
            ap.error("--python wants VERSION=COMMAND, not %r" % spec)
        pythons.append((name, shlex.split(command)))
    if not pythons:
        pythons = [("%d.%d" % sys.version_info[:2], [sys.executable])]
    first = pythons[0][1]
    web_request(args, first)
    if args.web_only:
        return 0
    tmp = tempfile.mkdtemp(prefix="heapdump-bench-")

    n = child(args, first, "heapdump", os.path.join(tmp, "x"),
              "count")["objects"]
    print("heap: %d instances x 5 attributes + a %d-key dict of strings = "
          "%d objects" % (args.instances, args.keys, n))
    print("machine: %s, %s, %d CPUs; best of %d runs" % (
        platform.node(), platform.machine(), os.cpu_count(), args.repeat))
    print()
    results = {}
    for name, python in pythons if not args.hide_only else ():
        full = version_of(python)
        results[name] = one_python(args, python, n, tmp)
        print_one("%s (%s)" % (full, " ".join(python)), results[name], n)
    if len(results) > 1:
        print_side_by_side(results, n)
    hiding(args, first, os.path.join(tmp, "bench.dump"))
    os.rmdir(tmp)
    return 0



WEB_CHILD = r"""
import json, os, sys, time
sys.path.insert(0, ROOT)
import heapdump
VARIANT, PATHS, REPEAT, OLD_ITEMS = ARGS


class Row:
    def __init__(self, i):
        self.id = i
        self.sku = "SKU-%06d" % i
        self.name = "product %d" % i
        self.price = i * 1.25
        self.stock = i % 17
        self.tags = ["tag%d" % (i % 5), "tag%d" % (i % 7)]


class User:
    def __init__(self):
        self.id = 42
        self.username = "alice"
        self.email = "alice@example.com"
        self.groups = ["staff", "buyers"]


def view(request):
    user = User()
    rows = [Row(i) for i in range(50)]
    cart = {"rows": rows[:5], "total": 62.5, "coupon": None}
    if VARIANT == "big":
        history = list(range(20000))
        index = {"key%06d" % i: i for i in range(100000)}
    try:
        raise KeyError("qty")
    except KeyError:
        out = {}
        for where, path in PATHS.items():
            for name, kw in (("new", {}), ("old", {"max_items": OLD_ITEMS})):
                times = []
                for _ in range(REPEAT):
                    t = time.perf_counter()
                    heapdump.dump(path, **kw)
                    times.append(time.perf_counter() - t)
                times.sort()
                out["%s %s" % (where, name)] = {
                    "median": times[len(times) // 2], "min": times[0],
                    "max": times[-1], "size": os.path.getsize(path)}
        print(json.dumps(out))


headers = {"HTTP_%02d" % i: "value %d" % i for i in range(20)}
view({"method": "POST", "path": "/cart/add", "headers": headers,
      "GET": {"qty": ["3"]}, "body": b"x" * 2000})
"""


def web_request(args, python):
    """The pause of one failing web request's dump with the default limits
    (a request, a user, 50 rows of 6 attributes: a few thousand objects),
    and of the same request holding a 20,000-item list and a 100,000-key
    dict; each with the default limits (new) and with max_items=10,000
    (the default before issue 12: old).  Written to a tmpfs when there is
    one (the walk, pack and compression alone) and to the temporary
    directory (with the fsync of a real disk)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tmp = tempfile.mkdtemp(prefix="heapdump-web-")
    paths = {"disk": os.path.join(tmp, "web.dump")}
    if os.path.isdir("/dev/shm"):
        shm = tempfile.mkdtemp(prefix="heapdump-web-", dir="/dev/shm")
        paths["tmpfs"] = os.path.join(shm, "web.dump")
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONDEVMODE", "PYTHONMALLOC", "PYTHONFAULTHANDLER")}
    print("web request: median of %d dumps (spread min-max), file size; "
          "new: the default limits, old: max_items=10,000" % args.web_repeat)
    print("%-8s %-6s %-5s %12s %20s %12s" % ("request", "disk", "limit",
                                              "pause (ms)", "spread (ms)",
                                              "file bytes"))
    for variant in ("plain", "big"):
        code = WEB_CHILD.replace("ROOT", repr(root)).replace(
            "ARGS", repr((variant, paths, args.web_repeat, 10000)), 1)
        r = subprocess.run(python + ["-c", code], capture_output=True,
                           text=True, env=env, cwd=root)
        if r.returncode != 0:
            sys.stderr.write(r.stderr)
            raise SystemExit("web request benchmark child failed")
        res = json.loads(r.stdout.strip().splitlines()[-1])
        for key in sorted(res):
            x = res[key]
            where, name = key.split()
            print("%-8s %-6s %-5s %12.2f %20s %12d" % (
                variant, where, name, x["median"] * 1e3,
                "%.2f-%.2f" % (x["min"] * 1e3, x["max"] * 1e3), x["size"]))
    for path in paths.values():
        os.unlink(path)
        os.rmdir(os.path.dirname(path))
    print()


def hiding(args, python, hd_path):
    """What hiding by value costs a dump (see the module's docstring)."""
    r = child(args, python, "heapdump", hd_path, "hide")
    os.unlink(hd_path)
    print()
    print("hiding by value: %d dumps of each variant, taking turns; the "
          "environment has %d variables" % (len(r["times"]["none"]),
                                            r["environ"]))
    # the dumping thread's CPU time says the cost better than the wall
    # clock on a shared machine; both are printed
    for what, times in (("CPU time of the dump", r["cpu"]),
                        ("pause (wall clock)", r["times"])):
        base = sorted(times["none"])[len(times["none"]) // 2]
        low = min(times["none"])
        print("%-22s %10s %20s %14s %12s" % (
            what, "median (s)", "spread (min-max, s)", "vs none (ms)",
            "min vs min"))
        for name in ("none", "rules", "hidden"):
            t = sorted(times[name])
            median = t[len(t) // 2]
            print("  %-20s %10.3f %20s %+14.1f %+11.1f%%" % (
                name, median, "%.3f-%.3f" % (t[0], t[-1]),
                (median - base) * 1e3, (t[0] / low - 1) * 100))
    print("building the hider (50 environment values, 5 secrets, the "
          "rules): %.2f ms" % (r["build"] * 1e3))


if __name__ == "__main__":
    gc.disable()
    sys.exit(main())
