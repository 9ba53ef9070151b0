"""The heap analysis as one self-contained HTML file (docs/analysis.rst,
"The HTML report").

Everything is inline: the styles, the script (hand-written, no library),
the data (a JSON document in a ``<script type="application/json">``, with
``<``, ``>``, ``&`` and the line separators escaped).  A Content Security
Policy forbids every fetch, so the page works offline and cannot call
out.  The dominator treemap embeds at most MAX_NODES nodes, the largest
(the rest are folded into their parent's "smaller" share), the type table
MAX_TYPES rows: a few megabytes for any heap.

The page sets ``data-state="ready"`` on its body once drawn, or
``data-error`` with the exception (tests/integration/test_heap_html.py
reads both in headless Chromium).  ``#zoom=@ID`` in the URL opens the
treemap on that node.
"""

from __future__ import annotations

import heapq
import html
import json
import os

from heapdump import _format as F
from heapdump._heap import compare

MAX_NODES = 3000
MAX_TYPES = 500
MAX_KIDS = 3000     # children of one node considered for the treemap


def _module_of(graph, node):
    """The top-level module an object belongs to, for its colour: a
    module's own name, a class's module, an instance's class's ("myapp"
    for a myapp.models.User); None for builtin types' objects."""
    info = graph._info.get(node, {})
    kind = info.get("kind")
    if kind == F.MODULE:
        name = info.get("name")
    elif kind == F.TYPE:            # its module
        name = info.get("third")
    else:
        name = graph.type_name(node)
        name = name.rsplit(".", 1)[0] if "." in name else None
    if not isinstance(name, str) or not name or name == "builtins" or \
            name.startswith("("):
        return None
    return name.split(".", 1)[0]


def _safe_summary(graph, node):
    """A node's summary without any value: type, name, item count."""
    if node >= graph.n:
        return graph.group_label(node)
    info = graph._info.get(node, {})
    text = graph.summary(node, info)
    if info.get("kind") == 4:       # a str: its type and length only
        text = "str @0x%x" % info["address"] if isinstance(
            info.get("address"), int) else "str"
    return text


def _path_text(graph, path):
    parts = []
    for label, ref in path.steps:
        if ref is None:
            parts.append(label)
        else:
            summary = _safe_summary(graph, ref.ordinal)
            parts.append("%s \u2192 %s" % (label, summary) if label
                         else summary)
    return " \u25b8 ".join(parts)


def _tree(graph, keys):
    """The largest MAX_NODES nodes of the dominator tree: [{i, p, ...}]."""
    graph.analyze()
    root = graph.super
    order = {root: 0}
    entries = [{"id": "@%d" % root, "p": -1, "node": root}]
    frontier = []
    kids_of = {}

    def push_children(v):
        kids = graph.children(v)
        kids_of[v] = len(kids)
        for k in kids[:MAX_KIDS]:
            r = graph.retained(k)
            if r > 0:
                heapq.heappush(frontier, (-r, k, v))

    push_children(root)
    while frontier and len(entries) < MAX_NODES:
        _, v, parent = heapq.heappop(frontier)
        order[v] = len(entries)
        entries.append({"id": "@%d" % v, "p": order[parent], "node": v})
        push_children(v)
    nodes = [e["node"] for e in entries]
    chains = [graph._g.path(v) for v in nodes if v < graph.n]
    paths = graph._paths(chains, keys=keys, extra=nodes)
    by_target = {p.target.ordinal: p for p in paths}
    shown_kids = {}
    for e in entries[1:]:
        parent = entries[e["p"]]["node"]
        shown_kids.setdefault(parent, []).append(e["node"])
    out = []
    for e in entries:
        v = e["node"]
        if v >= graph.n:
            module = "(roots)"
        else:
            # builtin objects take the colour of what holds them
            module = _module_of(graph, v) or (
                out[e["p"]]["m"] if e["p"] >= 0 else "builtins")
            if module == "(roots)":
                module = "builtins"
        retained = graph.retained(v)
        shallow = graph.shallow(v)
        shown = shown_kids.get(v, [])
        other = retained - shallow - sum(graph.retained(k) for k in shown)
        name = graph.type_name(v)
        out.append({
            "id": e["id"], "p": e["p"],
            "n": _safe_summary(graph, v),
            "t": name, "m": module,
            "r": retained, "s": shallow,
            "lb": graph.is_lower_bound(v),
            "k": max(0, kids_of.get(v, 0) - len(shown)),
            "o": max(0, other),
            "path": _path_text(graph, by_target[v]) if v in by_target
            else "",
        })
    return out


def _data(graph, before=None, keys=True):
    from heapdump import _heapreport as R

    header = R._header(graph)
    types = sorted(graph.histogram(), key=lambda r: -r["retained"])
    points, groups = graph.suspects()
    suspects = []
    for s in points:
        suspects.append({
            "id": "@%d" % s["point"].ordinal,
            "n": _safe_summary(graph, s["point"].ordinal),
            "r": s["retained"], "f": s["fraction"], "lb": s["lower_bound"],
            "holder": None if s["holder"] is None
            else _safe_summary(graph, s["holder"].ordinal),
            "items": s["items"],
            "path": _path_text(graph, s["path"]) if s["path"] else "",
            "dominated": s["dominated"],
        })
    gsus = [{"type": g["type"], "count": g["count"], "r": g["retained"],
             "f": g["fraction"],
             "paths": [_path_text(graph, p) for p in g["paths"]]}
            for g in groups]
    data = {
        "header": header,
        "headers": [[k, v] for k, v in graph.headers.items()],
        "tree": _tree(graph, keys),
        "types": types[:MAX_TYPES],
        "types_more": max(0, len(types) - MAX_TYPES),
        "suspects": suspects, "groups": gsus, "diff": None,
    }
    if before is not None:
        rows, warnings, (ga, _) = compare(before, graph)
        data["diff"] = {"a": R._header(ga), "b": header,
                        "warnings": warnings, "rows": rows[:MAX_TYPES]}
    return data


def _json_for_html(data):
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for a, b in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                 ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(a, b)
    return text


def render(graph, before=None, keys=True):
    """The report's HTML text: of graph, and with before (an earlier dump
    of the same program), what changed since."""
    data = _data(graph, before, keys)
    title = "heapdump: %s" % os.path.basename(graph.path)
    return _PAGE.replace("@TITLE@", html.escape(title)).replace(
        "@STYLE@", _STYLE).replace("@SCRIPT@", _SCRIPT).replace(
        "@DATA@", _json_for_html(data))


def write(graph, out, before=None, keys=True):
    """Write the report to out (a path, created 0600); returns its size
    in bytes."""
    text = render(graph, before, keys).encode("utf-8")
    fd = os.open(os.fspath(out), os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(text)
    return len(text)


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; \
style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>@TITLE@</title>
<style>@STYLE@</style></head>
<body data-state="loading">
<header><h1>@TITLE@</h1><p id="summary"></p></header>
<section id="overview"><h2>Overview</h2><div id="rss"></div>
<table id="facts"></table></section>
<section id="treemap-section"><h2>Dominator tree</h2>
<p class="hint">Area: retained size; colour: top-level module.  Click a box
to zoom in, the path above to go back out.</p>
<nav id="crumbs"></nav><div id="treemap"></div><p id="tip"></p></section>
<section id="types-section"><h2>Types</h2>
<p class="hint">Click a column to sort.</p><table id="types"></table></section>
<section id="suspects-section"><h2>Leak suspects</h2><div id="suspects">
</div></section>
<section id="diff-section" hidden><h2>Compared with the other dump</h2>
<div id="diff-warnings"></div><table id="diff"></table></section>
<script type="application/json" id="heapdump-data">@DATA@</script>
<script>@SCRIPT@</script>
</body></html>
"""

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 2em 2em; color: #222;
  background: #fafafa; }
h1 { font-size: 1.4em; margin: .6em 0 .2em; } h2 { font-size: 1.15em;
  margin: 1.4em 0 .4em; border-bottom: 1px solid #ccc; }
.hint { color: #666; margin: .2em 0; font-size: .9em; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
td, th { padding: 2px 8px; text-align: right; border-bottom: 1px solid #eee; }
td.l, th.l { text-align: left; } th { cursor: pointer; background: #eee; }
#facts td { text-align: left; } #facts td:first-child { color: #666; }
#rss { height: 22px; background: #ddd; width: 60%; position: relative;
  margin: .4em 0; } #rss div { height: 100%; background: #4a7; }
#rss span { position: absolute; left: 8px; top: 2px; font-size: 12px; }
#crumbs span { cursor: pointer; color: #06c; } #crumbs span:last-child {
  color: #222; cursor: default; }
#treemap { position: relative; width: 100%; height: 560px; background: #fff;
  border: 1px solid #999; overflow: hidden; }
.tm { position: absolute; box-sizing: border-box; border: 1px solid #fff;
  overflow: hidden; font-size: 11px; cursor: pointer; padding: 1px 3px;
  color: #111; }
.tm.other { background: repeating-linear-gradient(45deg, #ddd, #ddd 4px,
  #eee 4px, #eee 8px) !important; cursor: default; }
.tm .tm { border-color: rgba(255,255,255,.7); }
#tip { min-height: 3em; font-size: 12px; color: #333; white-space: pre-wrap; }
.suspect { background: #fff; border: 1px solid #ddd; padding: .5em 1em;
  margin: .6em 0; } .path { font-family: monospace; font-size: 12px;
  color: #333; word-break: break-all; }
.warn { color: #a40; }
"""

_SCRIPT = r"""
(function () {
  "use strict";
  var body = document.body;
  var data, kids = {}, current = 0;

  function fmt(n) {
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
    while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(Math.round(n))) + " " + units[i];
  }
  function num(n) { return Number(n).toLocaleString("en-US"); }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) {
      if (Object.prototype.hasOwnProperty.call(attrs, k)) {
        e.setAttribute(k, attrs[k]);
      }
    }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }
  function hue(name) {
    var h = 0;
    for (var i = 0; i < name.length; i++) {
      h = (h * 31 + name.charCodeAt(i)) % 360;
    }
    return h;
  }
  function colour(node, depth) {
    if (node.m === "(roots)") {
      return "hsl(0, 0%, " + (86 - 6 * depth) + "%)";
    }
    return "hsl(" + hue(node.m) + ", 55%, " + (72 - 8 * depth) + "%)";
  }

  /* ---------------------------------------------------------- overview */
  function overview() {
    var h = data.header;
    document.getElementById("summary").textContent =
      "scope " + h.scope + ", " + num(h.objects) + " objects, " +
      fmt(h.shallow) + " of Python objects" +
      (h.rss ? " in " + fmt(h.rss) + " resident" : "") +
      ", " + num(h.cuts) + " cuts";
    var rss = document.getElementById("rss");
    if (h.rss) {
      var share = Math.min(100, 100 * h.shallow / h.rss);
      var bar = el("div", {style: "width:" + share.toFixed(1) + "%"});
      rss.appendChild(bar);
      rss.appendChild(el("span", {}, "Python objects: " + fmt(h.shallow) +
        " of " + fmt(h.rss) + " RSS (" + share.toFixed(0) + "%); the rest " +
        "is C allocations, arenas and fragmentation"));
    } else {
      rss.hidden = true;
    }
    var facts = document.getElementById("facts");
    var rows = data.headers.slice();
    rows.push(["Cuts", String(h.cuts)]);
    h.warnings.forEach(function (w) { rows.push(["Warning", w]); });
    rows.forEach(function (kv) {
      var tr = el("tr");
      tr.appendChild(el("td", {}, kv[0]));
      tr.appendChild(el("td", {}, kv[1]));
      facts.appendChild(tr);
    });
  }

  /* ----------------------------------------------------------- treemap */
  /* Squarified treemap (Bruls, Huizing, van Wijk 2000): items (areas,
   * largest first) laid in rows along the shorter side, a row grown while
   * its worst aspect ratio improves. */
  function worst(row, sum, side) {
    var mx = 0, mn = Infinity;
    for (var i = 0; i < row.length; i++) {
      if (row[i] > mx) { mx = row[i]; }
      if (row[i] < mn) { mn = row[i]; }
    }
    var s2 = side * side, sum2 = sum * sum;
    return Math.max(s2 * mx / sum2, sum2 / (s2 * mn));
  }
  function squarify(values, x, y, w, h) {
    var total = 0, out = [], i = 0;
    values.forEach(function (v) { total += v; });
    if (total <= 0 || w <= 0 || h <= 0) { return out; }
    var scale = (w * h) / total;
    var areas = values.map(function (v) { return v * scale; });
    while (i < areas.length) {
      var side = Math.min(w, h), row = [], sum = 0, best = Infinity;
      var j = i;
      while (j < areas.length) {
        var trial = row.concat([areas[j]]);
        var r = worst(trial, sum + areas[j], side);
        if (row.length && r > best) { break; }
        best = r; row = trial; sum += areas[j]; j++;
      }
      if (w >= h) {
        var cw = sum / h, cy = y;
        row.forEach(function (a) {
          out.push([x, cy, cw, a / cw]); cy += a / cw;
        });
        x += cw; w -= cw;
      } else {
        var rh = sum / w, cx = x;
        row.forEach(function (a) {
          out.push([cx, y, a / rh, rh]); cx += a / rh;
        });
        y += rh; h -= rh;
      }
      i = j;
    }
    return out;
  }
  window.heapdumpSquarify = squarify;   /* for a unit test of the layout */

  function pieces(index) {
    var list = (kids[index] || []).map(function (k) {
      return {node: data.tree[k], index: k, value: data.tree[k].r};
    });
    var n = data.tree[index];
    var rest = n.o + n.s;
    if (rest > 0) {
      list.push({node: null, index: -1, value: rest,
                 label: (n.k ? num(n.k) + " smaller, " : "its own ") +
                        fmt(rest)});
    }
    list.sort(function (a, b) { return b.value - a.value; });
    /* boxes under a two-thousandth of the whole: one "smaller" box */
    var total = 0, keep = [], small = 0, nsmall = 0;
    list.forEach(function (p) { total += p.value; });
    list.forEach(function (p) {
      if (p.value <= 0) { return; }
      if (p.value < total / 2000 && p.node) {
        small += p.value; nsmall += 1 + p.node.k;
      } else { keep.push(p); }
    });
    if (small > 0) {
      keep.push({node: null, index: -1, value: small,
                 label: num(nsmall) + " smaller, " + fmt(small)});
      keep.sort(function (a, b) { return b.value - a.value; });
    }
    return keep;
  }
  function tipText(n) {
    return n.n + "\n" + n.t + "  retained " + (n.lb ? ">= " : "") +
      fmt(n.r) + ", shallow " + fmt(n.s) + (n.path ? "\n" + n.path : "");
  }
  function box(parent, p, rect, depth, top) {
    var d = el("div", {"class": "tm" + (p.node ? "" : " other")});
    if (top) {
      d.setAttribute("data-node", p.node ? p.node.id : "other");
    } else {
      d.setAttribute("data-child", p.node ? p.node.id : "other");
    }
    d.style.left = rect[0] + "px"; d.style.top = rect[1] + "px";
    d.style.width = Math.max(0, rect[2]) + "px";
    d.style.height = Math.max(0, rect[3]) + "px";
    if (p.node) {
      d.style.background = colour(p.node, depth);
      d.title = tipText(p.node);
      if (rect[2] > 40 && rect[3] > 14) {
        d.appendChild(el("span", {}, p.node.n + "  " + fmt(p.node.r)));
      }
      d.addEventListener("click", function (ev) {
        ev.stopPropagation();
        if (kids[p.index] && kids[p.index].length) { zoom(p.index); }
      });
      d.addEventListener("mouseenter", function () {
        document.getElementById("tip").textContent = tipText(p.node);
      });
    } else {
      d.title = p.label;
      if (rect[2] > 40 && rect[3] > 14) {
        d.appendChild(el("span", {}, p.label));
      }
    }
    parent.appendChild(d);
    return d;
  }
  function zoom(index) {
    current = index;
    var map = document.getElementById("treemap");
    while (map.firstChild) { map.removeChild(map.firstChild); }
    var w = map.clientWidth || 1000, h = map.clientHeight || 560;
    var list = pieces(index);
    var rects = squarify(list.map(function (p) { return p.value; }),
                         0, 0, w, h);
    var count = 0;
    list.forEach(function (p, i) {
      var r = rects[i];
      var d = box(map, p, r, 0, true);
      count++;
      if (p.node && r[2] > 80 && r[3] > 50) {
        var inner = pieces(p.index);
        var ir = squarify(inner.map(function (q) { return q.value; }),
                          2, 16, r[2] - 6, r[3] - 20);
        inner.forEach(function (q, j) { box(d, q, ir[j], 1, false); });
      }
    });
    map.setAttribute("data-shown", String(count));
    map.setAttribute("data-zoom", data.tree[index].id);
    crumbs(index);
  }
  function crumbs(index) {
    var nav = document.getElementById("crumbs"), chain = [];
    for (var i = index; i >= 0; i = data.tree[i].p) { chain.unshift(i); }
    while (nav.firstChild) { nav.removeChild(nav.firstChild); }
    chain.forEach(function (c, k) {
      if (k) { nav.appendChild(document.createTextNode(" \u25b8 ")); }
      var s = el("span", {"data-crumb": data.tree[c].id}, data.tree[c].n);
      s.addEventListener("click", function () { zoom(c); });
      nav.appendChild(s);
    });
  }

  /* ------------------------------------------------------------ tables */
  function table(id, columns, rows) {
    var t = document.getElementById(id), sortKey = null, desc = true;
    function draw() {
      while (t.firstChild) { t.removeChild(t.firstChild); }
      var head = el("tr");
      columns.forEach(function (c) {
        var th = el("th", {"class": c.left ? "l" : "", "data-key": c.key},
                    c.title);
        th.addEventListener("click", function () {
          desc = sortKey === c.key ? !desc : true;
          sortKey = c.key;
          rows.sort(function (a, b) {
            var x = a[c.key], y = b[c.key];
            var r = typeof x === "string" ? x.localeCompare(y) : x - y;
            return desc ? -r : r;
          });
          draw();
        });
        head.appendChild(th);
      });
      t.appendChild(head);
      rows.forEach(function (r) {
        var tr = el("tr", {"data-row": "1"});
        columns.forEach(function (c) {
          tr.appendChild(el("td", {"class": c.left ? "l" : ""},
                            c.show ? c.show(r[c.key], r) : r[c.key]));
        });
        t.appendChild(tr);
      });
    }
    draw();
  }
  function types() {
    table("types", [
      {key: "type", title: "Type", left: true},
      {key: "count", title: "Count", show: num},
      {key: "shallow", title: "Shallow", show: fmt},
      {key: "retained", title: "Retained", show: function (v, r) {
        return (r.retained_lower_bound ? ">= " : "") + fmt(v); }}
    ], data.types.slice());
    if (data.types_more) {
      document.getElementById("types-section").appendChild(
        el("p", {"class": "hint"}, num(data.types_more) + " more types"));
    }
  }
  function suspects() {
    var box = document.getElementById("suspects");
    if (!data.suspects.length && !data.groups.length) {
      box.appendChild(el("p", {}, "No object retains 10% of the heap."));
    }
    data.suspects.forEach(function (s, i) {
      var d = el("div", {"class": "suspect", "data-suspect": s.id});
      d.appendChild(el("h3", {}, "Suspect " + (i + 1) + ": " + s.n +
        " retains " + (s.lb ? ">= " : "") + fmt(s.r) + " (" +
        (100 * s.f).toFixed(1) + "% of the heap)"));
      if (s.holder) { d.appendChild(el("p", {}, "held by " + s.holder)); }
      if (s.items !== null) {
        d.appendChild(el("p", {}, "accumulation point with " +
                               num(s.items) + " items"));
      }
      if (s.path) { d.appendChild(el("p", {"class": "path"}, s.path)); }
      var ul = el("ul");
      s.dominated.forEach(function (r) {
        ul.appendChild(el("li", {}, num(r.count) + " " + r.type + ": " +
                                    fmt(r.retained)));
      });
      d.appendChild(ul);
      box.appendChild(d);
    });
    data.groups.forEach(function (g) {
      var d = el("div", {"class": "suspect", "data-group": g.type});
      d.appendChild(el("h3", {}, "Group: " + num(g.count) + " " + g.type +
        " retain " + fmt(g.r) + " (" + (100 * g.f).toFixed(1) + "%)"));
      g.paths.forEach(function (p) {
        d.appendChild(el("p", {"class": "path"}, p));
      });
      box.appendChild(d);
    });
  }
  function diff() {
    if (!data.diff) { return; }
    document.getElementById("diff-section").hidden = false;
    var w = document.getElementById("diff-warnings");
    data.diff.warnings.forEach(function (x) {
      w.appendChild(el("p", {"class": "warn"}, x));
    });
    function signed(v, f) { return (v > 0 ? "+" : v < 0 ? "-" : "") +
                                   f(Math.abs(v)); }
    table("diff", [
      {key: "type", title: "Type", left: true},
      {key: "count_a", title: "Count before", show: num},
      {key: "count_b", title: "Count after", show: num},
      {key: "delta_count", title: "\u0394 count",
       show: function (v) { return signed(v, num); }},
      {key: "delta_shallow", title: "\u0394 shallow",
       show: function (v) { return signed(v, fmt); }},
      {key: "delta_retained", title: "\u0394 retained",
       show: function (v) { return signed(v, fmt); }}
    ], data.diff.rows.slice());
  }

  try {
    data = JSON.parse(document.getElementById("heapdump-data").textContent);
    data.tree.forEach(function (n, i) {
      if (n.p >= 0) { (kids[n.p] = kids[n.p] || []).push(i); }
    });
    overview();
    var start = 0, m = /zoom=(@[0-9]+)/.exec(location.hash || "");
    if (m) {
      data.tree.forEach(function (n, i) { if (n.id === m[1]) { start = i; } });
    }
    zoom(start);
    types();
    suspects();
    diff();
    body.setAttribute("data-state", "ready");
  } catch (e) {
    body.setAttribute("data-error", String((e && e.stack) || e));
    body.setAttribute("data-state", "error");
  }
})();
"""
