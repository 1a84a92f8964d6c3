#!/usr/bin/python3
"""Link, IP and ICMP conformance of the real tapstackd (CONFORMANCE.md
"Link, IP, ICMP"), checked packet by packet from a scripted peer on its TAP:
ARP (RFC 826, RFC 5227), ICMP echo (RFC 792), IPv4 header validation,
options and reassembly (RFC 791, RFC 1122 3.2.1 / 3.3.2), and the rule that
an ICMP error is never sent about an ICMP error (RFC 1122 3.2.2).

"Dropped silently" is checked as: no frame at all comes back for the bad
input within a bound, and the same exchange done correctly right after it
is answered (so the silence is not just a dead daemon).
"""
import random
import struct
import time

from conformance import DUT_MAC, OTHER_IP, PEER_IP, PEER_MAC, Env, Suite, expect
from peer import ARP, ICMP, IP, icmp_echo, inet_checksum, ipv4_packet

suite = Suite("conformance_link_ip", lambda: Env(listen=False))
QUIET = 0.7  # seconds of silence that count as "nothing came back"


def arp_replies(p, timeout=QUIET):
    return p.collect(lambda q: ARP in q and q[ARP].op == 2, timeout)


def echo_replies(p, ident, timeout=QUIET, settle=0.4):
    """Complete echo replies with `ident` as (seq, data, icmp bytes),
    reassembling the daemon's fragments; once one arrived, waits `settle`
    more seconds for duplicates."""
    out = []
    out_time = None
    deadline = time.monotonic() + timeout
    state = ({}, {})  # ip id -> {offset: bytes}; ip id -> end offset once the last fragment came
    while True:
        now = time.monotonic()
        if now >= deadline:
            return out
        if out_time is not None:
            deadline = min(deadline, out_time + settle)
        _echo_step(p, ident, min(0.1, deadline - now), state, out)
        if out and out_time is None:
            out_time = time.monotonic()


def _echo_step(p, ident, timeout, state, out):
    frags, ends = state
    for q in p.frames(timeout):
        if IP not in q or q[IP].proto != 1:
            continue
        ip = q[IP]
        raw = bytes(ip)[ip.ihl * 4:ip.len]
        more = bool(int(ip.flags) & 1)
        if ip.frag == 0 and not more:
            body = raw
        else:
            parts = frags.setdefault(ip.id, {})
            parts[ip.frag * 8] = raw
            if not more:
                ends[ip.id] = ip.frag * 8 + len(raw)
            if ip.id not in ends:
                continue
            buf = bytearray(ends[ip.id])
            covered = 0
            for off in sorted(parts):
                if off > covered:
                    break
                buf[off:off + len(parts[off])] = parts[off]
                covered = max(covered, off + len(parts[off]))
            if covered < ends[ip.id]:
                continue
            del frags[ip.id], ends[ip.id]
            body = bytes(buf)
        if len(body) >= 8:
            typ, _, _, qid, qseq = struct.unpack("!BBHHH", body[:8])
            if typ == 0 and qid == ident:
                out.append((qseq, body[8:], body))


def any_icmp(p, timeout=QUIET):
    return p.collect(lambda q: IP in q and q[IP].proto == 1, timeout)


def ping_ok(env, ident=None, size=32):
    """A correct echo right after a bad input must be answered."""
    p = env.peer
    ident = ident or random.randrange(1, 65535)
    data = random.randbytes(size)
    p.send_ip(icmp_echo(ident, 1, data), 1)
    got = echo_replies(p, ident, 3.0)
    expect(len(got) == 1 and got[0][1] == data, "a correct echo right afterwards answered once with its data",
           f"{len(got)} replies")


# ---- ARP ------------------------------------------------------------------------

@suite.check("RFC 826: ARP request for our address gets exactly one correct reply")
def arp_for_us(env):
    p = env.peer
    p.drain()
    p.send_arp(1, PEER_IP, env.dut_ip)
    got = arp_replies(p, 1.0)
    expect(len(got) == 1, "exactly one ARP reply", f"{len(got)}")
    a, eth = got[0][ARP], got[0]
    fields = (a.hwtype, a.ptype, a.hwlen, a.plen, a.hwsrc.lower(), a.psrc, a.hwdst.lower(), a.pdst, eth.dst.lower())
    want = (1, 0x0800, 6, 4, DUT_MAC, env.dut_ip, PEER_MAC, PEER_IP, PEER_MAC)
    expect(fields == want, f"(htype, ptype, hlen, plen, sha, spa, tha, tpa, eth.dst) = {want}", f"{fields}")


@suite.check("RFC 826: ARP request for another address gets no reply")
def arp_for_other(env):
    p = env.peer
    p.drain()
    p.send_arp(1, PEER_IP, OTHER_IP)
    got = arp_replies(p)
    expect(not got, "no ARP reply", f"{len(got)} replies")


@suite.check("RFC 826 / RFC 5227 2.3: gratuitous ARP updates an existing cache entry")
def gratuitous_arp(env):
    p = env.peer
    new_mac = "02:00:00:00:00:98"
    ident = 0x4242
    # Entry for PEER_IP -> PEER_MAC (the peer answers the daemon's ARP).
    p.send_ip(icmp_echo(ident, 1, b"before"), 1)
    first = p.expect(lambda q: IP in q and q[IP].proto == 1 and ICMP in q and q[ICMP].type == 0, 3)
    expect(first is not None and first.dst.lower() == PEER_MAC, f"echo reply to {PEER_MAC}",
           first.dst if first is not None else "no reply")
    # Announce PEER_IP at new_mac (RFC 5227 announcement: request, SPA = TPA).
    p.send_arp(1, PEER_IP, PEER_IP, hwsrc=new_mac, eth_src=new_mac)
    p.drain(0.2)
    p.send_ip(icmp_echo(ident, 2, b"after"), 1)
    second = p.expect(lambda q: IP in q and q[IP].proto == 1 and ICMP in q and q[ICMP].type == 0, 3)
    expect(second is not None and second.dst.lower() == new_mac,
           f"echo reply now sent to the announced {new_mac}",
           second.dst if second is not None else "no reply")
    # Put the peer back.
    p.send_arp(1, PEER_IP, PEER_IP)
    p.drain(0.2)


@suite.check("RFC 826: malformed ARP (hardware type, protocol, lengths, truncation, opcode) ignored")
def arp_malformed(env):
    p = env.peer
    p.drain()
    bad = {
        "htype=6": dict(htype=6),
        "ptype=0x86dd": dict(ptype=0x86DD),
        "hlen=8": dict(hlen=8),
        "plen=16": dict(plen=16),
        "truncated to 20 bytes": dict(truncate=20),
        "opcode 9": dict(op=9),
    }
    seen = []
    for what, kw in bad.items():
        op = kw.pop("op", 1)
        p.send_arp(op, PEER_IP, env.dut_ip, **kw)
        got = arp_replies(p, 0.4)
        if got:
            seen.append(f"{what}: {len(got)} replies")
    expect(not seen, "no reply to any malformed ARP request", "; ".join(seen))
    p.send_arp(1, PEER_IP, env.dut_ip)
    expect(len(arp_replies(p, 1.0)) == 1, "a correct request afterwards answered", "no reply")


# ---- ICMP echo ---------------------------------------------------------------

def echo_exact(env, size, fragsize=None):
    p = env.peer
    p.drain()
    ident, seq = random.randrange(1, 65535), random.randrange(65536)
    data = random.randbytes(size)
    msg = icmp_echo(ident, seq, data)
    if fragsize is None:
        p.send_ip(msg, 1, flags_frag=0)
    else:
        ipid = random.randrange(65536)
        for off in range(0, len(msg), fragsize):
            chunk = msg[off:off + fragsize]
            more = 0x2000 if off + fragsize < len(msg) else 0
            p.send_ip(chunk, 1, ident=ipid, flags_frag=more | (off // 8))
    got = echo_replies(p, ident, 3.0)
    expect(len(got) == 1, "exactly one echo reply", f"{len(got)}")
    qseq, qdata, _ = got[0]
    expect(qseq == seq and qdata == data, f"id={ident} seq={seq} and the {size} data bytes back unchanged",
           f"seq={qseq}, {len(qdata)} bytes, equal={qdata == data}")


@suite.check("RFC 792: echo with 56 data bytes answered with identical id, seq and data")
def echo_56(env):
    echo_exact(env, 56)


@suite.check("RFC 792: echo with 1472 data bytes (full 1500-byte datagram) answered identically")
def echo_1472(env):
    echo_exact(env, 1472)


@suite.check("RFC 792 / RFC 791: echo with 8000 data bytes in fragments answered identically")
def echo_8000(env):
    echo_exact(env, 8000, fragsize=1480)


@suite.check("RFC 1122 3.2.2.6: echo request with a bad ICMP checksum dropped")
def echo_bad_checksum(env):
    p = env.peer
    p.drain()
    good = icmp_echo(0x5151, 1, b"bad icmp checksum")
    p.send_ip(icmp_echo(0x5151, 1, b"bad icmp checksum", checksum=struct.unpack("!H", good[2:4])[0] ^ 0x0101), 1)
    got = any_icmp(p)
    expect(not got, "no ICMP answer", f"{len(got)} ICMP messages")
    ping_ok(env)


def ip_header_dropped(env, what, build):
    p = env.peer
    p.drain()
    ident = random.randrange(1, 65535)
    p.send_frame(p.eth(0x0800, build(icmp_echo(ident, 1, b"x" * 32))))
    got = p.collect(lambda q: IP in q or ARP in q and q[ARP].op == 2, QUIET)
    expect(not got, f"{what}: nothing sent back", f"{len(got)} frames")
    ping_ok(env)


@suite.check("RFC 1122 3.2.1.2: IPv4 header with a bad checksum dropped silently")
def ip_bad_checksum(env):
    def build(icmp):
        good = ipv4_packet(PEER_IP, env.dut_ip, 1, icmp)
        return ipv4_packet(PEER_IP, env.dut_ip, 1, icmp, checksum=struct.unpack("!H", good[10:12])[0] ^ 0x00FF)
    ip_header_dropped(env, "bad header checksum", build)


@suite.check("RFC 1122 3.2.1.1: IPv4 version field not 4 dropped silently")
def ip_bad_version(env):
    ip_header_dropped(env, "version 6", lambda icmp: ipv4_packet(PEER_IP, env.dut_ip, 1, icmp, version=6))


@suite.check("RFC 791 / RFC 1122 3.2.1: IHL < 5 dropped silently")
def ip_ihl_small(env):
    ip_header_dropped(env, "IHL 4", lambda icmp: ipv4_packet(PEER_IP, env.dut_ip, 1, icmp, ihl=4))


@suite.check("RFC 791 / RFC 1122 3.2.1: IHL larger than total length dropped silently")
def ip_ihl_beyond_total(env):
    # IHL 15 (60 bytes) but total length 28: the header claims more than the datagram.
    ip_header_dropped(env, "IHL 15, total 28",
                      lambda icmp: ipv4_packet(PEER_IP, env.dut_ip, 1, icmp[:8], ihl=15, total=28) + b"\0" * 40)


@suite.check("RFC 791 / RFC 1122 3.2.1: total length larger than the frame dropped silently")
def ip_total_beyond_frame(env):
    ip_header_dropped(env, "total 1000 in a 60-byte datagram",
                      lambda icmp: ipv4_packet(PEER_IP, env.dut_ip, 1, icmp, total=1000))


@suite.check("RFC 1122 3.2.1.8: echo in a datagram with IP options answered (ICMP found at IHL*4)")
def ip_options_echo(env):
    p = env.peer
    p.drain()
    ident = random.randrange(1, 65535)
    data = b"options-present" * 4
    # Record Route with room for 3 addresses (11 bytes) + NOP: IHL 8.
    rr = bytes([7, 11, 4]) + b"\0" * 8 + b"\x01"
    p.send_ip(icmp_echo(ident, 7, data), 1, options=rr)
    got = echo_replies(p, ident, 3.0)
    expect(len(got) == 1 and got[0][0] == 7 and got[0][1] == data,
           "one echo reply with seq 7 and the same data", f"{[(s, len(d)) for s, d, _ in got]}")


def fragments_of(msg, size, ipid):
    out = []
    for off in range(0, len(msg), size):
        more = 0x2000 if off + size < len(msg) else 0
        out.append((msg[off:off + size], more | (off // 8)))
    return out


@suite.check("RFC 791 / RFC 1122 3.3.2: fragments out of order and duplicated reassembled once")
def fragments_shuffled(env):
    p = env.peer
    p.drain()
    ident, seq = random.randrange(1, 65535), 3
    data = random.randbytes(3000)
    msg = icmp_echo(ident, seq, data)
    ipid = random.randrange(65536)
    frags = fragments_of(msg, 1008, ipid)
    order = [2, 0, 2, 1, 0]  # last first, then duplicates of the last and the first
    for i in order:
        chunk, ff = frags[i]
        p.send_ip(chunk, 1, ident=ipid, flags_frag=ff)
    got = echo_replies(p, ident, 3.0)
    expect(len(got) == 1 and got[0][1] == data,
           f"exactly one echo reply carrying the 3000 bytes (fragments sent in order {order})",
           f"{len(got)} replies, equal={[d == data for _, d, _ in got]}")


@suite.check("RFC 1122 3.3.2: an incomplete datagram is never answered (missing middle fragment)")
def fragments_incomplete(env):
    p = env.peer
    p.drain()
    ident = random.randrange(1, 65535)
    msg = icmp_echo(ident, 1, bytes(3000))
    ipid = random.randrange(65536)
    frags = fragments_of(msg, 1008, ipid)
    for i in (0, 2):
        p.send_ip(frags[i][0], 1, ident=ipid, flags_frag=frags[i][1])
    got = echo_replies(p, ident, 1.0)
    expect(not got, "no echo reply without the middle fragment", f"{len(got)} replies")
    ping_ok(env)


def reassembly_env():
    # The harness writes the ipv4 section itself: extend its config text.
    env = Env(listen=False, ipv4_extra="  reassembly_timeout: 1s\n  reassembly_max_datagrams: 16\n")
    return env


@suite.check("RFC 1122 3.3.2: a partial datagram is freed at the reassembly timeout (late fragments do not complete it)",
             env_factory=reassembly_env)
def reassembly_timeout(env):
    p = env.peer
    p.drain()
    ident = random.randrange(1, 65535)
    msg = icmp_echo(ident, 1, bytes(3000))
    ipid = random.randrange(65536)
    frags = fragments_of(msg, 1008, ipid)
    p.send_ip(frags[0][0], 1, ident=ipid, flags_frag=frags[0][1])
    time.sleep(2.0)  # reassembly_timeout is 1 s
    for chunk, ff in frags[1:]:
        p.send_ip(chunk, 1, ident=ipid, flags_frag=ff)
    got = echo_replies(p, ident, 1.0)
    expect(not got, "no echo reply: the first fragment was discarded at the timeout", f"{len(got)} replies")
    ping_ok(env)


@suite.check("RFC 1122 3.3.2: many incomplete datagrams keep memory bounded; reassembly still works afterwards",
             env_factory=reassembly_env)
def reassembly_bounded(env):
    p = env.peer
    d = env.daemon
    def rss():
        with open(f"/proc/{d.pid}/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    before = rss()
    for i in range(1500):  # 1500 first fragments of 1480 bytes: ~2.2 MB if all were kept
        p.send_ip(bytes(1480), 1, ident=i, flags_frag=0x2000)
        if i % 100 == 99:
            p.drain(0.01)
    p.drain(0.5)
    after = rss()
    print(f"  info: VmRSS {before} KiB -> {after} KiB")
    expect(after - before <= 8 * 1024, "VmRSS growth <= 8 MiB", f"{after - before} KiB")
    echo_exact(env, 4000, fragsize=1480)


@suite.check("RFC 1122 3.2.1.3: datagram for another address dropped (no reply, no ICMP error)")
def not_for_us(env):
    p = env.peer
    p.drain()
    p.send_ip(icmp_echo(0x7777, 1, b"not for you"), 1, dst=OTHER_IP)
    got = p.collect(lambda q: IP in q, QUIET)
    expect(not got, "nothing back", f"{len(got)} IP frames")


@suite.check("RFC 1122 3.2.1.3: datagram with a broadcast source address dropped")
def broadcast_source(env):
    p = env.peer
    p.drain()
    p.send_ip(icmp_echo(0x7778, 1, b"from broadcast"), 1, src="10.0.0.255")
    p.send_ip(icmp_echo(0x7779, 1, b"from limited broadcast"), 1, src="255.255.255.255")
    got = p.collect(lambda q: IP in q or ARP in q and q[ARP].pdst in ("10.0.0.255", "255.255.255.255"), QUIET)
    expect(not got, "no echo reply or ARP toward a broadcast source", f"{len(got)} frames")
    ping_ok(env)


def icmp_errors(p, timeout=QUIET):
    return p.collect(lambda q: IP in q and q[IP].proto == 1 and ICMP in q and q[ICMP].type in (3, 11, 12), timeout)


@suite.check("RFC 1122 3.2.2.1 / RFC 792: unknown protocol draws Protocol Unreachable quoting the header and 8+ bytes")
def protocol_unreachable(env):
    p = env.peer
    p.drain()
    payload = bytes(range(32))
    dgram = ipv4_packet(PEER_IP, env.dut_ip, 253, payload, ident=0x3333)
    p.send_ip(payload, 253, ident=0x3333)
    got = icmp_errors(p, 1.5)
    expect(len(got) == 1, "exactly one ICMP error", f"{len(got)}")
    c = got[0][ICMP]
    quote = bytes(c.payload)
    # The quoted header may differ only in fields a host does not change; compare it whole.
    expect(c.type == 3 and c.code == 2 and quote[:20] == dgram[:20] and quote[20:28] == payload[:8],
           "type 3 code 2 quoting our 20-byte header and the first 8 payload bytes",
           f"type {c.type} code {c.code}, quote {quote[:28].hex()} vs {dgram[:28].hex()}")
    expect(got[0][IP].dst == PEER_IP and got[0][IP].src == env.dut_ip, f"sent {env.dut_ip} -> {PEER_IP}",
           f"{got[0][IP].src} -> {got[0][IP].dst}")


@suite.check("RFC 1122 3.2.2: no ICMP error about a datagram sent to a broadcast address")
def no_error_for_broadcast(env):
    p = env.peer
    p.drain()
    pkt = ipv4_packet(PEER_IP, "10.0.0.255", 253, bytes(16))
    p.send_frame(p.eth(0x0800, pkt, dst="ff:ff:ff:ff:ff:ff"))
    pkt = ipv4_packet(PEER_IP, "255.255.255.255", 253, bytes(16))
    p.send_frame(p.eth(0x0800, pkt, dst="ff:ff:ff:ff:ff:ff"))
    got = icmp_errors(p)
    expect(not got, "no ICMP error", f"{[(q[ICMP].type, q[ICMP].code) for q in got]}")


@suite.check("RFC 1122 3.2.2: no ICMP error about an ICMP error (destination unreachable sent to us)")
def no_error_about_error(env):
    p = env.peer
    p.drain()
    # A port unreachable quoting a datagram we never sent, and one with an
    # unknown code: both are ICMP errors, neither may draw an ICMP error.
    quoted = ipv4_packet(env.dut_ip, PEER_IP, 17, struct.pack("!HHHH", 5000, 9, 8, 0))
    for code in (3, 99):
        body = struct.pack("!BBHI", 3, code, 0, 0) + quoted
        body = body[:2] + struct.pack("!H", inet_checksum(body)) + body[4:]
        p.send_ip(body, 1)
    # Also an ICMP error with a bad checksum and a truncated one.
    p.send_ip(struct.pack("!BBHI", 11, 0, 0x1234, 0) + quoted, 1)
    p.send_ip(b"\x03\x03", 1)
    got = any_icmp(p)
    expect(not got, "no ICMP sent back", f"{[(q[ICMP].type, q[ICMP].code) for q in got if ICMP in q]}")
    ping_ok(env)


@suite.check("RFC 1122 3.2.2: unknown ICMP type draws no ICMP error")
def unknown_icmp_type(env):
    p = env.peer
    p.drain()
    p.send_ip(icmp_echo(1, 1, b"type 42", typ=42), 1)
    got = any_icmp(p)
    expect(not got, "no ICMP sent back", f"{[(q[ICMP].type, q[ICMP].code) for q in got if ICMP in q]}")


@suite.check("RFC 1122 3.2.2 / RFC 1812 4.3.2.8: ICMP errors are rate-limited")
def icmp_error_rate_limit(env):
    # Last in the file: it empties the token bucket that the checks for
    # "no ICMP error" would otherwise pass against vacuously.
    p = env.peer
    p.drain()
    n = 400
    got = []
    for i in range(n):
        p.send_ip(bytes(8), 253, ident=i)
        if i % 50 == 49:
            got += icmp_errors(p, 0.005)
    got += icmp_errors(p, 0.5)
    print(f"  info: {len(got)} ICMP errors for {n} datagrams of an unknown protocol")
    expect(0 < len(got) <= n // 2, f"some, but at most {n // 2} ICMP errors for {n} offending datagrams in a burst",
           f"{len(got)}")


if __name__ == "__main__":
    suite.run()
