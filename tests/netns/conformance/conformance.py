"""Runner and fixtures for the packet-level conformance checks.

Theory of operation
-------------------
A test file declares named checks (`@suite.check("RFC 9293 3.5.2: ...")`),
each a function of one `Env`: a real tapstackd in a fresh namespace
(tests/netns/harness.py, used unchanged), a scripted `Peer` on its TAP and
helpers for the daemon-side application, which speaks the Unix-socket API
of daemon/api/PROTOCOL.md directly (LISTEN / ACCEPT / CONNECT / STATUS), so
one Python process plays both ends and can decide exactly when the
application reads, stops reading or closes.

Every check prints `PASS <name>` or `FAIL <name>` followed by what was
expected, what was seen and the frames exchanged during the check (the
peer's log). A failure never stops the suite: the next check runs, on a
fresh daemon if the previous one died (a crash is itself reported against
the check that caused it, with the daemon's last log lines). The file
exits 1 if any check failed.

The harness lacks a way to reach the TAP from the test process; that is
what peer.packet_socket_in_netns adds (setns around socket creation), and
`Env` wraps harness.Daemon rather than changing it (ConfDaemon adds keys
to the `ipv4:` section, which the harness writes itself). When a daemon is
retired, its exit status on SIGTERM must be 0: a sanitizer report or leak
in an ASan build fails the last check that ran on it.

By hand (as root), e.g. against a sanitizer build:
    TAPSTACKD=BUILD/daemon/tapstackd TAPSTACK=BUILD/daemon/cli/tapstack \\
    PYTHONPATH=tests/netns/conformance:tests/netns \\
    /usr/bin/python3 tests/netns/conformance/test_tcp_data.py
"""

import random
import re
import socket
import sys
import time
import traceback

import harness
from peer import ACK, FIN, PSH, SYN, Peer, flags_of, is_tcp, opt_mss  # noqa: F401

DUT_MAC = "02:00:00:00:00:02"
PEER_MAC = "02:00:00:00:00:99"
PEER_IP = "10.0.0.99"      # a spare address: the kernel does not own it
OTHER_IP = "10.0.0.77"     # nobody's address
LISTEN_PORT = 7


class CheckFailed(AssertionError):
    pass


def expect(cond, expected, seen):
    """Fails the running check with `expected` vs `seen` unless `cond`."""
    if not cond:
        raise CheckFailed(f"expected: {expected}\n  seen:     {seen}")


def seq_add(a, n):
    return (a + n) & 0xFFFFFFFF


def seq_diff(a, b):
    """a - b as a signed 32-bit sequence distance."""
    d = (a - b) & 0xFFFFFFFF
    return d - (1 << 32) if d >= 1 << 31 else d


# ---- the daemon-side application (API client) -----------------------------------

class AppStream:
    """One Unix connection to the API, after its request line was sent."""

    def __init__(self, path, line, timeout=10.0):
        self.line = line
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.sock.sendall(line.encode() + b"\n")
        self.buf = b""
        self.reply = None
        self.eof = False

    def wait_reply(self, timeout=10.0):
        """The reply line (blocks up to `timeout`); None if none came."""
        if self.reply is not None:
            return self.reply
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                b = self.sock.recv(4096)
            except socket.timeout:
                return None
            except ConnectionResetError:
                b = b""
            if not b:
                self.reply = self.buf.decode(errors="replace") or "<closed without a reply>"
                self.buf = b""
                self.eof = True
                return self.reply
            self.buf += b
        line, _, self.buf = self.buf.partition(b"\n")
        self.reply = line.decode(errors="replace")
        return self.reply

    @property
    def conn_id(self):
        m = re.search(r"id=(\d+)", self.reply or "")
        return int(m.group(1)) if m else None

    def read(self, n=None, timeout=2.0):
        """Up to `n` bytes (all available when None) within `timeout`;
        stops early at EOF. Sets .eof."""
        out = self.buf
        self.buf = b""
        deadline = time.monotonic() + timeout
        first = True
        while (n is None or len(out) < n) and not self.eof:
            left = deadline - time.monotonic()
            if left <= 0 and not first:
                break
            first = False
            self.sock.settimeout(max(left, 0.0))  # 0: one non-blocking attempt
            try:
                b = self.sock.recv(65536 if n is None else max(1, n - len(out)))
            except (socket.timeout, BlockingIOError):
                if left <= 0:
                    break
                continue
            except ConnectionResetError:
                self.eof = True
                break
            if not b:
                self.eof = True
                break
            out += b
        return out

    def read_until_eof(self, timeout=5.0):
        out = b""
        deadline = time.monotonic() + timeout
        while not self.eof and time.monotonic() < deadline:
            out += self.read(None, timeout=max(0.01, deadline - time.monotonic()))
        return out

    def send(self, data):
        self.sock.sendall(data)

    def shutdown_write(self):
        self.sock.shutdown(socket.SHUT_WR)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---- the environment ---------------------------------------------------------------

class ConfDaemon(harness.Daemon):
    """harness.Daemon plus extra keys in the `ipv4:` section, which the
    harness writes itself (its extra_yaml only appends whole sections)."""

    def __init__(self, *args, ipv4_extra="", **kwargs):
        super().__init__(*args, **kwargs)
        self.ipv4_extra = ipv4_extra

    def config_text(self):
        text = super().config_text()
        line = f"  address: {self.address_cidr}\n"
        if self.ipv4_extra:
            assert line in text, "harness config layout changed"
            text = text.replace(line, line + self.ipv4_extra, 1)
        return text


class Env:
    """tapstackd in its namespace + the scripted peer + a held listener."""

    def __init__(self, extra_yaml="", mtu=1500, listen=True, ipv4_extra=""):
        self.daemon = ConfDaemon(mac=DUT_MAC, mtu=mtu, extra_yaml=extra_yaml, log_level="info",
                                 ipv4_extra=ipv4_extra)
        self.daemon.expect_exit_status = None  # a crash is reported by the check, not by teardown
        self.daemon.__enter__()
        try:
            self.peer = Peer(self.daemon.ns, self.daemon.tap, PEER_MAC, PEER_IP, DUT_MAC, self.daemon.address)
            self.holder = None
            self._ports = random.Random().randrange(20000, 40000)
            if listen:
                self.holder = self.listen(LISTEN_PORT)
        except BaseException:
            self.daemon.__exit__(*sys.exc_info())
            raise

    @property
    def dut_ip(self):
        return self.daemon.address

    def next_port(self):
        self._ports += 1
        return self._ports

    def api(self, line):
        return AppStream(self.daemon.socket_path, line)

    def listen(self, port):
        h = self.api(f"LISTEN {port}")
        reply = h.wait_reply(5)
        if not reply or not reply.startswith("OK"):
            raise RuntimeError(f"LISTEN {port}: {reply!r}")
        return h

    def status(self, conn_id):
        s = self.api(f"STATUS {conn_id}")
        r = s.wait_reply(5)
        s.close()
        return r

    def stats(self):
        s = self.api("STATS")
        out = {}
        if (s.wait_reply(5) or "").startswith("OK"):
            for line in s.read_until_eof(5).decode().splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[1].isdigit():
                    out[parts[0]] = int(parts[1])
        s.close()
        return out

    def alive(self):
        return self.daemon.alive()

    def reply(self, app, timeout=5.0):
        """app.wait_reply while the peer keeps reading (answers ARP, logs)."""
        deadline = time.monotonic() + timeout
        while True:
            r = app.wait_reply(0.05)
            if r is not None or time.monotonic() >= deadline:
                return r
            self.peer.drain(0.05)

    def close(self):
        """Stops everything; returns None if tapstackd exited with status 0
        on SIGTERM, else a description with its log tail (sanitizer
        reports and leaks show up here)."""
        try:
            self.peer.close()
        except Exception:
            pass
        if self.holder:
            self.holder.close()
        problem = None
        try:
            status = self.daemon.stop()
            if status != 0:
                tail = "\n".join(self.daemon.log().splitlines()[-40:])
                problem = f"tapstackd exit status {status} at shutdown; log tail:\n{tail}"
        finally:
            self.daemon.__exit__(None, None, None)
        return problem


class Conn:
    """Sequence bookkeeping of one scripted TCP connection (peer's view).

    snd_nxt: next sequence number the peer sends; rcv_nxt: next one it
    expects from the daemon; sport: the peer's port, dport: the daemon's."""

    def __init__(self, env, sport, dport, iss):
        self.env, self.peer = env, env.peer
        self.sport, self.dport = sport, dport
        self.iss = iss
        self.snd_nxt = seq_add(iss, 1)
        self.irs = None
        self.rcv_nxt = None
        self.app = None
        self.win = 65535
        self.last = None  # the daemon's last segment on this connection

    def match(self, p):
        return is_tcp(self.dport, self.sport)(p)

    def send(self, flags=ACK, data=b"", seq=None, ack=None, win=None, **kw):
        self.peer.send_tcp(self.sport, self.dport, self.snd_nxt if seq is None else seq,
                           self.rcv_nxt if ack is None else ack, flags,
                           self.win if win is None else win, payload=data, **kw)

    def send_data(self, data, flags=ACK | PSH):
        self.send(flags, data)
        self.snd_nxt = seq_add(self.snd_nxt, len(data) + (1 if flags & FIN else 0))

    def expect(self, pred=lambda p: True, timeout=3.0):
        p = self.peer.expect(lambda q: self.match(q) and pred(q), timeout)
        if p is not None:
            self.last = p
        return p

    def collect(self, pred=lambda p: True, timeout=1.0):
        return self.peer.collect(lambda q: self.match(q) and pred(q), timeout)

    def expect_ack(self, ack, timeout=3.0):
        """The daemon's segment acknowledging exactly `ack`, or None."""
        return self.expect(lambda p: flags_of(p) & ACK and p["TCP"].ack == ack, timeout)


def open_passive(env, options=None, port=LISTEN_PORT, win=65535, accept=True, syn_win=65535):
    """Handshake from the peer to the daemon's listener; with `accept`,
    the daemon-side application's stream (ACCEPT) is in conn.app. `win`
    is the window field of the peer's segments after the SYN."""
    p = env.peer
    sport = env.next_port()
    iss = random.randrange(1 << 32)
    c = Conn(env, sport, port, iss)
    c.win = win
    p.send_tcp(sport, port, iss, 0, SYN, syn_win, options=opt_mss(1460) if options is None else options)
    synack = c.expect(lambda q: flags_of(q) & (SYN | ACK) == SYN | ACK, 3)
    expect(synack is not None, f"SYN-ACK to SYN from port {sport}", "nothing")
    expect(synack["TCP"].ack == c.snd_nxt, f"SYN-ACK ack={c.snd_nxt}", f"ack={synack['TCP'].ack}")
    c.irs = synack["TCP"].seq
    c.rcv_nxt = seq_add(c.irs, 1)
    c.synack = synack
    c.send(ACK)
    if accept:
        c.app = env.api(f"ACCEPT {port} timeout=5")
        reply = c.app.wait_reply(6)
        expect(reply is not None and reply.startswith("OK") and f":{sport}" in reply,
               f"ACCEPT returns the connection from {PEER_IP}:{sport}", repr(reply))
    return c


class Suite:
    def __init__(self, name, env_factory):
        self.name = name
        self.env_factory = env_factory
        self.checks = []

    def check(self, name, fresh=False, env_factory=None):
        """Registers a check; `fresh` (or an `env_factory` of its own, e.g.
        for another config) gives it a daemon of its own."""
        def deco(fn):
            self.checks.append((name, fn, fresh or env_factory is not None, env_factory))
            return fn
        return deco

    def run(self):
        harness.require_root()
        env = None
        passed = failed = 0
        started = time.monotonic()

        def close_env(last_check):
            # A daemon that does not exit cleanly (crash, sanitizer report,
            # leak) fails the last check that ran on it.
            nonlocal failed
            was_alive = env.alive()  # a death during a check was reported by that check
            problem = env.close()
            if problem and was_alive:
                failed += 1
                print(f"FAIL {last_check} (daemon shutdown)\n  expected: tapstackd exits 0 on SIGTERM\n"
                      f"  seen:     {problem}", flush=True)

        last = None
        try:
            for name, fn, fresh, factory in self.checks:
                print(f"--- {name}", flush=True)
                if env is not None and (fresh or not env.alive()):
                    close_env(last)
                    env = None
                try:
                    if env is None:
                        env = (factory or self.env_factory)()
                except Exception:
                    failed += 1
                    print(f"FAIL {name}\n  could not start the daemon:\n{traceback.format_exc()}", flush=True)
                    continue
                last = name
                mark = env.peer.mark()
                try:
                    fn(env)
                    if not env.alive():
                        raise CheckFailed(f"expected: tapstackd still running\n  seen:     it exited "
                                          f"with status {env.daemon.proc.returncode}")
                    passed += 1
                    print(f"PASS {name}", flush=True)
                except Exception as e:
                    failed += 1
                    detail = str(e) if isinstance(e, CheckFailed) else traceback.format_exc()
                    try:
                        env.peer.drain(0.3)  # frames that came while the check was not reading
                    except Exception:
                        pass
                    print(f"FAIL {name}\n  {detail}\n  frames (> peer to daemon, < daemon to peer):\n"
                          f"{env.peer.evidence(mark)}", flush=True)
                    if not env.alive():
                        tail = "\n".join(env.daemon.log().splitlines()[-30:])
                        print(f"  tapstackd died (status {env.daemon.proc.returncode}); log tail:\n{tail}",
                              flush=True)
                if fresh:
                    close_env(name)
                    env = None
        finally:
            if env is not None:
                close_env(last)
        print(f"{self.name}: {passed} passed, {failed} failed ({time.monotonic() - started:.1f}s)", flush=True)
        sys.exit(1 if failed else 0)
