// When an ICMPv6 error may be sent about a packet (RFC 4443 2.4 (e)), and
// how much of it the error quotes (2.4 (c)).
//
// Never about: an ICMPv6 error message or a redirect (found by walking the
// packet's extension headers to its upper-layer header; a packet cut before
// the ICMPv6 type, as RFC 7112 errors are about, is not known to be one);
// a packet sent to
// a multicast address, or as a link-layer multicast or broadcast, except
// for the two exceptions 2.4 (e.3) allows (Packet Too Big, and Parameter
// Problem code 2 for an unknown option whose type asks for it even then);
// a packet whose source does not name one node (unspecified, multicast,
// loopback, IPv4-mapped). The rate limit (2.4 (f)) is applied separately,
// after these rules, so suppressed errors never use tokens.
#pragma once

#include <cstddef>
#include <cstdint>

#include "stack/wire/byte_order.hpp"

namespace tapstack::iface {

enum class Icmpv6ErrorVerdict : std::uint8_t {
    kAllowed,
    kAboutError,             // the invoking packet is an ICMPv6 error or redirect
    kMulticastDestination,   // to a multicast address, or in a link-layer multicast
    kBadSource,
    kTruncated,              // not even an IPv6 header to quote
};

// `packet`: the invoking packet from its IPv6 header on. `link_multicast`:
// it came in a multicast or broadcast frame. `multicast_exception`: the
// error is one 2.4 (e.3) allows about multicast.
Icmpv6ErrorVerdict icmpv6_error_verdict(wire::Bytes packet, bool link_multicast, bool multicast_exception);

// As much of the invoking packet as fits in an error of at most 1280 bytes
// (1280 - 40 - 8 = 1232 bytes).
wire::Bytes icmpv6_error_quote(wire::Bytes packet);

}  // namespace tapstack::iface
