// Tcb: the transmission control block of one connection (RFC 9293 3.3.1).
//
// Theory of operation
// -------------------
// Field names follow the RFC (snd.una -> snd_una, ...). All sequence values
// are SeqNum. The send buffer holds every byte from SND.UNA on (sent and
// unacknowledged, then unsent); `snd_buf_seq` is the sequence number of its
// first byte (ISS+1 until the SYN is acknowledged, then SND.UNA, except once
// our FIN is acknowledged, when SND.UNA = snd_buf_seq + 1). The receive buffer
// holds in-order bytes not yet read by the application, and out-of-order
// bytes beyond them in its free space (see buf::Assembler); auto-tuning may
// enlarge it (never shrink it).
// The sender's loss recovery (scoreboard, RACK, tail loss probe, recovery
// episodes, NewReno) is `recovery`, a LossRecovery (loss_recovery.hpp).
// Everything the receiver owes the peer (ACK now, ACK points and duplicate
// ACKs of a batch, SACK anchors) is recorded here by input and emitted by
// output(), which is the only place that sends.
//
// Lifecycle and ownership (who may free it):
//   * `app_owned`: the application holds the handle (connect()/accept() until
//     close()/abort()). Such a TCB is never freed by the stack, even in
//     state kClosed: the application must still learn how it ended and read
//     what it has not read yet.
//   * `orphaned`: the application called close(); the stack finishes the
//     closing handshake alone and frees the TCB in CLOSED.
//   * neither: a passive connection not yet accepted (embryonic in
//     SYN-RECEIVED, or waiting in the listener's accept queue).
// A TCB is in the 4-tuple table exactly while its state is not kClosed.
//
// What each state allows (user calls per RFC 9293 3.10; "rx" = the peer's
// data is accepted into recv_buf; "tx" = our data may still be sent):
//   SYN-SENT      send() queues; rx/tx after the handshake; close() deletes
//   SYN-RECEIVED  send() queues; shutdown_write() queues the FIN
//   ESTABLISHED   rx, tx; shutdown_write() -> FIN-WAIT-1
//   FIN-WAIT-1/2  rx; tx only to finish (retransmit) data before our FIN
//   CLOSE-WAIT    tx; shutdown_write() -> LAST-ACK; recv() drains to EOF
//   CLOSING, LAST-ACK, TIME-WAIT   nothing new; recv() drains what is left
//   kClosed       recv() drains what is left; info() tells how it ended
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "stack/buf/assembler.hpp"
#include "stack/buf/ring_buffer.hpp"
#include "stack/tcp/congestion.hpp"
#include "stack/tcp/loss_recovery.hpp"
#include "stack/tcp/path_mtu.hpp"
#include "stack/tcp/rtt_estimator.hpp"
#include "stack/tcp/seq_num.hpp"
#include "stack/tcp/tcp_stack.hpp"

namespace tapstack::tcp {

inline constexpr std::uint32_t kNoListener = 0xffffffffu;

// States in which our data may still be sent (or retransmitted).
inline bool sends_data(State s) {
    return s == State::kEstablished || s == State::kCloseWait || s == State::kFinWait1 || s == State::kClosing ||
           s == State::kLastAck;
}

struct Tcb {
    Tcb(std::size_t send_capacity, std::size_t recv_capacity, const RttEstimator& rtt_proto)
        : send_buf(send_capacity), recv_buf(recv_capacity), rtt(rtt_proto) {}

    // The TcpConfig in force when the TCB was created. Every per-connection
    // setting (timers, retry limits, offered options, auto-tuning ceiling,
    // congestion control) is read from here, so TcpStack::set_config()
    // changes only connections created after it.
    std::shared_ptr<const TcpConfig> cfg;

    // --- identity and lifecycle ---
    State state = State::kClosed;
    Error error = Error::kNone;
    IpEndpoint local;
    IpEndpoint remote;
    bool app_owned = false;
    Error soft_error = Error::kNone;  // RFC 1122 4.2.3.9: reported if the connection times out
    bool orphaned = false;
    bool passive = false;             // created by a listener
    std::uint32_t listener = kNoListener;  // listener index while embryonic or unaccepted
    bool in_accept_queue = false;
    bool established_once = false;
    bool write_closed = false;        // FIN queued after the send buffer
    bool event_pending = false;
    bool dirty = false;               // queued for output at the next poll()

    // --- send sequence variables (RFC 9293 3.3.1) ---
    SeqNum iss;
    SeqNum snd_una;
    SeqNum snd_nxt;
    SeqNum snd_max;       // highest SND.NXT ever (SND.NXT goes back on RTO)
    SeqNum snd_wl1;
    SeqNum snd_wl2;
    std::uint32_t snd_wnd = 0;      // peer's window in bytes (already scaled)
    std::uint32_t max_snd_wnd = 0;  // largest window the peer offered
    SeqNum snd_buf_seq;   // sequence number of send_buf's first byte
    bool fin_sent = false;
    std::uint16_t snd_mss = 536;    // largest payload we send: pmtu.mss() (peer's MSS, clamped, and the path's)
    PathMtu pmtu;                   // RFC 1191 / RFC 4821 (path_mtu.hpp)
    std::uint8_t snd_wscale = 0;    // shift applied to the peer's window field
    std::uint8_t rcv_wscale = 0;    // shift the peer applies to ours
    bool wscale_ok = false;         // both sides offered window scaling

    // --- receive sequence variables ---
    SeqNum irs;
    SeqNum rcv_nxt;
    SeqNum rcv_adv;       // right edge last advertised: RCV.NXT + RCV.WND; never moves left
    SeqNum rcv_acked;     // RCV.NXT carried by the last ACK we sent
    bool fin_received = false;          // peer's FIN processed at its position
    std::optional<SeqNum> pending_fin;  // FIN seen beyond a hole, acted on when it fills

    buf::RingBuffer send_buf;
    buf::RingBuffer recv_buf;
    buf::Assembler ooo;

    // --- ACK policy ---
    bool ack_now = false;
    Instant delack_deadline = kNever;

    // --- timers (RFC 9293 3.10.8) ---
    Instant rtx_deadline = kNever;
    Instant persist_deadline = kNever;
    Instant linger_deadline = kNever;   // TIME-WAIT 2*MSL, or orphaned FIN-WAIT-2
    std::uint32_t retries = 0;          // consecutive RTO expiries
    std::uint32_t probes = 0;           // unanswered zero-window probes
    Duration persist_interval{0};

    // --- RTT and congestion (RFC 6298, RFC 5681/6582) ---
    RttEstimator rtt;
    bool rtt_timing = false;  // a segment is being timed (Karn: never a retransmitted one)
    bool syn_timed_out = false;  // RFC 6298 5.7
    SeqNum rtt_seq;
    Instant rtt_start{};
    std::unique_ptr<CongestionControl> cc;
    LossRecovery recovery;
    // cwnd held the sender back during the window ending at
    // `cwnd_usage_seq` (RFC 7661 cwnd validation, as Linux's
    // is_cwnd_limited): only then may cwnd grow.
    bool cwnd_limited = false;
    SeqNum cwnd_usage_seq;

    // --- RFC 7323 timestamps ---
    bool ts_ok = false;               // both sides offered the option
    std::uint32_t ts_recent = 0;      // TS.Recent (4.3)
    Instant ts_recent_age{};          // when TS.Recent was last set (PAWS 24-day rule, 5.5)
    std::uint32_t ts_offset = 0;      // per-connection random offset of our TSval clock (5.4)

    // --- RFC 2018 SACK (the sender's side is in `recovery`) ---
    bool sack_ok = false;             // both sides offered SACK-permitted
    // Receiver: sequence numbers of recently received out-of-order
    // segments, newest first; each names the block that contains it (4).
    std::vector<SeqNum> sack_recent;
    // RFC 2883 D-SACK: the last duplicate segment received, reported as the
    // first block of the next pure ACK (once), so the peer can tell a
    // spurious retransmission from a loss (Linux undoes its cwnd cut).
    bool dsack_pending = false;
    SeqNum dsack_left;
    SeqNum dsack_right;

    // --- delayed ACK, Nagle, sender SWS ---
    std::uint32_t rcv_mss = 536;      // largest segment received: what "full-sized" means for delayed ACKs
    // Segments of one batch (everything received between two poll()s) get
    // one cumulative ACK (a stretch ACK, as with Linux GRO) once two full
    // segments are unacknowledged, but every out-of-order segment its own
    // duplicate ACK (RFC 5681 4.2; three of them drive the peer's fast
    // retransmit even when they arrived together).
    SeqNum ack_mark;                  // RCV.NXT when a cumulative ACK became owed, or of the last ACK sent
    std::uint32_t dup_acks_owed = 0;
    bool nodelay = false;
    Instant sws_deadline = kNever;    // RFC 9293 3.8.6.2.1 override timer
    bool sws_override = false;

    // --- keepalive (RFC 1122 4.2.3.6) ---
    bool keepalive = false;
    Instant keepalive_deadline = kNever;
    std::uint32_t keepalive_probes = 0;  // sent and unanswered
    Instant last_rx{};                   // last segment accepted from the peer

    // --- receive buffer auto-tuning (bytes read per RTT, as Linux DRS) ---
    Duration rcv_rtt{0};              // receiver's RTT estimate (0: none yet)
    bool rcv_rtt_timing = false;      // window-based measurement without timestamps
    SeqNum rcv_rtt_seq;
    Instant rcv_rtt_start{};
    std::uint32_t rcv_space = 0;      // bytes read in the best measured RTT so far
    std::uint64_t rcvq_copied = 0;    // bytes read since rcvq_time
    Instant rcvq_time{};

    // --- figures for stats() ---
    std::uint64_t bytes_sent = 0;
    std::uint64_t bytes_acked = 0;
    std::uint64_t bytes_received = 0;
    std::uint64_t segments_sent = 0;
    std::uint64_t segments_received = 0;
    std::uint64_t retransmissions = 0;
    std::uint64_t rto_expiries = 0;
    std::uint64_t fast_retransmits = 0;
    std::uint64_t sack_recoveries = 0;
    std::uint64_t dup_segments = 0;
    std::uint64_t ooo_segments = 0;
    std::uint64_t paws_rejected = 0;

    // --- hostile peers (memory_pressure.cpp, orphans.cpp) ---
    std::size_t mem_charged = 0;      // footprint of both rings as last charged to the budget
    bool in_ooo_fifo = false;         // listed in Impl::ooo_holders_
    bool orphan_counted = false;      // counted in Impl::orphan_count_
    SeqNum orphan_una;                // SND.UNA when the orphan timeout was last armed

    // --- RFC 5961 challenge ACK rate limit ---
    Instant challenge_window_start{};
    std::uint32_t challenge_count = 0;
    // --- ACKs to invalid segments (TcpConfig::invalid_ack_ratelimit) ---
    std::optional<Instant> last_invalid_ack;

    SeqNum data_end() const { return snd_buf_seq + static_cast<std::uint32_t>(send_buf.size()); }
    bool fin_acked() const { return fin_sent && send_buf.empty() && snd_una == snd_buf_seq + 1; }
    std::uint32_t flight() const { return SeqNum::distance(snd_max, snd_una); }
    // Payload bytes of a full-sized segment: the peer's MSS less the options
    // every segment carries (RFC 6691; the timestamp option is 12 bytes).
    std::uint32_t eff_mss() const { return snd_mss - (ts_ok ? 12u : 0u); }
    std::uint32_t rcv_wnd() const { return rcv_adv > rcv_nxt ? SeqNum::distance(rcv_adv, rcv_nxt) : 0; }
};

}  // namespace tapstack::tcp
