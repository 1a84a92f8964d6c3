"""Helpers for the TCP and API tests on top of tests/netns/harness.py.

Theory of operation
-------------------
The daemon runs in its namespace (harness.Daemon); the "host" peer is the
namespace's Linux kernel (nc, socat, Python sockets run there with
`d.run`/`d.popen`/`host_python`). Daemon-side applications are the
`tapstack` CLI ($TAPSTACK) or small Python programs speaking the API
protocol over the Unix socket (`api_python`): the socket is a file, so
they work from any namespace, but they run inside it too for uniformity.

Every wait is bounded; every byte comparison is exact (SHA-256 over
exact byte counts). Nothing here changes the harness: it only wraps it.
"""

import hashlib
import json
import os
import select
import socket
import subprocess
import sys
import time

import harness

PYTHON = harness.PYTHON

# Short TCP timers so error paths finish in seconds (tcp.* config keys).
FAST_TCP_YAML = """tcp:
  initial_rto: 200ms
  min_rto: 100ms
  max_rto: 1s
  max_retransmits: 5
  max_syn_retransmits: 3
  msl: 500ms
"""


class ApiDaemon(harness.Daemon):
    """harness.Daemon with extra keys in the `api:` section the harness
    writes itself (e.g. api_options={"max_clients": 3})."""

    def __init__(self, *args, api_options=None, **kwargs):
        self.api_options = dict(api_options or {})
        super().__init__(*args, **kwargs)

    def config_text(self):
        text = super().config_text()
        line = f"  socket: {self.socket_path}\n"
        extra = "".join(f"  {k}: {v}\n" for k, v in self.api_options.items())
        assert line in text, "the harness's api section changed"
        return text.replace(line, line + extra)


class FarHost:
    """The daemon's Linux peer in another namespace `ns` (a harness.Namespace,
    behind routers), at `host_address`. It stands in for the Daemon in the
    seed-matrix transfer functions (test_seed_matrix.py) and the helpers
    here: the kernel side's programs (nc, socat, ss) run in `ns`; the
    tapstack CLI runs there too, which is fine, it needs only the API
    socket (a file); `address` is still the daemon's."""

    def __init__(self, d, ns, host_address):
        self.daemon = d
        self.ns = ns
        self.address = d.address
        self.host_address = host_address
        self.workdir = d.workdir
        self.socket_path = d.socket_path

    def run(self, cmd, **kwargs):
        return self.ns.run(cmd, **kwargs)

    def popen(self, cmd, **kwargs):
        return self.ns.popen(cmd, **kwargs)


class Ipv6View:
    """The daemon `d` seen over IPv6: `address` and `host_address` are its
    and the host side's IPv6 addresses (ipv6.address, interface.host_address6);
    everything else is `d`'s. The seed-matrix transfer functions take it in
    place of the daemon to run over IPv6 unchanged."""

    def __init__(self, d):
        assert d.address6 and d.host_address6, "the daemon needs address6 and host_address6"
        self.daemon = d
        self.address = d.address6
        self.host_address = d.host_address6

    def __getattr__(self, name):
        return getattr(self.daemon, name)


def tapstack_path():
    path = os.environ.get("TAPSTACK")
    if not path and len(sys.argv) > 2:
        path = sys.argv[2]
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError(f"tapstack CLI not found (TAPSTACK={path!r})")
    return path


def cli(d, *args):
    """argv of the tapstack CLI talking to `d`'s API socket."""
    return [tapstack_path(), "--socket", d.socket_path, *map(str, args)]


def make_file(d, name, size):
    """A file of `size` random bytes in the daemon's work dir; returns
    (path, sha256 hex)."""
    path = os.path.join(d.workdir, name)
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, 1 << 20))
            f.write(chunk)
            h.update(chunk)
            left -= len(chunk)
    return path, h.hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
            n += len(b)
    return h.hexdigest(), n


def api_exchange(d, request, timeout=10.0, send_eof=False):
    """Sends raw bytes to the API socket and returns everything read until
    the daemon closes (bounded by `timeout`)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(d.socket_path)
    try:
        try:
            if request:
                s.sendall(request)
            if send_eof:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon may answer and close first (e.g. "ERR no-resources"): read what it said
        out = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                break
            if not b:
                break
            out += b
        return out
    finally:
        s.close()


def stats(d):
    """Every counter via `tapstack stats` (the API's STATS request)."""
    r = subprocess.run(cli(d, "stats"), capture_output=True, timeout=10)
    assert r.returncode == 0, f"tapstack stats failed: {r.stderr!r}"
    out = {}
    for line in r.stdout.decode().splitlines():
        name, value = line.split()
        out[name] = int(value)
    return out


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def wait_api_listeners(d, count=1, timeout=10):
    wait_for(lambda: stats(d).get("api.listeners", 0) >= count, timeout, f"{count} API listener(s)")


def start_listen(d, port, stdin, stdout, extra=(), timeout=10):
    """Starts `tapstack -v listen PORT` and returns once it holds the port
    (its first stderr line says so)."""
    app = d.popen(cli(d, "-v", "listen", *extra, port), stdin=stdin, stdout=stdout, stderr=subprocess.PIPE)
    ready, _, _ = select.select([app.stderr], [], [], timeout)
    line = app.stderr.readline().decode(errors="replace") if ready else ""
    if "listening on" not in line:
        app.kill()
        rest = app.communicate()[1].decode(errors="replace")
        raise AssertionError(f"tapstack listen {port} did not start listening: {line!r} {rest!r}")
    return app


def wait_host_listening(d, port, timeout=10):
    def listening():
        r = d.run(["ss", "-Hltn", f"sport = :{port}"], check=False, timeout=5)
        return r.returncode == 0 and f":{port}" in r.stdout.decode()
    wait_for(listening, timeout, f"a host listener on port {port}")


def wait_quiet(d, timeout=15):
    """Until the daemon holds no TCP connection, stream or listener."""
    def quiet():
        s = stats(d)
        return s.get("tcp.connections", 1) == 0 and s.get("api.streams", 1) == 0 and s.get("api.listeners", 1) == 0
    wait_for(quiet, timeout, "no TCP state left in the daemon")


def finish(proc, timeout, name):
    """Waits for a Popen; returns (returncode, stderr text)."""
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"{name} did not finish within {timeout}s; stderr: {err!r}")
    return proc.returncode, (err or b"").decode(errors="replace")


def run_python_json(d, code, *args, timeout=60):
    """Runs `code` in the namespace; its last stdout line is JSON."""
    r = d.run([PYTHON, "-c", code, *map(str, args)], timeout=timeout, check=False)
    out = r.stdout.decode(errors="replace")
    err = r.stderr.decode(errors="replace")
    if r.returncode != 0:
        raise AssertionError(f"helper program exited {r.returncode}\nstdout:\n{out}\nstderr:\n{err}")
    lines = [l for l in out.splitlines() if l.strip()]
    assert lines, f"helper program printed nothing; stderr:\n{err}"
    return json.loads(lines[-1])


def popen_python(d, code, *args, **kw):
    return d.popen([PYTHON, "-c", code, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def json_of(proc, timeout, name):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"{name} did not finish within {timeout}s; stderr: {err.decode(errors='replace')}")
    out = out.decode(errors="replace")
    err = err.decode(errors="replace")
    if proc.returncode != 0:
        raise AssertionError(f"{name} exited {proc.returncode}\nstdout:\n{out}\nstderr:\n{err}")
    lines = [l for l in out.splitlines() if l.strip()]
    assert lines, f"{name} printed nothing; stderr:\n{err}"
    return json.loads(lines[-1])


# Python snippet shared by daemon-side programs: one API request on a fresh
# Unix connection, returning (socket, reply line, bytes already read past it).
API_CLIENT_SNIPPET = r'''
import socket
def api_open(path, line, timeout=60):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall(line.encode() + b"\n")
    buf = b""
    while b"\n" not in buf:
        b = s.recv(4096)
        if not b:
            raise SystemExit(f"daemon closed without a reply to {line!r}: {buf!r}")
        buf += b
    reply, _, rest = buf.partition(b"\n")
    return s, reply.decode(), rest
'''
