// IPv4 Identification values that reveal nothing about traffic to others
// (RFC 6864, RFC 7739 5.3).
//
// Theory of operation
// -------------------
// A single counter for every datagram lets anyone who receives two of our
// datagrams learn how many we sent to others in between (idle scans,
// traffic counting). Instead each (source, destination, protocol) maps, by
// a keyed hash, to one of kBuckets counters and to a secret 16-bit offset;
// the ID is offset + counter, and the counter moves on. What one
// destination sees therefore advances only with what we send to it (and to
// the few destinations that happen to share its bucket, which an observer
// cannot pick without the key), and its starting value cannot be guessed.
// Within one destination IDs still run through all 65536 values before
// repeating, which fragment reassembly needs (RFC 791; RFC 6864 4.1). For
// atomic datagrams (DF set, not fragmented: all our TCP segments) RFC 6864
// 4.2 allows any value; they use the same generator.
// A TSO super-segment takes one ID per segment the device will cut, as
// Linux's TCPv4 GSO does (reserve `count`).
// Memory: kBuckets 16-bit counters per interface.
#pragma once

#include <array>
#include <cstdint>

#include "stack/tcp/siphash.hpp"
#include "stack/wire/addresses.hpp"

namespace tapstack::iface {

class Ipv4IdGenerator {
public:
    static constexpr std::size_t kBuckets = 4096;

    explicit Ipv4IdGenerator(const tcp::Secret& secret);

    // The ID for the next datagram (the first of `count` consecutive ones).
    std::uint16_t next(wire::Ipv4Address src, wire::Ipv4Address dst, std::uint8_t protocol, std::uint16_t count = 1);

private:
    tcp::SipKey key_;
    std::array<std::uint16_t, kBuckets> counters_{};
};

}  // namespace tapstack::iface
