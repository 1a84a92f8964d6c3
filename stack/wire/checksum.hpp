// The Internet checksum (RFC 1071), accumulated incrementally.
//
// IPv4, ICMP and TCP all use the one's-complement sum of 16-bit big-endian
// words. `ChecksumAccumulator` adds byte spans of any length and alignment
// (an odd trailing byte is carried into the next span, as if the spans were
// one buffer), so a TCP checksum can be computed over pseudo-header, header
// and payload without first copying them together.
#pragma once

#include <cstdint>
#include <span>

#include "stack/wire/addresses.hpp"

namespace tapstack::wire {

class ChecksumAccumulator {
public:
    void add(std::span<const std::uint8_t> bytes);
    void add_u16(std::uint16_t host_order_word);
    void add_u32(std::uint32_t host_order_word);
    // The folded one's-complement sum, not yet complemented.
    std::uint16_t folded_sum() const;
    // The value to store in a checksum field (complement of the sum).
    std::uint16_t checksum() const { return static_cast<std::uint16_t>(~folded_sum()); }

private:
    std::uint64_t sum_ = 0;
    bool odd_ = false;  // an odd byte is pending as the high half of a word
};

// Checksum of one span: store the result in the field; a span that already
// contains a correct checksum gives 0 here.
std::uint16_t internet_checksum(std::span<const std::uint8_t> bytes);

// Adds the IPv4 pseudo-header for TCP/UDP (RFC 9293 3.1, RFC 768).
void add_ipv4_pseudo_header(ChecksumAccumulator& acc, Ipv4Address src, Ipv4Address dst, std::uint8_t protocol,
                            std::uint16_t transport_length);

// Adds the IPv6 pseudo-header (RFC 8200 8.1): source, destination, the
// 32-bit upper-layer packet length, three zero bytes and the next header
// value of the upper-layer protocol (not of an extension header before it).
// Used by ICMPv6 (RFC 4443 2.3), and by TCP and UDP over IPv6.
void add_ipv6_pseudo_header(ChecksumAccumulator& acc, const Ipv6Address& src, const Ipv6Address& dst,
                            std::uint8_t next_header, std::uint32_t upper_layer_length);

// The pseudo-header of either family; `src` and `dst` must be of the same
// family (an IPv4 length above 65535 is cut to 16 bits, as on the wire).
void add_pseudo_header(ChecksumAccumulator& acc, const IpAddress& src, const IpAddress& dst, std::uint8_t protocol,
                       std::uint32_t transport_length);

}  // namespace tapstack::wire
