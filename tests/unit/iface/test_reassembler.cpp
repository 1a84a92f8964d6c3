// IPv4 reassembly (RFC 791 3.2, RFC 815, RFC 1122 3.3.2): order,
// duplicates, overlaps, inconsistency, timeout, memory bounds.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "stack/iface/reassembler.hpp"

using namespace tapstack;
using namespace tapstack::iface;
using wire::Ipv4Address;

namespace {

Instant at_ms(std::int64_t ms) { return instant_from_ns(ms * 1'000'000); }

std::vector<std::uint8_t> pattern(std::size_t n, std::uint8_t salt = 0) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(i * 7 + salt + (i >> 8));
    return v;
}

struct Frag {
    std::vector<std::uint8_t> bytes;
    wire::Ipv4View view() const { return *wire::Ipv4View::check(bytes); }
};

Frag fragment(const std::vector<std::uint8_t>& payload, std::size_t offset, std::size_t len, bool more,
              std::uint16_t id = 7, std::uint8_t protocol = 1) {
    wire::Ipv4Repr r;
    r.src = Ipv4Address::from_octets(10, 0, 0, 1);
    r.dst = Ipv4Address::from_octets(10, 0, 0, 2);
    r.protocol = protocol;
    r.identification = id;
    r.more_fragments = more;
    r.fragment_offset = static_cast<std::uint16_t>(offset);
    r.payload_len = static_cast<std::uint16_t>(len);
    Frag f;
    f.bytes.resize(r.buffer_len());
    r.emit(f.bytes);
    std::copy(payload.begin() + static_cast<std::ptrdiff_t>(offset),
              payload.begin() + static_cast<std::ptrdiff_t>(offset + len), f.bytes.begin() + 20);
    return f;
}

// Splits `payload` into fragments of `chunk` bytes (a multiple of 8).
std::vector<Frag> split(const std::vector<std::uint8_t>& payload, std::size_t chunk, std::uint16_t id = 7) {
    std::vector<Frag> out;
    for (std::size_t off = 0; off < payload.size(); off += chunk) {
        const std::size_t n = std::min(chunk, payload.size() - off);
        out.push_back(fragment(payload, off, n, off + n < payload.size(), id));
    }
    return out;
}

std::uint64_t counter(const Reassembler& r, std::string_view name) {
    std::uint64_t value = ~0ull;
    r.visit_metrics([&](const tapstack::MetricInfo& m, std::uint64_t v) {
        if (m.name == name) value = v;
    });
    REQUIRE(value != ~0ull);
    return value;
}

ReassemblyConfig config() { return ReassemblyConfig{seconds(30), 1024 * 1024, 8}; }

}  // namespace

TEST_CASE("RFC 791 3.2: fragments in order reassemble to the original payload and header") {
    Reassembler r(config());
    const auto payload = pattern(8000);
    const auto frags = split(payload, 1480);
    for (std::size_t i = 0; i + 1 < frags.size(); ++i) CHECK_FALSE(r.add(at_ms(0), frags[i].view()));
    auto done = r.add(at_ms(1), frags.back().view());
    REQUIRE(done);
    CHECK(done->payload == payload);
    CHECK(done->header.payload_len == 8000);
    CHECK_FALSE(done->header.more_fragments);
    CHECK(done->header.fragment_offset == 0);
    CHECK(done->header.identification == 7);
    CHECK(r.datagram_count() == 0);
    CHECK(r.bytes_held() == 0);
}

TEST_CASE("RFC 815: fragments in any order reassemble identically (every permutation of 4)") {
    const auto payload = pattern(100);
    auto frags = split(payload, 32);
    REQUIRE(frags.size() == 4);
    std::vector<int> order = {0, 1, 2, 3};
    int permutations = 0;
    do {
        Reassembler r(config());
        std::optional<Reassembled> done;
        for (std::size_t i = 0; i < order.size(); ++i) {
            done = r.add(at_ms(0), frags[static_cast<std::size_t>(order[i])].view());
            if (i + 1 < order.size()) REQUIRE_FALSE(done);
        }
        REQUIRE(done);
        CHECK(done->payload == payload);
        ++permutations;
    } while (std::next_permutation(order.begin(), order.end()));
    CHECK(permutations == 24);
}

TEST_CASE("RFC 791: duplicated fragments are accepted once and counted") {
    Reassembler r(config());
    const auto payload = pattern(64);
    const auto frags = split(payload, 16);
    CHECK_FALSE(r.add(at_ms(0), frags[0].view()));
    CHECK_FALSE(r.add(at_ms(0), frags[0].view()));
    CHECK_FALSE(r.add(at_ms(0), frags[2].view()));
    CHECK_FALSE(r.add(at_ms(0), frags[1].view()));
    CHECK_FALSE(r.add(at_ms(0), frags[2].view()));
    auto done = r.add(at_ms(0), frags[3].view());
    REQUIRE(done);
    CHECK(done->payload == payload);
    CHECK(counter(r, "ipv4.reasm_duplicates") == 2);
}

TEST_CASE("Overlap rule: overlapping fragments with identical bytes are merged") {
    Reassembler r(config());
    const auto payload = pattern(48);
    CHECK_FALSE(r.add(at_ms(0), fragment(payload, 0, 24, true).view()));
    CHECK_FALSE(r.add(at_ms(0), fragment(payload, 16, 24, true).view()));  // overlaps 16..24
    auto done = r.add(at_ms(0), fragment(payload, 32, 16, false).view());  // overlaps 32..40
    REQUIRE(done);
    CHECK(done->payload == payload);
}

TEST_CASE("Overlap rule: overlapping fragments with different bytes drop the whole datagram") {
    Reassembler r(config());
    const auto payload = pattern(48);
    auto other = payload;
    other[20] ^= 0xff;
    CHECK_FALSE(r.add(at_ms(0), fragment(payload, 0, 24, true).view()));
    CHECK_FALSE(r.add(at_ms(0), fragment(other, 16, 24, true).view()));
    CHECK(counter(r, "ipv4.reasm_overlap_conflicts") == 1);
    CHECK(r.datagram_count() == 0);
    CHECK(r.bytes_held() == 0);
    // The rest alone cannot complete it: it is a new, partial datagram.
    CHECK_FALSE(r.add(at_ms(0), fragment(payload, 24, 24, false).view()));
}

TEST_CASE("RFC 791: fragments disagreeing on the total length drop the datagram") {
    Reassembler r(config());
    const auto payload = pattern(64);
    CHECK_FALSE(r.add(at_ms(0), fragment(payload, 0, 16, true).view()));
    CHECK_FALSE(r.add(at_ms(0), fragment(payload, 32, 16, false).view()));  // total 48
    CHECK_FALSE(r.add(at_ms(0), fragment(payload, 48, 16, true).view()));   // beyond the end
    CHECK(counter(r, "ipv4.reasm_inconsistent") == 1);
    CHECK(r.datagram_count() == 0);
}

TEST_CASE("RFC 791: a non-last fragment whose length is not a multiple of 8 is dropped alone") {
    Reassembler r(config());
    const auto payload = pattern(64);
    CHECK_FALSE(r.add(at_ms(0), fragment(payload, 0, 12, true).view()));
    CHECK(counter(r, "ipv4.reasm_bad_fragments") == 1);
    CHECK(r.datagram_count() == 0);
}

TEST_CASE("RFC 791: a fragment reaching beyond 65535 bytes is dropped") {
    Reassembler r(config());
    const auto payload = pattern(65535);
    CHECK_FALSE(r.add(at_ms(0), fragment(payload, 65528, 7, false).view()));
    CHECK(counter(r, "ipv4.reasm_bad_fragments") == 1);
}

TEST_CASE("Different identifications, sources or protocols never mix") {
    Reassembler r(config());
    const auto a = pattern(32, 1);
    const auto b = pattern(32, 2);
    CHECK_FALSE(r.add(at_ms(0), fragment(a, 0, 16, true, 1).view()));
    CHECK_FALSE(r.add(at_ms(0), fragment(b, 16, 16, false, 2).view()));
    CHECK_FALSE(r.add(at_ms(0), fragment(b, 0, 16, true, 1, 6).view()));  // same id, other protocol
    CHECK(r.datagram_count() == 3);
    auto done = r.add(at_ms(0), fragment(a, 16, 16, false, 1).view());
    REQUIRE(done);
    CHECK(done->payload == a);
}

TEST_CASE("RFC 1122 3.3.2: a partial datagram times out, its memory is freed, the first fragment is reported") {
    Reassembler r(config());
    const auto payload = pattern(64);
    CHECK_FALSE(r.add(at_ms(0), fragment(payload, 0, 16, true, 1).view()));
    CHECK_FALSE(r.add(at_ms(100), fragment(payload, 16, 16, true, 2).view()));  // never got its first
    CHECK(r.bytes_held() > 0);
    CHECK(r.poll_at() == at_ms(30'000));
    std::vector<Reassembler::TimedOut> timed_out;
    r.poll(at_ms(29'999), timed_out);
    CHECK(r.datagram_count() == 2);
    r.poll(at_ms(30'000), timed_out);
    CHECK(r.datagram_count() == 1);
    REQUIRE(timed_out.size() == 1);
    CHECK(timed_out[0].header.identification == 1);
    CHECK(timed_out[0].header.fragment_offset == 0);
    CHECK(timed_out[0].leading_payload == std::vector<std::uint8_t>(payload.begin(), payload.begin() + 8));
    r.poll(at_ms(30'100), timed_out);
    CHECK(timed_out.size() == 1);  // no first fragment: nothing to quote
    CHECK(r.datagram_count() == 0);
    CHECK(r.bytes_held() == 0);
    CHECK(counter(r, "ipv4.reasm_timeouts") == 2);
    CHECK(r.poll_at() == kNever);
}

TEST_CASE("RFC 1122 3.3.2: the number of partial datagrams is bounded; the oldest is evicted") {
    Reassembler r(config());  // 8 datagrams
    const auto payload = pattern(32);
    for (std::uint16_t id = 0; id < 10; ++id) {
        CHECK_FALSE(r.add(at_ms(id), fragment(payload, 0, 16, true, id).view()));
        CHECK(r.datagram_count() <= 8);
    }
    CHECK(counter(r, "ipv4.reasm_evicted") == 2);
    // id 0 and 1 are gone; id 9 completes.
    CHECK_FALSE(r.add(at_ms(20), fragment(payload, 16, 16, false, 0).view()));
    CHECK(r.add(at_ms(20), fragment(payload, 16, 16, false, 9).view()));
}

TEST_CASE("RFC 1122 3.3.2: total reassembly memory is bounded; the oldest is evicted") {
    ReassemblyConfig c = config();
    c.max_bytes = 20'000;
    c.max_datagrams = 100;
    Reassembler r(c);
    const auto payload = pattern(65000);
    std::mt19937 rng(1234);
    for (std::uint16_t id = 0; id < 40; ++id) {
        const std::size_t off = (rng() % 1000) * 8;
        r.add(at_ms(id), fragment(payload, off, 1000, true, id).view());
        CHECK(r.bytes_held() <= c.max_bytes);
    }
    CHECK(counter(r, "ipv4.reasm_evicted") > 0);
    // A single fragment that could never fit is refused outright.
    CHECK_FALSE(r.add(at_ms(100), fragment(payload, 60000, 8, true, 999).view()));
    CHECK(counter(r, "ipv4.reasm_too_big") == 1);
    CHECK(r.bytes_held() <= c.max_bytes);
}
