#!/usr/bin/python3
"""Stream behaviours between the namespace's Linux TCP and daemon-side
applications:

* the benchmark pattern of the original report (client writes 6000 bytes
  1000 times and closes; the server reads exactly 6,000,000 bytes), with
  the daemon side as server and as client;
* a slow reader: the daemon-side application reads 4 MiB at ~400 KiB/s
  while the peer has sent everything and closed; every byte arrives, no
  RST either way, and a sniffer on the TAP's kernel side sees the daemon's
  window close (below one segment; usually exactly zero) and later open
  again;
* half-close both ways: a request, shutdown(SHUT_WR), the other side reads
  to EOF and only then sends a 1 MiB reply, which arrives whole.
"""
import hashlib
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import tcp_util as u  # noqa: E402

BENCH_TOTAL = 6000 * 1000

# Host-side benchmark client: 1000 writes of 6000 bytes, then close().
BENCH_CLIENT = r'''
import hashlib, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
c = socket.create_connection((host, port), timeout=60)
h = hashlib.sha256()
for i in range(1000):
    block = bytes([i % 251]) * 6000
    c.sendall(block)
    h.update(block)
c.close()
print(h.hexdigest(), flush=True)
'''

# Daemon-side benchmark client over the API: CONNECT, 1000 x 6000, close().
BENCH_API_CLIENT = u.API_CLIENT_SNIPPET + r'''
import hashlib, sys
path, host, port = sys.argv[1], sys.argv[2], sys.argv[3]
s, reply, rest = api_open(path, f"CONNECT {host} {port}")
assert reply.startswith("OK "), reply
h = hashlib.sha256()
for i in range(1000):
    block = bytes([i % 251]) * 6000
    s.sendall(block)
    h.update(block)
s.close()
print(h.hexdigest(), flush=True)
'''

# Host-side server that reads to EOF and reports (count, sha256).
READ_ALL_SERVER = r'''
import hashlib, json, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((host, port)); ls.listen(1)
print("ready", flush=True)
c, _ = ls.accept()
c.settimeout(60)
h = hashlib.sha256(); n = 0
while True:
    b = c.recv(1 << 16)
    if not b:
        break
    h.update(b); n += len(b)
c.close()
print(json.dumps({"bytes": n, "sha": h.hexdigest()}), flush=True)
'''


def expected_bench_sha():
    h = hashlib.sha256()
    for i in range(1000):
        h.update(bytes([i % 251]) * 6000)
    return h.hexdigest()


def test_benchmark_pattern_daemon_side_server_reads_exactly_6000000_bytes():
    with harness.Daemon(log_level="info", extra_yaml=u.FAST_TCP_YAML) as d:
        out = os.path.join(d.workdir, "bench.bin")
        app = u.start_listen(d, 8001, stdin=subprocess.DEVNULL, stdout=open(out, "wb"))
        r = d.run([u.PYTHON, "-c", BENCH_CLIENT, d.address, "8001"], timeout=60)
        sent_sha = r.stdout.decode().strip()
        rc, err = u.finish(app, 60, "tapstack listen")
        assert rc == 0, f"tapstack listen exited {rc}: {err}"
        sha, n = u.sha256_file(out)
        assert n == BENCH_TOTAL, f"server read {n} bytes, expected {BENCH_TOTAL}"
        assert sha == sent_sha == expected_bench_sha()
        u.wait_quiet(d)


def test_benchmark_pattern_daemon_side_client_delivers_exactly_6000000_bytes():
    with harness.Daemon(log_level="info", extra_yaml=u.FAST_TCP_YAML) as d:
        srv = u.popen_python(d, READ_ALL_SERVER, d.host_address, 8002)
        assert srv.stdout.readline().strip() == b"ready"
        r = d.run([u.PYTHON, "-c", BENCH_API_CLIENT, d.socket_path, d.host_address, "8002"], timeout=60)
        sent_sha = r.stdout.decode().strip()
        got = u.json_of(srv, 60, "host server")
        assert got["bytes"] == BENCH_TOTAL, got
        assert got["sha"] == sent_sha == expected_bench_sha()
        u.wait_quiet(d)


# Captures TCP headers on the TAP's kernel side (AF_PACKET sees both
# directions) until the file argv[4] exists; reports the daemon's window
# advertisements (scaled by the shift its SYN carried, RFC 7323 2.3) and
# any RST. "Closed" means less than one full segment (1460 bytes) of
# window: a window of a few bytes left is not shrunk to 0 (RFC 9293
# 3.8.6 SHLD-14), yet no full segment fits.
SNIFFER = r"""
import json, os, socket, struct, sys, time
tap, daemon_ip, port, stop_file = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
s.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE (root): no drops under load
s.bind((tap, 0))
s.settimeout(0.2)
open(stop_file + ".ready", "w").close()
daemon = socket.inet_aton(daemon_ip)
shift = 0
zero = closed = reopened = rst = segs = 0
is_closed = False; smallest = None
deadline = time.monotonic() + 120
while time.monotonic() < deadline and not os.path.exists(stop_file):
    try:
        f = s.recv(65600)
    except socket.timeout:
        continue
    if len(f) < 14 + 20 + 20 or f[12:14] != b"\x08\x00":
        continue
    ip = f[14:]
    ihl = (ip[0] & 0x0f) * 4
    if ip[9] != 6:
        continue
    tcp = ip[ihl:]
    sport, dport = struct.unpack("!HH", tcp[0:4])
    if port not in (sport, dport):
        continue
    flags = tcp[13]
    win = struct.unpack("!H", tcp[14:16])[0]
    if flags & 0x04:
        rst += 1
    if ip[12:16] != daemon or sport != port:
        continue
    segs += 1
    if flags & 0x02:  # the daemon's SYN-ACK: its window scale option
        opts = tcp[20:(tcp[12] >> 4) * 4]
        i = 0
        while i < len(opts):
            kind = opts[i]
            if kind == 0:
                break
            if kind == 1:
                i += 1
                continue
            if i + 1 >= len(opts) or opts[i + 1] < 2:
                break
            if kind == 3 and opts[i + 1] == 3:
                shift = min(opts[i + 2], 14)
            i += opts[i + 1]
        continue
    if flags & 0x10 and not flags & 0x01:
        wbytes = win << shift
        smallest = wbytes if smallest is None else min(smallest, wbytes)
        if wbytes == 0:
            zero += 1
        if wbytes < 1460:
            closed += 1; is_closed = True
        elif is_closed:
            reopened += 1; is_closed = False
packets, drops = struct.unpack("II", s.getsockopt(263, 6, 8))  # SOL_PACKET, PACKET_STATISTICS
print(json.dumps({"closed": closed, "zero_window": zero, "reopened": reopened, "rst": rst,
                  "daemon_segments": segs, "window_shift": shift, "smallest_window": smallest,
                  "capture_drops": drops}), flush=True)
"""

# Daemon-side slow reader: ACCEPT, then read at ~rate bytes/s until EOF.
SLOW_READER = u.API_CLIENT_SNIPPET + r'''
import hashlib, json, sys, time
path, port, rate = sys.argv[1], sys.argv[2], int(sys.argv[3])
s, reply, rest = api_open(path, f"ACCEPT {port}", timeout=120)
assert reply.startswith("OK "), reply
print("accepted", flush=True)
h = hashlib.sha256(); h.update(rest); n = len(rest)
start = time.monotonic()
while True:
    b = s.recv(16384)
    if not b:
        break
    h.update(b); n += len(b)
    ahead = n / rate - (time.monotonic() - start)
    if ahead > 0:
        time.sleep(ahead)
s.close()
print(json.dumps({"bytes": n, "sha": h.hexdigest(), "seconds": time.monotonic() - start}), flush=True)
'''

# Host-side sender: connect, send the file, close() at once.
SEND_FILE_AND_CLOSE = r'''
import socket, sys
host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
c = socket.create_connection((host, port), timeout=120)
with open(path, "rb") as f:
    c.sendall(f.read())
c.close()
print("sent", flush=True)
'''


def test_slow_reader_gets_every_byte_and_the_window_closes_and_reopens():
    size = 4 << 20
    with harness.Daemon(log_level="info", extra_yaml=u.FAST_TCP_YAML) as d:
        src, sha = u.make_file(d, "slow.bin", size)
        stop_file = os.path.join(d.workdir, "sniff.stop")
        sniffer = u.popen_python(d, SNIFFER, d.tap, d.address, 8003, stop_file)
        u.wait_for(lambda: os.path.exists(stop_file + ".ready") or sniffer.poll() is not None, 10, "the sniffer")
        reader = u.popen_python(d, SLOW_READER, d.socket_path, 8003, 400 * 1024)
        u.wait_api_listeners(d)
        sender = u.popen_python(d, SEND_FILE_AND_CLOSE, d.address, 8003, src)
        got = u.json_of(reader, 90, "slow reader")
        sent, _ = sender.communicate(timeout=30)
        assert sent.strip() == b"sent", sent
        time.sleep(0.5)
        open(stop_file, "w").close()
        seen = u.json_of(sniffer, 10, "sniffer")
        print(f"sniffer: {seen}; reader took {got['seconds']:.1f} s", flush=True)
        assert got["bytes"] == size and got["sha"] == sha, got
        assert seen["rst"] == 0, f"RST on the wire: {seen}"
        assert seen["closed"] >= 1, f"the daemon's window never closed: {seen}"
        assert seen["reopened"] >= 1, f"the window never reopened after closing: {seen}"
        u.wait_quiet(d)


# Host-side slow reader: accept, read at ~rate bytes/s until EOF.
SLOW_HOST_READER = r"""
import hashlib, json, socket, sys, time
host, port, rate, stall = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)  # a small window that closes soon
ls.bind((host, port)); ls.listen(1)
print("ready", flush=True)
c, _ = ls.accept()
c.settimeout(60)
h = hashlib.sha256(); n = 0
start = time.monotonic()
while True:
    b = c.recv(16384)
    if not b:
        break
    h.update(b); n += len(b)
    if stall and n >= 1 << 20:
        time.sleep(stall)  # the window stays shut: only probes keep it alive
        start += stall; stall = 0
    ahead = n / rate - (time.monotonic() - start)
    if ahead > 0:
        time.sleep(ahead)
c.close()
print(json.dumps({"bytes": n, "sha": h.hexdigest(), "seconds": time.monotonic() - start}), flush=True)
"""


def test_slow_peer_reader_gets_every_byte_from_a_daemon_side_sender():
    """The peer's window closes again and again, once for 8 s (longer than
    the daemon's whole retransmission budget with these timers): the daemon
    probes it, stays connected as long as the probes are answered (RFC 9293
    3.8.6.1, MUST-36/37), stops taking from the application meanwhile, and
    delivers all 4 MiB before the FIN."""
    size = 4 << 20
    with harness.Daemon(log_level="info", extra_yaml=u.FAST_TCP_YAML) as d:
        src, sha = u.make_file(d, "slow_out.bin", size)
        reader = u.popen_python(d, SLOW_HOST_READER, d.host_address, 8006, 400 * 1024, 8)
        assert reader.stdout.readline().strip() == b"ready"
        app = d.popen(u.cli(d, "connect", d.host_address, 8006), stdin=open(src, "rb"),
                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        got = u.json_of(reader, 90, "slow host reader")
        rc, err = u.finish(app, 20, "tapstack connect")
        assert rc == 0, f"tapstack connect exited {rc}: {err}"
        assert got["bytes"] == size and got["sha"] == sha, got
        u.wait_quiet(d)


# Host client: request, shutdown(SHUT_WR), read the whole reply.
HALF_CLOSE_CLIENT = r'''
import hashlib, json, socket, sys
host, port, request_size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = socket.create_connection((host, port), timeout=60)
c.sendall(b"q" * request_size)
c.shutdown(socket.SHUT_WR)
h = hashlib.sha256(); n = 0
while True:
    b = c.recv(1 << 16)
    if not b:
        break
    h.update(b); n += len(b)
c.close()
print(json.dumps({"bytes": n, "sha": h.hexdigest()}), flush=True)
'''

# Daemon-side server: ACCEPT, read to EOF, then reply with the file.
HALF_CLOSE_API_SERVER = u.API_CLIENT_SNIPPET + r'''
import json, socket, sys
path, port, reply_path = sys.argv[1], sys.argv[2], sys.argv[3]
s, reply, rest = api_open(path, f"ACCEPT {port}")
assert reply.startswith("OK "), reply
print("accepted", flush=True)
n = len(rest)
while True:
    b = s.recv(65536)
    if not b:
        break
    n += len(b)
with open(reply_path, "rb") as f:
    s.sendall(f.read())
s.shutdown(socket.SHUT_WR)
s.recv(1)  # wait until the daemon has passed everything on and closed
s.close()
print(json.dumps({"request_bytes": n}), flush=True)
'''

# Host server: read the request to EOF, then send the reply and close.
HALF_CLOSE_HOST_SERVER = r'''
import json, socket, sys
host, port, reply_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((host, port)); ls.listen(1)
print("ready", flush=True)
c, _ = ls.accept()
c.settimeout(60)
n = 0
while True:
    b = c.recv(65536)
    if not b:
        break
    n += len(b)
with open(reply_path, "rb") as f:
    c.sendall(f.read())
c.close()
print(json.dumps({"request_bytes": n}), flush=True)
'''


def test_half_close_host_requests_then_daemon_side_replies_1_mib():
    with harness.Daemon(log_level="info", extra_yaml=u.FAST_TCP_YAML) as d:
        reply_path, reply_sha = u.make_file(d, "reply.bin", 1 << 20)
        server = u.popen_python(d, HALF_CLOSE_API_SERVER, d.socket_path, 8004, reply_path)
        u.wait_api_listeners(d)
        got = u.run_python_json(d, HALF_CLOSE_CLIENT, d.address, 8004, 1000)
        srv = u.json_of(server, 30, "daemon-side server")
        assert srv["request_bytes"] == 1000, srv
        assert got == {"bytes": 1 << 20, "sha": reply_sha}, got
        u.wait_quiet(d)


def test_half_close_daemon_side_requests_then_host_replies_1_mib():
    with harness.Daemon(log_level="info", extra_yaml=u.FAST_TCP_YAML) as d:
        reply_path, reply_sha = u.make_file(d, "reply.bin", 1 << 20)
        request_path, _ = u.make_file(d, "request.bin", 1000)
        server = u.popen_python(d, HALF_CLOSE_HOST_SERVER, d.host_address, 8005, reply_path)
        assert server.stdout.readline().strip() == b"ready"
        out = os.path.join(d.workdir, "got.bin")
        app = d.popen(u.cli(d, "connect", d.host_address, 8005), stdin=open(request_path, "rb"),
                      stdout=open(out, "wb"), stderr=subprocess.PIPE)
        rc, err = u.finish(app, 30, "tapstack connect")
        assert rc == 0, f"tapstack connect exited {rc}: {err}"
        srv = u.json_of(server, 10, "host server")
        assert srv["request_bytes"] == 1000, srv
        assert u.sha256_file(out) == (reply_sha, 1 << 20)
        u.wait_quiet(d)


if __name__ == "__main__":
    harness.run_tests([
        test_benchmark_pattern_daemon_side_server_reads_exactly_6000000_bytes,
        test_benchmark_pattern_daemon_side_client_delivers_exactly_6000000_bytes,
        test_slow_reader_gets_every_byte_and_the_window_closes_and_reopens,
        test_slow_peer_reader_gets_every_byte_from_a_daemon_side_sender,
        test_half_close_host_requests_then_daemon_side_replies_1_mib,
        test_half_close_daemon_side_requests_then_host_replies_1_mib,
    ])
