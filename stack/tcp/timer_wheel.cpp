// TimerWheel: see timer_wheel.hpp for the layout and its invariants.
#include "stack/tcp/timer_wheel.hpp"

#include <algorithm>
#include <bit>

namespace tapstack::tcp {

namespace {

constexpr std::uint64_t kRangeBits = TimerWheel::kSlotBits * TimerWheel::kLevels;  // 36
constexpr std::uint64_t kSlotMask = TimerWheel::kSlots - 1;

}  // namespace

std::uint64_t TimerWheel::tick_of(Instant t) {
    const std::int64_t ns = to_ns(t);
    if (ns <= 0) return 0;
    return static_cast<std::uint64_t>(ns / std::chrono::duration_cast<Duration>(kTick).count());
}

void TimerWheel::link(std::uint32_t id) {
    Entry& e = entries_[id];
    std::uint64_t tick = std::max(tick_of(e.when), cur_);  // a past wake time belongs to the current tick
    if (((tick ^ cur_) >> kRangeBits) != 0) {
        // Beyond the wheel's range: park at its last tick (handed out early).
        tick = cur_ | ((std::uint64_t{1} << kRangeBits) - 1);
        e.when = Instant(std::chrono::duration_cast<Duration>(kTick) * static_cast<std::int64_t>(tick));
    }
    const std::uint64_t diff = tick ^ cur_;
    const unsigned level = diff == 0 ? 0u : static_cast<unsigned>(std::bit_width(diff) - 1) / kSlotBits;
    const auto index = static_cast<std::size_t>((tick >> (level * kSlotBits)) & kSlotMask);
    const std::size_t slot = level * kSlots + index;
    e.slot = static_cast<std::uint16_t>(slot);
    e.prev = kNil;
    e.next = heads_[slot];
    if (e.next != kNil) entries_[e.next].prev = id;
    heads_[slot] = id;
    occupied_[level] |= std::uint64_t{1} << index;
    ++count_;
    if (min_valid_ && e.when < min_) min_ = e.when;
}

void TimerWheel::unlink(std::uint32_t id) {
    Entry& e = entries_[id];
    const std::size_t slot = e.slot;
    if (e.prev != kNil)
        entries_[e.prev].next = e.next;
    else
        heads_[slot] = e.next;
    if (e.next != kNil) entries_[e.next].prev = e.prev;
    if (heads_[slot] == kNil) occupied_[slot / kSlots] &= ~(std::uint64_t{1} << (slot % kSlots));
    e.slot = kNoSlot;
    e.prev = e.next = kNil;
    --count_;
    if (min_valid_ && e.when == min_) min_valid_ = false;
    if (count_ == 0) {
        min_ = kNever;
        min_valid_ = true;
    }
}

std::uint32_t TimerWheel::take_slot(std::size_t slot) {
    const std::uint32_t head = heads_[slot];
    heads_[slot] = kNil;
    occupied_[slot / kSlots] &= ~(std::uint64_t{1} << (slot % kSlots));
    return head;
}

void TimerWheel::schedule(std::uint32_t id, Instant when) {
    if (when == kNever) {
        cancel(id);
        return;
    }
    if (id >= entries_.size()) entries_.resize(std::size_t{id} + 1);
    Entry& e = entries_[id];
    if (e.slot != kNoSlot) {
        if (e.when == when) return;
        unlink(id);
    }
    e.when = when;
    link(id);
}

void TimerWheel::cancel(std::uint32_t id) {
    if (scheduled(id)) unlink(id);
}

Instant TimerWheel::wake_of(std::uint32_t id) const { return scheduled(id) ? entries_[id].when : kNever; }

std::size_t TimerWheel::first_slot() const {
    for (unsigned level = 0; level < kLevels; ++level) {
        // Slots before cur_'s own index at this level hold nothing (those
        // ticks are past or belong to a lower level).
        const unsigned from = static_cast<unsigned>((cur_ >> (level * kSlotBits)) & kSlotMask);
        const std::uint64_t mask = occupied_[level] & (~std::uint64_t{0} << from);
        if (mask != 0) return level * kSlots + static_cast<std::size_t>(std::countr_zero(mask));
    }
    return kNoSlot;
}

Instant TimerWheel::next_wake() const {
    if (count_ == 0) return kNever;
    if (!min_valid_) {
        // The earliest entry is in the first non-empty slot (see header).
        Instant m = kNever;
        for (std::uint32_t id = heads_[first_slot()]; id != kNil; id = entries_[id].next)
            m = std::min(m, entries_[id].when);
        min_ = m;
        min_valid_ = true;
    }
    return min_;
}

void TimerWheel::expire(Instant now, std::vector<std::uint32_t>& due) {
    const std::uint64_t target = std::max(tick_of(now), cur_);
    while (count_ > 0) {
        const std::size_t slot = first_slot();
        if (slot == kNoSlot) break;  // unreachable while count_ > 0
        const auto level = static_cast<unsigned>(slot / kSlots);
        const std::uint64_t index = slot % kSlots;
        const unsigned shift = level * kSlotBits;
        // First tick the slot stands for: cur_'s bits above this level,
        // the slot index at this level, zeros below.
        const std::uint64_t high = (cur_ >> (shift + kSlotBits)) << (shift + kSlotBits);
        const std::uint64_t start = high | (index << shift);
        if (start > target) break;
        cur_ = std::max(cur_, start);
        std::uint32_t id = take_slot(slot);
        while (id != kNil) {
            Entry& e = entries_[id];
            const std::uint32_t next = e.next;
            e.slot = kNoSlot;
            e.prev = e.next = kNil;
            --count_;
            if (level == 0 && e.when <= now) {
                if (min_valid_ && e.when == min_) min_valid_ = false;
                due.push_back(id);
            } else {
                link(id);  // cascade to a lower level, or stay in the current tick
            }
            id = next;
        }
        if (count_ == 0) {
            min_ = kNever;
            min_valid_ = true;
        }
        // What is left in the current tick is not due before `now`.
        if (level == 0 && start == target) break;
    }
    cur_ = std::max(cur_, target);
}

}  // namespace tapstack::tcp
