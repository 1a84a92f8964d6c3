#!/usr/bin/python3
"""A burst of malformed frames written to the TAP's kernel side with an
AF_PACKET socket: the daemon drops each one, counts it under its specific
reason (RFC 791 / RFC 1122 3.2.1 header checks, RFC 826 ARP checks,
RFC 792 ICMP checksum), keeps running and still answers ping.

The frames are built here byte by byte (no scapy), so each one is wrong in
exactly one way; the counters must grow by exactly the number sent.
"""
import random
import struct

import harness

MAC = "02:00:00:00:00:02"
N = 25  # frames of each kind

SENDER = r"""
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
n = 0
for line in sys.stdin:
    line = line.strip()
    if line:
        s.send(bytes.fromhex(line))
        n += 1
print(n)
"""


def mac_bytes(text):
    return bytes(int(x, 16) for x in text.split(":"))


def ip_bytes(text):
    return bytes(int(x) for x in text.split("."))


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


class Frames:
    def __init__(self, our_mac, host_mac, our_ip, host_ip):
        self.our_mac, self.host_mac = mac_bytes(our_mac), mac_bytes(host_mac)
        self.our_ip, self.host_ip = ip_bytes(our_ip), ip_bytes(host_ip)

    def eth(self, ethertype, payload, dst=None):
        return (dst or self.our_mac) + self.host_mac + struct.pack("!H", ethertype) + payload

    def icmp_echo(self, ident=0x1234, seq=1, data=b"tapstack malformed-frame test"):
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + data
        return hdr[:2] + struct.pack("!H", checksum(hdr)) + hdr[4:]

    def ipv4(self, payload, proto=1, dst=None, ihl=5, version=4, total=None, fix_checksum=True):
        options = b"\0" * (max(ihl, 5) - 5) * 4
        total = total if total is not None else 20 + len(options) + len(payload)
        hdr = struct.pack("!BBHHHBBH4s4s", (version << 4) | ihl, 0, total, 0x4242, 0, 64, proto, 0,
                          self.host_ip, dst or self.our_ip) + options
        if fix_checksum:
            hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
        return hdr + payload

    def arp(self, htype=1, ptype=0x0800, hlen=6, plen=4, op=1, target=None):
        body = struct.pack("!HHBBH", htype, ptype, hlen, plen, op)
        body += self.host_mac.ljust(hlen, b"\0")[:hlen] + self.host_ip.ljust(plen, b"\0")[:plen]
        body += b"\0" * hlen + (target or self.our_ip).ljust(plen, b"\0")[:plen]
        return body


def malformed(f):
    """(counter, how many per frame kind, [frames])"""
    good_ip = f.ipv4(f.icmp_echo())
    bad_csum = bytearray(good_ip)
    bad_csum[10] ^= 0x5a
    bad_icmp = bytearray(f.icmp_echo())
    bad_icmp[2] ^= 0x01
    kinds = [
        ("ipv4.rx_bad_checksum", f.eth(0x0800, bytes(bad_csum))),
        ("ipv4.rx_bad_header_length", f.eth(0x0800, f.ipv4(f.icmp_echo(), ihl=4))),
        ("ipv4.rx_bad_header_length", f.eth(0x0800, f.ipv4(b"", ihl=15, total=28)[:28] + b"\0" * 40)),
        ("ipv4.rx_truncated", f.eth(0x0800, good_ip[:10])),
        ("ipv4.rx_bad_total_length", f.eth(0x0800, f.ipv4(f.icmp_echo(), total=1000))),
        ("ipv4.rx_bad_version", f.eth(0x0800, f.ipv4(f.icmp_echo(), version=6))),
        ("ipv4.rx_not_for_us", f.eth(0x0800, f.ipv4(f.icmp_echo(), dst=ip_bytes("10.0.0.77")))),
        ("ipv4.rx_unknown_protocol", f.eth(0x0800, f.ipv4(b"\0" * 8, proto=253))),
        ("icmp.rx_bad_checksum", f.eth(0x0800, f.ipv4(bytes(bad_icmp)))),
        ("icmp.rx_truncated", f.eth(0x0800, f.ipv4(b"\x08\x00\xf7"))),
        ("eth.rx_unknown_ethertype", f.eth(0x88b5, b"\0" * 46)),
        ("eth.rx_unknown_ethertype", f.eth(0x1234, good_ip)),
        ("eth.rx_not_for_us", f.eth(0x0800, good_ip, dst=mac_bytes("02:00:00:00:00:99"))),
        ("arp.rx_truncated", f.eth(0x0806, f.arp()[:10])),
        ("arp.rx_bad_hardware_type", f.eth(0x0806, f.arp(htype=6))),
        ("arp.rx_bad_protocol_type", f.eth(0x0806, f.arp(ptype=0x86dd))),
        ("arp.rx_bad_address_length", f.eth(0x0806, f.arp(hlen=8))),
        ("arp.rx_bad_operation", f.eth(0x0806, f.arp(op=7))),
    ]
    return kinds


def send(d, frames):
    r = d.run(["/usr/bin/python3", "-c", SENDER, d.tap], input="\n".join(x.hex() for x in frames).encode(),
              timeout=60)
    assert int(r.stdout.decode().strip()) == len(frames), r.stdout


def host_mac(d):
    return d.run(["cat", f"/sys/class/net/{d.tap}/address"]).stdout.decode().strip()


def test_each_malformed_frame_dropped_and_counted_exactly():
    with harness.Daemon(mac=MAC) as d:
        f = Frames(MAC, host_mac(d), d.address, d.host_address)
        kinds = malformed(f)
        expected = {}
        frames = []
        for counter, frame in kinds:
            expected[counter] = expected.get(counter, 0) + N
            frames += [frame] * N
        random.Random(1).shuffle(frames)
        before = d.counters()
        send(d, frames)
        d.ping(count=3, interval=0.05)  # still alive and answering, and everything above was read
        after = d.counters()
        wrong = {c: (after[c] - before[c], n) for c, n in expected.items() if after[c] - before[c] != n}
        assert not wrong, f"counter: (got, expected) {wrong}"
        assert after["icmp.tx_echo_replies"] - before["icmp.tx_echo_replies"] == 3


def test_random_junk_after_valid_headers_never_stops_the_daemon():
    with harness.Daemon(mac=MAC) as d:
        f = Frames(MAC, host_mac(d), d.address, d.host_address)
        rng = random.Random(20261126)
        frames = []
        for i in range(600):
            kind = i % 3
            junk = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
            if kind == 0:     # IPv4 header fields all random
                frames.append(f.eth(0x0800, junk))
            elif kind == 1:   # ARP body random
                frames.append(f.eth(0x0806, junk))
            else:             # a valid IPv4 header over random ICMP / TCP / UDP bytes
                frames.append(f.eth(0x0800, f.ipv4(junk, proto=rng.choice((1, 6, 17)))))
        before = d.counters()
        send(d, frames)
        d.ping(count=3, interval=0.05)
        after = d.counters()
        assert after["eth.rx_frames"] - before["eth.rx_frames"] >= len(frames)
        assert d.alive()


if __name__ == "__main__":
    harness.run_tests([
        test_each_malformed_frame_dropped_and_counted_exactly,
        test_random_junk_after_valid_headers_never_stops_the_daemon,
    ])
