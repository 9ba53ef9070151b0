"""The commands of ``python -m heapdump``, one module each.

    heapdump.cli.run     python -m heapdump run [options] script.py | -m mod
    heapdump.cli.ls      python -m heapdump ls [DIR | FILE ...]
    heapdump.cli.open    python -m heapdump open FILE [...], which is
                         python -m heapdump.open FILE [...]

Each has ``main(argv)``, which returns the exit status (None or 0 for
success).  heapdump/__main__.py dispatches to them; heapdump/open.py is
``heapdump.cli.open`` under the name users know.
"""
