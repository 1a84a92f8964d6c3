// A token bucket on the caller's clock, for rate-limiting ICMP errors
// (RFC 1122 3.2.2: a host SHOULD limit the rate of ICMP error messages;
// RFC 1812 4.3.2.8 describes the token bucket).
//
// The bucket holds at most `rate_per_sec` tokens (one second's worth, at
// least one) and starts full. Tokens are kept in units of 1/1e9 token so
// refill is exact integer math on nanoseconds. A rate of 0 never allows.
#pragma once

#include <cstdint>

#include "stack/time.hpp"

namespace tapstack::iface {

class TokenBucket {
public:
    explicit TokenBucket(std::uint32_t rate_per_sec);
    // Takes one token if there is one.
    bool try_take(Instant now);

private:
    static constexpr std::uint64_t kScale = 1'000'000'000;  // nano-tokens per token
    std::uint64_t rate_;
    std::uint64_t capacity_;  // in nano-tokens
    std::uint64_t tokens_;    // in nano-tokens
    bool started_ = false;
    Instant last_{};
};

}  // namespace tapstack::iface
