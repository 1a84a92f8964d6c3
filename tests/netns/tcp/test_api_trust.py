#!/usr/bin/python3
"""The Unix-socket API as a trust boundary between local users, with REAL
second uids: API clients run as `nobody` (65534) or as uid 4242 through
`setpriv` inside the test's namespace, against a daemon running as root.

* a listener belongs to its uid: root holds LISTEN 8080 with a connection
  queued; `nobody`'s ACCEPT 8080 and LISTEN 8080 get ERR permission and the
  connection still reaches root's ACCEPT; a transient listener of `nobody`
  is refused to uid 4242 but not to root;
* CONNECTIONS, INFO and STATUS show `nobody` only its own streams, each line
  with uid=; root's stream ids are answered exactly as ids that never
  existed; root sees both users' streams;
* api.max_clients_per_user: `nobody`'s client over the limit gets
  ERR no-resources, root is exempt; one log line names uid and pid and the
  next one counts the suppressed refusals;
* api.max_memory_per_user: the stream that would exceed the share is refused;
* api.connect_deny: refused with ERR permission naming the rule; others pass;
* the socket file: mode and group as configured (checked with stat), a
  member of the group may connect and a non-member may not; a world-writable
  mode is warned about; a world-writable socket directory stops the daemon.
"""
import grp
import os
import re
import socket
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import tcp_util as u  # noqa: E402

NOBODY = 65534
NOGROUP = grp.getgrnam("nogroup").gr_gid
OTHER = 4242  # a uid with no passwd entry: the kernel does not need one

# The socket is root:nogroup 0660, so `nobody` (group nogroup) may use it.
TRUST_API = {"socket_group": "nogroup", "socket_mode": '"0660"'}


def as_uid(uid, gid=NOGROUP):
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]


# Runs as another uid: opens one API connection per argument and prints
# "PID REPLY-LINE" for each ("-" opens an idle connection and prints
# "PID held"); then holds every connection until stdin closes.
HOLD = r"""
import os, socket, sys
path = sys.argv[1]
held = []
for req in sys.argv[2:]:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    held.append(s)
    if req == "-":
        print(os.getpid(), "held", flush=True)
        continue
    s.sendall(req.encode() + b"\n")
    s.settimeout(20)
    line = b""
    while not line.endswith(b"\n"):
        c = s.recv(1)
        if not c:
            break
        line += c
    print(os.getpid(), line.decode().rstrip("\n"), flush=True)
sys.stdin.read()
"""

# Runs as another uid: one request, prints the whole reply (until EOF).
EXCHANGE = r"""
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(15)
s.connect(sys.argv[1])
try:
    s.sendall(sys.argv[2].encode() + b"\n")
except (BrokenPipeError, ConnectionResetError):
    pass
out = b""
while True:
    try:
        c = s.recv(65536)
    except ConnectionResetError:
        break
    if not c:
        break
    out += c
sys.stdout.write(f"{os.getpid()}\n" + out.decode())
"""


def exchange_as(d, uid, request, gid=NOGROUP):
    """(pid, reply text) of `request` sent by a process running as `uid`."""
    r = d.run(as_uid(uid, gid) + [harness.PYTHON, "-c", EXCHANGE, d.socket_path, request], timeout=30)
    pid, _, reply = r.stdout.decode().partition("\n")
    return int(pid), reply


class Holder:
    """A process of `uid` holding API connections (see HOLD)."""

    def __init__(self, d, uid, requests, gid=NOGROUP):
        self.proc = d.popen(as_uid(uid, gid) + [harness.PYTHON, "-c", HOLD, d.socket_path, *requests],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.lines = []
        for _ in requests:
            line = self.proc.stdout.readline().decode().rstrip("\n")
            assert line, f"holder of uid {uid} printed nothing (exit {self.proc.poll()})"
            self.lines.append(line.partition(" ")[2])
            self.pid = int(line.split(" ")[0])

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def root_request(path, line, timeout=20):
    """Root's connection with `line` sent and the first reply line read."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall(line.encode() + b"\n")
    got = b""
    while not got.endswith(b"\n"):
        c = s.recv(1)
        if not c:
            break
        got += c
    return s, got.decode()


def host_sink(d, port):
    """A host TCP server that accepts any number of connections and keeps them."""
    code = f"""
import socket, time
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("{d.host_address}", {port})); srv.listen(64)
held = []
while True:
    c, _ = srv.accept(); held.append(c)
"""
    d.popen([harness.PYTHON, "-c", code])
    u.wait_host_listening(d, port)


def test_accept_on_another_users_port_is_refused_and_steals_nothing():
    with u.ApiDaemon(log_level="info", api_options=TRUST_API, extra_yaml=u.FAST_TCP_YAML) as d:
        holder, ok = root_request(d.socket_path, "LISTEN 8080")
        assert ok == f"OK {d.address}:8080 listening\n", ok
        # A connection from the host waits in root's listener.
        hostc = d.popen(["nc", "-N", d.address, "8080"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        hostc.stdin.write(b"for root only\n")
        hostc.stdin.close()
        time.sleep(0.5)
        _, reply = exchange_as(d, NOBODY, "ACCEPT 8080")
        assert reply == "ERR permission accept on port 8080: the port belongs to another user\n", reply
        _, reply = exchange_as(d, NOBODY, "LISTEN 8080")
        assert reply == "ERR permission listen on port 8080: the port belongs to another user\n", reply
        # The queued connection is still root's.
        acc, ok = root_request(d.socket_path, "ACCEPT 8080 timeout=10")
        assert re.match(rf"OK {d.address}:8080 {d.host_address}:\d+ id=\d+\n", ok), ok
        data = b""
        while not data.endswith(b"\n"):
            c = acc.recv(100)
            if not c:
                break
            data += c
        assert data == b"for root only\n", data
        acc.close()
        holder.close()
        hostc.wait(timeout=10)

        # A transient listener (ACCEPT without LISTEN) belongs to the first
        # ACCEPT's uid: another unprivileged uid is refused, root is not.
        w = d.popen(as_uid(NOBODY) + [harness.PYTHON, "-c", HOLD, d.socket_path, "ACCEPT 9090 timeout=20"],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        u.wait_api_listeners(d, 1)
        _, reply = exchange_as(d, OTHER, "ACCEPT 9090 timeout=1")
        assert reply == "ERR permission accept on port 9090: the port belongs to another user\n", reply
        _, reply = exchange_as(d, 0, "ACCEPT 9090 timeout=1")
        assert reply.startswith("ERR timed-out "), reply  # root may wait there (and times out)
        s = u.stats(d)
        assert s["api.permission_denied"] == 3, s
        assert d.alive()


def test_each_user_sees_only_its_own_streams_and_ids_of_others_do_not_exist():
    with u.ApiDaemon(log_level="info", api_options=TRUST_API, extra_yaml=u.FAST_TCP_YAML) as d:
        host_sink(d, 9000)
        root_stream, ok = root_request(d.socket_path, f"CONNECT {d.host_address} 9000")
        m = re.match(r"OK \S+ \S+ id=(\d+)\n", ok)
        assert m, ok
        root_id = int(m.group(1))
        nob = Holder(d, NOBODY, [f"CONNECT {d.host_address} 9000"])
        m = re.match(r"OK \S+ \S+ id=(\d+)$", nob.lines[0])
        assert m, nob.lines
        nobody_id = int(m.group(1))

        _, listing = exchange_as(d, NOBODY, "CONNECTIONS")
        lines = listing.splitlines()
        assert lines[0] == "OK connections" and lines[-1] == "END", listing
        assert len(lines) == 3, listing
        assert lines[1].startswith(f"id={nobody_id} ") and lines[1].endswith(f" uid={NOBODY}"), listing
        # Root (and the daemon's uid) see every stream, each with its owner.
        root_listing = u.api_exchange(d, b"CONNECTIONS\n").decode().splitlines()
        owners = {int(re.match(r"id=(\d+) ", l).group(1)): re.search(r" uid=(\d+)$", l).group(1)
                  for l in root_listing[1:-1]}
        assert owners == {root_id: "0", nobody_id: str(NOBODY)}, root_listing

        # INFO and STATUS: own stream answered with uid=, root's id exactly
        # like an id that never existed (no existence oracle).
        _, info = exchange_as(d, NOBODY, f"INFO {nobody_id}")
        assert info.startswith(f"OK id={nobody_id} ") and info.endswith(f" uid={NOBODY}\n"), info
        _, status = exchange_as(d, NOBODY, f"STATUS {nobody_id}")
        assert status == f"OK id={nobody_id} outcome=open state=established uid={NOBODY}\n", status
        ghost = 999999
        _, info_root = exchange_as(d, NOBODY, f"INFO {root_id}")
        _, info_ghost = exchange_as(d, NOBODY, f"INFO {ghost}")
        assert info_root == info_ghost.replace(str(ghost), str(root_id)), (info_root, info_ghost)
        assert info_root == f"ERR not-found no live connection {root_id}\n", info_root
        _, st_root = exchange_as(d, NOBODY, f"STATUS {root_id}")
        _, st_ghost = exchange_as(d, NOBODY, f"STATUS {ghost}")
        assert st_root == st_ghost.replace(str(ghost), str(root_id)), (st_root, st_ghost)
        # Root sees nobody's stream.
        assert u.api_exchange(d, f"STATUS {nobody_id}\n".encode()).decode().endswith(f" uid={NOBODY}\n")

        # After root's stream ended its outcome stays root's business.
        root_stream.close()
        u.wait_for(lambda: b" outcome=open " not in u.api_exchange(d, f"STATUS {root_id}\n".encode()), 10,
                   "root's stream to end")
        _, st_root = exchange_as(d, NOBODY, f"STATUS {root_id}")
        assert st_root == f"ERR not-found no connection {root_id} among the recent ones\n", st_root
        _, info_root = exchange_as(d, NOBODY, f"INFO {root_id}")
        assert info_root == f"ERR not-found no live connection {root_id}\n", info_root
        nob.close()


def test_max_clients_per_user_refuses_the_user_over_it_and_logs_rate_limited():
    api = dict(TRUST_API, max_clients_per_user=2)
    with u.ApiDaemon(log_level="info", api_options=api) as d:
        idle = Holder(d, NOBODY, ["-", "-"])
        time.sleep(0.3)
        pids = []
        for _ in range(5):
            pid, reply = exchange_as(d, NOBODY, "STATS")
            assert reply == (f"ERR no-resources uid {NOBODY} already has 2 clients "
                             f"(api.max_clients_per_user 2)\n"), reply
            pids.append(pid)
        # Another uid, and root, are not affected by nobody's use.
        _, reply = exchange_as(d, OTHER, "STATS")
        assert reply.startswith("OK stats\n"), reply
        roots = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(4)]
        for s in roots:
            s.connect(d.socket_path)
        time.sleep(0.2)
        assert u.api_exchange(d, b"STATS\n").startswith(b"OK stats\n")
        for s in roots:
            s.close()
        s = u.stats(d)
        assert s["api.user_limit_refusals"] == 5, s
        # One log line (the first refusal, naming uid and pid); the other four
        # within 10 s are suppressed and counted in the next line.
        lines = [l for l in d.log().splitlines() if "api: refused uid 65534" in l]
        assert len(lines) == 1, lines
        assert f"api: refused uid {NOBODY} (pid {pids[0]}): uid {NOBODY} already has 2 clients" in lines[0], lines
        # A freed slot is usable again.
        idle.close()
        u.wait_for(lambda: exchange_as(d, NOBODY, "STATS")[1].startswith("OK stats\n"), 10, "a free slot for nobody")
        idle = Holder(d, NOBODY, ["-", "-"])
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline and len([l for l in d.log().splitlines()
                                                    if "api: refused uid 65534" in l]) < 2:
            exchange_as(d, NOBODY, "STATS")
            time.sleep(0.5)
        lines = [l for l in d.log().splitlines() if "api: refused uid 65534" in l]
        assert len(lines) == 2, lines
        assert re.search(r"\((\d+) more refusals of uid 65534 since its last line, not logged\)", lines[1]), lines
        idle.close()


def test_max_memory_per_user_refuses_the_stream_beyond_the_share():
    # 64 KiB each way, no auto-tuning: 128 KiB per stream; the share fits two.
    tcp = u.FAST_TCP_YAML + "  send_buffer: 64KiB\n  receive_buffer: 64KiB\n  receive_buffer_max: 0\n"
    api = dict(TRUST_API, max_memory_per_user="256KiB")
    with u.ApiDaemon(log_level="info", api_options=api, extra_yaml=tcp) as d:
        host_sink(d, 9000)
        req = f"CONNECT {d.host_address} 9000"
        h = Holder(d, NOBODY, [req, req, req])
        assert h.lines[0].startswith("OK ") and h.lines[1].startswith("OK "), h.lines
        assert h.lines[2] == (f"ERR no-resources the streams of uid {NOBODY} hold 262144 bytes of TCP buffers; "
                              f"a new stream needs 131072 more (api.max_memory_per_user 262144)"), h.lines
        # Root is exempt; another uid has its own share.
        s1, ok = root_request(d.socket_path, req)
        assert ok.startswith("OK "), ok
        other = Holder(d, OTHER, [req])
        assert other.lines[0].startswith("OK "), other.lines
        assert "api: refused uid 65534 (pid " in d.log()
        s1.close()
        other.close()
        h.close()


def test_connect_deny_refuses_with_the_rule_and_deny_wins_over_allow():
    api = dict(TRUST_API, connect_allow="[10.0.0.0/24]", connect_deny='["10.0.0.1/32:1-1023"]')
    with u.ApiDaemon(log_level="info", api_options=api, extra_yaml=u.FAST_TCP_YAML) as d:
        host_sink(d, 9000)
        _, reply = exchange_as(d, NOBODY, f"CONNECT {d.host_address} 22")
        assert reply == (f"ERR permission connect {d.host_address}:22: denied by api.connect_deny rule "
                         f"\"10.0.0.1/32:1-1023\"\n"), reply
        # The rules are the daemon's: root is refused too.
        out = u.api_exchange(d, f"CONNECT {d.host_address} 80\n".encode()).decode()
        assert out.startswith("ERR permission connect 10.0.0.1:80: denied by api.connect_deny rule"), out
        _, reply = exchange_as(d, NOBODY, "CONNECT 192.0.2.1 80")
        assert reply == "ERR permission connect 192.0.2.1:80: not allowed by any api.connect_allow rule\n", reply
        # The CLI reports it as "permission denied" (exit 9).
        r = d.run(as_uid(NOBODY) + u.cli(d, "connect", d.host_address, 22), check=False, timeout=10)
        assert r.returncode == 9, (r.returncode, r.stderr)
        # Allowed: a port above the denied range.
        h = Holder(d, NOBODY, [f"CONNECT {d.host_address} 9000"])
        assert h.lines[0].startswith(f"OK {d.address}:"), h.lines
        h.close()
        s = u.stats(d)
        assert s["api.connect_denied"] == 4, s


def test_socket_file_mode_and_group_decide_who_may_connect():
    with u.ApiDaemon(log_level="info", api_options=TRUST_API) as d:
        st = os.lstat(d.socket_path)
        assert stat.S_ISSOCK(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o660, oct(st.st_mode)
        assert st.st_gid == NOGROUP and st.st_uid == 0, (st.st_uid, st.st_gid)
        _, reply = exchange_as(d, NOBODY, "STATS")  # a member of nogroup
        assert reply.startswith("OK stats\n"), reply
        r = d.run(as_uid(OTHER, OTHER) + [harness.PYTHON, "-c", EXCHANGE, d.socket_path, "STATS"],
                  check=False, timeout=10)
        assert r.returncode != 0 and b"PermissionError" in r.stderr, r.stderr
        assert "lets every local user use the API" not in d.log()
    with u.ApiDaemon(log_level="info", api_options={"socket_mode": '"0666"'}) as d:
        assert stat.S_IMODE(os.lstat(d.socket_path).st_mode) == 0o666
        assert "api.socket_mode 0666 lets every local user use the API" in d.log(), d.log()


def test_a_world_writable_socket_directory_stops_the_daemon():
    d = u.ApiDaemon(log_level="info", start=False, wait_ping=False)
    with d:
        run_dir = os.path.dirname(d.socket_path)
        os.makedirs(run_dir)
        os.chmod(run_dir, 0o777)
        d.expect_exit_status = 1
        try:
            d.start()
            raise AssertionError("tapstackd started with a world-writable socket directory")
        except RuntimeError as e:
            assert "during start-up" in str(e), e
        d.proc.wait(timeout=10)
        log = d.log()
        assert (f"directory {run_dir} is writable by every user (mode 0777) without the sticky bit: "
                "anyone could replace the socket") in log, log
        assert not os.path.exists(d.socket_path)


if __name__ == "__main__":
    harness.require_root()
    harness.run_tests([
        test_accept_on_another_users_port_is_refused_and_steals_nothing,
        test_each_user_sees_only_its_own_streams_and_ids_of_others_do_not_exist,
        test_max_clients_per_user_refuses_the_user_over_it_and_logs_rate_limited,
        test_max_memory_per_user_refuses_the_stream_beyond_the_share,
        test_connect_deny_refuses_with_the_rule_and_deny_wins_over_allow,
        test_socket_file_mode_and_group_decide_who_may_connect,
        test_a_world_writable_socket_directory_stops_the_daemon,
    ])
