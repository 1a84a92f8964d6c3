// RFC 6528 ISNs, SipHash-2-4 reference vectors, RFC 6298 RTO arithmetic.
#include <doctest/doctest.h>

#include <array>
#include <set>

#include "stack/tcp/isn.hpp"
#include "stack/tcp/rtt_estimator.hpp"
#include "stack/tcp/siphash.hpp"

using namespace tapstack;
using namespace tapstack::tcp;

TEST_CASE("SipHash-2-4 matches the reference vectors of the paper") {
    SipKey key{0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};
    CHECK(siphash24(key, {}) == 0x726fdb47dd0e0e31ull);
    std::array<std::uint8_t, 15> msg{};
    for (std::uint8_t i = 0; i < 15; ++i) msg[i] = i;
    CHECK(siphash24(key, msg) == 0xa129ca6149be45e5ull);
}

namespace {
const wire::IpEndpoint kLocal{wire::Ipv4Address::from_octets(10, 0, 0, 1), 80};
const wire::IpEndpoint kRemote{wire::Ipv4Address::from_octets(10, 0, 0, 2), 40000};
const Instant kT0 = instant_from_ns(1'000'000'000);
}  // namespace

TEST_CASE("RFC 6528: the ISN differs per 4-tuple and is not a small step from a neighbour's") {
    IsnGenerator g(0xdeadbeef);
    std::set<std::uint32_t> seen;
    const SeqNum base = g.isn(kT0, kLocal, kRemote);
    for (std::uint16_t port = 40001; port < 40101; ++port) {
        const SeqNum s = g.isn(kT0, kLocal, {kRemote.address, port});
        seen.insert(s.raw());
        const std::int32_t d = s - base;
        CHECK((d > 65536 || d < -65536));  // not guessable from the neighbour
    }
    CHECK(seen.size() == 100);
}

TEST_CASE("RFC 6528: the ISN of one tuple advances with a 4 microsecond clock") {
    IsnGenerator g(1);
    const SeqNum a = g.isn(kT0, kLocal, kRemote);
    const SeqNum b = g.isn(kT0 + microseconds(400), kLocal, kRemote);
    const SeqNum c = g.isn(kT0 + seconds(1), kLocal, kRemote);
    CHECK(b - a == 100);
    CHECK(c - a == 250000);
}

TEST_CASE("RFC 6528: the ISN depends on the secret key") {
    IsnGenerator g1(1), g2(2);
    CHECK(g1.isn(kT0, kLocal, kRemote) != g2.isn(kT0, kLocal, kRemote));
    CHECK(g1.port_offset(kLocal.address, kRemote) != g2.port_offset(kLocal.address, kRemote));
    IsnGenerator g1b(1);
    CHECK(g1.isn(kT0, kLocal, kRemote) == g1b.isn(kT0, kLocal, kRemote));
}

TEST_CASE("RFC 6298: SRTT/RTTVAR/RTO, clamping and backoff") {
    RttEstimator r(seconds(1), milliseconds(200), seconds(60));
    CHECK(r.rto() == seconds(1));  // 2.1
    r.sample(milliseconds(100));   // 2.2: SRTT 100, RTTVAR 50 -> 300
    CHECK(r.srtt() == milliseconds(100));
    CHECK(r.rttvar() == milliseconds(50));
    CHECK(r.rto() == milliseconds(300));
    r.sample(milliseconds(200));   // 2.3: RTTVAR = 3/4*50 + 1/4*100 = 62.5; SRTT = 112.5
    CHECK(r.srtt() == microseconds(112500));
    CHECK(r.rttvar() == microseconds(62500));
    CHECK(r.rto() == microseconds(112500 + 250000));
    r.backoff();
    CHECK(r.rto() == microseconds(2 * 362500));
    for (int i = 0; i < 20; ++i) r.backoff();
    CHECK(r.rto() == seconds(60));  // 2.5: maximum
    RttEstimator tiny(seconds(1), milliseconds(200), seconds(60));
    tiny.sample(microseconds(10));
    CHECK(tiny.rto() == milliseconds(200));  // 2.4: minimum
}

TEST_CASE("the secret has 128 bits: secrets that differ only in their second word key different ISNs, offsets and ports") {
    int isn_differ = 0, ts_differ = 0, port_differ = 0;
    for (std::uint64_t w = 1; w <= 16; ++w) {
        IsnGenerator a(Secret(7, w)), b(Secret(7, w + 1000));
        isn_differ += a.isn(kT0, kLocal, kRemote) != b.isn(kT0, kLocal, kRemote);
        ts_differ += a.ts_offset(kLocal.address, kRemote.address) != b.ts_offset(kLocal.address, kRemote.address);
        port_differ += a.port_offset(kLocal.address, kRemote) != b.port_offset(kLocal.address, kRemote);
    }
    CHECK(isn_differ == 16);
    CHECK(ts_differ == 16);
    CHECK(port_differ == 16);
}

TEST_CASE("RFC 7323 5.4 / RFC 6191: the timestamp offset is per address pair, the same for every port, and keyed on its own") {
    IsnGenerator g(Secret(0xfeed, 0xbeef));
    const std::uint32_t off = g.ts_offset(kLocal.address, kRemote.address);
    // Every connection between the two addresses: one offset, so TSvals
    // only grow across incarnations of a tuple (the ISNs differ per port).
    for (std::uint16_t port = 40001; port < 40010; ++port) {
        CHECK(g.ts_offset(kLocal.address, kRemote.address) == off);
        CHECK(g.isn(kT0, kLocal, {kRemote.address, port}) != g.isn(kT0, kLocal, kRemote));
    }
    CHECK(g.ts_offset(kLocal.address, wire::Ipv4Address::from_octets(10, 0, 0, 3)) != off);
    // Not a function of the ISN's secret offset F (ISN at time 0 is F).
    const std::uint32_t f = g.isn(instant_from_ns(0), kLocal, kRemote).raw();
    CHECK(off != f);
    CHECK(off != f * 0x9e3779b1u);
}

TEST_CASE("RFC 6528 / RFC 6056 / RFC 7323 over IPv6: ISN, port offset and timestamp offset hash all 128 bits of each address") {
    IsnGenerator g(0x5eed);
    const wire::IpEndpoint local6{*wire::Ipv6Address::parse("fd00::1"), 80};
    const wire::IpEndpoint remote6{*wire::Ipv6Address::parse("fd00::2"), 40000};
    const SeqNum base = g.isn(kT0, local6, remote6);
    const std::uint32_t ts = g.ts_offset(local6.address, remote6.address);
    const std::uint32_t port = g.port_offset(local6.address, remote6);
    // A remote differing in any one byte (the high ones included, which a
    // 32-bit key would miss) gives other values.
    for (std::size_t i = 0; i < 16; ++i) {
        wire::Ipv6Address other = remote6.address.ipv6();
        other.bytes[i] ^= 0x80;
        CHECK(g.isn(kT0, local6, {other, 40000}) != base);
        CHECK(g.ts_offset(local6.address, other) != ts);
        CHECK(g.port_offset(local6.address, {other, 40000}) != port);
    }
    // An IPv4 tuple never collides with the IPv6 tuple of the same low bytes.
    const wire::IpEndpoint local4{wire::Ipv4Address::from_octets(0, 0, 0, 1), 80};
    const wire::IpEndpoint remote4{wire::Ipv4Address::from_octets(0, 0, 0, 2), 40000};
    CHECK(g.isn(kT0, local4, remote4) != g.isn(kT0, {*wire::Ipv6Address::parse("::1"), 80},
                                               {*wire::Ipv6Address::parse("::2"), 40000}));
}
