"""What a dump adds to a real Django request (issue 14's target: at most
10 ms more than the same request without heapdump).

    python benchmarks/bench_django.py [--rounds 30] [--callgrind]
        [--servers runserver,gunicorn]

The site is benchmarks/django_site.py (Django's startproject settings, a
view that fails).  For each server (Django's runserver, --noreload, its
default threading; gunicorn, one sync worker) two servers run on loopback
at once, one with heapdump's middleware first in MIDDLEWARE (the rate
limit off, the default retention and limits) and one without heapdump, and
these requests take turns (the order rotates each round), each on a new
connection, timed by the client from the connect to the last byte:

- middleware: GET /fail/ on the server with heapdump (the view fails,
  the middleware dumps, Django answers 500) against GET /fail/ on the
  server without (the same 500, no dump);
- direct: GET /direct/?dump=full (the view calls heapdump.dump() with
  the defaults, then raises) and ?dump=nosource (max_source=0) against
  ?dump=none, all on the server without the middleware.

The first --warmup rounds are left out (the first dump of a process
imports what dumping needs; it is shown apart).  Each comparison prints
the medians, the spread (min-max), the added milliseconds (median of the
dumping request less median of the plain one) and the ratio, and the
dumps' size and records (one dump of each kind, loaded at the end).

With --callgrind (valgrind installed), the same requests in-process
through Django's test client under callgrind, one child with heapdump's
middleware and one without, instrumentation on for one request at a time
after a warm-up: the instructions of a request, for profile-14.md; the
files stay in build/bench/callgrind/django-*.out.
"""

from __future__ import annotations

import argparse
import glob
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CALLGRIND_DIR = os.path.join(ROOT, "build", "bench", "callgrind")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(dumps, heapdump_on, modules=None):
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONDEVMODE", "PYTHONMALLOC",
                        "PYTHONFAULTHANDLER")}
    env["PYTHONPATH"] = os.pathsep.join(
        [ROOT, HERE] + ([modules] if modules else []))
    env["DJANGO_SETTINGS_MODULE"] = "django_site"
    env["BENCH_DUMPS"] = dumps
    env["BENCH_HEAPDUMP"] = "1" if heapdump_on else "0"
    return env


def request(port, target, timeout=60):
    """(status, seconds): one GET on a new connection, to the last byte."""
    t0 = time.perf_counter()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", target, headers={"Connection": "close"})
        r = c.getresponse()
        r.read()
        status = r.status
    finally:
        c.close()
    return status, time.perf_counter() - t0


def _signal_group(pgid, sig):
    """Send sig to process group pgid; whether the group still exists."""
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False


class Server:
    def __init__(self, kind, python, dumps, heapdump_on):
        self.port = free_port()
        self.dumps = dumps
        os.makedirs(dumps, exist_ok=True)
        env = env_for(dumps, heapdump_on)
        if kind == "runserver":
            cmd = python + ["-m", "django", "runserver", "--noreload",
                            "127.0.0.1:%d" % self.port]
        else:
            cmd = python + ["-m", "gunicorn", "-w", "1", "-k", "sync",
                            "-b", "127.0.0.1:%d" % self.port,
                            "--log-level", "warning",
                            "django_site:application"]
        self.log = open(os.path.join(dumps, "server.log"), "w")
        # a session of its own: stop() signals the whole group, the server
        # and whatever runs it (tools/py.sh's chroot for 3.14+), so none
        # is left behind
        self.proc = subprocess.Popen(cmd, env=env, cwd=HERE,
                                     stdout=self.log, stderr=self.log,
                                     start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                if request(self.port, "/ok/", timeout=5)[0] == 200:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit("the %s server did not start:\n%s" % (
                    kind, open(self.log.name).read()[-3000:]))
            time.sleep(0.2)

    def stop(self):
        """SIGTERM to the server's process group, SIGKILL to what is left
        of it 20 s later (or 5 s after the process started here ended)."""
        _signal_group(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + 5
        while _signal_group(self.proc.pid, 0) and \
                time.monotonic() < deadline:
            time.sleep(0.1)
        _signal_group(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.log.close()


VARIANTS = [
    # (name, server: "with" heapdump's middleware or "without", target)
    ("middleware", "with", "/fail/"),
    ("no heapdump", "without", "/fail/"),
    ("direct dump()", "without", "/direct/?dump=full"),
    ("direct max_source=0", "without", "/direct/?dump=nosource"),
    ("direct, no dump", "without", "/direct/?dump=none"),
]

COMPARE = [
    ("heapdump's middleware", "middleware", "no heapdump"),
    ("heapdump.dump() in the view", "direct dump()", "direct, no dump"),
    ("dump(max_source=0) in the view", "direct max_source=0",
     "direct, no dump"),
]


def newest(directory, after):
    files = [p for p in glob.glob(os.path.join(directory, "*.dump"))
             if os.path.getmtime(p) >= after]
    return max(files, key=os.path.getmtime) if files else None


def run_server_kind(kind, python, rounds, warmup, workdir):
    with_dir = os.path.join(workdir, kind, "with")
    without_dir = os.path.join(workdir, kind, "without")
    servers = {"with": Server(kind, python, with_dir, True),
               "without": Server(kind, python, without_dir, False)}
    times = {name: [] for name, _, _ in VARIANTS}
    first = {}
    files = {}
    try:
        for r in range(warmup + rounds):
            order = VARIANTS[r % len(VARIANTS):] + VARIANTS[:r % len(VARIANTS)]
            for name, where, target in order:
                server = servers[where]
                t_start = time.time() - 1
                status, seconds = request(server.port, target)
                if status != 500:
                    raise SystemExit("%s %s answered %d, not 500"
                                     % (kind, target, status))
                if r < warmup:
                    first.setdefault(name, seconds)
                    continue
                times[name].append(seconds)
                if name not in files and name in (
                        "middleware", "direct dump()",
                        "direct max_source=0"):
                    # a copy: the middleware's retention (10 files)
                    # removes it before the end
                    path = newest(server.dumps, t_start)
                    if path:
                        keep = os.path.join(workdir, "%s-%s.dump" % (
                            kind, name.replace(" ", "-").replace("=", "")))
                        shutil.copy(path, keep)
                        files[name] = keep
        info = {}
        for name, path in files.items():
            if path:
                info[name] = dump_info(python, path)
    finally:
        for s in servers.values():
            s.stop()
    return {"times": times, "first": first, "dumps": info}


def dump_info(python, path):
    code = ("import json, sys, heapdump; d = heapdump.load(sys.argv[1]); "
            "t = d.trailer or {}; print(json.dumps({'records': t.get("
            "'objects'), 'inline': t.get('inline'), 'raw': t.get('bytes'),"
            " 'walk_ns': t.get('walk_ns'), 'sources': len(d.sources)}))")
    r = subprocess.run(python + ["-c", code, path], capture_output=True,
                       text=True, env=env_for(os.path.dirname(path), False),
                       cwd=ROOT)
    out = json.loads(r.stdout.strip().splitlines()[-1]) \
        if r.returncode == 0 else {}
    out["file"] = os.path.getsize(path)
    return out


def ms(values):
    return "%7.2f (%.2f-%.2f)" % (statistics.median(values) * 1e3,
                                  min(values) * 1e3, max(values) * 1e3)


def report(kind, res, rounds, warmup):
    t = res["times"]
    print("== %s: %d rounds (after %d left out), ms per request, median "
          "(min-max)" % (kind, rounds, warmup))
    for name, _, target in VARIANTS:
        print("  %-22s %-24s %s   (first: %.1f)" % (
            name, target, ms(t[name]), res["first"].get(name, 0) * 1e3))
    for label, a, b in COMPARE:
        ma, mb = statistics.median(t[a]), statistics.median(t[b])
        # the spread of the difference: round by round pairs
        pairs = [x - y for x, y in zip(t[a], t[b])]
        print("  %-32s +%.2f ms (round by round %.2f to %.2f), ratio "
              "%.2fx; target <= +10 ms: %s" % (
                  label, (ma - mb) * 1e3, min(pairs) * 1e3,
                  max(pairs) * 1e3, ma / mb,
                  "yes" if (ma - mb) * 1e3 <= 10 else "NO"))
    for name, d in res["dumps"].items():
        print("  dump of %-20s %s B, %s records, %s inline values, %s B "
              "raw, %s source files; %.1f ms from the freeze to the "
              "trailer" % (
                  name + ":", "{:,}".format(d["file"]),
                  "{:,}".format(d.get("records") or 0),
                  "{:,}".format(d.get("inline") or 0),
                  "{:,}".format(d.get("raw") or 0), d.get("sources"),
                  (d.get("walk_ns") or 0) / 1e6))
    print()


# ------------------------------------------------------------ profile

PROFILED = [
    # (label, function name as cProfile names it, file part)
    ("the request, in all", "get", "django/test/client.py"),
    ("heapdump's dump of the failure (_integrations.dump)", "dump",
     "heapdump/_integrations.py"),
    ("DumpDirectory.dump: admit, name, write, retention", "dump",
     "heapdump/_files.py"),
    ("  the rate limit and the facts (admit)", "admit",
     "heapdump/_files.py"),
    ("  heapdump.dump (the options, the hider, the C call)", "dump",
     "heapdump/__init__.py"),
    ("    the hider (_secrets.hider)", "hider", "heapdump/_secrets.py"),
    ("    the facts and headers", "_facts_and_headers",
     "heapdump/__init__.py"),
    ("  the retention (DumpDirectory.prune)", "prune",
     "heapdump/_files.py"),
    ("the request's secrets (request_secrets)", "request_secrets",
     "heapdump/contrib/django.py"),
]


def child_profile(dumps, rounds):
    """In-process requests through the test client with heapdump's
    middleware: cProfile of rounds requests (after two), the heapdump
    functions' cumulative time per request."""
    import cProfile
    import pstats

    import django

    django.setup()
    from django.test import Client

    import heapdump

    c = Client(raise_request_exception=False)
    for _ in range(2):
        c.get("/fail/")
    prof = cProfile.Profile()
    walls, stats = [], []
    real = heapdump._heapdump.dump

    def counted(*args, **kwargs):
        t0 = time.perf_counter()
        r = real(*args, **kwargs)
        stats.append(dict(r, c_call_s=time.perf_counter() - t0))
        return r

    heapdump._heapdump.dump = counted
    try:
        for _ in range(rounds):
            t0 = time.perf_counter()
            prof.enable()
            status = c.get("/fail/").status_code
            prof.disable()
            walls.append(time.perf_counter() - t0)
            assert status == 500, status
    finally:
        heapdump._heapdump.dump = real
    st = pstats.Stats(prof)
    out = {"walls": walls, "rows": []}
    for label, func, where in PROFILED:
        cum = 0.0
        for (file, _line, name), row in st.stats.items():
            if where in file and name == func:
                cum = max(cum, row[3])
        out["rows"].append((label, cum / rounds))
    out["c_calls"] = stats
    out["files"] = len(os.listdir(dumps))
    print(json.dumps(out))


def run_profile(python, workdir, rounds):
    """child_profile on the site with heapdump's middleware, under
    strace -T when strace is installed (the time of each fsync, rename
    and unlink the dumps make)."""
    dumps = os.path.join(workdir, "profile")
    os.makedirs(dumps, exist_ok=True)
    trace = os.path.join(workdir, "strace.txt")
    wrap = []
    if shutil.which("strace"):
        wrap = ["strace", "-f", "-T", "-qq", "-o", trace, "-e",
                "trace=fsync,fdatasync,rename,renameat,renameat2,unlink,"
                "unlinkat"]
    r = subprocess.run(wrap + python + [os.path.abspath(__file__),
                                        "--child-profile", dumps,
                                        str(rounds)],
                       capture_output=True, text=True,
                       env=env_for(dumps, True), cwd=HERE)
    if r.returncode != 0:
        sys.stderr.write(r.stderr[-3000:])
        raise SystemExit("the profile child failed")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    sys_times = {}
    if wrap and os.path.exists(trace):
        for line in open(trace):
            m = re.search(r"\b(\w+)\(.*<([\d.]+)>\s*$", line)
            if m:
                sys_times.setdefault(m.group(1), []).append(float(m.group(2)))
    walls = out["walls"]
    print("== where a failing request's dump goes (Django's test client "
          "in-process with heapdump's middleware, cProfile on; %d requests "
          "after 2; ms per request)" % rounds)
    print("  the request under cProfile: %s ms, median (min-max); "
          "below, the mean per request of each function's cumulative "
          "time" % ms(walls))
    for label, cum in out["rows"]:
        print("  %-62s %8.2f" % (label, cum * 1e3))
    calls = out["c_calls"]
    if calls:
        print("  the C call: %s records, %s inline, %s B raw, %s B file; "
              "freeze to trailer %s ms, the whole C call %s ms "
              "(median (min-max))" % (
                  "{:,}".format(calls[-1]["objects"]),
                  "{:,}".format(calls[-1]["inline"]),
                  "{:,}".format(calls[-1]["bytes"]),
                  "{:,}".format(calls[-1]["file_bytes"]),
                  ms([c["walk_ns"] / 1e9 for c in calls]),
                  ms([c["c_call_s"] for c in calls])))
    if sys_times:
        n = rounds + 2
        for name, ts in sorted(sys_times.items()):
            print("  %-10s %3d calls over %d requests: %s ms each, %.2f ms "
                  "per request (strace -T, which slows each call a little)"
                  % (name, len(ts), n, ms(ts), sum(ts) * 1e3 / n))
    elif not wrap:
        print("  (strace is not installed: no fsync times)")
    print()
    return out


# ------------------------------------------------------------ callgrind

def child_callgrind(dumps):
    """In-process requests through the test client under callgrind."""
    import django

    django.setup()
    import _barewalk
    from django.test import Client

    c = Client(raise_request_exception=False)
    on = os.environ.get("BENCH_HEAPDUMP") == "1"
    targets = [("fail", "/fail/")] if on else [
        ("fail", "/fail/"), ("direct-full", "/direct/?dump=full"),
        ("direct-nosource", "/direct/?dump=nosource"),
        ("direct-none", "/direct/?dump=none")]
    for _, target in targets:       # warm-up: imports, first dumps
        c.get(target)
        c.get(target)
    tag = "with" if on else "without"
    for name, target in targets:
        _barewalk.callgrind("start")
        _barewalk.callgrind("zero")
        status = c.get(target).status_code
        _barewalk.callgrind("dump", "django-%s-%s" % (tag, name))
        _barewalk.callgrind("stop")
        assert status == 500, status
    print(json.dumps({"ok": True}))


def callgrind_totals(path):
    desc, total = None, None
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("desc: Trigger:"):
                desc = line.split("Client Request:", 1)[-1].strip()
            elif line.startswith(("summary:", "totals:")):
                total = int(line.split()[1])
    return desc, total


def run_callgrind(python, workdir):
    if shutil.which("valgrind") is None:
        print("callgrind: valgrind is not installed")
        return None
    built = subprocess.run(python + [os.path.join(HERE, "build_barewalk.py")],
                           capture_output=True, text=True, cwd=ROOT)
    modules = built.stdout.strip().splitlines()[-1]
    os.makedirs(CALLGRIND_DIR, exist_ok=True)
    counts = {}
    for on in (True, False):
        tag = "with" if on else "without"
        base = os.path.join(CALLGRIND_DIR, "django-%s" % tag)
        for old in glob.glob(base + "*"):
            os.unlink(old)
        dumps = os.path.join(workdir, "cg-" + tag)
        os.makedirs(dumps, exist_ok=True)
        cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
               "--callgrind-out-file=" + base, "-q"] + python + [
            os.path.abspath(__file__), "--child-callgrind", dumps]
        r = subprocess.run(cmd, capture_output=True, text=True,
                           env=env_for(dumps, on, modules), cwd=HERE)
        if r.returncode != 0:
            sys.stderr.write(r.stderr[-3000:])
            raise SystemExit("the callgrind child failed")
        for path in glob.glob(base + ".*"):
            desc, total = callgrind_totals(path)
            if desc and desc.startswith("django-"):
                counts[desc] = total
                os.replace(path, os.path.join(CALLGRIND_DIR, desc + ".out"))
            else:
                os.unlink(path)
        if os.path.exists(base):
            os.unlink(base)
    print("== instructions of one request (callgrind, Ir, Django's test "
          "client in-process, after two warm-up requests)")
    for name, total in sorted(counts.items()):
        print("  %-34s %12s" % (name, "{:,}".format(total)))
    base = counts.get("django-without-fail")
    if base and counts.get("django-with-fail"):
        print("  the middleware's dump adds %s instructions (%.1fx)" % (
            "{:,}".format(counts["django-with-fail"] - base),
            counts["django-with-fail"] / base))
    base = counts.get("django-without-direct-none")
    for k in ("django-without-direct-full", "django-without-direct-nosource"):
        if base and counts.get(k):
            print("  %s adds %s instructions" % (
                k[len("django-without-"):], "{:,}".format(counts[k] - base)))
    print("  files: %s/django-*.out" % os.path.relpath(CALLGRIND_DIR, ROOT))
    print()
    return counts


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--servers", default="runserver,gunicorn")
    ap.add_argument("--callgrind", action="store_true")
    ap.add_argument("--python", default=None)
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="also N requests in-process under cProfile "
                    "(and strace -T for fsync)")
    ap.add_argument("--child-callgrind", metavar="DUMPS",
                    help=argparse.SUPPRESS)
    ap.add_argument("--child-profile", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child_callgrind:
        child_callgrind(args.child_callgrind)
        return 0
    if args.child_profile:
        child_profile(args.child_profile[0], int(args.child_profile[1]))
        return 0
    python = args.python.split() if args.python else [sys.executable]
    version = subprocess.run(
        python + ["-c", "import django, platform; print(platform."
                  "python_version(), django.get_version())"],
        capture_output=True, text=True, env=env_for(".", False))
    if version.returncode != 0:
        print("bench_django: Django is not installed for %s (make bench "
              "installs requirements-bench.txt)" % " ".join(python))
        return 1
    print("Django request benchmark (issue 14): Python %s, Django %s; %s, "
          "%d CPUs, load average %.2f %.2f %.2f" % (
              *version.stdout.split(), platform.machine(), os.cpu_count(),
              *os.getloadavg()))
    print("heapdump: the middleware with its defaults (frames scope, "
          "DEFAULT_LIMITS, the directory's retention of 10 files), the rate "
          "limit off; dump() in the view with the defaults, or max_source=0")
    out = {}
    with tempfile.TemporaryDirectory(prefix="bench-django-") as workdir:
        for kind in [s for s in args.servers.split(",") if s]:
            out[kind] = run_server_kind(kind, python, args.rounds,
                                        args.warmup, workdir)
            report(kind, out[kind], args.rounds, args.warmup)
        if args.profile:
            out["profile"] = run_profile(python, workdir, args.profile)
        if args.callgrind:
            out["callgrind"] = run_callgrind(python, workdir)
    print("load average at the end: %.2f %.2f %.2f" % os.getloadavg())
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
