// ICMP errors from an Interface on a simulated LAN (RFC 792, RFC 1122
// 3.2.2, 3.3.2): protocol unreachable, its rate limit, the suppression
// rules, and time exceeded on reassembly timeout.
#include <doctest/doctest.h>

#include "tests/sim/iface/lan.hpp"

using namespace sim;

namespace {

Frame udp_frame(wire::MacAddress dst_mac, wire::Ipv4Address dst, std::uint16_t id) {
    const std::vector<std::uint8_t> udp = {0x30, 0x39, 0x00, 0x35, 0x00, 0x0c, 0x00, 0x00, 'p', 'i', 'n', 'g'};
    wire::Ipv4Repr h;
    h.src = ip(3);
    h.dst = dst;
    h.protocol = wire::ip_protocol::kUdp;
    h.identification = id;
    return ipv4_frame(dst_mac, mac(3), h, udp);
}

}  // namespace

TEST_CASE("RFC 1122 3.2.2.1: a protocol we do not implement (UDP) gets protocol unreachable quoting the datagram") {
    Lan lan;
    const Frame sent = udp_frame(mac(2), ip(2), 0x4242);
    lan.raw.send(sent);
    lan.hub.run_for(milliseconds(10));
    const auto got = icmp_messages(lan.raw.received());
    REQUIRE(got.size() == 1);
    CHECK(got[0].type == wire::icmp_type::kDestUnreachable);
    CHECK(got[0].code == wire::icmp_code::kProtocolUnreachable);
    CHECK(got[0].ip.src == ip(2));
    // The quote is the offending header and payload, byte for byte.
    CHECK(got[0].data == std::vector<std::uint8_t>(sent.begin() + 14, sent.end()));
    CHECK(lan.b.counter("ipv4.rx_unknown_protocol") == 1);
    CHECK(lan.b.counter("icmp.tx_dest_unreachable") == 1);
}

TEST_CASE("RFC 1122 3.2.2: ICMP errors are rate-limited by the token bucket") {
    iface::InterfaceConfig bc = iface_config(2, mac(2));
    bc.icmp_error_rate_per_sec = 10;
    Lan lan(1, {}, iface_config(1, mac(1)), bc);
    for (std::uint16_t i = 0; i < 50; ++i) lan.raw.send(udp_frame(mac(2), ip(2), i));
    lan.hub.run_for(milliseconds(10));
    CHECK(icmp_messages(lan.raw.received()).size() == 10);
    CHECK(lan.b.counter("icmp.tx_error_rate_limited") == 40);
    lan.hub.run_for(seconds(1));
    for (std::uint16_t i = 0; i < 50; ++i) lan.raw.send(udp_frame(mac(2), ip(2), i));
    lan.hub.run_for(milliseconds(10));
    CHECK(icmp_messages(lan.raw.received()).size() == 20);
}

TEST_CASE("RFC 1122 3.2.2: no ICMP error about a datagram sent to a broadcast address") {
    Lan lan;
    lan.raw.send(udp_frame(wire::MacAddress::broadcast(), wire::Ipv4Address::limited_broadcast(), 1));
    lan.raw.send(udp_frame(wire::MacAddress::broadcast(), ip(255), 2));
    lan.hub.run_for(milliseconds(10));
    CHECK(lan.raw.received().empty());
    CHECK(lan.b.counter("icmp.tx_error_suppressed") == 2);
    CHECK(lan.a.counter("icmp.tx_error_suppressed") == 2);
}

TEST_CASE("RFC 1122 3.2.2: no ICMP error about an ICMP error; unknown ICMP types are counted and ignored") {
    Lan lan;
    // A destination unreachable sent to us: counted, never answered.
    std::vector<std::uint8_t> quote(28, 0);
    quote[0] = 0x45;
    wire::IcmpRepr err;
    err.type = wire::icmp_type::kDestUnreachable;
    err.code = wire::icmp_code::kPortUnreachable;
    err.data = quote;
    std::vector<std::uint8_t> msg(err.buffer_len());
    err.emit(msg);
    wire::Ipv4Repr h;
    h.src = ip(3);
    h.dst = ip(2);
    h.protocol = wire::ip_protocol::kIcmp;
    lan.raw.send(ipv4_frame(mac(2), mac(3), h, msg));
    // An unknown ICMP type.
    wire::IcmpRepr odd;
    odd.type = 42;
    std::vector<std::uint8_t> odd_msg(odd.buffer_len());
    odd.emit(odd_msg);
    lan.raw.send(ipv4_frame(mac(2), mac(3), h, odd_msg));
    lan.hub.run_for(milliseconds(10));
    CHECK(lan.raw.received().empty());
    CHECK(lan.b.counter("icmp.rx_dest_unreachable") == 1);
    CHECK(lan.b.counter("icmp.rx_unsupported_type") == 1);
}

TEST_CASE(
    "RFC 1122 3.3.2: an incomplete datagram is freed at the timeout with time exceeded (code 1) quoting its first "
    "fragment") {
    Lan lan;
    const auto frames = echo_request_frames(mac(2), mac(3), ip(3), ip(2), 1, 1, pattern(3000), 0x777);
    REQUIRE(frames.size() == 3);
    lan.raw.send(frames[0]);
    lan.raw.send(frames[2]);
    lan.hub.run_for(seconds(29));
    CHECK(lan.raw.received().empty());
    CHECK(lan.b.counter("ipv4.reasm_datagrams") == 1);
    CHECK(lan.b.counter("ipv4.reasm_bytes") > 0);
    lan.hub.run_for(seconds(2));
    const auto got = icmp_messages(lan.raw.received());
    REQUIRE(got.size() == 1);
    CHECK(got[0].type == wire::icmp_type::kTimeExceeded);
    CHECK(got[0].code == wire::icmp_code::kReassemblyTimeExceeded);
    // Quoted: the first fragment's header and its first 8 payload bytes (the echo header).
    REQUIRE(got[0].data.size() == 28);
    CHECK(std::equal(got[0].data.begin(), got[0].data.end(), frames[0].begin() + 14));
    CHECK(lan.b.counter("ipv4.reasm_datagrams") == 0);
    CHECK(lan.b.counter("ipv4.reasm_bytes") == 0);
    CHECK(lan.b.counter("ipv4.reasm_timeouts") == 1);
}

TEST_CASE("RFC 1122 3.3.2: a timed-out datagram whose first fragment never came gets no ICMP error") {
    Lan lan;
    const auto frames = echo_request_frames(mac(2), mac(3), ip(3), ip(2), 1, 1, pattern(3000), 0x778);
    lan.raw.send(frames[1]);
    lan.hub.run_for(seconds(31));
    CHECK(lan.raw.received().empty());
    CHECK(lan.b.counter("ipv4.reasm_timeouts") == 1);
    CHECK(lan.b.counter("ipv4.reasm_datagrams") == 0);
}

TEST_CASE("RFC 1122 3.3.1: with no gateway, output to an off-link host is dropped as no route and TCP is told") {
    Lan lan;
    tcp::ConnId conn;
    REQUIRE(lan.a.iface().tcp().connect(lan.hub.now(),
                                        wire::IpEndpoint{wire::Ipv4Address::from_octets(192, 0, 2, 1), 80}, 0,
                                        &conn) == tcp::Error::kNone);
    lan.hub.run_for(seconds(1));
    CHECK(lan.a.counter("ipv4.tx_no_route") >= 1);
    CHECK(lan.a.iface().tcp().info(conn).error == tcp::Error::kHostUnreachable);
}

TEST_CASE("RFC 1122 3.3.1.2: off-link destinations go to the gateway's MAC") {
    iface::InterfaceConfig bc = iface_config(2, mac(2));
    bc.gateway = ip(3);  // the raw station plays the router
    Lan lan(1, {}, iface_config(1, mac(1)), bc);
    const auto frames = echo_request_frames(mac(2), mac(3), wire::Ipv4Address::from_octets(198, 51, 100, 9), ip(2), 1,
                                            1, pattern(56), 5);
    lan.raw.send(frames[0]);
    lan.hub.run_for(milliseconds(10));
    const auto got = icmp_messages(lan.raw.received());
    REQUIRE(got.size() == 1);
    CHECK(got[0].ip.dst == wire::Ipv4Address::from_octets(198, 51, 100, 9));
}
