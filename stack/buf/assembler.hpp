// Assembler: bookkeeping of out-of-order data held beyond the in-order point.
//
// Theory of operation
// -------------------
// The receiver stores every in-window segment directly in the receive
// RingBuffer's free space (RingBuffer::write_at) at its offset from RCV.NXT;
// the Assembler only records which byte ranges beyond RCV.NXT are present.
// When the range at offset 0 exists, `take_front()` returns its length: the
// caller commits that many bytes to the ring (making them readable) and
// advances RCV.NXT. Offsets are relative to the in-order point, so they shift
// down by the taken amount.
//
// Invariants: ranges are sorted, disjoint and non-adjacent (merged); there
// are at most `max_ranges` of them. Overlapping or repeated segments only
// widen ranges, so every byte is made readable exactly once.
// A new segment that would need one range too many is refused (add() returns
// false; the caller drops it and the peer retransmits), so memory for
// bookkeeping is bounded and data memory is the receive buffer itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tapstack::buf {

class Assembler {
public:
    struct Range {
        std::size_t begin = 0;  // offset from the in-order point
        std::size_t end = 0;    // one past the last byte
    };

    explicit Assembler(std::size_t max_ranges = 16) : max_ranges_(max_ranges) { ranges_.reserve(max_ranges + 1); }

    // Records [offset, offset+len). Returns false (and records nothing) when
    // it would need more than max_ranges ranges. A range at offset 0 is
    // always accepted (take_front() removes it at once).
    bool add(std::size_t offset, std::size_t len);
    // Removes the range starting at offset 0 (if any) and returns its length;
    // the remaining ranges shift down by that amount.
    std::size_t take_front();

    bool empty() const { return ranges_.empty(); }
    std::size_t range_count() const { return ranges_.size(); }
    const std::vector<Range>& ranges() const { return ranges_; }
    // Bytes recorded beyond the in-order point.
    std::size_t buffered_bytes() const;
    void clear() { ranges_.clear(); }

private:
    std::size_t max_ranges_;
    std::vector<Range> ranges_;
};

}  // namespace tapstack::buf
