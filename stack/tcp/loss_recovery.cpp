// LossRecovery: ACK arrival, recovery episodes, the NewReno fallback and the
// RTO's effect on recovery (see loss_recovery.hpp).
//
// An episode starts with SACK on DupThresh duplicate ACKs, on IsLost() for
// the segment at SND.UNA, on RFC 5827 early retransmit or when the RACK
// reordering window expires (rack.cpp); without SACK on the third duplicate
// ACK (RFC 6582 3.2 step 2). Either way not before SND.UNA passed the
// previous RecoveryPoint (`recover_`, also set by an RTO: RFC 6675 5.1).
// It ends with the ACK that covers RecoveryPoint, or with an RTO.
#include "stack/tcp/loss_recovery.hpp"

#include <algorithm>

#include "stack/tcp/counters.hpp"
#include "stack/tcp/tcb.hpp"

namespace tapstack::tcp {

std::uint32_t LossRecovery::on_sack_blocks(const Tcb& t, SeqNum ack, const wire::TcpOptions& options) {
    if (!t.sack_ok) return 0;
    const SeqNum una = seq_max(t.snd_una, ack);
    if (options.sack_count > 0) {
        return scoreboard_.update(una, t.snd_max,
                                  std::span<const wire::SackBlock>(options.sack_blocks.data(), options.sack_count));
    }
    scoreboard_.advance(una);
    return 0;
}

void LossRecovery::on_ack(Host& host, Tcb& t, Instant now, const AckEvent& ack) {
    if (ack.acked > 0) {
        on_new_ack(t, now, ack);
    } else if (ack.ack == t.snd_una && t.snd_max > t.snd_una &&
               (t.sack_ok ? ack.newly_sacked > 0 : ack.bare_same_window)) {
        // A duplicate ACK: RFC 5681 2 without SACK; with SACK, RFC 6675 2
        // (an ACK that SACKs data not SACKed before).
        on_duplicate_ack(host, t, now);
    }
    // Lost retransmissions (RFC 8985 6.2, see retransmit_log.hpp): a
    // retransmission still missing after something sent later was
    // delivered goes again at once instead of waiting for the RTO.
    detect_lost_retransmissions(host, t, now);
    if (sack_recovery_due(t)) enter_sack_recovery(host, t, now);
    arm_reordering_timer(host, t, now);
}

// SND.UNA advanced (step 5 already moved it and restarted the RTO).
void LossRecovery::on_new_ack(Tcb& t, Instant now, const AckEvent& ack) {
    if (high_rxt_ < t.snd_una) high_rxt_ = t.snd_una;
    // RFC 8985 7.2: restart the PTO; a new probe is allowed once the
    // flight the last one belonged to is acknowledged.
    tlp_rearm_ = true;
    if (tlp_out_ && t.snd_una >= tlp_high_) tlp_out_ = false;
    if (t.cc) {
        if (in_recovery_) {
            if (ack.ack >= recover_) {
                in_recovery_ = false;
                t.cc->on_exit_recovery(t.flight());
            } else if (t.sack_ok) {
                // RFC 6675 5 (C): a partial ACK; output() goes on with
                // NextSeg as pipe allows (no window deflation here).
            } else {
                // RFC 6582 3.2 step 3: partial ACK, retransmit the next hole.
                t.cc->on_partial_ack(ack.acked);
                retransmit_pending_ = true;
            }
        } else {
            const std::uint32_t in_use =
                t.cwnd_limited ? std::max(ack.flight_before, t.cc->cwnd()) : ack.flight_before;
            t.cc->on_ack(now, ack.acked, in_use);
        }
    }
    dupacks_ = 0;
}

void LossRecovery::on_duplicate_ack(Host& host, Tcb& t, Instant now) {
    host.counters().inc(Counter::rx_dup_acks);
    ++dupacks_;
    if (!t.cc) return;
    if (in_recovery_) {
        if (!t.sack_ok) t.cc->on_dup_ack_in_recovery();
        host.want_output();
    } else if (!t.sack_ok && dupacks_ == kDupThresh && t.snd_una >= recover_) {
        // RFC 6582 3.2 step 2: enter fast recovery once per window.
        host.counters().inc(Counter::fast_retransmits);
        ++t.fast_retransmits;
        in_recovery_ = true;
        recover_ = t.snd_max;
        t.cc->on_enter_recovery(now, t.flight());
        retransmit_pending_ = true;
        t.rtt_timing = false;
        host.want_output();
    } else if (dupacks_ < kDupThresh) {
        // RFC 3042 limited transmit: output() may send one new segment
        // beyond cwnd for each of the first two.
        host.want_output();
    }
}

// RFC 6675 5 (4): with SACK, loss recovery starts on DupThresh duplicate
// ACKs or as soon as the first unacknowledged segment counts as lost, but
// not before the cumulative ACK passed the last RecoveryPoint (5.1: after
// an RTO, not before SND.UNA reaches what was sent then). RFC 5827 3.2
// early retransmit: with fewer than four segments outstanding DupThresh
// SACKed segments can never arrive, so the threshold is one less than the
// outstanding segments, when no new segment can be sent to elicit more
// SACKs (as Linux, a full cwnd counts as "cannot send").
bool LossRecovery::sack_recovery_due(const Tcb& t) const {
    return t.sack_ok && t.cc && !in_recovery_ && t.snd_max > t.snd_una && t.snd_una >= recover_ &&
           t.snd_nxt == t.snd_max &&
           (dupacks_ >= kDupThresh || scoreboard_.is_lost(t.snd_una, t.eff_mss()) || early_retransmit_due(t));
}

// RFC 6675 5 step (4): RecoveryPoint = HighData, halve via the congestion
// controller (cwnd for the recovery is its ssthresh), retransmit the first
// segment at once; output() continues per NextSeg.
void LossRecovery::enter_sack_recovery(Host& host, Tcb& t, Instant now) {
    host.counters().inc(Counter::fast_retransmits);
    host.counters().inc(Counter::sack_recoveries);
    ++t.fast_retransmits;
    ++t.sack_recoveries;
    in_recovery_ = true;
    recover_ = t.snd_max;
    tlp_deadline_ = kNever;  // RFC 8985 7.2: no probes during recovery
    reo_deadline_ = kNever;
    t.cc->on_enter_recovery(now, t.flight());
    high_rxt_ = t.snd_una;
    rescue_valid_ = false;
    retransmit_pending_ = true;
    t.rtt_timing = false;
    host.want_output();
}

bool LossRecovery::retransmit_due(Host& host, Tcb& t, Instant now) {
    bool sent = false;
    if (retransmit_pending_) {
        // Fast retransmit / NewReno partial ACK / entry into SACK recovery:
        // the segment at SND.UNA (up to the first SACKed byte).
        retransmit_pending_ = false;
        if (t.snd_una < t.snd_max) {
            const SeqNum limit = t.sack_ok ? scoreboard_.next_sacked(t.snd_una, t.snd_max) : t.snd_max;
            const std::uint32_t n = host.retransmit(now, t.snd_una, limit);
            if (n > 0) {
                sent = true;
                if (t.sack_ok) high_rxt_ = seq_max(high_rxt_, t.snd_una + n);
                host.arm(t.rtx_deadline, now + t.rtt.rto());
            }
        }
    }
    if (t.sack_ok && !controls_sending(t) && t.snd_una < t.snd_max) {
        // A retransmission outside SACK recovery (after an RTO, or a tail
        // loss probe) found lost goes again at once, as a fast retransmit
        // would (one segment, not held back by cwnd).
        if (const auto lost = rtx_log_.next_lost(t.snd_una, scoreboard_)) {
            const std::uint32_t n = host.retransmit(now, lost->begin, lost->end);
            if (n > 0) {
                rtx_log_.taken(lost->begin, n);
                sent = true;
            }
        }
    }
    return sent;
}

bool LossRecovery::controls_sending(const Tcb& t) const { return in_recovery_ && t.sack_ok; }

std::uint32_t LossRecovery::limited_transmit(const Tcb& t) const {
    // RFC 3042 limited transmit: the first two duplicate ACKs each let one
    // new segment out beyond cwnd.
    if (!in_recovery_ && dupacks_ > 0 && t.snd_nxt == t.snd_max) return std::min<std::uint32_t>(dupacks_, 2) * t.eff_mss();
    return 0;
}

void LossRecovery::on_retransmitted(const Tcb& t, Instant now, SeqNum begin, SeqNum end) {
    if (t.sack_ok) rtx_log_.record(now, begin, end, t.snd_max);
}

void LossRecovery::on_rto_expiry() {
    tlp_deadline_ = kNever;  // RFC 8985 7.3: the RTO takes over
    reo_deadline_ = kNever;
    tlp_out_ = false;
}

void LossRecovery::on_rto(const Tcb& t) {
    in_recovery_ = false;
    // RFC 2018 8: the receiver may have reneged; forget the scoreboard
    // (ACKs after the timeout fill it again, RFC 6675 5.1).
    scoreboard_.clear();
    high_rxt_ = t.snd_una;
    rescue_valid_ = false;
    rtx_log_.clear();  // go-back-N resends all of it
    recover_ = t.snd_max;
    dupacks_ = 0;
    retransmit_pending_ = false;
}

std::uint32_t LossRecovery::bytes_in_flight(const Tcb& t) const {
    return controls_sending(t) ? scoreboard_.pipe(t.snd_una, t.snd_max, high_rxt_, t.eff_mss()) : t.flight();
}

}  // namespace tapstack::tcp
