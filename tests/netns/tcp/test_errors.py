#!/usr/bin/python3
"""Every way a connection can fail gives its own clear one-line error and
exit status from the tapstack CLI (see `tapstack --help`):

  refused (no listener on the host)                      exit 4
  reset by the peer (host RSTs, either role)             exit 5
  timed out: SYNs dropped by nftables (TCP's own retries
             and the API's timeout=), and a peer that
             vanishes mid-stream (retransmissions)       exit 6
  unreachable: an address in the subnet nobody answers   exit 7
  in use: a second LISTEN on a held port                 exit 8

and an application that vanishes mid-stream (SIGKILL) makes the daemon
reset the connection toward the peer and free its state.
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import tcp_util as u  # noqa: E402

EXIT_REFUSED, EXIT_RESET, EXIT_TIMED_OUT, EXIT_UNREACHABLE, EXIT_IN_USE = 4, 5, 6, 7, 8


def cli_run(d, *args, timeout=30, stdin=subprocess.DEVNULL):
    r = subprocess.run(u.cli(d, *args), stdin=stdin, capture_output=True, timeout=timeout)
    return r.returncode, r.stderr.decode(errors="replace")


def expect_error(rc, err, code, text):
    assert rc == code, f"exit {rc}, expected {code}; stderr: {err!r}"
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one error line, got {err!r}"
    assert lines[0].startswith("tapstack: ") and text in lines[0], f"unexpected error line {lines[0]!r}"


def test_connect_to_a_closed_port_is_refused():
    with harness.Daemon(log_level="info", extra_yaml=u.FAST_TCP_YAML) as d:
        rc, err = cli_run(d, "connect", d.host_address, 7001)
        expect_error(rc, err, EXIT_REFUSED, f"connect {d.host_address}:7001: connection refused")
        u.wait_quiet(d)


def test_connect_to_a_silent_address_in_the_subnet_is_unreachable():
    # Default TCP timers: ARP gives up (about 3 s) long before the SYN
    # retries would (about two minutes), so the answer is "unreachable".
    with harness.Daemon(log_level="info") as d:
        t0 = time.monotonic()
        rc, err = cli_run(d, "connect", "10.0.0.77", 80, timeout=60)
        expect_error(rc, err, EXIT_UNREACHABLE, "connect 10.0.0.77:80: host unreachable")
        assert time.monotonic() - t0 < 30
        u.wait_quiet(d)


def drop_syns_to(d, port):
    d.run(["nft", "add", "table", "inet", "tstest"])
    d.run(["nft", "add", "chain", "inet", "tstest", "input",
           "{ type filter hook input priority 0 ; policy accept ; }"])
    d.run(["nft", "add", "rule", "inet", "tstest", "input", "tcp", "dport", str(port), "drop"])


def test_connect_whose_syns_are_dropped_times_out():
    with harness.Daemon(log_level="info", extra_yaml=u.FAST_TCP_YAML) as d:
        drop_syns_to(d, 7002)
        srv = d.popen(["nc", "-l", d.host_address, "7002"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        u.wait_host_listening(d, 7002)
        # TCP's own SYN retries (max_syn_retransmits: 3, RTO from 200 ms).
        rc, err = cli_run(d, "connect", d.host_address, 7002, timeout=60)
        expect_error(rc, err, EXIT_TIMED_OUT, f"connect {d.host_address}:7002: connection timed out")
        # The API's own bound (CONNECT ... timeout=1) gives the same answer.
        t0 = time.monotonic()
        rc, err = cli_run(d, "connect", "-w", "1", d.host_address, 7002, timeout=60)
        expect_error(rc, err, EXIT_TIMED_OUT, "connection timed out")
        assert time.monotonic() - t0 < 10
        srv.kill()
        u.wait_quiet(d)


RST_SERVER = r'''
import socket, struct, sys
host, port = sys.argv[1], int(sys.argv[2])
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((host, port)); ls.listen(1)
print("ready", flush=True)
c, _ = ls.accept()
c.settimeout(20)
got = c.recv(100)   # the client's first bytes prove the stream is up
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()           # linger 0: RST
print("reset sent", len(got), flush=True)
'''

RST_CLIENT = r'''
import socket, struct, sys, time
host, port = sys.argv[1], int(sys.argv[2])
c = socket.create_connection((host, port), timeout=20)
c.sendall(b"hello")
time.sleep(0.5)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()
print("reset sent", flush=True)
'''


def test_peer_reset_is_reported_as_reset_when_the_daemon_connected():
    with harness.Daemon(log_level="info", extra_yaml=u.FAST_TCP_YAML) as d:
        srv = d.popen([u.PYTHON, "-c", RST_SERVER, d.host_address, "7003"], stdout=subprocess.PIPE)
        assert srv.stdout.readline().strip() == b"ready"
        # stdin stays open (a pipe nobody writes after "hi"): only the reset ends it.
        app = d.popen(u.cli(d, "connect", d.host_address, 7003), stdin=subprocess.PIPE,
                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        app.stdin.write(b"hi\n")
        app.stdin.flush()
        rc, err = u.finish(app, 20, "tapstack connect")
        expect_error(rc, err, EXIT_RESET, f"connect {d.host_address}:7003: connection reset by peer")
        srv.wait(timeout=5)
        u.wait_quiet(d)


def test_peer_reset_is_reported_as_reset_when_the_host_connected():
    with harness.Daemon(log_level="info", extra_yaml=u.FAST_TCP_YAML) as d:
        app = u.start_listen(d, 7004, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
        d.run([u.PYTHON, "-c", RST_CLIENT, d.address, "7004"], timeout=20)
        rc, err = u.finish(app, 20, "tapstack listen")
        assert rc == EXIT_RESET, f"exit {rc}: {err!r}"
        assert "tapstack: listen 7004: connection reset by peer" in err, err
        u.wait_quiet(d)


def test_second_listen_on_a_held_port_is_in_use():
    with harness.Daemon(log_level="info", extra_yaml=u.FAST_TCP_YAML) as d:
        holder = u.start_listen(d, 7005, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
        rc, err = cli_run(d, "listen", 7005)
        expect_error(rc, err, EXIT_IN_USE, "listen 7005: address already in use")
        holder.kill()
        holder.wait()
        u.wait_quiet(d)


def test_peer_that_vanishes_mid_stream_times_out_with_its_own_error():
    """The host stops answering (nftables drops everything from the daemon)
    while the daemon side is sending: retransmissions run out and the CLI
    says 'connection timed out' (exit 6), not a clean EOF."""
    with harness.Daemon(log_level="info", extra_yaml=u.FAST_TCP_YAML) as d:
        srv = d.popen(["nc", "-l", d.host_address, "7006"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        u.wait_host_listening(d, 7006)
        app = d.popen(u.cli(d, "connect", d.host_address, 7006), stdin=subprocess.PIPE,
                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        app.stdin.write(b"x" * 100000)
        app.stdin.flush()
        time.sleep(0.5)
        d.run(["nft", "add", "table", "inet", "tstest"])
        d.run(["nft", "add", "chain", "inet", "tstest", "input",
               "{ type filter hook input priority 0 ; policy accept ; }"])
        d.run(["nft", "add", "rule", "inet", "tstest", "input", "ip", "saddr", d.address, "drop"])
        app.stdin.write(b"y" * 100000)  # unacknowledged data keeps the retransmission timer going
        app.stdin.flush()
        rc, err = u.finish(app, 60, "tapstack connect")
        expect_error(rc, err, EXIT_TIMED_OUT, f"connect {d.host_address}:7006: connection timed out")
        srv.kill()
        u.wait_quiet(d)


SENDER = r'''
import socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
c = socket.create_connection((host, port), timeout=30)
chunk = b"z" * 65536
sent = 0
deadline = time.monotonic() + 30
try:
    while time.monotonic() < deadline:
        c.sendall(chunk)
        sent += len(chunk)
    print("no reset", sent, flush=True)
except (ConnectionResetError, BrokenPipeError) as e:
    print("reset", sent, flush=True)
'''


def test_application_killed_mid_stream_resets_the_peer_and_frees_state():
    with harness.Daemon(log_level="info", extra_yaml=u.FAST_TCP_YAML) as d:
        app = u.start_listen(d, 7007, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        sender = d.popen([u.PYTHON, "-c", SENDER, d.address, "7007"], stdout=subprocess.PIPE)
        got = app.stdout.read(1 << 20)  # the stream is flowing
        assert len(got) == 1 << 20
        app.send_signal(signal.SIGKILL)
        app.wait()
        out, _ = sender.communicate(timeout=40)
        assert out.startswith(b"reset"), f"the peer saw no RST: {out!r}"
        u.wait_quiet(d)
        s = u.stats(d)
        assert s["api.app_vanished"] + s["api.streams_failed"] >= 1, s


def test_daemon_stopping_mid_stream_resets_the_peer_and_the_cli_says_so():
    d = harness.Daemon(log_level="info", extra_yaml=u.FAST_TCP_YAML)
    with d:
        srv = d.popen([u.PYTHON, "-c", SENDER_SERVER, d.host_address, "7008"], stdout=subprocess.PIPE)
        assert srv.stdout.readline().strip() == b"ready"
        out_path = os.path.join(d.workdir, "flow.bin")
        app = d.popen(u.cli(d, "connect", d.host_address, 7008), stdin=subprocess.PIPE,
                      stdout=open(out_path, "wb"), stderr=subprocess.PIPE)
        u.wait_for(lambda: os.path.getsize(out_path) >= 256 * 1024, 10, "the stream to flow")
        assert d.stop(timeout=10) == 0, "tapstackd did not stop cleanly"
        out, _ = srv.communicate(timeout=20)
        assert out.strip().startswith(b"reset"), f"the peer saw no RST: {out!r}"
        rc, err = u.finish(app, 10, "tapstack connect")
        assert rc == 3, f"exit {rc}: {err!r}"
        assert "lost tapstackd" in err, err


SENDER_SERVER = r'''
import socket, sys, time
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((sys.argv[1], int(sys.argv[2]))); ls.listen(1)
print("ready", flush=True)
c, _ = ls.accept()
c.settimeout(15)
try:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        c.sendall(b"s" * 65536)
    print("no reset", flush=True)
except (ConnectionResetError, BrokenPipeError):
    print("reset", flush=True)
except socket.timeout:
    print("stalled", flush=True)
'''


if __name__ == "__main__":
    harness.run_tests([
        test_connect_to_a_closed_port_is_refused,
        test_connect_to_a_silent_address_in_the_subnet_is_unreachable,
        test_connect_whose_syns_are_dropped_times_out,
        test_peer_reset_is_reported_as_reset_when_the_daemon_connected,
        test_peer_reset_is_reported_as_reset_when_the_host_connected,
        test_second_listen_on_a_held_port_is_in_use,
        test_peer_that_vanishes_mid_stream_times_out_with_its_own_error,
        test_application_killed_mid_stream_resets_the_peer_and_frees_state,
        test_daemon_stopping_mid_stream_resets_the_peer_and_the_cli_says_so,
    ])
