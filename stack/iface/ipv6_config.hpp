// What the IPv6 layer of an Interface is configured with (the daemon's
// ipv6.*, nd.* and interface.host_address6 keys map here, except the last,
// which is the driver's).
//
// `enabled` is false by default so that an Interface built in a test
// speaks only IPv4 unless the test asks; the daemon always enables it, so
// tapstackd always has a link-local address (RFC 4291 2.8). That address is
// fe80::/64 with the modified EUI-64 identifier of our MAC (RFC 4291
// appendix A): our MAC is a locally administered value the daemon already
// derives from its IPv4 address, never a hardware identity, so the
// identifier reveals nothing the frames' source address does not (the
// concern of RFC 8064); it is stable across restarts without a secret
// stored between them, which RFC 7217 would need and the daemon has no
// place to keep; and a user can compute it from the MAC to ping it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "stack/time.hpp"
#include "stack/wire/addresses.hpp"

namespace tapstack::iface {

// Something the daemon should log about one of our addresses.
struct Ipv6AddressEvent {
    enum class Kind : std::uint8_t {
        kReady,      // passed DAD (RFC 4862 5.4), or DAD is off
        kDuplicate,  // DAD found it in use (5.4.5): it is not used
        kDisabled,   // the link-local address was duplicate: IPv6 is off on the interface
        kConflict,   // another node advertised one of our preferred addresses (5.4.4)
    };
    Kind kind = Kind::kReady;
    wire::Ipv6Address address;
    std::optional<wire::MacAddress> from;  // the other node's MAC, when the message carried it
};

struct Ipv6Config {
    bool enabled = false;
    std::vector<wire::Ipv6Cidr> addresses;       // besides the link-local one
    std::optional<wire::Ipv6Address> gateway;    // link-local or on-link
    bool accept_ra = false;                      // default router and on-link prefixes from RAs
    std::uint8_t hop_limit = 64;                 // of the datagrams we send (RAs may change it)
    // Reassembly (RFC 8200 4.5)
    Duration reassembly_timeout = seconds(60);
    std::uint32_t reassembly_max_bytes = 4 * 1024 * 1024;
    std::uint32_t reassembly_max_datagrams = 64;
    std::uint32_t icmp_error_rate_per_sec = 100;  // RFC 4443 2.4 (f), token bucket
    // Neighbour Discovery (RFC 4861), the nd.* keys
    Duration nd_reachable_time = seconds(30);     // BaseReachableTime (nd.entry_lifetime)
    Duration nd_retrans_timer = seconds(1);       // RetransTimer (nd.retry_interval)
    std::uint32_t nd_max_solicit = 3;             // MAX_MULTICAST_SOLICIT and MAX_UNICAST_SOLICIT (nd.max_retries)
    std::uint32_t nd_queue_per_host = 16;
    std::uint32_t nd_cache_size = 1024;
    std::uint32_t nd_queue_max_bytes = 1024 * 1024;
    std::uint32_t dad_transmits = 1;              // DupAddrDetectTransmits (RFC 4862 5.1); 0: no DAD
    // Called (from receive_frame() or poll()) for each Ipv6AddressEvent.
    std::function<void(const Ipv6AddressEvent&)> on_address_event;
};

}  // namespace tapstack::iface
