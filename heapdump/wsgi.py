"""``heapdump.wsgi``: the import path of earlier releases for
``heapdump.integrations.wsgi`` (the same module object)."""

import sys

from heapdump.integrations import wsgi as _module

sys.modules[__name__] = _module
