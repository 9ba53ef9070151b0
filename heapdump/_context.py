"""Context that goes into every dump: ``heapdump.set_context(key, value)``.

The context is per thread and per asyncio task: it lives in a ContextVar,
so a task sees what was set in it (and what its creator had set before it
was created), and threads do not see each other's.  Values are stored as
they are and dumped like any other object, under the root ``context``
(docs/format.rst, ROOT records); ``Dump.context`` reads it back.
"""

import contextvars

_CONTEXT = contextvars.ContextVar("heapdump_context", default=None)


def set_context(key, value):
    """Attach value under key to the dumps this thread or task writes.

    ``set_context(key, None)`` keeps the key with the value None; use
    ``clear_context(key)`` to remove it.
    """
    if not isinstance(key, str):
        raise TypeError("context keys are str, not %s" % type(key).__name__)
    current = _CONTEXT.get()
    updated = dict(current) if current else {}
    updated[key] = value
    _CONTEXT.set(updated)


def clear_context(key=None):
    """Remove one key, or all of the context when key is None."""
    current = _CONTEXT.get()
    if not current:
        return
    if key is None:
        _CONTEXT.set(None)
        return
    updated = dict(current)
    updated.pop(key, None)
    _CONTEXT.set(updated or None)


def get_context():
    """A copy of this thread's or task's context."""
    current = _CONTEXT.get()
    return dict(current) if current else {}


def current_roots():
    """The named roots for a dump written now: {'context': ...} or None."""
    current = _CONTEXT.get()
    return {"context": current} if current else None
