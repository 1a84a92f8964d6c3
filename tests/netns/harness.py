"""Shared harness for tapstack's real-network tests (Meson suite 'netns').

Theory of operation
-------------------
Every test gets a network namespace of its own, named uniquely
("tapstack-<pid>-<n>-<random>"), so tests can run in parallel and never touch
the root namespace's interfaces. Inside it the harness brings up `lo`, writes
a tapstack.yaml into a private temporary directory (TAP name, addresses, API
socket path, log level), and starts the built tapstackd under
`ip netns exec`. tapstackd creates the TAP inside that namespace and gives
the kernel side its `host_address`, so the namespace's kernel is the "host"
peer: `ping`, `nc`, `socat`, raw sockets run there via `run()`/`popen()`.

Readiness: the TAP exists and is UP, the API socket file exists, and (unless
disabled) the daemon answers one ping.

Teardown (always, also on failure, KeyboardInterrupt, or the SIGTERM that
`meson test` sends on timeout; namespaces of a run killed outright are
reaped by the next run): SIGTERM to the
daemon, SIGKILL after a bound, every process started with `popen()` killed,
the namespace deleted, the temporary directory removed. If the `with` block
raised, the daemon's log is printed to stderr so the failure can be read in
`meson test --print-errorlogs`.

Offload mode: every config the harness writes names `interface.offloads`
(the daemon's own default is on). Daemon(offloads=None) (the default) takes
it from the environment variable TAPSTACK_TEST_OFFLOADS ("on" or "off",
default "off"; anything else is an error), so the whole suite can run once
per mode (tests/run-all does: TAPSTACK_TEST_OFFLOADS=off explicitly, then
the Meson test setup "offloads"); offloads=True/False pins it for tests
that are about one mode. Tests never write the interface section
themselves: they go through config_text().

Sandbox: every daemon runs with its seccomp filter on (the default of
`security.seccomp`). A "seccomp: refused system call" line in its log means the
allow-list (daemon/sandbox/syscall_allowlist.cpp) misses a call the daemon
made: leaving the `with` block then raises AssertionError, so the whole
suite doubles as the check that the filter lets the daemon do its work.
`expect_no_seccomp_refusals = False` for a test that provokes one.

Privilege: the tests need root (netns, TAP). Without it `require_root()`
exits 77 (Meson's "skip") with a clear message, except under CI=true where
it exits 1: CI must never skip real tests silently.

Stable API (other test files import it; extend, do not change):
    require_root()
    tapstackd_path()                    -> path from $TAPSTACKD (or argv)
    offloads_from_env()                 -> bool from $TAPSTACK_TEST_OFFLOADS
    Daemon(...)                         context manager, see its docstring
        .ns .tap .address .host_address .socket_path .config_path .workdir .offloads
        .pid .proc .tapstackd .wrapper .expect_exit_status .exit_status
        .extra_env .expect_no_seccomp_refusals
        .setup() .start() .config_text() .write_config()   (for start=False)
        .run(cmd, timeout=, check=, input=, capture=) -> CompletedProcess
        .popen(cmd, **kw) -> Popen (killed at teardown)
        .run_python(code, *args, timeout=) -> CompletedProcess (/usr/bin/python3)
        .open_stream(port) -> (app, peer): a TCP stream through the API (socat, nc)
        .ping(count=, size=, interval=, timeout=, pattern=) -> CompletedProcess
        .counters(timeout=) -> dict[str, int]  (SIGUSR1 + parse the log)
        .log() -> str
        .wait_log(regex, timeout=, start=) -> re.Match
        .stop(timeout=) -> int  (SIGTERM, wait, return exit status)
        .alive() -> bool
    Namespace(label=)                   context manager: one more namespace beside a Daemon's
        .ns .run(cmd, ...) .popen(cmd, **kw) .sysctl(name, value)   (a router, a far host)
    veth(ns_a, if_a, cidr_a, ns_b, if_b, cidr_b, mtu=)   a veth pair between two namespaces, up
    run_tests(list_of_functions)         tiny runner: runs each, exits 0/1

Several namespaces: a Daemon's namespace (d.ns) is one end; Namespace()
makes others, named and reaped exactly like the Daemon's, deleted when
their `with` block ends (processes started with popen() killed first);
veth() joins two of them. Routing and forwarding are the test's (run "ip
route" / sysctl in each).
"""

import ipaddress
import itertools
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

PYTHON = "/usr/bin/python3"  # the one with scapy
SKIP = 77                    # Meson's skip exit status

_counter = itertools.count()


def _raise_on_sigterm(signum, frame):
    # meson test sends SIGTERM on timeout: unwind through the `with` blocks
    # so the daemon is stopped and the namespace deleted.
    raise SystemExit(f"harness: got signal {signum}, cleaning up")


signal.signal(signal.SIGTERM, _raise_on_sigterm)


def reap_stale_namespaces():
    """Deletes namespaces this harness left behind in a run that was killed
    (SIGKILL leaves no chance to clean up): named tapstack-<pid>-..., whose
    pid is gone, and with no process inside."""
    r = _ip("netns", "list", check=False)
    for line in r.stdout.splitlines():
        m = re.match(r"(tapstack-(\d+)-\d+-[0-9a-f]{6})\b", line)
        if not m or os.path.exists(f"/proc/{m.group(2)}"):
            continue
        pids = _ip("netns", "pids", m.group(1), check=False)
        if pids.returncode == 0 and not pids.stdout.strip():
            _ip("netns", "delete", m.group(1), check=False)


def require_root():
    """Exit 77 (skip) without root, or 1 under CI=true."""
    if os.geteuid() == 0:
        return
    msg = "netns tests need root (network namespaces and TAP devices)"
    if os.environ.get("CI", "").lower() == "true":
        print(f"FAIL: {msg}; CI=true forbids skipping", file=sys.stderr)
        sys.exit(1)
    print(f"SKIP: {msg}; run as root (e.g. sudo tests/run-all)", file=sys.stderr)
    sys.exit(SKIP)


def tapstackd_path():
    """The built daemon: $TAPSTACKD, else the first argument."""
    path = os.environ.get("TAPSTACKD")
    if not path and len(sys.argv) > 1:
        path = sys.argv[1]
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError(f"tapstackd not found (TAPSTACKD={path!r}); set TAPSTACKD to the built binary")
    return path


OFFLOADS_ENV = "TAPSTACK_TEST_OFFLOADS"


def offloads_from_env():
    """interface.offloads for daemons whose test does not pin it:
    $TAPSTACK_TEST_OFFLOADS "on" or "off" (unset or empty: off)."""
    value = os.environ.get(OFFLOADS_ENV, "").strip().lower()
    if value in ("", "off"):
        return False
    if value == "on":
        return True
    raise RuntimeError(f"{OFFLOADS_ENV}={value!r}: expected 'on' or 'off'")


def _ip(*args, check=True, timeout=10):
    return subprocess.run(["ip", *args], check=check, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def parse_counters(line):
    """'counters: a.b=1 c=2' -> {'a.b': 1, 'c': 2}."""
    m = re.search(r"counters: (.*)$", line)
    if not m:
        raise ValueError(f"not a counters line: {line!r}")
    out = {}
    for item in m.group(1).split():
        name, _, value = item.partition("=")
        out[name] = int(value)
    return out


class Daemon:
    """tapstackd in a fresh network namespace.

    Daemon(tapstackd=None, tap="tap0", address="10.0.0.2/24",
           host_address="10.0.0.1/24", gateway=None, mtu=1500, mac=None,
           log_level="debug", extra_yaml="", wait_ping=True, start=True,
           start_timeout=10, wrapper=(), offloads=None, extra_env=None,
           address6=None, host_address6=None, ipv6_extra="")

    `address6` (ipv6.address, a CIDR string) and `host_address6`
    (interface.host_address6) give the daemon and the host side IPv6
    addresses; `ipv6_extra` is more lines of the `ipv6:` section (e.g.
    "  accept_ra: true\n"). The attributes `.address6`, `.host_address6` hold
    the bare addresses and `.link_local6` the daemon's link-local address
    (fe80:: with the modified EUI-64 of its MAC; the default MAC is
    02:74:73 + the last three bytes of the IPv4 address). IPv6 addresses are
    usable once the daemon's DAD has passed (about 1-2 s after start):
    wait_ping6() waits for that.

    `offloads` is written as `interface.offloads`; None takes it from
    $TAPSTACK_TEST_OFFLOADS (offloads_from_env()).

    `extra_env` (dict) is added to the daemon's environment (e.g.
    NOTIFY_SOCKET). `wrapper` is put in front of the daemon's command line inside the
    namespace (e.g. ["setpriv", "--reuid=65534", ...] to run unprivileged).
    `expect_exit_status` (attribute, default 0): leaving the `with` block
    stops the daemon and raises AssertionError if its exit status differs;
    set it to None to accept any status.

    `address`/`host_address` are CIDR strings; the attributes `.address` and
    `.host_address` hold the bare addresses ("10.0.0.2", "10.0.0.1").
    `extra_yaml` is appended verbatim to the generated config (for top-level
    sections such as "tcp:\n  send_buffer: 65536\n"); do not repeat a section
    the harness writes (interface, ipv4, api, log): use the keyword
    arguments for those.
    """

    def __init__(self, tapstackd=None, *, tap="tap0", address="10.0.0.2/24",
                 host_address="10.0.0.1/24", gateway=None, mtu=1500, mac=None,
                 log_level="debug", extra_yaml="", wait_ping=True, start=True,
                 start_timeout=10.0, wrapper=(), offloads=None, extra_env=None, address6=None, host_address6=None,
                 ipv6_extra=""):
        self.tapstackd = tapstackd or tapstackd_path()
        self.offloads = offloads_from_env() if offloads is None else bool(offloads)
        self.ns = f"tapstack-{os.getpid()}-{next(_counter)}-{random.randrange(1 << 24):06x}"
        self.tap = tap
        self.address_cidr = address
        self.host_address_cidr = host_address
        self.address = address.split("/")[0]
        self.host_address = host_address.split("/")[0] if host_address else None
        self.gateway = gateway
        self.address6_cidr = address6
        self.host_address6_cidr = host_address6
        self.address6 = address6.split("/")[0] if address6 else None
        self.host_address6 = host_address6.split("/")[0] if host_address6 else None
        self.ipv6_extra = ipv6_extra
        self.mtu = mtu
        self.mac = mac
        self.log_level = log_level
        self.extra_yaml = extra_yaml
        self.wait_ping = wait_ping
        self.start_timeout = start_timeout
        self.wrapper = list(wrapper)
        self.extra_env = dict(extra_env or {})
        self.expect_exit_status = 0
        self.expect_no_seccomp_refusals = True
        self.workdir = None
        self.config_path = None
        self.socket_path = None
        self.log_path = None
        self.proc = None
        self.exit_status = None
        self._children = []
        self._log_file = None
        self._ns_created = False
        self._autostart = start
        self._refusals = []

    # ---- lifecycle -------------------------------------------------------

    def __enter__(self):
        try:
            self.setup()
            if self._autostart:
                self.start()
        except BaseException:
            self._teardown(failed=True)
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        status = self._teardown(failed=exc_type is not None)
        if exc_type is None and self.expect_exit_status is not None and status is not None \
                and status != self.expect_exit_status:
            raise AssertionError(f"tapstackd exit status {status}, expected {self.expect_exit_status}")
        if exc_type is None and self._refusals:
            raise AssertionError("the seccomp filter refused calls the daemon made (add them to "
                                 "daemon/sandbox/syscall_allowlist.cpp):\n" + "\n".join(self._refusals))
        return False

    def setup(self):
        """Namespace, loopback, work directory and config (no daemon yet)."""
        self.workdir = tempfile.mkdtemp(prefix=f"{self.ns}-")
        os.chmod(self.workdir, 0o755)
        self.socket_path = os.path.join(self.workdir, "run", "tapstack.sock")
        self.config_path = os.path.join(self.workdir, "tapstack.yaml")
        self.log_path = os.path.join(self.workdir, "tapstackd.log")
        reap_stale_namespaces()
        _ip("netns", "add", self.ns)
        self._ns_created = True
        _ip("-n", self.ns, "link", "set", "lo", "up")
        self.write_config()

    def config_text(self):
        lines = ["interface:", f"  name: {self.tap}", f"  mtu: {self.mtu}",
                 f"  offloads: {'true' if self.offloads else 'false'}"]
        if self.mac:
            lines.append(f"  mac: {self.mac}")
        if self.host_address_cidr:
            lines.append(f"  host_address: {self.host_address_cidr}")
        if self.host_address6_cidr:
            lines.append(f"  host_address6: {self.host_address6_cidr}")
        lines += ["ipv4:", f"  address: {self.address_cidr}"]
        if self.gateway:
            lines.append(f"  gateway: {self.gateway}")
        if self.address6_cidr or self.ipv6_extra:
            lines.append("ipv6:")
            if self.address6_cidr:
                lines.append(f"  address: {self.address6_cidr}")
            if self.ipv6_extra:
                lines += self.ipv6_extra.rstrip("\n").split("\n")
        lines += ["api:", f"  socket: {self.socket_path}",
                  "log:", f"  level: {self.log_level}"]
        text = "\n".join(lines) + "\n"
        if self.extra_yaml:
            text += self.extra_yaml if self.extra_yaml.endswith("\n") else self.extra_yaml + "\n"
        return text

    def write_config(self):
        with open(self.config_path, "w") as f:
            f.write(self.config_text())

    def start(self):
        """Starts tapstackd and waits until it is ready."""
        self._log_file = open(self.log_path, "ab")
        # The terminal log format (timestamps, level names) even when the
        # test runner itself runs under systemd.
        env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
        env.update(self.extra_env)
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, *self.wrapper, self.tapstackd, "--config", self.config_path],
            stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tapstackd exited with status {self.proc.returncode} during start-up")
            if self._tap_up() and os.path.exists(self.socket_path):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"tapstackd not ready after {self.start_timeout}s "
                                   f"(tap up: {self._tap_up()}, socket: {os.path.exists(self.socket_path)})")
            time.sleep(0.05)
        if self.wait_ping and self.host_address:
            while True:
                r = self.run(["ping", "-c", "1", "-W", "1", self.address], check=False, timeout=5)
                if r.returncode == 0:
                    break
                if self.proc.poll() is not None:
                    raise RuntimeError(f"tapstackd exited with status {self.proc.returncode} during start-up")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"tapstackd does not answer ping at {self.address}")

    def _tap_up(self):
        r = _ip("-n", self.ns, "-o", "link", "show", "dev", self.tap, check=False)
        return r.returncode == 0 and re.search(r"<[^>]*\bUP\b", r.stdout) is not None

    @property
    def link_local6(self):
        """The daemon's link-local address (modified EUI-64 of its MAC)."""
        if self.mac:
            mac = [int(x, 16) for x in self.mac.split(":")]
        else:
            octets = [int(x) for x in self.address.split(".")]
            mac = [0x02, 0x74, 0x73] + octets[1:]
        mac[0] ^= 0x02
        iid = bytes(mac[:3]) + b"\xff\xfe" + bytes(mac[3:])
        return str(ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + iid))

    def wait_ping6(self, dest=None, timeout=10.0):
        """Waits until `dest` (default: address6) answers ping -6, i.e. the
        daemon's DAD has passed and the host's addresses are usable."""
        dest = dest or self.address6
        deadline = time.monotonic() + timeout
        while True:
            cmd = ["ping", "-6", "-n", "-c", "1", "-W", "1"]
            if dest.startswith("fe80:"):
                cmd += ["-I", self.tap]
            r = self.run(cmd + [dest], check=False, timeout=5)
            if r.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{dest} does not answer ping -6 after {timeout}s:\n"
                                     f"{(r.stdout or b'').decode()}{(r.stderr or b'').decode()}")
            time.sleep(0.2)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        """SIGTERM; waits up to `timeout`, then SIGKILL. Returns exit status
        (negative signal number if killed by a signal)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                print(f"harness: tapstackd ignored SIGTERM for {timeout}s; SIGKILL", file=sys.stderr)
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.exit_status = self.proc.returncode
        return self.exit_status

    def _teardown(self, failed):
        """Stops everything, deletes the namespace; returns the daemon's exit status."""
        status = None
        for child in self._children:
            try:
                # The whole process group: a shell pipeline's members too.
                os.killpg(child.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                child.wait(timeout=5)
            except Exception:  # teardown must go on
                pass
        try:
            if self.proc is not None:
                status = self.stop()
                if self.expect_exit_status is not None and status != self.expect_exit_status:
                    failed = True
                    print(f"harness: tapstackd exit status {status}", file=sys.stderr)
        except Exception:
            traceback.print_exc()
        if self._log_file:
            self._log_file.close()
            self._log_file = None
        if self.expect_no_seccomp_refusals:
            self._refusals = [l for l in self.log().splitlines() if "seccomp: refused system call" in l]
            failed = failed or bool(self._refusals)
        if failed and self.log_path and os.path.exists(self.log_path):
            sys.stderr.write(f"----- tapstackd log ({self.ns}) -----\n{self.log()}"
                             f"----- end of tapstackd log -----\n")
        if self._ns_created:
            for _ in range(3):
                if _ip("netns", "delete", self.ns, check=False).returncode == 0:
                    break
                time.sleep(0.2)
            else:
                print(f"harness: could not delete netns {self.ns}", file=sys.stderr)
            self._ns_created = False
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
        return status

    # ---- running things in the namespace --------------------------------

    def _wrap(self, cmd):
        return ["ip", "netns", "exec", self.ns, *cmd]

    def run(self, cmd, timeout=30, check=True, input=None, capture=True):
        """Runs `cmd` (a list) inside the namespace, bounded by `timeout`."""
        r = subprocess.run(self._wrap(cmd), timeout=timeout, input=input,
                           stdout=subprocess.PIPE if capture else None,
                           stderr=subprocess.PIPE if capture else None)
        if check and r.returncode != 0:
            out = (r.stdout or b"").decode(errors="replace")
            err = (r.stderr or b"").decode(errors="replace")
            raise AssertionError(f"{' '.join(cmd)} exited {r.returncode}\nstdout:\n{out}\nstderr:\n{err}")
        return r

    def popen(self, cmd, **kwargs):
        """Starts `cmd` inside the namespace in a process group of its own;
        the group is killed at teardown."""
        kwargs.setdefault("start_new_session", True)
        p = subprocess.Popen(self._wrap(cmd), **kwargs)
        self._children.append(p)
        return p

    def run_python(self, code, *args, timeout=30, check=True):
        """Runs Python `code` with /usr/bin/python3 (scapy available) in the namespace."""
        return self.run([PYTHON, "-c", code, *map(str, args)], timeout=timeout, check=check)

    def open_stream(self, port, timeout=10.0):
        """One stream from the namespace's kernel TCP (`nc ADDRESS PORT`) to an
        application on the API (`socat` sending `ACCEPT PORT`), with a LISTEN
        holder so the peer never connects before the port is held. Returns
        (app, peer), both Popen with stdin/stdout pipes, after the app read
        its OK line; both are killed at teardown."""
        unix = f"UNIX-CONNECT:{self.socket_path}"
        holder = self.popen(["socat", "-", unix], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        holder.stdin.write(f"LISTEN {port}\n".encode())
        holder.stdin.flush()
        if not holder.stdout.readline().startswith(b"OK "):
            raise AssertionError(f"LISTEN {port} refused")
        app = self.popen(["socat", "-", unix], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        app.stdin.write(f"ACCEPT {port}\n".encode())
        app.stdin.flush()
        peer = self.popen(["nc", self.address, str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
        if not app.stdout.readline().startswith(b"OK "):
            raise AssertionError(f"ACCEPT {port} got no connection")
        return app, peer

    def ping(self, count=1, size=None, interval=None, timeout=30, pattern=None, dest=None, check=True):
        cmd = ["ping", "-n", "-c", str(count), "-W", "2"]
        if size is not None:
            cmd += ["-s", str(size)]
        if interval is not None:
            cmd += ["-i", str(interval)]
        if pattern is not None:
            cmd += ["-p", pattern]
        cmd.append(dest or self.address)
        return self.run(cmd, timeout=timeout, check=check)

    # ---- the daemon's log and counters -----------------------------------

    def log(self):
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_log(self, regex, timeout=10.0, start=0):
        """Waits until `regex` matches the log after byte offset `start`."""
        pattern = re.compile(regex, re.M)
        deadline = time.monotonic() + timeout
        while True:
            m = pattern.search(self.log(), start)
            if m:
                return m
            if time.monotonic() > deadline:
                raise AssertionError(f"log never matched {regex!r} within {timeout}s")
            time.sleep(0.05)

    def counters(self, timeout=10.0):
        """Sends SIGUSR1 and returns the counters the daemon logs in answer."""
        if not self.alive():
            raise AssertionError("tapstackd is not running")
        start = len(self.log())
        self.proc.send_signal(signal.SIGUSR1)
        # Only a complete line: the daemon may be mid-write when we read.
        m = self.wait_log(r"counters: [^\n]*\n", timeout=timeout, start=start)
        return parse_counters(m.group(0).rstrip("\n"))


class Namespace:
    """One more network namespace (a router, a far host), beside a Daemon's.

    Named tapstack-<pid>-<n>-<random> like the Daemon's (so a killed run's
    leftovers are reaped the same way), with `lo` up; deleted, with every
    process popen() started in it, when the `with` block ends."""

    def __init__(self, label="ns"):
        self.label = label
        self.ns = f"tapstack-{os.getpid()}-{next(_counter)}-{random.randrange(1 << 24):06x}"
        self._children = []
        self._created = False

    def __enter__(self):
        reap_stale_namespaces()
        _ip("netns", "add", self.ns)
        self._created = True
        try:
            _ip("-n", self.ns, "link", "set", "lo", "up")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        for child in self._children:
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                child.wait(timeout=5)
            except Exception:  # teardown must go on
                pass
        if self._created:
            for _ in range(3):
                if _ip("netns", "delete", self.ns, check=False).returncode == 0:
                    break
                time.sleep(0.2)
            else:
                print(f"harness: could not delete netns {self.ns} ({self.label})", file=sys.stderr)
            self._created = False
        return False

    def _wrap(self, cmd):
        return ["ip", "netns", "exec", self.ns, *cmd]

    def run(self, cmd, timeout=30, check=True, input=None, capture=True):
        """Runs `cmd` (a list) inside the namespace, bounded by `timeout`."""
        r = subprocess.run(self._wrap(cmd), timeout=timeout, input=input,
                           stdout=subprocess.PIPE if capture else None,
                           stderr=subprocess.PIPE if capture else None)
        if check and r.returncode != 0:
            out = (r.stdout or b"").decode(errors="replace")
            err = (r.stderr or b"").decode(errors="replace")
            raise AssertionError(f"[{self.label}] {' '.join(cmd)} exited {r.returncode}\n"
                                 f"stdout:\n{out}\nstderr:\n{err}")
        return r

    def popen(self, cmd, **kwargs):
        """Starts `cmd` inside the namespace in a process group of its own;
        the group is killed when the namespace goes."""
        kwargs.setdefault("start_new_session", True)
        p = subprocess.Popen(self._wrap(cmd), **kwargs)
        self._children.append(p)
        return p

    def sysctl(self, name, value):
        self.run(["sysctl", "-q", "-w", f"{name}={value}"])


def veth(ns_a, if_a, cidr_a, ns_b, if_b, cidr_b, mtu=1500):
    """A veth pair from namespace `ns_a` (interface `if_a`, address
    `cidr_a`) to `ns_b`, both ends with `mtu`, both up. Namespaces are
    given by name (Daemon.ns, Namespace.ns); they own the pair, which goes
    with them."""
    _ip("-n", ns_a, "link", "add", if_a, "mtu", str(mtu), "type", "veth", "peer", "name", if_b,
        "netns", ns_b, "mtu", str(mtu))
    for ns, ifname, cidr in ((ns_a, if_a, cidr_a), (ns_b, if_b, cidr_b)):
        _ip("-n", ns, "address", "add", cidr, "dev", ifname)
        _ip("-n", ns, "link", "set", ifname, "up")


def run_tests(tests):
    """Runs each test function (no arguments), prints PASS/FAIL, exits 0 or 1."""
    require_root()
    failed = 0
    for t in tests:
        name = t.__name__
        print(f"--- {name}", flush=True)
        try:
            t()
            print(f"PASS {name}", flush=True)
        except Exception:
            failed += 1
            traceback.print_exc()
            print(f"FAIL {name}", flush=True)
    print(f"{len(tests) - failed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)
