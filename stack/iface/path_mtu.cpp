// Per-destination path MTU with RFC 8201's floor and no-increase rules;
// see path_mtu.hpp.
#include "stack/iface/path_mtu.hpp"

#include <algorithm>

#include "stack/wire/icmpv6.hpp"

namespace tapstack::iface {

PathMtuCache::PathMtuCache(std::size_t capacity, Duration lifetime)
    : capacity_(std::max<std::size_t>(capacity, 1)), lifetime_(lifetime) {}

std::uint16_t PathMtuCache::get(Instant now, const wire::Ipv6Address& dst, std::uint16_t link_mtu) const {
    auto it = entries_.find(dst);
    if (it == entries_.end() || now >= it->second.expires) return link_mtu;
    return std::min(it->second.mtu, link_mtu);
}

PathMtuCache::Update PathMtuCache::lower(Instant now, const wire::Ipv6Address& dst, std::uint32_t reported,
                                         std::uint16_t link_mtu) {
    const bool floored = reported < wire::kIpv6MinimumMtu;
    const auto mtu = static_cast<std::uint16_t>(std::max<std::uint32_t>(
        std::min<std::uint32_t>(reported, 65535), wire::kIpv6MinimumMtu));
    if (mtu >= get(now, dst, link_mtu)) return Update::kNotLower;
    auto it = entries_.find(dst);
    if (it == entries_.end() && entries_.size() >= capacity_) {
        auto victim = std::min_element(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
            return a.second.expires < b.second.expires;
        });
        entries_.erase(victim);
        ++evicted_;
    }
    entries_[dst] = Entry{mtu, now + lifetime_};
    ++lowered_;
    return floored ? Update::kLoweredToFloor : Update::kLowered;
}

void PathMtuCache::poll(Instant now) {
    for (auto it = entries_.begin(); it != entries_.end();) {
        if (now >= it->second.expires) {
            it = entries_.erase(it);
            ++expired_;
        } else {
            ++it;
        }
    }
}

Instant PathMtuCache::poll_at() const {
    Instant at = kNever;
    for (const auto& [dst, e] : entries_) at = std::min(at, e.expires);
    return at;
}

void PathMtuCache::visit_metrics(const MetricVisitor& visit) const {
    static constexpr MetricInfo kLowered{"ipv6.pmtu_lowered", MetricKind::kCounter,
                                         "Path MTUs lowered by a Packet Too Big"};
    static constexpr MetricInfo kExpired{"ipv6.pmtu_expired", MetricKind::kCounter,
                                         "Lowered path MTUs that aged back to the link MTU"};
    static constexpr MetricInfo kEvicted{"ipv6.pmtu_evicted", MetricKind::kCounter,
                                         "Path MTU entries dropped to make room"};
    static constexpr MetricInfo kEntries{"ipv6.pmtu_entries", MetricKind::kGauge, "Destinations with a lowered path MTU"};
    visit(kLowered, lowered_);
    visit(kExpired, expired_);
    visit(kEvicted, evicted_);
    visit(kEntries, entries_.size());
}

}  // namespace tapstack::iface
