#!/usr/bin/python3
"""ARP (RFC 826) against the kernel's arping: requests for our address are
answered with our MAC, requests for another address are not, and the
gratuitous announcement went out at start-up."""
import re

import harness

MAC = "02:00:00:00:00:02"


def test_arping_answered_with_our_mac():
    with harness.Daemon(mac=MAC) as d:
        before = d.counters()
        r = d.run(["arping", "-c", "3", "-w", "10", "-I", d.tap, d.address], timeout=20, check=False)
        out = r.stdout.decode()
        assert r.returncode == 0, out
        assert re.search(r"Received 3 response\(s\)", out), out
        replies = re.findall(r"reply from (\S+) \[([0-9a-fA-F:]+)\]", out)
        assert len(replies) == 3 and all(ip == d.address and mac.lower() == MAC for ip, mac in replies), out
        after = d.counters()
        assert after["arp.tx_replies"] - before["arp.tx_replies"] == 3, (before, after)


def test_arping_for_another_address_unanswered():
    with harness.Daemon(mac=MAC) as d:
        before = d.counters()
        r = d.run(["arping", "-c", "2", "-w", "3", "-I", d.tap, "10.0.0.77"], timeout=20, check=False)
        out = r.stdout.decode()
        assert r.returncode != 0 and re.search(r"Received 0 response", out), out
        after = d.counters()
        assert after["arp.tx_replies"] == before["arp.tx_replies"]
        assert after["arp.rx_not_for_us"] - before["arp.rx_not_for_us"] == 2, (before, after)


def test_gratuitous_arp_at_start():
    with harness.Daemon(mac=MAC, wait_ping=False) as d:
        c = d.counters()
        assert c["arp.tx_announcements"] >= 1, c


if __name__ == "__main__":
    harness.run_tests([
        test_arping_answered_with_our_mac,
        test_arping_for_another_address_unanswered,
        test_gratuitous_arp_at_start,
    ])
