// TcpView / TcpRepr / TcpOptions: golden bytes, round trips and every
// malformed case (RFC 9293 3.1, MUST-6/7; RFC 7323; RFC 2018).
#include <doctest/doctest.h>

#include <array>
#include <optional>
#include <vector>

#include "stack/wire/checksum.hpp"
#include "stack/wire/tcp_header.hpp"

using namespace tapstack::wire;

namespace {
const Ipv4Address kSrc = Ipv4Address::from_octets(10, 0, 0, 1);
const Ipv4Address kDst = Ipv4Address::from_octets(10, 0, 0, 2);
// Computed independently (Python) for 10.0.0.1 -> 10.0.0.2.
const std::vector<std::uint8_t> kGolden = {
    0x12, 0x34, 0x00, 0x50, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x70, 0x12, 0xff, 0xff, 0x09,
    0x97, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x01, 0x03, 0x03, 0x07, 0x68, 0x65, 0x6c, 0x6c, 0x6f};
}  // namespace

TEST_CASE("TcpRepr emits golden bytes (header, MSS + window scale options, payload, checksum)") {
    const std::uint8_t payload[] = {'h', 'e', 'l', 'l', 'o'};
    TcpRepr r;
    r.src_port = 0x1234;
    r.dst_port = 80;
    r.seq = 0x01020304;
    r.ack = 0x05060708;
    r.flags = tcp_flag::kSyn | tcp_flag::kAck;
    r.window = 0xffff;
    r.options.mss = 1460;
    r.options.window_scale = 7;
    r.payload = payload;
    REQUIRE(r.buffer_len() == kGolden.size());
    std::vector<std::uint8_t> out(r.buffer_len());
    r.emit(out, kSrc, kDst);
    CHECK(out == kGolden);
}

TEST_CASE("TcpRepr parses golden bytes and round-trips") {
    TcpRepr r;
    REQUIRE_FALSE(TcpRepr::parse(kGolden, kSrc, kDst, r).has_value());
    CHECK(r.src_port == 0x1234);
    CHECK(r.dst_port == 80);
    CHECK(r.seq == 0x01020304u);
    CHECK(r.ack == 0x05060708u);
    CHECK(r.flags == (tcp_flag::kSyn | tcp_flag::kAck));
    CHECK(r.window == 0xffff);
    CHECK(r.options.mss == 1460);
    CHECK(r.options.window_scale == 7);
    CHECK(r.payload.size() == 5);
    std::vector<std::uint8_t> again(r.buffer_len());
    r.emit(again, kSrc, kDst);
    CHECK(again == kGolden);
}

TEST_CASE("RFC 8200 8.1: over IPv6 the checksum covers the IPv6 pseudo-header (golden bytes from scapy)") {
    const auto src = *Ipv6Address::parse("fd00::1");
    const auto dst = *Ipv6Address::parse("fd00::2");
    // IPv6(src="fd00::1", dst="fd00::2")/TCP(sport=0x1234, dport=80, seq=0x01020304, ack=0x05060708,
    // flags="SA", window=0xffff, options=[("MSS",1440),("NOP",None),("WScale",7)])/b"hello"
    const std::vector<std::uint8_t> golden6 = {
        0x12, 0x34, 0x00, 0x50, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x70, 0x12, 0xff, 0xff, 0x23,
        0xa9, 0x00, 0x00, 0x02, 0x04, 0x05, 0xa0, 0x01, 0x03, 0x03, 0x07, 0x68, 0x65, 0x6c, 0x6c, 0x6f};
    const std::uint8_t payload[] = {'h', 'e', 'l', 'l', 'o'};
    TcpRepr r;
    r.src_port = 0x1234;
    r.dst_port = 80;
    r.seq = 0x01020304;
    r.ack = 0x05060708;
    r.flags = tcp_flag::kSyn | tcp_flag::kAck;
    r.window = 0xffff;
    r.options.mss = 1440;
    r.options.window_scale = 7;
    r.payload = payload;
    std::vector<std::uint8_t> out(r.buffer_len());
    r.emit(out, src, dst);
    CHECK(out == golden6);
    TcpRepr back;
    CHECK_FALSE(TcpRepr::parse(golden6, src, dst, back).has_value());
    CHECK(back.options.mss == 1440);
    // The same bytes under the IPv4 pseudo-header, or other IPv6 addresses, fail.
    CHECK(TcpRepr::parse(golden6, kSrc, kDst, back) == TcpRepr::ParseError::kBadChecksum);
    CHECK(TcpRepr::parse(golden6, src, *Ipv6Address::parse("fd00::3"), back) == TcpRepr::ParseError::kBadChecksum);
    // The partial checksum (offload) is the folded pseudo-header sum: completing it gives the golden field.
    std::vector<std::uint8_t> partial(r.buffer_len());
    r.emit_partial(partial, src, dst);
    ChecksumAccumulator acc;
    acc.add(partial);
    CHECK(acc.checksum() == 0x23a9);
}

TEST_CASE("TcpView::check rejects short segments, data offset < 5 and offset beyond the segment") {
    CHECK_FALSE(TcpView::check(std::span(kGolden).first(19)).has_value());
    auto bad = kGolden;
    bad[12] = 0x40;
    CHECK_FALSE(TcpView::check(bad).has_value());
    bad[12] = 0xf0;  // 60 bytes > 33
    CHECK_FALSE(TcpView::check(bad).has_value());
    CHECK(TcpView::check(kGolden).has_value());
    TcpRepr r;
    CHECK(TcpRepr::parse(bad, kSrc, kDst, r) == TcpRepr::ParseError::kBadDataOffset);
    CHECK(TcpRepr::parse(std::span(kGolden).first(10), kSrc, kDst, r) == TcpRepr::ParseError::kTruncated);
}

TEST_CASE("3.1: a single flipped bit anywhere fails the checksum; wrong pseudo-header too") {
    TcpRepr r;
    for (std::size_t bit = 0; bit < kGolden.size() * 8; ++bit) {
        auto b = kGolden;
        b[bit / 8] = static_cast<std::uint8_t>(b[bit / 8] ^ (1u << (bit % 8)));
        const auto err = TcpRepr::parse(b, kSrc, kDst, r);
        CHECK(err.has_value());
    }
    CHECK(TcpRepr::parse(kGolden, kSrc, Ipv4Address::from_octets(10, 0, 0, 3), r) ==
          TcpRepr::ParseError::kBadChecksum);
}

TEST_CASE("options: every kind parses and round-trips (MSS, WS, SACK-permitted, SACK blocks, timestamps)") {
    TcpOptions o;
    o.mss = 536;
    o.window_scale = 14;
    o.sack_permitted = true;
    o.timestamps = TcpTimestamps{0x11223344, 0x55667788};
    o.sack_blocks[0] = {100, 200};
    o.sack_blocks[1] = {300, 400};
    o.sack_count = 2;
    // 4 + 4 + 4 + 12 + (4 + 16) = 44 > 40: only one SACK block fits (36).
    CHECK(o.buffer_len() == 36);
    std::vector<std::uint8_t> area(o.buffer_len());
    o.emit(area);
    auto back = std::optional<TcpOptions>(TcpOptions::parse(area));
    REQUIRE_FALSE(back->malformed);
    CHECK(back->mss == 536);
    CHECK(back->window_scale == 14);
    CHECK(back->sack_permitted);
    CHECK(back->timestamps == o.timestamps);
    CHECK(back->sack_count == 1);
    CHECK(back->sack_blocks[0] == SackBlock{100, 200});

    TcpOptions s;
    s.sack_count = 4;
    for (std::uint32_t i = 0; i < 4; ++i) s.sack_blocks[i] = {i * 10, i * 10 + 5};
    std::vector<std::uint8_t> sa(s.buffer_len());
    CHECK(sa.size() == 36);
    s.emit(sa);
    auto sb = std::optional<TcpOptions>(TcpOptions::parse(sa));
    REQUIRE_FALSE(sb->malformed);
    CHECK(sb->sack_count == 4);
    CHECK(sb->sack_blocks[3] == SackBlock{30, 35});
}

TEST_CASE("MUST-6/7: unknown kinds are skipped by length; an illegal length is ignored and the options before it stand (as Linux)") {
    {
        const std::uint8_t a[] = {200, 4, 9, 9, 1, 2, 4, 1, 0x90, 0, 0, 0};
        auto o = TcpOptions::parse(a);
        CHECK(o.mss == 400);
        CHECK_FALSE(o.malformed);
    }
    {
        const std::uint8_t a[] = {0, 2, 4, 1, 0x90};  // EOL ends the list: what follows is ignored
        auto o = TcpOptions::parse(a);
        CHECK_FALSE(o.mss.has_value());
        CHECK_FALSE(o.malformed);
    }
    // A length that cannot be walked ends the list; a known kind with the
    // wrong length is skipped. Either way `malformed`, and an MSS before it
    // (and, for a skippable one, a window scale after it) is still read.
    struct Case {
        std::vector<std::uint8_t> bad;
        bool skippable;  // the list goes on after it
    };
    const std::vector<Case> cases = {
        {{200, 0}, false},                                // length 0 (would loop forever)
        {{200, 1}, false},                                // length 1
        {{200}, false},                                   // kind without length byte
        {{200, 9, 0, 0}, false},                          // beyond the area
        {{2, 3, 0}, true},                                // MSS with length 3
        {{3, 4, 1, 0}, true},                             // WS with length 4
        {{4, 3, 0}, true},                                // SACK-permitted with length 3
        {{8, 8, 0, 0, 0, 0, 0, 0}, true},                 // timestamps with length 8
        {{5, 9, 0, 0, 0, 0, 0, 0, 0}, true},              // SACK with a partial block
        {{5, 2}, true},                                   // SACK with no block
    };
    for (std::size_t i = 0; i < cases.size(); ++i) {
        const Case& c = cases[i];
        CAPTURE(i);
        std::vector<std::uint8_t> a = {2, 4, 0x05, 0xb4};  // MSS 1460
        a.insert(a.end(), c.bad.begin(), c.bad.end());
        if (c.skippable) a.insert(a.end(), {3, 3, 7});     // WS 7 after it
        const auto o = TcpOptions::parse(a);
        CHECK(o.malformed);
        CHECK(o.mss == 1460);
        CHECK(o.window_scale.has_value() == c.skippable);
        CHECK_FALSE(o.timestamps.has_value());
        CHECK(o.sack_count == 0);
    }
    // NOPs alone are fine; so is an empty area.
    const std::uint8_t nops[] = {1, 1, 1, 1};
    CHECK_FALSE(TcpOptions::parse(nops).malformed);
    CHECK_FALSE(TcpOptions::parse({}).malformed);
}

TEST_CASE("every truncation and every byte value in the option area: never a crash, hang or out-of-bounds read") {
    std::array<std::uint8_t, 40> area{};
    std::uint64_t x = 12345;
    for (int round = 0; round < 20000; ++round) {
        for (auto& b : area) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b = static_cast<std::uint8_t>(x % 12);  // small values hit real kinds and lengths
        }
        const std::size_t len = static_cast<std::size_t>(x >> 40) % 41;
        (void)TcpOptions::parse(std::span(area).first(len));
    }
    CHECK(true);
}
