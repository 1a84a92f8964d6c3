// LossRecovery, SACK side: what to send during an RFC 6675 recovery episode
// (NextSeg while pipe allows, with RACK's loss rule and its lost
// retransmissions first), and RFC 5827 early retransmit (see
// loss_recovery.hpp).
#include <algorithm>

#include "stack/tcp/counters.hpp"
#include "stack/tcp/loss_recovery.hpp"
#include "stack/tcp/tcb.hpp"

namespace tapstack::tcp {

namespace {

// Once recovery has started, a hole below the highest SACKed byte is lost
// (RFC 8985 6.2: the reordering window is zero in recovery when no
// reordering has been seen; we do not track reordering, see
// retransmit_log.hpp). RFC 6675's DupThresh test would count a hole with
// fewer than three segments SACKed above it as still in flight, so with a
// small cwnd pipe stays at cwnd and recovery stalls into the RTO.
constexpr SackScoreboard::LossRule kRecoveryLossRule = SackScoreboard::LossRule::kSentBeforeSacked;

}  // namespace

// RFC 6675 5 steps (C): send per NextSeg while cwnd - pipe >= 1 SMSS.
bool LossRecovery::sack_recovery_output(Host& host, Tcb& t, Instant now) {
    const std::uint32_t mss = t.eff_mss();
    const std::uint32_t cwnd = std::max(t.cc->ssthresh(), mss);  // RFC 6675 5 (4.2): cwnd = ssthresh
    bool sent = false;
    for (std::size_t guard = 0; guard < 4096; ++guard) {
        if (high_rxt_ < t.snd_una) high_rxt_ = t.snd_una;
        // SetPipe, less the retransmissions known lost (no longer in flight).
        const std::uint32_t counted = scoreboard_.pipe(t.snd_una, t.snd_max, high_rxt_, mss, kRecoveryLossRule);
        const std::uint32_t gone = rtx_log_.lost_bytes(t.snd_una, scoreboard_);
        const std::uint32_t pipe = counted > gone ? counted - gone : 0;
        if (pipe + mss > cwnd) break;  // (C.1): cwnd - pipe >= 1 SMSS
        // Before NextSeg: a lost retransmission goes again (RFC 8985 6.2;
        // it lies below HighRxt, where NextSeg never looks again).
        if (const auto lost = rtx_log_.next_lost(t.snd_una, scoreboard_)) {
            const std::uint32_t n = host.retransmit(now, lost->begin, lost->end);
            if (n == 0) break;
            host.counters().inc(Counter::sack_retransmits);
            rtx_log_.taken(lost->begin, n);
            sent = true;
            continue;
        }
        const SackScoreboard::Hole hole = scoreboard_.next_hole(t.snd_una, high_rxt_, mss, kRecoveryLossRule);
        const bool have_hole = hole.begin < hole.end;
        // NextSeg rule 1: the first lost unSACKed segment above HighRxt.
        if (have_hole && hole.lost) {
            const std::uint32_t n = host.retransmit(now, hole.begin, hole.end);
            if (n == 0) break;
            host.counters().inc(Counter::sack_retransmits);
            high_rxt_ = hole.begin + n;
            sent = true;
            continue;
        }
        // Rule 2: new data the receiver's window allows. One segment per
        // round of this loop; a TSO super-segment only as far as cwnd - pipe.
        const SeqNum rule2_edge = host.tso() ? t.snd_max + (cwnd - pipe) : t.snd_max + 0x3fffffffu;
        if (t.snd_nxt == t.snd_max && host.send_new(now, rule2_edge)) {
            sent = true;
            continue;
        }
        // Rule 3: an unSACKed segment above HighRxt not yet deemed lost.
        if (have_hole) {
            const std::uint32_t n = host.retransmit(now, hole.begin, hole.end);
            if (n == 0) break;
            host.counters().inc(Counter::sack_retransmits);
            high_rxt_ = hole.begin + n;
            sent = true;
            continue;
        }
        // Rule 4: one rescue retransmission of the highest unSACKed data per
        // recovery; HighRxt is not moved.
        // A FIN alone at the tail is left to the timer: it is no data.
        const SeqNum data_top = seq_min(t.snd_max, t.data_end());
        if ((!rescue_valid_ || t.snd_una > rescue_rxt_) && !scoreboard_.empty() &&
            scoreboard_.high_sacked() < data_top) {
            const std::uint32_t tail = SeqNum::distance(data_top, scoreboard_.high_sacked());
            const SeqNum from = data_top - std::min(tail, mss);
            rescue_valid_ = true;
            rescue_rxt_ = recover_;
            if (host.retransmit(now, from, t.snd_max) > 0) {
                host.counters().inc(Counter::sack_rescue_retransmits);
                sent = true;
            }
            continue;
        }
        break;
    }
    return sent;
}

// RFC 5827 3.2 (SACK variant): fewer than 4 segments outstanding, at least
// oseg - 1 of them SACKed, and nothing new can be sent (no unsent data, or
// the peer's window or cwnd is full).
bool LossRecovery::early_retransmit_due(const Tcb& t) const {
    const std::uint32_t mss = t.eff_mss();
    // Segments of data outstanding (a FIN riding on the last one adds none).
    const SeqNum data_top = seq_min(t.snd_max, t.data_end());
    const std::uint32_t data_flight = data_top > t.snd_una ? SeqNum::distance(data_top, t.snd_una) : 0;
    const std::uint32_t oseg = (data_flight + mss - 1) / mss;
    if (oseg < 2 || oseg >= 4 || scoreboard_.empty()) return false;
    const std::uint32_t sacked_segs = (scoreboard_.sacked_bytes() + mss - 1) / mss;
    if (sacked_segs < oseg - 1) return false;
    const bool unsent = t.snd_nxt < t.data_end();
    const bool window_full = t.flight() + mss > t.snd_wnd || t.flight() + mss > t.cc->cwnd();
    return !unsent || window_full;
}

}  // namespace tapstack::tcp
