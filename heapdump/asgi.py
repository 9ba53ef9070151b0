"""``heapdump.asgi``: the import path of earlier releases for
``heapdump.integrations.asgi`` (the same module object)."""

import sys

from heapdump.integrations import asgi as _module

sys.modules[__name__] = _module
