// TapPort with TapPortConfig::offloads over a SOCK_SEQPACKET
// socketpair: the test plays a kernel with TUN_F_CSUM | TUN_F_TSO4 on the
// other end. A GSO super-frame with a partial checksum must come up whole
// with its RxOffload (checksum left alone) through poll_rx_offload(), and
// completed through the plain poll_rx(); on TX the TxOffload must land in
// the virtio-net header the kernel reads. Without offloads the old
// behaviour holds: GSO frames are dropped both ways.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <map>
#include <string>
#include <vector>

#include "drivers/tap_port.hpp"
#include "drivers/virtio_net_hdr.hpp"
#include "stack/wire/byte_order.hpp"
#include "stack/wire/checksum.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/offload.hpp"
#include "stack/wire/tcp_header.hpp"

using namespace tapstack;
using namespace tapstack::drivers;
using Frame = std::vector<std::uint8_t>;

namespace {

constexpr std::size_t kEth = 14;
const wire::Ipv4Address kSrc = wire::Ipv4Address::from_octets(10, 0, 0, 1);
const wire::Ipv4Address kDst = wire::Ipv4Address::from_octets(10, 0, 0, 2);

// Ethernet + IPv4 + TCP with `payload` bytes, the TCP checksum field holding
// only the pseudo-header sum (as Linux hands a CHECKSUM_PARTIAL skb over).
Frame tcp_super_frame(std::size_t payload) {
    Frame data(payload);
    for (std::size_t i = 0; i < payload; ++i) data[i] = static_cast<std::uint8_t>(i * 13 + 5);
    wire::TcpRepr t;
    t.src_port = 40000;
    t.dst_port = 5001;
    t.seq = 1000;
    t.ack = 2000;
    t.flags = wire::tcp_flag::kAck;
    t.window = 1024;
    t.payload = data;
    wire::Ipv4Repr ip;
    ip.src = kSrc;
    ip.dst = kDst;
    ip.protocol = wire::ip_protocol::kTcp;
    ip.ttl = 64;
    ip.dont_fragment = true;
    ip.payload_len = static_cast<std::uint16_t>(t.buffer_len());
    Frame f(kEth + ip.buffer_len());
    wire::EthernetRepr{wire::MacAddress{{2, 0, 0, 0, 0, 2}}, wire::MacAddress{{2, 0, 0, 0, 0, 1}},
                       wire::ethertype::kIpv4}
        .emit(f);
    ip.emit(wire::MutBytes(f).subspan(kEth));
    t.emit_partial(wire::MutBytes(f).subspan(kEth + ip.header_len()), kSrc, kDst);
    return f;
}

bool tcp_checksum_ok(const Frame& f) {
    const auto seg = std::span<const std::uint8_t>(f).subspan(kEth + 20);
    wire::ChecksumAccumulator acc;
    wire::add_ipv4_pseudo_header(acc, kSrc, kDst, wire::ip_protocol::kTcp, static_cast<std::uint16_t>(seg.size()));
    acc.add(seg);
    return acc.checksum() == 0;
}

VirtioNetHdr gso_header(std::uint16_t gso_size) {
    VirtioNetHdr h;
    h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
    h.gso_size = gso_size;
    h.hdr_len = kEth + 20 + 20;
    h.csum_start = kEth + 20;
    h.csum_offset = 16;
    return h;
}

struct Pair {
    int peer = -1;
    std::unique_ptr<TapPort> port;

    explicit Pair(bool offloads, std::uint16_t mtu = 1500) {
        int sv[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
        int size = 1 << 20;
        REQUIRE(::setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof size) == 0);
        REQUIRE(::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size) == 0);
        peer = sv[1];
        TapPortConfig c;
        c.name = "pair0";
        c.queue_size = 8;
        c.offloads = offloads;
        c.mtu = mtu;
        std::string error;
        port = TapPort::adopt(sv[0], "pair0", c, &error);
        REQUIRE_MESSAGE(port, error);
    }
    ~Pair() { ::close(peer); }
    Pair(const Pair&) = delete;
    Pair& operator=(const Pair&) = delete;

    void inject(const VirtioNetHdr& hdr, const Frame& frame) {
        Frame bytes(VirtioNetHdr::kSize + frame.size());
        hdr.emit(bytes);
        std::copy(frame.begin(), frame.end(), bytes.begin() + VirtioNetHdr::kSize);
        REQUIRE(::write(peer, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    }
    std::vector<Frame> drain_peer() {
        std::vector<Frame> out;
        std::vector<std::uint8_t> buf(70000);
        for (ssize_t n; (n = ::read(peer, buf.data(), buf.size())) > 0;) out.emplace_back(buf.begin(), buf.begin() + n);
        return out;
    }
    std::uint64_t counter(const std::string& name) const {
        std::map<std::string, std::uint64_t> m;
        port->visit_counters([&m](std::string_view n, std::uint64_t v) { m[std::string(n)] = v; });
        REQUIRE_MESSAGE(m.count(name) == 1, name);
        return m[name];
    }
};

}  // namespace

TEST_CASE("TapPort offloads: buffers hold a 64 KiB GSO super-frame, a 1500-byte MTU notwithstanding") {
    Pair p(true);
    CHECK(p.port->buffer_size() >= VirtioNetHdr::kSize + kEth + 4 + 65535);
    CHECK(p.port->rx_offloads());
    Pair off(false);
    CHECK(off.port->buffer_size() < 2048);
    CHECK_FALSE(off.port->rx_offloads());
}

TEST_CASE("virtio 5.1.6.4: a GSO TCPV4 super-frame with NEEDS_CSUM comes up whole with its RxOffload, checksum untouched") {
    Pair p(true);
    const Frame f = tcp_super_frame(60000);
    REQUIRE(f.size() > 1514);
    p.inject(gso_header(1448), f);
    std::vector<Frame> got;
    std::vector<wire::RxOffload> meta;
    CHECK(p.port->poll_rx_offload(Instant{}, [&](std::span<const std::uint8_t> fr, const wire::RxOffload& o) {
        got.emplace_back(fr.begin(), fr.end());
        meta.push_back(o);
    }) == 1);
    REQUIRE(got.size() == 1);
    CHECK(got[0] == f);  // the pseudo-header sum is still in the field: the stack skips verification
    CHECK_FALSE(tcp_checksum_ok(got[0]));
    CHECK(meta[0].csum_partial);
    CHECK(meta[0].csum_start == kEth + 20);
    CHECK(meta[0].csum_offset == 16);
    CHECK(meta[0].gso == wire::GsoType::kTcpv4);
    CHECK(meta[0].gso_size == 1448);
    CHECK(p.counter("tap.rx_gso_frames") == 1);
    CHECK(p.counter("tap.rx_csum_partial") == 1);
    CHECK(p.counter("tap.rx_gso_dropped") == 0);
}

TEST_CASE("TapPort offloads: DATA_VALID is passed on; the plain poll_rx() completes a partial checksum instead") {
    Pair p(true);
    VirtioNetHdr valid;
    valid.flags = VIRTIO_NET_HDR_F_DATA_VALID;
    Frame whole = tcp_super_frame(100);
    p.inject(valid, whole);
    wire::RxOffload seen;
    CHECK(p.port->poll_rx_offload(Instant{}, [&](std::span<const std::uint8_t>, const wire::RxOffload& o) { seen = o; }) == 1);
    CHECK(seen.csum_valid);
    CHECK_FALSE(seen.csum_partial);
    CHECK(seen.gso == wire::GsoType::kNone);

    const Frame f = tcp_super_frame(30000);
    p.inject(gso_header(1448), f);
    std::vector<Frame> got;
    CHECK(p.port->poll_rx([&](std::span<const std::uint8_t> fr) { got.emplace_back(fr.begin(), fr.end()); }) == 1);
    REQUIRE(got.size() == 1);
    CHECK(got[0].size() == f.size());
    CHECK(tcp_checksum_ok(got[0]));
    CHECK(p.counter("tap.rx_csum_completed") == 1);
}

TEST_CASE("TapPort offloads: a GSO type other than TCPV4 is still counted and dropped") {
    Pair p(true);
    VirtioNetHdr h = gso_header(1448);
    h.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
    p.inject(h, tcp_super_frame(5000));
    CHECK(p.port->poll_rx_offload(Instant{}, [](std::span<const std::uint8_t>, const wire::RxOffload&) {}) == 0);
    CHECK(p.counter("tap.rx_gso_dropped") == 1);
}

TEST_CASE("virtio 5.1.6.2: a TSO super-frame leaves with TCPV4, gso_size, hdr_len and NEEDS_CSUM in its header") {
    Pair p(true);
    const Frame f = tcp_super_frame(40000);
    wire::TxOffload o;
    o.gso = wire::GsoType::kTcpv4;
    o.gso_size = 1448;
    o.hdr_len = kEth + 40;
    o.partial_csum = true;
    o.csum_start = kEth + 20;
    o.csum_offset = 16;
    REQUIRE(p.port->transmit(f, o));
    CHECK(p.port->flush_tx() == 1);
    const auto out = p.drain_peer();
    REQUIRE(out.size() == 1);
    const auto h = VirtioNetHdr::parse(out[0]);
    REQUIRE(h);
    CHECK(h->gso_type == VIRTIO_NET_HDR_GSO_TCPV4);
    CHECK(h->gso_size == 1448);
    CHECK(h->hdr_len == kEth + 40);
    CHECK(h->flags == VIRTIO_NET_HDR_F_NEEDS_CSUM);
    CHECK(h->csum_start == kEth + 20);
    CHECK(h->csum_offset == 16);
    CHECK(Frame(out[0].begin() + VirtioNetHdr::kSize, out[0].end()) == f);
    CHECK(p.counter("tap.tx_gso_frames") == 1);

    // An empty TxOffload is an all-zero header, as transmit(frame).
    const Frame small = tcp_super_frame(10);
    REQUIRE(p.port->transmit(small, wire::TxOffload{}));
    p.port->flush_tx();
    const auto out2 = p.drain_peer();
    REQUIRE(out2.size() == 1);
    CHECK(*VirtioNetHdr::parse(out2[0]) == VirtioNetHdr{});
}

TEST_CASE("TapPort without offloads: a GSO TX frame is refused by the device half and counted") {
    Pair p(false);
    const Frame f = tcp_super_frame(1000);
    wire::TxOffload o;
    o.gso = wire::GsoType::kTcpv4;
    o.gso_size = 500;
    o.hdr_len = kEth + 40;
    o.partial_csum = true;
    o.csum_start = kEth + 20;
    o.csum_offset = 16;
    REQUIRE(p.port->transmit(f, o));
    CHECK(p.port->flush_tx() == 0);
    CHECK(p.drain_peer().empty());
    CHECK(p.counter("tap.tx_bad_vnet_hdr") == 1);
}

TEST_CASE("TapPort: a frame given in parts leaves as the joined bytes, TSO header included; checks count the sum") {
    Pair p(true);
    const Frame f = tcp_super_frame(40000);
    const auto whole = std::span<const std::uint8_t>(f);
    const std::array<std::span<const std::uint8_t>, 4> parts{whole.first(kEth + 20), whole.subspan(kEth + 20, 20),
                                                             std::span<const std::uint8_t>{}, whole.subspan(kEth + 40)};
    wire::TxOffload o;
    o.gso = wire::GsoType::kTcpv4;
    o.gso_size = 1448;
    o.hdr_len = kEth + 40;
    o.partial_csum = true;
    o.csum_start = kEth + 20;
    o.csum_offset = 16;
    REQUIRE(p.port->transmit(parts, o));
    CHECK(p.port->flush_tx() == 1);
    const auto out = p.drain_peer();
    REQUIRE(out.size() == 1);
    const auto h = VirtioNetHdr::parse(out[0]);
    REQUIRE(h);
    CHECK(h->gso_size == 1448);
    CHECK(h->hdr_len == kEth + 40);
    CHECK(Frame(out[0].begin() + VirtioNetHdr::kSize, out[0].end()) == f);

    // Too long as a sum, though every part fits on its own.
    const Frame big(40000, 0xab);
    const std::array<std::span<const std::uint8_t>, 2> too_long{std::span<const std::uint8_t>(big),
                                                                std::span<const std::uint8_t>(big)};
    CHECK_FALSE(p.port->transmit(too_long, wire::TxOffload{}));
    CHECK(p.counter("tap.tx_oversize") == 1);
    // Too short as a sum.
    const Frame ten(10, 1);
    const std::array<std::span<const std::uint8_t>, 1> runt{std::span<const std::uint8_t>(ten)};
    CHECK_FALSE(p.port->transmit(runt, wire::TxOffload{}));
    CHECK_FALSE(p.port->transmit(std::span<const std::span<const std::uint8_t>>{}, wire::TxOffload{}));
    CHECK(p.counter("tap.tx_runt") == 2);
    CHECK(p.port->flush_tx() == 0);
}

TEST_CASE("TapPort at MTU 65520: a 65534-byte frame fits the RX and TX buffers, offloads on and off") {
    for (const bool offloads : {false, true}) {
        CAPTURE(offloads);
        Pair p(offloads, 65520);
        CHECK(p.port->buffer_size() >= VirtioNetHdr::kSize + kEth + 4 + 65520);
        // The largest frame the MTU allows: 65520 bytes of IPv4 (a full
        // segment: 20 + 32 + 65468), checksum complete.
        Frame f = tcp_super_frame(65520 - 40);
        wire::ChecksumAccumulator acc;
        const auto seg = std::span<const std::uint8_t>(f).subspan(kEth + 20);
        wire::add_ipv4_pseudo_header(acc, kSrc, kDst, wire::ip_protocol::kTcp,
                                     static_cast<std::uint16_t>(seg.size()));
        f[kEth + 20 + 16] = 0;
        f[kEth + 20 + 17] = 0;
        acc.add(seg);
        wire::store_be16(f.data() + kEth + 20 + 16, acc.checksum());
        REQUIRE(f.size() == kEth + 65520);
        REQUIRE(tcp_checksum_ok(f));
        p.inject(VirtioNetHdr{}, f);
        std::vector<Frame> got;
        CHECK(p.port->poll_rx([&](std::span<const std::uint8_t> fr) { got.emplace_back(fr.begin(), fr.end()); }) == 1);
        REQUIRE(got.size() == 1);
        CHECK(got[0] == f);
        CHECK(p.counter("tap.rx_truncated") == 0);
        REQUIRE(p.port->transmit(f));
        CHECK(p.port->flush_tx() == 1);
        const auto out = p.drain_peer();
        REQUIRE(out.size() == 1);
        CHECK(out[0].size() == VirtioNetHdr::kSize + f.size());
    }
}
