// CUBIC congestion control (RFC 9438) behind the CongestionControl interface.
//
// Theory of operation
// -------------------
// Below ssthresh the window grows by slow start (RFC 5681 3.1 with RFC 3465
// appropriate byte counting, L = 2*SMSS). Above it, each congestion-avoidance
// stage ("epoch") starts at the first ACK after slow start or recovery and
// the window follows
//     W_cubic(t) = C*(t - K)^3 + W_max,  K = cbrt((W_max - cwnd_epoch)/C)
// (RFC 9438 4.2), C = 0.4, beta_cubic = 0.7, t the seconds since the epoch
// began. Each ACK moves cwnd toward W_cubic(t + SRTT), clamped to
// [cwnd, 1.5*cwnd]: concave below W_max (4.4), convex above it (4.5); unless
// the Reno estimate W_est (4.3) is ahead of W_cubic(t), when cwnd follows
// W_est. A loss (three duplicate ACKs) sets ssthresh = beta_cubic*FlightSize
// and remembers W_max, lowered by fast convergence (4.6, 4.7). An RTO sets
// cwnd to one segment and ssthresh as for a loss; the next epoch then starts
// with K = 0 and W_max = cwnd_epoch (4.8).
//
// Arithmetic: double precision, in segments, as the RFC writes it; cwnd()
// reports whole bytes (truncated). Doubles keep the cube root and the cube
// exact enough for windows up to 2^30 bytes, and IEEE-754 makes the results
// identical on every run, so simulated tests stay deterministic. ssthresh is
// integer bytes (FlightSize*7/10) so 0.7 is applied without rounding error.
//
// Time comes only from the Instant arguments; SRTT only from on_rtt_sample()
// (before the first sample the projection uses RTT = 0, i.e. W_cubic(t)).
// Recovery inflation and deflation (on_enter_recovery, on_dup_ack_in_recovery,
// on_partial_ack, on_exit_recovery) are the same as NewReno's, so the two
// controllers are interchangeable under the connection's RFC 6582 recovery.
//
// Non-goals: HyStart++ (RFC 9406), undo after spurious loss (4.9), ECN,
// freezing t while application-limited (5.8; the 1.5*cwnd clamp bounds the
// burst that follows an idle period).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "stack/tcp/congestion.hpp"

namespace tapstack::tcp {

inline constexpr double kCubicC = 0.4;     // RFC 9438 4.1.1
inline constexpr double kCubicBeta = 0.7;  // RFC 9438 4.1.1

std::unique_ptr<CongestionControl> make_cubic(std::uint32_t mss);

// CUBIC's variables (RFC 9438 4.1.2), in segments and seconds, for tests
// and diagnostics. nullopt when `cc` was not made by make_cubic().
struct CubicState {
    double w_max = 0;        // window before the last reduction (after fast convergence)
    double k = 0;            // seconds from the epoch start to W_max
    double cwnd_epoch = 0;   // cwnd when the current epoch started
    double w_est = 0;        // Reno-friendly estimate (4.3)
    double alpha = 0;        // alpha_cubic in use for W_est (4.3)
    double cwnd_prior = 0;   // cwnd before the last reduction
    bool in_epoch = false;   // a congestion-avoidance epoch is running
};
std::optional<CubicState> cubic_state(const CongestionControl& cc);

}  // namespace tapstack::tcp
