// SeqNum: a 32-bit TCP sequence number with modular arithmetic (RFC 9293 3.4).
//
// Theory of operation
// -------------------
// Sequence space wraps at 2^32, so "a < b" means "b is ahead of a by less
// than 2^31" (the serial-number comparison of RFC 1982). Every sequence
// computation in stack/tcp goes through this type; raw uint32 values appear
// only at the wire boundary (`raw()` / the explicit constructor).
// The comparison is not a total order over all values (a < a+2^31 and
// a+2^31 < a both fail to be meaningful), which is fine because TCP only
// compares numbers that lie within one window of each other. Never put
// SeqNum in an ordered container.
#pragma once

#include <cstdint>

namespace tapstack::tcp {

class SeqNum {
public:
    constexpr SeqNum() = default;
    constexpr explicit SeqNum(std::uint32_t raw) : v_(raw) {}
    constexpr std::uint32_t raw() const { return v_; }

    constexpr SeqNum operator+(std::uint32_t n) const { return SeqNum(v_ + n); }
    constexpr SeqNum operator-(std::uint32_t n) const { return SeqNum(v_ - n); }
    constexpr SeqNum& operator+=(std::uint32_t n) {
        v_ += n;
        return *this;
    }
    // Signed distance from b to a: positive when a is ahead of b.
    friend constexpr std::int32_t operator-(SeqNum a, SeqNum b) { return static_cast<std::int32_t>(a.v_ - b.v_); }

    friend constexpr bool operator==(SeqNum a, SeqNum b) { return a.v_ == b.v_; }
    friend constexpr bool operator<(SeqNum a, SeqNum b) { return (a - b) < 0; }
    friend constexpr bool operator>(SeqNum a, SeqNum b) { return (a - b) > 0; }
    friend constexpr bool operator<=(SeqNum a, SeqNum b) { return (a - b) <= 0; }
    friend constexpr bool operator>=(SeqNum a, SeqNum b) { return (a - b) >= 0; }

    // Distance a - b as an unsigned count; only meaningful when a >= b.
    static constexpr std::uint32_t distance(SeqNum a, SeqNum b) { return a.v_ - b.v_; }

private:
    std::uint32_t v_ = 0;
};

constexpr SeqNum seq_max(SeqNum a, SeqNum b) { return a < b ? b : a; }
constexpr SeqNum seq_min(SeqNum a, SeqNum b) { return a < b ? a : b; }

// lo <= x < hi, modular.
constexpr bool seq_in_range(SeqNum lo, SeqNum x, SeqNum hi) { return lo <= x && x < hi; }

}  // namespace tapstack::tcp
