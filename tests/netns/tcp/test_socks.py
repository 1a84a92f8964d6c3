"""SOCKS5 (RFC 1928) on api.socks_socket, against real peers in the test's
namespace.

What it proves, each with the bytes on the wire:
  * curl through the SOCKS socket (socks5h:// and socks5:// with an IP URL)
    downloads a multi-MB file from Python's http.server on the host side of
    the TAP, exactly (SHA-256); a host name through socks5h:// is refused
    with 0x08 (no resolver);
  * the success reply names the stream's local end (BND.ADDR/BND.PORT as
    the host-side server sees its peer), and bytes sent right behind the
    request arrive first, in order;
  * failed connects get their reply code and then EOF: 0x05 refused (closed
    port), 0x04 host unreachable (ARP never answered), 0x03 network
    unreachable (no route), 0x06 (SYNs dropped by nftables: timed out),
    0x02 (api.connect_deny, the API's own rule check);
  * malformed and unsupported handshakes get the right reply and EOF, a
    stalled one is answered at api.request_timeout, a dribbled one works,
    and the daemon counts them (api.socks_refused) and keeps serving;
  * the socket's mode is api.socket_mode, "" turns it off, HELLO says so;
  * ssh reaches a host with `tapstack connect` as its ProxyCommand, and
    with OpenBSD nc's SOCKS5 client through a socat TCP-to-Unix bridge.
"""

import hashlib
import os
import socket
import struct
import subprocess
import time

import harness
import tcp_util

ARP_FAST_YAML = "arp:\n  retry_interval: 200ms\n  max_retries: 2\n"
GREETING = b"\x05\x01\x00"


def socks_path(d):
    # Left out of the config, the SOCKS socket is socks.sock beside api.socket.
    return os.path.join(os.path.dirname(d.socket_path), "socks.sock")


def new_daemon(**api_options):
    return tcp_util.ApiDaemon(api_options=api_options, extra_yaml=tcp_util.FAST_TCP_YAML + ARP_FAST_YAML)


def open_socks(d, timeout=15.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(socks_path(d))
    return s


def recv_exact(s, n):
    out = b""
    while len(out) < n:
        b = s.recv(n - len(out))
        if not b:
            break
        out += b
    return out


def recv_to_eof(s, timeout=15.0):
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            b = s.recv(65536)
        except ConnectionResetError:
            raise AssertionError(f"connection reset instead of EOF after {out!r}")
        if not b:
            return out
        out += b
    raise AssertionError(f"no EOF within {timeout}s after {out!r}")


def ipv4_request(address, port, command=1):
    return bytes([5, command, 0, 1]) + socket.inet_aton(address) + struct.pack("!H", port)


def exchange(d, *chunks, pause=0.0, timeout=15.0):
    """Sends the chunks (pausing between them) and returns everything the
    daemon sends until its EOF."""
    s = open_socks(d, timeout)
    try:
        for c in chunks:
            s.sendall(c)
            if pause:
                time.sleep(pause)
        return recv_to_eof(s, timeout)
    finally:
        s.close()


def failure(code):
    return b"\x05\x00" + bytes([5, code, 0, 1, 0, 0, 0, 0, 0, 0])


def start_http_server(d, directory, port=8000):
    d.popen([harness.PYTHON, "-m", "http.server", "--bind", d.host_address, "--directory", directory, str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tcp_util.wait_host_listening(d, port)


def test_curl_downloads_a_multi_megabyte_file_exactly_through_socks5():
    with new_daemon() as d:
        www = os.path.join(d.workdir, "www")
        os.mkdir(www)
        path, digest = tcp_util.make_file(d, "www/blob.bin", 8 * 1024 * 1024 + 1234)
        start_http_server(d, www)
        for scheme in ("socks5h", "socks5"):
            out = os.path.join(d.workdir, f"got-{scheme}")
            r = d.run(["curl", "-sS", "--max-time", "60", "-o", out, "--proxy",
                       f"{scheme}://localhost{socks_path(d)}", f"http://{d.host_address}:8000/blob.bin"],
                      check=False, timeout=90)
            assert r.returncode == 0, f"curl via {scheme}: {r.stderr!r}"
            got, n = tcp_util.sha256_file(out)
            assert (got, n) == (digest, os.path.getsize(path)), f"{scheme}: {n} bytes, sha256 {got}"
        # A host name: socks5h sends it to the proxy (ATYP 3), which has no resolver.
        r = d.run(["curl", "-sS", "--max-time", "20", "--proxy", f"socks5h://localhost{socks_path(d)}",
                   "http://tapstack-test.invalid:8000/blob.bin"], check=False, timeout=30)
        assert r.returncode == 97 and b"(8)" in r.stderr, (r.returncode, r.stderr)
        s = tcp_util.stats(d)
        assert s["api.socks_clients_accepted"] == 3, s
        assert s["api.socks_refused"] == 1, s
        assert s["api.connects"] == 2, s
        tcp_util.wait_quiet(d)
        assert tcp_util.stats(d)["api.streams_orderly"] == 2


ECHO_SERVER = r'''
import socket, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((sys.argv[1], int(sys.argv[2])))
srv.listen(1)
print("ready", flush=True)
c, peer = srv.accept()
c.settimeout(20)
data = b""
while True:
    b = c.recv(65536)
    if not b:
        break
    data += b
c.sendall(f"{peer[0]} {peer[1]} {len(data)}\n".encode() + data)
c.close()
'''


def test_success_reply_names_the_local_end_and_pipelined_bytes_come_first_in_order():
    with new_daemon() as d:
        server = tcp_util.popen_python(d, ECHO_SERVER, d.host_address, 7001)
        assert server.stdout.readline().strip() == b"ready"
        payload = bytes(range(256)) * 64
        s = open_socks(d)
        try:
            # Greeting, request and the first stream bytes in one write.
            s.sendall(GREETING + ipv4_request(d.host_address, 7001) + payload[:1000])
            assert recv_exact(s, 2) == b"\x05\x00"
            reply = recv_exact(s, 10)
            assert reply[:4] == b"\x05\x00\x00\x01", reply
            bnd_addr = socket.inet_ntoa(reply[4:8])
            bnd_port = struct.unpack("!H", reply[8:10])[0]
            assert bnd_addr == d.address, reply
            s.sendall(payload[1000:])
            s.shutdown(socket.SHUT_WR)
            back = recv_to_eof(s, 20)
        finally:
            s.close()
        head, _, body = back.partition(b"\n")
        assert head.decode() == f"{d.address} {bnd_port} {len(payload)}", (head, bnd_port)
        assert body == payload
        server.wait(timeout=10)


def test_failed_connects_get_their_reply_code_then_eof():
    with new_daemon() as d:
        # 0x05: nothing listens on the host's port 9 (RST).
        assert exchange(d, GREETING, ipv4_request(d.host_address, 9)) == failure(0x05)
        # 0x04: an address in the subnet that nobody answers ARP for.
        assert exchange(d, GREETING, ipv4_request("10.0.0.77", 80)) == failure(0x04)
        # 0x03: off the link, and the daemon has no gateway.
        assert exchange(d, GREETING, ipv4_request("192.0.2.1", 80)) == failure(0x03)
        # 0x06: the host drops our SYNs, so the SYN retries run out.
        d.run(["nft", "-f", "-"], input=b"""
            table inet socks_test {
              chain input { type filter hook input priority 0; tcp dport 9999 drop; }
            }""")
        started = time.monotonic()
        assert exchange(d, GREETING, ipv4_request(d.host_address, 9999), timeout=30) == failure(0x06)
        assert time.monotonic() - started > 1.0  # it really waited for the retries
        # No route leads to loopback; 0.0.0.0 and port 0 are refused as a
        # CONNECT line with them is (bad request): a general failure.
        assert exchange(d, GREETING, ipv4_request("127.0.0.1", 80)) == failure(0x03)
        assert exchange(d, GREETING, ipv4_request("0.0.0.0", 80)) == failure(0x01)
        assert exchange(d, GREETING, ipv4_request(d.host_address, 0)) == failure(0x01)
        s = tcp_util.stats(d)
        assert s["api.socks_refused"] == 2, s  # 0.0.0.0 and port 0; the rest were connects
        assert s["api.connects"] == 3, s
        assert s["tcp.connections"] == 0, s


def test_a_connect_the_rules_deny_gets_0x02_as_an_api_connect_gets_err_permission():
    # api.connect_deny is checked on CONNECT; SOCKS5 goes through the same path.
    with new_daemon(connect_deny="[10.0.0.1/32:7000-7099]") as d:
        assert exchange(d, GREETING, ipv4_request(d.host_address, 7050)) == failure(0x02)
        err = tcp_util.api_exchange(d, f"CONNECT {d.host_address} 7050\n".encode())
        assert err.startswith(b"ERR permission "), err
        # Outside the rule: an ordinary refused connect.
        assert exchange(d, GREETING, ipv4_request(d.host_address, 7100)) == failure(0x05)
        s = tcp_util.stats(d)
        assert s["api.connect_denied"] == 2, s
        assert s["api.connects"] == 1, s


def test_malformed_and_unsupported_handshakes_get_their_reply_then_eof():
    with new_daemon() as d:
        no_method = b"\x05\xff"
        cases = [
            ("SOCKS4 greeting", [b"\x04\x01\x00\x50\x0a\x00\x00\x01\x00"], no_method),
            ("HTTP instead of SOCKS", [b"GET / HTTP/1.0\r\n\r\n"], no_method),
            ("no methods", [b"\x05\x00"], no_method),
            ("only username/password offered", [b"\x05\x01\x02"], no_method),
            ("BIND", [GREETING, ipv4_request(d.host_address, 80, command=2)], failure(0x07)),
            ("UDP ASSOCIATE", [GREETING, ipv4_request(d.host_address, 80, command=3)], failure(0x07)),
            ("unknown command", [GREETING, b"\x05\x09\x00\x01"], failure(0x07)),
            ("domain name", [GREETING, b"\x05\x01\x00\x03\x0bexample.org\x00\x50"], failure(0x08)),
            ("IPv6 loopback", [GREETING, b"\x05\x01\x00\x04" + bytes(15) + b"\x01\x00\x50"], failure(0x01)),
            ("unknown address type", [GREETING, b"\x05\x01\x00\x07"], failure(0x08)),
            ("reserved byte set", [GREETING, b"\x05\x01\x01\x01"], failure(0x01)),
            ("request version 4", [GREETING, b"\x04\x01\x00\x01"], failure(0x01)),
            ("empty domain name", [GREETING, b"\x05\x01\x00\x03\x00"], failure(0x01)),
        ]
        for name, chunks, expect in cases:
            got = exchange(d, *chunks)
            assert got == expect, f"{name}: got {got!r}, expected {expect!r}"
        # A client that goes away mid-handshake is simply closed.
        s = open_socks(d)
        s.sendall(GREETING + b"\x05\x01\x00\x01\x0a")
        assert recv_exact(s, 2) == b"\x05\x00"
        s.close()
        stats = tcp_util.stats(d)
        assert stats["api.socks_refused"] == len(cases), stats
        assert stats["api.connects"] == 0, stats
        assert d.alive()


def test_a_stalled_handshake_is_answered_at_the_request_timeout():
    with new_daemon(request_timeout="1s") as d:
        started = time.monotonic()
        # Before the method is chosen, the refusal is "no acceptable method".
        assert exchange(d, b"\x05\x02\x00", timeout=10) == b"\x05\xff"
        # After it, a general failure reply.
        assert exchange(d, GREETING + b"\x05\x01\x00\x01\x0a\x00", timeout=10) == failure(0x01)
        elapsed = time.monotonic() - started
        assert 1.5 < elapsed < 8, elapsed
        assert tcp_util.stats(d)["api.request_timeouts"] == 2


def test_a_handshake_dribbled_byte_by_byte_still_connects():
    with new_daemon() as d:
        server = tcp_util.popen_python(d, ECHO_SERVER, d.host_address, 7002)
        assert server.stdout.readline().strip() == b"ready"
        message = GREETING + ipv4_request(d.host_address, 7002)
        s = open_socks(d)
        try:
            for i in range(len(message)):
                s.sendall(message[i:i + 1])
                time.sleep(0.02)
            assert recv_exact(s, 2) == b"\x05\x00"
            assert recv_exact(s, 10)[:2] == b"\x05\x00"
            s.sendall(b"dribbled")
            s.shutdown(socket.SHUT_WR)
            assert recv_to_eof(s).endswith(b" 8\ndribbled")
        finally:
            s.close()


def test_socket_mode_off_switch_and_hello():
    with new_daemon(socket_mode="0600") as d:
        assert os.stat(socks_path(d)).st_mode & 0o777 == 0o600
        hello = tcp_util.api_exchange(d, b"HELLO\n").decode()
        assert hello.startswith("OK HELLO version=1 ") and hello.rstrip().endswith(",socks"), hello
    with new_daemon(socks_socket='""') as d:
        assert not os.path.exists(socks_path(d))
        hello = tcp_util.api_exchange(d, b"HELLO\n").decode()
        assert "features=" in hello and "socks" not in hello, hello
    elsewhere = {}
    with harness.Daemon(start=False) as d:
        # An explicit path, away from the API socket.
        elsewhere["path"] = os.path.join(d.workdir, "other", "proxy.sock")
        d.config_text = lambda orig=d.config_text: orig().replace(
            f"  socket: {d.socket_path}\n", f"  socket: {d.socket_path}\n  socks_socket: {elsewhere['path']}\n")
        d.write_config()
        d.start()
        assert os.path.exists(elsewhere["path"]) and not os.path.exists(socks_path(d))
        assert d.stop() == 0
        assert not os.path.exists(elsewhere["path"])  # removed at a clean stop


FAKE_SSH_SERVER = r'''
import socket, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((sys.argv[1], int(sys.argv[2])))
srv.listen(4)
print("ready", flush=True)
for _ in range(int(sys.argv[3])):
    c, _ = srv.accept()
    c.settimeout(20)
    c.sendall(b"SSH-2.0-tapstack_test\r\n")
    line = b""
    while not line.endswith(b"\n"):
        b = c.recv(1)
        if not b:
            break
        line += b
    print(line.decode(errors="replace").strip(), flush=True)
    # An impossible packet length: ssh gives up by itself (and ends its
    # ProxyCommand) instead of waiting for a key exchange.
    c.sendall(b"\xff\xff\xff\xff" + bytes(12))
    try:
        while c.recv(65536):
            pass
    except OSError:
        pass
    c.close()
'''


def test_ssh_proxycommand_through_tapstack_connect_and_nc_socks5_via_a_socat_bridge():
    # What the documentation shows for ssh: `tapstack connect` as the
    # ProxyCommand, or OpenBSD nc's SOCKS5 client (TCP proxies only) through
    # socat exposing the Unix socket on a loopback port. A fake server sends
    # an SSH banner and records ssh's, then a packet ssh rejects: the bytes
    # crossing both ways prove the transport; a key exchange is not the point.
    with new_daemon() as d:
        server = tcp_util.popen_python(d, FAKE_SSH_SERVER, d.host_address, 2222, 2)
        assert server.stdout.readline().strip() == b"ready"
        d.popen(["socat", "TCP-LISTEN:1080,bind=127.0.0.1,reuseaddr,fork", f"UNIX-CONNECT:{socks_path(d)}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        tcp_util.wait_host_listening(d, 1080)
        tapstack = " ".join(tcp_util.cli(d, "connect", "%h", "%p"))
        for proxy in (tapstack, "nc -X 5 -x 127.0.0.1:1080 %h %p"):
            r = d.run(["ssh", "-o", f"ProxyCommand={proxy}", "-o", "BatchMode=yes", "-o", "ConnectTimeout=20",
                       "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                       "-p", "2222", f"nobody@{d.host_address}", "true"], check=False, timeout=60)
            assert r.returncode != 0  # no real SSH server behind the banner
            banner = server.stdout.readline().decode().strip()
            assert banner.startswith("SSH-2.0-OpenSSH"), (proxy, banner, r.stderr)
            assert b"Bad packet length" in r.stderr or b"packet" in r.stderr.lower(), r.stderr
        server.wait(timeout=10)
        # And a plain download with nc's SOCKS5 client, byte-exact.
        www = os.path.join(d.workdir, "www")
        os.mkdir(www)
        _, digest = tcp_util.make_file(d, "www/small.bin", 200000)
        start_http_server(d, www)
        r = d.run(["sh", "-c", f"printf 'GET /small.bin HTTP/1.0\\r\\n\\r\\n' | "
                               f"nc -X 5 -x 127.0.0.1:1080 {d.host_address} 8000"], timeout=60)
        head, _, body = r.stdout.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.0 200"), head
        assert hashlib.sha256(body).hexdigest() == digest


if __name__ == "__main__":
    harness.run_tests([
        test_curl_downloads_a_multi_megabyte_file_exactly_through_socks5,
        test_success_reply_names_the_local_end_and_pipelined_bytes_come_first_in_order,
        test_failed_connects_get_their_reply_code_then_eof,
        test_a_connect_the_rules_deny_gets_0x02_as_an_api_connect_gets_err_permission,
        test_malformed_and_unsupported_handshakes_get_their_reply_then_eof,
        test_a_stalled_handshake_is_answered_at_the_request_timeout,
        test_a_handshake_dribbled_byte_by_byte_still_connects,
        test_socket_mode_off_switch_and_hello,
        test_ssh_proxycommand_through_tapstack_connect_and_nc_socks5_via_a_socat_bridge,
    ])
