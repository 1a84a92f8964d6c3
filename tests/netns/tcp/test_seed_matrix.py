#!/usr/bin/python3
"""The seed matrix: every size in all four combinations of who connects and
which way the data flows, between the namespace's Linux TCP (nc) and a
daemon-side application (the tapstack CLI). The sender writes exactly N
bytes and closes at once; the receiver must get exactly N bytes (SHA-256
equal) and then EOF, and both ends must exit 0.

The sizes sit on the edges that broke the original stack: one byte around
the 536-byte default MSS, the 1460-byte Ethernet MSS, 54240 bytes (the tail
that was lost), 64 KiB (the unscaled window), 1 MiB and 64 MiB.

Usage: test_seed_matrix.py [TAPSTACKD TAPSTACK] [SIZE...]
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import tcp_util as u  # noqa: E402

SIZES = [0, 1, 535, 536, 1459, 1460, 1461, 54239, 54240, 54241, 65535, 65536, 65537,
         1 << 20, 64 << 20]


def timeout_for(size):
    return 30 + size // (1 << 20)  # generous: correctness, not speed


class Ports:
    def __init__(self, base):
        self.next = base

    def take(self):
        self.next += 1
        return self.next


def host_connects_data_to_daemon(d, size, src, sha, port):
    out = os.path.join(d.workdir, "recv.bin")
    app = u.start_listen(d, port, stdin=subprocess.DEVNULL, stdout=open(out, "wb"))
    peer = d.popen(["nc", "-N", d.address, str(port)], stdin=open(src, "rb"), stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)
    rc, err = u.finish(app, timeout_for(size), "tapstack listen")
    prc, perr = u.finish(peer, 10, "nc -N")
    assert rc == 0, f"tapstack listen exited {rc}: {err}"
    assert prc == 0, f"nc exited {prc}: {perr}"
    return u.sha256_file(out)


def host_connects_data_from_daemon(d, size, src, sha, port):
    out = os.path.join(d.workdir, "recv.bin")
    app = u.start_listen(d, port, stdin=open(src, "rb"), stdout=subprocess.DEVNULL)
    peer = d.popen(["nc", "-N", d.address, str(port)], stdin=subprocess.DEVNULL, stdout=open(out, "wb"),
                   stderr=subprocess.PIPE)
    prc, perr = u.finish(peer, timeout_for(size), "nc -N")
    rc, err = u.finish(app, 10, "tapstack listen")
    assert prc == 0, f"nc exited {prc}: {perr}"
    assert rc == 0, f"tapstack listen exited {rc}: {err}"
    return u.sha256_file(out)


def daemon_connects_data_to_daemon(d, size, src, sha, port):
    out = os.path.join(d.workdir, "recv.bin")
    # Not nc: nc stops sending once it reads EOF from the network, and the
    # CLI, whose stdin is empty, half-closes right after connecting. socat
    # -u only sends, then closes.
    listen = (f"TCP6-LISTEN:{port},bind=[{d.host_address}],reuseaddr" if ":" in d.host_address
              else f"TCP-LISTEN:{port},bind={d.host_address},reuseaddr")
    peer = d.popen(["socat", "-u", f"OPEN:{src}", listen],
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    u.wait_host_listening(d, port)
    app = d.popen(u.cli(d, "connect", d.host_address, port), stdin=subprocess.DEVNULL, stdout=open(out, "wb"),
                  stderr=subprocess.PIPE)
    rc, err = u.finish(app, timeout_for(size), "tapstack connect")
    prc, perr = u.finish(peer, 10, "socat -u ... TCP-LISTEN")
    assert rc == 0, f"tapstack connect exited {rc}: {err}"
    assert prc == 0, f"socat exited {prc}: {perr}"
    return u.sha256_file(out)


def daemon_connects_data_from_daemon(d, size, src, sha, port):
    out = os.path.join(d.workdir, "recv.bin")
    peer = d.popen(["nc", "-l", d.host_address, str(port)], stdin=subprocess.DEVNULL, stdout=open(out, "wb"),
                   stderr=subprocess.PIPE)
    u.wait_host_listening(d, port)
    app = d.popen(u.cli(d, "connect", d.host_address, port), stdin=open(src, "rb"), stdout=subprocess.DEVNULL,
                  stderr=subprocess.PIPE)
    prc, perr = u.finish(peer, timeout_for(size), "nc -l")
    rc, err = u.finish(app, 10, "tapstack connect")
    assert prc == 0, f"nc -l exited {prc}: {perr}"
    assert rc == 0, f"tapstack connect exited {rc}: {err}"
    return u.sha256_file(out)


COMBINATIONS = [
    ("host connects, data to the daemon side", host_connects_data_to_daemon),
    ("host connects, data from the daemon side", host_connects_data_from_daemon),
    ("daemon connects, data to the daemon side", daemon_connects_data_to_daemon),
    ("daemon connects, data from the daemon side", daemon_connects_data_from_daemon),
]


def run_matrix(sizes):
    failures = []
    with harness.Daemon(log_level="info", extra_yaml=u.FAST_TCP_YAML) as d:
        ports = Ports(20000)
        for size in sizes:
            src, sha = u.make_file(d, "send.bin", size)
            for name, fn in COMBINATIONS:
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
    assert not failures, f"{len(failures)} of {len(sizes) * 4} transfers failed:\n" + "\n".join(failures)


def test_seed_matrix_all_sizes_all_four_combinations():
    sizes = [int(a) for a in sys.argv[3:]] or SIZES
    run_matrix(sizes)


if __name__ == "__main__":
    harness.run_tests([test_seed_matrix_all_sizes_all_four_combinations])
