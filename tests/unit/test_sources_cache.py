"""The embedded sources kept across dumps (src/writer/sources.c): a file
that changed is read again, and the masking follows each dump's
redaction patterns and hidden values."""

import importlib.util
import os
import time

import heapdump

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
