"""The import path of earlier releases for the Django integration.

``heapdump.contrib.django`` is ``heapdump.integrations.django`` under its
old name (``"heapdump.contrib.django.HeapdumpMiddleware"`` in
``settings.MIDDLEWARE``).  The integrations live in
``heapdump.integrations``: wsgi, asgi, django, logging, pytest, unittest.
"""
