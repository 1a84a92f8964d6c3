"""Hostile loads against the real tapstackd, shared by the netns tests that
assert their bounds (test_syn_flood.py, test_memory_budget.py) and the
benchmark that prints the figures (tests/bench/hostile.py).

Theory of operation
-------------------
Everything runs inside the namespaces the conformance Env creates:
  * SYN flood: `syn_flood()` sends SYNs prebuilt by `syn_flood_frames()`
    from the scripted peer's packet socket (random source ports, a share
    from spoofed addresses of the subnet that never answer ARP) at a fixed
    rate for a bounded time, in 5 ms batches, and reports what it achieved;
  * real clients: `start_clients()` runs the namespace's own Linux TCP in a
    child process (/usr/bin/python3, one thread per client, on a schedule):
    each connects, sends 1000 random bytes, half-closes and expects the
    SHA-256 of its bytes back. "Slow" clients bind a source port in
    SLOW_PORTS, whose first final ACK an nftables rule in the namespace
    drops (conntrack counts the handshake's ACK as the flow's second
    packet), and wait 1.5 s before sending: their handshake completes only
    through our SYN-ACK retransmission or their data;
  * the daemon-side application: `start_acceptor()` runs a child process in
    the test's own namespace that keeps 32 ACCEPTs pending on the API and
    answers every stream with the SHA-256 of what it read;
  * out-of-order flood: `open_connections()` opens many connections from
    the scripted peer, `ooo_flood()` fills each with out-of-order segments
    behind a one-byte hole.
  * orphans: `orphan_figures()` has applications close streams to a Linux
    server in the namespace that never reads.
Every load is bounded in count and time. `rss_kib()` / `hwm_kib()` read
VmRSS / VmHWM.
"""

import json
import os
import random
import re
import subprocess
import sys
import time

from peer import ACK, SYN, TCP, opt_mss, opt_nop, opt_sack_permitted, opt_wscale

PYTHON = "/usr/bin/python3"
SLOW_PORTS = (61000, 61999)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def hwm_kib(pid):
    """Peak resident memory (VmHWM) so far."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def opt_timestamps(tsval, tsecr=0):
    return b"\x08\x0a" + tsval.to_bytes(4, "big") + tsecr.to_bytes(4, "big")


def syn_flood_frames(peer, dport, count, spoofed_share=0.1, seed=None, subnet_prefix="10.0.0."):
    """`count` prebuilt SYN frames from random ports (a share from spoofed
    addresses of the subnet), built before the clock starts."""
    rng = random.Random(seed)
    options = opt_mss(1460) + opt_sack_permitted() + opt_timestamps(1) + opt_nop() + opt_wscale(7)
    frames = []
    for _ in range(count):
        src = f"{subnet_prefix}{rng.randrange(100, 250)}" if rng.random() < spoofed_share else None
        frames.append(peer.tcp_frame(rng.randrange(1024, 60000), dport, rng.randrange(1 << 32), 0, SYN, 65535,
                                     options=options, src=src))
    return frames


def syn_flood(peer, frames, rate):
    """Sends `frames` at `rate` per second in 5 ms batches. Returns a dict
    with sent, target, elapsed and the achieved rate."""
    batch = max(1, rate // 200)
    started = time.monotonic()
    sent = 0
    for i in range(0, len(frames), batch):
        due = started + i / rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        sent += peer.blast(frames[i:i + batch])
        if i % (batch * 40) == 0:
            peer.discard_pending()  # the daemon's SYN-ACKs to the flood: nobody reads them
    elapsed = time.monotonic() - started
    peer.discard_pending()
    return {"sent": sent, "target": len(frames), "elapsed": elapsed, "rate": sent / elapsed if elapsed > 0 else 0.0}


def drop_first_final_ack(daemon):
    """nftables in the daemon's namespace: the first handshake ACK of every
    connection from a SLOW_PORTS source port is dropped."""
    daemon.run(["sysctl", "-qw", "net.netfilter.nf_conntrack_acct=1"])
    lo, hi = SLOW_PORTS
    rules = (f"table inet tapstack_slow {{\n  chain out {{\n    type filter hook output priority 0;\n"
             f"    tcp sport {lo}-{hi} tcp flags == ack ct original packets 2 counter drop\n  }}\n}}\n")
    daemon.run(["nft", "-f", "-"], input=rules.encode())


def dropped_final_acks(daemon):
    r = daemon.run(["nft", "list", "table", "inet", "tapstack_slow"], check=False)
    m = re.search(r"counter packets (\d+)", r.stdout.decode(errors="replace"))
    return int(m.group(1)) if m else None


_CLIENTS = r"""
import hashlib, json, os, socket, sys, threading, time
dst, port, plan = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
results = [None] * len(plan)
t0 = time.monotonic()
def one(i, p):
    time.sleep(max(0.0, t0 + p["at"] - time.monotonic()))
    payload = os.urandom(1000)
    s = socket.socket()
    s.settimeout(30)
    started = time.monotonic()
    try:
        if p["sport"]:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", p["sport"]))
        s.connect((dst, port))
        if p["slow"]:
            time.sleep(1.5)
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            got += b
        ok = got.decode(errors="replace") == hashlib.sha256(payload).hexdigest()
        results[i] = {"ok": ok, "why": "" if ok else f"reply {got[:80]!r}", "s": time.monotonic() - started}
    except Exception as e:
        results[i] = {"ok": False, "why": f"{type(e).__name__}: {e}", "s": time.monotonic() - started}
    finally:
        s.close()
threads = [threading.Thread(target=one, args=(i, p)) for i, p in enumerate(plan)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps(results))
"""


def client_plan(early_slow, during, spread, slow_every, start_at, seed=None):
    """`early_slow` slow clients at t=0, then `during` clients evenly over
    `spread` seconds from `start_at`, every `slow_every`-th of them slow."""
    rng = random.Random(seed)
    ports = list(range(SLOW_PORTS[0], SLOW_PORTS[1] + 1))
    rng.shuffle(ports)
    plan = [{"at": 0.0, "slow": True, "sport": ports.pop()} for _ in range(early_slow)]
    for i in range(during):
        slow = slow_every > 0 and i % slow_every == slow_every - 1
        plan.append({"at": start_at + spread * i / max(1, during), "slow": slow, "sport": ports.pop() if slow else 0})
    return plan


def start_clients(daemon, port, plan):
    return daemon.popen([PYTHON, "-c", _CLIENTS, daemon.address, str(port), json.dumps(plan)],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def client_results(proc, timeout):
    out, err = proc.communicate(timeout=timeout)
    try:
        return json.loads(out.decode())
    except ValueError:
        raise AssertionError(f"clients printed no result: {out[-300:]!r} {err[-800:]!r}")


_ACCEPTOR = r"""
import hashlib, json, selectors, signal, socket, sys, time
path, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
sel = selectors.DefaultSelector()
def new_accept():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(f"ACCEPT {port} timeout=120\n".encode())
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, {"reply": None, "buf": b""})
for _ in range(32):
    new_accept()
served = errors = 0
deadline = time.monotonic() + seconds
while time.monotonic() < deadline and not stop:
    for key, _ in sel.select(0.2):
        s, st = key.fileobj, key.data
        try:
            b = s.recv(65536)
        except BlockingIOError:
            continue
        except OSError:
            b = b""
        st["buf"] += b
        if st["reply"] is None:
            if b"\n" in st["buf"]:
                line, _, st["buf"] = st["buf"].partition(b"\n")
                st["reply"] = line
                new_accept()
                if not line.startswith(b"OK"):
                    errors += 1
                    sel.unregister(s)
                    s.close()
                continue
            if not b:
                sel.unregister(s)
                s.close()
                new_accept()
            continue
        if b:
            continue
        sel.unregister(s)
        try:
            s.setblocking(True)
            s.sendall(hashlib.sha256(st["buf"]).hexdigest().encode())
            s.shutdown(socket.SHUT_WR)
            served += 1
        except OSError:
            errors += 1
        s.close()
print(json.dumps({"served": served, "errors": errors}))
"""


def start_acceptor(daemon, port, seconds):
    return subprocess.Popen([PYTHON, "-c", _ACCEPTOR, daemon.socket_path, str(port), str(seconds)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def open_connections(env, conns, port, mss=1460, seed=None, base_port=20000):
    """Opens `conns` connections to `port` from the scripted peer (no window
    scaling: windows up to 65535); returns [(sport, peer's next seq, ours)]."""
    rng = random.Random(seed)
    p = env.peer
    opened = []
    batch = 100  # SYNs of a batch, then their SYN-ACKs, then the ACKs
    for start in range(0, conns, batch):
        want = {}
        for k in range(start, min(conns, start + batch)):
            sport, iss = base_port + k, rng.randrange(1 << 32)
            want[sport] = iss
            p.blast([p.tcp_frame(sport, port, iss, 0, SYN, 65535, options=opt_mss(mss))])
        group = []
        deadline = time.monotonic() + 10
        while want and time.monotonic() < deadline:
            for f in p.frames(0.05):
                t = f.getlayer(TCP)
                if t is None or t.dport not in want or int(t.flags) & (SYN | ACK) != SYN | ACK:
                    continue
                iss = want.pop(t.dport)
                group.append((t.dport, (iss + 1) & 0xFFFFFFFF, (t.seq + 1) & 0xFFFFFFFF))
        p.blast([p.tcp_frame(sport, port, snd, rcv, ACK, 65535) for sport, snd, rcv in group])
        opened += group
    p.drain(0.2)
    return opened


def ooo_flood(env, opened, bytes_per_conn, port, mss=1460, seed=None):
    """Sends every opened connection `bytes_per_conn` bytes of out-of-order
    data behind a one-byte hole; returns the segments sent."""
    rng = random.Random(seed)
    p = env.peer
    frames = []
    for sport, snd, rcv in opened:
        payload = bytes(rng.randrange(256) for _ in range(16)) * (mss // 16 + 1)
        for off in range(1, bytes_per_conn, mss):
            n = min(mss, bytes_per_conn - off)
            frames.append(p.tcp_frame(sport, port, (snd + off) & 0xFFFFFFFF, rcv, ACK, 65535, payload=payload[:n]))
    sent = 0
    for i in range(0, len(frames), 200):
        sent += p.blast(frames[i:i + 200])
        time.sleep(0.002)
        if i % 4000 == 0:
            p.discard_pending()  # the daemon's duplicate ACKs
    time.sleep(0.2)
    p.discard_pending()
    return sent


def flood_with_clients(env, rate, seconds, port, early_slow=16, during=200, slow_every=5):
    """A SYN flood at `rate` for `seconds` against `port` (served by the
    acceptor) while real clients connect: `early_slow` slow ones queued
    just before the flood, `during` spread over it, every `slow_every`-th
    slow. Returns the figures."""
    d, p = env.daemon, env.peer
    drop_first_final_ack(d)
    served = env.listen(port)
    acceptor = start_acceptor(d, port, seconds + 45)
    before = rss_kib(d.pid)
    # The peer answers the daemon's ARP for it before the flood starts (the
    # RST from a closed port needs its address).
    p.send_tcp(1023, 1, 1, 0, SYN, 65535)
    p.drain(0.3)
    plan = client_plan(early_slow, during, spread=seconds * 0.9, slow_every=slow_every, start_at=0.0)
    early_plan, later_plan = plan[:early_slow], plan[early_slow:]
    # The early slow clients first, until the daemon holds each in its SYN
    # queue (their first final ACK was dropped, so the handshake got that
    # far); then the flood and the other clients together.
    frames = syn_flood_frames(p, port, int(rate * seconds))
    early = start_clients(d, port, early_plan)
    deadline = time.monotonic() + 15
    while (dropped_final_acks(d) or 0) < early_slow and time.monotonic() < deadline:
        time.sleep(0.05)
    queued_before = dropped_final_acks(d) or 0
    clients = start_clients(d, port, later_plan)
    flood = syn_flood(p, frames, rate)
    peak = rss_kib(d.pid)
    results = client_results(early, timeout=60) + client_results(clients, timeout=60)
    acceptor.terminate()
    acc_out, _ = acceptor.communicate(timeout=10)
    stats = env.stats()
    served.close()
    ok = sum(1 for r in results if r and r["ok"])
    early = results[:early_slow]
    return {
        "flood": flood, "results": results, "ok": ok, "total": len(results),
        "early_ok": sum(1 for r in early if r and r["ok"]), "early": early_slow,
        "slow": sum(1 for q in plan if q["slow"]), "dropped_acks": dropped_final_acks(d),
        "rss_before": before, "rss_peak": peak, "stats": stats, "acceptor": acc_out.decode(errors="replace").strip(),
        "queued_before_flood": queued_before,
    }


_SINK_SERVER = r"""
import socket, sys, time
port, hold = int(sys.argv[1]), float(sys.argv[2])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # accepted sockets inherit it: the window closes fast
srv.bind(("0.0.0.0", port))
srv.listen(4096)
srv.settimeout(0.2)
print("ready", flush=True)
held = []
deadline = time.monotonic() + hold
while time.monotonic() < deadline:
    try:
        c, _ = srv.accept()
    except socket.timeout:
        continue
    held.append(c)  # never read: a zero window, every probe answered
print(len(held), flush=True)
"""


def orphan_figures(env, n, orphan_timeout, port=9000, size=200000):
    """`n` streams from the daemon to a Linux server in the namespace that
    never reads (a permanent zero window, probes answered by its kernel);
    each application writes `size` bytes and closes, leaving an orphan.
    Returns the orphans over time and after orphan_timeout + 5 s."""
    import socket
    import threading
    d = env.daemon
    server = d.popen([PYTHON, "-c", _SINK_SERVER, str(port), str(orphan_timeout + 60)],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if server.stdout.readline().strip() != b"ready":
        raise AssertionError("the sink server did not start")
    errors = []

    def app(i):
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(30)
            for attempt in range(100):  # the API socket's listen queue may be full for a moment
                try:
                    s.connect(d.socket_path)
                    break
                except BlockingIOError:
                    time.sleep(0.05)
            s.sendall(f"CONNECT {d.host_address} {port}\n".encode())
            line = b""
            while not line.endswith(b"\n"):
                b = s.recv(1)
                if not b:
                    break
                line += b
            if not line.startswith(b"OK"):
                errors.append(line)
                return
            s.sendall(bytes(size))
            s.close()
        except OSError as e:
            errors.append(repr(e))

    threads = [threading.Thread(target=app, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    closed_at = time.monotonic()
    time.sleep(1.0)
    first = env.stats()
    # An orphan is reset after a whole timeout without progress; the last
    # progress (an ACK of data sent before the window closed) may come just
    # after close(), so the bound is twice the timeout.
    bound = 2 * orphan_timeout + 5
    gone_after = None
    while time.monotonic() < closed_at + bound:
        time.sleep(0.5)
        if gone_after is None and (env.stats().get("tcp.orphans") or 0) == 0:
            gone_after = time.monotonic() - closed_at
    last = env.stats()
    server.kill()
    return {"n": n, "errors": errors, "orphans_after_close": first.get("tcp.orphans"),
            "orphans_after_bound": last.get("tcp.orphans"), "timed_out": last.get("tcp.orphans_timed_out"),
            "connections_after_bound": last.get("tcp.connections"), "probes": last.get("tcp.persist_probes"),
            "timeout": orphan_timeout, "bound": bound, "gone_after": gone_after}
