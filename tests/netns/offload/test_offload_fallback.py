#!/usr/bin/python3
"""Fast by default, and still working where the TAP cannot do offloads.

* A TAP an administrator made without `vnet_hdr` (`ip tuntap add ... mode
  tap`): Linux lets whoever attaches choose IFF_VNET_HDR, so the daemon
  attaches with its header and offloads on; the kernel refuses nothing and
  nothing is logged as a warning. Transfers both ways are exact and TSO
  super-segments are sent.
* A kernel that refuses TUNSETOFFLOAD, or TUNSETVNETHDRSZ (an old kernel;
  the refusal made with a seccomp filter, tests/netns/offload/
  refuse_ioctl.cpp): exactly one warning line says so, the daemon runs
  without offloads (no GSO or TSO frame either way), and transfers both
  ways are exact.

Usage: test_offload_fallback.py [TAPSTACKD TAPSTACK]
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tcp"))
import harness  # noqa: E402
import tcp_util as u  # noqa: E402
import test_seed_matrix as matrix  # noqa: E402

SIZE = 4 << 20


def refuse_ioctl():
    path = os.environ.get("REFUSE_IOCTL")
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError(f"refuse_ioctl not found (REFUSE_IOCTL={path!r})")
    return path


def warnings(d):
    return [line for line in d.log().splitlines() if " warning: " in line]


def transfers_both_ways_are_exact(d):
    src, sha = u.make_file(d, "send.bin", SIZE)
    ports = matrix.Ports(22000)
    for name, fn in (matrix.COMBINATIONS[0], matrix.COMBINATIONS[3]):
        got = fn(d, SIZE, src, sha, ports.take())
        assert got == (sha, SIZE), f"{name}: not exact"
    u.wait_quiet(d, timeout=20)
    return d.counters()


def test_a_tap_made_without_vnet_hdr_gets_offloads_and_no_warning():
    with harness.Daemon(start=False, offloads=True, log_level="info", extra_yaml=u.FAST_TCP_YAML) as d:
        d.run(["ip", "tuntap", "add", "dev", d.tap, "mode", "tap"])
        assert "vnet_hdr off" in d.run(["ip", "-d", "link", "show", d.tap]).stdout.decode()
        d.start()
        d.wait_log(r"offloads on \(receive: checksum \+ TSO4, transmit: TSO4\)", timeout=10)
        stats = transfers_both_ways_are_exact(d)
        assert "(attached)" in d.log(), "the daemon created its own TAP"
        assert warnings(d) == [], warnings(d)
        assert stats["ipv4.tx_tso_frames"] > 0 and stats["tap.offload_refused"] == 0, stats


def fallback(request, expect):
    with harness.Daemon(offloads=True, log_level="info", extra_yaml=u.FAST_TCP_YAML,
                        wrapper=[refuse_ioctl(), request, "--"]) as d:
        stats = transfers_both_ways_are_exact(d)
        found = warnings(d)
        print("\n".join(found), flush=True)
        assert len(found) == 1, f"{len(found)} warning lines, expected one: {found}"
        assert request in found[0] and expect in found[0], found[0]
        assert "offloads on" not in d.log(), "offloads claimed on after a refusal"
        assert stats["tap.offload_refused"] == 1, stats
        for name in ("ipv4.tx_tso_frames", "ipv4.rx_gso_frames", "tap.rx_gso_frames", "tap.tx_gso_frames",
                     "tap.rx_bad_vnet_hdr", "tap.tx_errors"):
            assert stats[name] == 0, (name, stats[name])


def test_a_kernel_refusing_tunsetoffload_is_one_warning_and_runs_without_offloads():
    fallback("TUNSETOFFLOAD", "running without offloads")


def test_a_kernel_refusing_tunsetvnethdrsz_is_one_warning_and_runs_on_the_10_byte_header():
    fallback("TUNSETVNETHDRSZ", "10-byte header, running without offloads")


if __name__ == "__main__":
    harness.run_tests([
        test_a_tap_made_without_vnet_hdr_gets_offloads_and_no_warning,
        test_a_kernel_refusing_tunsetoffload_is_one_warning_and_runs_without_offloads,
        test_a_kernel_refusing_tunsetvnethdrsz_is_one_warning_and_runs_on_the_10_byte_header,
    ])
