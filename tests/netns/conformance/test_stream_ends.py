#!/usr/bin/python3
"""How streams end when TCP ends them (CONFORMANCE.md "Ends that are not
orderly"), against the real tapstackd from a scripted peer, with the
daemon-side application an API stream that reads nothing until the end and
then reads slowly.

The promise under test: every byte the daemon received in order (in
particular every byte it acknowledged) reaches the application, in order,
before EOF, and only then does STATUS report how the stream ended:
  * the application's window full, the peer's FIN acknowledged, then an
    RST exactly at RCV.NXT: in separate batches, and in one batch (the
    daemon is stopped with SIGSTOP while data, FIN and RST are queued, so
    it reads all three in one go);
  * an RST inside the window: challenge ACK, the peer's exact RST follows
    (RFC 5961 3.2);
  * the kernel's own TCP as the peer, closing with SO_LINGER 0 after FIN;
  * keepalive and retransmission timeouts on a silent peer;
  * a connection reset while it waits for ACCEPT: accepted anyway, with its
    data; an embryonic one reset before its handshake completed: forgotten.
Every comparison is SHA-256 over exact byte counts.
"""
import hashlib
import json
import os
import random
import signal
import subprocess
import time

from conformance import LISTEN_PORT, Env, Suite, expect, open_passive, seq_add
from peer import ACK, FIN, PSH, RST, SYN, TCP, flags_of, opt_mss, payload_of
from test_tcp_data import describe, send_stream

FAST = "tcp:\n  initial_rto: 300ms\n  min_rto: 200ms\n  max_rto: 1s\n  msl: 1s\n  max_retransmits: 3\n"
KEEPALIVE = FAST + "  keepalive_idle: 1s\n  keepalive_interval: 1s\n  keepalive_count: 2\n"
suite = Suite("conformance_stream_ends", lambda: Env(extra_yaml=FAST))


def sha(b):
    return hashlib.sha256(b).hexdigest()[:16]


def fill_window(c, size=1 << 20):
    """The peer sends until the daemon advertises a zero window with
    everything acknowledged (the application reads nothing); returns the
    acknowledged bytes."""
    data = random.randbytes(size)
    res = send_stream(c, data, stop_at_zero_window=True, timeout=60)
    expect(not res["rsts"] and res["zero"] and res["acked"] > 0,
           "the daemon acknowledges everything and closes its window", res)
    return data[:res["acked"]]


def open_window(c, acked):
    """After fill_window(): the application reads until the daemon's
    window opens (its socket reports writable only once mostly drained).
    Returns what it read and the window update."""
    early, update = b"", None
    deadline = time.monotonic() + 10
    while update is None and time.monotonic() < deadline:
        early += c.app.read(16384, 0.05)
        update = c.expect(lambda q: q[TCP].window > 0, 0.05)
    expect(update is not None, "a window update", f"none after the application read {len(early)} bytes")
    expect(early == acked[:len(early)], "the application's first reads are the stream's start", f"{len(early)} bytes")
    c.peer.drain(0.2)
    return early, update


def fin_acked(c):
    c.send(ACK | FIN)
    c.snd_nxt = seq_add(c.snd_nxt, 1)
    a = c.expect_ack(c.snd_nxt, 3)
    expect(a is not None, f"the FIN acknowledged (ack {c.snd_nxt}) even with the window closed", describe(a))


def status_during(env, c, outcome):
    """STATUS before the application read anything: the end is known."""
    st = env.status(c.app.conn_id)
    expect(st is not None and f"outcome={outcome}" in st,
           f"STATUS already says outcome={outcome} while the bytes wait for the application", repr(st))


def app_reads_all(env, c, want, outcome, timeout=30):
    """The application reads slowly to EOF: exactly `want`, then STATUS."""
    got = bytearray()
    deadline = time.monotonic() + timeout
    while not c.app.eof and time.monotonic() < deadline:
        got += c.app.read(16384, 0.5)
        time.sleep(0.001)
    expect(bytes(got) == want and c.app.eof,
           f"the application reads all {len(want)} bytes (sha256 {sha(want)}), then EOF",
           f"{len(got)} bytes (sha256 {sha(bytes(got))}), eof={c.app.eof}")
    st = env.status(c.app.conn_id)
    expect(st is not None and f"outcome={outcome}" in st and "undelivered" not in st,
           f"then STATUS says outcome={outcome}, nothing undelivered", repr(st))
    c.app.close()


@suite.check("RFC 9293 3.10.7.4: window full, FIN acknowledged, then an exact RST: a slow reader gets every "
             "acknowledged byte, then EOF, then outcome reset")
def fin_then_exact_rst(env):
    c = open_passive(env)
    acked = fill_window(c)
    fin_acked(c)
    c.send(RST | ACK, seq=c.snd_nxt)
    time.sleep(0.3)
    status_during(env, c, "reset")
    app_reads_all(env, c, acked, "reset")


@suite.check("RFC 9293 3.10.7.4: data, FIN and an exact RST in one receive batch: every byte received in order "
             "reaches the application before outcome reset")
def data_fin_rst_one_batch(env):
    c = open_passive(env)
    acked = fill_window(c)
    early, update = open_window(c, acked)  # ...the window opens a little...
    rest = acked[len(early):]
    last = random.randbytes(min(8000, update[TCP].window))
    # ...and the peer's last data, its FIN and its RST wait together in
    # the TAP's queue while the daemon is stopped: one batch.
    pid = env.daemon.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        for off in range(0, len(last), 1460):
            c.send_data(last[off:off + 1460])
        c.send_data(b"", flags=ACK | FIN)
        c.send(RST | ACK, seq=c.snd_nxt)
    finally:
        os.kill(pid, signal.SIGCONT)
    time.sleep(0.3)
    status_during(env, c, "reset")
    app_reads_all(env, c, rest + last, "reset")


@suite.check("RFC 5961 3.2: an RST inside the window draws a challenge ACK; the peer's exact RST that answers it "
             "ends the stream only after every byte reached the application")
def rst_in_window_then_exact(env):
    c = open_passive(env)
    acked = fill_window(c)
    early, update = open_window(c, acked)
    fin_acked(c)
    c.send(RST | ACK, seq=seq_add(c.snd_nxt, min(1000, update[TCP].window - 1)))
    challenge = c.expect(lambda q: flags_of(q) & ACK and not flags_of(q) & RST, 3)
    expect(challenge is not None and challenge[TCP].ack == c.snd_nxt,
           f"a challenge ACK with ack={c.snd_nxt}", describe(challenge))
    c.send(RST, seq=challenge[TCP].ack)
    time.sleep(0.3)
    app_reads_all(env, c, acked[len(early):], "reset")


KERNEL_PEER = r'''
import fcntl, hashlib, json, os, socket, struct, sys, termios, time
port, size = int(sys.argv[1]), int(sys.argv[2])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("10.0.0.1", port))
srv.listen(1)
srv.settimeout(20)
c, _ = srv.accept()
data = os.urandom(size)
c.sendall(data)
c.shutdown(socket.SHUT_WR)
# Everything, FIN included, acknowledged: nothing left in the send queue and
# the state FIN-WAIT-2 (tcp_info's first byte: 5).
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    outq = struct.unpack("i", fcntl.ioctl(c.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
    state = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
    if outq == 0 and state == 5:
        break
    time.sleep(0.01)
acked = outq == 0 and state == 5
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()  # RST at SND.NXT, after the FIN: exactly what the daemon expects
print(json.dumps({"sha": hashlib.sha256(data).hexdigest()[:16], "size": size, "acked": acked}))
'''


@suite.check("the kernel's TCP as the peer: it sends, FINs, waits for the ACK and closes with SO_LINGER 0 (RST): "
             "the application still reads every byte (SHA-256), then outcome reset")
def kernel_linger_zero(env):
    port = env.next_port()
    size = 380000  # fits the daemon's receive buffer and the application's socket
    srv = env.daemon.popen(["/usr/bin/python3", "-c", KERNEL_PEER, str(port), str(size)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    app = None
    while app is None and time.monotonic() < deadline:
        a = env.api(f"CONNECT 10.0.0.1 {port}")
        r = a.wait_reply(5)
        if r and r.startswith("OK"):
            app = a
        else:
            a.close()
            time.sleep(0.1)
    expect(app is not None, f"CONNECT 10.0.0.1 {port} succeeds", "no connection")
    out, err = srv.communicate(timeout=30)
    peer = json.loads(out.decode().strip().splitlines()[-1]) if out.strip() else {}
    expect(peer.get("acked"), "the kernel peer saw all its data and FIN acknowledged before its RST",
           f"{peer} {err.decode(errors='replace')[-300:]}")
    time.sleep(0.3)
    got = bytearray()
    while not app.eof:
        got += app.read(16384, 2.0)
        time.sleep(0.001)
    expect(len(got) == size and sha(bytes(got)) == peer["sha"],
           f"the application reads all {size} bytes (sha256 {peer['sha']}), then EOF",
           f"{len(got)} bytes (sha256 {sha(bytes(got))})")
    st = env.status(app.conn_id)
    expect(st is not None and "outcome=reset" in st, "STATUS says outcome=reset", repr(st))
    app.close()


@suite.check("RFC 1122 4.2.3.6: keepalive gives up on a silent peer while the window is full: every acknowledged "
             "byte, then outcome timed-out", env_factory=lambda: Env(extra_yaml=KEEPALIVE))
def keepalive_timeout_delivers(env):
    c = open_passive(env, accept=False)
    c.app = env.api(f"ACCEPT {LISTEN_PORT} timeout=5 keepalive")
    expect((c.app.wait_reply(6) or "").startswith("OK"), "ACCEPT ... keepalive", c.app.reply)
    acked = fill_window(c)
    # Silence: the probes (SEG.SEQ = SND.UNA - 1) go unanswered.
    probes = c.collect(lambda q: not payload_of(q) and q[TCP].seq == seq_add(c.rcv_nxt, -1), 4.0)
    expect(len(probes) >= 1, "keepalive probes", f"{len(probes)}")
    status_during(env, c, "timed-out")
    app_reads_all(env, c, acked, "timed-out")


@suite.check("RFC 1122 4.2.3.5: retransmissions run out on a silent peer while the window is full: every "
             "acknowledged byte, then outcome timed-out")
def retransmission_timeout_delivers(env):
    c = open_passive(env)
    acked = fill_window(c)
    c.app.send(b"never acknowledged")
    deadline = time.monotonic() + 15
    st = None
    while time.monotonic() < deadline:
        c.peer.drain(0.2)
        st = env.status(c.app.conn_id)
        if st and "outcome=timed-out" in st:
            break
    expect(st is not None and "outcome=timed-out" in st, "the retransmissions run out", repr(st))
    app_reads_all(env, c, acked, "timed-out")


@suite.check("a connection reset while it waits for ACCEPT is still accepted: its data, then EOF and outcome reset")
def reset_in_accept_queue(env):
    c = open_passive(env, accept=False)
    data = random.randbytes(50 * 1024)
    res = send_stream(c, data, fin=True)
    expect(res["acked"] == len(data) and res["fin_acked"], "data and FIN acknowledged before any ACCEPT", res)
    c.send(RST | ACK, seq=c.snd_nxt)
    time.sleep(0.3)
    c.app = env.api(f"ACCEPT {LISTEN_PORT} timeout=3")
    reply = c.app.wait_reply(5)
    expect(reply is not None and reply.startswith("OK") and f":{c.sport}" in reply,
           f"ACCEPT returns the reset connection from port {c.sport}", repr(reply))
    app_reads_all(env, c, data, "reset")


@suite.check("RFC 9293 3.10.7.4: an embryonic connection reset before its handshake completed is forgotten; "
             "ACCEPT sees nothing, the same tuple may connect again")
def embryonic_reset_forgotten(env):
    p = env.peer
    sport = env.next_port()
    iss = random.randrange(1 << 32)
    p.send_tcp(sport, LISTEN_PORT, iss, 0, SYN, options=opt_mss(1460))
    synack = p.expect(lambda q: TCP in q and q[TCP].dport == sport and flags_of(q) & (SYN | ACK) == SYN | ACK, 3)
    expect(synack is not None, "SYN-ACK", "nothing")
    p.send_tcp(sport, LISTEN_PORT, seq_add(iss, 1), 0, RST)
    time.sleep(0.2)
    a = env.api(f"ACCEPT {LISTEN_PORT} timeout=1")
    r = a.wait_reply(3)
    a.close()
    expect(r is not None and r.startswith("ERR timed-out"), "ACCEPT finds nothing queued", repr(r))


if __name__ == "__main__":
    suite.run()
