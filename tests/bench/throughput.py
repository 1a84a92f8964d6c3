#!/usr/bin/python3
"""Throughput and scale of tapstack against pasta and Linux (issue 5).

Theory of operation
-------------------
One command measures everything and prints a markdown table (also written to
`--out`). Every figure is the median of `--runs` runs with min and max. All
traffic stays inside network namespaces this script creates (names
"tstput-<pid>-..."); they are deleted on any exit (normal, exception,
Ctrl-C, SIGTERM), and those of a run killed outright are reaped by the next.

The same program, tests/bench/tapstack_bench (tapstack_bench.cpp), is both
ends of every path, so only the path differs. "app" is the application
side, "peer" the kernel TCP on the far side of the device:

* tapstack: tapstackd on its TAP in a namespace (tests/netns/harness.py);
  the app is `tapstack_bench --socket` (client library, Unix-socket API);
  the peer is `tapstack_bench --kernel serve` in the same namespace, on the
  TAP's kernel side (host_address). `interface.offloads: true`, plus one
  reference with offloads off (MTU 1500, one stream).
* pasta: namespace H plays the host (a dummy interface with an address and
  a default route for pasta to copy); pasta runs inside H
  (`ip netns exec H pasta --config-net --netns P -t PORTS`) and attaches
  namespace P. The app runs in H and connects to H's own address on a
  forwarded port (not loopback, so pasta does not splice: the data crosses
  its tap); the peer listens in P behind pasta's tap.
* Linux: namespaces "host" (peer) and "stack" (app, `--kernel`) joined by a
  veth pair at the same MTU, with the kernel's default GSO.

pasta's figures are cross-checked with the issue's own tool: after each
pasta transfer, iperf3 (time-based, `--iperf3-seconds`) runs from H to an
`iperf3 -s` in P over the same forwarded path.

The app always opens the connections; "peer → app" means the peer sends
(for pasta: namespace to host), "app → peer" the app sends.

Figures:
* goodput: `--size` bytes (default 1 GiB) over 1 and 4 streams, both
  directions, MTU 1500 and 65520. The byte count is checked at the
  receiver. A transfer still running after `--cap` seconds is stopped and
  its goodput is that of the bytes moved by then (marked †).
* CPU seconds per GiB: utime+stime of tapstackd or pasta (from
  /proc/PID/stat around the transfer) per GiB moved; "ends" is the same
  for the two tapstack_bench processes (their system time includes the
  kernel TCP work done in their context; softirq work is not attributed).
* latency: 1-byte ping-pong, nodelay, p50/p99 in microseconds.
* connection rate: connect, 100-byte request, 100-byte response, the server
  closes, the client reads EOF and closes; sequential, per second.
* 10,000 idle connections: a fresh tapstackd per run; its VmRSS before and
  with them open, and the time to open them one after another.

Not a test: it asserts nothing and is in no Meson test suite.
Run as root: /usr/bin/python3 tests/bench/throughput.py [--quick]
"""
import argparse
import contextlib
import datetime
import inspect
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "netns"))
import harness  # noqa: E402  (also turns SIGTERM into SystemExit, so cleanup runs)
import release_build  # noqa: E402

PREFIX = "tstput"
GiB = 1 << 30
MTUS = (1500, 65520)
STREAMS = (1, 4)
DIRECTIONS = (("recv", "peer → app"), ("send", "app → peer"))
PORTS = {"sink": 5001, "source1": 5002, "source4": 5003, "echo": 5004, "crr": 5005, "hold": 5006}
IPERF3_PORT = 5201  # pasta's cross-check
CLK_TCK = os.sysconf("SC_CLK_TCK")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke check: 64 MiB, 1 run, shorter caps")
    p.add_argument("--runs", type=int, help="runs per figure (default 3; 1 with --quick)")
    p.add_argument("--size", type=int, help="bytes per transfer (default 1 GiB; 64 MiB with --quick)")
    p.add_argument("--cap", type=float, help="seconds a transfer may run before it is stopped and "
                   "reported partial (default 20; 8 with --quick)")
    p.add_argument("--rounds", type=int, default=10000, help="ping-pong rounds per run (default %(default)s)")
    p.add_argument("--crr-count", type=int, default=3000, help="connections per connection-rate run "
                   "(also bounded by 5 s; default %(default)s)")
    p.add_argument("--idle", type=int, default=10000, help="idle connections (default %(default)s)")
    p.add_argument("--iperf3-seconds", type=float, help="length of the pasta cross-check with iperf3, "
                   "0 to skip (default 5; 2 with --quick)")
    p.add_argument("--only", default="goodput,latency,crr,idle",
                   help="comma-separated sections to run (default %(default)s)")
    p.add_argument("--systems", default="tapstack,tapstack-ipv6,tapstack-nooffload,pasta,linux",
                   help="comma-separated systems for goodput (default %(default)s)")
    p.add_argument("--extra-yaml", default="",
                   help="appended to every tapstackd config, \\n for newlines (e.g. a tcp: section)")
    p.add_argument("--tapstackd", help="tapstackd binary (default: build a release one)")
    p.add_argument("--bench", help="tapstack_bench binary (default: build a release one)")
    p.add_argument("--build-dir", default="/tmp/tapstack-throughput-release",
                   help="where to build the release binaries (default %(default)s)")
    p.add_argument("--out", default="throughput.md", help="file for the markdown table (default %(default)s)")
    a = p.parse_args()
    a.runs = a.runs or (1 if a.quick else 3)
    a.size = a.size or ((64 << 20) if a.quick else GiB)
    a.size -= a.size % 4  # four equal shares
    a.cap = a.cap or (8.0 if a.quick else 20.0)
    if a.iperf3_seconds is None:
        a.iperf3_seconds = 2.0 if a.quick else 5.0
    if a.quick:
        a.rounds = min(a.rounds, 2000)
        a.crr_count = min(a.crr_count, 500)
    a.only = set(a.only.split(","))
    a.systems = set(a.systems.split(","))
    return a


def build(build_dir):
    """A release build of tapstackd and tapstack_bench (tests/bench/release_build.py)."""
    return release_build.build(build_dir, ('daemon/tapstackd', 'tests/bench/tapstack_bench'))


# ---- namespaces and processes ---------------------------------------------------

def ip(*args, check=True):
    r = subprocess.run(["ip", *args], timeout=15, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {r.stderr.strip()}")
    return r


def ns_exec(ns, cmd):
    return ["ip", "netns", "exec", ns, *cmd]


def reap_stale():
    """Namespaces of an earlier run of this script that was killed outright."""
    for line in ip("netns", "list", check=False).stdout.splitlines():
        m = re.match(rf"({PREFIX}-(\d+)-\S+)", line)
        if m and not os.path.exists(f"/proc/{m.group(2)}"):
            ip("netns", "delete", m.group(1), check=False)


class Namespaces:
    """Creates namespaces with unique names; deletes them, and kills every
    process started with popen(), on exit."""

    def __init__(self):
        self.created = []
        self.procs = []
        self.closers = []  # tapstackd set-ups (the harness owns their namespaces)

    def add(self, tag):
        name = f"{PREFIX}-{os.getpid()}-{len(self.created)}{tag}"
        ip("netns", "add", name)
        self.created.append(name)
        ip("-n", name, "link", "set", "lo", "up")
        return name

    def popen(self, cmd, **kw):
        p = subprocess.Popen(cmd, start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def close(self):
        for p in self.procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                p.wait(timeout=5)
        self.procs = []
        for fn in reversed(self.closers):
            with contextlib.suppress(Exception):
                fn()
        self.closers = []
        for ns in self.created:
            for _ in range(3):
                if ip("netns", "delete", ns, check=False).returncode == 0:
                    break
                time.sleep(0.2)
            else:
                print(f"throughput: could not delete netns {ns}", file=sys.stderr)
        self.created = []


def cpu_seconds(pid):
    """utime + stime of a process (all its threads), from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        m = re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M)
    return int(m.group(1))


def wait_listening(ns, port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = subprocess.run(ns_exec(ns, ["ss", "-Hltn", f"sport = :{port}"]), stdout=subprocess.PIPE, timeout=5)
        if f":{port}".encode() in r.stdout:
            return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on port {port} in {ns}")


def start_servers(nss, bench, ns, bind, size, api_socket=None):
    """The peer's servers (kernel TCP) in `ns`: one per mode, see PORTS."""
    servers = {}
    for name, port in PORTS.items():
        mode = "source" if name.startswith("source") else name
        cmd = [bench, "--kernel", "serve", str(port), "--mode", mode, "--bind", bind]
        if mode == "source":
            cmd += ["--bytes", str(size // int(name[-1]))]
        servers[name] = nss.popen(ns_exec(ns, cmd), stdin=subprocess.DEVNULL)
    for port in PORTS.values():
        wait_listening(ns, port)
    return servers


# ---- the three systems ----------------------------------------------------------

class BenchDaemon(harness.Daemon):
    """harness.Daemon with interface.offloads and api.max_clients set. The
    api section is the harness's own, so it is edited, not appended; newer
    harnesses take `offloads=` themselves, older ones get the line added."""

    HARNESS_OFFLOADS = "offloads" in inspect.signature(harness.Daemon.__init__).parameters

    def __init__(self, *a, offloads=True, max_clients=None, **kw):
        self.bench_offloads = offloads
        self.max_clients = max_clients
        if self.HARNESS_OFFLOADS:
            kw["offloads"] = offloads
        super().__init__(*a, **kw)

    def config_text(self):
        text = super().config_text()
        if not self.HARNESS_OFFLOADS:
            line = f"  name: {self.tap}\n"
            assert line in text, "the harness's interface section changed"
            text = text.replace(line, line + f"  offloads: {'true' if self.bench_offloads else 'false'}\n")
        if self.max_clients:
            line = f"  socket: {self.socket_path}\n"
            assert line in text, "the harness's api section changed"
            text = text.replace(line, line + f"  max_clients: {self.max_clients}\n")
        return text


class TapstackSystem:
    """tapstackd on its TAP; with ipv6=True every stream goes over IPv6
    (fd3e:dfa0:4efb:1::2 and the host side's ::1; TSO is IPv4 only, so
    IPv6 segments leave MSS-sized)."""

    def __init__(self, a, tapstackd, bench, nss, mtu, offloads=True, label=None, max_clients=None, ipv6=False):
        self.label = label or "tapstack"
        self.bench, self.nss, self.mtu = bench, nss, mtu
        v6 = {"address6": "fd3e:dfa0:4efb:1::2/64", "host_address6": "fd3e:dfa0:4efb:1::1/64"} if ipv6 else {}
        self.daemon = BenchDaemon(tapstackd, mtu=mtu, offloads=offloads, log_level="warning",
                                  address="10.0.0.2/24", host_address="10.0.0.1/24", max_clients=max_clients,
                                  extra_yaml=a.extra_yaml.replace("\\n", "\n"), **v6)
        self.d = self.daemon.__enter__()
        self.closed = False
        nss.closers.append(self.close)
        self.host = self.d.host_address6 if ipv6 else self.d.host_address
        try:
            if ipv6:
                self.d.wait_ping6()
            self.servers = start_servers(nss, bench, self.d.ns, self.host, a.size)
        except BaseException:
            self.close()
            raise
        self.daemon_pid = self.d.pid

    def client(self, args):
        return ns_exec(self.d.ns, [self.bench, "--socket", self.d.socket_path, *args])

    def target(self):
        return self.host

    def close(self):
        if not self.closed:
            self.closed = True
            self.daemon.expect_exit_status = None  # a figure, not a test: report, do not raise
            self.daemon.__exit__(None, None, None)
            if self.daemon.exit_status not in (0, None):
                log(f"{self.label}: tapstackd exit status {self.daemon.exit_status}")


class LinuxSystem:
    label = "Linux"

    def __init__(self, a, bench, nss, mtu):
        self.bench, self.mtu = bench, mtu
        self.host = nss.add(f"lx{mtu}-host")
        self.stack = nss.add(f"lx{mtu}-stack")
        ip("-n", self.host, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns", self.stack)
        for ns, dev, addr in ((self.host, "veth0", "10.77.0.1"), (self.stack, "veth1", "10.77.0.2")):
            ip("-n", ns, "link", "set", "dev", dev, "mtu", str(mtu))
            ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            ip("-n", ns, "link", "set", "dev", dev, "up")
        subprocess.run(ns_exec(self.stack, ["ping", "-c", "1", "-W", "2", "10.77.0.1"]), check=True,
                       stdout=subprocess.DEVNULL, timeout=10)
        self.servers = start_servers(nss, bench, self.host, "10.77.0.1", a.size)
        self.daemon_pid = None

    def client(self, args):
        return ns_exec(self.stack, [self.bench, "--kernel", *args])

    def target(self):
        return "10.77.0.1"

    def close(self):
        pass


class PastaSystem:
    label = "pasta"
    ADDR = "10.91.0.1"

    def __init__(self, a, bench, nss, mtu):
        self.bench, self.mtu = bench, mtu
        self.outer = nss.add(f"pa{mtu}-host")
        self.inner = nss.add(f"pa{mtu}-ns")
        # Something for pasta to copy: an interface with an address and a
        # default route (via an address nobody answers: no traffic goes
        # there). A veth pair with both ends in H, as the kernel may lack
        # the dummy driver.
        ip("-n", self.outer, "link", "add", "hv0", "type", "veth", "peer", "name", "hv1")
        ip("-n", self.outer, "addr", "add", f"{self.ADDR}/24", "dev", "hv0")
        ip("-n", self.outer, "link", "set", "hv1", "up")
        ip("-n", self.outer, "link", "set", "hv0", "up")
        ip("-n", self.outer, "route", "add", "default", "via", "10.91.0.254")
        ports = f"{min(PORTS.values())}-{max(PORTS.values())},{IPERF3_PORT}"
        self.pasta = nss.popen(ns_exec(self.outer, ["pasta", "-f", "-q", "-4", "--runas", "0", "--config-net", "--mtu", str(mtu),
                                                    "-t", ports, "-u", "none", "-T", "none", "-U", "none",
                                                    "--netns", f"/run/netns/{self.inner}"]),
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while True:
            if self.pasta.poll() is not None:
                raise RuntimeError(f"pasta exited {self.pasta.returncode}: {self.pasta.stderr.read().decode()}")
            r = ip("-n", self.inner, "-o", "-4", "addr", "show", check=False)
            if self.ADDR in r.stdout:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("pasta did not configure its namespace within 10 s")
            time.sleep(0.05)
        # The tap's MTU: set here too, in case this pasta only announces it.
        dev = re.search(r"^\d+:\s+(\S+)\s+inet " + re.escape(self.ADDR), r.stdout, re.M).group(1)
        ip("-n", self.inner, "link", "set", "dev", dev, "mtu", str(mtu))
        self.servers = start_servers(nss, bench, self.inner, "0.0.0.0", a.size)
        if a.iperf3_seconds > 0:
            nss.popen(ns_exec(self.inner, ["iperf3", "-s", "-p", str(IPERF3_PORT)]), stdin=subprocess.DEVNULL,
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_listening(self.inner, IPERF3_PORT)
        self.daemon_pid = self.pasta.pid  # `ip netns exec` execs pasta (-f: no fork)

    def client(self, args):
        return ns_exec(self.outer, [self.bench, "--kernel", *args])

    def iperf3(self, verb, streams, seconds):
        """The cross-check with the issue's tool: iperf3 in both namespaces,
        time-based; -R when the peer sends. Returns the receiver's Gbit/s."""
        cmd = ["iperf3", "-c", self.ADDR, "-p", str(IPERF3_PORT), "-t", f"{seconds:g}", "-P", str(streams), "-J"]
        if verb == "recv":
            cmd.append("-R")
        r = subprocess.run(ns_exec(self.outer, cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=seconds + 60, text=True, stdin=subprocess.DEVNULL)
        out = json.loads(r.stdout) if r.stdout.strip().startswith("{") else {}
        if r.returncode != 0 or "error" in out:
            raise RuntimeError(f"iperf3 exit {r.returncode}: {out.get('error', r.stderr.strip())}")
        return out["end"]["sum_received"]["bits_per_second"] / 1e9

    def target(self):
        return self.ADDR

    def close(self):
        pass


# ---- measuring ----------------------------------------------------------------

def run_client(system, args, timeout):
    """Runs the app side; returns its JSON answer or raises RuntimeError."""
    r = subprocess.run(system.client(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                       text=True, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise RuntimeError(f"exit {r.returncode}: {r.stderr.strip()}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def transfer(a, system, verb, streams):
    """One measured transfer; returns dict(gbit, partial, daemon_cpu, ends_cpu, bytes)."""
    port = PORTS["sink"] if verb == "send" else PORTS[f"source{streams}"]
    server = system.servers["sink" if verb == "send" else f"source{streams}"]
    d_pid = system.daemon_pid
    d0 = cpu_seconds(d_pid) if d_pid else 0.0
    s0 = cpu_seconds(server.pid)
    res = run_client(system, [verb, system.target(), str(port), "--bytes", str(a.size), "--streams", str(streams),
                              "--max-seconds", str(a.cap)], timeout=a.cap + 120)
    s1 = cpu_seconds(server.pid)
    d1 = cpu_seconds(d_pid) if d_pid else 0.0
    gib = res["bytes"] / GiB
    return {"gbit": res["bytes"] * 8 / res["seconds"] / 1e9, "partial": not res["complete"],
            "daemon_cpu": (d1 - d0) / gib if d_pid and gib else None,
            "ends_cpu": (res["cpu_seconds"] + s1 - s0) / gib if gib else None}


def stat_text(values, fmt="{:.2f}"):
    if not values:
        return "failed"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt.format(med)
    return f"{fmt.format(med)} [{fmt.format(min(values))}–{fmt.format(max(values))}]"


class Results:
    def __init__(self):
        self.cells = {}     # key -> list of values
        self.partial = set()
        self.errors = []

    def add(self, key, value):
        self.cells.setdefault(key, []).append(value)

    def get(self, key):
        return self.cells.get(key, [])

    def median(self, key):
        v = self.get(key)
        return statistics.median(v) if v else None

    def text(self, key, fmt="{:.2f}"):
        t = stat_text(self.get(key), fmt)
        return t + (" †" if key in self.partial and self.get(key) else "")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def goodput_section(a, tapstackd, bench, nss, res):
    for mtu in MTUS:
        systems = []
        makers = [("tapstack", lambda: TapstackSystem(a, tapstackd, bench, nss, mtu)),
                  ("tapstack-ipv6", lambda: TapstackSystem(a, tapstackd, bench, nss, mtu, label="tapstack-ipv6",
                                                           ipv6=True)),
                  ("tapstack-nooffload", lambda: TapstackSystem(a, tapstackd, bench, nss, mtu, offloads=False,
                                                                label="tapstack-nooffload")),
                  ("pasta", lambda: PastaSystem(a, bench, nss, mtu)),
                  ("linux", lambda: LinuxSystem(a, bench, nss, mtu))]
        for name, make in makers:
            if name not in a.systems or (name == "tapstack-nooffload" and mtu != 1500):
                continue
            try:
                systems.append(make())
            except Exception as e:  # report it, measure the others
                res.errors.append(f"{name} MTU {mtu}: set-up failed: {e}")
                log(f"{name} MTU {mtu}: set-up failed: {e}")
        for verb, _ in DIRECTIONS:
            for streams in STREAMS:
                # Runs alternate between the systems, so load drifting over
                # time hits all of them alike.
                for run in range(a.runs):
                    for s in systems:
                        if s.label == "tapstack-nooffload" and streams != 1:
                            continue
                        key = (s.label, mtu, verb, streams)
                        try:
                            r = transfer(a, s, verb, streams)
                        except Exception as e:  # one failed run must not end the benchmark
                            res.errors.append(f"{s.label} MTU {mtu} {verb} {streams} stream(s) run {run + 1}: {e}")
                            log(f"FAILED {key}: {e}")
                            continue
                        res.add(("gbit",) + key, r["gbit"])
                        if r["partial"]:
                            res.partial.add(("gbit",) + key)
                        if r["daemon_cpu"] is not None:
                            res.add(("dcpu",) + key, r["daemon_cpu"])
                        if r["ends_cpu"] is not None:
                            res.add(("ecpu",) + key, r["ends_cpu"])
                        log(f"{s.label:18} MTU {mtu:5} {verb} x{streams}: {r['gbit']:.2f} Gbit/s"
                            f"{' (partial)' if r['partial'] else ''}")
                        if s.label == "pasta" and a.iperf3_seconds > 0:
                            try:
                                g = s.iperf3(verb, streams, a.iperf3_seconds)
                                res.add(("gbit", "pasta-iperf3", mtu, verb, streams), g)
                                log(f"{'pasta (iperf3)':18} MTU {mtu:5} {verb} x{streams}: {g:.2f} Gbit/s")
                            except Exception as e:
                                res.errors.append(f"pasta iperf3 MTU {mtu} {verb} {streams} stream(s): {e}")
                                log(f"FAILED pasta iperf3: {e}")
        for s in systems:
            s.close()


def latency_and_crr_section(a, tapstackd, bench, nss, res):
    systems = []
    try:
        systems = [TapstackSystem(a, tapstackd, bench, nss, 1500), LinuxSystem(a, bench, nss, 1500)]
    except Exception as e:
        res.errors.append(f"latency/crr set-up failed: {e}")
        log(f"latency/crr set-up failed: {e}")
    for run in range(a.runs):
        for s in systems:
            if "latency" in a.only:
                try:
                    r = run_client(s, ["pingpong", s.target(), str(PORTS["echo"]), "--rounds", str(a.rounds)],
                                   timeout=120)
                    res.add(("p50", s.label), r["p50_us"])
                    res.add(("p99", s.label), r["p99_us"])
                    log(f"{s.label:10} ping-pong p50 {r['p50_us']} µs p99 {r['p99_us']} µs")
                except Exception as e:
                    res.errors.append(f"{s.label} ping-pong run {run + 1}: {e}")
                    log(f"FAILED ping-pong {s.label}: {e}")
            if "crr" in a.only:
                try:
                    r = run_client(s, ["crr", s.target(), str(PORTS["crr"]), "--count", str(a.crr_count),
                                       "--max-seconds", "5"], timeout=120)
                    res.add(("crr", s.label), r["per_second"])
                    log(f"{s.label:10} connection rate {r['per_second']:.0f}/s ({r['connections']} connections)")
                except Exception as e:
                    res.errors.append(f"{s.label} connection rate run {run + 1}: {e}")
                    log(f"FAILED crr {s.label}: {e}")
    for s in systems:
        s.close()


def idle_section(a, tapstackd, bench, nss, res):
    """A fresh daemon per run: RSS before and with a.idle idle connections."""
    for run in range(a.runs):
        s = None
        try:
            # The default api.max_clients (16384) holds 10,000; more need a raise.
            s = TapstackSystem(a, tapstackd, bench, nss, 1500,
                               max_clients=a.idle + 1000 if a.idle + 1000 > 16384 else None)
            before = vm_rss_kib(s.daemon_pid)
            hold = subprocess.Popen(s.client(["hold", s.target(), str(PORTS["hold"]), "--count", str(a.idle)]),
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True, text=True)
            try:
                line = hold.stdout.readline()
                if not line:
                    err = hold.stderr.read()
                    raise RuntimeError(f"hold exited {hold.wait(timeout=10)}: {err.strip()}")
                opened = json.loads(line)
                time.sleep(0.5)  # let the daemon settle (delayed ACKs, buffers)
                with_idle = vm_rss_kib(s.daemon_pid)
                hold.stdin.close()
                hold.wait(timeout=60)
            finally:
                if hold.poll() is None:
                    os.killpg(hold.pid, signal.SIGKILL)
                    hold.wait()
            res.add(("rss0",), before / 1024)
            res.add(("rss",), with_idle / 1024)
            res.add(("open",), opened["open_seconds"])
            log(f"idle: {opened['connections']} connections in {opened['open_seconds']:.2f} s; "
                f"VmRSS {before / 1024:.1f} -> {with_idle / 1024:.1f} MiB")
        except Exception as e:
            res.errors.append(f"{a.idle} idle connections run {run + 1}: {e}")
            log(f"FAILED idle connections: {e}")
        finally:
            if s:
                s.close()


# ---- the report -------------------------------------------------------------------

def ratio(x, y):
    return f"{x / y:.2f}" if x is not None and y else "–"


def verdict(ok):
    return "met" if ok else "**missed**"


def report(a, res, started, wall, loads, command):
    L = []
    size = f"{a.size / GiB:g} GiB" if a.size >= GiB else f"{a.size >> 20} MiB"
    if "goodput" in a.only:
        goodput_tables(a, res, size, L)
    if a.only & {"latency", "crr", "idle"}:
        scale_table(a, res, L)
    targets_table(a, res, L)
    L.append(f"Command (as root, from the repository root): `{command}`")
    L.append("")
    L.append(f"Run {started:%Y-%m-%d %H:%M} UTC on {platform.node()}, Linux {platform.release()}, "
             f"{os.cpu_count()} CPUs; wall time {wall / 60:.1f} min; load average at start {loads[0]:.2f}, "
             f"at end {loads[1]:.2f}.")
    if res.errors:
        L.append("")
        L.append("Failed runs:")
        L.append("")
        L += [f"- {e}" for e in res.errors]
    return "\n".join(L) + "\n"


def goodput_tables(a, res, size, L):
    L.append(f"Goodput of one {size} transfer, Gbit/s: median [min–max] of {a.runs} run(s). "
             f"† = at least one run was stopped after {a.cap:g} s and counts the bytes moved by then."
             + (f" \"pasta, iperf3\": a cross-check of the pasta column with iperf3 in both namespaces, "
                f"{a.iperf3_seconds:g} s per run, not a fixed size." if a.iperf3_seconds > 0 else ""))
    L.append("")
    L.append("| MTU | streams | direction | tapstack | pasta | Linux (veth) | tapstack/pasta | tapstack/Linux "
             "| tapstack, offloads off | pasta, iperf3 | tapstack, IPv6 | IPv6/IPv4 |")
    L.append("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for mtu in MTUS:
        for streams in STREAMS:
            for verb, label in DIRECTIONS:
                k = lambda s: ("gbit", s, mtu, verb, streams)  # noqa: E731
                off = res.text(k("tapstack-nooffload")) if streams == 1 and mtu == 1500 else ""
                L.append(f"| {mtu} | {streams} | {label} | {res.text(k('tapstack'))} | {res.text(k('pasta'))} "
                         f"| {res.text(k('Linux'))} | {ratio(res.median(k('tapstack')), res.median(k('pasta')))} "
                         f"| {ratio(res.median(k('tapstack')), res.median(k('Linux')))} | {off} "
                         f"| {res.text(k('pasta-iperf3')) if res.get(k('pasta-iperf3')) else ''} "
                         f"| {res.text(k('tapstack-ipv6'))} "
                         f"| {ratio(res.median(k('tapstack-ipv6')), res.median(k('tapstack')))} |")
    L.append("")
    L.append("CPU seconds per GiB moved (median): the daemon (tapstackd or pasta), and the two ends "
             "(both tapstack_bench processes).")
    L.append("")
    L.append("| MTU | streams | direction | tapstackd | tapstack ends | pasta | pasta ends | Linux ends "
             "| tapstackd, offloads off |")
    L.append("|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for mtu in MTUS:
        for streams in STREAMS:
            for verb, label in DIRECTIONS:
                def c(kind, s):
                    return stat_text(res.get((kind, s, mtu, verb, streams)), "{:.2f}").split(" ")[0] \
                        if res.get((kind, s, mtu, verb, streams)) else "–"
                off = c("dcpu", "tapstack-nooffload") if streams == 1 and mtu == 1500 else ""
                L.append(f"| {mtu} | {streams} | {label} | {c('dcpu', 'tapstack')} | {c('ecpu', 'tapstack')} "
                         f"| {c('dcpu', 'pasta')} | {c('ecpu', 'pasta')} | {c('ecpu', 'Linux')} | {off} |")
    L.append("")


def scale_table(a, res, L):
    L.append(f"Request/response and scale (MTU 1500, offloads on), median [min–max] of {a.runs} run(s):")
    L.append("")
    L.append("| figure | tapstack | Linux (veth) | tapstack/Linux |")
    L.append("|---|---:|---:|---:|")
    for key, name in (("p50", "1-byte ping-pong p50, µs"), ("p99", "1-byte ping-pong p99, µs"),
                      ("crr", "connections per second (connect, 100 B, 100 B, close)")):
        fmt = "{:.0f}" if key == "crr" else "{:.1f}"
        L.append(f"| {name} | {res.text((key, 'tapstack'), fmt)} | {res.text((key, 'Linux'), fmt)} "
                 f"| {ratio(res.median((key, 'tapstack')), res.median((key, 'Linux')))} |")
    L.append(f"| tapstackd VmRSS, idle, MiB | {res.text(('rss0',), '{:.1f}')} | | |")
    L.append(f"| tapstackd VmRSS with {a.idle} idle connections, MiB | {res.text(('rss',), '{:.1f}')} | | |")
    L.append(f"| time to open {a.idle} connections, s | {res.text(('open',), '{:.2f}')} | | |")
    L.append("")
    L.append("The idle-connection daemon runs with its default configuration unless more than 15,384 "
             "connections are asked for (`api.max_clients` is raised then); "
             "ping-pong and connection rate use the same veth arrangement as the goodput table at MTU 1500.")
    L.append("")


def targets_table(a, res, L):
    L.append("Targets (issue 5), from the medians of this run:")
    L.append("")
    L.append("| target | figures | verdict |")
    L.append("|---|---|---|")

    def row(name, x, y, unit, ok, extra=""):
        if x is None or not y:
            L.append(f"| {name} | not measured | – |")
        else:
            L.append(f"| {name} | {x:.2f} vs {y:.2f} {unit}{extra(x, y) if extra else ''} | {verdict(ok(x, y))} |")

    for verb, label in DIRECTIONS:
        t, p, lx = (res.median(("gbit", s, 1500, verb, 1)) for s in ("tapstack", "pasta", "Linux"))
        row(f"1 stream, MTU 1500, {label}: ≥ 0.6 × Linux", t, lx, "Gbit/s", lambda x, y: x >= 0.6 * y,
            lambda x, y: f" ({x / y:.2f})")
        row(f"1 stream, MTU 1500, {label}: ≥ 5 × pasta", t, p, "Gbit/s", lambda x, y: x >= 5 * y,
            lambda x, y: f" ({x / y:.1f}×)")
    for streams in STREAMS:
        for verb, label in DIRECTIONS:
            t, p = (res.median(("gbit", s, 65520, verb, streams)) for s in ("tapstack", "pasta"))
            row(f"{streams} stream(s), MTU 65520, {label}: ≥ pasta", t, p, "Gbit/s", lambda x, y: x >= y)
    row(f"{a.idle} idle connections: VmRSS < 100 MiB", res.median(("rss",)), 100, "MiB", lambda x, y: x < y)
    row("latency p50 ≤ 2 × Linux", res.median(("p50", "tapstack")), res.median(("p50", "Linux")), "µs",
        lambda x, y: x <= 2 * y)
    L.append("")


def main():
    a = parse_args()
    harness.require_root()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by tapstackd and tapstack_bench
    for tool in ("pasta",):
        if "pasta" in a.systems and shutil.which(tool) is None:
            sys.exit(f"throughput: {tool} not found (Debian package passt); or leave it out with --systems")
    if a.tapstackd and a.bench:
        tapstackd, bench = a.tapstackd, a.bench
    else:
        log(f"building release binaries in {a.build_dir} ...")
        tapstackd, bench = build(a.build_dir)
    reap_stale()
    command = " ".join(["/usr/bin/python3", os.path.relpath(os.path.abspath(sys.argv[0]), ROOT), *sys.argv[1:]])
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.monotonic()
    load0 = os.getloadavg()[0]
    res = Results()
    nss = Namespaces()
    try:
        if "goodput" in a.only:
            goodput_section(a, tapstackd, bench, nss, res)
        if a.only & {"latency", "crr"}:
            latency_and_crr_section(a, tapstackd, bench, nss, res)
        if "idle" in a.only:
            idle_section(a, tapstackd, bench, nss, res)
    finally:
        nss.close()
    text = report(a, res, started, time.monotonic() - t0, (load0, os.getloadavg()[0]), command)
    with open(a.out, "w") as f:
        f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
