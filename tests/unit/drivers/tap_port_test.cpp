// TapPort's data path without a TAP: the port adopts one end of a
// SOCK_SEQPACKET socketpair, which moves whole frames like a TAP fd, and the
// test plays the kernel on the other end, so every header check, counter
// and ring-full / EAGAIN path runs unprivileged in the unit suite. The real
// TAP is exercised by netns_tap_port.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <csignal>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "drivers/tap_port.hpp"
#include "drivers/virtio_net_hdr.hpp"
#include "stack/wire/byte_order.hpp"
#include "stack/wire/checksum.hpp"

using namespace tapstack;
using namespace tapstack::drivers;
using Frame = std::vector<std::uint8_t>;

namespace {

// An Ethernet frame of `len` bytes whose payload encodes `seq`.
Frame ethernet_frame(std::size_t len, std::uint32_t seq) {
    Frame f(len);
    for (std::size_t i = 0; i < 6; ++i) f[i] = 0xff;
    f[6] = 0x02;
    f[11] = 0x01;
    f[12] = 0x88;  // a local experimental EtherType
    f[13] = 0xb5;
    for (std::size_t i = 14; i < len; ++i) f[i] = static_cast<std::uint8_t>(i * 7 + seq);
    if (len >= 18) wire::store_be32(f.data() + 14, seq);
    return f;
}

struct Harness {
    int peer = -1;  // the "kernel" end
    std::unique_ptr<TapPort> port;
    std::vector<Frame> received;

    explicit Harness(TapPortConfig config = small_config()) {
        int sv[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
        peer = sv[1];
        std::string error;
        port = TapPort::adopt(sv[0], "pair0", config, &error);
        REQUIRE_MESSAGE(port, error);
    }
    ~Harness() { ::close(peer); }
    Harness(const Harness&) = delete;
    Harness& operator=(const Harness&) = delete;

    static TapPortConfig small_config() {
        TapPortConfig c;
        c.name = "pair0";
        c.mtu = 1500;
        c.queue_size = 8;
        c.rx_budget = 64;
        return c;
    }
    // The kernel side writes header + frame.
    void inject(const VirtioNetHdr& hdr, const Frame& frame) {
        Frame bytes(VirtioNetHdr::kSize + frame.size());
        hdr.emit(bytes);
        std::copy(frame.begin(), frame.end(), bytes.begin() + VirtioNetHdr::kSize);
        inject_raw(bytes);
    }
    void inject(const Frame& frame) { inject(VirtioNetHdr{}, frame); }
    void inject_raw(const Frame& bytes) {
        REQUIRE(::write(peer, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    }
    std::size_t poll() {
        return port->poll_rx([this](std::span<const std::uint8_t> f) { received.emplace_back(f.begin(), f.end()); });
    }
    // Everything the port wrote, each with its header.
    std::vector<Frame> drain_peer() {
        std::vector<Frame> out;
        std::array<std::uint8_t, 70000> buf;
        for (;;) {
            const ssize_t n = ::read(peer, buf.data(), buf.size());
            if (n <= 0) break;
            out.emplace_back(buf.begin(), buf.begin() + n);
        }
        return out;
    }
    std::map<std::string, std::uint64_t> counters() const {
        std::map<std::string, std::uint64_t> m;
        port->visit_counters([&m](std::string_view name, std::uint64_t v) { m[std::string(name)] = v; });
        return m;
    }
    std::uint64_t counter(const std::string& name) const {
        auto m = counters();
        auto it = m.find(name);
        REQUIRE_MESSAGE(it != m.end(), name);
        return it->second;
    }
};

}  // namespace

TEST_CASE("TapPort RX: a frame from the TAP reaches on_frame without its virtio-net header") {
    Harness h;
    const Frame f = ethernet_frame(60, 1);
    VirtioNetHdr hdr;
    hdr.flags = VIRTIO_NET_HDR_F_DATA_VALID;  // what the kernel sets for verified checksums
    hdr.num_buffers = 0x5555;  // the TAP leaves these two bytes alone; the device sets them to 1
    h.inject(hdr, f);
    CHECK(h.poll() == 1);
    REQUIRE(h.received.size() == 1);
    CHECK(h.received[0] == f);
    CHECK(h.counter("tap.rx_frames") == 1);
    CHECK(h.counter("tap.rx_bytes") == 60);
    CHECK(h.poll() == 0);  // EAGAIN: nothing more
    CHECK(h.counter("tap.rx_ring_errors") == 0);
}

TEST_CASE("TapPort RX: a full-MTU frame fits; a larger one is counted as truncated and the next still arrives") {
    Harness h;
    const Frame max = ethernet_frame(14 + 4 + 1500, 1);  // with an 802.1Q tag
    const Frame too_big = ethernet_frame(h.port->buffer_size() - VirtioNetHdr::kSize + 1, 2);
    const Frame after = ethernet_frame(100, 3);
    h.inject(max);
    h.inject(too_big);
    h.inject(after);
    CHECK(h.poll() == 2);
    REQUIRE(h.received.size() == 2);
    CHECK(h.received[0] == max);
    CHECK(h.received[1] == after);
    CHECK(h.counter("tap.rx_truncated") == 1);
}

TEST_CASE("TapPort RX: GSO frames are counted and dropped while offloads are not negotiated") {
    Harness h;
    VirtioNetHdr gso;
    gso.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
    gso.gso_size = 500;
    gso.hdr_len = 54;
    h.inject(gso, ethernet_frame(1200, 1));  // fits the buffer: only the GSO type makes it unusable
    h.inject(ethernet_frame(64, 2));
    CHECK(h.poll() == 1);
    CHECK(h.counter("tap.rx_gso_dropped") == 1);
    CHECK(h.received.at(0) == ethernet_frame(64, 2));
}

TEST_CASE("TapPort RX: malformed virtio-net headers and runt frames are counted, never delivered") {
    Harness h;
    VirtioNetHdr bad_flags;
    bad_flags.flags = 0x40;
    VirtioNetHdr bad_gso;
    bad_gso.gso_type = 2;
    VirtioNetHdr bad_csum;
    bad_csum.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    bad_csum.csum_start = 50;
    bad_csum.csum_offset = 16;  // field at 66..67, frame is 60 bytes
    h.inject(bad_flags, ethernet_frame(60, 1));
    h.inject(bad_gso, ethernet_frame(60, 2));
    h.inject(bad_csum, ethernet_frame(60, 3));
    h.inject_raw(Frame(7, 0));                     // shorter than the header
    h.inject(VirtioNetHdr{}, Frame(13, 0xaa));     // header, then less than an Ethernet header
    h.inject(ethernet_frame(60, 4));
    CHECK(h.poll() == 1);
    CHECK(h.received.at(0) == ethernet_frame(60, 4));
    CHECK(h.counter("tap.rx_bad_vnet_hdr") == 4);
    CHECK(h.counter("tap.rx_runt") == 1);
    CHECK(h.counter("tap.rx_frames") == 1);
}

TEST_CASE("virtio 5.1.6.4.1: NEEDS_CSUM frames get their partial checksum completed") {
    Harness h;
    // Ethernet + IPv4 (20) + UDP (8) + 11 bytes of data, UDP checksum partial.
    Frame f(14 + 20 + 8 + 11, 0);
    f[12] = 0x08;
    const std::array<std::uint8_t, 4> src{10, 0, 0, 1}, dst{10, 0, 0, 2};
    std::uint8_t* ip = f.data() + 14;
    ip[0] = 0x45;
    wire::store_be16(ip + 2, 39);
    ip[8] = 64;
    ip[9] = 17;
    std::copy(src.begin(), src.end(), ip + 12);
    std::copy(dst.begin(), dst.end(), ip + 16);
    std::uint8_t* udp = ip + 20;
    wire::store_be16(udp, 5000);
    wire::store_be16(udp + 2, 7);
    wire::store_be16(udp + 4, 19);
    for (int i = 0; i < 11; ++i) udp[8 + i] = static_cast<std::uint8_t>('a' + i);
    // The sender leaves the folded pseudo-header sum in the field (not complemented).
    wire::ChecksumAccumulator pseudo;
    wire::add_ipv4_pseudo_header(pseudo, wire::Ipv4Address::from_octets(10, 0, 0, 1),
                                 wire::Ipv4Address::from_octets(10, 0, 0, 2), 17, 19);
    wire::store_be16(udp + 6, pseudo.folded_sum());
    VirtioNetHdr hdr;
    hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    hdr.csum_start = 34;
    hdr.csum_offset = 6;
    h.inject(hdr, f);
    REQUIRE(h.poll() == 1);
    const Frame& got = h.received.at(0);
    // A correct UDP checksum: pseudo-header + segment sums to 0xffff.
    wire::ChecksumAccumulator verify;
    wire::add_ipv4_pseudo_header(verify, wire::Ipv4Address::from_octets(10, 0, 0, 1),
                                 wire::Ipv4Address::from_octets(10, 0, 0, 2), 17, 19);
    verify.add(std::span<const std::uint8_t>(got).subspan(34));
    CHECK(verify.folded_sum() == 0xffff);
    CHECK(wire::load_be16(got.data() + 40) != 0);
    CHECK(std::equal(got.begin(), got.begin() + 40, f.begin()));  // nothing else changed
    CHECK(h.counter("tap.rx_csum_completed") == 1);
}

TEST_CASE("TapPort RX: poll_rx takes at most rx_budget frames per call and leaves the rest queued") {
    TapPortConfig c = Harness::small_config();
    c.rx_budget = 4;
    Harness h(c);
    for (std::uint32_t i = 0; i < 10; ++i) h.inject(ethernet_frame(80, i));
    CHECK(h.poll() == 4);
    CHECK(h.poll() == 4);
    CHECK(h.poll() == 2);
    CHECK(h.poll() == 0);
    REQUIRE(h.received.size() == 10);
    for (std::uint32_t i = 0; i < 10; ++i) CHECK(h.received[i] == ethernet_frame(80, i));
}

TEST_CASE("TapPort RX: more frames than RX buffers are delivered in one call, in order, buffers reposted") {
    TapPortConfig c = Harness::small_config();
    c.queue_size = 4;
    c.rx_budget = 1000;
    Harness h(c);
    std::uint32_t sent = 0;
    for (int burst = 0; burst < 30; ++burst) {  // 300 frames: the ring indices go round many times
        for (int k = 0; k < 10; ++k, ++sent) h.inject(ethernet_frame(64 + (sent % 50), sent));
        CHECK(h.poll() == 10);
    }
    REQUIRE(h.received.size() == sent);
    for (std::uint32_t i = 0; i < sent; ++i) CHECK(h.received[i] == ethernet_frame(64 + (i % 50), i));
    CHECK(h.counter("tap.rx_ring_errors") == 0);
}

TEST_CASE("TapPort TX: transmit + flush_tx writes a zeroed 12-byte header and the frame") {
    Harness h;
    const Frame f = ethernet_frame(98, 9);
    CHECK(h.port->transmit(f));
    CHECK(h.port->tx_pending());
    CHECK(h.drain_peer().empty());  // nothing written before flush
    CHECK(h.port->flush_tx() == 1);
    CHECK_FALSE(h.port->tx_pending());
    CHECK_FALSE(h.port->tx_blocked());
    auto out = h.drain_peer();
    REQUIRE(out.size() == 1);
    REQUIRE(out[0].size() == 12 + f.size());
    CHECK(std::all_of(out[0].begin(), out[0].begin() + 12, [](std::uint8_t b) { return b == 0; }));
    CHECK(std::equal(f.begin(), f.end(), out[0].begin() + 12));
    CHECK(h.counter("tap.tx_frames") == 1);
    CHECK(h.counter("tap.tx_bytes") == 98);
}

TEST_CASE("TapPort TX: runt and oversized frames are refused and counted") {
    Harness h;
    CHECK_FALSE(h.port->transmit(Frame(13, 0)));
    CHECK_FALSE(h.port->transmit(ethernet_frame(h.port->buffer_size() - 12 + 1, 0)));
    CHECK(h.port->transmit(ethernet_frame(h.port->buffer_size() - 12, 0)));
    CHECK(h.counter("tap.tx_runt") == 1);
    CHECK(h.counter("tap.tx_oversize") == 1);
    CHECK(h.port->flush_tx() == 1);
}

TEST_CASE("TapPort TX: EAGAIN keeps frames queued (tx_blocked), a full ring refuses and counts, nothing is lost") {
    TapPortConfig c = Harness::small_config();
    c.queue_size = 4;
    Harness h(c);
    // The peer does not read, so its socket queue fills and writes hit EAGAIN.
    std::vector<std::uint32_t> accepted;
    std::uint32_t seq = 0;
    while (!h.port->tx_blocked() && seq < 10000) {
        if (h.port->transmit(ethernet_frame(200, seq))) accepted.push_back(seq);
        ++seq;
        h.port->flush_tx();
    }
    REQUIRE(h.port->tx_blocked());
    CHECK(h.counter("tap.tx_eagain") >= 1);
    // Fill the ring: transmit does not flush while blocked, so the 5th is refused.
    while (h.port->transmit(ethernet_frame(200, seq))) accepted.push_back(seq++);
    CHECK(h.counter("tap.tx_ring_full") == 1);
    CHECK(h.port->tx_pending());
    CHECK(h.counter("tap.tx_queued") == 4);

    // The peer drains; each flush moves what fits until nothing is pending.
    std::vector<Frame> out;
    for (int rounds = 0; h.port->tx_pending() && rounds < 100; ++rounds) {
        auto got = h.drain_peer();
        out.insert(out.end(), got.begin(), got.end());
        h.port->flush_tx();
    }
    auto rest = h.drain_peer();
    out.insert(out.end(), rest.begin(), rest.end());
    CHECK_FALSE(h.port->tx_pending());
    CHECK_FALSE(h.port->tx_blocked());
    REQUIRE(out.size() == accepted.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
        CHECK(wire::load_be32(out[i].data() + 12 + 14) == accepted[i]);
    }
    CHECK(h.counter("tap.tx_frames") == accepted.size());
    CHECK(h.counter("tap.tx_errors") == 0);
}

TEST_CASE("TapPort TX: a full ring is flushed by transmit when the TAP is writable, so a burst is not dropped") {
    TapPortConfig c = Harness::small_config();
    c.queue_size = 4;
    Harness h(c);
    for (std::uint32_t i = 0; i < 9; ++i) CHECK(h.port->transmit(ethernet_frame(60, i)));
    h.port->flush_tx();
    CHECK(h.drain_peer().size() == 9);
    CHECK(h.counter("tap.tx_ring_full") == 0);
}

TEST_CASE("TapPort: on_frame may transmit (an echo) and flush from inside poll_rx") {
    Harness h;
    for (std::uint32_t i = 0; i < 20; ++i) h.inject(ethernet_frame(70, i));
    std::size_t nested = 0;
    const std::size_t n = h.port->poll_rx([&](std::span<const std::uint8_t> f) {
        CHECK(h.port->transmit(f));
        nested += h.port->poll_rx([](std::span<const std::uint8_t>) {});
    });
    CHECK(n == 20);
    CHECK(nested == 0);  // a nested poll_rx is refused
    h.port->flush_tx();
    auto out = h.drain_peer();
    REQUIRE(out.size() == 20);
    for (std::uint32_t i = 0; i < 20; ++i) CHECK(Frame(out[i].begin() + 12, out[i].end()) == ethernet_frame(70, i));
}

TEST_CASE("TapPort: end of file is a lasting failure: poll_rx stops and failure() says why") {
    Harness h;
    h.inject(ethernet_frame(60, 1));
    ::shutdown(h.peer, SHUT_WR);
    CHECK(h.port->failure().empty());
    CHECK(h.poll() == 1);
    CHECK(h.port->failure() == "pair0: read: end of file");
    CHECK(h.poll() == 0);
}

TEST_CASE("TapPort: a write error that will not go away keeps the frame queued and sets failure()") {
    std::signal(SIGPIPE, SIG_IGN);
    Harness h;
    ::shutdown(h.peer, SHUT_RD);
    ::close(::dup(h.peer));
    ::shutdown(h.peer, SHUT_RDWR);
    CHECK(h.port->transmit(ethernet_frame(60, 1)));
    CHECK(h.port->flush_tx() == 0);
    CHECK(h.port->failure() == "pair0: write: Broken pipe (EPIPE)");
    CHECK(h.port->tx_pending());
    CHECK(h.counter("tap.tx_errors") == 1);
    CHECK(h.port->flush_tx() == 0);  // no further I/O
    CHECK(h.counter("tap.tx_errors") == 1);
}

TEST_CASE("TapPort: counters have unique names, all prefixed tap.") {
    Harness h;
    std::set<std::string> names;
    std::size_t visited = 0;
    h.port->visit_counters([&](std::string_view name, std::uint64_t) {
        ++visited;
        CHECK(name.substr(0, 4) == "tap.");
        names.insert(std::string(name));
    });
    CHECK(names.size() == visited);
    for (const char* n : {"tap.rx_frames", "tap.rx_bytes", "tap.rx_bad_vnet_hdr", "tap.rx_gso_dropped",
                          "tap.rx_truncated", "tap.tx_frames", "tap.tx_bytes", "tap.tx_ring_full", "tap.tx_errors",
                          "tap.rx_ring_errors", "tap.tx_ring_errors"}) {
        CHECK(names.count(n) == 1);
    }
}

TEST_CASE("TapPort: bad sizes are refused with a message naming the device") {
    auto fresh_fd = [] {
        int sv[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
        ::close(sv[1]);
        return sv[0];
    };
    std::string error;
    TapPortConfig c = Harness::small_config();
    c.queue_size = 12;
    CHECK_FALSE(TapPort::adopt(fresh_fd(), "pair0", c, &error));
    CHECK(error == "pair0: queue_size 12 is not a power of two in 1..32768");
    c = Harness::small_config();
    c.buffer_size = 20;
    CHECK_FALSE(TapPort::adopt(fresh_fd(), "pair0", c, &error));
    CHECK(error == "pair0: buffer_size 20 is below 27");
    c = Harness::small_config();
    c.rx_budget = 0;
    CHECK_FALSE(TapPort::adopt(fresh_fd(), "pair0", c, &error));
    CHECK(error == "pair0: rx_budget must be at least 1");
    c = Harness::small_config();
    c.buffer_size = 65536;  // GSO-sized buffers are a parameter
    auto port = TapPort::adopt(fresh_fd(), "pair0", c, &error);
    REQUIRE(port);
    CHECK(port->buffer_size() == 65536);
    CHECK(port->transmit(Frame(65536 - 12, 0)));
}

namespace {

// A FrameTap that keeps what it saw.
struct RecordingTap final : FrameTap {
    std::vector<std::pair<FrameDirection, Frame>> seen;
    void frame(FrameDirection direction, std::span<const std::span<const std::uint8_t>> parts) override {
        Frame f;
        for (const auto& p : parts) f.insert(f.end(), p.begin(), p.end());
        seen.emplace_back(direction, std::move(f));
    }
    std::size_t count(FrameDirection d) const {
        std::size_t n = 0;
        for (const auto& s : seen) n += s.first == d ? 1 : 0;
        return n;
    }
};

}  // namespace

TEST_CASE("frame tap: every frame handed up and every frame the TAP took, whole and with its direction") {
    Harness h;
    RecordingTap tap;
    h.inject(ethernet_frame(60, 1));
    CHECK(h.poll() == 1);
    CHECK(tap.seen.empty());  // no tap yet: nothing recorded
    h.port->set_frame_tap(&tap);
    const Frame in1 = ethernet_frame(60, 2), in2 = ethernet_frame(1514, 3);
    h.inject(in1);
    h.inject(in2);
    CHECK(h.poll() == 2);
    const Frame out1 = ethernet_frame(100, 4), out2 = ethernet_frame(1514, 5);
    REQUIRE(h.port->transmit(out1));
    REQUIRE(h.port->transmit(out2));
    CHECK(tap.count(FrameDirection::kOut) == 0);  // queued, not yet taken by the TAP
    CHECK(h.port->flush_tx() == 2);
    REQUIRE(tap.seen.size() == 4);
    CHECK(tap.seen[0] == std::make_pair(FrameDirection::kIn, in1));
    CHECK(tap.seen[1] == std::make_pair(FrameDirection::kIn, in2));
    CHECK(tap.seen[2] == std::make_pair(FrameDirection::kOut, out1));
    CHECK(tap.seen[3] == std::make_pair(FrameDirection::kOut, out2));
    CHECK(tap.count(FrameDirection::kIn) == h.counter("tap.rx_frames") - 1);
    CHECK(tap.count(FrameDirection::kOut) == h.counter("tap.tx_frames"));
    h.port->set_frame_tap(nullptr);
    h.inject(ethernet_frame(60, 6));
    CHECK(h.poll() == 1);
    CHECK(tap.seen.size() == 4);
}

TEST_CASE("frame tap: after the fault stage, what the stack and the peer really get") {
    Harness h;
    RecordingTap tap;
    h.port->set_frame_tap(&tap);
    FaultConfig c;
    c.enabled = true;
    c.rx.drop_pct = 100;       // the stack sees none of these
    c.tx.duplicate_pct = 100;  // the TAP takes each frame twice
    std::string error;
    REQUIRE_MESSAGE(h.port->set_fault_injection(c, &error), error);
    for (std::uint32_t i = 0; i < 3; ++i) h.inject(ethernet_frame(80, i));
    h.poll();
    CHECK(h.received.empty());
    CHECK(tap.count(FrameDirection::kIn) == 0);
    CHECK(h.counter("tap.rx_frames") == 3);  // counted before the stage
    REQUIRE(h.port->transmit(ethernet_frame(90, 7)));
    h.port->flush_tx();
    CHECK(h.drain_peer().size() == 2);
    CHECK(tap.count(FrameDirection::kOut) == 2);
    CHECK(tap.count(FrameDirection::kOut) == h.counter("tap.tx_frames"));
}

TEST_CASE("a TAP that kept the kernel's 10-byte virtio-net header (TUNSETVNETHDRSZ refused) carries frames both ways") {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    std::string error;
    auto port = TapPort::adopt(sv[0], "pair10", Harness::small_config(), &error, 10);
    REQUIRE_MESSAGE(port, error);
    const Frame f = ethernet_frame(1514, 9);
    Frame bytes(10, 0);
    bytes[0] = VIRTIO_NET_HDR_F_DATA_VALID;
    bytes.insert(bytes.end(), f.begin(), f.end());
    REQUIRE(::write(sv[1], bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    std::vector<Frame> got;
    CHECK(port->poll_rx([&](std::span<const std::uint8_t> fr) { got.emplace_back(fr.begin(), fr.end()); }) == 1);
    REQUIRE(got.size() == 1);
    CHECK(got[0] == f);
    const Frame out = ethernet_frame(200, 10);
    REQUIRE(port->transmit(out));
    CHECK(port->flush_tx() == 1);
    std::array<std::uint8_t, 4096> buf{};
    const ssize_t n = ::read(sv[1], buf.data(), buf.size());
    REQUIRE(n == static_cast<ssize_t>(10 + out.size()));
    CHECK(std::equal(out.begin(), out.end(), buf.begin() + 10));
    CHECK(std::all_of(buf.begin(), buf.begin() + 10, [](std::uint8_t b) { return b == 0; }));
    std::map<std::string, std::uint64_t> m;
    port->visit_counters([&m](std::string_view name, std::uint64_t v) { m[std::string(name)] = v; });
    CHECK(m["tap.rx_bad_vnet_hdr"] == 0);
    CHECK(m["tap.tx_errors"] == 0);
    CHECK(TapPort::adopt(sv[1], "bad", Harness::small_config(), &error, 11) == nullptr);  // closes sv[1]
    CHECK(error == "bad: a virtio-net header is 12 or 10 bytes, not 11");
}
