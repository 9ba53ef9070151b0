"""What the tests of the web integrations share (test_web_*.py): a real
server in a child process on a loopback socket the test binds (port 0, so
no port is guessed), a readiness handshake, plain HTTP requests, the
secrets a client sends, and the checks every framework must pass.

The frameworks come from requirements-integrations.txt.  A test skips when
its framework is not installed, unless $HEAPDUMP_REQUIRE_INTEGRATIONS=1
(CI), where it fails instead.
"""

import http.client
import io
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
import zstandard

import heapdump
from conftest import PROGRAMS, child_env
from heapdump import _surrogates as S

REQUIRE = os.environ.get("HEAPDUMP_REQUIRE_INTEGRATIONS") == "1"


def require(module):
    """Skip (fail under HEAPDUMP_REQUIRE_INTEGRATIONS=1) when a framework
    is not installed.  It is looked for, not imported: the frameworks run
    in the child processes only, and what they import would be in every
    dump the tests of this process write later."""
    import importlib.util

    if importlib.util.find_spec(module) is not None:
        return
    if REQUIRE:
        pytest.fail("%s is not installed (HEAPDUMP_REQUIRE_INTEGRATIONS=1):"
                    " pip install -r requirements-integrations.txt"
                    % module, pytrace=False)
    pytest.skip("%s is not installed (requirements-integrations.txt)"
                % module)


class SecretLeaked(AssertionError):
    """A secret is in a dump file."""


def secrets():
    """Fresh secret values: in no source file, only in the requests."""
    token = os.urandom(8).hex()
    return {"cookie": "cookie%s" % token, "cookie2": "prefs%s" % token,
            "auth": "auth%s" % token, "apikey": "apikey%s" % token}


def secret_headers(s):
    return {
        "Cookie": "sessionid=%s; prefs=%s" % (s["cookie"], s["cookie2"]),
        "Authorization": "Bearer %s" % s["auth"],
        "X-Api-Key": s["apikey"],
        "User-Agent": "heapdump-tests",
    }


def decompressed(path):
    """The header bytes and the decompressed body of a dump file."""
    data = pathlib.Path(path).read_bytes()
    end = data.index(b"\n\n") + 2
    body = zstandard.ZstdDecompressor().stream_reader(
        io.BytesIO(data[end:]), read_across_frames=True).read()
    return data[:end] + body


def assert_no_secrets(path, s):
    raw = decompressed(path)
    for name, value in s.items():
        for form in (value.encode(), value.encode("utf-16-le"),
                     value.encode("utf-32-le")):
            if form in raw:
                raise SecretLeaked("%s (%s) is in %s" % (name, value, path))


class Server:
    """A server in a child process (its own process group) on a loopback
    socket bound here and passed down as a file descriptor ("{fd}" in
    argv), or, for a server that binds its own ("{port}" in argv, Django's
    runserver), on a free port found here."""

    def __init__(self, argv, *, cwd, env=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        if any("{port}" in a for a in argv):
            # the child binds it: free it (another process could take it
            # meanwhile; wait_ready would then fail loudly)
            self.sock.close()
            argv = [a.replace("{port}", str(self.port)) for a in argv]
        else:
            self.sock.listen(128)
            self.sock.set_inheritable(True)
        fd = self.sock.fileno()
        argv = [a.replace("{fd}", str(fd)) for a in argv]
        self.log = open(os.path.join(cwd, "server.log"), "w+")
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=env or child_env(), stdout=self.log,
            stderr=subprocess.STDOUT, pass_fds=(fd,) if fd >= 0 else (),
            start_new_session=True)
        # the child has it; ours only keeps the port taken until then
        self.sock.close()

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def request(self, path, headers=None, timeout=30, response=False):
        """(status, body text) of a GET; with response, (status, body,
        the response's headers as a list of pairs)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=timeout)
        try:
            conn.request("GET", path, headers=headers or {})
            r = conn.getresponse()
            body = r.read().decode("utf-8", "replace")
            if response:
                return r.status, body, r.getheaders()
            return r.status, body
        finally:
            conn.close()

    def wait_ready(self, path, timeout=60):
        """Poll until the server answers path with 200."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("the server exited with %s:\n%s"
                                     % (self.proc.returncode,
                                        self.output()))
            try:
                status, _ = self.request(path, timeout=5)
                if status == 200:
                    return
                last = status
            except OSError as e:
                last = e
            time.sleep(0.1)
        raise AssertionError("the server did not answer %s in %ss (%s):\n%s"
                             % (path, timeout, last, self.output()))

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(10)
        else:
            # the server's children, if any survived it
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.log.close()


def server_env(dumps, **extra):
    """A server's environment: the programs importable, the dumps into
    dumps."""
    env = child_env(WEB_DUMPS=str(dumps), **extra)
    env["PYTHONPATH"] = str(PROGRAMS) + os.pathsep + env["PYTHONPATH"]
    return env


def dumps_in(directory):
    return sorted(pathlib.Path(directory).glob("heapdump-*.dump"))


def open_summary(path):
    """python -m heapdump.open --summary FILE."""
    r = subprocess.run([sys.executable, "-m", "heapdump.open", "--summary",
                        str(path)], env=child_env(), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def open_pdb(path, commands):
    """python -m heapdump.open FILE with pdb commands on stdin."""
    r = subprocess.run([sys.executable, "-m", "heapdump.open", str(path)],
                       env=child_env(), input=commands, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def check_view_dump(path, *, view_file, view_name="fail", reason_re,
                    request_path):
    """What every framework's dump of /fail must show."""
    dump = heapdump.load(path)
    assert re.search(reason_re, dump.headers["Heapdump-Reason"]), \
        dump.headers["Heapdump-Reason"]
    assert dump.headers["Heapdump-Exception"] == \
        "ValueError: order 42 has 2 items"
    # the innermost entry of the dumped traceback is the view's frame
    tb = dump.traceback.entries()
    inner = tb[-1].frame
    assert inner.code.name == view_name, [e.frame.code.name for e in tb]
    assert os.path.basename(inner.code.filename) == view_file
    assert inner.locals["order"] == {"id": 42, "items": ["apple", "pear"],
                                     "note": "a view local"}
    assert inner.locals["total"] == 2
    # the request, as context
    request = dump.context["request"]
    assert request["method"] == "GET"
    assert request["path"] == request_path
    assert request["query"] == "q=1&token=[redacted]"
    headers = request["headers"]
    assert headers["User-Agent"] == "heapdump-tests"
    for name in ("Cookie", "Authorization", "X-Api-Key"):
        # "[redacted]" in the context, and redacted again by the dumper
        # (the header names look secret)
        value = headers[name]
        assert type(value) is S.Redacted and value.reason == "name", \
            (name, value)
    # the summary and pdb
    out = open_summary(path)
    assert "Context:" in out, out
    assert "request.path = %r" % request_path in out, out
    assert "ValueError: order 42 has 2 items" in out
    out = open_pdb(path, "p order\np total\nq\n")
    assert re.search(r"> \S*%s\(\d+\)%s\(\)" % (re.escape(view_file),
                                                 view_name), out), out
    assert "{'id': 42, 'items': ['apple', 'pear'], 'note': 'a view local'}" \
        in out, out
    return dump
