#include "stack/buf/ring_buffer.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace tapstack::buf {

void RingBuffer::ensure_storage() {
    // Not zero-filled: free space is never read before it is written, and
    // untouched pages of a large buffer then cost no resident memory.
    if (!storage_ && capacity_ > 0) storage_ = std::make_unique_for_overwrite<std::uint8_t[]>(capacity_);
}

void RingBuffer::release() {
    storage_.reset();
    head_ = size_ = high_ = 0;
}

std::size_t RingBuffer::footprint_after_write(std::size_t offset, std::size_t n) const {
    if (offset >= free()) return footprint();
    n = std::min(n, free() - offset);
    if (n == 0) return footprint();
    const std::size_t pos = wrap(head_ + size_ + offset);
    const std::size_t high = pos + n > capacity_ ? capacity_ : std::max(storage_ ? high_ : 0, pos + n);
    return round_to_page(high);
}

std::size_t RingBuffer::writable_within(std::size_t extra) const {
    const std::size_t have = footprint();
    if (have + extra >= capacity_) return free();
    // Not wrapped yet (have < capacity): the tail lies inside [0, high_],
    // and a write that stays below have + extra cannot wrap. An empty ring
    // counts as rewound (the caller rewinds it before writing).
    const std::size_t tail = size_ == 0 ? 0 : head_ + size_;
    return std::min(free(), have + extra > tail ? have + extra - tail : 0);
}

void RingBuffer::grow(std::size_t new_capacity) {
    if (new_capacity <= capacity_) return;
    if (storage_) {
        auto bigger = std::make_unique_for_overwrite<std::uint8_t[]>(new_capacity);
        // The whole old ring from head_ on: queued bytes, then the free space
        // that may hold out-of-order bytes at their offsets.
        const std::size_t first = capacity_ - head_;
        std::memcpy(bigger.get(), storage_.get() + head_, first);
        std::memcpy(bigger.get() + first, storage_.get(), head_);
        storage_ = std::move(bigger);
        high_ = capacity_;  // the copy wrote all of it
    }
    head_ = 0;
    capacity_ = new_capacity;
}

std::size_t RingBuffer::write_at(std::size_t offset, std::span<const std::uint8_t> data) {
    if (offset >= free()) return 0;
    const std::size_t n = std::min(data.size(), free() - offset);
    if (n == 0) return 0;
    ensure_storage();
    // head_ < capacity and size_ + offset < capacity, so one wrap suffices.
    const std::size_t pos = wrap(head_ + size_ + offset);
    const std::size_t first = std::min(n, capacity_ - pos);
    std::memcpy(storage_.get() + pos, data.data(), first);
    if (n > first) std::memcpy(storage_.get(), data.data() + first, n - first);
    note_written(pos, n);
    return n;
}

void RingBuffer::commit(std::size_t n) {
    assert(n <= free());
    // The caller may have written these bytes through writable_spans().
    if (n > 0) note_written(wrap(head_ + size_), n);
    size_ += n;
}

std::size_t RingBuffer::write(std::span<const std::uint8_t> data) {
    const std::size_t n = write_at(0, data);
    size_ += n;
    return n;
}

std::size_t RingBuffer::peek(std::size_t offset, std::span<std::uint8_t> out) const {
    if (offset >= size_) return 0;
    const std::size_t n = std::min(out.size(), size_ - offset);
    if (n == 0) return 0;  // memcpy must not see an empty span's null data()
    const std::size_t pos = wrap(head_ + offset);
    const std::size_t first = std::min(n, capacity_ - pos);
    std::memcpy(out.data(), storage_.get() + pos, first);
    if (n > first) std::memcpy(out.data() + first, storage_.get(), n - first);
    return n;
}

void RingBuffer::consume(std::size_t n) {
    assert(n <= size_);
    head_ = wrap(head_ + n);
    size_ -= n;
    // head_ is not reset when empty: bytes stored by write_at() beyond the
    // queue must stay where they are.
}

std::size_t RingBuffer::read(std::span<std::uint8_t> out) {
    const std::size_t n = peek(0, out);
    consume(n);
    return n;
}

std::span<const std::uint8_t> RingBuffer::readable() const {
    if (size_ == 0) return {};
    return {storage_.get() + head_, std::min(size_, capacity_ - head_)};
}

std::span<std::uint8_t> RingBuffer::writable() {
    if (free() == 0) return {};
    ensure_storage();
    const std::size_t tail = wrap(head_ + size_);
    return {storage_.get() + tail, std::min(free(), capacity_ - tail)};
}

std::array<std::span<const std::uint8_t>, 2> RingBuffer::readable_spans() const {
    if (size_ == 0) return {};
    const std::size_t first = std::min(size_, capacity_ - head_);
    return {std::span<const std::uint8_t>(storage_.get() + head_, first),
            std::span<const std::uint8_t>(storage_.get(), size_ - first)};
}

std::array<std::span<const std::uint8_t>, 2> RingBuffer::peek_spans(std::size_t offset, std::size_t n) const {
    if (offset >= size_) return {};
    n = std::min(n, size_ - offset);
    const std::size_t pos = wrap(head_ + offset);
    const std::size_t first = std::min(n, capacity_ - pos);
    return {std::span<const std::uint8_t>(storage_.get() + pos, first),
            std::span<const std::uint8_t>(storage_.get(), n - first)};
}

std::array<std::span<std::uint8_t>, 2> RingBuffer::writable_spans() {
    if (free() == 0) return {};
    ensure_storage();
    const std::size_t tail = wrap(head_ + size_);
    const std::size_t first = std::min(free(), capacity_ - tail);
    return {std::span<std::uint8_t>(storage_.get() + tail, first),
            std::span<std::uint8_t>(storage_.get(), free() - first)};
}

}  // namespace tapstack::buf
