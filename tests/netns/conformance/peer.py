"""The scripted peer: crafted Ethernet/IPv4/TCP frames on the TAP's kernel side.

Theory of operation
-------------------
The conformance tests talk to the real tapstackd through its TAP: this
module opens an AF_PACKET socket bound to the TAP *inside the test's
network namespace* (setns(2) around socket(2); the socket keeps its
namespace afterwards, so the test process itself stays in the root
namespace and needs no `ip netns exec`). Frames written to that socket go
to the daemon; every frame the daemon writes is read back from it.

The peer impersonates a host the kernel does NOT own (a spare address in
the subnet, with its own MAC). The namespace's kernel sees the daemon's
frames to that MAC as PACKET_OTHERHOST and drops them before IP, so its own
TCP never answers (no stray RSTs) and nothing but this script speaks for the
peer address. The peer answers the daemon's ARP requests for its address
while it reads (so next-hop resolution just works), and only frames sent by
the daemon's MAC are handed to the checks; the kernel's own chatter (IPv6
neighbour discovery and the like) is ignored.

Outgoing TCP is built byte by byte (`tcp_segment`), so a check can put any
value in any field (data offset, option lengths, checksum); incoming frames
are parsed with scapy. Every frame in either direction is kept in a short
log with a one-line summary: a failing check prints the frames it exchanged,
which is the evidence a stack engineer needs.

With interface.offloads on (TAPSTACK_TEST_OFFLOADS=on), the daemon hands
the kernel TSO super-segments and partial checksums in the virtio-net
header; a packet socket sees such a frame before anything cuts it. The
socket therefore asks for that header too (PACKET_VNET_HDR) and the peer
does what the device would: completes a partial checksum (NEEDS_CSUM) and
cuts a TCPV4 super-frame into gso_size segments as Linux's TCP GSO does
(consecutive IPv4 IDs, sequence numbers advanced, FIN/PSH only on the last
segment, CWR only on the first), so the checks see what would reach a
wire. With offloads off the header is all zero and changes nothing.

Non-goals: no TCP state machine here; the checks track sequence numbers
themselves, in the open, so each check reads like a packetdrill script.
"""

import collections
import ctypes
import logging
import os
import select
import socket
import struct
import time

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.layers.inet import ICMP, IP, TCP  # noqa: E402
from scapy.layers.inet6 import IPv6  # noqa: E402
from scapy.layers.l2 import ARP, Ether  # noqa: E402
from scapy.packet import Raw  # noqa: E402

CLONE_NEWNET = 0x40000000
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SOL_PACKET = 263           # linux/socket.h (Python has no name for it)
PACKET_VNET_HDR = 15       # linux/if_packet.h
VNET_HDR_LEN = 10          # struct virtio_net_hdr (no num_buffers)
VNET_F_NEEDS_CSUM = 1
VNET_GSO_TCPV4 = 1
VNET_GSO_ECN = 0x80
_libc = ctypes.CDLL(None, use_errno=True)

FIN, SYN, RST, PSH, ACK, URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20


def mac_bytes(text):
    return bytes(int(x, 16) for x in text.split(":"))


def ip_bytes(text):
    return socket.inet_aton(text)


def inet_checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def packet_socket_in_netns(ns, ifname):
    """An AF_PACKET socket bound to `ifname` inside namespace `ns`."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        _setns(target)
        try:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            s.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
            s.bind((ifname, ETH_P_ALL))
        finally:
            _setns(own)
    finally:
        os.close(own)
        os.close(target)
    s.setblocking(False)
    return s


# ---- what the device does to an offloaded frame --------------------------------

def _tcp_checksum_fixed(ip, ihl):
    """`ip` (bytearray, one IPv4/TCP datagram) with its TCP checksum computed afresh."""
    tcp = ip[ihl:]
    tcp[16:18] = b"\0\0"
    pseudo = bytes(ip[12:20]) + struct.pack("!BBH", 0, 6, len(tcp))
    tcp[16:18] = struct.pack("!H", inet_checksum(pseudo + bytes(tcp)))
    return ip[:ihl] + tcp


def device_output(vnet, frame):
    """The frames a virtio-net device would put on the wire for `frame` with
    virtio-net header `vnet` (virtio 1.x 5.1.6.2): the checksum completed,
    a TCPV4 GSO frame cut into gso_size segments."""
    flags, gso_type, _hdr_len, gso_size, csum_start, csum_offset = struct.unpack("<BBHHHH", vnet)
    frame = bytearray(frame)
    if flags & VNET_F_NEEDS_CSUM:
        field = csum_start + csum_offset
        if field + 2 <= len(frame):
            # The field holds the folded pseudo-header sum: summing from
            # csum_start over it completes the checksum.
            frame[field:field + 2] = struct.pack("!H", inet_checksum(bytes(frame[csum_start:])))
    if gso_type & ~VNET_GSO_ECN != VNET_GSO_TCPV4 or gso_size == 0 or len(frame) < 14 + 20:
        return [bytes(frame)]
    eth, ip = frame[:14], frame[14:]
    ihl = (ip[0] & 15) * 4
    total = struct.unpack("!H", ip[2:4])[0]
    doff = (ip[ihl + 12] >> 4) * 4
    headers, payload = ip[:ihl + doff], ip[ihl + doff:total]
    ident = struct.unpack("!H", ip[4:6])[0]
    seq = struct.unpack("!I", ip[ihl + 4:ihl + 8])[0]
    tcp_flags = ip[ihl + 13]
    out = []
    offsets = list(range(0, len(payload), gso_size)) or [0]
    for i, off in enumerate(offsets):
        chunk = payload[off:off + gso_size]
        seg = bytearray(headers) + chunk
        seg[2:4] = struct.pack("!H", len(seg))
        seg[4:6] = struct.pack("!H", (ident + i) & 0xFFFF)
        seg[10:12] = b"\0\0"
        seg[10:12] = struct.pack("!H", inet_checksum(bytes(seg[:ihl])))
        seg[ihl + 4:ihl + 8] = struct.pack("!I", (seq + off) & 0xFFFFFFFF)
        f = tcp_flags
        if i < len(offsets) - 1:
            f &= ~(FIN | PSH) & 0xFF
        if i > 0:
            f &= ~0x80 & 0xFF  # CWR only on the first segment
        seg[ihl + 13] = f
        out.append(bytes(eth + _tcp_checksum_fixed(seg, ihl)))
    return out


# ---- building TCP by hand ---------------------------------------------------

def opt_mss(v):
    return struct.pack("!BBH", 2, 4, v)


def opt_wscale(v):
    return struct.pack("!BBB", 3, 3, v)


def opt_sack_permitted():
    return b"\x04\x02"


def opt_nop():
    return b"\x01"


def pad4(options):
    """Pads an option list to a multiple of 4 with EOL bytes."""
    return options + b"\0" * (-len(options) % 4)


def tcp_segment(src, dst, sport, dport, seq, ack, flags, win=65535, options=b"", payload=b"",
                doff=None, checksum=None, urg=0):
    """TCP header + payload as bytes; `doff` and `checksum` override the
    computed values (for malformed segments)."""
    options = pad4(options) if doff is None else options
    if doff is None:
        doff = (20 + len(options)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      (doff & 0xF) << 4, flags, win, 0, urg) + options
    seg = hdr + payload
    if checksum is None:
        pseudo = ip_bytes(src) + ip_bytes(dst) + struct.pack("!BBH", 0, 6, len(seg))
        checksum = inet_checksum(pseudo + seg)
    return seg[:16] + struct.pack("!H", checksum) + seg[18:]


def ipv4_packet(src, dst, proto, payload, ident=0x1111, ttl=64, flags_frag=0x4000, options=b"",
                ihl=None, total=None, version=4, checksum=None):
    options = pad4(options)
    if ihl is None:
        ihl = (20 + len(options)) // 4
    if total is None:
        total = 20 + len(options) + len(payload)
    hdr = struct.pack("!BBHHHBBH4s4s", (version << 4) | (ihl & 0xF), 0, total, ident, flags_frag, ttl, proto, 0,
                      ip_bytes(src), ip_bytes(dst)) + options
    if checksum is None:
        checksum = inet_checksum(hdr)
    return hdr[:10] + struct.pack("!H", checksum) + hdr[12:] + payload


def icmp_echo(ident, seq, data, checksum=None, typ=8, code=0):
    body = struct.pack("!BBHHH", typ, code, 0, ident, seq) + data
    if checksum is None:
        checksum = inet_checksum(body)
    return body[:2] + struct.pack("!H", checksum) + body[4:]


# ---- summaries for evidence -------------------------------------------------

def tcp_flags_text(flags):
    names = [(FIN, "F"), (SYN, "S"), (RST, "R"), (PSH, "P"), (ACK, "A"), (URG, "U")]
    return "".join(n for bit, n in names if flags & bit) or "."


def tcp_options_text(opts):
    out = []
    for o in opts or []:
        k, v = o
        if k in ("NOP", "EOL"):
            continue
        out.append(f"{k}={v}" if v not in (None, b"") else str(k))
    return ",".join(out)


def summarize(frame):
    """One line for a parsed Ether frame."""
    try:
        p = frame
        head = f"{p.src}>{p.dst} "
        if ARP in p:
            a = p[ARP]
            op = {1: "who-has", 2: "is-at"}.get(a.op, f"op={a.op}")
            return head + f"ARP {op} hw {a.hwsrc} ip {a.psrc} -> hw {a.hwdst} ip {a.pdst}"
        if IP in p:
            ip = p[IP]
            s = head + f"IP {ip.src}>{ip.dst} id={ip.id} flags={ip.flags} frag={ip.frag} len={ip.len} "
            if ip.frag == 0 and TCP in p:
                t = p[TCP]
                plen = len(bytes(t.payload))
                return s + (f"TCP {t.sport}>{t.dport} [{tcp_flags_text(int(t.flags))}] seq={t.seq} ack={t.ack} "
                            f"win={t.window} len={plen} opts=[{tcp_options_text(t.options)}]")
            if ip.frag == 0 and ICMP in p:
                c = p[ICMP]
                return s + f"ICMP type={c.type} code={c.code} id={c.id} seq={c.seq} len={len(bytes(c.payload))}"
            return s + f"proto={ip.proto} payload={len(bytes(ip.payload))}"
        if IPv6 in p:
            ip6 = p[IPv6]
            s = head + f"IPv6 {ip6.src}>{ip6.dst} hlim={ip6.hlim} nh={ip6.nh} plen={ip6.plen} "
            if ip6.nh == 58 and hasattr(ip6.payload, "code"):
                icmp6 = ip6.payload
                return s + f"ICMPv6 {icmp6.name} type={icmp6.type} code={icmp6.code}"
            return s + f"payload={len(bytes(ip6.payload))}"
        return head + f"ethertype=0x{p.type:04x} len={len(bytes(p))}"
    except Exception as e:  # a summary must never hide the frame
        return f"unparsable frame ({e}): {bytes(frame)[:64].hex()}"


def summarize_bytes(data):
    try:
        return summarize(Ether(data))
    except Exception:
        return f"raw {data[:64].hex()}"


# ---- the peer -----------------------------------------------------------------

class Peer:
    """A scripted host on the TAP's kernel side.

    mac/ip: the identity the peer uses (not owned by the kernel);
    dut_mac/dut_ip: the daemon under test."""

    def __init__(self, ns, ifname, mac, ip, dut_mac, dut_ip):
        self.sock = packet_socket_in_netns(ns, ifname)
        self.mac, self.ip = mac, ip
        self.dut_mac, self.dut_ip = dut_mac.lower(), dut_ip
        self.answer_arp = True
        self.log = []          # (monotonic time, ">" sent / "<" received, summary)
        self.arp_requests = 0  # daemon's ARP requests for us seen so far
        self._pending = collections.deque()  # segments of a cut super-frame not yet yielded

    def close(self):
        self.sock.close()

    def mark(self):
        """A position in the log, for `evidence(since=...)`."""
        return len(self.log)

    def evidence(self, since=0, limit=60):
        lines = self.log[since:]
        t0 = lines[0][0] if lines else 0
        out = [f"    {t - t0:8.3f}s {d} {s}" for t, d, s in lines[-limit:]]
        if len(lines) > limit:
            out.insert(0, f"    ... {len(lines) - limit} earlier frames omitted")
        return "\n".join(out) if out else "    (no frames exchanged)"

    # ---- sending ---------------------------------------------------------

    def send_frame(self, frame):
        data = bytes(frame)
        self.sock.send(bytes(VNET_HDR_LEN) + data)  # no offload requested
        self.log.append((time.monotonic(), ">", summarize_bytes(data)))

    def eth(self, ethertype, payload, dst=None, src=None):
        return (mac_bytes(dst or self.dut_mac) + mac_bytes(src or self.mac) + struct.pack("!H", ethertype)
                + payload)

    def send_ip(self, payload, proto, dst=None, src=None, eth_src=None, **ip_kw):
        pkt = ipv4_packet(src or self.ip, dst or self.dut_ip, proto, payload, **ip_kw)
        self.send_frame(self.eth(0x0800, pkt, src=eth_src))

    def send_tcp(self, sport, dport, seq, ack, flags, win=65535, options=b"", payload=b"", doff=None,
                 checksum=None, ip_options=b"", src=None):
        seg = tcp_segment(src or self.ip, self.dut_ip, sport, dport, seq, ack, flags, win, options, payload,
                          doff=doff, checksum=checksum)
        self.send_ip(seg, 6, src=src, options=ip_options)

    def send_arp(self, op, psrc, pdst, hwsrc=None, hwdst="00:00:00:00:00:00", eth_dst="ff:ff:ff:ff:ff:ff",
                 eth_src=None, htype=1, ptype=0x0800, hlen=6, plen=4, truncate=None):
        body = struct.pack("!HHBBH", htype, ptype, hlen, plen, op)
        body += mac_bytes(hwsrc or self.mac).ljust(hlen, b"\0")[:hlen] + ip_bytes(psrc).ljust(plen, b"\0")[:plen]
        body += mac_bytes(hwdst).ljust(hlen, b"\0")[:hlen] + ip_bytes(pdst).ljust(plen, b"\0")[:plen]
        if truncate is not None:
            body = body[:truncate]
        self.send_frame(self.eth(0x0806, body, dst=eth_dst, src=eth_src or hwsrc or self.mac))

    # ---- receiving -------------------------------------------------------

    def _handle(self, p):
        """Answers ARP requests for our address; True if the frame is from the DUT."""
        if p.src.lower() != self.dut_mac:
            return False
        if ARP in p and p[ARP].op == 1 and p[ARP].pdst == self.ip:
            self.arp_requests += 1
            if self.answer_arp:
                self.send_arp(2, self.ip, p[ARP].psrc, hwdst=p[ARP].hwsrc, eth_dst=p.src)
        return True

    def frames(self, timeout):
        """Yields every frame from the DUT until `timeout` seconds pass."""
        deadline = time.monotonic() + timeout
        while self._pending:  # the rest of a super-frame a caller stopped in
            yield self._pending.popleft()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return
            while True:
                try:
                    data, addr = self.sock.recvfrom(1 << 17)
                except BlockingIOError:
                    break
                if addr[2] == PACKET_OUTGOING or len(data) < VNET_HDR_LEN:
                    continue
                for wire_frame in device_output(data[:VNET_HDR_LEN], data[VNET_HDR_LEN:]):
                    try:
                        p = Ether(wire_frame)
                    except Exception:
                        continue
                    if not self._handle(p):
                        continue
                    self.log.append((time.monotonic(), "<", summarize(p)))
                    self._pending.append(p)
                while self._pending:
                    yield self._pending.popleft()

    def expect(self, match, timeout=3.0):
        """The first frame from the DUT for which match(frame) holds, or None."""
        for p in self.frames(timeout):
            if match(p):
                return p
        return None

    def collect(self, match, timeout):
        """Every frame from the DUT matching within `timeout` seconds."""
        return [p for p in self.frames(timeout) if match(p)]

    def drain(self, timeout=0.05):
        for _ in self.frames(timeout):
            pass

    # ---- floods (hostile-load tests): no log, no parsing ------------------

    def tcp_frame(self, sport, dport, seq, ack, flags, win=65535, options=b"", payload=b"", src=None):
        """A complete Ethernet frame of one TCP segment to the DUT, for blast()."""
        seg = tcp_segment(src or self.ip, self.dut_ip, sport, dport, seq, ack, flags, win, options, payload)
        return self.eth(0x0800, ipv4_packet(src or self.ip, self.dut_ip, 6, seg))

    def blast(self, frames):
        """Sends prebuilt frames as fast as the socket takes them, without
        logging; returns how many the kernel accepted."""
        hdr = bytes(VNET_HDR_LEN)
        sent = 0
        for f in frames:
            try:
                self.sock.send(hdr + f)
                sent += 1
            except (BlockingIOError, InterruptedError, OSError):
                pass  # TAP queue full: that frame is lost, as on a wire
        return sent

    def discard_pending(self):
        """Drops every frame waiting on the socket unread (after a flood,
        parsing each would take seconds); returns the count."""
        n = 0
        while True:
            try:
                self.sock.recv(65536 + VNET_HDR_LEN)
            except (BlockingIOError, InterruptedError):
                return n
            n += 1


# ---- matchers -------------------------------------------------------------------

def is_tcp(sport=None, dport=None):
    """TCP from the DUT; sport/dport as seen from the DUT."""
    def m(p):
        if IP not in p or p[IP].frag != 0 or p[IP].proto != 6 or TCP not in p:
            return False
        t = p[TCP]
        return (sport is None or t.sport == sport) and (dport is None or t.dport == dport)
    return m


def flags_of(p):
    return int(p[TCP].flags)


def payload_of(p):
    return bytes(p[TCP].payload)


def mss_option(p):
    for k, v in p[TCP].options:
        if k == "MSS":
            return v
    return None


def wscale_option(p):
    for k, v in p[TCP].options:
        if k == "WScale":
            return v
    return None


__all__ = [n for n in dir() if not n.startswith("_")] + ["ICMP", "IP", "TCP", "ARP", "Ether", "Raw"]
