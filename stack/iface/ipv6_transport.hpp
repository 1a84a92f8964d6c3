// The upper-layer protocols over IPv6 (TCP, later UDP) as the interface
// sees them: where it delivers a packet and what it tells them.
//
// Interface::set_ipv6_transport(next_header, transport) registers one;
// a packet whose upper-layer protocol has none is answered with a
// Parameter Problem, code 1 (RFC 8200 4), and counted as
// ipv6.rx_unknown_next_header. The transport verifies its own checksum
// with wire::add_ipv6_pseudo_header() (or add_pseudo_header() for either
// family), unless checksum_trusted says the device did.
#pragma once

#include <cstdint>

#include "stack/time.hpp"
#include "stack/wire/addresses.hpp"
#include "stack/wire/byte_order.hpp"

namespace tapstack::iface {

struct Ipv6Delivery {
    wire::Ipv6Address src;
    wire::Ipv6Address dst;  // ours: a preferred unicast address, or a group we joined
    std::uint8_t hop_limit = 0;
    std::uint8_t traffic_class = 0;
    bool checksum_trusted = false;
    wire::Bytes payload;  // from the upper-layer header to the end of the packet
};

class Ipv6Transport {
public:
    virtual ~Ipv6Transport() = default;
    virtual void receive(Instant now, const Ipv6Delivery& packet) = 0;
    // Address resolution of `dst` (or of the router toward it) failed
    // (RFC 4861 7.2.2: "address unreachable" for what waited on it).
    virtual void unreachable(Instant /*now*/, const wire::Ipv6Address& /*dst*/) {}
    // A Packet Too Big lowered the path MTU toward `dst` (RFC 8201); the
    // quoted packet is the one that was too big, for RFC 5927 checks.
    virtual void path_mtu_lowered(Instant /*now*/, const wire::Ipv6Address& /*dst*/, std::uint16_t /*mtu*/,
                                  wire::Bytes /*quoted*/) {}
};

}  // namespace tapstack::iface
