"""The pdb that opens a dump: stock pdb with the whole stack, and threads.

``post_mortem(dump, exc_or_tb, thread)`` runs a ``DumpPdb``, a subclass of
``pdb.Pdb`` that differs from it in two ways only:

- the stack of a traceback is the whole stack: when the traceback's first
  frame (the frame that caught the exception, or the outermost frame the
  exception passed through) has callers, they come first, outermost first,
  each at the line it stood at when the dump was taken, then the
  traceback's frames, as a live ``pdb.set_trace()`` in the ``except`` block
  would show them with the exception.  ``up``, ``down``, ``where`` and
  ``exceptions`` (3.13+, which sets up each exception's traceback through
  the same ``get_stack``) go across all of it;
- ``threads`` lists the dumped threads, numbered, with name, ident and
  where each stands; ``thread N|NAME|IDENT`` switches to one (its stack,
  innermost frame first), ``thread`` alone says which one is shown;
- ``tasks`` lists the dumped asyncio tasks, numbered, with name, state,
  the task each awaits and is awaited by, and each one's await chain (its
  coroutine's frame, then those of the coroutines it awaits, innermost
  last, as ``python -m asyncio pstree`` shows them); ``task N|NAME``
  enters a task's innermost frame with that chain as the stack.

Nothing from the file runs: the frames are the rebuilt ones of
``heapdump._frames``.
"""

from __future__ import annotations

import pdb

from heapdump import _frames, _model
from heapdump._report import (
    task_chain_lines,
    task_frames,
    task_line,
    task_name,
    task_rows,
    thread_line,
    thread_rows,
)

__all__ = ["DumpPdb", "post_mortem", "thread_rows"]


class DumpPdb(pdb.Pdb):
    """Stock pdb over a dump's rebuilt frames (see the module's text)."""

    def __init__(self, dump, thread=None, **kwargs):
        super().__init__(**kwargs)
        self.dump = dump
        self.dump_thread = thread
        self.dump_task = None
        self.prompt = "(Pdb) "

    # -- the whole stack

    def get_stack(self, f, t):
        stack, i = super().get_stack(f, t)
        if f is None and t is not None and self.dump_task is None:
            outer, g, seen = [], t.tb_frame.f_back, set()
            while g is not None and id(g) not in seen:
                seen.add(id(g))
                outer.append((g, g.f_lineno))
                g = g.f_back
            outer.reverse()
            stack = outer + stack
            i = len(stack) - 1
        return stack, i

    # -- threads

    def _current_rows(self):
        rows = thread_rows(self.dump)
        shown = self.dump_thread
        if shown is None:
            # the exception's traceback: it was raised in the thread that
            # called dump()
            shown = self.dump.current_thread
        return rows, shown

    def do_threads(self, arg):
        """threads
        List the dumped threads: number, name, ident and where each
        stands ('*' marks the one shown).  'thread N' switches to one."""
        rows, shown = self._current_rows()
        if not rows:
            self.message("the dump holds no threads")
            return
        for n, t, marks in rows:
            self.message(thread_line(n, t, marks, t is shown))

    def do_thread(self, arg):
        """thread [N | NAME | IDENT]
        Switch to a dumped thread (its number in 'threads', its name or
        its ident): the stack becomes its stack, at its innermost frame.
        Without an argument, say which thread is shown."""
        rows, shown = self._current_rows()
        arg = arg.strip()
        if not arg:
            for n, t, marks in rows:
                if t is shown:
                    self.message(thread_line(n, t, marks, True))
                    return
            self.message("no thread is shown")
            return
        found = _find_thread(rows, arg)
        if found is None:
            self.error("no thread %r (see 'threads')" % arg)
            return
        n, t, marks = found
        tb = _frames.traceback_for_thread(_model.Thread(
            t.ident, t.native_id, t.name, t.is_current, t.is_main,
            _frames.own_frames_dropped(t)))
        if tb is None:
            self.error("thread %d (%s) has no Python frames" % (
                n, t.name))
            return
        self.dump_thread = t
        self.dump_task = None
        self._enter(tb)
        self.message(thread_line(n, t, marks, True))
        self.print_stack_entry(self.stack[self.curindex])

    def _enter(self, tb):
        if hasattr(self, "_chained_exceptions"):
            # 3.13+: the exceptions command belongs to the exception's
            # stack, not to a thread's or a task's
            self._chained_exceptions = tuple()
            self._chained_exception_index = 0
        self.setup(None, tb)

    # -- tasks

    def do_tasks(self, arg):
        """tasks
        List the dumped asyncio tasks: number, name, state, the task each
        awaits and is awaited by, and its await chain (frames, innermost
        last; '*' marks the one entered).  'task N' enters one."""
        rows = task_rows(self.dump)
        if not rows:
            self.message("the dump holds no asyncio tasks")
            return
        for n, t in rows:
            self.message(task_line(rows, n, t, t is self.dump_task))
            for line in task_chain_lines(self.dump, t):
                self.message(line)

    def do_task(self, arg):
        """task [N | NAME]
        Enter a dumped asyncio task (its number in 'tasks' or its name):
        the stack becomes its await chain (its coroutine's frame, then
        those of the coroutines it awaits), at the innermost frame.
        Without an argument, say which task is entered."""
        rows = task_rows(self.dump)
        arg = arg.strip()
        if not arg:
            for n, t in rows:
                if t is self.dump_task:
                    self.message(task_line(rows, n, t, True))
                    return
            self.message("no task is entered")
            return
        found = _find_task(rows, arg)
        if found is None:
            self.error("no task %r (see 'tasks')" % arg)
            return
        n, t = found
        frames = task_frames(self.dump, t)
        tb = _frames.traceback_for_thread(_model.Thread(
            None, None, None, False, False, frames[::-1]))
        if tb is None:
            self.error("task %d (%s) has no suspended frames (%s)" % (
                n, task_name(t), t.state or "?"))
            return
        self.dump_task = t
        self._enter(tb)
        self.message(task_line(rows, n, t, True))
        self.print_stack_entry(self.stack[self.curindex])


def _find_row(rows, arg, idents=None):
    """The row (number, thread or task) that arg names: by name, else by
    number, else by one of idents(item) (a thread's ident and native
    id)."""
    for row in rows:
        if row[1].name == arg:
            return row
    try:
        wanted = int(arg, 0)
    except ValueError:
        return None
    for row in rows:
        if row[0] == wanted:
            return row
    for row in rows if idents is not None else ():
        if wanted in idents(row[1]):
            return row
    return None


def _find_thread(rows, arg):
    return _find_row(rows, arg, lambda t: (t.ident, t.native_id))


def _find_task(rows, arg):
    return _find_row(rows, arg)


def post_mortem(dump, target, thread=None):
    """Run DumpPdb post-mortem on target: the dumped exception (3.13+, for
    the ``exceptions`` command) or a traceback object; thread: the Thread
    shown when target is a thread's stack."""
    p = DumpPdb(dump, thread)
    p.reset()
    p.interaction(None, target)

