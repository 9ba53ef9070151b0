"""The HTML report (python -m heapdump.open --html), rendered in Debian's
headless Chromium: it draws without a script error, shows the nodes and
rows its data says, zooms from its URL, references nothing outside the
file, and a screenshot is kept for a person to look at
(build/test-artifacts/heap-report.png).  ``make test-html`` installs
chromium when it is missing."""

import json
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from conftest import PROGRAMS, child_env, run_python

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = pathlib.Path(__file__).resolve().parents[2] / "build" / \
    "test-artifacts"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (make test-html "
    "installs Debian's)")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("html")
    before, after = tmp / "before.dump", tmp / "after.dump"
    run_python(script=PROGRAMS / "heap_leak.py", args=[before, after, 20000])
    out = tmp / "report.html"
    r = subprocess.run([sys.executable, "-m", "heapdump.open", str(before),
                        "--diff", str(after), "--html", str(out)],
                       env=child_env(), capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    return out, tmp


def chromium(tmp, url, *args):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
           "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync",
           "--user-data-dir=%s" % (tmp / "profile"),
           "--virtual-time-budget=10000"] + list(args) + [url]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def embedded(path):
    text = path.read_text(encoding="utf-8")
    m = re.search(r'<script type="application/json" id="heapdump-data">'
                  r'(.*?)</script>', text, re.S)
    return json.loads(m.group(1))


def pieces(data, index):
    """What the page draws at the top level when zoomed on index: the
    children in the data, the rest of the node as one box, the smallest
    folded together (the page's pieces())."""
    tree = data["tree"]
    kids = [i for i, n in enumerate(tree) if n["p"] == index]
    values = [tree[k]["r"] for k in kids]
    rest = tree[index]["o"] + tree[index]["s"]
    boxes = [(v, True) for v in values if v > 0]
    if rest > 0:
        boxes.append((rest, False))
    total = sum(v for v, _ in boxes)
    keep = [b for b in boxes if not (b[1] and b[0] < total / 2000)]
    if len(keep) < len(boxes):
        keep.append((0, False))
    return len(keep)


def test_the_report_renders_and_shows_its_data(report):
    out, tmp = report
    data = embedded(out)
    assert 1 < len(data["tree"]) <= 3000
    dom = chromium(tmp, out.as_uri(), "--dump-dom")
    body = re.search(r"<body[^>]*>", dom).group(0)
    assert 'data-state="ready"' in body, body
    assert "data-error" not in body
    nodes = re.findall(r'data-node="([^"]+)"', dom)
    assert len(nodes) == pieces(data, 0)
    assert re.search(r'data-shown="%d"' % len(nodes), dom)
    rows = re.findall(r'<tr data-row="1"', dom)
    assert len(rows) == len(data["types"]) + len(data["diff"]["rows"])
    assert len(re.findall(r"data-suspect=", dom)) == len(data["suspects"])
    assert "leakyapp.cache.Session" in dom
    assert "module leakyapp.cache" in dom


def test_the_report_zooms_from_its_url(report):
    out, tmp = report
    data = embedded(out)
    index = next(i for i, n in enumerate(data["tree"])
                 if n["n"].startswith("dict (20,500 items)"))
    node = data["tree"][index]
    dom = chromium(tmp, out.as_uri() + "#zoom=" + node["id"], "--dump-dom")
    assert 'data-state="ready"' in dom
    assert 'data-zoom="%s"' % node["id"] in dom
    crumbs = re.findall(r'data-crumb="([^"]+)"', dom)
    assert crumbs[0] == data["tree"][0]["id"] and crumbs[-1] == node["id"]
    assert len(re.findall(r'data-node="', dom)) == pieces(data, index)


def test_the_report_is_one_offline_file(report):
    out, tmp = report
    text = out.read_text(encoding="utf-8")
    assert not re.search(r"https?://", text)
    assert "<link" not in text and " src=" not in text
    assert "default-src 'none'" in text
    assert len(text.encode()) < 5 << 20
    assert out.stat().st_mode & 0o777 == 0o600
    # no value of the program: the leaked sessions' state strings stay out
    assert "'new'" not in text


def test_a_screenshot_is_kept(report):
    out, tmp = report
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "heap-report.png"
    if shot.exists():
        shot.unlink()
    chromium(tmp, out.as_uri(), "--hide-scrollbars",
             "--window-size=1280,1800", "--screenshot=%s" % shot)
    assert shot.stat().st_size > 10000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
