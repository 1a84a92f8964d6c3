// ARP cache state machine (kIncomplete / kResolved / kRefreshing); the
// lifetimes and bounds are described in arp_cache.hpp.
#include "stack/iface/arp_cache.hpp"

#include <algorithm>

namespace tapstack::iface {

ArpCache::ArpCache(const ArpCacheConfig& config) { set_config(config); }

void ArpCache::set_config(const ArpCacheConfig& config) {
    config_ = config;
    config_.cache_size = std::max<std::uint32_t>(config_.cache_size, 1);
    config_.queue_per_host = std::max<std::uint32_t>(config_.queue_per_host, 1);
}

std::optional<wire::MacAddress> ArpCache::lookup(Instant now, wire::Ipv4Address ip) {
    auto it = entries_.find(ip.value);
    if (it == entries_.end()) return std::nullopt;
    Entry& e = it->second;
    if (e.state == State::kIncomplete || (e.state == State::kResolved && now >= e.deadline)) return std::nullopt;
    e.used = true;
    return e.mac;
}

bool ArpCache::make_room() {
    if (entries_.size() < config_.cache_size) return true;
    auto victim = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
        if (it->second.state == State::kIncomplete) continue;
        if (victim == entries_.end() || it->second.deadline < victim->second.deadline) victim = it;
    }
    if (victim == entries_.end()) return false;
    entries_.erase(victim);
    ++stats_.evicted;
    return true;
}

ArpCache::EnqueueResult ArpCache::enqueue(Instant now, wire::Ipv4Address ip, wire::Bytes packet) {
    if (queued_bytes_ + packet.size() > config_.max_queued_bytes) {
        ++stats_.queue_full_dropped;
        return EnqueueResult::kDroppedQueueFull;
    }
    auto it = entries_.find(ip.value);
    if (it != entries_.end() && it->second.state != State::kIncomplete) {
        // Expired but not yet swept by poll(): resolve again from scratch.
        entries_.erase(it);
        ++stats_.expired;
        it = entries_.end();
    }
    if (it == entries_.end()) {
        if (!make_room()) {
            ++stats_.full_dropped;
            return EnqueueResult::kDroppedCacheFull;
        }
        Entry e;
        e.deadline = now + config_.retry_interval;
        e.queue.emplace_back(packet.begin(), packet.end());
        queued_bytes_ += packet.size();
        entries_.emplace(ip.value, std::move(e));
        ++stats_.inserted;
        return EnqueueResult::kQueuedSendRequest;
    }
    Entry& e = it->second;
    if (e.queue.size() >= config_.queue_per_host) {
        ++stats_.queue_full_dropped;
        return EnqueueResult::kDroppedQueueFull;
    }
    e.queue.emplace_back(packet.begin(), packet.end());
    queued_bytes_ += packet.size();
    return EnqueueResult::kQueued;
}

bool ArpCache::update(Instant now, wire::Ipv4Address ip, wire::MacAddress mac, bool create,
                      std::vector<Packet>& released) {
    auto it = entries_.find(ip.value);
    if (it == entries_.end()) {
        if (!create || !make_room()) return false;
        it = entries_.emplace(ip.value, Entry{}).first;
        ++stats_.inserted;
    } else {
        ++stats_.confirmed;
    }
    Entry& e = it->second;
    e.state = State::kResolved;
    e.mac = mac;
    e.deadline = now + config_.entry_lifetime;
    e.retries = 0;
    e.used = false;
    for (Packet& p : e.queue) {
        queued_bytes_ -= p.size();
        released.push_back(std::move(p));
    }
    e.queue.clear();
    return true;
}

void ArpCache::poll(Instant now, PollResult& out) {
    for (auto it = entries_.begin(); it != entries_.end();) {
        Entry& e = it->second;
        if (now < e.deadline) {
            ++it;
            continue;
        }
        const wire::Ipv4Address ip(it->first);
        const bool retry_left = e.retries < config_.max_retries;
        switch (e.state) {
            case State::kResolved:
                if (!e.used) {
                    ++stats_.expired;
                    it = entries_.erase(it);
                    continue;
                }
                e.state = State::kRefreshing;
                e.retries = 0;
                e.deadline = now + config_.retry_interval;
                ++stats_.refresh_requests;
                out.refresh.push_back(Refresh{ip, e.mac});
                break;
            case State::kRefreshing:
                if (!retry_left) {
                    ++stats_.refresh_failed;
                    ++stats_.expired;
                    it = entries_.erase(it);
                    continue;
                }
                ++e.retries;
                e.deadline = now + config_.retry_interval;
                ++stats_.refresh_requests;
                out.refresh.push_back(Refresh{ip, e.mac});
                break;
            case State::kIncomplete:
                if (!retry_left) {
                    ++stats_.resolve_failed;
                    stats_.unresolved_dropped += e.queue.size();
                    GiveUp g{ip, {}};
                    for (Packet& p : e.queue) {
                        queued_bytes_ -= p.size();
                        g.dropped.push_back(std::move(p));
                    }
                    out.gave_up.push_back(std::move(g));
                    it = entries_.erase(it);
                    continue;
                }
                ++e.retries;
                ++stats_.retries;
                e.deadline = now + config_.retry_interval;
                out.retry.push_back(ip);
                break;
        }
        ++it;
    }
}

Instant ArpCache::poll_at() const {
    Instant at = kNever;
    for (const auto& [ip, e] : entries_) at = std::min(at, e.deadline);
    return at;
}

std::size_t ArpCache::queued_packets() const {
    std::size_t n = 0;
    for (const auto& [ip, e] : entries_) n += e.queue.size();
    return n;
}

void ArpCache::visit_counters(const CounterVisitor& visit) const {
    visit("arp.cache_inserted", stats_.inserted);
    visit("arp.cache_confirmed", stats_.confirmed);
    visit("arp.cache_expired", stats_.expired);
    visit("arp.cache_evicted", stats_.evicted);
    visit("arp.cache_full_dropped", stats_.full_dropped);
    visit("arp.queue_full_dropped", stats_.queue_full_dropped);
    visit("arp.request_retries", stats_.retries);
    visit("arp.refresh_requests", stats_.refresh_requests);
    visit("arp.refresh_failed", stats_.refresh_failed);
    visit("arp.resolve_failed", stats_.resolve_failed);
    visit("arp.unresolved_dropped", stats_.unresolved_dropped);
    visit("arp.cache_entries", entries_.size());
    visit("arp.queued_bytes", queued_bytes_);
}

}  // namespace tapstack::iface
