#!/usr/bin/python3
"""Out-of-order flood across many connections against the real tapstackd
(CONFORMANCE.md "Hostile peers", tcp.memory_max).

1,000 connections from the scripted peer, each then sent ~64 KB of
out-of-order data behind a one-byte hole (hostile_load.ooo_flood), against a
16 MiB budget: without one that would pin ~61 MiB. The daemon's peak
resident memory (VmHWM) may grow over its resident memory with the 1,000
connections open (the baseline) by at most the budget plus 4 MiB (allocator
and bookkeeping); the stack's own account (tcp.memory_bytes) stays within
the budget and the pressure counters show the out-of-order data was pruned
or refused. Then the daemon must keep serving: a 4 MiB transfer from the
namespace's Linux (`nc`) reaches the application exactly (SHA-256), and
nothing acknowledged is lost.
"""
import hashlib
import os
import subprocess
import time

from conformance import LISTEN_PORT, Env, Suite, expect
from hostile_load import hwm_kib, ooo_flood, open_connections, rss_kib

BUDGET_MIB = 16
CONNS = 1000
BYTES_PER_CONN = 64000
SLACK_KIB = 4 * 1024

# `meson test` sets MALLOC_PERTURB_, which makes glibc fill every new
# allocation: each buffer ring would be resident in full from its first
# byte, and VmHWM would measure the perturbation rather than the daemon.
os.environ.pop("MALLOC_PERTURB_", None)

suite = Suite("conformance_memory_budget",
              lambda: Env(extra_yaml=f"tcp:\n  backlog: 2048\n  memory_max: {BUDGET_MIB}MiB\n"))


def transfer(env, port, size):
    """nc in the namespace sends `size` random bytes to an application
    ACCEPTing on `port`; returns (sent digest, received digest, detail)."""
    d = env.daemon
    payload = os.urandom(size)
    path = os.path.join(d.workdir, "payload.bin")
    with open(path, "wb") as f:
        f.write(payload)
    holder = env.listen(port)
    app = env.api(f"ACCEPT {port} timeout=30")
    nc = d.popen(["sh", "-c", f"nc -N -w 20 {d.address} {port} < {path}"], stdout=subprocess.PIPE,
                 stderr=subprocess.PIPE)
    reply = app.wait_reply(30)
    data = app.read_until_eof(60) if reply and reply.startswith("OK") else b""
    app.shutdown_write()
    try:
        rc = nc.wait(20)
    except subprocess.TimeoutExpired:
        nc.kill()
        rc = "killed"
    app.close()
    holder.close()
    return (hashlib.sha256(payload).hexdigest(), hashlib.sha256(data).hexdigest(),
            f"reply {reply!r}, {len(data)} of {size} bytes, eof={app.eof}, nc exit {rc}")


def ooo_flood_figures(env, conns=CONNS, bytes_per_conn=BYTES_PER_CONN):
    """Opens the connections, measures the baseline, floods; the figures."""
    d = env.daemon
    opened = open_connections(env, conns, LISTEN_PORT)
    time.sleep(0.5)
    baseline = rss_kib(d.pid)
    started = time.monotonic()
    segments = ooo_flood(env, opened, bytes_per_conn, LISTEN_PORT)
    elapsed = time.monotonic() - started
    time.sleep(0.5)
    return {"opened": len(opened), "segments": segments, "elapsed": elapsed, "baseline": baseline,
            "peak": hwm_kib(d.pid), "stats": env.stats(), "offered": len(opened) * bytes_per_conn}


@suite.check("Out-of-order data behind a hole on 1,000 connections stays within tcp.memory_max (VmHWM); "
             "the daemon still serves an exact transfer")
def ooo_flood_within_budget(env):
    d = env.daemon
    f = ooo_flood_figures(env)
    stats = f["stats"]
    budget_kib = BUDGET_MIB * 1024
    growth = f["peak"] - f["baseline"]
    print(f"  info: {f['opened']} connections, {f['segments']} out-of-order segments ({f['offered'] >> 20} MiB "
          f"offered) in {f['elapsed']:.1f}s; VmRSS baseline {f['baseline']} KiB, peak (VmHWM) {f['peak']} KiB, "
          f"growth {growth} KiB, budget {budget_kib} KiB; tcp.memory_bytes={stats.get('tcp.memory_bytes')}, "
          f"pressure entered {stats.get('tcp.memory_pressure_entered')}, pruned "
          f"{stats.get('tcp.memory_ooo_pruned')} conns / {stats.get('tcp.memory_ooo_pruned_bytes')} bytes, "
          f"ooo dropped {stats.get('tcp.memory_ooo_dropped')}")
    expect(d.alive(), "tapstackd still running", "it exited")
    expect(f["opened"] == CONNS, f"{CONNS} handshakes complete", f"{f['opened']}")
    expect(growth <= budget_kib + SLACK_KIB, f"VmHWM growth <= budget {budget_kib} KiB + {SLACK_KIB} KiB",
           f"{growth} KiB")
    expect((stats.get("tcp.memory_bytes") or 0) <= budget_kib * 1024, "tcp.memory_bytes within the budget",
           f"{stats.get('tcp.memory_bytes')}")
    expect((stats.get("tcp.memory_pressure_entered") or 0) >= 1 and
           (stats.get("tcp.memory_ooo_pruned_bytes") or 0) + (stats.get("tcp.memory_ooo_dropped") or 0) > 0,
           "the budget bit: out-of-order data pruned or refused",
           {k: v for k, v in stats.items() if k.startswith("tcp.memory")})
    sent, got, detail = transfer(env, 8, 4 << 20)
    expect(sent == got, "a 4 MiB transfer after the flood reaches the application exactly", detail)


if __name__ == "__main__":
    suite.run()
