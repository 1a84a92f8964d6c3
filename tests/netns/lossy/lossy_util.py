"""Helpers for the lossy-link tests (tests/netns/lossy) and the goodput
benchmark (tests/bench/goodput.py).

Theory of operation
-------------------
A link is made hostile in one of two ways, both inside the test's own
namespace:

* Random loss with nftables, `numgen random mod 1000 < N`, on the kernel
  side of the link (the TAP, or a veth end), in both directions:
  - toward the kernel: an `input` hook rule in table inet `tapstack_loss`
    drops what the daemon (or the far namespace) sent;
  - from the kernel: NOT an `output` hook `drop`. A packet dropped there is
    reported to the local TCP as a failed send (-EPERM), so Linux keeps the
    segment queued and sends it again moments later: the peer never sees a
    loss (measured: 723 such drops of a 20 MB veth transfer, 0 TCP
    retransmissions). Instead an `egress` hook on the device (table netdev
    `tapstack_loss_egress`) diverts the chosen packets with `fwd` to a veth
    pair that is down, where they vanish after the local TCP was told they
    left: a real loss on the wire (the same 5% gives ~1200 retransmissions).
  The kernel side also gets `gso_max_segs 1`, so every packet a hook sees
  is one wire frame (otherwise the egress hook sees 64 KiB GSO bursts and
  one "loss" takes dozens of frames).
  Each rule carries a counter so a test can prove that loss really happened
  (a lossy test that saw no loss proves nothing). The loss pattern comes
  from the kernel's PRNG and is not reproducible; the counters say how much
  was lost.
* The daemon's own fault-injection stage (drivers/fault_injector.hpp),
  configured by the `fault_injection:` section of the YAML file: seeded
  and reproducible; `tapstack stats` shows its counters (fault.*).

The seed-matrix transfers themselves are the TCP tests' own functions
(tests/netns/tcp/test_seed_matrix.py), imported, not copied; only the time
they may take grows with the loss rate (`seed.timeout_for` is replaced).
"""

import json
import os
import subprocess
import sys
import time

_here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(_here), "tcp"))
sys.path.insert(0, os.path.dirname(_here))

import harness  # noqa: E402
import tcp_util as u  # noqa: E402
import test_seed_matrix as seed  # noqa: E402

TABLE = "tapstack_loss"

# TCP timers for lossy runs: a short TIME-WAIT (so wait_quiet is quick) and
# a short RTO floor like the TCP tests, but enough retransmissions that a
# 5% loss rate in each direction cannot plausibly exhaust them (a segment
# and its ACK lost 16 times in a row): an abort here is a stack failure,
# not an artefact of the test's configuration.
LOSSY_TCP_YAML = """tcp:
  initial_rto: 200ms
  min_rto: 100ms
  max_rto: 2s
  max_retransmits: 16
  max_syn_retransmits: 8
  msl: 500ms
"""


SINK = "tsloss0"       # veth pair, kept down: where diverted packets vanish
SINK_PEER = "tsloss1"


def loss_ruleset(iface, permille, family="ipv4"):
    """nft script: drop `permille`/1000 of the IPv4 packets arriving on
    `iface` and, silently for the local TCP, of those leaving by it. With
    family="ipv6", of the IPv6 TCP packets (Neighbour Discovery is left
    alone: the loss is TCP's to recover, not the link's to break)."""
    if not 0 <= permille <= 1000:
        raise ValueError(f"loss {permille} per mille is not within 0..1000")
    if family == "ipv6":
        return (f"table inet {TABLE} {{\n"
                f"  chain input {{\n"
                f"    type filter hook input priority 0; policy accept;\n"
                f"    iifname \"{iface}\" meta nfproto ipv6 meta l4proto tcp numgen random mod 1000 < {permille} "
                f"counter drop\n"
                f"  }}\n"
                f"}}\n"
                f"table netdev {TABLE}_egress {{\n"
                f"  chain egress {{\n"
                f"    type filter hook egress device \"{iface}\" priority 0; policy accept;\n"
                f"    meta protocol ip6 ip6 nexthdr tcp numgen random mod 1000 < {permille} counter fwd to \"{SINK}\"\n"
                f"  }}\n"
                f"}}\n")
    return (f"table inet {TABLE} {{\n"
            f"  chain input {{\n"
            f"    type filter hook input priority 0; policy accept;\n"
            f"    iifname \"{iface}\" meta nfproto ipv4 numgen random mod 1000 < {permille} counter drop\n"
            f"  }}\n"
            f"}}\n"
            f"table netdev {TABLE}_egress {{\n"
            f"  chain egress {{\n"
            f"    type filter hook egress device \"{iface}\" priority 0; policy accept;\n"
            f"    meta protocol ip numgen random mod 1000 < {permille} counter fwd to \"{SINK}\"\n"
            f"  }}\n"
            f"}}\n")


def ns_run(ns, cmd, timeout=10, input=None):
    r = subprocess.run(["ip", "netns", "exec", ns, *cmd], input=input, timeout=timeout,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} in {ns} exited {r.returncode}: "
                           f"{r.stderr.decode(errors='replace')}")
    return r.stdout.decode(errors="replace")


def one_frame_per_packet(ns, iface):
    """No GSO bursts on `iface`: each packet the hooks see is one frame."""
    ns_run(ns, ["ip", "link", "set", "dev", iface, "gso_max_segs", "1"])


def apply_loss(ns, iface, permille, per_frame=True, family="ipv4"):
    """Installs (or replaces) the loss rules for `iface` in namespace `ns`;
    per_frame=False leaves GSO alone (a "packet" may then be a burst);
    family="ipv6" drops IPv6 TCP packets instead of IPv4 ones."""
    remove_loss(ns)
    if per_frame:
        one_frame_per_packet(ns, iface)
    if permille <= 0:
        return
    r = subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "show", "dev", SINK],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
    if r.returncode != 0:
        ns_run(ns, ["ip", "link", "add", SINK, "type", "veth", "peer", "name", SINK_PEER])
    ns_run(ns, ["nft", "-f", "-"], input=loss_ruleset(iface, permille, family).encode())


def remove_loss(ns):
    for family, name in (("inet", TABLE), ("netdev", TABLE + "_egress")):
        subprocess.run(["ip", "netns", "exec", ns, "nft", "delete", "table", family, name],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)


def loss_counters(ns):
    """{'to_kernel': packets dropped, 'from_kernel': packets dropped} by the
    loss rules in `ns` (zeros when there are none)."""
    out = {"to_kernel": 0, "from_kernel": 0}
    for family, name, key in (("inet", TABLE, "to_kernel"), ("netdev", TABLE + "_egress", "from_kernel")):
        r = subprocess.run(["ip", "netns", "exec", ns, "nft", "-j", "list", "table", family, name],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=10)
        if r.returncode != 0:
            continue
        for item in json.loads(r.stdout).get("nftables", []):
            for expr in item.get("rule", {}).get("expr", []):
                if "counter" in expr:
                    out[key] += int(expr["counter"]["packets"])
    return out


def fault_yaml(seed_value, rx=None, tx=None):
    """The `fault_injection:` section: enabled, the seed, and per direction
    a mapping of keys (drop, duplicate, reorder, corrupt, delay, ...)."""
    lines = ["fault_injection:", "  enabled: true", f"  seed: {seed_value}"]
    for name, keys in (("rx", rx), ("tx", tx)):
        if keys:
            lines.append(f"  {name}:")
            lines += [f"    {k}: {v}" for k, v in keys.items()]
    return "\n".join(lines) + "\n"


def lossy_timeout(size, loss_permille):
    """Seconds a transfer of `size` bytes may take: generous (correctness,
    not speed), with room for RTO backoff on the small transfers."""
    mib = size / (1 << 20)
    return int(60 + mib * (2 + loss_permille / 5))


def interesting_stats(d):
    """The daemon's counters that explain a stalled or failed transfer."""
    try:
        s = u.stats(d)
    except Exception as e:  # the daemon may be the problem
        return f"(tapstack stats failed: {e})"
    keys = ("tcp.connections", "api.streams", "tcp.retransmissions", "tcp.rto_expiries",
            "tcp.fast_retransmits", "tcp.sack_recoveries", "tcp.sack_retransmits", "tcp.rx_out_of_order",
            "tcp.rx_ooo_dropped", "tcp.rx_duplicate_segments", "tcp.rx_dup_acks", "tcp.conn_timed_out",
            "tcp.conn_reset", "tcp.conn_aborted", "tcp.resets_sent", "tcp.persist_probes")
    picked = {k: v for k, v in s.items() if k in keys}
    try:  # the TAP port's counters (fault.*) are only in the SIGUSR1 line
        picked.update({k: v for k, v in d.counters().items() if k.startswith("fault.") and v})
    except Exception:
        pass
    return " ".join(f"{k}={v}" for k, v in sorted(picked.items()))


def run_transfers(d, sizes, combinations, loss_permille, label, port_base=20000):
    """Runs every size in every combination (seed-matrix functions) on
    daemon `d`; returns a list of failure descriptions (empty: all exact)."""
    seed.timeout_for = lambda size: lossy_timeout(size, loss_permille)
    ports = seed.Ports(port_base)
    failures = []
    for size in sizes:
        src, sha = u.make_file(d, "send.bin", size)
        for name, fn in combinations:
            what = f"[{label}] {size} bytes, {name}"
            t0 = time.monotonic()
            try:
                got_sha, got_len = fn(d, size, src, sha, ports.take())
                assert got_len == size, f"received {got_len} bytes, sent {size}"
                assert got_sha == sha, "SHA-256 differs"
                print(f"ok   {what} ({time.monotonic() - t0:.1f}s)", flush=True)
            except Exception as e:  # keep going: report the whole matrix
                detail = f"{what}: {e}\n    daemon: {interesting_stats(d)}\n    nft drops: {loss_counters(d.ns)}"
                failures.append(detail)
                print(f"FAIL {detail}", flush=True)
        os.unlink(src)
    return failures
