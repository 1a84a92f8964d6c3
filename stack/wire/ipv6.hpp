// The IPv6 fixed header (RFC 8200 section 3).
//
// Ipv6View::check() validates what the fixed header alone can tell, once at
// ingress: the 40 bytes fit, version is 6, and the payload length does not
// exceed the bytes available. Each failure has its own Ipv6Error so the
// interface counts it by reason. Bytes after the payload length (Ethernet
// padding) are outside the view. Extension headers are the caller's
// business (stack/wire/ipv6_ext.hpp has their formats); payload() is
// everything after the fixed header.
//
// Non-goals: jumbograms (RFC 2675): a payload length of 0 means an empty
// payload here, and a Jumbo Payload option is an unknown option to the
// interface, handled by its type's high bits like any other.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "stack/wire/addresses.hpp"
#include "stack/wire/byte_order.hpp"

namespace tapstack::wire {

// Next Header values (IANA "Assigned Internet Protocol Numbers").
namespace next_header {
inline constexpr std::uint8_t kHopByHop = 0;
inline constexpr std::uint8_t kTcp = 6;
inline constexpr std::uint8_t kUdp = 17;
inline constexpr std::uint8_t kRouting = 43;
inline constexpr std::uint8_t kFragment = 44;
inline constexpr std::uint8_t kEsp = 50;
inline constexpr std::uint8_t kAh = 51;
inline constexpr std::uint8_t kIcmpv6 = 58;
inline constexpr std::uint8_t kNoNext = 59;
inline constexpr std::uint8_t kDestinationOptions = 60;
}  // namespace next_header

enum class Ipv6Error : std::uint8_t {
    kTruncated,          // fewer than 40 bytes
    kBadVersion,         // version != 6
    kBadPayloadLength,   // payload length > bytes available
};

class Ipv6View {
public:
    static constexpr std::size_t kHeaderLen = 40;
    // Byte offsets of the fields a Parameter Problem may point at.
    static constexpr std::size_t kPayloadLengthOffset = 4;
    static constexpr std::size_t kNextHeaderOffset = 6;

    static std::optional<Ipv6View> check(Bytes packet, Ipv6Error* error = nullptr);

    std::uint8_t version() const { return static_cast<std::uint8_t>(bytes_[0] >> 4); }
    std::uint8_t traffic_class() const { return static_cast<std::uint8_t>((load_be16(bytes_.data()) >> 4) & 0xff); }
    std::uint32_t flow_label() const { return load_be32(bytes_.data()) & 0xfffffu; }
    std::uint16_t payload_len() const { return load_be16(bytes_.data() + 4); }
    std::uint8_t next_header() const { return bytes_[6]; }
    std::uint8_t hop_limit() const { return bytes_[7]; }
    Ipv6Address src() const;
    Ipv6Address dst() const;
    Bytes payload() const { return bytes_.subspan(kHeaderLen); }
    // Header and payload, exactly 40 + payload_len() bytes.
    Bytes bytes() const { return bytes_; }

private:
    explicit Ipv6View(Bytes b) : bytes_(b) {}
    Bytes bytes_;
};

struct Ipv6Repr {
    Ipv6Address src;
    Ipv6Address dst;
    std::uint8_t next_header = 0;
    std::uint8_t hop_limit = 64;
    std::uint8_t traffic_class = 0;
    std::uint32_t flow_label = 0;  // 20 bits
    std::uint16_t payload_len = 0;

    static Ipv6Repr parse(const Ipv6View& view);
    static constexpr std::size_t header_len() { return Ipv6View::kHeaderLen; }
    std::size_t buffer_len() const { return header_len() + payload_len; }
    // Writes the 40-byte header at the front of `out`; the payload goes after it.
    void emit(MutBytes out) const;
    friend bool operator==(const Ipv6Repr&, const Ipv6Repr&) = default;
};

}  // namespace tapstack::wire
