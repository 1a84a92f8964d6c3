// Token bucket refill in integer nano-tokens; see token_bucket.hpp.
#include "stack/iface/token_bucket.hpp"

#include <algorithm>

namespace tapstack::iface {

TokenBucket::TokenBucket(std::uint32_t rate_per_sec)
    : rate_(rate_per_sec),
      capacity_(std::max<std::uint64_t>(rate_per_sec, 1) * kScale),
      tokens_(rate_per_sec == 0 ? 0 : capacity_) {}

bool TokenBucket::try_take(Instant now) {
    if (rate_ == 0) return false;
    if (started_ && now > last_) {
        // Beyond one second the bucket is full anyway; clamping keeps
        // elapsed * rate far from overflow.
        const std::int64_t elapsed_ns = std::min<std::int64_t>(to_ns(now) - to_ns(last_), 1'000'000'000);
        tokens_ = std::min(capacity_, tokens_ + static_cast<std::uint64_t>(elapsed_ns) * rate_);
    }
    if (!started_ || now > last_) last_ = now;
    started_ = true;
    if (tokens_ < kScale) return false;
    tokens_ -= kScale;
    return true;
}

}  // namespace tapstack::iface
