#!/usr/bin/python3
"""Writes the seed corpora for the libFuzzer targets (tests/fuzz/corpus/).

Run with the system Python that has scapy:  /usr/bin/python3 tests/fuzz/make_corpus.py
The frames are built with scapy, independently of our own wire code.
fuzz_frame inputs are records [u16 big-endian length][frame] (see fuzz_frame.cpp);
fuzz_wire inputs are [selector byte][bytes] (0 Ethernet, 1 ARP, 2 IPv4, 3 ICMP, 4 checksum,
5 IPv6, 6 IPv6 extension headers, 7 ICMPv6 and ND, 8 IPv6 address text, 9 TCP option area).
fuzz_tcp inputs are two header bytes and a list of operations (see fuzz_tcp.cpp and the
helpers below): conversations a peer and an application might have; the other files in
corpus/fuzz_tcp are inputs the fuzzer itself found, kept as seeds.
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
write("fuzz_wire", "tcp_options_syn.bin", b"\x09" + raw(syn_opts)[20:])
write("fuzz_wire", "tcp_options_sack.bin", b"\x09" + bytes([1, 1, 8, 10]) + bytes(8) + bytes([1, 1, 5, 26]) + bytes(24))
write("fuzz_wire", "tcp_options_zero_length.bin", b"\x09" + bytes([2, 4, 5, 180, 34, 0, 3, 3, 7]))
write("fuzz_wire", "tcp_options_bad_timestamp.bin", b"\x09" + bytes([2, 4, 5, 180, 8, 8]) + bytes(6) + bytes([3, 3, 7]))
write("fuzz_wire", "tcp_options_overrun.bin", b"\x09" + bytes([1, 1, 5, 40, 0, 0]))
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


# ---- fuzz_tcp: operations as fuzz_tcp.cpp decodes them ---------------------------------
# Trackers/applications 0 and 1 are the set-up connections: 0 opened by the
# peer (accepted), 1 opened by the stack.
F_FIN, F_SYN, F_RST, F_PSH, F_ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def seg(t=0, flags=F_ACK | F_PSH, seq_mode=0, seq_delta=0, ack_mode=0, ack_delta=0, win=65535, opts=0, n=0):
    return struct.pack(">BBBBHBbHBH", 0, t, flags, seq_mode, seq_delta & 0xFFFF, ack_mode, ack_delta, win, opts, n)


def advance(scale, amount):  # scale 0: ms, 1: 20 ms steps, 2: seconds
    return bytes([5, scale, amount])


def app_read(a=0, limit=0):
    return struct.pack(">BBH", 6, a, limit)


def app_write(a=0, n=1000):
    return struct.pack(">BBH", 8, a, n)


def app_end(a=0, kind=0):  # 0 shutdown_write, 1 close, 2 abort
    return bytes([9, a, kind])


def passive_open(bits=0x07):  # bit 7: leave it embryonic
    return bytes([10, bits])


ACCEPT = bytes([11])

write("fuzz_tcp", "transfer_both_ways.bin", bytes([0x3F, 0x05]) + seg(n=1400) + seg(n=1400, opts=0x11) +
      app_read() + app_write(0, 3000) + advance(1, 5) + seg(n=0) + seg(flags=F_ACK | F_FIN, n=200) +
      app_read() + app_end(0, 0) + advance(1, 10) + seg(seq_delta=0, n=0))
write("fuzz_tcp", "fin_then_exact_rst_slow_reader.bin", bytes([0x00, 0x00]) + seg(n=1460) * 4 +
      seg(flags=F_ACK | F_FIN, n=0) + seg(flags=F_RST, seq_delta=1, n=0) + app_read(0, 100) +
      advance(2, 3) + app_read())
write("fuzz_tcp", "reset_in_accept_queue.bin", bytes([0x07, 0x01]) + passive_open(0x07) +
      seg(t=2, n=1000) + seg(t=2, flags=F_ACK | F_FIN) + seg(t=2, flags=F_RST, seq_delta=1) + ACCEPT +
      app_read(2))
write("fuzz_tcp", "retransmissions_run_out.bin", bytes([0x1F, 0x20]) + seg(n=1000) + app_write(0, 5000) +
      advance(2, 30) + app_read())
write("fuzz_tcp", "zero_window_then_fin.bin", bytes([0x00, 0x00]) + seg(n=1460) * 4 + seg(n=100) +
      seg(flags=F_ACK | F_FIN, seq_delta=0) + app_read(0, 1000) + advance(1, 20) + app_read() + app_end(0, 1))
write("fuzz_tcp", "out_of_order_sack.bin", bytes([0x1B, 0x12]) + seg(seq_delta=1460, n=1460, opts=0x03) +
      seg(seq_delta=2920, n=1460, opts=0x13) + seg(n=1460, opts=0x23) + app_write(1, 9000) + advance(0, 50) +
      seg(t=1, ack_mode=0, opts=0x0B, n=0) + advance(2, 2) + app_read())
write("fuzz_tcp", "keepalive_silent_peer.bin", bytes([0x80, 0x00]) + seg(n=500) + advance(2, 10) + app_read(0))
write("fuzz_tcp", "close_listener_backlog.bin", bytes([0x07, 0x05]) + passive_open(0x87) + passive_open(0x07) +
      seg(t=3, n=700) + bytes([15, 0]) + ACCEPT + advance(2, 5))

# ---- IPv6 (fuzz_frame's interface has fd00::2/64, DAD off, accept_ra on) ----
from scapy.all import (ICMPv6EchoRequest, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6ND_RA, ICMPv6NDOptDstLLAddr,  # noqa: E402
                       ICMPv6NDOptMTU, ICMPv6NDOptPrefixInfo, ICMPv6NDOptSrcLLAddr, ICMPv6PacketTooBig,
                       IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, IPv6ExtHdrRouting,
                       HBHOptUnknown, fragment6)

US6, PEER6, US_LL6, PEER_LL6 = "fd00::2", "fd00::1", "fe80::ff:fe00:2", "fe80::ff:fe00:1"
SOLICITED_US = "ff02::1:ff00:2"


def eth6(payload, dst=US_MAC):
    return Ether(dst=dst, src=PEER_MAC) / payload


ns_us = eth6(IPv6(src=PEER6, dst=SOLICITED_US, hlim=255) / ICMPv6ND_NS(tgt=US6) /
             ICMPv6NDOptSrcLLAddr(lladdr=PEER_MAC), dst="33:33:ff:00:00:02")
na_peer = eth6(IPv6(src=PEER6, dst=US6, hlim=255) / ICMPv6ND_NA(tgt=PEER6, S=1, O=1) /
               ICMPv6NDOptDstLLAddr(lladdr=PEER_MAC))
ping6 = eth6(IPv6(src=PEER6, dst=US6) / ICMPv6EchoRequest(id=7, seq=1, data=b"x" * 56))
big6 = IPv6(src=PEER6, dst=US6) / IPv6ExtHdrFragment(id=9) / ICMPv6EchoRequest(id=7, seq=2, data=bytes(range(256)) * 12)
frags6 = [eth6(f) for f in fragment6(big6, 1280)]
opts6 = eth6(IPv6(src=PEER6, dst=US6) / IPv6ExtHdrHopByHop(nh=60) /
             IPv6ExtHdrDestOpt(nh=58, options=[HBHOptUnknown(otype=0x1e, optdata=b"ab")]) /
             ICMPv6EchoRequest(id=7, seq=3))
unknown_opt6 = eth6(IPv6(src=PEER6, dst=US6) / IPv6ExtHdrDestOpt(nh=58, options=[HBHOptUnknown(otype=0x9e,
                                                                                              optdata=b"ab")]) /
                    ICMPv6EchoRequest(id=7, seq=4))
rh0 = eth6(IPv6(src=PEER6, dst=US6) / IPv6ExtHdrRouting(nh=58, type=0, segleft=1, addresses=["fd00::9"]) /
           ICMPv6EchoRequest(id=7, seq=5))
ra6 = eth6(IPv6(src=PEER_LL6, dst="ff02::1", hlim=255) / ICMPv6ND_RA(chlim=32, routerlifetime=600) /
           ICMPv6NDOptSrcLLAddr(lladdr=PEER_MAC) / ICMPv6NDOptMTU(mtu=1400) /
           ICMPv6NDOptPrefixInfo(prefixlen=64, L=1, validlifetime=60, prefix="fd01::"), dst="33:33:00:00:00:01")
far_ping6 = eth6(IPv6(src="fd09::5", dst=US6) / ICMPv6EchoRequest(id=7, seq=6, data=b"y" * 1400))
ptb6 = eth6(IPv6(src="fd00::fe", dst=US6) / ICMPv6PacketTooBig(mtu=1280) /
            IPv6(src=US6, dst=PEER6) / ICMPv6EchoRequest(id=7, seq=1, type=129, data=b"x" * 56))
dad_na = eth6(IPv6(src=US6, dst="ff02::1", hlim=255) / ICMPv6ND_NA(tgt=US6, O=1) /
              ICMPv6NDOptDstLLAddr(lladdr="02:00:00:00:00:55"), dst="33:33:00:00:00:01")

write("fuzz_frame", "ndp_solicit_then_ping6.bin", records(ns_us, ping6))
write("fuzz_frame", "ping6_resolved.bin", records(ping6, na_peer))
write("fuzz_frame", "fragments6_reversed.bin", records(na_peer, *reversed(frags6)))
write("fuzz_frame", "fragments6_overlap.bin", records(na_peer, frags6[0], frags6[0], *frags6[1:]))
write("fuzz_frame", "ext_headers6.bin", records(na_peer, opts6, unknown_opt6, rh0))
write("fuzz_frame", "router_advert.bin", records(ra6, far_ping6))
write("fuzz_frame", "packet_too_big.bin", records(na_peer, ping6, ptb6, far_ping6))
write("fuzz_frame", "dad_conflict.bin", records(dad_na, ping6))

write("fuzz_wire", "ipv6.bin", b"\x05" + raw(ping6[IPv6]))
write("fuzz_wire", "ipv6_hbh.bin", b"\x06\x00" + raw(opts6[IPv6ExtHdrHopByHop])[:8])
write("fuzz_wire", "ipv6_destopt.bin", b"\x06\x00" + raw(unknown_opt6[IPv6ExtHdrDestOpt])[:8])
write("fuzz_wire", "ipv6_routing.bin", b"\x06\x01" + raw(rh0[IPv6ExtHdrRouting])[:24])
write("fuzz_wire", "ipv6_fragment.bin", b"\x06\x02" + raw(frags6[1][IPv6ExtHdrFragment])[:8])
write("fuzz_wire", "icmpv6_echo.bin", b"\x07" + raw(ping6[IPv6].payload))
write("fuzz_wire", "icmpv6_ns.bin", b"\x07" + raw(ns_us[IPv6].payload))
write("fuzz_wire", "icmpv6_ra.bin", b"\x07" + raw(ra6[IPv6].payload))
write("fuzz_wire", "icmpv6_ptb.bin", b"\x07" + raw(ptb6[IPv6].payload))
write("fuzz_wire", "address6.bin", b"\x08" + b"fd3e:dfa0:4efb:77::2/64")
write("fuzz_wire", "address6_mapped.bin", b"\x08" + b"::ffff:198.19.77.2")

# ---- TCP over IPv6 ----
# fuzz_frame: a SYN to a closed port (RST over IPv6), data to no connection,
# and a Packet Too Big quoting a TCP segment of ours.
syn6 = eth6(IPv6(src=PEER6, dst=US6) / TCP(sport=40000, dport=80, flags="S", seq=1000, options=[("MSS", 1440)]))
data6 = eth6(IPv6(src=PEER6, dst=US6) / TCP(sport=40000, dport=80, flags="PA", seq=1001, ack=5) / (b"z" * 100))
ptb_tcp6 = eth6(IPv6(src="fd00::fe", dst=US6) / ICMPv6PacketTooBig(mtu=1280) /
                IPv6(src=US6, dst=PEER6) / TCP(sport=80, dport=40000, flags="A", seq=5, ack=1001) / (b"q" * 1300))
write("fuzz_frame", "tcp6_closed_port_and_ptb.bin", records(na_peer, syn6, data6, ptb_tcp6))
# fuzz_tcp: the family is the input's length parity (odd: IPv6); the same
# conversation as transfer_both_ways.bin over IPv6.
both_ways = (bytes([0x3F, 0x05]) + seg(n=1400) + seg(n=1400, opts=0x11) + app_read() + app_write(0, 3000) +
             advance(1, 5) + seg(n=0) + seg(flags=F_ACK | F_FIN, n=200) + app_read() + app_end(0, 0) +
             advance(1, 10) + seg(seq_delta=0, n=0))
write("fuzz_tcp", "transfer_both_ways6.bin", both_ways if len(both_ways) % 2 else both_ways + b"\x00")
