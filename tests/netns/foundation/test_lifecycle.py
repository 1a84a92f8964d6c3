#!/usr/bin/python3
"""tapstackd's life cycle on a real TAP: clean stop on SIGTERM/SIGINT (exit
0, socket removed, TAP gone), SIGHUP re-reads the file (tests/netns/tcp/
test_reload.py has the changes), SIGUSR1 counters, one-line
start-up failures with exit status 1, and running unprivileged on a TAP an
administrator created (the least-privilege setup the README describes)."""
import os
import re
import signal
import subprocess
import time

import harness


def tap_exists(d, name=None):
    r = d.run(["ip", "link", "show", "dev", name or d.tap], check=False)
    return r.returncode == 0


def test_sigterm_stops_cleanly_and_removes_socket_and_tap():
    with harness.Daemon() as d:
        assert os.path.exists(d.socket_path)
        assert d.stop() == 0
        assert not os.path.exists(d.socket_path), "API socket left behind"
        assert not tap_exists(d), "non-persistent TAP left behind"
        log = d.log()
        assert "SIGTERM: stopping" in log and "tapstackd stopped" in log, log


def test_sigterm_with_live_streams_resets_them_and_exits_0():
    with harness.Daemon() as d:
        unix = f"UNIX-CONNECT:{d.socket_path}"
        holder = d.popen(["socat", "-", unix], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        holder.stdin.write(b"LISTEN 7\n")
        holder.stdin.flush()
        assert holder.stdout.readline().startswith(b"OK "), "LISTEN refused"
        server = d.popen(["socat", "-", unix], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        server.stdin.write(b"ACCEPT 7\n")
        server.stdin.flush()
        peer = d.popen(["nc", d.address, "7"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
        assert server.stdout.readline().startswith(b"OK "), "ACCEPT got no connection"
        peer.stdin.write(b"ping\n")
        peer.stdin.flush()
        assert server.stdout.readline() == b"ping\n"
        assert d.stop(timeout=10) == 0
        assert not os.path.exists(d.socket_path)
        # The TCP peer learns at once (RST), it does not wait for a timeout.
        peer.wait(timeout=5)
        holder.wait(timeout=5)
        server.wait(timeout=5)


def test_sigint_stops_cleanly():
    with harness.Daemon() as d:
        d.proc.send_signal(signal.SIGINT)
        d.proc.wait(timeout=10)
        assert d.proc.returncode == 0
        assert "SIGINT: stopping" in d.log()


def test_sighup_rereads_an_unchanged_file_and_changes_nothing():
    with harness.Daemon() as d:
        start = len(d.log())
        d.proc.send_signal(signal.SIGHUP)
        d.wait_log(r"SIGHUP: .*tapstack\.yaml: 0 key\(s\) change live, 0 need a restart", start=start)
        d.ping(count=2, interval=0.05)
        assert d.alive()


def test_sigusr1_logs_every_counter_on_one_line():
    with harness.Daemon() as d:
        c = d.counters()
        for name in ("tap.rx_frames", "tap.tx_frames", "eth.rx_frames", "arp.tx_replies", "ipv4.rx_bad_checksum",
                     "icmp.tx_echo_replies"):
            assert name in c, f"{name} missing from {sorted(c)}"
        d.ping(count=5, interval=0.05)
        c2 = d.counters()
        assert c2["icmp.tx_echo_replies"] - c["icmp.tx_echo_replies"] == 5
        assert c2["tap.rx_frames"] > c["tap.rx_frames"]


def one_error_line(output, pattern):
    lines = [l for l in output.splitlines() if l.strip()]
    errors = [l for l in lines if re.search(r"\b(error|critical)\b", l)]
    assert len(errors) == 1 and re.search(pattern, errors[0]), f"expected one error line /{pattern}/:\n{output}"


def test_tap_in_use_is_a_one_line_startup_failure():
    with harness.Daemon() as d:
        other = os.path.join(d.workdir, "other.yaml")
        with open(other, "w") as f:
            f.write(d.config_text().replace(d.socket_path, os.path.join(d.workdir, "other.sock")))
        r = d.run([d.tapstackd, "--config", other], check=False, timeout=10)
        assert r.returncode == 1, r
        one_error_line(r.stderr.decode(), rf"cannot open the TAP device: {d.tap}\b")
        d.ping(count=1)  # the first daemon is unharmed


def test_api_socket_failure_is_a_one_line_startup_failure():
    with harness.Daemon(start=False) as d:
        blocker = os.path.join(d.workdir, "not-a-directory")
        open(blocker, "w").close()
        with open(d.config_path, "w") as f:
            f.write(d.config_text().replace(d.socket_path, os.path.join(blocker, "api.sock")))
        r = d.run([d.tapstackd, "--config", d.config_path], check=False, timeout=10)
        assert r.returncode == 1, r
        one_error_line(r.stderr.decode(), r"cannot start the API on .*not-a-directory/api\.sock: ")
        assert not tap_exists(d), "TAP left behind after a failed start"


def test_tap_deleted_under_the_daemon_stops_it_with_one_error():
    with harness.Daemon() as d:
        d.expect_exit_status = 1
        d.run(["ip", "link", "delete", d.tap])
        d.proc.wait(timeout=10)
        assert d.proc.returncode == 1
        one_error_line(d.log(), rf"TAP device failed: {d.tap}: .*; stopping")


def test_unprivileged_daemon_on_a_tap_the_administrator_created():
    nobody = 65534
    wrapper = ["setpriv", f"--reuid={nobody}", f"--regid={nobody}", "--clear-groups"]
    if os.stat("/dev/net/tun").st_mode & 0o006 != 0o006:
        # Debian's udev makes /dev/net/tun 0666; some containers make it 0600.
        # Give the daemon a 0666 node in its own mount namespace (ip netns
        # exec makes one per command), leaving the machine's node alone.
        wrapper = ["sh", "-c", 'mknod -m 0666 "$0" c 10 200 && mount --bind "$0" /dev/net/tun && exec "$@"',
                   "TUNNODE"] + wrapper
    with harness.Daemon(start=False, host_address=None, wait_ping=False, wrapper=wrapper) as d:
        if "TUNNODE" in d.wrapper:
            d.wrapper[d.wrapper.index("TUNNODE")] = os.path.join(d.workdir, "tun")
        # What the README tells an administrator to do once.
        d.run(["ip", "tuntap", "add", "dev", d.tap, "mode", "tap", "user", str(nobody), "vnet_hdr"])
        d.run(["ip", "address", "add", "10.0.0.1/24", "dev", d.tap])
        d.run(["ip", "link", "set", d.tap, "up"])
        rundir = os.path.dirname(d.socket_path)
        os.makedirs(rundir)
        os.chown(rundir, nobody, nobody)
        d.start()
        d.ping(count=3, interval=0.05)
        status = open(f"/proc/{d.pid}/status").read()
        assert re.search(rf"^Uid:\s+{nobody}\s", status, re.M), status
        assert re.search(r"^CapEff:\s+0+$", status, re.M), status
        assert "(attached)" in d.log(), d.log()
        assert d.stop() == 0
        assert tap_exists(d), "the administrator's persistent TAP must survive the daemon"


if __name__ == "__main__":
    harness.run_tests([
        test_sigterm_stops_cleanly_and_removes_socket_and_tap,
        test_sigterm_with_live_streams_resets_them_and_exits_0,
        test_sigint_stops_cleanly,
        test_sighup_rereads_an_unchanged_file_and_changes_nothing,
        test_sigusr1_logs_every_counter_on_one_line,
        test_tap_in_use_is_a_one_line_startup_failure,
        test_api_socket_failure_is_a_one_line_startup_failure,
        test_tap_deleted_under_the_daemon_stops_it_with_one_error,
        test_unprivileged_daemon_on_a_tap_the_administrator_created,
    ])
