"""``heapdump.pytest_plugin``: the import path of earlier releases for
``heapdump.integrations.pytest`` (the same module object).

The pytest11 entry point (pyproject.toml) names this module, so that
pytest finds and registers the plugin under the name it always had
(``-p heapdump.pytest_plugin``, ``-p no:heapdump.pytest_plugin``).
"""

import sys

from heapdump.integrations import pytest as _module

sys.modules[__name__] = _module
