// RingBuffer: a fixed-capacity byte FIFO for TCP send and receive data.
//
// Theory of operation
// -------------------
// Bytes [head, head+size) are the queued data; the rest is free space.
// The storage is allocated once, lazily on the first write, and never grows:
// a connection that never carries data costs no buffer memory, and the
// memory per connection is bounded by the capacity whatever the peer does.
// No per-segment allocation ever happens.
//
// Besides the FIFO operations, two random-access operations serve TCP:
//   * `peek(offset, out)` copies queued bytes without consuming them (the
//     sender keeps unacknowledged data here and retransmits from it);
//   * `write_at(offset, data)` stores bytes in the free space beyond the
//     queued data without making them readable, and `commit(n)` later makes
//     the first n of those bytes part of the queue. The receiver keeps
//     out-of-order segments there (see Assembler), so out-of-order storage is
//     bounded by the receive buffer itself.
// Contiguous spans (`readable()`, `writable()`) allow I/O without copies;
// `readable_spans()` / `writable_spans()` give all queued bytes / all free
// space as at most two runs (the second non-empty only across the ring's
// end), ready for readv()/writev(). Spans stay valid until the next call
// that moves or reallocates storage (`grow()`, `release()`).
// `grow()` is the one exception to the fixed capacity: it reallocates once
// per enlargement, copying the old contents in order.
//
// Footprint (for TCP's memory budget): storage is written from offset 0 on
// (a fresh or rewound ring has head 0, and the head only moves over bytes
// already written), so the bytes ever written lie in [0, high-water mark)
// until a write wraps past the end. `footprint()` is that mark rounded up to
// whole pages (the whole capacity once wrapped): an upper bound of the
// resident memory the ring holds, kept in O(1) per write. It falls only with
// `release()`. `rewind()` moves an empty ring back to offset 0, so a ring
// that empties between bursts keeps reusing the pages it already touched.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace tapstack::buf {

class RingBuffer {
public:
    explicit RingBuffer(std::size_t capacity = 0) : capacity_(capacity) {}

    std::size_t capacity() const { return capacity_; }
    std::size_t size() const { return size_; }
    std::size_t free() const { return capacity_ - size_; }
    bool empty() const { return size_ == 0; }
    bool full() const { return size_ == capacity_; }

    // Appends as much of `data` as fits; returns the count.
    std::size_t write(std::span<const std::uint8_t> data);
    // Removes up to out.size() bytes from the front into `out`.
    std::size_t read(std::span<std::uint8_t> out);
    // Copies up to out.size() queued bytes starting `offset` bytes after the
    // front, without consuming them.
    std::size_t peek(std::size_t offset, std::span<std::uint8_t> out) const;
    // Drops n bytes from the front (n <= size()).
    void consume(std::size_t n);

    // Stores `data` at `offset` bytes past the end of the queued data (in the
    // free space) without queueing it; returns how many bytes fit.
    std::size_t write_at(std::size_t offset, std::span<const std::uint8_t> data);
    // Queues the first n bytes of the free space (n <= free()).
    void commit(std::size_t n);

    // The first contiguous run of queued bytes.
    std::span<const std::uint8_t> readable() const;
    // The first contiguous run of free space (allocates storage if needed).
    std::span<std::uint8_t> writable();
    // Every queued byte, in order, as at most two runs (the second is empty
    // unless the queue wraps around the end of the storage).
    std::array<std::span<const std::uint8_t>, 2> readable_spans() const;
    // Up to `n` queued bytes starting `offset` bytes after the front, as at
    // most two runs, without copying (what peek() would copy).
    std::array<std::span<const std::uint8_t>, 2> peek_spans(std::size_t offset, std::size_t n) const;
    // All free space, in order, as at most two runs; commit(n) queues the
    // first n bytes written there (allocates storage if needed).
    std::array<std::span<std::uint8_t>, 2> writable_spans();

    // Enlarges the capacity (receive buffer auto-tuning). Queued bytes and
    // bytes stored by write_at() keep their offsets; never shrinks.
    void grow(std::size_t new_capacity);

    void clear() { head_ = size_ = 0; }
    // Releases storage (it is allocated again on the next write).
    void release();

    static constexpr std::size_t kPage = 4096;
    // Bytes of storage that may be resident (see the theory above).
    std::size_t footprint() const { return storage_ ? round_to_page(high_) : 0; }
    // footprint() after storing `n` bytes at `offset` past the queued data.
    std::size_t footprint_after_write(std::size_t offset, std::size_t n) const;
    // Bytes write() could take while footprint() grows by at most `extra`
    // (an empty ring counted as rewound).
    std::size_t writable_within(std::size_t extra) const;
    // An empty ring starts again at offset 0 (nothing may be stored beyond
    // the queue: the caller knows, e.g. no out-of-order data).
    void rewind() {
        if (size_ == 0) head_ = 0;
    }

private:
    void ensure_storage();
    std::size_t wrap(std::size_t i) const { return i >= capacity_ ? i - capacity_ : i; }
    std::size_t round_to_page(std::size_t n) const { return std::min(capacity_, (n + kPage - 1) / kPage * kPage); }
    // Records a write of n bytes at storage position pos (n <= capacity).
    void note_written(std::size_t pos, std::size_t n) {
        high_ = pos + n > capacity_ ? capacity_ : std::max(high_, pos + n);
    }

    std::unique_ptr<std::uint8_t[]> storage_;
    std::size_t capacity_ = 0;
    std::size_t head_ = 0;
    std::size_t size_ = 0;
    std::size_t high_ = 0;  // high-water mark of written storage
};

}  // namespace tapstack::buf
