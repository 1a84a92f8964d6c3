#!/usr/bin/python3
"""ICMP echo through the whole path (TAP, virtqueues, Ethernet, ARP, IPv4,
reassembly, fragmentation, ICMP), driven by the namespace's own ping.

ping compares every reply's payload with what it sent and reports "wrong
data byte" or "DUP!" otherwise; each check below requires 0% loss and
neither report, with several payload patterns (-p).
"""
import re

import harness

MAC = "02:00:00:00:00:02"


def ping_ok(d, count, size=None, interval=None, pattern=None, timeout=60):
    r = d.ping(count=count, size=size, interval=interval, pattern=pattern, timeout=timeout)
    out = r.stdout.decode()
    m = re.search(r"(\d+) packets transmitted, (\d+) received,.* (\d+(?:\.\d+)?)% packet loss", out)
    assert m, f"no ping summary:\n{out}"
    assert m.group(1) == m.group(2) == str(count) and float(m.group(3)) == 0, f"loss:\n{out}"
    assert "wrong data" not in out, f"payload mismatch:\n{out}"
    assert "DUP!" not in out, f"duplicate replies:\n{out}"
    return out


def test_200_pings_at_10ms_no_loss():
    with harness.Daemon(mac=MAC) as d:
        before = d.counters()
        ping_ok(d, 200, interval=0.01)
        after = d.counters()
        assert after["icmp.tx_echo_replies"] - before["icmp.tx_echo_replies"] == 200, (before, after)
        assert after["icmp.rx_echo_requests"] - before["icmp.rx_echo_requests"] == 200


def test_largest_unfragmented_echo_1472_identical_payload():
    with harness.Daemon(mac=MAC) as d:
        before = d.counters()
        for pattern in ("00", "ff", "a55a", "0123456789abcdeffedcba9876543210"):
            ping_ok(d, 3, size=1472, pattern=pattern, interval=0.05)
        after = d.counters()
        # 1472 + 8 + 20 = 1500: neither direction fragments.
        assert after["ipv4.reasm_fragments"] == before["ipv4.reasm_fragments"]
        assert after["ipv4.tx_fragments"] == before["ipv4.tx_fragments"]


def test_fragmented_echo_reassembled_and_answered_in_fragments():
    with harness.Daemon(mac=MAC) as d:
        before = d.counters()
        for pattern in ("00", "ff", "deadbeef", "0123456789abcdeffedcba9876543210"):
            ping_ok(d, 3, size=8000, pattern=pattern, interval=0.05)
        ping_ok(d, 3, size=1473, interval=0.05)   # the smallest echo that fragments
        after = d.counters()
        delta = {k: after[k] - before[k] for k in after}
        assert delta["ipv4.reasm_completed"] == 15, delta
        assert delta["icmp.tx_echo_replies"] == 15, delta
        # 8028 bytes of IP payload in 1480-byte pieces: 6 fragments each way.
        assert delta["ipv4.reasm_fragments"] >= 12 * 6 + 3 * 2, delta
        assert delta["ipv4.tx_fragments"] >= 12 * 6 + 3 * 2, delta


def test_largest_possible_echo_65507():
    with harness.Daemon(mac=MAC) as d:
        ping_ok(d, 2, size=65507, pattern="5a", interval=0.2)


def test_jumbo_mtu_9000_echo_8000_unfragmented():
    with harness.Daemon(mac=MAC, mtu=9000) as d:
        before = d.counters()
        ping_ok(d, 3, size=8000, pattern="c3", interval=0.05)
        after = d.counters()
        assert after["ipv4.reasm_fragments"] == before["ipv4.reasm_fragments"]
        assert after["ipv4.tx_fragments"] == before["ipv4.tx_fragments"]


if __name__ == "__main__":
    harness.run_tests([
        test_200_pings_at_10ms_no_loss,
        test_largest_unfragmented_echo_1472_identical_payload,
        test_fragmented_echo_reassembled_and_answered_in_fragments,
        test_largest_possible_echo_65507,
        test_jumbo_mtu_9000_echo_8000_unfragmented,
    ])
