// SackScoreboard: RFC 2018 block bookkeeping and the RFC 6675 section 4
// routines (IsLost, SetPipe, NextSeg) on the scenarios the RFC describes.
// SMSS 1000 and segments numbered from SND.UNA = 1000 keep the arithmetic
// readable: segment k is [1000 + 1000k, 2000 + 1000k).
#include <doctest/doctest.h>

#include <vector>

#include "stack/buf/ring_buffer.hpp"
#include "stack/tcp/sack_scoreboard.hpp"

using tapstack::tcp::SackScoreboard;
using tapstack::tcp::SeqNum;
using tapstack::wire::SackBlock;

namespace {
constexpr std::uint32_t kSmss = 1000;
SeqNum seg(std::uint32_t k) { return SeqNum(1000 + 1000 * k); }
SackBlock blk(std::uint32_t from, std::uint32_t to) { return {seg(from).raw(), seg(to).raw()}; }
std::uint32_t update(SackScoreboard& sb, std::uint32_t una_seg, std::uint32_t max_seg, std::vector<SackBlock> b) {
    return sb.update(seg(una_seg), seg(max_seg), b);
}
}  // namespace

TEST_CASE("RFC 2018: blocks are merged, counted once, and forgotten below the cumulative ACK") {
    SackScoreboard sb;
    CHECK(update(sb, 0, 10, {blk(2, 3)}) == kSmss);
    CHECK(update(sb, 0, 10, {blk(2, 3)}) == 0);  // repeated: nothing new, not a duplicate ACK
    CHECK(update(sb, 0, 10, {blk(4, 5), blk(2, 3)}) == kSmss);
    CHECK(update(sb, 0, 10, {blk(3, 4)}) == kSmss);  // fills the gap: one range 2..5
    REQUIRE(sb.ranges().size() == 1);
    CHECK(sb.ranges()[0].left == seg(2));
    CHECK(sb.ranges()[0].right == seg(5));
    CHECK(sb.sacked_bytes() == 3 * kSmss);
    sb.advance(seg(3));  // cumulative ACK inside the range trims it
    CHECK(sb.ranges()[0].left == seg(3));
    sb.advance(seg(6));
    CHECK(sb.empty());
}

TEST_CASE("RFC 2018 / RFC 2883: blocks below SND.UNA (D-SACK), beyond SND.MAX or inverted are ignored") {
    SackScoreboard sb;
    CHECK(update(sb, 5, 10, {blk(1, 2)}) == 0);    // D-SACK of old data
    CHECK(update(sb, 5, 10, {blk(8, 12)}) == 0);   // beyond what was sent
    CHECK(update(sb, 5, 10, {SackBlock{seg(8).raw(), seg(7).raw()}}) == 0);  // inverted
    CHECK(sb.empty());
    CHECK(update(sb, 5, 10, {blk(4, 7)}) == 2 * kSmss);  // straddles SND.UNA: only the part above
    CHECK(sb.ranges()[0].left == seg(5));
}

TEST_CASE("RFC 6675 4 IsLost: DupThresh SACKed ranges above, or more than (DupThresh-1)*SMSS SACKed bytes above") {
    SackScoreboard sb;
    update(sb, 0, 10, {blk(1, 3)});  // 2 segments above segment 0
    CHECK_FALSE(sb.is_lost(seg(0), kSmss));  // exactly 2*SMSS is not "more than"
    update(sb, 0, 10, {blk(1, 3), SackBlock{seg(3).raw(), seg(3).raw() + 1}});  // one more byte
    CHECK(sb.is_lost(seg(0), kSmss));
    SackScoreboard three;
    update(three, 0, 10, {blk(2, 3)});
    update(three, 0, 10, {blk(4, 5)});
    CHECK_FALSE(three.is_lost(seg(1), kSmss));  // 2 ranges, 2 SMSS above
    update(three, 0, 10, {SackBlock{seg(6).raw(), seg(6).raw() + 10}});
    CHECK(three.is_lost(seg(1), kSmss));        // 3 discontiguous ranges above
    CHECK_FALSE(three.is_lost(seg(3), kSmss));  // only 2 ranges above segment 3
}

TEST_CASE("RFC 6675 4 SetPipe: lost holes are out of the pipe; retransmitted bytes (below HighRxt) are in it") {
    SackScoreboard sb;
    // 10 segments out; segments 0 and 5 lost, the rest SACKed.
    update(sb, 0, 10, {blk(1, 5), blk(6, 10)});
    CHECK(sb.is_lost(seg(0), kSmss));
    CHECK(sb.is_lost(seg(5), kSmss));
    CHECK(sb.pipe(seg(0), seg(10), seg(0), kSmss) == 0);
    // Segment 0 retransmitted (HighRxt + 1 = segment 1): one segment in the pipe.
    CHECK(sb.pipe(seg(0), seg(10), seg(1), kSmss) == kSmss);
    // A hole that is not yet lost counts as in flight.
    SackScoreboard late;
    update(late, 0, 10, {blk(9, 10)});
    CHECK(late.pipe(seg(0), seg(10), seg(0), kSmss) == 9 * kSmss);
}

TEST_CASE("RFC 6675 4 NextSeg: first lost hole above HighRxt (rule 1), else an unSACKed one (rule 3), none above HighSACK") {
    SackScoreboard sb;
    update(sb, 0, 12, {blk(1, 2), blk(3, 4), blk(5, 6), blk(7, 8)});
    auto h = sb.next_hole(seg(0), seg(0), kSmss);
    CHECK(h.begin == seg(0));
    CHECK(h.end == seg(1));
    CHECK(h.lost);  // 4 ranges above
    h = sb.next_hole(seg(0), seg(1), kSmss);  // HighRxt past segment 0
    CHECK(h.begin == seg(2));
    CHECK(h.lost);  // 3 ranges above
    h = sb.next_hole(seg(0), seg(4), kSmss);
    CHECK(h.begin == seg(4));
    CHECK_FALSE(h.lost);  // only 2 ranges above: rule 3 material
    h = sb.next_hole(seg(0), seg(8), kSmss);
    CHECK_FALSE(h.begin < h.end);  // nothing unSACKed below HighSACK any more
    CHECK(sb.high_sacked() == seg(8));
}

TEST_CASE("SackScoreboard is bounded: a block needing one range too many is ignored") {
    SackScoreboard sb;
    for (std::uint32_t k = 0; k < SackScoreboard::kMaxRanges + 5; ++k)
        update(sb, 0, 200, {blk(2 * k + 1, 2 * k + 2)});
    CHECK(sb.ranges().size() == SackScoreboard::kMaxRanges);
}

TEST_CASE("RingBuffer::grow keeps queued and out-of-order bytes at their offsets across the wrap") {
    tapstack::buf::RingBuffer r(8);
    std::vector<std::uint8_t> a{1, 2, 3, 4, 5, 6};
    CHECK(r.write(a) == 6);
    std::vector<std::uint8_t> out(4);
    CHECK(r.read(out) == 4);  // head at 4, queued {5, 6}
    std::vector<std::uint8_t> ooo{9, 10};
    CHECK(r.write_at(2, ooo) == 2);  // wraps to the start of storage
    r.grow(32);
    CHECK(r.capacity() == 32);
    CHECK(r.size() == 2);
    r.commit(4);  // the two out-of-order bytes after a 2-byte gap
    std::vector<std::uint8_t> all(6);
    CHECK(r.read(all) == 6);
    CHECK(all[0] == 5);
    CHECK(all[1] == 6);
    CHECK(all[4] == 9);
    CHECK(all[5] == 10);
    r.grow(16);  // never shrinks
    CHECK(r.capacity() == 32);
}
