#!/usr/bin/python3
"""Path MTU discovery through a router with a smaller MTU (RFC 1191, RFC
5927, RFC 4821), against Linux at the far end.

Three namespaces (harness.Namespace, harness.veth):

    tapstack --TAP 1500-- R --veth 1280-- M --veth 1500-- P (Linux peer)
    10.0.0.2     10.0.0.1 | 10.1.0.1  10.1.0.2 | 10.2.0.1   10.2.0.2

R (the daemon's namespace, its gateway) and M forward. Both ends see a
1500-byte first hop and agree on MSS 1460; full-sized segments do not fit
the R-M link. Each way the routers either send ICMP "fragmentation
needed" (RFC 1191), or drop it in their output hook (nftables): a black
hole, which only packetization-layer probing gets through (tapstack's
tcp.mtu_probing, on-blackhole by default; Linux's tcp_mtu_probing=1 in P,
off by default there, so the peer can send too).

In both cases the seed matrix's four transfers (who connects, which way the
data flows), 2 MiB each, must finish with SHA-256 equal, and the daemon's
counters must show which mechanism did it.

Usage: test_pmtu.py [TAPSTACKD TAPSTACK]
"""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "tcp"))
import harness  # noqa: E402
import tcp_util as u  # noqa: E402
import test_seed_matrix as matrix  # noqa: E402

SIZE = 2 << 20
NARROW_MTU = 1280

BLOCK_FRAG_NEEDED = """table inet tapstack_pmtu {
  chain output {
    type filter hook output priority 0; policy accept;
    icmp type destination-unreachable icmp code frag-needed counter drop
  }
}
"""


def routed(d, m, p):
    """The three-namespace path above: addresses, routes, forwarding."""
    harness.veth(d.ns, "r1", "10.1.0.1/24", m.ns, "m1", "10.1.0.2/24", mtu=NARROW_MTU)
    harness.veth(m.ns, "m2", "10.2.0.1/24", p.ns, "p1", "10.2.0.2/24", mtu=1500)
    d.run(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
    m.sysctl("net.ipv4.ip_forward", 1)
    d.run(["ip", "route", "add", "10.2.0.0/24", "via", "10.1.0.2"])
    m.run(["ip", "route", "add", "10.0.0.0/24", "via", "10.1.0.1"])
    p.run(["ip", "route", "add", "default", "via", "10.2.0.1"])
    p.run(["ping", "-c", "1", "-W", "2", d.address])  # the path works for small datagrams


def nft_drops(run):
    out = run(["nft", "list", "table", "inet", "tapstack_pmtu"]).stdout.decode()
    for line in out.splitlines():
        if "frag-needed" in line and "packets" in line:
            return int(line.split("packets")[1].split()[0])
    raise AssertionError(f"no counter in:\n{out}")


def four_transfers(far, port_base, label):
    src, sha = u.make_file(far.daemon, "send.bin", SIZE)
    ports = matrix.Ports(port_base)
    # Data from the daemon first: once Linux has learnt the path MTU toward
    # the daemon (from an ICMP or its own probing) it advertises an MSS that
    # fits it, and the daemon's segments would never meet the narrow link.
    for name, fn in sorted(matrix.COMBINATIONS, key=lambda c: "from the daemon" not in c[0]):
        t0 = time.monotonic()
        got_sha, got_len = fn(far, SIZE, src, sha, ports.take())
        assert got_len == SIZE, f"[{label}] {name}: received {got_len} bytes, sent {SIZE}"
        assert got_sha == sha, f"[{label}] {name}: SHA-256 differs"
        print(f"ok   [{label}] {SIZE} bytes, {name} ({time.monotonic() - t0:.2f}s)", flush=True)
    os.unlink(src)


def run_case(black_hole, port_base):
    label = "ICMP dropped (black hole)" if black_hole else "ICMP fragmentation needed"
    with harness.Daemon(address="10.0.0.2/24", host_address="10.0.0.1/24", gateway="10.0.0.1",
                        log_level="info", extra_yaml=u.FAST_TCP_YAML) as d, \
            harness.Namespace("router M") as m, harness.Namespace("peer P") as p:
        routed(d, m, p)
        if black_hole:
            for run in (d.run, m.run):
                run(["nft", "-f", "-"], input=BLOCK_FRAG_NEEDED.encode())
            p.sysctl("net.ipv4.tcp_mtu_probing", 1)
        four_transfers(u.FarHost(d, p, "10.2.0.2"), port_base, label)
        u.wait_quiet(d, timeout=20)
        c = d.counters()
        print(f"[{label}] " + " ".join(f"{k}={v}" for k, v in sorted(c.items())
                                       if k.startswith(("tcp.pmtu", "tcp.icmp", "icmp.rx_errors"))), flush=True)
        if black_hole:
            dropped = nft_drops(d.run) + nft_drops(m.run)
            assert dropped > 0, "no ICMP fragmentation needed was dropped: the test proves nothing"
            assert c.get("tcp.pmtu_black_holes", 0) >= 1, c
            assert c.get("tcp.pmtu_lowered", 0) == 0, c
            assert c.get("tcp.pmtu_probes", 0) >= 1, c
        else:
            assert c.get("icmp.rx_errors_for_tcp", 0) >= 1, c
            assert c.get("tcp.pmtu_lowered", 0) >= 1, c
            assert c.get("tcp.pmtu_black_holes", 0) == 0, c
        assert c.get("ipv4.tx_df_too_big", 0) == 0, c


def test_router_mtu_1280_icmp_frag_needed_four_transfers_exact():
    run_case(black_hole=False, port_base=25000)


def test_router_mtu_1280_icmp_blocked_black_hole_four_transfers_exact():
    run_case(black_hole=True, port_base=26000)


if __name__ == "__main__":
    harness.run_tests([test_router_mtu_1280_icmp_frag_needed_four_transfers_exact,
                       test_router_mtu_1280_icmp_blocked_black_hole_four_transfers_exact])
