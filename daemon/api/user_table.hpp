// UserTable: what each local user (uid) holds on the API, and whether one
// more client, listener or stream keeps the user within its UserLimits.
// RefusalLog: which refusals deserve a log line (at most one per uid per
// interval, with the number of refusals not logged in between).
//
// Theory of operation
// -------------------
// The server calls add_client()/remove_client() for every Unix connection
// it admits and closes, add_listener()/remove_listener() for every TCP
// listener it opens on a user's behalf and closes, and check_memory()
// before a user's CONNECT or ACCEPT creates a stream. The limits are
// passed in on every call, so the server can swap them at runtime
// (access_policy.hpp) and the table holds no copy that could go stale.
// An add_*() that would exceed the limit changes nothing and names the
// limit; a privileged uid (root, the daemon's own uid) is counted but never
// refused.
//
// Memory is not tracked here: the server adds up its streams' buffer figures
// when it asks (ApiServer::Impl::user_memory), since the figures change as
// buffers auto-tune; this table keeps the user's client keys so that sum only
// visits the user's own clients.
//
// Pure code on plain values (no I/O, no clock), unit-tested directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "daemon/api/access_policy.hpp"

namespace tapstack::daemon::api {

enum class LimitHit : std::uint8_t { kNone, kClients, kListeners, kMemory };

// "api.max_clients_per_user" etc., for messages.
std::string_view limit_key(LimitHit hit);

class UserTable {
public:
    explicit UserTable(std::uint32_t daemon_uid) : daemon_uid_(daemon_uid) {}

    // Root and the daemon's own uid: exempt from limits, owners of everything.
    bool privileged(std::uint32_t uid) const { return uid == 0 || uid == daemon_uid_; }

    LimitHit add_client(std::uint32_t uid, std::uint64_t client_key, const UserLimits& limits);
    void remove_client(std::uint32_t uid, std::uint64_t client_key);
    LimitHit add_listener(std::uint32_t uid, const UserLimits& limits);
    void remove_listener(std::uint32_t uid);
    // kMemory when `in_use` plus `more` bytes would exceed the user's share.
    LimitHit check_memory(std::uint32_t uid, std::uint64_t in_use, std::uint64_t more,
                          const UserLimits& limits) const;

    std::size_t clients(std::uint32_t uid) const;
    std::uint32_t listeners(std::uint32_t uid) const;
    // The keys of the user's admitted clients (nullptr: none).
    const std::unordered_set<std::uint64_t>* client_keys(std::uint32_t uid) const;
    std::size_t users() const { return users_.size(); }

private:
    struct User {
        std::unordered_set<std::uint64_t> clients;
        std::uint32_t listeners = 0;
    };
    void forget_if_idle(std::uint32_t uid);

    std::uint32_t daemon_uid_;
    std::unordered_map<std::uint32_t, User> users_;
};

class RefusalLog {
public:
    explicit RefusalLog(std::uint64_t interval_ms) : interval_ms_(interval_ms) {}

    // A refusal of `uid` at `now_ms`: the number of refusals of that uid
    // not logged since its last line when this one is to be logged, nullopt
    // when it is to be suppressed (counted for the next line).
    std::optional<std::uint64_t> note(std::uint32_t uid, std::uint64_t now_ms);
    std::uint64_t interval_ms() const { return interval_ms_; }
    std::size_t tracked() const { return entries_.size(); }

    // Entries kept at most; beyond it those whose interval has passed are
    // dropped (with their suppressed counts), so many uids cannot grow it.
    static constexpr std::size_t kMaxTracked = 4096;

private:
    struct Entry {
        std::uint64_t logged_at = 0;
        std::uint64_t suppressed = 0;
    };
    std::uint64_t interval_ms_;
    std::unordered_map<std::uint32_t, Entry> entries_;
};

}  // namespace tapstack::daemon::api
