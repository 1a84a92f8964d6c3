// The device role of a split virtqueue, and the Virtqueue bundle; see
// virtqueue.hpp for what is validated and why.
#include <atomic>

#include "drivers/virtqueue.hpp"

namespace tapstack::drivers {

std::string_view to_string(ChainError error) {
    switch (error) {
    case ChainError::kHeadOutOfRange: return "head_out_of_range";
    case ChainError::kNextOutOfRange: return "next_out_of_range";
    case ChainError::kChainTooLong: return "chain_too_long";
    case ChainError::kIndirect: return "indirect";
    case ChainError::kUnknownFlags: return "unknown_flags";
    case ChainError::kOutsideMemory: return "outside_memory";
    case ChainError::kReadableAfterWritable: return "readable_after_writable";
    case ChainError::kTooManyBytes: return "too_many_bytes";
    }
    return "unknown";
}

DescChain::DescChain(std::uint16_t queue_size) {
    readable.reserve(queue_size);
    writable.reserve(queue_size);
}

void DescChain::clear() {
    readable.clear();
    writable.clear();
    readable_len = 0;
    writable_len = 0;
}

VirtqueueDevice::VirtqueueDevice(Vring ring, const GuestMemory& memory, const VirtqueueOptions& options)
    : ring_(ring),
      memory_(&memory),
      event_idx_(options.event_idx),
      max_chain_bytes_(options.max_chain_bytes),
      last_avail_idx_(options.start_idx),
      used_idx_(options.start_idx),
      signalled_used_idx_(options.start_idx) {
    ring_.set_used_flags(0);
    ring_.set_used_idx(used_idx_);
    ring_.set_avail_event(last_avail_idx_);
}

bool VirtqueueDevice::has_available() const { return !broken_ && ring_.avail_idx() != last_avail_idx_; }

PopResult VirtqueueDevice::pop(DescChain& chain) {
    chain.clear();
    if (broken_) return PopResult::kBroken;
    const std::uint16_t avail_idx = ring_.avail_idx();
    if (avail_idx == last_avail_idx_) return PopResult::kEmpty;
    if (static_cast<std::uint16_t>(avail_idx - last_avail_idx_) > ring_.size()) {
        // More heads than descriptors: the driver is broken. Guessing which
        // entries are real could hand the same buffer out twice.
        ++stats_.avail_idx_jump;
        broken_ = true;
        return PopResult::kBroken;
    }
    std::atomic_thread_fence(std::memory_order_acquire);  // read the entry after its index
    const std::uint16_t head = ring_.avail_ring(last_avail_idx_);
    ++last_avail_idx_;
    if (event_idx_ && (ring_.used_flags() & VRING_USED_F_NO_NOTIFY) == 0) ring_.set_avail_event(last_avail_idx_);
    chain.head = head;
    if (head >= ring_.size()) return reject(chain, ChainError::kHeadOutOfRange);

    std::uint16_t idx = head;
    std::uint32_t count = 0;
    std::uint64_t total = 0;
    for (;;) {
        // A chain can use each descriptor at most once (2.7.5.3.1), so one
        // longer than the table must revisit one: a loop.
        if (++count > ring_.size()) return reject(chain, ChainError::kChainTooLong);
        const VringDesc d = ring_.read_desc(idx);  // the only read of this descriptor
        if ((d.flags & VRING_DESC_F_INDIRECT) != 0) return reject(chain, ChainError::kIndirect);
        if ((d.flags & ~(VRING_DESC_F_NEXT | VRING_DESC_F_WRITE)) != 0) {
            return reject(chain, ChainError::kUnknownFlags);
        }
        const auto bytes = memory_->translate(d.addr, d.len);
        if (!bytes) return reject(chain, ChainError::kOutsideMemory);
        total += d.len;
        if (total > max_chain_bytes_) return reject(chain, ChainError::kTooManyBytes);
        if ((d.flags & VRING_DESC_F_WRITE) != 0) {
            chain.writable.push_back(*bytes);
            chain.writable_len += d.len;
        } else {
            // 2.7.4.2: device-readable descriptors come before device-writable ones.
            if (!chain.writable.empty()) return reject(chain, ChainError::kReadableAfterWritable);
            chain.readable.push_back(*bytes);
            chain.readable_len += d.len;
        }
        if ((d.flags & VRING_DESC_F_NEXT) == 0) break;
        if (d.next >= ring_.size()) return reject(chain, ChainError::kNextOutOfRange);
        idx = d.next;
    }
    ++stats_.popped;
    return PopResult::kChain;
}

PopResult VirtqueueDevice::reject(DescChain& chain, ChainError error) {
    chain.clear();
    chain.error = error;
    ++stats_.rejected;
    ++stats_.rejected_by_reason[static_cast<std::size_t>(error)];
    // Hand the chain back untouched so the driver recycles its descriptors.
    push(chain.head, 0);
    return PopResult::kRejected;
}

void VirtqueueDevice::unpop() {
    --last_avail_idx_;
    --stats_.popped;
}

void VirtqueueDevice::push(std::uint16_t head, std::uint32_t len) {
    ring_.set_used_ring(used_idx_, VringUsedElem{head, len});
    std::atomic_thread_fence(std::memory_order_release);  // entry before the index that publishes it
    ++used_idx_;
    ring_.set_used_idx(used_idx_);
}

bool VirtqueueDevice::notify_prepare() {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    const std::uint16_t old_idx = signalled_used_idx_;
    const std::uint16_t new_idx = used_idx_;
    signalled_used_idx_ = new_idx;
    if (new_idx == old_idx) return false;
    if (event_idx_) return need_event(ring_.used_event(), new_idx, old_idx);
    return (ring_.avail_flags() & VRING_AVAIL_F_NO_INTERRUPT) == 0;
}

void VirtqueueDevice::enable_notifications() {
    ring_.set_used_flags(static_cast<std::uint16_t>(ring_.used_flags() & ~VRING_USED_F_NO_NOTIFY));
    if (event_idx_) ring_.set_avail_event(last_avail_idx_);
}

void VirtqueueDevice::disable_notifications() {
    ring_.set_used_flags(static_cast<std::uint16_t>(ring_.used_flags() | VRING_USED_F_NO_NOTIFY));
}

std::optional<Virtqueue> Virtqueue::create(const GuestMemory& memory, const VringLayout& layout,
                                           const VirtqueueOptions& options, std::string* error) {
    auto ring = Vring::map(memory, layout, error);
    if (!ring) return std::nullopt;
    return Virtqueue(*ring, memory, options);
}

}  // namespace tapstack::drivers
