#!/usr/bin/python3
"""MTU up to 65520 with the MSS following it (issue 5), with
interface.offloads off or on (the first argument after the two binaries:
"off" or "on"; the test pins the mode whatever TAPSTACK_TEST_OFFLOADS says).

At MTU 65520 (pasta's default):
  - the TAP device carries MTU 65520;
  - ping -s 65507, the largest ICMP echo IPv4 allows (65535 total), is
    answered with identical data (it crosses the link in two fragments
    each way, since 65535 > 65520: reassembly and fragmentation at the top
    of their range);
  - 64 MiB in all four combinations of who connects and which way the data
    flows, kernel nc/socat <-> the tapstack CLI, SHA-256 exact;
  - a capture on the TAP's kernel side (AF_PACKET) sees the MSS option
    65480 (MTU - 40, RFC 9293 3.7.1 / RFC 879) in the daemon's SYN and in
    its SYN-ACK, sees the daemon send full-sized segments (IPv4 total
    length exactly 65520: MSS 65480 less 12 bytes of timestamps, plus 52
    bytes of headers) and never a datagram longer than the MTU.
At MTU 9000 (a size where TSO has room to work): the MSS option is 8960,
a 4 MiB transfer each way is exact, and with offloads on the daemon sends
TSO super-segments (counted) whose IPv4 total length still fits 16 bits.

Usage: test_mtu.py [TAPSTACKD TAPSTACK] off|on
"""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "tcp"))
import harness  # noqa: E402
import tcp_util as u  # noqa: E402
import test_seed_matrix as matrix  # noqa: E402


def mode_from_argv():
    modes = [a for a in sys.argv[1:] if a in ("on", "off")]
    if len(modes) != 1:
        raise SystemExit("usage: test_mtu.py [TAPSTACKD TAPSTACK] off|on")
    return modes[0] == "on"


OFFLOADS = mode_from_argv()
MODE = "offloads on" if OFFLOADS else "offloads off"

# Runs in the namespace: records, from every IPv4/TCP frame on the TAP's
# kernel side, the MSS option of SYNs and each direction's largest IPv4
# total length, until the file argv[3] exists; then prints one JSON line.
SNIFFER = r'''
import json, os, select, socket, struct, sys
tap, daemon_ip, stop = sys.argv[1], socket.inet_aton(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))  # ETH_P_ALL: both directions
s.bind((tap, 0))
s.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)  # SO_RCVBUFFORCE (root): beyond rmem_max, so no SYN is missed
print("ready", flush=True)
out = {"syn_mss_from_daemon": [], "synack_mss_from_daemon": [], "syn_mss_to_daemon": [],
       "max_len_from_daemon": 0, "max_len_to_daemon": 0, "frames": 0}
while not os.path.exists(stop):
    if not select.select([s], [], [], 0.05)[0]:
        continue
    f = s.recv(128)  # headers only: the datagram's length is in its IPv4 header
    ip = f[14:]
    if f[12:14] != b"\x08\x00" or len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:
        continue
    out["frames"] += 1
    total = struct.unpack("!H", ip[2:4])[0]
    from_daemon = ip[12:16] == daemon_ip
    key = "max_len_from_daemon" if from_daemon else "max_len_to_daemon"
    out[key] = max(out[key], total)
    ihl = (ip[0] & 15) * 4
    tcp = ip[ihl:]
    if len(tcp) < 20 or not tcp[13] & 0x02:
        continue
    opts, mss, i = tcp[20:(tcp[12] >> 4) * 4], None, 0
    while i < len(opts):
        kind = opts[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= len(opts) or opts[i + 1] < 2:
            break
        if kind == 2 and opts[i + 1] == 4:
            mss = struct.unpack("!H", opts[i + 2:i + 4])[0]
        i += opts[i + 1]
    if from_daemon:
        out["synack_mss_from_daemon" if tcp[13] & 0x10 else "syn_mss_from_daemon"].append(mss)
    elif not tcp[13] & 0x10:
        out["syn_mss_to_daemon"].append(mss)
print(json.dumps(out), flush=True)
'''


class Sniffer:
    def __init__(self, d):
        self.d = d
        self.stop_path = os.path.join(d.workdir, "sniffer.stop")

    def __enter__(self):
        self.proc = self.d.popen([harness.PYTHON, "-c", SNIFFER, self.d.tap, self.d.address, self.stop_path],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()
        assert line.strip() == "ready", f"sniffer did not start: {line!r} {self.proc.stderr.read()!r}"
        return self

    def __exit__(self, *exc):
        open(self.stop_path, "w").close()
        return False

    def result(self):
        open(self.stop_path, "w").close()
        return u.json_of(self.proc, 10, "sniffer")


def ping_exact(d, size, count=2):
    r = d.ping(count=count, size=size, interval=0.2, pattern="a5", timeout=30)
    out = r.stdout.decode()
    assert f"{count} packets transmitted, {count} received" in out, out
    assert f"{size + 8} bytes from {d.address}" in out, out
    assert "wrong data" not in out and "DUP!" not in out, out


def all_four(d, size, port_base):
    src, sha = u.make_file(d, "send.bin", size)
    ports = matrix.Ports(port_base)
    for name, fn in matrix.COMBINATIONS:
        t0 = time.monotonic()
        got_sha, got_len = fn(d, size, src, sha, ports.take())
        assert got_len == size, f"{name}: received {got_len} bytes, sent {size}"
        assert got_sha == sha, f"{name}: SHA-256 differs"
        print(f"ok   {size} bytes, {name} ({time.monotonic() - t0:.2f}s)", flush=True)
    os.unlink(src)


def check_mode(d, stats):
    if OFFLOADS:
        assert stats.get("tap.offload_refused", 0) == 0, "the kernel refused the offloads"
        d.wait_log(r"offloads on \(receive: checksum \+ TSO4", timeout=5)
    else:
        assert stats.get("tap.rx_gso_frames", 0) == 0 and stats.get("tap.rx_csum_partial", 0) == 0, stats
        assert stats.get("ipv4.tx_tso_frames", 0) == 0, stats
    assert stats.get("tcp.rx_bad_checksum", 0) == 0, stats
    assert stats.get("ipv4.rx_bad_offload", 0) == 0, stats
    assert stats.get("tap.rx_truncated", 0) == 0, "a frame did not fit an RX buffer"
    assert stats.get("tap.tx_oversize", 0) == 0, "a frame did not fit a TX buffer"
    assert stats.get("ipv4.tx_df_too_big", 0) == 0, "TCP built a segment beyond the MTU"


def test_mtu_65520_ping_65507_64mib_four_ways_mss_65480():
    mtu = 65520
    with harness.Daemon(mtu=mtu, offloads=OFFLOADS, log_level="info", extra_yaml=u.FAST_TCP_YAML) as d:
        link = d.run(["ip", "-o", "link", "show", "dev", d.tap]).stdout.decode()
        assert f" mtu {mtu} " in link, f"TAP MTU is not {mtu}: {link}"
        with Sniffer(d) as sniff:
            ping_exact(d, 65507)
            all_four(d, 64 << 20, 23000)
            seen = sniff.result()
        print(f"[{MODE}] capture: {json.dumps(seen)}", flush=True)
        u.wait_quiet(d, timeout=20)
        stats = d.counters()
        check_mode(d, stats)
    mss = mtu - 40
    assert seen["syn_mss_from_daemon"] and set(seen["syn_mss_from_daemon"]) == {mss}, \
        f"the daemon's SYNs carried MSS {seen['syn_mss_from_daemon']}, expected {mss}"
    assert seen["synack_mss_from_daemon"] and set(seen["synack_mss_from_daemon"]) == {mss}, \
        f"the daemon's SYN-ACKs carried MSS {seen['synack_mss_from_daemon']}, expected {mss}"
    assert set(seen["syn_mss_to_daemon"]) == {mss}, f"the kernel's SYNs: {seen['syn_mss_to_daemon']}"
    # Full segments: the peer's MSS 65480 less 12 bytes of timestamps is
    # 65468 bytes of payload, + 32 bytes of TCP header + 20 of IPv4 = MTU.
    assert seen["max_len_from_daemon"] == mtu, \
        f"largest IPv4 datagram from the daemon {seen['max_len_from_daemon']}, expected exactly {mtu}"
    assert 60000 <= seen["max_len_to_daemon"] <= 65535, seen


def test_mtu_9000_mss_8960_tso_within_64k():
    mtu = 9000
    with harness.Daemon(mtu=mtu, offloads=OFFLOADS, log_level="info", extra_yaml=u.FAST_TCP_YAML) as d:
        with Sniffer(d) as sniff:
            ping_exact(d, 8972)  # the largest unfragmented echo at this MTU
            all_four(d, 4 << 20, 24000)
            seen = sniff.result()
        print(f"[{MODE}] capture: {json.dumps(seen)}", flush=True)
        u.wait_quiet(d, timeout=20)
        stats = d.counters()
        check_mode(d, stats)
    mss = mtu - 40
    assert set(seen["syn_mss_from_daemon"]) == {mss} and set(seen["synack_mss_from_daemon"]) == {mss}, seen
    if OFFLOADS:
        # TSO: super-segments of several MSS-sized segments, never beyond
        # what an IPv4 total length can say.
        assert stats.get("ipv4.tx_tso_frames", 0) > 0, "no TSO super-segment was sent"
        assert mtu < seen["max_len_from_daemon"] <= 65535, seen
    else:
        assert seen["max_len_from_daemon"] == mtu, seen


if __name__ == "__main__":
    harness.run_tests([test_mtu_65520_ping_65507_64mib_four_ways_mss_65480,
                       test_mtu_9000_mss_8960_tso_within_64k])
