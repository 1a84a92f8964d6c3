// The RFC 4861 7.3 neighbour state machine; states and bounds are described
// in neighbor_cache.hpp.
#include "stack/iface/neighbor_cache.hpp"

#include <algorithm>
#include <array>
#include <string_view>

namespace tapstack::iface {

NeighborCache::NeighborCache(const NeighborCacheConfig& config) : config_(config) {
    config_.cache_size = std::max<std::uint32_t>(config_.cache_size, 1);
    config_.queue_per_host = std::max<std::uint32_t>(config_.queue_per_host, 1);
    config_.max_multicast_solicit = std::max<std::uint32_t>(config_.max_multicast_solicit, 1);
    config_.max_unicast_solicit = std::max<std::uint32_t>(config_.max_unicast_solicit, 1);
}

void NeighborCache::set_state(Instant now, Entry& e, NeighborState s) {
    e.state = s;
    e.probes = 0;
    switch (s) {
        case NeighborState::kIncomplete:
        case NeighborState::kProbe:
            e.deadline = now + config_.retrans_timer;
            break;
        case NeighborState::kReachable:
            e.deadline = now + config_.reachable_time;
            break;
        case NeighborState::kStale:
            e.deadline = now + config_.stale_lifetime;
            break;
        case NeighborState::kDelay:
            e.deadline = now + config_.delay_first_probe;
            break;
    }
}

void NeighborCache::release(Entry& e, std::vector<Packet>& released) {
    for (Packet& p : e.queue) {
        queued_bytes_ -= p.size();
        released.push_back(std::move(p));
    }
    e.queue.clear();
}

std::optional<wire::MacAddress> NeighborCache::lookup(Instant now, const wire::Ipv6Address& ip) {
    auto it = entries_.find(ip);
    if (it == entries_.end()) return std::nullopt;
    Entry& e = it->second;
    switch (e.state) {
        case NeighborState::kIncomplete:
            return std::nullopt;
        case NeighborState::kReachable:
            if (now < e.deadline) break;
            [[fallthrough]];  // timed out but not yet polled: stale, and now in use
        case NeighborState::kStale:
            set_state(now, e, NeighborState::kDelay);
            break;
        case NeighborState::kDelay:
        case NeighborState::kProbe:
            break;
    }
    return e.mac;
}

bool NeighborCache::make_room() {
    if (entries_.size() < config_.cache_size) return true;
    auto victim = entries_.end();
    auto rank = [](const Entry& e) { return e.state == NeighborState::kStale ? 0 : 1; };
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
        if (it->second.state == NeighborState::kIncomplete) continue;
        if (victim == entries_.end() || rank(it->second) < rank(victim->second) ||
            (rank(it->second) == rank(victim->second) && it->second.deadline < victim->second.deadline)) {
            victim = it;
        }
    }
    if (victim == entries_.end()) return false;
    entries_.erase(victim);
    count(Stat::cache_evicted);
    return true;
}

NeighborCache::Entry* NeighborCache::create(Instant now, const wire::Ipv6Address& ip) {
    if (!make_room()) return nullptr;
    Entry& e = entries_[ip];
    set_state(now, e, NeighborState::kIncomplete);
    count(Stat::cache_inserted);
    return &e;
}

NeighborCache::EnqueueResult NeighborCache::enqueue(Instant now, const wire::Ipv6Address& ip, wire::Bytes packet) {
    if (queued_bytes_ + packet.size() > config_.max_queued_bytes) {
        count(Stat::queue_full_dropped);
        return EnqueueResult::kDroppedQueueFull;
    }
    auto it = entries_.find(ip);
    Entry* e = nullptr;
    bool fresh = false;
    if (it == entries_.end()) {
        e = create(now, ip);
        if (e == nullptr) {
            count(Stat::cache_full_dropped);
            return EnqueueResult::kDroppedCacheFull;
        }
        e->probes = 1;  // the caller sends the first solicitation
        fresh = true;
    } else {
        e = &it->second;
    }
    if (e->state != NeighborState::kIncomplete) {
        // Resolved since the caller's lookup(): nothing to wait for. The
        // caller looks up first, so this is never reached in practice.
        count(Stat::queue_full_dropped);
        return EnqueueResult::kDroppedQueueFull;
    }
    if (e->queue.size() >= config_.queue_per_host) {
        count(Stat::queue_full_dropped);
        return EnqueueResult::kDroppedQueueFull;
    }
    e->queue.emplace_back(packet.begin(), packet.end());
    queued_bytes_ += packet.size();
    return fresh ? EnqueueResult::kQueuedSendSolicitation : EnqueueResult::kQueued;
}

void NeighborCache::solicited_by(Instant now, const wire::Ipv6Address& ip, const wire::MacAddress& mac, bool router,
                                 std::vector<Packet>& released) {
    auto it = entries_.find(ip);
    Entry* e = nullptr;
    if (it == entries_.end()) {
        e = create(now, ip);
        if (e == nullptr) return;
        e->mac = mac;
        set_state(now, *e, NeighborState::kStale);
    } else {
        e = &it->second;
        if (e->state == NeighborState::kIncomplete || e->mac != mac) {
            if (e->state != NeighborState::kIncomplete) count(Stat::cache_updated);
            e->mac = mac;
            set_state(now, *e, NeighborState::kStale);
            release(*e, released);
        }
    }
    if (router) e->router = true;
}

NeighborCache::AdvertResult NeighborCache::advertised(Instant now, const wire::Ipv6Address& ip,
                                                      const std::optional<wire::MacAddress>& mac, bool solicited,
                                                      bool override_flag, bool router, std::vector<Packet>& released) {
    AdvertResult result;
    auto it = entries_.find(ip);
    if (it == entries_.end()) return result;
    result.known = true;
    Entry& e = it->second;
    if (e.state == NeighborState::kIncomplete) {
        if (!mac) return result;  // 7.2.5: nothing to resolve with
        e.mac = *mac;
        set_state(now, e, solicited ? NeighborState::kReachable : NeighborState::kStale);
        if (solicited) count(Stat::cache_confirmed);
        release(e, released);
    } else {
        const bool differs = mac && *mac != e.mac;
        if (!override_flag && differs) {
            // 7.2.5: keep the address we have; a reachable entry becomes stale.
            if (e.state == NeighborState::kReachable) set_state(now, e, NeighborState::kStale);
            return result;
        }
        if (differs) {
            e.mac = *mac;
            count(Stat::cache_updated);
        }
        if (solicited) {
            set_state(now, e, NeighborState::kReachable);
            count(Stat::cache_confirmed);
        } else if (differs) {
            set_state(now, e, NeighborState::kStale);
        }
    }
    result.router_cleared = e.router && !router;
    e.router = router;
    return result;
}

void NeighborCache::confirm(Instant now, const wire::Ipv6Address& ip) {
    auto it = entries_.find(ip);
    if (it == entries_.end() || it->second.state == NeighborState::kIncomplete) return;
    set_state(now, it->second, NeighborState::kReachable);
}

void NeighborCache::poll(Instant now, PollResult& out) {
    for (auto it = entries_.begin(); it != entries_.end();) {
        Entry& e = it->second;
        if (now < e.deadline) {
            ++it;
            continue;
        }
        switch (e.state) {
            case NeighborState::kIncomplete:
                if (e.probes >= config_.max_multicast_solicit) {
                    count(Stat::resolve_failed);
                    count(Stat::unresolved_dropped, e.queue.size());
                    GiveUp g{it->first, {}, e.router};
                    release(e, g.dropped);
                    out.gave_up.push_back(std::move(g));
                    it = entries_.erase(it);
                    continue;
                }
                ++e.probes;
                e.deadline = now + config_.retrans_timer;
                count(Stat::solicit_retries);
                out.solicit.push_back(it->first);
                break;
            case NeighborState::kReachable:
                set_state(now, e, NeighborState::kStale);
                break;
            case NeighborState::kStale:
                count(Stat::cache_expired);
                it = entries_.erase(it);
                continue;
            case NeighborState::kDelay:
                set_state(now, e, NeighborState::kProbe);
                e.probes = 1;
                count(Stat::probes);
                out.probe.push_back(Probe{it->first, e.mac});
                break;
            case NeighborState::kProbe:
                if (e.probes >= config_.max_unicast_solicit) {
                    count(Stat::probe_failed);
                    out.gave_up.push_back(GiveUp{it->first, {}, e.router});
                    it = entries_.erase(it);
                    continue;
                }
                ++e.probes;
                e.deadline = now + config_.retrans_timer;
                count(Stat::probes);
                out.probe.push_back(Probe{it->first, e.mac});
                break;
        }
        ++it;
    }
}

Instant NeighborCache::poll_at() const {
    Instant at = kNever;
    for (const auto& [ip, e] : entries_) at = std::min(at, e.deadline);
    return at;
}

std::optional<NeighborState> NeighborCache::state(const wire::Ipv6Address& ip) const {
    auto it = entries_.find(ip);
    if (it == entries_.end()) return std::nullopt;
    return it->second.state;
}

std::optional<wire::MacAddress> NeighborCache::mac(const wire::Ipv6Address& ip) const {
    auto it = entries_.find(ip);
    if (it == entries_.end() || it->second.state == NeighborState::kIncomplete) return std::nullopt;
    return it->second.mac;
}

std::size_t NeighborCache::queued_packets() const {
    std::size_t n = 0;
    for (const auto& [ip, e] : entries_) n += e.queue.size();
    return n;
}

void NeighborCache::visit_metrics(const MetricVisitor& visit) const {
    static constexpr std::array<MetricInfo, static_cast<std::size_t>(Stat::kCount)> kInfo = {{
#define TAPSTACK_X(name, kind, help) {"nd." #name, MetricKind::kind, help},
        TAPSTACK_NEIGHBOR_COUNTERS(TAPSTACK_X)
#undef TAPSTACK_X
    }};
    for (std::size_t i = 0; i < kInfo.size(); ++i) visit(kInfo[i], stats_[i]);
    static constexpr MetricInfo kEntries{"nd.cache_entries", MetricKind::kGauge, "Neighbour cache entries"};
    static constexpr MetricInfo kQueued{"nd.queued_bytes", MetricKind::kGauge,
                                        "Bytes of IPv6 datagrams waiting for their next hop to resolve"};
    visit(kEntries, entries_.size());
    visit(kQueued, queued_bytes_);
}

}  // namespace tapstack::iface
