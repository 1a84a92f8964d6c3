// ICMP echo through an Interface on a simulated LAN (RFC 792, RFC 1122
// 3.2.2.6), including datagrams fragmented both ways (RFC 791 3.2).
#include <doctest/doctest.h>

#include <algorithm>

#include "tests/sim/iface/lan.hpp"

using namespace sim;

namespace {

std::vector<IcmpSeen> ping_and_collect(Lan& lan, std::size_t size, std::uint16_t seq, bool reverse = false) {
    const auto data = pattern(size, static_cast<std::uint8_t>(seq));
    auto frames = echo_request_frames(mac(2), lan.raw.mac(), lan.raw.ip(), ip(2), 0x1234, seq, data, seq);
    if (reverse) std::reverse(frames.begin(), frames.end());
    for (const Frame& f : frames) lan.raw.send(f);
    lan.hub.run_for(milliseconds(100));
    return icmp_messages(lan.raw.received());
}

}  // namespace

TEST_CASE("RFC 792 / RFC 1122 3.2.2.6: echo of 56, 1472 and 8000 bytes returns identical id, seq and data") {
    for (std::size_t size :
         {std::size_t{0}, std::size_t{56}, std::size_t{1472}, std::size_t{1473}, std::size_t{8000}}) {
        CAPTURE(size);
        Lan lan;
        const auto got = ping_and_collect(lan, size, 9);
        REQUIRE(got.size() == 1);
        CHECK(got[0].type == wire::icmp_type::kEchoReply);
        CHECK(got[0].code == 0);
        CHECK(got[0].ident == 0x1234);
        CHECK(got[0].seq == 9);
        CHECK(got[0].data == pattern(size, 9));
        CHECK(got[0].ip.src == ip(2));
        CHECK(got[0].ip.dst == ip(3));
        CHECK(got[0].largest_frame <= 1514);
        // 8 + size bytes of ICMP fit one 1500-byte datagram up to 1472.
        CHECK(got[0].fragments == (size <= 1472 ? 1u : (8 + size + 1479) / 1480));
        CHECK(lan.b.counter("icmp.tx_echo_replies") == 1);
    }
}

TEST_CASE("RFC 791 3.2: an 8000-byte echo whose fragments arrive in reverse order is reassembled and answered") {
    Lan lan;
    const auto got = ping_and_collect(lan, 8000, 3, true);
    REQUIRE(got.size() == 1);
    CHECK(got[0].data == pattern(8000, 3));
    CHECK(got[0].fragments == 6);
    CHECK(lan.b.counter("ipv4.reasm_completed") == 1);
    CHECK(lan.b.counter("ipv4.tx_fragments") == 6);
    CHECK(lan.b.counter("ipv4.reasm_datagrams") == 0);
}

TEST_CASE("RFC 791 3.2: the largest echo (65507 bytes of data) is answered in 45 fragments") {
    Lan lan;
    const auto got = ping_and_collect(lan, 65507, 4);
    REQUIRE(got.size() == 1);
    CHECK(got[0].data == pattern(65507, 4));
    CHECK(got[0].fragments == 45);
}

TEST_CASE("RFC 1122 3.2.1.8: an echo request carrying IP options is answered") {
    Lan lan;
    const auto data = pattern(56);
    const Frame message = echo_message(wire::icmp_type::kEchoRequest, 5, 6, data);
    wire::Ipv4Repr h;
    h.src = ip(3);
    h.dst = ip(2);
    h.protocol = wire::ip_protocol::kIcmp;
    h.options = {0x01, 0x01, 0x01, 0x00, 0x01, 0x01, 0x01, 0x00};  // NOP padding, then end of list
    h.options_len = 8;
    lan.raw.send(ipv4_frame(mac(2), mac(3), h, message));
    lan.hub.run_for(milliseconds(10));
    const auto got = icmp_messages(lan.raw.received());
    REQUIRE(got.size() == 1);
    CHECK(got[0].seq == 6);
    CHECK(got[0].data == data);
}

TEST_CASE("RFC 1122 3.2.2.6: echo requests to a broadcast address are ignored and counted") {
    Lan lan;
    const auto data = pattern(56);
    for (wire::Ipv4Address dst : {wire::Ipv4Address::limited_broadcast(), ip(255)}) {
        for (const Frame& f : echo_request_frames(wire::MacAddress::broadcast(), mac(3), ip(3), dst, 1, 1, data, 1)) {
            lan.raw.send(f);
        }
    }
    lan.hub.run_for(milliseconds(10));
    CHECK(icmp_messages(lan.raw.received()).empty());
    CHECK(lan.b.counter("icmp.rx_echo_broadcast_ignored") == 2);
}

TEST_CASE("200 pings in a row over a lossless link: 200 replies, in order") {
    Lan lan;
    for (std::uint16_t seq = 1; seq <= 200; ++seq) {
        for (const Frame& f : echo_request_frames(mac(2), mac(3), ip(3), ip(2), 77, seq, pattern(56), seq)) {
            lan.raw.send(f);
        }
        lan.hub.run_for(milliseconds(10));
    }
    const auto got = icmp_messages(lan.raw.received());
    REQUIRE(got.size() == 200);
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i].seq == i + 1);
}
