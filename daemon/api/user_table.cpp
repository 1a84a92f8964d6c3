// UserTable and RefusalLog; see user_table.hpp.
#include "daemon/api/user_table.hpp"

namespace tapstack::daemon::api {

std::string_view limit_key(LimitHit hit) {
    switch (hit) {
    case LimitHit::kClients: return "api.max_clients_per_user";
    case LimitHit::kListeners: return "api.max_listeners_per_user";
    case LimitHit::kMemory: return "api.max_memory_per_user";
    case LimitHit::kNone: break;
    }
    return "none";
}

LimitHit UserTable::add_client(std::uint32_t uid, std::uint64_t client_key, const UserLimits& limits) {
    auto it = users_.find(uid);
    const std::size_t held = it == users_.end() ? 0 : it->second.clients.size();
    if (!privileged(uid) && held >= limits.max_clients) {
        return LimitHit::kClients;
    }
    users_[uid].clients.insert(client_key);
    return LimitHit::kNone;
}

void UserTable::remove_client(std::uint32_t uid, std::uint64_t client_key) {
    auto it = users_.find(uid);
    if (it == users_.end()) {
        return;
    }
    it->second.clients.erase(client_key);
    forget_if_idle(uid);
}

LimitHit UserTable::add_listener(std::uint32_t uid, const UserLimits& limits) {
    if (!privileged(uid) && listeners(uid) >= limits.max_listeners) {
        return LimitHit::kListeners;
    }
    ++users_[uid].listeners;
    return LimitHit::kNone;
}

void UserTable::remove_listener(std::uint32_t uid) {
    auto it = users_.find(uid);
    if (it == users_.end() || it->second.listeners == 0) {
        return;
    }
    --it->second.listeners;
    forget_if_idle(uid);
}

LimitHit UserTable::check_memory(std::uint32_t uid, std::uint64_t in_use, std::uint64_t more,
                                 const UserLimits& limits) const {
    if (privileged(uid) || in_use + more <= limits.max_memory) {
        return LimitHit::kNone;
    }
    return LimitHit::kMemory;
}

std::size_t UserTable::clients(std::uint32_t uid) const {
    auto it = users_.find(uid);
    return it == users_.end() ? 0 : it->second.clients.size();
}

std::uint32_t UserTable::listeners(std::uint32_t uid) const {
    auto it = users_.find(uid);
    return it == users_.end() ? 0 : it->second.listeners;
}

const std::unordered_set<std::uint64_t>* UserTable::client_keys(std::uint32_t uid) const {
    auto it = users_.find(uid);
    return it == users_.end() ? nullptr : &it->second.clients;
}

void UserTable::forget_if_idle(std::uint32_t uid) {
    auto it = users_.find(uid);
    if (it != users_.end() && it->second.clients.empty() && it->second.listeners == 0) {
        users_.erase(it);
    }
}

std::optional<std::uint64_t> RefusalLog::note(std::uint32_t uid, std::uint64_t now_ms) {
    if (auto it = entries_.find(uid); it != entries_.end()) {
        if (now_ms - it->second.logged_at < interval_ms_) {
            ++it->second.suppressed;
            return std::nullopt;
        }
        const std::uint64_t suppressed = it->second.suppressed;
        it->second = Entry{now_ms, 0};
        return suppressed;
    }
    if (entries_.size() >= kMaxTracked) {
        std::erase_if(entries_, [&](const auto& kv) { return now_ms - kv.second.logged_at >= interval_ms_; });
        if (entries_.size() >= kMaxTracked) {
            // Every tracked uid is within its interval: log this one without
            // tracking it rather than grow without bound.
            return std::uint64_t{0};
        }
    }
    entries_.emplace(uid, Entry{now_ms, 0});
    return std::uint64_t{0};
}

}  // namespace tapstack::daemon::api
