// FrameSink::transmit_parts: the interface hands every
// IPv4 frame to its sink as two parts, the Ethernet + IPv4 headers it built
// and the payload it was given, instead of assembling a frame of its own.
// A sink that overrides transmit_parts must see exactly the bytes a sink
// without it sees (the default joins the parts and calls transmit() or
// transmit_offload()), whole datagrams and fragments alike.
#include <doctest/doctest.h>

#include <vector>

#include "stack/iface/frame_sink.hpp"
#include "stack/iface/interface.hpp"
#include "stack/iface/ipv4_fragmenter.hpp"
#include "stack/wire/arp.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/icmp.hpp"
#include "stack/wire/ipv4.hpp"

using namespace tapstack;
using Frame = std::vector<std::uint8_t>;
using wire::Ipv4Address;
using wire::MacAddress;

namespace {

const MacAddress kOurMac{{0x02, 0, 0, 0, 0, 0x02}};
const MacAddress kHostMac{{0x02, 0, 0, 0, 0, 0x01}};
const Ipv4Address kOurIp = Ipv4Address::from_octets(10, 0, 0, 2);
const Ipv4Address kHostIp = Ipv4Address::from_octets(10, 0, 0, 1);
constexpr std::size_t kEth = 14;

// Records what a sink without transmit_parts gets: the joined frames.
struct JoinedSink : iface::FrameSink {
    std::vector<Frame> frames;
    std::vector<wire::TxOffload> offloads;
    bool transmit(std::span<const std::uint8_t> frame) override {
        frames.emplace_back(frame.begin(), frame.end());
        offloads.emplace_back();
        return true;
    }
    bool transmit_offload(std::span<std::uint8_t> frame, const wire::TxOffload& offload) override {
        frames.emplace_back(frame.begin(), frame.end());
        offloads.push_back(offload);
        return true;
    }
};

// Overrides transmit_parts and records the parts' sizes too.
struct PartsSink final : JoinedSink {
    std::vector<std::vector<std::size_t>> part_sizes;
    bool transmit_parts(Parts parts, const wire::TxOffload& offload) override {
        Frame f;
        std::vector<std::size_t> sizes;
        for (const auto& p : parts) {
            f.insert(f.end(), p.begin(), p.end());
            sizes.push_back(p.size());
        }
        frames.push_back(std::move(f));
        offloads.push_back(offload);
        part_sizes.push_back(std::move(sizes));
        return true;
    }
};

iface::InterfaceConfig config(std::uint16_t mtu) {
    iface::InterfaceConfig c;
    c.mac = kOurMac;
    c.address = wire::Ipv4Cidr{kOurIp, 24};
    c.mtu = mtu;
    return c;
}

Frame arp_request_for_us() {
    Frame f(kEth + wire::ArpRepr::kLen);
    wire::EthernetRepr{MacAddress::broadcast(), kHostMac, wire::ethertype::kArp}.emit(f);
    wire::ArpRepr{wire::ArpOperation::kRequest, kHostMac, kHostIp, MacAddress{}, kOurIp}.emit(
        wire::MutBytes(f).subspan(kEth));
    return f;
}

// An echo request of `size` data bytes from the host, as frames of at most
// `mtu` bytes of IPv4 (fragmented by the same fragmenter the stack uses).
std::vector<Frame> echo_request(std::size_t size, std::uint16_t mtu) {
    Frame data(size);
    for (std::size_t i = 0; i < size; ++i) data[i] = static_cast<std::uint8_t>(i * 7 + 3);
    wire::IcmpRepr icmp;
    icmp.type = wire::icmp_type::kEchoRequest;
    icmp.ident = 77;
    icmp.seq = 1;
    icmp.data = data;
    Frame msg(icmp.buffer_len());
    icmp.emit(msg);
    wire::Ipv4Repr ip;
    ip.src = kHostIp;
    ip.dst = kOurIp;
    ip.protocol = wire::ip_protocol::kIcmp;
    ip.ttl = 64;
    ip.identification = 4242;
    std::vector<Frame> frames;
    iface::fragment_ipv4(ip, msg, mtu, [&](const wire::Ipv4Repr& h, wire::Bytes chunk) {
        Frame f(kEth + h.header_len());
        wire::EthernetRepr{kOurMac, kHostMac, wire::ethertype::kIpv4}.emit(f);
        h.emit(wire::MutBytes(f).subspan(kEth));
        f.insert(f.end(), chunk.begin(), chunk.end());
        frames.push_back(std::move(f));
    });
    return frames;
}

// Feeds the same input to an interface on each sink; returns both sinks.
template <typename Sink>
Sink run(std::uint16_t mtu, std::size_t echo_size) {
    Sink sink;
    iface::Interface ifc(config(mtu), sink, 1);
    const Instant t{};
    ifc.receive_frame(t, arp_request_for_us());
    for (const Frame& f : echo_request(echo_size, mtu)) ifc.receive_frame(t, f);
    ifc.poll(t);
    return sink;
}

}  // namespace

TEST_CASE("FrameSink::transmit_parts: an echo reply leaves as headers + payload, the same bytes as a joined frame") {
    const JoinedSink joined = run<JoinedSink>(1500, 1000);
    const PartsSink parts = run<PartsSink>(1500, 1000);
    REQUIRE(joined.frames.size() == 2);  // ARP reply, echo reply
    CHECK(parts.frames == joined.frames);
    REQUIRE(parts.part_sizes.size() == 1);  // only IPv4 goes in parts; ARP as one frame
    CHECK(parts.part_sizes[0] == std::vector<std::size_t>{kEth + 20, 8 + 1000});
    CHECK(parts.offloads[1].none());
}

TEST_CASE("FrameSink::transmit_parts: each fragment of a reply larger than the MTU is its headers + its chunk") {
    constexpr std::uint16_t kMtu = 576;
    const JoinedSink joined = run<JoinedSink>(kMtu, 3000);
    const PartsSink parts = run<PartsSink>(kMtu, 3000);
    CHECK(parts.frames == joined.frames);
    REQUIRE(parts.part_sizes.size() >= 6);  // 3008 bytes of ICMP in 552-byte chunks
    std::size_t payload = 0;
    for (const auto& sizes : parts.part_sizes) {
        REQUIRE(sizes.size() == 2);
        CHECK(sizes[0] == kEth + 20);
        CHECK(sizes[0] + sizes[1] <= kEth + kMtu);
        payload += sizes[1];
    }
    CHECK(payload == 8 + 3000);
}

TEST_CASE("FrameSink::transmit_parts default: parts are joined; an offload goes to transmit_offload, none to transmit") {
    JoinedSink sink;
    const Frame a{1, 2, 3}, b{}, c{4, 5};
    const std::vector<std::span<const std::uint8_t>> parts{a, b, c};
    REQUIRE(sink.transmit_parts(parts, wire::TxOffload{}));
    wire::TxOffload o;
    o.gso = wire::GsoType::kTcpv4;
    o.gso_size = 1;
    o.hdr_len = 2;
    REQUIRE(sink.transmit_parts(parts, o));
    REQUIRE(sink.frames.size() == 2);
    CHECK(sink.frames[0] == Frame{1, 2, 3, 4, 5});
    CHECK(sink.frames[1] == Frame{1, 2, 3, 4, 5});
    CHECK(sink.offloads[0].none());
    CHECK(sink.offloads[1] == o);
}
