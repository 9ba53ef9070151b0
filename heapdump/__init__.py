"""heapdump: post-mortem heap dumps for CPython, reopened in pdb.

    heapdump.dump()                 write the state of the process to a file
    heapdump.load(path)             read it back (a heapdump.Dump)
    python -m heapdump.open FILE    land in pdb where the program stopped

Nothing heavy happens at import: the C extension is loaded, the rest on use.
"""

from __future__ import annotations

from heapdump import _format, _writer
from heapdump._context import clear_context, get_context, set_context
from heapdump._model import Code, Dump, Frame, HeapdumpError, Thread, Traceback
from heapdump._writer import (
    DEFAULT_HEAP_LIMITS,
    DEFAULT_LIMITS,
    DEFAULT_REDACT,
    Redact,
    dump,
)

__all__ = [
    "Code",
    "DEFAULT_HEAP_LIMITS",
    "DEFAULT_LIMITS",
    "DEFAULT_REDACT",
    "Redact",
    "Dump",
    "Frame",
    "HeapdumpError",
    "HeapdumpWarning",
    "Thread",
    "Traceback",
    "clear_context",
    "compare",
    "disable",
    "dump",
    "dump_on_memory",
    "dump_on_signal",
    "dump_on_unhandled_exceptions",
    "get_context",
    "load",
    "referents",
    "why",
    "set_context",
]

__version__ = "0.1.0"
FORMAT_VERSION = _format.FORMAT_VERSION

# public, though not in __all__ (heapdump._writer)
SCOPES = _writer.SCOPES
limits_for = _writer.limits_for
default_filename = _writer.default_filename
# src/triggers/signals.c calls heapdump._facts_and_headers() by name (the
# META facts and header lines of a signal dump, computed before a handler
# can run)
_facts_and_headers = _writer.facts_and_headers


def load(path, **limits):
    """Read a dump file and return a heapdump.Dump.

    Raises HeapdumpError for a file that is not a dump, is of a newer
    major format version or is corrupt; a truncated file loads as far as
    it is intact, with a HeapdumpWarning.  Nothing from the file is
    executed.  limits: max_record_bytes (256 MiB), max_body_bytes (2 GiB),
    max_objects (10 million), max_ratio (200: a body that expands more than
    that, past 64 MiB, is refused as a decompression bomb); None for none.
    """
    from heapdump._load import load as _load

    return _load(path, **limits)


def referents(obj):
    """What a loaded object referred to in the dumped process, a tuple:
    for an opaque stand-in, what its type's tp_traverse visited (less its
    type and attributes); for other stand-ins, their attribute values; for
    a builtin value, gc.get_referents(obj)."""
    from heapdump._surrogates import referents as _referents

    return _referents(obj)


def compare(a, b, by="type"):
    """The difference between two dumps (paths, heapdump.Dump or their
    heap()) by type or module: (rows, warnings), the rows sorted by the
    change in shallow bytes, largest first (see heapdump._heap.compare)."""
    from heapdump._heap import compare as _compare

    rows, warnings, _ = _compare(a, b, by=by)
    return rows, warnings


def why(obj, *, max_paths=3, file=None):
    """In the pdb session of an opened dump (``python -m heapdump.open``):
    print what keeps a loaded object alive, its retained size and its
    shortest paths from the roots.  ``(Pdb) !heapdump.why(cache)``.
    Returns None (what is printed is the report)."""
    from heapdump._heap import why as _why

    _why(obj, max_paths=max_paths, file=file)


_TRIGGERS = ("dump_on_unhandled_exceptions", "dump_on_signal",
             "dump_on_memory", "disable")


def __getattr__(name):
    # the triggers and the loader's warning live in modules imported on
    # first use, so that `import heapdump` stays light
    if name in _TRIGGERS:
        from heapdump import _triggers

        return getattr(_triggers, name)
    if name == "HeapdumpWarning":
        from heapdump._load import HeapdumpWarning

        return HeapdumpWarning
    raise AttributeError("module 'heapdump' has no attribute %r" % name)
