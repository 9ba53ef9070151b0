"""heapdump's integrations: dumps of the failures that a framework catches.

    heapdump.integrations.wsgi      HeapdumpMiddleware for WSGI applications
                                    (Flask through its got_request_exception)
    heapdump.integrations.asgi      HeapdumpMiddleware for ASGI applications
                                    (Starlette, FastAPI)
    heapdump.integrations.django    HeapdumpMiddleware for settings.MIDDLEWARE
    heapdump.integrations.logging   HeapdumpHandler: a dump per logged
                                    exception
    heapdump.integrations.pytest    the pytest plugin (``pytest --heapdump``)
    heapdump.integrations.unittest  failing unittest tests under
                                    ``python -m heapdump run``

What they share (the directory of dumps, the request context, one dump
per failure) is in ``heapdump.integrations._shared``.  Nothing is imported
here: each module imports its framework when it is imported itself.

The import paths of earlier releases stay: ``heapdump.wsgi``,
``heapdump.asgi``, ``heapdump.logging``, ``heapdump.contrib.django`` and
``heapdump.pytest_plugin`` (the pytest11 entry point) are these modules
under their old names.
"""
