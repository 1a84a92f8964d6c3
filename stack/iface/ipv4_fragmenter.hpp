// Splitting an outgoing IPv4 datagram into fragments (RFC 791 section 3.2,
// "Fragmentation").
//
// Every fragment but the last carries the largest multiple of 8 payload
// bytes that fits the MTU; all carry the datagram's identification and the
// header's options (we send none, so the "copied" flag never matters).
// The caller has already decided that fragmenting is allowed (DF clear).
#pragma once

#include <cstdint>
#include <functional>

#include "stack/wire/byte_order.hpp"
#include "stack/wire/ipv4.hpp"

namespace tapstack::iface {

using FragmentEmitter = std::function<void(const wire::Ipv4Repr& header, wire::Bytes payload)>;

// Calls `emit` once per fragment, in offset order; a datagram that fits is
// emitted unchanged. Returns the number of fragments, 0 if the MTU cannot
// carry even 8 payload bytes.
std::size_t fragment_ipv4(const wire::Ipv4Repr& header, wire::Bytes payload, std::uint16_t mtu,
                          const FragmentEmitter& emit);

}  // namespace tapstack::iface
