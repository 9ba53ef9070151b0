"""The developer tools of tools/ that read dumps."""

import pathlib
import subprocess
import sys

import heapdump
import records
from conftest import child_env

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_hdcat_prints_every_record_of_a_dump(tmp_path):
    answer = {"question": [6, 7]}  # noqa: F841 (for the dump)
    path = heapdump.dump(tmp_path / "x.dump")
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "hdcat.py"),
                          str(path)], capture_output=True, text=True,
                         env=child_env(), check=True).stdout.splitlines()
    recs = records.raw_records(path)
    assert len(out) == len(recs)
    assert out[0].startswith("   META ")
    assert out[-1].startswith("   TRAILER ")
    objects = [line for line in out if line.startswith("#")]
    assert len(objects) == len([r for r in recs
                                if r[0] < records.FIRST_OTHER])
    assert objects[0].startswith("#0 ")
    limited = subprocess.run([sys.executable, str(ROOT / "tools" / "hdcat.py"),
                              str(path), "--limit", "2"],
                             capture_output=True, text=True, env=child_env(),
                             check=True)
    assert len(limited.stdout.splitlines()) == 2
