// IPv6 addresses (RFC 4291 2.2 text forms, RFC 5952 canonical text,
// RFC 4291 2.7.1 / 2.5.1 derived addresses), the either-family IpAddress
// and IpEndpoint, the fixed header (RFC 8200 3) with golden bytes, and the
// IPv6 pseudo-header checksum (RFC 8200 8.1).
#include <doctest/doctest.h>

#include <map>
#include <vector>

#include "stack/wire/checksum.hpp"
#include "stack/wire/ipv6.hpp"

using namespace tapstack::wire;

namespace {

Ipv6Address a6(const char* text) {
    auto a = Ipv6Address::parse(text);
    REQUIRE_MESSAGE(a.has_value(), text);
    return *a;
}

// scapy: IPv6(src="fe80::1", dst="fd00::2", hlim=64, tc=0x12, fl=0x12345)/
//        ICMPv6EchoRequest(id=0x1234, seq=7, data=b"abcdefgh")
const std::vector<std::uint8_t> kEcho = {
    0x61, 0x21, 0x23, 0x45, 0x00, 0x10, 0x3a, 0x40, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x80, 0x00, 0xe0, 0x5f, 0x12, 0x34, 0x00, 0x07,
    0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68};

// scapy: IPv6(src="fd00::1", dst="fd00::2")/UDP(sport=1234, dport=53)/b"hello", checksum 0xbcf6.
const std::vector<std::uint8_t> kUdp = {
    0x60, 0x00, 0x00, 0x00, 0x00, 0x0d, 0x11, 0x40, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x04, 0xd2, 0x00, 0x35, 0x00, 0x0d, 0xbc, 0xf6,
    0x68, 0x65, 0x6c, 0x6c, 0x6f};

}  // namespace

TEST_CASE("RFC 5952 4: canonical text (lower case, no leading zeros, longest zero run as ::)") {
    const std::map<std::string, std::string> cases = {
        {"2001:0db8:0000:0000:0000:0000:0002:0001", "2001:db8::2:1"},
        {"2001:DB8:0:0:0:0:2:1", "2001:db8::2:1"},
        {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},      // 4.2.2: one 16-bit 0 is not shortened
        {"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},                // 4.2.3: the longest run
        {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},          // 4.2.3: the first of equal runs
        {"0:0:0:0:0:0:0:0", "::"},
        {"0:0:0:0:0:0:0:1", "::1"},
        {"1:0:0:0:0:0:0:0", "1::"},
        {"fe80::0074:73ff:fe13:4d02", "fe80::74:73ff:fe13:4d02"},
        {"::ffff:198.19.77.2", "::ffff:198.19.77.2"},           // 5: IPv4-mapped as a dotted quad
        {"::ffff:c613:4d02", "::ffff:198.19.77.2"},
        {"64:ff9b::1.2.3.4", "64:ff9b::102:304"},
    };
    for (const auto& c : cases) {
        const std::string& in = c.first;
        const std::string& out = c.second;
        CAPTURE(in);
        CHECK(a6(in.c_str()).to_string() == out);
        CHECK(a6(out.c_str()) == a6(in.c_str()));  // the canonical text parses back
    }
}

TEST_CASE("RFC 4291 2.2: malformed text forms are refused") {
    for (const char* bad : {"", ":", ":::", "1::2::3", ":1::", "1:", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9",
                            "1:2:3:4:5:6:7:8::", "12345::", "g::1", "::1.2.3", "1.2.3.4::", "::1.2.3.4:5",
                            "[::1]", "fe80::1%eth0", "1:2:3:4:5:6:7:1.2.3.4", " ::1", "::1 "}) {
        CAPTURE(bad);
        CHECK_FALSE(Ipv6Address::parse(bad).has_value());
    }
    CHECK(Ipv6Address::parse("1:2:3:4:5:6:1.2.3.4").has_value());
    CHECK(Ipv6Address::parse("1:2:3:4:5:6:7::").has_value());
    CHECK(Ipv6Address::parse("::2:3:4:5:6:7:8").has_value());
}

TEST_CASE("RFC 4291: address classes, solicited-node group and its Ethernet MAC (RFC 2464 7)") {
    CHECK(a6("fe80::1").is_link_local());
    CHECK(a6("febf::1").is_link_local());
    CHECK_FALSE(a6("fec0::1").is_link_local());
    CHECK(a6("fd12:3456::1").is_unique_local());
    CHECK(a6("fc00::1").is_unique_local());
    CHECK_FALSE(a6("fe00::1").is_unique_local());
    CHECK(a6("ff02::1").is_multicast());
    CHECK(a6("ff02::1").multicast_scope() == 2);
    CHECK(a6("::").is_unspecified());
    CHECK(a6("::1").is_loopback());
    CHECK(a6("::ffff:10.0.0.1").is_ipv4_mapped());
    CHECK(a6("fd00::12:3456:789a").solicited_node() == a6("ff02::1:ff56:789a"));
    CHECK(a6("ff02::1:ff56:789a").is_solicited_node_multicast());
    CHECK_FALSE(a6("ff02::1").is_solicited_node_multicast());
    CHECK(a6("ff02::1:ff56:789a").multicast_mac() == MacAddress{{0x33, 0x33, 0xff, 0x56, 0x78, 0x9a}});
    CHECK(Ipv6Address::all_nodes().multicast_mac() == MacAddress{{0x33, 0x33, 0, 0, 0, 1}});
}

TEST_CASE("RFC 4291 appendix A: the modified EUI-64 link-local address of a MAC") {
    CHECK(Ipv6Address::link_local_from_mac(MacAddress{{0x02, 0x74, 0x73, 0x13, 0x4d, 0x02}}) ==
          a6("fe80::74:73ff:fe13:4d02"));
    CHECK(Ipv6Address::link_local_from_mac(MacAddress{{0x00, 0x1b, 0x21, 0x0a, 0x0b, 0x0c}}) ==
          a6("fe80::21b:21ff:fe0a:b0c"));
}

TEST_CASE("Ipv6Cidr: parse, prefix match and network at every boundary") {
    auto c = Ipv6Cidr::parse("fd00:1:2:3::9/64");
    REQUIRE(c);
    CHECK(c->prefix_len == 64);
    CHECK(c->to_string() == "fd00:1:2:3::9/64");
    CHECK(c->contains(a6("fd00:1:2:3:ffff::1")));
    CHECK_FALSE(c->contains(a6("fd00:1:2:4::9")));
    CHECK(c->network() == a6("fd00:1:2:3::"));
    CHECK(Ipv6Cidr{a6("fd00::ffff"), 124}.network() == a6("fd00::fff0"));
    CHECK(Ipv6Cidr{a6("ffff::"), 0}.contains(a6("::1")));
    CHECK(Ipv6Cidr{a6("fd00::1"), 128}.contains(a6("fd00::1")));
    CHECK_FALSE(Ipv6Cidr{a6("fd00::1"), 128}.contains(a6("fd00::2")));
    CHECK_FALSE(Ipv6Cidr::parse("fd00::1/129"));
    CHECK_FALSE(Ipv6Cidr::parse("fd00::1"));
    CHECK_FALSE(Ipv6Cidr::parse("fd00::1/"));
    CHECK_FALSE(Ipv6Cidr::parse("10.0.0.1/24"));
}

TEST_CASE("IpAddress holds either family; IpEndpoint brackets IPv6 (RFC 5952 6)") {
    const IpAddress v4 = *IpAddress::parse("10.0.0.2");
    const IpAddress v6 = *IpAddress::parse("fd00::2");
    CHECK(v4.is_ipv4());
    CHECK(v6.is_ipv6());
    CHECK(v4.ipv4() == Ipv4Address::from_octets(10, 0, 0, 2));
    CHECK(v6.ipv6() == a6("fd00::2"));
    CHECK(v4.ipv6().is_unspecified());
    CHECK(v4 != v6);
    CHECK(v4 < v6);  // IPv4 sorts first
    CHECK(IpAddress(a6("fd00::2")) == v6);
    CHECK(IpEndpoint{v4, 7}.to_string() == "10.0.0.2:7");
    CHECK(IpEndpoint{v6, 7}.to_string() == "[fd00::2]:7");
    CHECK_FALSE(IpAddress::parse("fd00::2::1"));
    CHECK_FALSE(IpAddress::parse("10.0.0"));
    CHECK(std::hash<Ipv6Address>{}(a6("fd00::1")) != std::hash<Ipv6Address>{}(a6("fd00::2")));
}

TEST_CASE("RFC 8200 3: golden echo packet parses to its fields and the header round-trips") {
    auto v = Ipv6View::check(kEcho);
    REQUIRE(v);
    const Ipv6Repr r = Ipv6Repr::parse(*v);
    CHECK(r.src == a6("fe80::1"));
    CHECK(r.dst == a6("fd00::2"));
    CHECK(r.traffic_class == 0x12);
    CHECK(r.flow_label == 0x12345);
    CHECK(r.hop_limit == 64);
    CHECK(r.next_header == next_header::kIcmpv6);
    CHECK(r.payload_len == 16);
    CHECK(v->payload().size() == 16);
    std::vector<std::uint8_t> out(r.buffer_len());
    r.emit(out);
    CHECK(std::equal(out.begin(), out.begin() + 40, kEcho.begin()));
    std::vector<std::uint8_t> copy = out;
    std::copy(kEcho.begin() + 40, kEcho.end(), copy.begin() + 40);
    auto again = Ipv6View::check(copy);
    REQUIRE(again);
    CHECK(Ipv6Repr::parse(*again) == r);
}

TEST_CASE("RFC 8200 3: truncated, wrong version and payload length beyond the frame are refused") {
    Ipv6Error e{};
    CHECK_FALSE(Ipv6View::check(std::span(kEcho).first(39), &e));
    CHECK(e == Ipv6Error::kTruncated);
    auto bad = kEcho;
    bad[0] = 0x41;
    CHECK_FALSE(Ipv6View::check(bad, &e));
    CHECK(e == Ipv6Error::kBadVersion);
    bad = kEcho;
    bad[5] = 0x11;  // 17 bytes of payload, 16 present
    CHECK_FALSE(Ipv6View::check(bad, &e));
    CHECK(e == Ipv6Error::kBadPayloadLength);
    // Ethernet padding after the payload is outside the view.
    auto padded = kEcho;
    padded.resize(kEcho.size() + 6, 0);
    auto v = Ipv6View::check(padded);
    REQUIRE(v);
    CHECK(v->bytes().size() == kEcho.size());
}

TEST_CASE("RFC 8200 8.1: the IPv6 pseudo-header checksum of a golden UDP datagram") {
    ChecksumAccumulator acc;
    add_ipv6_pseudo_header(acc, a6("fd00::1"), a6("fd00::2"), next_header::kUdp, 13);
    std::vector<std::uint8_t> udp(kUdp.begin() + 40, kUdp.end());
    udp[6] = udp[7] = 0;
    acc.add(udp);
    CHECK(acc.checksum() == 0xbcf6);
    // The same through the either-family entry point.
    ChecksumAccumulator either;
    add_pseudo_header(either, IpAddress(a6("fd00::1")), IpAddress(a6("fd00::2")), next_header::kUdp, 13);
    either.add(udp);
    CHECK(either.checksum() == 0xbcf6);
    // A received datagram with its checksum sums to zero.
    ChecksumAccumulator check;
    add_ipv6_pseudo_header(check, a6("fd00::1"), a6("fd00::2"), next_header::kUdp, 13);
    check.add(std::span(kUdp).subspan(40));
    CHECK(check.checksum() == 0);
}

TEST_CASE("add_pseudo_header for IPv4 equals add_ipv4_pseudo_header") {
    ChecksumAccumulator a;
    ChecksumAccumulator b;
    add_ipv4_pseudo_header(a, Ipv4Address::from_octets(10, 0, 0, 1), Ipv4Address::from_octets(10, 0, 0, 2), 6, 40);
    add_pseudo_header(b, IpAddress(Ipv4Address::from_octets(10, 0, 0, 1)), IpAddress(Ipv4Address::from_octets(10, 0, 0, 2)),
                      6, 40);
    CHECK(a.folded_sum() == b.folded_sum());
}
