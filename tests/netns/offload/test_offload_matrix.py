#!/usr/bin/python3
"""virtio-net offloads on (interface.offloads: true, issue 5): a subset of
the seed matrix in all four combinations of who connects and which way the
data flows, SHA-256 exact, plus ping of three sizes. The namespace's Linux
TCP then hands the daemon GSO super-frames with partial checksums, and the
daemon sends TSO super-segments that the kernel cuts; the counters at the
end must show both happened, so the test cannot pass with offloads
silently off. A second test runs with the fault-injection stage on.

Usage: test_offload_matrix.py [TAPSTACKD TAPSTACK] [SIZE...]
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tcp"))
import harness  # noqa: E402
import tcp_util as u  # noqa: E402
import test_seed_matrix as matrix  # noqa: E402

SIZES = [0, 1, 1461, 65537, 1 << 20, 16 << 20]


class OffloadDaemon(harness.Daemon):
    """harness.Daemon with `offloads: true` whatever TAPSTACK_TEST_OFFLOADS says."""

    def __init__(self, *args, **kwargs):
        kwargs["offloads"] = True
        super().__init__(*args, **kwargs)


def test_offloads_seed_matrix_subset_and_ping():
    sizes = [int(a) for a in sys.argv[3:]] or SIZES
    failures = []
    with OffloadDaemon(log_level="info", extra_yaml=u.FAST_TCP_YAML) as d:
        d.wait_log(r"offloads on \(receive: checksum \+ TSO4", timeout=10)
        for size in (56, 1472, 8000):
            d.ping(count=2, size=size, interval=0.2)
        ports = matrix.Ports(21000)
        for size in sizes:
            src, sha = u.make_file(d, "send.bin", size)
            for name, fn in matrix.COMBINATIONS:
                label = f"{size} bytes, {name}"
                try:
                    got_sha, got_len = fn(d, size, src, sha, ports.take())
                    assert got_len == size, f"received {got_len} bytes, sent {size}"
                    assert got_sha == sha, "SHA-256 differs"
                    print(f"ok   {label}", flush=True)
                except Exception as e:  # keep going: report the whole matrix
                    failures.append(f"{label}: {e}")
                    print(f"FAIL {label}: {e}", flush=True)
        u.wait_quiet(d, timeout=20)
        stats = d.counters()
        print({k: v for k, v in stats.items() if "gso" in k or "tso" in k or "csum" in k or "offload" in k},
              flush=True)
    assert not failures, f"{len(failures)} of {len(sizes) * 4} transfers failed:\n" + "\n".join(failures)
    if max(sizes) >= 1 << 20:
        assert stats.get("ipv4.rx_gso_frames", 0) > 0, "no GSO super-frame was received"
        assert stats.get("ipv4.tx_tso_frames", 0) > 0, "no TSO super-segment was sent"
        assert stats.get("ipv4.rx_csum_offloaded", 0) > 0, "no partial checksum was taken"
        assert stats.get("ipv4.rx_bad_offload", 0) == 0, "frames with unusable offload metadata"
        assert stats.get("tcp.rx_bad_checksum", 0) == 0, "TCP checksum failures"


# Loss and corruption both ways (seeded): with the fault stage on, received
# super-frames get their checksums completed before the stage may corrupt
# them, and TSO is off (the kernel would checksum a corrupted frame), so a
# corrupted bit must still be caught by the stack's checksum checks.
FAULTS_YAML = """fault_injection:
  enabled: true
  seed: 7
  rx:
    drop: 1
    corrupt: 0.5
  tx:
    drop: 1
    corrupt: 0.5
"""


def test_offloads_with_fault_injection_corruption_is_still_caught():
    failures = []
    with OffloadDaemon(log_level="info", extra_yaml=u.FAST_TCP_YAML + FAULTS_YAML) as d:
        d.wait_log(r"offloads on \(receive: checksum \+ TSO4, transmit: off under fault injection\)", timeout=10)
        ports = matrix.Ports(22000)
        for size in (65537, 1 << 20):
            src, sha = u.make_file(d, "send.bin", size)
            for name, fn in matrix.COMBINATIONS:
                label = f"{size} bytes, {name}"
                try:
                    got_sha, got_len = fn(d, size, src, sha, ports.take())
                    assert got_len == size, f"received {got_len} bytes, sent {size}"
                    assert got_sha == sha, "SHA-256 differs"
                    print(f"ok   {label}", flush=True)
                except Exception as e:
                    failures.append(f"{label}: {e}")
                    print(f"FAIL {label}: {e}", flush=True)
        u.wait_quiet(d, timeout=20)
        stats = d.counters()
    assert not failures, "\n".join(failures)
    assert stats.get("tap.rx_gso_frames", 0) > 0, "no GSO super-frame was received"
    assert stats.get("ipv4.tx_tso_frames", 0) == 0, "TSO was used under fault injection"
    if stats.get("fault.rx_corrupted", 0) + stats.get("fault.tx_corrupted", 0) > 0:
        caught = stats.get("tcp.rx_bad_checksum", 0) + stats.get("ipv4.rx_bad_checksum", 0)
        assert caught > 0, "frames were corrupted but no checksum check caught one"


if __name__ == "__main__":
    harness.run_tests([test_offloads_seed_matrix_subset_and_ping,
                       test_offloads_with_fault_injection_corruption_is_still_caught])
