#!/usr/bin/python3
"""tapstackd under systemd's protocols, without systemd: the test plays the
service manager.

Readiness (Type=notify): NOTIFY_SOCKET names a datagram socket the test
owns; READY=1 arrives only once the TAP is up and the API socket accepts,
with a one-line STATUS= (interface, address, streams) that follows the
stream count; WATCHDOG=1 arrives at half of WATCHDOG_USEC; SIGHUP is framed
by RELOADING=1 and READY=1; STOPPING=1 when SIGTERM begins the stop.

Socket activation (tapstackd.socket): listen_fds_exec.py binds the API
socket, passes it as descriptor 3 with LISTEN_FDS=1 and LISTEN_PID, and
execs the daemon, which serves that socket (same inode, mode untouched)
and leaves the file in place when it stops. A passed socket that does not
listen is a one-line start-up error."""
import os
import re
import select
import signal
import socket
import sys
import time

import harness

HERE = os.path.dirname(os.path.abspath(__file__))


class NotifyListener:
    """The service manager's end of NOTIFY_SOCKET."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.messages = []

    def next(self, timeout=5.0):
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return None
        m = self.sock.recv(4096).decode()
        self.messages.append((time.monotonic(), m))
        return m

    def wait_for(self, prefix, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.next(max(0.0, deadline - time.monotonic()))
            if m is not None and m.startswith(prefix):
                return m
        raise AssertionError(f"no {prefix!r} within {timeout}s; got {[m for _, m in self.messages]}")

    def close(self):
        self.sock.close()


def status_of(message):
    m = re.search(r"^STATUS=(.*)$", message, re.M)
    return m.group(1) if m else None


def api_accepts(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def test_ready_status_watchdog_reload_and_stopping_notifications():
    with harness.Daemon(start=False) as d:
        notify = NotifyListener(os.path.join(d.workdir, "notify"))
        d.extra_env = {"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"}
        d.wait_ping = False
        d.start()
        ready = notify.wait_for("READY=1")
        # At READY=1 the TAP is up and the API accepts.
        assert d._tap_up(), "READY=1 before the TAP was up"
        assert api_accepts(d.socket_path), "READY=1 before the API socket accepted"
        status = status_of(ready)
        assert status == f"{d.tap} 10.0.0.2/24 mtu 1500, api {d.socket_path}, 0 streams", status
        # Watchdog pings every 200 ms: at least 4 in one second, and not a flood.
        start = time.monotonic()
        pings = 0
        while time.monotonic() - start < 1.0:
            m = notify.next(0.5)
            pings += m == "WATCHDOG=1"
        assert 4 <= pings <= 8, f"{pings} WATCHDOG=1 in 1 s with WATCHDOG_USEC=400000"
        # A stream shows in STATUS= within the 1 s refresh.
        server, peer = d.open_stream(7)
        m = notify.wait_for("STATUS=", timeout=5)
        assert status_of(m).endswith(", 1 stream"), m
        # SIGHUP: RELOADING=1, then READY=1 again.
        d.proc.send_signal(signal.SIGHUP)
        notify.wait_for("RELOADING=1")
        again = notify.wait_for("READY=1")
        assert status_of(again).endswith(", 1 stream"), again
        peer.stdin.close()
        d.proc.send_signal(signal.SIGTERM)
        notify.wait_for("STOPPING=1")
        d.proc.wait(timeout=10)
        assert d.proc.returncode == 0
        notify.close()


def socket_activated_wrapper(d, *options):
    return [harness.PYTHON, os.path.join(HERE, "listen_fds_exec.py"), *options, d.socket_path]


def test_socket_activation_serves_the_passed_socket_and_leaves_its_file():
    with harness.Daemon(start=False) as d:
        d.wrapper = socket_activated_wrapper(d, "--mode", "0640")
        d.start()
        before = os.stat(d.socket_path)
        assert oct(before.st_mode & 0o777) == "0o640", "the daemon changed the socket unit's mode"
        log = d.log()
        assert "API: serving the socket systemd passed (LISTEN_FDS)" in log, log
        # The API works through it: a stream from the kernel's TCP to an
        # application on the passed socket.
        server, peer = d.open_stream(9)
        peer.stdin.write(b"via LISTEN_FDS\n")
        peer.stdin.flush()
        assert server.stdout.readline() == b"via LISTEN_FDS\n"
        after = os.stat(d.socket_path)
        assert (after.st_ino, after.st_dev) == (before.st_ino, before.st_dev), "the daemon bound its own socket"
        assert d.stop() == 0
        assert os.path.exists(d.socket_path), "the daemon removed the socket unit's file"


def test_a_passed_socket_that_does_not_listen_is_a_one_line_startup_error():
    with harness.Daemon(start=False, wait_ping=False) as d:
        wrapper = socket_activated_wrapper(d, "--not-listening")
        r = d.run([*wrapper, d.tapstackd, "--config", d.config_path], check=False, timeout=10)
        assert r.returncode == 1, r
        errors = [l for l in r.stderr.decode().splitlines() if re.search(r"\berror\b", l)]
        assert len(errors) == 1 and "LISTEN_FDS: descriptor 3 is not a listening Unix stream socket" in errors[0], \
            r.stderr.decode()


if __name__ == "__main__":
    harness.run_tests([
        test_ready_status_watchdog_reload_and_stopping_notifications,
        test_socket_activation_serves_the_passed_socket_and_leaves_its_file,
        test_a_passed_socket_that_does_not_listen_is_a_one_line_startup_error,
    ])
