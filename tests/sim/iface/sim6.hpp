// IPv6 on the simulated LAN: addresses, configurations, frame builders
// and the decoder of what a RawStation received, for the IPv6 sim tests.
//
// Lan6 is the standard Lan with IPv6 on both Interfaces (a = fd00::1,
// b = fd00::2, /64, plus their link-local addresses) and on the raw
// station (fd00::3, answering neighbour solicitations); settle() runs the
// clock past DAD so the addresses are preferred.
#pragma once

#include <optional>
#include <vector>

#include "tests/sim/iface/lan.hpp"
#include "stack/wire/icmpv6.hpp"
#include "stack/wire/ipv6_ext.hpp"

namespace sim {

inline wire::Ipv6Address ip6(std::uint8_t host) {
    return wire::Ipv6Address::from_groups({0xfd00, 0, 0, 0, 0, 0, 0, host});
}
inline wire::Ipv6Address ll6(std::uint8_t host) { return wire::Ipv6Address::link_local_from_mac(mac(host)); }

iface::InterfaceConfig iface_config6(std::uint8_t host);

struct Lan6 : Lan {
    explicit Lan6(std::uint64_t seed = 1, iface::InterfaceConfig a_config = iface_config6(1),
                  iface::InterfaceConfig b_config = iface_config6(2))
        : Lan(seed, LinkParams{}, a_config, b_config) {
        raw.set_ipv6(ip6(3));
    }
    // Past the DAD delay (< 1 s) and one RetransTimer (1 s).
    void settle() { hub.run_for(milliseconds(2500)); }
};

// An ICMPv6 message (echo or error) with its checksum for (src, dst).
Frame icmpv6_message(const wire::Icmpv6Repr& m, const wire::Ipv6Address& src, const wire::Ipv6Address& dst);
Frame ndp_message(const wire::NdpRepr& m, const wire::Ipv6Address& src, const wire::Ipv6Address& dst);
// An echo request from raw (fd00::3) to `dst` behind `ext` (extension
// headers whose last Next Header must be 58), fragmented at `mtu` with
// identification `frag_id` when larger.
std::vector<Frame> echo6_frames(const wire::Ipv6Address& src, const wire::Ipv6Address& dst, std::uint16_t ident,
                                std::uint16_t seq, std::span<const std::uint8_t> data, std::uint32_t frag_id = 1,
                                std::uint16_t mtu = 1500, std::vector<std::uint8_t> ext = {},
                                std::uint8_t first_header = wire::next_header::kIcmpv6,
                                wire::MacAddress dst_mac = mac(2));
// One IPv6 frame from raw (mac 3) to b (mac 2) with hop limit `hop`.
Frame frame6(const wire::Ipv6Address& src, const wire::Ipv6Address& dst, std::uint8_t first_header,
             std::span<const std::uint8_t> payload, std::uint8_t hop = 64, wire::MacAddress dst_mac = mac(2));

struct Icmp6Seen {
    wire::Ipv6Repr ip;
    wire::MacAddress eth_dst;
    std::uint8_t type = 0;
    std::uint8_t code = 0;
    std::uint16_t ident = 0;
    std::uint16_t seq = 0;
    std::uint32_t pointer = 0;
    std::vector<std::uint8_t> data;      // echo data or the quoted packet
    std::optional<wire::NdpRepr> nd;     // for ND messages
    std::size_t fragments = 1;
    std::size_t largest_frame = 0;
};

// Every ICMPv6 message in `frames` (reassembling fragments), in completion order.
std::vector<Icmp6Seen> icmp6_messages(const std::vector<Frame>& frames);
// Only those of one type.
std::vector<Icmp6Seen> of_type(const std::vector<Icmp6Seen>& all, std::uint8_t type);

}  // namespace sim
