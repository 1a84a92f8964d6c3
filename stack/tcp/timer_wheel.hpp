// TimerWheel: one wake-up time per connection, O(1) per operation.
//
// Theory of operation
// -------------------
// A hierarchical timing wheel (Varghese & Lauck, as in the classic BSD and
// Linux timer code) with a tick of 1 ms (kTick) and kLevels levels of
// kSlots slots each: level L holds wake times whose tick agrees with the
// wheel's current tick `cur_` on every bit above level L's six bits, so
//   * every entry of level L is earlier than every entry of level L+1, and
//     within a level the slots are in time order from cur_'s slot on;
//   * level 0 slot = exact tick; a level-L slot spans 64^L ticks and is
//     redistributed to lower levels ("cascade") when cur_ reaches it, which
//     moves each entry at most kLevels - 1 times in its life.
// Each id (a TCB slot index) has at most one entry, kept in an intrusive
// doubly-linked list of its slot, so schedule() and cancel() are O(1);
// a 64-bit occupancy mask per level finds the next non-empty slot with one
// count-trailing-zeros instead of walking empty slots, so expire() costs
// O(levels) per cascade plus O(1) per entry that comes due, however long
// the jump in time (2 h of idleness is a handful of steps, not 7.2 million).
//
// Exactness: entries keep their wake time in nanoseconds. expire(now) hands
// out exactly the entries whose wake time is <= now (entries later in the
// current 1 ms tick stay), and next_wake() is the exact earliest wake time:
// the minimum of the first non-empty slot of the lowest non-empty level,
// cached and recomputed only when the entry that was the minimum leaves.
// So the granularity costs no lateness; it only bounds how many entries
// share a slot that has to be scanned for that minimum (one 1 ms slot while
// anything is due within 64 ms; a wider slot only when the wheel holds
// nothing nearer, e.g. thousands of idle keepalive timers: then one pass
// over that slot per change of the earliest entry).
//
// Range: 64^6 ticks (about 2.2 years) ahead of cur_. A later wake time is
// parked at the last tick of that range and handed out then (early); the
// owner re-schedules it (TcpStack treats an early hand-out as "nothing due
// yet", see tcp_stack_impl.hpp).
//
// Non-goals: knowing what a wake-up is for. The owner keeps its deadlines
// and schedules each id at the earliest of them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "stack/time.hpp"

namespace tapstack::tcp {

class TimerWheel {
public:
    static constexpr Duration kTick = milliseconds(1);
    static constexpr unsigned kSlotBits = 6;
    static constexpr std::size_t kSlots = std::size_t{1} << kSlotBits;
    static constexpr unsigned kLevels = 6;

    // Wakes `id` at `when` (kNever: cancels). Replaces an earlier schedule.
    void schedule(std::uint32_t id, Instant when);
    void cancel(std::uint32_t id);
    bool scheduled(std::uint32_t id) const { return id < entries_.size() && entries_[id].slot != kNoSlot; }
    // The wake time `id` is scheduled at (kNever when it is not).
    Instant wake_of(std::uint32_t id) const;
    // Earliest wake time of any entry; kNever when empty.
    Instant next_wake() const;
    // Removes every entry whose wake time is <= now and appends its id to
    // `due` (in wake-time order across slots, arbitrary within a tick).
    void expire(Instant now, std::vector<std::uint32_t>& due);
    std::size_t size() const { return count_; }

private:
    static constexpr std::uint16_t kNoSlot = 0xffff;
    static constexpr std::uint32_t kNil = 0xffffffffu;

    struct Entry {
        Instant when = kNever;
        std::uint32_t prev = kNil;
        std::uint32_t next = kNil;
        std::uint16_t slot = kNoSlot;  // level * kSlots + index
    };

    static std::uint64_t tick_of(Instant t);
    void link(std::uint32_t id);  // into the slot its wake time belongs to now
    void unlink(std::uint32_t id);
    // Detaches a whole slot's list and returns its first id.
    std::uint32_t take_slot(std::size_t slot);
    std::size_t first_slot() const;  // first non-empty slot in time order; kNoSlot when empty

    std::vector<Entry> entries_;  // by id
    std::array<std::uint32_t, kSlots * kLevels> heads_ = make_heads();
    std::array<std::uint64_t, kLevels> occupied_{};  // bit i: slot i of that level is non-empty
    std::uint64_t cur_ = 0;                          // current tick
    std::size_t count_ = 0;
    mutable Instant min_ = kNever;  // valid when min_valid_
    mutable bool min_valid_ = true;

    static constexpr std::array<std::uint32_t, kSlots * kLevels> make_heads() {
        std::array<std::uint32_t, kSlots * kLevels> h{};
        for (auto& x : h) x = kNil;
        return h;
    }
};

}  // namespace tapstack::tcp
