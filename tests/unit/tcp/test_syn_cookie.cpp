// SYN cookies (RFC 4987 3.6, Linux's encoding): every MSS index round-trips,
// options ride in the TSval, cookies expire, and a forged cookie or one
// presented from another 4-tuple or with another ISN is refused.
#include <doctest/doctest.h>

#include <random>

#include "stack/tcp/syn_cookie.hpp"

using namespace tapstack;
using namespace tapstack::tcp;

namespace {
const wire::IpEndpoint kLocal{wire::Ipv4Address::from_octets(10, 0, 0, 1), 80};
const wire::IpEndpoint kRemote{wire::Ipv4Address::from_octets(10, 0, 0, 2), 40000};
const Instant kT0 = instant_from_ns(1'000'000'000'000);  // 1000 s
const SynCookies kCookies(derive_key(Secret(0x1234567890abcdefull), KeyUse::kSynCookie));
}  // namespace

TEST_CASE("RFC 4987 3.6: each MSS index round-trips through a cookie") {
    for (std::uint32_t i = 0; i < SynCookies::kMssTable.size(); ++i) {
        const SeqNum isn(0x01020304u + i * 977u);
        const SeqNum cookie = kCookies.make(kT0, kLocal, kRemote, isn, i);
        const auto mss = kCookies.check(kT0 + seconds(1), kLocal, kRemote, isn, cookie);
        REQUIRE(mss.has_value());
        CHECK(*mss == SynCookies::kMssTable[i]);
    }
}

TEST_CASE("RFC 4987 3.6: the peer's MSS is rounded down to the table (Linux msstab)") {
    CHECK(SynCookies::mss_index(0) == 0);
    CHECK(SynCookies::mss_index(536) == 0);
    CHECK(SynCookies::mss_index(1299) == 0);
    CHECK(SynCookies::mss_index(1300) == 1);
    CHECK(SynCookies::mss_index(1459) == 2);
    CHECK(SynCookies::mss_index(1460) == 3);
    CHECK(SynCookies::mss_index(65495) == 3);
}

TEST_CASE("RFC 4987 3.6: a cookie is valid for at least one tick and expires after two") {
    const SeqNum isn(777);
    const SeqNum cookie = kCookies.make(kT0, kLocal, kRemote, isn, 3);
    CHECK(kCookies.check(kT0 + SynCookies::kTick - seconds(1), kLocal, kRemote, isn, cookie).has_value());
    // Made at the start of a tick: valid through the next one.
    const Instant tick_start = instant_from_ns(64'000'000'000 * 100);
    const SeqNum early = kCookies.make(tick_start, kLocal, kRemote, isn, 3);
    CHECK(kCookies.check(tick_start + 2 * SynCookies::kTick - seconds(1), kLocal, kRemote, isn, early).has_value());
    CHECK_FALSE(kCookies.check(tick_start + 2 * SynCookies::kTick, kLocal, kRemote, isn, early).has_value());
    CHECK_FALSE(kCookies.check(kT0 + SynCookies::kLifetime + seconds(1), kLocal, kRemote, isn, cookie).has_value());
    CHECK_FALSE(kCookies.check(kT0 + seconds(3600), kLocal, kRemote, isn, cookie).has_value());
}

TEST_CASE("RFC 4987 3.6: another 4-tuple, another ISN or another key does not validate a cookie") {
    const SeqNum isn(0xfeedface);
    const SeqNum cookie = kCookies.make(kT0, kLocal, kRemote, isn, 2);
    REQUIRE(kCookies.check(kT0, kLocal, kRemote, isn, cookie).has_value());
    CHECK_FALSE(kCookies.check(kT0, kLocal, {kRemote.address, 40001}, isn, cookie).has_value());
    CHECK_FALSE(kCookies.check(kT0, {kLocal.address, 81}, kRemote, isn, cookie).has_value());
    CHECK_FALSE(
        kCookies.check(kT0, kLocal, {wire::Ipv4Address::from_octets(10, 0, 0, 3), 40000}, isn, cookie).has_value());
    // The ISN is added in (Linux's encoding): one off by d moves the MSS
    // index by -d, so only an ISN a few below the real one could pass.
    CHECK_FALSE(kCookies.check(kT0, kLocal, kRemote, isn + 3, cookie).has_value());
    CHECK_FALSE(kCookies.check(kT0, kLocal, kRemote, isn + 1000, cookie).has_value());
    CHECK_FALSE(kCookies.check(kT0, kLocal, kRemote, isn - 1000, cookie).has_value());
    const SynCookies other(derive_key(Secret(0x1234567890abcdeeull), KeyUse::kSynCookie));
    CHECK_FALSE(other.check(kT0, kLocal, kRemote, isn, cookie).has_value());
}

TEST_CASE("RFC 4987 3.6: forged cookies are refused (at most the 4-in-2^24 chance per guess)") {
    std::mt19937 rng(7);
    const SeqNum isn(12345);
    int accepted = 0;
    for (int i = 0; i < 200000; ++i) {
        if (kCookies.check(kT0, kLocal, kRemote, isn, SeqNum(static_cast<std::uint32_t>(rng()))).has_value())
            ++accepted;
    }
    // 200,000 guesses * 2 valid ticks * 4 indices / 2^32 ~ 0.4 expected.
    CHECK(accepted <= 3);
    // Flipping any single bit of a real cookie breaks it.
    // (Bits 0 and 1 can only move the MSS index to a neighbouring one.)
    const SeqNum cookie = kCookies.make(kT0, kLocal, kRemote, isn, 1);
    for (int bit = 2; bit < 32; ++bit) {
        INFO("bit " << bit);
        CHECK_FALSE(kCookies.check(kT0, kLocal, kRemote, isn, SeqNum(cookie.raw() ^ (1u << bit))).has_value());
    }
}

TEST_CASE("Linux cookie_init_timestamp: window scale, SACK and ECN ride in the TSval's low 6 bits") {
    for (std::uint32_t ws = 0; ws <= 14; ++ws) {
        for (int sack = 0; sack < 2; ++sack) {
            const CookieOptions o{.wscale_ok = true, .snd_wscale = static_cast<std::uint8_t>(ws), .sack_ok = sack == 1};
            const std::uint32_t now = 0x12345678u + ws * 1000u;
            const std::uint32_t ts = SynCookies::encode_ts(now, o);
            CHECK(SynCookies::decode_ts(ts) == o);
            // Never ahead of the clock, and less than 64 behind it.
            CHECK(static_cast<std::int32_t>(now - ts) >= 0);
            CHECK(now - ts < 64);
        }
    }
    const CookieOptions none{};
    CHECK(SynCookies::decode_ts(SynCookies::encode_ts(1000, none)) == none);
    const CookieOptions ecn{.ecn_ok = true};
    CHECK(SynCookies::decode_ts(SynCookies::encode_ts(1000, ecn)) == ecn);
    // Near the wrap of the 32-bit clock.
    const CookieOptions all{.wscale_ok = true, .snd_wscale = 14, .sack_ok = true};
    const std::uint32_t ts = SynCookies::encode_ts(3, all);
    CHECK(SynCookies::decode_ts(ts) == all);
    CHECK(static_cast<std::int32_t>(3 - ts) >= 0);
}

TEST_CASE("RFC 4987 3.6 over IPv6: a cookie checks for its IPv6 tuple only (every address byte counts)") {
    const wire::IpEndpoint local6{*wire::Ipv6Address::parse("fd00::1"), 80};
    const wire::IpEndpoint remote6{*wire::Ipv6Address::parse("fd00::2"), 40000};
    const SeqNum isn(0x11223344u);
    const SeqNum cookie = kCookies.make(kT0, local6, remote6, isn, 2);
    const auto mss = kCookies.check(kT0 + seconds(1), local6, remote6, isn, cookie);
    REQUIRE(mss.has_value());
    CHECK(*mss == 1440);
    for (std::size_t i = 0; i < 16; ++i) {
        wire::Ipv6Address other = remote6.address.ipv6();
        other.bytes[i] ^= 0x01;
        CHECK_FALSE(kCookies.check(kT0 + seconds(1), local6, {other, 40000}, isn, cookie).has_value());
    }
}
