#!/usr/bin/python3
"""Metrics a monitoring system can read: `tapstack stats --prometheus` and
the API's `STATS format=prometheus` are parsed by Debian's
python3-prometheus-client (prometheus_client.parser), every figure of
`tapstack stats` is there under its tapstack_ name with HELP and TYPE
(counters with _total), values agree with `tapstack stats` for figures that
cannot move between the two reads, and tapstack_build_info and
tapstack_start_time_seconds describe the daemon. The SIGUSR1 counters line
carries the API server's figures too.

Usage: test_metrics.py [TAPSTACKD TAPSTACK]
"""
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tcp"))
import harness  # noqa: E402
import tcp_util as u  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

# Figures that do not move while the daemon is idle and nobody asks for
# anything but STATS (api.clients_accepted, for one, counts every STATS).
STABLE = ["icmp.rx_echo_requests", "icmp.tx_echo_replies", "tcp.conn_established", "tcp.conn_accepted",
          "api.accepts", "api.streams_orderly", "api.bytes_to_app", "api.bytes_to_tcp", "tcp.connections",
          "api.streams", "ipv4.rx_delivered"]


def prom_name(name, kind):
    base = "tapstack_" + re.sub(r"[^a-zA-Z0-9_:]", "_", name)
    return base + "_total" if kind == "counter" else base


def some_traffic(d):
    d.ping(count=3, interval=0.05)
    app = u.start_listen(d, 9100, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    d.run(["nc", "-N", d.address, "9100"], input=b"m" * 100000, timeout=20)
    rc, err = u.finish(app, 20, "tapstack listen")
    assert rc == 0, err
    u.wait_quiet(d, timeout=20)


def test_prometheus_exposition_parses_and_agrees_with_tapstack_stats():
    with harness.Daemon(extra_yaml=u.FAST_TCP_YAML) as d:
        some_traffic(d)
        before = time.time()
        stats = u.stats(d)
        r = subprocess.run(u.cli(d, "stats", "--prometheus"), capture_output=True, timeout=10)
        assert r.returncode == 0, r.stderr
        text = r.stdout.decode()
        families = {f.name: f for f in text_string_to_metric_families(text)}
        # The parser files counters under the name without _total.
        for name, value in stats.items():
            counter = families.get(prom_name(name, "counter")[:-len("_total")])
            gauge = families.get(prom_name(name, "gauge"))
            fam = counter if counter is not None and counter.type == "counter" else gauge
            assert fam is not None, f"{name} is missing from the exposition"
            assert fam.documentation, f"{name}: no HELP text"
            assert len(fam.samples) == 1, fam.samples
            sample = fam.samples[0]
            if fam.type == "counter":
                assert sample.name == prom_name(name, "counter"), sample.name
            else:
                assert fam.type == "gauge" and sample.name == prom_name(name, "gauge"), (fam.type, sample.name)
            if name in STABLE:
                assert sample.value == value, f"{name}: {sample.value} in the exposition, {value} in stats"
        for name in STABLE:
            assert name in stats, f"{name} is not a figure any more"
        assert stats["icmp.tx_echo_replies"] >= 3 and stats["tcp.conn_established"] >= 1, stats
        # Every HELP and TYPE line comes once, before its samples.
        lines = text.splitlines()
        assert len([l for l in lines if l.startswith("# TYPE ")]) == len(families), "a family without TYPE"
        assert len([l for l in lines if l.startswith("# HELP ")]) == len(families), "a family without HELP"
        # The daemon itself.
        version = subprocess.run([u.tapstack_path(), "--version"], capture_output=True, timeout=10)
        build = families["tapstack_build_info"]
        assert build.type == "gauge" and build.samples[0].value == 1, build
        assert build.samples[0].labels == {"version": version.stdout.decode().split()[1]}, build.samples
        start = families["tapstack_start_time_seconds"].samples[0].value
        assert before - 120 < start <= before + 1, (start, before)
        # The request itself, typed by hand.
        raw = u.api_exchange(d, b"STATS format=prometheus\n", send_eof=True).decode()
        assert raw.startswith("OK stats format=prometheus\n") and raw.endswith("\nEND\n"), raw[:80]
        body = raw[len("OK stats format=prometheus\n"):-len("END\n")]
        assert {f.name for f in text_string_to_metric_families(body)} == set(families), "the API and the CLI differ"


def test_sigusr1_line_carries_the_api_servers_figures():
    with harness.Daemon(extra_yaml=u.FAST_TCP_YAML) as d:
        some_traffic(d)
        stats = u.stats(d)
        line = d.counters()
        for name in ("api.clients", "api.streams", "api.listeners", "api.accepts", "api.bytes_to_tcp",
                     "api.streams_orderly", "capture.sessions", "capture.dropped", "tcp.connections"):
            assert name in line, f"{name} is not on the SIGUSR1 line"
        for name in ("api.accepts", "api.bytes_to_tcp", "api.streams_orderly"):
            assert line[name] == stats[name], (name, line[name], stats[name])
        assert line["api.bytes_to_tcp"] == 0 and line["api.bytes_to_app"] == 100000, line
        assert set(stats) == set(line), f"STATS and SIGUSR1 differ: {set(stats) ^ set(line)}"


if __name__ == "__main__":
    harness.run_tests([
        test_prometheus_exposition_parses_and_agrees_with_tapstack_stats,
        test_sigusr1_line_carries_the_api_servers_figures,
    ])
