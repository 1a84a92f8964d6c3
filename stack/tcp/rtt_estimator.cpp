#include "stack/tcp/rtt_estimator.hpp"

#include <algorithm>

namespace tapstack::tcp {

namespace {
constexpr Duration kGranularity = milliseconds(1);
}

RttEstimator::RttEstimator(Duration initial_rto, Duration min_rto, Duration max_rto)
    : min_rto_(min_rto), max_rto_(max_rto), rto_(initial_rto) {
    rto_ = clamp(rto_);
}

Duration RttEstimator::clamp(Duration d) const { return std::clamp(d, min_rto_, std::max(min_rto_, max_rto_)); }

void RttEstimator::sample(Duration r, std::uint32_t expected_samples) {
    if (r < Duration::zero()) return;
    min_rtt_ = has_sample_ ? std::min(min_rtt_, r) : r;
    if (!has_sample_) {
        // RFC 6298 2.2
        srtt_ = r;
        rttvar_ = r / 2;
        has_sample_ = true;
    } else if (expected_samples <= 1) {
        // RFC 6298 2.3 with alpha = 1/8, beta = 1/4
        const Duration err = srtt_ > r ? srtt_ - r : r - srtt_;
        rttvar_ = (3 * rttvar_ + err) / 4;
        srtt_ = (7 * srtt_ + r) / 8;
    } else {
        // RFC 7323 appendix G: alpha' = alpha / n, beta' = beta / n.
        const auto n = static_cast<Duration::rep>(expected_samples);
        const Duration err = srtt_ > r ? srtt_ - r : r - srtt_;
        rttvar_ = rttvar_ + (err - rttvar_) / (4 * n);
        srtt_ = srtt_ + (r - srtt_) / (8 * n);
    }
    rto_ = clamp(srtt_ + std::max(kGranularity, 4 * rttvar_));
}

void RttEstimator::backoff() { rto_ = clamp(rto_ * 2); }

void RttEstimator::reinitialize_after_syn_timeout() {
    if (rto_ < seconds(3)) rto_ = clamp(seconds(3));
}

}  // namespace tapstack::tcp
