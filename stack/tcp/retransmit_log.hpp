// RetransmitLog: which retransmissions are still unaccounted for, and
// which of them were lost too (RFC 8985 6.2, the RACK rule, applied to
// retransmissions).
//
// Theory of operation
// -------------------
// RFC 6675 recovery retransmits each hole once (NextSeg moves HighRxt past
// it); a retransmission that is itself lost is repaired only by the RTO,
// which at a 200 ms floor costs hundreds of round trips on a short path and
// collapses cwnd to one segment. RACK (RFC 8985) avoids that by judging
// every segment by when it was sent: once a segment sent later than X has
// been delivered, X was lost (reordering aside). This log keeps just what
// that rule needs for retransmissions, the only transmissions the
// scoreboard cannot judge by itself:
//   * record(): one entry per retransmission, with its transmission order
//     and SND.MAX at the time (everything at or above it was first sent
//     later than this retransmission);
//   * detect(): after an ACK, entries whose bytes are all acknowledged or
//     SACKed are delivered and dropped; an entry still missing is lost when
//     (a) data at or above its SND.MAX mark is SACKed (new data sent after
//     it arrived), or (b) a retransmission recorded after it was delivered
//     at least min_rtt after it went (RFC 8985 6.2 step 2: an ACK sooner
//     than that answers the original transmission, not the retransmission);
//   * next_lost() names the oldest lost range to send again, taken() moves
//     it out when it went (the new copy is record()ed like any other);
//   * lost_bytes() is what RFC 6675 SetPipe must stop counting as in flight.
// The reordering window is zero (RFC 8985 6.2 allows this during recovery
// when no reordering has been seen); on a reordering path a retransmission
// may go twice, which costs a segment and never loses data.
// Memory is bounded (kMaxEntries); when full the oldest entry is forgotten
// and only the RTO can still find it lost. The log never frees data: only
// the cumulative ACK does (SackScoreboard).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "stack/tcp/sack_scoreboard.hpp"
#include "stack/tcp/seq_num.hpp"
#include "stack/time.hpp"

namespace tapstack::tcp {

class RetransmitLog {
public:
    static constexpr std::size_t kMaxEntries = 64;

    struct Range {
        SeqNum begin;
        SeqNum end;
    };

    // A retransmission of [begin, end) went at `now`; `snd_max` is SND.MAX.
    void record(Instant now, SeqNum begin, SeqNum end, SeqNum snd_max);
    // Applies one ACK arriving at `now` (SND.UNA `una` and the updated
    // scoreboard); returns how many entries were newly found lost.
    std::uint32_t detect(Instant now, Duration min_rtt, SeqNum una, const SackScoreboard& sb);
    // The oldest lost entry's first unSACKed, unacknowledged bytes.
    std::optional<Range> next_lost(SeqNum una, const SackScoreboard& sb) const;
    // `n` bytes from the start of next_lost() were sent again: no longer
    // lost (the retransmission is record()ed by the caller).
    void taken(SeqNum begin, std::uint32_t n);
    // Bytes of lost entries not yet sent again (not in the network).
    std::uint32_t lost_bytes(SeqNum una, const SackScoreboard& sb) const;

    bool empty() const { return entries_.empty(); }
    std::size_t size() const { return entries_.size(); }
    void clear() { entries_.clear(); }

private:
    struct Entry {
        SeqNum begin;
        SeqNum end;
        SeqNum snd_max_mark;  // SND.MAX when it was sent
        Instant sent;
        std::uint64_t order;  // transmission order among retransmissions
        bool lost = false;
    };
    static bool delivered(const Entry& e, SeqNum una, const SackScoreboard& sb);
    static std::uint32_t missing_bytes(const Entry& e, SeqNum una, const SackScoreboard& sb);

    std::vector<Entry> entries_;  // oldest first (ascending order)
    std::uint64_t next_order_ = 1;
};

}  // namespace tapstack::tcp
