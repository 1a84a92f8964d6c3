// Neighbour Discovery messages (RFC 4861 4): golden NS, NA, RS and RA from
// scapy, round trip of the Repr, and the option rules of 4.6.
#include <doctest/doctest.h>

#include <vector>

#include "stack/wire/ipv6.hpp"
#include "stack/wire/ndp.hpp"

using namespace tapstack::wire;

namespace {

Ipv6Address a6(const char* text) { return *Ipv6Address::parse(text); }
MacAddress mac(std::uint8_t last) { return MacAddress{{0x02, 0, 0, 0, 0, last}}; }

// ICMPv6 parts of scapy packets:
// IPv6(src="fd00::1", dst="ff02::1:ff00:2", hlim=255)/ICMPv6ND_NS(tgt="fd00::2")/
//   ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:01")
const std::vector<std::uint8_t> kNs = {0x87, 0x00, 0x7d, 0x97, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x00, 0x00, 0x00,
                                       0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
                                       0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
// IPv6(src="fd00::2", dst="fd00::1", hlim=255)/ICMPv6ND_NA(tgt="fd00::2", R=0, S=1, O=1)/
//   ICMPv6NDOptDstLLAddr(lladdr="02:00:00:00:00:02")
const std::vector<std::uint8_t> kNa = {0x88, 0x00, 0x1c, 0x9a, 0x60, 0x00, 0x00, 0x00, 0xfd, 0x00, 0x00, 0x00,
                                       0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
                                       0x02, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
// IPv6(src="fe80::2", dst="ff02::2", hlim=255)/ICMPv6ND_RS()/ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:02")
const std::vector<std::uint8_t> kRs = {0x85, 0x00, 0x7a, 0x2a, 0x00, 0x00, 0x00, 0x00,
                                       0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
// IPv6(src="fe80::1", dst="ff02::1", hlim=255)/ICMPv6ND_RA(chlim=64, M=1, O=0, routerlifetime=1800,
//   reachabletime=30000, retranstimer=1000)/ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:01")/
//   ICMPv6NDOptMTU(mtu=1400)/ICMPv6NDOptPrefixInfo(prefixlen=64, L=1, A=0, validlifetime=86400,
//   preferredlifetime=14400, prefix="fd00:1::")
const std::vector<std::uint8_t> kRa = {
    0x86, 0x00, 0xe3, 0x93, 0x40, 0x88, 0x07, 0x08, 0x00, 0x00, 0x75, 0x30, 0x00, 0x00, 0x03, 0xe8,
    0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00, 0x05, 0x78,
    0x03, 0x04, 0x40, 0x80, 0x00, 0x01, 0x51, 0x80, 0x00, 0x00, 0x38, 0x40, 0x00, 0x00, 0x00, 0x00,
    0xfd, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};

std::optional<NdpRepr> parse(const std::vector<std::uint8_t>& b, const char* src, const char* dst,
                             NdpError* e = nullptr) {
    auto v = Icmpv6View::check(b);
    REQUIRE(v);
    return NdpRepr::parse(*v, a6(src), a6(dst), e);
}

std::vector<std::uint8_t> emit(const NdpRepr& r, const char* src, const char* dst) {
    std::vector<std::uint8_t> out(r.buffer_len());
    r.emit(out, a6(src), a6(dst));
    return out;
}

}  // namespace

TEST_CASE("RFC 4861 4.3: golden neighbour solicitation with a source link-layer address") {
    auto r = parse(kNs, "fd00::1", "ff02::1:ff00:2");
    REQUIRE(r);
    CHECK(r->type == icmpv6_type::kNeighborSolicitation);
    CHECK(r->target == a6("fd00::2"));
    CHECK(r->options.source_link_address == mac(1));
    CHECK_FALSE(r->options.target_link_address);
    CHECK(emit(*r, "fd00::1", "ff02::1:ff00:2") == kNs);
}

TEST_CASE("RFC 4861 4.4: golden neighbour advertisement: R, S, O and the target link-layer address") {
    auto r = parse(kNa, "fd00::2", "fd00::1");
    REQUIRE(r);
    CHECK(r->type == icmpv6_type::kNeighborAdvertisement);
    CHECK_FALSE(r->router);
    CHECK(r->solicited);
    CHECK(r->override_);
    CHECK(r->target == a6("fd00::2"));
    CHECK(r->options.target_link_address == mac(2));
    CHECK(emit(*r, "fd00::2", "fd00::1") == kNa);
}

TEST_CASE("RFC 4861 4.1: golden router solicitation") {
    auto r = parse(kRs, "fe80::2", "ff02::2");
    REQUIRE(r);
    CHECK(r->type == icmpv6_type::kRouterSolicitation);
    CHECK(r->options.source_link_address == mac(2));
    CHECK(emit(*r, "fe80::2", "ff02::2") == kRs);
}

TEST_CASE("RFC 4861 4.2, 4.6.2, 4.6.4: golden router advertisement with MTU and prefix options") {
    auto r = parse(kRa, "fe80::1", "ff02::1");
    REQUIRE(r);
    CHECK(r->type == icmpv6_type::kRouterAdvertisement);
    CHECK(r->cur_hop_limit == 64);
    CHECK(r->managed);
    CHECK_FALSE(r->other);
    CHECK(r->other_flags == 0x08);  // scapy's default router preference bits, kept
    CHECK(r->router_lifetime == 1800);
    CHECK(r->reachable_time == 30000);
    CHECK(r->retrans_timer == 1000);
    CHECK(r->options.source_link_address == mac(1));
    CHECK(r->options.mtu == 1400u);
    REQUIRE(r->options.prefixes.size() == 1);
    const NdpPrefixInfo& p = r->options.prefixes[0];
    CHECK(p.prefix_len == 64);
    CHECK(p.on_link);
    CHECK_FALSE(p.autonomous);
    CHECK(p.valid_lifetime == 86400);
    CHECK(p.preferred_lifetime == 14400);
    CHECK(p.prefix == a6("fd00:1::"));
    CHECK(emit(*r, "fe80::1", "ff02::1") == kRa);
}

TEST_CASE("RFC 4861 4.5: a redirect round-trips") {
    NdpRepr r;
    r.type = icmpv6_type::kRedirect;
    r.target = a6("fe80::9");
    r.destination = a6("fd00:5::1");
    r.options.target_link_address = mac(9);
    const auto out = emit(r, "fe80::1", "fd00::2");
    CHECK(out.size() == 48);
    auto back = parse(out, "fe80::1", "fd00::2");
    REQUIRE(back);
    CHECK(*back == r);
}

TEST_CASE("RFC 4861 4.6: an option of length 0 or past the end makes the message invalid; unknown ones are skipped") {
    NdpError e{};
    auto zero = kNs;
    zero[25] = 0;  // the link-layer address option's length
    zero[2] = zero[3] = 0;
    auto v = Icmpv6View::check(zero);
    // Recompute the checksum so only the option is wrong.
    const std::uint16_t c = icmpv6_checksum(zero, a6("fd00::1"), a6("ff02::1:ff00:2"));
    zero[2] = static_cast<std::uint8_t>(c >> 8);
    zero[3] = static_cast<std::uint8_t>(c);
    CHECK_FALSE(parse(zero, "fd00::1", "ff02::1:ff00:2", &e));
    CHECK(e == NdpError::kBadOption);
    auto past = kNs;
    past[25] = 2;  // 16 bytes claimed, 8 present
    const std::uint16_t c2 = icmpv6_checksum(past, a6("fd00::1"), a6("ff02::1:ff00:2"));
    past[2] = static_cast<std::uint8_t>(c2 >> 8);
    past[3] = static_cast<std::uint8_t>(c2);
    CHECK_FALSE(parse(past, "fd00::1", "ff02::1:ff00:2", &e));
    CHECK(e == NdpError::kBadOption);
    auto unknown = kNs;
    unknown.insert(unknown.end(), {0x63, 0x01, 1, 2, 3, 4, 5, 6});  // type 99, skipped
    const std::uint16_t c3 = icmpv6_checksum(unknown, a6("fd00::1"), a6("ff02::1:ff00:2"));
    unknown[2] = static_cast<std::uint8_t>(c3 >> 8);
    unknown[3] = static_cast<std::uint8_t>(c3);
    auto r = parse(unknown, "fd00::1", "ff02::1:ff00:2");
    REQUIRE(r);
    CHECK(r->options.source_link_address == mac(1));
    CHECK(v.has_value());
}

TEST_CASE("RFC 4861: a short message, a bad checksum or a non-ND type is refused") {
    NdpError e{};
    CHECK_FALSE(parse(std::vector<std::uint8_t>(kNs.begin(), kNs.begin() + 23), "fd00::1", "ff02::1:ff00:2", &e));
    CHECK(e == NdpError::kTruncated);
    CHECK_FALSE(parse(kNs, "fd00::1", "ff02::1:ff00:3", &e));
    CHECK(e == NdpError::kBadChecksum);
    const std::vector<std::uint8_t> echo = {0x80, 0, 0, 0, 0, 0, 0, 0};
    CHECK_FALSE(parse(echo, "fd00::1", "fd00::2", &e));
    CHECK(e == NdpError::kNotNdp);
    CHECK(is_ndp_type(icmpv6_type::kRedirect));
    CHECK_FALSE(is_ndp_type(icmpv6_type::kEchoRequest));
}
