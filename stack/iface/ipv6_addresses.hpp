// Our IPv6 addresses and their Duplicate Address Detection (RFC 4862 5.4),
// source address selection (RFC 6724, the rules a host with a few
// addresses on one link needs) and the multicast groups they join.
//
// Theory of operation
// -------------------
// The table holds the link-local address (always, RFC 4291 2.8) and the
// configured ones. Each address is in one state:
//   kTentative  DAD in progress: `dad_transmits` solicitations, one every
//               retrans_timer, the first after a random delay the caller
//               picks (RFC 4862 5.4.2); it receives only ND for itself, is
//               never a source, and answers no solicitation (5.4).
//   kPreferred  passed DAD: ours for every purpose.
//   kDuplicate  another node has it (a solicitation from :: or an
//               advertisement for it during DAD, 5.4.3 / 5.4.4): never used
//               again until restart (5.4.5). When it is the link-local
//               address, the whole interface's IPv6 is disabled, as 5.4.5
//               asks for a duplicate hardware-derived identifier.
// dad_transmits 0 turns DAD off: addresses are preferred at start().
// The table never sends: poll() lists the DAD solicitations due and the
// addresses that became preferred.
//
// Groups joined: all-nodes (ff02::1) and the solicited-node address of
// every tentative or preferred address (RFC 4861 7.2.1, RFC 4862 5.4.2).
// No MLD reports are sent (non-goal: on a TAP nothing snoops them).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "stack/time.hpp"
#include "stack/wire/addresses.hpp"

namespace tapstack::iface {

enum class Ipv6AddressState : std::uint8_t { kTentative, kPreferred, kDuplicate };

struct Ipv6AddressInfo {
    wire::Ipv6Cidr cidr;
    Ipv6AddressState state = Ipv6AddressState::kTentative;
    friend bool operator==(const Ipv6AddressInfo&, const Ipv6AddressInfo&) = default;
};

class Ipv6AddressTable {
public:
    struct Due {
        std::vector<wire::Ipv6Address> solicit;  // send a DAD solicitation for each
        std::vector<wire::Ipv6Address> ready;    // passed DAD just now
    };

    Ipv6AddressTable(const wire::Ipv6Address& link_local, const std::vector<wire::Ipv6Cidr>& configured,
                     std::uint32_t dad_transmits);

    // Starts DAD on every address; the first probes go out at now + delay.
    void start(Instant now, Duration delay, Due& out);
    void set_retrans_timer(Duration d) { retrans_timer_ = d; }
    void poll(Instant now, Due& out);
    Instant poll_at() const;

    // Marks `a` duplicate; true if it was tentative or preferred.
    bool mark_duplicate(const wire::Ipv6Address& a);
    bool disabled() const { return disabled_; }

    std::optional<Ipv6AddressState> state(const wire::Ipv6Address& a) const;
    bool is_preferred(const wire::Ipv6Address& a) const { return state(a) == Ipv6AddressState::kPreferred; }
    // Unicast ours (preferred), all-nodes, or the solicited-node group of a
    // tentative or preferred address.
    bool accepts_destination(const wire::Ipv6Address& dst) const;
    bool accepts_link_multicast(const wire::MacAddress& mac) const;
    // RFC 6724 section 5 for our candidates: the destination itself if
    // ours; a link-local source for link-local (and link-scope multicast)
    // destinations; otherwise the preferred non-link-local address sharing
    // the longest prefix with it, else the link-local one. nullopt when no
    // address is preferred yet.
    std::optional<wire::Ipv6Address> source_for(const wire::Ipv6Address& dst) const;
    const wire::Ipv6Address& link_local() const { return entries_.front().info.cidr.address; }
    std::vector<Ipv6AddressInfo> list() const;

private:
    struct Entry {
        Ipv6AddressInfo info;
        std::uint32_t probes_sent = 0;
        Instant next{};
        bool started = false;
    };
    const Entry* find(const wire::Ipv6Address& a) const;
    void advance(Instant now, Entry& e, Due& out);

    std::vector<Entry> entries_;  // [0] is the link-local address
    std::uint32_t dad_transmits_;
    Duration retrans_timer_ = seconds(1);
    bool disabled_ = false;
};

}  // namespace tapstack::iface
