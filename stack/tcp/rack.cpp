// LossRecovery, RACK side (RFC 8985): losses found by time and order of
// transmission rather than by counting duplicate ACKs: the reordering
// window for the hole at SND.UNA (6.3), lost retransmissions (6.2, see
// retransmit_log.hpp) and the tail loss probe (7). See loss_recovery.hpp.
#include <algorithm>

#include "stack/tcp/counters.hpp"
#include "stack/tcp/loss_recovery.hpp"
#include "stack/tcp/tcb.hpp"

namespace tapstack::tcp {

void LossRecovery::detect_lost_retransmissions(Host& host, const Tcb& t, Instant now) {
    if (!t.sack_ok || rtx_log_.empty()) return;
    if (const std::uint32_t lost = rtx_log_.detect(now, t.rtt.min_rtt(), t.snd_una, scoreboard_); lost > 0) {
        host.counters().inc(Counter::lost_retransmits, lost);
        host.want_output();
    }
}

// RFC 8985 6.2/6.3, for the hole at SND.UNA: data sent after it was
// SACKed, so unless the path reorders, the hole was lost. DupThresh
// (RFC 6675) and early retransmit (RFC 5827) need enough segments in flight
// to say so; with a small cwnd, or a hole left behind when the previous
// recovery ended, they never fire and only the RTO (200 ms floor) would
// repair it. RACK instead waits one reordering window (a quarter of SRTT,
// at least 1 ms, the event loop's timer resolution) and then starts
// recovery. A hole that fills meanwhile (reordering) disarms the timer.
void LossRecovery::arm_reordering_timer(Host& host, const Tcb& t, Instant now) {
    if (!reordering_hole(t)) {
        reo_deadline_ = kNever;
        return;
    }
    if (reo_deadline_ != kNever) return;
    const Duration reo_wnd = std::max<Duration>(t.rtt.srtt() / 4, milliseconds(1));
    host.arm(reo_deadline_, now + reo_wnd);
}

bool LossRecovery::reordering_hole(const Tcb& t) const {
    return t.sack_ok && t.cc && !in_recovery_ && t.snd_max > t.snd_una && t.snd_una >= recover_ &&
           t.snd_nxt == t.snd_max && !scoreboard_.empty() && scoreboard_.high_sacked() > t.snd_una &&
           !scoreboard_.is_sacked(t.snd_una);
}

void LossRecovery::on_reordering_timeout(Host& host, Tcb& t, Instant now) {
    reo_deadline_ = kNever;
    const bool synchronized = t.state != State::kClosed && t.state != State::kSynSent &&
                              t.state != State::kSynReceived && t.state != State::kTimeWait;
    if (!synchronized || !reordering_hole(t)) return;
    host.counters().inc(Counter::rack_reorder_timeouts);
    enter_sack_recovery(host, t, now);
}

// First the probe, so that a probe deadline left behind by a connection
// that has closed meanwhile is cleared (it sends nothing then).
void LossRecovery::run_timers(Host& host, Tcb& t, Instant now) {
    if (tlp_deadline_ <= now) on_loss_probe_timeout(host, t, now);
    if (reo_deadline_ <= now) on_reordering_timeout(host, t, now);
}

void LossRecovery::after_send(Host& host, Tcb& t, Instant now, bool new_data) {
    // RFC 8985 7.2: (re)start the PTO after sending new data or when
    // SND.UNA advanced (on_ack() sets tlp_rearm_).
    if (new_data) tlp_rearm_ = true;
    if (tlp_rearm_) arm_loss_probe(host, t, now);
}

// RFC 8985 7.2: a tail loss probe is scheduled while not in recovery with
// data in flight and SACK negotiated (the probe's value is the SACK it
// elicits, which lets RFC 6675 recovery start instead of the RTO): PTO =
// 2*SRTT, plus the worst-case delayed-ACK time when only one segment is in
// flight (its ACK may be delayed), and never when the RTO would come first.
// The floor absorbs the timer granularity of the event loop and the
// receiver's ACK scheduling on sub-millisecond paths (Linux uses 10 ms too).
void LossRecovery::arm_loss_probe(Host& host, const Tcb& t, Instant now) {
    constexpr Duration kWorstCaseDelAck = milliseconds(200);  // RFC 8985 7.2 WCDelAckT
    constexpr Duration kMinPto = milliseconds(10);
    tlp_rearm_ = false;
    tlp_deadline_ = kNever;
    if (!t.sack_ok || !t.cc || in_recovery_ || tlp_out_ || t.retries > 0 || !t.rtt.has_sample() ||
        !sends_data(t.state) || t.snd_una == t.snd_max || t.snd_nxt != t.snd_max)
        return;
    Duration pto = 2 * t.rtt.srtt();
    if (t.flight() <= t.eff_mss()) pto += kWorstCaseDelAck;
    pto = std::max(pto, kMinPto);
    if (now + pto >= t.rtx_deadline) return;
    host.arm(tlp_deadline_, now + pto);
}

// RFC 8985 7.3: on PTO expiry send one new segment if the peer's window
// allows (cwnd is not consulted), else retransmit the last segment sent;
// then the RTO is re-armed and no other probe goes until SND.UNA passes
// what was sent so far (one probe per flight).
void LossRecovery::on_loss_probe_timeout(Host& host, Tcb& t, Instant now) {
    tlp_deadline_ = kNever;
    if (!t.sack_ok || !t.cc || in_recovery_ || tlp_out_ || t.retries > 0 || !sends_data(t.state) ||
        t.snd_una == t.snd_max || t.snd_nxt != t.snd_max)
        return;
    const std::uint32_t room = host.payload_room();
    bool sent = t.snd_nxt < t.data_end() && host.send_new(now, t.snd_nxt + room);
    if (!sent) {
        const SeqNum data_top = seq_min(t.snd_max, t.data_end());
        const SeqNum from =
            data_top > t.snd_una ? data_top - std::min(SeqNum::distance(data_top, t.snd_una), room) : t.snd_una;
        sent = host.retransmit(now, from, t.snd_max) > 0;
    }
    if (!sent) return;
    host.counters().inc(Counter::tlp_probes);
    tlp_out_ = true;
    tlp_high_ = t.snd_max;
    host.arm(t.rtx_deadline, now + t.rtt.rto());
    host.want_output();
}

}  // namespace tapstack::tcp
