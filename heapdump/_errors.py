"""heapdump's own exception, below every module that raises it."""


class HeapdumpError(Exception):
    """A file that is not a dump, is of a newer major format, or is corrupt."""
