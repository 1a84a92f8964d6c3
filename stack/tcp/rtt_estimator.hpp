// RttEstimator: the retransmission timeout of RFC 6298.
//
// Theory of operation
// -------------------
// Holds SRTT and RTTVAR, computes RTO = SRTT + max(G, 4*RTTVAR) clamped to
// [min_rto, max_rto] (RFC 6298 2.2-2.4), doubles it on each expiry (5.5) and
// keeps the backed-off value until the next valid sample (5.7 allows this).
// Karn's rule (RFC 6298 3) is the caller's job: it must only feed samples
// from segments that were never retransmitted. The clock granularity G is
// taken as 1 ms. Timestamp-based RTTM (RFC 7323) will feed the same
// `sample()` in the next issue.
#pragma once

#include "stack/time.hpp"

namespace tapstack::tcp {

class RttEstimator {
public:
    RttEstimator(Duration initial_rto, Duration min_rto, Duration max_rto);

    void sample(Duration rtt);
    void backoff();
    Duration rto() const { return rto_; }
    bool has_sample() const { return has_sample_; }
    Duration srtt() const { return srtt_; }
    Duration rttvar() const { return rttvar_; }

private:
    Duration clamp(Duration d) const;

    Duration min_rto_;
    Duration max_rto_;
    Duration srtt_{0};
    Duration rttvar_{0};
    Duration rto_;
    bool has_sample_ = false;
};

}  // namespace tapstack::tcp
