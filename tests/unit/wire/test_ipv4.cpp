// IPv4 header (RFC 791 3.1, RFC 1122 3.2.1): golden bytes (with options),
// round trip, and each validation failure.
#include <doctest/doctest.h>

#include <vector>

#include "stack/wire/checksum.hpp"
#include "stack/wire/ipv4.hpp"

using namespace tapstack::wire;

namespace {

// scapy: IP(id=0x1234, flags=DF, ttl=64)/ICMP(id=0x4d2, seq=7)/"abcdefgh"
const std::vector<std::uint8_t> kEcho = {0x45, 0x00, 0x00, 0x24, 0x12, 0x34, 0x40, 0x00, 0x40, 0x01, 0x14, 0xa3,
                                         0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, 0x08, 0x00, 0x61, 0x91,
                                         0x04, 0xd2, 0x00, 0x07, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68};

// scapy: IP(ttl=17, options=[Record Route, 1 slot])/TCP(SYN), IHL 7.
const std::vector<std::uint8_t> kWithOptions = {0x47, 0x00, 0x00, 0x30, 0x00, 0x01, 0x00, 0x00, 0x11, 0x06, 0x19, 0x6d,
                                                0xc0, 0xa8, 0x01, 0x01, 0xc0, 0xa8, 0x01, 0x02, 0x07, 0x07, 0x04, 0x00,
                                                0x00, 0x00, 0x00, 0x00, 0x04, 0xd2, 0x00, 0x50, 0x00, 0x00, 0x00, 0x01,
                                                0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0x20, 0x00, 0x07, 0x6c, 0x00, 0x00};

void fix_checksum(std::vector<std::uint8_t>& b) {
    const std::size_t hlen = std::size_t{b[0] & 0x0fu} * 4;
    b[10] = b[11] = 0;
    const std::uint16_t c = internet_checksum(std::span(b).first(std::min(hlen, b.size())));
    b[10] = static_cast<std::uint8_t>(c >> 8);
    b[11] = static_cast<std::uint8_t>(c);
}

std::optional<Ipv4Error> error_of(const std::vector<std::uint8_t>& b) {
    Ipv4Error e{};
    if (Ipv4View::check(b, &e)) return std::nullopt;
    return e;
}

}  // namespace

TEST_CASE("RFC 791 3.1: golden echo datagram parses to its fields") {
    auto v = Ipv4View::check(kEcho);
    REQUIRE(v);
    const Ipv4Repr r = Ipv4Repr::parse(*v);
    CHECK(r.src == Ipv4Address::from_octets(10, 0, 0, 1));
    CHECK(r.dst == Ipv4Address::from_octets(10, 0, 0, 2));
    CHECK(r.protocol == ip_protocol::kIcmp);
    CHECK(r.ttl == 64);
    CHECK(r.identification == 0x1234);
    CHECK(r.dont_fragment);
    CHECK_FALSE(r.more_fragments);
    CHECK(r.fragment_offset == 0);
    CHECK(r.payload_len == 16);
    CHECK(r.options_len == 0);
    std::vector<std::uint8_t> out(r.buffer_len());
    r.emit(out);
    CHECK(std::equal(out.begin(), out.begin() + 20, kEcho.begin()));
}

TEST_CASE("RFC 1122 3.2.1.8: options are skipped; the transport header is at IHL*4 and options round-trip") {
    auto v = Ipv4View::check(kWithOptions);
    REQUIRE(v);
    CHECK(v->header_len() == 28);
    CHECK(v->payload().size() == 20);
    CHECK(v->payload()[0] == 0x04);  // TCP source port 1234 high byte
    CHECK(v->payload()[1] == 0xd2);
    const Ipv4Repr r = Ipv4Repr::parse(*v);
    CHECK(r.options_len == 8);
    std::vector<std::uint8_t> out(r.buffer_len());
    r.emit(out);
    CHECK(std::equal(out.begin(), out.begin() + 28, kWithOptions.begin()));
}

TEST_CASE("RFC 791 3.1: every field round-trips through emit and parse, fragments included") {
    Ipv4Repr r;
    r.src = Ipv4Address::from_octets(192, 0, 2, 1);
    r.dst = Ipv4Address::from_octets(198, 51, 100, 7);
    r.protocol = 17;
    r.ttl = 1;
    r.dscp_ecn = 0xb8;
    r.identification = 0xfffe;
    r.more_fragments = true;
    r.fragment_offset = 8 * 0x1fff;  // largest offset
    r.payload_len = 8;
    r.options = {0x01, 0x01, 0x01, 0x00};
    r.options_len = 4;
    std::vector<std::uint8_t> out(r.buffer_len(), 0x5a);
    r.emit(out);
    auto v = Ipv4View::check(out);
    REQUIRE(v);
    CHECK(v->is_fragment());
    CHECK(Ipv4Repr::parse(*v) == r);
}

TEST_CASE("RFC 791: Ethernet padding after total length is outside the view") {
    std::vector<std::uint8_t> padded = kEcho;
    padded.resize(46, 0);
    auto v = Ipv4View::check(padded);
    REQUIRE(v);
    CHECK(v->bytes().size() == kEcho.size());
    CHECK(v->payload().size() == 16);
}

TEST_CASE("RFC 1122 3.2.1.2: a bad header checksum is rejected") {
    std::vector<std::uint8_t> b = kEcho;
    b[11] ^= 0x01;
    CHECK(error_of(b) == Ipv4Error::kBadChecksum);
}

TEST_CASE("RFC 1122 3.2.1.1: version other than 4 is rejected") {
    for (int version : {0, 5, 6, 15}) {
        std::vector<std::uint8_t> b = kEcho;
        b[0] = static_cast<std::uint8_t>((version << 4) | 5);
        fix_checksum(b);
        CHECK(error_of(b) == Ipv4Error::kBadVersion);
    }
}

TEST_CASE("RFC 791 3.1: IHL < 5 and IHL*4 > total length are rejected") {
    for (std::uint8_t ihl = 0; ihl < 5; ++ihl) {
        std::vector<std::uint8_t> b = kEcho;
        b[0] = static_cast<std::uint8_t>(0x40 | ihl);
        CHECK(error_of(b) == Ipv4Error::kBadHeaderLength);
    }
    std::vector<std::uint8_t> b = kEcho;
    b[0] = 0x47;  // IHL 7: a 28-byte header
    b[2] = 0;
    b[3] = 24;  // in a 24-byte datagram
    CHECK(error_of(b) == Ipv4Error::kBadHeaderLength);
}

TEST_CASE("RFC 1122 3.2.1: total length larger than the bytes received is rejected") {
    std::vector<std::uint8_t> b = kEcho;
    b[3] = static_cast<std::uint8_t>(kEcho.size() + 1);
    fix_checksum(b);
    CHECK(error_of(b) == Ipv4Error::kBadTotalLength);
}

TEST_CASE("RFC 791: truncated headers are rejected at every length below 20") {
    for (std::size_t n = 0; n < 20; ++n) {
        std::vector<std::uint8_t> b(kEcho.begin(), kEcho.begin() + static_cast<std::ptrdiff_t>(n));
        CHECK(error_of(b) == Ipv4Error::kTruncated);
    }
}

TEST_CASE("RFC 791 3.1: options not a multiple of 4 bytes are padded with zeros (end of option list)") {
    Ipv4Repr r;
    r.src = Ipv4Address::from_octets(10, 0, 0, 1);
    r.dst = Ipv4Address::from_octets(10, 0, 0, 2);
    r.options = {0x94, 0x04, 0x00};  // 3 bytes given
    r.options[3] = 0xee;             // beyond options_len: must not leak into the header
    r.options_len = 3;
    CHECK(r.header_len() == 24);
    std::vector<std::uint8_t> out(r.buffer_len());
    r.emit(out);
    auto v = Ipv4View::check(out);
    REQUIRE(v);
    CHECK(v->header_len() == 24);
    CHECK(v->options()[3] == 0);
    CHECK(Ipv4Repr::parse(*v).options_len == 4);
}
