#!/usr/bin/python3
"""Goodput of tapstack against the Linux kernel's own TCP on a lossy link.

Theory of operation
-------------------
Two set-ups, each in network namespaces this script creates and deletes
(also on failure, Ctrl-C or SIGTERM):

* tapstack: tapstackd on its TAP in a namespace (tests/netns/harness.py);
  the namespace's Linux TCP is the peer (`nc`), the application on the
  daemon's side is the `tapstack` CLI (stdin/stdout to the API stream).
* Linux: two namespaces joined by a veth pair. Namespace "host" plays the
  kernel peer exactly as above; namespace "stack" plays tapstack's part
  with the kernel's TCP and `nc`. Both veth ends carry one frame per
  packet, like the TAP. Known artefact: a veth hands each packet to the
  receiving CPU's backlog, so on several CPUs one-frame packets arrive
  reordered now and then and Linux retransmits spuriously (measured at 0%
  loss: ~4000 retransmissions of 256 MiB, every one answered by a D-SACK,
  no drop anywhere). The TAP path does not reorder.
* Linux (veth, GSO), a reference column: the same, but the veth keeps the
  kernel's default GSO (64 KiB packets, few reorderings); a dropped packet
  is then a burst of up to 44 frames, so it is not the same lossy link.

In both, the same loss rules sit on the host side's interface (the TAP's
kernel side, or the host's veth end): nftables `numgen random mod 1000 < N`
on the input hook and, so that the loss is real and not a local send
error the kernel simply retries, on the device's egress hook diverting to
a dead veth; every interface carries one frame per packet (gso_max_segs 1).
Details and the reasons: tests/netns/lossy/lossy_util.py.

A transfer: the receiver listens (`tapstack listen` or `nc -l`, piped into
`wc -c`), the sender (`nc -N` or `tapstack connect`) sends the whole file
of random bytes and half-closes; the time runs from starting the sender to
the receiver's exit after EOF, and the byte count must be exact (else the
run counts as failed). Goodput = bytes / time. For every loss rate and
direction the runs alternate between the two stacks, so load drifting over
time hits both alike. The table gives the median with min and max, and the
ratio of the medians, tapstack / Linux.

Evidence for the reasons of a gap: the daemon's counters (`tapstack stats`)
and the kernel's (`nstat`) are sampled around each run; their medians per
cell are written under the table.

Not a test: it asserts nothing about speed and is in no Meson test suite.
Run as root: /usr/bin/python3 tests/bench/goodput.py [--quick] [--runs N]
It builds a release tapstackd unless --tapstackd/--tapstack are given.
"""
import argparse
import contextlib
import datetime
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "netns", "lossy"))
import lossy_util as lu  # noqa: E402 (also puts harness and tcp_util on the path)
import harness  # noqa: E402
import release_build  # noqa: E402
import tcp_util as u  # noqa: E402

DAEMON_COUNTERS = ("tcp.tx_segments", "tcp.rx_segments", "tcp.retransmissions", "tcp.rto_expiries",
                   "tcp.fast_retransmits", "tcp.sack_recoveries", "tcp.sack_retransmits", "tcp.rx_out_of_order",
                   "tcp.rx_duplicate_segments", "tcp.rx_dup_acks", "tcp.window_updates", "tcp.persist_probes")
KERNEL_COUNTERS = ("TcpOutSegs", "TcpInSegs", "TcpRetransSegs", "TcpExtTCPSackRecovery", "TcpExtTCPRenoRecovery",
                   "TcpExtTCPLossProbes", "TcpExtTCPTimeouts", "TcpExtTCPSACKReorder", "TcpExtTCPDSACKRecv",
                   "TcpExtTCPOFOQueue", "TcpExtTCPLostRetransmit", "TcpExtTCPSpuriousRTOs", "TcpExtTCPSpuriousRtxHostQueues",
                   "TcpExtTCPSackShifted", "TcpExtTCPDSACKOldSent", "TcpExtTCPRcvQDrop")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="1 run of 32 MiB per cell")
    p.add_argument("--runs", type=int, help="runs per cell (default 3; 1 with --quick)")
    p.add_argument("--size", type=int, help="bytes per transfer (default 256 MiB; 32 MiB with --quick)")
    p.add_argument("--loss", default="0,0.1,1,5", help="loss rates in percent, comma-separated")
    p.add_argument("--tapstackd", help="tapstackd binary (default: build a release one)")
    p.add_argument("--tapstack", help="tapstack CLI binary (default: build a release one)")
    p.add_argument("--build-dir", default="/tmp/tapstack-bench-release",
                   help="where to build the release binaries (default %(default)s)")
    p.add_argument("--timeout", type=float, default=300, help="seconds one transfer may take")
    p.add_argument("--out", default="goodput.md", help="file for the markdown table (default %(default)s)")
    p.add_argument("--extra-yaml", default="", help="appended to the daemon's config")
    p.add_argument("--no-gso-reference", action="store_true",
                   help="skip the reference column of Linux with the veth's default GSO")
    a = p.parse_args()
    a.runs = a.runs or (1 if a.quick else 3)
    a.size = a.size or ((32 if a.quick else 256) << 20)
    a.losses = [float(x) for x in a.loss.split(",")]
    for loss in a.losses:
        if not 0 <= loss <= 100 or abs(loss * 10 - round(loss * 10)) > 1e-9:
            p.error(f"loss {loss}%: must be within 0..100 in steps of 0.1")
    return a


def build(build_dir):
    """A release build of the two binaries (tests/bench/release_build.py)."""
    return release_build.build(build_dir, ('daemon/tapstackd', 'daemon/cli/tapstack'))


def ns_exec(ns, cmd):
    return ["ip", "netns", "exec", ns, *cmd]


def nstat(ns):
    r = subprocess.run(ns_exec(ns, ["nstat", "-asz", *KERNEL_COUNTERS]), stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, timeout=10, text=True)
    out = {}
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in KERNEL_COUNTERS:
            out[parts[0]] = int(parts[1])
    return out


def wait_listening(ns, port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = subprocess.run(ns_exec(ns, ["ss", "-Hltn", f"sport = :{port}"]), stdout=subprocess.PIPE, timeout=5)
        if f":{port}".encode() in r.stdout:
            return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on port {port} in {ns}")


class Transfer:
    """One measured transfer: receiver pipeline, then sender; the receiver's
    `wc -c` must report exactly `size`."""

    def __init__(self, ns, receiver_cmd, sender_cmd, src, size, timeout, ready):
        self.ns, self.receiver_cmd, self.sender_cmd = ns, receiver_cmd, sender_cmd
        self.src, self.size, self.timeout, self.ready = src, size, timeout, ready

    def run(self):
        """Returns seconds, or raises RuntimeError with the reason."""
        shell = " ".join(self.receiver_cmd) + " | wc -c"
        recv = subprocess.Popen(ns_exec(self.ns, ["sh", "-c", shell]), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
        send = None
        try:
            self.ready()
            with open(self.src, "rb") as f:
                t0 = time.monotonic()
                send = subprocess.Popen(ns_exec(self.ns, self.sender_cmd), stdin=f, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, start_new_session=True)
            out, rerr = recv.communicate(timeout=self.timeout)
            elapsed = time.monotonic() - t0
            _, serr = send.communicate(timeout=30)
            got = int(out.split()[0]) if out.split() else -1
            if send.returncode != 0:
                raise RuntimeError(f"sender exited {send.returncode}: {serr.decode(errors='replace').strip()}")
            if got != self.size:
                raise RuntimeError(f"receiver got {got} bytes of {self.size}: {rerr.decode(errors='replace')}")
            return elapsed
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"no EOF at the receiver within {self.timeout:.0f}s")
        finally:
            for p in (send, recv):
                if p is not None and p.poll() is None:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()


class TapstackSetup:
    name = "tapstack"

    def __init__(self, tapstackd, tapstack, extra_yaml):
        os.environ["TAPSTACK"] = tapstack  # tcp_util.cli() reads it
        self.daemon = harness.Daemon(tapstackd, log_level="warning", extra_yaml=extra_yaml)
        self.port = 30000

    def __enter__(self):
        self.d = self.daemon.__enter__()
        lu.apply_loss(self.d.ns, self.d.tap, 0)
        return self

    def __exit__(self, *exc):
        return self.daemon.__exit__(*exc)

    def set_loss(self, permille):
        lu.apply_loss(self.d.ns, self.d.tap, permille)

    def counters(self):
        s = u.stats(self.d)
        out = {k: s.get(k, 0) for k in DAEMON_COUNTERS}
        out.update({f"host.{k}": v for k, v in nstat(self.d.ns).items()})
        return out

    def drops(self):
        return lu.loss_counters(self.d.ns)

    def transfer(self, direction, src, size, timeout):
        d = self.d
        self.port += 1
        port = str(self.port)
        if direction == "to":  # kernel sends, the daemon's application receives
            before = u.stats(d).get("api.listeners", 0)
            return Transfer(d.ns, u.cli(d, "listen", port), ["nc", "-N", d.address, port], src, size, timeout,
                            lambda: u.wait_for(lambda: u.stats(d).get("api.listeners", 0) > before, 10,
                                               "the tapstack listener"))
        return Transfer(d.ns, ["nc", "-l", d.host_address, port], u.cli(d, "connect", d.host_address, port), src,
                        size, timeout, lambda: wait_listening(d.ns, port))


class LinuxSetup:
    """Namespaces "host" (the kernel peer, with the loss rules) and "stack"
    (the kernel standing in for tapstack), one veth pair between them.
    per_frame=False: the veth keeps the kernel's default GSO, so the loss
    rules see (and drop) up to 64 KiB bursts; a reference only."""

    def __init__(self, per_frame=True):
        self.per_frame = per_frame
        self.name = "Linux" if per_frame else "Linux-GSO"
        tag = f"tsbench-{os.getpid()}-{'f' if per_frame else 'g'}"
        self.host, self.stack = f"{tag}-host", f"{tag}-stack"
        self.port = 40000
        self.created = []
        self.veth_net = "10.77.0" if per_frame else "10.78.0"
        self.host_addr, self.stack_addr = f"{self.veth_net}.1", f"{self.veth_net}.2"

    def __enter__(self):
        try:
            for ns in (self.host, self.stack):
                subprocess.run(["ip", "netns", "add", ns], check=True)
                self.created.append(ns)
                lu.ns_run(ns, ["ip", "link", "set", "lo", "up"])
            lu.ns_run(self.host, ["ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1",
                                  "netns", self.stack])
            for ns, dev, addr in ((self.host, "veth0", self.host_addr), (self.stack, "veth1", self.stack_addr)):
                lu.ns_run(ns, ["ip", "link", "set", "dev", dev, "mtu", "1500"])
                if self.per_frame:
                    lu.one_frame_per_packet(ns, dev)
                lu.ns_run(ns, ["ip", "addr", "add", f"{addr}/24", "dev", dev])
                lu.ns_run(ns, ["ip", "link", "set", "dev", dev, "up"])
            lu.ns_run(self.host, ["ping", "-c", "1", "-W", "2", self.stack_addr])
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        for ns in self.created:
            subprocess.run(["ip", "netns", "delete", ns], stderr=subprocess.DEVNULL)
        self.created = []
        return False

    def set_loss(self, permille):
        lu.apply_loss(self.host, "veth0", permille, per_frame=self.per_frame)

    def counters(self):
        h, s = nstat(self.host), nstat(self.stack)
        return {**{f"host.{k}": v for k, v in h.items()}, **{f"stack.{k}": v for k, v in s.items()}}

    def drops(self):
        return lu.loss_counters(self.host)

    def transfer(self, direction, src, size, timeout):
        self.port += 1
        port = str(self.port)
        if direction == "to":  # host sends, "stack" receives
            return Transfer(self.stack, ["nc", "-l", self.stack_addr, port],
                            ns_exec(self.host, ["nc", "-N", self.stack_addr, port]), src, size, timeout,
                            lambda: wait_listening(self.stack, port))
        return Transfer(self.host, ["nc", "-l", self.host_addr, port],
                        ns_exec(self.stack, ["nc", "-N", self.host_addr, port]), src, size, timeout,
                        lambda: wait_listening(self.host, port))


def delta(after, before):
    return {k: after.get(k, 0) - before.get(k, 0) for k in after}


def mbit(size, seconds):
    return size * 8 / seconds / 1e6


def cell_text(values):
    if not values:
        return "failed"
    return f"{statistics.median(values):.0f} [{min(values):.0f}–{max(values):.0f}]"


DIRECTIONS = {"to": "kernel → stack", "from": "stack → kernel"}


def main():
    a = parse_args()
    harness.require_root()
    if a.tapstackd and a.tapstack:
        tapstackd, tapstack = a.tapstackd, a.tapstack
    else:
        print(f"building release binaries in {a.build_dir} ...", flush=True)
        tapstackd, tapstack = build(a.build_dir)
    load_start = os.getloadavg()
    started = datetime.datetime.now(datetime.timezone.utc)
    workdir = tempfile.mkdtemp(prefix="tapstack-bench-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    results = {}   # (loss, direction, stack) -> [Mbit/s]
    evidence = {}  # (loss, direction, stack) -> [counter deltas]
    failures = []
    try:
        src = os.path.join(workdir, "data.bin")
        with open(src, "wb") as f:
            left = a.size
            while left:
                chunk = os.urandom(min(left, 1 << 20))
                f.write(chunk)
                left -= len(chunk)
        with contextlib.ExitStack() as stack:
            setups = [stack.enter_context(TapstackSetup(tapstackd, tapstack, a.extra_yaml)),
                      stack.enter_context(LinuxSetup())]
            if not a.no_gso_reference:
                setups.append(stack.enter_context(LinuxSetup(per_frame=False)))
            done, total = 0, len(a.losses) * a.runs * len(DIRECTIONS) * len(setups)
            for loss in a.losses:
                permille = int(round(loss * 10))
                for setup in setups:
                    setup.set_loss(permille)
                for run in range(a.runs):
                    for direction in DIRECTIONS:
                        for setup in setups:
                            key = (loss, direction, setup.name)
                            before, drops_before = setup.counters(), setup.drops()
                            try:
                                secs = setup.transfer(direction, src, a.size, a.timeout).run()
                            except RuntimeError as e:
                                failures.append(f"{setup.name}, {loss:g}% loss, {DIRECTIONS[direction]}, "
                                                f"run {run + 1}: {e}")
                                print(f"FAILED {failures[-1]}", flush=True)
                                continue
                            ev = delta(setup.counters(), before)
                            for k, v in delta(setup.drops(), drops_before).items():
                                ev[f"nft.dropped_{k}"] = v
                            results.setdefault(key, []).append(mbit(a.size, secs))
                            evidence.setdefault(key, []).append(ev)
                            done += 1
                            partial = report(a, results, evidence, failures, started, load_start, os.getloadavg(),
                                             note=f"Partial: {done} of {total} transfers done.")
                            with open(a.out, "w") as f:
                                f.write(partial)
                            print(f"{setup.name:9} {loss:4g}% {DIRECTIONS[direction]:15} run {run + 1}: "
                                  f"{mbit(a.size, secs):8.0f} Mbit/s ({secs:.2f}s)", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    load_end = os.getloadavg()
    text = report(a, results, evidence, failures, started, load_start, load_end)
    with open(a.out, "w") as f:
        f.write(text)
    print(text)
    print(f"(written to {a.out})")
    return 1 if failures else 0


def report(a, results, evidence, failures, started, load_start, load_end, note=None):
    size_text = f"{a.size >> 20} MiB" if a.size % (1 << 20) == 0 else f"{a.size} bytes"
    lines = [f"Goodput of one {size_text} transfer, Mbit/s: median [min–max] of {a.runs} run(s); "
             f"ratio = median tapstack / median Linux.", "",
             "| loss | direction | tapstack | Linux (veth) | ratio | Linux (veth, GSO) |",
             "|---:|---|---:|---:|---:|---:|"]
    for loss in a.losses:
        for direction, label in DIRECTIONS.items():
            t = results.get((loss, direction, "tapstack"), [])
            x = results.get((loss, direction, "Linux"), [])
            ratio = f"{statistics.median(t) / statistics.median(x):.2f}" if t and x else "–"
            g = results.get((loss, direction, "Linux-GSO"), [])
            gso = "not run" if a.no_gso_reference else cell_text(g)
            lines.append(f"| {loss:g}% | {label} | {cell_text(t)} | {cell_text(x)} | {ratio} | {gso} |")
    cmd = " ".join(["/usr/bin/python3", os.path.relpath(os.path.abspath(sys.argv[0]), ROOT), *sys.argv[1:]])
    lines += ["", f"Command (as root, from the repository root): `{cmd}`",
              f"Run {started:%Y-%m-%d %H:%M} UTC on {platform.node()}, Linux {platform.release()}, "
              f"{os.cpu_count()} CPUs; load average at start {load_start[0]:.2f}, at end {load_end[0]:.2f}.",
              "\"stack\" is tapstackd with the `tapstack` CLI, or for Linux a second namespace's kernel TCP "
              "with `nc`; \"kernel\" is the namespace's Linux TCP with `nc` in both cases. Loss: nftables "
              "`numgen random` on the kernel side's interface, both directions, one wire frame per packet "
              "(gso_max_segs 1; tests/netns/lossy/lossy_util.py). \"Linux (veth, GSO)\" is a reference "
              "only: the veth keeps its default GSO, so it moves up to 64 KiB per packet and a dropped "
              "\"packet\" is a burst of up to 44 frames."]
    if note:
        lines += ["", note]
    if failures:
        lines += ["", "Failed runs:"] + [f"- {f}" for f in failures]
    lines += ["", "Counters per transfer (median over the runs):", ""]
    for loss in a.losses:
        for direction, label in DIRECTIONS.items():
            for name in ("tapstack", "Linux", "Linux-GSO"):
                evs = evidence.get((loss, direction, name))
                if not evs:
                    continue
                keys = sorted({k for e in evs for k in e})
                med = {k: statistics.median([e.get(k, 0) for e in evs]) for k in keys}
                body = " ".join(f"{k}={v:g}" for k, v in med.items() if v)
                lines.append(f"- {name}, {loss:g}%, {label}: {body}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
