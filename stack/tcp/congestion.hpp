// CongestionControl: the small interface every congestion controller
// implements, and NewReno (RFC 5681 + RFC 6582) as the first one.
//
// Theory of operation
// -------------------
// The connection tells the controller about newly acknowledged bytes, the
// entry into fast recovery (three duplicate ACKs), additional duplicate ACKs
// while in recovery, the end of recovery and retransmission timeouts; the
// controller answers with cwnd (bytes allowed in flight) and ssthresh.
// The connection owns recovery bookkeeping (the `recover` point of RFC 6582)
// and retransmission; the controller owns only the window arithmetic, so
// CUBIC (RFC 9438) can be added next issue as another implementation.
// Initial window: 10 segments (RFC 6928).
#pragma once

#include <cstdint>
#include <memory>

#include "stack/time.hpp"

namespace tapstack::tcp {

class CongestionControl {
public:
    virtual ~CongestionControl() = default;
    // `acked` new bytes were acknowledged outside fast recovery. `in_use`:
    // how much of cwnd the sender used, i.e. the flight before this ACK, or
    // cwnd itself when cwnd held the sender back at some point during the
    // last window (RFC 7661; the flight alone shrinks over a burst of ACKs
    // that arrive between two transmissions).
    virtual void on_ack(Instant now, std::uint32_t acked, std::uint32_t in_use) = 0;
    // Three duplicate ACKs: fast retransmit and enter recovery (RFC 5681 3.2 steps 2-3).
    virtual void on_enter_recovery(Instant now, std::uint32_t flight) = 0;
    // Another duplicate ACK during recovery (RFC 5681 3.2 step 4).
    virtual void on_dup_ack_in_recovery() = 0;
    // A partial ACK during recovery (RFC 6582 3.2 step 3): deflate by `acked`.
    virtual void on_partial_ack(std::uint32_t acked) = 0;
    // Full ACK: recovery is over (RFC 6582 3.2 step 3, option 1).
    virtual void on_exit_recovery(std::uint32_t flight) = 0;
    // Retransmission timeout (RFC 5681 3.1 eq. 4, cwnd = 1 segment).
    virtual void on_rto(Instant now, std::uint32_t flight) = 0;
    // Adds: a valid RTT sample (Karn-filtered, RFC 6298 3) and the SRTT after
    // it. CUBIC projects its curve one SRTT ahead (RFC 9438 4.2); NewReno
    // ignores it. Default: no-op, so controllers need not care.
    virtual void on_rtt_sample(Instant /*now*/, Duration /*rtt*/, Duration /*srtt*/) {}
    virtual std::uint32_t cwnd() const = 0;
    virtual std::uint32_t ssthresh() const = 0;
};

std::unique_ptr<CongestionControl> make_new_reno(std::uint32_t mss);

}  // namespace tapstack::tcp
