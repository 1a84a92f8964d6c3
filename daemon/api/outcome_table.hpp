// OutcomeTable: how recent API streams ended, for `STATUS <id>`.
//
// After a stream's Unix connection is closed, the application can no longer
// learn anything from that connection; an EOF looks the same whether the
// peer sent FIN, reset the connection or vanished. So the API server
// records every ended stream's outcome here *before* it closes the Unix
// connection, and a later `STATUS <id>` on a fresh control connection reads
// it back.
//
// Bounded: a ring of the most recent `capacity` outcomes; older ones are
// forgotten (STATUS then answers `ERR not-found`). Ids are the API's own
// stream ids, increasing from 1, never reused while the daemon runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/client/protocol.hpp"

namespace tapstack::daemon::api {

class OutcomeTable {
public:
    struct Entry {
        std::uint64_t id = 0;
        std::uint32_t uid = 0;  // the stream's owner: only they (and root) may ask
        client::Outcome outcome = client::Outcome::kOpen;
        std::string detail;  // the TCP state or error at the end, e.g. "closed"
        // Bytes TCP had acknowledged that never reached the application (it
        // vanished, or stopped taking them after the end; see PROTOCOL.md).
        std::uint64_t undelivered = 0;
    };

    explicit OutcomeTable(std::size_t capacity);

    void record(std::uint64_t id, std::uint32_t uid, client::Outcome outcome, std::string detail,
                std::uint64_t undelivered = 0);
    // The outcome of `id` if it is still remembered.
    std::optional<Entry> find(std::uint64_t id) const;
    std::size_t size() const { return count_; }

private:
    std::vector<Entry> ring_;
    std::size_t next_ = 0;   // slot the next record() overwrites
    std::size_t count_ = 0;  // slots in use (<= capacity)
};

}  // namespace tapstack::daemon::api
