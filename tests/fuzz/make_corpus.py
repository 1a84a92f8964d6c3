#!/usr/bin/python3
"""Writes the seed corpora for the libFuzzer targets (tests/fuzz/corpus/).

Run with the system Python that has scapy:  /usr/bin/python3 tests/fuzz/make_corpus.py
The frames are built with scapy, independently of our own wire code.
fuzz_frame inputs are records [u16 big-endian length][frame] (see fuzz_frame.cpp);
fuzz_wire inputs are [selector byte][bytes] (0 Ethernet, 1 ARP, 2 IPv4, 3 ICMP, 4 checksum).
"""
import os
import struct

from scapy.all import ARP, ICMP, IP, TCP, UDP, Ether, IPOption_RR, fragment, raw

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
