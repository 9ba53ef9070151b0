"""The embedded sources kept across dumps (src/writer/sources.c): a file
that changed is read again, and the masking follows each dump's
redaction patterns and hidden values."""

import importlib.util
import io
import os
import subprocess
import sys
import time
import warnings

import pytest
import zstandard

import heapdump
from heapdump import _format
from records import raw_records, split

MODULE = (
    "import heapdump\n"
    "API_TOKEN = 'tok-%(mark)s-0123456789'\n"
    "# the value: hide-%(mark)s-value\n"
    "def work(path, **kw):\n"
    "    return heapdump.dump(path, **kw)\n"
)


def load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def old_module(tmp_path, name, mark):
    """A module file changed more than 2 s ago (the cache keeps no file
    changed more recently) and the module made from it."""
    path = tmp_path / (name + ".py")
    path.write_text(MODULE % {"mark": mark})
    time.sleep(2.2)
    return path, load_module(path, name)


def source_of(dump_path, path):
    return heapdump.load(dump_path).sources[str(path)]


def test_a_file_changed_in_place_is_read_again(tmp_path):
    path, mod = old_module(tmp_path, "cached_a", "AAAA")
    first = source_of(mod.work(tmp_path / "1.dump"), path)
    assert "hide-AAAA-value" in first
    assert source_of(mod.work(tmp_path / "2.dump"), path) == first
    # the same size and mtime: only the content (and the ctime) differ
    st = os.stat(path)
    path.write_text(MODULE % {"mark": "BBBB"})
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(path).st_size == st.st_size
    again = source_of(mod.work(tmp_path / "3.dump"), path)
    assert "hide-BBBB-value" in again and "AAAA" not in again
    # replaced by another file (another inode) of the same size
    other = tmp_path / "other.py"
    other.write_text(MODULE % {"mark": "CCCC"})
    os.replace(other, path)
    last = source_of(mod.work(tmp_path / "4.dump"), path)
    assert "hide-CCCC-value" in last


def test_the_masking_follows_each_dumps_patterns_and_values(tmp_path):
    path, mod = old_module(tmp_path, "cached_b", "DDDD")
    secret = "tok-DDDD-0123456789"
    hidden = "hide-DDDD-value"
    text = source_of(mod.work(tmp_path / "1.dump"), path)
    assert secret not in text and hidden in text
    text = source_of(mod.work(tmp_path / "2.dump", hide=[hidden]), path)
    assert secret not in text and hidden not in text
    assert "# the value: " + "*" * len(hidden) in text
    text = source_of(mod.work(tmp_path / "3.dump", redact=False), path)
    assert secret in text and hidden in text
    text = source_of(mod.work(tmp_path / "4.dump"), path)
    assert secret not in text and hidden in text


def test_a_file_past_the_source_limit_after_it_was_kept(tmp_path):
    path, mod = old_module(tmp_path, "cached_c", "EEEE")
    assert "EEEE" in source_of(mod.work(tmp_path / "1.dump"), path)
    d = heapdump.load(mod.work(tmp_path / "2.dump", max_source=10))
    assert str(path) not in d.sources


# ------------------------------------------------- kept compressed records

# totals(): the C dump's totals, with the redaction and hiding that
# heapdump.dump() would pass it
KEPT_MODULE = (
    "from heapdump import _heapdump, _secrets, _writer\n"
    "API_TOKEN = 'tok-%(mark)s-0123456789'\n"
    "# the value: hide-%(mark)s-value\n"
    "def totals(path, hide=(), **kw):\n"
    "    patterns = _writer.redact_patterns(None)\n"
    "    hider = _secrets.hider(patterns, hide=hide)\n"
    "    return _heapdump.dump(path, redact=patterns, hide=hider, **kw)\n"
)

# In a child: the cache is the process's, and this one's holds the files
# of every test before.  Each line printed: a dump's name and how many of
# its SOURCE records were copied from the cache's frames.
KEPT_CHILD = r"""
import importlib.util, json, os, sys, time
tmp, path = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location("kept_mod", path)
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)

def dump(name, **kw):
    # under two frames of the json package's files (its decoder calls
    # the hook): three files with a text
    def hook(obj):
        totals = mod.totals(os.path.join(tmp, name), **kw)
        print(name, totals["sources_kept"], flush=True)
    json.loads("{}", object_hook=hook)

def change(old, new):
    # the same size and mtime: only the content (and the ctime) differ
    st = os.stat(path)
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data.replace(old, new))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))

dump("1.dump")
dump("2.dump")
change(b"AAAA", b"BBBB")
dump("3.dump")      # read again, and not kept: changed too recently
dump("4.dump")
time.sleep(2.2)
dump("5.dump")      # read again and kept
dump("6.dump")
dump("7.dump", level=1)     # another level: every record made again
dump("8.dump", level=1)
dump("9.dump", hide=["hide-BBBB-value"])   # another masking context
dump("10.dump", hide=["hide-BBBB-value"])
"""


@pytest.fixture(scope="module")
def kept_run(tmp_path_factory):
    """{dump name: records copied from the cache} of KEPT_CHILD's dumps,
    the module file they come from, and the directory of the dumps."""
    tmp_path = tmp_path_factory.mktemp("kept")
    path = tmp_path / "kept_mod.py"
    path.write_text(KEPT_MODULE % {"mark": "AAAA"})
    time.sleep(2.2)
    out = subprocess.run(
        [sys.executable, "-c", KEPT_CHILD, str(tmp_path), str(path)],
        capture_output=True, text=True, check=True).stdout
    return {name: int(n) for name, n in
            (line.split() for line in out.splitlines())}, path, tmp_path


def test_a_second_dump_copies_each_record_the_first_made(kept_run):
    kept, path, tmp_path = kept_run
    first = heapdump.load(tmp_path / "1.dump").sources
    second = heapdump.load(tmp_path / "2.dump").sources
    texts = [name for name, text in second.items() if text is not None]
    # every file is older than the racy window: all of them are kept by
    # the first dump and copied by the second, the text unchanged
    assert kept["1.dump"] == 0
    assert kept["2.dump"] == len(texts) >= 3
    assert {os.path.basename(name) for name in texts} >= {
        "kept_mod.py", "__init__.py", "decoder.py"}
    assert second == first
    assert "hide-AAAA-value" in second[str(path)]
    assert "tok-AAAA" not in second[str(path)]     # masked as ever
    # the body is several zstd frames, each kept record one of them,
    # which a standard decoder reads one after the other
    _, body = split(tmp_path / "2.dump")
    dctx = zstandard.ZstdDecompressor()
    whole = dctx.stream_reader(io.BytesIO(body),
                               read_across_frames=True).read()
    frames, rest = [], body
    while rest:
        dobj = dctx.decompressobj()
        frames.append(dobj.decompress(rest))
        rest = dobj.unused_data
    assert len(frames) >= kept["2.dump"] + 2
    assert b"".join(frames) == whole
    records = {r[1]: r[2] for r in raw_records(tmp_path / "2.dump")
               if r[0] == _format.SOURCE and r[2] is not None}
    assert {k: v.decode() for k, v in records.items()} == {
        k: second[k] for k in texts}


def test_a_changed_file_is_read_again_and_kept_once_settled(kept_run):
    kept, path, tmp_path = kept_run
    n = kept["2.dump"]
    assert kept["3.dump"] == kept["4.dump"] == kept["5.dump"] == n - 1
    assert kept["6.dump"] == n
    for name in ("3.dump", "4.dump", "5.dump", "6.dump"):
        text = heapdump.load(tmp_path / name).sources[str(path)]
        assert "hide-BBBB-value" in text and "AAAA" not in text, name
    assert heapdump.load(tmp_path / "6.dump").sources == \
        heapdump.load(tmp_path / "5.dump").sources


def test_the_level_and_the_masking_context_make_the_records_again(kept_run):
    kept, path, tmp_path = kept_run
    n = kept["2.dump"]
    assert kept["7.dump"] == 0 and kept["8.dump"] == n
    assert kept["9.dump"] == 0 and kept["10.dump"] == n
    six = heapdump.load(tmp_path / "6.dump").sources
    assert heapdump.load(tmp_path / "8.dump").sources == six
    hidden = heapdump.load(tmp_path / "10.dump").sources
    assert "hide-BBBB-value" not in hidden[str(path)]
    assert "# the value: " + "*" * len("hide-BBBB-value") in hidden[str(path)]
    assert heapdump.load(tmp_path / "9.dump").sources == hidden


def test_a_file_cut_among_the_kept_records_opens_as_far_as_intact(kept_run):
    kept, path, tmp_path = kept_run
    data = (tmp_path / "2.dump").read_bytes()
    full = heapdump.load(tmp_path / "2.dump")
    header, body = split(tmp_path / "2.dump")
    seen = set()
    for cut in range(len(header) + len(body) // 2, len(data), 997):
        (tmp_path / "cut.dump").write_bytes(data[:cut])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            d = heapdump.load(tmp_path / "cut.dump")
        assert d.truncated and caught, cut
        assert len(d.threads) == len(full.threads)
        # what is there is what the whole file has
        assert all(full.sources[k] == v for k, v in d.sources.items())
        seen.add(len(d.sources))
    assert len(seen) > 2


# A dump past one input buffer: the writer thread compresses the walk's
# buffers and writes the kept frames after them, in order.
THREADED_CHILD = r"""
import json, os, sys
from heapdump import _heapdump, _secrets, _writer
tmp = sys.argv[1]
patterns = _writer.redact_patterns(None)

def dump(name):
    words = ["word-%d" % i for i in range(50_000)]
    def hook(obj):
        totals = _heapdump.dump(os.path.join(tmp, name), redact=patterns,
                                hide=_secrets.hider(patterns))
        print(name, totals["sources_kept"], totals["writer_thread"],
              flush=True)
    json.loads("{}", object_hook=hook)
    return words

dump("1.dump")
dump("2.dump")
"""


def test_the_writer_thread_writes_the_kept_frames_in_their_turn(tmp_path):
    out = subprocess.run(
        [sys.executable, "-c", THREADED_CHILD, str(tmp_path)],
        capture_output=True, text=True, check=True).stdout
    (n1, thread1), (n2, thread2) = [line.split()[1:]
                                    for line in out.splitlines()]
    assert thread1 == thread2 == "True"
    first = heapdump.load(tmp_path / "1.dump")
    second = heapdump.load(tmp_path / "2.dump")
    texts = [k for k, v in second.sources.items() if v is not None]
    assert int(n1) == 0 and int(n2) == len(texts) >= 2
    assert second.sources == first.sources
    [words] = [f.locals["words"] for t in second.threads for f in t.frames
               if "words" in f.locals]
    assert words == ["word-%d" % i for i in range(50_000)]
    assert not second.truncated and second.trailer is not None
