#!/usr/bin/python3
"""Hostile-peer figures of tapstackd (README "Hostile peers"): the share of
real clients that connect during a SYN flood, the orphans left after
tcp.orphan_timeout against peers that hold a zero window forever, and the
daemon's resident memory under an out-of-order flood across many
connections. Not a test: it prints figures (the bounds are asserted by the
netns tests conformance_syn_flood and conformance_memory_budget and the sim
tests in tests/sim/tcp/test_orphans.cpp).

Run as root from the repository root; it builds release binaries unless
given them, and everything runs in network namespaces it creates and
deletes (tests/netns/harness.py through the conformance Env):

    /usr/bin/python3 tests/bench/hostile.py [--out hostile.md]

Scenarios (tests/netns/conformance/hostile_load.py does the work):
  * SYN flood: --flood-rate SYN/s for --flood-seconds from random ports and
    spoofed addresses at a listener an application serves, backlog 64, while
    216 kernel clients connect (16 queued just before the flood, the rest
    during it; every 5th and the early ones slow: their first final ACK is
    dropped by nftables and they wait 1.5 s to send); each must exchange
    1000 bytes and their SHA-256 exactly;
  * orphans: --orphans streams from the daemon to a kernel server that
    never reads; each application writes 200,000 bytes and closes (an orphan
    stuck in persist, its probes answered); orphans counted 2 x
    tcp.orphan_timeout (--orphan-timeout) + 5 s after the last close (a
    timeout without progress; the last ACK of data sent before the window
    closed may restart it once);
  * out-of-order flood: --ooo-conns connections from a scripted peer, each
    sent 64,000 bytes of out-of-order data behind a one-byte hole, with
    tcp.memory_max --memory-max; VmHWM over the baseline with the
    connections open.
"""
import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [HERE, os.path.join(ROOT, "tests", "netns", "conformance"), os.path.join(ROOT, "tests", "netns")]

import release_build  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tapstackd", help="tapstackd binary (default: build a release one)")
    p.add_argument("--build-dir", default="/tmp/tapstack-bench-release", help="release build directory")
    p.add_argument("--flood-rate", type=int, default=20000, help="SYNs per second (default %(default)s)")
    p.add_argument("--flood-seconds", type=float, default=5.0)
    p.add_argument("--orphans", type=int, default=500)
    p.add_argument("--orphan-timeout", type=int, default=10, help="tcp.orphan_timeout, seconds")
    p.add_argument("--ooo-conns", type=int, default=1000)
    p.add_argument("--memory-max", default="16MiB", help="tcp.memory_max for the out-of-order flood")
    p.add_argument("--out", default="hostile.md", help="file for the markdown table (default %(default)s)")
    a = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("hostile.py needs root (network namespaces, TAP devices)")
    tapstackd = a.tapstackd or release_build.build(a.build_dir, ["daemon/tapstackd"])[0]
    os.environ["TAPSTACKD"] = tapstackd
    os.environ.pop("MALLOC_PERTURB_", None)

    from conformance import LISTEN_PORT, Env
    import hostile_load as h

    rows = []
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load = os.getloadavg()[0]

    env = Env(extra_yaml="tcp:\n  backlog: 64\n")
    try:
        f = h.flood_with_clients(env, a.flood_rate, a.flood_seconds, 8)
    finally:
        env.close()
    st = f["stats"]
    rows.append(("SYN flood: real clients that completed an exact exchange",
                 f"{f['ok']}/{f['total']} ({100.0 * f['ok'] / f['total']:.1f}%)",
                 f"{f['flood']['sent']} SYNs in {f['flood']['elapsed']:.1f} s ({f['flood']['rate']:.0f}/s); "
                 f"{f['slow']} slow clients, {f['early_ok']}/{f['early']} queued before the flood completed; "
                 f"cookies sent {st.get('tcp.syncookies_sent')}, accepted {st.get('tcp.syncookies_accepted')}; "
                 f"VmRSS {f['rss_before']} -> {f['rss_peak']} KiB"))
    print(rows[-1], flush=True)

    env = Env(extra_yaml=f"tcp:\n  orphan_timeout: {a.orphan_timeout}s\n")
    try:
        o = h.orphan_figures(env, a.orphans, a.orphan_timeout)
    finally:
        env.close()
    gone = f"all gone {o['gone_after']:.1f} s after closing" if o["gone_after"] is not None else "not all gone"
    rows.append((f"orphans facing a permanent zero window, left {o['bound']} s after closing "
                 f"(tcp.orphan_timeout {a.orphan_timeout}s)",
                 f"{o['orphans_after_bound']} of {o['orphans_after_close']}",
                 f"{gone}; {o['timed_out']} reset by the timeout, {o['probes']} zero-window probes answered "
                 f"meanwhile; tcp.connections {o['connections_after_bound']}; {len(o['errors'])} stream errors"))
    print(rows[-1], flush=True)

    env = Env(extra_yaml=f"tcp:\n  backlog: 2048\n  memory_max: {a.memory_max}\n")
    try:
        opened = h.open_connections(env, a.ooo_conns, LISTEN_PORT)
        time.sleep(0.5)
        baseline = h.rss_kib(env.daemon.pid)
        segments = h.ooo_flood(env, opened, 64000, LISTEN_PORT)
        time.sleep(0.5)
        peak = h.hwm_kib(env.daemon.pid)
        st = env.stats()
    finally:
        env.close()
    rows.append((f"out-of-order flood, {len(opened)} connections x 64,000 bytes behind a hole "
                 f"(tcp.memory_max {a.memory_max})",
                 f"VmHWM +{(peak - baseline) / 1024:.1f} MiB over {baseline / 1024:.1f} MiB",
                 f"{segments} segments ({len(opened) * 64000 / 2**20:.0f} MiB offered); tcp.memory_bytes "
                 f"{st.get('tcp.memory_bytes')}; pressure entered {st.get('tcp.memory_pressure_entered')} times, "
                 f"{st.get('tcp.memory_ooo_pruned_bytes')} out-of-order bytes pruned"))
    print(rows[-1], flush=True)

    with open(a.out, "w") as out:
        out.write("| figure | result | details |\n|---|---|---|\n")
        for r in rows:
            out.write(f"| {r[0]} | {r[1]} | {r[2]} |\n")
        out.write(f"\nRun {started} (load {load:.1f} at the start), tapstackd {tapstackd}.\n")
    print(open(a.out).read())


if __name__ == "__main__":
    main()
