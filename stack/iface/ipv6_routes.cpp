// On-link determination and the default router list; see ipv6_routes.hpp.
#include "stack/iface/ipv6_routes.hpp"

#include <algorithm>

namespace tapstack::iface {

Ipv6Routes::Ipv6Routes(const std::vector<wire::Ipv6Cidr>& on_link, std::optional<wire::Ipv6Address> gateway)
    : gateway_(gateway) {
    for (const wire::Ipv6Cidr& c : on_link) {
        if (c.prefix_len < 128) configured_.push_back(c);
    }
}

bool Ipv6Routes::is_on_link(Instant now, const wire::Ipv6Address& dst) const {
    if (dst.is_link_local()) return true;
    for (const wire::Ipv6Cidr& c : configured_) {
        if (c.contains(dst)) return true;
    }
    for (const Prefix& p : prefixes_) {
        if (now < p.expires && p.prefix.contains(dst)) return true;
    }
    return false;
}

std::optional<wire::Ipv6Address> Ipv6Routes::next_hop(Instant now, const wire::Ipv6Address& dst) const {
    if (is_on_link(now, dst)) return dst;
    if (gateway_) return gateway_;
    for (const Router& r : routers_) {
        if (now < r.expires) return r.address;
    }
    return std::nullopt;
}

Ipv6Routes::Learned Ipv6Routes::router_advertised(Instant now, const wire::Ipv6Address& router, Duration lifetime) {
    auto it = std::find_if(routers_.begin(), routers_.end(), [&](const Router& r) { return r.address == router; });
    if (lifetime <= Duration::zero()) {
        if (it == routers_.end()) return Learned::kIgnored;
        routers_.erase(it);
        return Learned::kRemoved;
    }
    if (it != routers_.end()) {
        it->expires = now + lifetime;
        return Learned::kRefreshed;
    }
    if (routers_.size() >= kMaxRouters) return Learned::kTableFull;
    routers_.push_back(Router{router, now + lifetime});
    return Learned::kAdded;
}

Ipv6Routes::Learned Ipv6Routes::prefix_advertised(Instant now, const wire::Ipv6Cidr& prefix,
                                                  std::uint32_t valid_lifetime_s) {
    const wire::Ipv6Cidr p{prefix.network(), prefix.prefix_len};
    if (p.address.is_link_local() || p.address.is_multicast() || p.prefix_len > 128) return Learned::kIgnored;
    auto it = std::find_if(prefixes_.begin(), prefixes_.end(), [&](const Prefix& x) { return x.prefix == p; });
    if (valid_lifetime_s == 0) {
        if (it == prefixes_.end()) return Learned::kIgnored;
        prefixes_.erase(it);
        return Learned::kRemoved;
    }
    const Instant expires = valid_lifetime_s == 0xffffffffu ? kNever : now + seconds(valid_lifetime_s);
    if (it != prefixes_.end()) {
        it->expires = expires;
        return Learned::kRefreshed;
    }
    if (prefixes_.size() >= kMaxPrefixes) return Learned::kTableFull;
    prefixes_.push_back(Prefix{p, expires});
    return Learned::kAdded;
}

void Ipv6Routes::router_unreachable(const wire::Ipv6Address& router) {
    auto it = std::find_if(routers_.begin(), routers_.end(), [&](const Router& r) { return r.address == router; });
    if (it == routers_.end()) return;
    std::rotate(it, it + 1, routers_.end());
}

void Ipv6Routes::remove_router(const wire::Ipv6Address& router) {
    std::erase_if(routers_, [&](const Router& r) { return r.address == router; });
}

std::size_t Ipv6Routes::poll(Instant now) {
    const std::size_t before = routers_.size() + prefixes_.size();
    std::erase_if(routers_, [&](const Router& r) { return now >= r.expires; });
    std::erase_if(prefixes_, [&](const Prefix& p) { return now >= p.expires; });
    return before - routers_.size() - prefixes_.size();
}

Instant Ipv6Routes::poll_at() const {
    Instant at = kNever;
    for (const Router& r : routers_) at = std::min(at, r.expires);
    for (const Prefix& p : prefixes_) at = std::min(at, p.expires);
    return at;
}

}  // namespace tapstack::iface
