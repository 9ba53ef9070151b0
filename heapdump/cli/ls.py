"""``python -m heapdump ls``: the dumps in a directory, newest last.

    python -m heapdump ls [DIR | FILE ...]

One line per dump: time (UTC), pid, size, file, exception, [reason].  Only
the header lines of each file are read; files named ``*.dump`` that are not
dumps are marked ``??``.
"""

from __future__ import annotations

import argparse
import os
import sys

# the longest header block (docs/format.rst)
from heapdump._header import HEADER_MAX

PROG = "python -m heapdump"


def read_headers(path):
    """The MIME headers of a dump file (an email.message.Message), read
    without the body; raises OSError, or ValueError saying why the file
    is not a dump."""
    from email.parser import BytesHeaderParser

    with open(path, "rb") as f:
        block = f.read(HEADER_MAX + 4)
    if not block:
        raise ValueError("empty file")
    end = block.find(b"\n\n")
    crlf = block.find(b"\r\n\r\n")
    if crlf >= 0 and (end < 0 or crlf < end):
        end = crlf
    if end < 0:
        raise ValueError("no end of the headers in the first %d KiB"
                         % (HEADER_MAX // 1024) if len(block) > HEADER_MAX
                         else "truncated in its headers")
    headers = BytesHeaderParser().parsebytes(block[:end + 2])
    if headers.get("Heapdump-Version") is None:
        raise ValueError("not a heapdump file")
    return headers


def _human(size):
    for unit in ("B", "K", "M", "G"):
        if size < 1024 or unit == "G":
            return ("%d%s" % (size, unit)) if unit == "B" or size >= 100 \
                else "%.1f%s" % (size, unit)
        size /= 1024.0
    return str(size)


def _printable(text, limit=200):
    text = "".join(c if c.isprintable() else "?" for c in str(text))
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _when(value):
    """(seconds since the epoch, display) of a Heapdump-Time value."""
    import datetime

    try:
        t = datetime.datetime.strptime(value.strip(),
                                       "%Y-%m-%dT%H:%M:%S.%fZ")
    except (AttributeError, ValueError):
        try:
            t = datetime.datetime.strptime(value.strip(),
                                           "%Y-%m-%dT%H:%M:%SZ")
        except (AttributeError, ValueError):
            return None, None
    t = t.replace(tzinfo=datetime.timezone.utc)
    return t.timestamp(), t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ls_entry(path):
    """(sort key, line) of one file."""
    import time

    try:
        st = os.stat(path)
    except OSError as e:
        return (0.0, path), "%-20s  %7s  %6s  %s  ?? unreadable: %s" % (
            "?", "?", "?", path, e.strerror or e)
    try:
        headers = read_headers(path)
    except OSError as e:
        problem = "unreadable: %s" % (e.strerror or e)
    except ValueError as e:
        problem = str(e)
    except Exception as e:          # a header the parser cannot take
        problem = "corrupt header: %s" % type(e).__name__
    else:
        epoch, shown = _when(headers.get("Heapdump-Time", ""))
        if epoch is None:
            epoch, shown = st.st_mtime, "?"
        pid = headers.get("Heapdump-Pid", "?")
        exception = headers.get("Heapdump-Exception", "?")
        reason = headers.get("Heapdump-Reason", "?")
        extra = ""
        if headers.get("Heapdump-Suppressed"):
            extra = "  (+%s)" % _printable(headers["Heapdump-Suppressed"])
        return (epoch, path), "%-20s  %7s  %6s  %s  %s  [%s]%s" % (
            shown, _printable(pid, 10), _human(st.st_size),
            os.path.basename(path), _printable(exception),
            _printable(reason), extra)
    shown = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(st.st_mtime))
    return (st.st_mtime, path), "%-20s  %7s  %6s  %s  ?? %s" % (
        shown, "?", _human(st.st_size), os.path.basename(path),
        _printable(problem))


def main(argv):
    """`ls`: one line per dump, newest last: time (UTC), pid, size, file,
    exception, [reason].  Files that are not dumps are marked ``??``."""
    parser = argparse.ArgumentParser(
        prog=PROG + " ls",
        description="List the heap dumps in a directory, newest last: "
                    "time (UTC), pid, size, file, exception, [reason].  "
                    "Only the header lines of each file are read.  Files "
                    "named *.dump that are not dumps are marked '??'.")
    parser.add_argument("paths", nargs="*", metavar="DIR",
                        help="a directory of dumps (default: $HEAPDUMP_DIR "
                             "or the current directory) or a dump file")
    ns = parser.parse_args(argv)
    paths = ns.paths or [os.environ.get("HEAPDUMP_DIR") or os.curdir]
    entries, status = [], 0
    for path in paths:
        if os.path.isdir(path):
            try:
                names = sorted(os.listdir(path))
            except OSError as e:
                sys.stderr.write("%s ls: cannot read %s: %s\n"
                                 % (PROG, path, e.strerror or e))
                status = 1
                continue
            found = [os.path.join(path, n) for n in names
                     if n.endswith(".dump")
                     and os.path.isfile(os.path.join(path, n))]
            if not found:
                sys.stderr.write("%s ls: no dumps in %s\n" % (PROG, path))
            entries += [_ls_entry(p) for p in found]
        elif os.path.exists(path):
            entries.append(_ls_entry(path))
        else:
            sys.stderr.write("%s ls: cannot access %r: no such file or "
                             "directory\n" % (PROG, path))
            status = 1
    for _, line in sorted(entries):
        sys.stdout.write(line + "\n")
    return status
