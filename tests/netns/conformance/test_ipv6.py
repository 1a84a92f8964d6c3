#!/usr/bin/python3
"""IPv6, ICMPv6 and Neighbour Discovery conformance of the real tapstackd
(RFC 8200, RFC 4443, RFC 4861, RFC 4862, RFC 5095, RFC 5722, RFC 6946,
RFC 7112), checked packet by packet from a scripted peer on its TAP, as
test_link_ip.py does for IPv4: neighbour solicitations (one advertisement
with the right flags for ours, none for others, none at hop limit 254),
DAD (a conflicting advertisement or solicitation during DAD keeps the
address unused), extension headers (each high-bit pattern of an unknown
option, routing type 0, long chains), fragments (overlapping, tiny, out of
order, atomic, incomplete first), and ICMPv6 errors (rate-limited, never to
multicast, never about an error).

"Dropped silently" is checked as: nothing comes back within a bound, and
the same exchange done correctly right after is answered.
"""
import ipaddress
import random
import time

from conformance import DUT_MAC, PEER_MAC, Env, Suite, expect
from peer import Peer
from scapy.layers.inet6 import (ICMPv6DestUnreach, ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6ND_NA,
                                ICMPv6ND_NS, ICMPv6NDOptDstLLAddr, ICMPv6NDOptSrcLLAddr, ICMPv6PacketTooBig,
                                ICMPv6ParamProblem, IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment,
                                IPv6ExtHdrHopByHop, IPv6ExtHdrRouting, HBHOptUnknown, PadN)
from scapy.layers.inet import TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

DUT_IP6 = "fd00::2"
DUT_LL6 = "fe80::ff:fe00:2"      # modified EUI-64 of DUT_MAC
PEER_IP6 = "fd00::99"            # the kernel does not own it
PEER_LL6 = "fe80::ff:fe00:99"
OTHER_IP6 = "fd00::77"           # nobody's
ALL_NODES = "ff02::1"
QUIET = 0.7
IPV6_SECTION = "ipv6:\n  address: fd00::2/64\n"

suite = None  # set below


def norm(a):
    return ipaddress.IPv6Address(a)


def solicited_node(a):
    low = int(norm(a)) & 0xFFFFFF
    return str(ipaddress.IPv6Address((0xFF020000000000000000000000000000 | 0x1FF000000) + low))


def mac_of(dst):
    a = norm(dst)
    if a.is_multicast:
        low = a.packed[12:]
        return "33:33:" + ":".join(f"{b:02x}" for b in low)
    return DUT_MAC


class Peer6(Peer):
    """The peer, also answering neighbour solicitations for its IPv6 addresses."""

    def __init__(self, *args):
        super().__init__(*args)
        self.answer_nd = True
        self.ns_seen = 0

    def _handle(self, p):
        if not super()._handle(p):
            return False
        if IPv6 in p and ICMPv6ND_NS in p and norm(p[ICMPv6ND_NS].tgt) in (norm(PEER_IP6), norm(PEER_LL6)):
            self.ns_seen += 1
            if self.answer_nd and not norm(p[IPv6].src).is_unspecified:
                tgt = p[ICMPv6ND_NS].tgt
                na = (IPv6(src=tgt, dst=p[IPv6].src, hlim=255) / ICMPv6ND_NA(tgt=tgt, R=0, S=1, O=1) /
                      ICMPv6NDOptDstLLAddr(lladdr=PEER_MAC))
                self.send_frame(bytes(Ether(src=PEER_MAC, dst=p.src) / na))
        return True


class Env6(Env):
    """The daemon with fd00::2/64 and the IPv6-speaking peer."""

    def __init__(self, extra_yaml=IPV6_SECTION, ready=True):
        super().__init__(extra_yaml=extra_yaml, listen=False)
        self.peer.close()
        self.peer = Peer6(self.daemon.ns, self.daemon.tap, PEER_MAC, "10.0.0.99", DUT_MAC, self.daemon.address)
        if ready:
            wait_ready(self)


def send6(env, pkt, eth_dst=None):
    dst = pkt[IPv6].dst if IPv6 in pkt else DUT_IP6
    env.peer.send_frame(bytes(Ether(src=PEER_MAC, dst=eth_dst or mac_of(dst)) / pkt))


def ip6(dst=DUT_IP6, src=PEER_IP6, hlim=64, **kw):
    return IPv6(src=src, dst=dst, hlim=hlim, **kw)


def frames6(p, timeout, match=lambda q: True):
    """IPv6 packets from the DUT within `timeout`, fragments reassembled."""
    out = []
    parts = {}
    ends = {}
    for q in p.frames(timeout):
        if IPv6 not in q:
            continue
        if q[IPv6].nh == 44:  # our own fragment header, not one quoted in an error
            f = q[IPv6ExtHdrFragment]
            key = f.id
            parts.setdefault(key, {})[f.offset * 8] = bytes(f.payload)
            if not f.m:
                ends[key] = f.offset * 8 + len(bytes(f.payload))
            if key not in ends:
                continue
            buf = bytearray(ends[key])
            covered = 0
            for off in sorted(parts[key]):
                if off > covered:
                    break
                buf[off:off + len(parts[key][off])] = parts[key][off]
                covered = max(covered, off + len(parts[key][off]))
            if covered < ends[key]:
                continue
            head = q[IPv6]
            whole = IPv6(src=head.src, dst=head.dst, hlim=head.hlim, nh=f.nh) / Raw(bytes(buf))
            whole = IPv6(bytes(whole))
            whole.fragments = len(parts[key])
            del parts[key], ends[key]
            q = whole
        else:
            q = q[IPv6]
            q.fragments = 1
        if match(q):
            out.append(q)
    return out


def replies(env, ident, timeout=QUIET):
    return frames6(env.peer, timeout, lambda q: ICMPv6EchoReply in q and q[ICMPv6EchoReply].id == ident)


def problems(env, timeout=QUIET):
    return frames6(env.peer, timeout, lambda q: ICMPv6ParamProblem in q)


def advertisements(env, timeout=QUIET):
    return frames6(env.peer, timeout, lambda q: ICMPv6ND_NA in q)


def echo(ident, seq=1, data=b"tapstack", dst=DUT_IP6, src=PEER_IP6):
    return ip6(dst, src) / ICMPv6EchoRequest(id=ident, seq=seq, data=data)


def wait_ready(env, dst=DUT_IP6, timeout=8.0):
    """DAD passed: an echo is answered."""
    deadline = time.monotonic() + timeout
    ident = random.randrange(1, 65535)
    while time.monotonic() < deadline:
        send6(env, echo(ident, dst=dst))
        if replies(env, ident, 0.3):
            return
    raise RuntimeError(f"{dst} never answered an echo (DAD?)")


def ping6_ok(env, dst=DUT_IP6, size=32):
    ident = random.randrange(1, 65535)
    data = random.randbytes(size)
    send6(env, echo(ident, data=data, dst=dst))
    got = replies(env, ident, 3.0)
    expect(len(got) == 1 and bytes(got[0][ICMPv6EchoReply].data) == data,
           "a correct echo right afterwards answered once with its data", f"{len(got)} replies")


def fragments(pkt, fragsize, ident, order=None):
    """Our own fragmentation of `pkt` (an IPv6 packet whose payload starts
    with the fragmentable part), into `fragsize`-byte pieces."""
    head = pkt[IPv6]
    body = bytes(head.payload)
    out = []
    for off in range(0, len(body), fragsize):
        chunk = body[off:off + fragsize]
        more = 1 if off + fragsize < len(body) else 0
        out.append(IPv6(src=head.src, dst=head.dst, hlim=head.hlim) /
                   IPv6ExtHdrFragment(nh=head.nh, offset=off // 8, m=more, id=ident) / Raw(chunk))
    return [out[i] for i in order] if order else out


suite = Suite("conformance_ipv6", Env6)


# ---- Neighbour Discovery (RFC 4861) ------------------------------------------------

def ns(target, src=PEER_IP6, dst=None, hlim=255, sllao=True):
    pkt = ip6(dst or solicited_node(target), src, hlim) / ICMPv6ND_NS(tgt=target)
    return pkt / ICMPv6NDOptSrcLLAddr(lladdr=PEER_MAC) if sllao else pkt


@suite.check("RFC 4861 7.2.4: a solicitation for our address gets exactly one advertisement (S, O set, R clear, our MAC)")
def ns_for_us(env):
    env.peer.drain()
    send6(env, ns(DUT_IP6))
    got = advertisements(env, 1.0)
    expect(len(got) == 1, "exactly one neighbour advertisement", f"{len(got)}")
    na = got[0]
    a = na[ICMPv6ND_NA]
    fields = (norm(na.src), norm(na.dst), na.hlim, norm(a.tgt), a.R, a.S, a.O,
              na[ICMPv6NDOptDstLLAddr].lladdr.lower() if ICMPv6NDOptDstLLAddr in na else None)
    want = (norm(DUT_IP6), norm(PEER_IP6), 255, norm(DUT_IP6), 0, 1, 1, DUT_MAC)
    expect(fields == want, f"(src, dst, hlim, target, R, S, O, tlla) = {want}", f"{fields}")


@suite.check("RFC 4861 7.2.4: a solicitation for our link-local address from a link-local source is answered")
def ns_for_link_local(env):
    env.peer.drain()
    send6(env, ns(DUT_LL6, src=PEER_LL6))
    got = advertisements(env, 1.0)
    expect(len(got) == 1 and norm(got[0][ICMPv6ND_NA].tgt) == norm(DUT_LL6), "one advertisement for the link-local",
           [g.summary() for g in got])


@suite.check("RFC 4861 7.2.3: a solicitation for another address gets no advertisement")
def ns_for_other(env):
    env.peer.drain()
    send6(env, ns(OTHER_IP6, dst=solicited_node(DUT_IP6)))
    send6(env, ns(OTHER_IP6))
    got = advertisements(env)
    expect(not got, "no advertisement", f"{len(got)}")


@suite.check("RFC 4861 7.1.1: a solicitation with hop limit 254 (or 0, or 64) is ignored")
def ns_hop_limit(env):
    env.peer.drain()
    for hlim in (254, 0, 64):
        send6(env, ns(DUT_IP6, hlim=hlim))
    got = advertisements(env)
    expect(not got, "no advertisement", f"{len(got)}")
    send6(env, ns(DUT_IP6))
    expect(len(advertisements(env, 1.0)) == 1, "the same solicitation at hop limit 255 answered", "nothing")


@suite.check("RFC 4862 5.4.3: a DAD solicitation (from ::) for our address is answered to all-nodes with S clear")
def dad_defended(env):
    env.peer.drain()
    send6(env, ns(DUT_IP6, src="::", sllao=False))
    got = advertisements(env, 1.0)
    expect(len(got) == 1 and norm(got[0].dst) == norm(ALL_NODES) and got[0][ICMPv6ND_NA].S == 0
           and got[0][ICMPv6ND_NA].O == 1, "one advertisement to ff02::1, S=0, O=1", [g.summary() for g in got])


@suite.check("RFC 4861 7.2.2: the daemon resolves us with a multicast solicitation carrying its MAC")
def resolves_peer(env):
    # A peer address it has not cached yet.
    env.peer.drain()
    other = "fd00::98"
    ident = random.randrange(1, 65535)
    seen = []

    def handle(q):
        if ICMPv6ND_NS in q and norm(q[ICMPv6ND_NS].tgt) == norm(other):
            seen.append(q)
            na = (IPv6(src=other, dst=q[IPv6].src, hlim=255) / ICMPv6ND_NA(tgt=other, R=0, S=1, O=1) /
                  ICMPv6NDOptDstLLAddr(lladdr=PEER_MAC))
            env.peer.send_frame(bytes(Ether(src=PEER_MAC, dst=DUT_MAC) / na))
        return ICMPv6EchoReply in q and q[ICMPv6EchoReply].id == ident

    send6(env, echo(ident, src=other))
    got = frames6(env.peer, 2.0, handle)
    expect(len(seen) == 1, "one solicitation for the new neighbour", f"{len(seen)}")
    s = seen[0]
    fields = (norm(s.dst), s.hlim, s[ICMPv6NDOptSrcLLAddr].lladdr.lower() if ICMPv6NDOptSrcLLAddr in s else None)
    expect(fields == (norm(solicited_node(other)), 255, DUT_MAC), "to the solicited-node group, hop 255, with sllao",
           f"{fields}")
    expect(len(got) == 1, "then the echo reply", f"{len(got)}")


def dad_env():
    # DAD long enough to act on: ten probes, one a second.
    return Env6(extra_yaml=IPV6_SECTION + "nd:\n  dad_transmits: 10\n", ready=False)


@suite.check("RFC 4862 5.4.4: an advertisement for the tentative address makes it a duplicate: never used",
             env_factory=dad_env)
def dad_conflict_na(env):
    p = env.peer
    na = (ip6(ALL_NODES, DUT_IP6, 255) / ICMPv6ND_NA(tgt=DUT_IP6, R=0, S=0, O=1) /
          ICMPv6NDOptDstLLAddr(lladdr="02:00:00:00:00:55"))
    send6(env, na)
    env.daemon.wait_log(r"IPv6 address fd00::2 on tap0 is already in use by 02:00:00:00:00:55", timeout=5)
    time.sleep(11)  # past the DAD time
    p.drain()
    send6(env, ns(DUT_IP6))
    ident = random.randrange(1, 65535)
    send6(env, echo(ident))
    got = frames6(p, QUIET, lambda q: ICMPv6ND_NA in q or ICMPv6EchoReply in q)
    expect(not got, "no advertisement and no echo reply for the duplicate", [g.summary() for g in got])
    ping6_ok(env, DUT_LL6)  # the link-local address is fine
    c = env.stats()
    expect(c.get("nd.dad_failed") == 1, "nd.dad_failed 1", c.get("nd.dad_failed"))


@suite.check("RFC 4862 5.4.3: a solicitation from :: for the tentative address (another node's DAD) makes it a duplicate",
             env_factory=dad_env)
def dad_conflict_ns(env):
    send6(env, ns(DUT_IP6, src="::", sllao=False))
    env.daemon.wait_log(r"IPv6 address fd00::2 on tap0 is already in use", timeout=5)
    time.sleep(11)
    env.peer.drain()
    send6(env, ns(DUT_IP6))
    expect(not advertisements(env), "no advertisement for the duplicate", "")


# ---- extension headers (RFC 8200 4) ------------------------------------------------

def opt_header(cls, nh, otype):
    return cls(nh=nh, options=[HBHOptUnknown(otype=otype, optdata=b"\xaa\xbb")])


@suite.check("RFC 8200 4.2: unknown options by high bits: 00 skipped, 01 dropped, 10/11 Parameter Problem code 2")
def unknown_options(env):
    for cls in (IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt):
        for otype, answered, problem in ((0x1E, True, False), (0x5E, False, False), (0x9E, False, True),
                                         (0xDE, False, True)):
            env.peer.drain()
            ident = random.randrange(1, 65535)
            send6(env, ip6() / opt_header(cls, 58, otype) / ICMPv6EchoRequest(id=ident, data=b"opt"))
            got = frames6(env.peer, QUIET, lambda q: (ICMPv6EchoReply in q and q[ICMPv6EchoReply].id == ident)
                          or ICMPv6ParamProblem in q)
            reps = [g for g in got if ICMPv6EchoReply in g]
            probs = [g for g in got if ICMPv6ParamProblem in g]
            expect(len(reps) == (1 if answered else 0) and len(probs) == (1 if problem else 0),
                   f"{cls.__name__} type {otype:#x}: {int(answered)} reply, {int(problem)} problem",
                   f"{len(reps)} replies, {len(probs)} problems")
            if problem:
                pp = probs[0][ICMPv6ParamProblem]
                expect(pp.code == 2 and pp.ptr == 42, "code 2, pointer 42 (the option type)",
                       f"code {pp.code} ptr {pp.ptr}")


@suite.check("RFC 8200 4.2: to a multicast address, type 10 still draws Parameter Problem, type 11 does not")
def unknown_options_multicast(env):
    for otype, problem in ((0x9E, True), (0xDE, False)):
        env.peer.drain()
        send6(env, ip6(ALL_NODES) / opt_header(IPv6ExtHdrDestOpt, 58, otype) /
              ICMPv6EchoRequest(id=1, data=b"mc"))
        probs = problems(env)
        expect(len(probs) == (1 if problem else 0), f"type {otype:#x} to ff02::1: {int(problem)} problem",
               f"{len(probs)}")
        if probs:
            expect(norm(probs[0].src) == norm(DUT_IP6), "from our unicast address", probs[0].src)


@suite.check("RFC 5095 3: routing type 0 with segments left draws Parameter Problem code 0 at the type; none left is skipped")
def routing_type0(env):
    env.peer.drain()
    ident = random.randrange(1, 65535)
    send6(env, ip6() / IPv6ExtHdrRouting(nh=58, type=0, segleft=1, addresses=["fd00::9"]) /
          ICMPv6EchoRequest(id=ident))
    probs = problems(env)
    expect(len(probs) == 1 and probs[0][ICMPv6ParamProblem].code == 0 and probs[0][ICMPv6ParamProblem].ptr == 42,
           "one Parameter Problem, code 0, pointer 42", [(g[ICMPv6ParamProblem].code, g[ICMPv6ParamProblem].ptr)
                                                          for g in probs])
    expect(not replies(env, ident, 0.1), "no echo reply", "")
    send6(env, ip6() / IPv6ExtHdrRouting(nh=58, type=0, segleft=0, addresses=["fd00::9"]) /
          ICMPv6EchoRequest(id=ident, seq=2))
    expect(len(replies(env, ident, 2.0)) == 1, "segments left 0: answered", "no reply")


@suite.check("RFC 8200 4.1: 8 destination options headers are processed; 40 are dropped without a word")
def long_chains(env):
    for count, answered in ((8, True), (40, False)):
        env.peer.drain()
        ident = random.randrange(1, 65535)
        chain = None
        for i in range(count):
            h = opt_header(IPv6ExtHdrDestOpt, 58 if i == count - 1 else 60, 0x1E)
            chain = h if chain is None else chain / h
        send6(env, ip6() / chain / ICMPv6EchoRequest(id=ident))
        got = frames6(env.peer, QUIET, lambda q: ICMPv6EchoReply in q or ICMPv6ParamProblem in q)
        expect(len(got) == (1 if answered else 0), f"{count} headers: {'one reply' if answered else 'nothing'}",
               [g.summary() for g in got])
    ping6_ok(env)


@suite.check("RFC 8200 4.3: hop-by-hop options not first draw Parameter Problem code 1 at the naming byte")
def hop_by_hop_not_first(env):
    env.peer.drain()
    send6(env, ip6() / opt_header(IPv6ExtHdrDestOpt, 0, 0x1E) / opt_header(IPv6ExtHdrHopByHop, 58, 0x1E) /
          ICMPv6EchoRequest(id=5))
    probs = problems(env)
    expect(len(probs) == 1 and (probs[0][ICMPv6ParamProblem].code, probs[0][ICMPv6ParamProblem].ptr) == (1, 40),
           "code 1, pointer 40", [(g[ICMPv6ParamProblem].code, g[ICMPv6ParamProblem].ptr) for g in probs])


@suite.check("RFC 8200 4: UDP (no transport) and an unknown next header draw Parameter Problem code 1 at byte 6; "
             "TCP is delivered (a SYN to a closed port gets RST|ACK over IPv6)")
def unknown_next_header(env):
    env.peer.drain()
    send6(env, ip6(nh=17) / Raw(bytes(8)))
    send6(env, ip6(nh=253) / Raw(bytes(8)))
    probs = problems(env, 1.0)
    expect(len(probs) == 2 and all((g[ICMPv6ParamProblem].code, g[ICMPv6ParamProblem].ptr) == (1, 6) for g in probs),
           "two problems, code 1, pointer 6", [(g[ICMPv6ParamProblem].code, g[ICMPv6ParamProblem].ptr) for g in probs])
    env.peer.drain()
    send6(env, ip6() / TCP(sport=40000, dport=9, flags="S", seq=1000))
    seen = frames6(env.peer, 1.0, lambda q: TCP in q or ICMPv6ParamProblem in q)
    rst = [q for q in seen if TCP in q and ICMPv6ParamProblem not in q]
    expect(len(rst) == 1 and rst[0][TCP].flags == "RA" and rst[0][TCP].ack == 1001 and rst[0][TCP].sport == 9
           and len(seen) == 1, "one RST|ACK acknowledging the SYN, no Parameter Problem",
           [q.summary() for q in seen])


# ---- fragments (RFC 8200 4.5, RFC 5722, RFC 6946, RFC 7112) -----------------------

def echo_frags(ident, size, fragsize, order=None, fid=None):
    data = bytes(random.randrange(256) for _ in range(size))
    pkt = IPv6(bytes(echo(ident, data=data)))  # checksum filled in
    return data, fragments(pkt, fragsize, fid or random.randrange(1, 1 << 32), order)


@suite.check("RFC 8200 4.5: fragments out of order and tiny (8-byte) fragments are reassembled and answered")
def fragments_ok(env):
    ident = random.randrange(1, 65535)
    data, frags = echo_frags(ident, 3000, 1232, order=[2, 0, 1])
    for f in frags:
        send6(env, f)
    got = replies(env, ident, 3.0)
    expect(len(got) == 1 and bytes(got[0][ICMPv6EchoReply].data) == data, "out of order: one correct reply",
           f"{len(got)}")
    data, frags = echo_frags(ident, 200, 8)
    for f in frags:
        send6(env, f)
    got = replies(env, ident, 3.0)
    expect(len(got) == 1 and bytes(got[0][ICMPv6EchoReply].data) == data, f"{len(frags)} tiny fragments: one reply",
           f"{len(got)}")


@suite.check("RFC 5722: overlapping fragments drop the packet silently; a correct one afterwards is answered")
def overlapping_fragments(env):
    env.peer.drain()
    ident = random.randrange(1, 65535)
    fid = random.randrange(1, 1 << 32)
    data, frags = echo_frags(ident, 3000, 1232, fid=fid)
    rogue = frags[1].copy()
    rogue[IPv6ExtHdrFragment].offset -= 1  # 8 bytes back into the first fragment
    for f in (frags[0], rogue, frags[1], frags[2]):
        send6(env, f)
    got = frames6(env.peer, QUIET, lambda q: ICMPv6EchoReply in q or ICMPv6ParamProblem in q)
    expect(not got, "no reply and no error", [g.summary() for g in got])
    ping6_ok(env)


@suite.check("RFC 6946: an atomic fragment is processed alone and answered")
def atomic_fragment(env):
    ident = random.randrange(1, 65535)
    send6(env, ip6() / IPv6ExtHdrFragment(nh=58, offset=0, m=0, id=7) / ICMPv6EchoRequest(id=ident, data=b"atomic"))
    got = replies(env, ident, 2.0)
    expect(len(got) == 1, "one reply", f"{len(got)}")


@suite.check("RFC 7112: a first fragment without the upper-layer header draws Parameter Problem code 3, pointer 0")
def incomplete_first_fragment(env):
    env.peer.drain()
    first = ip6() / IPv6ExtHdrFragment(nh=60, offset=0, m=1, id=9) / opt_header(IPv6ExtHdrDestOpt, 58, 0x1E)
    send6(env, first)
    probs = problems(env, 1.0)
    expect(len(probs) == 1 and (probs[0][ICMPv6ParamProblem].code, probs[0][ICMPv6ParamProblem].ptr) == (3, 0),
           "code 3, pointer 0", [(g[ICMPv6ParamProblem].code, g[ICMPv6ParamProblem].ptr) for g in probs])


# ---- ICMPv6 ---------------------------------------------------------------------------

@suite.check("RFC 4443 4.2: an echo to all-nodes is answered from our unicast address")
def echo_all_nodes(env):
    ident = random.randrange(1, 65535)
    send6(env, echo(ident, dst=ALL_NODES))
    got = replies(env, ident, 2.0)
    expect(len(got) == 1 and not norm(got[0].src).is_multicast, "one reply from a unicast address",
           [g.src for g in got])


@suite.check("RFC 4443 2.4 (e): no error about an ICMPv6 error, to a multicast packet, or from ::")
def no_error_cases(env):
    env.peer.drain()
    quoted = bytes(ip6(PEER_IP6, DUT_IP6) / ICMPv6EchoReply(id=1))
    send6(env, ip6() / opt_header(IPv6ExtHdrDestOpt, 58, 0xDE) / ICMPv6DestUnreach(code=1) / Raw(quoted))
    send6(env, ip6(ALL_NODES, nh=253) / Raw(bytes(8)))
    send6(env, ip6(src="::", nh=253) / Raw(bytes(8)))
    got = frames6(env.peer, QUIET, lambda q: ICMPv6ParamProblem in q or ICMPv6DestUnreach in q)
    expect(not got, "no ICMPv6 error", [g.summary() for g in got])
    ping6_ok(env)


@suite.check("RFC 8201: a Packet Too Big (1280) for our address makes later replies fragment to 1280")
def packet_too_big(env):
    ident = random.randrange(1, 65535)
    send6(env, echo(ident, data=bytes(1400)))
    first = replies(env, ident, 2.0)
    expect(len(first) == 1 and first[0].fragments == 1, "a 1400-byte echo answered unfragmented", f"{len(first)}")
    quoted = bytes(first[0])[:1000]
    send6(env, ip6(src="fd00::fe") / ICMPv6PacketTooBig(mtu=1280) / Raw(quoted))
    time.sleep(0.2)
    send6(env, echo(ident, seq=2, data=bytes(1400)))
    got = replies(env, ident, 2.0)
    expect(len(got) == 1 and got[0].fragments == 2, "the next reply in 2 fragments", [g.fragments for g in got])
    c = env.stats()
    expect(c.get("ipv6.pmtu_lowered", 0) >= 1, "ipv6.pmtu_lowered counted", c.get("ipv6.pmtu_lowered"))


@suite.check("RFC 4443 2.4 (f): ICMPv6 errors are rate-limited (ipv6.icmp_error_rate 5)",
             env_factory=lambda: Env6(extra_yaml=IPV6_SECTION + "  icmp_error_rate: 5\n"))
def error_rate_limit(env):
    env.peer.drain()
    n = 50
    for i in range(n):
        send6(env, ip6(nh=253) / Raw(bytes(8)))
    probs = problems(env, 1.0)
    print(f"  info: {len(probs)} errors for {n} packets")
    expect(0 < len(probs) <= 6, "at most 6 errors (5 per second, one second's burst)", f"{len(probs)}")
    c = env.stats()
    expect(c.get("icmp6.tx_error_rate_limited", 0) >= n - 6, f"icmp6.tx_error_rate_limited >= {n - 6}",
           c.get("icmp6.tx_error_rate_limited"))


if __name__ == "__main__":
    suite.run()
