#!/usr/bin/python3
"""TCP connection set-up and segment validation of the real tapstackd
(CONFORMANCE.md "Connection set-up and validation"), from a scripted peer:
RFC 9293 3.5.2 resets for closed ports, the handshake's options (3.7.1 MSS,
RFC 7323 window scale), header and option validation (3.1, MUST-2..7),
RST in SYN-RECEIVED (3.10.7.4), SYN-SENT against bad ACKs and RSTs
(3.10.7.3), simultaneous open (3.5 figure 7) and ISN choice (3.4.1,
RFC 6528). The daemon holds a listener on port 7 (API `LISTEN 7`); its
application side is the API (`ACCEPT`, `CONNECT`).
"""
import os
import random
import struct
import subprocess
import time

from conformance import (LISTEN_PORT, PEER_IP, Conn, Env, Suite, expect, open_passive, seq_add, seq_diff)
from peer import (ACK, FIN, PSH, RST, SYN, TCP, flags_of, is_tcp, mss_option, opt_mss, opt_nop,
                  opt_sack_permitted, opt_wscale, payload_of, tcp_flags_text)

suite = Suite("conformance_tcp_setup", lambda: Env(extra_yaml=FAST))
FAST = "tcp:\n  initial_rto: 300ms\n  min_rto: 200ms\n  max_rto: 2s\n  max_syn_retransmits: 3\n  msl: 1s\n"
QUIET = 0.7
CLOSED_PORT = 9


def describe(p):
    if p is None:
        return "nothing"
    t = p[TCP]
    return (f"[{tcp_flags_text(int(t.flags))}] seq={t.seq} ack={t.ack} win={t.window} "
            f"len={len(payload_of(p))} opts={t.options}")


def syn(env, sport=None, options=None, iss=None, **kw):
    """Sends a SYN to the listener; returns (sport, iss)."""
    sport = sport or env.next_port()
    iss = random.randrange(1 << 32) if iss is None else iss
    env.peer.send_tcp(sport, LISTEN_PORT, iss, 0, SYN, 65535,
                      options=opt_mss(1460) if options is None else options, **kw)
    return sport, iss


def synack_for(env, sport, timeout=2.0):
    return env.peer.expect(lambda q: is_tcp(LISTEN_PORT, sport)(q) and flags_of(q) & (SYN | ACK) == SYN | ACK,
                           timeout)


def reset_embryo(env, sport, iss):
    """Clean up a half-open connection we made (RST at its right sequence)."""
    env.peer.send_tcp(sport, LISTEN_PORT, seq_add(iss, 1), 0, RST, 0)


def listener_still_answers(env):
    sport, iss = syn(env)
    sa = synack_for(env, sport, 3)
    expect(sa is not None and sa[TCP].ack == seq_add(iss, 1),
           "the listener still answers a correct SYN with SYN-ACK afterwards", describe(sa))
    reset_embryo(env, sport, iss)


# ---- closed ports -------------------------------------------------------------------

@suite.check("RFC 9293 3.5.2 / 3.10.7.1: SYN to a closed port draws RST|ACK with seq 0, ack = SEG.SEQ+1")
def closed_port_syn(env):
    p = env.peer
    sport, iss = env.next_port(), 0xFFFFFFF0
    p.send_tcp(sport, CLOSED_PORT, iss, 0, SYN, 65535, options=opt_mss(1460))
    r = p.expect(is_tcp(CLOSED_PORT, sport), 2)
    expect(r is not None and flags_of(r) == RST | ACK and r[TCP].seq == 0 and r[TCP].ack == seq_add(iss, 1)
           and not payload_of(r),
           f"[RA] seq=0 ack={seq_add(iss, 1)} len=0", describe(r))


@suite.check("RFC 9293 3.5.2 / 3.10.7.1: data+SYN+FIN to a closed port: RST|ACK acks SEG.SEQ+SEG.LEN")
def closed_port_syn_data_fin(env):
    p = env.peer
    sport, iss = env.next_port(), 1000
    p.send_tcp(sport, CLOSED_PORT, iss, 0, SYN | FIN, 65535, payload=b"12345")
    r = p.expect(is_tcp(CLOSED_PORT, sport), 2)
    want = iss + 1 + 5 + 1
    expect(r is not None and flags_of(r) == RST | ACK and r[TCP].seq == 0 and r[TCP].ack == want,
           f"[RA] seq=0 ack={want} (SYN + 5 data bytes + FIN)", describe(r))


@suite.check("RFC 9293 3.5.2 / 3.10.7.1: ACK to a closed port draws RST with seq = SEG.ACK, no ACK bit")
def closed_port_ack(env):
    p = env.peer
    sport, ack = env.next_port(), 0x89ABCDEF
    p.send_tcp(sport, CLOSED_PORT, 5555, ack, ACK, 65535, payload=b"hello")
    r = p.expect(is_tcp(CLOSED_PORT, sport), 2)
    expect(r is not None and flags_of(r) == RST and r[TCP].seq == ack,
           f"[R] seq={ack}", describe(r))


@suite.check("RFC 9293 3.10.7.1: RST to a closed port draws nothing")
def closed_port_rst(env):
    p = env.peer
    sport = env.next_port()
    p.send_tcp(sport, CLOSED_PORT, 5555, 0, RST, 0)
    p.send_tcp(sport, CLOSED_PORT, 5555, 77, RST | ACK, 0)
    got = p.collect(is_tcp(CLOSED_PORT, sport), QUIET)
    expect(not got, "no answer to RST", [describe(x) for x in got])


@suite.check("RFC 9293 3.10.7.2: ACK to a listening port draws RST seq = SEG.ACK; RST to it is ignored")
def listen_ack_and_rst(env):
    p = env.peer
    sport, ack = env.next_port(), 0x12345678
    p.send_tcp(sport, LISTEN_PORT, 999, ack, ACK, 65535)
    r = p.expect(is_tcp(LISTEN_PORT, sport), 2)
    expect(r is not None and flags_of(r) == RST and r[TCP].seq == ack, f"[R] seq={ack}", describe(r))
    sport2 = env.next_port()
    p.send_tcp(sport2, LISTEN_PORT, 999, 0, RST, 0)
    p.send_tcp(sport2, LISTEN_PORT, 999, 5, RST | ACK, 0)
    got = p.collect(is_tcp(LISTEN_PORT, sport2), QUIET)
    expect(not got, "no answer to RST at a listener", [describe(x) for x in got])
    listener_still_answers(env)


# ---- handshake options ------------------------------------------------------------

@suite.check("RFC 9293 3.7.1 / RFC 7323 2: SYN-ACK carries MSS = MTU-40 and no window scale unless offered")
def synack_options_plain(env):
    sport, iss = syn(env, options=opt_mss(1460))
    sa = synack_for(env, sport)
    expect(sa is not None, "SYN-ACK", "nothing")
    expect(mss_option(sa) == 1460, "MSS option 1460 (MTU 1500 - 40)", f"MSS {mss_option(sa)}")
    ws = [o for o in sa[TCP].options if o[0] == "WScale"]
    expect(not ws, "no WScale option (the SYN offered none)", f"{sa[TCP].options}")
    reset_embryo(env, sport, iss)


@suite.check("RFC 7323 2.2: SYN offering window scale gets a SYN-ACK with window scale")
def synack_options_wscale(env):
    sport, iss = syn(env, options=opt_mss(1460) + opt_nop() + opt_wscale(7))
    sa = synack_for(env, sport)
    expect(sa is not None, "SYN-ACK", "nothing")
    ws = [o for o in sa[TCP].options if o[0] == "WScale"]
    expect(len(ws) == 1 and 0 <= ws[0][1] <= 14, "one WScale option with shift 0..14", f"{sa[TCP].options}")
    expect(mss_option(sa) == 1460, "MSS 1460", f"MSS {mss_option(sa)}")
    expect(sa[TCP].window <= 65535, "SYN-ACK window unscaled (RFC 7323 2.2: never scaled in a SYN)",
           f"{sa[TCP].window}")
    reset_embryo(env, sport, iss)


@suite.check("RFC 7323 2.3: a window scale shift above 14 from the peer is used as 14",
             env_factory=lambda: Env(extra_yaml="tcp:\n  min_rto: 1s\n"))  # no RTO while we watch
def wscale_above_14(env):
    c = open_passive(env, options=opt_mss(1460) + opt_nop() + opt_wscale(15), win=1, accept=True)
    c.app.send(bytes(200000))
    # The initial congestion window (RFC 6928: 10 segments) limits the first
    # flight; acknowledge it with window field 1, i.e. 1 << 14 = 16384 bytes
    # (1 << 15 = 32768 if the shift were not capped). The grown congestion
    # window then no longer limits below 16384.
    first = {}
    for s in c.collect(lambda q: len(payload_of(q)) > 0, 0.3):
        first[s[TCP].seq] = len(payload_of(s))
    ack = c.rcv_nxt
    while ack in first:
        ack = seq_add(ack, first[ack])
    expect(ack != c.rcv_nxt, "a first flight of data", "nothing")
    c.rcv_nxt = ack
    c.send(ACK, win=1)
    second = {}
    for s in c.collect(lambda q: len(payload_of(q)) > 0 and seq_diff(q[TCP].seq, ack) >= 0, 0.3):
        second[s[TCP].seq] = len(payload_of(s))
    inflight = sum(second.values())
    expect(16384 - 1460 < inflight <= 16384,
           "after the ACK with window field 1, the daemon sends up to 1 << 14 = 16384 bytes (shift 15 used as 14)",
           f"{inflight} bytes in {len(second)} segments (first flight {sum(first.values())} bytes)")
    c.app.close()


def option_kinds(p):
    return [k for k, _ in p[TCP].options if k not in ("NOP", "EOL")]


@suite.check("RFC 7323 3.2 / RFC 2018: no timestamps or SACK-permitted in the SYN-ACK unless the SYN offered them")
def no_unoffered_options(env):
    sport, iss = syn(env, options=opt_mss(1460))
    sa = synack_for(env, sport)
    expect(sa is not None, "SYN-ACK", "nothing")
    kinds = option_kinds(sa)
    expect("Timestamp" not in kinds and "SAckOK" not in kinds and "WScale" not in kinds,
           "only MSS in the SYN-ACK to a SYN that offered only MSS", f"{sa[TCP].options}")
    reset_embryo(env, sport, iss)


@suite.check("RFC 7323 3.2: when timestamps are negotiated, every non-RST segment carries them")
def timestamps_consistent(env):
    ts = bytes([8, 10]) + struct.pack("!II", 12345, 0)
    c = open_passive(env, options=opt_mss(1460) + opt_nop() + opt_nop() + ts + opt_sack_permitted() + opt_nop()
                     + opt_nop())
    negotiated = "Timestamp" in option_kinds(c.synack)
    c.app.send(bytes(3000))
    segs = c.collect(lambda q: len(payload_of(q)) > 0, 0.5)
    expect(segs, "data from the application", "nothing")
    missing = [describe(s) for s in segs if ("Timestamp" in option_kinds(s)) != negotiated]
    expect(not missing, f"every data segment {'with' if negotiated else 'without'} a timestamp option, "
           f"as the SYN-ACK {'did' if negotiated else 'did not'} agree to timestamps", missing[:3])
    print(f"  info: timestamps {'negotiated' if negotiated else 'declined'}; "
          f"SACK-permitted {'granted' if 'SAckOK' in option_kinds(c.synack) else 'declined'}")
    c.app.close()


def receive_from_app(c, total, timeout=10.0):
    """The peer ACKs every data segment the daemon sends until `total`
    bytes arrived in order; returns (data, [segment lengths], [segments])."""
    data = b""
    lens, segs = [], []
    deadline = time.monotonic() + timeout
    while len(data) < total and time.monotonic() < deadline:
        p = c.expect(lambda q: len(payload_of(q)) > 0, max(0.05, deadline - time.monotonic()))
        if p is None:
            break
        segs.append(p)
        pl = payload_of(p)
        lens.append(len(pl))
        if p[TCP].seq == c.rcv_nxt:
            data += pl
            c.rcv_nxt = seq_add(c.rcv_nxt, len(pl))
        c.send(ACK)
    return data, lens, segs


@suite.check("RFC 9293 3.7.1 / RFC 1122 4.2.2.6: no MSS option from the peer means 536: every data segment <= 536")
def mss_absent_536(env):
    c = open_passive(env, options=b"")
    payload = random.randbytes(4000)
    c.app.send(payload)
    data, lens, segs = receive_from_app(c, len(payload))
    expect(data == payload, "the 4000 bytes the application wrote, in order", f"{len(data)} bytes")
    expect(max(lens) <= 536, "every segment <= 536 bytes", f"segment sizes {lens}")
    with_mss = [describe(s) for s in segs if mss_option(s) is not None]
    expect(not with_mss, "no MSS option outside SYN segments (RFC 9293 3.7.1)", with_mss)
    c.app.close()


@suite.check("RFC 9293 3.7.1: peer MSS 1000 honoured: every data segment <= 1000")
def mss_honoured(env):
    c = open_passive(env, options=opt_mss(1000))
    payload = random.randbytes(6000)
    c.app.send(payload)
    data, lens, _ = receive_from_app(c, len(payload))
    expect(data == payload, "the 6000 bytes, in order", f"{len(data)} bytes")
    expect(max(lens) <= 1000, "every segment <= 1000 bytes", f"segment sizes {lens}")
    c.app.close()


@suite.check("RFC 9293 3.7.1: a tiny peer MSS (8) is clamped without a stall: all data arrives")
def mss_tiny(env):
    c = open_passive(env, options=opt_mss(8))
    payload = random.randbytes(3000)
    c.app.send(payload)
    data, lens, _ = receive_from_app(c, len(payload), timeout=15)
    expect(data == payload, "all 3000 bytes arrive in order", f"{len(data)} bytes in {len(lens)} segments")
    print(f"  info: peer MSS 8 -> segment sizes {sorted(set(lens))}")
    c.app.close()


# ---- option and header validation ---------------------------------------------------

@suite.check("RFC 9293 3.1 MUST-6: unknown TCP options are ignored (handshake completes)")
def unknown_options(env):
    opts = opt_mss(1460) + bytes([99, 6, 1, 2, 3, 4]) + bytes([250, 2]) + opt_nop() + opt_nop()
    c = open_passive(env, options=opts)
    c.send_data(b"ping")
    got = c.app.read(4, 3)
    expect(got == b"ping", "application reads the 4 bytes sent after the handshake", repr(got))
    c.app.close()


@suite.check("RFC 9293 3.1 MUST-7: illegal option lengths (0, 1, past the header) never hang the stack")
def illegal_option_lengths(env):
    cases = {
        "unknown kind, length 0": bytes([99, 0]) + b"\0\0",
        "unknown kind, length 1": bytes([99, 1]) + b"\0\0",
        "MSS with length 0": bytes([2, 0, 5, 0xB4]),
        "MSS with length 3": bytes([2, 3, 5, 0xB4]),
        "length 40 past the header": bytes([99, 40, 0, 0]),
        "MSS cut by the header end": opt_nop() + opt_nop() + bytes([2, 4]),
        "window scale length 2": bytes([3, 2, 1, 1]),
    }
    outcomes = []
    for what, opts in cases.items():
        sport, iss = syn(env, options=opts)
        sa = synack_for(env, sport, 0.4)
        outcomes.append(f"{what}: {'SYN-ACK' if sa is not None else 'dropped'}")
        if sa is not None:
            reset_embryo(env, sport, iss)
        # The same with data on an established connection.
    print("  info: " + "; ".join(outcomes))
    c = open_passive(env)
    for what, opts in cases.items():
        c.send(ACK | PSH, b"", options=opts)
    c.send_data(b"still-alive")
    got = c.app.read(11, 3)
    expect(got == b"still-alive", "an established connection still delivers data after every bad option",
           repr(got))
    c.app.close()
    listener_still_answers(env)


@suite.check("RFC 9293 3.1 MUST-2: data offset < 5 dropped")
def data_offset_small(env):
    sport, iss = syn(env, options=b"", doff=4)
    got = env.peer.collect(is_tcp(LISTEN_PORT, sport), QUIET)
    expect(not got, "nothing back for a SYN with data offset 4", [describe(x) for x in got])
    listener_still_answers(env)


@suite.check("RFC 9293 3.1 MUST-2: data offset beyond the segment dropped")
def data_offset_large(env):
    sport, iss = syn(env, options=b"", doff=15)  # 60-byte header claimed, 20 present
    got = env.peer.collect(is_tcp(LISTEN_PORT, sport), QUIET)
    expect(not got, "nothing back for a SYN with data offset 15 in a 20-byte segment", [describe(x) for x in got])
    listener_still_answers(env)


@suite.check("RFC 9293 3.1 MUST-2/3: SYN with a bad TCP checksum dropped, no SYN-ACK, no RST")
def bad_checksum_syn(env):
    sport, iss = syn(env, checksum=0x1234)
    got = env.peer.collect(is_tcp(LISTEN_PORT, sport), QUIET)
    expect(not got, "nothing back", [describe(x) for x in got])
    listener_still_answers(env)


@suite.check("RFC 9293 3.1 MUST-2/3: data with a bad TCP checksum in ESTABLISHED dropped without an ACK")
def bad_checksum_established(env):
    c = open_passive(env)
    c.send(ACK | PSH, b"corrupt!", checksum=0x4321)
    got = c.collect(timeout=QUIET)
    expect(not got, "no segment in answer (no ACK)", [describe(x) for x in got])
    data = c.app.read(None, 0.2)
    expect(data == b"", "application reads nothing", repr(data))
    c.send_data(b"clean")
    data = c.app.read(5, 3)
    expect(data == b"clean", "the same bytes with a good checksum are delivered", repr(data))
    c.app.close()


@suite.check("RFC 1122 3.2.1.8: SYN in a datagram with IP options gets a SYN-ACK (TCP found at IHL*4)")
def ip_options_syn(env):
    sport, iss = syn(env, ip_options=bytes([7, 11, 4]) + b"\0" * 8 + opt_nop())
    sa = synack_for(env, sport, 2)
    expect(sa is not None and sa[TCP].ack == seq_add(iss, 1), f"SYN-ACK ack={seq_add(iss, 1)}", describe(sa))
    reset_embryo(env, sport, iss)


# ---- SYN-RECEIVED, SYN-SENT ---------------------------------------------------------------

@suite.check("RFC 9293 3.10.7.4: RST in SYN-RECEIVED returns quietly to LISTEN; a later SYN works")
def rst_in_syn_received(env):
    sport, iss = syn(env)
    sa = synack_for(env, sport)
    expect(sa is not None, "SYN-ACK", "nothing")
    env.peer.send_tcp(sport, LISTEN_PORT, seq_add(iss, 1), 0, RST, 0)
    got = env.peer.collect(is_tcp(LISTEN_PORT, sport), 1.2)
    expect(not got, "nothing more for that connection (no RST back, no SYN-ACK retransmission)",
           [describe(x) for x in got])
    c = Conn(env, sport, LISTEN_PORT, (iss + 100000) & 0xFFFFFFFF)
    env.peer.send_tcp(sport, LISTEN_PORT, c.iss, 0, SYN, 65535, options=opt_mss(1460))
    sa2 = c.expect(lambda q: flags_of(q) & (SYN | ACK) == SYN | ACK, 2)
    expect(sa2 is not None and sa2[TCP].ack == c.snd_nxt, f"new SYN from the same port answered, ack={c.snd_nxt}",
           describe(sa2))
    c.irs, c.rcv_nxt = sa2[TCP].seq, seq_add(sa2[TCP].seq, 1)
    c.send(ACK)
    app = env.api(f"ACCEPT {LISTEN_PORT} timeout=5")
    reply = app.wait_reply(6)
    expect(reply and reply.startswith("OK"), "ACCEPT returns the new connection", repr(reply))
    c.send_data(b"second")
    got = app.read(6, 3)
    expect(got == b"second", "the accepted connection is the live one (reads its data)", repr(got))
    app.close()


def daemon_connect(env, port):
    app = env.api(f"CONNECT {PEER_IP} {port} timeout=10")
    s = env.peer.expect(lambda q: is_tcp(None, port)(q) and flags_of(q) & (SYN | ACK) == SYN, 5)
    expect(s is not None, f"the daemon's SYN to {PEER_IP}:{port}", "nothing")
    c = Conn(env, port, s[TCP].sport, random.randrange(1 << 32))
    c.irs, c.rcv_nxt = s[TCP].seq, seq_add(s[TCP].seq, 1)
    c.app = app
    return c


@suite.check("RFC 9293 3.10.7.3: RST answering the SYN of `tapstack connect`: the CLI says 'connection refused', exit 4")
def cli_connect_refused(env):
    cli = os.environ.get("TAPSTACK")
    expect(cli and os.access(cli, os.X_OK), "the tapstack CLI ($TAPSTACK)", repr(cli))
    port = 5005
    proc = subprocess.Popen([cli, "--socket", env.daemon.socket_path, "connect", PEER_IP, str(port)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        s = env.peer.expect(lambda q: is_tcp(None, port)(q) and flags_of(q) & (SYN | ACK) == SYN, 5)
        expect(s is not None, f"the daemon's SYN to {PEER_IP}:{port}", "nothing")
        env.peer.send_tcp(port, s[TCP].sport, 0, seq_add(s[TCP].seq, 1), RST | ACK, 0)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    err = err.decode(errors="replace").strip()
    expect(proc.returncode == 4 and "connection refused" in err,
           f"exit status 4 and 'tapstack: connect {PEER_IP}:{port}: connection refused' on stderr",
           f"exit {proc.returncode}, stderr {err!r}")


def active_open(env, port, options, win):
    """The daemon connects to the peer; the peer answers with SYN-ACK
    (`options`, window field `win`). Returns the connection once CONNECT
    said OK."""
    c = daemon_connect(env, port)
    c.send(SYN | ACK, seq=c.iss, ack=c.rcv_nxt, win=win, options=options)
    c.snd_nxt = seq_add(c.iss, 1)
    reply = env.reply(c.app, 5)
    expect(reply and reply.startswith("OK"), "CONNECT answers OK", repr(reply))
    return c


@suite.check("RFC 7323 2.2: the window of a SYN-ACK is never scaled (active open, peer shift 7, window 10)")
def synack_window_unscaled(env):
    c = active_open(env, 5006, opt_mss(1460) + opt_nop() + opt_wscale(7), 10)
    c.app.send(bytes(5000))
    sent = {}
    for s in c.collect(lambda q: len(payload_of(q)) > 0, 0.6):
        sent[s[TCP].seq] = max(sent.get(s[TCP].seq, 0), len(payload_of(s)))
    inflight = sum(sent.values())
    expect(inflight <= 10, "at most 10 bytes sent before the peer's next ACK (10, not 10 << 7 = 1280)",
           f"{inflight} bytes in {len(sent)} segments")
    c.app.close()


@suite.check("RFC 9293 3.7.1: on an active open the peer's MSS (600) is honoured")
def active_open_mss(env):
    c = active_open(env, 5007, opt_mss(600), 65535)
    payload = random.randbytes(3000)
    c.app.send(payload)
    data, lens, _ = receive_from_app(c, len(payload))
    expect(data == payload, "the 3000 bytes, in order", f"{len(data)} bytes")
    expect(max(lens) <= 600, "every segment <= 600 bytes", f"segment sizes {lens}")
    c.app.close()


@suite.check("RFC 9293 3.10.7.3: SYN-SENT answers an unacceptable ACK with RST seq = SEG.ACK")
def syn_sent_bad_ack(env):
    c = daemon_connect(env, 5001)
    bad = seq_add(c.irs, 5000)
    c.send(SYN | ACK, seq=c.iss, ack=bad, options=opt_mss(1460))
    r = c.expect(lambda q: flags_of(q) & RST, 2)
    expect(r is not None and r[TCP].seq == bad and not flags_of(r) & ACK, f"[R] seq={bad}", describe(r))
    # Still connecting: the right SYN-ACK completes the handshake.
    c.send(SYN | ACK, seq=c.iss, ack=c.rcv_nxt, options=opt_mss(1460))
    reply = env.reply(c.app, 5)
    expect(reply and reply.startswith("OK"), "then a correct SYN-ACK establishes: CONNECT answers OK", repr(reply))
    c.app.close()


@suite.check("RFC 9293 3.10.7.3: SYN-SENT ignores RST with a wrong ACK; RST with the right ACK is 'refused'")
def syn_sent_rst(env):
    c = daemon_connect(env, 5002)
    c.send(RST | ACK, seq=0, ack=seq_add(c.irs, 77))
    reply = c.app.wait_reply(0.8)
    expect(reply is None, "RST with a wrong ACK ignored (CONNECT still pending)", repr(reply))
    c.send(RST | ACK, seq=0, ack=c.rcv_nxt)
    reply = env.reply(c.app, 5)
    expect(reply is not None and reply.startswith("ERR refused"), "CONNECT answers ERR refused", repr(reply))
    c.app.close()


def simultaneous_open_exchange(env, port):
    """Figure 7 from B's side; B then answers every further SYN-ACK of A
    with an ACK, as an established Linux would. Returns (conn, CONNECT
    reply, number of SYN-ACK retransmissions A needed)."""
    c = daemon_connect(env, port)
    c.send(SYN, seq=c.iss, ack=0, options=opt_mss(1460))
    sa = c.expect(lambda q: flags_of(q) & (SYN | ACK) == SYN | ACK, 3)
    expect(sa is not None and sa[TCP].seq == c.irs and sa[TCP].ack == seq_add(c.iss, 1),
           f"SYN-ACK seq={c.irs} ack={seq_add(c.iss, 1)}", describe(sa))
    c.send(SYN | ACK, seq=c.iss, ack=c.rcv_nxt, options=opt_mss(1460))
    c.snd_nxt = seq_add(c.iss, 1)
    retransmits = 0
    deadline = time.monotonic() + 6
    reply = None
    while reply is None and time.monotonic() < deadline:
        reply = c.app.wait_reply(0.05)
        for q in c.collect(timeout=0.05):
            if flags_of(q) & (SYN | ACK) == SYN | ACK:
                retransmits += 1
                c.send(ACK)
    return c, reply, retransmits


@suite.check("RFC 9293 3.5 figure 7: simultaneous open establishes (peer answering like an established TCP)")
def simultaneous_open(env):
    c, reply, retransmits = simultaneous_open_exchange(env, 5003)
    expect(reply and reply.startswith("OK"), "CONNECT answers OK", repr(reply))
    c.app.send(b"simul")
    d = c.expect(lambda q: len(payload_of(q)) > 0, 3)
    expect(d is not None and payload_of(d) == b"simul", "the application's data flows", describe(d))
    c.app.close()


@suite.check("RFC 9293 3.5 figure 7 line 7: the SYN-ACK in SYN-RECEIVED establishes at once (no retransmission)")
def simultaneous_open_immediate(env):
    c, reply, retransmits = simultaneous_open_exchange(env, 5004)
    expect(reply and reply.startswith("OK") and retransmits == 0,
           "ESTABLISHED on the peer's SYN,ACK <SEQ=ISS_B><ACK=ISS_A+1> (figure 7 line 7), "
           "with no SYN-ACK retransmission", f"reply {reply!r} after {retransmits} SYN-ACK retransmission(s)")
    c.app.close()


@suite.check("RFC 9293 3.4.1 / RFC 6528: ISNs are neither constant nor small steps across connections")
def isn_spread(env):
    isns = []
    for _ in range(8):
        sport, iss = syn(env)
        sa = synack_for(env, sport)
        expect(sa is not None, "SYN-ACK", "nothing")
        isns.append(sa[TCP].seq)
        reset_embryo(env, sport, iss)
    deltas = [seq_diff(b, a) for a, b in zip(isns, isns[1:])]
    expect(len(set(isns)) == len(isns), "8 distinct ISNs", f"{isns}")
    expect(any(abs(d) >= 1 << 20 for d in deltas), "ISNs of different 4-tuples not in small steps",
           f"ISNs {isns}, steps {deltas}")


if __name__ == "__main__":
    suite.run()
