// RetransmitLog: finding lost retransmissions by the RACK rule (RFC 8985
// 6.2) and the RACK-style loss rule of the scoreboard during recovery.
// Segments of 1000 bytes numbered from 1000 as in test_sack_scoreboard.cpp.
#include <doctest/doctest.h>

#include <vector>

#include "stack/tcp/retransmit_log.hpp"
#include "stack/tcp/sack_scoreboard.hpp"

using tapstack::Duration;
using tapstack::Instant;
using tapstack::milliseconds;
using tapstack::tcp::RetransmitLog;
using tapstack::tcp::SackScoreboard;
using tapstack::tcp::SeqNum;
using tapstack::wire::SackBlock;

namespace {
constexpr std::uint32_t kSmss = 1000;
constexpr Duration kRtt = milliseconds(10);
SeqNum seg(std::uint32_t k) { return SeqNum(1000 + 1000 * k); }
SackBlock blk(std::uint32_t from, std::uint32_t to) { return {seg(from).raw(), seg(to).raw()}; }
Instant at_ms(int ms) { return Instant{} + milliseconds(ms); }
void sack(SackScoreboard& sb, std::uint32_t una, std::uint32_t max, std::vector<SackBlock> b) {
    sb.update(seg(una), seg(max), b);
}
}  // namespace

TEST_CASE("RFC 8985 6.2: a retransmission is lost once new data sent after it is SACKed") {
    SackScoreboard sb;
    RetransmitLog log;
    sack(sb, 0, 10, {blk(1, 10)});         // segment 0 lost, 1..9 SACKed
    log.record(at_ms(100), seg(0), seg(1), seg(10));  // resent while SND.MAX = segment 10
    // Segments 10 and 11 go out after it. 10 SACKed: sent after the
    // retransmission and delivered, so the retransmission is lost.
    CHECK(log.detect(at_ms(101), kRtt, seg(0), sb) == 0);  // nothing new yet
    sack(sb, 0, 12, {blk(1, 11)});
    CHECK(log.detect(at_ms(111), kRtt, seg(0), sb) == 1);
    const auto lost = log.next_lost(seg(0), sb);
    REQUIRE(lost.has_value());
    CHECK(lost->begin == seg(0));
    CHECK(lost->end == seg(1));
    CHECK(log.lost_bytes(seg(0), sb) == kSmss);
    CHECK(log.detect(at_ms(112), kRtt, seg(0), sb) == 0);  // counted once
    // Sent again: no longer lost; the new copy is a new entry.
    log.taken(seg(0), kSmss);
    log.record(at_ms(112), seg(0), seg(1), seg(12));
    CHECK_FALSE(log.next_lost(seg(0), sb).has_value());
    CHECK(log.lost_bytes(seg(0), sb) == 0);
    // The cumulative ACK covers it: delivered, forgotten.
    sb.advance(seg(12));
    CHECK(log.detect(at_ms(122), kRtt, seg(12), sb) == 0);
    CHECK(log.empty());
}

TEST_CASE("RFC 8985 6.2: a later retransmission delivered a round trip after it went reveals an earlier lost one") {
    SackScoreboard sb;
    RetransmitLog log;
    sack(sb, 0, 10, {blk(1, 3), blk(4, 10)});  // holes at 0 and 3
    log.record(at_ms(100), seg(0), seg(1), seg(10));
    log.record(at_ms(100), seg(3), seg(4), seg(10));
    // The retransmission of 3 is SACKed a round trip later, 0 still missing.
    sack(sb, 0, 10, {blk(1, 10)});
    CHECK(log.detect(at_ms(110), kRtt, seg(0), sb) == 1);
    CHECK(log.size() == 1);
    REQUIRE(log.next_lost(seg(0), sb).has_value());
    CHECK(log.next_lost(seg(0), sb)->begin == seg(0));
}

TEST_CASE("RFC 8985 6.2 step 2: a SACK sooner than min_rtt after a retransmission answers the original, not it") {
    SackScoreboard sb;
    RetransmitLog log;
    sack(sb, 0, 10, {blk(1, 3), blk(4, 9)});
    log.record(at_ms(100), seg(0), seg(1), seg(10));
    log.record(at_ms(100), seg(9), seg(10), seg(10));  // e.g. a rescue retransmission of the tail
    // The original segment 9 arrives 1 ms later: the entry is delivered but
    // proves nothing about the retransmission of 0 sent at the same time.
    sack(sb, 0, 10, {blk(1, 3), blk(4, 10)});
    CHECK(log.detect(at_ms(101), kRtt, seg(0), sb) == 0);
    CHECK_FALSE(log.next_lost(seg(0), sb).has_value());
}

TEST_CASE("RetransmitLog: partly SACKed lost entries resend only their holes; memory is bounded") {
    SackScoreboard sb;
    RetransmitLog log;
    sack(sb, 0, 20, {blk(4, 20)});
    log.record(at_ms(0), seg(0), seg(4), seg(20));  // one 4-segment retransmission (TSO)
    sack(sb, 0, 22, {blk(1, 2), blk(4, 21)});       // part of it arrived, new data too
    CHECK(log.detect(at_ms(20), kRtt, seg(0), sb) == 1);
    CHECK(log.lost_bytes(seg(0), sb) == 3 * kSmss);  // 0, 2 and 3
    auto lost = log.next_lost(seg(0), sb);
    REQUIRE(lost.has_value());
    CHECK(lost->begin == seg(0));
    CHECK(lost->end == seg(1));
    log.taken(seg(0), kSmss);
    lost = log.next_lost(seg(0), sb);
    REQUIRE(lost.has_value());
    CHECK(lost->begin == seg(2));
    CHECK(lost->end == seg(4));

    RetransmitLog full;
    for (std::uint32_t k = 0; k < RetransmitLog::kMaxEntries + 10; ++k)
        full.record(at_ms(0), seg(k), seg(k + 1), seg(200));
    CHECK(full.size() == RetransmitLog::kMaxEntries);
}

TEST_CASE("RFC 8985 6.2 in recovery: a hole below the highest SACK is lost however few segments lie above it") {
    SackScoreboard sb;
    sack(sb, 0, 4, {blk(2, 4)});  // two segments above the hole: not lost by DupThresh
    CHECK_FALSE(sb.is_lost(seg(0), kSmss));
    const auto rack = SackScoreboard::LossRule::kSentBeforeSacked;
    CHECK(sb.next_hole(seg(0), seg(0), kSmss, rack).lost);
    CHECK_FALSE(sb.next_hole(seg(0), seg(0), kSmss).lost);
    // SetPipe: the hole (2 segments) no longer counts as in flight.
    CHECK(sb.pipe(seg(0), seg(4), seg(0), kSmss) == 2 * kSmss);
    CHECK(sb.pipe(seg(0), seg(4), seg(0), kSmss, rack) == 0);
    // Retransmitted (below HighRxt): that copy is in flight.
    CHECK(sb.pipe(seg(0), seg(4), seg(1), kSmss, rack) == kSmss);
}
