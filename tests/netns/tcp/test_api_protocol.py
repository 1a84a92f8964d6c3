#!/usr/bin/python3
"""The Unix-socket API as daemon/api/PROTOCOL.md documents it, spoken by
hand with socat and `nc -U` and by raw sockets:

* a CONNECT session typed into socat: OK line, then the same connection is
  the TCP stream both ways; LISTEN + ACCEPT by hand;
* STATUS tells an orderly end; STATS lists counters and ends with END;
* malformed, oversized and unknown request lines get `ERR bad-request` and
  a closed connection; a client that sends nothing is timed out; a client
  that dribbles its request byte by byte does not hold up anybody else;
* max_clients is enforced with `ERR no-resources`; ports below 1024 need
  root (`ERR permission` for others); ACCEPT timeout=N answers timed-out.
"""
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import tcp_util as u  # noqa: E402

OK_STREAM = re.compile(rb"^OK (\d+\.\d+\.\d+\.\d+):(\d+) (\d+\.\d+\.\d+\.\d+):(\d+) id=(\d+)\n")


def test_connect_typed_into_socat_becomes_the_tcp_stream_both_ways():
    with harness.Daemon(log_level="info", extra_yaml=u.FAST_TCP_YAML) as d:
        world = os.path.join(d.workdir, "world.txt")
        with open(world, "wb") as f:
            f.write(b"world\n")
        got = os.path.join(d.workdir, "host_got.txt")
        peer = d.popen(["nc", "-N", "-l", d.host_address, "9001"], stdin=open(world, "rb"),
                       stdout=open(got, "wb"))
        u.wait_host_listening(d, 9001)
        r = d.run(["socat", "-t", "5", "-", f"UNIX-CONNECT:{d.socket_path}"],
                  input=f"CONNECT {d.host_address} 9001\nhello\n".encode(), timeout=20)
        m = OK_STREAM.match(r.stdout)
        assert m, f"no OK line: {r.stdout!r}"
        assert m.group(1).decode() == d.address and m.group(3).decode() == d.host_address
        assert m.group(4) == b"9001"
        assert r.stdout[m.end():] == b"world\n", r.stdout
        peer.wait(timeout=10)
        assert open(got, "rb").read() == b"hello\n"
        # The outcome of that stream, asked by id afterwards.
        stream_id = int(m.group(5))
        st = u.api_exchange(d, f"STATUS {stream_id}\n".encode())
        assert st == f"OK id={stream_id} outcome=orderly state=closed\n".encode() or \
            st.startswith(f"OK id={stream_id} outcome=orderly ".encode()), st
        u.wait_quiet(d)


def test_listen_and_accept_by_hand_with_nc_and_socat():
    with harness.Daemon(log_level="info", extra_yaml=u.FAST_TCP_YAML) as d:
        holder = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        holder.connect(d.socket_path)
        holder.sendall(b"LISTEN 9002\n")
        holder.settimeout(5)
        assert holder.recv(100) == f"OK {d.address}:9002 listening\n".encode()
        # A SYN while nobody waits in ACCEPT is queued by the held listener.
        request = os.path.join(d.workdir, "from_host.txt")
        with open(request, "wb") as f:
            f.write(b"from host\n")
        hostc = d.popen(["nc", "-N", d.address, "9002"], stdin=open(request, "rb"), stdout=subprocess.PIPE)
        time.sleep(0.3)
        acc = d.popen(["socat", "-t", "5", "-", f"UNIX-CONNECT:{d.socket_path}"],
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        out, _ = acc.communicate(b"ACCEPT 9002\nfrom daemon side\n", timeout=20)
        m = OK_STREAM.match(out)
        assert m and m.group(2) == b"9002", out
        assert out[m.end():] == b"from host\n", out
        host_out, _ = hostc.communicate(timeout=10)
        assert host_out == b"from daemon side\n", host_out
        holder.close()
        u.wait_quiet(d)


def test_stats_over_nc_lists_counters_and_ends_with_end():
    with harness.Daemon(log_level="info") as d:
        r = d.run(["nc", "-N", "-U", d.socket_path], input=b"STATS\n", timeout=10)
        lines = r.stdout.decode().splitlines()
        assert lines[0] == "OK stats", lines[:3]
        assert lines[-1] == "END", lines[-3:]
        names = {}
        for line in lines[1:-1]:
            name, value = line.split(" ")
            names[name] = int(value)
        for name in ("tcp.connections", "api.clients", "api.streams", "api.listeners", "ipv4.rx_packets"):
            assert name in names, f"{name} missing from STATS"
        assert names["icmp.tx_echo_replies"] >= 1  # the harness's readiness ping


def expect_bad_request(d, request, what):
    out = u.api_exchange(d, request, timeout=15)
    assert out.startswith(b"ERR bad-request "), f"{what}: {out!r}"
    assert out.endswith(b"\n") and out.count(b"\n") == 1, f"{what}: not one line then close: {out!r}"
    return out


def test_bad_requests_get_err_bad_request_and_a_closed_connection():
    with harness.Daemon(log_level="info") as d:
        expect_bad_request(d, b"FETCH 10.0.0.1\n", "unknown verb")
        expect_bad_request(d, b"HELLO again\n", "HELLO takes nothing")
        expect_bad_request(d, b"CONNECT 10.0.0.1\n", "missing port")
        expect_bad_request(d, b"CONNECT 10.0.0.300 80\n", "bad address")
        expect_bad_request(d, b"CONNECT 10.0.0.1 80 now\n", "extra field")
        expect_bad_request(d, b"LISTEN 0\n", "port 0")
        expect_bad_request(d, b"STATUS x\n", "bad id")
        expect_bad_request(d, b"\x00\x01\x02\n", "binary")
        expect_bad_request(d, b"\n", "empty line")
        out = expect_bad_request(d, b"A" * 5000, "oversized, no newline")
        assert b"longer than 512" in out, out
        expect_bad_request(d, b"CONNECT 10.0.0.1 80 " + b"x" * 600 + b"\n", "oversized line")
        # STATUS of an id nobody had is not-found, not bad-request.
        assert u.api_exchange(d, b"STATUS 999\n").startswith(b"ERR not-found ")
        s = u.stats(d)
        assert s["api.bad_requests"] >= 10, s
        assert d.alive()


def test_silent_client_is_timed_out_and_a_slow_one_blocks_nobody():
    with u.ApiDaemon(log_level="info", api_options={"request_timeout": "3s"}) as d:
        silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        silent.connect(d.socket_path)
        dribbler = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        dribbler.connect(d.socket_path)
        dribble_out = []

        def dribble():
            for b in b"STATS\n":
                dribbler.sendall(bytes([b]))
                time.sleep(0.3)
            dribbler.settimeout(10)
            data = b""
            while not data.endswith(b"END\n"):
                chunk = dribbler.recv(65536)
                if not chunk:
                    break
                data += chunk
            dribble_out.append(data)

        t = threading.Thread(target=dribble)
        t.start()
        # Meanwhile other clients are served at once.
        t0 = time.monotonic()
        for _ in range(5):
            assert u.api_exchange(d, b"STATS\n", timeout=5).startswith(b"OK stats\n")
        assert time.monotonic() - t0 < 5
        t.join(timeout=20)
        assert dribble_out and dribble_out[0].startswith(b"OK stats\n"), dribble_out
        # The silent client: ERR after the request timeout (3 s), then EOF.
        silent.settimeout(20)
        t0 = time.monotonic()
        data = b""
        while True:
            chunk = silent.recv(4096)
            if not chunk:
                break
            data += chunk
        assert data == b"ERR bad-request no request line within 3000 ms\n", data
        assert time.monotonic() - t0 < 10
        s = u.stats(d)
        assert s["api.request_timeouts"] == 1, s


def test_max_clients_rejects_the_client_over_the_limit():
    with u.ApiDaemon(log_level="info", api_options={"max_clients": 3, "socket_mode": '"0666"'}) as d:
        idle = []
        for _ in range(3):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(d.socket_path)
            idle.append(s)
        time.sleep(0.2)
        out = u.api_exchange(d, b"STATS\n")
        assert out.startswith(b"ERR no-resources "), out
        for s in idle:
            s.close()
        u.wait_for(lambda: u.api_exchange(d, b"STATS\n").startswith(b"OK stats"), 5, "a free client slot")
        # Ports below 1024 need root or the daemon's user: `nobody` is refused.
        r = d.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                   *u.cli(d, "listen", 80)], check=False, timeout=10)
        assert r.returncode == 9, (r.returncode, r.stderr)
        assert b"permission denied" in r.stderr, r.stderr
        r = d.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                   *u.cli(d, "connect", d.host_address, 9)], check=False, timeout=10)
        assert r.returncode == 4, (r.returncode, r.stderr)  # allowed to try; refused by the host


def test_random_garbage_and_abrupt_clients_never_hurt_the_daemon():
    rng = random.Random(1234)  # fixed seed: a failure is reproducible
    with harness.Daemon(log_level="info") as d:
        for i in range(300):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect(d.socket_path)
            kind = i % 4
            try:
                if kind == 0:  # random bytes, maybe with newlines
                    s.sendall(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 700))))
                elif kind == 1:  # a valid verb with random arguments
                    verb = rng.choice([b"CONNECT", b"LISTEN", b"ACCEPT", b"STATUS", b"STATS", b"connect"])
                    args = b" ".join(str(rng.randrange(-5, 70000)).encode() for _ in range(rng.randrange(0, 4)))
                    s.sendall(verb + b" " + args + rng.choice([b"\n", b"\r\n", b""]))
                elif kind == 2:  # half a request, then gone
                    s.sendall(b"CONN")
                else:  # reset with unread data on our side
                    s.sendall(b"STATS\n")
                if rng.random() < 0.5:
                    s.settimeout(0.05)  # incomplete requests get no answer yet
                    s.recv(rng.randrange(1, 100))
            except (socket.timeout, ConnectionResetError, BrokenPipeError):
                pass
            s.close()
        assert d.alive()
        u.wait_for(lambda: u.stats(d)["api.clients"] == 1, 15, "every garbage client closed")
        u.wait_quiet(d)


def test_accept_with_a_timeout_answers_timed_out():
    with harness.Daemon(log_level="info") as d:
        t0 = time.monotonic()
        out = u.api_exchange(d, b"ACCEPT 9003 timeout=1\n", timeout=10)
        assert out.startswith(b"ERR timed-out "), out
        assert time.monotonic() - t0 < 5
        u.wait_quiet(d)  # the transient listener is gone


if __name__ == "__main__":
    harness.run_tests([
        test_connect_typed_into_socat_becomes_the_tcp_stream_both_ways,
        test_listen_and_accept_by_hand_with_nc_and_socat,
        test_stats_over_nc_lists_counters_and_ends_with_end,
        test_bad_requests_get_err_bad_request_and_a_closed_connection,
        test_silent_client_is_timed_out_and_a_slow_one_blocks_nobody,
        test_max_clients_rejects_the_client_over_the_limit,
        test_random_garbage_and_abrupt_clients_never_hurt_the_daemon,
        test_accept_with_a_timeout_answers_timed_out,
    ])
