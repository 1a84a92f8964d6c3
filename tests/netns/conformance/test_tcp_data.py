#!/usr/bin/python3
"""Data transfer and close of the real tapstackd (CONFORMANCE.md "Data and
close"), from a scripted peer, with the daemon-side application being an
API stream whose reads this script controls: what the application reads is
compared byte for byte with what the peer sent.

Covers RFC 9293 3.10.7.4 (ACK-less segments, retransmitted and straddling
data, data beyond the window, FIN at its sequence position), RFC 5681 4.2
(immediate duplicate ACKs), RFC 5961 (RST and SYN in a synchronized state,
challenge ACK rate limit), 3.8.6 (zero window, no shrinking, window update),
TIME-WAIT (3.10.7.4 eighth step), RST on close with unread data (3.10.4 /
RFC 1122 4.2.2.13) and the "peer sends all and FIN while the application
reads slowly" case that tapstack exists for.

Peer connections never offer window scaling, so every window the daemon
advertises is in bytes.
"""
import random
import time

from conformance import Env, Suite, expect, open_passive, seq_add, seq_diff
from peer import (ACK, FIN, PSH, RST, SYN, TCP, flags_of, opt_mss, opt_nop, opt_sack_permitted, payload_of,
                  tcp_flags_text)

FAST = "tcp:\n  initial_rto: 300ms\n  min_rto: 200ms\n  max_rto: 2s\n  msl: 1s\n"
SMALL_RCVBUF = FAST + "  receive_buffer: 16KiB\n"
suite = Suite("conformance_tcp_data", lambda: Env(extra_yaml=FAST))
QUIET = 0.7


def describe(p):
    if p is None:
        return "nothing"
    t = p[TCP]
    return f"[{tcp_flags_text(int(t.flags))}] seq={t.seq} ack={t.ack} win={t.window} len={len(payload_of(p))}"


def rand_bytes(n):
    return random.randbytes(n)


def deliver(c, data):
    """Sends `data` in order and waits for its ACK."""
    c.send_data(data)
    a = c.expect_ack(c.snd_nxt, 3)
    expect(a is not None, f"ACK of {c.snd_nxt}", "nothing")
    return a


def app_reads_exactly(c, want, timeout=3.0, extra_wait=0.3):
    got = c.app.read(len(want), timeout)
    more = c.app.read(None, extra_wait)
    expect(got == want and more == b"", f"application reads exactly {len(want)} bytes {want[:24]!r}...",
           f"{len(got)} bytes {got[:24]!r}..., then {len(more)} more bytes {more[:24]!r}")


def send_stream(c, data, fin=False, on_tick=None, stop_at_zero_window=False, timeout=30.0):
    """Sends `data` (and FIN) from c.snd_nxt, honouring the daemon's window,
    going back to the last ACK when nothing progresses for 0.6 s.

    Returns a dict: acked (data bytes acknowledged), edges (relative right
    edges ack+win of every ACK, in arrival order), windows, zero (a zero
    window was advertised with everything acknowledged), rsts."""
    base = c.snd_nxt
    total = len(data)
    acked = sent = 0
    wnd = c.last[TCP].window if c.last is not None else 1460
    edges, windows, rsts, ack_text = [], [], [], []
    fin_acked = fin_sent = False
    last_progress = time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        while sent < total and sent - acked < wnd:
            n = min(1460, total - sent, wnd - (sent - acked))
            c.send(ACK | PSH, data[sent:sent + n], seq=seq_add(base, sent))
            sent += n
        if fin and sent == total and not fin_sent:
            c.send(ACK | FIN, seq=seq_add(base, total))
            fin_sent = True
        for q in c.collect(timeout=0.02):
            f = flags_of(q)
            if f & RST:
                rsts.append(describe(q))
                continue
            if not f & ACK:
                continue
            a = seq_diff(q[TCP].ack, base)
            edges.append(a + q[TCP].window)
            windows.append(q[TCP].window)
            ack_text.append(f"{describe(q)} (relative ack {a}, right edge {a + q[TCP].window})")
            if a > acked:
                acked = min(a, total)
                fin_acked = fin and a == total + 1
                last_progress = time.monotonic()
            if a >= acked:
                wnd = q[TCP].window
        if on_tick:
            on_tick()
        if rsts:
            break
        if acked == total and (not fin or fin_acked):
            break
        if stop_at_zero_window and wnd == 0 and acked == sent:
            break
        if time.monotonic() - last_progress > 0.6 and (sent > acked or fin_sent and not fin_acked):
            sent = acked  # go back: something was lost
            fin_sent = False
            last_progress = time.monotonic()
    c.snd_nxt = seq_add(base, acked + (1 if fin_acked else 0))
    return {"acked": acked, "edges": edges, "ack_text": ack_text, "windows": windows, "zero": wnd == 0 and acked == sent,
            "rsts": rsts, "fin_acked": fin_acked}


# ---- segment acceptance ---------------------------------------------------------------

@suite.check("RFC 9293 3.10.7.4 fifth step: a segment without ACK in ESTABLISHED is not queued")
def no_ack_not_queued(env):
    c = open_passive(env)
    c.send(PSH, b"XXXX")  # ACK bit clear
    acks = c.collect(lambda q: seq_diff(q[TCP].ack, c.snd_nxt) > 0, QUIET)
    expect(not acks, f"nothing acknowledges past {c.snd_nxt}", [describe(q) for q in acks])
    got = c.app.read(None, 0.2)
    expect(got == b"", "application reads nothing", repr(got))
    deliver(c, b"ABCD")
    app_reads_exactly(c, b"ABCD")
    c.app.close()


@suite.check("RFC 5681 4.2 / RFC 9293 3.10.7.4: every out-of-order segment draws its own immediate duplicate ACK")
def ooo_dup_acks(env):
    c = open_passive(env)
    base = c.snd_nxt
    data = rand_bytes(400)
    seen = []
    for i in (3, 2, 1):  # three segments beyond a hole at [0, 100)
        c.send(ACK | PSH, data[i * 100:(i + 1) * 100], seq=seq_add(base, i * 100))
        a = c.expect_ack(base, 1.0)
        seen.append(describe(a))
        expect(a is not None and not payload_of(a), f"a duplicate ACK ack={base} for segment {i}", seen)
        sack = [o for o in a[TCP].options if o[0] == "SAck"]
        expect(not sack, "no SACK blocks (the peer did not offer SACK-permitted)", f"{a[TCP].options}")
    c.send(ACK | PSH, data[:100], seq=base)
    a = c.expect_ack(seq_add(base, 400), 2)
    expect(a is not None, f"filling the hole acknowledges everything: ack={seq_add(base, 400)}", describe(a))
    c.snd_nxt = seq_add(base, 400)
    app_reads_exactly(c, data)
    c.app.close()


@suite.check("RFC 2018 4: with SACK negotiated, a duplicate ACK reports the out-of-order block")
def dup_ack_sack_blocks(env):
    c = open_passive(env, options=opt_mss(1460) + opt_nop() + opt_nop() + opt_sack_permitted())
    granted = any(k == "SAckOK" for k, _ in c.synack[TCP].options)
    expect(granted, "SYN-ACK grants SACK-permitted (the SYN offered it)", f"{c.synack[TCP].options}")
    base = c.snd_nxt
    data = rand_bytes(300)
    c.send(ACK | PSH, data[200:300], seq=seq_add(base, 200))
    a = c.expect_ack(base, 1.0)
    blocks = [v for k, v in (a[TCP].options if a is not None else []) if k == "SAck"]
    want = (seq_add(base, 200), seq_add(base, 300))
    expect(a is not None and blocks and tuple(blocks[0][:2]) == want,
           f"duplicate ACK ack={base} with first SACK block {want}", describe(a) + f" opts={a[TCP].options if a is not None else None}")
    c.send(ACK | PSH, data[:200], seq=base)
    c.snd_nxt = seq_add(base, 300)
    a = c.expect_ack(c.snd_nxt, 2)
    expect(a is not None, f"ACK of everything: ack={c.snd_nxt}", "nothing")
    app_reads_exactly(c, data)
    c.app.close()


@suite.check("RFC 9293 3.10.7.4 / RFC 5681: permutations of 3-5 overlapping segments delivered exactly once, in order")
def ooo_permutations(env):
    c = open_passive(env)
    rng = random.Random(5961)
    cases = [
        [(0, 300), (300, 600), (600, 1000)],
        [(0, 250), (200, 500), (500, 800), (780, 1000)],
        [(0, 200), (150, 400), (100, 180), (400, 700), (650, 1000)],
    ]
    orders = []
    for spans in cases:
        for _ in range(3):
            order = list(range(len(spans)))
            while order == sorted(order):
                rng.shuffle(order)
            orders.append((spans, order))
    for spans, order in orders:
        base = c.snd_nxt
        data = rand_bytes(1000)
        for i in order:
            s, e = spans[i]
            c.send(ACK | PSH, data[s:e], seq=seq_add(base, s))
        a = c.expect_ack(seq_add(base, 1000), 2)
        expect(a is not None, f"ACK of the whole 1000 bytes after spans {[spans[i] for i in order]}",
               "nothing")
        c.snd_nxt = seq_add(base, 1000)
        got = c.app.read(1000, 3)
        expect(got == data, f"application reads the 1000 bytes once, in order (spans sent {[spans[i] for i in order]})",
               f"{len(got)} bytes, equal={got == data}")
    more = c.app.read(None, 0.3)
    expect(more == b"", "nothing delivered twice", f"{len(more)} extra bytes")
    c.app.close()


@suite.check("RFC 9293 3.10.7.4 first step: retransmitted old data draws a pure ACK of RCV.NXT, delivered once")
def old_data_reacked(env):
    c = open_passive(env)
    start = c.snd_nxt
    deliver(c, b"hello")
    c.peer.drain(0.1)
    c.send(ACK | PSH, b"hello", seq=start)
    a = c.expect(lambda q: flags_of(q) & ACK, 1.5)
    expect(a is not None and a[TCP].ack == c.snd_nxt and not payload_of(a) and not flags_of(a) & (SYN | FIN | RST),
           f"pure ACK ack={c.snd_nxt}", describe(a))
    app_reads_exactly(c, b"hello")
    c.app.close()


@suite.check("RFC 9293 3.10.7.4: a segment straddling RCV.NXT delivers only its new part")
def straddling_segment(env):
    c = open_passive(env)
    deliver(c, b"abc")
    c.send(ACK | PSH, b"abcNEW", seq=seq_add(c.snd_nxt, -3))
    c.snd_nxt = seq_add(c.snd_nxt, 3)
    a = c.expect_ack(c.snd_nxt, 2)
    expect(a is not None, f"ACK of {c.snd_nxt}", "nothing")
    app_reads_exactly(c, b"abcNEW")
    c.app.close()


@suite.check("RFC 9293 3.10.7.4: data beyond the window draws an ACK and is not accepted")
def beyond_window(env):
    c = open_passive(env)
    a = deliver(c, b"w")
    app_reads_exactly(c, b"w", extra_wait=0.05)
    wnd = a[TCP].window
    gap = wnd + 1000
    c.peer.drain(0.05)
    c.send(ACK | PSH, b"Z" * 100, seq=seq_add(c.snd_nxt, gap))
    r = c.expect(lambda q: flags_of(q) & ACK, 1.5)
    expect(r is not None and r[TCP].ack == c.snd_nxt, f"an ACK of RCV.NXT={c.snd_nxt} (window was {wnd})",
           describe(r))
    filler = rand_bytes(gap)
    got = []
    res = send_stream(c, filler, on_tick=lambda: got.append(c.app.read(None, 0)))
    expect(res["acked"] == gap, f"the {gap} filler bytes acknowledged", f"{res['acked']}")
    late = c.collect(lambda q: seq_diff(q[TCP].ack, c.snd_nxt) > 0, 0.5)
    expect(not late, f"nothing acknowledged past {c.snd_nxt}: the 100 bytes beyond the window were not kept",
           [describe(q) for q in late])
    data = b"".join(got) + c.app.read(gap - len(b"".join(got)), 3) + c.app.read(None, 0.3)
    expect(data == filler, f"application reads exactly the {gap} filler bytes, no 'Z'",
           f"{len(data)} bytes, equal={data == filler}")
    c.app.close()


# ---- FIN -------------------------------------------------------------------------------

@suite.check("RFC 9293 3.10.7.4 eighth step: FIN ahead of a hole is not acknowledged until the hole is filled")
def fin_after_hole(env):
    c = open_passive(env)
    base = c.snd_nxt
    c.send(ACK | PSH | FIN, b"world", seq=seq_add(base, 5))
    a = c.expect(lambda q: flags_of(q) & ACK, 1.5)
    expect(a is not None and a[TCP].ack == base, f"duplicate ACK ack={base} (neither data nor FIN taken)",
           describe(a))
    early = c.app.read(None, 0.3)
    expect(early == b"" and not c.app.eof, "application reads nothing and no EOF yet",
           f"{early!r}, eof={c.app.eof}")
    c.send(ACK | PSH, b"hello", seq=base)
    c.snd_nxt = seq_add(base, 11)
    a = c.expect_ack(c.snd_nxt, 2)
    expect(a is not None, f"filling the hole acknowledges data and FIN: ack={c.snd_nxt}", "nothing")
    data = c.app.read_until_eof(3)
    expect(data == b"helloworld" and c.app.eof, "application reads 'helloworld', then EOF",
           f"{data!r}, eof={c.app.eof}")
    c.app.close()


@suite.check("RFC 9293 3.10.7.4 seventh/eighth steps: data and FIN in one segment: application reads the data, then EOF")
def data_and_fin(env):
    c = open_passive(env)
    payload = rand_bytes(3000)[:1400]
    c.send_data(payload, flags=ACK | PSH | FIN)
    a = c.expect_ack(c.snd_nxt, 2)
    expect(a is not None, f"ACK of data and FIN: ack={c.snd_nxt}", "nothing")
    data = c.app.read_until_eof(3)
    expect(data == payload and c.app.eof, "application reads the 1400 bytes, then EOF",
           f"{len(data)} bytes equal={data == payload}, eof={c.app.eof}")
    c.app.close()


# ---- RFC 5961 --------------------------------------------------------------------------

@suite.check("RFC 5961 3.2: RST exactly at RCV.NXT resets the connection")
def rst_exact(env):
    c = open_passive(env)
    deliver(c, b"before-reset")
    c.send(RST | ACK, seq=c.snd_nxt)
    got = c.collect(timeout=QUIET)
    expect(not got, "nothing sent in answer to the RST", [describe(q) for q in got])
    data = c.app.read_until_eof(3)
    expect(c.app.eof, "application's stream ends", f"eof={c.app.eof}, read {data!r}")
    st = env.status(c.app.conn_id)
    expect(st and "outcome=reset" in st, "STATUS says outcome=reset", repr(st))
    c.app.close()


@suite.check("RFC 5961 3.2: RST in the window but not at RCV.NXT draws a challenge ACK; the connection survives")
def rst_in_window(env):
    c = open_passive(env)
    deliver(c, b"x")
    c.peer.drain(0.05)
    c.send(RST | ACK, seq=seq_add(c.snd_nxt, 1000))
    a = c.expect(lambda q: True, 1.5)
    expect(a is not None and flags_of(a) == ACK and a[TCP].ack == c.snd_nxt and a[TCP].seq == c.rcv_nxt,
           f"challenge ACK [A] seq={c.rcv_nxt} ack={c.snd_nxt}", describe(a))
    deliver(c, b"survived")
    app_reads_exactly(c, b"xsurvived")
    c.app.close()


@suite.check("RFC 5961 3.2 / RFC 9293 3.10.7.4: RST outside the window is dropped; the connection survives")
def rst_outside_window(env):
    c = open_passive(env)
    deliver(c, b"x")
    c.peer.drain(0.05)
    c.send(RST | ACK, seq=seq_add(c.snd_nxt, 300000))
    c.send(RST | ACK, seq=seq_add(c.snd_nxt, -300000))
    c.send(RST, seq=seq_add(c.snd_nxt, -1))
    got = c.collect(timeout=QUIET)
    expect(not got, "no answer to RSTs outside the window", [describe(q) for q in got])
    deliver(c, b"alive")
    app_reads_exactly(c, b"xalive")
    c.app.close()


@suite.check("RFC 5961 4.2 / RFC 9293 3.10.7.4 fourth step: SYN in ESTABLISHED draws a challenge ACK; connection survives")
def syn_in_established(env):
    c = open_passive(env)
    deliver(c, b"x")
    c.peer.drain(0.05)
    c.send(SYN, seq=seq_add(c.snd_nxt, 10), ack=0)
    a = c.expect(lambda q: True, 1.5)
    expect(a is not None and flags_of(a) == ACK and a[TCP].ack == c.snd_nxt,
           f"challenge ACK [A] ack={c.snd_nxt}", describe(a))
    rst = c.collect(lambda q: flags_of(q) & RST, 0.3)
    expect(not rst, "no RST", [describe(q) for q in rst])
    deliver(c, b"alive")
    app_reads_exactly(c, b"xalive")
    c.app.close()


@suite.check("RFC 5961 7: challenge ACKs are rate-limited per connection")
def challenge_rate_limit(env):
    a_conn = open_passive(env)
    b_conn = open_passive(env)
    deliver(a_conn, b"a")
    deliver(b_conn, b"b")
    env.peer.drain(0.1)
    # Spaced 20 ms apart so that the daemon cannot fold them into one ACK
    # by batching: without a limit each would draw its own challenge ACK.
    n = 40
    acks = []
    for i in range(n):
        a_conn.send(RST | ACK, seq=seq_add(a_conn.snd_nxt, 100 + i))
        acks += a_conn.collect(lambda q: flags_of(q) == ACK, 0.02)
    acks += a_conn.collect(lambda q: flags_of(q) == ACK, 0.3)
    print(f"  info: {len(acks)} challenge ACKs for {n} in-window RSTs over {n * 0.02:.1f}s")
    expect(0 < len(acks) <= n // 2, f"some but at most {n // 2} challenge ACKs for {n} in-window RSTs over "
           f"{n * 0.02:.1f}s", f"{len(acks)}")
    b_conn.send(RST | ACK, seq=seq_add(b_conn.snd_nxt, 100))
    b = b_conn.expect(lambda q: flags_of(q) == ACK, 1.0)
    expect(b is not None, "another connection still gets its challenge ACK (the limit is per connection)",
           describe(b))
    deliver(a_conn, b"!")
    app_reads_exactly(a_conn, b"a!")
    a_conn.app.close()
    b_conn.app.close()


# ---- windows ------------------------------------------------------------------------------

@suite.check("RFC 9293 3.8.6 (SHLD-14, MUST-39): zero window without shrinking, probes answered with window 0, update on read",
             env_factory=lambda: Env(extra_yaml=SMALL_RCVBUF))
def zero_window(env):
    c = open_passive(env)
    deliver(c, b"0")
    app_reads_exactly(c, b"0", extra_wait=0.05)
    data = rand_bytes(4 << 20)
    res = send_stream(c, data, stop_at_zero_window=True, timeout=40)
    expect(res["zero"], "the window closes (0) with everything sent acknowledged while the application does not read",
           f"acked {res['acked']} bytes, last windows {res['windows'][-5:]}")
    edges = res["edges"]
    shrinks = [i for i in range(1, len(edges)) if edges[i] < edges[i - 1]]
    expect(not shrinks, "the right edge (ack+window) never moves left (RFC 9293 3.8.6)",
           f"{len(shrinks)} shrinks; the first, between the daemon's ACKs number {shrinks[:1]} "
           f"(sequence numbers relative to the stream start):\n" + "\n".join(
               f"      {res['ack_text'][j]}" for j in range(max(0, shrinks[0] - 3), min(len(edges), shrinks[0] + 2)))
           if shrinks else "")
    accepted = res["acked"]
    print(f"  info: {accepted} bytes accepted before the window closed")
    # Zero-window probe: one new byte.
    c.peer.drain(0.1)
    c.send(ACK, data[accepted:accepted + 1], seq=c.snd_nxt)
    p = c.expect(lambda q: flags_of(q) & ACK, 1.5)
    expect(p is not None and p[TCP].ack == c.snd_nxt and p[TCP].window == 0,
           f"probe answered by ACK ack={c.snd_nxt} win=0 (probe byte not taken)", describe(p))
    # The application reads everything: a window update must follow.
    got = c.app.read(accepted, 10)
    upd = c.expect(lambda q: flags_of(q) & ACK and q[TCP].window > 0, 3)
    expect(upd is not None and upd[TCP].ack == c.snd_nxt, f"a window update (win > 0, ack={c.snd_nxt}) once the application reads",
           describe(upd))
    expect(got == data[:accepted], f"application reads the {accepted} accepted bytes exactly",
           f"{len(got)} bytes, equal={got == data[:accepted]}")
    c.app.close()


@suite.check("issue 3 / RFC 9293 3.8.6: peer sends 300 KiB and FIN at once, application reads slowly: every byte, then EOF, no RST",
             env_factory=lambda: Env(extra_yaml=SMALL_RCVBUF))
def slow_reader_all_then_fin(env):
    c = open_passive(env)
    data = rand_bytes(300 * 1024)
    got = []
    state = {"next": time.monotonic()}

    def slow_read():
        if time.monotonic() >= state["next"]:
            got.append(c.app.read(4096, 0))
            state["next"] = time.monotonic() + 0.01

    res = send_stream(c, data, fin=True, on_tick=slow_read, timeout=60)
    expect(not res["rsts"], "no RST from the daemon", res["rsts"])
    expect(res["acked"] == len(data) and res["fin_acked"], "all data and the FIN acknowledged",
           f"acked {res['acked']} of {len(data)}, FIN acked {res['fin_acked']}")
    rest = c.app.read_until_eof(20)
    all_data = b"".join(got) + rest
    expect(all_data == data and c.app.eof, f"application reads all {len(data)} bytes, then EOF",
           f"{len(all_data)} bytes, equal={all_data == data}, eof={c.app.eof}")
    print(f"  info: smallest window advertised {min(res['windows'] or [0])}")
    c.app.close()


@suite.check("RFC 1122 4.2.3.2 / RFC 5681 4.2: an ACK for at least every second full-sized segment")
def ack_every_second_segment(env):
    c = open_passive(env)
    c.peer.drain(0.05)
    start = c.snd_nxt
    n = 6
    acks = []
    for _ in range(n):  # 60 ms apart: event-loop batching cannot fold them together
        c.send_data(rand_bytes(1460))
        acks += c.collect(lambda q: flags_of(q) & ACK, 0.06)
    acks += c.collect(lambda q: flags_of(q) & ACK, 0.7)
    distinct = sorted({seq_diff(q[TCP].ack, start) for q in acks})
    expect(len(distinct) >= n // 2, f"at least {n // 2} distinct ACKs while {n} full segments arrive 60 ms apart",
           f"ACKed offsets {distinct}")
    expect(seq_diff(c.snd_nxt, start) in distinct, "everything acknowledged within 700 ms (RFC 1122 4.2.3.2)",
           f"ACKed offsets {distinct}")
    c.app.close()


@suite.check("RFC 1122 4.2.3.2: a lone small segment is acknowledged within 500 ms")
def delayed_ack_bound(env):
    c = open_passive(env)
    c.peer.drain(0.05)
    t0 = time.monotonic()
    c.send_data(b"lonely")
    a = c.expect_ack(c.snd_nxt, 1.5)
    delay = time.monotonic() - t0
    expect(a is not None and delay < 0.5 + 0.2, "ACK within 500 ms (+200 ms scheduling margin)",
           f"{'no ACK' if a is None else f'ACK after {delay * 1000:.0f} ms'}")
    c.app.close()


@suite.check("RFC 1122 4.2.3.6 / RFC 9293 3.8.4: a keep-alive probe (SEG.SEQ = RCV.NXT-1, 1 byte) is answered")
def keepalive_answered(env):
    c = open_passive(env)
    deliver(c, b"k")
    c.peer.drain(0.05)
    c.send(ACK, b"\0", seq=seq_add(c.snd_nxt, -1))
    a = c.expect(lambda q: flags_of(q) & ACK, 1.5)
    expect(a is not None and a[TCP].ack == c.snd_nxt and not payload_of(a), f"ACK ack={c.snd_nxt}", describe(a))
    app_reads_exactly(c, b"k")
    c.app.close()


@suite.check("RFC 9293 3.8.6.1 / MUST-35..37: peer's zero window: no data beyond it, probes with backoff, resumes on update")
def peer_zero_window(env):
    c = open_passive(env, win=0)
    payload = rand_bytes(5000)
    c.app.send(payload)
    start = c.rcv_nxt  # SND.UNA of the daemon
    probes = []
    over = []
    t_end = time.monotonic() + 4.5
    while time.monotonic() < t_end:
        # A probe is one byte at SND.UNA or, as Linux does, an empty
        # segment at SND.UNA-1; either forces an ACK from us.
        for q in c.collect(lambda q: not flags_of(q) & (SYN | FIN | RST), 0.05):
            off, n = seq_diff(q[TCP].seq, start), len(payload_of(q))
            if n > 1 or n == 1 and off != 0:
                over.append(describe(q))
            probes.append(time.monotonic())
            c.send(ACK, win=0)  # answer the probe: nothing taken, still zero
    expect(not over, "no data beyond the zero window (at most a 1-byte probe at SND.UNA)", over[:5])
    gaps = [b - a for a, b in zip(probes, probes[1:])]
    expect(len(probes) >= 3, "at least 3 probes in 4.5 s", f"{len(probes)} probes")
    expect(all(g2 >= 0.7 * g1 for g1, g2 in zip(gaps, gaps[1:])) and gaps[-1] > 1.5 * gaps[0],
           "probe intervals grow (exponential backoff)", f"intervals {[round(g, 3) for g in gaps]} s")
    c.win = 65535
    c.send(ACK)
    data = b""
    deadline = time.monotonic() + 5
    while len(data) < len(payload) and time.monotonic() < deadline:
        q = c.expect(lambda q: len(payload_of(q)) > 0, 0.5)
        if q is None:
            c.send(ACK)
            continue
        if q[TCP].seq == c.rcv_nxt:
            data += payload_of(q)
            c.rcv_nxt = seq_add(c.rcv_nxt, len(payload_of(q)))
        elif seq_diff(q[TCP].seq, c.rcv_nxt) < 0 and seq_diff(seq_add(q[TCP].seq, len(payload_of(q))), c.rcv_nxt) > 0:
            new = payload_of(q)[seq_diff(c.rcv_nxt, q[TCP].seq):]
            data += new
            c.rcv_nxt = seq_add(c.rcv_nxt, len(new))
        c.send(ACK)
    expect(data == payload, "after a window update all 5000 bytes arrive, in order", f"{len(data)} bytes")
    c.app.close()


@suite.check("RFC 6298 5.5 / RFC 1122 4.2.3.5: unanswered data is retransmitted with backoff, then the connection times out",
             env_factory=lambda: Env(extra_yaml=FAST + "  max_retransmits: 4\n"))
def retransmit_then_timeout(env):
    c = open_passive(env)
    c.app.send(b"never acknowledged")
    times = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not c.app.eof:
        for q in c.collect(lambda q: len(payload_of(q)) > 0 and q[TCP].seq == c.rcv_nxt, 0.1):
            times.append(time.monotonic())
        c.app.read(None, 0)
    gaps = [round(b - a, 3) for a, b in zip(times, times[1:])]
    expect(len(times) >= 3, "the segment is retransmitted several times", f"{len(times)} transmissions")
    expect(all(g2 >= 0.7 * g1 for g1, g2 in zip(gaps, gaps[1:])) and gaps[-1] > 1.5 * gaps[0],
           "retransmission intervals grow (backoff)", f"intervals {gaps} s")
    expect(c.app.eof, "the application's stream ends", f"still open after {len(times)} transmissions")
    st = env.status(c.app.conn_id)
    expect(st and "outcome=timed-out" in st, "STATUS says outcome=timed-out", repr(st))
    c.app.close()


@suite.check("RFC 5681 3.2: three duplicate ACKs trigger a fast retransmit well before the RTO",
             env_factory=lambda: Env(extra_yaml="tcp:\n  initial_rto: 3s\n  min_rto: 3s\n  max_rto: 6s\n"))
def fast_retransmit(env):
    c = open_passive(env)
    c.app.send(rand_bytes(8 * 1460))
    first = {}
    for s in c.collect(lambda q: len(payload_of(q)) > 0, 0.4):
        first[s[TCP].seq] = len(payload_of(s))
    expect(len(first) >= 4, "a flight of at least 4 segments", f"{len(first)} segments")
    # Segment 2 "lost": acknowledge segment 1, then three duplicate ACKs.
    c.rcv_nxt = seq_add(c.rcv_nxt, first[c.rcv_nxt])
    c.send(ACK)
    time.sleep(0.02)
    t0 = time.monotonic()
    for _ in range(3):
        c.send(ACK)
    r = c.expect(lambda q: q[TCP].seq == c.rcv_nxt and len(payload_of(q)) > 0, 1.5)
    expect(r is not None, f"segment 2 (seq={c.rcv_nxt}) retransmitted within 1.5 s of the third duplicate ACK "
           "(the RTO is at least 3 s)", describe(r))
    print(f"  info: fast retransmit {1000 * (time.monotonic() - t0):.0f} ms after the duplicate ACKs")
    c.app.close()


# ---- close -----------------------------------------------------------------------------

@suite.check("RFC 9293 3.10.7.4 eighth step: TIME-WAIT re-acknowledges a retransmitted FIN")
def time_wait_reacks_fin(env):
    c = open_passive(env)
    c.app.shutdown_write()
    fin = c.expect(lambda q: flags_of(q) & FIN, 3)
    expect(fin is not None and fin[TCP].seq == c.rcv_nxt, f"the daemon's FIN seq={c.rcv_nxt}", describe(fin))
    c.rcv_nxt = seq_add(c.rcv_nxt, 1)
    c.send(ACK)
    c.send(ACK | FIN)
    c.snd_nxt = seq_add(c.snd_nxt, 1)
    a = c.expect_ack(c.snd_nxt, 2)
    expect(a is not None, f"ACK of our FIN: ack={c.snd_nxt}", "nothing")
    c.send(ACK | FIN, seq=seq_add(c.snd_nxt, -1))
    a2 = c.expect(lambda q: True, 1.5)
    expect(a2 is not None and flags_of(a2) == ACK and a2[TCP].ack == c.snd_nxt and a2[TCP].seq == c.rcv_nxt,
           f"retransmitted FIN re-acknowledged: [A] seq={c.rcv_nxt} ack={c.snd_nxt}", describe(a2))
    c.app.close()


@suite.check("RFC 9293 3.5 figure 13 / RFC 1337: simultaneous close; RST in TIME-WAIT ignored; TIME-WAIT ends after 2*MSL")
def simultaneous_close(env):
    c = open_passive(env)
    c.app.shutdown_write()
    fin = c.expect(lambda q: flags_of(q) & FIN, 3)
    expect(fin is not None and fin[TCP].seq == c.rcv_nxt, f"the daemon's FIN seq={c.rcv_nxt}", describe(fin))
    # Our FIN crosses theirs: it does not acknowledge their FIN.
    c.send(ACK | FIN)
    c.snd_nxt = seq_add(c.snd_nxt, 1)
    a = c.expect(lambda q: flags_of(q) & ACK and q[TCP].ack == c.snd_nxt, 2)
    expect(a is not None and a[TCP].seq == seq_add(c.rcv_nxt, 1), f"ACK of our FIN with seq={seq_add(c.rcv_nxt, 1)} (CLOSING)",
           describe(a))
    c.rcv_nxt = seq_add(c.rcv_nxt, 1)
    c.send(ACK)  # acknowledges their FIN: TIME-WAIT
    data = c.app.read_until_eof(2)
    expect(c.app.eof and data == b"", "application reads EOF", f"{data!r} eof={c.app.eof}")
    c.peer.drain(0.1)
    c.send(RST, seq=c.snd_nxt)  # RFC 1337: must not end TIME-WAIT
    c.peer.drain(0.1)
    c.send(ACK | FIN, seq=seq_add(c.snd_nxt, -1))
    a2 = c.expect(lambda q: True, 1.5)
    expect(a2 is not None and flags_of(a2) == ACK and a2[TCP].ack == c.snd_nxt,
           f"after a RST, a retransmitted FIN is still re-acknowledged (TIME-WAIT kept): ack={c.snd_nxt}", describe(a2))
    time.sleep(2 * 1.0 + 1.5)  # msl 1s: TIME-WAIT is over
    c.send(ACK | FIN, seq=seq_add(c.snd_nxt, -1))
    r = c.expect(lambda q: True, 1.5)
    expect(r is not None and flags_of(r) & RST and r[TCP].seq == c.rcv_nxt,
           f"after 2*MSL the tuple is gone: the listener answers RST seq={c.rcv_nxt}", describe(r))
    c.app.close()


@suite.check("RFC 9293 3.10.4 / RFC 1122 4.2.2.13: application closes with unread data: RST, not FIN")
def close_with_unread_data(env):
    c = open_passive(env)
    deliver(c, b"unread " * 100)
    time.sleep(0.2)
    c.app.close()
    r = c.expect(lambda q: flags_of(q) & (RST | FIN), 3)
    expect(r is not None and flags_of(r) & RST and not flags_of(r) & FIN, "RST (no FIN)", describe(r))
    expect(seq_diff(r[TCP].seq, c.rcv_nxt) == 0, f"RST seq = SND.NXT = {c.rcv_nxt}", describe(r))


if __name__ == "__main__":
    suite.run()
