#!/usr/bin/python3
"""SIGTERM stops tapstackd gracefully (README "Signals", PROTOCOL.md):
requests that would start something get `ERR shutting-down`, every stream
gets FIN after what its application wrote, and the streams have
api.drain_timeout to finish, every byte the peer sends reaching the
application; then what is left is reset and the daemon exits 0. A second
SIGTERM, or SIGINT, stops at once.

The peer is the namespace's Linux TCP (a Python program); the application
speaks the API from this process. Every transfer is checked with SHA-256
over exact byte counts, every wait is bounded.
"""
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import tcp_util as u  # noqa: E402

PORT = 9100

# The peer: accepts one connection, sends `down` bytes (a seeded pattern) at
# about `rate` bytes/s then FIN, and reads what arrives (slowly, at `rate`)
# until EOF; with `hold`, it never closes: after EOF it keeps sending a
# little until the connection breaks. Prints JSON.
PEER = r'''
import hashlib, json, random, socket, sys, threading, time
port, down, rate, hold = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "hold"
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("10.0.0.1", port))
srv.listen(1)
srv.settimeout(20)
c, _ = srv.accept()
c.settimeout(60)
data = random.Random(7).randbytes(down)
result = {"sent_sha": hashlib.sha256(data).hexdigest(), "sent": down}
def sender():
    try:
        for off in range(0, down, 16384):
            c.sendall(data[off:off + 16384])
            time.sleep(16384 / rate)
        if not hold:
            c.shutdown(socket.SHUT_WR)
    except OSError as e:
        result["send_error"] = type(e).__name__
t = threading.Thread(target=sender)
t.start()
h = hashlib.sha256()
n = 0
try:
    while True:
        b = c.recv(16384)
        if not b:
            break
        h.update(b)
        n += len(b)
        time.sleep(len(b) / rate)
    result["eof_at"] = time.monotonic()
except OSError as e:
    result["recv_error"] = type(e).__name__
t.join()
result["got_sha"], result["got"] = h.hexdigest(), n
if hold:
    # Never closes: writes on until the daemon's reset breaks the connection.
    try:
        while True:
            c.send(b"more")
            time.sleep(0.05)
    except OSError as e:
        result["broken_by"] = type(e).__name__
        result["broken_at"] = time.monotonic()
print(json.dumps(result))
'''


def start_peer(d, down, rate, hold=False):
    p = u.popen_python(d, PEER, PORT, down, rate, "hold" if hold else "close")
    u.wait_host_listening(d, PORT)
    return p


class App:
    """A stream through the API: uploads `up` (all written before it
    returns from start()), reads everything to EOF in a thread."""

    def __init__(self, d, up):
        self.sock, reply, rest = api_open(d.socket_path, f"CONNECT 10.0.0.1 {PORT}")
        assert reply.startswith("OK "), reply
        self.id = int(reply.split("id=")[1].split()[0])
        self.got = bytearray(rest)
        self.eof = False
        self.reader = threading.Thread(target=self._read)
        self.reader.start()
        self.sock.sendall(up)

    def _read(self):
        try:
            while True:
                b = self.sock.recv(65536)
                if not b:
                    self.eof = True
                    return
                self.got += b
        except OSError:
            return

    def finish(self, timeout):
        self.reader.join(timeout)
        assert not self.reader.is_alive(), "the application never saw EOF"
        self.sock.close()


def api_open(path, line, timeout=30):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall(line.encode() + b"\n")
    buf = b""
    while b"\n" not in buf:
        b = s.recv(4096)
        if not b:
            break
        buf += b
    reply, _, rest = buf.partition(b"\n")
    return s, reply.decode(), rest


def api_line(d, line):
    s, reply, _ = api_open(d.socket_path, line, timeout=5)
    s.close()
    return reply


def wait_exit(d, timeout):
    t0 = time.monotonic()
    try:
        d.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"tapstackd still running {timeout}s after the signal")
    return d.proc.returncode, time.monotonic() - t0


def daemon(drain):
    return u.ApiDaemon(log_level="info", extra_yaml=u.FAST_TCP_YAML, api_options={"drain_timeout": drain})


def test_sigterm_lets_a_transfer_in_flight_both_ways_complete_exactly():
    up = os.urandom(1 << 20)
    with daemon("8s") as d:
        peer = start_peer(d, down=3 << 20, rate=1 << 20)
        app = App(d, up)  # returns once the whole upload is written: it is in flight now
        time.sleep(0.3)
        assert len(app.got) < 3 << 20, "the download finished before SIGTERM; the test proves nothing"
        t0 = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        # Meanwhile: new streams are refused, questions answered.
        refused = api_line(d, f"CONNECT 10.0.0.1 {PORT}")
        assert refused.startswith("ERR shutting-down"), refused
        st = api_line(d, f"STATUS {app.id}")
        assert st.startswith(f"OK id={app.id} outcome=open"), st
        res = u.json_of(peer, 30, "the peer")
        app.finish(10)
        rc, _ = wait_exit(d, 10)
        elapsed = time.monotonic() - t0
        d.wait_log(r"SIGTERM: stopping gracefully")
        d.wait_log(r"every stream has finished")
        assert rc == 0, f"exit status {rc}"
        assert elapsed < 8.0, f"stopped after {elapsed:.1f}s, past the 8s drain timeout"
        assert res["got"] == len(up) and res["got_sha"] == hashlib.sha256(up).hexdigest(), \
            f"the peer got {res['got']} of {len(up)} bytes (sha match: {res['got_sha'] == hashlib.sha256(up).hexdigest()})"
        got = bytes(app.got)
        assert app.eof and len(got) == res["sent"] and hashlib.sha256(got).hexdigest() == res["sent_sha"], \
            f"the application got {len(got)} of {res['sent']} bytes, eof={app.eof}"
        print(f"  info: stopped {elapsed:.2f}s after SIGTERM; {len(up)} bytes up, {len(got)} down, exact")


def test_a_stream_whose_peer_never_closes_is_reset_at_the_drain_timeout():
    with daemon("2s") as d:
        peer = start_peer(d, down=64 << 10, rate=4 << 20, hold=True)
        app = App(d, b"hello")
        u.wait_for(lambda: len(app.got) >= 64 << 10, 10, "the first data")
        t0 = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        rc, _ = wait_exit(d, 10)
        elapsed = time.monotonic() - t0
        res = u.json_of(peer, 10, "the peer")
        app.finish(5)
        assert rc == 0, f"exit status {rc}"
        assert 1.8 <= elapsed < 3.5, f"stopped {elapsed:.2f}s after SIGTERM, expected about the 2s drain timeout"
        assert "eof_at" in res, f"the peer saw our FIN: {res}"
        assert res.get("broken_by") in ("ConnectionResetError", "BrokenPipeError"), f"the peer was reset: {res}"
        assert res["broken_at"] - res["eof_at"] >= 1.5, f"FIN at once, RST only at the timeout: {res}"
        got = bytes(app.got)
        expected_start = __import__("random").Random(7).randbytes(64 << 10)
        assert got[:len(expected_start)] == expected_start, "the application's bytes are the peer's, in order"
        assert got[len(expected_start):] == b"more" * ((len(got) - len(expected_start)) // 4), \
            "after the data only the peer's later writes"
        d.wait_log(r"api.drain_timeout \(2000 ms\): resetting")


def test_a_second_sigterm_stops_at_once():
    with daemon("30s") as d:
        peer = start_peer(d, down=16 << 10, rate=4 << 20, hold=True)
        app = App(d, b"x")
        u.wait_for(lambda: len(app.got) >= 16 << 10, 10, "the first data")
        d.proc.send_signal(signal.SIGTERM)
        d.wait_log(r"SIGTERM: stopping gracefully")
        time.sleep(0.3)
        assert d.alive(), "the first SIGTERM waits for the stream"
        t0 = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        rc, _ = wait_exit(d, 5)
        elapsed = time.monotonic() - t0
        res = u.json_of(peer, 10, "the peer")
        app.finish(5)
        assert rc == 0 and elapsed < 1.5, f"exit {rc} {elapsed:.2f}s after the second SIGTERM"
        assert res.get("broken_by") in ("ConnectionResetError", "BrokenPipeError"), f"the peer was reset: {res}"


def test_sigint_stops_at_once():
    with daemon("30s") as d:
        peer = start_peer(d, down=16 << 10, rate=4 << 20, hold=True)
        app = App(d, b"x")
        u.wait_for(lambda: len(app.got) >= 16 << 10, 10, "the first data")
        t0 = time.monotonic()
        d.proc.send_signal(signal.SIGINT)
        rc, _ = wait_exit(d, 5)
        elapsed = time.monotonic() - t0
        res = u.json_of(peer, 10, "the peer")
        app.finish(5)
        assert rc == 0 and elapsed < 1.5, f"exit {rc} {elapsed:.2f}s after SIGINT"
        assert "eof_at" not in res or res.get("broken_at", 0) - res["eof_at"] < 1.0, f"no graceful phase: {res}"
        assert res.get("broken_by") in ("ConnectionResetError", "BrokenPipeError"), f"the peer was reset: {res}"


def test_sigterm_with_nothing_open_stops_at_once():
    with daemon("5s") as d:
        holder, reply, _ = api_open(d.socket_path, "LISTEN 7000")
        assert reply.startswith("OK"), reply
        t0 = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        rc, _ = wait_exit(d, 5)
        elapsed = time.monotonic() - t0
        assert rc == 0 and elapsed < 1.0, f"exit {rc} {elapsed:.2f}s after SIGTERM with only a listener"
        assert holder.recv(100) == b"", "the LISTEN holder sees EOF"
        holder.close()


if __name__ == "__main__":
    harness.run_tests([
        test_sigterm_lets_a_transfer_in_flight_both_ways_complete_exactly,
        test_a_stream_whose_peer_never_closes_is_reset_at_the_drain_timeout,
        test_a_second_sigterm_stops_at_once,
        test_sigint_stops_at_once,
        test_sigterm_with_nothing_open_stops_at_once,
    ])
