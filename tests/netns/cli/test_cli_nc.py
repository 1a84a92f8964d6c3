#!/usr/bin/python3
"""The tapstack command behaves as nc (OpenBSD netcat, Debian's
netcat-openbsd), each behaviour run side by side with nc under the same
condition in the same namespace:

* `listen` with stdin still open (a pipe nobody writes or closes) ends once
  the peer sent a file and closed: `nc -l` does, and so must tapstack; the
  file arrives exact (SHA-256).
* `connect` with stdin still open ends once the peer closed; nc in connect
  mode is run the same way and its behaviour printed (OpenBSD nc leaves on
  the network's EOF only with -l; tapstack does in both modes).
* A file on stdin while the peer half-closes first: tapstack sends all of
  it; `nc -l` cuts it short (printed), the one deliberate difference.
* stdin's EOF half-closes (as nc -N): a server that answers only after EOF
  answers both.
* getopt spellings: combined short flags (-vk serves two connections one
  after the other, as nc -lk), an attached value (-w1 gives up as nc -w1).
* TAPSTACK_SOCKET names the socket, --socket wins; `tapstack version` and
  `tapstack status` report the daemon.

Usage: test_cli_nc.py [TAPSTACKD TAPSTACK]
"""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tcp"))
import harness  # noqa: E402
import tcp_util as u  # noqa: E402

SIZE = 4 << 20

# Reads until EOF, then answers with the byte count and closes: only a
# client that half-closes after its stdin gets the answer.
ANSWER_AFTER_EOF = r'''
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(4)
for _ in range(int(sys.argv[3])):
    c, _ = s.accept()
    n = 0
    while True:
        b = c.recv(65536)
        if not b:
            break
        n += len(b)
    c.sendall(f"got {n} bytes\n".encode())
    c.close()
'''


class OpenStdin:
    """A pipe whose write end the test holds open: stdin that never ends."""

    def __enter__(self):
        self.r, self.w = os.pipe()
        return self.r

    def __exit__(self, *exc):
        os.close(self.w)
        os.close(self.r)
        return False


def elapsed(proc, timeout, name):
    start = time.monotonic()
    rc, err = u.finish(proc, timeout, name)
    return rc, err, time.monotonic() - start


def test_listen_ends_when_the_peer_closes_with_stdin_open_as_nc_l_does():
    with harness.Daemon(extra_yaml=u.FAST_TCP_YAML) as d, OpenStdin() as stdin:
        src, sha = u.make_file(d, "send.bin", SIZE)
        # nc -l on the namespace's kernel, stdin open.
        nc_out = os.path.join(d.workdir, "nc.bin")
        nc = d.popen(["nc", "-l", d.host_address, "9001"], stdin=stdin, stdout=open(nc_out, "wb"),
                     stderr=subprocess.PIPE)
        u.wait_host_listening(d, 9001)
        sender = d.popen(["nc", "-N", d.host_address, "9001"], stdin=open(src, "rb"), stdout=subprocess.DEVNULL)
        rc, err, took = elapsed(nc, 30, "nc -l with stdin open")
        assert rc == 0, f"nc -l exited {rc}: {err}"
        assert u.sha256_file(nc_out) == (sha, SIZE), "nc -l: file differs"
        print(f"nc -l: exited 0 after {took:.2f}s with stdin open", flush=True)
        u.finish(sender, 10, "nc -N (to nc -l)")
        # tapstack listen, the same stdin.
        out = os.path.join(d.workdir, "tapstack.bin")
        app = u.start_listen(d, 9002, stdin=stdin, stdout=open(out, "wb"))
        sender = d.popen(["nc", "-N", d.address, "9002"], stdin=open(src, "rb"), stdout=subprocess.DEVNULL)
        rc, err, took = elapsed(app, 30, "tapstack listen with stdin open")
        assert rc == 0, f"tapstack listen exited {rc}: {err}"
        assert u.sha256_file(out) == (sha, SIZE), "tapstack listen: file differs"
        print(f"tapstack listen: exited 0 after {took:.2f}s with stdin open", flush=True)
        prc, perr = u.finish(sender, 10, "nc -N (to tapstack)")
        assert prc == 0, f"nc -N exited {prc}: {perr}"


def test_connect_ends_when_the_peer_closes_with_stdin_open():
    with harness.Daemon(extra_yaml=u.FAST_TCP_YAML) as d, OpenStdin() as stdin:
        src, sha = u.make_file(d, "send.bin", SIZE)
        # nc in connect mode, stdin open, against a peer that sends and closes.
        server = d.popen(["nc", "-N", "-l", d.host_address, "9011"], stdin=open(src, "rb"),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        u.wait_host_listening(d, 9011)
        nc_out = os.path.join(d.workdir, "nc.bin")
        nc = d.popen(["nc", d.host_address, "9011"], stdin=stdin, stdout=open(nc_out, "wb"),
                     stderr=subprocess.DEVNULL)
        try:
            nc.wait(timeout=5)
            print(f"nc (connect): exited {nc.returncode} with stdin open", flush=True)
        except subprocess.TimeoutExpired:
            nc.kill()
            nc.wait()
            print("nc (connect): still running 5 s after the peer closed (OpenBSD nc leaves on the network's "
                  "EOF only with -l); tapstack connect leaves in both modes", flush=True)
        server.kill()
        server.wait()
        # tapstack connect, the same condition.
        server = d.popen(["nc", "-N", "-l", d.host_address, "9012"], stdin=open(src, "rb"),
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        u.wait_host_listening(d, 9012)
        out = os.path.join(d.workdir, "tapstack.bin")
        app = d.popen(u.cli(d, "connect", d.host_address, 9012), stdin=stdin, stdout=open(out, "wb"),
                      stderr=subprocess.PIPE)
        rc, err, took = elapsed(app, 30, "tapstack connect with stdin open")
        assert rc == 0, f"tapstack connect exited {rc}: {err}"
        assert u.sha256_file(out) == (sha, SIZE), "tapstack connect: file differs"
        print(f"tapstack connect: exited 0 after {took:.2f}s with stdin open", flush=True)
        src_rc, src_err = u.finish(server, 10, "nc -N -l (the sender)")
        assert src_rc == 0, f"the sending nc -l exited {src_rc}: {src_err}"


def test_a_file_on_stdin_is_sent_in_full_when_the_peer_half_closes_first():
    with harness.Daemon(extra_yaml=u.FAST_TCP_YAML) as d:
        src, sha = u.make_file(d, "send.bin", SIZE)
        nc_got = os.path.join(d.workdir, "from-nc.bin")
        nc = d.popen(["nc", "-l", d.host_address, "9021"], stdin=open(src, "rb"), stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)
        u.wait_host_listening(d, 9021)
        reader = d.popen(["nc", "-N", d.host_address, "9021"], stdin=subprocess.DEVNULL,
                         stdout=open(nc_got, "wb"), stderr=subprocess.DEVNULL)
        u.finish(reader, 30, "nc -N (reading from nc -l)")
        u.finish(nc, 10, "nc -l < file")
        print(f"nc -l < file: the peer got {os.path.getsize(nc_got)} of {SIZE} bytes", flush=True)
        got = os.path.join(d.workdir, "from-tapstack.bin")
        app = u.start_listen(d, 9022, stdin=open(src, "rb"), stdout=subprocess.DEVNULL)
        reader = d.popen(["nc", "-N", d.address, "9022"], stdin=subprocess.DEVNULL, stdout=open(got, "wb"),
                         stderr=subprocess.PIPE)
        rrc, rerr = u.finish(reader, 30, "nc -N (reading from tapstack listen)")
        rc, err = u.finish(app, 10, "tapstack listen < file")
        assert rrc == 0 and rc == 0, f"nc -N {rrc} ({rerr}), tapstack listen {rc} ({err})"
        assert u.sha256_file(got) == (sha, SIZE), "tapstack listen < file: the peer did not get the whole file"


def test_stdin_eof_half_closes_as_nc_n_and_the_answer_still_arrives():
    with harness.Daemon(extra_yaml=u.FAST_TCP_YAML) as d:
        server = d.popen([u.PYTHON, "-c", ANSWER_AFTER_EOF, d.host_address, "9031", "2"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        u.wait_host_listening(d, 9031)
        request = b"x" * 100000
        nc = d.run(["nc", "-N", d.host_address, "9031"], input=request, timeout=20)
        app = subprocess.run(["ip", "netns", "exec", d.ns, *u.cli(d, "connect", d.host_address, 9031)],
                             input=request, capture_output=True, timeout=20)
        assert nc.stdout == b"got 100000 bytes\n", nc.stdout
        assert app.returncode == 0, app.stderr
        assert app.stdout == b"got 100000 bytes\n", app.stdout
        u.finish(server, 10, "the answering server")


def test_combined_short_flags_and_attached_values_as_getopt_users_expect():
    with harness.Daemon(extra_yaml=u.FAST_TCP_YAML) as d:
        # -vk: verbose and keep listening, as `nc -lvk`: two clients one after the other.
        nc = d.popen(["nc", "-lvk", d.host_address, "9041"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE)
        u.wait_host_listening(d, 9041)
        app = d.popen(u.cli(d, "listen", "-vk", 9042), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE)
        u.wait_api_listeners(d)
        for i in range(2):
            d.run(["nc", "-N", d.host_address, "9041"], input=f"to nc {i}\n".encode(), timeout=10)
            d.run(["nc", "-N", d.address, "9042"], input=f"to tapstack {i}\n".encode(), timeout=10)
        time.sleep(0.5)
        assert nc.poll() is None, "nc -lvk stopped after two clients"
        assert app.poll() is None, "tapstack listen -vk stopped after two clients"
        for p in (nc, app):
            p.terminate()
        nc_out, nc_err = nc.communicate(timeout=10)
        out, err = app.communicate(timeout=10)
        assert nc_out == b"to nc 0\nto nc 1\n", nc_out
        assert out == b"to tapstack 0\nto tapstack 1\n", out
        assert err.count(b"tapstack: ") >= 3, err  # -v: listening, then each stream's endpoints
        # -w1 attached: give up connecting after one second, as nc -w1 does
        # (10.0.0.9 answers nobody's ARP).
        start = time.monotonic()
        r = d.run(["nc", "-w1", "10.0.0.9", "80"], check=False, timeout=20, input=b"")
        nc_took = time.monotonic() - start
        start = time.monotonic()
        t = subprocess.run(["ip", "netns", "exec", d.ns, *u.cli(d, "connect", "-w1", "10.0.0.9", 80)],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
        took = time.monotonic() - start
        print(f"nc -w1: exit {r.returncode} after {nc_took:.2f}s; tapstack connect -w1: exit {t.returncode} "
              f"after {took:.2f}s: {t.stderr.decode().strip()}", flush=True)
        assert r.returncode != 0 and nc_took < 4, "nc -w1 did not give up"
        assert t.returncode == 6, t.stderr  # timed out
        assert 0.9 < took < 4, f"tapstack connect -w1 took {took:.2f}s"


def test_tapstack_socket_environment_version_and_status():
    with harness.Daemon(extra_yaml=u.FAST_TCP_YAML) as d:
        plain = {k: v for k, v in os.environ.items() if k != "TAPSTACK_SOCKET"}
        env = dict(plain, TAPSTACK_SOCKET=d.socket_path)

        def run(*args, env=env):
            return subprocess.run([u.tapstack_path(), *map(str, args)], capture_output=True, timeout=10, env=env)

        r = run("stats")
        assert r.returncode == 0 and b"api.clients " in r.stdout, r.stderr
        r = run("--socket", "/nonexistent/api.sock", "stats")
        assert r.returncode == 3 and b"/nonexistent/api.sock" in r.stderr, (r.returncode, r.stderr)
        if not os.path.exists("/run/tapstack/tapstack.sock"):  # neither: the default path
            r = run("stats", env=plain)
            assert r.returncode == 3 and b"/run/tapstack/tapstack.sock" in r.stderr, (r.returncode, r.stderr)
            r = run("stats", env=dict(plain, TAPSTACK_SOCKET=""))
            assert r.returncode == 3 and b"/run/tapstack/tapstack.sock" in r.stderr, (r.returncode, r.stderr)
        r = run("version")
        lines = r.stdout.decode().splitlines()
        assert r.returncode == 0 and len(lines) == 2, r
        assert lines[0].startswith("tapstack ") and lines[1].startswith("tapstackd "), lines
        assert lines[0].split()[1] == lines[1].split()[1], lines
        # status while one stream is live
        server = d.popen(["nc", "-l", d.host_address, "9051"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        u.wait_host_listening(d, 9051)
        with OpenStdin() as stdin:
            app = d.popen(u.cli(d, "connect", d.host_address, 9051), stdin=stdin, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
            u.wait_for(lambda: u.stats(d).get("api.streams", 0) == 1, 10, "one live stream")
            r = run("status")
            server.kill()
            u.finish(app, 10, "tapstack connect")
        text = r.stdout.decode()
        print(text, flush=True)
        fields = dict(line.split(None, 1) for line in text.splitlines())
        assert r.returncode == 0, r.stderr
        assert fields["interface"] == d.tap, fields
        assert fields["address"] == d.address_cidr, fields
        assert fields["streams"] == "1", fields
        assert fields["version"] == lines[1].split()[1], fields
        assert "uptime" in fields and "started" in fields, fields


if __name__ == "__main__":
    harness.run_tests([
        test_listen_ends_when_the_peer_closes_with_stdin_open_as_nc_l_does,
        test_connect_ends_when_the_peer_closes_with_stdin_open,
        test_a_file_on_stdin_is_sent_in_full_when_the_peer_half_closes_first,
        test_stdin_eof_half_closes_as_nc_n_and_the_answer_still_arrives,
        test_combined_short_flags_and_attached_values_as_getopt_users_expect,
        test_tapstack_socket_environment_version_and_status,
    ])
