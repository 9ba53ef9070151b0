"""``heapdump.logging``: the import path of earlier releases for
``heapdump.integrations.logging`` (the same module object)."""

import sys

from heapdump.integrations import logging as _module

sys.modules[__name__] = _module
