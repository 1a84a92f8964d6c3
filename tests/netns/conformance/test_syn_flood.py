#!/usr/bin/python3
"""SYN flood against the real tapstackd (CONFORMANCE.md, RFC 4987).

First check: a bounded burst of SYNs from random ports (and from spoofed
addresses that never answer ARP) at a listener nobody accepts on. The
daemon's memory must stay bounded (VmRSS from /proc before and after, within
a fixed bound far below what one buffer set per SYN would cost), its TCP
state must stay within the listener's backlog, and a real connection from
the namespace's Linux (`nc`) must still succeed afterwards with its data
intact.

Second check: a sustained flood (TAPSTACK_FLOOD_RATE SYN/s, default 20,000,
for 5 s; hostile_load.py) while the namespace's Linux clients connect to a
listener an application serves, some of them slow to send their final ACK
(nftables drops the first one). At least 99% of the clients must complete
an exact exchange; half-open connections queued before the flood keep their
place (every one of them completes); new SYNs get cookies; memory and state
stay bounded.
"""
import hashlib
import os
import random
import subprocess
import time

from conformance import LISTEN_PORT, Env, Suite, expect
from hostile_load import flood_with_clients, rss_kib
from peer import SYN, opt_mss

suite = Suite("conformance_syn_flood", lambda: Env(extra_yaml="tcp:\n  backlog: 64\n"))
SYNS = 2000
SPOOFED = 300
RSS_BOUND_KIB = 24 * 1024  # one 256 KiB buffer pair per SYN would be ~1 GiB
FLOOD_RATE = int(os.environ.get("TAPSTACK_FLOOD_RATE", "20000"))
FLOOD_SECONDS = 5.0
SERVED_PORT = 8  # served by an application; LISTEN_PORT is not


@suite.check("RFC 4987 3.4: SYN flood from random ports keeps memory and state bounded; a real connection succeeds after")
def syn_flood(env):
    d, p = env.daemon, env.peer
    before = rss_kib(d.pid)
    rng = random.Random()
    started = time.monotonic()
    sent = 0
    for burst in range(SYNS // 100):
        for _ in range(100):
            p.send_tcp(rng.randrange(1024, 65536), LISTEN_PORT, rng.randrange(1 << 32), 0, SYN, 65535,
                       options=opt_mss(1460))
            sent += 1
        p.drain(0.01)
    for i in range(SPOOFED):
        src = f"10.0.0.{rng.randrange(100, 250)}"
        p.send_tcp(rng.randrange(1024, 65536), LISTEN_PORT, rng.randrange(1 << 32), 0, SYN, 65535,
                   options=opt_mss(1460), src=src)
        sent += 1
        if i % 100 == 99:
            p.drain(0.01)
    p.drain(1.0)
    elapsed = time.monotonic() - started
    after = rss_kib(d.pid)
    stats = env.stats()
    conns = stats.get("tcp.connections")
    print(f"  info: {sent} SYNs in {elapsed:.1f}s; VmRSS {before} KiB -> {after} KiB; tcp.connections={conns}; "
          f"cookies={stats.get('tcp.syncookies_sent')}, backlog_full={stats.get('tcp.rx_backlog_full')}")
    expect(d.alive(), "tapstackd still running", "it exited")
    expect(after - before <= RSS_BOUND_KIB, f"VmRSS growth <= {RSS_BOUND_KIB} KiB after {sent} SYNs",
           f"{after - before} KiB ({before} -> {after})")
    expect(conns is not None and conns <= 64 + 8, "tcp.connections within the backlog (64) after the flood",
           f"tcp.connections={conns}")
    # A genuine connection from the namespace's Linux still completes and its data arrives.
    payload = os.urandom(20000)
    path = os.path.join(d.workdir, "payload.bin")
    with open(path, "wb") as f:
        f.write(payload)
    app = env.api(f"ACCEPT {LISTEN_PORT} timeout=15")
    nc = d.popen(["sh", "-c", f"nc -N -w 10 {d.address} {LISTEN_PORT} < {path}"],
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    accepted = None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        reply = app.wait_reply(0.1)
        p.drain(0.02)
        if reply is None:
            continue
        if reply.startswith("OK") and f"{d.host_address}:" in reply:
            accepted = reply
            break
        if reply.startswith("OK"):
            # A flood connection that completed (cannot happen: the peer never ACKs); take the next one.
            app.close()
            app = env.api(f"ACCEPT {LISTEN_PORT} timeout=15")
            continue
        break
    expect(accepted is not None, f"ACCEPT returns the connection from {d.host_address} (nc)", repr(reply))
    data = app.read_until_eof(15)
    app.shutdown_write()  # our FIN lets nc finish
    try:
        rc = nc.wait(15)
    except subprocess.TimeoutExpired:
        nc.kill()
        rc = "killed after 15 s"
    err = nc.stderr.read().decode(errors="replace")
    expect(hashlib.sha256(data).digest() == hashlib.sha256(payload).digest() and app.eof,
           f"the application reads nc's {len(payload)} bytes, then EOF",
           f"{len(data)} bytes, eof={app.eof}, nc exit {rc} {err!r}")
    app.close()


@suite.check("RFC 4987 3.6: a sustained SYN flood with slow real clients: >= 99% succeed, queued half-opens keep "
             "their place, new SYNs get cookies", fresh=True)
def flood_with_real_clients(env):
    f = flood_with_clients(env, FLOOD_RATE, FLOOD_SECONDS, SERVED_PORT)
    fl, st = f["flood"], f["stats"]
    rate = 100.0 * f["ok"] / f["total"]
    print(f"  info: flood {fl['sent']} SYNs in {fl['elapsed']:.1f}s ({fl['rate']:.0f}/s, target {FLOOD_RATE}/s); "
          f"real clients {f['ok']}/{f['total']} succeeded ({rate:.1f}%), queued-before-flood {f['early_ok']}/"
          f"{f['early']}, slow {f['slow']} (first final ACKs dropped: {f['dropped_acks']}); "
          f"cookies sent {st.get('tcp.syncookies_sent')}, accepted {st.get('tcp.syncookies_accepted')}, "
          f"rejected {st.get('tcp.syncookies_rejected')}; VmRSS {f['rss_before']} -> {f['rss_peak']} KiB; "
          f"acceptor {f['acceptor']}; " + " ".join(f"{k}={v}" for k, v in st.items() if k in (
              "tcp.rx_backlog_full", "tcp.rx_syn_queue_full", "tcp.conn_established", "tcp.syncookies_unsent",
              "tcp.rx_listen_dropped", "tap.rx_frames", "tcp.rx_segments")))
    failures = [(i, r) for i, r in enumerate(f["results"]) if not (r and r["ok"])]
    for i, r in failures[:5]:
        print(f"  info: client {i} failed: {r}")
    expect(env.daemon.alive(), "tapstackd still running", "it exited")
    expect(fl["rate"] >= FLOOD_RATE * 0.25, f"the flood reached at least a quarter of {FLOOD_RATE} SYN/s",
           f"{fl['rate']:.0f}/s")
    expect(f["ok"] * 100 >= 99 * f["total"], "at least 99% of the real clients complete an exact exchange",
           f"{f['ok']}/{f['total']}; failures (first 5): {failures[:5]}")
    expect(f["early_ok"] == f["early"], "every half-open connection queued before the flood completes",
           f"{f['early_ok']}/{f['early']}: {f['results'][:f['early']]}")
    expect((f["dropped_acks"] or 0) >= f["slow"] * 0.9, "nftables dropped the slow clients' first final ACKs",
           f"dropped {f['dropped_acks']} of {f['slow']}")
    expect((st.get("tcp.syncookies_sent") or 0) > 0 and (st.get("tcp.syncookies_accepted") or 0) > 0,
           "the full SYN queue answered with cookies and real clients completed through them",
           f"sent {st.get('tcp.syncookies_sent')}, accepted {st.get('tcp.syncookies_accepted')}")
    expect(f["rss_peak"] - f["rss_before"] <= RSS_BOUND_KIB, f"VmRSS growth <= {RSS_BOUND_KIB} KiB during the flood",
           f"{f['rss_peak'] - f['rss_before']} KiB")


if __name__ == "__main__":
    suite.run()
