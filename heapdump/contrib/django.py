"""``heapdump.contrib.django``: the import path of earlier releases for
``heapdump.integrations.django`` (the same module object).

Django's settings name it: ``"heapdump.contrib.django.HeapdumpMiddleware"``
in MIDDLEWARE keeps working.
"""

import sys

from heapdump.integrations import django as _module

sys.modules[__name__] = _module
