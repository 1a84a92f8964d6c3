// MemoryBudget: the stack-wide account of TCP buffer memory
// (TcpConfig::memory_max) and its pressure state, as Linux's tcp_mem.
//
// Theory of operation
// -------------------
// Every connection is charged the footprint of its buffers: the send ring
// and the receive ring (in-order and out-of-order bytes live in the same
// ring), each as buf::RingBuffer::footprint(), the pages the ring may have
// made resident. The connection remembers its charge (Tcb::mem_charged)
// and every change is applied here as old -> new, so the account is O(1)
// per write and exact: usage() is the sum of all charges.
//
// Three marks, with Linux's tcp_mem proportions (low : pressure : high =
// 3/4 : 1 : 3/2 of its "pressure" value), the hard one being memory_max:
//   * usage >= pressure_mark() (2/3 of memory_max): pressure is entered;
//   * usage <  low_mark()      (1/2 of memory_max): pressure is left;
//   * usage + n > memory_max: n more bytes do not fit (fits() is false).
// What the stack does about it (memory_pressure.cpp): under pressure no
// buffer grows by auto-tuning, new windows stay small, out-of-order data is
// pruned (oldest holders first) and not stored any more, empty buffers are
// freed at once, new connections are refused; at the hard limit in-order
// data and application writes are refused beyond a guaranteed page per
// ring. Nothing already acknowledged is ever dropped.
//
// memory_max 0 means no budget: nothing is refused, usage is still kept.
#pragma once

#include <cstdint>

namespace tapstack::tcp {

class MemoryBudget {
public:
    explicit MemoryBudget(std::uint64_t memory_max) : max_(memory_max) {}

    bool limited() const { return max_ != 0; }
    std::uint64_t limit() const { return max_; }
    std::uint64_t usage() const { return usage_; }
    std::uint64_t low_mark() const { return max_ / 2; }
    std::uint64_t pressure_mark() const { return max_ / 3 * 2; }
    bool under_pressure() const { return pressure_; }
    // Whether `extra` more bytes stay within memory_max.
    bool fits(std::uint64_t extra) const { return !limited() || (usage_ <= max_ && extra <= max_ - usage_); }
    std::uint64_t headroom() const { return !limited() ? ~std::uint64_t{0} : usage_ < max_ ? max_ - usage_ : 0; }

    // A reload's new memory_max; pressure follows the same marks.
    void set_limit(std::uint64_t memory_max) {
        max_ = memory_max;
        if (!limited()) pressure_ = false;
        else if (usage_ >= pressure_mark()) pressure_ = true;
        else if (usage_ < low_mark()) pressure_ = false;
    }

    // One connection's charge changed from `before` to `after`. Returns true
    // when this change made the stack enter pressure.
    bool adjust(std::uint64_t before, std::uint64_t after) {
        usage_ = usage_ - before + after;
        if (!limited()) return false;
        if (!pressure_ && usage_ >= pressure_mark()) {
            pressure_ = true;
            return true;
        }
        if (pressure_ && usage_ < low_mark()) pressure_ = false;
        return false;
    }

private:
    std::uint64_t max_;
    std::uint64_t usage_ = 0;
    bool pressure_ = false;
};

}  // namespace tapstack::tcp
