// buf::RingBuffer and buf::Assembler.
#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "stack/buf/assembler.hpp"
#include "stack/buf/ring_buffer.hpp"

using tapstack::buf::Assembler;
using tapstack::buf::RingBuffer;

namespace {
std::vector<std::uint8_t> seq_bytes(std::size_t n, std::size_t start = 0) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(start + i);
    return v;
}
}  // namespace

TEST_CASE("RingBuffer: FIFO across the wrap, bounded by capacity") {
    RingBuffer r(10);
    CHECK(r.write(seq_bytes(7)) == 7);
    std::vector<std::uint8_t> out(5);
    CHECK(r.read(out) == 5);
    CHECK(out == seq_bytes(5));
    CHECK(r.write(seq_bytes(20, 7)) == 8);  // 2 queued + 8 = full
    CHECK(r.full());
    CHECK(r.write(seq_bytes(1)) == 0);
    std::vector<std::uint8_t> all(10);
    CHECK(r.read(all) == 10);
    CHECK(all == seq_bytes(10, 5));
    CHECK(r.empty());
}

TEST_CASE("RingBuffer: peek at an offset does not consume; contiguous spans cover the data") {
    RingBuffer r(8);
    r.write(seq_bytes(6));
    std::vector<std::uint8_t> out(3);
    r.consume(4);
    r.write(seq_bytes(6, 6));  // wraps
    CHECK(r.size() == 8);
    CHECK(r.peek(1, out) == 3);
    CHECK(out == seq_bytes(3, 5));
    CHECK(r.size() == 8);
    auto first = r.readable();
    CHECK(first.size() == 4);  // head at 4, up to the end of storage
    CHECK(first[0] == 4);
    CHECK(r.peek(8, out) == 0);
}

TEST_CASE("RingBuffer: write_at stores beyond the queue without queueing; commit makes it readable") {
    RingBuffer r(10);
    r.write(seq_bytes(3));
    CHECK(r.write_at(4, seq_bytes(3, 7)) == 3);   // bytes 7..9 at positions 7..9
    CHECK(r.size() == 3);
    CHECK(r.write_at(6, seq_bytes(10, 9)) == 1);  // only one byte of free space left there
    CHECK(r.write_at(7, seq_bytes(1)) == 0);      // beyond the free space
    CHECK(r.write_at(0, seq_bytes(4, 3)) == 4);   // fills the hole 3..6
    r.commit(7);
    std::vector<std::uint8_t> out(10);
    CHECK(r.read(out) == 10);
    CHECK(out == seq_bytes(10));
}

TEST_CASE("RingBuffer: storage is allocated lazily and never grows") {
    RingBuffer r(1 << 20);
    CHECK(r.readable().empty());
    CHECK(r.capacity() == (1u << 20));
    r.write(seq_bytes(10));
    CHECK(r.size() == 10);
    r.release();
    CHECK(r.size() == 0);
}

TEST_CASE("RingBuffer: readable_spans cover every queued byte in order, split at the end of storage") {
    RingBuffer r(8);
    CHECK(r.readable_spans()[0].empty());
    CHECK(r.readable_spans()[1].empty());
    r.write(seq_bytes(6));
    auto unwrapped = r.readable_spans();
    CHECK(unwrapped[0].size() == 6);
    CHECK(unwrapped[1].empty());
    r.consume(5);               // head at 5, one byte queued
    r.write(seq_bytes(6, 6));   // positions 6, 7, then 0..3
    auto spans = r.readable_spans();
    CHECK(spans[0].size() == 3);
    CHECK(spans[1].size() == 4);
    CHECK(spans[0].size() + spans[1].size() == r.size());
    std::vector<std::uint8_t> joined(spans[0].begin(), spans[0].end());
    joined.insert(joined.end(), spans[1].begin(), spans[1].end());
    CHECK(joined == seq_bytes(7, 5));
    r.consume(3);               // the first run used up: the rest starts at the storage's front
    spans = r.readable_spans();
    CHECK(spans[0].size() == 4);
    CHECK(spans[1].empty());
    CHECK(spans[0][0] == 8);
}

TEST_CASE("RingBuffer: writable_spans cover all free space in order; commit queues what was written there") {
    RingBuffer r(8);
    auto empty_spans = r.writable_spans();  // allocates; the whole ring is one run
    CHECK(empty_spans[0].size() == 8);
    CHECK(empty_spans[1].empty());
    r.write(seq_bytes(6));
    r.consume(4);               // 2 queued at positions 4..5; free: 6..7 then 0..3
    auto spans = r.writable_spans();
    CHECK(spans[0].size() == 2);
    CHECK(spans[1].size() == 4);
    CHECK(spans[0].size() + spans[1].size() == r.free());
    // Fill across the wrap as readv() would, then commit part of it.
    const auto data = seq_bytes(5, 6);
    std::copy_n(data.begin(), 2, spans[0].begin());
    std::copy_n(data.begin() + 2, 3, spans[1].begin());
    r.commit(5);
    CHECK(r.size() == 7);
    std::vector<std::uint8_t> out(7);
    CHECK(r.read(out) == 7);
    CHECK(out == seq_bytes(7, 4));
    r.write(seq_bytes(8));
    CHECK(r.full());
    CHECK(r.writable_spans()[0].empty());
    CHECK(r.writable_spans()[1].empty());
}

TEST_CASE("RingBuffer: spans after grow() keep the order of queued bytes") {
    RingBuffer r(4);
    r.write(seq_bytes(3));
    r.consume(2);
    r.write(seq_bytes(3, 3));   // queued 2,3,4,5 wrapping at the end
    CHECK(r.readable_spans()[1].size() == 2);
    r.grow(16);
    auto spans = r.readable_spans();
    CHECK(spans[0].size() == 4);
    CHECK(spans[1].empty());
    CHECK(std::equal(spans[0].begin(), spans[0].end(), seq_bytes(4, 2).begin()));
    auto free_spans = r.writable_spans();
    CHECK(free_spans[0].size() + free_spans[1].size() == 12);
}

TEST_CASE("Assembler: overlapping and repeated ranges merge; take_front returns the contiguous prefix once") {
    Assembler a(4);
    CHECK(a.add(10, 5));
    CHECK(a.add(12, 10));  // overlap -> [10,22)
    CHECK(a.add(22, 3));   // adjacent -> [10,25)
    CHECK(a.range_count() == 1);
    CHECK(a.take_front() == 0);
    CHECK(a.add(0, 10));
    CHECK(a.take_front() == 25);
    CHECK(a.empty());
    CHECK(a.take_front() == 0);
}

TEST_CASE("Assembler: bounded number of ranges; a range at offset 0 is always accepted") {
    Assembler a(3);
    CHECK(a.add(10, 1));
    CHECK(a.add(20, 1));
    CHECK(a.add(30, 1));
    CHECK_FALSE(a.add(40, 1));  // would be a fourth range
    CHECK(a.add(11, 2));        // extends an existing one: fine
    CHECK(a.add(0, 5));
    CHECK(a.take_front() == 5);
    CHECK(a.range_count() == 3);
    CHECK(a.ranges()[0].begin == 5);  // shifted down by 5
}

TEST_CASE("Assembler + RingBuffer: every permutation of 5 segments delivers the stream exactly once") {
    const auto stream = seq_bytes(500);
    std::vector<int> order{0, 1, 2, 3, 4};
    do {
        RingBuffer ring(1000);
        Assembler a(8);
        std::size_t base = 0;  // bytes committed so far
        for (int i : order) {
            const std::size_t from = static_cast<std::size_t>(i) * 100;
            if (from + 100 <= base) continue;
            const std::size_t skip = base > from ? base - from : 0;
            const std::size_t off = from + skip - base;
            std::span<const std::uint8_t> part(stream.data() + from + skip, 100 - skip);
            REQUIRE(ring.write_at(off, part) == part.size());
            REQUIRE(a.add(off, part.size()));
            const std::size_t n = a.take_front();
            ring.commit(n);
            base += n;
        }
        std::vector<std::uint8_t> out(600);
        CHECK(ring.read(out) == 500);
        out.resize(500);
        CHECK(out == stream);
    } while (std::next_permutation(order.begin(), order.end()));
}

TEST_CASE("Assembler: random overlapping segments, exactly-once delivery (seeded)") {
    for (std::uint64_t seed = 1; seed <= 50; ++seed) {
        INFO("seed=" << seed);
        std::mt19937_64 rng(seed);
        const auto stream = seq_bytes(3000);
        RingBuffer ring(4096);
        Assembler a(16);
        std::size_t base = 0;
        std::vector<std::uint8_t> delivered;
        int guard = 0;
        while (delivered.size() < stream.size() && ++guard < 100000) {
            const std::size_t from = rng() % stream.size();
            const std::size_t len = 1 + rng() % 300;
            const std::size_t to = std::min(stream.size(), from + len);
            if (to <= base) continue;
            const std::size_t start = std::max(from, base);
            std::span<const std::uint8_t> part(stream.data() + start, to - start);
            const std::size_t stored = ring.write_at(start - base, part);
            if (stored == 0 || !a.add(start - base, stored)) continue;
            const std::size_t n = a.take_front();
            ring.commit(n);
            base += n;
            std::vector<std::uint8_t> out(ring.size());
            ring.read(out);
            delivered.insert(delivered.end(), out.begin(), out.end());
        }
        CHECK(delivered == stream);
    }
}

TEST_CASE("RingBuffer::peek_spans(): the bytes peek() would copy, as at most two runs across the ring's end") {
    RingBuffer rb(16);
    std::vector<std::uint8_t> in(12);
    for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<std::uint8_t>(i + 1);
    rb.write(in);
    rb.consume(10);  // head at 10
    rb.write(in);    // 14 queued: 2 old bytes, then 12 new ones wrapping at 16
    for (std::size_t off = 0; off < 15; ++off) {
        for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{5}, std::size_t{20}}) {
            CAPTURE(off);
            CAPTURE(n);
            std::vector<std::uint8_t> copied(n);
            copied.resize(rb.peek(off, copied));
            const auto spans = rb.peek_spans(off, n);
            std::vector<std::uint8_t> joined(spans[0].begin(), spans[0].end());
            joined.insert(joined.end(), spans[1].begin(), spans[1].end());
            CHECK(joined == copied);
        }
    }
}

TEST_CASE("RingBuffer::footprint(): the pages written so far, whole capacity once wrapped, zero after release") {
    constexpr std::size_t kPage = RingBuffer::kPage;
    RingBuffer r(16 * kPage);
    CHECK(r.footprint() == 0);  // no storage yet
    CHECK(r.footprint_after_write(0, 1) == kPage);
    r.write(seq_bytes(100));
    CHECK(r.footprint() == kPage);
    // Out-of-order bytes far ahead count up to where they lie.
    CHECK(r.footprint_after_write(5 * kPage, 10) == 6 * kPage);
    CHECK(r.write_at(5 * kPage, seq_bytes(10)) == 10);
    CHECK(r.footprint() == 6 * kPage);
    // Beyond the free space nothing is written, nothing grows.
    CHECK(r.footprint_after_write(16 * kPage, 10) == 6 * kPage);
    // Reading does not shrink it: the pages stay resident.
    std::vector<std::uint8_t> out(100);
    r.read(out);
    CHECK(r.footprint() == 6 * kPage);
    // A rewound empty ring writes from offset 0 again: no growth.
    r.rewind();
    CHECK(r.footprint_after_write(0, 3 * kPage) == 6 * kPage);
    // Writes that wrap past the end count the whole capacity.
    RingBuffer w(4 * kPage);
    w.write(seq_bytes(3 * kPage));
    std::vector<std::uint8_t> sink(3 * kPage);
    w.read(sink);
    CHECK(w.footprint() == 3 * kPage);
    CHECK(w.footprint_after_write(0, 2 * kPage) == 4 * kPage);
    w.write(seq_bytes(2 * kPage));
    CHECK(w.footprint() == 4 * kPage);
    w.release();
    CHECK(w.footprint() == 0);
}

TEST_CASE("RingBuffer::writable_within(): what fits without growing the footprint by more than asked") {
    constexpr std::size_t kPage = RingBuffer::kPage;
    RingBuffer r(16 * kPage);
    CHECK(r.writable_within(0) == 0);
    CHECK(r.writable_within(kPage) == kPage);
    r.write(seq_bytes(kPage + 1));  // two pages touched
    CHECK(r.footprint() == 2 * kPage);
    CHECK(r.writable_within(0) == kPage - 1);
    CHECK(r.writable_within(kPage) == 2 * kPage - 1);
    CHECK(r.writable_within(100 * kPage) == r.free());
    // Empty: counted as rewound, the touched pages are reusable.
    std::vector<std::uint8_t> out(kPage + 1);
    r.read(out);
    CHECK(r.writable_within(0) == 2 * kPage);
    r.rewind();
    CHECK(r.write(seq_bytes(2 * kPage)) == 2 * kPage);
    CHECK(r.footprint() == 2 * kPage);
}

TEST_CASE("RingBuffer: commit after writing through writable_spans() counts toward the footprint") {
    constexpr std::size_t kPage = RingBuffer::kPage;
    RingBuffer r(8 * kPage);
    auto spans = r.writable_spans();
    std::fill_n(spans[0].begin(), 3 * kPage, std::uint8_t{7});
    r.commit(3 * kPage);
    CHECK(r.footprint() == 3 * kPage);
}
