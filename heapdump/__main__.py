"""``python -m heapdump``: commands around heap dumps.

    python -m heapdump run [options] script.py [args ...]
    python -m heapdump run [options] -m module [args ...]
    python -m heapdump ls [DIR ...]
    python -m heapdump open FILE [...]     as python -m heapdump.open
    python -m heapdump --version

One module per command in heapdump.cli (run, ls, open), each with a
``main(argv)`` that returns the exit status; this one only dispatches, and
imports the command it runs alone (``run`` imports nothing the program
would not, before the program).
"""

from __future__ import annotations

import sys

PROG = "python -m heapdump"

#: command -> what it does, in one line (``python -m heapdump --help``)
COMMANDS = {
    "open": "open a dump in pdb, or report on its heap "
            "(--histogram, --suspects...)",
    "run": "run a program with dumps on unhandled exceptions and "
           "fatal signals",
    "ls": "list the dumps in a directory, newest last",
}


def command(name):
    """The main(argv) of a command of COMMANDS."""
    if name == "open":
        from heapdump.cli import open as module
    elif name == "run":
        from heapdump.cli import run as module
    elif name == "ls":
        from heapdump.cli import ls as module
    else:
        raise KeyError(name)
    return module.main


def _usage(out):
    out.write("usage: %s COMMAND ...\n\ncommands:\n" % PROG)
    for name, text in COMMANDS.items():
        out.write("  %-6s %s\n" % (name, text))
    out.write("\n%s COMMAND --help for a command's options; "
              "%s --version for the version.\n" % (PROG, PROG))


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-V", "--version"):
        from heapdump import __version__

        sys.stdout.write("heapdump %s\n" % __version__)
        return 0
    if not argv or argv[0] in ("-h", "--help"):
        _usage(sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    if argv[0] not in COMMANDS:
        sys.stderr.write("%s: unknown command %r (one of: %s)\n"
                         % (PROG, argv[0], ", ".join(COMMANDS)))
        return 2
    return command(argv[0])(argv[1:])


if __name__ == "__main__":
    status = main()
    if status:
        sys.exit(status)
