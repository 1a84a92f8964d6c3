// Where an IPv6 destination is reached (RFC 4861 5.2 "next-hop
// determination"): on-link, or through a router.
//
// Theory of operation
// -------------------
// On-link: link-local destinations (fe80::/10), the prefixes of our
// configured addresses, and prefixes advertised with the L flag (RFC 4861
// 6.3.4) until their valid lifetime runs out. Off-link destinations go to
// the configured gateway (ipv6.gateway), else to the first router of the
// default router list (routers that advertised a nonzero router lifetime,
// until it runs out). A router whose resolution failed moves to the end
// of the list (RFC 4861 6.3.6: do not keep choosing an unreachable one),
// and a neighbour advertisement that clears its R flag removes it (7.2.5).
// Advertised routers and prefixes are bounded (kMaxRouters,
// kMaxPrefixes): beyond, new ones are counted and ignored, so a flood of
// advertisements costs no memory. Without ipv6.accept_ra the lists stay
// empty.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "stack/time.hpp"
#include "stack/wire/addresses.hpp"

namespace tapstack::iface {

class Ipv6Routes {
public:
    static constexpr std::size_t kMaxRouters = 16;
    static constexpr std::size_t kMaxPrefixes = 16;

    enum class Learned : std::uint8_t { kAdded, kRefreshed, kRemoved, kIgnored, kTableFull };

    Ipv6Routes(const std::vector<wire::Ipv6Cidr>& on_link, std::optional<wire::Ipv6Address> gateway);

    bool is_on_link(Instant now, const wire::Ipv6Address& dst) const;
    // dst itself when on-link, else a router; nullopt: no route.
    std::optional<wire::Ipv6Address> next_hop(Instant now, const wire::Ipv6Address& dst) const;

    // A router advertisement's router lifetime (0 removes the router).
    Learned router_advertised(Instant now, const wire::Ipv6Address& router, Duration lifetime);
    // A prefix information option with L set (valid lifetime 0 removes it;
    // 0xffffffff seconds is infinity). Link-local prefixes are ignored.
    Learned prefix_advertised(Instant now, const wire::Ipv6Cidr& prefix, std::uint32_t valid_lifetime_s);
    void router_unreachable(const wire::Ipv6Address& router);
    void remove_router(const wire::Ipv6Address& router);

    // Removes what expired; returns how many entries.
    std::size_t poll(Instant now);
    Instant poll_at() const;

    std::size_t routers() const { return routers_.size(); }
    std::size_t prefixes() const { return prefixes_.size(); }

private:
    struct Router {
        wire::Ipv6Address address;
        Instant expires{};
    };
    struct Prefix {
        wire::Ipv6Cidr prefix;
        Instant expires{};
    };
    std::vector<wire::Ipv6Cidr> configured_;
    std::optional<wire::Ipv6Address> gateway_;
    std::vector<Router> routers_;
    std::vector<Prefix> prefixes_;
};

}  // namespace tapstack::iface
