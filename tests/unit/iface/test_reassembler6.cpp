// Reassembler6 (RFC 8200 4.5, RFC 5722): in order, out of order, tiny
// fragments, exact duplicates, overlaps dropping the whole packet and its
// later fragments, inconsistent lengths, the reassembled header, timeouts
// with the quote, and the memory bounds.
#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "stack/iface/reassembler6.hpp"
#include "stack/wire/ipv6.hpp"

using namespace tapstack;
using namespace tapstack::iface;
using wire::Ipv6Address;

namespace {

const Ipv6Address kSrc = *Ipv6Address::parse("fd00::1");
const Ipv6Address kDst = *Ipv6Address::parse("fd00::2");

Instant at_ms(std::int64_t ms) { return instant_from_ns(ms * 1'000'000); }

std::vector<std::uint8_t> pattern(std::size_t n, std::uint8_t salt = 0) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(i * 7 + salt);
    return v;
}

// One packet's fragments, sharing its header bytes; `unfrag_ext` bytes of a
// destination options header sit before the Fragment header.
struct Source {
    std::vector<std::uint8_t> payload;
    std::uint32_t id = 77;
    std::size_t unfrag_ext = 0;
    std::vector<std::vector<std::uint8_t>> packets;  // kept alive for the Fragment6 spans

    Fragment6 fragment(std::size_t offset, std::size_t len, bool more) {
        std::vector<std::uint8_t> p(40 + unfrag_ext + 8 + len);
        wire::Ipv6Repr h;
        h.src = kSrc;
        h.dst = kDst;
        h.next_header = unfrag_ext ? wire::next_header::kDestinationOptions : wire::next_header::kFragment;
        h.payload_len = static_cast<std::uint16_t>(p.size() - 40);
        h.emit(p);
        if (unfrag_ext) {
            p[40] = wire::next_header::kFragment;
            p[41] = static_cast<std::uint8_t>(unfrag_ext / 8 - 1);
            p[42] = 1;  // PadN filling the header
            p[43] = static_cast<std::uint8_t>(unfrag_ext - 4);
        }
        std::copy(payload.begin() + static_cast<std::ptrdiff_t>(offset),
                  payload.begin() + static_cast<std::ptrdiff_t>(offset + len), p.begin() + 48 + unfrag_ext);
        packets.push_back(std::move(p));
        const auto& b = packets.back();
        Fragment6 f;
        f.src = kSrc;
        f.dst = kDst;
        f.identification = id;
        f.offset = static_cast<std::uint16_t>(offset);
        f.more = more;
        f.data = wire::Bytes(b).subspan(48 + unfrag_ext);
        f.packet = b;
        f.fragment_header_at = 40 + unfrag_ext;
        f.naming_field_at = unfrag_ext ? 40 : 6;
        f.next_header = wire::next_header::kIcmpv6;
        return f;
    }
};

std::uint64_t counter(const Reassembler6& r, std::string_view name) {
    std::uint64_t value = ~0ull;
    r.visit_metrics([&](const MetricInfo& m, std::uint64_t v) {
        if (m.name == name) value = v;
    });
    REQUIRE_MESSAGE(value != ~0ull, name);
    return value;
}

}  // namespace

TEST_CASE("RFC 8200 4.5: fragments in any order reassemble into the first fragment's header and the payload") {
    for (bool reverse : {false, true}) {
        CAPTURE(reverse);
        Reassembler6 r(Reassembly6Config{});
        Source s{pattern(3000)};
        std::vector<Fragment6> frags = {s.fragment(0, 1232, true), s.fragment(1232, 1232, true),
                                        s.fragment(2464, 536, false)};
        if (reverse) std::reverse(frags.begin(), frags.end());
        std::optional<Reassembled6> done;
        for (const Fragment6& f : frags) {
            CHECK_FALSE(done);
            done = r.add(at_ms(0), f);
        }
        REQUIRE(done);
        CHECK(done->start == 40);
        CHECK(done->next_header == wire::next_header::kIcmpv6);
        CHECK(done->packet.size() == 40 + 3000);
        auto v = wire::Ipv6View::check(done->packet);
        REQUIRE(v);
        CHECK(v->payload_len() == 3000);
        CHECK(v->next_header() == wire::next_header::kIcmpv6);  // was Fragment
        CHECK(std::equal(v->payload().begin(), v->payload().end(), s.payload.begin()));
        CHECK(r.datagram_count() == 0);
        CHECK(r.bytes_held() == 0);
        CHECK(counter(r, "ipv6.reasm_completed") == 1);
    }
}

TEST_CASE("RFC 8200 4.5: the unfragmentable extension headers of the first fragment are kept, their Next Header fixed") {
    Reassembler6 r(Reassembly6Config{});
    Source s{pattern(100)};
    s.unfrag_ext = 8;
    r.add(at_ms(0), s.fragment(48, 52, false));
    auto done = r.add(at_ms(0), s.fragment(0, 48, true));
    REQUIRE(done);
    CHECK(done->start == 48);
    CHECK(done->naming_field_at == 40);
    CHECK(done->packet[6] == wire::next_header::kDestinationOptions);
    CHECK(done->packet[40] == wire::next_header::kIcmpv6);
    CHECK(wire::load_be16(done->packet.data() + 4) == 8 + 100);
    CHECK(std::equal(done->packet.begin() + 48, done->packet.end(), s.payload.begin(), s.payload.end()));
}

TEST_CASE("Tiny fragments: 8 bytes each, 125 of them, reassemble") {
    Reassembler6 r(Reassembly6Config{});
    Source s{pattern(1000)};
    std::optional<Reassembled6> done;
    for (std::size_t off = 0; off < 1000; off += 8) done = r.add(at_ms(0), s.fragment(off, 8, off + 8 < 1000));
    REQUIRE(done);
    CHECK(std::equal(done->packet.begin() + 40, done->packet.end(), s.payload.begin(), s.payload.end()));
}

TEST_CASE("RFC 8200 4.5: an exact duplicate is dropped alone and the packet still completes") {
    Reassembler6 r(Reassembly6Config{});
    Source s{pattern(2000)};
    CHECK_FALSE(r.add(at_ms(0), s.fragment(0, 1000, true)));
    CHECK_FALSE(r.add(at_ms(0), s.fragment(0, 1000, true)));
    CHECK(counter(r, "ipv6.reasm_duplicates") == 1);
    CHECK(r.add(at_ms(0), s.fragment(1000, 1000, false)));
}

TEST_CASE("RFC 5722: an overlapping fragment drops the whole packet, and its later fragments too") {
    struct Case {
        std::size_t offset, len;
    };
    // Partial overlap at the end, at the start, strictly inside, same offset
    // with another length, and the same range with other bytes.
    for (Case c : {Case{992, 16}, Case{8, 992}, Case{16, 8}, Case{0, 8}, Case{0, 1000}}) {
        CAPTURE(c.offset);
        CAPTURE(c.len);
        Reassembler6 r(Reassembly6Config{});
        Source s{pattern(2000)};
        r.add(at_ms(0), s.fragment(0, 1000, true));
        Fragment6 bad = s.fragment(c.offset, c.len, true);
        std::vector<std::uint8_t> other(bad.data.begin(), bad.data.end());
        if (c.offset == 0 && c.len == 1000) {
            other[3] ^= 0xff;  // the same range, different bytes
            bad.data = other;
        }
        CHECK_FALSE(r.add(at_ms(1), bad));
        CHECK(counter(r, "ipv6.reasm_overlaps") == 1);
        CHECK(counter(r, "ipv6.reasm_datagrams") == 0);
        CHECK(r.bytes_held() == 0);
        // The rest arrives, complete and correct: still dropped (dead key).
        CHECK_FALSE(r.add(at_ms(2), s.fragment(1000, 1000, false)));
        CHECK_FALSE(r.add(at_ms(3), s.fragment(0, 1000, true)));
        CHECK(counter(r, "ipv6.reasm_dead_dropped") == 2);
        CHECK(counter(r, "ipv6.reasm_completed") == 0);
        // After the timeout the key is free again, and no time exceeded is due for a dead packet.
        std::vector<Reassembler6::TimedOut> timed_out;
        r.poll(at_ms(60'000), timed_out);
        CHECK(timed_out.empty());
        r.add(at_ms(60'001), s.fragment(0, 1000, true));
        CHECK(r.add(at_ms(60'002), s.fragment(1000, 1000, false)));
    }
}

TEST_CASE("Fragments that disagree about the length drop the packet") {
    Reassembler6 r(Reassembly6Config{});
    Source s{pattern(3000)};
    r.add(at_ms(0), s.fragment(2000, 1000, false));
    CHECK_FALSE(r.add(at_ms(0), s.fragment(2000, 992, false)));  // a second last fragment ending elsewhere
    CHECK(counter(r, "ipv6.reasm_inconsistent") == 1);
    Reassembler6 r2(Reassembly6Config{});
    r2.add(at_ms(0), s.fragment(0, 2000, true));
    CHECK_FALSE(r2.add(at_ms(0), s.fragment(1000, 8, false)));  // ends before data already held
    CHECK(counter(r2, "ipv6.reasm_inconsistent") == 1);
    Reassembler6 r3(Reassembly6Config{});
    r3.add(at_ms(0), s.fragment(1000, 8, false));
    CHECK_FALSE(r3.add(at_ms(0), s.fragment(1000, 1000, true)));  // beyond the known end
    CHECK(counter(r3, "ipv6.reasm_inconsistent") == 1);
}

TEST_CASE("RFC 8200 4.5: after 60 s an incomplete packet is freed; the first fragment is quoted for time exceeded") {
    Reassembler6 r(Reassembly6Config{});
    Source s{pattern(3000)};
    r.add(at_ms(0), s.fragment(0, 1232, true));
    CHECK(r.poll_at() == at_ms(60'000));
    std::vector<Reassembler6::TimedOut> out;
    r.poll(at_ms(59'999), out);
    CHECK(out.empty());
    r.poll(at_ms(60'000), out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].quote.size() == Reassembler6::kQuoteLen);
    CHECK(out[0].quote == std::vector<std::uint8_t>(s.packets[0].begin(), s.packets[0].begin() + 1232));
    CHECK(out[0].src == kSrc);
    // Without the first fragment, nothing to quote.
    Source t{pattern(3000)};
    t.id = 78;
    r.add(at_ms(70'000), t.fragment(1232, 1232, true));
    r.poll(at_ms(130'000), out);
    CHECK(out.size() == 1);
    CHECK(counter(r, "ipv6.reasm_timeouts") == 2);
    CHECK(r.bytes_held() == 0);
}

TEST_CASE("Bounds: the byte budget (with the per-fragment overhead) and the packet count evict the oldest") {
    Reassembly6Config c;
    c.max_bytes = 64 * 1024;
    c.max_datagrams = 2;
    Reassembler6 r(c);
    for (std::uint32_t id = 1; id <= 3; ++id) {
        Source s{pattern(2000)};
        s.id = id;
        r.add(at_ms(id), s.fragment(0, 1000, true));
    }
    CHECK(r.datagram_count() == 2);
    CHECK(counter(r, "ipv6.reasm_evicted") == 1);
    // 4000 eight-byte fragments cost their overhead: far more than 32 KiB of data.
    Reassembler6 small(c);
    Source s{pattern(40000)};
    for (std::size_t off = 8; off < 40000; off += 16) small.add(at_ms(0), s.fragment(off, 8, true));
    CHECK(small.bytes_held() <= c.max_bytes);
    CHECK(counter(small, "ipv6.reasm_too_big") > 0);
}
