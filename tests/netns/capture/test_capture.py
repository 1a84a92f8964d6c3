#!/usr/bin/python3
"""Packet capture (`tapstack capture`, the API's CAPTURE) on a real TAP:

* during a transfer, with a fault-injection stage dropping frames both
  ways, the capture holds exactly what the stack really saw: frames in ==
  the delta of eth.rx_frames (after the stage, not tap.rx_frames before
  it), frames out == the delta of tap.tx_frames (what the TAP took), each
  with its direction (epb_flags), nothing dropped; `tcpdump -r FILE` reads
  every frame;
* a deliberately slow reader loses frames, counted in its statistics block,
  in its summary line and in capture.dropped, while the transfer it watches
  arrives exact (SHA-256);
* `tapstack capture | tcpdump -r -` shows frames live, before the capture
  ends; -c and -s bound the frames and their bytes;
* only root and the daemon's user may capture.

Usage: test_capture.py [TAPSTACKD TAPSTACK]
"""
import os
import re
import select
import signal
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tcp"))
import harness  # noqa: E402
import tcp_util as u  # noqa: E402

MAC = "02:00:00:00:00:02"
QUIET_YAML = u.FAST_TCP_YAML + "arp:\n  entry_lifetime: 3600s\n"
FAULTS_YAML = """fault_injection:
  enabled: true
  seed: 7
  rx:
    drop: 2
  tx:
    drop: 2
"""
SUMMARY = re.compile(r"tapstack: (\d+) frames captured \((\d+) received, (\d+) sent\), (\d+) dropped")


def read_pcapng(path):
    """[(direction 'in'/'out', captured length, original length)], and the
    statistics block's options {code: value}."""
    data = open(path, "rb").read()
    frames, stats, off = [], None, 0
    assert data[:4] == b"\x0a\x0d\x0d\x0a", "not pcapng"
    while off + 12 <= len(data):
        btype, blen = struct.unpack_from("<II", data, off)
        assert blen >= 12 and off + blen <= len(data), f"truncated block at {off}"
        body = data[off + 8:off + blen - 4]
        if btype in (5, 6):
            opts_at = 20 + ((struct.unpack_from("<I", body, 12)[0] + 3) & ~3) if btype == 6 else 12
            opts, o = {}, opts_at
            while o + 4 <= len(body):
                code, olen = struct.unpack_from("<HH", body, o)
                if code == 0:
                    break
                opts[code] = body[o + 4:o + 4 + olen]
                o += 4 + ((olen + 3) & ~3)
            if btype == 6:
                caplen, origlen = struct.unpack_from("<II", body, 12)
                flags = struct.unpack("<I", opts[2])[0] & 3
                frames.append(({1: "in", 2: "out"}[flags], caplen, origlen))
            else:
                stats = {c: struct.unpack("<Q", v)[0] for c, v in opts.items() if c in (4, 7, 8)}
        off += blen
    assert off == len(data), "trailing bytes"
    return frames, stats


class QuietDaemon(harness.Daemon):
    """A daemon in a namespace where nothing talks unless the test does: no
    IPv6 on the TAP, a permanent neighbour entry, long ARP lifetimes."""

    def __init__(self, extra_yaml=""):
        super().__init__(mac=MAC, extra_yaml=QUIET_YAML + extra_yaml)

    def start(self):
        for key in ("all", "default"):
            self.run(["sysctl", "-qw", f"net.ipv6.conf.{key}.disable_ipv6=1"])
        super().start()
        self.run(["ip", "neigh", "replace", self.address, "lladdr", MAC, "dev", self.tap, "nud", "permanent"])


def start_capture(d, *args, stdout=subprocess.DEVNULL):
    cap = d.popen(u.cli(d, "capture", *args), stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE)
    ready, _, _ = select.select([cap.stderr], [], [], 10)
    line = cap.stderr.readline().decode(errors="replace") if ready else ""
    assert "capturing on " in line, f"tapstack capture did not start: {line!r}"
    return cap


def stop_capture(cap, timeout=20):
    cap.send_signal(signal.SIGINT)
    rc, err = u.finish(cap, timeout, "tapstack capture")
    assert rc == 0, f"tapstack capture exited {rc}: {err}"
    m = SUMMARY.search(err)
    assert m, f"no summary line: {err!r}"
    return [int(x) for x in m.groups()]


def transfer_to_daemon(d, port, size):
    src, sha = u.make_file(d, f"send-{port}.bin", size)
    out = os.path.join(d.workdir, f"recv-{port}.bin")
    app = u.start_listen(d, port, stdin=subprocess.DEVNULL, stdout=open(out, "wb"))
    peer = d.popen(["nc", "-N", d.address, str(port)], stdin=open(src, "rb"), stdout=subprocess.DEVNULL)
    rc, err = u.finish(app, 120, "tapstack listen")
    assert rc == 0, f"tapstack listen exited {rc}: {err}"
    u.finish(peer, 20, "nc -N")
    assert u.sha256_file(out) == (sha, size), "the transfer is not exact"


def test_capture_matches_the_counters_after_the_fault_stage_and_tcpdump_reads_it():
    with QuietDaemon(FAULTS_YAML) as d:
        path = os.path.join(d.workdir, "transfer.pcapng")
        cap = start_capture(d, "-w", path)
        s0 = u.stats(d)
        d.ping(count=5, size=1000, interval=0.05, check=False)  # the stage may drop an echo
        transfer_to_daemon(d, 9200, 4 << 20)
        u.wait_quiet(d, timeout=30)
        s1 = u.stats(d)
        total, received, sent, dropped = stop_capture(cap)
        delta = {k: s1.get(k, 0) - s0.get(k, 0) for k in s1}
        print(f"capture: {total} frames ({received} in, {sent} out), {dropped} dropped; "
              f"eth.rx_frames +{delta['eth.rx_frames']}, tap.rx_frames +{delta['tap.rx_frames']}, "
              f"fault.rx_dropped +{delta['fault.rx_dropped']}, tap.tx_frames +{delta['tap.tx_frames']}, "
              f"fault.tx_dropped +{delta['fault.tx_dropped']}", flush=True)
        frames, stats = read_pcapng(path)
        ins = sum(1 for f in frames if f[0] == "in")
        outs = sum(1 for f in frames if f[0] == "out")
        assert dropped == 0 and stats[7] == 0, "the capture dropped frames"
        assert (ins, outs) == (received, sent) and len(frames) == total == stats[8], (ins, outs, total, stats)
        assert ins == delta["eth.rx_frames"], f"{ins} frames in, the stack saw {delta['eth.rx_frames']}"
        assert outs == delta["tap.tx_frames"], f"{outs} frames out, the TAP took {delta['tap.tx_frames']}"
        assert delta["fault.rx_dropped"] > 0 and delta["fault.tx_dropped"] > 0, "the stage dropped nothing"
        assert delta["tap.rx_frames"] == ins + delta["fault.rx_dropped"] - delta["fault.rx_duplicated"] \
            + delta["fault.rx_held"], "frames in do not add up with the stage's counters"
        r = d.run(["tcpdump", "-n", "-r", path], timeout=30)
        lines = [l for l in r.stdout.decode().splitlines() if l.strip()]
        assert len(lines) == len(frames), f"tcpdump printed {len(lines)} lines for {len(frames)} frames"
        assert any(" ICMP echo request" in l for l in lines) and any("Flags [P.]" in l or "Flags [.]" in l
                                                                     for l in lines), lines[:5]


def test_a_slow_reader_drops_frames_counted_and_the_transfer_stays_exact():
    with QuietDaemon() as d:
        # Reads 4 KiB every 20 ms: about 200 KB/s, far below the transfer.
        slow = d.popen([u.PYTHON, "-c", "import sys, time\n"
                        "n = 0\n"
                        "while True:\n"
                        "    b = sys.stdin.buffer.read1(4096)\n"
                        "    if not b: break\n"
                        "    n += len(b)\n"
                        "    time.sleep(0.02)\n"
                        "print(n)\n"],
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        cap = start_capture(d, "-B", "64", stdout=slow.stdin)
        slow.stdin.close()
        slow.stdin = None  # the capture writes to it now
        s0 = u.stats(d)
        start = time.monotonic()
        transfer_to_daemon(d, 9300, 16 << 20)
        took = time.monotonic() - start
        u.wait_quiet(d, timeout=30)
        s1 = u.stats(d)
        total, received, sent, dropped = stop_capture(cap, timeout=60)
        out, _ = slow.communicate(timeout=60)
        print(f"16 MiB in {took:.2f}s while capturing: {total} frames captured, {dropped} dropped; "
              f"the slow reader read {out.decode().strip()} bytes", flush=True)
        assert dropped > 0, "a reader this slow should have lost frames"
        assert s1["capture.dropped"] - s0["capture.dropped"] == dropped, "capture.dropped disagrees"
        assert s1["capture.frames"] - s0["capture.frames"] == total, "capture.frames disagrees"
        assert total + dropped >= s1["eth.rx_frames"] - s0["eth.rx_frames"], "frames seen are missing"


def test_tcpdump_reads_the_stream_live_and_c_and_s_bound_it():
    with QuietDaemon() as d:
        cli = " ".join(u.cli(d, "capture"))
        live = d.popen(["sh", "-c", f"{cli} | tcpdump -l -n -r - icmp"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        ready, _, _ = select.select([live.stderr], [], [], 10)
        assert ready and "capturing on" in live.stderr.readline().decode(), "capture did not start"
        d.ping(count=3, interval=0.2)
        text = b""
        deadline = time.monotonic() + 10
        while text.count(b"\n") < 6 and time.monotonic() < deadline:
            ready, _, _ = select.select([live.stdout], [], [], 1)
            if ready:
                text += os.read(live.stdout.fileno(), 65536)
        seen = text.decode().splitlines()
        assert live.poll() is None, "the capture ended early"
        os.killpg(live.pid, signal.SIGINT)
        u.finish(live, 20, "tapstack capture | tcpdump")
        assert len(seen) == 6 and sum("echo request" in l for l in seen) == 3, seen
        # -c 4 -s 64: four frames, at most 64 bytes of each.
        path = os.path.join(d.workdir, "short.pcapng")
        cap = start_capture(d, "-c4", "-s", "64", "-w", path)
        d.ping(count=3, size=1000, interval=0.1)
        rc, err = u.finish(cap, 20, "tapstack capture -c4")
        assert rc == 0, err
        frames, stats = read_pcapng(path)
        assert len(frames) == 4 and stats[8] == 4, (frames, stats)
        assert all(c == 64 and o == 14 + 20 + 8 + 1000 for _, c, o in frames), frames


def test_only_root_and_the_daemons_user_may_capture():
    with u.ApiDaemon(api_options={"socket_mode": "0666"}) as d:
        r = d.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *u.cli(d, "capture", "-w",
                                                                                          "/dev/null")],
                  check=False, timeout=20)
        assert r.returncode == 9, (r.returncode, r.stderr)
        assert b"capture needs root" in r.stderr, r.stderr
        reply = u.api_exchange(d, b"CAPTURE count=x\n", send_eof=True)
        assert reply.startswith(b"ERR bad-request count"), reply


if __name__ == "__main__":
    harness.run_tests([
        test_capture_matches_the_counters_after_the_fault_stage_and_tcpdump_reads_it,
        test_a_slow_reader_drops_frames_counted_and_the_transfer_stays_exact,
        test_tcpdump_reads_the_stream_live_and_c_and_s_bound_it,
        test_only_root_and_the_daemons_user_may_capture,
    ])
