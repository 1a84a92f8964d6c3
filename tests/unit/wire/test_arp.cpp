// ARP (RFC 826): golden request, round trip, every validation failure.
#include <doctest/doctest.h>

#include <vector>

#include "stack/wire/arp.hpp"

using namespace tapstack::wire;

namespace {

// Captured (scapy) "who-has 10.0.0.2 tell 10.0.0.1" after the Ethernet header.
const std::vector<std::uint8_t> kRequest = {0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x52, 0x54,
                                            0x00, 0x12, 0x34, 0x56, 0x0a, 0x00, 0x00, 0x01, 0x00, 0x00,
                                            0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x02};

std::optional<ArpRepr> parse(const std::vector<std::uint8_t>& b, ArpError* e) {
    auto v = ArpView::check(b, e);
    if (!v) return std::nullopt;
    return ArpRepr::parse(*v, e);
}

}  // namespace

TEST_CASE("RFC 826: golden who-has request parses to its fields and re-emits identically") {
    ArpError e{};
    auto r = parse(kRequest, &e);
    REQUIRE(r);
    CHECK(r->operation == ArpOperation::kRequest);
    CHECK(r->sender_mac == *MacAddress::parse("52:54:00:12:34:56"));
    CHECK(r->sender_ip == Ipv4Address::from_octets(10, 0, 0, 1));
    CHECK(r->target_mac.is_zero());
    CHECK(r->target_ip == Ipv4Address::from_octets(10, 0, 0, 2));
    std::vector<std::uint8_t> out(ArpRepr::buffer_len());
    r->emit(out);
    CHECK(out == kRequest);
}

TEST_CASE("RFC 826: reply round-trips; Ethernet padding after the packet is ignored") {
    ArpRepr r{ArpOperation::kReply, *MacAddress::parse("02:00:00:00:00:02"), Ipv4Address::from_octets(10, 0, 0, 2),
              *MacAddress::parse("52:54:00:12:34:56"), Ipv4Address::from_octets(10, 0, 0, 1)};
    std::vector<std::uint8_t> out(ArpRepr::buffer_len() + 18, 0);  // padded to a 60-byte frame
    r.emit(out);
    ArpError e{};
    auto back = parse(out, &e);
    REQUIRE(back);
    CHECK(*back == r);
}

TEST_CASE("RFC 826: truncated packets are rejected at every length") {
    for (std::size_t n = 0; n < kRequest.size(); ++n) {
        std::vector<std::uint8_t> b(kRequest.begin(), kRequest.begin() + static_cast<std::ptrdiff_t>(n));
        ArpError e{};
        CHECK_FALSE(parse(b, &e));
        CHECK(e == ArpError::kTruncated);
    }
}

TEST_CASE("RFC 826: hardware type, protocol type, lengths and operation are validated") {
    struct Case {
        std::size_t at;
        std::uint8_t value;
        ArpError expect;
    };
    const Case cases[] = {
        {1, 0x06, ArpError::kBadHardwareType},   // htype 6 (IEEE 802)
        {2, 0x86, ArpError::kBadProtocolType},   // ptype 0x86dd
        {4, 0x08, ArpError::kTruncated},         // hlen 8 needs 36 bytes
        {4, 0x05, ArpError::kBadAddressLength},  // hlen 5 fits but is not Ethernet
        {5, 0x03, ArpError::kBadAddressLength},  // plen 3
        {7, 0x03, ArpError::kBadOperation},      // RARP request
        {7, 0x00, ArpError::kBadOperation},
    };
    for (const Case& c : cases) {
        std::vector<std::uint8_t> b = kRequest;
        b[c.at] = c.value;
        ArpError e{};
        CHECK_FALSE(parse(b, &e));
        CHECK(e == c.expect);
    }
}
