"""The MIME header block of a dump file (docs/format.rst, "The header"),
read by the loader (heapdump._load) and the heap analysis (heapdump._heap).
"""

from __future__ import annotations

import codecs
import email.message
import email.parser
import re

from heapdump._errors import HeapdumpError

#: The format major version this reader reads (and every minor of it).
READS_MAJOR = 1
#: The longest header block (docs/format.rst).
HEADER_MAX = 64 * 1024


def unescape(value):
    """A header value with docs/format.rst's escapes undone."""
    if not isinstance(value, str) or "\\" not in value:
        return value
    try:
        return codecs.decode(value.encode("ascii"), "unicode_escape")
    except (UnicodeError, ValueError):
        return value


def read_headers(path):
    """(email.message.Message of unescaped values, body offset, (major,
    minor)).  HeapdumpError when path is not a heapdump file."""
    with open(path, "rb") as f:
        head = f.read(HEADER_MAX + 2)
    end, sep = head.find(b"\n\n"), 2
    crlf = head.find(b"\r\n\r\n")
    if crlf >= 0 and (end < 0 or crlf < end):
        end, sep = crlf, 4
    if end < 0 or b"\0" in head[:end]:
        raise HeapdumpError("%s is not a heapdump file (no header block)"
                            % path)
    block = head[:end + sep]
    try:
        block.decode("ascii")
    except UnicodeDecodeError:
        raise HeapdumpError("%s is not a heapdump file (its header block "
                            "is not ASCII)" % path) from None
    parsed = email.parser.BytesHeaderParser().parsebytes(block)
    version = parsed.get("Heapdump-Version")
    ctype = parsed.get("Content-Type", "")
    if version is None and "application/x-heapdump" in ctype:
        m = re.search(r'version="?([0-9.]+)', ctype)
        version = m.group(1) if m else None
    if version is None:
        raise HeapdumpError("%s is not a heapdump file (no Heapdump-Version "
                            "header)" % path)
    m = re.fullmatch(r"\s*(\d+)\.(\d+)\s*", str(version))
    if m is None:
        raise HeapdumpError("%s: unreadable Heapdump-Version %r"
                            % (path, version))
    major, minor = int(m.group(1)), int(m.group(2))
    if major > READS_MAJOR:
        raise HeapdumpError(
            "%s is in heapdump file format %d.%d, newer than this heapdump "
            "reads (%d.x): upgrade heapdump to open it"
            % (path, major, minor, READS_MAJOR))
    encoding = parsed.get("Content-Encoding", "zstd").strip().lower()
    if encoding != "zstd":
        raise HeapdumpError("%s: unsupported Content-Encoding %r"
                            % (path, encoding))
    headers = email.message.Message()
    for name, value in parsed.items():
        headers[name] = unescape(value)
    return headers, end + sep, (major, minor)
