// The interface's TCP glue on a simulated LAN: segments for our address
// reach TCP at IHL*4 (RFC 1122 3.2.1.8), TCP output leaves in IPv4 with DF
// and TTL (RFC 1122 3.2.1.7, 3.2.1.4), broadcasts never reach TCP.
// TCP segments are built by hand here so these tests depend only on the
// checksum helpers, not on the TCP engineer's header code.
#include <doctest/doctest.h>

#include "stack/wire/checksum.hpp"
#include "tests/sim/iface/lan.hpp"

using namespace sim;

namespace {

constexpr std::uint32_t kSeq = 0x01020304;

// A 20-byte SYN from 10.0.0.3:40000 to `dst`:80 with a correct checksum.
std::vector<std::uint8_t> syn_segment(wire::Ipv4Address dst) {
    std::vector<std::uint8_t> s(20, 0);
    wire::store_be16(s.data(), 40000);
    wire::store_be16(s.data() + 2, 80);
    wire::store_be32(s.data() + 4, kSeq);
    s[12] = 5 << 4;
    s[13] = 0x02;  // SYN
    wire::store_be16(s.data() + 14, 65535);
    wire::ChecksumAccumulator acc;
    wire::add_ipv4_pseudo_header(acc, ip(3), dst, wire::ip_protocol::kTcp, 20);
    acc.add(s);
    wire::store_be16(s.data() + 16, acc.checksum());
    return s;
}

Frame syn_frame(wire::MacAddress dst_mac, wire::Ipv4Address dst, bool with_options) {
    wire::Ipv4Repr h;
    h.src = ip(3);
    h.dst = dst;
    h.protocol = wire::ip_protocol::kTcp;
    if (with_options) {
        h.options = {0x07, 0x07, 0x04, 0, 0, 0, 0, 0x00};  // record route (1 slot), end of list
        h.options_len = 8;
    }
    return ipv4_frame(dst_mac, mac(3), h, syn_segment(dst));
}

struct Seen {
    wire::Ipv4Repr ip;
    std::vector<std::uint8_t> tcp;
};

std::vector<Seen> tcp_segments(const std::vector<Frame>& frames) {
    std::vector<Seen> out;
    for (const Frame& f : frames) {
        auto eth = wire::EthernetView::check(f);
        if (!eth || eth->ethertype() != wire::ethertype::kIpv4) continue;
        auto v = wire::Ipv4View::check(eth->payload());
        if (!v || v->protocol() != wire::ip_protocol::kTcp) continue;
        out.push_back(Seen{wire::Ipv4Repr::parse(*v), {v->payload().begin(), v->payload().end()}});
    }
    return out;
}

}  // namespace

TEST_CASE("RFC 1122 3.2.1.8: with IP options present TCP finds its header at IHL*4 (closed port answers RST|ACK)") {
    for (bool options : {false, true}) {
        CAPTURE(options);
        Lan lan;
        lan.raw.send(syn_frame(mac(2), ip(2), options));
        lan.hub.run_for(milliseconds(50));
        const auto got = tcp_segments(lan.raw.received());
        REQUIRE(got.size() == 1);
        const std::vector<std::uint8_t>& t = got[0].tcp;
        REQUIRE(t.size() >= 20);
        CHECK(wire::load_be16(t.data()) == 80);
        CHECK(wire::load_be16(t.data() + 2) == 40000);
        CHECK((t[13] & 0x14) == 0x14);                     // RST|ACK
        CHECK(wire::load_be32(t.data() + 8) == kSeq + 1);  // RFC 9293 3.5.2
        wire::ChecksumAccumulator acc;
        wire::add_ipv4_pseudo_header(acc, got[0].ip.src, got[0].ip.dst, wire::ip_protocol::kTcp,
                                     static_cast<std::uint16_t>(t.size()));
        acc.add(t);
        CHECK(acc.checksum() == 0);
    }
}

TEST_CASE("RFC 1122 3.2.1.4/3.2.1.7: TCP output carries DF, our TTL, protocol 6, and distinct IP IDs") {
    Lan lan;
    lan.raw.send(syn_frame(mac(2), ip(2), false));
    lan.hub.run_for(milliseconds(50));
    lan.raw.send(syn_frame(mac(2), ip(2), false));
    lan.hub.run_for(milliseconds(50));
    const auto got = tcp_segments(lan.raw.received());
    REQUIRE(got.size() == 2);
    for (const Seen& s : got) {
        CHECK(s.ip.dont_fragment);
        CHECK(s.ip.ttl == 64);
        CHECK(s.ip.src == ip(2));
        CHECK(s.ip.dst == ip(3));
    }
    CHECK(got[0].ip.identification != got[1].ip.identification);
}

TEST_CASE("RFC 1122 4.2.3.10: TCP to a broadcast address never reaches TCP") {
    Lan lan;
    lan.raw.send(syn_frame(wire::MacAddress::broadcast(), ip(255), false));
    lan.hub.run_for(milliseconds(50));
    CHECK(tcp_segments(lan.raw.received()).empty());
    CHECK(lan.b.counter("ipv4.rx_broadcast_tcp_dropped") == 1);
}
