#!/usr/bin/python3
"""IPv6 echo through the whole path (TAP, virtqueues, Ethernet, Neighbour
Discovery, DAD, IPv6, reassembly, fragmentation, ICMPv6), driven by the
namespace's own `ping -6`, to the daemon's ULA address and to its link-local
address (`ping -6 -I tap0 fe80::...`), at 56, 1452 (the largest that fits
1500 unfragmented), 8000 (fragmented both ways) and 65000 bytes; and the
same with the shipped default configuration, unchanged but for the API
socket path.

ping compares every reply's payload with what it sent and reports "wrong
data byte" or "DUP!" otherwise; each check requires 0% loss and neither.
"""
import os
import re

import harness

MAC = "02:00:00:00:00:02"
LINK_LOCAL = "fe80::ff:fe00:2"  # modified EUI-64 of MAC
ADDRESS6 = "fd3e:dfa0:4efb:1::2/64"
HOST6 = "fd3e:dfa0:4efb:1::1/64"
DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "config",
                              "tapstack.yaml")


def ping6_ok(d, dest, count, size=None, pattern=None, interval=0.05, timeout=90):
    cmd = ["ping", "-6", "-n", "-c", str(count), "-W", "2", "-i", str(interval)]
    if dest.startswith("fe80:"):
        cmd += ["-I", d.tap]
    if size is not None:
        cmd += ["-s", str(size)]
    if pattern is not None:
        cmd += ["-p", pattern]
    out = d.run(cmd + [dest], timeout=timeout).stdout.decode()
    m = re.search(r"(\d+) packets transmitted, (\d+) received,.* (\d+(?:\.\d+)?)% packet loss", out)
    assert m, f"no ping summary:\n{out}"
    assert m.group(1) == m.group(2) == str(count) and float(m.group(3)) == 0, f"loss:\n{out}"
    assert "wrong data" not in out, f"payload mismatch:\n{out}"
    assert "DUP!" not in out, f"duplicate replies:\n{out}"
    return out


def daemon6(**kw):
    return harness.Daemon(mac=MAC, address6=ADDRESS6, host_address6=HOST6, **kw)


def test_ping6_ula_every_size():
    with daemon6() as d:
        d.wait_ping6()
        before = d.counters()
        for size, pattern in ((56, "a5"), (1452, "0123456789abcdef"), (8000, "ff"), (65000, "5a")):
            ping6_ok(d, d.address6, 3, size=size, pattern=pattern, interval=0.2)
        after = d.counters()
        delta = {k: after[k] - before.get(k, 0) for k in after}
        assert delta["icmp6.rx_echo_requests"] == 12, delta
        assert delta["icmp6.tx_echo_replies"] == 12, delta
        # 1452 + 8 + 40 = 1500 fits; 8000 and 65000 arrive in fragments and
        # leave in fragments of 1448 bytes: 6 and 45 of them.
        assert delta["ipv6.reasm_completed"] == 6, delta
        assert delta["ipv6.tx_fragments"] == 3 * 6 + 3 * 45, delta
        assert delta["ipv6.reasm_overlaps"] == 0 and delta["ipv6.reasm_timeouts"] == 0, delta


def test_ping6_link_local_every_size():
    with daemon6() as d:
        assert d.link_local6 == LINK_LOCAL, d.link_local6
        d.wait_ping6(LINK_LOCAL)
        for size in (56, 1452, 8000, 65000):
            ping6_ok(d, LINK_LOCAL, 3, size=size, interval=0.2)
        c = d.counters()
        assert c["nd.dad_completed"] == 2, c
        assert c["nd.dad_failed"] == 0, c


def test_200_pings6_at_10ms_no_loss():
    with daemon6() as d:
        d.wait_ping6()
        ping6_ok(d, d.address6, 200, interval=0.01)


def test_host_address6_is_usable_at_once_and_dad_runs_first():
    with daemon6(wait_ping=False) as d:
        # The host side's address skips DAD (nodad): never tentative.
        out = d.run(["ip", "-6", "-o", "address", "show", "dev", d.tap]).stdout.decode()
        line = [l for l in out.splitlines() if d.host_address6 in l]
        assert line and "tentative" not in line[0] and "nodad" in line[0], out
        log = d.wait_log(r"IPv6 address fd3e:dfa0:4efb:1::2 on tap0 is ready", timeout=10)
        assert log
        d.wait_ping6()


def test_host_with_ipv6_disabled_is_a_warning_and_ipv4_works():
    """A kernel side with IPv6 disabled (net.ipv6.conf.*.disable_ipv6=1) cannot
    take host_address6: the daemon says so, with the fix, and serves IPv4."""
    with daemon6(start=False) as d:
        d.run(["sysctl", "-q", "-w", "net.ipv6.conf.default.disable_ipv6=1"])
        d.start()  # waits for an IPv4 ping
        d.wait_log(r"host IPv6 address fd3e:dfa0:4efb:1::1/64 not configured: IPv6 is disabled on the device .*"
                   r"sysctl net.ipv6.conf.tap0.disable_ipv6=0", timeout=5)
        d.ping(count=3)
        assert d.alive()


def test_default_configuration_answers_ping_and_ping6():
    """The shipped config/tapstack.yaml (API socket moved into the test's
    directory, offloads as the run asks): both families answer."""
    class DefaultConfigDaemon(harness.Daemon):
        def config_text(self):
            with open(DEFAULT_CONFIG) as f:
                text = f.read()
            text = text.replace("socket: /run/tapstack/tapstack.sock", f"socket: {self.socket_path}")
            text = text.replace("  offloads: false", f"  offloads: {'true' if self.offloads else 'false'}")
            assert self.socket_path in text, "default config layout changed"
            return text

    with DefaultConfigDaemon(address="198.19.77.2/24", host_address="198.19.77.1/24") as d:
        d.ping(count=3)  # IPv4 as before
        d.wait_ping6("fd3e:dfa0:4efb:77::2")
        ping6_ok(d, "fd3e:dfa0:4efb:77::2", 3, size=8000)
        ping6_ok(d, "fe80::74:73ff:fe13:4d02", 3)


if __name__ == "__main__":
    harness.run_tests([
        test_ping6_ula_every_size,
        test_ping6_link_local_every_size,
        test_200_pings6_at_10ms_no_loss,
        test_host_address6_is_usable_at_once_and_dad_runs_first,
        test_host_with_ipv6_disabled_is_a_warning_and_ipv4_works,
        test_default_configuration_answers_ping_and_ping6,
    ])
