"""A logging handler that dumps the exceptions a program logs.

    import logging
    from heapdump.integrations.logging import HeapdumpHandler
    # (or, as before: from heapdump.logging import HeapdumpHandler)

    logging.getLogger().addHandler(HeapdumpHandler("/var/tmp/dumps"))

    try:
        process(order)
    except Exception:
        log.exception("order %s failed", order.id)    # writes a dump

Many programs catch an exception, log it and go on; the state is gone by
the time anyone reads the log.  The handler dumps when a record at its
level or above carries an exception (``log.exception()``,
``log.error(..., exc_info=True)``); records without one are ignored.  The
rate limit applies: the same failure (exception type and code location)
is dumped once per min_interval.  The dump is written in the thread that
logs, inside its except block, so the frames of the failure are there.
"""

# This module is heapdump.logging: "logging" below is the standard
# library's (absolute imports).
from __future__ import annotations

import logging

from heapdump.integrations import _shared as _i

__all__ = ["HeapdumpHandler"]


class HeapdumpHandler(logging.Handler):
    """Dump the exception of each record at level or above that has one.

    directory and options as for heapdump.dump_on_unhandled_exceptions()
    (max_dumps, max_total_bytes, min_interval, redact, environ, hide, the
    limits).  The handler formats nothing: the record's message template,
    not the formatted message, goes into the dump's reason.
    """

    def __init__(self, directory=None, level=logging.ERROR, **options):
        super().__init__(level)
        self.files = _i.directory(directory, **options)

    def __repr__(self):
        return "<%s %s (%s)>" % (type(self).__name__, self.files.path,
                                 logging.getLevelName(self.level))

    def emit(self, record):
        exc_info = record.exc_info
        if not (isinstance(exc_info, tuple) and len(exc_info) == 3):
            return
        exc = exc_info[1]
        if not isinstance(exc, BaseException) or \
                isinstance(exc, (KeyboardInterrupt, SystemExit)):
            return
        msg = record.msg if isinstance(record.msg, str) else \
            "<%s>" % type(record.msg).__name__
        _i.dump(self.files, exc, "logged by %s (%s): %s" % (
            record.name, record.levelname, msg))

    def handleError(self, record):
        # emit() raises nothing; keep logging's machinery out of it
        pass
