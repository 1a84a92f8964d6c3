// The driver role of a split virtqueue; see virtqueue.hpp.
#include <atomic>
#include <limits>

#include "drivers/virtqueue.hpp"

namespace tapstack::drivers {

VirtqueueDriver::VirtqueueDriver(Vring ring, const VirtqueueOptions& options)
    : ring_(ring),
      event_idx_(options.event_idx),
      next_(ring.size()),
      heads_(ring.size()),
      num_free_(ring.size()),
      avail_idx_(options.start_idx),
      last_used_idx_(options.start_idx) {
    // 2.7.13.1: the free list initially links every descriptor in order.
    for (std::uint16_t i = 0; i < ring_.size(); ++i) {
        next_[i] = static_cast<std::uint16_t>(i + 1);
        ring_.write_desc(i, VringDesc{});
    }
    ring_.set_avail_flags(0);
    ring_.set_avail_idx(avail_idx_);
    ring_.set_used_event(last_used_idx_);
}

std::optional<std::uint16_t> VirtqueueDriver::add(std::span<const GuestBuffer> readable,
                                                  std::span<const GuestBuffer> writable, std::uint64_t token) {
    const std::size_t total = readable.size() + writable.size();
    if (total == 0 || total > num_free_) return std::nullopt;
    std::uint64_t writable_len = 0;
    for (const GuestBuffer& b : writable) writable_len += b.len;
    // The device reports written bytes in a u32 (used elem len).
    if (writable_len > std::numeric_limits<std::uint32_t>::max()) return std::nullopt;

    const std::uint16_t head = free_head_;
    std::uint16_t idx = head;
    for (std::size_t k = 0; k < total; ++k) {
        const bool is_writable = k >= readable.size();
        const GuestBuffer& b = is_writable ? writable[k - readable.size()] : readable[k];
        const bool more = k + 1 < total;
        VringDesc d{b.addr, b.len, 0, 0};
        if (is_writable) d.flags |= VRING_DESC_F_WRITE;
        if (more) {
            d.flags |= VRING_DESC_F_NEXT;
            d.next = next_[idx];
        }
        ring_.write_desc(idx, d);
        idx = next_[idx];  // the free list already links the chain's descriptors in order
    }
    free_head_ = idx;
    num_free_ = static_cast<std::uint16_t>(num_free_ - total);
    heads_[head] = HeadState{static_cast<std::uint16_t>(total), static_cast<std::uint32_t>(writable_len), token};
    ++in_flight_;

    // 2.7.13.2-3: the ring entry must be visible before the index that
    // publishes it.
    ring_.set_avail_ring(avail_idx_, head);
    std::atomic_thread_fence(std::memory_order_release);
    ++avail_idx_;
    ring_.set_avail_idx(avail_idx_);
    ++num_added_;
    return head;
}

bool VirtqueueDriver::kick_prepare() {
    // 2.7.13.4: the index must be visible before we read the device's
    // suppression state, or a notification could be lost.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    const auto old_idx = static_cast<std::uint16_t>(avail_idx_ - num_added_);
    const std::uint16_t new_idx = avail_idx_;
    num_added_ = 0;
    if (new_idx == old_idx) return false;
    if (event_idx_) return need_event(ring_.avail_event(), new_idx, old_idx);
    return (ring_.used_flags() & VRING_USED_F_NO_NOTIFY) == 0;
}

bool VirtqueueDriver::has_used() const { return !broken_ && ring_.used_idx() != last_used_idx_; }

std::optional<VirtqueueDriver::Used> VirtqueueDriver::get_used() {
    while (!broken_) {
        const std::uint16_t used_idx = ring_.used_idx();
        if (used_idx == last_used_idx_) return std::nullopt;
        if (static_cast<std::uint16_t>(used_idx - last_used_idx_) > ring_.size()) {
            // The device claims more completions than there are descriptors.
            ++stats_.used_idx_jump;
            broken_ = true;
            return std::nullopt;
        }
        std::atomic_thread_fence(std::memory_order_acquire);  // read the entry after its index
        const VringUsedElem elem = ring_.used_ring(last_used_idx_);
        ++last_used_idx_;
        if (event_idx_ && (ring_.avail_flags() & VRING_AVAIL_F_NO_INTERRUPT) == 0) {
            ring_.set_used_event(last_used_idx_);
        }

        if (elem.id >= ring_.size() || heads_[elem.id].chain_len == 0) {
            ++stats_.bad_used_id;
            continue;
        }
        const auto head = static_cast<std::uint16_t>(elem.id);
        const HeadState state = heads_[head];
        heads_[head] = HeadState{};
        --in_flight_;
        // Splice the whole chain, found through our shadow links, onto the free list.
        std::uint16_t last = head;
        for (std::uint16_t k = 1; k < state.chain_len; ++k) last = next_[last];
        next_[last] = free_head_;
        free_head_ = head;
        num_free_ = static_cast<std::uint16_t>(num_free_ + state.chain_len);

        std::uint32_t len = elem.len;
        if (len > state.writable_len) {
            ++stats_.bad_used_len;
            len = 0;
        }
        return Used{head, len, state.token};
    }
    return std::nullopt;
}

void VirtqueueDriver::enable_interrupts() {
    ring_.set_avail_flags(static_cast<std::uint16_t>(ring_.avail_flags() & ~VRING_AVAIL_F_NO_INTERRUPT));
    if (event_idx_) ring_.set_used_event(last_used_idx_);
}

void VirtqueueDriver::disable_interrupts() {
    ring_.set_avail_flags(static_cast<std::uint16_t>(ring_.avail_flags() | VRING_AVAIL_F_NO_INTERRUPT));
}

}  // namespace tapstack::drivers
