#!/usr/bin/python3
"""Goodput with interface.offloads off and on (issue 5): one 256 MiB
transfer per run between the namespace's Linux TCP (nc) and the tapstack
CLI, each direction, 3 runs per cell; prints median, min and max in Gbit/s.

Not a test (no assertion about speed; in no Meson suite). Run as root with a
release build:
  /usr/bin/python3 tests/netns/offload/measure_goodput.py TAPSTACKD TAPSTACK [MiB] [RUNS]
Everything runs inside namespaces the harness creates and deletes.
"""
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "tcp"))
import harness  # noqa: E402
import tcp_util as u  # noqa: E402


def to_daemon(d, src, size, port):
    app = u.start_listen(d, port, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    t0 = time.monotonic()
    peer = d.popen(["nc", "-N", d.address, str(port)], stdin=open(src, "rb"), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    n = 0
    while True:
        b = app.stdout.read(1 << 20)
        if not b:
            break
        n += len(b)
    app.wait(timeout=60)
    t1 = time.monotonic()
    peer.wait(timeout=30)
    assert n == size, f"received {n} of {size} bytes"
    return t1 - t0


def from_daemon(d, src, size, port):
    app = u.start_listen(d, port, stdin=open(src, "rb"), stdout=subprocess.DEVNULL)
    t0 = time.monotonic()
    peer = d.popen(["nc", "-N", d.address, str(port)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                   stderr=subprocess.DEVNULL)
    n = 0
    while True:
        b = peer.stdout.read(1 << 20)
        if not b:
            break
        n += len(b)
    peer.wait(timeout=60)
    t1 = time.monotonic()
    app.wait(timeout=30)
    assert n == size, f"received {n} of {size} bytes"
    return t1 - t0


def main():
    size = (int(sys.argv[3]) if len(sys.argv) > 3 else 256) << 20
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    results = {}
    port = 30000
    for offloads in (False, True):
        with harness.Daemon(log_level="info", offloads=offloads) as d:
            src, _ = u.make_file(d, "send.bin", size)
            for name, fn in (("host -> daemon app", to_daemon), ("daemon app -> host", from_daemon)):
                for _ in range(runs):
                    port += 1
                    secs = fn(d, src, size, port)
                    results.setdefault((name, offloads), []).append(size * 8 / secs / 1e9)
            counters = d.counters()
            print({k: v for k, v in counters.items() if v and ("gso" in k or "tso" in k or "csum" in k)}, flush=True)
    print(f"| direction ({size >> 20} MiB, {runs} runs) | offloads off, Gbit/s | offloads on, Gbit/s | on/off |")
    print("|---|---|---|---|")
    for name in ("host -> daemon app", "daemon app -> host"):
        off, on = results[(name, False)], results[(name, True)]
        fmt = lambda v: f"{statistics.median(v):.2f} ({min(v):.2f}-{max(v):.2f})"  # noqa: E731
        print(f"| {name} | {fmt(off)} | {fmt(on)} | {statistics.median(on) / statistics.median(off):.2f} |")


if __name__ == "__main__":
    main()
