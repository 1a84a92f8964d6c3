#!/usr/bin/python3
"""The seed matrix on a hostile link: every size of the TCP issue's seed
matrix up to 1 MiB, in all four combinations of who connects and which way
the data flows, with the link losing or reordering frames. The sender
writes exactly N bytes and closes at once; the receiver must get exactly N
bytes (SHA-256 equal) and then EOF, and both ends must exit 0 -- loss
recovery must never cost a byte, the tail least of all.

Modes (first argument):
  loss PERMILLE   nftables drops PERMILLE/1000 of the packets in and out of
                  the TAP's kernel side, a real loss both ways (how, and why
                  not an output-hook `drop`: tests/netns/lossy/lossy_util.py)
  reorder PCT     the daemon's fault-injection stage reorders PCT% of the
                  frames in each direction (seeded: $TAPSTACK_FAULT_SEED, or
                  a random seed printed at the start)
Then optionally --big: instead of the matrix, 64 MiB one way (`--big to`
or `--big from` the daemon side), with either side connecting; --ipv6:
every transfer over IPv6 (the loss rules then drop IPv6 TCP packets; loss 0
is the plain matrix over IPv6); and sizes to override the matrix's.

Usage: test_lossy_matrix.py loss 10
       test_lossy_matrix.py reorder 5
       test_lossy_matrix.py loss 10 --big to
       test_lossy_matrix.py loss 50 535 54240      (just these sizes)
       test_lossy_matrix.py loss 50 --ipv6
$TAPSTACKD and $TAPSTACK name the daemon and the CLI (meson sets them).
"""
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lossy_util as lu  # noqa: E402 (puts harness and tests/netns/tcp on the path)
import harness  # noqa: E402
import tcp_util as u  # noqa: E402
import test_seed_matrix as seed  # noqa: E402

MATRIX_SIZES = [0, 1, 535, 536, 1459, 1460, 1461, 54239, 54240, 54241, 65535, 65536, 65537, 1 << 20]
BIG = 64 << 20


def parse_args(argv):
    global IPV6
    IPV6 = "--ipv6" in argv
    argv = [a for a in argv if a != "--ipv6"]
    if len(argv) < 2 or argv[0] not in ("loss", "reorder"):
        sys.exit(__doc__)
    mode, amount = argv[0], int(argv[1])
    rest = argv[2:]
    big = None
    if rest[:1] == ["--big"]:
        big = rest[1]
        if big not in ("to", "from"):
            sys.exit("--big takes 'to' or 'from'")
        rest = rest[2:]
    sizes = [int(a) for a in rest]
    return mode, amount, big, sizes


IPV6 = False  # --ipv6: every transfer over IPv6 (and the loss rules drop IPv6 TCP)
ADDRESS6 = "fd3e:dfa0:4efb:1::2/64"
HOST_ADDRESS6 = "fd3e:dfa0:4efb:1::1/64"
MODE, AMOUNT, BIG_DIRECTION, SIZES_ARG = parse_args(sys.argv[1:])


def daemon_for(mode, amount):
    """The daemon, its config and a label for the messages."""
    yaml = lu.LOSSY_TCP_YAML
    label = f"{amount / 10:g}% loss" if mode == "loss" else f"{amount}% reordered"
    if mode == "reorder":
        fault_seed = int(os.environ.get("TAPSTACK_FAULT_SEED") or random.randrange(1, 1 << 32))
        print(f"fault-injection seed {fault_seed} (rerun with TAPSTACK_FAULT_SEED={fault_seed})", flush=True)
        # The stage's default depth (3 later frames overtake a reordered one)
        # and hold bound (10 ms when traffic stops).
        keys = {"reorder": amount}
        yaml += lu.fault_yaml(fault_seed, rx=keys, tx=keys)
        label += f", seed {fault_seed}"
    if IPV6:
        return harness.Daemon(log_level="info", extra_yaml=yaml, address6=ADDRESS6,
                              host_address6=HOST_ADDRESS6), label + ", IPv6"
    return harness.Daemon(log_level="info", extra_yaml=yaml), label


def check_hostility(d, before_stats):
    """The link really was hostile: nft dropped packets both ways, or the
    fault stage reordered frames both ways."""
    if MODE == "loss":
        drops = lu.loss_counters(d.ns)
        print(f"nft drops: {drops}", flush=True)
        assert drops["to_kernel"] > 0 and drops["from_kernel"] > 0, f"the loss rule dropped nothing one way: {drops}"
    else:
        # The fault stage's counters belong to the TAP port: they are in the
        # SIGUSR1 counters line, not in `tapstack stats`.
        s = d.counters()
        rx = s.get("fault.rx_reordered", 0) - before_stats.get("fault.rx_reordered", 0)
        tx = s.get("fault.tx_reordered", 0) - before_stats.get("fault.tx_reordered", 0)
        print(f"fault stage reordered rx={rx} tx={tx}", flush=True)
        assert rx > 0 and tx > 0, f"the fault stage reordered nothing one way (rx {rx}, tx {tx})"


def test_lossy_link():
    daemon, label = daemon_for(MODE, AMOUNT)
    loss = AMOUNT if MODE == "loss" else 0
    if BIG_DIRECTION == "to":
        sizes = SIZES_ARG or [BIG]
        combos = [c for c in seed.COMBINATIONS
                  if c[1] in (seed.host_connects_data_to_daemon, seed.daemon_connects_data_to_daemon)]
    elif BIG_DIRECTION == "from":
        sizes = SIZES_ARG or [BIG]
        combos = [c for c in seed.COMBINATIONS
                  if c[1] in (seed.host_connects_data_from_daemon, seed.daemon_connects_data_from_daemon)]
    else:
        sizes = SIZES_ARG or MATRIX_SIZES
        combos = seed.COMBINATIONS
    with daemon as d:
        before = d.counters() if MODE == "reorder" else {}
        lu.apply_loss(d.ns, d.tap, loss, family="ipv6" if IPV6 else "ipv4")
        if IPV6:
            d.wait_ping6()
        failures = lu.run_transfers(u.Ipv6View(d) if IPV6 else d, sizes, combos, loss, label)
        if MODE == "reorder" or loss > 0:  # loss 0: the clean-link matrix (over IPv6)
            check_hostility(d, before)
        lu.remove_loss(d.ns)
        try:
            u.wait_quiet(d, timeout=30)
        except AssertionError as e:
            failures.append(f"[{label}] after the transfers: {e}; daemon: {lu.interesting_stats(d)}")
        print(f"daemon: {lu.interesting_stats(d)}", flush=True)
    assert not failures, (f"{len(failures)} of {len(sizes) * len(combos)} transfers failed:\n"
                          + "\n".join(failures))


if __name__ == "__main__":
    what = (f"64 MiB {BIG_DIRECTION} the daemon side, either side connecting" if BIG_DIRECTION
            else "seed matrix, all four combinations")
    how = f"{AMOUNT / 10:g}% random loss both ways (nftables)" if MODE == "loss" else \
        f"{AMOUNT}% of frames reordered both ways (fault stage)"
    test_lossy_link.__name__ = f"{what}: exact bytes and EOF with {how}"
    harness.run_tests([test_lossy_link])
