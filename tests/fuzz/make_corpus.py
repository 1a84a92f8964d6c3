#!/usr/bin/python3
"""Writes the seed corpora for the libFuzzer targets (tests/fuzz/corpus/).

Run with the system Python that has scapy:  /usr/bin/python3 tests/fuzz/make_corpus.py
The frames are built with scapy, independently of our own wire code.
fuzz_frame inputs are records [u16 big-endian length][frame] (see fuzz_frame.cpp);
fuzz_wire inputs are [selector byte][bytes] (0 Ethernet, 1 ARP, 2 IPv4, 3 ICMP, 4 checksum,
5 TCP option area).
"""
import os
import struct

from scapy.all import ARP, ICMP, IP, TCP, UDP, Ether, IPOption_RR, fragment, raw
from scapy.layers.inet import in4_chksum

US_MAC, US_IP = "02:00:00:00:00:02", "10.0.0.2"
PEER_MAC, PEER_IP = "02:00:00:00:00:01", "10.0.0.1"
HERE = os.path.dirname(os.path.abspath(__file__))


def eth(payload, dst=US_MAC):
    return Ether(dst=dst, src=PEER_MAC) / payload


def records(*frames):
    return b"".join(struct.pack(">H", len(raw(f))) + raw(f) for f in frames)


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


arp_req = eth(ARP(op=1, hwsrc=PEER_MAC, psrc=PEER_IP, pdst=US_IP), dst="ff:ff:ff:ff:ff:ff")
arp_reply = eth(ARP(op=2, hwsrc=PEER_MAC, psrc=PEER_IP, hwdst=US_MAC, pdst=US_IP))
garp = eth(ARP(op=1, hwsrc="02:00:00:00:00:33", psrc=PEER_IP, pdst=PEER_IP), dst="ff:ff:ff:ff:ff:ff")
ping = eth(IP(src=PEER_IP, dst=US_IP, id=1) / ICMP(id=7, seq=1) / (b"x" * 56))
ping_opts = eth(IP(src=PEER_IP, dst=US_IP, id=2, options=[IPOption_RR(routers=["0.0.0.0"] * 2)]) /
                ICMP(id=7, seq=2) / (b"y" * 56))
big = IP(src=PEER_IP, dst=US_IP, id=3) / ICMP(id=7, seq=3) / (bytes(range(256)) * 12)
frags = [eth(f) for f in fragment(big, fragsize=1480)]
syn = eth(IP(src=PEER_IP, dst=US_IP, flags="DF") / TCP(sport=40000, dport=80, flags="S", seq=1000,
                                                        options=[("MSS", 1460), ("WScale", 7)]))
udp = eth(IP(src=PEER_IP, dst=US_IP) / UDP(sport=5000, dport=53) / b"query")

write("fuzz_frame", "arp_request.bin", records(arp_req))
write("fuzz_frame", "arp_then_ping.bin", records(arp_reply, ping))
write("fuzz_frame", "gratuitous_arp.bin", records(arp_req, garp, ping))
write("fuzz_frame", "ping_options.bin", records(arp_reply, ping_opts))
write("fuzz_frame", "fragments_in_order.bin", records(arp_reply, *frags))
write("fuzz_frame", "fragments_reversed_dup.bin", records(*reversed(frags), frags[0]))
write("fuzz_frame", "fragment_first_only.bin", records(frags[0]))
write("fuzz_frame", "tcp_syn.bin", records(arp_reply, syn))
write("fuzz_frame", "udp.bin", records(arp_reply, udp))

write("fuzz_wire", "ethernet.bin", b"\x00" + raw(arp_req))
write("fuzz_wire", "arp.bin", b"\x01" + raw(arp_req[ARP]))
write("fuzz_wire", "ipv4.bin", b"\x02" + raw(ping[IP]))
write("fuzz_wire", "ipv4_options.bin", b"\x02" + raw(ping_opts[IP]))
write("fuzz_wire", "ipv4_fragment.bin", b"\x02" + raw(frags[1][IP]))
write("fuzz_wire", "icmp_echo.bin", b"\x03" + raw(ping[ICMP]))
unreach = ICMP(type=3, code=2) / raw(udp[IP])
write("fuzz_wire", "icmp_unreachable.bin", b"\x03" + raw(unreach))
write("fuzz_wire", "checksum.bin", b"\x04" + bytes(range(77)))
# TCP option areas: a SYN's, and malformed ones a peer may send (a bad
# length ends the list, a known kind with the wrong length is skipped).
syn_opts = TCP(options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 0)), ("NOP", None), ("WScale", 7)])
write("fuzz_wire", "tcp_options_syn.bin", b"\x05" + raw(syn_opts)[20:])
write("fuzz_wire", "tcp_options_sack.bin", b"\x05" + bytes([1, 1, 8, 10]) + bytes(8) + bytes([1, 1, 5, 26]) + bytes(24))
write("fuzz_wire", "tcp_options_zero_length.bin", b"\x05" + bytes([2, 4, 5, 180, 34, 0, 3, 3, 7]))
write("fuzz_wire", "tcp_options_bad_timestamp.bin", b"\x05" + bytes([2, 4, 5, 180, 8, 8]) + bytes(6) + bytes([3, 3, 7]))
write("fuzz_wire", "tcp_options_overrun.bin", b"\x05" + bytes([1, 1, 5, 40, 0, 0]))
# A data segment whose option area holds an illegal length (kind 34,
# length 0): kept and acknowledged. scapy cannot build a length of 0, so
# the byte is patched and the checksum recomputed.
good_opt = IP(src=PEER_IP, dst=US_IP, flags="DF") / TCP(sport=40000, dport=80, flags="PA", seq=1001, ack=1,
                                                       options=[(34, b"")]) / b"data"
seg = bytearray(raw(good_opt[TCP]))
seg[21] = 0
seg[16:18] = b"\x00\x00"
seg[16:18] = struct.pack(">H", in4_chksum(6, good_opt[IP], bytes(seg)))
bad_opt_data = eth(IP(src=PEER_IP, dst=US_IP, flags="DF", proto=6) / raw(bytes(seg)))
write("fuzz_frame", "tcp_bad_option_data.bin", records(arp_reply, syn, bad_opt_data))
