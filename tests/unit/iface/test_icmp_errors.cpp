// ICMP error rules (RFC 1122 3.2.2): the token bucket, the
// never-error-about-error rules, and the quote.
#include <doctest/doctest.h>

#include <vector>

#include "stack/iface/icmp_error_policy.hpp"
#include "stack/iface/token_bucket.hpp"
#include "stack/wire/icmp.hpp"

using namespace tapstack;
using namespace tapstack::iface;
using wire::Ipv4Address;

namespace {

Instant at_ms(std::int64_t ms) { return instant_from_ns(ms * 1'000'000); }

const wire::Ipv4Cidr kOur{Ipv4Address::from_octets(10, 0, 0, 2), 24};

wire::Ipv4Repr udp_datagram() {
    wire::Ipv4Repr r;
    r.src = Ipv4Address::from_octets(10, 0, 0, 1);
    r.dst = kOur.address;
    r.protocol = wire::ip_protocol::kUdp;
    r.payload_len = 12;
    return r;
}

const std::vector<std::uint8_t> kUdpHeader = {0x30, 0x39, 0x00, 0x35, 0x00, 0x0c, 0x00, 0x00, 'a', 'b', 'c', 'd'};

}  // namespace

TEST_CASE("RFC 1122 3.2.2: the token bucket allows a burst of one second's worth, then the rate") {
    TokenBucket bucket(10);
    int allowed = 0;
    for (int i = 0; i < 100; ++i) allowed += bucket.try_take(at_ms(0)) ? 1 : 0;
    CHECK(allowed == 10);
    CHECK_FALSE(bucket.try_take(at_ms(99)));  // 0.99 token refilled
    CHECK(bucket.try_take(at_ms(100)));
    CHECK_FALSE(bucket.try_take(at_ms(100)));
    allowed = 0;
    for (int i = 0; i < 100; ++i) allowed += bucket.try_take(at_ms(60'000)) ? 1 : 0;
    CHECK(allowed == 10);  // a long pause refills to the cap, not beyond
}

TEST_CASE("RFC 1122 3.2.2: a rate of zero never allows an error; time going backwards adds nothing") {
    TokenBucket none(0);
    CHECK_FALSE(none.try_take(at_ms(0)));
    CHECK_FALSE(none.try_take(at_ms(10'000)));
    TokenBucket one(1);
    CHECK(one.try_take(at_ms(5000)));
    CHECK_FALSE(one.try_take(at_ms(1000)));
    CHECK_FALSE(one.try_take(at_ms(5999)));
    CHECK(one.try_take(at_ms(6000)));
}

TEST_CASE("RFC 1122 3.2.2: an error about an ordinary unicast datagram is allowed") {
    CHECK(icmp_error_verdict(udp_datagram(), kUdpHeader, false, kOur) == IcmpErrorVerdict::kAllowed);
}

TEST_CASE("RFC 1122 3.2.2: never an ICMP error about an ICMP error message") {
    wire::Ipv4Repr r = udp_datagram();
    r.protocol = wire::ip_protocol::kIcmp;
    for (std::uint8_t type : {wire::icmp_type::kDestUnreachable, wire::icmp_type::kTimeExceeded,
                              wire::icmp_type::kRedirect, wire::icmp_type::kParameterProblem, std::uint8_t{200}}) {
        const std::vector<std::uint8_t> icmp = {type, 0, 0, 0, 0, 0, 0, 0};
        CHECK(icmp_error_verdict(r, icmp, false, kOur) == IcmpErrorVerdict::kAboutIcmpError);
    }
    CHECK(icmp_error_verdict(r, {}, false, kOur) == IcmpErrorVerdict::kAboutIcmpError);  // cannot tell
    const std::vector<std::uint8_t> echo = {wire::icmp_type::kEchoRequest, 0, 0, 0, 0, 0, 0, 0};
    CHECK(icmp_error_verdict(r, echo, false, kOur) == IcmpErrorVerdict::kAllowed);  // queries may get errors
}

TEST_CASE("RFC 1122 3.2.2: never an ICMP error about a fragment other than the first") {
    wire::Ipv4Repr r = udp_datagram();
    r.fragment_offset = 1480;
    CHECK(icmp_error_verdict(r, kUdpHeader, false, kOur) == IcmpErrorVerdict::kNotFirstFragment);
    r.fragment_offset = 0;
    r.more_fragments = true;
    CHECK(icmp_error_verdict(r, kUdpHeader, false, kOur) == IcmpErrorVerdict::kAllowed);
}

TEST_CASE("RFC 1122 3.2.2: never an ICMP error about a broadcast or multicast destination") {
    wire::Ipv4Repr r = udp_datagram();
    CHECK(icmp_error_verdict(r, kUdpHeader, true, kOur) == IcmpErrorVerdict::kBroadcastDestination);
    for (Ipv4Address dst : {Ipv4Address::limited_broadcast(), Ipv4Address::from_octets(10, 0, 0, 255),
                            Ipv4Address::from_octets(224, 0, 0, 1)}) {
        r.dst = dst;
        CHECK(icmp_error_verdict(r, kUdpHeader, false, kOur) == IcmpErrorVerdict::kBroadcastDestination);
    }
}

TEST_CASE("RFC 1122 3.2.2: never an ICMP error to a source that is not a single host") {
    wire::Ipv4Repr r = udp_datagram();
    for (Ipv4Address src :
         {Ipv4Address::any(), Ipv4Address::limited_broadcast(), Ipv4Address::from_octets(10, 0, 0, 255),
          Ipv4Address::from_octets(239, 1, 2, 3), Ipv4Address::from_octets(127, 0, 0, 1)}) {
        r.src = src;
        CHECK(icmp_error_verdict(r, kUdpHeader, false, kOur) == IcmpErrorVerdict::kBadSource);
    }
}

TEST_CASE("RFC 792 / RFC 1812 4.3.2.3: the quote is the header plus payload, capped at 576 bytes in total") {
    const wire::Ipv4Repr r = udp_datagram();
    const auto q = icmp_error_quote(r, kUdpHeader);
    REQUIRE(q.size() == 20 + kUdpHeader.size());
    auto v = wire::Ipv4View::check(q);
    REQUIRE(v);
    CHECK(wire::Ipv4Repr::parse(*v) == r);
    const std::vector<std::uint8_t> big(4000, 0xab);
    wire::Ipv4Repr rb = r;
    rb.payload_len = 4000;
    CHECK(icmp_error_quote(rb, big).size() == 576 - 20 - 8);
}
