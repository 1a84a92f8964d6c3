#include "stack/buf/assembler.hpp"

#include <algorithm>

namespace tapstack::buf {

bool Assembler::add(std::size_t offset, std::size_t len) {
    if (len == 0) return true;
    const std::size_t begin = offset;
    const std::size_t end = offset + len;
    // First range whose end reaches our begin (touching counts: merge).
    auto first = std::find_if(ranges_.begin(), ranges_.end(), [&](const Range& r) { return r.end >= begin; });
    // Ranges from `first` up to `last` (exclusive) overlap or touch us.
    auto last = first;
    while (last != ranges_.end() && last->begin <= end) ++last;
    if (first == last) {
        // A new, separate range.
        if (ranges_.size() >= max_ranges_ && offset != 0) return false;
        ranges_.insert(first, Range{begin, end});
        return true;
    }
    Range merged{std::min(begin, first->begin), std::max(end, (last - 1)->end)};
    *first = merged;
    ranges_.erase(first + 1, last);
    return true;
}

std::size_t Assembler::take_front() {
    if (ranges_.empty() || ranges_.front().begin != 0) return 0;
    const std::size_t n = ranges_.front().end;
    ranges_.erase(ranges_.begin());
    for (auto& r : ranges_) {
        r.begin -= n;
        r.end -= n;
    }
    return n;
}

std::size_t Assembler::buffered_bytes() const {
    std::size_t n = 0;
    for (const auto& r : ranges_) n += r.end - r.begin;
    return n;
}

}  // namespace tapstack::buf
