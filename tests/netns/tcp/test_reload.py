#!/usr/bin/python3
"""SIGHUP reloads the configuration file while a transfer is in flight.

(a) An invalid file: every error is logged, the configuration is unchanged
    (a connection opened afterwards still has the old TCP settings).
(b) A valid file changing log.level, tcp.no_delay, tcp.receive_buffer and
    tcp.congestion_control, plus interface.name: the live keys apply (INFO
    of a connection opened afterwards shows nodelay, the new receive buffer
    and congestion control; SIGUSR1's info-level counters line is no longer
    logged at level "warning"), interface.name gets one warning and the TAP
    keeps its name, and the stream that was running keeps its own settings.
Both times the transfer completes byte for byte (SHA-256).
(c) api.max_clients and fault_injection.* apply at once: a client beyond
    the new limit is refused (those connected stay), and the new fault
    stage duplicates frames from the TAP."""
import os
import re
import signal
import socket
import subprocess
import time

import harness
import tcp_util as u

SIZE = 12 << 20

# Host-side sender, paced so the transfer spans both reloads (~5 s).
PACED_SENDER = r'''
import socket, sys, time
host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
c = socket.create_connection((host, port), timeout=60)
with open(path, "rb") as f:
    while True:
        chunk = f.read(128 * 1024)
        if not chunk:
            break
        c.sendall(chunk)
        time.sleep(0.05)
c.close()
print("sent", flush=True)
'''


def info(d, stream_id):
    r = subprocess.run(u.cli(d, "info", stream_id), capture_output=True, timeout=10)
    assert r.returncode == 0, r.stderr
    return dict(line.split(None, 1) for line in r.stdout.decode().splitlines() if line.strip())


def stream_ids(d):
    r = subprocess.run(u.cli(d, "connections"), capture_output=True, timeout=10)
    assert r.returncode == 0, r.stderr
    return [int(l.split()[0]) for l in r.stdout.decode().splitlines()[1:] if l.strip()]


def new_connection_info(d, port):
    """INFO of a connection accepted now (from the host's nc), then closed."""
    before = set(stream_ids(d))
    app = u.start_listen(d, port, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    peer = d.popen(["nc", "-N", d.address, str(port)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    ids = u.wait_for(lambda: set(stream_ids(d)) - before, 10, "the new stream")
    result = info(d, max(ids))
    peer.stdin.close()
    u.finish(app, 10, "tapstack listen")  # closes its stdin: both sides half-close
    peer.wait(timeout=10)
    return result


def test_sighup_during_a_transfer_invalid_file_then_live_and_restart_keys():
    with harness.Daemon(log_level="info") as d:
        src, sha = u.make_file(d, "reload.bin", SIZE)
        out_path = os.path.join(d.workdir, "received.bin")
        with open(out_path, "wb") as out:
            receiver = u.start_listen(d, 5001, stdin=subprocess.DEVNULL, stdout=out)
        sender = u.popen_python(d, PACED_SENDER, d.address, 5001, src)
        u.wait_for(lambda: os.path.getsize(out_path) > 0, 10, "the transfer to start")
        [running_id] = stream_ids(d)
        running_before = info(d, running_id)
        assert running_before["nodelay"] == "off" and running_before["cc"] == "cubic", running_before

        # (a) An invalid file: two errors, both logged; nothing changes.
        with open(d.config_path, "w") as f:
            f.write(d.config_text() + "tcp:\n  no_delay: maybe\n  receive_buffer: 3\n")
        start = len(d.log())
        d.proc.send_signal(signal.SIGHUP)
        d.wait_log(r"SIGHUP: .*: 2 error\(s\); the configuration is unchanged", start=start)
        log = d.log()[start:]
        assert re.search(r'error: .*tcp\.no_delay: "maybe" is not a boolean', log), log
        assert re.search(r'error: .*tcp\.receive_buffer: "3" is not a size', log), log
        unchanged = new_connection_info(d, 5002)
        assert unchanged["nodelay"] == "off" and unchanged["rcv_buffer"] == "262144", unchanged
        assert os.path.getsize(out_path) < SIZE, "the transfer ended before the second reload; pace it slower"

        # (b) Live keys and one restart key.
        text = d.config_text().replace(f"  name: {d.tap}\n", "  name: tap9\n").replace(
            "  level: info\n", "  level: warning\n")
        with open(d.config_path, "w") as f:
            f.write(text + "tcp:\n  no_delay: true\n  receive_buffer: 64KiB\n  congestion_control: newreno\n")
        start = len(d.log())
        d.proc.send_signal(signal.SIGHUP)
        d.wait_log(r"SIGHUP: .*: 4 key\(s\) change live, 1 need a restart", start=start)
        log = d.log()[start:]
        assert len(re.findall(r"warning: SIGHUP: interface\.name: \"tap0\" -> \"tap9\" needs a restart; "
                              r"keeping \"tap0\"", log)) == 1, log
        for key in ("log.level", "tcp.no_delay", "tcp.receive_buffer", "tcp.congestion_control"):
            assert f"SIGHUP: {key}: " in log, (key, log)
        fresh = new_connection_info(d, 5003)
        assert fresh["nodelay"] == "on", fresh
        assert fresh["rcv_buffer"] == "65536", fresh
        assert fresh["cc"] == "newreno", fresh
        running_after = info(d, running_id)
        assert running_after["nodelay"] == "off" and running_after["cc"] == "cubic", running_after
        assert d.run(["ip", "link", "show", "dev", "tap0"], check=False).returncode == 0, "the TAP changed"
        # log.level warning: SIGUSR1's info-level counters line is not logged.
        start = len(d.log())
        d.proc.send_signal(signal.SIGUSR1)
        time.sleep(1.0)
        assert "counters:" not in d.log()[start:], "log.level warning did not apply"

        sent, err = sender.communicate(timeout=60)
        assert sent.strip() == b"sent", err
        code, err = u.finish(receiver, 60, "tapstack listen")
        assert code == 0, err
        got_sha, got_size = u.sha256_file(out_path)
        assert got_size == SIZE and got_sha == sha, f"received {got_size} bytes, sha {'ok' if got_sha == sha else 'WRONG'}"
        assert d.alive()


def test_sighup_applies_api_limits_and_fault_injection_at_once():
    # Offloads pinned off: with them on, fault_injection.enabled needs a restart.
    with harness.Daemon(log_level="info", offloads=False) as d:
        assert not any(k.startswith("fault.") for k in d.counters()), "fault injection is off at start"
        idle = []
        for _ in range(3):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(d.socket_path)
            idle.append(s)
        assert u.api_exchange(d, b"STATS\n").startswith(b"OK stats"), "the default limit admits a 4th client"
        with open(d.config_path, "w") as f:
            f.write(d.config_text().replace(f"  socket: {d.socket_path}\n",
                                            f"  socket: {d.socket_path}\n  max_clients: 3\n") +
                    "fault_injection:\n  enabled: true\n  seed: 7\n  rx:\n    duplicate: 100\n")
        start = len(d.log())
        d.proc.send_signal(signal.SIGHUP)
        d.wait_log(r"SIGHUP: .*: 4 key\(s\) change live, 0 need a restart", start=start)
        # The three clients already connected stay; a fourth is refused.
        out = u.api_exchange(d, b"STATS\n")
        assert out.startswith(b"ERR no-resources "), out
        for s in idle:
            assert s.fileno() >= 0
            s.close()
        # Every frame from the TAP now arrives twice.
        d.ping(count=3, interval=0.05)
        c = d.counters()
        assert c.get("fault.rx_duplicated", 0) >= 3, {k: v for k, v in c.items() if k.startswith("fault.")}


if __name__ == "__main__":
    harness.run_tests([
        test_sighup_during_a_transfer_invalid_file_then_live_and_restart_keys,
        test_sighup_applies_api_limits_and_fault_injection_at_once,
    ])
