"""Patch a module of the standard library when the program imports it,
without importing it first.

The triggers wrap asyncio's ``BaseEventLoop.call_exception_handler``
(heapdump._triggers) and ``python -m heapdump run`` wraps unittest's
``TestResult`` methods (heapdump.integrations.unittest); importing asyncio
or unittest to do so would cost every program that uses neither, and
change what the program finds in sys.modules.  ``PatchOnImport`` is a
meta path finder that waits for one module name: it hands the spec found
by the finders after it a loader that runs the module as usual, then calls
``on_import(module)``.  on_import takes the finder off sys.meta_path (it
decides under which lock).
"""

from __future__ import annotations

import sys
import threading


class PatchOnImport:
    """A meta path finder for the module fullname: once the module has
    run, on_import(module) is called (in the importing thread)."""

    def __init__(self, fullname, on_import):
        self.fullname = fullname
        self.on_import = on_import
        self._finding = threading.local()

    def install(self):
        sys.meta_path.insert(0, self)

    def remove(self):
        """Take this finder off sys.meta_path, if it is there."""
        try:
            sys.meta_path.remove(self)
        except ValueError:
            pass

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.fullname or \
                getattr(self._finding, "active", False):
            return None
        self._finding.active = True
        try:
            for finder in sys.meta_path:
                find = getattr(finder, "find_spec", None)
                if finder is self or find is None:
                    continue
                spec = find(fullname, path, target)
                if spec is not None:
                    break
            else:
                return None
        finally:
            self._finding.active = False
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _PatchingLoader(spec.loader, self.on_import)
        return spec

    def invalidate_caches(self):
        pass


class _PatchingLoader:
    """The module's own loader, calling on_import once the module ran."""

    def __init__(self, loader, on_import):
        self._loader = loader
        self._on_import = on_import

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        self._on_import(module)

    def __getattr__(self, name):
        return getattr(self._loader, name)
