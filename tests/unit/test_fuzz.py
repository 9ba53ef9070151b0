"""A short run of the msgpack reader's libFuzzer target
(tests/fuzz/fuzz_mpread.c; ``make fuzz`` runs it for longer): built with
ASan and UBSan, it must find nothing in a few seconds from the corpus."""

import os
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLANG = shutil.which("clang")


def _has_libfuzzer(tmp_path):
    src = tmp_path / "probe.c"
    src.write_text("#include <stdint.h>\n#include <stddef.h>\n"
                   "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)"
                   "{ (void)d; (void)n; return 0; }\n")
    r = subprocess.run([CLANG, "-fsanitize=fuzzer", str(src), "-o",
                        str(tmp_path / "probe")], capture_output=True)
    return r.returncode == 0


@pytest.mark.skipif(CLANG is None, reason="clang is not installed (make "
                    "fuzz installs clang and libclang-rt-14-dev)")
def test_the_reader_survives_a_short_fuzzing_run(tmp_path):
    if not _has_libfuzzer(tmp_path):
        pytest.skip("clang has no libFuzzer runtime (make fuzz installs "
                    "libclang-rt-14-dev)")
    binary = tmp_path / "fuzz_mpread"
    # built as make fuzz builds it (the Makefile lists its sources)
    subprocess.run(["make", "-s", "-C", str(ROOT), "fuzz-binary",
                    "FUZZ_BIN=%s" % binary], check=True, capture_output=True)
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "tests" / "fuzz" / "corpus", corpus)
    # its own sanitizer runtime: not the one make asan preloads
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS")}
    r = subprocess.run([str(binary), "-runs=30000", "-max_len=4096",
                        "-seed=1", str(corpus)],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Done 30000 runs" in r.stderr
