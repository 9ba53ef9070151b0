"""Integrations with frameworks that are not WSGI or ASGI alone.

``heapdump.contrib.django``: a middleware for ``settings.MIDDLEWARE``.
WSGI and ASGI applications (Flask, Pyramid, Starlette, FastAPI, ...) use
``heapdump.wsgi`` and ``heapdump.asgi``; logging ``heapdump.logging``;
pytest the ``heapdump.pytest_plugin`` plugin (``pytest --heapdump``).
"""
