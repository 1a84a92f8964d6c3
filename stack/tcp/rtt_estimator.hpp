// RttEstimator: the retransmission timeout of RFC 6298.
//
// Theory of operation
// -------------------
// Holds SRTT and RTTVAR, computes RTO = SRTT + max(G, 4*RTTVAR) clamped to
// [min_rto, max_rto] (RFC 6298 2.2-2.4), doubles it on each expiry (5.5) and
// keeps the backed-off value until the next valid sample (5.7 allows this).
// Karn's rule (RFC 6298 3) is the caller's job: it must only feed samples
// from segments that were never retransmitted. The clock granularity G is
// taken as 1 ms. Timestamp-based RTTM (RFC 7323 4) gives a sample with
// nearly every ACK; those are weighted per RFC 7323 appendix G (alpha and
// beta divided by ExpectedSamples, about one sample per two segments of a
// flight) so SRTT and RTTVAR keep the memory RFC 6298 intends.
// The minimum RTO is TcpConfig::min_rto (default 200 ms like Linux; RFC
// 6298 2.4 says 1 s, which costs a lot of goodput on short paths).
#pragma once

#include "stack/time.hpp"

namespace tapstack::tcp {

class RttEstimator {
public:
    RttEstimator(Duration initial_rto, Duration min_rto, Duration max_rto);

    void sample(Duration rtt, std::uint32_t expected_samples = 1);
    void backoff();
    // RFC 6298 5.7: after a SYN timed out, data starts with RTO = 3 s (when
    // the current RTO is smaller); the estimates stay until a new sample.
    void reinitialize_after_syn_timeout();
    Duration rto() const { return rto_; }
    bool has_sample() const { return has_sample_; }
    Duration srtt() const { return srtt_; }
    Duration rttvar() const { return rttvar_; }
    // Smallest sample so far (RFC 8985 RACK.min_RTT; zero before the first).
    // Not windowed: on a path whose RTT grows it only makes the RACK test
    // for spurious retransmissions more lenient.
    Duration min_rtt() const { return min_rtt_; }

private:
    Duration clamp(Duration d) const;

    Duration min_rto_;
    Duration max_rto_;
    Duration srtt_{0};
    Duration rttvar_{0};
    Duration min_rtt_{0};
    Duration rto_;
    bool has_sample_ = false;
};

}  // namespace tapstack::tcp
