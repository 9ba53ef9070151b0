"""The heap analysis' reports: text tables sized to the terminal, and the
JSON of docs/analysis.rst (its schema: docs/analysis-schema.json).

Each ``*_report(graph, ...)`` returns a JSON-able dict; ``render(kind,
data, ...)`` turns one into text.  python -m heapdump.open's report flags
call both (heapdump.open).
"""

from __future__ import annotations

import os
import shutil

from heapdump._heap import ObjRef, Path, compare, human

#: The version of the JSON documents (docs/analysis.rst).
SCHEMA_VERSION = 1


# ------------------------------------------------------------- documents

def _obj(graph, ref, with_path=False, keys=True):
    if not isinstance(ref, ObjRef):
        ref = graph.obj(ref)
    node = ref.ordinal
    d = {
        "id": ref.id,
        "address": None if ref.address is None else "0x%x" % ref.address,
        "type": ref.type_name,
        "summary": ref.summary,
        "shallow": graph.shallow(node),
        "retained": graph.retained(node),
        "retained_lower_bound": graph.is_lower_bound(node),
    }
    if with_path:
        path = graph.shortest_path(node, keys=keys)
        d["distance"] = graph.distance(node)
        d["path"] = _path(path)
    return d


def _path(path):
    out = []
    for label, ref in path.steps:
        out.append({"label": label,
                    "object": None if ref is None else {
                        "id": ref.id, "type": ref.type_name,
                        "summary": ref.summary}})
    return out


def _header(graph):
    return {
        "file": graph.path,
        "scope": graph.scope,
        "format": "%d.%d" % graph.format_version,
        "python": graph.headers.get("Heapdump-Python"),
        "objects": graph.n,
        "shallow": graph.total,
        "rss": graph.rss,
        "cuts": graph.cuts,
        "warnings": list(graph.warnings),
    }


def histogram_report(graph, by="type", sort="retained", limit=None,
                     min_size=0):
    rows = graph.histogram(by=by)
    if sort not in ("retained", "shallow", "count"):
        raise ValueError("sort must be retained, shallow or count")
    rows.sort(key=lambda r: (-r[sort], r["type"]))
    rows = [r for r in rows if r["shallow"] >= min_size or
            r["retained"] >= min_size]
    shown = rows if not limit else rows[:limit]
    return {"schema": SCHEMA_VERSION, "report": "histogram",
            "header": _header(graph), "by": by, "sort": sort,
            "rows": shown, "more": len(rows) - len(shown)}


def top_report(graph, n=10, keys=True):
    objs = graph.top(n)
    return {"schema": SCHEMA_VERSION, "report": "top",
            "header": _header(graph),
            "objects": [_obj(graph, o, True, keys) for o in objs]}


def dominators_report(graph, root=None, depth=3, min_fraction=0.01,
                      min_size=0):
    node = graph.super if root is None else graph.resolve(root)
    graph.analyze()
    total = graph.retained(node) or 1

    def tree(v, level):
        entry = _obj(graph, v)
        entry["children"] = []
        if level >= depth:
            entry["folded"] = {"count": len(graph.children(v)),
                               "retained": graph.retained(v) -
                               graph.shallow(v)}
            return entry
        small_n = small_bytes = 0
        for k in graph.children(v):
            r = graph.retained(k)
            if r < min_fraction * total or r < min_size:
                small_n += 1
                small_bytes += r
            else:
                entry["children"].append(tree(k, level + 1))
        if small_n:
            entry["folded"] = {"count": small_n, "retained": small_bytes}
        return entry

    return {"schema": SCHEMA_VERSION, "report": "dominators",
            "header": _header(graph), "tree": tree(node, 0)}


def paths_report(graph, target, max_paths=3, weak=False, keys=True):
    paths = graph.paths_to(target, max=max_paths, weak=weak, keys=keys)
    targets = []
    for p in paths:
        t = p.target
        if t.ordinal not in [x.ordinal for x in targets]:
            targets.append(t)
    return {"schema": SCHEMA_VERSION, "report": "paths",
            "header": _header(graph),
            "target": str(target),
            "objects": [_obj(graph, t) for t in targets],
            "paths": [{"target": p.target.id, "steps": _path(p),
                       "text": str(p)} for p in paths]}


def referrers_report(graph, target, keys=True):
    node = graph.resolve(target)
    rows, wrows, unseen = graph.referrers(node, keys=keys)
    info = graph.describe([node]).get(node, {})
    return {"schema": SCHEMA_VERSION, "report": "referrers",
            "header": _header(graph), "object": _obj(graph, node),
            "refcnt": info.get("refcnt"),
            "referrers": [{"object": _obj(graph, r), "label": label}
                          for r, label in rows],
            "weak_referrers": [{"object": _obj(graph, r), "label": label}
                               for r, label in wrows],
            "unseen_references": unseen}


def object_report(graph, target, keys=True):
    info = graph.object_info(target)
    node = info["object"].ordinal
    d = _obj(graph, node, True, keys)
    d.update({
        "kind": info["kind"], "own_size": info["shallow"],
        "inline_values": info["inline_values"], "cut": info["cut"],
        "immortal": info["immortal"], "refcnt": info["refcnt"],
        "referrers": info["referrers"],
        "weak_referrers": info["weak_referrers"],
        "unseen_references": info["unseen_references"],
        "dominator": _obj(graph, info["idom"]),
        "dominates": [_obj(graph, o) for o in info["dominates"]],
    })
    return {"schema": SCHEMA_VERSION, "report": "object",
            "header": _header(graph), "object": d}


def suspects_report(graph, threshold=0.10, keys=True):
    points, groups = graph.suspects(threshold=threshold)
    out = []
    for s in points:
        out.append({
            "accumulation_point": _obj(graph, s["point"]),
            "fraction": round(s["fraction"], 6),
            "holder": None if s["holder"] is None
            else _obj(graph, s["holder"]),
            "items": s["items"],
            "path": None if s["path"] is None else _path(s["path"]),
            "path_text": None if s["path"] is None else str(s["path"]),
            "dominated": s["dominated"],
        })
    gout = []
    for g in groups:
        gout.append({"type": g["type"], "count": g["count"],
                     "retained": g["retained"],
                     "retained_lower_bound": g["retained_lower_bound"],
                     "fraction": round(g["fraction"], 6),
                     "paths": [str(p) for p in g["paths"]]})
    return {"schema": SCHEMA_VERSION, "report": "suspects",
            "header": _header(graph), "threshold": threshold,
            "suspects": out, "groups": gout}


def diff_report(a, b, by="type", limit=None):
    rows, warnings, (ga, gb) = compare(a, b, by=by)
    shown = rows if not limit else rows[:limit]
    return {"schema": SCHEMA_VERSION, "report": "diff", "by": by,
            "a": _header(ga), "b": _header(gb), "warnings": warnings,
            "rows": shown, "more": len(rows) - len(shown)}


# ------------------------------------------------------------------ text

def _width():
    return max(60, shutil.get_terminal_size((100, 24)).columns)


def _size(n, exact, lower=False):
    text = human(n, exact)
    return (">=" + text) if lower else text


def _fit(text, width):
    return text if len(text) <= width else text[:max(1, width - 1)] + \
        "\u2026"


def _header_lines(h, exact):
    line = "%s  scope=%s  %s objects  %s" % (
        os.path.basename(h["file"]), h["scope"], "{:,}".format(h["objects"]),
        human(h["shallow"], exact))
    if h.get("rss"):
        line += "  (RSS %s: Python objects %.0f%%)" % (
            human(h["rss"], exact), 100.0 * h["shallow"] / h["rss"])
    line += "  cuts: %d" % h["cuts"]
    lines = [line]
    for w in h.get("warnings") or ():
        lines.append("warning: %s" % w)
    return lines


def _table(rows, widths, aligns):
    out = []
    for row in rows:
        cells = []
        for text, w, a in zip(row, widths, aligns):
            cells.append(text.rjust(w) if a == ">" else text.ljust(w))
        out.append("  ".join(cells).rstrip())
    return out


def render_histogram(d, exact=False, width=None):
    width = width or _width()
    h = d["header"]
    total = h["shallow"] or 1
    lines = _header_lines(h, exact)
    rows = [("#", "Count", "%", "Shallow", "%", "Cum%", "Retained",
             "Type" if d["by"] == "type" else "Module")]
    count_total = sum(r["count"] for r in d["rows"]) or 1
    cum = 0.0
    for i, r in enumerate(d["rows"], 1):
        pct = 100.0 * r["shallow"] / total
        cum += pct
        rows.append((str(i), "{:,}".format(r["count"]),
                     "%.1f" % (100.0 * r["count"] / count_total),
                     human(r["shallow"], exact), "%.1f" % pct,
                     "%.1f" % cum,
                     _size(r["retained"], exact, r["retained_lower_bound"]),
                     r["type"]))
    widths = [max(len(row[i]) for row in rows) for i in range(7)]
    used = sum(widths) + 2 * 7
    widths.append(max(10, width - used))
    rows = [row[:7] + (_fit(row[7], widths[7]),) for row in rows]
    lines += _table(rows, widths, ">>>>>>><")
    if d["more"]:
        lines.append("<%d more; --limit 0 shows all>" % d["more"])
    if any(r["retained_lower_bound"] for r in d["rows"]):
        lines.append(">= : a lower bound (what a limit cut off, or held "
                     "by several members of the type, is left out)")
    return "\n".join(lines) + "\n"


def _path_lines(steps, indent="    ", width=100):
    lines = []
    for i, st in enumerate(steps):
        obj = st["object"]
        if obj is None:
            text = st["label"]
        elif st["label"]:
            text = "%s \u2192 %s" % (st["label"], obj["summary"])
        else:
            text = obj["summary"]
        lines.append(_fit(indent + ("" if i == 0 else "\u25b8 ") + text,
                          width))
    return lines


def render_top(d, exact=False, width=None):
    width = width or _width()
    lines = _header_lines(d["header"], exact)
    lines.append("%3s  %10s  %10s  %s" % ("#", "Retained", "Shallow",
                                         "Object"))
    for i, o in enumerate(d["objects"], 1):
        lines.append(_fit("%3d  %10s  %10s  %s  %s" % (
            i, _size(o["retained"], exact, o["retained_lower_bound"]),
            human(o["shallow"], exact), o["summary"], o["id"]), width))
        lines += _path_lines(o["path"], " " * 8, width)
    return "\n".join(lines) + "\n"


def render_dominators(d, exact=False, width=None):
    width = width or _width()
    lines = _header_lines(d["header"], exact)
    total = d["tree"]["retained"] or 1

    def walk(e, level):
        lines.append(_fit("%s%s  %.1f%%  %s  %s" % (
            "  " * level, _size(e["retained"], exact,
                                e["retained_lower_bound"]),
            100.0 * e["retained"] / total, e["summary"], e["id"]), width))
        for k in e["children"]:
            walk(k, level + 1)
        f = e.get("folded")
        if f and f["count"]:
            lines.append("%s(%s smaller, %s)" % (
                "  " * (level + 1), "{:,}".format(f["count"]),
                human(f["retained"], exact)))

    walk(d["tree"], 0)
    return "\n".join(lines) + "\n"


def render_paths(d, exact=False, width=None):
    width = width or _width()
    lines = _header_lines(d["header"], exact)
    for o in d["objects"]:
        lines.append("%s  %s: retained %s, shallow %s" % (
            o["summary"], o["id"],
            _size(o["retained"], exact, o["retained_lower_bound"]),
            human(o["shallow"], exact)))
    for i, p in enumerate(d["paths"], 1):
        lines.append("path %d:" % i)
        lines += _path_lines(p["steps"], "    ", width)
    return "\n".join(lines) + "\n"


def render_referrers(d, exact=False, width=None):
    width = width or _width()
    lines = _header_lines(d["header"], exact)
    o = d["object"]
    lines.append("%s  %s: retained %s" % (
        o["summary"], o["id"],
        _size(o["retained"], exact, o["retained_lower_bound"])))
    for kind, rows in (("referrers", d["referrers"]),
                       ("weak referrers", d["weak_referrers"])):
        if not rows:
            continue
        lines.append("%d %s:" % (len(rows), kind))
        for r in rows:
            lines.append(_fit("  %-24s %s  %s" % (
                r["label"], r["object"]["summary"], r["object"]["id"]),
                width))
    if d["unseen_references"]:
        lines.append("%d reference%s not in the dump (reference count %s: "
                     "C code, the interpreter, objects past a limit)" % (
                         d["unseen_references"],
                         "" if d["unseen_references"] == 1 else "s",
                         d["refcnt"]))
    elif d["unseen_references"] is None:
        lines.append("(an immortal object, or no reference count: the "
                     "references the dump does not show are unknown)")
    return "\n".join(lines) + "\n"


def render_object(d, exact=False, width=None):
    width = width or _width()
    o = d["object"]
    lines = _header_lines(d["header"], exact)
    lines.append("%s  %s" % (o["summary"], o["id"]))
    for name, value in (
            ("type", o["type"]), ("address", o["address"]),
            ("shallow", "%s (itself %s, values written inline %s)" % (
                human(o["shallow"], exact), human(o["own_size"], exact),
                human(o["inline_values"], exact))),
            ("retained", _size(o["retained"], exact,
                               o["retained_lower_bound"])),
            ("refcnt", "%s (%d referrers in the dump%s)" % (
                o["refcnt"], o["referrers"],
                ", %d references not in it" % o["unseen_references"]
                if o["unseen_references"] else "")),
            ("distance", o["distance"]),
            ("dominator", "%s %s" % (o["dominator"]["summary"],
                                     o["dominator"]["id"])),
            ("flags", ", ".join(f for f in ("cut", "immortal") if o[f])
             or "-")):
        lines.append(_fit("  %-10s %s" % (name, value), width))
    lines.append("  path:")
    lines += _path_lines(o["path"], "    ", width)
    if o["dominates"]:
        lines.append("  dominates:")
        for k in o["dominates"]:
            lines.append(_fit("    %10s  %s  %s" % (
                _size(k["retained"], exact, k["retained_lower_bound"]),
                k["summary"], k["id"]), width))
    return "\n".join(lines) + "\n"


def render_suspects(d, exact=False, width=None):
    width = width or _width()
    lines = _header_lines(d["header"], exact)
    if not d["suspects"] and not d["groups"]:
        lines.append("no suspects: nothing retains %d%% of the heap or more"
                     % round(100 * d["threshold"]))
    for i, s in enumerate(d["suspects"], 1):
        p = s["accumulation_point"]
        lines.append("")
        lines.append("Suspect %d: %s retains %s (%.1f%% of the heap)" % (
            i, p["summary"],
            _size(p["retained"], exact, p["retained_lower_bound"]),
            100 * s["fraction"]))
        if s["holder"] is not None:
            lines.append("  held by %s" % s["holder"]["summary"])
        lines.append("  accumulation point: %s%s, %s" % (
            p["summary"], " with %s items" % "{:,}".format(s["items"])
            if s["items"] is not None else "", p["id"]))
        if s["path"]:
            lines.append("  path:")
            lines += _path_lines(s["path"], "    ", width)
        if s["dominated"]:
            lines.append("  what it holds:")
            for r in s["dominated"]:
                lines.append(_fit("    %10s  %10s objects  %s" % (
                    _size(r["retained"], exact, r["retained_lower_bound"]),
                    "{:,}".format(r["count"]), r["type"]), width))
    for g in d["groups"]:
        lines.append("")
        lines.append("Group suspect: %s objects of %s retain %s (%.1f%%)" % (
            "{:,}".format(g["count"]), g["type"],
            _size(g["retained"], exact, g["retained_lower_bound"]),
            100 * g["fraction"]))
        for p in g["paths"]:
            lines.append(_fit("    " + p, width))
    return "\n".join(lines) + "\n"


def render_diff(d, exact=False, width=None):
    width = width or _width()
    lines = _header_lines(d["a"], exact)[:1] + _header_lines(d["b"], exact)
    for w in d["warnings"]:
        lines.append("warning: %s" % w)
    rows = [("#", "Count A", "Count B", "\u0394Count", "Shallow A",
             "Shallow B", "\u0394Shallow", "\u0394Retained", "Type")]

    def signed(n, size=False):
        text = human(abs(n), exact) if size else "{:,}".format(abs(n))
        return ("+" if n > 0 else "-" if n < 0 else "") + text

    for i, r in enumerate(d["rows"], 1):
        rows.append((str(i), "{:,}".format(r["count_a"]),
                     "{:,}".format(r["count_b"]), signed(r["delta_count"]),
                     human(r["shallow_a"], exact),
                     human(r["shallow_b"], exact),
                     signed(r["delta_shallow"], True),
                     signed(r["delta_retained"], True), r["type"]))
    widths = [max(len(row[i]) for row in rows) for i in range(8)]
    widths.append(max(10, width - sum(widths) - 16))
    rows = [row[:8] + (_fit(row[8], widths[8]),) for row in rows]
    lines += _table(rows, widths, ">>>>>>>><")
    if d["more"]:
        lines.append("<%d more; --limit 0 shows all>" % d["more"])
    return "\n".join(lines) + "\n"


RENDER = {
    "histogram": render_histogram, "top": render_top,
    "dominators": render_dominators, "paths": render_paths,
    "referrers": render_referrers, "object": render_object,
    "suspects": render_suspects, "diff": render_diff,
}


def render(d, exact=False, width=None):
    return RENDER[d["report"]](d, exact=exact, width=width)


__all__ = ["RENDER", "SCHEMA_VERSION", "Path", "diff_report",
           "dominators_report", "histogram_report", "object_report",
           "paths_report", "referrers_report", "render", "suspects_report",
           "top_report"]
