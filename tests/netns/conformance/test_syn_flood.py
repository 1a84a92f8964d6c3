#!/usr/bin/python3
"""SYN flood against the real tapstackd (CONFORMANCE.md, RFC 4987): a
bounded burst of SYNs from random ports (and from spoofed addresses that
never answer ARP) at a listener nobody accepts on. The daemon's memory must
stay bounded (VmRSS from /proc before and after, within a fixed bound far
below what one buffer set per SYN would cost), its TCP state must stay
within the listener's backlog, and a real connection from the namespace's
Linux (`nc`) must still succeed afterwards with its data intact.
"""
import hashlib
import os
import random
import subprocess
import time

from conformance import LISTEN_PORT, Env, Suite, expect
from peer import SYN, opt_mss

suite = Suite("conformance_syn_flood", lambda: Env(extra_yaml="tcp:\n  backlog: 64\n"))
SYNS = 2000
SPOOFED = 300
RSS_BOUND_KIB = 24 * 1024  # one 256 KiB buffer pair per SYN would be ~1 GiB


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


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
          f"evicted={stats.get('tcp.rx_syn_evicted')}, backlog_full={stats.get('tcp.rx_backlog_full')}")
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


if __name__ == "__main__":
    suite.run()
