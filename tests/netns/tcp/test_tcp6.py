#!/usr/bin/python3
"""TCP over IPv6 against the namespace's Linux kernel: `nc -6` in both roles
with SHA-256-checked files (the daemon side is the tapstack CLI), the API's
IPv6 endpoints ("[addr]:port" in replies, CONNECTIONS and `tapstack ss`),
LISTEN's family=4|6, a connect rule with an IPv6 prefix, and SOCKS5 address
type 4.

Every wait is bounded; every byte comparison is exact.
"""
import os
import socket
import struct
import subprocess

import harness
import tcp_util as u

ADDRESS6 = "fd3e:dfa0:4efb:1::2/64"
HOST6 = "fd3e:dfa0:4efb:1::1/64"
SIZE = 3 * 1024 * 1024 + 17


def daemon6(**kw):
    d = u.ApiDaemon(address6=ADDRESS6, host_address6=HOST6, log_level="info", extra_yaml=u.FAST_TCP_YAML, **kw)
    return d


def test_nc6_host_connects_daemon_listens_exact_bytes():
    with daemon6() as d:
        d.wait_ping6()
        src, sha = u.make_file(d, "up.bin", SIZE)
        out = f"{d.workdir}/got.bin"
        app = u.start_listen(d, 8601, stdin=subprocess.DEVNULL, stdout=open(out, "wb"))
        nc = d.run(["sh", "-c", f"nc -6 -N -w 20 {d.address6} 8601 < {src}"], timeout=60)
        assert nc.returncode == 0, nc.stderr
        rc, err = u.finish(app, 60, "tapstack listen")
        assert rc == 0, f"tapstack listen exited {rc}: {err}"
        # -v names both IPv6 endpoints in brackets.
        assert f"[{d.host_address6}]:" in err and f"[{d.address6}]:8601" in err, err
        got_sha, n = u.sha256_file(out)
        assert n == SIZE and got_sha == sha, (n, SIZE)
        c = u.stats(d)
        assert c["tcp.conn_established"] >= 1, c
        assert c["ipv6.rx_unknown_next_header"] == 0, c
        u.wait_quiet(d)


def test_nc6_host_listens_daemon_connects_exact_bytes():
    with daemon6() as d:
        d.wait_ping6()
        src, sha = u.make_file(d, "down.bin", SIZE)
        out = f"{d.workdir}/host.bin"
        host = d.popen(["nc", "-6", "-l", "-p", "8602", "-N"], stdin=subprocess.DEVNULL, stdout=open(out, "wb"),
                       stderr=subprocess.PIPE)
        try:
            u.wait_host_listening(d, 8602)
            r = subprocess.run(u.cli(d, "-v", "connect", d.host_address6, 8602), stdin=open(src, "rb"),
                               capture_output=True, timeout=60)
            assert r.returncode == 0, r.stderr
            err = r.stderr.decode()
            assert f"[{d.address6}]:" in err and f"[{d.host_address6}]:8602" in err, err
            host.wait(timeout=30)
        finally:
            if host.poll() is None:
                host.kill()
        got_sha, n = u.sha256_file(out)
        assert n == SIZE and got_sha == sha, (n, SIZE)
        u.wait_quiet(d)


def test_api_replies_connections_and_ss_show_bracketed_ipv6_endpoints():
    with daemon6() as d:
        d.wait_ping6()
        host = d.popen(["nc", "-6", "-l", "-p", "8603"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
        try:
            u.wait_host_listening(d, 8603)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect(d.socket_path)
            s.sendall(f"CONNECT [{d.host_address6}] 8603\n".encode())
            line = b""
            while not line.endswith(b"\n"):
                line += s.recv(1)
            words = line.decode().split()
            assert words[0] == "OK", line
            assert words[1].startswith(f"[{d.address6}]:"), line
            assert words[2] == f"[{d.host_address6}]:8603", line
            listing = u.api_exchange(d, b"CONNECTIONS\n").decode()
            assert f"remote=[{d.host_address6}]:8603" in listing, listing
            ss = subprocess.run(u.cli(d, "ss"), capture_output=True, timeout=10)
            assert ss.returncode == 0, ss.stderr
            assert f"[{d.host_address6}]:8603" in ss.stdout.decode(), ss.stdout
            s.sendall(b"hello over six\n")
            s.shutdown(socket.SHUT_WR)
            host.stdin.close()
            assert host.stdout.read() == b"hello over six\n"
            s.close()
        finally:
            host.kill()
            host.wait(timeout=5)


def test_listen_family_4_refuses_ipv6_and_family_6_refuses_ipv4():
    with daemon6() as d:
        d.wait_ping6()
        for family, port, refused, served in (("4", 8604, ("-6", d.address6), ("-4", d.address)),
                                              ("6", 8605, ("-4", d.address), ("-6", d.address6))):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect(d.socket_path)
            s.sendall(f"LISTEN {port} family={family}\n".encode())
            reply = s.recv(200).decode()
            assert reply.startswith("OK ") and reply.strip().endswith("listening"), reply
            if family == "6":
                assert reply.split()[1] == f"[{d.address6}]:{port}", reply
            r = d.run(["nc", refused[0], "-z", "-w", "3", refused[1], str(port)], check=False, timeout=10)
            assert r.returncode != 0, f"family={family}: {refused} was served"
            r = d.run(["nc", served[0], "-z", "-w", "3", served[1], str(port)], check=False, timeout=10)
            assert r.returncode == 0, f"family={family}: {served} was refused: {r.stderr!r}"
            s.close()


def test_connect_deny_with_an_ipv6_prefix_refuses_only_that_prefix():
    with daemon6(api_options={"connect_deny": '["fd3e:dfa0:4efb:1::/64"]'}) as d:
        d.wait_ping6()
        out = u.api_exchange(d, f"CONNECT {d.host_address6} 8606\n".encode()).decode()
        assert out.startswith("ERR permission") and "fd3e:dfa0:4efb:1::/64" in out, out
        assert u.stats(d)["api.connect_denied"] == 1
        # IPv4 still goes (the host refuses: no listener), and is not denied.
        out = u.api_exchange(d, f"CONNECT {d.host_address} 8606\n".encode()).decode()
        assert out.startswith("ERR refused"), out


def test_socks5_address_type_4_reaches_the_host_over_ipv6():
    """RFC 1928 4: ATYP 4 (16 address bytes) CONNECT to the host's IPv6
    address; the success reply carries ATYP 4 and our address as BND.ADDR;
    bytes flow both ways. ::1 is refused (0x01) as a CONNECT line is."""
    with daemon6() as d:
        d.wait_ping6()
        host = d.popen(["nc", "-6", "-l", "-p", "8607"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
        try:
            u.wait_host_listening(d, 8607)
            path = os.path.join(os.path.dirname(d.socket_path), "socks.sock")
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(15)
            s.connect(path)
            s.sendall(b"\x05\x01\x00")
            assert s.recv(2) == b"\x05\x00"
            s.sendall(b"\x05\x01\x00\x04" + socket.inet_pton(socket.AF_INET6, d.host_address6) +
                      struct.pack("!H", 8607) + b"six!")
            reply = b""
            while len(reply) < 22:
                b = s.recv(22 - len(reply))
                assert b, reply
                reply += b
            assert reply[:4] == b"\x05\x00\x00\x04", reply
            assert reply[4:20] == socket.inet_pton(socket.AF_INET6, d.address6), reply
            s.shutdown(socket.SHUT_WR)
            host.stdin.write(b"back")
            host.stdin.close()
            assert host.stdout.read(4) == b"six!"
            assert s.recv(4) == b"back"
            s.close()
        finally:
            host.kill()
            host.wait(timeout=5)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(15)
        s.connect(path)
        s.sendall(b"\x05\x01\x00" + b"\x05\x01\x00\x04" + bytes(15) + b"\x01\x00\x50")
        answer = b""
        while True:
            b = s.recv(100)
            if not b:
                break
            answer += b
        assert answer[:2] == b"\x05\x00" and answer[2:4] == b"\x05\x01", answer
        s.close()


if __name__ == "__main__":
    harness.run_tests([
        test_nc6_host_connects_daemon_listens_exact_bytes,
        test_nc6_host_listens_daemon_connects_exact_bytes,
        test_api_replies_connections_and_ss_show_bracketed_ipv6_endpoints,
        test_listen_family_4_refuses_ipv6_and_family_6_refuses_ipv4,
        test_connect_deny_with_an_ipv6_prefix_refuses_only_that_prefix,
        test_socks5_address_type_4_reaches_the_host_over_ipv6,
    ])
