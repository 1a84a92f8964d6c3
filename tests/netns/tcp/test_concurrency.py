#!/usr/bin/python3
"""200 concurrent connections, each moving 1 MiB both ways at the same
time, all exact; afterwards (past TIME-WAIT, msl 500 ms) the daemon holds
no state for them: STATS shows tcp.connections 0, no API streams and no
listeners.

Half of the connections are opened by the host toward a port the daemon
side holds with LISTEN and serves with ACCEPTs; the other half by the
daemon side (CONNECT) toward a host listener. Every stream carries a
header naming its sender, so each receiver checks exactly what it should
have got (length and SHA-256 of the whole 1 MiB).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import tcp_util as u  # noqa: E402

# One selectors loop drives all 400 endpoints (200 host sockets, 200 API
# connections).
DRIVER = r'''
import hashlib, json, os, selectors, socket, sys, time
api_path, daemon_ip, host_ip, n_each, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
DPORT, HPORT = 9100, 9101
base = os.urandom(size + 4096)

def payload(tag):
    # 16-byte header naming the sender, then bytes that depend on it.
    off = hashlib.sha256(tag.encode()).digest()[0] * 16
    return tag.encode().ljust(16, b".") + base[off: off + size - 16]

def payload_view(tag):
    return memoryview(payload(tag))

sel = selectors.DefaultSelector()
ends = []

class End:
    def __init__(self, sock, tag, api_line=None):
        self.sock = sock; self.tag = tag; self.api_line = api_line
        self.out = None; self.sent = 0; self.shut = False
        self.head = b""; self.hash = hashlib.sha256(); self.got = 0; self.eof = False
        self.reply = None if api_line else b""   # API ends first read their OK line
        self.error = None
        self.pre = b""
        sock.setblocking(False)
        ends.append(self)
        sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, self)

    def take(self, b):
        if len(self.head) < 16:
            self.head += b[: 16 - len(self.head)]
        self.hash.update(b); self.got += len(b)

    def step(self, mask):
        try:
            self._step(mask)
        except (ConnectionResetError, BrokenPipeError, ConnectionRefusedError) as e:
            # Recorded, not raised: the summary names every endpoint hit.
            self.error = f"{type(e).__name__} after sending {self.sent} and receiving {self.got}"
            self.eof = self.shut = True
            sel.unregister(self.sock)

    def _step(self, mask):
        if mask & selectors.EVENT_READ and not self.eof:
            try:
                b = self.sock.recv(262144)
            except (BlockingIOError, InterruptedError):
                b = None
            if b is not None:
                if not b:
                    self.eof = True
                elif self.reply is None:
                    self.pre += b
                    if b"\n" in self.pre:
                        line, _, rest = self.pre.partition(b"\n")
                        if not line.startswith(b"OK "):
                            raise SystemExit(f"{self.tag}: {line!r}")
                        self.reply = line
                        if rest:
                            self.take(rest)
                else:
                    self.take(b)
        if mask & selectors.EVENT_WRITE and self.reply is not None and not self.shut:
            if self.out is None:
                self.out = payload_view(self.tag)  # built only while sending
            if self.sent < len(self.out):
                try:
                    self.sent += self.sock.send(self.out[self.sent: self.sent + 262144])
                except (BlockingIOError, InterruptedError):
                    pass
            if self.sent == len(self.out):
                self.sock.shutdown(socket.SHUT_WR); self.shut = True; self.out = None
        events = (0 if self.eof else selectors.EVENT_READ) | \
                 (selectors.EVENT_WRITE if self.reply is not None and not self.shut else 0) | \
                 (selectors.EVENT_READ if self.reply is None else 0)
        if events:
            sel.modify(self.sock, events, self)
        else:
            sel.unregister(self.sock)

def api(line):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(api_path)
    s.sendall(line.encode() + b"\n")
    return s

# The daemon side holds DPORT and waits in n_each ACCEPTs.
holder = api(f"LISTEN {DPORT}")
holder.settimeout(10)
assert holder.recv(100).startswith(b"OK "), "LISTEN failed"
for i in range(n_each):
    End(api(f"ACCEPT {DPORT}"), f"dacc{i}", api_line=True)
# The host listens on HPORT for the daemon side's CONNECTs.
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((host_ip, HPORT)); ls.listen(1024); ls.setblocking(False)
sel.register(ls, selectors.EVENT_READ, "listener")
for i in range(n_each):
    End(api(f"CONNECT {host_ip} {HPORT}"), f"dcon{i}", api_line=True)
for i in range(n_each):
    c = socket.socket()
    c.setblocking(False)
    c.connect_ex((daemon_ip, DPORT))
    End(c, f"hcon{i}")
accepted = 0
deadline = time.monotonic() + float(os.environ.get("DEADLINE", "150"))
while time.monotonic() < deadline:
    if all(e.eof and e.shut for e in ends) and accepted == n_each:
        break
    for key, mask in sel.select(timeout=1.0):
        if key.data == "listener":
            while True:
                try:
                    c, _ = ls.accept()
                except BlockingIOError:
                    break
                accepted += 1
                End(c, f"hacc{accepted}")
        else:
            key.data.step(mask)

# Pair check: each receiver must hold exactly the payload of the sender
# named in its first 16 bytes, and every sender must be heard exactly once.
problems = []
heard = {}
for e in ends:
    if e.error:
        problems.append(f"{e.tag}: {e.error}")
        continue
    if not (e.eof and e.shut):
        problems.append(f"{e.tag}: unfinished (sent {e.sent}, got {e.got}, eof {e.eof})")
        continue
    sender = e.head.rstrip(b".").decode(errors="replace")
    heard[sender] = heard.get(sender, 0) + 1
    if e.got != size or e.hash.digest() != hashlib.sha256(payload(sender)).digest():
        problems.append(f"{e.tag}: got {e.got} bytes from {sender!r}, not its exact payload")
for e in ends:
    if heard.get(e.tag) != 1:
        problems.append(f"{e.tag}'s data was received {heard.get(e.tag, 0)} times")
for e in ends:
    e.sock.close()
holder.close()
print(json.dumps({"endpoints": len(ends), "accepted": accepted, "problems": problems[:20],
                  "problem_count": len(problems)}), flush=True)
'''


def test_200_concurrent_connections_1_mib_each_way_exact_then_no_state_left():
    n_each = 100
    with harness.Daemon(log_level="info", extra_yaml=u.FAST_TCP_YAML) as d:
        t0 = time.monotonic()
        r = u.run_python_json(d, DRIVER, d.socket_path, d.address, d.host_address, n_each, 1 << 20, timeout=200)
        print(f"driver: {r['endpoints']} endpoints, {r['accepted']} host accepts, "
              f"{time.monotonic() - t0:.1f} s", flush=True)
        if r["problem_count"]:
            s = u.stats(d)
            print("daemon counters: " + " ".join(f"{k}={v}" for k, v in sorted(s.items()) if v), flush=True)
        assert r["problem_count"] == 0, r
        assert r["endpoints"] == 4 * n_each
        u.wait_quiet(d, timeout=20)
        s = u.stats(d)
        interesting = ("retrans", "rto", "drop", "timed_out", "reset", "beyond", "dup")
        noted = [f"{k}={v}" for k, v in sorted(s.items()) if v and any(w in k for w in interesting)]
        print("daemon counters: " + " ".join(noted), flush=True)
        assert s["tcp.connections"] == 0 and s["api.streams"] == 0, s
        assert s["api.streams_orderly"] >= 2 * n_each, s
        assert s["api.clients"] == 1, s  # only the STATS request itself


if __name__ == "__main__":
    harness.run_tests([test_200_concurrent_connections_1_mib_each_way_exact_then_no_state_left])
