// When an ICMP error may be sent about a datagram (RFC 1122 3.2.2, RFC 1812
// 4.3.2.7), and how the quote is built.
//
// Never about: an ICMP error message (any ICMP type that is not a query;
// also an ICMP message too short to tell), a fragment other than the first,
// a datagram sent to an IP broadcast or multicast address or as a
// link-layer broadcast, or one whose source does not name a single host
// (zero, broadcast, multicast, loopback, the subnet's broadcast). The rate
// limit is applied separately (TokenBucket), after these rules, so
// suppressed errors never use tokens.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "stack/wire/addresses.hpp"
#include "stack/wire/byte_order.hpp"
#include "stack/wire/ipv4.hpp"

namespace tapstack::iface {

enum class IcmpErrorVerdict : std::uint8_t {
    kAllowed,
    kAboutIcmpError,
    kNotFirstFragment,
    kBroadcastDestination,
    kBadSource,
};

// `leading_payload`: the first bytes of the offending datagram's payload
// (the ICMP header when protocol is ICMP). `link_broadcast`: it arrived in
// a broadcast or multicast Ethernet frame.
IcmpErrorVerdict icmp_error_verdict(const wire::Ipv4Repr& offending, wire::Bytes leading_payload, bool link_broadcast,
                                    const wire::Ipv4Cidr& our);

// The data of an ICMP error: the offending header (as received, options
// included) and as much of its payload as keeps the error datagram within
// 576 bytes (RFC 1812 4.3.2.3; RFC 792 asks for at least 8 bytes).
std::vector<std::uint8_t> icmp_error_quote(const wire::Ipv4Repr& offending, wire::Bytes leading_payload);

}  // namespace tapstack::iface
