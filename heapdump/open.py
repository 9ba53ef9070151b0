"""``python -m heapdump.open FILE ...``: the name users know for
``python -m heapdump open`` (heapdump.cli.open).

Imported, ``heapdump.open`` is the module heapdump.cli.open itself; run,
it is that command, with the same options and exit statuses.
"""

import sys

from heapdump.cli import open as _command

if __name__ == "__main__":
    sys.exit(_command.main())
sys.modules[__name__] = _command
