// LossRecovery: how one connection's sender finds lost segments and repairs
// them (RFC 5681, RFC 6582, RFC 6675, RFC 8985, RFC 5827, RFC 3042).
//
// Theory of operation
// -------------------
// Segment arrival (RFC 9293 3.10.7.4 step 5) and the output path stay about
// sequence numbers, windows and the retransmission timer; everything about
// deciding that data was lost and sending it again lives here, behind a few
// entry points:
//   * on_sack_blocks() / on_ack(): every acceptable ACK. The SACK blocks go
//     into the scoreboard first (RFC 6675 Update()), then a new cumulative
//     ACK, a duplicate ACK, RACK's detection of lost retransmissions, the
//     start of a recovery episode and the reordering timer are judged.
//   * retransmit_due() / sack_recovery_output() / limited_transmit() /
//     after_send(): what output() sends besides new data, and the tail loss
//     probe it arms afterwards.
//   * run_timers(): the tail loss probe (RFC 8985 7) and the reordering
//     window (RFC 8985 6.3) expiring; on_rto(): the retransmission timer
//     expired and go-back-N takes over.
// It holds all state of the sender's recovery: the SACK scoreboard, the
// retransmission log (RACK on retransmissions), the recovery episode
// (`recover`, HighRxt, RescueRxt), duplicate ACKs, and the probe and
// reordering deadlines. With SACK an episode is RFC 6675's (entered on
// DupThresh, IsLost, early retransmit or the reordering window; data is
// sent per NextSeg while pipe < cwnd); without it the fallback is NewReno
// (RFC 6582: three duplicate ACKs, one hole per partial ACK).
// Congestion control is driven from here at the points recovery defines
// (enter, partial ACK, exit) and stays behind CongestionControl.
//
// It never sends by itself nor touches a timer wheel: it asks its Host (the
// connection's transmit path, TcpStack::Impl for one TCB) to retransmit a
// range, send new data, arm a deadline or run output.
//
// Files: loss_recovery.cpp (ACKs, episodes, NewReno, RTO), sack_recovery.cpp
// (RFC 6675 transmission during an episode, RFC 5827 early retransmit),
// rack.cpp (RACK: reordering window, lost retransmissions, tail loss probe).
#pragma once

#include <algorithm>
#include <cstdint>

#include "stack/tcp/retransmit_log.hpp"
#include "stack/tcp/sack_scoreboard.hpp"
#include "stack/tcp/seq_num.hpp"
#include "stack/time.hpp"
#include "stack/wire/tcp_options.hpp"

namespace tapstack::tcp {

struct Tcb;
class Counters;

// What one acceptable ACK tells recovery (filled by step 5).
struct AckEvent {
    SeqNum ack;                       // SEG.ACK
    std::uint32_t acked = 0;          // how far it moved SND.UNA (0: not a new ACK)
    std::uint32_t flight_before = 0;  // SND.MAX - SND.UNA before it
    std::uint32_t newly_sacked = 0;   // from on_sack_blocks()
    // RFC 5681 2 (b)-(e) besides the ACK number: no data, no SYN/FIN, the
    // same advertised window (what makes an ACK a duplicate without SACK).
    bool bare_same_window = false;
};

class LossRecovery {
public:
    // The connection recovery serves: its transmit path and its timers.
    class Host {
    public:
        // Retransmits from `from` at most one segment not beyond `end`;
        // returns the sequence space sent (0: nothing could go).
        virtual std::uint32_t retransmit(Instant now, SeqNum from, SeqNum end) = 0;
        // New data at SND.NXT as the peer's window and `cwnd_edge` allow.
        virtual bool send_new(Instant now, SeqNum cwnd_edge) = 0;
        // Payload bytes of a full segment now.
        virtual std::uint32_t payload_room() const = 0;
        // Whether a send may be a TSO super-segment.
        virtual bool tso() const = 0;
        virtual void arm(Instant& deadline, Instant when) = 0;
        // Run output() for this connection at the next poll().
        virtual void want_output() = 0;
        virtual Counters& counters() = 0;

    protected:
        ~Host() = default;
    };

    // The connection's ISS: nothing is in recovery below it.
    void init(SeqNum iss) { recover_ = iss; }

    // --- ACK arrival (RFC 9293 3.10.7.4 step 5) ---
    // RFC 6675 Update(): records the ACK's SACK blocks (SACK negotiated) and
    // forgets what the cumulative ACK passed; returns the newly SACKed bytes.
    std::uint32_t on_sack_blocks(const Tcb& t, SeqNum ack, const wire::TcpOptions& options);
    // After step 5 moved SND.UNA (if it did): the rest of the ACK's meaning
    // for recovery.
    void on_ack(Host& host, Tcb& t, Instant now, const AckEvent& ack);

    // --- output ---
    // A retransmission due now: the segment at SND.UNA on entering an
    // episode or a NewReno partial ACK, and outside SACK recovery a
    // retransmission found lost. True when something was sent.
    bool retransmit_due(Host& host, Tcb& t, Instant now);
    // In a SACK recovery episode the sending is this class's (RFC 6675 5 (C)).
    bool controls_sending(const Tcb& t) const;
    bool sack_recovery_output(Host& host, Tcb& t, Instant now);
    // RFC 3042: bytes beyond cwnd that new data may use now.
    std::uint32_t limited_transmit(const Tcb& t) const;
    // After output() sent (`new_data`: SND.MAX moved): (re)arms the tail loss probe.
    void after_send(Host& host, Tcb& t, Instant now, bool new_data);
    // Go-back-N after an RTO does not resend what the peer SACKed since
    // (RFC 6675 5.1): the end of the SACKed range at `seq` (below `limit`),
    // and the first SACKed byte at or above `seq` (or `limit`).
    SeqNum skip_sacked(SeqNum seq, SeqNum limit) const { return seq_min(scoreboard_.skip_sacked(seq), limit); }
    SeqNum next_sacked(SeqNum seq, SeqNum limit) const { return scoreboard_.next_sacked(seq, limit); }
    // A retransmission of [begin, end) just went (RACK watches it).
    void on_retransmitted(const Tcb& t, Instant now, SeqNum begin, SeqNum end);

    // --- timers ---
    Instant next_deadline() const { return std::min(tlp_deadline_, reo_deadline_); }
    void run_timers(Host& host, Tcb& t, Instant now);
    // The retransmission timer expired: probes and the reordering window stop.
    void on_rto_expiry();
    // ...and data is resent go-back-N: the episode ends, SACK information is
    // forgotten (the receiver may have reneged, RFC 2018 8).
    void on_rto(const Tcb& t);
    // The connection ended: nothing is due any more.
    void cancel() { retransmit_pending_ = false; }

    // --- figures ---
    bool in_recovery() const { return in_recovery_; }
    // RFC 6675 pipe during SACK recovery, else SND.MAX - SND.UNA.
    std::uint32_t bytes_in_flight(const Tcb& t) const;

private:
    // loss_recovery.cpp
    void on_new_ack(Tcb& t, Instant now, const AckEvent& ack);
    void on_duplicate_ack(Host& host, Tcb& t, Instant now);
    bool sack_recovery_due(const Tcb& t) const;
    void enter_sack_recovery(Host& host, Tcb& t, Instant now);
    // sack_recovery.cpp
    bool early_retransmit_due(const Tcb& t) const;
    // rack.cpp
    void detect_lost_retransmissions(Host& host, const Tcb& t, Instant now);
    void arm_reordering_timer(Host& host, const Tcb& t, Instant now);
    bool reordering_hole(const Tcb& t) const;
    void on_reordering_timeout(Host& host, Tcb& t, Instant now);
    void arm_loss_probe(Host& host, const Tcb& t, Instant now);
    void on_loss_probe_timeout(Host& host, Tcb& t, Instant now);

    // RFC 6582 "recover" / RFC 6675 RecoveryPoint: no new episode until
    // SND.UNA passes it (set on entry and on an RTO).
    bool in_recovery_ = false;
    SeqNum recover_;
    std::uint32_t dupacks_ = 0;
    bool retransmit_pending_ = false;  // send the segment at SND.UNA at the next output
    // Sender side of SACK: the scoreboard and the RFC 6675 recovery variables.
    SackScoreboard scoreboard_;
    SeqNum high_rxt_;                  // one past the highest retransmitted byte (HighRxt + 1)
    SeqNum rescue_rxt_;                // RescueRxt
    bool rescue_valid_ = false;
    // Retransmissions not yet delivered, to find the lost ones (RACK rule).
    RetransmitLog rtx_log_;
    Instant reo_deadline_ = kNever;    // RFC 8985 6.3 reordering window of the hole at SND.UNA
    // RFC 8985 7 tail loss probe: `tlp_rearm_` asks after_send() to
    // (re)start the PTO (new data sent or SND.UNA advanced); at most one
    // probe per flight (as Linux): none again until SND.UNA passes
    // `tlp_high_`, the SND.MAX when the last probe went.
    Instant tlp_deadline_ = kNever;
    bool tlp_rearm_ = false;
    bool tlp_out_ = false;
    SeqNum tlp_high_;
};

}  // namespace tapstack::tcp
