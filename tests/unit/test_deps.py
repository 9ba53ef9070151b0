"""tools/deps.py, the checker of cycles and sizes that `make lint` runs,
on small synthetic trees written here and on the project itself."""

import pathlib
import subprocess
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEPS = ROOT / "tools" / "deps.py"


def run(root, *args):
    p = subprocess.run([sys.executable, str(DEPS), "--root", str(root), *args],
                       capture_output=True, text=True)
    return p.returncode, p.stdout.splitlines()


def write(root, rel, text):
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(textwrap.dedent(text))


def c_function(name, calls=(), static=False, lines=3):
    body = "".join(f"    {c}(0);\n" for c in calls)
    body += "    x++;\n" * max(0, lines - 4 - len(calls))
    return (("static " if static else "") + "int\n" + name + "(int x)\n{\n"
            + body + "    return x;\n}\n\n")


def tree(tmp_path, a_calls=(), py_cycle=False, big=0, marker=""):
    """src/a.c, src/b.c (b calls a), src/h.h, a package heapdump/."""
    write(tmp_path, "src/h.h", "/* h.h */\n#include \"g.h\"\n")
    write(tmp_path, "src/g.h", "/* g.h: comments say \"#include h.h\" */\n")
    write(tmp_path, "src/a.c", "#include \"h.h\"\n\n"
          + c_function("hd_a_run", calls=a_calls)
          + marker + c_function("a_big", static=True, lines=big or 3))
    write(tmp_path, "src/b.c", "#include \"h.h\"\n\n"
          + c_function("hd_b_go", calls=["hd_a_run"])
          # a static of the same name as a's export is b's own
          + c_function("b_local", static=True, calls=["a_big"]))
    write(tmp_path, "heapdump/__init__.py", "from heapdump import _one\n")
    write(tmp_path, "heapdump/_one.py", """\
        from typing import TYPE_CHECKING
        from heapdump import _heapdump
        if TYPE_CHECKING:
            import heapdump
        """)
    write(tmp_path, "heapdump/_two.py",
          "def later():\n    from . import _one\n    return _one\n"
          + ("def back():\n    import heapdump\n    return heapdump\n"
             if py_cycle else ""))
    if py_cycle:
        write(tmp_path, "heapdump/__init__.py",
              "from heapdump import _one\n\n\ndef f():\n"
              "    from heapdump import _two\n")


def test_a_tree_without_cycles_or_sizes_passes(tmp_path):
    tree(tmp_path)
    status, out = run(tmp_path)
    assert status == 0, out
    assert out == ["deps: no cycle, no unexplained size"]


def test_a_call_cycle_between_c_files_fails(tmp_path):
    tree(tmp_path, a_calls=["hd_b_go"])
    status, out = run(tmp_path)
    assert status == 1
    assert out == ["new: C cycle: src/a.c -> src/b.c -> src/a.c"]


def test_an_include_cycle_fails(tmp_path):
    tree(tmp_path)
    write(tmp_path, "src/g.h", "#include \"h.h\"\n")
    status, out = run(tmp_path)
    assert status == 1
    assert out == ["new: C cycle: src/g.h -> src/h.h -> src/g.h"]


def test_a_python_cycle_through_an_import_inside_a_function_fails(tmp_path):
    tree(tmp_path, py_cycle=True)
    status, out = run(tmp_path)
    assert status == 1
    assert out == ["new: Python cycle: heapdump -> heapdump._two -> heapdump"]


def test_a_long_function_fails_unless_its_comment_says_why(tmp_path):
    tree(tmp_path, big=121)
    status, out = run(tmp_path)
    assert (status, out) == (1, ["new: C function over 120 lines: "
                                 "src/a.c a_big"])
    tree(tmp_path, big=121, marker="/* size: one case per kind */\n")
    assert run(tmp_path)[0] == 0
    tree(tmp_path, big=120)
    assert run(tmp_path)[0] == 0


def test_a_long_file_fails_unless_its_head_says_why(tmp_path):
    tree(tmp_path)
    write(tmp_path, "src/c.c", "int c;\n" * 1201)
    status, out = run(tmp_path)
    assert (status, out) == (1, ["new: C file over 1200 lines: src/c.c"])
    write(tmp_path, "src/c.c", "/* size: generated */\n" + "int c;\n" * 1201)
    assert run(tmp_path)[0] == 0


def test_the_baseline_holds_what_is_known_and_only_shrinks(tmp_path):
    tree(tmp_path, a_calls=["hd_b_go"])
    baseline = tmp_path / "baseline"
    baseline.write_text("# left to do\n"
                        "C cycle: src/a.c -> src/b.c -> src/a.c\n")
    status, out = run(tmp_path, "--baseline", str(baseline))
    assert (status, out) == (0, ["known: C cycle: src/a.c -> src/b.c -> "
                                 "src/a.c"])
    tree(tmp_path)
    status, out = run(tmp_path, "--baseline", str(baseline))
    assert status == 1
    assert out[0] == ("gone (remove it from the baseline): C cycle: "
                      "src/a.c -> src/b.c -> src/a.c")

