"""python -m heapdump open FILE [--summary] [--thread ID] [--secrets]
                             [report flags]
(also python -m heapdump.open FILE ..., the name users know: heapdump/open.py)

Reopens a heap dump in stock pdb, as if the program had just stopped there:
at the innermost frame of the dumped exception's traceback, or of the thread
that called ``heapdump.dump()`` when there was no exception.  ``--thread``
picks a thread (by ident or native id) instead; ``--summary`` prints a
report of the dump and exits; ``--secrets`` lists what the dump redacted
and flags what still looks like a credential (heapdump._vet), with exit
status 0 when nothing is flagged, 1 when something is, 2 when the file
cannot be read.

Everything pdb shows comes from the file: the frames are real frame objects
rebuilt from the dumped ones (heapdump._frames), the sources are the dumped
copies, so nothing needs to be importable or present on this machine.  On
Python 3.13 and later pdb gets the exception itself, so its ``exceptions``
command walks the dumped exception chain.

The heap analysis' report flags (``--histogram``, ``--top``,
``--dominators``, ``--paths-to``, ``--referrers``, ``--object``,
``--suspects``, ``--diff``, ``--html``; docs/analysis.rst) print a report
and exit instead of starting pdb; each takes ``--json``.  In pdb,
``!heapdump.why(obj)`` shows what keeps a loaded object alive.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import types

# _pdbcmds imports pdb (and, on 3.14, asyncio), which must happen before
# the dump's stand-in modules enter sys.modules
from heapdump import _frames, _model, _pdbcmds, _report

PROG = "python -m heapdump.open"


def _error(message):
    sys.stderr.write("%s: error: %s\n" % (PROG, message))
    return 1


def _parse_thread_id(text):
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "not a thread id: %r (an ident or native id, decimal or 0x...)"
            % text) from None


def parser():
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Open a heapdump file in pdb, where the program "
                    "stopped.")
    p.add_argument("file", help="the dump file")
    p.add_argument("--summary", action="store_true",
                   help="print a report of the dump (headers, exception, "
                        "every thread's stack with its locals) and exit")
    p.add_argument("--thread", metavar="ID", type=_parse_thread_id,
                   help="debug this thread (ident or native id) rather "
                        "than the exception")
    p.add_argument("--secrets", action="store_true",
                   help="list what the dump redacted (where, type, size; "
                        "never a value) and flag the strings that still "
                        "look like credentials, then exit: status 0 when "
                        "nothing is flagged, 1 when something is")
    a = p.add_argument_group(
        "heap analysis (what holds the memory; docs/analysis.rst)",
        "Each prints a report and exits.  ID: an address as pdb prints it "
        "(0x7f3a...) or @id; TYPE: module.qualname.")
    a.add_argument("--histogram", action="store_true",
                   help="the types: count, shallow and retained bytes")
    a.add_argument("--top", nargs="?", type=int, const=10, metavar="N",
                   help="the N objects that retain the most (default 10)")
    a.add_argument("--dominators", nargs="?", const="", metavar="ID",
                   help="the dominator tree (from the roots, or from ID)")
    a.add_argument("--paths-to", metavar="ID|TYPE",
                   help="why is it alive: shortest paths from the roots")
    a.add_argument("--referrers", metavar="ID",
                   help="what refers to an object, and the references the "
                        "dump does not hold")
    a.add_argument("--object", metavar="ID", help="all about one object")
    a.add_argument("--suspects", action="store_true",
                   help="where the memory accumulates (leak suspects)")
    a.add_argument("--diff", metavar="OTHER",
                   help="compare with another dump (FILE is the earlier)")
    a.add_argument("--html", metavar="OUT",
                   help="write a self-contained HTML report (with --diff: "
                        "of OTHER, with what changed since FILE)")
    a.add_argument("--json", action="store_true",
                   help="the report as JSON (docs/analysis-schema.json)")
    a.add_argument("--bytes", action="store_true",
                   help="exact byte counts instead of KiB/MiB")
    a.add_argument("--by", choices=("type", "module"), default="type",
                   help="--histogram, --diff: group by type or module")
    a.add_argument("--sort", choices=("retained", "shallow", "count"),
                   default="retained", help="--histogram's order")
    a.add_argument("--limit", type=int, default=None, metavar="N",
                   help="rows shown (0: all; default 40)")
    a.add_argument("--min-size", type=int, default=0, metavar="BYTES",
                   help="leave out what is smaller")
    a.add_argument("--depth", type=int, default=3, metavar="D",
                   help="--dominators: levels shown")
    a.add_argument("--max", type=int, default=3, metavar="K",
                   help="--paths-to: paths shown")
    a.add_argument("--include-weak", action="store_true",
                   help="--paths-to: through weak references too")
    a.add_argument("--no-keys", action="store_true",
                   help="dict keys shown as [...] in paths (privacy)")
    a.add_argument("--threshold", type=float, default=0.10,
                   help="--suspects: the share of the heap (0.10)")
    return p


_REPORTS = ("histogram", "top", "dominators", "paths_to", "referrers",
            "object", "suspects", "diff", "html")


def _wants_report(args):
    return any(getattr(args, name) not in (None, False)
               for name in _REPORTS)


def report(args, out=None):
    """Print the heap analysis report the flags ask for.  Returns the
    exit status."""
    from heapdump import _heap
    from heapdump import _heapreport as R

    out = out or sys.stdout
    keys = not args.no_keys
    limit = 40 if args.limit is None else (args.limit or None)
    try:
        graph = _heap.HeapGraph(args.file)
        if args.html is not None:
            from heapdump import _html

            if args.diff:
                # the later dump's report, with what changed since FILE
                size = _html.write(_heap.HeapGraph(args.diff), args.html,
                                   before=graph, keys=keys)
            else:
                size = _html.write(graph, args.html, keys=keys)
            sys.stderr.write("%s: wrote %s (%s)\n" % (
                PROG, args.html, _heap.human(size)))
            return 0
        if args.diff is not None:
            d = R.diff_report(graph, args.diff, by=args.by, limit=limit)
        elif args.histogram:
            d = R.histogram_report(graph, by=args.by, sort=args.sort,
                                   limit=limit, min_size=args.min_size)
        elif args.top is not None:
            d = R.top_report(graph, args.top, keys=keys)
        elif args.dominators is not None:
            d = R.dominators_report(graph, args.dominators or None,
                                    depth=args.depth,
                                    min_size=args.min_size)
        elif args.paths_to is not None:
            d = R.paths_report(graph, args.paths_to, max_paths=args.max,
                               weak=args.include_weak, keys=keys)
        elif args.referrers is not None:
            d = R.referrers_report(graph, args.referrers, keys=keys)
        elif args.object is not None:
            d = R.object_report(graph, args.object, keys=keys)
        else:
            d = R.suspects_report(graph, threshold=args.threshold,
                                  keys=keys)
    except _model.HeapdumpError as e:
        return _error("%s: %s" % (args.file, e))
    except OSError as e:
        return _error("cannot read %s: %s" % (
            e.filename or args.file, e.strerror or e))
    if args.json:
        json.dump(d, out, indent=1, ensure_ascii=False)
        out.write("\n")
    else:
        out.write(R.render(d, exact=args.bytes))
    return 0


def _load(path):
    """heapdump.load(path), its objects then frozen out of the cyclic
    collector's sight (gc.freeze): the dump lives as long as the session,
    and a collection at the prompt, or the first one after loading (all
    the loaded objects are in the youngest generation), would walk its
    millions of objects again and again."""
    import heapdump
    enabled = gc.isenabled()
    gc.disable()
    try:
        dump = heapdump.load(path)
        gc.freeze()
    finally:
        if enabled:
            gc.enable()
    return dump


def main(argv=None):
    args = parser().parse_args(argv)
    if _wants_report(args):
        return report(args)
    # --secrets says 1 for "flagged": a file it cannot read is 2
    failed = 2 if args.secrets else 1
    try:
        dump = _load(args.file)
    except _model.HeapdumpError as e:
        return _error("%s: %s" % (args.file, e)) and failed
    except OSError as e:
        return _error("cannot read %s: %s" % (
            args.file, e.strerror or e)) and failed
    if args.secrets:
        from heapdump import _vet

        return _vet.main(dump, args.file, sys.stdout)
    thread = None
    if args.thread is not None:
        try:
            thread = dump.thread(args.thread)
        except KeyError:
            return _error("no thread with ident or native id %s in %s "
                          "(threads: %s)" % (args.thread, args.file,
                                             _thread_list(dump)))
    if args.summary:
        sys.stdout.write(_report.render(dump))
        return 0
    return debug(dump, thread=thread)


def _thread_list(dump):
    return ", ".join("%s %s/%s" % (t.name, t.ident, t.native_id)
                     for t in dump.threads or ()) or "none"


def _thread_frames(thread):
    return _frames.own_frames_dropped(thread)


def _pick(dump, thread):
    """What pdb starts on: (exception or None, traceback object or None,
    thread or None, what it is, in words)."""
    exc = dump.exception
    if thread is None and exc is not None:
        tb = exc.__traceback__ if isinstance(exc, BaseException) else None
        if tb is not None:
            return exc, tb, None, "the exception's traceback"
        if isinstance(dump.traceback, _model.Traceback):
            # the exception did not load as one (a placeholder): its
            # traceback still can
            tb = _frames.traceback_from(dump.traceback.entries())
            if tb is not None:
                return None, tb, None, "the exception's traceback"
    if thread is None:
        thread = dump.current_thread
        what = "the thread that called dump()"
        if thread is None or not thread.frames:
            thread = next((t for t in dump.threads or () if t.is_main
                           and t.frames), None)
            what = "the main thread"
        if thread is None:
            thread = next((t for t in dump.threads or () if t.frames), None)
            what = "the first thread with frames"
    else:
        what = "thread %s" % thread.ident
    if thread is None:
        return None, None, None, None
    view = _model.Thread(thread.ident, thread.native_id, thread.name,
                         thread.is_current, thread.is_main,
                         _thread_frames(thread))
    return None, _frames.traceback_for_thread(view), thread, what


_MAX_THREADS_SHOWN = 6


def summary_lines(dump, what, thread):
    """The few lines printed before the pdb prompt."""
    r = _report.Renderer(dump, width=100)
    out = ["heapdump: %s" % dump.path]
    if dump.truncated:
        out.append("WARNING: the file is truncated; what was intact "
                   "is shown")
    h = dump.headers
    meta = dump.meta if isinstance(dump.meta, dict) else {}
    reason = (h.get("Heapdump-Reason") if h is not None else None) or \
        meta.get("reason") or "?"
    out.append("Reason:    %s" % reason)
    if dump.exception is not None:
        chain = _report.exception_chain(dump.exception)
        out.append("Exception: %s" % r.exception_line(chain[-1][0]))
        if len(chain) > 1:
            out.append("           (%d exceptions in the chain%s)" % (
                len(chain), "; 'exceptions' lists them"
                if sys.version_info >= (3, 13) else ""))
    else:
        out.append("Exception: none")
    out.extend(r.context_lines("Context:   "))
    python = h.get("Heapdump-Python") if h is not None else None
    pid = (h.get("Heapdump-Pid") if h is not None else None) or \
        meta.get("pid")
    when = (h.get("Heapdump-Time") if h is not None else None) or \
        meta.get("time")
    out.append("Process:   pid %s, %s, %s" % (pid or "?", python or "?",
                                              when or "?"))
    names = []
    for t in dump.threads or ():
        mark = []
        if t.is_current:
            mark.append("called dump()")
        if t.is_main:
            mark.append("main")
        names.append("%s (%s%s)" % (_report.thread_name(t), t.ident,
                                    ", " + ", ".join(mark) if mark else ""))
    shown = "; ".join(names[:_MAX_THREADS_SHOWN])
    if len(names) > _MAX_THREADS_SHOWN:
        shown += "; ... %d more (--summary lists them)" % (
            len(names) - _MAX_THREADS_SHOWN)
    out.append("Threads:   %d: %s" % (len(names), shown))
    for w in dump.warnings or ():
        out.append("Warning:   %s" % w)
    where = what
    if thread is not None:
        where += " (%s)" % _report.thread_name(thread)
    out.append("Debugging %s; 'where' shows the stack, 'q' quits." % where)
    return out


def debug(dump, thread=None, *, out=None):
    """Rebuild the dump's frames and run stock pdb post-mortem on them.

    thread: a Thread of the dump to debug instead of the exception.
    Returns the exit status (0, or 1 when there is nothing to debug).
    """
    out = out or sys.stdout
    failed = _frames.realize(dump)
    added, modules = _frames.install_modules(dump)
    exc, tb, thread, what = _pick(dump, thread)
    lines = summary_lines(dump, what or "nothing", thread)
    if failed:
        f, error = failed[0]
        lines.insert(-1, "Warning:   %d dumped frame%s could not be rebuilt "
                     "for pdb (%r: %s: %s)" % (
                         len(failed), "s" if len(failed) > 1 else "", f,
                         type(error).__name__, error))
    if tb is None:
        for line in lines[:-1]:
            out.write(line + "\n")
        out.flush()
        return _error("%s has no frames to debug (no exception traceback "
                      "and no thread stack)" % dump.path)
    for line in lines:
        out.write(line + "\n")
    out.flush()
    restore = _stand_in_main(modules.get("__main__"))
    from heapdump import _heap

    _heap.current_dump = dump       # for heapdump.why() at the prompt
    try:
        _pdbcmds.post_mortem(dump, exc if exc is not None and
                             sys.version_info >= (3, 13) else tb, thread)
    finally:
        _heap.current_dump = None
        restore()
        for name in added:
            sys.modules.pop(name, None)
    return 0


def _stand_in_main(file):
    """Make sys.modules['__main__'] a stand-in for the dumped program's
    main module while pdb runs, so that inspect finds the source of its
    classes (it looks up sys.modules[cls.__module__].__file__).  Returns
    the function that puts the real one back."""
    if not file:
        return lambda: None
    real = sys.modules.get("__main__")
    stand_in = types.ModuleType("__main__")
    stand_in.__file__ = file
    sys.modules["__main__"] = stand_in

    def restore():
        if sys.modules.get("__main__") is stand_in:
            if real is None:
                del sys.modules["__main__"]
            else:
                sys.modules["__main__"] = real
    return restore


if __name__ == "__main__":
    sys.exit(main())
