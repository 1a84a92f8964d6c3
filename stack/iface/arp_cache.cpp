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
    ++stats_.cache_evicted;
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
        ++stats_.cache_expired;
        it = entries_.end();
    }
    if (it == entries_.end()) {
        if (!make_room()) {
            ++stats_.cache_full_dropped;
            return EnqueueResult::kDroppedCacheFull;
        }
        Entry e;
        e.deadline = now + config_.retry_interval;
        e.queue.emplace_back(packet.begin(), packet.end());
        queued_bytes_ += packet.size();
        entries_.emplace(ip.value, std::move(e));
        ++stats_.cache_inserted;
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
        ++stats_.cache_inserted;
    } else {
        ++stats_.cache_confirmed;
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
                    ++stats_.cache_expired;
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
                    ++stats_.cache_expired;
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
                ++stats_.request_retries;
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

void ArpCache::visit_metrics(const MetricVisitor& visit) const {
#define TAPSTACK_X(field, kind, help) visit({"arp." #field, MetricKind::kind, help}, stats_.field);
    TAPSTACK_ARP_CACHE_COUNTERS(TAPSTACK_X)
#undef TAPSTACK_X
    static constexpr MetricInfo kEntries{"arp.cache_entries", MetricKind::kGauge, "ARP cache entries"};
    static constexpr MetricInfo kQueued{"arp.queued_bytes", MetricKind::kGauge,
                                        "Bytes of datagrams waiting for their next hop to resolve"};
    visit(kEntries, entries_.size());
    visit(kQueued, queued_bytes_);
}

}  // namespace tapstack::iface
