// OutcomeTable: a fixed ring searched linearly; see outcome_table.hpp.
// STATUS requests are rare (once per ended stream at most), so a scan over
// at most `capacity` entries is cheaper than keeping an index in sync.
#include "daemon/api/outcome_table.hpp"

#include <utility>

namespace tapstack::daemon::api {

OutcomeTable::OutcomeTable(std::size_t capacity) : ring_(capacity == 0 ? 1 : capacity) {}

void OutcomeTable::record(std::uint64_t id, std::uint32_t uid, client::Outcome outcome, std::string detail,
                          std::uint64_t undelivered) {
    ring_[next_] = Entry{id, uid, outcome, std::move(detail), undelivered};
    next_ = (next_ + 1) % ring_.size();
    if (count_ < ring_.size()) {
        ++count_;
    }
}

std::optional<OutcomeTable::Entry> OutcomeTable::find(std::uint64_t id) const {
    // Newest first, so a (theoretical) duplicate id answers with the latest.
    for (std::size_t i = 0; i < count_; ++i) {
        const Entry& e = ring_[(next_ + ring_.size() - 1 - i) % ring_.size()];
        if (e.id == id) {
            return e;
        }
    }
    return std::nullopt;
}

}  // namespace tapstack::daemon::api
