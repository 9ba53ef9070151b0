"""What a loaded dump is made of: the objects ``heapdump.load()`` returns.

These classes hold data only.  ``heapdump._load`` fills them from the file;
``heapdump._frames`` turns frames, code and tracebacks into the real objects
pdb needs; ``heapdump._report`` renders them.  Nothing here runs anything
from the file.
"""

from __future__ import annotations

from heapdump._errors import HeapdumpError

__all__ = ["Code", "Dump", "Frame", "HeapdumpError", "Thread", "Traceback"]


class Code:
    """A dumped code object: where a function lives and its local names.

    ``names`` are the local variable names in frame order (arguments, other
    locals, cells, free variables) and ``kinds`` the matching bit sets
    (1 local, 2 cell, 4 free, 8 hidden), as in docs/format.rst.
    """

    __slots__ = ("name", "qualname", "filename", "firstlineno", "argcount",
                 "posonlyargcount", "kwonlyargcount", "flags", "names",
                 "kinds", "_real")

    def __init__(self, name, qualname, filename, firstlineno, argcount,
                 posonlyargcount, kwonlyargcount, flags, names, kinds):
        self.name = name
        self.qualname = qualname
        self.filename = filename
        self.firstlineno = firstlineno
        self.argcount = argcount
        self.posonlyargcount = posonlyargcount
        self.kwonlyargcount = kwonlyargcount
        self.flags = flags
        self.names = tuple(names)
        self.kinds = tuple(kinds)
        self._real = None

    def __repr__(self):
        return "<dumped code %s at %s:%s>" % (
            self.qualname, self.filename, self.firstlineno)


class Frame:
    """A dumped frame.

    ``locals`` maps names to loaded values (unbound names are absent);
    ``globals`` is the loaded globals dict (or None); ``back`` the calling
    Frame; ``lineno`` the current line; ``position`` is None or
    ``(end_lineno, col_offset, end_col_offset)``.  ``frame`` is the real
    frame object rebuilt for pdb (see heapdump._frames), or None when it
    could not be built.
    """

    __slots__ = ("code", "back", "globals", "locals", "lineno", "lasti",
                 "position", "is_module", "frame", "address")

    def __init__(self, code, back, globals, locals, lineno, lasti,
                 position, is_module=False, address=0):
        self.code = code
        self.back = back
        self.globals = globals
        self.locals = locals
        self.lineno = lineno
        self.lasti = lasti
        self.position = position
        self.is_module = is_module
        self.frame = None
        self.address = address

    def __repr__(self):
        code = self.code
        return "<dumped frame %s at %s:%s>" % (
            code.qualname if code else "?",
            code.filename if code else "?", self.lineno)


class Traceback:
    """One entry of a dumped traceback chain (outermost first via next)."""

    __slots__ = ("frame", "lineno", "lasti", "next", "position")

    def __init__(self, frame, lineno, lasti, next, position=None):
        self.frame = frame
        self.lineno = lineno
        self.lasti = lasti
        self.next = next
        #: (end_lineno, col_offset, end_col_offset) of the instruction at
        #: lasti, or None (before 3.11, or a format 1.0 file)
        self.position = position

    def entries(self):
        """The chain from this entry inward, as a list."""
        out, tb, seen = [], self, set()
        while tb is not None and id(tb) not in seen:
            seen.add(id(tb))
            out.append(tb)
            tb = tb.next
        return out


class Thread:
    """A dumped thread; ``frames`` run from the innermost out."""

    __slots__ = ("ident", "native_id", "name", "is_current", "is_main",
                 "frames")

    def __init__(self, ident, native_id, name, is_current, is_main, frames):
        self.ident = ident
        self.native_id = native_id
        self.name = name
        self.is_current = is_current
        self.is_main = is_main
        self.frames = frames

    def __repr__(self):
        return "<dumped thread %r ident=%s%s, %d frames>" % (
            self.name, self.ident, " current" if self.is_current else "",
            len(self.frames))


class Task:
    """A dumped asyncio task (a TASK record, format 1.4).

    ``obj``: the loaded task object; ``name``; ``state``: "pending",
    "cancelled", "finished" (None when unread); ``coro``: its coroutine
    (a loaded generator surrogate, or None); ``awaited``: the coroutines
    ``coro`` awaits, outermost first (cr_await, inward); ``awaits``: the
    future or task it waits on (None); ``loop``; ``awaited_by``: the Tasks
    waiting on this one, directly or through gather() (filled by the
    loader); ``result`` and ``exception`` once finished, and
    ``outcome_read``: whether the record held them (not before heapdump
    0.1's format 1.4 was final); ``cancelled_error``: the CancelledError
    its ``result()`` and ``exception()`` raise once cancelled, as the
    dumped Python raised it (3.11+: the one the task kept, its coroutine's,
    with its message; 3.9 and 3.10: a new one whose context is that), or
    None (a plain ``CancelledError()``).
    """

    __slots__ = ("obj", "name", "state", "coro", "awaited", "awaits",
                 "loop", "awaited_by", "result", "exception",
                 "outcome_read", "cancelled_error")

    def __init__(self, obj, name, state, coro, awaited, awaits, loop,
                 result=None, exception=None, outcome_read=False,
                 cancelled_error=None):
        self.obj = obj
        self.name = name
        self.state = state
        self.coro = coro
        self.awaited = awaited
        self.awaits = awaits
        self.loop = loop
        self.awaited_by = []
        self.result = result
        self.exception = exception
        self.outcome_read = outcome_read
        self.cancelled_error = cancelled_error

    def coroutines(self):
        """The coroutine and those it awaits, outermost first."""
        return ([self.coro] if self.coro is not None else []) + \
            list(self.awaited)

    def __repr__(self):
        return "<dumped task %r %s>" % (self.name, self.state)


class Dump:
    """A loaded dump.

    ``headers``: the MIME headers (an ``email.message.Message``).
    ``meta``: the process facts of the META record (a dict).
    ``threads``: list of Thread, in the order of the file.
    ``exception``: the dumped exception (a loaded object) or None.
    ``traceback``: the Traceback chain of that exception (outermost entry
    first) or None.
    ``objects``: every object of the file, indexed by its id.
    ``sources``: file name -> source text.
    ``trailer``: the TRAILER totals, or None when the file is truncated.
    ``truncated``: whether the body ended early.
    ``warnings``: what the loader noticed (truncation, writer errors).
    ``cuts``: id -> original length of each shortened value.
    ``errors``: the writer's ERROR messages.
    ``source_errors``: file name -> why its source is not in the file.
    ``source_redactions``: file name -> [(line, col, end_line, end_col,
    reason)] of the pieces of its text masked by the writer (format 1.2:
    secret literals, hidden values).
    """

    source_errors = {}
    source_redactions = {}
    tasks = ()  # list of Task (TASK records, format 1.4)

    def __init__(self, path, headers, meta, threads, exception, traceback,
                 objects, sources, trailer, truncated, warnings, cuts,
                 errors, tracebacks, roots):
        self.path = path
        self.headers = headers
        self.meta = meta
        self.threads = threads
        self.exception = exception
        self.traceback = traceback
        self.objects = objects
        self.sources = sources
        self.trailer = trailer
        self.truncated = truncated
        self.warnings = warnings
        self.cuts = cuts
        self.errors = errors
        self._tracebacks = tracebacks
        self.roots = roots

    def heap(self, **limits):
        """The object graph of this dump for heap analysis (a
        heapdump._heap.HeapGraph: histogram, retained sizes, dominators,
        paths to roots, referrers, leak suspects), built from the file on
        first use, without the loaded objects; loaded objects of this dump
        can be passed to its queries."""
        graph = self.__dict__.get("_heap")
        if graph is None or limits:
            from heapdump._heap import HeapGraph

            graph = HeapGraph(self.path, dump=self, **limits)
            self.__dict__["_heap"] = graph
        return graph

    @property
    def context(self):
        """What heapdump.set_context() attached in the thread or task that
        wrote the dump (a dict; empty when nothing was set)."""
        context = self.roots.get("context") if self.roots else None
        return context if isinstance(context, dict) else {}

    def traceback_of(self, exc):
        """The dumped Traceback chain of a loaded exception, or None."""
        return self._tracebacks.get(id(exc))

    @property
    def current_thread(self):
        """The thread that called dump(), or None (e.g. a signal dump)."""
        for thread in self.threads:
            if thread.is_current:
                return thread
        return None

    def thread(self, ident):
        """The Thread with this ident (or native id); KeyError if none."""
        for thread in self.threads:
            if ident in (thread.ident, thread.native_id):
                return thread
        raise KeyError(ident)

    def __repr__(self):
        return "<heapdump.Dump %s: %d threads, %d objects%s>" % (
            self.path, len(self.threads), len(self.objects),
            ", truncated" if self.truncated else "")
